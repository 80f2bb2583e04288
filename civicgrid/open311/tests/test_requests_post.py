"""POST requests: the api_key, the fields, the location rule and the answer's shape."""

import socket

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from civicgrid.api.actions import do_create_api_key, do_revoke_api_key
from civicgrid.cases.models import Attachment, Case, CaseReporter, Level
from civicgrid.cases.tests.conftest import jpeg
from civicgrid.core.models import AuditEvent
from civicgrid.open311.models import ServiceRequest


@pytest.fixture
def form(world, api_key):
    lat, lng = world.point()
    return {
        "api_key": api_key[1],
        "service_code": "0101",
        "lat": str(lat),
        "long": str(lng),
        "description": "小区门口有一辆僵尸车",
    }


def posted_case(answer) -> Case:
    assert answer.status == 200, answer.response.content
    (item,) = answer.items()
    return Case.objects.get(code=item["service_request_id"])


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_it_creates_a_case_and_answers_with_a_list_of_one(o311, form, api_key, world, fmt):
    answer = o311.post(
        fmt,
        **form,
        email="zhang@example.com",
        first_name="三",
        last_name="张",
        phone="13905741234",
        device_id="dev-1",
        account_id="acct-9",
        address_string="文化路 12 号",
    )
    case = posted_case(answer)
    (item,) = answer.items()
    if fmt == "xml":
        assert answer.data.tag == "service_requests"
        assert [e.tag for e in answer.data] == ["request"]
        assert [c.tag for c in answer.data[0]] == [
            "service_request_id",
            "service_notice",
            "account_id",
        ]
    else:
        assert list(item) == ["service_request_id", "service_notice", "account_id"]
        assert isinstance(item["service_request_id"], str)
    assert item["account_id"] == "acct-9"
    assert "工作日" in item["service_notice"]  # Chinese unless the client asks otherwise
    assert (case.channel, case.state, case.category.code) == ("open311", "reported", "0101")
    assert case.reported_by is None  # an anonymous integration
    assert (case.grid, case.level, case.address) == (world.grid, Level.TOWN, "文化路 12 号")
    reporter = CaseReporter.objects.get(case=case)
    assert (reporter.name, reporter.phone_masked) == ("张三", "139****1234")
    link = ServiceRequest.objects.get(case=case)
    assert (link.api_key, link.account_id, link.device_id) == (api_key[0], "acct-9", "dev-1")
    event = AuditEvent.objects.get(action="open311.request.submit", target_id=str(case.pk))
    assert event.after["api_key_prefix"] == api_key[0].prefix
    assert "zhang@example.com" not in str(event.after)


def test_a_key_with_a_service_account_reports_as_that_account(o311, form, world, personas):
    grid1 = personas.grid1
    key, secret = do_create_api_key(name="grid app", actor=personas.admin, user=grid1)
    case = posted_case(o311.post(**{**form, "api_key": secret}))
    assert case.reported_by == grid1 and case.channel == "open311"


def test_a_key_acting_as_someone_who_may_not_report_is_refused(o311, form, personas):
    key, secret = do_create_api_key(name="auditor", actor=personas.admin, user=personas.auditor)
    answer = o311.post(**{**form, "api_key": secret})
    assert answer.status == 403
    assert Case.objects.filter(channel="open311").count() == 0


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("secret", [None, "", "not-a-key", "x" * 500])
def test_a_missing_or_unknown_api_key_is_a_403_error(o311, form, fmt, secret):
    fields = {k: v for k, v in form.items() if k != "api_key"}
    if secret is not None:
        fields["api_key"] = secret
    answer = o311.post(fmt, **fields)
    assert answer.status == 403
    (error,) = answer.errors()
    assert str(error["code"]) == "403" and "api_key" in error["description"]
    assert not Case.objects.filter(channel="open311").exists()


def test_a_revoked_api_key_is_a_403_error(o311, form, api_key, personas):
    assert o311.post(**form).status == 200
    do_revoke_api_key(api_key[0], actor=personas.county)
    answer = o311.post(**form)
    assert answer.status == 403
    assert Case.objects.filter(channel="open311").count() == 1


def test_a_missing_service_code_is_400_and_an_unknown_one_404(o311, form):
    answer = o311.post(**{**form, "service_code": ""})
    assert answer.status == 400 and "service_code" in answer.errors()[0]["description"]
    assert o311.post(**{**form, "service_code": "9999"}).status == 404
    assert o311.post(**{**form, "service_code": "01"}).status == 404  # a group


@pytest.mark.parametrize(
    "change, words",
    [
        ({"lat": "", "long": ""}, "location"),
        ({"long": ""}, "together"),
        ({"lat": ""}, "together"),
        ({"lat": "north", "long": "east"}, "decimal"),
        ({"lat": "nan", "long": "nan"}, "decimal"),
        ({"lat": "1e999", "long": "121"}, "decimal"),
        ({"lat": "10.0", "long": "10.0"}, "lat/long"),  # far outside the county
        ({"lat": "95", "long": "121"}, "lat/long"),
        ({"description": "x" * 4001}, "4,000"),
        ({"phone": "12"}, "phone"),
        ({"media_url": "javascript:alert(1)"}, "media_url"),
        ({"media_url": "http://example.com/" + "a" * 500}, "media_url"),
        ({"address_string": "路" * 201}, "address_string"),
        ({"account_id": "a" * 101}, "account_id"),
    ],
)
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_bad_fields_are_400_errors_naming_the_field(o311, form, fmt, change, words):
    answer = o311.post(fmt, headers={"Accept-Language": "en"}, **{**form, **change})
    assert answer.status == 400, answer.response.content
    errors = answer.errors()
    assert all(str(e["code"]) == "400" for e in errors)
    assert words in " ".join(e["description"] for e in errors)
    assert not Case.objects.filter(channel="open311").exists()


def test_an_address_alone_goes_to_the_county_centre(o311, form):
    fields = {**form, "lat": "", "long": "", "address_string": "梨洲街道 文化路 12 号"}
    case = posted_case(o311.post(**fields))
    assert (case.level, case.unit_code, case.grid) == (Level.COUNTY, "330281", None)
    assert case.address == "梨洲街道 文化路 12 号"


def test_an_address_id_alone_is_kept_and_shown(o311, form):
    case = posted_case(o311.post(**{**form, "lat": "", "long": "", "address_id": "A-778"}))
    assert case.address == "address_id: A-778"
    (item,) = o311.get(f"requests/{case.code}").data
    assert item["address_id"] == "A-778"


def test_the_description_defaults_to_the_service_name(o311, form):
    case = posted_case(o311.post(**{**form, "description": ""}))
    assert case.description == case.category.name


def test_a_media_url_is_kept_as_text_and_never_fetched(o311, form, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the media URL must not be fetched")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    url = "https://photos.example.com/p/123.jpg"
    case = posted_case(o311.post(**{**form, "media_url": url}))
    assert case.description.endswith(f"media_url: {url}")
    assert ServiceRequest.objects.get(case=case).media_url == url
    (item,) = o311.get(f"requests/{case.code}").data
    assert item["media_url"] == url


def test_attributes_are_accepted_and_ignored(o311, form):
    fields = {
        **form,
        "attribute[WHISPAWN]": "123456",
        "attribute[COLOURS][]": ["red", "blue"],
    }
    case = posted_case(o311.post(**fields))
    assert "123456" not in case.description


def test_a_retry_with_the_same_idempotency_key_returns_the_first_case(o311, form, personas):
    headers = {"X-Idempotency-Key": "submission-42"}
    first = posted_case(o311.post(headers=headers, **form))
    again = posted_case(o311.post(headers=headers, **form))
    assert again.pk == first.pk
    assert Case.objects.filter(channel="open311").count() == 1
    assert ServiceRequest.objects.filter(case=first).count() == 1
    # Another integration's key with the same header value is another submission.
    other_key, other_secret = do_create_api_key(name="other app", actor=personas.county)
    other = posted_case(o311.post(headers=headers, **{**form, "api_key": other_secret}))
    assert other.pk != first.pk
    # Without the header, a repeat is a new case.
    assert posted_case(o311.post(**form)).pk not in {first.pk, other.pk}


def test_a_key_limited_to_an_area_reports_only_inside_it(o311, form, world, personas):
    town = world.grid.code[:9]
    key, secret = do_create_api_key(name="town app", actor=personas.county, region_code=town)
    assert posted_case(o311.post(**{**form, "api_key": secret})).region_code.startswith(town)
    lat, lng = world.point(world.other_grid)
    elsewhere = {**form, "api_key": secret, "lat": str(lat), "long": str(lng)}
    if world.other_grid.code.startswith(town):
        pytest.skip("the demo's second grid is in the same township")
    answer = o311.post(**elsewhere)
    assert answer.status == 403 and town in answer.errors()[0]["description"]
    address_only = {**form, "api_key": secret, "lat": "", "long": "", "address_string": "某路"}
    assert o311.post(**address_only).status == 403
    assert Case.objects.filter(channel="open311").count() == 1


def test_photos_can_be_sent_as_multipart_media(o311, form):
    photo = SimpleUploadedFile("pothole.jpg", jpeg(), content_type="image/jpeg")
    case = posted_case(o311.post(files={"media": photo}, **form))
    assert Attachment.objects.get(case=case).kind == Attachment.Kind.PHOTO
    (item,) = o311.get(f"requests/{case.code}").data
    assert item["media_url"].startswith("http://testserver/open311/v2/media/")
    # The public photo address serves the reporter's photo, and nothing else.
    response = o311.client.get(item["media_url"])
    assert response.status_code == 200 and b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    evidence = Attachment.objects.create(
        case=case,
        kind=Attachment.Kind.EVIDENCE,
        file="x.jpg",
        content_type="image/jpeg",
        sha256="0" * 64,
        created=case.created,
    )
    assert o311.client.get(f"/open311/v2/media/{evidence.pk}").status_code == 404
    bad = SimpleUploadedFile("x.jpg", b"not a picture", content_type="image/jpeg")
    answer = o311.post(files={"media": bad}, **form)
    assert answer.status == 400 and answer.errors()[0]["description"].startswith("media:")


def test_a_foreign_jurisdiction_in_the_form_is_a_404_error(o311, form):
    assert o311.post(**{**form, "jurisdiction_id": "yuyao.gov.cn"}).status == 200
    assert o311.post(**{**form, "jurisdiction_id": "sfgov.org"}).status == 404


def test_other_methods_are_refused_with_an_error_document(client, db):
    response = client.put("/open311/v2/requests.json")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, POST"
    assert response.json()[0]["code"] == 405
    assert client.post("/open311/v2/services.xml").status_code == 405


def test_a_json_body_has_no_api_key(client, form):
    response = client.post("/open311/v2/requests.json", form, content_type="application/json")
    assert response.status_code == 403


def test_english_errors_when_asked(o311, form, client):
    answer = o311.post(**{**form, "lat": "", "long": "", "locale": "en"})
    assert answer.errors()[0]["description"].startswith("Give a location")


def test_posting_needs_no_csrf_token(form):
    from urllib.parse import urlencode

    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        "/open311/v2/requests.json",
        urlencode(form),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.content


def test_it_answers_in_chinese_when_the_client_asks_for_no_language(client, db):
    response = client.post("/open311/v2/requests.json", {"service_code": "0101"})
    assert response.status_code == 403
    assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json()[0]["description"])
