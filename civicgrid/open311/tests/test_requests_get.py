"""GET requests, GET requests/{id}, tokens and servicerequestupdates."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from civicgrid.cases import actions as A
from civicgrid.cases.models import CaseReporter
from civicgrid.cases.tests.conftest import jpeg
from civicgrid.cases.workflow import STATE_LABELS
from civicgrid.open311 import views

W3C = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
# A window in the past where only these tests put cases.
WINDOW = {"start_date": "2001-03-01T00:00:00+08:00", "end_date": "2001-03-31T23:59:59+08:00"}


def ids(answer):
    return [item["service_request_id"] for item in answer.items()]


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_single_request_is_a_list_of_one_with_every_field(o311, report, fmt):
    case = report(description="路灯不亮，晚上很黑", address="梨洲街道 文化路 12 号")
    answer = o311.get(f"requests/{case.code}", fmt)
    assert answer.status == 200
    (item,) = answer.items()
    if fmt == "xml":
        assert answer.data.tag == "service_requests"
        assert [e.tag for e in answer.data] == ["request"]
        assert [c.tag for c in answer.data[0]] == REQUEST_FIELDS
    else:
        assert isinstance(answer.data, list) and list(item) == REQUEST_FIELDS
        assert isinstance(item["service_request_id"], str)
        assert isinstance(item["service_code"], str)
        assert isinstance(item["lat"], float) and isinstance(item["long"], float)
        assert item["zipcode"] is None and item["address_id"] is None
        assert item["expected_datetime"] is None  # not accepted yet: no deadline
    assert item["service_request_id"] == case.code
    assert item["status"] == "open"
    assert item["status_notes"] == "路灯不亮，晚上很黑"  # the report is the last public step
    assert item["service_code"] == "0101"
    assert item["service_name"] == case.category.name
    assert item["description"] == "路灯不亮，晚上很黑"
    assert item["address"] == "梨洲街道 文化路 12 号"
    assert item["agency_responsible"]  # the township command room owning it
    assert "工作日" in item["service_notice"]  # Chinese unless the client asks otherwise
    for field in ("requested_datetime", "updated_datetime"):
        assert W3C.match(item[field]), item[field]
    assert float(item["lat"]) == pytest.approx(case.lat)


def test_it_never_shows_the_reporter(o311, report, world):
    case = report(reporter_name="张三", reporter_phone="13905741234")
    assert CaseReporter.objects.get(case=case).phone_masked == "139****1234"
    for fmt in ("xml", "json"):
        body = o311.client.get(
            f"/open311/v2/requests/{case.code}.{fmt}", {"extensions": "true"}
        ).content.decode()
        assert "张三" not in body and "1234" not in body.replace(case.code, "")
        assert "anonymous" not in body


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_an_unknown_request_is_a_404_error(o311, fmt, db):
    answer = o311.get("requests/330281-20010101-99999", fmt)
    assert answer.status == 404
    (error,) = answer.errors()
    assert str(error["code"]) == "404"
    assert "330281-20010101-99999" in error["description"]


def test_legal_hotline_cases_are_not_published(o311, world):
    lat, lng = world.point()
    case = A.do_report_case(
        actor=world.p.lizhou, channel="hotline_12348", description="邻里纠纷", lat=lat, lng=lng
    )
    assert o311.get(f"requests/{case.code}").status == 404
    assert case.code not in ids(o311.get("requests", service_request_id=case.code))


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_it_lists_requests_by_id_overriding_other_filters(o311, report, fmt):
    old = report(2001, 3, 1, 9)
    new = report()
    answer = o311.get(
        "requests",
        fmt,
        service_request_id=f"{old.code},{new.code},330281-20010101-99999",
        status="closed",
        service_code="9999",
    )
    assert answer.status == 200
    assert ids(answer) == [new.code, old.code]  # newest first, unknown ids left out


def test_the_default_window_is_the_last_90_days(o311, report):
    now = timezone.localtime()
    recent = report(*(now - timedelta(days=1)).timetuple()[:6])
    old = report(*(now - timedelta(days=91)).timetuple()[:6])
    found = ids(o311.get("requests"))
    assert recent.code in found and old.code not in found
    # start_date alone covers the 90 days after it.
    since = (now - timedelta(days=100)).isoformat()
    found = ids(o311.get("requests", start_date=since))
    assert old.code in found and recent.code not in found


def test_the_default_volume_is_capped(o311, report, monkeypatch):
    assert views.MAX_REQUESTS == 1000
    cases = [report(2001, 3, day, 9) for day in (1, 2, 3)]
    monkeypatch.setattr(views, "MAX_REQUESTS", 2)
    assert ids(o311.get("requests", **WINDOW)) == [cases[2].code, cases[1].code]


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_it_filters_by_dates_codes_and_status(o311, report, world, fmt):
    from civicgrid.cases.models import Category

    march1 = report(2001, 3, 1, 9)
    march10 = report(2001, 3, 10, 9)
    march20 = report(2001, 3, 20, 9)
    other = Category.objects.filter(parent__isnull=False).exclude(code="0101").first()
    different = report(2001, 3, 15, 9, category=other)
    A.do_reject_case(march10, actor=world.p.lizhou, reason="重复上报")

    def found(**params):
        answer = o311.get("requests", fmt, **{**WINDOW, **params})
        assert answer.status == 200, answer.items()
        return ids(answer)

    assert found() == [march20.code, different.code, march10.code, march1.code]
    assert found(start_date="2001-03-05T00:00:00Z", end_date="2001-03-12T00:00:00Z") == [
        march10.code
    ]
    # The offset counts: 09:00 in Shanghai is 01:00 UTC.
    assert found(start_date="2001-03-01T01:00:01Z", end_date="2001-03-09T00:00:00Z") == []
    assert found(start_date="2001-03-01T01:00:00Z", end_date="2001-03-09T00:00:00Z") == [
        march1.code
    ]
    assert found(service_code=other.code) == [different.code]
    assert found(service_code=f"0101,{other.code}") == found()
    assert found(status="closed") == [march10.code]
    assert found(status="open") == [march20.code, different.code, march1.code]
    assert found(status="open,closed") == found()
    assert found(status="OPEN", service_code="0101") == [march20.code, march1.code]


def test_a_plus_sign_turned_into_a_space_is_read_as_the_offset(o311, report):
    case = report(2001, 3, 1, 9)
    answer = o311.get(
        "requests",
        start_date="2001-03-01T00:00:00 08:00",
        end_date="2001-03-01T23:00:00 08:00",
    )
    assert answer.status == 200 and ids(answer) == [case.code]


def test_it_pages_with_page_and_page_size(o311, report):
    cases = [report(2001, 3, day, 9) for day in range(1, 6)]
    newest_first = [c.code for c in reversed(cases)]
    assert ids(o311.get("requests", page_size=2, **WINDOW)) == newest_first[:2]
    assert ids(o311.get("requests", page=2, page_size=2, **WINDOW)) == newest_first[2:4]
    assert ids(o311.get("requests", page=3, page_size=2, **WINDOW)) == newest_first[4:]
    assert ids(o311.get("requests", page=4, page_size=2, **WINDOW)) == []
    # Paging lifts the 90-day limit on the window.
    wide = {"start_date": "2000-01-01T00:00:00Z", "end_date": "2001-12-31T00:00:00Z"}
    assert o311.get("requests", **wide).status == 400
    assert ids(o311.get("requests", page=1, page_size=3, **wide)) == newest_first[:3]


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "yesterday"},
        {"start_date": "2025-13-01T00:00:00Z"},
        {"start_date": "2025-01-01T00:00:00"},  # no time zone
        {"end_date": "2025-01-01"},
        {"start_date": "2025-03-01T00:00:00Z", "end_date": "2025-01-01T00:00:00Z"},
        {"start_date": "2025-01-01T00:00:00Z", "end_date": "2025-06-01T00:00:00Z"},
        {"status": "pending"},
        {"page": "0"},
        {"page": "-1"},
        {"page_size": "1001"},
        {"page_size": "abc"},
        {"page": "1.5"},
        {"page": "٣"},  # an Arabic-Indic digit is not a page number here
    ],
)
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_bad_list_parameters_are_400_errors(o311, fmt, params, db):
    answer = o311.get("requests", fmt, **params)
    assert answer.status == 400, answer.response.content
    errors = answer.errors()
    assert errors and all(str(e["code"]) == "400" for e in errors)
    assert all(e["description"] for e in errors)


def test_several_problems_are_reported_together(o311, db):
    answer = o311.get("requests", start_date="x", status="maybe", page_size="0")
    assert answer.status == 400
    text = " ".join(e["description"] for e in answer.errors())
    assert len(answer.errors()) == 3
    assert "start_date" in text and "status" in text and "page_size" in text


def test_empty_parameters_count_as_absent(o311, report):
    case = report()
    answer = o311.get(
        "requests",
        service_request_id="",
        service_code="",
        start_date="",
        end_date="",
        status="",
        page="",
        page_size="",
        jurisdiction_id="",
        extensions="",
    )
    assert answer.status == 200 and case.code in ids(answer)


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_extensions_add_extended_attributes_and_notes(o311, world, report, fmt):
    case = report(photos=[jpeg()])
    lizhou = world.p.lizhou
    case = A.do_accept_case(case, actor=lizhou)
    A.do_instruct_case(case, actor=world.p.leader, text="内部批示：尽快处理，注意舆情")
    plain = o311.get(f"requests/{case.code}", fmt)
    (item,) = plain.items()
    assert "notes" not in item and "extended_attributes" not in item
    assert item["media_url"].startswith("http://testserver/open311/v2/media/")
    assert W3C.match(item["expected_datetime"])
    answer = o311.get(f"requests/{case.code}", fmt, extensions="true")
    if fmt == "xml":
        request = answer.data.find("request")
        assert [c.tag for c in request] == [*REQUEST_FIELDS, "extended_attributes", "notes"]
        extended = request.find("extended_attributes")
        assert [c.tag for c in extended] == [
            "grid",
            "grid_name",
            "channel",
            "state",
            "state_label",
            "photos",
        ]
        assert extended.findtext("grid") == world.grid.code
        assert extended.findtext("channel") == "open311"
        assert [p.tag for p in extended.find("photos")] == ["photo"]
        photo_url = extended.findtext("photos/photo/media_url")
        notes = [{c.tag: c.text for c in note} for note in request.find("notes")]
        assert {n.tag for n in request.find("notes")} == {"note"}
    else:
        (item,) = answer.data
        extended = item["extended_attributes"]
        assert extended["grid"] == world.grid.code and extended["channel"] == "open311"
        assert extended["state"] == "accepted"
        (photo,) = extended["photos"]
        assert set(photo) == {"media_url", "kind", "width", "height", "created_at"}
        assert photo["width"] == 64 and photo["kind"] == "photo"
        photo_url = photo["media_url"]
        notes = item["notes"]
    assert photo_url.startswith("http://testserver/open311/v2/media/")
    assert [n["type"] for n in notes] == ["report", "accept", "instruct"]
    assert all(set(n) == {"datetime", "type", "description", "status"} for n in notes)
    assert all(W3C.match(n["datetime"]) for n in notes)
    # Staff-internal text stays inside: the leader's instruction is shown by name only.
    assert not any("内部批示" in n["description"] for n in notes)
    assert "内部批示" not in answer.response.content.decode()
    (item,) = o311.get(f"requests/{case.code}", fmt).items()
    # The last step's text is internal, so the notes name the state instead.
    with translation.override("zh-hans"):
        assert item["status_notes"] == str(STATE_LABELS["accepted"])


def test_agency_is_the_owner_until_dispatched_then_the_lead_department(o311, world, report):
    case = report()
    (item,) = o311.get(f"requests/{case.code}").data
    assert item["agency_responsible"] == world.grid.village.parent.name  # township
    lizhou = world.p.lizhou
    case = A.do_accept_case(case, actor=lizhou)
    A.do_dispatch_case(case, actor=lizhou, lead=world.town_police, assisting=[world.town_law])
    (item,) = o311.get(f"requests/{case.code}").data
    assert item["agency_responsible"] == world.town_police.name


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_tokens_are_never_issued(o311, fmt, db):
    answer = o311.get("tokens/12345", fmt)
    assert answer.status == 404
    assert "12345" in answer.errors()[0]["description"]


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_it_serves_request_updates_since_a_date(o311, world, report, fmt):
    case = report()
    lizhou = world.p.lizhou
    since = timezone.now() - timedelta(seconds=1)
    case = A.do_accept_case(case, actor=lizhou)
    case = A.do_reject_case(report(), actor=lizhou, reason="不属于受理范围")  # another case, closed
    answer = o311.get("servicerequestupdates", fmt, start_date=since.isoformat())
    assert answer.status == 200
    updates = answer.items()
    if fmt == "xml":
        assert answer.data.tag == "service_requests_updates"
        assert {e.tag for e in answer.data} == {"request_update"}
    else:
        assert all(isinstance(u["update_id"], str) for u in updates)
    assert all(
        {
            "update_id",
            "service_request_id",
            "status",
            "updated_datetime",
            "description",
            "media_url",
            "external_status_code",
        }
        == set(u)
        for u in updates
    )
    mine = [u for u in updates if u["service_request_id"] in {case.code}]
    assert [(u["status"], u["external_status_code"]) for u in mine] == [("closed", "rejected")]
    accepted = [u for u in updates if u["external_status_code"] == "accepted"]
    assert len(accepted) == 1 and accepted[0]["status"] == "open"
    assert all(W3C.match(u["updated_datetime"]) for u in updates)
    assert "不属于受理范围" in mine[0]["description"]
    # Nothing before start_date, and the report itself is not an update.
    later = o311.get("servicerequestupdates", fmt, start_date=timezone.now().isoformat())
    assert later.items() == []
    assert o311.get("servicerequestupdates", fmt, start_date="soon").status == 400


@pytest.mark.parametrize("extensions", ["", "true"])
def test_the_number_of_queries_does_not_grow_with_the_results(o311, report, extensions):
    report(2001, 3, 1, 9, photos=[jpeg()])

    def count():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert o311.get("requests", extensions=extensions, **WINDOW).status == 200
        return len(queries)

    one = count()
    for day in range(2, 8):
        report(2001, 3, day, 9, photos=[jpeg()])
    assert count() == one
    assert one <= 8


def test_it_masks_phone_numbers_written_into_a_published_description(o311, report):
    case = report(description="路灯坏了，来电人电话13905741234")
    (item,) = o311.get(f"requests/{case.code}").data
    assert "13905741234" not in item["description"] and "139****1234" in item["description"]
