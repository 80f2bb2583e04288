"""Grid-worker appraisal against a hand-computed fixture (May 2025, default weights)."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from civicgrid.cases import actions as CA
from civicgrid.core.errors import ActionRefused
from civicgrid.incentives import actions as A
from civicgrid.incentives import appraisal
from civicgrid.inspection.models import DueVisit, Visit, VisitRule
from civicgrid.people.models import Person

from .conftest import SHANGHAI, jpeg


def _report(world, worker, grid, text):
    lat, lng = world.point(grid)
    return CA.do_report_case(
        actor=worker,
        channel="grid_worker",
        category=world.category,
        description=text,
        lat=lat,
        lng=lng,
    )


@pytest.fixture
def may(rewards, world, at):
    """Worker A (in grid1's grid) and worker B (in grid2's grid) during May 2025.

    A: three reports — one accepted, closed on the spot, evaluated satisfied and rewarded;
    one accepted and left open past its deadline; one rejected — and two visits, one on time.
    B: one report, accepted and left open past its deadline.
    """
    a = world.staff("grid_worker", username="gw-a", grid=world.grid)
    b = world.staff("grid_worker", username="gw-b", grid=world.other_grid)
    A.do_set_town_budget(town_code="330281001", year=2025, amount=9000, actor=rewards.p.county)
    at(2025, 5, 6, 9)
    first = CA.do_accept_case(_report(world, a, world.grid, "楼道堆放液化气罐"), actor=a)
    first = CA.do_self_close_case(
        first, actor=a, text="已清理", before_photos=[jpeg()], after_photos=[jpeg("green")]
    )
    first = CA.do_evaluate_case(first, actor=a, satisfaction="satisfied")
    CA.do_accept_case(_report(world, a, world.grid, "路灯损坏"), actor=a)
    CA.do_reject_case(_report(world, a, world.grid, "重复上报"), actor=a, reason="不属实")
    CA.do_accept_case(_report(world, b, world.other_grid, "井盖缺失"), actor=b)
    at(2025, 5, 12, 10)
    n = A.do_nominate_case(
        first, tier=rewards.tier("hazard"), amount=400, evidence="消除火灾隐患", actor=a
    )
    n = A.do_review_nomination(n, actor=rewards.p.lizhou)
    A.do_approve_nomination(n, actor=rewards.p.county)
    rule = VisitRule.objects.order_by("id").first()
    person = Person.objects.filter(region_code__startswith="330281001").order_by("id").first()
    for day, due, visited in [(1, 15, 14), (2, 20, 22)]:  # on time, then late
        due_visit = DueVisit.objects.create(
            person=person,
            rule=rule,
            cadence=f"test{day}",
            period_start=date(2025, 5, day),
            period_end=date(2025, 5, 31),
            due_date=date(2025, 5, due),
            region_code=person.region_code,
            assignee=a,
            state="done",
        )
        Visit.objects.create(
            worker=a,
            person=person,
            due_visit=due_visit,
            visited_at=datetime(2025, 5, visited, 23, 30, tzinfo=SHANGHAI),
            outcome="seen",
            region_code=person.region_code,
        )
    at(2025, 6, 20, 10)
    return a, b


def _by_user(rows):
    return {row.user_id: row for row in rows}


def test_scores_match_the_hand_computation(may, world):
    a, b = may
    start, end = appraisal.period_bounds(2025, 5)
    rows = _by_user(appraisal.scores(appraisal.workers_visible_to(world.p.county), start, end))
    assert rows[a.pk].counts == {
        "valid_reports": 2,
        "high_value": 1,
        "visits_on_time": 1,
        "self_closed": 1,
        "satisfied": 1,
        "overdue": 1,
    }
    # 2×1 + 1×10 + 1×0.5 + 1×2 + 1×0.5 + 1×(−3) = 12
    assert rows[a.pk].score == Decimal("12")
    assert rows[b.pk].score == Decimal("1") - Decimal("3")
    assert rows[world.p.grid1.pk].score == Decimal("-3")  # the same grid's overdue case
    assert rows[a.pk].rank == 1
    # June: nothing was reported, rewarded or visited.
    june = _by_user(
        appraisal.scores(
            appraisal.workers_visible_to(world.p.county), *appraisal.period_bounds(2025, 6)
        )
    )
    assert june[a.pk].score == 0
    year = _by_user(
        appraisal.scores(
            appraisal.workers_visible_to(world.p.county), *appraisal.period_bounds(2025)
        )
    )
    assert year[a.pk].score == Decimal("12")


def test_league_tables_by_township_and_village(may, world):
    rows = appraisal.scores(
        appraisal.workers_visible_to(world.p.county), *appraisal.period_bounds(2025, 5)
    )
    # Every other worker of A's grid carries its overdue case (−3); everyone else scores 0.
    mates = sum(1 for r in rows if r.grid_code == world.grid.code) - 1
    others = sum(1 for r in rows if r.grid_code == world.other_grid.code) - 1
    towns = {row["code"]: row for row in appraisal.league(rows, "town")}
    assert towns["330281001"]["total"] == Decimal(12 - 3 * mates)
    assert towns["330281002"]["total"] == Decimal(-2 - 3 * others)
    in_town = sum(1 for r in rows if r.town_code == "330281001")
    assert towns["330281001"]["workers"] == in_town
    assert towns["330281001"]["mean"] == (Decimal(12 - 3 * mates) / in_town).quantize(
        Decimal("0.01")
    )
    villages = {row["code"]: row for row in appraisal.league(rows, "village")}
    assert villages[world.grid.code[:12]]["total"] == Decimal(12 - 3 * mates)


def test_weights_are_configurable(may, world):
    a, _b = may
    with pytest.raises(ActionRefused):
        A.do_set_indicator_weight("high_value", weight=20, actor=world.p.lizhou)
    A.do_set_indicator_weight("high_value", weight=20, actor=world.p.county)
    A.do_set_indicator_weight("overdue", weight=-3, active=False, actor=world.p.county)
    rows = _by_user(
        appraisal.scores(
            appraisal.workers_visible_to(world.p.county), *appraisal.period_bounds(2025, 5)
        )
    )
    assert rows[a.pk].score == Decimal("25") and "overdue" not in rows[a.pk].counts


def test_the_worker_sees_their_own_and_leaders_their_people(may, world):
    a, b = may
    p = world.p
    assert list(appraisal.workers_visible_to(a).values_list("person__user_id", flat=True)) == [a.pk]
    lizhou = set(appraisal.workers_visible_to(p.lizhou).values_list("person__user_id", flat=True))
    assert a.pk in lizhou and b.pk not in lizhou
    assert appraisal.may_see_worker(a, a.pk) and not appraisal.may_see_worker(a, b.pk)
    assert appraisal.may_see_worker(p.lizhou, a.pk) and not appraisal.may_see_worker(p.lizhou, b.pk)
    assert not appraisal.workers_visible_to(p.outsider).exists()
