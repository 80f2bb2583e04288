"""Benchmark: the monthly report (月专题) of the whole county over N cases, against one
hand-written SQL aggregate that produces the same KPI table.

Usage::

    .venv/bin/python bench/monthly_report.py [--cases 1000000] [--month 2026-10]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/civicgrid \
        .venv/bin/python bench/monthly_report.py --cases 1000000

Without a database URL (``--database-url`` or ``DATABASE_URL``) it migrates a fresh SQLite
file in a temporary directory; with a PostgreSQL URL it creates a throwaway database next to
the named one and drops it at the end. It loads the demo county (scale 0.05: 21 townships,
75 grids, the categories and departments), then writes ``--cases`` cases spread over the 400
days before the month's end — states, deadlines, closures, satisfaction, escalations, hard
cases as in a real year — and a lead department dispatch for about half of them, with one
``INSERT … SELECT`` per 100,000 (``generate_series`` on PostgreSQL, a recursive counter on
SQLite; ``bulk_create`` below 50,000 cases on SQLite), and runs ``ANALYZE``.

Then it times (best of ``--repeat``):

1. ``reports.build_monthly``: the whole monthly report of the county — KPI table for the month,
   last month and the same month last year, 13-month trend, township × category heat table,
   department and township league tables, the theme in depth — as the ``reports`` command
   makes it;
2. one SQL statement (``SUM(CASE …)`` over the case table) giving the case KPIs of the KPI
   table (受理率, 办结率, 按期办结率, 超期率, 提级率, 满意率, 重复件率, 就地办结率, 攻坚办结率) for
   the three periods.

It prints both times, the ratio, whether the report meets the 2 s target (PostgreSQL), and
checks that the two agree on every value (exit 1 if not). ``--check`` also exits 3 when the
report takes longer than ``--target`` seconds. Progress goes to stderr.
"""

import argparse
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The KPIs the SQL reproduces: code → (numerator, denominator) counters of the case table.
CASE_KPIS = {
    "accept_rate": ("accepted", "intake"),
    "closed_rate": ("closed", "due"),
    "on_time_rate": ("on_time", "due"),
    "overdue_rate": ("overdue", "due"),
    "escalation_rate": ("escalated", "accepted"),
    "satisfaction_rate": ("satisfied", "evaluated"),
    "duplicate_rate": ("merged", "intake"),
    "self_closed_rate": ("self_closed", "closed"),
    "hard_case_closed_rate": ("hard_closed", "hard"),
}
BATCH = 20_000


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--month", default="", help="YYYY-MM (default: last month)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best counts")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--target", type=float, default=2.0, help="seconds (PostgreSQL)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--check", action="store_true", help="exit 3 if over --target")
    parser.add_argument("--profile", action="store_true", help="time the report's parts too")
    args = parser.parse_args()

    from _setup import throwaway_database

    with throwaway_database(args.database_url):
        return _run(args)


def _month(value: str) -> date:
    from django.utils import timezone

    if value:
        year, month = (int(p) for p in value.split("-"))
        return date(year, month, 1)
    return (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)


def _generate_sql(n: int, month: date, seed: int) -> None:
    """PostgreSQL: the same kind of cases written by ``INSERT … SELECT generate_series`` in
    chunks (bulk_create runs at a few thousand rows a second; this at tens of thousands)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from civicgrid.analytics.reports import period_of

    tz = timezone.get_current_timezone()
    end = datetime.combine(
        period_of("monthly", month)[1] + timedelta(days=1), datetime.min.time(), tzinfo=tz
    )
    states = (
        ["archived"] * 60
        + ["closed"] * 8
        + ["in_progress"] * 10
        + ["dispatched"] * 5
        + ["reported"] * 3
        + ["rejected"] * 4
        + ["merged"] * 4
        + ["filed"] * 3
        + ["suspended"] * 3
    )
    channels = [
        "grid_worker",
        "resident",
        "co_governance",
        "hotline_12345",
        "hotline_12348",
        "department",
        "api",
        "open311",
    ]
    satisfaction = ["satisfied"] * 7 + ["basically_satisfied"] * 2 + ["dissatisfied"]

    def array(values):
        return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"

    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
        cursor.execute(
            "CREATE TEMP TABLE bench_grid AS SELECT row_number() OVER (ORDER BY id) - 1 AS i, "
            "id, code FROM regions_grid WHERE kind <> 'micro'"
        )
        cursor.execute(
            "CREATE TEMP TABLE bench_cat AS SELECT row_number() OVER (ORDER BY id) - 1 AS i, "
            "id FROM cases_category WHERE parent_id IS NOT NULL"
        )
        cursor.execute(
            "CREATE TEMP TABLE bench_dept AS SELECT row_number() OVER (ORDER BY id) - 1 AS i, "
            "id FROM people_department"
        )
        cursor.execute(
            "SELECT (SELECT count(*) FROM bench_grid), (SELECT count(*) FROM bench_cat), "
            "(SELECT count(*) FROM bench_dept)"
        )
        grids, cats, depts = cursor.fetchone()
    chunk = 100_000
    started = time.perf_counter()
    for first in range(1, n + 1, chunk):
        last = min(n, first + chunk - 1)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO cases_case (code, state, version, channel, category_id, description,
                    urgent, address, grid_id, region_code, level, unit_code, accepted_at,
                    resolve_deadline, extension_days, closed_at, rework_count, reopen_count,
                    escalation_count, supervised, hard_case, satisfaction, created, updated)
                SELECT 'B' || lpad(x.s::text, 9, '0'), x.st, 1, x.ch, c.id, 'bench',
                    random() < 0.03, '', g.id, g.code, x.lv, substr(g.code, 1, 9),
                    CASE WHEN x.st IN ('reported', 'rejected', 'merged') THEN NULL
                         ELSE x.created + interval '20 minutes' END,
                    CASE WHEN x.st IN ('reported', 'rejected', 'merged') THEN NULL
                         ELSE x.created + x.hrs * interval '1 hour' END,
                    0,
                    CASE WHEN x.st IN ('archived', 'closed', 'filed')
                         THEN x.created + x.hrs * (0.1 + random() * 1.3) * interval '1 hour' END,
                    0, 0, CASE WHEN random() < 0.08 THEN 1 ELSE 0 END,
                    CASE WHEN random() < 0.005 THEN 3 ELSE 0 END, random() < 0.01,
                    CASE WHEN x.st = 'archived' AND random() < 0.7
                         THEN ({array(satisfaction)})[1 + floor(random() * 10)::int]
                         ELSE '' END,
                    x.created, now()
                FROM (
                    SELECT s, %s::timestamptz - random() * interval '400 days' AS created,
                        ({array(states)})[1 + floor(random() * {len(states)})::int] AS st,
                        (ARRAY[4, 24, 72, 240])[1 + floor(random() * 4)::int] AS hrs,
                        ({array(channels)})[1 + floor(random() * {len(channels)})::int] AS ch,
                        (ARRAY['grid', 'village', 'town', 'county'])[1 + floor(random() * 4)::int]
                            AS lv,
                        floor(random() * {grids})::int AS gi,
                        floor(random() * {cats})::int AS ci
                    FROM generate_series(%s, %s) AS s
                ) AS x
                JOIN bench_grid g ON g.i = x.gi
                JOIN bench_cat c ON c.i = x.ci
                """,
                [end, first, last],
            )
            cursor.execute(
                f"""
                INSERT INTO cases_assignment (case_id, department_id, role, state, dispatched_at,
                    sign_deadline, signed_at, return_reason, return_text, forced, active)
                SELECT k.id, d.id, 'lead',
                    CASE WHEN k.state IN ('archived', 'closed') THEN 'done' ELSE 'signed' END,
                    k.created + interval '30 minutes', k.created + interval '2 hours',
                    k.created + interval '90 minutes', '', '', false, true
                FROM cases_case k JOIN bench_dept d ON d.i = mod(k.id, {depts})
                WHERE k.code BETWEEN %s AND %s AND random() < 0.5
                """,
                ["B" + str(first).zfill(9), "B" + str(last).zfill(9)],
            )
        rate = last / (time.perf_counter() - started)
        progress(f"{last:,}/{n:,} cases written ({rate:,.0f}/s)")
    with connection.cursor() as cursor:
        # VACUUM as autovacuum would soon after a load: until then an index-only scan of the
        # KPI covering index still visits every table page (the visibility map is empty).
        cursor.execute("VACUUM ANALYZE")


def _generate_sqlite(n: int, month: date, seed: int) -> None:
    """SQLite: the same with ``INSERT … SELECT`` over a recursive counter (datetimes are UTC
    text, as Django writes them); ``random()`` is not seedable there."""
    from django.db import connection, transaction
    from django.utils import timezone

    from civicgrid.analytics.reports import period_of

    tz = timezone.get_current_timezone()
    end = datetime.combine(
        period_of("monthly", month)[1] + timedelta(days=1), datetime.min.time(), tzinfo=tz
    )
    end_text = end.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    weights = {
        "state": [
            ("archived", 60),
            ("closed", 8),
            ("in_progress", 10),
            ("dispatched", 5),
            ("reported", 3),
            ("rejected", 4),
            ("merged", 4),
            ("filed", 3),
            ("suspended", 3),
        ],
        "channel": [
            (c, 1)
            for c in (
                "grid_worker",
                "resident",
                "co_governance",
                "hotline_12345",
                "hotline_12348",
                "department",
                "api",
                "open311",
            )
        ],
        "level": [(v, 1) for v in ("grid", "village", "town", "county")],
        "hrs": [(v, 1) for v in ("4", "24", "72", "240")],
        "sat": [("satisfied", 7), ("basically_satisfied", 2), ("dissatisfied", 1)],
    }
    with connection.cursor() as cursor:
        for name, pairs in weights.items():
            cursor.execute(f"CREATE TEMP TABLE bench_{name} (i INTEGER PRIMARY KEY, v TEXT)")
            values = [v for v, w in pairs for _ in range(w)]
            cursor.executemany(
                f"INSERT INTO bench_{name} (i, v) VALUES (%s, %s)", list(enumerate(values))
            )
        for table, sql in (
            ("grid", "SELECT id, code FROM regions_grid WHERE kind <> 'micro' ORDER BY id"),
            ("cat", "SELECT id, '' FROM cases_category WHERE parent_id IS NOT NULL ORDER BY id"),
            ("dept", "SELECT id, '' FROM people_department ORDER BY id"),
        ):
            cursor.execute(f"CREATE TEMP TABLE bench_{table} (i INTEGER PRIMARY KEY, id, code)")
            cursor.execute(sql)
            rows = cursor.fetchall()
            cursor.executemany(
                f"INSERT INTO bench_{table} (i, id, code) VALUES (%s, %s, %s)",
                [(i, *row) for i, row in enumerate(rows)],
            )
        sizes = {}
        for name in [*weights, "grid", "cat", "dept"]:
            cursor.execute(f"SELECT count(*) FROM bench_{name}")
            sizes[name] = cursor.fetchone()[0]

    def pick(name):
        return f"(abs(random()) %% {sizes[name]})"

    chunk = 100_000
    started = time.perf_counter()
    for first in range(1, n + 1, chunk):
        last = min(n, first + chunk - 1)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH RECURSIVE counter(s) AS (
                    SELECT %s UNION ALL SELECT s + 1 FROM counter WHERE s < %s
                ), x AS (
                    SELECT s,
                        datetime(%s, '-' || (abs(random()) %% (400 * 86400)) || ' seconds')
                            AS created,
                        {pick("state")} AS si, {pick("channel")} AS chi, {pick("level")} AS li,
                        {pick("hrs")} AS hi, {pick("sat")} AS sai, {pick("grid")} AS gi,
                        {pick("cat")} AS ci, abs(random()) %% 1000000 / 1000000.0 AS r
                    FROM counter
                )
                INSERT INTO cases_case (code, state, version, channel, category_id, description,
                    urgent, address, grid_id, region_code, level, unit_code, accepted_at,
                    resolve_deadline, extension_days, closed_at, rework_count, reopen_count,
                    escalation_count, supervised, hard_case, satisfaction, created, updated)
                SELECT 'B' || substr('000000000' || x.s, -9), st.v, 1, ch.v, c.id, 'bench',
                    abs(random()) %% 100 < 3, '', g.id, g.code, lv.v, substr(g.code, 1, 9),
                    CASE WHEN st.v IN ('reported', 'rejected', 'merged') THEN NULL
                         ELSE datetime(x.created, '+20 minutes') END,
                    CASE WHEN st.v IN ('reported', 'rejected', 'merged') THEN NULL
                         ELSE datetime(x.created, '+' || h.v || ' hours') END,
                    0,
                    CASE WHEN st.v IN ('archived', 'closed', 'filed')
                         THEN datetime(x.created, '+' || CAST(h.v * 3600 * (0.1 + x.r * 1.3)
                              AS INTEGER) || ' seconds') END,
                    0, 0, abs(random()) %% 100 < 8, CASE WHEN abs(random()) %% 1000 < 5
                    THEN 3 ELSE 0 END, abs(random()) %% 100 < 1,
                    CASE WHEN st.v = 'archived' AND x.r < 0.7 THEN sa.v ELSE '' END,
                    x.created, datetime('now')
                FROM x
                JOIN bench_state st ON st.i = x.si
                JOIN bench_channel ch ON ch.i = x.chi
                JOIN bench_level lv ON lv.i = x.li
                JOIN bench_hrs h ON h.i = x.hi
                JOIN bench_sat sa ON sa.i = x.sai
                JOIN bench_grid g ON g.i = x.gi
                JOIN bench_cat c ON c.i = x.ci
                """,
                [first, last, end_text],
            )
            cursor.execute(
                f"""
                INSERT INTO cases_assignment (case_id, department_id, role, state, dispatched_at,
                    sign_deadline, signed_at, return_reason, return_text, forced, active)
                SELECT k.id, d.id, 'lead',
                    CASE WHEN k.state IN ('archived', 'closed') THEN 'done' ELSE 'signed' END,
                    datetime(k.created, '+30 minutes'), datetime(k.created, '+2 hours'),
                    datetime(k.created, '+90 minutes'), '', '', 0, 1
                FROM cases_case k JOIN bench_dept d ON d.i = k.id %% {sizes["dept"]}
                WHERE k.code BETWEEN %s AND %s AND abs(random()) %% 2 = 0
                """,
                ["B" + str(first).zfill(9), "B" + str(last).zfill(9)],
            )
        rate = last / (time.perf_counter() - started)
        progress(f"{last:,}/{n:,} cases written ({rate:,.0f}/s)")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _generate(n: int, month: date, seed: int) -> None:
    """``n`` cases over the 400 days before the end of ``month``, half of them dispatched."""
    from django.db import connection as _connection

    if _connection.vendor == "postgresql":
        return _generate_sql(n, month, seed)
    if _connection.vendor == "sqlite" and n >= 50_000:
        return _generate_sqlite(n, month, seed)
    from django.db import connection
    from django.utils import timezone

    from civicgrid.analytics.reports import period_of
    from civicgrid.cases import workflow
    from civicgrid.cases.models import Assignment, Case, Category
    from civicgrid.people.models import Department
    from civicgrid.regions.models import Grid

    rng = random.Random(seed)
    grids = list(Grid.objects.exclude(kind="micro").values_list("id", "code"))
    categories = list(Category.objects.filter(parent__isnull=False).values_list("id", flat=True))
    departments = list(Department.objects.values_list("id", flat=True))
    tz = timezone.get_current_timezone()
    end = datetime.combine(
        period_of("monthly", month)[1] + timedelta(days=1), datetime.min.time(), tzinfo=tz
    )
    now = timezone.now()
    span = 400 * 86400
    states = (
        [workflow.ARCHIVED] * 60
        + [workflow.CLOSED] * 8
        + [workflow.IN_PROGRESS] * 10
        + [workflow.DISPATCHED] * 5
        + [workflow.REPORTED] * 3
        + [workflow.REJECTED] * 4
        + [workflow.MERGED] * 4
        + [workflow.FILED] * 3
        + [workflow.SUSPENDED] * 3
    )
    channels = [c for c, _label in Case.Channel.choices]
    satisfaction = ["satisfied"] * 7 + ["basically_satisfied"] * 2 + ["dissatisfied"]
    made = 0
    started = time.perf_counter()
    while made < n:
        cases = []
        for i in range(made, min(n, made + BATCH)):
            created = end - timedelta(seconds=rng.randrange(1, span))
            grid_id, grid_code = grids[rng.randrange(len(grids))]
            state = states[rng.randrange(len(states))]
            hours = rng.choice((4, 24, 72, 240))
            deadline = created + timedelta(hours=hours)
            if abs((deadline - now).total_seconds()) < 7200:  # no deadline near "now"
                deadline += timedelta(hours=3)
            closed = None
            if state in (workflow.ARCHIVED, workflow.CLOSED, workflow.FILED):
                closed = created + timedelta(hours=hours * rng.uniform(0.1, 1.4))
            accepted = state not in (workflow.REPORTED, workflow.REJECTED, workflow.MERGED)
            cases.append(
                Case(
                    code=f"B{i:09d}",
                    state=state,
                    channel=channels[rng.randrange(len(channels))],
                    category_id=categories[rng.randrange(len(categories))],
                    description="bench",
                    urgent=rng.random() < 0.03,
                    grid_id=grid_id,
                    region_code=grid_code,
                    level=rng.choice(("grid", "village", "town", "county")),
                    unit_code=grid_code[:9],
                    accepted_at=created + timedelta(minutes=20) if accepted else None,
                    resolve_deadline=deadline if accepted else None,
                    closed_at=closed,
                    escalation_count=1 if rng.random() < 0.08 else 0,
                    hard_case=rng.random() < 0.01,
                    supervised=3 if rng.random() < 0.005 else 0,
                    satisfaction=satisfaction[rng.randrange(10)]
                    if state == workflow.ARCHIVED and rng.random() < 0.7
                    else "",
                    created=created,
                )
            )
        Case.objects.bulk_create(cases, batch_size=5000)
        if cases[0].pk is None:  # a database that does not return ids from a bulk insert
            by_code = dict(
                Case.objects.filter(code__gte=cases[0].code, code__lte=cases[-1].code).values_list(
                    "code", "id"
                )
            )
            for case in cases:
                case.pk = by_code[case.code]
        ids = [(c.pk, c.created, c.state) for c in cases]
        assignments = [
            Assignment(
                case_id=case_id,
                department_id=departments[rng.randrange(len(departments))],
                role="lead",
                state="done" if state in (workflow.ARCHIVED, workflow.CLOSED) else "signed",
                dispatched_at=created + timedelta(minutes=30),
                signed_at=created + timedelta(minutes=90),
                sign_deadline=created + timedelta(hours=2),
                active=True,
            )
            for case_id, created, state in ids
            if rng.random() < 0.5
        ]
        Assignment.objects.bulk_create(assignments, batch_size=5000)
        made += len(cases)
        rate = made / (time.perf_counter() - started)
        progress(f"{made:,}/{n:,} cases written ({rate:,.0f}/s)")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _sql_kpis(periods: dict, region_code: str) -> dict:
    """One hand-written aggregate: the case counters of each period, then the KPI values."""
    from django.db import connection
    from django.utils import timezone

    from civicgrid.cases import workflow

    ops = connection.ops
    adapt = ops.adapt_datetimefield_value
    params: list = []
    columns = []
    not_due = (workflow.REJECTED, workflow.MERGED, workflow.SUSPENDED)
    due = f"state NOT IN ({', '.join('%s' for _ in not_due)})"
    counters = {
        "intake": "1=1",
        "accepted": "accepted_at IS NOT NULL",
        "due": due,
        "closed": f"{due} AND closed_at IS NOT NULL",
        "on_time": f"{due} AND closed_at IS NOT NULL AND closed_at <= resolve_deadline",
        "overdue": f"{due} AND ((closed_at IS NOT NULL AND closed_at > resolve_deadline) OR "
        f"(closed_at IS NULL AND resolve_deadline < %s))",
        "escalated": "accepted_at IS NOT NULL AND escalation_count > 0",
        "evaluated": "satisfaction <> ''",
        "satisfied": "satisfaction IN ('satisfied', 'basically_satisfied')",
        "merged": "state = %s",
        "self_closed": f"{due} AND closed_at IS NOT NULL AND level IN ('grid', 'village')",
        "hard": f"{due} AND hard_case",
        "hard_closed": f"{due} AND closed_at IS NOT NULL AND hard_case",
    }
    now = adapt(timezone.now())

    def condition_params(name):
        p = []
        if "state NOT IN" in counters[name]:
            p += list(not_due)
        if name == "overdue":
            p.append(now)
        if name == "merged":
            p.append(workflow.MERGED)
        return p

    for key, (since, until) in periods.items():
        for name, condition in counters.items():
            columns.append(
                f"SUM(CASE WHEN created >= %s AND created < %s AND ({condition}) "
                f"THEN 1 ELSE 0 END) AS {key}_{name}"
            )
            params += [adapt(since), adapt(until), *condition_params(name)]
    first = min(s for s, _u in periods.values())
    last = max(u for _s, u in periods.values())
    sql = (
        f"SELECT {', '.join(columns)} FROM cases_case "
        "WHERE region_code LIKE %s AND created >= %s AND created < %s"
    )
    params += [region_code + "%", adapt(first), adapt(last)]
    if connection.vendor == "sqlite":
        sql = sql.replace("AND hard_case", "AND hard_case = 1")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        names = [c[0] for c in cursor.description]
    figures = dict(zip(names, (v or 0 for v in row), strict=True))
    result = {}
    for key in periods:
        for code, (num, den) in CASE_KPIS.items():
            n, d = figures[f"{key}_{num}"], figures[f"{key}_{den}"]
            result[(key, code)] = (100.0 * n / d if d else None, n, d)
    return result


def _best(repeat: int, step):
    best, value = None, None
    for _ in range(repeat):
        started = time.perf_counter()
        value = step()
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return best, value


def _profile(county, month) -> None:
    """Seconds spent in each part of one monthly report (KPI calls, theme, the rest)."""
    from civicgrid.analytics import kpis
    from civicgrid.analytics import reports as R

    spent: dict[str, float] = {}

    def timed(name, function):
        def wrapper(*a, **k):
            started = time.perf_counter()
            try:
                return function(*a, **k)
            finally:
                key = f"{name}({a[0]})" if name == "compute_by" else name
                spent[key] = spent.get(key, 0.0) + time.perf_counter() - started

        return wrapper

    originals = (kpis.compute, kpis.compute_by, R.build_theme, kpis._SOURCES.copy())
    kpis.compute = timed("compute", kpis.compute)
    kpis.compute_by = timed("compute_by", kpis.compute_by)
    R.build_theme = timed("theme", R.build_theme)
    for source, function in list(kpis._SOURCES.items()):
        kpis._SOURCES[source] = timed(f"source {source}", function)
    try:
        started = time.perf_counter()
        R.build_monthly(county, month)
        total = time.perf_counter() - started
    finally:
        kpis.compute, kpis.compute_by, R.build_theme = originals[:3]
        kpis._SOURCES.update(originals[3])
    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<32} {seconds:.3f} s", file=sys.stderr)
    print(f"  {'whole report':<32} {total:.3f} s", file=sys.stderr)


def _run(args) -> int:
    from django.db import connection

    from civicgrid.analytics import reports as R
    from civicgrid.cases.models import Case
    from civicgrid.demo.loader import load_demo
    from civicgrid.regions.models import Region

    progress(f"database: {connection.vendor}; loading the demo county …")
    load_demo(seed=7, scale=0.05, progress=lambda line: None)
    month = _month(args.month)
    progress(f"writing {args.cases:,} cases up to the end of {month:%Y-%m} …")
    started = time.perf_counter()
    _generate(args.cases, month, args.seed)
    progress(f"data ready in {time.perf_counter() - started:.0f}s ({Case.objects.count():,} cases)")

    county = Region.objects.get(level="county")
    last_month = R._add_months(month, -1)
    last_year = R._add_months(month, -12)
    periods = {
        "this": R._bounds(*R.period_of("monthly", month)),
        "last_month": R._bounds(*R.period_of("monthly", last_month)),
        "last_year": R._bounds(*R.period_of("monthly", last_year)),
    }
    progress("timing the monthly report …")
    R.build_monthly(county, month)  # warm-up: imports, calendar, query compilation
    report_s, content = _best(args.repeat, lambda: R.build_monthly(county, month))
    if args.profile:
        _profile(county, month)
    progress("timing the hand-written SQL …")
    sql_s, figures = _best(args.repeat, lambda: _sql_kpis(periods, county.code))

    table = {row["code"]: row for row in content["kpi_table"]}
    disagree = []
    for (key, code), (value, num, den) in figures.items():
        got = table[code][key]
        same = (
            got is not None
            and got["numerator"] == num
            and got["denominator"] == den
            and (value is None) == (got["value"] is None)
            and (value is None or abs(value - got["value"]) < 1e-3)
        )
        if not same:
            disagree.append(f"{key} {code}: report {got}, SQL {(value, num, den)}")

    month_cases = content["totals"]["intake"]
    print(f"database           {connection.vendor}")
    print(f"cases              {args.cases:,} ({month_cases:,} in {month:%Y-%m})")
    print(f"monthly report     {report_s:.3f} s  (whole county, best of {args.repeat})")
    print(f"hand-written SQL   {sql_s:.3f} s  ({len(CASE_KPIS)} KPIs × 3 periods)")
    print(f"ratio              {report_s / sql_s:.1f}×")
    target = "met" if report_s <= args.target else "NOT met"
    print(f"target ≤ {args.target:g} s      {target} ({connection.vendor})")
    print(f"agreement          {'yes' if not disagree else 'NO'} ({len(figures)} values)")
    for line in disagree[:20]:
        print(f"  {line}")
    if disagree:
        return 1
    if args.check and report_s > args.target:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
