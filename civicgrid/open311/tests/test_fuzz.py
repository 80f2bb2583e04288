"""Odd input never makes a 500: every answer is a well-formed document or error list."""

import json
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ODD = [
    "\x00",
    "a\x00b",
    "\x01\x1f",
    "'; DROP TABLE cases_case; --",
    "%",
    "_",
    "\\",
    "💥" * 50,
    "\ufffe",
    " " * 10,
    "1" * 5000,
    "-1",
    "1e309",
    "<script>alert(1)</script>",
    "]]>",
    "2025-02-30T00:00:00Z",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00-12:00",
]
PATHS = [
    "discovery",
    "services",
    "services/0101",
    "requests",
    "requests/330281-20250101-00001",
    "tokens/abc",
    "servicerequestupdates",
]
PARAMS = [
    "jurisdiction_id",
    "service_request_id",
    "service_code",
    "start_date",
    "end_date",
    "status",
    "page",
    "page_size",
    "extensions",
    "locale",
]


def assert_well_formed(response, fmt):
    assert response.status_code in {200, 400, 403, 404, 405}, response.content[:300]
    if fmt == "json":
        json.loads(response.content)
    else:
        ElementTree.fromstring(response.content)


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("value", ODD)
def test_odd_values_in_every_get_parameter(client, db, fmt, value):
    for path in PATHS:
        for name in PARAMS:
            response = client.get(f"/open311/v2/{path}.{fmt}", {name: value})
            assert_well_formed(response, fmt)


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize(
    "path",
    [
        "services/%00",
        "services/..%2F..%2Fetc%2Fpasswd",
        "requests/%F0%9F%92%A5",
        "requests/" + "9" * 3000,
        "tokens/%00",
        "requests/a.b.c",
        "services/%E2%80%AE",
    ],
)
def test_odd_path_parameters(client, db, fmt, path):
    assert_well_formed(client.get(f"/open311/v2/{path}.{fmt}"), fmt)


@pytest.mark.parametrize("value", ODD)
def test_odd_values_in_every_post_field(client, api_key, world, value):
    lat, lng = world.point()
    base = {
        "api_key": api_key[1],
        "service_code": "0101",
        "lat": str(lat),
        "long": str(lng),
        "description": "x",
    }
    for name in [
        *base,
        "address_string",
        "address_id",
        "email",
        "first_name",
        "last_name",
        "phone",
        "media_url",
        "device_id",
        "account_id",
        "attribute[X]",
        "jurisdiction_id",
    ]:
        response = client.post("/open311/v2/requests.json", {**base, name: value})
        assert_well_formed(response, "json")


def test_broken_bodies_are_400_errors(client, db, settings):
    response = client.post(
        "/open311/v2/requests.xml",
        b"--xyz\r\nContent-Disposition: form-data; name=\r\n\r\nbroken",
        content_type="multipart/form-data; boundary=xyz",
    )
    assert_well_formed(response, "xml")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post(
        "/open311/v2/requests.json",
        "description=" + "x" * 5000,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert response.json()[0]["code"] == 400
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    response = client.post(
        "/open311/v2/requests.json",
        "&".join(f"attribute[{i}]=1" for i in range(20)),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400


def test_control_characters_in_stored_text_still_give_valid_xml(o311, report):
    case = report(description="bell\x07 and \x1b escape; ünïcödé 路灯 💡")
    answer = o311.get(f"requests/{case.code}", "xml")
    assert answer.status == 200
    assert answer.data.findtext("request/description") == "bell and  escape; ünïcödé 路灯 💡"
    assert o311.get(f"requests/{case.code}", "json").data[0]["description"] == (
        answer.data.findtext("request/description")
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(PATHS),
    fmt=st.sampled_from(["xml", "json"]),
    params=st.dictionaries(st.sampled_from(PARAMS), st.text(max_size=40), max_size=4),
)
def test_random_get_parameters(client, db, path, fmt, params):
    assert_well_formed(client.get(f"/open311/v2/{path}.{fmt}", params), fmt)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["service_code", "lat", "long", "address_string", "phone", "media_url", "description"]
        ),
        st.text(max_size=30),
        max_size=5,
    )
)
def test_random_post_fields(client, api_key, fields):
    response = client.post("/open311/v2/requests.json", {"api_key": api_key[1], **fields})
    assert_well_formed(response, "json")
