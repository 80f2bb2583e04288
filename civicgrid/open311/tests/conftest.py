import json
from datetime import datetime
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest

from civicgrid.api.actions import do_create_api_key
from civicgrid.cases.actions import do_report_case
from civicgrid.cases.tests.conftest import SHANGHAI, World

BASE = "/open311/v2/"


class Answer:
    """A response read in its own format: ``data`` is the JSON value or the XML root."""

    def __init__(self, response, fmt):
        self.response, self.fmt = response, fmt
        self.status = response.status_code
        self.content_type = response["Content-Type"]
        if fmt == "json":
            self.data = json.loads(response.content)
        else:
            assert response.content.startswith(b"<?xml")
            self.data = ElementTree.fromstring(response.content)

    def items(self) -> list[dict]:
        """The repeated elements as dicts of text (XML) or the JSON array."""
        if self.fmt == "json":
            return self.data
        return [{child.tag: child.text for child in element} for element in self.data]

    def errors(self) -> list[dict]:
        if self.fmt == "xml":
            assert self.data.tag == "errors"
            assert all(e.tag == "error" for e in self.data)
            assert all([c.tag for c in e] == ["code", "description"] for e in self.data)
        return self.items()


class Open311Client:
    def __init__(self, client):
        self.client = client

    def get(self, path, fmt="json", **params):
        response = self.client.get(f"{BASE}{path}.{fmt}", params)
        return Answer(response, fmt)

    def post(self, fmt="json", headers=None, files=None, **fields):
        """A form-encoded POST, as GeoReport clients send it (multipart when ``files``)."""
        path = f"{BASE}requests.{fmt}"
        if files:
            response = self.client.post(path, {**fields, **files}, headers=headers or {})
        else:
            response = self.client.post(
                path,
                urlencode(fields, doseq=True),
                content_type="application/x-www-form-urlencoded; charset=utf-8",
                headers=headers or {},
            )
        return Answer(response, fmt)


@pytest.fixture
def o311(client):
    return Open311Client(client)


@pytest.fixture
def world(personas):
    return World(personas)


@pytest.fixture
def api_key(personas):
    """An anonymous integration key: (key, secret)."""
    return do_create_api_key(name="city 311 app", actor=personas.county)


@pytest.fixture
def report(world):
    """Report a case on the open311 channel at a given local time (default: now)."""

    def _report(*when, description="路灯不亮", category=None, **extra):
        lat, lng = world.point()
        return do_report_case(
            actor=None,
            channel="open311",
            description=description,
            category=category or world.category,
            lat=lat,
            lng=lng,
            created=datetime(*when, tzinfo=SHANGHAI) if when else None,
            **extra,
        )

    return _report
