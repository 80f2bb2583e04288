"""Two nodes run the background commands at the same moment: nothing is done twice (PostgreSQL).

What ``tick`` and ``send`` do per row is claimed by a conditional UPDATE, and the daily jobs by
a unique row; here two runners start together (threads with their own connections, released
by one barrier) on committed rows, and the test removes what it made. The due-visit claim is
raced in inspection/tests/test_concurrency.py, the partitions in test_partitions.py. SQLite
serialises writers for the whole file, so these races only mean something on PostgreSQL.
"""

import threading
import time
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections  # noqa: F401 (connection: the skip condition)
from django.utils import timezone

from civicgrid.cases import actions as A
from civicgrid.cases.management.commands.send import drain
from civicgrid.cases.models import Case, CaseAction, Category, Notification, Supervision
from civicgrid.core.daily import run_once_a_day
from civicgrid.core.models import DailyJob
from civicgrid.core.tests.threads import alone, together
from civicgrid.people.models import RoleAssignment
from civicgrid.regions.models import Grid

pytestmark = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="races between connections: PostgreSQL only"
)


class RecordingGateway:
    """An SMS gateway that records what it was asked to send (the real one is external)."""

    sent: list[int] = []
    lock = threading.Lock()

    def send(self, notification) -> None:
        time.sleep(0.002)  # a gateway takes a moment; lets the runners interleave
        with self.lock:
            RecordingGateway.sent.append(notification.pk)


def test_two_senders_at_once_deliver_each_notification_once(db, settings):
    settings.CIVICGRID_SMS_SENDER = f"{__name__}.RecordingGateway"
    RecordingGateway.sent = []
    fields = ("id", "sent_at", "attempts", "claimed_until", "last_error")
    # The session's county may have queued rows too; they are put back as they were.
    queued_before = alone(
        lambda: list(Notification.objects.filter(sent_at__isnull=True).values(*fields))
    )
    ours = []
    try:
        ours = alone(
            lambda: [
                Notification.objects.create(
                    channel="sms", event="runner-test", subject=f"#{i}", created=timezone.now()
                ).pk
                for i in range(120)
            ]
        )
        outcomes = together([drain, drain])
        assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
        mine = [pk for pk in RecordingGateway.sent if pk in set(ours)]
        assert sorted(mine) == sorted(ours)  # every one sent, none twice
        assert all(sent for sent, _failed in outcomes), outcomes  # both runners took a share
        rows = alone(
            lambda: list(
                Notification.objects.filter(pk__in=ours).values_list("attempts", "sent_at")
            )
        )
        assert {attempts for attempts, _ in rows} == {1}
        assert all(sent_at is not None for _, sent_at in rows)
    finally:

        def put_back():
            Notification.objects.filter(pk__in=ours).delete()
            for row in queued_before:
                Notification.objects.filter(pk=row.pop("id")).update(**row)

        alone(put_back)


def test_two_daily_runs_at_once_run_the_job_once(db):
    day = date(2032, 7, 1)
    calls = []

    def job():
        calls.append(1)
        time.sleep(0.3)  # still running when the other node looks
        return "done"

    try:
        outcomes = together([lambda: run_once_a_day("runner-test", day, job)] * 2)
        assert sorted(outcomes, key=str) == [None, "done"], outcomes
        assert len(calls) == 1
        assert alone(lambda: DailyJob.objects.filter(name="runner-test").count()) == 1
        # A third node later: already done.
        assert alone(lambda: run_once_a_day("runner-test", day, job)) is None
        assert len(calls) == 1
    finally:
        alone(lambda: DailyJob.objects.filter(name="runner-test").delete())


@pytest.fixture
def accepted_case(db):
    grid = Grid.objects.exclude(kind="micro").filter(code__startswith="330281001").first()
    operator_id = (
        RoleAssignment.objects.filter(role="township_operator", scope_code="330281001", active=True)
        .values_list("person__user_id", flat=True)
        .first()
    )
    operator = get_user_model().objects.get(pk=operator_id)
    category = Category.objects.get(code="0101")

    def make():
        case = A.do_report_case(actor=None, channel="resident", description="两个节点", grid=grid)
        return A.do_accept_case(case, actor=operator, category=category)

    case = alone(make)
    assert isinstance(case, Case) and case.resolve_deadline is not None, case
    yield case

    def cleanup():
        Supervision.objects.filter(case_id=case.pk).delete()
        Notification.objects.filter(case_id=case.pk).delete()
        CaseAction.objects.filter(case_id=case.pk).delete()
        case.reporters.all().delete()
        case.assignments.all().delete()
        Case.objects.filter(pk=case.pk).delete()

    alone(cleanup)


def test_two_ticks_at_once_remind_and_supervise_a_case_once(accepted_case):
    case, deadline = accepted_case, accepted_case.resolve_deadline
    soon = deadline - timedelta(minutes=1)
    reminded = together([lambda: A.do_remind_due_soon(case, now=soon)] * 2)
    assert sorted(reminded) == [False, True], reminded
    late = deadline + timedelta(hours=1)
    supervised = together([lambda: A.do_supervise_overdue(case, now=late)] * 2)
    assert sorted(supervised) == [False, True], supervised

    def outcome():
        reminders = list(
            Notification.objects.filter(case_id=case.pk, event="due_soon").values_list(
                "recipient_id", "department_id", "unit_code", "channel"
            )
        )
        return (
            len(reminders) > 0 and len(set(reminders)) == len(reminders),  # nobody told twice
            Supervision.objects.filter(case_id=case.pk).count(),
            CaseAction.objects.filter(case_id=case.pk, action="supervise").count(),
        )

    assert alone(outcome) == (True, 1, 1)
