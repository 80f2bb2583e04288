"""Benchmark: cases taken in per second through ``do_report_case`` (the intake action).

Usage::

    .venv/bin/python bench/case_intake.py [--n 2000] [--scale 0.05]
    .venv/bin/python bench/case_intake.py --database-url postgres://postgres@127.0.0.1:5432/civicgrid

Without --database-url it migrates a fresh SQLite database in a temporary directory; with a
PostgreSQL URL it creates a throwaway database next to the named one (``test_<name>_bench_<pid>``
through ``django.test.utils.setup_databases``) and drops it at the end, so nothing real is
touched. Either way it loads the demo county at ``--scale`` (0.05: 75 grids, the test county)
and then times, each report in its own transaction as in a request:

1. baseline: N plain ``Case.objects.create`` rows (no code counter, reporter, timeline,
   audit event, notification or point→grid);
2. N reports by grid workers with a GPS point in their grid (point→grid runs), no photo;
3. N reports the same way with one small JPEG (checked, re-encoded and stored).

It prints cases/second for each and the ratios to the baseline, so the cost of the action is
visible, and exits 0 whatever the figures (1 only if the run itself failed).
"""

import argparse
import io
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (120, 140, 160)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _workers_and_points(rng: random.Random, per_grid: int = 4):
    """(grid worker, [(lat, lng) inside their grid]) for every grid that has one."""
    from shapely.geometry import Point

    from civicgrid.core.roles import Role
    from civicgrid.people.models import RoleAssignment
    from civicgrid.regions import geo

    found = {}
    rows = (
        RoleAssignment.objects.filter(role=Role.GRID_WORKER, active=True, grid__isnull=False)
        .select_related("person__user", "grid")
        .order_by("pk")
    )
    for row in rows:
        if row.grid_id in found:
            continue
        shape = geo.geometry_from_geojson(row.grid.geometry)
        inner = shape.buffer(-0.0002)
        inner = shape if inner.is_empty else inner
        min_lng, min_lat, max_lng, max_lat = inner.bounds
        points = []
        for _ in range(200):
            lng, lat = rng.uniform(min_lng, max_lng), rng.uniform(min_lat, max_lat)
            if inner.contains(Point(lng, lat)):
                points.append((round(lat, 6), round(lng, 6)))
                if len(points) == per_grid:
                    break
        if points:
            found[row.grid_id] = (row.person.user, row.grid, points)
    return list(found.values())


def _time(label: str, n: int, step) -> float:
    started = time.perf_counter()
    for i in range(n):
        step(i)
        if (i + 1) % 500 == 0:
            elapsed = time.perf_counter() - started
            print(f"  {label}: {i + 1:,} in {elapsed:.1f}s", file=sys.stderr)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="reports per measurement")
    parser.add_argument("--scale", type=float, default=0.05, help="demo county scale")
    parser.add_argument("--seed", type=int, default=20241126)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    from _setup import throwaway_database

    with throwaway_database(args.database_url):
        _run(args)
    return 0


def _run(args) -> None:
    from django.db import connection
    from django.utils import timezone

    from civicgrid.cases.actions import do_report_case
    from civicgrid.cases.models import Case, Category, Level
    from civicgrid.demo.loader import load_demo
    from civicgrid.regions.selectors import locate_grid

    print(f"loading the demo county at scale {args.scale} …", file=sys.stderr)
    summary = load_demo(seed=args.seed, scale=args.scale, progress=lambda line: None)
    rng = random.Random(args.seed)
    cast = _workers_and_points(rng)
    categories = list(Category.objects.filter(parent__isnull=False, active=True).order_by("code"))
    photo = _jpeg()
    n = args.n
    picks = [(rng.choice(cast), rng.choice(categories)) for _ in range(n)]

    # Warm-up: the grid locator is built on first use (not part of any measurement).
    user, grid, points = cast[0]
    locate_grid(*points[0])

    def plain(i):
        user, grid, points = picks[i][0]
        lat, lng = points[i % len(points)]
        Case.objects.create(
            code=f"BENCH-{i:07d}",
            state="reported",
            channel=Case.Channel.GRID_WORKER,
            category=picks[i][1],
            description="巡查发现问题（基准行）",
            lat=lat,
            lng=lng,
            grid=grid,
            region_code=grid.code,
            level=Level.GRID,
            unit_code=grid.code,
            reported_by=user,
            created=timezone.now(),
        )

    def report(i, photos=()):
        user, grid, points = picks[i][0]
        lat, lng = points[i % len(points)]
        do_report_case(
            actor=user,
            channel=Case.Channel.GRID_WORKER,
            category=picks[i][1],
            description="巡查发现问题，现场拍照上报",
            lat=lat,
            lng=lng,
            photos=photos,
        )

    def locate(i):
        lat, lng = picks[i][0][2][i % len(picks[i][0][2])]
        locate_grid(lat, lng)

    t_locate = _time("point→grid", n, locate)
    t_plain = _time("Case.objects.create", n, plain)
    t_report = _time("do_report_case", n, report)
    t_photo = _time("do_report_case + photo", n, lambda i: report(i, [photo]))
    in_grid = Case.objects.filter(level=Level.GRID).exclude(code__startswith="BENCH-").count()

    def rate(seconds):
        return n / seconds if seconds else float("inf")

    print("case-intake benchmark")
    print(f"  database:              {connection.vendor} ({connection.settings_dict['NAME']})")
    print(
        f"  demo county:           scale {args.scale}, {summary.counts['grids']} grids, "
        f"{len(cast)} grid workers"
    )
    print(f"  reports per run:       {n:,} (each in its own transaction)")
    print(
        f"  point→grid alone:      {rate(t_locate):9,.0f} lookups/s "
        f"({t_locate / n * 1e3:.3f} ms each)"
    )
    print(
        f"  Case.objects.create:   {rate(t_plain):9,.1f} cases/s "
        f"({t_plain / n * 1e3:.2f} ms each)  baseline"
    )
    print(
        f"  do_report_case:        {rate(t_report):9,.1f} cases/s "
        f"({t_report / n * 1e3:.2f} ms each)  {t_report / t_plain:.1f}x the baseline"
    )
    print(
        f"  do_report_case+photo:  {rate(t_photo):9,.1f} cases/s "
        f"({t_photo / n * 1e3:.2f} ms each)  {t_photo / t_plain:.1f}x the baseline, "
        f"{t_photo / t_report:.2f}x without the photo"
    )
    print(f"  reports kept in the reporter's grid: {in_grid:,} of {2 * n:,}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        import traceback

        traceback.print_exc()
        sys.exit(1)
