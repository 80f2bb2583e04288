"""Two nodes tick at the same moment: each resident is owed one visit, not two (PostgreSQL).

The threads use their own connections, outside the test's transaction, on the committed demo
county (its shipped rules and tagged residents); the test removes the rows they made.
"""

from datetime import datetime

import pytest
from django.db import connection

from civicgrid.core.tests.threads import together
from civicgrid.inspection.actions import _effective_rules, do_generate_due_visits
from civicgrid.inspection.models import DueVisit

from .conftest import SHANGHAI

NOW = datetime(2031, 3, 12, 9, tzinfo=SHANGHAI)


def test_two_simultaneous_runs_owe_each_resident_one_visit(db):
    if connection.vendor != "postgresql":
        pytest.skip("the concurrent insert is a PostgreSQL test (SQLite serialises writers)")
    expected = len(_effective_rules())
    assert expected > 0
    try:
        outcomes = together([lambda: do_generate_due_visits(now=NOW)] * 3)
        assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
        counts = together([lambda: DueVisit.objects.filter(period_start__year=2031).count()])
        assert counts == [expected]
        again = together([lambda: do_generate_due_visits(now=NOW)])
        assert again == [0]
    finally:
        together([lambda: DueVisit.objects.filter(period_start__year=2031).delete()])
