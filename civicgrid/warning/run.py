"""The daily early-warning run: ``run_warnings(day)``.

For every enabled leaf category (a category without a ``WarningSetting`` row runs with the
defaults) it reads the day × grid counts of the study period ending on ``day`` (one aggregate
query for all categories, ``counts.build_counts``) and runs

* the prospective space–time permutation scan and the expectation-based Poisson scan (against
  the per-cell model ``cell_baseline``) over the grids (neighbourhoods: the ``max_cells``
  nearest grid centroids within ``max_radius_km``), after spreading back any township's
  backlog dumped on one day (``repair_dumps``),
* a temporal detector on the county's and each township's daily total: EARS C2 while the
  history is shorter than a year, the negative-binomial GLM with a CUSUM after,

keeps the clusters that end on ``day`` with a recurrence interval at or above the category's
threshold, and stores them (``actions.do_store_findings``: new signals, or updates of ongoing
ones, re-announced only when they grow). Random numbers come from a generator seeded by
(day, category, method), so a run is reproducible and a second run for the same day changes
nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np

from civicgrid.cases.models import Category
from civicgrid.warning.actions import Finding, do_store_findings
from civicgrid.warning.counts import area_series, build_counts, grid_frame
from civicgrid.warning.models import Method, ReportingDay, WarningSetting

__all__ = ["default_setting", "run_warnings", "settings_by_category"]

YEAR = 365
TEMPORAL_WINDOW = 28  # the GLM-CUSUM's monitoring window (days)
logger = logging.getLogger("civicgrid.warning")
_METHOD_SEED = {Method.PERMUTATION: 1, Method.POISSON: 2, Method.TEMPORAL: 3}


def default_setting(category: Category) -> WarningSetting:
    return WarningSetting(category=category, methods=list(WarningSetting.DEFAULT_METHODS))


def settings_by_category() -> list[WarningSetting]:
    """Every active leaf category with its setting (saved, or the defaults unsaved)."""
    saved = {s.category_id: s for s in WarningSetting.objects.all()}
    categories = Category.objects.filter(active=True, parent__isnull=False).order_by("code")
    return [saved.get(c.pk) or default_setting(c) for c in categories]


def _rng(day: date, category_id: int, method: str) -> np.random.Generator:
    return np.random.default_rng([day.toordinal(), category_id, _METHOD_SEED[method]])


def _holidays(dates) -> set:
    from civicgrid.core.calendar import default_calendar

    calendar = default_calendar()
    return {d for d in dates if d.weekday() < 5 and not calendar.is_working_day(d)}


def run_warnings(
    day: date,
    *,
    progress: Callable[[str], None] | None = None,
    categories=None,
    fast: bool | None = None,
) -> dict:
    """Run every enabled category's detectors for ``day`` and store the signals.

    ``categories`` (codes) limits the run; ``fast`` overrides the settings' Monte Carlo mode
    (the demo's backfill). Returns a summary."""
    from civicgrid.warning import detect

    say = progress or (lambda _text: None)
    began = time.monotonic()
    settings = [s for s in settings_by_category() if s.enabled]
    if categories is not None:
        wanted = {str(c) for c in categories}
        settings = [s for s in settings if s.category.code in wanted]
    summary = {
        "day": day,
        "categories": len(settings),
        "scanned": 0,
        "findings": 0,
        "new": 0,
        "updated": 0,
        "grown": 0,
        "seconds": 0.0,
        "errors": [],
    }
    if not settings:
        return summary
    history = max(s.history_days for s in settings)
    first = day - timedelta(days=history - 1)
    frame = grid_frame()
    towns = detect.townships_of(frame.codes)
    counts = build_counts(first, day, frame=frame, category_ids=[s.category_id for s in settings])
    neighbourhoods: dict[tuple[int, float], list] = {}
    holidays = _holidays(counts.dates)
    # days the county centre marked as reporting disturbances: every detector leaves them out
    disturbed = set(
        ReportingDay.objects.filter(day__gte=first, day__lte=day).values_list("day", flat=True)
    )
    for setting in settings:
        category = setting.category
        full = counts.matrix(category.pk)
        rows = min(setting.history_days, full.shape[0])
        matrix, dates = full[-rows:], counts.dates[-rows:]
        mask = np.fromiter((d in disturbed for d in dates), dtype=bool, count=len(dates))
        if mask.any():
            matrix = np.where(mask[:, None], 0, matrix)
        else:
            mask = None
        if not matrix.any():
            continue
        # a township's week of reports entered on one day is spread back over its days
        matrix = detect.repair_dumps(matrix, towns, mask=mask)[0]
        summary["scanned"] += 1

        def safely(name, call, *args, _code=category.code, **kwargs):
            """One detector failing (a numerical corner) must not stop the night's run."""
            try:
                return call(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 (reported, and the run goes on)
                logger.exception("warning: %s failed for %s on %s", name, _code, day)
                summary["errors"].append(f"{_code} {name}: {exc!r}")
                say(f"{day} {_code}: {name} failed: {exc!r}")
                return None

        methods = setting.active_methods
        use_fast = setting.fast if fast is None else fast
        clusters = []
        scans = [m for m in (Method.PERMUTATION, Method.POISSON) if m in methods]
        # A cluster ending today lies within the last max_days days: too few cases there, no
        # signal is possible (most categories on most days), so the scans are skipped.
        if scans and frame.codes and matrix[-setting.max_days :].sum() >= setting.min_cases:
            key = (setting.max_cells, float(setting.max_radius_km))
            if key not in neighbourhoods:
                neighbourhoods[key] = detect.neighbours(
                    frame.xy_km, max_cells=setting.max_cells, max_radius_km=setting.max_radius_km
                )
            nbrs = neighbourhoods[key]
            options = {
                "max_days": setting.max_days,
                "replicates": setting.replicates,
                "fast": use_fast,
            }
            if Method.PERMUTATION in scans:
                found = safely(
                    "permutation scan",
                    detect.permutation_scan,
                    matrix,
                    nbrs,
                    rng=_rng(day, category.pk, Method.PERMUTATION),
                    mask=mask,
                    **options,
                )
                clusters += [(Method.PERMUTATION, c) for c in found or ()]
            if Method.POISSON in scans:
                # the per-cell model: a year of each grid's share (shrunk towards its
                # township) times the weekday-adjusted county level (docs/early-warning.md)
                expected = detect.cell_baseline(matrix, towns, days=setting.max_days, mask=mask)
                found = safely(
                    "Poisson scan",
                    detect.poisson_scan,
                    matrix,
                    expected,
                    nbrs,
                    rng=_rng(day, category.pk, Method.POISSON),
                    baseline_days=detect.CELL_BASELINE_DAYS,
                    mask=mask,
                    **options,
                )
                clusters += [(Method.POISSON, c) for c in found or ()]
        findings = [
            _spatial_finding(method, c, frame.codes, dates)
            for method, c in clusters
            if _keep(c, setting, rows)
        ]
        if Method.TEMPORAL in methods:
            alpha = 1.0 / setting.threshold_days
            for code, series in area_series(matrix, frame.codes).items():
                if series[-TEMPORAL_WINDOW:].sum() < setting.min_cases:
                    continue
                if rows >= YEAR:
                    found = safely(
                        "GLM-CUSUM",
                        detect.glm_cusum,
                        series,
                        dates,
                        holidays=holidays,
                        alpha=alpha,
                        monitor_days=TEMPORAL_WINDOW,
                        rng=_rng(day, category.pk, Method.TEMPORAL),
                        mask=mask,
                    )
                else:
                    found = safely(
                        "EARS C2", detect.ears, series, variant="C2", alpha=alpha, mask=mask
                    )
                if found is not None and _keep(found, setting, rows):
                    findings.append(_temporal_finding(found, code, dates))
        stored = do_store_findings(category, findings, day, max_days=setting.max_days)
        summary["findings"] += len(findings)
        for key in ("new", "updated", "grown"):
            summary[key] += stored[key]
        if findings or any(stored.values()):
            say(
                f"{day} {category.code} {category.name}: {len(findings)} cluster(s), "
                f"{stored['new']} new, {stored['updated']} updated, {stored['grown']} grown"
            )
    summary["seconds"] = round(time.monotonic() - began, 2)
    return summary


def _keep(cluster, setting: WarningSetting, rows: int) -> bool:
    """Prospective: the cluster goes on today; it is rare enough; and it has at least
    ``min_cases`` cases (one or two reports where none are expected are "unusual" for every
    detector, and a county has a hundred sparse categories); and it is an excess — more cases
    than expected (a model whose expectation ran away, e.g. a trend extrapolated on a sparse
    series, must not raise a "signal" of fewer cases than expected)."""
    observed = _finite(cluster.observed)
    return (
        int(cluster.end) == rows - 1
        and _finite(cluster.recurrence_days) >= setting.threshold_days
        and observed >= setting.min_cases
        and observed > _finite(cluster.expected)
    )


def _finite(value, cap: float = 1e9) -> float:
    value = float(value)
    if value != value:  # NaN
        return 0.0
    return max(-cap, min(cap, value))


def _spatial_finding(method, cluster, codes, dates) -> Finding:
    return Finding(
        method=str(method),
        places=tuple(sorted(codes[int(i)] for i in cluster.cells)),
        start=dates[int(cluster.start)],
        end=dates[int(cluster.end)],
        observed=int(cluster.observed),
        expected=_finite(cluster.expected),
        relative_risk=_finite(cluster.relative_risk),
        statistic=_finite(cluster.statistic),
        p_value=_finite(cluster.p_value),
        recurrence_days=_finite(cluster.recurrence_days),
    )


def _temporal_finding(cluster, code, dates) -> Finding:
    return Finding(
        method=Method.TEMPORAL.value,
        places=(code,),
        start=dates[int(cluster.start)],
        end=dates[int(cluster.end)],
        observed=int(cluster.observed),
        expected=_finite(cluster.expected),
        relative_risk=_finite(cluster.relative_risk),
        statistic=_finite(cluster.statistic),
        p_value=_finite(cluster.p_value),
        recurrence_days=_finite(cluster.recurrence_days),
    )
