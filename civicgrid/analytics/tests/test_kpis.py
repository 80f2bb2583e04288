"""Every KPI against a fixture counted by hand (March 2026, all times Asia/Shanghai).

梨洲 (330281001), cases reported on Monday 2 March through the real actions:
  C1 resident (phone P)  accepted 09:00 (0101, town: deadline 23 Mar), lead 派出所, signed
                          10:00 (sign-for deadline Tue 17:30), hard case, feedback Tue 10:00,
                          verified Tue 11:00 → closed on time, satisfied.   9.5 working h
  C2 resident            accepted 09:00, lead 派出所, signed Wed 09:00 (late), feedback,
                          verify FAILS Wed 11:00, feedback, verified Thu 09:00 → closed on
                          time, basically satisfied.                          22.5 working h
  C3 resident            accepted, lead 派出所 asks to return (approved), re-dispatched to
                          执法中队, signed at once; still in progress → overdue on 31 Mar
  C4 grid1 (grid level)  accepted 10:00 (3 working days: Thu 5 Mar 17:30), closed on the spot
                          Mon 9 Mar 10:00 → closed late, self-closed.         37.5 working h
  C5 resident            rejected
  C6 resident (phone P)  merged into C3 (its report moves to C3, category 0101): a repeat
  C7 resident            accepted, suspended (缓办)
  C8 resident            accepted, escalated to the county (deadline 30 Mar), hard case,
                          open → overdue on 31 Mar
  C9 resident            still waiting for acceptance
  visits: 甲 seen, 乙 not found (week 2–8 March, both due in March)
  disputes: A agreement, B failed, C still in mediation
凤山 (330281002): a county campaign (1–31 March), targets B1, B2, B3; B1 and B2 found
  hazards (two grid-level cases by grid2); B1's case closed on the spot within the hour.

Counted by hand (numerator / denominator):
                         梨洲     凤山    county   派出所   category 0101
  accept_rate            6/9      1/2     7/11     2/2     7/8
  closed_rate            3/6      1/2     4/8      2/2     4/7
  on_time_rate           2/6      1/2     3/8      2/2     3/7
  overdue_rate           3/6      0/2     3/8      0/2     3/7
  rework_rate            1/3      0/0     1/3      1/3     1/3
  escalation_rate        1/6      0/1     1/7      0/2     1/7
  return_rate            1/4      0/0     1/4      1/3     1/4
  sign_on_time_rate      2/4      0/0     2/4      1/3     2/4
  satisfaction_rate      2/2      0/0     2/2      2/2     2/2
  repeat_rate            1/8      0/0     1/8      0/2     1/6
  duplicate_rate         1/9      0/2     1/11     0/2     0/8
  self_closed_rate       1/3      1/1     2/4      0/2     2/4
  hard_case_closed_rate  1/2      0/0     1/2      1/1     1/2
  mean_handling_hours    69.5/3   1/1     70.5/4   32/2    70.5/4
  visit_completion_rate  1/2      0/0     1/2      n/a     n/a
  campaign_completion    0/0      2/3     2/3      n/a     2/3
  campaign_rectification 0/0      1/2     1/2      0/0     1/2
  mediation_success      1/2      0/0     1/2      0/0     n/a
"""

from datetime import date, datetime

import pytest

from civicgrid.analytics import kpis
from civicgrid.campaigns.tests.conftest import Campaigns
from civicgrid.cases import actions as A
from civicgrid.cases.tests.conftest import SHANGHAI, at, jpeg  # noqa: F401 (fixture)
from civicgrid.inspection.tests.conftest import Inspection
from civicgrid.mediation.tests.conftest import Mediation

SINCE = datetime(2026, 3, 1, tzinfo=SHANGHAI)
UNTIL = datetime(2026, 4, 1, tzinfo=SHANGHAI)
PHONE = "13900001111"

LIZHOU = {
    "accept_rate": (6, 9),
    "closed_rate": (3, 6),
    "on_time_rate": (2, 6),
    "overdue_rate": (3, 6),
    "rework_rate": (1, 3),
    "escalation_rate": (1, 6),
    "return_rate": (1, 4),
    "sign_on_time_rate": (2, 4),
    "satisfaction_rate": (2, 2),
    "repeat_rate": (1, 8),
    "duplicate_rate": (1, 9),
    "self_closed_rate": (1, 3),
    "hard_case_closed_rate": (1, 2),
    "mean_handling_hours": (69.5, 3),
    "visit_completion_rate": (1, 2),
    "campaign_completion_rate": (0, 0),
    "campaign_rectification_rate": (0, 0),
    "mediation_success_rate": (1, 2),
}
FENGSHAN = {
    "accept_rate": (1, 2),
    "closed_rate": (1, 2),
    "on_time_rate": (1, 2),
    "overdue_rate": (0, 2),
    "rework_rate": (0, 0),
    "escalation_rate": (0, 1),
    "return_rate": (0, 0),
    "sign_on_time_rate": (0, 0),
    "satisfaction_rate": (0, 0),
    "repeat_rate": (0, 0),
    "duplicate_rate": (0, 2),
    "self_closed_rate": (1, 1),
    "hard_case_closed_rate": (0, 0),
    "mean_handling_hours": (1, 1),
    "visit_completion_rate": (0, 0),
    "campaign_completion_rate": (2, 3),
    "campaign_rectification_rate": (1, 2),
    "mediation_success_rate": (0, 0),
}
COUNTY = {
    "accept_rate": (7, 11),
    "closed_rate": (4, 8),
    "on_time_rate": (3, 8),
    "overdue_rate": (3, 8),
    "rework_rate": (1, 3),
    "escalation_rate": (1, 7),
    "return_rate": (1, 4),
    "sign_on_time_rate": (2, 4),
    "satisfaction_rate": (2, 2),
    "repeat_rate": (1, 8),
    "duplicate_rate": (1, 11),
    "self_closed_rate": (2, 4),
    "hard_case_closed_rate": (1, 2),
    "mean_handling_hours": (70.5, 4),
    "visit_completion_rate": (1, 2),
    "campaign_completion_rate": (2, 3),
    "campaign_rectification_rate": (1, 2),
    "mediation_success_rate": (1, 2),
}
POLICE = {
    "accept_rate": (2, 2),
    "closed_rate": (2, 2),
    "on_time_rate": (2, 2),
    "overdue_rate": (0, 2),
    "rework_rate": (1, 3),
    "escalation_rate": (0, 2),
    "return_rate": (1, 3),
    "sign_on_time_rate": (1, 3),
    "satisfaction_rate": (2, 2),
    "repeat_rate": (0, 2),
    "duplicate_rate": (0, 2),
    "self_closed_rate": (0, 2),
    "hard_case_closed_rate": (1, 1),
    "mean_handling_hours": (32, 2),
    "visit_completion_rate": (0, 0),
    "campaign_completion_rate": (0, 0),
    "campaign_rectification_rate": (0, 0),
    "mediation_success_rate": (0, 0),
}
CATEGORY_0101 = {
    "accept_rate": (7, 8),
    "closed_rate": (4, 7),
    "on_time_rate": (3, 7),
    "overdue_rate": (3, 7),
    "rework_rate": (1, 3),
    "escalation_rate": (1, 7),
    "return_rate": (1, 4),
    "sign_on_time_rate": (2, 4),
    "satisfaction_rate": (2, 2),
    "repeat_rate": (1, 6),
    "duplicate_rate": (0, 8),
    "self_closed_rate": (2, 4),
    "hard_case_closed_rate": (1, 2),
    "mean_handling_hours": (70.5, 4),
    "visit_completion_rate": (0, 0),
    "campaign_completion_rate": (2, 3),
    "campaign_rectification_rate": (1, 2),
    "mediation_success_rate": (0, 0),
}


class KpiWorld(Mediation, Campaigns, Inspection):
    """Cases, visits, a campaign and disputes on the session's demo county."""


def _resident(world, clock, hour, minute=0, *, phone=""):
    clock(2026, 3, 2, hour, minute)
    lat, lng = world.point()
    return A.do_report_case(
        actor=None,
        channel="resident",
        description="市民反映",
        lat=lat,
        lng=lng,
        reporter_phone=phone,
    )


def _build(world, clock):
    p = world.p
    lizhou, police, law = p.lizhou, world.town_police_user(), world.town_law_user()
    cat = world.category
    c1 = _resident(world, clock, 8, 40, phone=PHONE)
    c2, c3, c5 = (_resident(world, clock, 8, 45) for _ in range(3))
    c6 = _resident(world, clock, 8, 55, phone=PHONE)
    c7, c8, _c9 = (_resident(world, clock, 8, 58) for _ in range(3))
    clock(2026, 3, 2, 8, 59)
    lat, lng = world.point()
    c4 = A.do_report_case(
        actor=p.grid1, channel="grid_worker", description="僵尸车", category=cat, lat=lat, lng=lng
    )
    clock(2026, 3, 2, 9)
    for case in (c1, c2, c3, c7, c8):
        A.do_accept_case(case, actor=lizhou, category=cat)
    for case in (c1, c2, c3):
        A.do_dispatch_case(case, actor=lizhou, lead=world.town_police)
    A.do_reject_case(c5, actor=lizhou, reason="无效")
    A.do_merge_case(c6, into=c3, actor=lizhou)
    A.do_suspend_case(c7, actor=lizhou, reason="等待法院判决")
    clock(2026, 3, 2, 9, 30)
    A.do_escalate_case(c8, actor=lizhou, reason="跨部门")
    A.do_mark_hard_case(c8, actor=p.leader, leader=p.leader)
    A.do_request_return(c3, actor=police, reason="not_our_duty")
    A.do_decide_return(c3, actor=lizhou, approve=True)
    A.do_dispatch_case(c3, actor=lizhou, lead=world.town_law)
    A.do_sign_case(c3, actor=law)
    clock(2026, 3, 2, 10)
    A.do_sign_case(c1, actor=police)
    A.do_mark_hard_case(c1, actor=p.leader, leader=p.leader)
    A.do_accept_case(c4, actor=p.grid1)
    clock(2026, 3, 3, 10)
    A.do_feedback_case(c1, actor=police, text="已拖移")
    clock(2026, 3, 3, 11)
    A.do_verify_case(c1, actor=lizhou, passed=True)
    A.do_evaluate_case(c1, actor=lizhou, satisfaction="satisfied")
    clock(2026, 3, 4, 9)
    A.do_sign_case(c2, actor=police)
    clock(2026, 3, 4, 10)
    A.do_feedback_case(c2, actor=police, text="已处理")
    clock(2026, 3, 4, 11)
    A.do_verify_case(c2, actor=lizhou, passed=False, text="车还在")
    clock(2026, 3, 4, 14)
    A.do_feedback_case(c2, actor=police, text="已拖移")
    clock(2026, 3, 5, 9)
    A.do_verify_case(c2, actor=lizhou, passed=True)
    A.do_evaluate_case(c2, actor=lizhou, satisfaction="basically_satisfied")
    clock(2026, 3, 9, 10)
    A.do_self_close_case(
        c4, actor=p.grid1, text="已拖移", before_photos=[jpeg()], after_photos=[jpeg("green")]
    )


def _visits(world, clock):
    from civicgrid.inspection.actions import do_generate_due_visits, do_record_visit

    jia, yi = world.resident("甲"), world.resident("乙")
    do_generate_due_visits(now=clock(2026, 3, 2, 8))
    clock(2026, 3, 6, 16)
    for person, outcome in [(jia, "seen"), (yi, "not_found")]:
        do_record_visit(
            person,
            actor=world.p.grid1,
            outcome=outcome,
            visited_at=datetime(2026, 3, 6, 15, tzinfo=SHANGHAI),
        )


def _campaign(world, clock):
    from civicgrid.campaigns.actions import do_record_check

    clock(2026, 3, 1, 9)
    campaign = world.campaign(
        codes=[world.other_grid.code[:9]], start=date(2026, 3, 1), end=date(2026, 3, 31)
    )
    b1, b2, _b3 = (
        world.target(campaign, grid=world.other_grid, label=label) for label in ("B1", "B2", "B3")
    )
    clock(2026, 3, 3, 10)
    check = do_record_check(b1, actor=world.p.grid2, hazard=True, description="报废三轮车")
    do_record_check(b2, actor=world.p.grid2, hazard=True, description="僵尸车")
    case = A.do_accept_case(check.case, actor=world.p.grid2)
    clock(2026, 3, 3, 11)
    A.do_self_close_case(
        case, actor=world.p.grid2, text="已拖移", before_photos=[jpeg()], after_photos=[jpeg()]
    )


def _disputes(world, clock):
    from civicgrid.mediation.actions import (
        do_conclude_dispute,
        do_record_session,
        do_route_dispute,
    )

    clock(2026, 3, 2, 9)
    for title, outcome in [("A", "agreement"), ("B", "failed"), ("C", "")]:
        dispute = world.register(title=title)
        do_route_dispute(dispute, actor=world.centre_user, route="studio", org=world.studio)
        do_record_session(
            dispute,
            actor=world.mediator_user,
            held_at=datetime(2026, 3, 2, 9, tzinfo=SHANGHAI),
            place="调解室",
        )
        if outcome:
            do_conclude_dispute(dispute, actor=world.mediator_user, outcome=outcome, terms=["赔偿"])


@pytest.fixture
def kpi_world(personas, at):  # noqa: F811
    world = KpiWorld(personas)
    _build(world, at)
    _visits(world, at)
    _campaign(world, at)
    _disputes(world, at)
    at(2026, 3, 31, 10)  # "now" for the overdue counts
    return world


def _check(values: dict, expected: dict):
    assert list(values) == list(kpis.KPIS)
    found = {code: (v.numerator, v.denominator) for code, v in values.items()}
    assert found == {code: pytest.approx(pair) for code, pair in expected.items()}
    for code, (num, den) in expected.items():
        value = values[code].value
        if den == 0:
            assert value is None, code
        else:
            assert value == pytest.approx(kpis.KPIS[code].scale * num / den), code


def test_the_township_the_county_and_another_township(kpi_world):
    _check(kpis.compute(SINCE, UNTIL, region_code="330281001"), LIZHOU)
    _check(kpis.compute(SINCE, UNTIL, region_code="330281002"), FENGSHAN)
    _check(kpis.compute(SINCE, UNTIL, region_code="330281"), COUNTY)
    _check(kpis.compute(SINCE, UNTIL), COUNTY)
    empty = kpis.compute(SINCE, UNTIL, region_code="330281003")
    assert all(v.value is None and v.denominator == 0 for v in empty.values())


def test_a_department_by_object_or_code(kpi_world):
    _check(kpis.compute(SINCE, UNTIL, department=kpi_world.town_police), POLICE)
    _check(kpis.compute(SINCE, UNTIL, department=kpi_world.town_police.code), POLICE)
    unknown = kpis.compute(SINCE, UNTIL, department="no-such-department")
    assert all(v.denominator == 0 for v in unknown.values())


def test_grouped_by_town_department_and_category(kpi_world):
    towns = {row["key"]: row for row in kpis.compute_by("town", SINCE, UNTIL)}
    assert set(towns) == {"330281001", "330281002"}
    assert towns["330281001"]["name"] == "梨洲街道"
    _check({c: towns["330281001"][c] for c in kpis.KPIS}, LIZHOU)
    _check({c: towns["330281002"][c] for c in kpis.KPIS}, FENGSHAN)
    departments = {row["key"]: row for row in kpis.compute_by("department", SINCE, UNTIL)}
    assert set(departments) == {kpi_world.town_police.code, kpi_world.town_law.code}
    police = departments[kpi_world.town_police.code]
    assert police["name"] == kpi_world.town_police.name
    # the department grouping counts cases by their active lead, as compute(department=) does
    for code in ("closed_rate", "on_time_rate", "return_rate", "rework_rate"):
        assert police[code] == kpis.compute(SINCE, UNTIL, department=kpi_world.town_police)[code]
    categories = {row["key"]: row for row in kpis.compute_by("category", SINCE, UNTIL)}
    assert set(categories) == {"0101", ""}
    _check({c: categories["0101"][c] for c in kpis.KPIS}, CATEGORY_0101)
    assert categories["0101"]["name"] == kpi_world.category.name
    villages = kpis.compute_by("village", SINCE, UNTIL, codes=["closed_rate"])
    assert {row["key"][:9] for row in villages} == {"330281001", "330281002"}
    assert sum(row["closed_rate"].denominator for row in villages) == 8


def test_the_cohort_is_the_period(kpi_world):
    before = kpis.compute(datetime(2026, 2, 1, tzinfo=SHANGHAI), SINCE)
    assert all(v.denominator == 0 for v in before.values())


def test_a_user_sees_only_their_scope(kpi_world):
    # the township operator asking for the whole county gets 梨洲's figures
    _check(kpis.compute(SINCE, UNTIL, user=kpi_world.p.lizhou), LIZHOU)
    assert kpis.compute(SINCE, UNTIL, user=kpi_world.p.fengshan)["closed_rate"].denominator == 2
    outsider = kpis.compute(SINCE, UNTIL, user=kpi_world.p.outsider)
    assert all(v.denominator == 0 for v in outsider.values())


def test_mean_hours_match_the_calendar_case_by_case(kpi_world):
    from civicgrid.cases.models import Case
    from civicgrid.core.calendar import default_calendar

    calendar = default_calendar()
    closed = Case.objects.filter(closed_at__isnull=False, accepted_at__isnull=False).exclude(
        state__in=["rejected", "merged"]
    )
    by_hand = sum(calendar.working_hours_between(c.accepted_at, c.closed_at) for c in closed)
    assert by_hand == pytest.approx(70.5)
    assert kpis.compute(SINCE, UNTIL)["mean_handling_hours"].numerator == pytest.approx(by_hand)


def test_a_fixed_number_of_queries(kpi_world, django_assert_max_num_queries):
    user = kpi_world.p.county
    with django_assert_max_num_queries(11):
        kpis.compute(SINCE, UNTIL, user=user, department=kpi_world.town_police.code)
    with django_assert_max_num_queries(11):
        kpis.compute_by("department", SINCE, UNTIL, user=user)
    with django_assert_max_num_queries(1):
        kpis.compute(SINCE, UNTIL, codes=["closed_rate", "on_time_rate"])


def test_targets_default_and_overridden(personas):
    from civicgrid.analytics.models import KpiTarget

    defaults = kpis.targets()
    assert defaults["on_time_rate"] == 70.0 and defaults["closed_rate"] == 90.0
    assert "accept_rate" not in defaults  # monitoring only
    KpiTarget.objects.create(kpi="on_time_rate", region_code="", year=2026, target=95)
    KpiTarget.objects.create(kpi="on_time_rate", region_code="330281001", year=2026, target=98)
    KpiTarget.objects.create(kpi="closed_rate", region_code="330281002", year=2026, target=99)
    assert kpis.targets("330281001", 2026)["on_time_rate"] == 98
    assert kpis.targets("330281001001", 2026)["on_time_rate"] == 98
    assert kpis.targets("330281003", 2026)["on_time_rate"] == 95
    assert kpis.targets("330281001", 2026)["closed_rate"] == 90.0
    assert kpis.targets("330281001", 2025)["on_time_rate"] == 70.0


def test_met_follows_the_direction():
    assert kpis.is_met("on_time_rate", 96, 95) is True
    assert kpis.is_met("overdue_rate", 6, 5) is False
    assert kpis.is_met("mean_handling_hours", 30, 37.5) is True
    assert kpis.is_met("on_time_rate", None, 95) is None


def test_every_kpi_is_documented():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "kpis.md").read_text(encoding="utf-8")
    for code, kpi in kpis.KPIS.items():
        assert f"`{code}`" in text and kpi.name_zh in text, code
        assert kpi.unit in {"%", "h"} and kpi.direction in {"higher", "lower"}
