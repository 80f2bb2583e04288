"""Benchmark: the demo year of cases, bulk path vs through the actions, in one run.

Usage::

    .venv/bin/python bench/demo_cases.py [--scale 1.0] [--actions-scale 0.2] [--days 365]
                                         [--database-url postgres://…]

Loads the demo county (``load_demo``, scale 1) into a fresh SQLite database in a temporary
directory (or a throwaway database next to the one ``--database-url`` names), then generates
the year of cases twice from the same county, each run rolled back afterwards: through the
bulk path (``civicgrid.demo.bulk_cases``) at ``--scale`` and through the actions at
``--actions-scale`` (0 skips it; the actions take ~9 minutes at scale 1 on SQLite). Prints
cases/s and steps/s of both. The times are the generator's own (planning included).
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
    parser.add_argument("--actions-scale", type=float, default=0.2, help="0: skip")
    parser.add_argument("--days", type=int, default=365)
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

    from civicgrid.demo.cases import generate_demo_cases

    started = time.perf_counter()
    call_command("load_demo", seed=args.seed, verbosity=0)
    print(f"county loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    end = date(2026, 11, 2)
    results = []
    runs = [("bulk", args.scale, False)]
    if args.actions_scale > 0:
        runs.append(("actions", args.actions_scale, True))
    for name, scale, through_actions in runs:
        try:
            with transaction.atomic():
                summary = generate_demo_cases(
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
        steps = sum(summary.actions.values())
        results.append((name, summary, steps))
        print(
            f"{name:<8} path={summary.path:<8} scale {scale:<4} {summary.cases:>7,} cases "
            f"{steps:>8,} steps {summary.seconds:7.1f} s  {summary.rate:7.1f} cases/s  "
            f"{steps / summary.seconds:8.1f} steps/s  errors {summary.error_count}",
            flush=True,
        )
    if len(results) == 2:
        (_b, bulk, _bs), (_a, actions, _as) = results
        print(f"bulk/actions: {bulk.rate / actions.rate:.1f}× the cases/s")
    print(f"database: {connection.vendor}; load: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
