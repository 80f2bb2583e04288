"""Summons statistics against a hand-computed fixture, and who sees which figures."""

from datetime import date

import pytest

from civicgrid.oncall import actions as A
from civicgrid.oncall.selectors import percentile, summons_statistics

JUNE = dict(start=date(2026, 6, 1), end=date(2026, 6, 30))


def test_percentile_is_nearest_rank():
    assert percentile([], 0.9) is None
    assert percentile([5], 0.9) == 5
    assert percentile(list(range(10, 0, -1)), 0.9) == 9  # 1…10: the 9th smallest
    assert percentile([2, 10], 0.9) == 10 and percentile([2, 10, 30], 0.5) == 10


@pytest.fixture
def june(oncall, world, at):
    """Six summonses; five sent in June (minutes from sending in brackets):

    S1 police A  06-01 09:00  accepted (2)  arrived (20)  done
    S2 police A  06-02 10:00  declined
    S3 police B  06-02 10:06  accepted (10) arrived (40)      (the next person after S2)
    S4 law C     06-01 09:00  accepted (30)  cancelled
    S5 police B  06-03 08:00  no answer yet
    S6 police A  07-15 09:00  accepted (outside June)
    """
    at(2026, 5, 31, 8)
    a, b = oncall.staff("oc-a"), oncall.staff("oc-b")
    c = oncall.staff("oc-c", department=world.town_law)
    pa, pb = oncall.post(a), oncall.post(b, kind="resident")
    pc = oncall.post(c, department=world.town_law)
    case1, case2, case3, case4 = (oncall.case() for _ in range(4))
    room = oncall.room

    at(2026, 6, 1, 9, 0)
    s1 = A.do_summon(case1, pa, actor=room)
    s4 = A.do_summon(case1, pc, actor=room)
    at(2026, 6, 1, 9, 2)
    A.do_accept_summons(s1, actor=a)
    at(2026, 6, 1, 9, 20)
    A.do_arrive_summons(s1, actor=a)
    at(2026, 6, 1, 9, 30)
    A.do_accept_summons(s4, actor=c)
    A.do_cancel_summons(s4, actor=room, reason="不需要了")
    at(2026, 6, 1, 11, 0)
    A.do_finish_summons(s1, actor=a, notes="处理完毕")

    at(2026, 6, 2, 10, 0)
    s2 = A.do_summon(case2, pa, actor=room)
    at(2026, 6, 2, 10, 5)
    A.do_decline_summons(s2, actor=a, reason="在外地")
    at(2026, 6, 2, 10, 6)
    s3 = A.do_summon(case2, pb, actor=room)
    at(2026, 6, 2, 10, 16)
    A.do_accept_summons(s3, actor=b)
    at(2026, 6, 2, 10, 46)
    A.do_arrive_summons(s3, actor=b)

    at(2026, 6, 3, 8, 0)
    A.do_summon(case3, pb, actor=room)

    at(2026, 7, 15, 9, 0)
    s6 = A.do_summon(case4, pa, actor=room)
    at(2026, 7, 15, 9, 1)
    A.do_accept_summons(s6, actor=a)
    return world


def _row(name, sent, accepted, declined, cancelled, arrived, done, rate, acc, arr):
    return {
        "name": name,
        "sent": sent,
        "accepted": accepted,
        "declined": declined,
        "cancelled": cancelled,
        "arrived": arrived,
        "done": done,
        "acceptance_rate": rate,
        "accept_median": acc[0],
        "accept_p90": acc[1],
        "arrive_median": arr[0],
        "arrive_p90": arr[1],
    }


POLICE = ("梨洲派出所", 4, 2, 1, 0, 2, 1, 66.7, (6.0, 10.0), (30.0, 40.0))
LAW = (None, 1, 1, 0, 1, 0, 0, 100.0, (30.0, 30.0), (None, None))
TOTAL = ("Total", 5, 3, 1, 1, 2, 1, 75.0, (10.0, 30.0), (30.0, 40.0))


def _strip(rows):
    return [{k: (str(v) if k == "name" else v) for k, v in r.items() if k != "key"} for r in rows]


def test_figures_per_department_match_the_hand_count(june, oncall):
    rows = summons_statistics(oncall.room, by="department", **JUNE)
    law = (june.town_law.name, *LAW[1:])
    assert _strip(rows) == [_row(*POLICE[:1], *POLICE[1:]), _row(*law), _row(*TOTAL)]


def test_figures_per_township_and_grid(june, oncall):
    town = summons_statistics(oncall.room, by="town", **JUNE)
    assert _strip(town) == [_row("梨洲街道", *TOTAL[1:]), _row(*TOTAL)]
    grid = summons_statistics(oncall.room, by="grid", **JUNE)
    assert _strip(grid) == [_row(june.grid.name, *TOTAL[1:]), _row(*TOTAL)]
    # July alone: one summons, accepted after a minute.
    july = summons_statistics(oncall.room, start=date(2026, 7, 1), end=date(2026, 7, 31))
    assert july[-1]["sent"] == 1 and july[-1]["accept_median"] == 1.0


def test_each_sees_the_figures_of_their_area_or_department(june, oncall, world):
    assert summons_statistics(world.p.fengshan, **JUNE) == []
    law = summons_statistics(world.town_law_user(), **JUNE)
    assert [r["name"] for r in law][:1] == [world.town_law.name] and law[0]["sent"] == 1
    assert summons_statistics(world.p.county, **JUNE)[-1]["sent"] == 5
