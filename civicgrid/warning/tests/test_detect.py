"""The early-warning statistics (pure numpy/scipy; no database)."""

import datetime as dt

import numpy as np
import pytest

from civicgrid.warning.detect import (
    CELL_BASELINE_DAYS,
    baseline,
    cell_baseline,
    cusum_path,
    ears,
    ears_statistic,
    glm_cusum,
    neighbours,
    permutation_scan,
    poisson_scan,
    repair_dumps,
)
from civicgrid.warning.detect import synthetic as syn
from civicgrid.warning.detect.scan import _reference_permutation_scan


@pytest.fixture(scope="module")
def small():
    county = syn.make_county(3, nx=15, ny=10)
    return county, neighbours(county.xy_km, max_cells=20, max_radius_km=2.5)


def binomial_ok(hits, n, alpha, sds=3.0):
    sd = (n * alpha * (1 - alpha)) ** 0.5
    return abs(hits - n * alpha) <= sds * sd + 1


def test_neighbours_are_sorted_by_distance_centre_first_within_radius(small):
    county, nbrs = small
    assert len(nbrs) == county.n
    for i in (0, 37, 149):
        d = np.hypot(*(county.xy_km[nbrs[i]] - county.xy_km[i]).T)
        assert nbrs[i][0] == i
        assert np.all(np.diff(d) >= -1e-12)
        assert d.max() <= 2.5 and len(nbrs[i]) <= 20


def test_permutation_scan_null_calibration(small):
    """No injected problem: share of analyses with p <= alpha is alpha within sampling error."""
    county, nbrs = small
    n, alpha, hits = 200, 0.05, 0
    ps = []
    for seed in range(n):
        counts = syn.simulate(county, days=60, per_day=8, seed=seed, day_cv=0.3)
        found = permutation_scan(counts, nbrs, replicates=99, rng=1000 + seed)
        p = found[0].p_value if found else 1.0
        ps.append(p)
        hits += p <= alpha
    assert binomial_ok(hits, n, alpha), hits
    assert 0.35 < np.median(ps) < 0.65


def test_poisson_scan_null_calibration_with_true_expectation(small):
    county, nbrs = small
    n, alpha, hits = 200, 0.05, 0
    for seed in range(n):
        rng = np.random.default_rng(seed)
        mu = 2.0 * county.weight * county.n / 10  # ~0.2 per cell-day on average
        counts = rng.poisson(np.tile(mu, (14, 1)))
        found = poisson_scan(
            counts,
            np.tile(mu, (7, 1)),
            nbrs,
            replicates=99,
            rng=seed,
            dispersion=1.0,
            day_cv2=0,
            baseline_days=0,
        )
        hits += bool(found) and found[0].p_value <= alpha
    assert binomial_ok(hits, n, alpha), hits


def test_poisson_scan_null_calibration_with_the_cell_baseline(small):
    """The daily run's configuration: expectation from ``cell_baseline`` (estimated, so the
    Monte Carlo carries its uncertainty), county-wide day factors, a year of history. No
    injected problem: p <= alpha in alpha of the analyses within sampling error."""
    county, nbrs = small
    n, alpha, hits = 150, 0.05, 0
    for seed in range(n):
        counts = syn.simulate(county, days=365, per_day=8, seed=500 + seed, day_cv=0.2)
        found = poisson_scan(
            counts,
            cell_baseline(counts, county.township),
            nbrs,
            replicates=99,
            rng=seed,
            baseline_days=CELL_BASELINE_DAYS,
        )
        hits += bool(found) and found[0].p_value <= alpha
    assert binomial_ok(hits, n, alpha), hits


def inject_compact(county, counts, *, rr, start, k=9, seed=5, per_day=60.0):
    return syn.inject(
        counts, county, kind="compact", start=start, rr=rr, seed=seed, per_day=per_day, k=k
    )


@pytest.mark.parametrize("method", ["permutation", "poisson"])
def test_injected_compact_cluster_is_found_with_its_cells_and_days(small, method):
    county, nbrs = small
    counts = syn.simulate(county, days=120, per_day=60, seed=11)
    truth = inject_compact(county, counts, rr=4.0, start=116)
    if method == "permutation":
        found = permutation_scan(counts, nbrs, replicates=199, rng=2)
    else:
        found = poisson_scan(counts, baseline(counts), nbrs, replicates=199, rng=2)
    top = found[0]
    true_cells = set(np.flatnonzero(truth[-1]).tolist())
    jaccard = len(true_cells & set(top.cells)) / len(true_cells | set(top.cells))
    assert top.p_value <= 0.01 and top.recurrence_days >= 100
    assert jaccard >= 0.5, (sorted(true_cells), top.cells)
    assert abs(top.start - 116) <= 1 and top.end == 119
    assert top.observed > top.expected and top.relative_risk > 2
    # secondary clusters share no cell with the most likely one, and are ranked by statistic
    for other in found[1:]:
        assert not set(other.cells) & set(top.cells)
        assert other.statistic <= top.statistic


def test_fast_and_reference_implementations_agree(small):
    county, nbrs = small
    counts = syn.simulate(county, days=40, per_day=20, seed=4)
    inject_compact(county, counts, rr=3.0, start=36, per_day=20)
    fast = permutation_scan(counts, nbrs, replicates=19, rng=3, stop_after=None)[0]
    ref = _reference_permutation_scan(counts, nbrs, replicates=19, rng=3)
    assert fast.cells == ref.cells and (fast.start, fast.end) == (ref.start, ref.end)
    assert fast.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert fast.observed == ref.observed and fast.expected == pytest.approx(ref.expected)
    assert abs(fast.p_value - ref.p_value) < 0.25  # different random streams, same distribution


def test_sequential_stop_gives_the_full_decision_and_gumbel_the_same_ranking(small):
    county, nbrs = small
    for seed in range(6):
        counts = syn.simulate(county, days=60, per_day=30, seed=seed)
        if seed % 2:
            inject_compact(county, counts, rr=3.0 + seed, start=57, seed=seed, per_day=30)
        full = permutation_scan(counts, nbrs, replicates=299, rng=seed, stop_after=None)
        seq = permutation_scan(counts, nbrs, replicates=299, rng=seed, stop_after=10)
        gum = permutation_scan(counts, nbrs, rng=seed, fast=True)
        assert [c.cells for c in full] == [c.cells for c in seq] == [c.cells for c in gum]
        for a, b in zip(full, seq, strict=True):
            assert (a.p_value <= 0.02) == (b.p_value <= 0.02)  # 0.02 < 11 / 300
        # ranking by p agrees (p is monotone in the statistic for both)
        assert np.all(np.diff([c.p_value for c in gum]) >= -1e-12)
        assert np.all(np.diff([c.p_value for c in full]) >= -1e-12)
        assert (full[0].p_value <= 0.01) == (gum[0].p_value <= 0.01)


def test_baseline_is_day_of_week_adjusted_moving_average():
    rng = np.random.default_rng(0)
    dow = np.array([2.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5])
    rate = np.array([0.5, 2.0, 5.0])
    counts = rng.poisson(dow[np.arange(140) % 7][:, None] * rate[None, :] * 10)
    exp = baseline(counts, weeks=8, days=7)
    assert exp.shape == (7, 3)
    want = dow[np.arange(133, 140) % 7][:, None] * rate[None, :] * 10
    assert np.allclose(exp, want, rtol=0.15)


def test_ears_against_hand_calculation():
    y = np.array([3, 5, 4, 6, 5, 4, 3, 2, 4, 12], dtype=float)
    # C1 on the last day: baseline = days 2..8 = [4, 6, 5, 4, 3, 2, 4], mean 4, sd sqrt(10/6)
    sd1 = np.sqrt(((np.array([4, 6, 5, 4, 3, 2, 4]) - 4) ** 2).sum() / 6)
    assert ears_statistic(y, "C1")[-1] == pytest.approx((12 - 4) / sd1)
    # C2: baseline = days 0..6 = [3, 5, 4, 6, 5, 4, 3], mean 30/7
    b = np.array([3, 5, 4, 6, 5, 4, 3], dtype=float)
    c2_last = (12 - b.mean()) / b.std(ddof=1)
    assert ears_statistic(y, "C2")[-1] == pytest.approx(c2_last)
    # C3 = sum of max(0, C2 - 1) over the last three days
    y3 = np.array([3, 5, 4, 6, 5, 4, 3, 2, 4, 9, 10, 12], dtype=float)
    c2 = []
    for t in (9, 10, 11):
        ref = y3[t - 9 : t - 2]
        c2.append((y3[t] - ref.mean()) / max(ref.std(ddof=1), 0.5))
    assert ears_statistic(y3, "C3")[-1] == pytest.approx(sum(max(0, c - 1) for c in c2))
    alarm = ears(y, "C1")
    assert alarm.method == "ears_c1" and alarm.start == alarm.end == 9
    assert alarm.observed == 12 and alarm.expected == pytest.approx(4.0)
    assert ears(np.array([3, 5, 4, 6, 5, 4, 3, 2, 4, 5.0]), "C1") is None
    # a flat zero history: min_sigma keeps the statistic finite
    assert ears_statistic(np.r_[np.zeros(9), 1.0], "C2")[-1] == pytest.approx(2.0)


def _series(days, rng, drift_from=None, drift_to=1.0):
    start = dt.date(2025, 1, 1)
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    t = np.arange(days)
    dow = np.array([1.2, 1.1, 1.0, 1.0, 1.1, 0.8, 0.8])[[d.weekday() for d in dates]]
    mu = 20 * dow * np.exp(0.3 * np.sin(2 * np.pi * t / 365.25))
    if drift_from is not None:
        ramp = np.clip((t - drift_from) / (days - drift_from), 0, 1)
        mu = mu * (1 + (drift_to - 1) * ramp)
    y = rng.poisson(rng.gamma(20.0, mu / 20.0))
    return y, dates


def test_glm_cusum_flags_a_drift_and_not_a_flat_series():
    rng = np.random.default_rng(7)
    flat_alarms = 0
    for _ in range(10):
        y, dates = _series(500, rng)
        flat_alarms += glm_cusum(y, dates, rng=rng) is not None
    assert flat_alarms <= 1
    y, dates = _series(500, rng, drift_from=472, drift_to=1.8)
    alarm = glm_cusum(y, dates, rng=1)
    assert alarm is not None and alarm.method == "glm_cusum"
    assert alarm.end == 499 and alarm.start >= 472 - 3 and alarm.relative_risk > 1.2
    assert alarm.p_value <= 0.01 and alarm.recurrence_days >= 100
    # too little history: no GLM (the caller uses EARS)
    assert glm_cusum(y[:200], dates[:200]) is None


@pytest.mark.parametrize("method", ["permutation", "poisson"])
def test_backlog_guard_drops_a_dumped_week_but_keeps_a_real_cluster(small, method):
    county, nbrs = small

    def top(counts, guard):
        if method == "permutation":
            found = permutation_scan(counts, nbrs, replicates=0, backlog_guard=guard)
        else:
            found = poisson_scan(
                counts, baseline(counts), nbrs, replicates=0, backlog_guard=guard, dispersion=1.0
            )
        return found[0]

    town = int(county.township[county.urban][0])
    dump = syn.Artifacts(dumps=[(117, town)])
    counts = syn.simulate(county, days=120, per_day=60, seed=21, artifacts=dump)
    in_town = set(np.flatnonzero(county.township == town).tolist())
    unguarded, guarded = top(counts, 0), top(counts, 7)
    assert unguarded.start <= 117
    assert len(set(unguarded.cells) & in_town) >= 0.8 * len(unguarded.cells)
    assert guarded.statistic < unguarded.statistic / 2
    real = syn.simulate(county, days=120, per_day=60, seed=21)
    truth = inject_compact(county, real, rr=4.0, start=116)
    assert top(real, 7).statistic == pytest.approx(top(real, 0).statistic)
    assert set(top(real, 7).cells) & set(np.flatnonzero(truth[-1]).tolist())


@pytest.mark.parametrize("method", ["permutation", "poisson"])
def test_a_masked_campaign_day_raises_no_cluster_and_a_real_one_still_shows(small, method):
    """A campaign day (every cell x2) inside the window: without the mask the Poisson scan
    calls it a cluster and it inflates the permutation scan's statistic; with the day masked
    (left out) both are quiet, and a real cluster next to the masked day is still found."""
    county, nbrs = small

    def top(counts, mask):
        if method == "permutation":
            found = permutation_scan(counts, nbrs, replicates=199, rng=3, mask=mask)
        else:
            found = poisson_scan(
                counts, baseline(counts, mask=mask), nbrs, replicates=199, rng=3, mask=mask
            )
        return found[0] if found else None

    days = 120
    campaign = syn.Artifacts(campaign_days=[117])
    mask = np.zeros(days, dtype=bool)
    mask[117] = True
    quiet = syn.simulate(county, days=days, per_day=60, seed=31, artifacts=campaign)
    plain = top(quiet, None)
    masked = top(quiet, mask)
    assert masked is None or masked.p_value > 0.05
    assert masked is None or masked.statistic < plain.statistic
    if method == "poisson":
        assert plain.p_value <= 0.01 and plain.start <= 117
    real = syn.simulate(county, days=days, per_day=60, seed=31, artifacts=campaign)
    truth = inject_compact(county, real, rr=5.0, start=113)
    found = top(real, mask)
    assert found is not None and found.p_value <= 0.01
    assert set(found.cells) & set(np.flatnonzero(truth[-1]).tolist())
    with pytest.raises(ValueError):
        top(quiet, mask[:-1])


def test_masked_days_are_left_out_of_the_temporal_detectors():
    rng = np.random.default_rng(11)
    y, dates = _series(420, rng)
    y = y.copy()
    y[410] += 60  # a campaign day: 60 extra reports
    mask = np.zeros(len(y), dtype=bool)
    mask[410] = True
    assert ears_statistic(y, "C2")[410] > 3
    assert np.isnan(ears_statistic(y, "C2", mask=mask)[410])
    assert np.isfinite(ears_statistic(y, "C2", mask=mask)[411])
    plain = cusum_path(y, dates)[0]
    masked = cusum_path(y, dates, mask=mask)[0]
    k = 410 - (len(y) - 28)
    assert plain[k] > masked[k] + 3 and masked[k] == pytest.approx(masked[k - 1])


def test_the_temporal_alarms_take_the_mask_the_daily_run_passes():
    """``ears`` and ``glm_cusum`` (what the daily run calls) alarm on a day of 60 extra reports
    and not when that day is masked (a marked publicity day)."""
    rng = np.random.default_rng(11)
    y, dates = _series(420, rng)
    y = y.copy()
    y[-1] += 60
    mask = np.zeros(len(y), dtype=bool)
    mask[-1] = True
    assert ears(y, "C2") is not None and ears(y, "C2", mask=mask) is None
    assert glm_cusum(y, dates, rng=1) is not None
    assert glm_cusum(y, dates, rng=1, mask=mask) is None


def test_repair_dumps_spreads_a_dumped_week_back_and_leaves_a_real_cluster(small):
    """A township's week entered on one day is found (and only it) and spread back over its
    days: the scans then see no one-day cluster there; a real cluster (the week before it
    as usual) is not touched."""
    county, nbrs = small
    town = int(county.township[county.urban][0])
    dump = syn.Artifacts(dumps=[(117, town)])
    counts = syn.simulate(county, days=120, per_day=60, seed=21, artifacts=dump)
    fixed, found = repair_dumps(counts, county.township)
    assert found == [(117, town)]
    sel = county.township == town
    assert fixed[110:118, sel].sum() == counts[110:118, sel].sum()  # no case lost
    assert fixed[110:117, sel].sum(axis=1).min() > 0  # the hole is filled
    assert np.array_equal(fixed[:, ~sel], counts[:, ~sel])
    before = permutation_scan(counts, nbrs, replicates=0, backlog_guard=0)[0]
    after = permutation_scan(fixed, nbrs, replicates=0, backlog_guard=0)
    assert after == [] or after[0].statistic < before.statistic / 3
    real = syn.simulate(county, days=120, per_day=60, seed=21)
    inject_compact(county, real, rr=4.0, start=116)
    same, none = repair_dumps(real, county.township)
    assert none == [] and np.array_equal(same, real)


def test_cell_baseline_recovers_cell_rates_weekdays_and_a_trend(small):
    county, _ = small
    counts = syn.simulate(county, days=365, per_day=200, seed=5, day_cv=0.0, season=0.0)
    exp = cell_baseline(counts, county.township, days=7)
    truth = 200 * syn.DOW[np.arange(358, 365) % 7][:, None] * county.weight[None, :]
    assert exp.shape == (7, county.n)
    assert abs(exp.sum() / truth.sum() - 1) < 0.03
    busy = county.weight > np.quantile(county.weight, 0.5)
    assert np.median(np.abs(exp[:, busy] / truth[:, busy] - 1)) < 0.15
    assert np.all(exp > 0)  # a cell with no case in the year still expects a little
    # a rising level (here +40 % over the year) is extrapolated, not a month behind
    rising = syn.simulate(county, days=365, per_day=200, seed=5, day_cv=0.0, season=0.0, trend=0.4)
    level = 200 * np.exp(0.4 * 361 / 365.25)
    assert abs(cell_baseline(rising, county.township).sum() / 7 / level - 1) < 0.04
    flat = cell_baseline(rising, county.township, trend=False).sum() / 7 / level
    assert flat < 0.97
