"""Grid-worker appraisal (E2): a score per worker and period from weighted indicators.

score = Σ weight × count over the active ``AppraisalIndicator`` rows, where the counts are
(each one aggregate query over all the workers at once):

* ``valid_reports``  — the worker's reports in the period whose case was accepted;
* ``high_value``     — rewards recorded for the worker in the period and not revoked;
* ``visits_on_time`` — visits the worker made in the period on or before the due date of the
  visit they closed (only when the ``inspection`` app is installed);
* ``self_closed``    — cases the worker closed on the spot (自办结) in the period;
* ``satisfied``      — the worker's reports in the period whose case was evaluated satisfied or
  basically satisfied;
* ``overdue``        — cases owned by the worker's grid, reported in the period, that were closed
  after their deadline or are still open past it (each worker of the grid carries it; the
  weight is negative).

Workers are the holders of the full-time and part-time grid-worker roles. A worker sees their
own breakdown; their leaders (staff placed at the village, township or county above the grid)
see everyone under them.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.apps import apps
from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from civicgrid.cases import workflow as case_workflow
from civicgrid.cases.models import Case, CaseAction, CaseReporter, Level
from civicgrid.core.roles import ROLE_LEVEL, Role
from civicgrid.core.scoping import scope_for
from civicgrid.incentives.models import AppraisalIndicator, RewardEntry
from civicgrid.people.models import RoleAssignment

__all__ = [
    "DEFAULT_WEIGHTS",
    "WORKER_ROLES",
    "WorkerScore",
    "league",
    "leader_prefixes",
    "may_see_worker",
    "period_bounds",
    "scores",
    "weights",
    "workers_visible_to",
]

WORKER_ROLES = (Role.GRID_WORKER, Role.GRID_WORKER_PART_TIME)
KEYS = list(AppraisalIndicator.Key.values)
DEFAULT_WEIGHTS = {
    "valid_reports": Decimal("1"),
    "high_value": Decimal("10"),
    "visits_on_time": Decimal("0.5"),
    "self_closed": Decimal("2"),
    "satisfied": Decimal("0.5"),
    "overdue": Decimal("-3"),
}
_LEADER_LEVELS = {"village", "town", "county", "global"}
_GOOD = ("satisfied", "basically_satisfied")


@dataclass
class WorkerScore:
    user_id: int
    name: str
    grid_code: str
    grid_name: str
    counts: dict = field(default_factory=dict)
    points: dict = field(default_factory=dict)
    score: Decimal = Decimal("0")
    rank: int = 0

    @property
    def village_code(self) -> str:
        return self.grid_code[:12]

    @property
    def town_code(self) -> str:
        return self.grid_code[:9]


def weights() -> dict[str, Decimal]:
    """The active indicators' weights (the defaults until the county changes them)."""
    rows = {row.key: row for row in AppraisalIndicator.objects.all()}
    result = {}
    for key in KEYS:
        row = rows.get(key)
        if row is None:
            result[key] = DEFAULT_WEIGHTS[key]
        elif row.active:
            result[key] = row.weight
    return result


def period_bounds(year: int, month: int | None = None) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    if month is None:
        return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)
    end = date(year + (month == 12), month % 12 + 1, 1)
    return datetime(year, month, 1, tzinfo=tz), datetime(end.year, end.month, 1, tzinfo=tz)


def leader_prefixes(user) -> list[str] | None:
    """Codes under which ``user`` leads grid workers; None = everywhere."""
    scope = scope_for(user)
    if scope.superuser:
        return None
    prefixes = []
    for g in scope.grants:
        if "cases.view" in g.permissions and ROLE_LEVEL.get(g.role) in _LEADER_LEVELS:
            if g.prefix == "":
                return None
            prefixes.append(g.prefix)
    return prefixes


def _worker_rows():
    return RoleAssignment.objects.filter(
        role__in=WORKER_ROLES, active=True, grid__isnull=False, person__user__isnull=False
    )


def workers_visible_to(user, *, area: str = ""):
    """Role rows of the grid workers ``user`` may appraise (under ``area`` if given)."""
    rows = _worker_rows()
    prefixes = leader_prefixes(user)
    if prefixes is not None:
        if not prefixes:
            return rows.filter(person__user=user)
        condition = Q()
        for prefix in prefixes:
            condition |= Q(scope_code__startswith=prefix)
        rows = rows.filter(condition)
    if area:
        rows = rows.filter(scope_code__startswith=area)
    return rows


def may_see_worker(user, worker_user_id: int) -> bool:
    return workers_visible_to(user).filter(person__user_id=worker_user_id).exists() or (
        user.pk == worker_user_id and _worker_rows().filter(person__user=user).exists()
    )


def _count(queryset, group: str, **filters) -> dict:
    return dict(
        queryset.filter(**filters).values_list(group).annotate(n=Count("pk", distinct=True))
    )


def scores(role_rows, start: datetime, end: datetime) -> list[WorkerScore]:
    """Scores of the workers of ``role_rows`` over [start, end), best first, ranked."""
    members = list(
        role_rows.values_list("person__user_id", "person__name", "grid__code", "grid__name")
    )
    if not members:
        return []
    user_ids = role_rows.values("person__user_id")
    grid_codes = role_rows.values("grid__code")
    w = weights()
    counts: dict[str, dict] = {}
    reports = CaseReporter.objects.filter(user_id__in=user_ids, created__gte=start, created__lt=end)
    if "valid_reports" in w:
        counts["valid_reports"] = dict(
            reports.filter(case__accepted_at__isnull=False)
            .values_list("user_id")
            .annotate(n=Count("case_id", distinct=True))
        )
    if "satisfied" in w:
        counts["satisfied"] = dict(
            reports.filter(case__satisfaction__in=_GOOD)
            .values_list("user_id")
            .annotate(n=Count("case_id", distinct=True))
        )
    if "high_value" in w:
        counts["high_value"] = dict(
            RewardEntry.objects.filter(
                recipient_id__in=user_ids,
                kind=RewardEntry.Kind.AWARD,
                reversed_by__isnull=True,
                created__gte=start,
                created__lt=end,
            )
            .values_list("recipient_id")
            .annotate(n=Count("nomination_id", distinct=True))
        )
    if "self_closed" in w:
        counts["self_closed"] = _count(
            CaseAction.objects.filter(actor_id__in=user_ids),
            "actor_id",
            action="self_close",
            created__gte=start,
            created__lt=end,
        )
    if "visits_on_time" in w:
        counts["visits_on_time"] = {}
        if apps.is_installed("civicgrid.inspection"):
            Visit = apps.get_model("inspection", "Visit")
            counts["visits_on_time"] = dict(
                Visit.objects.filter(
                    worker_id__in=user_ids,
                    due_visit__isnull=False,
                    visited_at__gte=start,
                    visited_at__lt=end,
                )
                .annotate(day=TruncDate("visited_at"))
                .filter(day__lte=F("due_visit__due_date"))
                .values_list("worker_id")
                .annotate(n=Count("pk"))
            )
    by_grid = {}
    if "overdue" in w:
        now = timezone.now()
        late = Q(closed_at__isnull=False, closed_at__gt=F("resolve_deadline")) | Q(
            closed_at__isnull=True,
            resolve_deadline__lt=now,
            state__in=case_workflow.OPEN_STATES,
        )
        by_grid = dict(
            Case.objects.filter(
                level=Level.GRID,
                unit_code__in=grid_codes,
                created__gte=start,
                created__lt=end,
                resolve_deadline__isnull=False,
            )
            .filter(late)
            .values_list("unit_code")
            .annotate(n=Count("pk"))
        )
    seen, result = set(), []
    for user_id, name, grid_code, grid_name in sorted(members, key=lambda m: (m[2], m[0])):
        if user_id in seen:  # a worker with two grids is scored once, in the first
            continue
        seen.add(user_id)
        row = WorkerScore(user_id, name, grid_code, grid_name)
        for key, weight in w.items():
            n = by_grid.get(grid_code, 0) if key == "overdue" else counts[key].get(user_id, 0)
            row.counts[key] = n
            row.points[key] = weight * n
        row.score = sum(row.points.values(), Decimal("0"))
        result.append(row)
    result.sort(key=lambda r: (-r.score, r.grid_code, r.user_id))
    for index, row in enumerate(result, start=1):
        row.rank = index
    return result


def league(rows: list[WorkerScore], by: str) -> list[dict]:
    """Villages or townships ranked by their workers' mean score."""
    groups = defaultdict(list)
    for row in rows:
        groups[row.village_code if by == "village" else row.town_code].append(row.score)
    table = [
        {
            "code": code,
            "workers": len(values),
            "total": sum(values, Decimal("0")),
            "mean": (sum(values, Decimal("0")) / len(values)).quantize(Decimal("0.01")),
        }
        for code, values in groups.items()
    ]
    table.sort(key=lambda r: (-r["mean"], r["code"]))
    for index, row in enumerate(table, start=1):
        row["rank"] = index
    return table
