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
    CELL_BASELINE_DAYS,
    baseline,
    cell_baseline,
    cusum_path,
    design,
    ears_statistic,
    neighbours,
    permutation_scan,
    poisson_scan,
)
from civicgrid.warning.detect import synthetic as syn  # noqa: E402
from civicgrid.warning.detect.prep import repair_dumps  # noqa: E402

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
    # reference §5.3 type A sizes k in {1, 4, 9, 20} (added in session 18; appended so the
    # earlier scenarios keep their seeds)
    ("compact k=4 RR 3", dict(kind="compact", rr=3.0, k=4)),
    ("compact k=4 RR 5", dict(kind="compact", rr=5.0, k=4)),
    ("compact k=20 RR 3", dict(kind="compact", rr=3.0, k=20)),
    ("compact k=20 RR 5", dict(kind="compact", rr=5.0, k=20)),
    ("compact k=1 RR 5", dict(kind="compact", rr=5.0, k=1)),
]
DETECTORS = ["stp", "ebp", "ears_c2", "glm_cusum"]
SPATIAL = {"stp", "ebp"}
# Reported rows: the four detectors (most likely cluster only), the scans counting secondary
# clusters too ("+2nd": any reported cluster over the threshold that touches the event), and
# the two scans combined ("stp|ebp": alarm when either is over its own null quantile, the pair
# calibrated together to the same budget).
ROWS = ["stp", "stp+2nd", "ebp", "ebp+2nd", "stp|ebp", "ears_c2", "glm_cusum"]
BUDGET = 1 / 30  # alarm days per day


class Bench:
    def __init__(
        self,
        artifacts_per_year: float = 6.0,
        max_cells: int = 50,
        mask=False,
        repair=False,
        ebp_baseline="ma",
        patrols_per_year=0.0,
    ):
        self.artifacts_per_year = artifacts_per_year
        self.patrols_per_year = patrols_per_year
        self.mask = mask
        self.repair = repair
        self.ebp_baseline = ebp_baseline
        self.county = syn.make_county(0)
        self.nbrs = neighbours(self.county.xy_km, max_cells=max_cells, max_radius_km=3.0)
        self.dates = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(HISTORY + 60)]
        self.X = design(self.dates)
        self.cpu = {d: 0.0 for d in DETECTORS}
        self.calls = {d: 0 for d in DETECTORS}

    def data(self, per_day, days, seed):
        """Counts with artifacts; with ``mask`` the campaign days are known to the detectors
        (``self.days_masked``, a boolean per day); dumps are never known."""
        a = self.artifacts_per_year
        arts = syn.random_artifacts(
            self.county,
            days,
            seed + 7,
            campaigns_per_year=a,
            dumps_per_year=a,
            patrols_per_year=self.patrols_per_year,
        )
        m = np.zeros(days, dtype=bool)
        if self.mask:
            m[[x for x in arts.campaign_days if x < days]] = True
        self.days_masked = m
        return syn.simulate(self.county, days=days, per_day=per_day, seed=seed, artifacts=arts)

    def _mask(self, d, rows):
        m = self.days_masked[d - rows + 1 : d + 1]
        return m if m.any() else None

    def prepared(self, counts, d):
        """The rows up to day d as the detectors see them: with ``repair`` the backlog dumps of
        the last weeks spread back over their days (``repair_dumps``, per township)."""
        x = counts[: d + 1]
        if not self.repair:
            return x
        x = x.copy()
        x[-STUDY:] = repair_dumps(x[-STUDY:], self.county.township, mask=self._mask(d, STUDY))[0]
        return x

    def expected(self, study, m):
        """The Poisson scan's baseline and the effective days of data behind it."""
        if self.ebp_baseline == "cell":
            return cell_baseline(study, self.county.township, mask=m), CELL_BASELINE_DAYS
        return baseline(study, mask=m), 70.0

    def temporal(self, counts, d, prepared=False):
        out = {}
        if not prepared:
            counts = self.prepared(counts, d)
        t3 = time.process_time()
        total = counts[: d + 1].sum(axis=1)
        e = ears_statistic(total[-30:], "C2", mask=self._mask(d, 30))[-1]
        out["ears_c2"] = (float(e) if np.isfinite(e) else -np.inf, None, 0, [])
        t4 = time.process_time()
        self.cpu["ears_c2"] += t4 - t3
        path = cusum_path(
            total, self.dates[: d + 1], design_matrix=self.X[: d + 1], mask=self._mask(d, d + 1)
        )[0]
        out["glm_cusum"] = (float(path[-1]), None, 0, [])
        self.cpu["glm_cusum"] += time.process_time() - t4
        return out

    def stats(self, counts, d):
        """Each detector's statistic for the analysis of day d: (value, cells, start)."""
        out = {}
        counts = self.prepared(counts, d)
        study = counts[d - STUDY + 1 : d + 1]
        m = self._mask(d, STUDY)
        t = time.process_time()
        c = permutation_scan(study, self.nbrs, replicates=0, max_clusters=5, mask=m)
        out["stp"] = self._found(c)
        t2 = time.process_time()
        self.cpu["stp"] += t2 - t
        c = poisson_scan(
            study,
            self.expected(study, m)[0],
            self.nbrs,
            replicates=0,
            max_clusters=5,
            dispersion=1.0,
            mask=m,
        )
        out["ebp"] = self._found(c)
        t3 = time.process_time()
        self.cpu["ebp"] += t3 - t2
        out.update(self.temporal(counts, d, prepared=True))
        for k in DETECTORS:
            self.calls[k] += 1
        return out

    @staticmethod
    def _found(c):
        """(most likely statistic, its cells, its start, [(statistic, cells) of all])."""
        if not c:
            return (0.0, set(), 0, [])
        return (
            c[0].statistic,
            set(c[0].cells),
            c[0].start,
            [(x.statistic, set(x.cells)) for x in c],
        )


def wilson(k, n, z=1.96):
    if n == 0:
        return (float("nan"),) * 3
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return p, max(0.0, mid - half), min(1.0, mid + half)


def null_stats(b, per_day, seeds, days):
    """Each detector's statistic on every null day; ``b.null_cells`` keeps the flagged cells
    (None for the temporal detectors) per replicate, for counting signals."""
    out = {d: [] for d in DETECTORS}
    b.null_cells = {d: [] for d in DETECTORS}
    for seed in seeds:
        counts = b.data(per_day, HISTORY + days, seed)
        for k in DETECTORS:
            b.null_cells[k].append([])
        for d in range(HISTORY, HISTORY + days):
            for k, v in b.stats(counts, d).items():
                out[k].append(v[0])
                b.null_cells[k][-1].append(v[1] if k in SPATIAL else None)
    return {k: np.array(v) for k, v in out.items()}


def false_signals(values, cells, thr):
    """False alarms per category-month counted as signals: an alarm day whose cluster shares
    a cell with the previous day's alarm (a temporal one: follows an alarm day) is the same
    ongoing signal, which the daily run does not announce again."""
    n = sig = 0
    i = 0
    for run in cells:
        prev = None
        for c in run:
            alarm = values[i] >= thr
            i += 1
            n += 1
            if alarm:
                same = prev is not None and (c is None or bool(c & prev))
                sig += not same
                prev = c if c is not None else set()
            else:
                prev = None
    return sig / max(n, 1) * 30


def run_tier(b, name, per_day, a, out_lines):
    t0 = time.perf_counter()
    if a.mc_only:
        out_lines.append(f"\n### tier {name}: deployed configuration only")
        out_lines.extend(deployed(b, per_day, a))
        return None
    calib = null_stats(b, per_day, [10_000 + i for i in range(a.null_replicates)], a.null_days)
    thr = {k: float(np.quantile(v, 1 - BUDGET, method="higher")) for k, v in calib.items()}
    # stp|ebp: each scan's statistic as its rank among the calibration null days; the pair
    # alarms when the larger rank passes the rank threshold that leaves the same budget.
    ranked = {k: np.sort(calib[k]) for k in ("stp", "ebp")}

    def rank(k, x):
        return np.searchsorted(ranked[k], x, side="right") / len(ranked[k])

    comb = np.maximum(rank("stp", calib["stp"]), rank("ebp", calib["ebp"]))
    thr["stp|ebp"] = float(np.quantile(comb, 1 - BUDGET, method="higher"))
    evaln = null_stats(b, per_day, [20_000 + i for i in range(a.null_replicates)], a.null_days)
    fa = {k: float(np.mean(v >= thr[k]) * 30) for k, v in evaln.items()}
    fa_signals = {k: false_signals(evaln[k], b.null_cells[k], thr[k]) for k in DETECTORS}
    fa["stp|ebp"] = float(
        np.mean(np.maximum(rank("stp", evaln["stp"]), rank("ebp", evaln["ebp"])) >= thr["stp|ebp"])
        * 30
    )
    for k in SPATIAL:
        fa[k + "+2nd"] = fa[k]
    rows = []
    strata = []
    for s, (label, spec) in enumerate(SCENARIOS):
        if a.scenarios and label not in a.scenarios:
            continue
        detected = {k: [] for k in ROWS}
        jac = {k: [] for k in ROWS}
        base7 = []  # the event cells' expected baseline cases over the 7 days
        for i in range(a.replicates):
            seed = 30_000 + 1000 * s + i
            plain = b.data(per_day, HISTORY + 7, seed)
            counts = plain.copy()
            truth = syn.inject(
                counts, b.county, start=HISTORY, seed=seed + 1, per_day=per_day, **spec
            )
            cells0 = np.flatnonzero(truth.any(axis=0))
            base7.append(7 * per_day * float(b.county.weight[cells0].sum()))
            first = {k: None for k in ROWS}
            for day in range(7):
                d = HISTORY + day
                true_cells = set(np.flatnonzero(truth[HISTORY : d + 1].any(axis=0)).tolist())
                without = None
                st = b.stats(counts, d)
                hits = {}  # row -> flagged cells (set) or None for temporal
                for k, (val, cells, _start, every) in st.items():
                    if k in SPATIAL:
                        if val >= thr[k] and cells & true_cells:
                            hits[k] = cells
                        for v2, c2 in every:
                            if v2 >= thr[k] and c2 & true_cells:
                                hits[k + "+2nd"] = c2
                                break
                        if rank(k, val) >= thr["stp|ebp"] and cells & true_cells:
                            hits.setdefault("stp|ebp", cells)
                    elif val >= thr[k]:
                        # the same day without the event must not alarm
                        without = without or b.temporal(plain, d)
                        if without[k][0] < thr[k]:
                            hits[k] = None
                for k, cells in hits.items():
                    if first[k] is not None:
                        continue
                    first[k] = day + 1
                    if cells is not None:
                        jac[k].append(len(cells & true_cells) / len(cells | true_cells))
            for k in ROWS:
                detected[k].append(first[k])
        if spec["kind"] == "compact":
            big = np.array(base7) >= 10
            parts = []
            for k in ("stp", "stp|ebp"):
                got = np.array([x is not None for x in detected[k]])
                parts.append(
                    f"{k} {int(got[big].sum())}/{int(big.sum())} and "
                    f"{int(got[~big].sum())}/{int((~big).sum())}"
                )
            strata.append(
                f"- {label}: found within 7 d when the cluster's {spec['k']} cells expect "
                ">= 10 / < 10 "
                f"baseline cases in the week: " + "; ".join(parts)
            )
        for k in ROWS:
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
        f"and evaluation; campaign days {'masked' if b.mask else 'not masked'}; "
        f"{secs:.0f} s wall"
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
    out_lines.extend(strata)
    out_lines.append(
        "- false alarms / month counted as signals (an alarm on the same cells as the day "
        "before is the same signal): " + ", ".join(f"{k} {v:.2f}" for k, v in fa_signals.items())
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
            c = scan(fn, b.prepared(counts, len(counts) - 1)[-STUDY:], b, i)
            null_alarm += bool(c) and c[0].p_value <= 0.01
        found = 0
        for i in range(a.replicates):
            seed = 30_000 + i
            counts = b.data(per_day, HISTORY + 7, seed)
            truth = syn.inject(
                counts, b.county, start=HISTORY, seed=seed + 1, per_day=per_day, **SCENARIOS[0][1]
            )
            c = scan(fn, b.prepared(counts, len(counts) - 1)[-STUDY:], b, i)
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


def scan(fn, study, b, seed):
    mask = b.days_masked[-STUDY:]  # the replicate just generated by b.data
    mask = mask if mask.any() else None
    if fn == "perm":
        return permutation_scan(study, b.nbrs, rng=seed, max_clusters=1, mask=mask)
    expected, days = b.expected(study, mask)
    return poisson_scan(
        study, expected, b.nbrs, rng=seed, max_clusters=1, mask=mask, baseline_days=days
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicates", type=int, default=20, help="event replicates per scenario")
    ap.add_argument("--null-replicates", type=int, default=20)
    ap.add_argument("--null-days", type=int, default=30)
    ap.add_argument("--tiers", default="medium,dense")
    ap.add_argument("--mc-only", action="store_true", help="only the deployed Monte Carlo check")
    ap.add_argument("--max-cells", type=int, default=50, help="largest circle (cells)")
    ap.add_argument("--artifacts", type=float, default=6.0, help="campaigns and dumps a year")
    ap.add_argument(
        "--patrols",
        type=float,
        default=0.0,
        help="patrol reassignments a year (reference §5.3 nuisance: 10-30 cells x2 for 30 days)",
    )
    ap.add_argument("--quick", action="store_true", help="CI size: < 60 s")
    ap.add_argument("--mc", action="store_true", help="also the deployed Monte Carlo check")
    ap.add_argument(
        "--mask", action="store_true", help="campaign days known to the detectors (left out)"
    )
    ap.add_argument(
        "--repair", action="store_true", help="backlog dumps spread back first (repair_dumps)"
    )
    ap.add_argument(
        "--ebp-baseline",
        default="ma",
        choices=("ma", "cell"),
        help="Poisson scan baseline: 8-week DOW moving average or the per-cell model",
    )
    ap.add_argument(
        "--scenarios",
        default="",
        help="comma-separated scenario labels to run (default: all): "
        + "; ".join(label for label, _ in SCENARIOS),
    )
    a = ap.parse_args(argv)
    a.scenarios = [x.strip() for x in a.scenarios.split(",") if x.strip()]
    if a.quick:
        a.replicates, a.null_replicates, a.null_days, a.tiers = 3, 3, 20, "dense"
    t0 = time.perf_counter()
    b = Bench(
        a.artifacts,
        a.max_cells,
        mask=a.mask,
        repair=a.repair,
        ebp_baseline=a.ebp_baseline,
        patrols_per_year=a.patrols,
    )
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
