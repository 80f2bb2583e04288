"""Why compact RR 3 clusters are missed (issue 9, session 17 diagnosis).

Usage::

    .venv/bin/python bench/warning/diagnose.py [--tier dense] [--replicates 20]

For each replicate of the benchmark's compact RR 3 scenario (same seeds as benchmark.py) prints,
on days 3 and 7 of the event: the cluster's baseline expectation per day, the extra cases per day,
the permutation scan statistic of the *true* cylinder (its 9 cells, window = days since onset)
against the calibrated null threshold, which cylinder won the scan (event or elsewhere) and
whether the winner overlaps an artifact (campaign day or backlog dump within the window).
Then, on null seeds, how many of the null days above the threshold have an artifact in the
window (do artifacts eat the threshold?).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from bench.warning.benchmark import BUDGET, HISTORY, SCENARIOS, STUDY, TIERS, Bench  # noqa: E402
from civicgrid.warning.detect import synthetic as syn  # noqa: E402


def true_llr(study, cells, w):
    """Permutation LLR of the given cells over the last w days."""
    C = study.sum()
    c = study[-w:, cells].sum()
    mu = study[:, cells].sum() * study[-w:].sum() / C
    if c <= mu:
        return 0.0
    return float(c * np.log(c / mu) + (C - c) * np.log((C - c) / (C - mu)))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--tier", default="dense")
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--null-replicates", type=int, default=10)
    a = ap.parse_args(argv)
    per_day = TIERS[a.tier]
    b = Bench()
    # null: statistic and artifacts in window
    null, art_hit = [], []
    for i in range(a.null_replicates):
        seed = 10_000 + i
        days = HISTORY + 30
        arts = syn.random_artifacts(
            b.county, days, seed + 7, campaigns_per_year=6, dumps_per_year=6
        )
        counts = b.data(per_day, days, seed)
        for d in range(HISTORY, days):
            s = b.stats(counts, d)
            null.append((s["stp"][0], s["ebp"][0], s["ears_c2"][0], s["glm_cusum"][0]))
            camp = any(d - 6 <= x <= d for x in arts.campaign_days)
            dump = any(d - 6 <= x <= d for x, _ in arts.dumps)
            art_hit.append((camp, dump))
    null = np.array(null)
    art_hit = np.array(art_hit)
    names = ["stp", "ebp", "ears_c2", "glm_cusum"]
    thr = np.quantile(null, 1 - BUDGET, axis=0, method="higher")
    print(f"tier {a.tier}: {len(null)} null days; thresholds at 1 alarm / 30 days:")
    for j, n in enumerate(names):
        top = null[:, j] >= thr[j]
        print(
            f"  {n:9s} thr {thr[j]:7.2f}; null days over it {top.sum():3d}, of which with a "
            f"campaign day in the last 7 days {int((top & art_hit[:, 0]).sum())}, with a dump "
            f"{int((top & art_hit[:, 1]).sum())}; share of all null days with campaign "
            f"{art_hit[:, 0].mean():.0%}, dump {art_hit[:, 1].mean():.0%}"
        )
        # threshold without artifact days
        clean = ~(art_hit[:, 0] | art_hit[:, 1])
        t2 = np.quantile(null[clean, j], 1 - BUDGET, method="higher")
        if j == 0:
            thr_clean = t2
        print(f"            threshold over artifact-free days only: {t2:7.2f}")
    spec = SCENARIOS[0][1]
    print(
        "\ncompact RR 3 events: rep, baseline/day in cluster, extra/day, true-cylinder LLR day 3 /"
        " day 7 (thr), scan max day 3 / 7, winner on event?"
    )
    hits = 0
    oracle, bases = [], []
    for i in range(a.replicates):
        seed = 30_000 + i
        counts = b.data(per_day, HISTORY + 7, seed)
        plain = counts.copy()
        truth = syn.inject(counts, b.county, start=HISTORY, seed=seed + 1, per_day=per_day, **spec)
        cells = np.flatnonzero(truth.any(axis=0))
        base = per_day * b.county.weight[cells].sum()
        extra = (counts - plain)[HISTORY:, cells].sum() / 7
        row = [f"{i:2d}", f"{base:5.2f}", f"{extra:5.2f}"]
        tl, mx, won = [], [], []
        for day in (3, 7):
            d = HISTORY + day - 1
            study = counts[d - STUDY + 1 : d + 1]
            tl.append(true_llr(study, cells, day))
            s = b.stats(counts, d)
            mx.append(s["stp"][0])
            won.append(bool(s["stp"][1] & set(cells.tolist())))
        hits += won[1] and mx[1] >= thr[0]
        oracle.append(max(tl))
        bases.append(base)
        row += [f"{tl[0]:6.2f}/{tl[1]:6.2f}", f"{mx[0]:6.2f}/{mx[1]:6.2f}", f"{won}"]
        print("  " + "  ".join(row))
    print(
        f"stp thr {thr[0]:.2f}; found on day 7 (winner on event, over thr): {hits}/{a.replicates}"
    )
    for t in (thr[0], thr_clean):
        ok = sum(x >= t for x in oracle)
        print(
            f"oracle (true cells and window known, scan threshold {t:.2f}): {ok}/{len(oracle)};"
            f" cluster baseline < 1 case/day in {sum(x < 1 for x in bases)}/{len(bases)}"
        )


if __name__ == "__main__":
    main()
