"""Data preparation before the scans (reference §5.1): backlog dumps.

A township that enters a week of reports on one day leaves a hole of quiet days followed by a
day carrying them all. Nothing in the data marks it (a case has one time, its report time), but
the shape does: the township's total is far below its expectation for ``lag`` days running and
far above it on the next. :func:`repair_dumps` finds such township-days and spreads each cell's
cases of the ``lag + 1`` days evenly back over them, so no scan sees a one-day cluster (nor the
hole). A real problem does not empty the week before it, so it is left alone.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["repair_dumps", "townships_of"]


def townships_of(codes) -> np.ndarray:
    """An integer township label per grid code (its first nine digits)."""
    towns = {}
    return np.array([towns.setdefault(str(c)[:9], len(towns)) for c in codes], dtype=np.intp)


def repair_dumps(
    counts: np.ndarray,
    township,
    *,
    lag: int = 7,
    alpha: float = 0.01,
    last: int | None = 21,
    mask=None,
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Spread backlog dumps back over the days they came from.

    A dump on row d of township t: the township's cases over rows d-lag..d-1 are at most a
    quarter of their expectation (its mean daily count e over the unmasked rows) and at or
    below its Poisson ``alpha`` quantile, *and* row d has at least 2.5 e cases and is at or
    above the upper ``alpha`` quantile of a day's (the ratios keep a busy township's ordinary
    swings -- weather, season -- from passing the Poisson tests). Each of the
    township's cells then gets its cases of rows d-lag..d spread evenly over them (integer
    parts, the remainder on the latest rows). Only dumps ending in the last ``last`` rows are
    looked for (None: all) -- the scans read the last few weeks; older ones barely move the
    long-run shares. Returns (the repaired copy, [(row, township label)]).
    """
    x = np.array(counts, dtype=np.int64, copy=True)
    T, N = x.shape
    town = np.asarray(township, dtype=np.intp).reshape(-1)
    if len(town) != N or T <= lag:
        return x, []
    use = np.ones(T, dtype=bool) if mask is None else ~np.asarray(mask, dtype=bool)
    labels = np.unique(town)
    member = (town[:, None] == labels[None, :]).astype(np.int64)
    series = x @ member  # T x towns
    mean = np.where(use.any(), series[use].mean(axis=0), 0.0)
    found = []
    first = lag if last is None else max(lag, T - int(last))
    for j, t in enumerate(labels):
        e = float(mean[j])
        if e <= 0:
            continue
        d = first
        while d < T:
            before = int(series[d - lag : d, j].sum())
            day = int(series[d, j])
            if (
                before <= 0.25 * lag * e
                and day >= 2.5 * e
                and special.pdtr(before, lag * e) < alpha
                and special.pdtrc(day - 1, e) < alpha
            ):
                cols = np.flatnonzero(town == t)
                block = x[d - lag : d + 1, cols].sum(axis=0)  # per cell
                n = lag + 1
                base, rest = np.divmod(block, n)
                spread = np.repeat(base[None, :], n, axis=0)
                for k in range(1, n + 1):  # remainders on the latest rows
                    spread[n - k] += rest >= k
                x[d - lag : d + 1, cols] = spread
                series[d - lag : d + 1, j] = spread.sum(axis=1)
                found.append((int(d), int(t)))
                d += lag
            d += 1
    return x, found
