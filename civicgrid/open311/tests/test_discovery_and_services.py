"""Service discovery, the service list and service definitions, in XML and JSON."""

import re

import pytest

from civicgrid.cases.models import Category
from civicgrid.cases.selectors import leaf_categories

W3C = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
SERVICE_FIELDS = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
]


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_it_serves_discovery_in_both_formats(o311, fmt, db):
    answer = o311.get("discovery", fmt)
    assert answer.status == 200
    assert (
        answer.content_type
        == {
            "xml": "text/xml; charset=utf-8",
            "json": "application/json; charset=utf-8",
        }[fmt]
    )
    if fmt == "xml":
        root = answer.data
        assert root.tag == "discovery"
        assert [c.tag for c in root] == ["changeset", "contact", "key_service", "endpoints"]
        endpoint = root.find("endpoints/endpoint")
        assert [c.tag for c in endpoint] == ["specification", "url", "changeset", "type", "formats"]
        assert [f.text for f in endpoint.find("formats")] == ["text/xml", "application/json"]
        assert all(f.tag == "format" for f in endpoint.find("formats"))
        changeset, url = root.findtext("changeset"), endpoint.findtext("url")
    else:
        data = answer.data
        assert set(data) == {"changeset", "contact", "key_service", "endpoints"}
        (endpoint,) = data["endpoints"]
        assert endpoint["formats"] == ["text/xml", "application/json"]
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["type"] in {"production", "test"}
        changeset, url = data["changeset"], endpoint["url"]
    assert W3C.match(changeset)
    assert url == "http://testserver/open311/v2/"


def test_discovery_changeset_moves_when_the_taxonomy_changes(o311, personas):
    from civicgrid.cases.actions import do_update_category

    before = o311.get("discovery").data["changeset"]
    do_update_category(Category.objects.get(code="0101"), actor=personas.county, name="僵尸车")
    after = o311.get("discovery").data["changeset"]
    assert after > before


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_it_lists_the_leaf_categories_as_services(o311, fmt, db):
    answer = o311.get("services", fmt)
    assert answer.status == 200
    leaves = list(leaf_categories().filter(parent__active=True).order_by("code"))
    services = answer.items()
    assert [s["service_code"] for s in services] == [c.code for c in leaves]
    if fmt == "xml":
        assert answer.data.tag == "services"
        assert {e.tag for e in answer.data} == {"service"}
        assert all([c.tag for c in e] == SERVICE_FIELDS for e in answer.data)
        assert {s["metadata"] for s in services} == {"false"}
    else:
        assert all(list(s) == SERVICE_FIELDS for s in services)
        assert all(isinstance(s["service_code"], str) for s in services)
        assert all(s["metadata"] is False for s in services)
        assert all(isinstance(s["keywords"], str) for s in services)
    first, leaf = services[0], leaves[0]
    assert first["service_name"] == leaf.name  # Chinese by default
    assert first["group"] == leaf.parent.name
    assert first["type"] == "realtime"
    assert (first["description"] or "") == leaf.acceptance_criteria
    assert leaf.name in first["keywords"].split(",")


def test_it_names_services_in_english_when_asked(o311, client, db):
    leaf = leaf_categories().filter(parent__active=True).exclude(name_en="").order_by("code")[0]
    by_locale = {s["service_code"]: s for s in o311.get("services", locale="en_US").data}
    assert by_locale[leaf.code]["service_name"] == leaf.name_en
    assert by_locale[leaf.code]["group"] == (leaf.parent.name_en or leaf.parent.name)
    response = client.get("/open311/v2/services.json", headers={"accept-language": "en"})
    by_header = {s["service_code"]: s for s in response.json()}
    assert by_header[leaf.code]["service_name"] == leaf.name_en
    chinese = {s["service_code"]: s for s in o311.get("services", locale="zh_CN").data}
    assert chinese[leaf.code]["service_name"] == leaf.name


def test_it_leaves_out_inactive_categories(o311, db):
    leaf = leaf_categories().order_by("code")[0]
    Category.objects.filter(pk=leaf.pk).update(active=False)
    codes = [s["service_code"] for s in o311.get("services").data]
    assert leaf.code not in codes
    assert o311.get(f"services/{leaf.code}").status == 404


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_it_serves_a_service_definition_with_no_attributes(o311, fmt, db):
    answer = o311.get("services/0101", fmt)
    assert answer.status == 200
    if fmt == "xml":
        assert answer.data.tag == "service_definition"
        assert [c.tag for c in answer.data] == ["service_code", "attributes"]
        assert answer.data.findtext("service_code") == "0101"
        assert list(answer.data.find("attributes")) == []
    else:
        assert answer.data == {"service_code": "0101", "attributes": []}


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_an_unknown_service_is_a_404_error(o311, fmt, db):
    answer = o311.get("services/9999", fmt)
    assert answer.status == 404
    (error,) = answer.errors()
    assert str(error["code"]) == "404" and "9999" in error["description"]
    # A first-level category is a group, not a service.
    parent = Category.objects.filter(parent__isnull=True).first()
    assert o311.get(f"services/{parent.code}", fmt).status == 404


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_foreign_jurisdiction_is_a_404_error(o311, fmt, db, settings):
    assert o311.get("services", fmt, jurisdiction_id="yuyao.gov.cn").status == 200
    assert o311.get("services", fmt, jurisdiction_id="").status == 200  # empty = absent
    answer = o311.get("services", fmt, jurisdiction_id="sfgov.org")
    assert answer.status == 404
    assert "sfgov.org" in answer.errors()[0]["description"]
    settings.OPEN311_JURISDICTION = "city.example"
    assert o311.get("services", fmt, jurisdiction_id="city.example").status == 200
    assert o311.get("services", fmt, jurisdiction_id="yuyao.gov.cn").status == 404


def test_an_unknown_format_is_a_404_error_in_xml(client, db):
    response = client.get("/open311/v2/services.html")
    assert response.status_code == 404
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert b"<errors><error><code>404</code>" in response.content


def test_head_is_answered_like_get(client, db):
    response = client.head("/open311/v2/services.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
