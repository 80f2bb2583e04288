"""Temporal detectors for one daily count series (a county or township total of a category).

* EARS C1/C2/C3 (CDC; definitions as in R ``surveillance::earsC``) while history is short;
* a negative-binomial GLM (day of week, annual harmonics, holidays, linear trend) fitted by
  IRLS, plus a negative-binomial likelihood-ratio CUSUM on the last weeks, once a year of
  history exists.
"""

from __future__ import annotations

import datetime as _dt
import math
import warnings

import numpy as np
from scipy import stats

from .cluster import Cluster, recurrence

EARS_DEFAULT_ALPHA = {"C1": 0.001, "C2": 0.001, "C3": 0.025}


# --------------------------------------------------------------------------- EARS
def ears_statistic(
    series, variant: str = "C2", *, baseline: int = 7, min_sigma: float = 0.5, mask=None
) -> np.ndarray:
    """The EARS statistic for every day (NaN where history is too short).

    C1: (y_t - mean) / sd over days t-7..t-1; C2: the same over t-9..t-3 (2-day guard band);
    C3: sum over t, t-1, t-2 of max(0, C2 - 1). ``sd`` is the sample sd (ddof=1), at least
    ``min_sigma`` (sparse series have sd = 0). ``mask`` (a boolean per day, True = leave out, e.g.
    a campaign day): masked days get no statistic and are left out of the reference means.
    """
    y = np.asarray(series, dtype=float)
    n = len(y)
    if mask is not None:
        y = np.where(np.asarray(mask, dtype=bool), np.nan, y)
    variant = variant.upper()
    if variant not in ("C1", "C2", "C3"):
        raise ValueError("variant must be C1, C2 or C3")
    lag = 1 if variant == "C1" else 3
    out = np.full(n, np.nan)
    if n >= baseline + lag:
        win = np.lib.stride_tricks.sliding_window_view(y, baseline)  # win[j] = y[j:j+baseline]
        t = np.arange(baseline + lag - 1, n)
        ref = win[t - baseline - lag + 1]
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            sd = np.maximum(np.nanstd(ref, axis=1, ddof=1), min_sigma)
            out[t] = (y[t] - np.nanmean(ref, axis=1)) / sd
    if variant == "C3":
        c2 = out
        part = np.where(np.isnan(c2), np.nan, np.maximum(0.0, c2 - 1.0))
        c3 = np.full(n, np.nan)
        if n >= 3:
            c3[2:] = part[2:] + part[1:-1] + part[:-2]
        return c3
    return out


def ears(
    series,
    variant: str = "C2",
    *,
    alpha: float | None = None,
    baseline: int = 7,
    min_sigma: float = 0.5,
    mask=None,
) -> Cluster | None:
    """EARS alarm on the last day of ``series`` (a Cluster) or None.

    Alarm when the statistic exceeds z(1 - alpha) (defaults: C1/C2 alpha = 0.001, C3 0.025,
    as in R ``surveillance``). The p-value is the nominal normal tail 1 - Phi(statistic).
    ``mask``: as for :func:`ears_statistic` (a masked last day raises no alarm).
    """
    variant = variant.upper()
    y = np.asarray(series, dtype=float)
    s = ears_statistic(y, variant, baseline=baseline, min_sigma=min_sigma, mask=mask)
    if len(s) == 0 or np.isnan(s[-1]):
        return None
    a = EARS_DEFAULT_ALPHA[variant] if alpha is None else alpha
    stat = float(s[-1])
    if stat <= stats.norm.ppf(1 - a):
        return None
    t = len(y) - 1
    lag = 1 if variant == "C1" else 3
    ref = y[t - lag - baseline + 1 : t - lag + 1]
    start = t - 2 if variant == "C3" else t
    obs = float(y[start : t + 1].sum())
    exp = float(ref.mean() * (t - start + 1))
    p = float(stats.norm.sf(stat))
    return Cluster(
        f"ears_{variant.lower()}",
        [],
        start,
        t,
        obs,
        exp,
        obs / exp if exp > 0 else float("inf"),
        stat,
        p,
        recurrence(p),
    )


# --------------------------------------------------------------------------- NB GLM
def _as_dates(dates) -> list[_dt.date]:
    out = []
    for d in dates:
        if isinstance(d, np.datetime64):
            d = d.astype("datetime64[D]").astype(_dt.date)
        elif isinstance(d, _dt.datetime):
            d = d.date()
        elif isinstance(d, str):
            d = _dt.date.fromisoformat(d)
        out.append(d)
    return out


def design(dates, holidays=(), *, origin: _dt.date | None = None) -> np.ndarray:
    """GLM design: intercept, trend (years), 6 weekday dummies, 2 annual harmonics, holiday."""
    ds = _as_dates(dates)
    hol = set(_as_dates(holidays))
    origin = origin or ds[0]
    t = np.array([(d - origin).days for d in ds], dtype=float) / 365.25
    dow = np.array([d.weekday() for d in ds])
    doy = np.array([d.timetuple().tm_yday for d in ds], dtype=float)
    cols = [np.ones(len(ds)), t]
    cols += [(dow == k).astype(float) for k in range(1, 7)]
    for h in (1, 2):
        cols += [np.sin(2 * np.pi * h * doy / 365.25), np.cos(2 * np.pi * h * doy / 365.25)]
    cols.append(np.array([d in hol for d in ds], dtype=float))
    return np.column_stack(cols)


def nb_glm_fit(X: np.ndarray, y: np.ndarray, *, iters: int = 30):
    """Negative-binomial (NB2) GLM with log link by IRLS; size r by Pearson moments.

    Returns (beta, r); r = inf means no over-dispersion (Poisson)."""
    y = np.asarray(y, dtype=float)
    beta = np.zeros(X.shape[1])
    beta[0] = math.log(max(y.mean(), 1e-3))
    r = math.inf
    keep = X.std(axis=0) > 0
    keep[0] = True
    Xk = X[:, keep]
    bk = beta[keep]
    for it in range(iters):
        eta = np.clip(Xk @ bk, -30, 30)
        mu = np.exp(eta)
        w = mu / (1 + mu / r)
        z = eta + (y - mu) / mu
        sw = np.sqrt(w)
        new, *_ = np.linalg.lstsq(Xk * sw[:, None], z * sw, rcond=None)
        if it >= 3:  # moments estimate of 1/r after a few Poisson steps
            inv_r = max(((y - mu) ** 2 - mu).sum() / max((mu**2).sum(), 1e-12), 0.0)
            r = 1 / inv_r if inv_r > 1e-8 else math.inf
        done = np.max(np.abs(new - bk)) < 1e-8
        bk = new
        if done and it >= 5:
            break
    beta = np.zeros(X.shape[1])
    beta[keep] = bk
    return beta, r


def _nb_llr(y, mu, r, kappa):
    """Log-likelihood ratio of NB(kappa mu, r) over NB(mu, r) per day."""
    if math.isinf(r):
        return y * math.log(kappa) - (kappa - 1) * mu
    return y * math.log(kappa) - (y + r) * np.log((r + kappa * mu) / (r + mu))


def _cusum(llr: np.ndarray) -> np.ndarray:
    """S_t = max(0, S_{t-1} + llr_t) along the last axis."""
    s = np.zeros(llr.shape[:-1])
    out = np.empty_like(llr)
    for t in range(llr.shape[-1]):
        s = np.maximum(0.0, s + llr[..., t])
        out[..., t] = s
    return out


def cusum_path(
    series,
    dates,
    holidays=(),
    *,
    monitor_days: int = 28,
    kappa: float = 1.5,
    design_matrix: np.ndarray | None = None,
    mask=None,
):
    """Fit the NB GLM on all days before the last ``monitor_days`` and run the NB CUSUM over
    them. Returns (CUSUM path, expected counts, NB size r, index of the first monitored day).
    ``design_matrix`` (rows aligned with ``series``) skips building it from the dates.
    ``mask`` (a boolean per day, True = leave out, e.g. a campaign day): masked days are not
    fitted and add nothing to the CUSUM."""
    y = np.asarray(series, dtype=float)
    if len(dates) != len(y):
        raise ValueError("series and dates differ in length")
    X = design(dates, holidays) if design_matrix is None else design_matrix
    fit_n = len(y) - monitor_days
    keep = np.ones(len(y), dtype=bool) if mask is None else ~np.asarray(mask, dtype=bool)
    beta, r = nb_glm_fit(X[:fit_n][keep[:fit_n]], y[:fit_n][keep[:fit_n]])
    mu = np.exp(np.clip(X[fit_n:] @ beta, -30, 30))
    llr = np.where(keep[fit_n:], _nb_llr(y[fit_n:], mu, r, kappa), 0.0)
    return _cusum(llr), mu, r, fit_n


def glm_cusum(
    series,
    dates,
    holidays=(),
    *,
    monitor_days: int = 28,
    kappa: float = 1.5,
    alpha: float = 0.01,
    replicates: int = 999,
    rng=None,
    min_history: int = 365,
    mask=None,
) -> Cluster | None:
    """NB GLM baseline + NB CUSUM; alarm on the last day (a Cluster) or None.

    The GLM (weekday, two annual harmonics, holiday, linear trend) is fitted on all days before
    the last ``monitor_days``; the CUSUM for a rise to ``kappa`` x expected runs over those last
    days. Its p-value is the share of replicate monitoring windows drawn from the fitted NB model
    whose final CUSUM is at least the observed one; alarm if p <= ``alpha``. Returns None when
    the history is shorter than ``min_history`` days (use :func:`ears` then) or nothing is
    unusual. ``mask`` (a boolean per day, True = leave out): as for :func:`cusum_path`; the
    replicates leave the same monitored days out.
    """
    y = np.asarray(series, dtype=float)
    n = len(y)
    if n < max(min_history, monitor_days + 60):
        return None
    path, mu, r, fit_n = cusum_path(
        y, dates, holidays, monitor_days=monitor_days, kappa=kappa, mask=mask
    )
    s_obs = float(path[-1])
    if s_obs <= 0:
        return None
    rng = np.random.default_rng(rng)
    if math.isinf(r):
        sim = rng.poisson(np.broadcast_to(mu, (replicates, len(mu))))
    else:
        sim = rng.poisson(rng.gamma(r, mu / r, size=(replicates, len(mu))))
    llr = _nb_llr(sim, mu, r, kappa)
    if mask is not None:
        llr = np.where(np.asarray(mask, dtype=bool)[fit_n:], 0.0, llr)
    s_sim = _cusum(llr)[:, -1]
    p = float((1 + np.count_nonzero(s_sim >= s_obs - 1e-9)) / (replicates + 1))
    if p > alpha:
        return None
    zeros = np.flatnonzero(path <= 0)
    first = int(zeros[-1]) + 1 if len(zeros) else 0
    start = fit_n + first
    obs = float(y[start:].sum())
    exp = float(mu[first:].sum())
    return Cluster(
        "glm_cusum",
        [],
        start,
        n - 1,
        obs,
        exp,
        obs / exp if exp > 0 else float("inf"),
        s_obs,
        p,
        recurrence(p),
    )
