"""Reads of the core app: the audit trail as an auditor sees it."""

from __future__ import annotations

from datetime import date, datetime, time

from django.db.models import Q, QuerySet
from django.utils import timezone

from civicgrid.core.models import AuditCheck, AuditEvent
from civicgrid.core.scoping import restrict

# The apps that write events, in the order the filter offers them.
AUDIT_AREAS = (
    "cases",
    "people",
    "regions",
    "inspection",
    "campaigns",
    "cogovernance",
    "oncall",
    "mediation",
    "incentives",
    "webhooks",
    "api",
    "open311",
    "core",
    "demo",
)

__all__ = [
    "AUDIT_AREAS",
    "audit_areas",
    "audit_events_visible_to",
    "filter_audit_events",
    "latest_audit_check",
]


def audit_events_visible_to(user) -> QuerySet[AuditEvent]:
    """Events in the places where ``user`` reads the audit trail (``audit.view``).

    Events with no place (system-wide changes) are seen only by those whose scope is
    everywhere.
    """
    return restrict(AuditEvent.objects.all(), user, "audit.view", region_field="scope_code")


def audit_areas() -> list[str]:
    """The first part of event names (``cases``, ``people`` …): the filter's choices."""
    return list(AUDIT_AREAS)


def _moment(day: date, end: bool) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.max if end else time.min))


def filter_audit_events(
    events: QuerySet[AuditEvent],
    *,
    q: str = "",
    area: str = "",
    actor: str = "",
    region: str = "",
    start: date | None = None,
    end: date | None = None,
) -> QuerySet[AuditEvent]:
    """Narrow a visible set of events by words, area, actor, place and period."""
    if q:
        events = events.filter(
            Q(action__icontains=q) | Q(target_repr__icontains=q) | Q(target_id=q)
        )
    if area:
        events = events.filter(action__startswith=f"{area}.")
    if actor:
        events = events.filter(actor_name=actor)
    if region:
        events = events.filter(scope_code__startswith=region)
    if start:
        events = events.filter(created__gte=_moment(start, end=False))
    if end:
        events = events.filter(created__lte=_moment(end, end=True))
    return events.order_by("-id")


def latest_audit_check() -> AuditCheck | None:
    return AuditCheck.objects.order_by("-started", "-id").first()
