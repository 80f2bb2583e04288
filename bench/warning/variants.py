"""Scan statistics compared at the same false-alarm budget (issue 9, sessions 18 and 22).

Usage::

    nice -n 15 .venv/bin/python bench/warning/variants.py [--tier dense] [--replicates 20]
        [--null-replicates 20] [--null-days 30] [--ks 9] [--rrs 3,5]

Same synthetic county, artifacts, masked campaign days and seeds as ``benchmark.py`` (thresholds
from the calibration null seeds 10000+i, false alarms on the evaluation null seeds 20000+i,
events on 30000+1000 s+i). Every variant is a score per cylinder (centre + its k nearest cells x
the last w = 1..7 days), the backlog guard applied, and its daily statistic is the maximum over
the cylinders it may search; detection = that maximum over the threshold with its cylinder on
the event, on any of days 1..7. Scores only (no Monte Carlo): the power of each statistic at the
budget of one alarm day per 30 days. Variants:

* ``stp``: the permutation scan's LLR (what ``permutation_scan`` computes), k <= 50;
* ``ebp_ma``: the expectation-based Poisson score against ``baseline`` (8-week DOW moving
  average), as deployed before session 18;
* ``ebp_cell``: the Poisson score against the per-cell model ``cell_baseline`` (each cell's share
  of the masked history, shrunk towards its township, times the DOW-adjusted county level);
* ``ebp_cond``: the Poisson score against the cell shares times each day's observed county total
  (conditions on the daily totals like the permutation scan, with the long-history shares);
* ``ebp_oracle``: against the generator's true expectation (diagnostic: no baseline can do
  better; the day factor is not known to it);
* ``bayes_cell``, ``bayes_cond``, ``bayes_oracle`` (session 22): the Bayesian scan (Neill, Moore
  & Cooper 2006) against those expectations -- the log of the likelihood ratio averaged over
  every cylinder and q in {1.5, 2, 3, 5} (centres by their share of the expectation, as the
  generator draws them; sizes and windows uniform) instead of the maximum; its cells are the
  cylinder with the largest share of that average;
* ``...@20``: the same restricted to k <= 20 nearest cells; ``...:E``: only cylinders expecting
  at least E cases;
* ``a|b``: two variants with one budget (each statistic as its rank among the calibration null
  days; alarm when the larger rank passes the pair's quantile).

False alarms are printed per category-month two ways: alarm days (the benchmark's measure) and
signals (an alarm day whose cylinder shares a cell with the previous day's alarm is the same
ongoing signal, which the daily run does not re-announce).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
from scipy import special  # noqa: E402

from bench.warning.benchmark import BUDGET, HISTORY, STUDY, TIERS, Bench, wilson  # noqa: E402
from civicgrid.warning.detect import baseline, cell_baseline  # noqa: E402
from civicgrid.warning.detect import scan as S  # noqa: E402
from civicgrid.warning.detect import synthetic as syn  # noqa: E402
from civicgrid.warning.detect.prep import repair_dumps  # noqa: E402

W = 7
G = 7
Q = (1.5, 2.0, 3.0, 5.0)  # relative risks the Bayesian scan averages over


class Scorer:
    def __init__(self, b: Bench, per_day: float, variants, repair=False):
        self.b = b
        self.repair = repair
        self.per_day = per_day
        self.cyl = S._Cylinders(b.nbrs, b.county.n)
        self.variants = variants
        c = b.county
        self.true_rate = per_day * c.weight  # per cell per day, before DOW and season

    def oracle(self, d, rows):
        t = np.arange(d - rows + 1, d + 1)
        level = syn.DOW[t % 7] * np.exp(0.3 * np.sin(2 * np.pi * t / 365.25))
        return level[:, None] * self.true_rate[None, :]

    def day(self, counts, d):
        """{variant: (statistic, cells)} for the analysis of day d."""
        b = self.b
        study = counts[d - STUDY + 1 : d + 1]
        m = b._mask(d, STUDY)
        if self.repair:
            study = repair_dumps(study, b.county.township, mask=m)[0]
        mm = np.zeros(STUDY, dtype=bool) if m is None else m
        x = np.where(mm[:, None], 0, study).astype(np.int64)
        T, N = x.shape
        cyl = self.cyl
        obs = cyl.circle_sums(S._window_sums(x[T - W :]))
        obs_ext = S._extended_counts(x, W, G, cyl)
        xlogx = S._xlogx_table(int(x[T - W - G :].sum()) + 1)
        scores = {}

        expectations = {}

        def expectation(src):
            """(W + G, N) expected counts of the last rows by the source a variant names."""
            if src not in expectations:
                if src == "ma":
                    e = baseline(study, mask=m, days=W + G)
                elif src in ("cell", "cond"):
                    e = cell_baseline(study, self.b.county.township, days=W, rows=W + G, mask=m)
                    if src == "cond":  # the shares times each day's observed total
                        e = x[T - W - G :].sum(axis=1)[:, None] * (e.sum(axis=0) / e.sum())
                elif src == "oracle":
                    e = self.oracle(d, W + G)
                else:
                    raise ValueError(src)
                expectations[src] = np.where(mm[T - W - G :, None], 0.0, e)
            return expectations[src]

        def cylinder_sums(rows_b):  # masked rows already zero
            B = cyl.circle_sums(S._window_sums(rows_b[G:]))
            return B, cyl.circle_sums(S._window_sums(rows_b)[:, G : G + W])

        def ebp(rows_b):
            B, B_ext = cylinder_sums(rows_b)
            lnB = np.log(np.maximum(B, 1e-300))
            s = S._ebp_score(obs, B, lnB, xlogx)
            return S._backlog_guard(s, obs, B, obs_ext, B_ext), B

        def bayes(rows_b, kmax):
            """Bayesian scan (Neill, Moore & Cooper 2006): the log of the likelihood ratio of
            "a cluster somewhere" averaged over the cylinders and relative risks under a prior --
            centre by its share of the expectation (the generator draws centres by rate), size
            and window uniform, q uniform over Q -- instead of the maximum over them."""
            B, B_ext = cylinder_sums(rows_b)
            K = min(kmax, cyl.K)
            keep = S._backlog_guard(np.full(obs.shape, 10.0), obs, B, obs_ext, B_ext) > 0
            keep = keep[:, :K] & (cyl.pad[:, :K] < cyl.n_cells)[:, :, None]
            share = rows_b.sum(axis=0)
            lp = np.log(np.maximum(share / share.sum(), 1e-300))
            nk = np.maximum((cyl.pad[:, :K] < cyl.n_cells).sum(axis=1), 1)
            prior = (lp - np.log(nk))[:, None, None] - np.log(W * len(Q))
            o, e = obs[:, :K].astype(float), B[:, :K]
            terms = np.stack([prior + o * np.log(q) - (q - 1.0) * e for q in Q])
            terms = np.where(keep[None], terms, -np.inf)
            best = terms.max(axis=0)
            stat = float(special.logsumexp(terms))
            j = np.unravel_index(int(best.argmax()), best.shape)
            return stat, set(cyl.cells_of(int(j[0]), int(j[1])))

        base = {}
        for v in self.variants:
            kind = v.split("@")[0].split(":")[0]
            if kind.startswith("bayes_"):
                kmax = int(v.split("@")[1]) if "@" in v else cyl.K
                base[v] = bayes(expectation(kind.split("_", 1)[1]), kmax)
            elif kind in base:
                continue
            elif kind == "stp":
                by_cell = x.sum(axis=0)
                by_day = x.sum(axis=1)
                C = int(by_cell.sum())
                D = np.cumsum(by_day[T - W :][::-1])
                ncum = cyl.circle_sums(by_cell[:, None].astype(float))[:, :, 0]
                mu = ncum[:, :, None] * D[None, None, :] / C
                lnmu = np.log(np.maximum(mu, 1e-300))
                lnCmu = np.log(np.maximum(C - mu, 1e-300))
                s = S._perm_llr(obs, mu, C, S._xlogx_table(C), lnmu, lnCmu)
                D_ext = np.cumsum(by_day[T - W - G :][::-1])[G : G + W]
                s = S._backlog_guard(s, obs, mu, obs_ext, ncum[:, :, None] * D_ext / C)
                base[kind] = (s, mu)
            elif kind.startswith("ebp_"):
                base[kind] = ebp(expectation(kind.split("_", 1)[1]))
            else:
                raise ValueError(v)
        for v in self.variants:
            if v.startswith("bayes_"):
                scores[v] = base[v]
                continue
            kind = v.split("@")[0].split(":")[0]
            s, e = base[kind]
            if "@" in v:
                k = int(v.split("@")[1].split(":")[0])
                s = s[:, :k]
                e = e[:, :k]
            if ":" in v:
                s = np.where(e >= float(v.split(":")[1]), s, 0.0)
            j = np.unravel_index(int(s.argmax()), s.shape)
            scores[v] = (float(s[j]), set(cyl.cells_of(int(j[0]), int(j[1]))))
        return scores


def null_days(sc, seeds, days):
    out = {v: [] for v in sc.variants}
    for seed in seeds:
        counts = sc.b.data(sc.per_day, HISTORY + days, seed)
        per = {v: [] for v in sc.variants}
        for d in range(HISTORY, HISTORY + days):
            for v, r in sc.day(counts, d).items():
                per[v].append(r)
        for v in sc.variants:
            out[v].append(per[v])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tier", default="dense")
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--null-replicates", type=int, default=20)
    ap.add_argument("--null-days", type=int, default=30)
    ap.add_argument("--ks", default="9")
    ap.add_argument("--rrs", default="3,5")
    ap.add_argument(
        "--variants",
        default="stp,stp@20,stp:3,ebp_ma,ebp_cell,ebp_cell@20,ebp_cond,ebp_oracle",
    )
    ap.add_argument("--pairs", default="stp|ebp_cell")
    ap.add_argument("--repair", action="store_true", help="repair backlog dumps first")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    c0 = time.process_time()
    per_day = TIERS[a.tier]
    b = Bench(mask=True)
    variants = a.variants.split(",")
    sc = Scorer(b, per_day, variants, repair=a.repair)
    pairs = [p.split("|") for p in a.pairs.split(",") if p]
    cal = null_days(sc, [10_000 + i for i in range(a.null_replicates)], a.null_days)
    ev = null_days(sc, [20_000 + i for i in range(a.null_replicates)], a.null_days)

    def flat(runs):
        return np.array([s for run in runs for s, _ in run])

    thr, ranked = {}, {}
    for v in variants:
        x = flat(cal[v])
        thr[v] = float(np.quantile(x, 1 - BUDGET, method="higher"))
        ranked[v] = np.sort(x)

    def rank(v, s):
        return np.searchsorted(ranked[v], s, side="right") / len(ranked[v])

    for p, q in pairs:
        comb = np.maximum(rank(p, flat(cal[p])), rank(q, flat(cal[q])))
        thr[f"{p}|{q}"] = float(np.quantile(comb, 1 - BUDGET, method="higher"))

    def alarms(v, runs_of):
        """(alarm days, signals) per category-month on the evaluation null days."""
        days = sig = n = 0
        if "|" in v:
            p, q = v.split("|")
            runs = [
                [
                    (max(rank(p, sp), rank(q, sq)), cp if rank(p, sp) >= rank(q, sq) else cq)
                    for (sp, cp), (sq, cq) in zip(rp, rq, strict=True)
                ]
                for rp, rq in zip(runs_of[p], runs_of[q], strict=True)
            ]
        else:
            runs = runs_of[v]
        for run in runs:
            prev = set()
            for s, cells in run:
                n += 1
                if s >= thr[v]:
                    days += 1
                    sig += not (cells & prev)
                    prev = cells
                else:
                    prev = set()
        return days / n * 30, sig / n * 30

    rows = variants + [f"{p}|{q}" for p, q in pairs]
    print(
        f"tier {a.tier} (~{per_day:g}/day), campaign days masked; {a.null_replicates}x"
        f"{a.null_days} null days for calibration and for evaluation, {a.replicates} event "
        f"replicates per scenario; backlog dumps {'repaired' if a.repair else 'not repaired'}"
    )
    print(
        "| scenario | variant | threshold | POD within 7 d (95 % CI) | median day | "
        "FA days / month | FA signals / month |"
    )
    print("|---|---|---|---|---|---|---|")
    fa = {v: alarms(v, ev) for v in rows}
    for k, rr in ((int(k), float(r)) for k in a.ks.split(",") for r in a.rrs.split(",")):
        label = f"compact k={k} RR {rr:g}"
        first = {v: [] for v in rows}
        for i in range(a.replicates):
            # k = 9: the benchmark's seeds (RR 3: 30000+i, RR 5: 31000+i)
            if k == 9 and rr in (3.0, 5.0):
                seed = 30_000 + 1000 * int(rr == 5.0) + i
            else:
                seed = 40_000 + 1000 * k + 100 * int(rr) + i
            counts = b.data(per_day, HISTORY + 7, seed)
            truth = syn.inject(
                counts,
                b.county,
                kind="compact",
                start=HISTORY,
                rr=rr,
                k=k,
                seed=seed + 1,
                per_day=per_day,
            )
            got = {v: None for v in rows}
            for day in range(7):
                d = HISTORY + day
                true_cells = set(np.flatnonzero(truth[HISTORY : d + 1].any(axis=0)).tolist())
                r = sc.day(counts, d)
                for v in variants:
                    if got[v] is None and r[v][0] >= thr[v] and r[v][1] & true_cells:
                        got[v] = day + 1
                for p, q in pairs:
                    v = f"{p}|{q}"
                    rp, rq = rank(p, r[p][0]), rank(q, r[q][0])
                    cells = r[p][1] if rp >= rq else r[q][1]
                    if got[v] is None and max(rp, rq) >= thr[v] and cells & true_cells:
                        got[v] = day + 1
            for v in rows:
                first[v].append(got[v])
        for v in rows:
            hits = [x for x in first[v] if x is not None]
            p, lo, hi = wilson(len(hits), len(first[v]))
            med = f"{np.median(hits):.0f}" if hits else "-"
            print(
                f"| {label} | {v} | {thr[v]:.2f} | {p:.0%} ({lo:.0%}-{hi:.0%}) | {med} | "
                f"{fa[v][0]:.2f} | {fa[v][1]:.2f} |",
                flush=True,
            )
    print(f"{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
