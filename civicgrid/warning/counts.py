"""The numbers the detectors read: day × grid case counts per category, and area series.

``grid_frame()`` lists the grids the scans run over — active basic and dedicated grids (a
micro-grid's cases count to its parent grid) — with their centroids projected to kilometres
(the centre of each grid's bounding box, on a local equirectangular projection around the
county's mean latitude: distances of a few km are off by well under 1 %).

``build_counts(first, last)`` reads every category's counts with ONE aggregate query
(``values("category_id", "grid_id", day).annotate(Count)``) and returns a ``T × N`` integer
matrix per category (T days from ``first`` to ``last`` inclusive, N grids of the frame). A
case counts on its local (Asia/Shanghai) report date; merged duplicates and rejected reports
do not count, nor do cases without a grid, nor cases raised by a campaign's checks (a
campaign finds what it looks for where it looks: that is search effort, not a rise, and a
campaign made from a signal would otherwise feed its own signal). ``area_series`` sums the
columns into township and county daily series for the temporal detectors (no further query).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from civicgrid.cases import workflow as case_workflow
from civicgrid.cases.models import Case
from civicgrid.regions.models import Grid

__all__ = ["Counts", "GridFrame", "area_series", "build_counts", "grid_frame"]

KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LNG_EQUATOR = 111.320
NOT_COUNTED_STATES = (case_workflow.REJECTED, case_workflow.MERGED)


@dataclass
class GridFrame:
    codes: list[str]  # N grid codes, the columns
    xy_km: np.ndarray  # N × 2
    column_of: dict[int, int]  # grid id (micro-grids too) → column


@dataclass
class Counts:
    frame: GridFrame
    dates: list[date]  # T days, the rows
    by_category: dict[int, np.ndarray] = field(default_factory=dict)  # category id → T × N

    def matrix(self, category_id: int) -> np.ndarray:
        found = self.by_category.get(category_id)
        if found is None:
            return np.zeros((len(self.dates), len(self.frame.codes)), dtype=np.int64)
        return found


def _centre(bbox) -> tuple[float, float] | None:
    try:
        min_lng, min_lat, max_lng, max_lat = (float(v) for v in bbox)
    except (TypeError, ValueError):
        return None
    return (min_lng + max_lng) / 2, (min_lat + max_lat) / 2


def grid_frame() -> GridFrame:
    """The scan's grids (active, not micro) with centroids in km; grids without geometry are
    placed at the county's centre (they are then neighbours of many, which is harmless)."""
    rows = list(
        Grid.objects.filter(active=True)
        .exclude(kind=Grid.Kind.MICRO)
        .order_by("code")
        .values_list("id", "code", "bbox")
    )
    codes = [code for _id, code, _bbox in rows]
    column_of = {grid_id: i for i, (grid_id, _code, _bbox) in enumerate(rows)}
    centres = [_centre(bbox) for _id, _code, bbox in rows]
    known = [c for c in centres if c is not None]
    if known:
        lng0 = sum(c[0] for c in known) / len(known)
        lat0 = sum(c[1] for c in known) / len(known)
    else:
        lng0 = lat0 = 0.0
    kx = KM_PER_DEG_LNG_EQUATOR * math.cos(math.radians(lat0))
    xy = np.array(
        [
            ((c[0] - lng0) * kx, (c[1] - lat0) * KM_PER_DEG_LAT) if c else (0.0, 0.0)
            for c in centres
        ],
        dtype=float,
    ).reshape(len(rows), 2)
    # micro-grids count to their parent grid
    for grid_id, parent_id in Grid.objects.filter(kind=Grid.Kind.MICRO).values_list(
        "id", "parent_id"
    ):
        if parent_id in column_of:
            column_of[grid_id] = column_of[parent_id]
    return GridFrame(codes=codes, xy_km=xy, column_of=column_of)


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def build_counts(
    first: date, last: date, *, frame: GridFrame | None = None, category_ids=None
) -> Counts:
    """Day × grid counts per category from ``first`` to ``last`` (inclusive), one query."""
    frame = frame or grid_frame()
    days = (last - first).days + 1
    dates = [first + timedelta(days=i) for i in range(max(days, 0))]
    counts = Counts(frame=frame, dates=dates)
    if days <= 0 or not frame.codes:
        return counts
    cases = Case.objects.filter(
        created__gte=_local_midnight(first),
        created__lt=_local_midnight(last + timedelta(days=1)),
        category__isnull=False,
        grid__isnull=False,
        merged_into__isnull=True,
        campaign_check__isnull=True,
    ).exclude(state__in=NOT_COUNTED_STATES)
    if category_ids is not None:
        cases = cases.filter(category_id__in=list(category_ids))
    rows = (
        cases.annotate(day=TruncDate("created", tzinfo=timezone.get_default_timezone()))
        .values("category_id", "grid_id", "day")
        .annotate(n=Count("id"))
        .values_list("category_id", "grid_id", "day", "n")
    )
    n_cols = len(frame.codes)
    for category_id, grid_id, day, n in rows.iterator():
        column = frame.column_of.get(grid_id)
        if column is None:
            continue
        if isinstance(day, str):  # SQLite without converters
            day = date.fromisoformat(day)
        row = (day - first).days
        if not 0 <= row < days:
            continue
        matrix = counts.by_category.get(category_id)
        if matrix is None:
            matrix = counts.by_category[category_id] = np.zeros((days, n_cols), dtype=np.int64)
        matrix[row, column] += n
    return counts


def area_series(matrix: np.ndarray, codes: list[str]) -> dict[str, np.ndarray]:
    """Daily totals per township (9-digit code) and for the county (6-digit code)."""
    series: dict[str, np.ndarray] = {}
    if matrix.size == 0:
        return series
    towns = sorted({c[:9] for c in codes})
    town_index = {t: i for i, t in enumerate(towns)}
    membership = np.zeros((len(codes), len(towns)), dtype=np.int64)
    for col, code in enumerate(codes):
        membership[col, town_index[code[:9]]] = 1
    by_town = matrix @ membership
    for t, i in town_index.items():
        series[t] = by_town[:, i]
    for county in sorted({c[:6] for c in codes}):
        series[county] = sum(series[t] for t in towns if t.startswith(county))
    return series
