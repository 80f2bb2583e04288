"""Benchmark: the demo year of disputes, bulk path vs through the actions, in one run.

Usage::

    .venv/bin/python bench/demo_mediation.py [--scale 1.0] [--actions-scale 0.05] [--days 365]
                                             [--cases-scale 0] [--database-url postgres://…]

Loads the demo county (``load_demo``; with ``--cases-scale`` > 0 also its year of cases, as
``civicgrid demo`` does before the disputes) into a fresh SQLite database in a temporary
directory (or a throwaway database next to the one ``--database-url`` names), then generates
the year of disputes twice from the same county, each run rolled back afterwards: through the
bulk path (``civicgrid.demo.bulk_mediation``) at ``--scale`` and through the actions at
``--actions-scale`` (0 skips it; the actions make ~20 disputes/s). Prints disputes/s, wall
and CPU seconds of both (the generator's own time: the registry, planning and writing
included; the commit is not — the runs are rolled back).
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class _Rollback(Exception):
    pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="bulk path volume")
    parser.add_argument("--actions-scale", type=float, default=0.05, help="0: skip")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--cases-scale", type=float, default=0.0, help="0: the county only")
    parser.add_argument("--seed", type=int, default=20241126)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    from _setup import throwaway_database

    with throwaway_database(args.database_url):
        return _run(args)


def _run(args) -> int:
    from datetime import date

    from django.core.management import call_command
    from django.db import connection, transaction

    from civicgrid.demo.mediation import generate_demo_mediation

    started = time.perf_counter()
    call_command("load_demo", seed=args.seed, verbosity=0)
    if args.cases_scale > 0:
        call_command("load_demo_cases", seed=args.seed, scale=args.cases_scale, verbosity=0)
    print(f"county loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    end = date(2026, 11, 2)
    results = []
    runs = [("bulk", args.scale, False)]
    if args.actions_scale > 0:
        runs.append(("actions", args.actions_scale, True))
    for name, scale, through_actions in runs:
        cpu = time.process_time()
        try:
            with transaction.atomic():
                summary = generate_demo_mediation(
                    seed=args.seed,
                    days=args.days,
                    scale=scale,
                    end=end,
                    through_actions=through_actions,
                    progress=lambda line: print(f"  {line}", file=sys.stderr),
                )
                raise _Rollback
        except _Rollback:
            pass
        cpu = time.process_time() - cpu
        rate = summary.disputes / summary.seconds
        results.append((name, rate, cpu / max(summary.disputes, 1)))
        print(
            f"{name:<8} scale {scale:<5} {summary.disputes:>7,} disputes {summary.rows:>9,} rows "
            f"{summary.seconds:7.1f} s wall {cpu:7.1f} s CPU  {rate:7.1f} disputes/s  "
            f"{1000 * cpu / max(summary.disputes, 1):5.2f} ms CPU/dispute  "
            f"errors {len(summary.errors)}",
            flush=True,
        )
    if len(results) == 2:
        (_b, bulk_rate, bulk_cpu), (_a, actions_rate, actions_cpu) = results
        print(
            f"bulk/actions: {bulk_rate / actions_rate:.1f}× the disputes/s, "
            f"{actions_cpu / bulk_cpu:.1f}× less CPU per dispute"
        )
    print(f"database: {connection.vendor}; load: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
