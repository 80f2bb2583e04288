"""Workbenches, case lists with exports, the report page and the action forms on a case."""

import io

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from civicgrid.cases import actions as A
from civicgrid.cases.models import Case
from civicgrid.cases.selectors import possible_actions
from civicgrid.cases.tests.conftest import jpeg


@pytest.fixture
def login(db):
    """A browser of one's own for each person, reading the pages in English."""

    def _login(user):
        client = Client()
        client.force_login(user)
        client.cookies["django_language"] = "en"
        return client

    return _login


def _report(world, **extra):
    lat, lng = world.point()
    values = dict(
        actor=None,
        channel="resident",
        description="小区门口有一辆僵尸车，电话13905741234",
        lat=lat,
        lng=lng,
    )
    values.update(extra)
    return A.do_report_case(**values)


def test_each_person_lands_on_the_workbench_of_their_role(login, personas):
    for user, title in [
        ("lizhou", "Township command room"),
        ("grid1", "Grid worker"),
        ("police", "Department inbox"),
        ("county", "County centre"),
        ("auditor", "Audit"),
    ]:
        client = login(getattr(personas, user))
        body = client.get("/").content.decode()
        assert f"<h1>{title}</h1>" in body, user


def test_the_command_room_sees_its_intake_queue_and_opens_a_case(login, personas, world):
    case = _report(world)
    client = login(personas.lizhou)
    body = client.get("/").content.decode()
    assert case.code in body  # in "My tasks"
    listed = client.get(reverse("case_list"), {"queue": "intake"}).content.decode()
    assert case.code in listed and "13905741234" not in listed
    other = login(personas.fengshan).get(reverse("case_list"), {"queue": "intake"})
    assert case.code not in other.content.decode()


def test_the_case_page_offers_exactly_the_possible_actions(login, personas, world):
    case = _report(world)
    lizhou = login(personas.lizhou)
    body = lizhou.get(reverse("case_detail", args=[case.code])).content.decode()
    assert 'id="act-accept"' in body and 'id="act-reject"' in body
    assert 'id="act-sign"' not in body
    assert set(possible_actions(personas.lizhou, case)) >= {"accept", "reject", "classify"}
    assert possible_actions(personas.grid2, case) == []


def test_the_loop_through_the_case_page_forms(login, personas, world):
    case = _report(world)
    lizhou = login(personas.lizhou)
    url = reverse("case_act", args=[case.code, "accept"])
    response = lizhou.post(
        url, {"accept-category": world.category.pk, "accept-expected_version": case.version}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == "accepted"
    # A stale form (the version moved) is refused with a message, nothing changes.
    stale = lizhou.post(
        reverse("case_act", args=[case.code, "suspend"]),
        {"suspend-reason": "等待法院判决", "suspend-expected_version": 1},
    )
    assert "Someone else changed case" in lizhou.get(stale["Location"]).content.decode()
    case.refresh_from_db()
    assert case.state == "accepted"
    lizhou.post(
        reverse("case_act", args=[case.code, "dispatch"]),
        {"dispatch-lead": world.town_police.pk, "dispatch-expected_version": case.version},
    )
    case.refresh_from_db()
    assert case.state == "dispatched"
    police = login(world.town_police_user())
    page = police.get(reverse("case_detail", args=[case.code])).content.decode()
    assert 'id="act-sign"' in page and 'id="act-request_return"' in page
    police.post(reverse("case_act", args=[case.code, "sign"]), {})
    police.post(
        reverse("case_act", args=[case.code, "feedback"]),
        {"feedback-text": "已拖走", "feedback-photo": _upload()},
    )
    case.refresh_from_db()
    assert case.state == "feedback" and case.attachments.count() == 1
    done = lizhou.post(reverse("case_act", args=[case.code, "verify_pass"]), {}, follow=True)
    assert "Done: Verify" in done.content.decode(), done.content.decode()[:3000]
    lizhou.post(
        reverse("case_act", args=[case.code, "evaluate"]), {"evaluate-satisfaction": "satisfied"}
    )
    case.refresh_from_db()
    assert case.state == "archived"


def test_an_action_the_person_may_not_take_is_refused(login, personas, world):
    case = _report(world)
    response = login(personas.county).post(
        reverse("case_act", args=[case.code, "accept"]), {}, follow=True
    )
    assert "This action is not possible for you" in response.content.decode()
    case.refresh_from_db()
    assert case.state == "reported"


def _upload(name="photo.jpg"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, jpeg(), content_type="image/jpeg")


def test_a_grid_worker_reports_and_a_retry_returns_the_same_case(login, personas, world):
    client = login(personas.grid1)
    page = client.get(reverse("report")).content.decode()
    assert 'name="idempotency_key"' in page and 'capture="environment"' in page
    lat, lng = world.point()
    data = {
        "description": "路灯不亮",
        "category": world.category.pk,
        "lat": lat,
        "lng": lng,
        "channel": "grid_worker",
        "idempotency_key": "page-key-1",
        "photo": _upload(),
    }
    first = client.post(reverse("report"), data)
    assert first.status_code == 302
    data["photo"] = _upload()
    second = client.post(reverse("report"), data)
    assert second["Location"] == first["Location"]
    case = Case.objects.get(code=first["Location"].split("/")[-2])
    assert case.grid == world.grid and case.level == "grid" and case.attachments.count() == 1
    assert Case.objects.filter(description="路灯不亮").count() == 1


def test_a_bad_report_shows_the_errors(login, personas):
    client = login(personas.grid1)
    response = client.post(
        reverse("report"),
        {"description": "", "channel": "grid_worker", "idempotency_key": "k", "lat": "91"},
    )
    assert response.status_code == 200
    assert "error" in response.content.decode()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_case_lists_export_with_the_current_filters(login, personas, world, fmt):
    mine = _report(world)
    _report(world, description="另一件事")
    client = login(personas.lizhou)
    response = client.get(reverse("case_export", args=[fmt]), {"queue": "intake", "q": mine.code})
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    if fmt == "csv":
        text = content.decode("utf-8-sig")
        lines = text.strip().splitlines()
        assert len(lines) == 2 and mine.code in lines[1]
        assert "13905741234" not in text and "139****1234" in text
    else:
        book = load_workbook(io.BytesIO(content))
        rows = list(book.active.iter_rows(values_only=True))
        assert rows[0][0] == "case code" and len(rows) == 2 and rows[1][0] == mine.code
        assert "139****1234" in rows[1][3]


def test_exported_cells_cannot_carry_formulas(login, personas, world):
    _report(world, description='=HYPERLINK("http://evil")')
    response = login(personas.lizhou).get(reverse("case_export", args=["xlsx"]))
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    cells = [row[3] for row in book.active.iter_rows(min_row=2, values_only=True)]
    assert any(c.startswith("'=HYPERLINK") for c in cells)


def test_bulk_accept_and_dispatch_to_the_suggested_departments(login, personas, world):
    first = _report(world, description="井盖缺失")
    second = _report(world, description="路灯不亮")
    A.do_classify_case(first, actor=personas.lizhou, category=world.category)
    client = login(personas.lizhou)
    page = client.get(reverse("case_list"), {"queue": "intake"}).content.decode()
    assert 'id="bulk-form"' in page and f'value="{first.code}"' in page
    response = client.post(
        reverse("case_bulk"),
        {"operation": "accept", "case": [first.code, second.code], "next": "/cases/?queue=intake"},
        follow=True,
    )
    body = response.content.decode()
    # The unclassified one is refused with its reason; the other is accepted.
    assert "Done for 1 cases" in body and second.code in body
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == ("accepted", "reported")
    client.post(
        reverse("case_bulk"),
        {"operation": "dispatch_suggested", "case": [first.code], "next": "//evil.example/"},
    )
    first.refresh_from_db()
    assert first.state == "dispatched"
    assert first.assignments.get(role="lead").department == world.town_police
    outsider = login(personas.fengshan)
    outsider.post(reverse("case_bulk"), {"operation": "accept", "case": [second.code]})
    second.refresh_from_db()
    assert second.state == "reported"


def test_a_forced_dispatch_offers_no_return_and_the_map_shows_the_cases_grid(
    login, personas, world
):
    case = _report(world)
    lizhou = personas.lizhou
    case = A.do_accept_case(case, actor=lizhou, category=world.category)
    case = A.do_dispatch_case(case, actor=lizhou, lead=world.town_police)
    police = world.town_police_user()
    assert "request_return" in possible_actions(police, case)
    case = A.do_request_return(case, actor=police, reason="not_our_duty")
    case = A.do_decide_return(case, actor=lizhou, approve=False, text="请办理")
    assert "request_return" not in possible_actions(police, case)
    assert "sign" in possible_actions(police, case)
    data = login(police).get(reverse("case_grid", args=[case.code])).json()
    assert data["id"] == world.grid.code and data["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    assert login(personas.fengshan).get(reverse("case_grid", args=[case.code])).status_code == 404


def test_the_case_page_masks_personal_data_for_roles_without_access(login, personas, world):
    case = _report(world, reporter_name="张三丰", reporter_phone="13905741234")
    lizhou_page = login(personas.lizhou).get(reverse("case_detail", args=[case.code]))
    assert "13905741234" in lizhou_page.content.decode()  # the command room sees it
    police = world.town_police_user()
    case = A.do_accept_case(case, actor=personas.lizhou, category=world.category)
    case = A.do_dispatch_case(case, actor=personas.lizhou, lead=world.town_police)
    page = login(police).get(reverse("case_detail", args=[case.code])).content.decode()
    assert "13905741234" not in page and "139****1234" in page
    assert "张三丰" not in page and "张**" in page


def test_a_person_with_two_roles_switches_workbench_and_it_is_remembered(login, personas, world):
    from civicgrid.people.actions import do_assign_role
    from civicgrid.people.models import Person

    person = Person.objects.get(user=personas.grid1)
    do_assign_role(person, "dept_handler", department=world.town_police, actor=personas.admin)
    client = login(personas.grid1)
    home = client.get("/").content.decode()
    assert "<h1>Department inbox</h1>" in home and 'href="/work/grid/"' in home
    switched = client.get(reverse("workbench", args=["grid"])).content.decode()
    assert "<h1>Grid worker</h1>" in switched
    assert "<h1>Grid worker</h1>" in client.get("/").content.decode()  # remembered
    assert client.get(reverse("workbench", args=["county"])).status_code == 404


def test_the_grid_workbench_counts_the_field_work(login, personas):
    """Visits due this week and campaign targets sit next to the case counts."""
    import re
    from datetime import timedelta

    from django.utils import timezone

    from civicgrid.inspection.actions import do_generate_due_visits
    from civicgrid.inspection.selectors import due_visits_visible_to

    client = login(personas.grid1)

    def shown() -> int:
        page = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "Campaign targets to check" in page
        return int(re.search(r'href="/visits/due/\?when=week"><b>(\d+)</b>', page).group(1))

    before = shown()
    do_generate_due_visits()
    today = timezone.localdate()
    week_end = today + timedelta(days=6 - today.weekday())
    owed = due_visits_visible_to(personas.grid1).filter(state="due")
    this_week = owed.filter(due_date__lte=week_end).count()
    assert owed.count() > before  # the county has key-group residents in grid1's grid
    assert shown() == this_week
