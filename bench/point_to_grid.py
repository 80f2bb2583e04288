"""Benchmark point -> grid lookup (civicgrid.regions.geo.GridLocator).

Usage::

    .venv/bin/python bench/point_to_grid.py [--points 1000000] [--source demo|synthetic|db]

``--source demo`` (default) generates the demo county's 1,497 grids with the demo generator
(the same polygons ``civicgrid demo`` loads, no database needed).
``--source synthetic`` builds ~1,500 Voronoi cells with wiggly borders
(~20-60 vertices each) tiling a ~1,500 km² blob around 121.15°E 30.04°N (Yuyao).
``--source db`` loads the top-level grids from the database through
:func:`load_entries_from_db`.

It times ``locate_many`` on N seeded random points over the grids' bounds (best of
3, pinned to one CPU core), times a naive per-point ``locate`` loop on a subsample
and extrapolates, then prints points/second for both, the ratio, the share of
points matched and PASS/FAIL against the 100,000 points/s target.  Progress goes to
stderr.  The exit status is 0 whatever the verdict (1 only if the run itself failed,
2 if the database hook could not load).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

# One core: keep any BLAS/OpenMP pools single-threaded (must precede numpy import).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import shapely  # noqa: E402
from shapely import affinity  # noqa: E402

from civicgrid.regions.geo import GridLocator, area_m2, wgs84_to_gcj02_many  # noqa: E402

TARGET_POINTS_PER_S = 100_000
CENTRE_LNG, CENTRE_LAT = 121.15, 30.04
BLOB_AREA_KM2 = 1_500.0


def progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Sources of (key, geometry) entries
# ---------------------------------------------------------------------------


def _blob(rng: np.random.Generator) -> shapely.Polygon:
    """An irregular ~1,500 km² blob around the centre."""
    angles = np.linspace(0.0, 2.0 * math.pi, 240, endpoint=False)
    radius = np.ones_like(angles)
    for k in (2, 3, 5, 7):
        radius += rng.uniform(0.02, 0.12) / k**0.5 * np.sin(k * angles + rng.uniform(0, 6.3))
    cos_lat = math.cos(math.radians(CENTRE_LAT))
    shape_ = shapely.Polygon(
        np.column_stack(
            (CENTRE_LNG + radius * np.cos(angles) / cos_lat, CENTRE_LAT + radius * np.sin(angles))
        )
    )
    # Scale to the wanted area (area_m2 is quadratic in the scale factor).
    factor = math.sqrt(BLOB_AREA_KM2 * 1e6 / area_m2(shape_))
    return affinity.scale(shape_, factor, factor, origin=(CENTRE_LNG, CENTRE_LAT))


def _wiggle(coords: np.ndarray, amplitude_deg: float, phases: np.ndarray) -> np.ndarray:
    """Displace coordinates by a smooth field whose gradient stays < 1, so the map is
    injective: shared borders stay shared and valid polygons stay valid."""
    x, y = coords[:, 0], coords[:, 1]
    # Wavelengths in degrees (~700 m and ~260 m); amplitudes give |grad| ~ 0.6 max.
    l1, l2 = 0.0065, 0.0024
    a1, a2 = amplitude_deg, amplitude_deg * 0.5
    dx = a1 * np.sin(2 * math.pi * y / l1 + phases[0]) + a2 * np.sin(
        2 * math.pi * (x + y) / l2 + phases[1]
    )
    dy = a1 * np.sin(2 * math.pi * x / l1 + phases[2]) + a2 * np.sin(
        2 * math.pi * (x - y) / l2 + phases[3]
    )
    return np.column_stack((x + dx, y + dy))


def synthetic_entries(cells: int = 1_500, seed: int = 20_240_601) -> list[tuple[str, object]]:
    """~``cells`` Voronoi cells with wiggly shared borders tiling a blob near Yuyao."""
    rng = np.random.default_rng(seed)
    blob = _blob(rng)
    minx, miny, maxx, maxy = blob.bounds
    seeds: list[np.ndarray] = []
    shapely.prepare(blob)
    while sum(len(s) for s in seeds) < cells:
        cand = rng.uniform((minx, miny), (maxx, maxy), (cells, 2))
        seeds.append(cand[shapely.contains_xy(blob, cand[:, 0], cand[:, 1])])
    pts = np.concatenate(seeds)[:cells]
    vor = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=blob)
    polys = shapely.intersection(shapely.get_parts(vor), blob)
    polys = polys[~shapely.is_empty(polys)]
    # Densify (~110 m segments) then bend every vertex through the same smooth field.
    polys = shapely.segmentize(polys, 0.0011)
    phases = rng.uniform(0, 2 * math.pi, 4)
    polys = shapely.transform(polys, lambda c: _wiggle(c, 0.0004, phases))
    # 15-digit codes: county 330281 + township + village + grid (100 grids per township).
    codes = [
        f"330281{k // 100 + 1:03d}{(k // 20) % 5 + 1:03d}{k % 20 + 1:03d}"
        for k in range(len(polys))
    ]
    return list(zip(codes, polys, strict=True))


def demo_entries(seed: int = 20241126) -> list[tuple[str, object]]:
    """The demo county's top-level grids, straight from the generator."""
    from civicgrid.demo.geometry import generate_geometry, read_divisions
    from civicgrid.demo.loader import DIVISIONS_CSV

    shapes = generate_geometry(read_divisions(DIVISIONS_CSV), seed=seed, scale=1.0)
    return [(grid.code, grid.polygon) for grid in shapes.grids]


def load_entries_from_db() -> list[tuple[str, object]]:
    """HOOK for ``--source db`` -- owned by the Django side.

    Sets up Django and returns ``civicgrid.regions.selectors.grid_geometries()``,
    i.e. ``[(grid_code, shapely_geometry), ...]`` for the active top-level grids.
    Imports are lazy so the synthetic benchmark needs no Django/database.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicgrid.settings")
    import django

    django.setup()
    from civicgrid.regions.selectors import grid_geometries

    return list(grid_geometries())


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity"):
        try:
            cpu = min(os.sched_getaffinity(0))
            os.sched_setaffinity(0, {cpu})
            return f"pinned to CPU {cpu}"
        except OSError as exc:  # e.g. restricted container
            return f"not pinned ({exc})"
    return "not pinned (no sched_setaffinity)"


def best_of(repeat: int, fn, label: str):
    best = math.inf
    result = None
    for r in range(repeat):
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        progress(f"{label}: run {r + 1}/{repeat} {elapsed:.3f} s")
    return best, result


def describe(entries) -> str:
    geoms = np.array([g for _, g in entries], dtype=object)
    nverts = shapely.get_num_coordinates(geoms)
    total_km2 = sum(area_m2(g) for g in geoms) / 1e6
    valid = int(shapely.is_valid(geoms).sum())
    return (
        f"{len(entries):,} polygons, vertices/polygon mean {nverts.mean():.1f} "
        f"(p5 {np.percentile(nverts, 5):.0f}, p95 {np.percentile(nverts, 95):.0f}), "
        f"total {total_km2:,.0f} km², {valid:,} valid"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="random points (1e6)")
    parser.add_argument("--source", choices=("demo", "synthetic", "db"), default="demo")
    parser.add_argument("--cells", type=int, default=1_500, help="synthetic polygons (1500)")
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=20_000,
        help="points for the per-point locate() baseline (20000)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="best-of runs for locate_many")
    parser.add_argument("--seed", type=int, default=20_240_601)
    args = parser.parse_args(argv)

    pinning = pin_to_one_core()

    progress(f"loading entries ({args.source})")
    start = time.perf_counter()
    if args.source == "db":
        try:
            entries = load_entries_from_db()
        except Exception as exc:  # hook not ready, no database, ...
            print(f"--source db: could not load grids: {type(exc).__name__}: {exc}")
            return 2
        if not entries:
            print("--source db: no grids with geometry in the database")
            return 2
    elif args.source == "demo":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicgrid.settings")
        import django

        django.setup()
        entries = demo_entries()
    else:
        entries = synthetic_entries(args.cells, args.seed)
    t_load = time.perf_counter() - start

    progress("building GridLocator")
    start = time.perf_counter()
    locator = GridLocator(entries)
    t_build = time.perf_counter() - start

    rng = np.random.default_rng(args.seed + 1)
    minx, miny, maxx, maxy = locator.bounds
    n = args.points
    lngs = rng.uniform(minx, maxx, n)
    lats = rng.uniform(miny, maxy, n)

    progress(f"locate_many on {n:,} points, best of {args.repeat}")
    t_many, keys = best_of(args.repeat, lambda: locator.locate_many(lats, lngs), "locate_many")
    matched = int(np.count_nonzero(keys != None))  # noqa: E711 (elementwise on object array)

    g_lngs, g_lats = wgs84_to_gcj02_many(lngs, lats)
    progress("locate_many with GCJ-02 input (1 run)")
    start = time.perf_counter()
    keys_gcj = locator.locate_many(g_lats, g_lngs, datum="gcj02")
    t_gcj = time.perf_counter() - start
    gcj_agree = float(np.mean(keys_gcj == keys))

    m = min(args.naive_sample, n)
    progress(f"naive per-point locate() loop on {m:,} points")
    start = time.perf_counter()
    naive = [locator.locate(lats[i], lngs[i]) for i in range(m)]
    t_naive = time.perf_counter() - start
    agree = naive == keys[:m].tolist()

    rate_many = n / t_many
    rate_gcj = n / t_gcj
    rate_naive = m / t_naive
    verdict = "PASS" if rate_many >= TARGET_POINTS_PER_S else "FAIL"

    print("point -> grid benchmark (civicgrid.regions.geo.GridLocator)")
    print(
        f"  python {sys.version.split()[0]}, shapely {shapely.__version__}, "
        f"GEOS {shapely.geos_version_string}, numpy {np.__version__}; {pinning}"
    )
    print(f"  source:            {args.source}: {describe(entries)}")
    print(f"  bounds:            {', '.join(f'{v:.4f}' for v in locator.bounds)}")
    print(f"  load / build:      {t_load:.2f} s / {t_build * 1000:.0f} ms")
    print(f"  points:            {n:,} uniform over bounds (seed {args.seed + 1})")
    print(f"  matched:           {matched:,} ({matched / n:.1%})")
    print(f"  locate_many:       {t_many:.3f} s best of {args.repeat} -> {rate_many:,.0f} points/s")
    print(
        f"  locate_many gcj02: {t_gcj:.3f} s (1 run) -> {rate_gcj:,.0f} points/s, "
        f"same grid as WGS-84 input for {gcj_agree:.4%}"
    )
    print(
        f"  naive locate loop: {t_naive:.3f} s for {m:,} points -> {rate_naive:,.0f} points/s "
        f"(extrapolated {n / rate_naive:.1f} s for {n:,})"
    )
    print(f"  naive agrees with locate_many on the subsample: {'yes' if agree else 'NO'}")
    print(f"  speed-up:          {rate_many / rate_naive:.1f}x")
    print(f"  target:            {TARGET_POINTS_PER_S:,} points/s -> {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
