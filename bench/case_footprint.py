"""Rows and bytes per case on a loaded PostgreSQL database (docs/scaling.md, issue 11).

    DATABASE_URL=postgres://… .venv/bin/python bench/case_footprint.py

Reads the database as it is (load the demo and its cases first: ``load_demo`` then
``load_demo_cases``): for every table that grows with the cases, its rows and its total size
(heap, TOAST and indexes, all partitions), divided by the number of cases; then the sum, and
what that makes for a county (500,000 cases a year), a prefecture (10 counties) and a
province (50 million cases a year). Run ``VACUUM ANALYZE`` before for stable sizes.
"""

from __future__ import annotations

import os
import sys

import django

TABLES = [
    "cases_case",
    "cases_caseaction",
    "cases_casereporter",
    "cases_assignment",
    "cases_attachment",
    "cases_supervision",
    "cases_extensionrequest",
    "cases_leaderinstruction",
    "cases_notification",
    "webhooks_webhookdelivery",
    "open311_servicerequest",
    "core_auditevent",
    "analytics_casedayrollup",
]
SCALES = [("county", 500_000), ("prefecture", 5_000_000), ("province", 50_000_000)]


def _size(cursor, table: str) -> tuple[int, int]:
    """(rows, bytes) of a table, its partitions included."""
    cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 (names above)
    rows = cursor.fetchone()[0]
    # pg_partition_tree lists a partitioned table's partitions, nothing for a plain table.
    cursor.execute(
        "SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(%s)),"
        " pg_total_relation_size(%s))",
        [table, table],
    )
    return rows, int(cursor.fetchone()[0])


def main() -> int:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicgrid.settings")
    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        print("needs PostgreSQL (DATABASE_URL)")
        return 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(t) IS NOT NULL FROM unnest(%s::text[]) t", [TABLES])
        present = [t for t, ok in zip(TABLES, [r[0] for r in cursor.fetchall()], strict=True) if ok]
        cases = _size(cursor, "cases_case")[0]
        if not cases:
            print("no cases: load_demo_cases first")
            return 2
        print(f"{cases:,} cases in {connection.settings_dict['NAME']}")
        print(f"{'table':28} {'rows':>10} {'rows/case':>9} {'MB':>8} {'bytes/case':>10}")
        total_rows = total_bytes = 0
        for table in present:
            rows, size = _size(cursor, table)
            total_rows += rows
            total_bytes += size
            print(
                f"{table:28} {rows:>10,} {rows / cases:>9.2f} {size / 2**20:>8.1f} "
                f"{size / cases:>10,.0f}"
            )
        print(
            f"{'all of them':28} {total_rows:>10,} {total_rows / cases:>9.2f} "
            f"{total_bytes / 2**20:>8.1f} {total_bytes / cases:>10,.0f}"
        )
        per_case = total_bytes / cases
        for name, per_year in SCALES:
            print(
                f"{name}: {per_year:,} cases a year ≈ {per_year * per_case / 2**30:,.1f} GiB a year"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
