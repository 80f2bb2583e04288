"""Prospective space-time scans over grid cells (numpy/scipy only, no Django).

Two statistics, both prospective (every window ends on the last day of the counts matrix):

* :func:`permutation_scan` -- Kulldorff's space-time permutation scan (2005): no denominators,
  expectation from the margins, Monte Carlo by permuting dates among cases.
* :func:`poisson_scan` -- expectation-based Poisson scan (Neill 2005/2009) against a baseline
  (:func:`baseline`), Monte Carlo by drawing counts from the baseline (negative binomial when the
  history is over-dispersed).

Cylinders are a centre cell plus its ``k`` nearest cells (``neighbours``) times a window of the
last ``w`` days (``w = 1..max_days``). Each cylinder costs O(1) through prefix sums along the
distance-sorted neighbour list and along the window; replicates reuse the fixed expectations.
See docs/early-warning.md for every choice.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special
from scipy.spatial import cKDTree

from .cluster import Cluster, recurrence

EULER_GAMMA = 0.5772156649015329
# Effective days of data behind cell_baseline's expectation, for poisson_scan(baseline_days=):
# its shares come from a year of history (shrunk towards the township), its level from eight
# weeks of county totals -- far more than baseline()'s 8 weeks + 14 shrinkage days (70).
CELL_BASELINE_DAYS = 300.0


# --------------------------------------------------------------------------- neighbourhoods
def neighbours(xy_km: np.ndarray, *, max_cells: int, max_radius_km: float) -> list[np.ndarray]:
    """For every cell (as a centre), the indices of the cells within ``max_radius_km`` of it,
    at most ``max_cells`` of them, sorted by distance (the centre first)."""
    xy = np.asarray(xy_km, dtype=float).reshape(-1, 2)
    n = len(xy)
    if n == 0:
        return []
    k = max(1, min(int(max_cells), n))
    dist, idx = cKDTree(xy).query(xy, k=k, distance_upper_bound=float(max_radius_km))
    dist = np.asarray(dist).reshape(n, k)
    idx = np.asarray(idx).reshape(n, k)
    out = []
    for i in range(n):
        row = idx[i][np.isfinite(dist[i])].astype(np.intp)
        if len(row) == 0 or row[0] != i:  # duplicate coordinates: keep the centre first
            row = np.concatenate(([i], row[row != i])).astype(np.intp)
        out.append(row)
    return out


class _Cylinders:
    """Neighbour lists padded to one width with a dummy cell ``n_cells`` (always zero), so that
    a padded position repeats the previous circle (harmless for a maximum)."""

    def __init__(self, nbrs, n_cells: int):
        self.n_cells = n_cells
        self.n_centres = len(nbrs)
        self.K = max((len(r) for r in nbrs), default=1)
        pad = np.full((self.n_centres, self.K), n_cells, dtype=np.intp)
        for i, row in enumerate(nbrs):
            pad[i, : len(row)] = row
        self.pad = pad
        self.flat = pad.ravel()

    def circle_sums(self, per_cell: np.ndarray, centres=None) -> np.ndarray:
        """``per_cell`` (n_cells, W) -> (centres, K, W) sums over the first k+1 neighbours."""
        padded = np.vstack([per_cell, np.zeros((1, per_cell.shape[1]), per_cell.dtype)])
        pad = self.pad if centres is None else self.pad[centres]
        return np.cumsum(padded[pad], axis=1)

    def sparse_sums(self, per_cell: np.ndarray):
        """Circle sums only where the k-th neighbour has a case in the widest window.

        For a fixed centre and window the statistic can only reach its maximum over k where the
        circle has just taken in a cell with cases (more expectation, same count otherwise), so
        these positions suffice for a replicate's maximum. Returns (flat positions into
        (centres*K), sums (P, W)). The flat pad order is already sorted by (centre, k), so the
        circle sums are one cumulative sum restarted at each centre.
        """
        has = np.zeros(self.n_cells + 1, dtype=bool)
        has[: self.n_cells] = per_cell[:, -1] > 0
        pos = np.flatnonzero(has[self.flat])
        if len(pos) == 0:
            return pos, np.zeros((0, per_cell.shape[1]), per_cell.dtype)
        vals = np.take(per_cell, self.flat[pos], axis=0)
        cs = np.cumsum(vals, axis=0)
        row = pos // self.K
        new = np.empty(len(pos), dtype=bool)
        new[0] = True
        np.not_equal(row[1:], row[:-1], out=new[1:])
        first = np.flatnonzero(new)
        base = cs[first] - vals[first]
        return pos, cs - np.repeat(base, np.diff(np.append(first, len(pos))), axis=0)

    def cells_of(self, centre: int, k: int) -> list[int]:
        row = self.pad[centre, : k + 1]
        return [int(c) for c in row[row < self.n_cells]]


def _window_sums(last_rows: np.ndarray) -> np.ndarray:
    """(W, N) counts of the last W days (chronological) -> (N, W): column w-1 = last w days."""
    return np.cumsum(last_rows[::-1], axis=0).T


def _xlogx_table(n: int) -> np.ndarray:
    x = np.arange(n + 1, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = x * np.log(x)
    t[0] = 0.0
    return t


# --------------------------------------------------------------------------- significance
def _p_values(stats, maxima: np.ndarray, *, stopped: bool, fast: bool) -> list[float]:
    """p-value of each cluster statistic against the replicate maxima.

    Full Monte Carlo: (1 + #{max >= s}) / (R + 1). Sequential (Besag & Clifford 1991, stopped
    after h exceedances of the most likely cluster at l replicates): #{max >= s} / l.
    Fast: Gumbel fitted to the maxima by moments (Abrams, Kleinman & Kulldorff 2010).
    """
    maxima = np.asarray(maxima, dtype=float)
    if len(maxima) == 0:  # replicates=0: the statistic only (benchmarks calibrate thresholds)
        return [float("nan")] * len(stats)
    out = []
    if fast and len(maxima) >= 2 and maxima.std() > 0:
        beta = maxima.std(ddof=1) * math.sqrt(6) / math.pi
        loc = maxima.mean() - EULER_GAMMA * beta
        for s in stats:
            p = -math.expm1(-math.exp(-(s - loc) / beta))
            out.append(float(min(1.0, max(p, 1e-12))))
        return out
    r = len(maxima)
    for s in stats:
        g = int(np.count_nonzero(maxima >= s - 1e-9 * max(1.0, abs(s))))
        p = g / r if stopped else (g + 1) / (r + 1)
        out.append(float(min(1.0, p)))
    return out


def _run_replicates(
    one,
    observed_max: float,
    *,
    replicates: int,
    fast: bool,
    fast_replicates: int,
    stop_after: int | None,
):
    """Call ``one()`` (a replicate's max statistic) until done; returns (maxima, stopped)."""
    n = fast_replicates if fast else replicates
    maxima = np.empty(n)
    exceed = 0
    tol = 1e-9 * max(1.0, abs(observed_max))
    for r in range(n):
        m = one()
        maxima[r] = m
        if not fast and stop_after and m >= observed_max - tol:
            exceed += 1
            if exceed >= stop_after and r + 1 < n:
                return maxima[: r + 1], True
    return maxima, False


def _select(stat: np.ndarray, cyl: _Cylinders, max_clusters: int):
    """Most likely cylinder, then secondary ones that share no cell with those before.

    Per centre only its best (k, w) is a candidate (documented simplification)."""
    nc, K, W = stat.shape
    flat = stat.reshape(nc, K * W)
    best = flat.argmax(axis=1)
    best_val = flat[np.arange(nc), best]
    order = np.argsort(-best_val, kind="stable")
    used = np.zeros(cyl.n_cells + 1, dtype=bool)
    chosen = []
    for i in order:
        if best_val[i] <= 0 or len(chosen) >= max_clusters:
            break
        k, w = divmod(int(best[i]), W)
        cells = cyl.cells_of(int(i), k)
        if used[cells].any():
            continue
        used[cells] = True
        chosen.append((int(i), k, w, float(best_val[i]), cells))
    return chosen


def _extended_counts(counts: np.ndarray, W: int, G: int, cyl: _Cylinders) -> np.ndarray:
    """Cylinder counts over each window extended ``G`` days back: (centres, K, W)."""
    T = len(counts)
    ext = _window_sums(counts[T - W - G :].astype(np.int64))[:, G : G + W]
    return cyl.circle_sums(ext)


def _backlog_guard(stat, obs, exp, obs_ext, exp_ext, *, alpha: float = 0.01):
    """Zero the statistic of cylinders whose excess looks like a backlog dumped on one day,
    not a new problem: either most of it is cancelled by a deficit in the ``G`` days before
    the window, or those days alone are far too quiet (their count at or below the Poisson
    ``alpha`` quantile of their expectation -- a dump empties the week before it; a real
    problem leaves it as it was, so this drops a real cluster's cylinder with probability
    <= alpha)."""
    keep = (obs_ext - exp_ext) >= 0.5 * (obs - exp)
    # the Poisson tail only where it can matter: a statistic under 2 is never near a
    # threshold (and is kept as it is), so few cylinders need it
    idx = np.flatnonzero(keep & (stat >= 2.0))
    g_obs = np.take(obs_ext, idx) - np.take(obs, idx)
    g_exp = np.maximum(np.take(exp_ext, idx) - np.take(exp, idx), 0.0)
    quiet = (g_exp > 0) & (special.pdtr(np.maximum(g_obs, 0), g_exp) < alpha)
    keep.flat[idx[quiet]] = False
    return np.where(keep, stat, 0.0)


def _clusters(method, chosen, ps, obs, expected, T) -> list[Cluster]:
    """Result ``Cluster``s of a scan: ``chosen`` from :func:`_select`, their p-values, and the
    cylinders' observed and expected counts (centres, K, W); windows end on row T - 1."""
    out = []
    for (i, k, w, s, cells), p in zip(chosen, ps, strict=True):
        o = float(obs[i, k, w])
        e = float(expected[i, k, w])
        rr = o / e if e > 0 else float("inf")
        out.append(Cluster(method, cells, T - 1 - w, T - 1, o, e, rr, s, p, recurrence(p)))
    return out


def _day_mask(mask, T: int) -> np.ndarray | None:
    """A boolean per row (True = a day to ignore, e.g. a known campaign day), or None."""
    if mask is None:
        return None
    m = np.asarray(mask, dtype=bool).reshape(-1)
    if len(m) != T:
        raise ValueError("mask must have one entry per row of counts")
    return m if m.any() else None


# --------------------------------------------------------------------------- permutation scan
def _perm_llr(c, mu, C, xlogx, lnmu, lnCmu):
    """Kulldorff's Poisson-approximation LLR for c > mu, else 0 (c integer array)."""
    llr = xlogx[c] - c * lnmu + xlogx[C - c] - (C - c) * lnCmu
    return np.where(c > mu, llr, 0.0)


def _perm_llr_fast(c, coef, g, W):
    """The same LLR as g[c] - c a - b with g[c] = c ln c + (C-c) ln(C-c), a = ln mu - ln(C-mu),
    b = C ln(C-mu) gathered once per position (coef rows = [mu | a | b])."""
    mu, a, b = coef[:, :W], coef[:, W : 2 * W], coef[:, 2 * W :]
    llr = np.take(g, c) - c * a - b
    return np.where(c > mu, llr, 0.0)


def permutation_scan(
    counts: np.ndarray,
    nbrs,
    *,
    max_days: int = 7,
    replicates: int = 999,
    rng=None,
    fast: bool = False,
    fast_replicates: int = 99,
    stop_after: int | None = 10,
    max_clusters: int = 10,
    backlog_guard: int = 7,
    mask=None,
) -> list[Cluster]:
    """Prospective space-time permutation scan (Kulldorff et al. 2005).

    ``counts``: T days x N cells (the whole study period, e.g. 365 days). Returns clusters, the
    most likely first, then secondary clusters sharing no cell with an earlier one, each with its
    p-value against the replicate maxima. ``stop_after=h`` stops the Monte Carlo once h replicate
    maxima reach the most likely cluster's LLR (Besag-Clifford): decisions at any threshold
    p <= h/(replicates+1) are exactly those of the full run with the same random stream.
    ``backlog_guard=G`` drops cylinders whose excess is mostly offset by a deficit in the G
    days before the window (a backlog entered on one day); 0 turns it off. The replicate
    maxima are computed without it (so p-values stay conservative).
    ``mask``: one boolean per row, True for a day to leave out (a known campaign day, whose
    counts are inflated everywhere); its cases count neither as observed nor in the margins.
    """
    counts = np.asarray(counts)
    T, N = counts.shape
    m = _day_mask(mask, T)
    if m is not None:
        counts = np.where(m[:, None], 0, counts)
    W = max(1, min(int(max_days), T))
    rng = np.random.default_rng(rng)
    by_cell = counts.sum(axis=0).astype(np.int64)
    by_day = counts.sum(axis=1).astype(np.int64)
    C = int(by_cell.sum())
    last_days = by_day[T - W :][::-1]  # offset 0 = last day
    D = np.cumsum(last_days)  # D[w-1] = cases in the last w days
    M = int(D[-1])
    if C == 0 or M == 0:
        return []
    cyl = _Cylinders(nbrs, N)
    ncum = cyl.circle_sums(by_cell[:, None])[:, :, 0].astype(float)  # (nc, K)
    mu = ncum[:, :, None] * D[None, None, :] / C
    with np.errstate(divide="ignore"):
        lnmu = np.log(mu)
    lnmu[~np.isfinite(lnmu)] = 0.0
    lnCmu = np.log(np.maximum(C - mu, 1e-300))
    xlogx = _xlogx_table(C)

    obs = cyl.circle_sums(_window_sums(counts[T - W :]).astype(np.int64))
    stat = _perm_llr(obs, mu, C, xlogx, lnmu, lnCmu)
    G = int(backlog_guard)
    if G > 0 and T > W + G:
        D_ext = np.cumsum(by_day[T - W - G :][::-1])[G : G + W]
        mu_ext = ncum[:, :, None] * D_ext[None, None, :] / C
        stat = _backlog_guard(stat, obs, mu, _extended_counts(counts, W, G, cyl), mu_ext)
    chosen = _select(stat, cyl, max_clusters)
    if not chosen:
        return []

    coef = np.concatenate(
        [mu.reshape(-1, W), (lnmu - lnCmu).reshape(-1, W), (C * lnCmu).reshape(-1, W)], axis=1
    )
    g = xlogx + xlogx[::-1]  # g[c] = c ln c + (C - c) ln(C - c)
    labels = np.repeat(np.arange(N), by_cell)
    offsets = np.repeat(np.arange(W), last_days)

    def one() -> float:
        pick = rng.choice(C, M, replace=False)
        cells = labels[pick]
        Y = np.bincount(cells * W + offsets, minlength=N * W).reshape(N, W)
        pos, c = cyl.sparse_sums(np.cumsum(Y, axis=1, dtype=np.int32))
        if len(pos) == 0:
            return 0.0
        return float(_perm_llr_fast(c, np.take(coef, pos, axis=0), g, W).max())

    maxima, stopped = _run_replicates(
        one,
        chosen[0][3],
        replicates=replicates,
        fast=fast,
        fast_replicates=fast_replicates,
        stop_after=stop_after,
    )
    ps = _p_values([ch[3] for ch in chosen], maxima, stopped=stopped, fast=fast)
    return _clusters("permutation", chosen, ps, obs, mu, T)


# --------------------------------------------------------------------------- baseline + EBP
def baseline(
    counts: np.ndarray,
    *,
    weeks: int = 8,
    days: int = 7,
    shrink_days: float = 14.0,
    floor_share: float = 0.1,
    mask=None,
) -> np.ndarray:
    """Day-of-week adjusted moving-average expected counts for the last ``days`` rows.

    Returns a (days, N) array. The cell rate is the mean of the ``weeks`` x 7 days *before* the
    last ``days`` (so an ongoing problem does not raise its own baseline), shrunk towards the
    cell's long-run rate with weight ``shrink_days`` (sparse cells), with ``floor_share`` of the
    county mean rate spread over all cells (no cell expects exactly zero). It is multiplied by the
    county-wide day-of-week factor of the history (mean of that weekday / overall mean).
    ``mask`` (one boolean per row, True = leave the day out, e.g. a campaign day) removes days
    from the history's means.
    """
    counts = np.asarray(counts, dtype=float)
    T, N = counts.shape
    days = max(1, min(int(days), T - 1))
    m = _day_mask(mask, T)
    use = np.ones(T, dtype=bool) if m is None else ~m
    hist = counts[: T - days]
    hist_use = use[: T - days]
    lo = max(0, len(hist) - weeks * 7)
    ref = hist[lo:][hist_use[lo:]]
    n_ref = max(len(ref), 1)
    n_long = max(int(hist_use.sum()), 1)
    long_sum = hist[hist_use].sum(axis=0)
    total = long_sum.sum()
    long_rate = (long_sum + floor_share * total / N) / (n_long * (1 + floor_share))
    rate = (ref.sum(axis=0) + shrink_days * long_rate) / (n_ref + shrink_days)
    day_tot = hist.sum(axis=1)
    dow = np.arange(len(hist)) % 7
    dow, day_tot = dow[hist_use], day_tot[hist_use]
    factor = np.ones(7)
    if len(day_tot) and day_tot.mean() > 0:
        for d in range(7):
            sel = day_tot[dow == d]
            if len(sel):
                factor[d] = sel.mean() / day_tot.mean()
    factor = np.where(factor > 0, factor, 1.0)
    rows = np.arange(T - days, T) % 7
    return factor[rows][:, None] * rate[None, :]


def cell_baseline(
    counts: np.ndarray,
    township=None,
    *,
    days: int = 7,
    rows: int | None = None,
    level_days: int = 56,
    trend: bool = True,
    mask=None,
) -> np.ndarray:
    """Per-cell model baseline: expected counts for the last ``rows`` rows (default ``days``).

    Fitted on the history before the last ``days`` rows (an ongoing problem does not raise its
    own baseline), masked days left out:

    * each cell's *share* of the county's cases over the whole history (a year: far less noise
      than a cell's last weeks), shrunk towards its township's mean by empirical Bayes
      (gamma-Poisson: the cell's count n and the township's cells' mean m and variance v give
      the prior shape a = m^2 / (v - m); posterior mean m (n + a) / (m + a)), so a sparse cell
      with no case in the year still expects a little and a single busy year is pulled back;
      ``township`` = an integer label per cell (None: the whole county is one township);
    * times the county-wide expected total of each day: the weekday factor of the history times
      the level of the last ``level_days`` of weekday-adjusted totals, extrapolated along their
      least-squares line (``trend``; a season or trend moving by 10-20 % over two months would
      otherwise leave a moving average a month behind), never below half their mean.
    """
    counts = np.asarray(counts, dtype=float)
    T, N = counts.shape
    days = max(1, min(int(days), T - 1))
    rows = days if rows is None else max(1, min(int(rows), T))
    m = _day_mask(mask, T)
    use = np.ones(T, dtype=bool) if m is None else ~m
    hist_use = use[: T - days]
    hist = counts[: T - days][hist_use]
    n = hist.sum(axis=0)
    town = np.zeros(N, dtype=np.intp) if township is None else np.asarray(township, np.intp)
    post = np.empty(N)
    for t in np.unique(town):
        sel = town == t
        mt = n[sel].mean()
        vt = n[sel].var()
        if mt <= 0:
            mt = max(n.mean(), 1e-9) * 0.1  # an empty township: a tenth of the county mean
            post[sel] = mt
            continue
        a = mt * mt / (vt - mt) if vt > mt else 1e6
        post[sel] = mt * (n[sel] + a) / (mt + a)
    share = post / post.sum()
    # county level per day of week, and its recent level and slope
    tot = counts[: T - days].sum(axis=1)
    t_idx = np.arange(T - days)
    dow = t_idx % 7
    tot_u, t_u, dow_u = tot[hist_use], t_idx[hist_use], dow[hist_use]
    factor = np.ones(7)
    if len(tot_u) and tot_u.mean() > 0:
        for d in range(7):
            sel = tot_u[dow_u == d]
            if len(sel):
                factor[d] = max(sel.mean() / tot_u.mean(), 1e-3)
    recent = t_u >= T - days - level_days
    y = tot_u[recent] / factor[dow_u[recent]]
    x = t_u[recent].astype(float)
    want = np.arange(T - rows, T)
    if len(y) == 0:
        level = np.full(rows, max(tot_u.mean() if len(tot_u) else 0.0, 1e-9))
    else:
        mean = y.mean()
        level = np.full(rows, mean)
        if trend and len(y) >= 14 and x.std() > 0:
            slope = float(((x - x.mean()) * (y - mean)).sum() / ((x - x.mean()) ** 2).sum())
            level = mean + slope * (want - x.mean())
        level = np.maximum(level, 0.5 * mean)
    return (level * factor[want % 7])[:, None] * share[None, :]


def estimate_dispersion(counts: np.ndarray, *, weeks: int = 8, days: int = 7, mask=None) -> float:
    """Pearson over-dispersion phi (variance = phi x mean) of the cell-days in the baseline
    reference period around a DOW-adjusted cell-mean fit; at least 1. Masked days skipped."""
    counts = np.asarray(counts, dtype=float)
    T, N = counts.shape
    m = _day_mask(mask, T)
    hist = counts[: max(1, T - days)]
    lo = max(0, len(hist) - weeks * 7)
    ref = hist[lo:] if m is None else hist[lo:][~m[lo : len(hist)]]
    if ref.sum() == 0:
        return 1.0
    tot = ref.sum(axis=1)
    cell = ref.sum(axis=0)
    fit = np.outer(tot, cell) / ref.sum()
    m = fit > 0
    dof = max(int(m.sum()) - len(tot) - int((cell > 0).sum()), 1)
    phi = float(((ref[m] - fit[m]) ** 2 / fit[m]).sum() / dof)
    return max(1.0, phi)


def estimate_day_cv2(counts: np.ndarray, *, weeks: int = 8, days: int = 7, mask=None) -> float:
    """Squared coefficient of variation of the county-wide day factor: how much daily totals
    vary beyond Poisson around a weekday-adjusted mean of the ``weeks`` before the last ``days``
    (weather, app use, campaigns: variation shared by all cells that a baseline cannot forecast).
    Masked days are skipped.
    """
    counts = np.asarray(counts, dtype=float)
    T = len(counts)
    m = _day_mask(mask, T)
    tot = counts[: max(1, T - days)].sum(axis=1)
    dow = np.arange(len(tot)) % 7
    if m is not None:
        keep = ~m[: len(tot)]
        tot, dow = tot[keep], dow[keep]
    if len(tot) < 14 or tot.mean() <= 0:
        return 0.0
    f = np.array([tot[dow == d].mean() if np.any(dow == d) else 0.0 for d in range(7)])
    f = np.where(f > 0, f / tot.mean(), 1.0)
    ref = slice(max(0, len(tot) - weeks * 7), len(tot))
    y = tot[ref]
    e = y.mean() / f[dow[ref]].mean() * f[dow[ref]]
    return max(0.0, float(((y - e) ** 2 - e).sum() / (e**2).sum()))


def _ebp_score(c, b, lnb, xlogx):
    """Expectation-based Poisson score c ln(c/b) + b - c for c > b, else 0."""
    s = xlogx[c] - c * lnb + b - c
    return np.where(c > b, s, 0.0)


def poisson_scan(
    counts: np.ndarray,
    expected: np.ndarray,
    nbrs,
    *,
    max_days: int = 7,
    replicates: int = 999,
    rng=None,
    fast: bool = False,
    fast_replicates: int = 99,
    stop_after: int | None = 10,
    max_clusters: int = 10,
    dispersion: float | str = "auto",
    day_cv2: float | str = "auto",
    baseline_days: float = 70.0,
    backlog_guard: int = 7,
    mask=None,
) -> list[Cluster]:
    """Prospective expectation-based Poisson scan (Neill 2005, 2009).

    ``expected``: baseline counts aligned with the *last* rows of ``counts`` (shape (W', N) with
    W' >= max_days, or the full (T, N)), e.g. from :func:`baseline`. Replicates draw the last
    ``max_days`` rows from the baseline: Poisson, or negative binomial with variance
    ``dispersion`` x mean (``"auto"``: :func:`estimate_dispersion` of ``counts``).
    Each replicate also multiplies each day of the window by a county-wide gamma factor with
    squared CV ``day_cv2`` (``"auto"``: :func:`estimate_day_cv2`), so shared day-to-day swings
    are not mistaken for clusters; and each cell's rate by a gamma factor with shape = its
    daily expectation x ``baseline_days`` (the effective days of data behind the baseline: 8
    weeks + 14 shrinkage days for :func:`baseline`), so the baseline's own estimation error is in
    the null distribution (the predictive distribution of a gamma-Poisson rate). 0 turns either
    off. ``backlog_guard`` as in :func:`permutation_scan` (the expectation of the guard days is
    the window's mean daily expectation). ``mask`` as in :func:`permutation_scan`: masked days
    of the window count neither observed nor expected cases (pass the same mask to
    :func:`baseline`), and the estimators skip them.
    """
    counts = np.asarray(counts)
    expected = np.asarray(expected, dtype=float)
    T, N = counts.shape
    m = _day_mask(mask, T)
    if m is not None:
        counts = np.where(m[:, None], 0, counts)
    W = max(1, min(int(max_days), T, len(expected)))
    rng = np.random.default_rng(rng)
    if dispersion == "auto":
        phi = estimate_dispersion(counts, days=W, mask=m)
    else:
        phi = float(dispersion)
    cv2 = estimate_day_cv2(counts, days=W, mask=m) if day_cv2 == "auto" else float(day_cv2)
    b_rows = np.maximum(expected[len(expected) - W :], 0.0)
    if m is not None:
        b_rows = np.where(m[T - W :, None], 0.0, b_rows)
    cyl = _Cylinders(nbrs, N)
    B = cyl.circle_sums(_window_sums(b_rows))
    with np.errstate(divide="ignore"):
        lnB = np.log(B)
    lnB[~np.isfinite(lnB)] = 0.0
    obs_rows = counts[T - W :].astype(np.int64)
    obs = cyl.circle_sums(_window_sums(obs_rows))
    xlogx = _xlogx_table(int(obs_rows.sum()))
    stat = _ebp_score(obs, B, lnB, xlogx)
    G = int(backlog_guard)
    if G > 0 and T > W + G:
        B_ext = B + (B[:, :, -1:] / W) * G
        stat = _backlog_guard(stat, obs, B, _extended_counts(counts, W, G, cyl), B_ext)
    chosen = _select(stat, cyl, max_clusters)
    if not chosen:
        return []

    B_f, lnB_f = B.reshape(-1, W), lnB.reshape(-1, W)
    flat_b = b_rows.ravel()
    pos = flat_b > 0
    bpos = flat_b[pos]
    where = np.flatnonzero(pos)
    day_of = where // N
    cell_of = where % N
    shape = b_rows.mean(axis=0) * float(baseline_days)  # per cell
    uncertain = baseline_days > 0
    table = [xlogx]

    def one() -> float:
        lam = bpos
        if cv2 > 1e-6:
            lam = lam * rng.gamma(1 / cv2, cv2, W)[day_of]
        if uncertain:
            sh = np.maximum(shape, 1e-3)
            lam = lam * (rng.gamma(sh, 1 / sh))[cell_of]
        if phi > 1.0:
            lam = rng.gamma(lam / (phi - 1.0), phi - 1.0)
        draw = rng.poisson(lam)
        hit = np.flatnonzero(draw)
        if len(hit) == 0:
            return 0.0
        rows = np.zeros(W * N, dtype=np.int64)
        rows[where[hit]] = draw[hit]
        rows = rows.reshape(W, N)
        Y = _window_sums(rows)
        tot = int(draw.sum())
        if tot >= len(table[0]):
            table[0] = _xlogx_table(2 * tot)
        pos, c = cyl.sparse_sums(Y)
        if len(pos) == 0:
            return 0.0
        return float(_ebp_score(c, B_f[pos], lnB_f[pos], table[0]).max())

    maxima, stopped = _run_replicates(
        one,
        chosen[0][3],
        replicates=replicates,
        fast=fast,
        fast_replicates=fast_replicates,
        stop_after=stop_after,
    )
    ps = _p_values([ch[3] for ch in chosen], maxima, stopped=stopped, fast=fast)
    return _clusters("poisson", chosen, ps, obs, B, T)


# --------------------------------------------------------------------------- reference versions
def _reference_permutation_scan(counts, nbrs, *, max_days=7, replicates=999, rng=None):
    """Straightforward version for tests and the speed ratio: every replicate permutes all
    dates, rebuilds the full day x cell matrix and loops over centres; no table, no pruning,
    no early stop. Returns the most likely cluster (p by full Monte Carlo) or None."""
    counts = np.asarray(counts)
    T, N = counts.shape
    W = min(max_days, T)
    rng = np.random.default_rng(rng)
    C = int(counts.sum())
    if C == 0:
        return None
    cell_of_case = np.repeat(np.tile(np.arange(N), T), counts.ravel())
    day_of_case = np.repeat(np.repeat(np.arange(T), N), counts.ravel())

    def scan(mat):
        by_cell = counts.sum(axis=0)
        by_day = counts.sum(axis=1)
        best = (0.0, None)
        for i, row in enumerate(nbrs):
            for w in range(1, W + 1):
                win = mat[T - w :].sum(axis=0)
                c = np.cumsum(win[row]).astype(float)
                mu = np.cumsum(by_cell[row]) * by_day[T - w :].sum() / C
                with np.errstate(divide="ignore", invalid="ignore"):
                    llr = c * np.log(c / mu) + (C - c) * np.log((C - c) / (C - mu))
                llr = np.where((c > mu) & np.isfinite(llr), llr, 0.0)
                k = int(llr.argmax())
                if llr[k] > best[0]:
                    best = (float(llr[k]), (i, k, w, c[k], mu[k]))
        return best

    s, where = scan(counts)
    if where is None:
        return None
    maxima = []
    for _ in range(replicates):
        mat = np.zeros((T, N), dtype=np.int64)
        np.add.at(mat, (rng.permutation(day_of_case), cell_of_case), 1)
        maxima.append(scan(mat)[0])
    p = (1 + sum(m >= s - 1e-9 for m in maxima)) / (replicates + 1)
    i, k, w, c, mu = where
    cells = [int(x) for x in nbrs[i][: k + 1]]
    return Cluster(
        "permutation", cells, T - w, T - 1, float(c), float(mu), float(c / mu), s, p, recurrence(p)
    )
