"""Leaderboards and the annual award against a hand-computed ledger."""

from datetime import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from civicgrid.cases.tests.conftest import SHANGHAI
from civicgrid.cogovernance import selectors as S
from civicgrid.cogovernance.actions import (
    do_confirm_award,
    do_exclude_candidate,
    do_propose_award,
    do_suspend_member,
    selected,
)
from civicgrid.cogovernance.models import Award, PointEntry
from civicgrid.regions.models import Region


class Ledger:
    """Entries written straight into the ledger, at chosen times, on a pool of cases."""

    def __init__(self, cg):
        self.cg = cg
        reporter = cg.member(name="报告人")
        self.cases = [cg.report(reporter, text=f"案件{i}") for i in range(6)]
        self.used: dict = {}

    def add(self, member, points, when, event="accepted", reverses=None):
        key = (member.pk, event)
        index = self.used.get(key, 0)
        self.used[key] = index + 1
        moment = datetime(*when, tzinfo=SHANGHAI)
        return PointEntry.objects.create(
            member=member,
            points=points,
            event=event,
            case=reverses.case if reverses else self.cases[index],
            reverses=reverses,
            region_code=member.region_code,
            effective=reverses.effective if reverses else moment,
            created=moment,
        )


@pytest.fixture
def year(cg):
    """2025 for the county; see each member's comment for the hand-computed figures."""
    fengshan = Region.objects.get(code="330281002")
    ledger = Ledger(cg)
    m = {name: cg.member(name=name) for name in ["甲一", "乙二", "丙三", "丁四", "戊五", "己六"]}
    m["庚七"] = cg.member(name="庚七", town=fengshan)
    m["辛八"] = cg.member(name="辛八")
    # 甲一 20 (2 accepted) · 乙二 20 (1 accepted) · 丁四 15 reached 1 Feb · 丙三 15 reached 1 Mar
    # 戊五 12 · 己六 30 in 2024 only · 庚七 (凤山) 25 − 25 = 0 · 辛八 50 but suspended
    ledger.add(m["甲一"], 10, (2025, 1, 5, 9))
    ledger.add(m["甲一"], 10, (2025, 4, 5, 9))
    ledger.add(m["乙二"], 10, (2025, 1, 6, 9))
    ledger.add(m["乙二"], 10, (2025, 1, 7, 9), event="closed")
    ledger.add(m["丙三"], 15, (2025, 3, 1, 9))
    ledger.add(m["丁四"], 15, (2025, 2, 1, 9))
    ledger.add(m["戊五"], 12, (2025, 7, 1, 9))
    ledger.add(m["己六"], 30, (2024, 12, 31, 23))
    award = ledger.add(m["庚七"], 25, (2025, 2, 2, 9))
    ledger.add(m["庚七"], -25, (2025, 6, 1, 9), reverses=award)
    ledger.add(m["庚七"], 4, (2025, 8, 1, 9), event="duplicate")
    ledger.add(m["辛八"], 50, (2025, 5, 1, 9))
    do_suspend_member(m["辛八"], actor=cg.world.p.county, reason="刷分")
    return m


def _board(user, period, year, number=1, area=""):
    start, end = S.period_bounds(period, year, number)
    return [
        (r["member"].name, r["points"], r["accepted"])
        for r in S.leaderboard(user, start=start, end=end, area=area)
    ]


def test_leaderboards_by_period_and_area(cg, year):
    county = cg.world.p.county
    assert _board(county, "year", 2025, area="330281") == [
        ("辛八", 50, 1),
        ("甲一", 20, 2),
        ("乙二", 20, 1),
        ("丁四", 15, 1),
        ("丙三", 15, 1),
        ("戊五", 12, 1),
        ("庚七", 4, 0),
    ]
    assert _board(county, "quarter", 2025, 1) == [
        ("乙二", 20, 1),
        ("丁四", 15, 1),
        ("丙三", 15, 1),
        ("甲一", 10, 1),
    ]
    assert _board(county, "month", 2025, 1) == [("乙二", 20, 1), ("甲一", 10, 1)]
    assert _board(county, "year", 2024) == [("己六", 30, 1)]
    assert _board(county, "year", 2025, area="330281002") == [("庚七", 4, 0)]


def test_leaderboards_are_scoped(cg, year):
    lizhou = [name for name, *_ in _board(cg.world.p.lizhou, "year", 2025)]
    assert "庚七" not in lizhou and "甲一" in lizhou
    assert _board(cg.world.p.grid1, "year", 2025) == []  # members registered at the township
    member_view = [name for name, *_ in _board(year["甲一"].user, "year", 2025)]
    assert "庚七" in member_view  # a member sees the county's board
    assert _board(cg.world.p.outsider, "year", 2025) == []


def test_the_top_list_with_ties_exclusions_replacements_and_confirmation(cg, year):
    county = cg.world.p.county
    with pytest.raises(PermissionDenied):
        do_propose_award(county_code="330281", year=2025, actor=cg.lizhou, size=3)
    award = do_propose_award(county_code="330281", year=2025, actor=county, size=3)
    ranked = list(award.candidates.order_by("rank").values_list("member__name", "points"))
    # 辛八 is suspended; 己六's points are of 2024; 庚七 keeps 4 after the reversal
    assert ranked == [
        ("甲一", 20),
        ("乙二", 20),
        ("丁四", 15),
        ("丙三", 15),
        ("戊五", 12),
        ("庚七", 4),
    ]
    assert [c.member.name for c in selected(award)] == ["甲一", "乙二", "丁四"]
    with pytest.raises(ValidationError):
        do_propose_award(county_code="330281", year=2025, actor=county, size=3)

    second = award.candidates.get(member=year["乙二"])
    with pytest.raises(ValidationError):
        do_exclude_candidate(second, actor=county, reason="")
    do_exclude_candidate(second, actor=county, reason="有虚假上报记录")
    assert [c.member.name for c in selected(award)] == ["甲一", "丁四", "丙三"]
    with pytest.raises(ValidationError):
        do_exclude_candidate(second, actor=county, reason="again")

    do_confirm_award(award, actor=cg.world.p.leader)
    award.refresh_from_db()
    assert award.state == Award.State.CONFIRMED and award.confirmed_by == cg.world.p.leader
    final = [(c.final_rank, c.member.name, c.certificate_number) for c in selected(award)]
    assert final == [(1, "甲一", "2025-001"), (2, "丁四", "2025-002"), (3, "丙三", "2025-003")]
    with pytest.raises(ValidationError):
        do_exclude_candidate(award.candidates.get(member=year["甲一"]), actor=county, reason="x")
    with pytest.raises(ValidationError):
        do_confirm_award(award, actor=county)


def test_a_year_not_begun_cannot_be_proposed(cg):
    with pytest.raises(ValidationError):
        do_propose_award(county_code="330281", year=2100, actor=cg.world.p.county)
