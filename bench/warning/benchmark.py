"""Detection benchmark of the early-warning detectors (issue 9 item 4; reference §5.3).

Usage::

    .venv/bin/python bench/warning/benchmark.py [--replicates 20] [--null-replicates 20]
        [--null-days 30] [--tiers medium,dense] [--quick] [--mc]

Synthetic county (``civicgrid.warning.detect.synthetic``): 1,500 cells, urban core, eight
townships, per-cell log-normal rates, day of week, annual season, a county-wide gamma day factor
(negative-binomial county totals), two years of history, and reporting artifacts that are not
events (campaign days: every cell x2; backlog dumps: a township's week arrives on one day; six
of each a year). Tiers: medium ~10 cases/day, dense ~100 cases/day county-wide.

Protocol. (1) *Calibration* (null seeds 10000+i): every detector's daily statistic on
``--null-days`` consecutive days per replicate; its threshold is the quantile that leaves one
alarm day per 30 days (budget: 1 false alarm per category per month). (2) *Evaluation, null*
(separate seeds 20000+i): realised false alarms per category per month at those thresholds.
(3) *Evaluation, events* (seeds 30000+1000 s+i): one injected problem per replicate starting on
day 730; the detectors run daily on days 1..7 of the event. A spatial detection needs the most
likely cluster to share a cell with the event; a temporal (county total) one needs an alarm that
the same series without the injection (same seed) does not raise that day (so an artifact during
the event earns no credit). ``--artifacts 0`` runs without reporting artifacts.
Printed per tier x detector x scenario: probability of detection within 7 days (Wilson 95 % CI),
median day of detection (day 1 = onset), Jaccard of flagged vs true cells at detection, false
alarms / category / month, runtime per daily analysis (statistic only). ``--mc`` also runs the
deployed configuration (999 Monte Carlo replicates, alarm at p <= 0.01 = RI >= 100 days) on the
last day of each evaluation null replicate and on day 7 of each compact RR 3 event.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from civicgrid.warning.detect import (  # noqa: E402
    baseline,
    cusum_path,
    design,
    ears_statistic,
    neighbours,
    permutation_scan,
    poisson_scan,
)
from civicgrid.warning.detect import synthetic as syn  # noqa: E402

HISTORY = 730
STUDY = 365
TIERS = {"sparse": 1.0, "medium": 10.0, "dense": 100.0}
SCENARIOS = [
    ("compact RR 3", dict(kind="compact", rr=3.0, k=9)),
    ("compact RR 5", dict(kind="compact", rr=5.0, k=9)),
    ("township RR 2", dict(kind="township", rr=2.0)),
    ("county ramp RR 1.5", dict(kind="county", rr=1.5, ramp_days=7)),
    ("ramp to RR 3", dict(kind="ramp", rr=3.0, k=9, ramp_days=7)),
    ("spreading RR 3", dict(kind="spreading", rr=3.0, k=25)),
]
DETECTORS = ["stp", "ebp", "ears_c2", "glm_cusum"]
SPATIAL = {"stp", "ebp"}
BUDGET = 1 / 30  # alarm days per day


class Bench:
    def __init__(self, artifacts_per_year: float = 6.0, max_cells: int = 50):
        self.artifacts_per_year = artifacts_per_year
        self.county = syn.make_county(0)
        self.nbrs = neighbours(self.county.xy_km, max_cells=max_cells, max_radius_km=3.0)
        self.dates = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(HISTORY + 60)]
        self.X = design(self.dates)
        self.cpu = {d: 0.0 for d in DETECTORS}
        self.calls = {d: 0 for d in DETECTORS}

    def data(self, per_day, days, seed):
        arts = syn.random_artifacts(
            self.county, days, seed + 7, campaigns_per_year=6, dumps_per_year=6
        )
        return syn.simulate(self.county, days=days, per_day=per_day, seed=seed, artifacts=arts)

    def temporal(self, counts, d):
        out = {}
        t3 = time.process_time()
        total = counts[: d + 1].sum(axis=1)
        out["ears_c2"] = (float(ears_statistic(total[-30:], "C2")[-1]), None, 0)
        t4 = time.process_time()
        self.cpu["ears_c2"] += t4 - t3
        path = cusum_path(total, self.dates[: d + 1], design_matrix=self.X[: d + 1])[0]
        out["glm_cusum"] = (float(path[-1]), None, 0)
        self.cpu["glm_cusum"] += time.process_time() - t4
        return out

    def stats(self, counts, d):
        """Each detector's statistic for the analysis of day d: (value, cells, start)."""
        out = {}
        study = counts[d - STUDY + 1 : d + 1]
        t = time.process_time()
        c = permutation_scan(study, self.nbrs, replicates=0, max_clusters=1)
        out["stp"] = (c[0].statistic, set(c[0].cells), c[0].start) if c else (0.0, set(), 0)
        t2 = time.process_time()
        self.cpu["stp"] += t2 - t
        c = poisson_scan(
            study, baseline(study), self.nbrs, replicates=0, max_clusters=1, dispersion=1.0
        )
        out["ebp"] = (c[0].statistic, set(c[0].cells), c[0].start) if c else (0.0, set(), 0)
        t3 = time.process_time()
        self.cpu["ebp"] += t3 - t2
        out.update(self.temporal(counts, d))
        for k in DETECTORS:
            self.calls[k] += 1
        return out


def wilson(k, n, z=1.96):
    if n == 0:
        return (float("nan"),) * 3
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return p, max(0.0, mid - half), min(1.0, mid + half)


def null_stats(b, per_day, seeds, days):
    out = {d: [] for d in DETECTORS}
    for seed in seeds:
        counts = b.data(per_day, HISTORY + days, seed)
        for d in range(HISTORY, HISTORY + days):
            for k, v in b.stats(counts, d).items():
                out[k].append(v[0])
    return {k: np.array(v) for k, v in out.items()}


def run_tier(b, name, per_day, a, out_lines):
    t0 = time.perf_counter()
    if a.mc_only:
        out_lines.append(f"\n### tier {name}: deployed configuration only")
        out_lines.extend(deployed(b, per_day, a))
        return None
    calib = null_stats(b, per_day, [10_000 + i for i in range(a.null_replicates)], a.null_days)
    thr = {k: float(np.quantile(v, 1 - BUDGET, method="higher")) for k, v in calib.items()}
    evaln = null_stats(b, per_day, [20_000 + i for i in range(a.null_replicates)], a.null_days)
    fa = {k: float(np.mean(v >= thr[k]) * 30) for k, v in evaln.items()}
    rows = []
    for s, (label, spec) in enumerate(SCENARIOS):
        detected = {k: [] for k in DETECTORS}
        jac = {k: [] for k in DETECTORS}
        for i in range(a.replicates):
            seed = 30_000 + 1000 * s + i
            plain = b.data(per_day, HISTORY + 7, seed)
            counts = plain.copy()
            truth = syn.inject(
                counts, b.county, start=HISTORY, seed=seed + 1, per_day=per_day, **spec
            )
            first = {k: None for k in DETECTORS}
            for day in range(7):
                d = HISTORY + day
                true_cells = set(np.flatnonzero(truth[HISTORY : d + 1].any(axis=0)).tolist())
                without = None
                for k, (val, cells, _start) in b.stats(counts, d).items():
                    if first[k] is not None or not val >= thr[k]:
                        continue
                    if k in SPATIAL and not cells & true_cells:
                        continue
                    if k not in SPATIAL:  # the same day without the event must not alarm
                        without = without or b.temporal(plain, d)
                        if without[k][0] >= thr[k]:
                            continue
                    first[k] = day + 1
                    if k in SPATIAL:
                        jac[k].append(len(cells & true_cells) / len(cells | true_cells))
            for k in DETECTORS:
                detected[k].append(first[k])
        for k in DETECTORS:
            hits = [x for x in detected[k] if x is not None]
            p, lo, hi = wilson(len(hits), len(detected[k]))
            rows.append(
                (
                    label,
                    k,
                    p,
                    lo,
                    hi,
                    float(np.median(hits)) if hits else float("nan"),
                    float(np.mean(jac[k])) if jac[k] else float("nan"),
                    fa[k],
                )
            )
    secs = time.perf_counter() - t0
    out_lines.append(
        f"\n### tier {name} (~{per_day:g} cases/day), {a.replicates} replicates per "
        f"scenario, {a.null_replicates}x{a.null_days} null days each for calibration "
        f"and evaluation; {secs:.0f} s wall"
    )
    out_lines.append("")
    out_lines.append(
        "| scenario | detector | POD within 7 d (95 % CI) | median day | Jaccard | "
        "false alarms / month |"
    )
    out_lines.append("|---|---|---|---|---|---|")
    for label, k, p, lo, hi, med, jc, f in rows:
        out_lines.append(
            f"| {label} | {k} | {p:.0%} ({lo:.0%}-{hi:.0%}) | "
            f"{'-' if math.isnan(med) else f'{med:.0f}'} | "
            f"{'-' if math.isnan(jc) else f'{jc:.2f}'} | {f:.2f} |"
        )
    if a.mc:
        out_lines.extend(deployed(b, per_day, a))
    return thr


def deployed(b, per_day, a):
    """The configuration the daily run uses: 999 replicates, alarm at p <= 0.01."""
    lines = []
    for k, fn in (("stp", "perm"), ("ebp", "ebp")):
        null_alarm = 0
        for i in range(a.null_replicates):
            counts = b.data(per_day, HISTORY + a.null_days, 20_000 + i)
            study = counts[-STUDY:]
            c = scan(fn, study, b.nbrs, i)
            null_alarm += bool(c) and c[0].p_value <= 0.01
        found = 0
        for i in range(a.replicates):
            seed = 30_000 + i
            counts = b.data(per_day, HISTORY + 7, seed)
            truth = syn.inject(
                counts, b.county, start=HISTORY, seed=seed + 1, per_day=per_day, **SCENARIOS[0][1]
            )
            c = scan(fn, counts[-STUDY:], b.nbrs, i)
            true_cells = set(np.flatnonzero(truth.any(axis=0)).tolist())
            found += bool(c) and c[0].p_value <= 0.01 and bool(set(c[0].cells) & true_cells)
        p0 = wilson(null_alarm, a.null_replicates)
        p1 = wilson(found, a.replicates)
        lines.append(
            f"- deployed {k} (999 replicates, p <= 0.01): null days alarming "
            f"{null_alarm}/{a.null_replicates} ({p0[0]:.0%}, CI {p0[1]:.0%}-{p0[2]:.0%};"
            f" nominal 1 %); compact RR 3 found by day 7 {found}/{a.replicates} "
            f"({p1[0]:.0%})"
        )
    return lines


def scan(fn, study, nbrs, seed):
    if fn == "perm":
        return permutation_scan(study, nbrs, rng=seed, max_clusters=1)
    return poisson_scan(study, baseline(study), nbrs, rng=seed, max_clusters=1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicates", type=int, default=20, help="event replicates per scenario")
    ap.add_argument("--null-replicates", type=int, default=20)
    ap.add_argument("--null-days", type=int, default=30)
    ap.add_argument("--tiers", default="medium,dense")
    ap.add_argument("--mc-only", action="store_true", help="only the deployed Monte Carlo check")
    ap.add_argument("--max-cells", type=int, default=50, help="largest circle (cells)")
    ap.add_argument("--artifacts", type=float, default=6.0, help="campaigns and dumps a year")
    ap.add_argument("--quick", action="store_true", help="CI size: < 60 s")
    ap.add_argument("--mc", action="store_true", help="also the deployed Monte Carlo check")
    a = ap.parse_args(argv)
    if a.quick:
        a.replicates, a.null_replicates, a.null_days, a.tiers = 3, 3, 20, "dense"
    t0 = time.perf_counter()
    b = Bench(a.artifacts, a.max_cells)
    lines = [f"command: bench/warning/benchmark.py {' '.join(argv or sys.argv[1:])}".rstrip()]
    print(lines[0], flush=True)
    for name in a.tiers.split(","):
        block = []
        run_tier(b, name, TIERS[name], a, block)
        print("\n".join(block), flush=True)
        lines.extend(block)
    lines.append(
        "\nCPU time per daily analysis (statistic only, 1,500 cells, 365-day study "
        "period): "
        + ", ".join(f"{k} {1000 * b.cpu[k] / max(b.calls[k], 1):.1f} ms" for k in DETECTORS)
    )
    lines.append(f"total {time.perf_counter() - t0:.0f} s wall")
    print("\n".join(lines[-2:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
