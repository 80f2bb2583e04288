"""Two nodes tick at the same moment: each resident is owed one visit, not two (PostgreSQL).

The threads use their own connections, outside the test's transaction, on the committed demo
county (its shipped rules and tagged residents); the test removes the rows they made.
"""

import threading
from datetime import datetime

import pytest
from django.db import connection, connections

from civicgrid.inspection.actions import _effective_rules, do_generate_due_visits
from civicgrid.inspection.models import DueVisit

from .conftest import SHANGHAI

NOW = datetime(2031, 3, 12, 9, tzinfo=SHANGHAI)


def _in_threads(functions):
    barrier = threading.Barrier(len(functions))
    outcomes = [None] * len(functions)

    def runner(index, function):
        barrier.wait()
        try:
            outcomes[index] = function()
        except Exception as exc:  # handed back to the test
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return outcomes


def test_two_simultaneous_runs_owe_each_resident_one_visit(db):
    if connection.vendor != "postgresql":
        pytest.skip("the concurrent insert is a PostgreSQL test (SQLite serialises writers)")
    expected = len(_effective_rules())
    assert expected > 0
    try:
        outcomes = _in_threads([lambda: do_generate_due_visits(now=NOW)] * 3)
        assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
        counts = _in_threads([lambda: DueVisit.objects.filter(period_start__year=2031).count()])
        assert counts == [expected]
        again = _in_threads([lambda: do_generate_due_visits(now=NOW)])
        assert again == [0]
    finally:
        _in_threads([lambda: DueVisit.objects.filter(period_start__year=2031).delete()])
