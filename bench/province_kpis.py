"""Benchmark: the province KPI table (case KPIs per county, 90 counties) over N cases, from
the daily rollup and directly from the cases, in the same run (issue 11: ≤ 10 s over 50 M).

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cg_h5 \\
        .venv/bin/python bench/province_kpis.py --cases 5000000 [--keep]

Creates ``test_<db>_province_<N>`` beside the named PostgreSQL database (dropped at the end
unless ``--keep``; a kept one is reused, without loading again), loads the demo county (scale
0.05) and ``--cases`` cases over 90 counties and a year (``bench/_bulk.py``), then times:

1. ``rollup.refresh(full=True)``: building the rollup from nothing (once);
2. ``rollup.province_kpis`` for the last 365 days and for last month, per county (best of
   ``--repeat``);
3. ``rollup.province_kpis_direct`` (``kpis.compute_by("county")``) for the same periods, once;
4. an incremental refresh after a step on ``--touch`` cases spread over the year (what
   ``tick`` pays after a busy day).

``--reuse-rollup`` times and checks a kept database's rollup as it is, without the full build
(2.); ``--touch 0`` leaves out the incremental step (4.), which at 50 M recomputes every day.
Each period's figures are printed as soon as they are known.

Checks that the rollup table and the direct one agree on every numerator and denominator
(the counts exactly, the sums of working hours to 1e-9 relative: floats added in another
order; exit 1 if not); ``--check`` exits 3 when the year's table takes longer than ``--target``.
"""

import argparse
import math
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _best(repeat, step):
    best, value = None, None
    for _ in range(repeat):
        started = time.perf_counter()
        value = step()
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return best, value


def _as_of_mark(start, end):
    """The direct table as of the summary's last refresh: the open cases overdue are those
    whose deadline had passed then (the clock stands still at the mark meanwhile)."""
    from django.utils import timezone

    from civicgrid.analytics import rollup
    from civicgrid.analytics.models import RollupMark

    mark = RollupMark.objects.get(name=rollup.NAME).upto
    real_now = timezone.now
    timezone.now = lambda: mark
    try:
        return rollup.province_kpis_direct(start, end)
    finally:
        timezone.now = real_now


def _same(rows, direct) -> bool:
    """Every numerator and denominator equal; a sum of hours (a float, added in another
    order by the two) to 1e-9 relative, the counts exactly."""
    a, b = _figures(rows), _figures(direct)
    if a.keys() != b.keys():
        return False
    for key, (numerator, denominator) in a.items():
        other_numerator, other_denominator = b[key]
        if denominator != other_denominator:
            return False
        if isinstance(numerator, float) or isinstance(other_numerator, float):
            if not math.isclose(numerator, other_numerator, rel_tol=1e-9, abs_tol=1e-9):
                return False
        elif numerator != other_numerator:
            return False
    return True


def _figures(rows):
    from civicgrid.analytics import rollup

    return {
        (row["key"], code): (row[code].numerator, row[code].denominator)
        for row in rows
        for code in rollup.ROLLUP_KPIS
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--touch", type=int, default=20_000, help="0: no incremental step")
    parser.add_argument("--target", type=float, default=10.0)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the database")
    parser.add_argument("--skip-direct", action="store_true", help="no direct computation")
    parser.add_argument(
        "--reuse-rollup",
        action="store_true",
        help="a kept database's rollup as it is (no full build; compared as of its refresh)",
    )
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()

    from _bulk import progress, scratch_database

    with scratch_database(args.database_url, f"province_{args.cases}", keep=args.keep) as kept:
        from civicgrid.cases.models import Case

        if not kept or not Case.objects.exists():
            from _bulk import load_province

            from civicgrid.demo.loader import load_demo

            progress("loading the demo county (scale 0.05) …")
            load_demo(seed=7, scale=0.05, progress=lambda line: None)
            load_province(args.cases)
        return _run(args, progress)


def _run(args, progress) -> int:
    from django.db import connection
    from django.utils import timezone

    from civicgrid.analytics import rollup
    from civicgrid.analytics.models import CaseDayRollup, RollupMark
    from civicgrid.cases.models import Case

    total = Case.objects.count()
    mark = RollupMark.objects.filter(name=rollup.NAME).values_list("upto", flat=True).first()
    if args.reuse_rollup and mark is not None:
        progress(f"{total:,} cases; the rollup as of {mark} (reused, not rebuilt)")
        built, build_s = {"rows": CaseDayRollup.objects.count()}, None
    else:
        progress(f"{total:,} cases; building the rollup …")
        started = time.perf_counter()
        built = rollup.refresh(full=True)
        build_s = time.perf_counter() - started
        progress(f"rollup built in {build_s:.0f} s ({built['rows']:,} rows)")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE analytics_casedayrollup")

    today = timezone.localdate()
    month_end = today.replace(day=1) - timedelta(days=1)
    periods = {
        "year": (today - timedelta(days=364), today),
        "month": (month_end.replace(day=1), month_end),
    }
    results = {}
    for name, (start, end) in periods.items():
        progress(f"{name}: the table from the rollup …")
        rollup_s, rows = _best(args.repeat, lambda s=start, e=end: rollup.province_kpis(s, e))
        direct_s, direct = None, None
        if not args.skip_direct:
            progress(f"{name}: the table from the cases (kpis.compute_by) …")
            direct_s, direct = _best(1, lambda s=start, e=end: _as_of_mark(s, e))
        results[name] = (start, end, rollup_s, rows, direct_s, direct)
        progress(  # as soon as known (the incremental step after it can take long at 50 M)
            f"{name}: from the rollup {rollup_s:.3f} s (best of {args.repeat})"
            + (
                ""
                if direct is None
                else f", from the cases {direct_s:.1f} s, agreement "
                f"{'yes' if _same(rows, direct) else 'NO'}"
            )
        )

    if args.touch > 0:
        refresh_s, touched, touched_steps = _incremental(args, total, progress)
    else:
        refresh_s = touched = touched_steps = None
    return _report(args, total, built, build_s, refresh_s, touched, touched_steps, results)


def _incremental(args, total, progress):
    from django.db import connection
    from django.utils import timezone

    from civicgrid.analytics import rollup
    from civicgrid.cases.models import CaseAction

    progress(f"a step on {args.touch:,} cases over the year, then an incremental refresh …")
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO cases_caseaction (case_id, action, actor_name, role, unit_code,
                from_state, to_state, text, data, created)
            SELECT id, 'comment', 'bench', '', '', state, state, '', '{}', %s
            FROM cases_case WHERE id %% %s = 0
            """,
            [now, max(1, total // args.touch)],
        )
    started = time.perf_counter()
    touched = rollup.refresh()
    refresh_s = time.perf_counter() - started
    touched_steps = CaseAction.objects.filter(actor_name="bench").count()
    return refresh_s, touched, touched_steps


def _report(args, total, built, build_s, refresh_s, touched, touched_steps, results) -> int:
    disagree = []
    print("province KPI table benchmark (PostgreSQL)")
    print(f"cases                    {total:,} over {len(results['year'][3])} counties")
    print(f"rollup rows              {built['rows']:,} (day × township)")
    if build_s is not None:
        print(f"rollup full build        {build_s:.1f} s")
    else:
        print("rollup full build        not run (--reuse-rollup: the kept one)")
    if refresh_s is not None:
        print(
            f"incremental refresh      {refresh_s:.1f} s ({touched['days']} days recomputed "
            f"after a step on {touched_steps:,} cases)"
        )
    for name, (start, end, rollup_s, rows, direct_s, direct) in results.items():
        print(f"{name:<6} {start} … {end}")
        print(f"  from the rollup        {rollup_s:.3f} s  (best of {args.repeat})")
        if direct is not None:
            print(f"  from the cases         {direct_s:.1f} s  (kpis.compute_by, once)")
            print(f"  ratio                  {direct_s / rollup_s:,.0f}×")
            same = _same(rows, direct)
            print(f"  agreement              {'yes' if same else 'NO'}")
            if not same:
                disagree.append(name)
    year_s = results["year"][2]
    print(f"target ≤ {args.target:g} s (year)     {'met' if year_s <= args.target else 'NOT met'}")
    if disagree:
        return 1
    if args.check and year_s > args.target:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
