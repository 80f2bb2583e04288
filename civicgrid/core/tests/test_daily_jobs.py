"""Jobs tick runs once a day: claimed by one node, not repeated, a dead node's claim taken over."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from civicgrid.core.daily import STALE_AFTER, run_once_a_day
from civicgrid.core.models import DailyJob

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_job_runs_once_a_day_and_keeps_its_result():
    runs = []
    day, now = date(2026, 3, 2), datetime(2026, 3, 2, 0, 5, tzinfo=SHANGHAI)
    job = lambda: runs.append(1) or "made 3"  # noqa: E731
    assert run_once_a_day("reports", day, job, now=now) == "made 3"
    assert run_once_a_day("reports", day, job, now=now + timedelta(minutes=1)) is None
    assert runs == [1]
    assert run_once_a_day("reports", day + timedelta(days=1), job, now=now) == "made 3"
    assert run_once_a_day("warn", day, job, now=now) == "made 3"  # another job, same day
    assert len(runs) == 3
    row = DailyJob.objects.get(name="reports", day=day)
    assert row.finished is not None and row.result == "made 3"


def test_a_claim_left_by_a_dead_node_is_taken_over_only_when_stale():
    day, now = date(2026, 3, 2), datetime(2026, 3, 2, 0, 5, tzinfo=SHANGHAI)
    DailyJob.objects.create(name="warn", day=day, started=now)  # claimed, never finished
    runs = []
    job = lambda: runs.append(1) or "ok"  # noqa: E731
    assert run_once_a_day("warn", day, job, now=now + timedelta(minutes=5)) is None
    assert runs == []  # still being worked on, as far as anyone can tell
    later = now + STALE_AFTER + timedelta(minutes=1)
    assert run_once_a_day("warn", day, job, now=later) == "ok"
    assert runs == [1]
    assert run_once_a_day("warn", day, job, now=later) is None


def test_tick_runs_the_early_warning_and_the_reports_once_for_the_day_before():
    from civicgrid.analytics.models import Report
    from civicgrid.cases.management.commands.tick import tick

    now = datetime(2026, 3, 2, 0, 5, tzinfo=SHANGHAI)
    first = tick(now)
    assert first["warned"] == 1 and first["reported"] == 1
    yesterday = date(2026, 3, 1)
    assert Report.objects.filter(kind="daily", period_start=yesterday).exists()
    assert DailyJob.objects.get(name="warn", day=date(2026, 3, 2)).finished is not None
    made = Report.objects.count()
    again = tick(now + timedelta(minutes=1))
    assert again["warned"] == 0 and again["reported"] == 0
    assert Report.objects.count() == made
