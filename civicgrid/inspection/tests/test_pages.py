"""The visit pages over HTTP: due list, visit form and page, walks, compliance and exports."""

import csv
import io
from datetime import datetime

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from civicgrid.cases.models import Case
from civicgrid.cases.tests.conftest import jpeg
from civicgrid.inspection.actions import do_generate_due_visits, do_record_patrol, do_record_visit
from civicgrid.inspection.models import DueVisit, Patrol, Visit
from civicgrid.people.models import House

from .conftest import SHANGHAI


@pytest.fixture
def town(world, at):
    """Monday 13 October 2025: 甲 and 乙 in grid1 (乙 at the third house), 丁 in grid2."""
    houses = list(House.objects.filter(grid=world.grid).order_by("code"))
    people = {
        "甲": world.resident("张甲", house=houses[0]),
        "乙": world.resident("李乙", house=houses[2]),
        "丁": world.resident("王丁", grid=world.other_grid),
    }
    do_generate_due_visits(now=at(2025, 10, 13, 8))
    at(2025, 10, 14, 10)
    return {"people": people, "houses": houses}


def _client(user, lang="en"):
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = lang
    return client


def test_the_due_list_is_nearest_first_and_only_the_workers_grid(world, town):
    far, near = town["people"]["甲"], town["people"]["乙"]
    house = town["houses"][2]
    page = _client(world.p.grid1).get(
        reverse("visit_due_list"), {"lat": house.lat, "lng": house.lng}
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert html.index(f"/visits/record/{near.pk}/") < html.index(f"/visits/record/{far.pk}/")
    assert "王丁" not in html and "张甲" in html
    assert 'data-located="1"' in html


def test_the_due_list_falls_back_to_the_grid_and_filters_today(world, town):
    client = _client(world.p.grid1)
    html = client.get(reverse("visit_due_list")).content.decode()
    assert 'data-located="0"' in html and "张甲" in html
    # Due Friday the 17th: not due "today" (Tuesday the 14th).
    assert "张甲" not in client.get(reverse("visit_due_list"), {"when": "today"}).content.decode()
    assert client.get(reverse("visit_due_list"), {"lat": "x", "when": "?"}).status_code == 200


def test_another_township_and_outsiders_see_no_due_visit(world, town):
    html = _client(world.p.fengshan).get(reverse("visit_due_list")).content.decode()
    assert "张甲" not in html and "王丁" in html
    assert _client(world.p.outsider).get(reverse("visit_due_list")).status_code == 404


def test_a_visit_from_the_form_with_a_photo_raises_a_case(world, town):
    person = town["people"]["甲"]
    client = _client(world.p.grid1)
    url = reverse("visit_record", args=[person.pk])
    form = client.get(url).content.decode()
    assert "身体状况" in form and "用电安全" in form  # the rule's checklist
    photo = io.BytesIO(jpeg("green"))
    photo.name = "IMG_1.jpg"
    lat, lng = world.point()
    response = client.post(
        url,
        {
            "outcome": "seen",
            "answer_0": "normal",
            "answer_1": "attention",
            "notes": "电线老化",
            "photos": [photo],
            "lat": lat,
            "lng": lng,
            "found_problem": "on",
            "category": world.category.pk,
            "description": "楼道电线老化裸露，存在火灾隐患",
        },
    )
    visit = Visit.objects.get(person=person)
    assert response.status_code == 302 and response["Location"] == f"/visits/{visit.pk}/"
    assert visit.answers == {"身体状况": "normal", "用电安全": "attention"}
    assert visit.photos.count() == 1 and visit.due_visit.state == "done"
    case = Case.objects.get(pk=visit.case_id)
    assert case.description == "楼道电线老化裸露，存在火灾隐患" and case.attachments.count() == 1
    page = client.get(response["Location"]).content.decode()
    assert reverse("case_detail", args=[case.code]) in page
    assert case.code in page
    photo_url = reverse("visit_photo", args=[visit.pk, visit.photos.get().pk])
    assert photo_url in page
    image = client.get(photo_url)
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    # Another township sees neither the visit nor its photo.
    other = _client(world.p.fengshan)
    assert other.get(response["Location"]).status_code == 404
    assert other.get(photo_url).status_code == 404


def test_the_visit_form_answers_bad_input_with_messages(world, town):
    person = town["people"]["甲"]
    client = _client(world.p.grid1)
    url = reverse("visit_record", args=[person.pk])
    response = client.post(url, {"outcome": "maybe", "found_problem": "on", "lat": "30"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"outcome", "description", "__all__"}
    bad_photo = io.BytesIO(b"not an image")
    bad_photo.name = "x.jpg"
    response = client.post(url, {"outcome": "seen", "photos": [bad_photo]})
    assert response.status_code == 200 and "photos" in response.context["form"].errors
    assert not Visit.objects.exists()
    assert client.get(reverse("visit_record", args=[999999])).status_code == 404
    assert _client(world.p.fengshan).get(url).status_code == 404
    assert _client(world.p.auditor).get(url).status_code == 404  # sees people, may not visit


def test_the_auditor_sees_visits_with_masked_names(world, town):
    person = town["people"]["甲"]
    visit = do_record_visit(person, actor=world.p.grid1, outcome="seen")
    html = _client(world.p.auditor).get(reverse("visit_detail", args=[visit.pk])).content.decode()
    assert "张*" in html and "张甲" not in html
    html = _client(world.p.lizhou).get(reverse("visit_detail", args=[visit.pk])).content.decode()
    assert "张甲" in html


def test_a_walk_from_the_page(world, town):
    client = _client(world.p.grid1)
    page = client.get(reverse("patrol_new"))
    assert page.status_code == 200
    houses = town["houses"]
    assert houses[0].address in page.content.decode()
    response = client.post(
        reverse("patrol_new"),
        {
            "grid": world.grid.pk,
            "started_at": "2025-10-14T08:30",
            "ended_at": "2025-10-14T09:40",
            "track": "[[30.05, 121.15, 1760401800000], [30.051, 121.151, 1760401860000]]",
            "houses": [houses[0].pk, houses[1].pk],
            "notes": "全面走一遍",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("patrol_list")
    patrol = Patrol.objects.get()
    assert patrol.worker == world.p.grid1 and patrol.covered.count() == 2
    assert patrol.started_at == datetime(2025, 10, 14, 8, 30, tzinfo=SHANGHAI)
    assert len(patrol.track) == 2 and patrol.length_m > 100


def test_the_walk_page_refuses_bad_tracks_and_other_grids_houses(world, town):
    client = _client(world.p.grid1)
    other_house = House.objects.filter(grid=world.other_grid).first()
    response = client.post(
        reverse("patrol_new"),
        {"grid": world.grid.pk, "started_at": "2025-10-14T08:30", "track": "[[not json"},
    )
    assert response.status_code == 200 and "track" in response.context["form"].errors
    response = client.post(
        reverse("patrol_new"),
        {"grid": world.grid.pk, "started_at": "2025-10-14T08:30", "houses": [other_house.pk]},
    )
    assert response.status_code == 200 and "houses" in response.context["form"].errors
    response = client.post(
        reverse("patrol_new"),
        {"grid": world.grid.pk, "started_at": "2025-10-14T08:30", "track": '{"a": 1}'},
    )
    assert response.status_code == 200 and "track" in response.context["form"].errors
    # Another grid's number is ignored: a grid worker walks only their own grid.
    client.post(
        reverse("patrol_new"),
        {"grid": world.other_grid.pk, "started_at": "2025-10-14T08:30"},
    )
    assert set(Patrol.objects.values_list("grid", flat=True)) == {world.grid.pk}
    assert _client(world.p.outsider).get(reverse("patrol_new")).status_code == 404


def _cells(response) -> list[list]:
    return [row["cells"] for row in response.context["rows"]]


def _csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def _xlsx(response) -> list[list]:
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return [list(row) for row in book.active.iter_rows(values_only=True)]


@pytest.fixture
def walked(world, town, at):
    do_record_visit(town["people"]["甲"], actor=world.p.grid1, outcome="seen")
    do_record_visit(town["people"]["丁"], actor=world.p.grid2, outcome="not_found")
    do_record_patrol(
        world.grid,
        actor=world.p.grid1,
        started_at=datetime(2025, 10, 14, 8, tzinfo=SHANGHAI),
        houses=town["houses"][:2],
    )
    at(2025, 10, 20, 9)  # the next Monday: last week's visits of 乙 and 丁 are overdue/missed
    return town


PERIOD = {"start": "2025-10-01", "end": "2025-10-31"}


def test_compliance_by_grid_and_its_exports(world, walked):
    client = _client(world.p.county)
    page = client.get(reverse("visit_compliance"), {"by": "grid", **PERIOD})
    rows = {r[0]: r for r in _cells(page)}
    assert rows[world.grid.code][2:] == [2, 1, 0, 1, 50.0]
    assert rows[world.other_grid.code][2:] == [1, 0, 0, 1, 0.0]
    assert rows[world.grid.code][1] == world.grid.name
    export = client.get(
        reverse("visit_compliance_export", args=["compliance", "csv"]), {"by": "grid", **PERIOD}
    )
    lines = _csv(export)
    assert lines[0][0] == "Grid"
    assert [world.grid.code, world.grid.name, "2", "1", "0", "1", "50.0"] in lines
    sheet = _xlsx(
        client.get(
            reverse("visit_compliance_export", args=["compliance", "xlsx"]),
            {"by": "township", **PERIOD},
        )
    )
    assert ["330281001", "梨洲街道", 2, 1, 0, 1, 50.0] in sheet


@pytest.mark.parametrize("by", ["worker", "village", "township", "key_group"])
def test_compliance_by_each_grouping(world, walked, by):
    page = _client(world.p.county).get(reverse("visit_compliance"), {"by": by, **PERIOD})
    assert page.status_code == 200
    assert sum(r[2] for r in _cells(page)) == 3


def test_a_township_sees_only_its_own_rows(world, walked):
    page = _client(world.p.lizhou).get(reverse("visit_compliance"), {"by": "township", **PERIOD})
    assert [r[0] for r in _cells(page)] == ["330281001"]
    grid = _client(world.p.grid1).get(reverse("visit_compliance"), {"by": "grid", **PERIOD})
    assert [r[0] for r in _cells(grid)] == [world.grid.code]
    none = _client(world.p.outsider).get(reverse("visit_compliance"))
    assert none.status_code == 404


def test_overdue_and_never_visited_tables_and_exports(world, walked):
    client = _client(world.p.lizhou)
    overdue = client.get(reverse("visit_compliance_table", args=["overdue"]))
    assert [r[0] for r in _cells(overdue)] == ["李乙"]
    record = reverse("visit_record", args=[walked["people"]["乙"].pk])
    assert overdue.context["rows"][0]["link"] == record and record in overdue.content.decode()
    assert _cells(overdue)[0][5] == 3  # due Friday the 17th, today Monday the 20th
    lines = _csv(client.get(reverse("visit_compliance_export", args=["overdue", "csv"])))
    assert lines[1][0] == "李乙" and len(lines) == 2
    never = client.get(reverse("visit_compliance_table", args=["never"]))
    assert [r[0] for r in _cells(never)] == ["李乙"]
    sheet = _xlsx(client.get(reverse("visit_compliance_export", args=["never", "xlsx"])))
    assert sheet[1][:3] == ["李乙", "测试关注", world.grid.code]
    county_never = _client(world.p.county).get(reverse("visit_compliance_table", args=["never"]))
    assert {r[0] for r in _cells(county_never)} == {"李乙", "王丁"}
    auditor = _client(world.p.auditor).get(reverse("visit_compliance_table", args=["never"]))
    assert {r[0] for r in _cells(auditor)} == {"李*", "王*"}
    assert "/visits/record/" not in auditor.content.decode()  # sees, may not visit


def test_coverage_table_and_export(world, walked):
    client = _client(world.p.county)
    page = client.get(
        reverse("visit_compliance_table", args=["coverage"]), {"by": "grid", **PERIOD}
    )
    rows = {r[0]: r for r in _cells(page)}
    assert rows[world.grid.code][2:] == [5, 2, 40.0]
    lines = _csv(
        client.get(
            reverse("visit_compliance_export", args=["coverage", "csv"]),
            {"by": "grid", **PERIOD},
        )
    )
    assert [world.grid.code, world.grid.name, "5", "2", "40.0"] in lines
    # A grouping that coverage does not have falls back, never a 500.
    assert (
        client.get(
            reverse("visit_compliance_table", args=["coverage"]), {"by": "key_group"}
        ).status_code
        == 200
    )


def test_patrol_list_and_export_are_scoped(world, walked):
    html = _client(world.p.grid1).get(reverse("patrol_list")).content.decode()
    assert world.grid.code in html
    assert (
        world.grid.code
        not in _client(world.p.fengshan).get(reverse("patrol_list")).content.decode()
    )
    lines = _csv(_client(world.p.lizhou).get(reverse("patrol_export", args=["csv"])))
    assert lines[1][0] == world.grid.code and lines[1][-1] == "2"
    assert _client(world.p.lizhou).get(reverse("patrol_export", args=["pdf"])).status_code == 404


@pytest.mark.parametrize(
    "params", [{"start": "2025-13-01"}, {"start": "2025-10-31", "end": "2025-10-01"}, {"by": "x"}]
)
def test_bad_periods_never_fail(world, walked, params):
    client = _client(world.p.county)
    assert client.get(reverse("visit_compliance"), params).status_code == 200
    assert client.get(reverse("visit_compliance_table", args=["nothing"])).status_code == 404
    assert (
        client.get(reverse("visit_compliance_export", args=["compliance", "pdf"])).status_code
        == 404
    )


def _main(response) -> str:
    """The page's own content: the shell around it (menu, language switch) is the web app's."""
    html = response.content.decode()
    return html[html.index('<main id="main">') : html.index("</main>")]


def test_chinese_pages_show_no_english_words(world, walked):
    from civicgrid.web.tests.test_languages import english_words

    visit = Visit.objects.filter(person=walked["people"]["甲"]).first()
    person = walked["people"]["乙"]
    data = {"grid1", "lizhou", "grid2", "county", world.grid.code}
    data |= set(DueVisit.objects.values_list("assignee__username", flat=True))  # worker rows
    pages = {
        "grid1": [
            reverse("visit_due_list"),
            reverse("visit_due_list") + "?when=today",
            reverse("visit_record", args=[person.pk]),
            reverse("visit_detail", args=[visit.pk]),
            reverse("patrol_new"),
            reverse("patrol_list"),
        ],
        "lizhou": [
            reverse("visit_compliance"),
            *(
                reverse("visit_compliance_table", args=[t])
                for t in ("overdue", "never", "coverage")
            ),
            reverse("patrol_new"),
        ],
    }
    for username, urls in pages.items():
        client = _client(getattr(world.p, username), lang="zh-hans")
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            found = english_words(_main(response), data)
            assert not found, f"{url}: {sorted(found)}"
    # A failed form in Chinese too.
    client = _client(world.p.grid1, lang="zh-hans")
    response = client.post(
        reverse("visit_record", args=[person.pk]), {"outcome": "?", "found_problem": "on"}
    )
    assert not english_words(_main(response), data)


def _more_residents(world, n):
    for i in range(n):
        world.resident(f"添{i}")


@pytest.mark.parametrize(
    "name,args",
    [
        ("visit_due_list", {}),
        ("visit_compliance_table", {"table": "overdue"}),
        ("visit_compliance_table", {"table": "never"}),
        ("visit_compliance", {}),
        ("visit_compliance_table", {"table": "coverage"}),
        ("patrol_list", {}),
    ],
)
def test_pages_take_the_same_queries_for_more_rows(world, walked, at, name, args):
    """No query per row: ten more residents owed (and overdue) cost no more queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def rows(response):
        return len(response.context.get("rows") or response.context.get("items") or [])

    url = reverse(name, kwargs=args)
    client = _client(world.p.lizhou)
    client.get(url)
    with CaptureQueriesContext(connection) as before:
        first = client.get(url)
    _more_residents(world, 10)
    do_generate_due_visits(now=at(2025, 10, 20, 9))
    do_record_patrol(
        world.grid,
        actor=world.p.grid1,
        started_at=datetime(2025, 10, 20, 8, tzinfo=SHANGHAI),
        houses=walked["houses"][2:],
    )
    at(2025, 10, 25, 9)  # Saturday: this week's visits, due Friday, are overdue
    client = _client(world.p.lizhou)  # a new session at the new time
    client.get(url)
    with CaptureQueriesContext(connection) as after:
        second = client.get(url)
    assert first.status_code == second.status_code == 200
    if name in {"visit_due_list", "visit_compliance_table"} and args.get("table") != "coverage":
        assert rows(second) >= rows(first) + 10
    assert len(after) <= len(before) + 1, [q["sql"][:120] for q in after.captured_queries]
    assert len(after) <= 16
