"""Benchmark: how long the whole demo county takes to load (target: under 2 minutes).

Usage::

    .venv/bin/python bench/demo_load.py [--scale 1.0] [--database-url postgres://…]

Without --database-url it migrates and loads a fresh SQLite database in a temporary
directory (what ``civicgrid demo`` does on first start). For a baseline measured in the same
run it also times the geometry generation alone, so the share spent writing rows is visible.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=20241126)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="civicgrid-bench-")
    os.environ["CIVICGRID_VAR_DIR"] = workdir
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicgrid.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from civicgrid.demo import geometry
    from civicgrid.demo.loader import DIVISIONS_CSV, load_demo

    if args.database_url:
        # A throwaway database next to the named one, so nothing real is touched.
        from django.test.utils import setup_databases, teardown_databases

        old = setup_databases(verbosity=0, interactive=False)
    else:
        old = None
        call_command("migrate", verbosity=0)

    started = time.perf_counter()
    geometry.generate_geometry(
        geometry.read_divisions(DIVISIONS_CSV), seed=args.seed, scale=args.scale
    )
    geometry_seconds = time.perf_counter() - started

    summary = load_demo(
        seed=args.seed, scale=args.scale, progress=lambda line: print(line, file=sys.stderr)
    )
    print("demo-load benchmark")
    print(f"  database:          {connection.vendor} ({connection.settings_dict['NAME']})")
    print(f"  scale / seed:      {args.scale} / {args.seed}")
    for key, value in summary.counts.items():
        print(f"  {key + ':':<19}{value:,}")
    print(f"  geometry alone:    {geometry_seconds:.1f} s (baseline, same run)")
    print(
        f"  whole load:        {summary.seconds:.1f} s "
        f"({summary.seconds / geometry_seconds:.1f}x the geometry alone)"
    )
    print(f"  target:            120 s -> {'PASS' if summary.seconds < 120 else 'FAIL'}")
    if old is not None:
        teardown_databases(old, verbosity=0)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
