"""Compliance against a hand-computed week (13–19 October 2025, due Friday the 17th).

grid1 (梨洲): 甲 seen on the 14th, 乙 not found on the 15th, 丙 never visited, 戊 under a
monthly override (due 31 October, outside the week). grid2 (凤山): 丁 seen on the 16th.
"""

from datetime import date, datetime

import pytest

from civicgrid.inspection.actions import (
    do_generate_due_visits,
    do_record_visit,
    do_set_visit_override,
)
from civicgrid.inspection.selectors import compliance, never_visited, overdue_visits

from .conftest import SHANGHAI

WEEK = {"start": date(2025, 10, 13), "end": date(2025, 10, 19)}


@pytest.fixture
def week(world, at):
    names = {n: world.resident(n) for n in ("甲", "乙", "丙", "戊")}
    names["丁"] = world.resident("丁", grid=world.other_grid)
    do_set_visit_override(names["戊"], actor=world.p.lizhou, cadence="monthly", reason="住院")
    do_generate_due_visits(now=at(2025, 10, 13, 8))
    at(2025, 10, 18, 10)
    for name, who, outcome, day in [
        ("甲", world.p.grid1, "seen", 14),
        ("乙", world.p.grid1, "not_found", 15),
        ("丁", world.p.grid2, "seen", 16),
    ]:
        do_record_visit(
            names[name],
            actor=who,
            outcome=outcome,
            visited_at=datetime(2025, 10, day, 15, tzinfo=SHANGHAI),
        )
    return names


def _rows(user, by, today):
    return {r["key"]: r for r in compliance(user, by=by, today=today, **WEEK)}


def test_it_counts_due_done_and_overdue_per_grid(world, week):
    rows = _rows(world.p.county, "grid", date(2025, 10, 18))
    assert rows == {
        world.grid.code: {"key": world.grid.code, "due": 3, "done": 1, "missed": 0,
                          "overdue": 2, "rate": pytest.approx(1 / 3)},
        world.other_grid.code: {"key": world.other_grid.code, "due": 1, "done": 1,
                                "missed": 0, "overdue": 0, "rate": 1.0},
    }  # fmt: skip


def test_it_counts_missed_visits_once_the_period_is_over(world, week, at):
    do_generate_due_visits(now=at(2025, 10, 20, 8))
    row = _rows(world.p.county, "grid", date(2025, 10, 20))[world.grid.code]
    assert (row["due"], row["done"], row["missed"], row["overdue"]) == (3, 1, 2, 0)


def test_it_groups_by_village_township_worker_and_key_group(world, week):
    today = date(2025, 10, 18)
    villages = _rows(world.p.county, "village", today)
    assert villages[world.grid.code[:12]]["due"] == 3
    assert villages[world.other_grid.code[:12]]["done"] == 1
    towns = _rows(world.p.county, "township", today)
    assert {k: (r["due"], r["done"]) for k, r in towns.items()} == {
        "330281001": (3, 1),
        "330281002": (1, 1),
    }
    workers = _rows(world.p.county, "worker", today)
    assert (workers[world.worker().username]["due"], workers[world.worker().username]["done"]) == (
        3,
        1,
    )
    groups = _rows(world.p.county, "key_group", today)
    assert {k: (r["due"], r["done"]) for k, r in groups.items()} == {"test_watch": (4, 2)}


def test_a_township_sees_only_its_own_figures(world, week):
    rows = _rows(world.p.lizhou, "township", date(2025, 10, 18))
    assert list(rows) == ["330281001"]
    assert _rows(world.p.outsider, "grid", date(2025, 10, 18)) == {}


def test_it_lists_overdue_visits_and_persons_never_visited(world, week):
    overdue = overdue_visits(world.p.county, today=date(2025, 10, 18))
    assert [d.person.name for d in overdue] == ["乙", "丙"]
    assert not overdue_visits(world.p.fengshan, today=date(2025, 10, 18)).exists()
    assert set(never_visited(world.p.county).values_list("name", flat=True)) == {"乙", "丙", "戊"}
    assert set(never_visited(world.p.lizhou).values_list("name", flat=True)) == {"乙", "丙", "戊"}
    assert not never_visited(world.p.fengshan).exists()
