"""Monthly partitions of the audit trail and the outbox (PostgreSQL; a no-op on SQLite).

Most tests run in the test's transaction, so the partitions they create or drop are rolled
back with it. The two that need other connections (two nodes at once; pg_dump) commit and
remove what they made.
"""

import datetime
import io
import shutil
import subprocess
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone

from civicgrid.cases.models import Notification
from civicgrid.core.audit import record_event, verify_chain
from civicgrid.core.models import AuditEvent
from civicgrid.core.partitions import (
    PARTITIONED,
    Partition,
    detach_partition,
    ensure_partitions,
    is_partitioned,
    month_partitions,
    partition_name,
)
from civicgrid.core.tests.threads import together

SHANGHAI = ZoneInfo("Asia/Shanghai")
pg_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="partitions exist on PostgreSQL only"
)


def _where(table: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT tableoid::regclass::text FROM "{table}" WHERE id = %s', [pk])  # noqa: S608
        return cursor.fetchone()[0]


def _notification(created: datetime.datetime) -> Notification:
    return Notification.objects.create(
        channel="inbox", event="test", subject="partition test", created=created
    )


def test_on_sqlite_nothing_is_partitioned_and_the_command_says_so(db):
    if connection.vendor == "postgresql":
        pytest.skip("the SQLite answer")
    assert ensure_partitions() == 0
    assert month_partitions("core_auditevent") == []
    out = io.StringIO()
    call_command("partitions", "--ensure", stdout=out)
    assert "not PostgreSQL" in out.getvalue()


@pg_only
def test_the_tables_are_partitioned_by_month_with_the_months_ahead(db):
    this_month = timezone.localdate().replace(day=1)
    for table in PARTITIONED:
        assert is_partitioned(table)
        parts = month_partitions(table)
        assert parts[-1].start is None and parts[-1].name == f"{table}_default"
        months = [p.start for p in parts[:-1]]
        assert this_month in months
        assert len([m for m in months if m > this_month]) >= 3
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype = 'p'",
                [table],
            )
            assert cursor.fetchone()[0] == "PRIMARY KEY (id, created)"


@pg_only
def test_the_audit_chain_is_written_and_verified_across_the_partitions(db):
    before = AuditEvent.objects.count()
    events = [record_event("test.partition", target_type="x", target_id=str(i)) for i in range(3)]
    assert AuditEvent.objects.count() == before + 3
    # Django still addresses an event by id alone.
    assert AuditEvent.objects.get(pk=events[1].pk).hash == events[1].hash
    month = timezone.localdate(events[0].created).replace(day=1)
    assert _where("core_auditevent", events[0].pk) == partition_name("core_auditevent", month)
    assert list(verify_chain()) == []
    # Still append-only: the trigger came along to the partitioned table.
    with pytest.raises(Exception, match="append-only"), connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditevent SET action = 'x' WHERE id = %s", [events[0].pk])


@pg_only
def test_a_row_outside_every_month_waits_in_default_and_moves_when_its_month_is_made(db):
    long_ago = datetime.datetime(2019, 5, 14, 10, tzinfo=SHANGHAI)
    note = _notification(long_ago)
    assert _where("cases_notification", note.pk) == "cases_notification_default"

    created = ensure_partitions(now=long_ago, months_ahead=1)
    assert created == 2 * len(PARTITIONED)  # May and June 2019 of each table
    assert _where("cases_notification", note.pk) == "cases_notification_p2019_05"
    # The ORM finds the same row, unchanged, and can still update it (the outbox does).
    Notification.objects.filter(pk=note.pk).update(read_at=long_ago)
    assert Notification.objects.get(pk=note.pk).created == long_ago
    assert ensure_partitions(now=long_ago, months_ahead=1) == 0  # idempotent
    # The month boundary is Shanghai midnight, not UTC midnight.
    edge = _notification(datetime.datetime(2019, 6, 1, 0, 30, tzinfo=SHANGHAI))
    assert _where("cases_notification", edge.pk) == "cases_notification_p2019_06"


@pg_only
def test_tick_creates_a_missing_month_ahead(db):
    ahead = timezone.localdate().replace(day=1) + datetime.timedelta(days=40)
    name = partition_name("core_auditevent", ahead.replace(day=1))
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE "{name}"')
    call_command("tick", stdout=io.StringIO())
    assert name in [p.name for p in month_partitions("core_auditevent")]


def _drop_months(year: int):
    def drop():
        with connections["default"].cursor() as cursor:
            for table in PARTITIONED:
                for part in month_partitions(table):
                    if part.start is not None and part.start.year == year:
                        cursor.execute(f'DROP TABLE "{part.name}"')

    return drop


@pg_only
def test_two_nodes_creating_the_same_months_at_once_create_each_once(db):
    later = datetime.datetime(2033, 2, 10, 9, tzinfo=SHANGHAI)
    try:
        outcomes = together([lambda: ensure_partitions(now=later, months_ahead=2)] * 2)
        assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
        assert sorted(outcomes) == [0, 3 * len(PARTITIONED)]
        months = together([lambda: [p.name for p in month_partitions("cases_notification")]])
        assert {"cases_notification_p2033_02", "cases_notification_p2033_04"} <= set(months[0])
    finally:
        together([_drop_months(2033)])


@pg_only
def test_the_audit_trail_cannot_be_detached(db):
    part = month_partitions("core_auditevent")[0]
    with pytest.raises(ValueError, match="not archivable"):
        detach_partition(part)


@pg_only
def test_archiving_old_months_is_a_dry_run_first_then_detaches_dumps_and_drops(db, tmp_path):
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    old = datetime.datetime(2018, 3, 5, 12, tzinfo=SHANGHAI)
    made = {}

    def setup():
        ensure_partitions(now=old, months_ahead=0)
        made["ids"] = [_notification(old).pk for _ in range(3)]

    def run(*args):
        out = io.StringIO()
        call_command("partitions", "--archive-older-than", "12", *args, stdout=out)
        return out.getvalue()

    def rows():
        return Notification.objects.filter(pk__in=made["ids"]).count()

    try:
        assert together([setup]) == [None]
        dry = together([lambda: run("--dir", str(tmp_path))])[0]
        assert "would archive cases_notification_p2018_03 (3 rows)" in dry
        assert "core_auditevent" not in dry
        assert together([rows]) == [3]
        done = together([lambda: run("--dir", str(tmp_path), "--apply")])[0]
        assert "archived cases_notification_p2018_03 (3 rows)" in done, done
        assert together([rows]) == [0]
        dump = tmp_path / "cases_notification_p2018_03.pgdump"
        listing = subprocess.run(
            ["pg_restore", "-l", str(dump)], capture_output=True, text=True, check=True
        ).stdout
        assert "TABLE DATA public cases_notification_p2018_03" in listing
        names = together([lambda: [p.name for p in month_partitions("cases_notification")]])
        assert "cases_notification_p2018_03" not in names[0]
    finally:
        together([_drop_months(2018)])
        together([lambda: Notification.objects.filter(pk__in=made.get("ids", [])).delete()])


def test_partition_names_sort_by_month():
    assert partition_name("t", datetime.date(2027, 1, 1)) == "t_p2027_01"
    assert Partition("t", "t_p2027_01", datetime.date(2027, 1, 1)).start.month == 1


@pg_only
def test_after_loading_history_ensure_since_moves_it_into_its_months(db):
    first = (timezone.localdate() - datetime.timedelta(days=200)).replace(day=1)
    past = datetime.datetime(first.year, first.month, 15, 9, tzinfo=SHANGHAI)
    note = _notification(past)
    assert _where("cases_notification", note.pk) == "cases_notification_default"
    out = io.StringIO()
    call_command("partitions", "--ensure", "--since", f"{first:%Y-%m}", stdout=out)
    assert _where("cases_notification", note.pk) == partition_name("cases_notification", first)
    assert "created" in out.getvalue()
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("partitions", "--ensure", "--since", "last spring", stdout=io.StringIO())
