"""The canonical GeoReport v2 documents (see ``serializers`` for how they become XML/JSON)."""

from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from civicgrid.cases import workflow
from civicgrid.cases.actions import DEFAULT_RESOLVE_LIMIT, parse_limit
from civicgrid.cases.models import Attachment, Case, CaseAction, Category
from civicgrid.open311 import selectors
from civicgrid.open311.serializers import Document, Many
from civicgrid.people.pii import mask_numbers_in_text

__all__ = [
    "SPECIFICATION",
    "discovery_document",
    "errors_document",
    "posted_document",
    "queued_document",
    "token_document",
    "requests_document",
    "service_definition_document",
    "services_document",
    "updates_document",
]

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ["text/xml", "application/json"]


def errors_document(errors: list[tuple[int, str]]) -> Document:
    return Document(
        "errors",
        Many("error", [{"code": code, "description": text} for code, text in errors]),
    )


def discovery_document(
    *, changeset: datetime, contact: str, key_service: str, url: str, kind: str
) -> Document:
    endpoint = {
        "specification": SPECIFICATION,
        "url": url,
        "changeset": changeset,
        "type": kind,
        "formats": Many("format", FORMATS),
    }
    return Document(
        "discovery",
        {
            "changeset": changeset,
            "contact": contact,
            "key_service": key_service,
            "endpoints": Many("endpoint", [endpoint]),
        },
    )


def _keywords(category: Category) -> str:
    words = [category.name, category.name_en]
    if category.parent is not None:
        words += [category.parent.name, category.parent.name_en]
    seen = []
    for word in words:
        word = (word or "").replace(",", " ").strip()
        if word and word not in seen:
            seen.append(word)
    return ",".join(seen)


def services_document(categories: list[Category]) -> Document:
    # Queued intake answers a POST with a token: the spec's "batch" type.
    kind = "batch" if getattr(settings, "OPEN311_QUEUED_INTAKE", False) else "realtime"
    return Document(
        "services",
        Many(
            "service",
            [
                {
                    "service_code": category.code,
                    "service_name": selectors.category_name(category),
                    "description": category.acceptance_criteria or "",
                    "metadata": False,
                    "type": kind,
                    "keywords": _keywords(category),
                    "group": selectors.category_name(category.parent) or "",
                }
                for category in categories
            ],
        ),
    )


def service_definition_document(category: Category) -> Document:
    # No service has attributes yet; the list is present and empty, as the spec's shape has it.
    return Document(
        "service_definition",
        {"service_code": category.code, "attributes": Many("attribute", [])},
    )


def _humane_limit(limit: str) -> str:
    amount, unit = parse_limit(limit)
    count = int(amount) if amount == int(amount) else amount
    if unit == "h":
        return ngettext("%(count)s working hour", "%(count)s working hours", count) % {
            "count": count
        }
    return ngettext("%(count)s working day", "%(count)s working days", count) % {"count": count}


def service_notice(case: Case) -> str | None:
    """The promise for an open case: how long handling may take once it is accepted."""
    if case.state not in workflow.OPEN_STATES:
        return None
    limit = case.category.resolve_limit(case.level) if case.category else ""
    try:
        duration = _humane_limit(limit or DEFAULT_RESOLVE_LIMIT[case.level])
    except (KeyError, ValueError):
        return None
    return _("To be resolved within %(duration)s after the case is accepted.") % {
        "duration": duration
    }


def _step_description(action: str, text: str) -> str:
    label = str(workflow.ACTION_LABELS.get(action, action))
    text = selectors.public_text(action, text)
    return f"{label}: {text}" if text else label


def _status_notes(case: Case) -> str:
    text = selectors.public_text(case.last_action or "", case.last_text or "")
    return text or str(workflow.STATE_LABELS.get(case.state, case.state))


def photo_url(attachment: Attachment, absolute: Callable[[str], str]) -> str:
    """The public address of a reporter's photo (served by ``views.photo``, not /media/)."""
    return absolute(reverse("open311:photo", args=[attachment.pk]))


def _photo(attachment: Attachment, absolute: Callable[[str], str]) -> dict:
    return {
        "media_url": photo_url(attachment, absolute),
        "kind": attachment.kind,
        "width": attachment.width,
        "height": attachment.height,
        "created_at": attachment.created,
    }


def _note(row: CaseAction) -> dict:
    return {
        "datetime": row.created,
        "type": row.action,
        "description": _step_description(row.action, row.text),
        "status": selectors.status_of(row.to_state),
    }


def requests_document(
    cases: list[Case], *, extensions: bool, absolute: Callable[[str], str]
) -> Document:
    """The request list (also the list of one). ``absolute`` makes a path an absolute URL."""
    agencies = selectors.agencies(cases)
    attachments = selectors.attachments_by_case(cases)
    notes = selectors.notes_by_case(cases) if extensions else {}
    items = []
    for case in cases:
        link = getattr(case, "open311", None)
        photos = attachments[case.pk]
        first_photo = next((a for a in photos if a.kind == Attachment.Kind.PHOTO), None)
        media_url = photo_url(first_photo, absolute) if first_photo else None
        item = {
            "service_request_id": case.code,
            "status": selectors.status_of(case.state),
            "status_notes": _status_notes(case),
            "service_name": selectors.category_name(case.category),
            "service_code": case.category.code if case.category else None,
            "description": mask_numbers_in_text(case.description),
            "agency_responsible": agencies[case.pk],
            "service_notice": service_notice(case),
            "requested_datetime": case.created,
            "updated_datetime": case.updated,
            "expected_datetime": case.resolve_deadline,
            "address": case.address or None,
            "address_id": (link.address_id or None) if link else None,
            "zipcode": None,
            "lat": case.lat,
            "long": case.lng,
            "media_url": media_url or ((link.media_url or None) if link else None),
        }
        if extensions:
            item["extended_attributes"] = {
                "grid": case.grid.code if case.grid_id else None,
                "grid_name": case.grid.name if case.grid_id else None,
                "channel": case.channel,
                "state": case.state,
                "state_label": str(workflow.STATE_LABELS.get(case.state, case.state)),
                "photos": Many(
                    "photo",
                    [_photo(a, absolute) for a in photos if a.kind == Attachment.Kind.PHOTO],
                ),
            }
            item["notes"] = Many("note", [_note(row) for row in notes[case.pk]])
        items.append(item)
    return Document("service_requests", Many("request", items))


def queued_document(row, *, account_id: str) -> Document:
    """The answer to a queued POST: a token, never with a service_request_id (the spec)."""
    return Document(
        "service_requests",
        Many(
            "request",
            [
                {
                    "token": row.token,
                    "service_notice": _(
                        "Received; the request id is given at tokens/%(token)s shortly."
                    )
                    % {"token": row.token},
                    "account_id": account_id or None,
                }
            ],
        ),
    )


def token_document(row) -> Document:
    """GET tokens/<token>: the request id once the case is made (none yet while queued)."""
    return Document(
        "service_requests",
        Many(
            "request",
            [{"service_request_id": row.case.code if row.case_id else None, "token": row.token}],
        ),
    )


def posted_document(case: Case, *, account_id: str) -> Document:
    return Document(
        "service_requests",
        Many(
            "request",
            [
                {
                    "service_request_id": case.code,
                    "service_notice": service_notice(case),
                    "account_id": account_id or None,
                }
            ],
        ),
    )


def updates_document(rows: list[CaseAction], *, absolute: Callable[[str], str]) -> Document:
    """mySociety's ``servicerequestupdates``: one update per timeline step after the report."""
    media = {}
    reporters_photos = Attachment.objects.filter(
        action__in=[r.pk for r in rows], kind=Attachment.Kind.PHOTO
    ).order_by("id")
    for attachment in reporters_photos:
        media.setdefault(attachment.action_id, photo_url(attachment, absolute))
    return Document(
        "service_requests_updates",
        Many(
            "request_update",
            [
                {
                    "update_id": str(row.pk),
                    "service_request_id": row.case.code,
                    "status": selectors.status_of(row.to_state),
                    "updated_datetime": row.created,
                    "description": _step_description(row.action, row.text),
                    "media_url": media.get(row.pk),
                    "external_status_code": row.to_state,
                }
                for row in rows
            ],
        ),
    )
