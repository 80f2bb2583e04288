"""Reads of cases, always through the user's scope; derived deadlines and suggestions."""

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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
    "QUEUES",
    "filter_cases",
    "inbox_for",
    "joint_operations_visible_to",
    "league_tables",
    "possible_actions",
    "queue",
    "return_counts_by_department",
    "suggested_departments",
    "time_left",
    "tasks_for",
    "timeline",
]

DUE_SOON_HOURS = 4  # working hours before the deadline when a case counts as "about to be overdue"


def cases_visible_to(user) -> QuerySet[Case]:
    """Cases in the user's places, dispatched to the user's departments, or reported by them.

    The same rows as ``restrict(…, region_field="region_code",
    department_field="assignments__department") | reported by the user``, written so that
    PostgreSQL can use its indexes: "dispatched to my department OR reported by me" is one
    ``id IN (… UNION …)`` — an OR of a subquery and a column makes it read the whole case
    table (the department inbox took ~10 s at 5 M cases); places stay plain conditions.
    """
    from civicgrid.core.scoping import scope_for

    scope = scope_for(user)
    if scope.superuser or any(
        g.prefix == "" and g.department_id is None and "cases.view" in g.permissions
        for g in scope.grants
    ):
        return Case.objects.all()
    if user is None or not user.is_authenticated:
        return Case.objects.none()
    # Places: the grants held for a place (a department's grants reach cases through the
    # department, never through its area).
    places = restrict(
        Case.objects.all(),
        user,
        "cases.view",
        region_field="region_code",
        department_grants=False,
    )
    mine = Case.objects.filter(reported_by=user)
    departments = sorted(
        {
            g.department_id
            for g in scope.grants
            if "cases.view" in g.permissions and g.department_id is not None
        }
    )
    if not departments:
        return places | mine
    reached = (
        Assignment.objects.filter(department_id__in=departments)
        .values("case_id")
        .order_by()
        .union(mine.values("pk").order_by())
    )
    return places | Case.objects.filter(pk__in=reached)


def access_case(user, code_or_id) -> Case:
    """The case by code or id if the user may see it; otherwise 404 (no existence leak)."""
    lookup = Q(code=str(code_or_id))
    if str(code_or_id).isascii() and str(code_or_id).isdigit():
        lookup |= Q(pk=int(code_or_id))
    case = Case.objects.select_related("category", "grid").filter(lookup).first()
    if case is None or not cases_visible_to(user).filter(pk=case.pk).exists():
        raise Http404
    return case


_LATE_STATES = workflow.OPEN_STATES - {workflow.SUSPENDED, workflow.REPORTED}


def overdue_cases(now: datetime | None = None) -> QuerySet[Case]:
    now = now or timezone.now()
    return Case.objects.filter(state__in=_LATE_STATES, resolve_deadline__lt=now)


def due_soon_cases(now: datetime | None = None) -> QuerySet[Case]:
    """Open cases whose deadline falls within the next DUE_SOON_HOURS working hours."""
    now = now or timezone.now()
    horizon = default_calendar().add_working_hours(now, DUE_SOON_HOURS)
    return Case.objects.filter(
        state__in=_LATE_STATES,
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


def time_left(case: Case, now: datetime | None = None) -> float | None:
    """Working hours until the resolution deadline (negative: overdue by), or None."""
    if case.resolve_deadline is None or case.state not in workflow.OPEN_STATES:
        return None
    if case.state == workflow.SUSPENDED:
        return None
    now = now or timezone.now()
    calendar = default_calendar()
    if now <= case.resolve_deadline:
        return calendar.working_hours_between(now, case.resolve_deadline)
    return -calendar.working_hours_between(case.resolve_deadline, now)


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


def _owner_condition(user, states) -> Q | None:
    """Cases owned by a unit ``user`` acts for (their grid, village, township or county)."""
    from civicgrid.core.roles import ROLE_LEVEL
    from civicgrid.core.scoping import scope_for

    scope = scope_for(user)
    if scope.superuser:
        return Q(state__in=states)
    condition = None
    for grant in scope.grants:
        if "cases.handle" not in grant.permissions:
            continue
        if grant.prefix == "":
            part = Q()
        elif ROLE_LEVEL.get(grant.role) in Level.values:
            part = Q(unit_code=grant.prefix, level=ROLE_LEVEL[grant.role])
        else:
            continue
        condition = part if condition is None else condition | part
    return None if condition is None else condition & Q(state__in=states)


def _department_cases(user, *, lead_only: bool) -> QuerySet[Assignment] | None:
    from civicgrid.core.scoping import departments_of

    departments = departments_of(user, "cases.department")
    if not departments:
        return None
    rows = Assignment.objects.filter(department_id__in=departments, active=True)
    if lead_only:
        rows = rows.filter(role=Assignment.Role.LEAD)
    return rows.values("case_id")


def tasks_for(user) -> QuerySet[Case]:
    """My tasks (待办): the cases waiting for this person's next move.

    * cases owned by a unit the person acts for, in a state where the owner moves next
      (classify/accept, decide a return, verify feedback), or in progress at that unit itself;
    * cases whose active lead dispatch is to one of the person's departments, to sign for or
      to handle;
    * closed cases the person reported, waiting for their evaluation.
    """
    if user is None or not user.is_authenticated:
        return Case.objects.none()
    active_lead = Assignment.objects.filter(
        case=OuterRef("pk"), role=Assignment.Role.LEAD, active=True
    )
    to_evaluate = Case.objects.filter(state=workflow.CLOSED, reported_by=user)
    dispatched = _department_cases(user, lead_only=True)
    if dispatched is None:
        condition = Q(state=workflow.CLOSED, reported_by=user)
    else:
        # "Dispatched to my department OR reported by me" as one id IN (… UNION …): an OR
        # of a subquery and a column makes PostgreSQL read the whole case table.
        condition = Q(
            pk__in=dispatched.filter(case__state__in=DEPARTMENT_TODO)
            .order_by()
            .union(to_evaluate.values("pk").order_by())
        )
    owner = _owner_condition(user, OWNER_TODO)
    if owner is not None:
        condition |= owner
    handling = _owner_condition(user, {workflow.IN_PROGRESS})
    if handling is not None:
        condition |= handling & ~Exists(active_lead)
    return Case.objects.filter(condition)


# The named lists of the workbenches: (label, who sees it). Every list is within the
# person's visible cases.
QUEUES = {
    "tasks": _("My tasks"),
    "intake": _("Intake queue"),
    "dispatch": _("To dispatch"),
    "returns": _("Returns to decide"),
    "verify": _("Feedback to verify"),
    "handling": _("Being handled"),
    "overdue": _("Overdue"),
    "due_soon": _("Due soon"),
    "escalated": _("Escalated"),
    "supervised": _("Supervised"),
    "hard": _("Hard cases"),
    "department": _("My department's cases"),
    "mine": _("My reports"),
    "all": _("All cases"),
}
_OWNER_QUEUES = {
    "intake": {workflow.REPORTED},
    "dispatch": {workflow.ACCEPTED},
    "returns": {workflow.RETURN_REQUESTED},
    "verify": {workflow.FEEDBACK},
}


def queue(user, name: str) -> QuerySet[Case]:
    """One of the workbench lists (``QUEUES``) for ``user``; unknown names are empty."""
    if user is None or not user.is_authenticated or name not in QUEUES:
        return Case.objects.none()
    if name == "tasks":
        return tasks_for(user)
    if name == "mine":
        return Case.objects.filter(reported_by=user)
    open_states = workflow.OPEN_STATES

    def visible(*conditions, **lookups) -> QuerySet[Case]:
        # The visibility condition on the rows themselves (it joins nothing: departments are
        # reached by a subquery), not "id IN (every visible case)": the database can start
        # from the few open (or overdue …) cases of the place, or count from an index.
        return cases_visible_to(user).filter(*conditions, **lookups)

    if name in _OWNER_QUEUES:
        owner = _owner_condition(user, _OWNER_QUEUES[name])
        return Case.objects.filter(owner) if owner is not None else Case.objects.none()
    if name == "department":
        rows = _department_cases(user, lead_only=False)
        if rows is None:
            return Case.objects.none()
        return Case.objects.filter(pk__in=rows, state__in=open_states)
    if name == "handling":
        return visible(state__in=DEPARTMENT_TODO)
    if name == "overdue":
        now = timezone.now()
        return visible(state__in=_LATE_STATES, resolve_deadline__lt=now)
    if name == "due_soon":  # ``due_soon_cases`` on the rows themselves, as "overdue"
        now = timezone.now()
        horizon = default_calendar().add_working_hours(now, DUE_SOON_HOURS)
        return visible(
            state__in=_LATE_STATES, resolve_deadline__gte=now, resolve_deadline__lte=horizon
        )
    if name == "escalated":
        return visible(escalation_count__gt=0, state__in=open_states)
    if name == "supervised":
        return visible(supervised__gt=0, state__in=open_states)
    if name == "hard":
        return visible(hard_case=True, state__in=open_states)
    return visible()


def filter_cases(
    cases: QuerySet[Case],
    *,
    state=(),
    category: str | None = None,
    region: str | None = None,
    channel: str | None = None,
    overdue: bool | None = None,
    supervised: bool | None = None,
    urgent: bool | None = None,
    created_after=None,
    created_before=None,
    q: str | None = None,
    ordering: str = "-created",
) -> QuerySet[Case]:
    """The filters every case list offers (web pages, exports and the API alike)."""
    if state:
        cases = cases.filter(state__in=list(state))
    if category:
        cases = cases.filter(Q(category__code=category) | Q(category__parent__code=category))
    if region:
        cases = cases.filter(region_code__startswith=region)
    if channel:
        cases = cases.filter(channel=channel)
    if overdue is not None:
        late = overdue_cases().values("pk")
        cases = cases.filter(pk__in=late) if overdue else cases.exclude(pk__in=late)
    if supervised is not None:
        cases = cases.filter(supervised__gt=0) if supervised else cases.filter(supervised=0)
    if urgent is not None:
        cases = cases.filter(urgent=urgent)
    if created_after:
        cases = cases.filter(created__gte=created_after)
    if created_before:
        cases = cases.filter(created__lt=created_before)
    if q and q.strip():
        cases = cases.filter(Q(code=q.strip()) | Q(description__contains=q.strip()))
    tie = "-id" if ordering.startswith("-") else "id"
    return cases.select_related("category", "grid").order_by(ordering, tie)


def possible_actions(user, case: Case) -> list[str]:
    """Exactly the actions ``user`` may take on ``case`` now (the table, then who may act).

    The actions still check everything again (and more: photos, levels, counts); this is
    what a page offers, so a person sees no button that can only be refused.
    """
    from civicgrid.cases.actions import acting_unit
    from civicgrid.core.scoping import can

    if user is None or not user.is_authenticated:
        return []
    found = []
    for action in workflow.allowed_actions(case.state):
        if action in workflow.SIDE_ACTIONS:
            allowed = _may_take_side_action(user, case, action, can, acting_unit)
        else:
            step = workflow.next_step(case.state, action)
            allowed = acting_unit(case, step.actor, user) is not None
            if action == "decide_extension":
                allowed = allowed and case.extensions.filter(state="pending").exists()
            if action == "request_extension":
                allowed = allowed and not case.extensions.filter(state="pending").exists()
            if action == "request_return":  # a forced dispatch must be handled
                allowed = (
                    allowed
                    and not case.assignments.filter(
                        role=Assignment.Role.LEAD, active=True, forced=True
                    ).exists()
                )
        if allowed:
            found.append(action)
    return found


def _may_take_side_action(user, case, action, can, acting_unit) -> bool:
    region = case.region_code
    if action == "supervise":
        return can(user, "cases.supervise", region_code=region)
    if action in {"instruct", "hard_case"}:
        return can(user, "cases.instruct", region_code=region) and not (
            action == "hard_case" and case.hard_case
        )
    if action == "answer_supervision":
        return (
            case.supervisions.filter(answered_at__isnull=True).exists()
            and acting_unit(case, "handler", user) is not None
        )
    if action == "joint_meeting":
        return case.hard_case and (
            user.pk == case.hard_case_leader_id or can(user, "cases.instruct", region_code=region)
        )
    return False  # joint operations are planned from the command room, not on one case


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def league_tables(user, since: datetime, until: datetime) -> dict[str, list[dict]]:
    """Township and department league tables for cases reported in [since, until).

    The formulas are those of ``civicgrid.analytics.kpis`` (docs/kpis.md): 办结率 and 按期办结率
    over the cases due to be closed (reported, less rejected, merged and suspended), 返工率 =
    failed ÷ all verifications, 满意率 = (satisfied + basically satisfied) ÷ evaluated,
    签收及时率 = lead dispatches signed by the sign-for deadline ÷ lead dispatches. A
    department's closure figures count the cases it is the active lead of. Rates are
    percentages to one decimal, None where the denominator is zero.
    """
    from civicgrid.analytics import kpis

    def table(group, counters):
        figures = kpis.counters_by(group, since, until, counters=counters, user=user)
        return figures, kpis.group_names(group, figures)

    town_figures, names = table(
        "town",
        {"intake", "closed", "due", "on_time", "overdue_open", "verified", "verify_failed"}
        | {"evaluated", "satisfied"},
    )
    towns = []
    for code, row in town_figures.items():
        if not row.get("intake"):
            continue
        towns.append(
            {
                "code": code,
                "name": names.get(code, code),
                "cases": row["intake"],
                "closed": row["closed"],
                "closed_rate": _rate(kpis.value_from("closed_rate", row).value),
                "on_time_rate": _rate(kpis.value_from("on_time_rate", row).value),
                "overdue_open": row["overdue_open"],
                "rework_rate": _rate(kpis.value_from("rework_rate", row).value),
                "satisfaction_rate": _rate(kpis.value_from("satisfaction_rate", row).value),
            }
        )
    towns.sort(key=lambda r: (-(r["on_time_rate"] or -1), r["code"]))

    department_figures, names = table(
        "department",
        {"dispatched", "signed_on_time", "returns", "returned", "on_time", "due", "overdue_open"},
    )
    departments = [
        {
            "code": code,
            "name": names.get(code, code),
            "dispatched": row.get("dispatched", 0),
            "sign_rate": _rate(kpis.value_from("sign_on_time_rate", row).value),
            "returns": row.get("returns", 0),
            "returned": row.get("returned", 0),
            "on_time_rate": _rate(kpis.value_from("on_time_rate", row).value),
            "overdue_open": row.get("overdue_open", 0),
        }
        for code, row in department_figures.items()
    ]
    departments.sort(key=lambda r: (-(r["on_time_rate"] or -1), r["code"]))
    return {"towns": towns, "departments": departments}


def joint_operations_visible_to(user) -> QuerySet:
    """联合执法 operations in the user's townships (or with their departments)."""
    from civicgrid.cases.models import JointOperation
    from civicgrid.core.scoping import restrict

    return restrict(
        JointOperation.objects.all(),
        user,
        "cases.view",
        region_field="town_code",
        department_field="departments",
        include_ancestors=False,
    ).prefetch_related("departments", "cases")


def inbox_for(user) -> QuerySet:
    """In-app notifications for ``user``: their own, their departments' and their units'.

    Units are the places where the user holds ``cases.handle`` (a grid, a village, a township
    command room, the county centre) — the unit codes notifications are addressed to.
    """
    from django.db.models import Q

    from civicgrid.cases.models import Notification
    from civicgrid.core.scoping import departments_of, scope_for

    if user is None or not user.is_authenticated:
        return Notification.objects.none()
    units = {g.prefix for g in scope_for(user).grants if "cases.handle" in g.permissions}
    condition = Q(recipient=user)
    departments = departments_of(user, "cases.department")
    if departments:
        condition |= Q(department_id__in=departments)
    if units:
        condition |= Q(unit_code__in=units)
    return (
        Notification.objects.filter(channel=Notification.Channel.INBOX)
        .filter(condition)
        .select_related("case")
        .order_by("-created", "-id")
    )
