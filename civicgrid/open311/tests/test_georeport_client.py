"""The PyPI client ``georeport`` (GET only) reads our endpoint, in JSON and in XML.

It talks through ``requests``; a transport adapter hands its calls to Django's test client,
so no live server (and no flush of the session's demo county) is needed. Skipped when the
client is not installed (``pip install georeport==0.3.1``, which brings requests and
xmltodict<0.15).
"""

import pytest

georeport = pytest.importorskip("georeport")
requests = pytest.importorskip("requests")

ROOT = "http://testserver/open311/v2"


class DjangoClientAdapter(requests.adapters.BaseAdapter):
    """Send a prepared ``requests`` request through Django's test client."""

    def __init__(self, client):
        super().__init__()
        self.client = client

    def send(self, request, **kwargs):
        response = self.client.generic(
            request.method,
            request.url.removeprefix("http://testserver"),
            request.body or b"",
            content_type=request.headers.get("Content-Type", ""),
        )
        answer = requests.Response()
        answer.status_code = response.status_code
        answer._content = response.content
        answer.headers = requests.structures.CaseInsensitiveDict(response.headers)
        answer.encoding = "utf-8"
        answer.url = request.url
        answer.request = request
        return answer

    def close(self):
        pass


@pytest.fixture
def geo_client(client, monkeypatch):
    session = requests.Session()
    session.mount("http://testserver/", DjangoClientAdapter(client))
    # georeport calls requests.get at module level; route those calls through the session.
    monkeypatch.setattr(georeport.georeport.requests, "get", session.get)

    def make(fmt):
        return georeport.GeoReport(ROOT, jurisdiction="yuyao.gov.cn", output_format=fmt)

    return make


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_reads_every_get_method(geo_client, report, fmt):
    first, second = report(description="井盖缺失"), report(description="路灯不亮")
    reader = geo_client(fmt)

    services = reader.get_service_list()
    assert "0101" in [s["service_code"] for s in services]

    definition = reader.get_service_definition("0101")
    assert definition["service_code"] == "0101"

    listed = reader.get_service_requests()
    codes = [r["service_request_id"] for r in listed]
    assert first.code in codes and second.code in codes

    some = reader.get_service_requests(service_request_id=f"{first.code},{second.code}")
    assert {r["service_request_id"] for r in some} == {first.code, second.code}

    one = reader.get_service_request(first.code)
    assert one["service_request_id"] == first.code
    assert one["status"] == "open" and one["description"] == "井盖缺失"

    with pytest.raises(requests.HTTPError) as error:
        reader.get_service_request("330281-20010101-99999")
    assert error.value.response.status_code == 404

    with pytest.raises(requests.HTTPError) as error:
        reader.get_service_requests(start_date="not a date")
    assert error.value.response.status_code == 400
