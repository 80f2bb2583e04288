"""Millions of cases over a province's worth of counties, written by PostgreSQL itself.

Used by ``scale_pages.py`` and ``province_kpis.py`` (issue 11). ``scratch_database`` sets
Django up on a database ``test_<name>_<label>`` next to the one ``DATABASE_URL`` names (dropped
at the end unless ``keep``; a kept one is reused by the next run with the same label).
``load_province`` then writes:

- 89 more counties (``Region`` rows, level county, codes ``33CCKK`` that no real code of the
  demo uses) beside the demo county (``330281``, loaded first by the caller), with a skewed
  share of the cases: county ``i`` of the others gets a weight ``1 / (i + 1) ** 0.9`` (the
  urban ones are busier), and the demo county ``home_share`` of all cases;
- ``n`` cases reported over the ``days`` days before now, one ``INSERT … SELECT
  generate_series`` per ``chunk``: the demo county's on its real grids (and owned by their
  township), the others' on made-up 15-digit grid codes of 20 townships each (no grid row);
  categories skewed (a few make most cases); states by age — a case older than 30 days is
  nearly always closed or archived, a recent one often still open; deadlines of 4 h to 10
  days, closures around them (some late), satisfaction, escalations and hard cases as in a
  real year;
- for the demo county's cases, the lead dispatch of about half of them and their timeline
  (reported, accepted, closed steps) — what its pages read;

with the case table's secondary indexes dropped during the load and rebuilt afterwards (one
sort per index, several times faster than keeping them up row by row), then ``VACUUM
ANALYZE``. PostgreSQL only.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from contextlib import contextmanager

HOME = "330281"
COUNTIES = 90


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def scratch_database(database_url: str, label: str, *, keep: bool = False):
    """Django on ``test_<name>_<label>`` beside the PostgreSQL database of ``database_url``;
    yields True if that database was already there (kept by an earlier run)."""
    if not database_url.startswith("postgres"):
        raise SystemExit("a PostgreSQL --database-url (or DATABASE_URL) is needed")
    import tempfile

    workdir = tempfile.mkdtemp(prefix="civicgrid-bulk-")
    os.environ["CIVICGRID_VAR_DIR"] = workdir
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicgrid.settings")
    import django

    django.setup()
    import psycopg
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    name = f"test_{connection.settings_dict['NAME']}_{label}"
    existed = False
    if keep:
        base = connection.settings_dict
        with psycopg.connect(
            host=base["HOST"] or None,
            port=base["PORT"] or None,
            user=base["USER"] or None,
            password=base["PASSWORD"] or None,
            dbname="postgres",
        ) as probe:
            existed = bool(
                probe.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            )
    connection.settings_dict.setdefault("TEST", {})["NAME"] = name
    old = setup_databases(verbosity=0, interactive=False, keepdb=keep, serialized_aliases=set())
    try:
        yield existed
    finally:
        connection.close()
        if keep:
            progress(f"kept database {name}")
        else:
            teardown_databases(old, verbosity=0)
        shutil.rmtree(workdir, ignore_errors=True)


def _county_codes(count: int) -> list[str]:
    codes = []
    for city in range(1, 12):
        for county in range(1, 10):
            code = f"33{city:02d}{county:02d}"
            if code != HOME:
                codes.append(code)
    return codes[:count]


def make_counties(count: int = COUNTIES) -> list[str]:
    """The other counties' ``Region`` rows (idempotent); their codes, busiest first."""
    from civicgrid.regions.models import Region

    codes = _county_codes(count - 1)
    existing = set(Region.objects.filter(code__in=codes).values_list("code", flat=True))
    Region.objects.bulk_create(
        [
            Region(code=code, name=f"县{i + 1:02d}", level="county", division_type="县")
            for i, code in enumerate(codes)
            if code not in existing
        ]
    )
    return codes


def _weights(codes: list[str], home_share: float) -> list[tuple[str, float]]:
    raw = [1 / (i + 1) ** 0.9 for i in range(len(codes))]
    total = sum(raw)
    others = [(c, (1 - home_share) * w / total) for c, w in zip(codes, raw, strict=True)]
    return [(HOME, home_share), *others]


def _slots(cursor, table: str, weighted: list[tuple[object, float]], size: int) -> None:
    """A table ``slot → value`` of ``size`` rows where each value fills its weight's share:
    a uniform random slot then picks values with the weights (an equality join)."""
    cursor.execute(f"CREATE TEMP TABLE {table} (slot integer PRIMARY KEY, v text)")
    total = sum(w for _v, w in weighted)
    rows, edge = [], 0.0
    for value, weight in weighted:
        edge += weight / total * size
        while len(rows) < min(size, round(edge)):
            rows.append((len(rows), str(value)))
    while len(rows) < size:
        rows.append((len(rows), str(weighted[-1][0])))
    cursor.executemany(f"INSERT INTO {table} (slot, v) VALUES (%s, %s)", rows)


OLD_STATES = {  # reported more than 30 days ago
    "archived": 78,
    "closed": 3,
    "filed": 4,
    "rejected": 5,
    "merged": 4,
    "suspended": 2,
    "in_progress": 2,
    "dispatched": 1,
    "review": 1,
}
NEW_STATES = {  # the last 30 days
    "archived": 30,
    "closed": 15,
    "review": 5,
    "feedback": 4,
    "in_progress": 20,
    "dispatched": 10,
    "accepted": 3,
    "reported": 5,
    "rejected": 4,
    "merged": 2,
    "suspended": 2,
}
CLOSED = ("archived", "closed", "review", "filed", "rejected", "merged")
NOT_ACCEPTED = ("reported", "rejected", "merged")


def _sql_list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _case_indexes(cursor) -> list[tuple[str, str]]:
    """(name, CREATE INDEX …) of the case table's indexes that back no constraint."""
    cursor.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = 'cases_case'::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
        """
    )
    return cursor.fetchall()


def load_province(
    n: int,
    *,
    days: int = 365,
    home_share: float = 0.02,
    chunk: int = 500_000,
    seed: int = 20261127,
) -> dict:
    """Write ``n`` cases over ``COUNTIES`` counties (see the module). The demo county must be
    loaded. Returns ``{"seconds", "home_cases", "counties"}``."""
    from django.db import connection, transaction
    from django.utils import timezone

    codes = make_counties()
    started = time.perf_counter()
    end = timezone.now().replace(microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
        _slots(cursor, "bulk_county", _weights(codes, home_share), 10_000)
        cursor.execute(
            "SELECT id FROM cases_category WHERE parent_id IS NOT NULL AND active ORDER BY id"
        )
        categories = [row[0] for row in cursor.fetchall()]
        _slots(cursor, "bulk_cat", [(c, 1 / (i + 1)) for i, c in enumerate(categories)], 1000)
        for name, table in (("old", OLD_STATES), ("new", NEW_STATES)):
            _slots(cursor, f"bulk_{name}", list(table.items()), 100)
        cursor.execute(
            "CREATE TEMP TABLE bulk_grid AS SELECT (row_number() OVER (ORDER BY id) - 1)::int "
            "AS i, id, code FROM regions_grid WHERE kind <> 'micro' AND code LIKE %s",
            [HOME + "%"],
        )
        cursor.execute("SELECT count(*) FROM bulk_grid")
        grids = cursor.fetchone()[0]
        cursor.execute(
            "CREATE TEMP TABLE bulk_dept AS SELECT (row_number() OVER (ORDER BY id) - 1)::int "
            "AS i, id FROM people_department WHERE code LIKE %s",
            [HOME + "%"],
        )
        cursor.execute("SELECT count(*) FROM bulk_dept")
        depts = cursor.fetchone()[0]
        cursor.execute("SELECT coalesce(max(id), 0) FROM cases_case")
        first_id = cursor.fetchone()[0]
        indexes = _case_indexes(cursor)
        for name, _sql in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("ANALYZE bulk_county, bulk_cat, bulk_old, bulk_new, bulk_grid")
    progress(f"dropped {len(indexes)} case indexes for the load; {grids} home grids")
    for first in range(1, n + 1, chunk):
        last = min(n, first + chunk - 1)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO cases_case (code, state, version, channel, category_id, description,
                    urgent, address, grid_id, region_code, level, unit_code, accepted_at,
                    resolve_deadline, extension_days, closed_at, rework_count, reopen_count,
                    escalation_count, supervised, hard_case, satisfaction, created, updated)
                SELECT y.code, y.st, 1, y.ch, y.cat, 'bulk', y.r1 < 0.03, '', y.grid_id,
                    y.region, y.lv, CASE WHEN y.lv = 'county' THEN substr(y.region, 1, 6)
                        ELSE substr(y.region, 1, 9) END,
                    CASE WHEN y.st IN ({_sql_list(NOT_ACCEPTED)}) THEN NULL
                         ELSE y.created + interval '20 minutes' END,
                    CASE WHEN y.st IN ({_sql_list(NOT_ACCEPTED)}) THEN NULL
                         ELSE y.created + y.hrs * interval '1 hour' END,
                    0,
                    CASE WHEN y.st IN ('rejected', 'merged') THEN y.created + interval '1 hour'
                         WHEN y.st IN ({_sql_list(CLOSED)}) THEN least(
                            %(end)s - interval '1 minute',
                            y.created + y.hrs * (0.1 + y.r2 * 1.25) * interval '1 hour')
                    END,
                    0, 0, CASE WHEN y.r3 < 0.06 THEN 1 ELSE 0 END,
                    CASE WHEN y.r3 > 0.995 THEN 3 ELSE 0 END, y.r4 < 0.01,
                    CASE WHEN y.st = 'archived' AND y.r4 < 0.7 THEN
                        (ARRAY['satisfied', 'satisfied', 'satisfied', 'satisfied', 'satisfied',
                               'satisfied', 'satisfied', 'basically_satisfied',
                               'basically_satisfied', 'dissatisfied'])[1 + floor(y.r1 * 10)::int]
                        ELSE '' END,
                    y.created, y.created
                FROM (
                    SELECT 'P' || lpad(x.s::text, 9, '0') AS code, x.created,
                        CASE WHEN x.created < %(end)s - interval '30 days' THEN o.v ELSE w.v END
                            AS st,
                        (ARRAY['grid_worker', 'grid_worker', 'grid_worker', 'resident',
                               'hotline_12345', 'hotline_12345', 'co_governance', 'department',
                               'open311', 'hotline_12348'])[1 + floor(x.r1 * 10)::int] AS ch,
                        c.v::bigint AS cat, g.id AS grid_id,
                        CASE WHEN k.v = %(home)s THEN g.code
                             ELSE k.v || lpad((1 + x.t)::text, 3, '0')
                                 || lpad((1 + mod(x.gi, 15))::text, 3, '0')
                                 || lpad((1 + mod(x.gi, 7))::text, 3, '0') END AS region,
                        (ARRAY['grid', 'grid', 'village', 'town', 'town', 'county'])
                            [1 + floor(x.r2 * 6)::int] AS lv,
                        (ARRAY[4, 24, 72, 120, 240])[1 + floor(x.r3 * 5)::int] AS hrs,
                        x.r1, x.r2, x.r3, x.r4
                    FROM (
                        SELECT s, %(end)s - random() * %(days)s * interval '1 day' AS created,
                            floor(random() * 10000)::int AS ks, floor(random() * 1000)::int AS cs,
                            floor(random() * 100)::int AS ss, floor(random() * 20)::int AS t,
                            floor(random() * %(grids)s)::int AS gi, random() AS r1,
                            random() AS r2, random() AS r3, random() AS r4
                        FROM generate_series(%(first)s, %(last)s) AS s
                    ) AS x
                    JOIN bulk_county k ON k.slot = x.ks
                    JOIN bulk_cat c ON c.slot = x.cs
                    JOIN bulk_old o ON o.slot = x.ss
                    JOIN bulk_new w ON w.slot = x.ss
                    LEFT JOIN bulk_grid g ON k.v = %(home)s AND g.i = x.gi
                ) AS y
                """,
                {
                    "end": end,
                    "days": days,
                    "grids": grids,
                    "home": HOME,
                    "first": first_id + first,
                    "last": first_id + last,
                },
            )
        rate = last / (time.perf_counter() - started)
        progress(f"{last:,}/{n:,} cases written ({rate:,.0f}/s)")
    with connection.cursor() as cursor:
        # this session only: the index sorts in memory (24 GB machine) instead of in runs on
        # disk; what is built is the same
        cursor.execute("SET maintenance_work_mem = '1GB'")
        for name, sql in indexes:
            step = time.perf_counter()
            cursor.execute(sql)
            progress(f"index {name} rebuilt in {time.perf_counter() - step:.0f}s")
        home = f"k.region_code LIKE '{HOME}%%' AND k.id > %s"
        cursor.execute(
            f"""
            INSERT INTO cases_assignment (case_id, department_id, role, state, dispatched_at,
                sign_deadline, signed_at, return_reason, return_text, forced, active)
            SELECT k.id, d.id, 'lead',
                CASE WHEN k.closed_at IS NOT NULL THEN 'done' ELSE 'signed' END,
                k.accepted_at + interval '10 minutes', k.accepted_at + interval '2 hours',
                k.accepted_at + interval '70 minutes', '', '', false, true
            FROM cases_case k JOIN bulk_dept d ON d.i = mod(k.id, {max(depts, 1)})
            WHERE {home} AND k.accepted_at IS NOT NULL AND k.level IN ('town', 'county')
            """,
            [first_id],
        )
        for action, start, to, when, condition in (
            ("report", "", "reported", "created", "true"),
            ("accept", "reported", "accepted", "accepted_at", "accepted_at IS NOT NULL"),
            ("close", "feedback", "state", "closed_at", "closed_at IS NOT NULL"),
        ):
            cursor.execute(
                f"""
                INSERT INTO cases_caseaction (case_id, action, actor_name, role, unit_code,
                    from_state, to_state, text, data, created)
                SELECT id, '{action}', 'bulk', '', unit_code, '{start}',
                    {"state" if to == "state" else f"'{to}'"}, '', '{{}}', {when}
                FROM cases_case k WHERE {home} AND {condition}
                """,
                [first_id],
            )
        cursor.execute(f"SELECT count(*) FROM cases_case k WHERE {home}", [first_id])
        home_cases = cursor.fetchone()[0]
    progress("VACUUM ANALYZE …")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    seconds = time.perf_counter() - started
    progress(f"{n:,} cases ready in {seconds:.0f}s ({home_cases:,} in {HOME})")
    return {"seconds": seconds, "home_cases": home_cases, "counties": len(codes) + 1}
