"""How well can *any* detector find the benchmark's compact clusters? (issue 9, session 22)

Usage::

    .venv/bin/python bench/warning/bound.py [--tiers dense,medium] [--ks 4,9,20] [--rrs 3,5]
        [--null 20000] [--events 4000] [--seed 1]

The benchmark's compact scenario (``synthetic.inject(kind="compact")``): a centre drawn by rate
(``county.weight``), its k nearest cells, from the onset on extra cases Poisson with mean
(RR - 1) x the cell's expected count. The budget: one alarm day per 30 days.

A *genie* knows everything but the place: the county's rates, the day of week, the season,
every day's county-wide gamma factor, that the event is such a cluster and the day it began --
and it sees the counts without artifacts (campaign days, dumps) and without needing a baseline.
Given all that, the days before the onset say nothing (their distribution is the same with and
without the event), and the most powerful test of "a cluster began d days ago" against "no
cluster" at any size alpha is, by the Neyman-Pearson lemma, the likelihood ratio averaged over
the centres with the generator's own prior::

    LR_d = sum_c w_c exp(sum_{t <= d} a_t X_{c,t} - E_{c,t}),  a_t = log(1 + (RR-1) / (s_t f_t))

(X_{c,t}: the count of centre c's k cells on day t; E_{c,t}: the extra cases expected there; s_t
the season, f_t the day factor; the DOW cancels in a_t.) Three figures per scenario:

* ``bound``: an upper bound on the probability of detection within 7 days for *every* detector
  whose false alarms stay within the budget. Such a detector's "alarm on any of the 7 days after
  the onset" is a test of size <= 7/30 (7 days at <= 1/30 each, under no event) that uses the
  data up to day 7, so its power is at most that of LR_7 at size 7/30. It ignores whether the
  alarm points at the right cells, so it is generous.
* ``day 7``: LR_7 at size 1/30 -- the best any test on day 7 alone can do at the daily budget.
* ``genie``: alarm on day d (1..7) when LR_d passes its own 1/30 null quantile -- a daily rule
  within the budget that knows the onset; roughly the best a real daily detector could hope for.

Null quantiles from ``--null`` simulated null weeks, powers from ``--events`` simulated events
(Wilson 95 % intervals). Nothing here is a detector of the system; it measures the problem.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
from scipy import special, stats  # noqa: E402

from bench.warning.benchmark import BUDGET, HISTORY, TIERS, wilson  # noqa: E402
from civicgrid.warning.detect import synthetic as syn  # noqa: E402

DAYS = 7
DAY_CV = 0.2  # synthetic.simulate's default
SEASON = 0.3


class Genie:
    def __init__(self, county: syn.County, per_day: float, k: int, rr: float):
        self.county = county
        self.per_day = per_day
        self.rr = rr
        self.zones = np.stack([syn.nearest(county, c, k) for c in range(county.n)])
        t = np.arange(HISTORY, HISTORY + DAYS)  # the benchmark's onset and its week
        self.dow = syn.DOW[t % 7]
        self.season = np.exp(SEASON * np.sin(2 * np.pi * t / 365.25))
        self.log_prior = np.log(county.weight)
        # the extra cases each centre's zone expects per day (the DOW without the season)
        zone_w = county.weight[self.zones].sum(axis=1)
        self.extra = (rr - 1.0) * per_day * self.dow[:, None] * zone_w[None, :]

    def week(self, rng, n: int, event: bool):
        """n simulated weeks: (cell counts (n, DAYS, cells), day factors (n, DAYS))."""
        w = self.county.weight
        f = rng.gamma(1 / DAY_CV**2, DAY_CV**2, (n, DAYS))
        mu = self.per_day * (self.dow * self.season)[None, :, None] * f[:, :, None] * w
        x = rng.poisson(mu)
        if event:
            centres = rng.choice(self.county.n, size=n, p=w)
            for j, c in enumerate(centres):
                cells = self.zones[c]
                extra = (self.rr - 1.0) * self.per_day * self.dow[:, None] * w[cells][None, :]
                x[j][:, cells] += rng.poisson(extra)
        return x, f

    def statistics(self, x, f):
        """log LR_d for d = 1..DAYS: (n, DAYS)."""
        zone_counts = x[:, :, self.zones].sum(axis=3)
        a = np.log1p((self.rr - 1.0) / (self.season[None, :] * f))  # (n, DAYS)
        llr = np.cumsum(a[:, :, None] * zone_counts - self.extra[None], axis=1)
        return special.logsumexp(self.log_prior[None, None, :] + llr, axis=2)

    def direct(self, x, f):
        """log LR_DAYS of one week computed cell by cell from the Poisson probabilities (the
        check of ``statistics``)."""
        w = self.county.weight
        null = self.per_day * (self.dow * self.season * f)[:, None] * w[None, :]
        extra = (self.rr - 1.0) * self.per_day * self.dow[:, None] * w[None, :]
        gain = stats.poisson.logpmf(x, null + extra) - stats.poisson.logpmf(x, null)
        per_zone = gain[:, self.zones].sum(axis=(0, 2))
        return float(special.logsumexp(self.log_prior + per_zone, axis=0))

    def simulate(self, rng, n: int, event: bool, batch: int = 100):
        out = []
        for i in range(0, n, batch):
            out.append(self.statistics(*self.week(rng, min(batch, n - i), event)))
        return np.concatenate(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiers", default="dense,medium")
    ap.add_argument("--ks", default="4,9,20")
    ap.add_argument("--rrs", default="3,5")
    ap.add_argument("--null", type=int, default=20_000)
    ap.add_argument("--events", type=int, default=4_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="CI: check the likelihood ratio against the Poisson probabilities, one small run",
    )
    a = ap.parse_args(argv)
    if a.quick:
        county = syn.make_county(0)
        rng = np.random.default_rng(a.seed)
        for k, rr in ((1, 3.0), (9, 5.0)):
            g = Genie(county, TIERS["dense"], k, rr)
            x, f = g.week(rng, 3, event=True)
            fast = g.statistics(x, f)[:, -1]
            slow = [g.direct(x[j], f[j]) for j in range(3)]
            if not np.allclose(fast, slow, rtol=1e-9, atol=1e-9):
                print(f"likelihood ratio check FAILED for k={k}: {fast} != {slow}")
                return 1
        print("likelihood ratio check: the vectorised statistic equals the cell-by-cell one")
        a.tiers, a.ks, a.rrs, a.null, a.events = "dense", "9", "3", 2000, 500
    t0, c0 = time.perf_counter(), time.process_time()
    county = syn.make_county(0)
    print(
        f"genie bounds; {a.null} null weeks, {a.events} events per scenario; budget "
        f"{BUDGET:.4f} alarm days a day"
    )
    print("| tier | scenario | bound: any detector, within 7 d | day 7 at 1/30 | genie, daily |")
    print("|---|---|---|---|---|")
    for tier in a.tiers.split(","):
        per_day = TIERS[tier]
        for k in (int(x) for x in a.ks.split(",")):
            for rr in (float(x) for x in a.rrs.split(",")):
                rng = np.random.default_rng([a.seed, k, int(rr * 10), int(per_day)])
                g = Genie(county, per_day, k, rr)
                null = g.simulate(rng, a.null, event=False)
                ev = g.simulate(rng, a.events, event=True)
                q7 = np.quantile(null[:, -1], 1 - DAYS * BUDGET)
                q1 = np.quantile(null, 1 - BUDGET, axis=0)  # per day d
                n = len(ev)
                cells = [
                    wilson(int((ev[:, -1] > q7).sum()), n),
                    wilson(int((ev[:, -1] > q1[-1]).sum()), n),
                    wilson(int((ev > q1[None, :]).any(axis=1).sum()), n),
                ]
                text = " | ".join(f"{p:.1%} ({lo:.1%}-{hi:.1%})" for p, lo, hi in cells)
                print(f"| {tier} | compact k={k} RR {rr:g} | {text} |", flush=True)
    print(f"{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
