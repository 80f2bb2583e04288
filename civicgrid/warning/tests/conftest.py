"""Cases planted in bulk for the early-warning tests: background noise and a cluster.

The cases are written with ``bulk_create`` (thousands in a blink; the detectors only read
category, grid and report time), on the session's demo county.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from civicgrid.cases.models import Case, Category
from civicgrid.regions.models import Grid
from civicgrid.warning.counts import grid_frame

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 10, 20)  # the day the run looks at
LIZHOU = "330281001"
FENGSHAN = "330281002"


class Planter:
    def __init__(self, personas):
        self.p = personas
        self.category = Category.objects.get(code="0101")  # 废弃车辆（僵尸车）
        self.frame = grid_frame()
        self.grids = {g.code: g for g in Grid.objects.filter(code__in=self.frame.codes)}
        self._n = 0

    def nearest(self, town: str, k: int) -> list[str]:
        """The ``k`` grids nearest to a township's first grid, itself first (a compact cluster,
        as the scans' circles see it)."""
        codes = self.frame.codes
        centre = self.frame.xy_km[next(i for i, c in enumerate(codes) if c.startswith(town))]
        dist = np.hypot(*(self.frame.xy_km - centre).T)
        return [codes[i] for i in np.argsort(dist, kind="stable")[:k]]

    def cases(self, counts: dict[tuple[str, date], int], category=None) -> int:
        """``counts[(grid code, day)]`` cases reported that day (spread over working hours)."""
        category = category or self.category
        rows = []
        for (code, day), n in counts.items():
            grid = self.grids[code]
            for j in range(n):
                self._n += 1
                moment = datetime.combine(day, time(8 + j % 10, (7 * j) % 60), tzinfo=SHANGHAI)
                rows.append(
                    Case(
                        code=f"WT{self._n:08d}",
                        state="reported",
                        channel=Case.Channel.GRID_WORKER,
                        category=category,
                        description="planted",
                        grid=grid,
                        region_code=code,
                        level="town",
                        unit_code=code[:9],
                        created=moment,
                    )
                )
        Case.objects.bulk_create(rows, batch_size=2000)
        return len(rows)

    def background(self, first: date, last: date, *, rate=0.04, seed=1, category=None) -> int:
        """Poisson noise over every grid of the frame."""
        rng = np.random.default_rng(seed)
        days = (last - first).days + 1
        draws = rng.poisson(rate, size=(days, len(self.frame.codes)))
        counts = {}
        for t, i in zip(*np.nonzero(draws), strict=True):
            counts[(self.frame.codes[i], first + timedelta(days=int(t)))] = int(draws[t, i])
        return self.cases(counts, category=category)

    def cluster(self, codes, days, per_day=4, category=None) -> int:
        return self.cases({(c, d): per_day for c in codes for d in days}, category=category)


@pytest.fixture
def planter(personas):
    return Planter(personas)


def fast_settings(category, **extra):
    """The category's settings for a quick run (fewer replicates)."""
    from civicgrid.warning.models import WarningSetting

    values = {"replicates": 199, "history_days": 56, "max_radius_km": 10.0, **extra}
    setting, _ = WarningSetting.objects.update_or_create(category=category, defaults=values)
    return setting


def make_signal(category, codes, *, day=DAY, observed=20, method="permutation", days=3):
    """A stored signal over ``codes`` (grid codes, or one area code for a temporal one),
    through the run's own action."""
    from civicgrid.warning.actions import Finding, do_store_findings
    from civicgrid.warning.models import Signal

    finding = Finding(
        method=method,
        places=tuple(sorted(codes)),
        start=day - timedelta(days=days - 1),
        end=day,
        observed=observed,
        expected=2.5,
        relative_risk=observed / 2.5,
        statistic=12.0,
        p_value=0.002,
        recurrence_days=500.0,
    )
    do_store_findings(category, [finding], day)
    return Signal.objects.filter(category=category, first_run=day).order_by("-id").first()


class Places:
    """grid1's grid (梨洲), grid2's grid (凤山) and the category 0101."""

    def __init__(self, personas):
        from civicgrid.people.models import RoleAssignment

        self.p = personas
        self.grid = RoleAssignment.objects.get(person__user=personas.grid1).grid
        self.other_grid = RoleAssignment.objects.get(person__user=personas.grid2).grid
        self.category = Category.objects.get(code="0101")


@pytest.fixture
def places(personas):
    return Places(personas)
