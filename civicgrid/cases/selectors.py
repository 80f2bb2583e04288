"""Reads of cases, always through the user's scope; derived deadlines and suggestions."""

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from civicgrid.cases import workflow
from civicgrid.cases.models import Assignment, Case, Category, Level
from civicgrid.core.calendar import default_calendar
from civicgrid.core.scoping import restrict
from civicgrid.people.models import Department

__all__ = [
    "DUE_SOON_HOURS",
    "access_case",
    "cases_visible_to",
    "deadline_status",
    "due_soon_cases",
    "duplicate_candidates",
    "overdue_cases",
    "return_counts_by_department",
    "suggested_departments",
    "tasks_for",
    "timeline",
]

DUE_SOON_HOURS = 4  # working hours before the deadline when a case counts as "about to be overdue"


def cases_visible_to(user) -> QuerySet[Case]:
    """Cases in the user's places, dispatched to the user's departments, or reported by them."""
    visible = restrict(
        Case.objects.all(),
        user,
        "cases.view",
        region_field="region_code",
        department_field="assignments__department",
    )
    if user is not None and user.is_authenticated:
        visible = visible | Case.objects.filter(reported_by=user)
    return visible


def access_case(user, code_or_id) -> Case:
    """The case by code or id if the user may see it; otherwise 404 (no existence leak)."""
    lookup = Q(code=str(code_or_id))
    if str(code_or_id).isascii() and str(code_or_id).isdigit():
        lookup |= Q(pk=int(code_or_id))
    case = Case.objects.select_related("category", "grid").filter(lookup).first()
    if case is None or not cases_visible_to(user).filter(pk=case.pk).exists():
        raise Http404
    return case


def overdue_cases(now: datetime | None = None) -> QuerySet[Case]:
    now = now or timezone.now()
    return Case.objects.filter(
        state__in=workflow.OPEN_STATES - {workflow.SUSPENDED, workflow.REPORTED},
        resolve_deadline__lt=now,
    )


def due_soon_cases(now: datetime | None = None) -> QuerySet[Case]:
    """Open cases whose deadline falls within the next DUE_SOON_HOURS working hours."""
    now = now or timezone.now()
    horizon = default_calendar().add_working_hours(now, DUE_SOON_HOURS)
    return Case.objects.filter(
        state__in=workflow.OPEN_STATES - {workflow.SUSPENDED, workflow.REPORTED},
        resolve_deadline__gte=now,
        resolve_deadline__lte=horizon,
    )


def deadline_status(case: Case, now: datetime | None = None) -> str:
    """ "overdue", "due_soon", "on_time" or "" (no running clock) — derived, never stored."""
    now = now or timezone.now()
    if case.resolve_deadline is None or case.state not in workflow.OPEN_STATES:
        return ""
    if case.state == workflow.SUSPENDED:
        return ""
    if now > case.resolve_deadline:
        return "overdue"
    if default_calendar().add_working_hours(now, DUE_SOON_HOURS) >= case.resolve_deadline:
        return "due_soon"
    return "on_time"


def duplicate_candidates(case: Case) -> list[Case]:
    """Open cases of the same category near this one in space and time (B5)."""
    if case.category_id is None or case.lat is None:
        return []
    radius = float(getattr(settings, "CASE_DUPLICATE_RADIUS_M", 150))
    days = int(getattr(settings, "CASE_DUPLICATE_DAYS", 14))
    dlat = radius / 110_570
    dlng = radius / (111_320 * math.cos(math.radians(case.lat)))
    nearby = (
        Case.objects.filter(
            category_id=case.category_id,
            state__in=workflow.OPEN_STATES,
            merged_into__isnull=True,
            lat__range=(case.lat - dlat, case.lat + dlat),
            lng__range=(case.lng - dlng, case.lng + dlng),
            created__gte=case.created - timedelta(days=days),
        )
        .exclude(pk=case.pk)
        .order_by("created")
    )
    return [
        other for other in nearby if _metres(case.lat, case.lng, other.lat, other.lng) <= radius
    ]


def _metres(lat1, lng1, lat2, lng2) -> float:
    x = (lng2 - lng1) * 111_320 * math.cos(math.radians((lat1 + lat2) / 2))
    y = (lat2 - lat1) * 110_570
    return math.hypot(x, y)


def suggested_departments(case: Case) -> list[Department]:
    """Departments for the category's routing at the case's level, lead first.

    A township command room gets its township's office of that kind (派出所, 市场监管所 …)
    if there is one, else the county department; the county centre gets county departments.
    """
    if case.category is None:
        return []
    town, county = case.region_code[:9], case.region_code[:6]
    found = []
    for kind in case.category.department_kinds:
        candidates = Department.objects.filter(kind=kind, active=True)
        department = None
        if case.level != Level.COUNTY:
            department = candidates.filter(region__code=town).first()
        department = department or candidates.filter(region__code=county).first()
        if department is not None and department not in found:
            found.append(department)
    return found


def timeline(case: Case):
    return (
        case.actions.select_related("actor")
        .prefetch_related("attachments")
        .order_by("created", "id")
    )


def leaf_categories() -> QuerySet[Category]:
    return Category.objects.filter(parent__isnull=False, active=True).select_related("parent")


def return_counts_by_department(cases: QuerySet[Case] | None = None) -> list[dict]:
    """How often each department asked to return a case, and how often it was let off.

    One aggregate query over the dispatches of ``cases`` (default: all).
    """
    rows = Assignment.objects.exclude(return_reason="")
    if cases is not None:
        rows = rows.filter(case__in=cases)
    return list(
        rows.values("department__code", "department__name")
        .annotate(
            requested=Count("id"),
            approved=Count("id", filter=Q(state=Assignment.State.RETURNED)),
            forced=Count("id", filter=Q(forced=True)),
        )
        .order_by("-requested", "department__code")
    )


# States in which the owning unit has the next move, and those in which the lead department has.
OWNER_TODO = frozenset(
    {workflow.REPORTED, workflow.ACCEPTED, workflow.RETURN_REQUESTED, workflow.FEEDBACK}
)
DEPARTMENT_TODO = frozenset({workflow.DISPATCHED, workflow.IN_PROGRESS})


def tasks_for(user) -> QuerySet[Case]:
    """My tasks (待办): the cases waiting for this person's next move.

    * cases owned by a unit the person acts for, in a state where the owner moves next
      (classify/accept, decide a return, verify feedback), or in progress at that unit itself;
    * cases whose active lead dispatch is to one of the person's departments, to sign for or
      to handle;
    * closed cases the person reported, waiting for their evaluation.
    """
    from civicgrid.core.roles import ROLE_LEVEL
    from civicgrid.core.scoping import departments_of, scope_for

    scope = scope_for(user)
    if user is None or not user.is_authenticated:
        return Case.objects.none()
    active_lead = Assignment.objects.filter(
        case=OuterRef("pk"), role=Assignment.Role.LEAD, active=True
    )
    owner_moves = Q(state__in=OWNER_TODO) | (Q(state=workflow.IN_PROGRESS) & ~Exists(active_lead))
    condition = Q(state=workflow.CLOSED, reported_by=user)
    levels = {value for value in Level.values}
    for grant in scope.grants:
        if "cases.handle" not in grant.permissions:
            continue
        if grant.prefix == "":
            condition |= owner_moves
        elif ROLE_LEVEL.get(grant.role) in levels:
            condition |= owner_moves & Q(unit_code=grant.prefix, level=ROLE_LEVEL[grant.role])
    if scope.superuser:
        condition |= owner_moves
    departments = departments_of(user, "cases.department")
    if departments:
        dispatched = Assignment.objects.filter(
            department_id__in=departments, role=Assignment.Role.LEAD, active=True
        ).values("case_id")
        condition |= Q(state__in=DEPARTMENT_TODO, pk__in=dispatched)
    return Case.objects.filter(condition)
