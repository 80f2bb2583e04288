"""Early-warning statistics: space-time scans and temporal detectors (numpy/scipy, no Django).

Public API (see docs/early-warning.md)::

    neighbours(xy_km, max_cells=, max_radius_km=)       -> list of index arrays, centre first
    permutation_scan(counts, nbrs, max_days=7, ...)     -> [Cluster], most likely first
    poisson_scan(counts, expected, nbrs, ...)           -> [Cluster]
    baseline(counts, weeks=8, days=7)                   -> (days, N) expected counts
    ears(series, "C1"|"C2"|"C3") / ears_statistic(...)  -> Cluster | None / statistic per day
    glm_cusum(series, dates, holidays=())               -> Cluster | None
    cell_baseline(counts, township, days=7)             -> (days, N) per-cell model expectation
    repair_dumps(counts, township)                      -> (counts, [(row, township)])
"""

from .cluster import Cluster, recurrence
from .prep import repair_dumps, townships_of
from .scan import (
    CELL_BASELINE_DAYS,
    baseline,
    cell_baseline,
    estimate_day_cv2,
    estimate_dispersion,
    neighbours,
    permutation_scan,
    poisson_scan,
)
from .temporal import cusum_path, design, ears, ears_statistic, glm_cusum, nb_glm_fit

__all__ = [
    "CELL_BASELINE_DAYS",
    "Cluster",
    "baseline",
    "cell_baseline",
    "cusum_path",
    "design",
    "ears",
    "ears_statistic",
    "estimate_day_cv2",
    "estimate_dispersion",
    "glm_cusum",
    "nb_glm_fit",
    "neighbours",
    "permutation_scan",
    "poisson_scan",
    "recurrence",
    "repair_dumps",
    "townships_of",
]
