"""A synthetic county for tests and the benchmark (reference §5.3).

50 x 30 lattice of ~0.8 km cells (1,500 cells), an urban core (~10 % of cells at 5-10x), eight
townships (contiguous Voronoi regions), per-cell log-normal heterogeneity, day of week, an annual
season, negative-binomial noise (variance phi x mean), and reporting artifacts that are not real
events: campaign days (every cell x2 on one day), backlog dumps (one township's reports of a
week arrive on one day) and, optionally, patrol reassignments (10-30 cells reported x2 for 30
days). Injected problems add extra counts on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DOW = np.array([1.15, 1.1, 1.05, 1.05, 1.1, 0.8, 0.75])  # Mon..Sun, mean 1


@dataclass
class County:
    xy_km: np.ndarray
    urban: np.ndarray  # bool per cell
    township: np.ndarray  # township index per cell
    weight: np.ndarray  # relative rate per cell, sums to 1

    @property
    def n(self) -> int:
        return len(self.xy_km)


def make_county(
    seed: int = 0, *, nx: int = 50, ny: int = 30, spacing_km: float = 0.8, towns: int = 8
) -> County:
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(nx), np.arange(ny))
    xy = np.column_stack([gx.ravel(), gy.ravel()]).astype(float) * spacing_km
    centre = xy.mean(axis=0) + rng.normal(0, 2, 2)
    d = np.hypot(*(xy - centre).T)
    urban = d <= np.quantile(d, 0.10)
    seeds = xy[rng.choice(len(xy), towns, replace=False)]
    seeds[0] = centre
    township = np.argmin(((xy[:, None, :] - seeds[None]) ** 2).sum(-1), axis=1)
    w = rng.lognormal(0.0, 1.0, len(xy)) * np.where(urban, rng.uniform(5, 10, len(xy)), 1.0)
    return County(xy, urban, township, w / w.sum())


@dataclass
class Artifacts:
    campaign_days: list[int] = field(default_factory=list)
    dumps: list[tuple[int, int]] = field(default_factory=list)  # (day, township)
    # patrol reassignment (reference §5.3): (first day, cells) reported x2 for PATROL_DAYS
    patrols: list[tuple[int, np.ndarray]] = field(default_factory=list)


PATROL_DAYS = 30


def simulate(
    county: County,
    *,
    days: int,
    per_day: float,
    seed: int,
    day_cv: float = 0.2,
    phi: float = 1.0,
    season: float = 0.3,
    trend: float = 0.0,
    artifacts: Artifacts | None = None,
    start_doy: int = 0,
) -> np.ndarray:
    """Baseline counts (days x cells, int) of one category with ``per_day`` cases county-wide.

    Negative-binomial noise at the level that matters for de-duplicated incidents: a county-wide
    gamma day factor with coefficient of variation ``day_cv`` (weather, app usage), so the county
    total has variance mu + day_cv^2 mu^2; cell-days are Poisson given that factor (``phi`` > 1
    adds cell-day clumping with variance phi x mean, i.e. duplicates).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    level = DOW[t % 7] * np.exp(
        season * np.sin(2 * np.pi * (t + start_doy) / 365.25) + trend * t / 365.25
    )
    if day_cv > 0:
        level = level * rng.gamma(1 / day_cv**2, day_cv**2, days)
    mu = per_day * level[:, None] * county.weight[None, :]
    if phi > 1:
        mu = rng.gamma(mu / (phi - 1), phi - 1)
    counts = rng.poisson(mu)
    if artifacts:
        for first, cells in artifacts.patrols:
            rows = slice(max(0, first), min(days, first + PATROL_DAYS))
            counts[rows, cells] *= 2
        for day in artifacts.campaign_days:
            if 0 <= day < days:
                counts[day] *= 2
        for day, town in artifacts.dumps:
            if 7 <= day < days:
                sel = county.township == town
                counts[day, sel] += counts[day - 7 : day, sel].sum(axis=0)
                counts[day - 7 : day, sel] = 0
    return counts


def random_artifacts(
    county: County,
    days: int,
    seed: int,
    *,
    campaigns_per_year: float = 4,
    dumps_per_year: float = 4,
    patrols_per_year: float = 0,
) -> Artifacts:
    """Random artifacts. Patrol reassignments (reference §5.3: reporting x2 in 10-30 nearest
    cells of a rate-weighted centre for 30 days) are drawn from a separate stream, so turning
    them on leaves the campaign days and dumps of a seed as they were."""
    rng = np.random.default_rng(seed)
    nc = rng.poisson(campaigns_per_year * days / 365)
    nd = rng.poisson(dumps_per_year * days / 365)
    towns = int(county.township.max()) + 1
    out = Artifacts(
        sorted(int(x) for x in rng.integers(0, days, nc)),
        sorted((int(d), int(rng.integers(0, towns))) for d in rng.integers(7, days, nd)),
    )
    if patrols_per_year > 0:
        prng = np.random.default_rng([seed, 5])
        for _ in range(prng.poisson(patrols_per_year * days / 365)):
            centre = int(prng.choice(county.n, p=county.weight))
            k = int(prng.integers(10, 31))
            first = int(prng.integers(-PATROL_DAYS + 1, days))
            out.patrols.append((first, nearest(county, centre, k)))
    return out


def nearest(county: County, centre: int, k: int) -> np.ndarray:
    d = np.hypot(*(county.xy_km - county.xy_km[centre]).T)
    return np.argsort(d, kind="stable")[:k]


def inject(
    counts: np.ndarray,
    county: County,
    *,
    kind: str,
    start: int,
    rr: float,
    seed: int,
    per_day: float,
    k: int = 9,
    ramp_days: int = 14,
) -> np.ndarray:
    """Add an event from day ``start`` on; returns the boolean (days x cells) truth mask.

    kinds: ``compact`` (k nearest cells around an urban-weighted centre, step to rr),
    ``township`` (one township, step), ``county`` (all cells, ramp over ``ramp_days``),
    ``ramp`` (compact cells, linear ramp to rr over ``ramp_days``), ``spreading`` (starts at the
    centre cell, one ring more every 3 days, up to k cells). Extra counts are Poisson with mean
    (rr - 1) x the cell's expected count (without noise), so rr is the relative risk.
    """
    rng = np.random.default_rng(seed)
    T, N = counts.shape
    truth = np.zeros((T, N), dtype=bool)
    centre = int(rng.choice(N, p=county.weight))
    days = np.arange(start, T)
    if len(days) == 0:
        return truth
    mult = np.full(len(days), rr - 1.0)
    cells_per_day = [None] * len(days)
    if kind in ("compact", "ramp"):
        cells = nearest(county, centre, k)
        if kind == "ramp":
            mult = (rr - 1.0) * np.minimum(1.0, (days - start + 1) / ramp_days)
    elif kind == "township":
        cells = np.flatnonzero(county.township == county.township[centre])
    elif kind == "county":
        cells = np.arange(N)
        mult = (rr - 1.0) * np.minimum(1.0, (days - start + 1) / ramp_days)
    elif kind == "spreading":
        order = nearest(county, centre, k)
        rings = [1, 5, 9, 13, 21, 25, 29, 37, 45, 49]
        for j, day in enumerate(days):
            size = rings[min(len(rings) - 1, (day - start) // 3)]
            cells_per_day[j] = order[: min(size, k)]
        cells = order
    else:
        raise ValueError(kind)
    for j, day in enumerate(days):
        cs = cells if cells_per_day[j] is None else cells_per_day[j]
        mu = per_day * DOW[day % 7] * county.weight[cs] * mult[j]
        counts[day, cs] += rng.poisson(mu)
        truth[day, cs] = True
    return truth
