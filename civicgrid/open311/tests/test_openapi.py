"""The OpenAPI description of Open311 (``openapi.json``): valid, complete and true to the views."""

import json
import re

import jsonschema_rs
import pytest
import schemathesis
from django.urls import URLResolver, get_resolver, resolve

from civicgrid.open311 import urls
from civicgrid.open311.openapi import DOCUMENTED_ROUTES, openapi_document
from civicgrid.open311.tests.conftest import BASE

METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


@pytest.fixture
def document(client, db):
    response = client.get(f"{BASE}openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def _answer_is_documented(document, path, method, response):
    """The status, content type and body of ``response`` are what the document says."""
    answers = document["paths"][path][method]["responses"]
    assert str(response.status_code) in answers, (path, method, response.status_code)
    content = answers[str(response.status_code)]["content"]
    media_type = response["Content-Type"].split(";")[0]
    assert media_type in content, (path, media_type)
    if media_type == "application/json":
        schema = {**content[media_type]["schema"], "components": document["components"]}
        jsonschema_rs.validator_for(schema).validate(json.loads(response.content))


def test_the_document_is_valid_openapi(document):
    schema = schemathesis.openapi.from_dict(document)
    schema.validate()  # against the OpenAPI 3.1 meta-schema
    operations = list(schema.get_all_operations())
    assert operations and all(result.ok() for result in operations)
    assert document["servers"] == [{"url": "http://testserver/open311/v2"}]


def test_the_document_builds_without_a_request():
    assert openapi_document()["servers"] == [{"url": "/open311/v2"}]


def test_every_open311_route_is_described(document):
    named = {p.name for p in urls.urlpatterns if p.name}
    assert named == set(DOCUMENTED_ROUTES)
    assert set(document["paths"]) == set(DOCUMENTED_ROUTES.values())
    assert not any(isinstance(p, URLResolver) for p in urls.urlpatterns)
    samples = {"service_code": "0101", "service_request_id": "330281-20250101-00001"}
    samples |= {"token": "abc", "pk": "7"}
    for name, path in DOCUMENTED_ROUTES.items():
        concrete = re.sub(r"\{(\w+)\}", lambda m: samples[m.group(1)], path)
        assert resolve(f"{BASE}{concrete.lstrip('/')}").url_name == name, path
    # The endpoint is mounted where the document's server says.
    mounted = [str(p.pattern) for p in get_resolver().url_patterns]
    assert "open311/v2/" in mounted


def test_every_operation_documents_its_errors_as_the_spec_list(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert method in METHODS
            for status, answer in operation["responses"].items():
                if path.endswith(".json") and path != "/openapi.json" and status >= "400":
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Errors"}, (path, status)


def test_answers_match_the_document(o311, world, report, document):
    case = report()
    client = o311.client
    checks = [
        ("/discovery.json", "discovery.json", {}),
        ("/discovery.json", "discovery.json", {"jurisdiction_id": "elsewhere.example"}),
        ("/services.json", "services.json", {"locale": "en"}),
        ("/services/{service_code}.json", f"services/{world.category.code}.json", {}),
        ("/services/{service_code}.json", "services/nope.json", {}),
        ("/requests.json", "requests.json", {"extensions": "true"}),
        ("/requests.json", "requests.json", {"status": "sideways"}),
        ("/requests.json", "requests.json", {"start_date": "2025-01-01"}),
        ("/requests/{service_request_id}.json", f"requests/{case.code}.json", {}),
        ("/requests/{service_request_id}.json", "requests/none.json", {}),
        ("/tokens/{token}.json", "tokens/abc.json", {}),
        ("/tokens/{token}.json", "tokens/abc.json", {"jurisdiction_id": "a\x00b"}),
        ("/servicerequestupdates.json", "servicerequestupdates.json", {"page": "2"}),
        ("/servicerequestupdates.json", "servicerequestupdates.json", {"page": "0"}),
        ("/media/{pk}", "media/999999", {}),
        ("/media/{pk}", "media/-1", {}),  # not a number: the catch-all's XML error list
        ("/openapi.json", "openapi.json", {}),
    ]
    for path, concrete, params in checks:
        response = client.get(f"{BASE}{concrete}", params)
        _answer_is_documented(document, path, "get", response)


def test_posts_match_the_document(o311, world, api_key, document):
    _key, secret = api_key
    lat, lng = world.point()
    posts = [
        {"api_key": secret, "service_code": world.category.code, "lat": lat, "long": lng},
        {"service_code": world.category.code, "address_string": "新建北路"},
        {"api_key": "wrong", "service_code": world.category.code, "address_string": "x"},
        {"api_key": secret, "service_code": "nope", "address_string": "x"},
        {"api_key": secret, "service_code": world.category.code},
        {"api_key": secret, "service_code": world.category.code, "lat": "north", "long": "1"},
    ]
    statuses = []
    for fields in posts:
        answer = o311.post(**fields)
        _answer_is_documented(document, "/requests.json", "post", answer.response)
        statuses.append(answer.status)
    assert statuses == [200, 403, 403, 404, 400, 400]
