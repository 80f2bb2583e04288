"""League tables: the formulas on a known set of cases, the page and its exports."""

import io
from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from civicgrid.cases import actions as A
from civicgrid.cases.selectors import league_tables


def _closed_case(world, *, satisfied: bool):
    lat, lng = world.point()
    lizhou, police = world.p.lizhou, world.town_police_user()
    case = A.do_report_case(actor=None, channel="resident", description="x", lat=lat, lng=lng)
    case = A.do_accept_case(case, actor=lizhou, category=world.category)
    case = A.do_dispatch_case(case, actor=lizhou, lead=world.town_police)
    case = A.do_sign_case(case, actor=police)
    case = A.do_feedback_case(case, actor=police, text="已处理")
    case = A.do_verify_case(case, actor=lizhou, passed=True)
    return A.do_evaluate_case(
        case, actor=lizhou, satisfaction="satisfied" if satisfied else "basically_satisfied"
    )


def test_the_league_tables_follow_the_formulas(personas, world):
    _closed_case(world, satisfied=True)
    _closed_case(world, satisfied=False)
    lat, lng = world.point()
    A.do_report_case(actor=None, channel="resident", description="y", lat=lat, lng=lng)
    now = timezone.now()
    tables = league_tables(personas.county, now - timedelta(days=1), now + timedelta(days=1))
    [town] = tables["towns"]
    assert town["code"] == "330281001" and town["cases"] == 3 and town["closed"] == 2
    assert town["closed_rate"] == 66.7 and town["on_time_rate"] == 66.7
    assert town["satisfaction_rate"] == 100.0
    [police] = tables["departments"]
    assert police["code"] == world.town_police.code and police["dispatched"] == 2
    assert police["sign_rate"] == 100.0 and police["on_time_rate"] == 100.0
    assert league_tables(personas.fengshan, now - timedelta(days=1), now)["towns"] == []


def test_the_league_page_and_its_export(personas, world):
    _closed_case(world, satisfied=True)
    client = Client()
    client.force_login(personas.county)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("league")).content.decode()
    assert "League tables" in page and world.town_police.name in page
    bad = client.get(reverse("league"), {"start": "2026-13-01"})
    assert bad.status_code == 200 and "not understood" in bad.content.decode()
    response = client.get(reverse("league_export", args=["departments", "xlsx"]))
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][0] == "Department" and rows[1][0] == world.town_police.name
    assert client.get(reverse("league_export", args=["people", "csv"])).status_code == 404
