"""The plan for a multi-node deployment on Citus, keyed by county code, from the live schema.

Citus is not installable on this machine (not in Debian's archive; its own apt repository is
out of reach), so the plan is checked on one PostgreSQL node: ``preparation`` is plain
PostgreSQL DDL (add ``county_code``, fill it, make every key and every foreign key between
distributed tables include it) that the tests run and roll back; ``citus_calls`` are the
``create_reference_table`` / ``create_distributed_table`` calls that only a Citus
coordinator can run; ``blockers`` are what stands in the way today, read from the catalogue
(foreign keys Citus refuses) plus the ones the catalogue cannot show (``KNOWN_BLOCKERS``).
``civicgrid citus_plan`` prints it; docs/scaling.md explains it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "COLUMN",
    "DISTRIBUTED",
    "KNOWN_BLOCKERS",
    "PROVINCE_LEVEL",
    "REFERENCE",
    "CitusPlan",
    "make_plan",
]

COLUMN = "county_code"  # the distribution column: the 6-digit county division code
PROVINCE_LEVEL = "000000"  # rows that belong to no county (province-wide events) live here

# Distributed tables, in fill order, and where their county comes from: ("expr", SQL on the
# table's own columns) or ("parent", fk column, parent table) — the parent's county.
DISTRIBUTED: dict[str, tuple] = {
    "cases_case": ("expr", "left(t.region_code, 6)"),
    "cases_casecodecounter": ("expr", "left(t.prefix, 6)"),
    "cases_caseaction": ("parent", "case_id", "cases_case"),
    "cases_casereporter": ("parent", "case_id", "cases_case"),
    "cases_assignment": ("parent", "case_id", "cases_case"),
    "cases_attachment": ("parent", "case_id", "cases_case"),
    "cases_supervision": ("parent", "case_id", "cases_case"),
    "cases_extensionrequest": ("parent", "case_id", "cases_case"),
    "cases_leaderinstruction": ("parent", "case_id", "cases_case"),
    "cases_jointmeeting": ("parent", "case_id", "cases_case"),
    "cases_notification": ("parent", "case_id", "cases_case", "left(t.unit_code, 6)"),
    "open311_servicerequest": ("parent", "case_id", "cases_case"),
    "webhooks_webhookdelivery": ("parent", "case_id", "cases_case"),
    "mediation_dispute": ("expr", "left(t.region_code, 6)"),
    "mediation_disputeevent": ("parent", "dispute_id", "mediation_dispute"),
    "core_auditevent": ("expr", "left(t.scope_code, 6)"),
}

# Small, read-mostly tables copied to every node (what the distributed rows point at).
REFERENCE = [
    "regions_region",
    "regions_grid",
    "cases_category",
    "people_department",
    "auth_user",
    "api_apikey",
    "mediation_mediationorg",
    "webhooks_webhooksubscription",
]

KNOWN_BLOCKERS = [
    "core_auditevent: one hash chain for the whole database, serialised by the single "
    "core_auditchainhead row; distributed, it needs one chain (and head) per county",
    "no model has a county_code field yet: the actions must fill it on every insert, and "
    "reads by id alone fan out to every shard (the ORM's pk is still id)",
    "cases_case.idempotency_key becomes unique per county, not globally",
    "auth_user as a reference table: every login's last_login update is a write on all nodes",
    "identity ids on distributed tables need Citus ≥ 11 (bigint only); not tried here",
    "not tried here at all: Citus itself (DEFERRABLE foreign keys, colocation, rebalancing, "
    "query routing); the calls below are unexecuted",
]


@dataclass
class CitusPlan:
    preparation: list[str] = field(default_factory=list)
    citus_calls: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = ["-- 1. preparation: plain PostgreSQL, checked on one node by the tests"]
        lines += [f"{statement};" for statement in self.preparation]
        lines += ["", "-- 2. on a Citus coordinator (not run here: no Citus on this machine)"]
        lines += [f"{call};" for call in self.citus_calls]
        lines += ["", "-- 3. blockers"]
        lines += [f"-- * {blocker}" for blocker in self.blockers]
        return "\n".join(lines) + "\n"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(key: str, table: str) -> str:
    """SQL for the names of the columns of a constraint's ``key`` array, in key order."""
    return (
        f"ARRAY(SELECT a.attname FROM unnest(c.{key}) WITH ORDINALITY k(attnum, n) "
        f"JOIN pg_attribute a ON a.attrelid = c.{table} AND a.attnum = k.attnum ORDER BY k.n)"
    )


def _foreign_keys(cursor) -> list[tuple[str, str, str, list[str], str, list[str]]]:
    """(table, name, definition, columns, referenced table, referenced columns) of every FK."""
    cursor.execute(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), "
        f"{_columns('conkey', 'conrelid')}, c.confrelid::regclass::text, "
        f"{_columns('confkey', 'confrelid')} "
        "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE c.contype = 'f' AND n.nspname = current_schema() AND c.conparentid = 0 "
        "ORDER BY 1, 2"
    )
    return cursor.fetchall()


def _keys(cursor, table: str) -> list[tuple[str, str, list[str]]]:
    """(name, 'p' or 'u', columns) of the table's primary key and unique constraints."""
    cursor.execute(
        f"SELECT c.conname, c.contype, {_columns('conkey', 'conrelid')} "
        "FROM pg_constraint c WHERE c.conrelid = %s::regclass AND c.contype IN ('p', 'u') "
        "ORDER BY c.contype, c.conname",
        [table],
    )
    return cursor.fetchall()


def _fill(table: str, source: tuple) -> list[str]:
    fallback = f"'{PROVINCE_LEVEL}'"
    if source[0] == "expr":
        expression = f"coalesce(nullif({source[1]}, ''), {fallback})"
        return [f"UPDATE {_q(table)} t SET {COLUMN} = {expression}"]
    _kind, column, parent, *own = source
    own_expression = f"nullif({own[0]}, '')" if own else "NULL"
    return [
        f"UPDATE {_q(table)} t SET {COLUMN} = coalesce(p.{COLUMN}, {own_expression}, {fallback}) "
        f"FROM {_q(parent)} p WHERE p.id = t.{_q(column)}",
        f"UPDATE {_q(table)} t SET {COLUMN} = coalesce({own_expression}, {fallback}) "
        f"WHERE t.{COLUMN} IS NULL",
    ]


def make_plan(connection) -> CitusPlan:
    """The plan for the schema ``connection`` sees (PostgreSQL)."""
    plan = CitusPlan(blockers=list(KNOWN_BLOCKERS))
    distributed = set(DISTRIBUTED)
    reference = set(REFERENCE)
    with connection.cursor() as cursor:
        fks = _foreign_keys(cursor)
        triggers = {}
        for table in DISTRIBUTED:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal "
                "AND tgtype & 16 = 16 AND tgparentid = 0",  # UPDATE triggers
                [table],
            )
            triggers[table] = [row[0] for row in cursor.fetchall()]
        keys = {table: _keys(cursor, table) for table in DISTRIBUTED}
        cursor.execute(
            "SELECT ix.indrelid::regclass::text, ix.indexrelid::regclass::text FROM pg_index ix "
            "WHERE ix.indisunique AND ix.indrelid = ANY(%s::regclass[]) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)",
            [list(DISTRIBUTED)],
        )
        for table, index in cursor.fetchall():
            plan.blockers.append(
                f"{table}: unique index {index} (not a constraint, left as it is) must "
                f"include {COLUMN}"
            )
        partition_keys = {}
        for table in DISTRIBUTED:
            cursor.execute(
                "SELECT a.attname FROM pg_partitioned_table p JOIN pg_attribute a "
                "ON a.attrelid = p.partrelid AND a.attnum = ANY(p.partattrs::int2[]) "
                "WHERE p.partrelid = %s::regclass",
                [table],
            )
            partition_keys[table] = [row[0] for row in cursor.fetchall()]

    prep = plan.preparation
    for table, source in DISTRIBUTED.items():
        prep.append(f"ALTER TABLE {_q(table)} ADD COLUMN {COLUMN} varchar(6)")
        # The audit trail refuses UPDATE by trigger; filling the new column changes no
        # hashed field, so the chain stays valid.
        for trigger in triggers[table]:
            prep.append(f"ALTER TABLE {_q(table)} DISABLE TRIGGER {_q(trigger)}")
        prep.extend(_fill(table, source))
        for trigger in triggers[table]:
            prep.append(f"ALTER TABLE {_q(table)} ENABLE TRIGGER {_q(trigger)}")
        prep.append(f"ALTER TABLE {_q(table)} ALTER COLUMN {COLUMN} SET NOT NULL")

    # Every foreign key into a distributed table is dropped first (its key is rebuilt);
    # those between distributed tables come back with the county in them.
    readd = []
    for table, name, _definition, columns, target, target_columns in fks:
        if target not in distributed:
            if table in distributed and target not in reference:
                plan.blockers.append(
                    f"{table}.{','.join(columns)} -> {target}: a distributed table points at a "
                    f"local one (make {target} distributed or reference, or drop the constraint)"
                )
            if table in reference and target not in reference:
                plan.blockers.append(
                    f"{table}.{','.join(columns)} -> {target}: a reference table may point at "
                    "reference tables only"
                )
            continue
        prep.append(f"ALTER TABLE {_q(table)} DROP CONSTRAINT {_q(name)}")
        if table in distributed:
            here = ", ".join(_q(c) for c in [COLUMN, *columns])
            there = ", ".join(_q(c) for c in [COLUMN, *target_columns])
            readd.append(
                f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} FOREIGN KEY ({here}) "
                f"REFERENCES {_q(target)} ({there}) DEFERRABLE INITIALLY DEFERRED"
            )
        else:
            plan.blockers.append(
                f"{table}.{','.join(columns)} -> {target}: a "
                f"{'reference' if table in reference else 'local'} table points at a "
                f"distributed one (dropped above; {table} must be distributed too, or lose "
                "the constraint)"
            )
    for table in DISTRIBUTED:
        for name, kind, columns in keys[table]:
            keyed = [COLUMN, *[c for c in columns if c != COLUMN]]
            keyed += [c for c in partition_keys[table] if c not in keyed]
            word = "PRIMARY KEY" if kind == "p" else "UNIQUE"
            prep.append(f"ALTER TABLE {_q(table)} DROP CONSTRAINT {_q(name)}")
            prep.append(
                f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} "
                f"{word} ({', '.join(_q(c) for c in keyed)})"
            )
    prep.extend(readd)

    plan.citus_calls = [f"SELECT create_reference_table('{table}')" for table in REFERENCE]
    first, *others = DISTRIBUTED
    plan.citus_calls.append(f"SELECT create_distributed_table('{first}', '{COLUMN}')")
    plan.citus_calls += [
        f"SELECT create_distributed_table('{table}', '{COLUMN}', colocate_with => '{first}')"
        for table in others
    ]
    return plan
