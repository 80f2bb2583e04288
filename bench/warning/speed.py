"""Time the daily early-warning run (issue 9 item 5).

Usage::

    .venv/bin/python bench/warning/speed.py [--categories 30] [--full] [--quick]

A synthetic county of 1,500 cells (``civicgrid.warning.detect.synthetic``), 365 days of history
per category, categories in three tiers (10 % dense ~100 cases/day, 40 % medium ~10/day,
50 % sparse ~1/day), a compact cluster (RR 4) injected in every fifth category so that those
analyses are significant and run all 999 replicates. For each category the daily run does:
space-time permutation scan (999 replicates, 7-day windows, circles of <= 50 cells within 3 km),
backlog dumps repaired (``repair_dumps``, as the daily run does), the expectation-based Poisson
scan (999) against the per-cell model ``cell_baseline`` (``--ebp-baseline ma``: the 8-week moving
average used before session 18), EARS C2 and NB GLM + CUSUM on the county total.
``--full`` switches the sequential stop off (every scan runs all 999 replicates, the worst case).
It then times the straightforward numpy scan (``_reference_permutation_scan``) on one medium
category with a few replicates, extrapolates it to 999 and prints the ratio. Single process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from civicgrid.warning.detect import (  # noqa: E402
    CELL_BASELINE_DAYS,
    baseline,
    cell_baseline,
    ears,
    glm_cusum,
    neighbours,
    permutation_scan,
    poisson_scan,
    repair_dumps,
)
from civicgrid.warning.detect import synthetic as syn  # noqa: E402
from civicgrid.warning.detect.scan import _reference_permutation_scan  # noqa: E402

TARGET_S = 60.0


def tier(i: int, n: int) -> float:
    share = i / n
    return 100.0 if share < 0.1 else 10.0 if share < 0.5 else 1.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--categories", type=int, default=30)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--replicates", type=int, default=999)
    ap.add_argument("--full", action="store_true", help="no sequential stop (worst case)")
    ap.add_argument("--quick", action="store_true", help="10 categories, no reference timing")
    ap.add_argument("--reference-replicates", type=int, default=3)
    ap.add_argument("--ebp-baseline", default="cell", choices=("ma", "cell"))
    a = ap.parse_args(argv)
    if a.quick:
        a.categories = 10
    county = syn.make_county(0)
    t0 = time.perf_counter()
    nbrs = neighbours(county.xy_km, max_cells=50, max_radius_km=3.0)
    t_nbrs = time.perf_counter() - t0
    history = a.days + 365  # the GLM needs >= 1 year; scans use the last `days`
    dates = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(history)]
    data = []
    for c in range(a.categories):
        per_day = tier(c, a.categories)
        counts = syn.simulate(
            county,
            days=history,
            per_day=per_day,
            seed=100 + c,
            artifacts=syn.random_artifacts(county, history, 200 + c),
        )
        if c % 5 == 0:
            syn.inject(
                counts, county, kind="compact", start=history - 4, rr=4.0, seed=c, per_day=per_day
            )
        data.append((per_day, counts))
    stop = None if a.full else 10
    per_tier: dict[float, list[float]] = {}
    alarms = 0
    t_all = time.perf_counter()
    cpu_all = time.process_time()
    for c, (per_day, counts) in enumerate(data):
        t = time.perf_counter()
        study = repair_dumps(counts[-a.days :], county.township)[0]  # as run.py
        stp = permutation_scan(study, nbrs, replicates=a.replicates, rng=c, stop_after=stop)
        if a.ebp_baseline == "cell":
            expected, days = cell_baseline(study, county.township), CELL_BASELINE_DAYS
        else:
            expected, days = baseline(study), 70.0
        ebp = poisson_scan(
            study,
            expected,
            nbrs,
            replicates=a.replicates,
            rng=c,
            stop_after=stop,
            baseline_days=days,
        )
        total = counts.sum(axis=1)
        ears(total[-60:], "C2")
        glm_cusum(total, dates, rng=c, replicates=a.replicates)
        alarms += bool(stp and stp[0].p_value <= 0.01) + bool(ebp and ebp[0].p_value <= 0.01)
        per_tier.setdefault(per_day, []).append(time.perf_counter() - t)
    total_s = time.perf_counter() - t_all + t_nbrs
    cpu_s = time.process_time() - cpu_all + t_nbrs
    print(
        f"daily run: {a.categories} categories x {county.n} cells x {a.days} days, "
        f"{a.replicates} replicates{' (full, no sequential stop)' if a.full else ''}"
    )
    for per_day, ts in sorted(per_tier.items()):
        print(
            f"  tier {per_day:>5.0f}/day: {len(ts):2d} categories, mean {np.mean(ts):6.2f} s, "
            f"max {np.max(ts):6.2f} s"
        )
    print(f"  significant scans (p <= 0.01): {alarms}")
    verdict = "PASS" if total_s < TARGET_S else "FAIL"
    print(
        f"total {total_s:.1f} s wall, {cpu_s:.1f} s CPU (target < {TARGET_S:.0f} s wall): {verdict}"
    )
    if a.quick:
        return 0
    medium = next(counts for per_day, counts in data if per_day == 10.0)[-a.days :]
    t = time.perf_counter()
    permutation_scan(medium, nbrs, replicates=a.replicates, rng=0, stop_after=None)
    ours = time.perf_counter() - t
    r = a.reference_replicates
    t = time.perf_counter()
    _reference_permutation_scan(medium, nbrs, replicates=r, rng=0)
    ref_r = time.perf_counter() - t
    ref = ref_r / (r + 1) * (a.replicates + 1)
    print(
        f"one medium category, permutation scan, {a.replicates} replicates without stop: "
        f"ours {ours:.2f} s; straightforward numpy {ref_r:.1f} s for {r} replicates -> "
        f"~{ref:.0f} s extrapolated; ratio ~{ref / ours:.0f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
