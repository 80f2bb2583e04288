"""Every read of postings and summons a person sees, scoped by region code (or department)."""

import math
import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicgrid.core.scoping import can, restrict
from civicgrid.oncall import workflow
from civicgrid.oncall.models import StaffPosting, Summons
from civicgrid.regions.models import Grid, Region

__all__ = [
    "GROUPINGS",
    "STAT_COLUMNS",
    "OfferedStaff",
    "active_postings",
    "may_manage_postings",
    "offered_staff",
    "percentile",
    "period_bounds",
    "postings_visible_to",
    "summons_statistics",
    "summonses_for",
    "summonses_of_case",
    "summonses_visible_to",
]


def postings_visible_to(user) -> QuerySet:
    """Area staff see the postings in their area; a department's staff see their department's."""
    return restrict(
        StaffPosting.objects.select_related("person", "department", "grid"),
        user,
        "cases.view",
        region_field="region_code",
        department_field="department_id",
    )


def active_postings(day: date | None = None) -> QuerySet:
    day = day or timezone.localdate()
    return StaffPosting.objects.filter(starts_on__lte=day).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=day)
    )


def may_manage_postings(user, grid_code: str = "") -> bool:
    if grid_code:
        return can(user, "people.assign_role", region_code=grid_code)
    return bool(restrict(Grid.objects.all(), user, "people.assign_role", region_field="code")[:1])


def summonses_visible_to(user) -> QuerySet:
    return restrict(
        Summons.objects.select_related("case", "department", "grid"),
        user,
        "cases.view",
        region_field="region_code",
        department_field="department_id",
    )


def summonses_for(user) -> QuerySet:
    """The summonses sent to ``user`` (their own "my summons" list)."""
    if user is None or not user.is_authenticated:
        return Summons.objects.none()
    return Summons.objects.filter(staff=user).select_related("case", "department", "grid")


def summonses_of_case(case) -> QuerySet:
    """A case's summonses (the case page checked who may see the case)."""
    return (
        Summons.objects.filter(case=case)
        .select_related("department")
        .prefetch_related("photos")
        .order_by("sent_at", "id")
    )


@dataclass(frozen=True)
class OfferedStaff:
    posting: StaffPosting
    load: int  # summonses open now (sent, accepted, on site), any case
    declined: bool  # declined this case already


def offered_staff(case) -> list[tuple[object, list[OfferedStaff]]]:
    """Who the room may summon for ``case``: staff posted in its grid now, by department,
    on-call first, then the least loaded. [(department, [OfferedStaff …]) …]."""
    if case.grid_id is None:
        return []
    postings = list(
        active_postings()
        .filter(grid_id=case.grid_id, person__user__is_active=True)
        .select_related("person", "department")
    )
    users = {p.person.user_id for p in postings}
    loads = dict(
        Summons.objects.filter(staff_id__in=users, state__in=workflow.OPEN_STATES)
        .values_list("staff_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    declined = set(
        Summons.objects.filter(case=case, state=workflow.DECLINED).values_list(
            "staff_id", flat=True
        )
    )
    by_department: dict[int, list[OfferedStaff]] = {}
    departments = {}
    for p in postings:
        departments[p.department_id] = p.department
        by_department.setdefault(p.department_id, []).append(
            OfferedStaff(p, loads.get(p.person.user_id, 0), p.person.user_id in declined)
        )
    kind_order = {StaffPosting.Kind.ON_CALL: 0, StaffPosting.Kind.RESIDENT: 1}
    result = []
    for department_id, rows in by_department.items():
        rows.sort(key=lambda o: (o.declined, kind_order[o.posting.kind], o.load, o.posting.pk))
        result.append((departments[department_id], rows))
    result.sort(key=lambda item: item[0].code)
    return result


# --------------------------------------------------------------------------- statistics


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``fraction`` of the values at
    or below it (p90 of 10 values is the 9th smallest)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


GROUPINGS = {
    "department": _("Department"),
    "grid": _("Grid"),
    "town": _("Township"),
}

STAT_COLUMNS = [
    ("name", _("Name")),
    ("sent", pgettext_lazy("summons", "Sent")),
    ("accepted", pgettext_lazy("summons", "Accepted")),
    ("declined", pgettext_lazy("summons", "Declined")),
    ("cancelled", pgettext_lazy("summons", "Cancelled")),
    ("arrived", pgettext_lazy("summons", "Arrived")),
    ("done", pgettext_lazy("summons", "Done")),
    ("acceptance_rate", _("Acceptance rate %")),
    ("accept_median", _("Minutes to accept (median)")),
    ("accept_p90", _("Minutes to accept (p90)")),
    ("arrive_median", _("Minutes to arrive (median)")),
    ("arrive_p90", _("Minutes to arrive (p90)")),
]


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def _round(value):
    return None if value is None else round(value, 1)


def summons_statistics(user, *, start: date, end: date, by: str = "department") -> list[dict]:
    """Summonses sent from ``start`` to ``end`` (inclusive) that ``user`` may see, per
    department, grid or township: counts by outcome, the acceptance rate (accepted among
    those answered: accepted + declined), and the median and p90 of minutes from sending to
    accepting and to arriving (nearest rank). A total row comes last."""
    if by not in GROUPINGS:
        raise ValueError(by)
    low, high = period_bounds(start, end)
    rows = summonses_visible_to(user).filter(sent_at__gte=low, sent_at__lt=high)
    key_field = {"department": "department_id", "grid": "grid_id", "town": "region_code"}[by]
    groups: dict = {}
    total = _empty()
    for r in rows.values(
        key_field, "sent_at", "accepted_at", "declined_at", "arrived_at", "done_at", "state"
    ).order_by():
        key = r[key_field][:9] if by == "town" else r[key_field]
        for bucket in (groups.setdefault(key, _empty()), total):
            _add(bucket, r)
    names = _names(by, groups)
    result = [
        {"key": key, "name": names.get(key, str(key)), **_finish(bucket)}
        for key, bucket in groups.items()
    ]
    result.sort(key=lambda row: (-row["sent"], str(row["name"])))
    if result:
        result.append({"key": "", "name": _("Total"), **_finish(total)})
    return result


def _empty() -> dict:
    return {"sent": 0, "declined": 0, "cancelled": 0, "accept": [], "arrive": [], "done": 0}


def _add(bucket: dict, r: dict) -> None:
    bucket["sent"] += 1
    if r["accepted_at"] is not None:
        bucket["accept"].append((r["accepted_at"] - r["sent_at"]).total_seconds() / 60)
    if r["declined_at"] is not None:
        bucket["declined"] += 1
    if r["state"] == workflow.CANCELLED:
        bucket["cancelled"] += 1
    if r["arrived_at"] is not None:
        bucket["arrive"].append((r["arrived_at"] - r["sent_at"]).total_seconds() / 60)
    if r["done_at"] is not None:
        bucket["done"] += 1


def _finish(bucket: dict) -> dict:
    accepted = len(bucket["accept"])
    answered = accepted + bucket["declined"]
    return {
        "sent": bucket["sent"],
        "accepted": accepted,
        "declined": bucket["declined"],
        "cancelled": bucket["cancelled"],
        "arrived": len(bucket["arrive"]),
        "done": bucket["done"],
        "acceptance_rate": round(100 * accepted / answered, 1) if answered else None,
        "accept_median": _round(statistics.median(bucket["accept"]) if accepted else None),
        "accept_p90": _round(percentile(bucket["accept"], 0.9)),
        "arrive_median": _round(statistics.median(bucket["arrive"]) if bucket["arrive"] else None),
        "arrive_p90": _round(percentile(bucket["arrive"], 0.9)),
    }


def _names(by: str, groups: dict) -> dict:
    from civicgrid.people.models import Department

    if by == "department":
        return {d.pk: d.name for d in Department.objects.filter(pk__in=list(groups)).only("name")}
    if by == "grid":
        return dict(Grid.objects.filter(pk__in=list(groups)).values_list("pk", "name"))
    return dict(Region.objects.filter(code__in=list(groups)).values_list("code", "name"))
