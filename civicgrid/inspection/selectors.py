"""Every read of the inspection app, scoped by ``core.scoping`` (people.view over the place)."""

from __future__ import annotations

import math
from datetime import date

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Substr
from django.utils import timezone

from civicgrid.core.scoping import restrict
from civicgrid.inspection.models import DueVisit, Patrol, PatrolHouse, Visit
from civicgrid.people.models import House, Person

__all__ = [
    "COMPLIANCE_GROUPS",
    "COVERAGE_GROUPS",
    "compliance",
    "coverage",
    "due_list",
    "due_visits_visible_to",
    "never_visited",
    "overdue_visits",
    "patrols_visible_to",
    "visits_visible_to",
]

# How compliance rows are grouped: a grid / village / township is a prefix of the grid code.
COMPLIANCE_GROUPS = {
    "grid": F("region_code"),
    "village": Substr("region_code", 1, 12),
    "township": Substr("region_code", 1, 9),
    "worker": F("assignee__username"),
    "key_group": F("rule__key_group__code"),
}


def due_visits_visible_to(user) -> QuerySet[DueVisit]:
    return restrict(DueVisit.objects.all(), user, "people.view", region_field="region_code")


def visits_visible_to(user) -> QuerySet[Visit]:
    return restrict(Visit.objects.all(), user, "people.view", region_field="region_code")


def _metres(lat1, lng1, lat2, lng2) -> float:
    x = (lng2 - lng1) * 111_320 * math.cos(math.radians((lat1 + lat2) / 2))
    y = (lat2 - lat1) * 110_570
    return math.hypot(x, y)


def _place_of(due: DueVisit) -> tuple[float, float] | None:
    """(lat, lng) of the person's house, else the middle of their grid's bounding box."""
    house = due.person.house
    if house is not None and house.lat is not None and house.lng is not None:
        return house.lat, house.lng
    bbox = due.grid.bbox if due.grid is not None else None
    if bbox and len(bbox) == 4:
        min_lng, min_lat, max_lng, max_lat = bbox
        return (min_lat + max_lat) / 2, (min_lng + max_lng) / 2
    return None


def due_list(
    user,
    *,
    lat: float,
    lng: float,
    until: date | None = None,
    due_by: date | None = None,
    limit: int | None = None,
) -> list[DueVisit]:
    """The open due visits the user may make by ``until`` (default: today), nearest first.

    ``due_by`` keeps only those due on or before that day (a worker's "today" or "this week").
    Each row carries ``metres`` from (lat, lng), or None when the person has no known place
    (those come last, earliest due first).
    """
    until = until or timezone.localdate()
    rows = due_visits_visible_to(user).filter(state=DueVisit.State.DUE, period_start__lte=until)
    if due_by is not None:
        rows = rows.filter(due_date__lte=due_by)
    rows = list(rows.select_related("person__house", "grid", "rule__key_group"))
    for due in rows:
        place = _place_of(due)
        due.metres = None if place is None else _metres(lat, lng, *place)
    rows.sort(
        key=lambda d: (d.metres is None, d.metres or 0.0, d.due_date, d.pk),
    )
    return rows[:limit] if limit else rows


def compliance(user, *, start: date, end: date, by: str, today: date | None = None) -> list[dict]:
    """Due vs done for the due visits falling due in [start, end], one row per group.

    A row: ``key`` (grid / village / township code, worker username or key-group code),
    ``due`` (visits owed), ``done``, ``missed`` (period over, not done), ``overdue`` (past the
    due date on ``today`` and still open) and ``rate`` (done / due, 0–1).
    """
    if by not in COMPLIANCE_GROUPS:
        raise ValueError(f"unknown grouping {by!r}")
    today = today or timezone.localdate()
    rows = (
        due_visits_visible_to(user)
        .filter(due_date__gte=start, due_date__lte=end)
        .annotate(key=COMPLIANCE_GROUPS[by])
        .values("key")
        .annotate(
            due=Count("id"),
            done=Count("id", filter=Q(state=DueVisit.State.DONE)),
            missed=Count("id", filter=Q(state=DueVisit.State.MISSED)),
            overdue=Count("id", filter=Q(state=DueVisit.State.DUE, due_date__lt=today)),
        )
        .order_by("key")
    )
    return [{**row, "rate": row["done"] / row["due"] if row["due"] else 0.0} for row in rows]


def overdue_visits(user, *, today: date | None = None) -> QuerySet[DueVisit]:
    """Open due visits past their due date, oldest first."""
    today = today or timezone.localdate()
    return (
        due_visits_visible_to(user)
        .filter(state=DueVisit.State.DUE, due_date__lt=today)
        .select_related("person", "rule__key_group", "assignee")
        .order_by("due_date", "id")
    )


def never_visited(user) -> QuerySet[Person]:
    """Residents owed visits (under an active rule) whom nobody has yet seen on a visit."""
    owed = restrict(
        Person.objects.filter(
            is_resident=True, key_group_tags__key_group__inspection_rule__active=True
        ),
        user,
        "people.view",
        region_field="region_code",
    )
    seen = Visit.objects.filter(outcome=Visit.Outcome.SEEN).values("person_id")
    return (
        Person.objects.filter(pk__in=owed.values("pk"))
        .exclude(pk__in=seen)
        .order_by("region_code", "id")
    )


def patrols_visible_to(user) -> QuerySet[Patrol]:
    return restrict(Patrol.objects.all(), user, "people.view", region_field="region_code")


# A house's region code is its grid's code: a village / township is a prefix of it.
COVERAGE_GROUPS = {
    "grid": F("region_code"),
    "village": Substr("region_code", 1, 12),
    "township": Substr("region_code", 1, 9),
}


def coverage(user, *, start: date, end: date, by: str) -> list[dict]:
    """Houses covered by comprehensive walks started in [start, end], one row per group.

    A row: ``key`` (grid / village / township code), ``houses`` (the houses there the user
    may see), ``covered`` (of those, walked past at least once in the period) and ``rate``
    (covered / houses, 0–1). One aggregate query.
    """
    if by not in COVERAGE_GROUPS:
        raise ValueError(f"unknown grouping {by!r}")
    walked = PatrolHouse.objects.filter(house=OuterRef("pk"), day__gte=start, day__lte=end)
    rows = (
        restrict(House.objects.all(), user, "people.view", region_field="region_code")
        .annotate(key=COVERAGE_GROUPS[by], walked=Exists(walked))
        .values("key")
        .annotate(houses=Count("id"), covered=Count("id", filter=Q(walked=True)))
        .order_by("key")
    )
    return [
        {**row, "rate": row["covered"] / row["houses"] if row["houses"] else 0.0} for row in rows
    ]
