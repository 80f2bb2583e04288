"""The daily check of the audit chain: once a day across nodes, and what it found is kept."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection

from civicgrid.cases.management.commands.tick import tick
from civicgrid.core.audit import do_check_audit_chain
from civicgrid.core.models import AuditCheck, AuditEvent
from civicgrid.core.tests.test_audit import trail  # noqa: F401

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_tick_checks_the_chain_once_a_day(trail):  # noqa: F811
    morning = datetime(2026, 3, 2, 0, 1, tzinfo=SHANGHAI)
    assert tick(now=morning)["audit_checked"] == 1
    assert tick(now=morning + timedelta(hours=9))["audit_checked"] == 0  # same day
    assert tick(now=morning + timedelta(days=1))["audit_checked"] == 1  # the next day
    checks = list(AuditCheck.objects.order_by("started"))
    assert [c.day.isoformat() for c in checks] == ["2026-03-02", "2026-03-03"]
    assert all(c.intact and c.events >= len(trail) for c in checks)
    # The check is itself in the trail, so an auditor sees when it ran.
    assert AuditEvent.objects.filter(action="core.audit.check").count() == 2


def test_a_second_node_losing_the_race_does_not_check_again(trail):  # noqa: F811
    now = datetime(2026, 3, 2, 8, tzinfo=SHANGHAI)
    AuditCheck.objects.create(day=now.date(), started=now)  # another node claimed the day
    assert do_check_audit_chain(now=now, daily=True) is None
    assert AuditCheck.objects.count() == 1


def test_a_tampered_chain_is_recorded_with_its_first_problem(trail):  # noqa: F811
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [trail[1].pk])
    check = do_check_audit_chain()
    assert not check.intact and check.problems >= 1
    assert f"event {trail[2].pk}" in check.first_problem or "missing" in check.first_problem
