"""Reads for the public Open311 endpoint.

Open311 reads need no login: everything here is what the county publishes about a case —
never a reporter's name, phone or account, never who on the staff acted. Staff-internal
steps (leader instructions, supervision, returns, extension requests …) appear in a timeline
by name only, without their text.
"""

import time
from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils.translation import get_language

from civicgrid.cases import workflow
from civicgrid.cases.models import Assignment, Attachment, Case, CaseAction, Category, Level
from civicgrid.cases.selectors import leaf_categories
from civicgrid.core.models import AuditEvent
from civicgrid.people.pii import mask_numbers_in_text
from civicgrid.regions.models import Grid, Region

__all__ = [
    "PUBLIC_TEXT_ACTIONS",
    "agencies",
    "attachments_by_case",
    "catalogue_changeset",
    "find_service",
    "is_english",
    "notes_by_case",
    "public_cases",
    "public_updates",
    "services",
]

# Actions whose text the reporter and the public may read: what was decided about the
# report and what was done. Every other step is shown by its name only.
PUBLIC_TEXT_ACTIONS = frozenset(
    {
        "report",
        "accept",
        "reject",
        "handle",
        "self_close",
        "file",
        "suspend",
        "feedback",
        "verify_pass",
        "review_archive",
        "review_reopen",
    }
)
# Cases from the 12348 legal hotline concern private disputes; they are not published.
UNPUBLISHED_CHANNELS = frozenset({Case.Channel.HOTLINE_12348})


def is_english() -> bool:
    return (get_language() or "").lower().startswith("en")


def category_name(category: Category | None) -> str | None:
    if category is None:
        return None
    if is_english() and category.name_en:
        return category.name_en
    return category.name


def services() -> list[Category]:
    """The service list: the active second-level categories, by code."""
    return list(leaf_categories().filter(parent__active=True).order_by("code"))


def find_service(code: str) -> Category | None:
    return leaf_categories().filter(parent__active=True, code=code).first()


SERVICE_CACHE_SECONDS = 60
_service_cache: dict[str, tuple[float, Category | None]] = {}


def find_service_cached(code: str) -> Category | None:
    """``find_service``, remembered for a minute in this process: for the queued intake,
    whose runner looks the category up again when it makes the case (and refuses the request
    then if the service was withdrawn meanwhile)."""
    now = time.monotonic()
    hit = _service_cache.get(code)
    if hit is not None and hit[0] > now:
        return hit[1]
    category = find_service(code)
    if len(_service_cache) > 1000:  # unknown codes sent by a client must not grow it forever
        _service_cache.clear()
    _service_cache[code] = (now + SERVICE_CACHE_SECONDS, category)
    return category


def catalogue_changeset(default: datetime) -> datetime:
    """When the taxonomy last changed (its edits and imports are audited)."""
    latest = (
        AuditEvent.objects.filter(action__in=["cases.category.update", "cases.category.import"])
        .order_by("-id")
        .values_list("created", flat=True)
        .first()
    )
    return max(latest, default) if latest else default


def public_cases() -> QuerySet[Case]:
    """Every published case, with its last timeline step for ``status_notes``."""
    last = CaseAction.objects.filter(case=OuterRef("pk")).order_by("-created", "-id")
    return (
        Case.objects.exclude(channel__in=UNPUBLISHED_CHANNELS)
        .select_related("category", "grid", "open311")
        .annotate(
            last_action=Subquery(last.values("action")[:1]),
            last_text=Subquery(last.values("text")[:1]),
        )
    )


def public_updates() -> QuerySet[CaseAction]:
    """Timeline steps after the report, of published cases."""
    return (
        CaseAction.objects.exclude(action="report")
        .exclude(case__channel__in=UNPUBLISHED_CHANNELS)
        .select_related("case")
    )


def agencies(cases: list[Case]) -> dict[int, str]:
    """Who is responsible for each case: the lead department once dispatched, else the unit
    that owns it (grid, village, township or county). Three queries for any number of cases."""
    leads = dict(
        Assignment.objects.filter(
            case__in=[c.pk for c in cases], role=Assignment.Role.LEAD, active=True
        ).values_list("case_id", "department__name")
    )
    grid_codes = {c.unit_code for c in cases if c.level == Level.GRID}
    region_codes = {c.unit_code for c in cases if c.level != Level.GRID}
    names = dict(Grid.objects.filter(code__in=grid_codes).values_list("code", "name"))
    names.update(Region.objects.filter(code__in=region_codes).values_list("code", "name"))
    return {c.pk: leads.get(c.pk) or names.get(c.unit_code) or c.unit_code for c in cases}


def attachments_by_case(cases: list[Case]) -> dict[int, list[Attachment]]:
    found: dict[int, list[Attachment]] = {c.pk: [] for c in cases}
    for attachment in Attachment.objects.filter(case__in=list(found)).order_by("created", "id"):
        found[attachment.case_id].append(attachment)
    return found


def notes_by_case(cases: list[Case]) -> dict[int, list[CaseAction]]:
    found: dict[int, list[CaseAction]] = {c.pk: [] for c in cases}
    rows = CaseAction.objects.filter(case__in=list(found)).order_by("created", "id")
    for row in rows.only("case_id", "action", "to_state", "text", "created"):
        found[row.case_id].append(row)
    return found


def public_text(action: str, text: str) -> str:
    return mask_numbers_in_text(text) if action in PUBLIC_TEXT_ACTIONS else ""


def status_of(state: str) -> str:
    return "open" if state in workflow.OPEN_STATES else "closed"
