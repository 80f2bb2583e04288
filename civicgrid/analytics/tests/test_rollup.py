"""The province KPI table from the daily rollup equals the direct computation (``kpis``).

Cases made through the real actions (the fixture of ``test_kpis``: March 2026, two townships
of the demo county); the rollup is refreshed as ``tick`` would, then cases change after their
day, and the table must follow on the next refresh — and only then.
"""

from datetime import date

import pytest

from civicgrid.analytics import kpis, rollup
from civicgrid.analytics.models import (
    CaseDayRollup,
    DepartmentDayRollup,
    EventDayRollup,
    PlaceDayRollup,
)
from civicgrid.analytics.tests.test_kpis import KpiWorld, _build
from civicgrid.cases import actions as A
from civicgrid.cases.models import Case
from civicgrid.cases.tests.conftest import at  # noqa: F401 (fixture)

MARCH = (date(2026, 3, 1), date(2026, 3, 31))


def _figures(rows) -> dict:
    return {
        # (the working hours are sums of floats: equal to the 9th decimal)
        (row["key"], code): (round(row[code].numerator, 9), row[code].denominator)
        for row in rows
        for code in rollup.ROLLUP_KPIS
    }


def _tables() -> dict:
    """Every row of the four summary tables (hours to the 9th decimal)."""
    tables = {
        CaseDayRollup: ("day", "town_code", *rollup.ROLLUP_COUNTERS),
        DepartmentDayRollup: ("day", "town_code", "department_code", *rollup.UNIT_COUNTERS),
        PlaceDayRollup: ("day", "village_code", *rollup.PLACE_COUNTERS),
        EventDayRollup: ("day", "town_code", *rollup.EVENT_COUNTERS),
    }
    return {
        model.__name__: sorted(
            tuple(round(v, 9) if isinstance(v, float) else v for v in row)
            for row in model.objects.values_list(*fields)
        )
        for model, fields in tables.items()
    }


def _same(start, end, **kw):
    got = _figures(rollup.province_kpis(start, end, **kw))
    expected = _figures(rollup.province_kpis_direct(start, end, **kw))
    return got, expected


@pytest.fixture
def cases_world(personas, at):  # noqa: F811
    world = KpiWorld(personas)
    _build(world, at)
    at(2026, 3, 31, 10)
    return world


def test_the_rollup_covers_the_case_kpis():
    assert set(rollup.ROLLUP_KPIS) == {
        "accept_rate",
        "closed_rate",
        "on_time_rate",
        "overdue_rate",
        "rework_rate",
        "escalation_rate",
        "return_rate",
        "sign_on_time_rate",
        "satisfaction_rate",
        "repeat_rate",
        "duplicate_rate",
        "self_closed_rate",
        "hard_case_closed_rate",
        "mean_handling_hours",
    }
    # every case KPI: the cockpit computes none from the cases where the summary answers
    assert set(rollup.ROLLUP_KPIS) == {c for c, k in kpis.KPIS.items() if k.source == "cases"}


def test_the_rollup_table_equals_the_direct_computation(cases_world, at):  # noqa: F811
    assert rollup.available()
    assert rollup.refresh() == {"days": -1, "rows": CaseDayRollup.objects.count()}
    for level in ("county", "town"):
        got, expected = _same(*MARCH, level=level)
        assert got == expected and got, level
    got, _expected = _same(*MARCH)
    assert got[("330281", "accept_rate")] == (6, 9)  # as counted by hand in test_kpis
    assert got[("330281", "overdue_rate")] == (3, 6)  # C3 and C8 open past due, C4 late
    # the counters added for the cockpit (session 19), by hand in test_kpis too
    assert got[("330281", "rework_rate")] == (1, 3)  # C2's failed verification
    assert got[("330281", "return_rate")] == (1, 4)  # C3's return
    assert got[("330281", "sign_on_time_rate")] == (2, 4)  # C1, C3 at 执法中队
    assert got[("330281", "repeat_rate")] == (1, 8)  # C6's report by phone P
    assert got[("330281", "mean_handling_hours")] == (69.5, 3)  # C1 9.5 + C2 22.5 + C4 37.5
    # a narrower area and a period without cases
    got, expected = _same(*MARCH, region_code="330281001", level="town")
    assert got == expected and {key for key, _code in got} == {"330281001"}
    assert _same(*MARCH, region_code="330281002", level="town") == ({}, {})
    assert _same(date(2026, 2, 1), date(2026, 2, 28)) == ({}, {})


def test_a_deadline_passing_is_followed_on_refresh(cases_world, at):  # noqa: F811
    at(2026, 3, 9, 12)  # after the fixture's last step (C4 closed on 9 March, 10:00)
    rollup.refresh(full=True)
    got, expected = _same(*MARCH)
    assert got == expected and got[("330281", "overdue_rate")] == (1, 6)  # C4 closed late
    # C3's and C8's deadlines pass: the table says what it said until the next refresh …
    at(2026, 3, 31, 10)
    got, expected = _same(*MARCH)
    assert got[("330281", "overdue_rate")] == (1, 6)
    assert expected[("330281", "overdue_rate")] == (3, 6)
    # … which adds them to the overdue counters of their day (2 March) and agrees again
    result = rollup.refresh()
    assert (result["days"], result["updated"]) == (0, 1)
    got, expected = _same(*MARCH)
    assert got == expected and got[("330281", "overdue_rate")] == (3, 6)
    # every table as a rebuild computes it (the villages' and departments' rows too)
    before = _tables()
    rollup.refresh(full=True)
    assert _tables() == before


def test_a_case_changing_after_its_day_is_followed_on_refresh(cases_world, at):  # noqa: F811
    rollup.refresh()
    waiting = Case.objects.get(state="reported")  # C9, reported on 2 March
    at(2026, 4, 2, 9)
    A.do_reject_case(waiting, actor=cases_world.p.lizhou, reason="无效")
    lat, lng = cases_world.point()
    A.do_report_case(actor=None, channel="resident", description="新的", lat=lat, lng=lng)
    # before the refresh the table still says what it said (it reads the rollup) …
    got, expected = _same(*MARCH)
    assert got != expected
    assert got[("330281", "closed_rate")][1] == 6 and expected[("330281", "closed_rate")][1] == 5
    # … and the refresh recomputes the two days touched: 2 March and 2 April
    assert rollup.refresh()["days"] == 2
    got, expected = _same(*MARCH)
    assert got == expected
    april = _same(date(2026, 4, 1), date(2026, 4, 30))
    assert april[0] == april[1] and april[0][("330281", "accept_rate")] == (0, 1)
    # the next refresh reads the steps since MARGIN before the last one began again (a late
    # commit is not lost) …
    at(2026, 4, 2, 10)
    assert rollup.refresh()["days"] == 2
    # … and the one after that finds nothing changed; a full rebuild agrees
    at(2026, 4, 2, 11)
    assert rollup.refresh()["days"] == 0
    before = _tables()
    rollup.refresh(full=True)
    assert _tables() == before


def test_reading_the_table_takes_a_fixed_number_of_queries(
    cases_world,
    django_assert_num_queries,  # noqa: ARG001
):
    rollup.refresh()
    with django_assert_num_queries(3):  # the two tables' sums, the counties' names
        rollup.province_kpis(*MARCH)


def test_the_command(cases_world):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("rollup", stdout=out)
    assert "all days recomputed" in out.getvalue()
    assert CaseDayRollup.objects.filter(town_code="330281001").exists()
    call_command("rollup", "--full", stdout=out)
    assert out.getvalue().count("all days recomputed") == 2


def test_tick_keeps_the_table_up_to_date(cases_world, at):  # noqa: F811
    from civicgrid.cases.management.commands.tick import tick

    assert tick()["summary_days"] == -1  # the first tick builds it whole
    waiting = Case.objects.get(state="reported")
    at(2026, 4, 2, 9)
    A.do_reject_case(waiting, actor=cases_world.p.lizhou, reason="无效")
    assert tick()["summary_days"] >= 1
    got, expected = _same(*MARCH)
    assert got == expected


def test_a_report_reclassified_is_followed_in_the_later_reports(cases_world, at):  # noqa: F811
    """A report's repeat flag looks back 30 days at the same phone's reports: reclassifying
    an earlier case changes a later day's figure, which the refresh must recompute too."""
    from civicgrid.cases.models import Category

    category = cases_world.category
    other = Category.objects.filter(parent__isnull=False).exclude(pk=category.pk).first()
    phone = "13900002222"

    def report(day):
        at(2026, 3, day, 9)
        lat, lng = cases_world.point()
        return A.do_report_case(
            actor=None,
            channel="resident",
            description="又是这辆车",
            lat=lat,
            lng=lng,
            reporter_phone=phone,
            category=category,
        )

    first = report(3)
    report(10)  # a repeat of the first (same phone, same category, 7 days later)
    at(2026, 3, 31, 10)
    rollup.refresh()
    got, expected = _same(*MARCH)
    assert got == expected and got[("330281", "repeat_rate")] == (2, 10)
    at(2026, 4, 2, 9)
    A.do_classify_case(first, actor=cases_world.p.lizhou, category=other)
    assert _same(*MARCH)[0] != _same(*MARCH)[1]  # the summary waits for its refresh …
    rollup.refresh()  # … which recomputes 10 March as well as 3 March
    got, expected = _same(*MARCH)
    assert got == expected and got[("330281", "repeat_rate")] == (1, 10)
    before = _tables()
    rollup.refresh(full=True)
    assert _tables() == before


def test_a_reopened_case_leaves_its_closing_day(cases_world, at):  # noqa: F811
    """Closures are counted by the day closed: reopening a case clears ``closed_at``, and the
    refresh finds the day it was closed from its timeline."""
    from civicgrid.analytics import cockpit

    rollup.refresh()
    grid_case = Case.objects.get(level="grid", state="closed")  # C4, closed on 9 March
    assert grid_case.closed_at is not None
    county = cockpit.access_place(cases_world.p.leader, "330281")
    march = (date(2026, 3, 1), date(2026, 3, 31))
    closed = rollup.closures_by_day(*march, "330281")
    assert closed[date(2026, 3, 9)] == 1
    at(2026, 4, 2, 9)
    A.do_evaluate_case(grid_case, actor=cases_world.p.grid1, satisfaction="unsatisfied")
    assert Case.objects.get(pk=grid_case.pk).closed_at is None
    assert rollup.closures_by_day(*march, "330281") == closed  # until the refresh
    rollup.refresh()
    assert date(2026, 3, 9) not in rollup.closures_by_day(*march, "330281")
    assert cockpit.trends(county) == cockpit.trends(county, mark=None)  # = from the cases
    before = _tables()
    rollup.refresh(full=True)
    assert _tables() == before
