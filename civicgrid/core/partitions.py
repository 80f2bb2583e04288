"""Monthly range partitions of the big append-mostly tables, on PostgreSQL only.

Which tables (decision in docs/scaling.md): those that grow with every action and that no
foreign key points at — the audit trail and the notification outbox. A partitioned table's
unique constraints must include the partition key, so there the primary key is
``(id, created)`` and the audit hash is unique per ``(hash, created)``; Django still sees
``id`` as the primary key (ids stay unique: the audit chain head assigns them under a lock and
``verify_audit`` reports a repeated one; the outbox takes them from its identity sequence).

``ensure_partitions`` (called by ``tick``) creates the months ahead; rows outside every
month land in the DEFAULT partition and are moved out when their month is created. Nothing
here runs on SQLite.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import connections, transaction
from django.utils import timezone

__all__ = [
    "ARCHIVABLE",
    "MONTHS_AHEAD",
    "PARTITIONED",
    "Partition",
    "convert_to_monthly",
    "detach_partition",
    "ensure_partitions",
    "is_partitioned",
    "month_partitions",
    "partitions_older_than",
]

# table -> partition key column
PARTITIONED = {"core_auditevent": "created", "cases_notification": "created"}
# Tables whose old months may be detached and archived. Not the audit trail: verify_audit
# walks the chain from event 1, so an archived month would read as missing events.
ARCHIVABLE = ("cases_notification",)
MONTHS_AHEAD = 3
_LOCK_KEY = 0x63670006  # advisory lock serialising partition changes across nodes ("cg" 6)


@dataclass(frozen=True)
class Partition:
    table: str  # the partitioned table
    name: str  # the partition's own table
    start: datetime.date | None  # first day of the month; None for DEFAULT
    rows: int | None = None


def _month(day: datetime.date, plus: int = 0) -> datetime.date:
    index = day.year * 12 + day.month - 1 + plus
    return datetime.date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: datetime.date) -> str:
    return f"{table}_p{month:%Y_%m}"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _bound(month: datetime.date) -> str:
    # Month boundaries in the project's time zone (what "a month of cases" means to a county).
    tz = timezone.get_default_timezone()
    return datetime.datetime(month.year, month.month, 1, tzinfo=tz).isoformat()


def _is_pg(using: str) -> bool:
    return connections[using].vendor == "postgresql"


def is_partitioned(table: str, *, using: str = "default") -> bool:
    if not _is_pg(using):
        return False
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
            [table],
        )
        return cursor.fetchone() is not None


def month_partitions(table: str, *, using: str = "default", count_rows=False) -> list[Partition]:
    """The partitions of ``table``, months in order, DEFAULT last ([] when not partitioned)."""
    if not is_partitioned(table, using=using):
        return []
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [table],
        )
        found = []
        for name, bound in cursor.fetchall():
            start = None
            if bound != "DEFAULT":
                start = datetime.date(int(name[-7:-3]), int(name[-2:]), 1)
            rows = None
            if count_rows:
                cursor.execute(f"SELECT count(*) FROM {_q(name)}")  # noqa: S608 (catalogue name)
                rows = cursor.fetchone()[0]
            found.append(Partition(table, name, start, rows))
    return sorted(found, key=lambda p: (p.start is None, p.start or datetime.date.min))


def _create_month(cursor, table: str, column: str, month: datetime.date) -> bool:
    """Create ``month``'s partition unless it exists; rows already in DEFAULT move into it."""
    name = partition_name(table, month)
    cursor.execute("SELECT to_regclass(%s)", [name])
    if cursor.fetchone()[0] is not None:
        return False
    low, high = _bound(month), _bound(_month(month, 1))
    default = f"{table}_default"
    cursor.execute(
        f"SELECT 1 FROM {_q(default)} WHERE {_q(column)} >= %s AND {_q(column)} < %s LIMIT 1",  # noqa: S608
        [low, high],
    )
    if cursor.fetchone() is None:
        cursor.execute(
            f"CREATE TABLE {_q(name)} PARTITION OF {_q(table)} "
            f"FOR VALUES FROM ('{low}') TO ('{high}')"
        )
        return True
    # The DEFAULT partition holds rows of this month: PostgreSQL refuses to create the
    # partition over them, so build it aside, move the rows, then attach it.
    cursor.execute(
        f"CREATE TABLE {_q(name)} (LIKE {_q(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    cursor.execute(
        f"WITH moved AS (DELETE FROM {_q(default)} WHERE {_q(column)} >= %s AND "  # noqa: S608
        f"{_q(column)} < %s RETURNING *) INSERT INTO {_q(name)} SELECT * FROM moved",
        [low, high],
    )
    cursor.execute(
        f"ALTER TABLE {_q(table)} ATTACH PARTITION {_q(name)} "
        f"FOR VALUES FROM ('{low}') TO ('{high}')"
    )
    return True


def ensure_partitions(
    now: datetime.datetime | None = None, *, months_ahead: int = MONTHS_AHEAD, using="default"
) -> int:
    """Create this month's and the next ``months_ahead`` months' partitions of every
    partitioned table; returns how many were created (0 on SQLite and when all exist).

    Idempotent and safe on several nodes at once: the common case (all exist) reads the
    catalogue only; creating takes a transaction-scoped advisory lock and checks again.
    """
    if not _is_pg(using):
        return 0
    today = timezone.localdate(now or timezone.now())
    wanted = [_month(today, plus) for plus in range(months_ahead + 1)]
    missing = {}
    for table, column in PARTITIONED.items():
        have = {p.start for p in month_partitions(table, using=using)}
        if have and not set(wanted) <= have:
            missing[table] = column
    if not missing:
        return 0
    created = 0
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        for table, column in missing.items():
            created += sum(_create_month(cursor, table, column, month) for month in wanted)
    return created


def partitions_older_than(
    table: str, months: int, *, now=None, using="default", count_rows=False
) -> list[Partition]:
    """Month partitions wholly before the month ``months`` months back from now."""
    first_kept = _month(timezone.localdate(now or timezone.now()), -months)
    return [
        p
        for p in month_partitions(table, using=using, count_rows=count_rows)
        if p.start is not None and p.start < first_kept
    ]


def detach_partition(partition: Partition, *, using: str = "default") -> None:
    """Detach a month from its table: its rows leave the table and stay in ``partition.name``
    (a plain table) to be dumped and dropped."""
    if partition.table not in ARCHIVABLE:
        raise ValueError(f"{partition.table} is not archivable")
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        cursor.execute(f"ALTER TABLE {_q(partition.table)} DETACH PARTITION {_q(partition.name)}")


# --------------------------------------------------------------------------- the migration


def convert_to_monthly(schema_editor, table: str, column: str, *, months_ahead=MONTHS_AHEAD):
    """Turn ``table`` into one range-partitioned by month on ``column``, keeping its rows,
    column order, identity sequence, constraint, index and trigger names. PostgreSQL only
    (does nothing elsewhere, or when already partitioned); for a RunPython migration."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass", [table])
        if cursor.fetchone():
            return
        cursor.execute(
            "SELECT conname, conrelid::regclass::text FROM pg_constraint "
            "WHERE confrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        incoming = cursor.fetchall()
        if incoming:
            raise RuntimeError(
                f"{table} cannot be partitioned: foreign keys point at it {incoming}"
            )
        cursor.execute(
            "SELECT con.conname, con.contype, pg_get_constraintdef(con.oid), "
            "  ARRAY(SELECT a.attname FROM unnest(con.conkey) k JOIN pg_attribute a "
            "        ON a.attrelid = con.conrelid AND a.attnum = k) "
            "FROM pg_constraint con WHERE con.conrelid = %s::regclass ORDER BY con.contype DESC",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT pg_get_indexdef(ix.indexrelid), ix.indisunique FROM pg_index ix "
            "WHERE ix.indrelid = %s::regclass AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint con WHERE con.conindid = ix.indexrelid)",
            [table],
        )
        indexes = cursor.fetchall()
        if any(unique for _, unique in indexes):
            raise RuntimeError(f"{table}: a unique index without a constraint; not handled")
        cursor.execute(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger "
            "WHERE tgrelid = %s::regclass AND NOT tgisinternal",
            [table],
        )
        triggers = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        next_id = 1
        if sequence:
            cursor.execute(f"SELECT last_value, is_called FROM {sequence}")  # noqa: S608
            last_value, is_called = cursor.fetchone()
            next_id = last_value + 1 if is_called else last_value
        cursor.execute(f"SELECT coalesce(max(id), 0) + 1, min({_q(column)}) FROM {_q(table)}")  # noqa: S608
        after_max, oldest = cursor.fetchone()
        next_id = max(next_id, after_max)

        work = f"{table}__monthly"
        cursor.execute(
            f"CREATE TABLE {_q(work)} (LIKE {_q(table)} INCLUDING DEFAULTS) "
            f"PARTITION BY RANGE ({_q(column)})"
        )
        today = timezone.localdate()
        month = _month(timezone.localtime(oldest).date() if oldest else today)
        last = _month(today, months_ahead)
        while month <= last:
            low, high = _bound(month), _bound(_month(month, 1))
            cursor.execute(
                f"CREATE TABLE {_q(partition_name(table, month))} PARTITION OF {_q(work)} "
                f"FOR VALUES FROM ('{low}') TO ('{high}')"
            )
            month = _month(month, 1)
        cursor.execute(f"CREATE TABLE {_q(table + '_default')} PARTITION OF {_q(work)} DEFAULT")
        cursor.execute(f"INSERT INTO {_q(work)} SELECT * FROM {_q(table)}")  # noqa: S608
        cursor.execute(f"DROP TABLE {_q(table)}")
        cursor.execute(f"ALTER TABLE {_q(work)} RENAME TO {_q(table)}")
        if sequence:
            cursor.execute(
                f"ALTER TABLE {_q(table)} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY "
                f"(RESTART WITH {int(next_id)})"
            )
        for name, kind, definition, columns in constraints:
            if kind in ("p", "u"):
                keyed = columns if column in columns else [*columns, column]
                word = "PRIMARY KEY" if kind == "p" else "UNIQUE"
                definition = f"{word} ({', '.join(_q(c) for c in keyed)})"
            cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} {definition}")
        for definition, _unique in indexes:
            cursor.execute(definition)
        for definition in triggers:
            cursor.execute(definition)


def convert_back(schema_editor, table: str):
    """Reverse of ``convert_to_monthly``: one plain table again (keys as Django made them)."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    column = PARTITIONED[table]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass", [table])
        if cursor.fetchone() is None:
            return
        cursor.execute(
            "SELECT con.conname, con.contype, pg_get_constraintdef(con.oid), "
            "  ARRAY(SELECT a.attname FROM unnest(con.conkey) k JOIN pg_attribute a "
            "        ON a.attrelid = con.conrelid AND a.attnum = k) "
            "FROM pg_constraint con WHERE con.conrelid = %s::regclass "
            "AND con.conparentid = 0 ORDER BY con.contype DESC",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT pg_get_indexdef(ix.indexrelid) FROM pg_index ix "
            "WHERE ix.indrelid = %s::regclass AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint con WHERE con.conindid = ix.indexrelid)",
            [table],
        )
        indexes = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger "
            "WHERE tgrelid = %s::regclass AND NOT tgisinternal AND tgparentid = 0",
            [table],
        )
        triggers = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {_q(table)}")  # noqa: S608
        next_id = cursor.fetchone()[0]
        work = f"{table}__plain"
        cursor.execute(f"CREATE TABLE {_q(work)} (LIKE {_q(table)} INCLUDING DEFAULTS)")
        cursor.execute(f"INSERT INTO {_q(work)} SELECT * FROM {_q(table)}")  # noqa: S608
        cursor.execute(f"DROP TABLE {_q(table)} CASCADE")
        cursor.execute(f"ALTER TABLE {_q(work)} RENAME TO {_q(table)}")
        cursor.execute(
            f"ALTER TABLE {_q(table)} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY "
            f"(RESTART WITH {int(next_id)})"
        )
        for name, kind, definition, columns in constraints:
            if kind in ("p", "u"):
                plain = [c for c in columns if c != column] or columns
                word = "PRIMARY KEY" if kind == "p" else "UNIQUE"
                definition = f"{word} ({', '.join(_q(c) for c in plain)})"
            cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} {definition}")
        for definition in indexes:
            cursor.execute(definition)
        for definition in triggers:
            cursor.execute(definition)
