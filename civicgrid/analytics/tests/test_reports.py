"""Daily, weekly and monthly reports: what they count, that they are snapshots, the command,
the analyst's closed loop, the Word and Excel files, and who may see and write them."""

import io
import shutil
import subprocess
from datetime import date, datetime, time, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from civicgrid.analytics import actions as A
from civicgrid.analytics.models import FollowUp, Report, ReportEntry
from civicgrid.cases.models import Case, Category, LeaderInstruction
from civicgrid.core.models import AuditEvent
from civicgrid.people.models import RoleAssignment
from civicgrid.regions.models import Region

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 10, 14)  # a Wednesday
_serial = count(1)


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI)


def make_cases(grid, day, n=1, *, hour=10, category="0101", **fields):
    """``n`` cases reported in ``grid`` on ``day`` (written directly: the reports only read)."""
    rows = []
    for _ in range(n):
        serial = next(_serial)
        values = {
            "code": f"T-{grid.code}-{serial:06d}",
            "state": "in_progress",
            "channel": "resident",
            "category": Category.objects.get(code=category) if category else None,
            "description": "测试",
            "grid": grid,
            "region_code": grid.code,
            "level": "grid",
            "unit_code": grid.code,
            "created": at(day, hour),
        }
        values.update(fields)
        rows.append(Case(**values))
    return Case.objects.bulk_create(rows)


@pytest.fixture
def places(personas):
    class Places:
        grid = RoleAssignment.objects.get(person__user=personas.grid1).grid  # 梨洲
        other = RoleAssignment.objects.get(person__user=personas.grid2).grid  # 凤山
        county = Region.objects.get(level="county")
        lizhou = Region.objects.get(code="330281001")
        fengshan = Region.objects.get(code="330281002")

    return Places


def daily(region, day=DAY, **kw):
    return A.do_generate_report(kind="daily", day=day, region=region, **kw)[0]


# --------------------------------------------------------------------------- daily


def test_the_daily_report_counts_the_day_and_finds_hot_places(places):
    grid = places.grid
    for offset in range(1, 29):  # one report a day for the 28 days before: mean 1
        make_cases(grid, DAY - timedelta(days=offset), state="archived")
    make_cases(grid, DAY, 6, channel="grid_worker")  # 6 ≥ max(3, ceil(1 + 3·1)) = 4: hot
    make_cases(grid, DAY, 2, channel="hotline_12345", category="0103", urgent=True)
    make_cases(places.other, DAY, 2)  # another township: counted by the county only
    red = make_cases(grid, DAY - timedelta(days=3), supervised=Case.Supervised.RED)[0]
    overdue = make_cases(grid, DAY - timedelta(days=5), resolve_deadline=at(DAY, 12))[
        0
    ]  # deadline passed during the day, not closed
    make_cases(
        grid, DAY - timedelta(days=9), state="archived", closed_at=at(DAY, 15)
    )  # closed during the day
    hard = make_cases(grid, DAY - timedelta(days=20), hard_case=True)[0]
    LeaderInstruction.objects.create(
        case=hard,
        signer=RoleAssignment.objects.filter(role="county_leader").first().person.user,
        signer_name="leader",
        text="尽快",
        created=at(DAY - timedelta(days=2)),
    )

    content = daily(places.lizhou).content
    totals = content["totals"]
    assert totals["intake"] == 8 and totals["urgent"] == 2
    assert totals["closed"] == 1 and totals["newly_overdue"] == 1
    assert totals["intake_mean28"] == pytest.approx((28 + 1 + 1 + 1 + 1) / 28, abs=0.05)
    assert {r["key"]: r["count"] for r in content["by_channel"]} == {
        "grid_worker": 6,
        "hotline_12345": 2,
    }
    assert [(r["code"], r["count"]) for r in content["by_category"]] == [("0101", 6), ("0103", 2)]
    hot = {(r["level"], r["code"]): r for r in content["hot_places"]["rows"]}
    assert hot[("grid", grid.code)]["count"] == 8
    assert hot[("grid", grid.code)]["threshold"] == 5  # mean (28+4)/28 ≈ 1.14 → ceil(4.35)
    key = content["key_items"]
    assert [r["code"] for r in key["urgent"]["rows"]] and key["urgent"]["count"] == 2
    assert [r["code"] for r in key["red_card"]["rows"]] == [red.code]
    assert [r["code"] for r in key["hard"]["rows"]] == [hard.code]
    assert [r["code"] for r in key["instructions"]["rows"]] == [hard.code]
    assert [r["code"] for r in key["newly_overdue"]["rows"]] == [overdue.code]

    county = daily(places.county).content
    assert county["totals"]["intake"] == 10


def test_a_report_is_a_snapshot_until_it_is_regenerated(places, personas):
    make_cases(places.grid, DAY, 3)
    report = daily(places.lizhou)
    make_cases(places.grid, DAY, 4)  # late data
    again, created = A.do_generate_report(kind="daily", day=DAY, region=places.lizhou)
    assert not created and again.pk == report.pk and again.content["totals"]["intake"] == 3

    redone, created = A.do_generate_report(
        kind="daily", day=DAY, region=places.lizhou, actor=personas.lizhou, regenerate=True
    )
    assert created and redone.revision == 2 and redone.content["totals"]["intake"] == 7
    entry = ReportEntry.objects.get(report=report, action="regenerate")
    assert entry.data["intake"] == 3 and entry.actor == personas.lizhou
    event = AuditEvent.objects.filter(action="analytics.report_regenerated").latest("id")
    assert event.before["intake"] == 3 and event.after["intake"] == 7

    with pytest.raises(A.ActionRefused):  # 凤山's operator may not write 梨洲's reports
        A.do_generate_report(
            kind="daily", day=DAY, region=places.lizhou, actor=personas.fengshan, regenerate=True
        )
    with pytest.raises(A.ValidationError):  # today is not over
        daily(places.lizhou, day=timezone.localdate())


# --------------------------------------------------------------------------- command


def test_the_command_makes_the_due_reports_once(places, capsys):
    make_cases(places.grid, date(2026, 11, 1), 2)
    towns = Region.objects.filter(level="town").count()
    call_command("reports", date="2026-11-02")  # a Monday, the 2nd: day, week and month due
    out = capsys.readouterr().out
    assert "made" in out
    for kind, start in (
        ("daily", date(2026, 11, 1)),
        ("weekly", date(2026, 10, 26)),
        ("monthly", date(2026, 10, 1)),
    ):
        assert Report.objects.filter(kind=kind, period_start=start).count() == towns + 1
    assert Report.objects.count() == 3 * (towns + 1)
    lizhou_day = Report.objects.get(
        kind="daily", period_start=date(2026, 11, 1), region_code="330281001"
    )
    assert lizhou_day.content["totals"]["intake"] == 2 and lizhou_day.generator == A.COMMAND

    call_command("reports", date="2026-11-02")
    assert "nothing to make" in capsys.readouterr().out
    assert Report.objects.count() == 3 * (towns + 1)

    call_command("reports", date="2026-11-02", backfill_from="2026-10-29", only="daily")
    captured = capsys.readouterr()
    # 10-29, 10-30, 10-31
    assert f"made {3 * (towns + 1)} daily" in captured.out and "/" in captured.err
    assert Report.objects.filter(kind="daily").count() == 4 * (towns + 1)


# --------------------------------------------------------------------------- weekly


def test_weekly_follow_up_items_come_back_closed_or_not(places, personas):
    monday = date(2026, 10, 5)
    closed_case, open_case = make_cases(places.grid, monday, 2, hard_case=True)
    week = A.do_generate_report(kind="weekly", day=monday, region=places.lizhou)[0]
    assert {r["code"] for r in week.content["hard_hot"]["rows"]} == {
        closed_case.code,
        open_case.code,
    }
    lizhou = personas.lizhou
    A.do_mark_follow_up(week, case=closed_case, actor=lizhou)
    A.do_mark_follow_up(week, case=open_case, actor=lizhou)
    topic = A.do_mark_follow_up(week, topic="城区僵尸车集中整治", actor=lizhou)
    with pytest.raises(A.ValidationError):
        A.do_mark_follow_up(week, case=closed_case, actor=lizhou)  # once
    other = make_cases(places.other, monday)[0]
    with pytest.raises(A.ValidationError):
        A.do_mark_follow_up(week, case=other, actor=lizhou)  # not in 梨洲
    with pytest.raises(A.ActionRefused):
        A.do_mark_follow_up(week, topic="x", actor=personas.leader)  # may view, not analyse

    Case.objects.filter(pk=closed_case.pk).update(
        state="archived", closed_at=at(monday + timedelta(days=9))
    )
    A.do_close_follow_up(topic, outcome="已拖移 12 辆", actor=lizhou)
    following = A.do_generate_report(
        kind="weekly", day=monday + timedelta(days=7), region=places.lizhou
    )[0]
    loop = {
        (f["case"] or f["topic"]): f["closed"] for f in following.content["follow_ups_last_week"]
    }
    assert loop == {closed_case.code: True, open_case.code: False, "城区僵尸车集中整治": True}
    assert FollowUp.objects.filter(report=week).count() == 3
    assert list(week.entries.values_list("action", flat=True)) == [
        "follow_up",
        "follow_up",
        "follow_up",
        "follow_up_closed",
    ]
    assert following.content["trend"]["intake"][-2] == 2  # last week in the trend


# --------------------------------------------------------------------------- monthly


def _month_of_cases(places):
    for day in range(1, 29, 3):
        make_cases(places.grid, date(2026, 9, day), 1, category="0101")
        make_cases(places.grid, date(2026, 10, day), 2, category="0101")
        make_cases(places.other, date(2026, 10, day), 1, category="0201")
    make_cases(
        places.grid,
        date(2026, 10, 2),
        3,
        category="0101",
        state="archived",
        closed_at=at(date(2026, 10, 6)),
    )


def test_the_monthly_report_compares_and_analyses_a_theme(places, personas):
    _month_of_cases(places)
    report = A.do_generate_report(kind="monthly", day=date(2026, 10, 1), region=places.county)[0]
    c = report.content
    assert c["totals"]["intake"] == 10 * 2 + 10 + 3 and c["totals"]["intake_last_month"] == 10
    heat = {
        r["code"]: dict(
            zip([col["code"] for col in c["heat"]["columns"]], r["values"], strict=True)
        )
        for r in c["heat"]["rows"]
    }
    assert heat["330281001"]["01"] == 23 and heat["330281002"]["02"] == 10
    codes = {row["code"] for row in c["kpi_table"]}
    assert {"closed_rate", "on_time_rate"} <= codes
    assert c["theme"]["category"]["code"] == "0101" and c["theme"]["suggested"]  # rose most

    A.do_set_theme(report, Category.objects.get(code="0201"), actor=personas.county)
    report.refresh_from_db()
    theme = report.content["theme"]
    assert theme["category"]["code"] == "0201" and not theme["suggested"]
    assert theme["count"] == 10 and theme["count_last_month"] == 0
    assert theme["villages"][0]["code"] == places.other.code[:12]
    assert [p["code"] for p in theme["new_places"]] == [places.other.code[:12]]

    zombie = A.do_set_theme(report, Category.objects.get(code="0101"), actor=personas.county)
    assert zombie.content["theme"]["handling_days"] == 4.0
    assert zombie.content["theme"]["grids"][0] == {
        "code": places.grid.code,
        "name": places.grid.name,
        "count": 23,
    }
    with pytest.raises(A.ActionRefused):
        A.do_set_theme(report, Category.objects.get(code="0101"), actor=personas.lizhou)


def test_the_monthly_word_and_excel_files(places, personas, login, tmp_path):
    import docx
    from openpyxl import load_workbook

    _month_of_cases(places)
    report = A.do_generate_report(kind="monthly", day=date(2026, 10, 1), region=places.county)[0]
    client = login(personas.county)
    client.cookies["django_language"] = "en"
    response = client.get(f"/reports/{report.pk}/download.docx")
    assert response.status_code == 200
    assert response["Content-Type"].endswith("wordprocessingml.document")
    document = docx.Document(io.BytesIO(response.content))
    assert len(document.inline_shapes) >= 3  # the charts
    headers = [[cell.text for cell in t.rows[0].cells] for t in document.tables]
    kpi = document.tables[
        headers.index(["KPI", "this month", "last month", "same month last year", "target"])
    ]
    names = [row.cells[0].text for row in kpi.rows[1:]]
    assert "Closure rate" in names and len(names) >= 10
    assert any("废弃车辆" in p.text for p in document.paragraphs) or any(
        "废弃车辆" in cell.text for t in document.tables for row in t.rows for cell in row.cells
    )

    response = client.get(f"/reports/{report.pk}/download.xlsx")
    book = load_workbook(io.BytesIO(response.content))
    assert len(book.sheetnames) >= 6
    first = book[book.sheetnames[0]]
    assert first["C3"].value == "last month"  # the KPI table's header

    if shutil.which("soffice"):
        path = tmp_path / "report.docx"
        path.write_bytes(client.get(f"/reports/{report.pk}/download.docx").content)
        subprocess.run(
            ["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
            check=True,
            timeout=120,
            capture_output=True,
        )
        assert (tmp_path / "report.pdf").stat().st_size > 10_000


def test_the_charts_render_chinese_with_a_cjk_font(places):
    from civicgrid.analytics import charts

    font = charts.cjk_font()
    if font is None:
        pytest.skip("no CJK font on this machine (install fonts-wqy-microhei)")
    png = charts.png(
        {
            "id": "x",
            "title": "僵尸车",
            "type": "hbar",
            "categories": ["梨洲街道"],
            "series": [{"name": "案件", "data": [3]}],
        }
    )
    assert png.startswith(b"\x89PNG")


# --------------------------------------------------------------------------- pages


def test_who_may_see_the_reports(places, personas, login):
    make_cases(places.grid, DAY, 2)
    lizhou_report = daily(places.lizhou)
    fengshan_report = daily(places.fengshan)
    county_report = daily(places.county)
    for name in ("grid1", "outsider", "police"):
        client = login(getattr(personas, name))
        assert client.get("/reports/").status_code == 403, name
        assert client.get(f"/reports/{lizhou_report.pk}/").status_code == 403, name

    client = login(personas.lizhou)
    page = client.get("/reports/").content.decode()
    assert f"/reports/{lizhou_report.pk}/" in page
    assert (
        f"/reports/{fengshan_report.pk}/" not in page
        and f"/reports/{county_report.pk}/" not in page
    )
    assert client.get(f"/reports/{fengshan_report.pk}/").status_code == 404
    assert client.get(f"/reports/{county_report.pk}/").status_code == 404
    assert client.get(f"/reports/{fengshan_report.pk}/download.docx").status_code == 404
    assert client.post(f"/reports/{fengshan_report.pk}/notes/", {"notes": "x"}).status_code == 404

    leader = login(personas.leader)
    assert leader.get(f"/reports/{fengshan_report.pk}/").status_code == 200
    assert leader.post(f"/reports/{fengshan_report.pk}/notes/", {"notes": "x"}).status_code == 403
    assert login(personas.county).get(f"/reports/{county_report.pk}/").status_code == 200


def test_the_report_pages_in_chinese_and_their_forms(places, personas, login):
    _month_of_cases(places)
    case = make_cases(places.grid, date(2026, 10, 6), hard_case=True)[0]
    monthly = A.do_generate_report(kind="monthly", day=date(2026, 10, 1), region=places.lizhou)[0]
    weekly = A.do_generate_report(kind="weekly", day=date(2026, 10, 5), region=places.lizhou)[0]
    client = login(personas.lizhou)
    page = client.get(f"/reports/{monthly.pk}/").content.decode()
    assert "月专题" in page or "月度专题" in page
    assert 'id="report-charts" type="application/json"' in page and "<script>" not in page
    assert "analytics/report.js" in page
    theme = Category.objects.get(code="0201")
    response = client.post(f"/reports/{monthly.pk}/theme/", {"theme": theme.pk})
    assert response.status_code == 302
    monthly.refresh_from_db()
    assert monthly.theme_category == theme
    client.post(f"/reports/{monthly.pk}/notes/", {"notes": "僵尸车集中在城区"})
    monthly.refresh_from_db()
    assert monthly.notes == "僵尸车集中在城区"
    assert client.post(f"/reports/{monthly.pk}/theme/", {"theme": "nope"}).status_code == 302

    client.post(f"/reports/{weekly.pk}/follow-ups/", {"case": case.code, "topic": ""})
    client.post(f"/reports/{weekly.pk}/follow-ups/", {"case": "NO-SUCH", "topic": ""})
    assert list(FollowUp.objects.filter(report=weekly).values_list("case__code", flat=True)) == [
        case.code
    ]
    page = client.get(f"/reports/{weekly.pk}/").content.decode()
    assert case.code in page

    csv = client.get(f"/reports/{weekly.pk}/tables/hard_hot.csv")
    assert csv.status_code == 200 and case.code in b"".join(csv.streaming_content).decode()
    assert client.get(f"/reports/{weekly.pk}/tables/nope.csv").status_code == 404
    listing = client.get("/reports/export.xlsx")
    assert listing.status_code == 200
    assert client.get("/reports/?month=2026-13").status_code == 200  # a form error, not a 500
    assert client.get("/reports/latest/monthly/").status_code == 302
    before = monthly.revision
    client.post(f"/reports/{monthly.pk}/regenerate/")
    monthly.refresh_from_db()
    assert monthly.revision == before + 1 and monthly.theme_category == theme


def test_the_kpi_totals_summed_from_the_places_equal_a_direct_computation(places, personas):
    """The weekly and monthly reports take the region's KPIs from the per-place rows (one KPI
    query set fewer); they must equal ``kpis.compute`` for the region."""
    from civicgrid.analytics import kpis
    from civicgrid.analytics import reports as R

    _month_of_cases(places)
    make_cases(
        places.grid,
        date(2026, 10, 9),
        2,
        satisfaction="satisfied",
        state="archived",
        accepted_at=at(date(2026, 10, 9), 11),
        closed_at=at(date(2026, 10, 12), 15),
        resolve_deadline=at(date(2026, 10, 11)),
    )
    content = R.build_monthly(places.county, date(2026, 10, 1))
    direct = kpis.compute(*R._bounds(date(2026, 10, 1), date(2026, 10, 31)), region_code="330281")
    for row in content["kpi_table"]:
        value = direct[row["code"]]
        assert row["this"]["numerator"] == value.numerator, row["code"]
        assert row["this"]["denominator"] == value.denominator, row["code"]
        if value.value is not None:
            assert row["this"]["value"] == pytest.approx(value.value, abs=1e-3)


def test_the_demo_year_of_reports(places, monkeypatch):
    """load_demo_analytics over a short span of cases: the county's reports of every day, week
    and month, themes and follow-up items, and a second run makes nothing."""
    from civicgrid.demo import analytics as demo

    monkeypatch.setattr(demo, "TOWN_DAYS", 1)
    monkeypatch.setattr(demo, "TOWN_WEEKS", 0)
    monkeypatch.setattr(demo, "TOWN_MONTHS", 0)
    today = timezone.localdate()
    for offset in range(2, 40, 2):
        make_cases(places.grid, today - timedelta(days=offset), 2, hard_case=offset % 4 == 0)
    lines = []
    summary = demo.generate_demo_analytics(progress=lines.append)
    county = Report.objects.filter(region_code="330281")
    assert county.filter(kind="daily").count() == 37  # from today - 38 to yesterday
    assert county.filter(kind="weekly").exists() and summary.follow_ups >= 2
    assert Report.objects.filter(kind="daily").exclude(region_code="330281").count() == 21
    assert "reports to make" in lines[0]
    with pytest.raises(RuntimeError):
        demo.generate_demo_analytics(progress=None)


def test_the_daily_report_carries_the_early_warning_signals(places, personas, login, monkeypatch):
    from civicgrid.warning import selectors as warning_selectors

    calls = []

    def fake(since, until, region_code=""):
        calls.append((since, until, region_code))
        return [
            {
                "id": 1,
                "category": "废弃车辆（僵尸车）",
                "places": "梨洲街道",
                "period": "2026-10-01–2026-10-14",
                "observed": 9,
                "expected": 2.1,
                "relative_risk": 4.29,
                "recurrence_days": 400,
                "state": "new",
                "url": "/warning/1/",
            }
        ]

    monkeypatch.setattr(warning_selectors, "signals_for_report", fake)
    report = daily(places.lizhou)
    assert calls == [(DAY, DAY, "330281001")]
    assert report.content["signals"][0]["relative_risk"] == 4.29
    page = login(personas.lizhou).get(f"/reports/{report.pk}/").content.decode()
    assert "4.29" in page and "2026-10-01–2026-10-14" in page
