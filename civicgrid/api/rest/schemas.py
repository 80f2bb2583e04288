"""Request and response shapes of the REST API, and the functions that fill them.

Responses are built explicitly from model rows (no ORM magic), so what leaves the server is
exactly what is listed here. Free text written by people is passed through
``mask_numbers_in_text``: ID and phone numbers inside descriptions are masked.
"""

import base64
import binascii
import math
from datetime import datetime
from typing import Annotated

from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Schema
from pydantic import AfterValidator, AwareDatetime, StringConstraints

from civicgrid.cases import workflow
from civicgrid.cases.photos import MAX_UPLOAD_BYTES
from civicgrid.cases.selectors import deadline_status
from civicgrid.people.pii import mask_numbers_in_text


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


def _reasonable(value: datetime) -> datetime:
    if not 2000 <= value.year <= 2100:
        raise ValueError("the year must lie between 2000 and 2100")
    return value


def _text(max_length: int):
    return Annotated[str, StringConstraints(max_length=max_length), AfterValidator(_no_nul)]


Text = _text(4000)
ShortText = _text(200)
Code = _text(32)
Photo = Annotated[str, StringConstraints(max_length=math.ceil(MAX_UPLOAD_BYTES / 3) * 4 + 4)]
Version = Annotated[int, Field(ge=1, le=2_147_483_647)]
When = Annotated[AwareDatetime, AfterValidator(_reasonable)]

MAX_PHOTOS = 9


# ---------------------------------------------------------------- pagination


class PageQuery(Schema):
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(50, ge=1, le=200)


class PageMeta(Schema):
    count: int
    page: int
    page_size: int
    pages: int
    next: str | None
    previous: str | None


def paginate(request, queryset, query: PageQuery, render) -> dict:
    """A page of ``queryset`` (already ordered) with links to the neighbouring pages."""
    count = queryset.count()
    pages = max(1, math.ceil(count / query.page_size))
    start = (query.page - 1) * query.page_size
    rows = list(queryset[start : start + query.page_size]) if start < count else []

    def link(page):
        params = request.GET.copy()
        params["page"] = str(page)
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

    return {
        "count": count,
        "page": query.page,
        "page_size": query.page_size,
        "pages": pages,
        "next": link(query.page + 1) if query.page < pages else None,
        "previous": link(query.page - 1) if 1 < query.page <= pages else None,
        "results": [render(row) for row in rows],
    }


# ---------------------------------------------------------------- reference data


class CategoryOut(Schema):
    code: str
    name: str
    name_en: str
    parent: str | None
    leaf: bool
    default_level: str
    department_kinds: list[str]
    sign_limit: str
    resolve_limits: dict[str, str]
    acceptance_criteria: str
    closing_criteria: str


class CategoryTreeOut(Schema):
    code: str
    name: str
    name_en: str
    children: list[CategoryOut]


def category_out(c) -> dict:
    return {
        "code": c.code,
        "name": c.name,
        "name_en": c.name_en,
        "parent": c.parent.code if c.parent_id else None,
        "leaf": c.is_leaf,
        "default_level": c.default_level,
        "department_kinds": list(c.department_kinds or []),
        "sign_limit": c.sign_limit,
        "resolve_limits": {
            level: c.resolve_limit(level) for level in ("grid", "village", "town", "county")
        },
        "acceptance_criteria": c.acceptance_criteria,
        "closing_criteria": c.closing_criteria,
    }


class RegionOut(Schema):
    code: str
    name: str
    level: str
    division_type: str
    parent: str | None
    bbox: list[float] | None


def region_out(r) -> dict:
    return {
        "code": r.code,
        "name": r.name,
        "level": r.level,
        "division_type": r.division_type,
        "parent": r.parent.code if r.parent_id else None,
        "bbox": r.bbox,
    }


class RegionPage(PageMeta):
    results: list[RegionOut]


class GridProperties(Schema):
    code: str
    name: str
    kind: str
    purpose: str
    village: str
    parent: str | None
    active: bool


class GridFeature(Schema):
    type: str = "Feature"
    id: str
    geometry: dict | None
    bbox: list[float] | None
    properties: GridProperties


class GridCollection(PageMeta):
    type: str = "FeatureCollection"
    features: list[GridFeature]


def grid_feature(g) -> dict:
    return {
        "type": "Feature",
        "id": g.code,
        "geometry": g.geometry,
        "bbox": g.bbox,
        "properties": {
            "code": g.code,
            "name": g.name,
            "kind": g.kind,
            "purpose": g.purpose,
            "village": g.village.code,
            "parent": g.parent.code if g.parent_id else None,
            "active": g.active,
        },
    }


class DepartmentOut(Schema):
    code: str
    name: str
    short_name: str
    kind: str
    region: str | None


class DepartmentPage(PageMeta):
    results: list[DepartmentOut]


def department_out(d) -> dict:
    return {
        "code": d.code,
        "name": d.name,
        "short_name": d.short_name,
        "kind": d.kind,
        "region": d.region.code if d.region_id else None,
    }


# ---------------------------------------------------------------- cases


class CaseOut(Schema):
    id: int
    code: str
    state: str
    state_label: str
    version: int
    channel: str
    category: str | None
    category_name: str | None
    description: str
    urgent: bool
    lat: float | None
    lng: float | None
    address: str
    grid: str | None
    region_code: str
    level: str
    unit_code: str
    deadline_status: str
    resolve_deadline: datetime | None
    accepted_at: datetime | None
    closed_at: datetime | None
    supervised: int
    hard_case: bool
    escalation_count: int
    rework_count: int
    reopen_count: int
    satisfaction: str
    created: datetime
    updated: datetime
    url: str


def case_out(case, request=None) -> dict:
    return {
        "id": case.pk,
        "code": case.code,
        "state": case.state,
        "state_label": str(workflow.STATE_LABELS.get(case.state, case.state)),
        "version": case.version,
        "channel": case.channel,
        "category": case.category.code if case.category_id else None,
        "category_name": case.category.name if case.category_id else None,
        "description": mask_numbers_in_text(case.description),
        "urgent": case.urgent,
        "lat": case.lat,
        "lng": case.lng,
        "address": mask_numbers_in_text(case.address),
        "grid": case.grid.code if case.grid_id else None,
        "region_code": case.region_code,
        "level": case.level,
        "unit_code": case.unit_code,
        "deadline_status": deadline_status(case),
        "resolve_deadline": case.resolve_deadline,
        "accepted_at": case.accepted_at,
        "closed_at": case.closed_at,
        "supervised": case.supervised,
        "hard_case": case.hard_case,
        "escalation_count": case.escalation_count,
        "rework_count": case.rework_count,
        "reopen_count": case.reopen_count,
        "satisfaction": case.satisfaction,
        "created": case.created,
        "updated": case.updated,
        "url": reverse("api-1.0.0:case_detail", kwargs={"code": case.code}),
    }


class CasePage(PageMeta):
    results: list[CaseOut]


class AssignmentOut(Schema):
    department: str
    department_name: str
    role: str
    state: str
    dispatched_at: datetime
    sign_deadline: datetime | None
    signed_at: datetime | None
    return_reason: str
    forced: bool
    active: bool


class SupervisionOut(Schema):
    id: int
    level: int
    reason: str
    automatic: bool
    issued_at: datetime
    answer_due: datetime
    answer: str
    answered_at: datetime | None


class ExtensionOut(Schema):
    id: int
    days: int
    reason: str
    state: str
    requested_at: datetime
    decided_at: datetime | None


class InstructionOut(Schema):
    id: int
    signer_name: str
    text: str
    required_actions: str
    created: datetime


class AttachmentOut(Schema):
    id: int
    kind: str
    content_type: str
    width: int | None
    height: int | None
    taken_at: datetime | None
    created: datetime
    url: str


class CaseDetailOut(CaseOut):
    merged_into: str | None
    extension_days: int
    reporter_count: int
    assignments: list[AssignmentOut]
    supervisions: list[SupervisionOut]
    extensions: list[ExtensionOut]
    instructions: list[InstructionOut]
    attachments: list[AttachmentOut]
    possible_actions: list[str]


def attachment_out(case, a) -> dict:
    return {
        "id": a.pk,
        "kind": a.kind,
        "content_type": a.content_type,
        "width": a.width,
        "height": a.height,
        "taken_at": a.taken_at,
        "created": a.created,
        "url": reverse(
            "api-1.0.0:case_attachment", kwargs={"code": case.code, "attachment_id": a.pk}
        ),
    }


def reported_case_detail_out(case, *, photos: bool) -> dict:
    """``case_detail_out`` of a case this request has just made (the 201 answer), without reading
    it back: nothing has been assigned, supervised, extended or instructed yet, it has one
    reporter, and its attachments are read only if photos came with it (issue 11)."""
    data = case_out(case)
    data.update(
        merged_into=None,
        extension_days=case.extension_days,
        reporter_count=1,
        assignments=[],
        supervisions=[],
        extensions=[],
        instructions=[],
        attachments=(
            [attachment_out(case, a) for a in case.attachments.order_by("created", "id")]
            if photos
            else []
        ),
        possible_actions=workflow.allowed_actions(case.state),
    )
    return data


class ReceiptOut(Schema):
    """A report taken in the queued intake mode: made into a case later by the runner."""

    receipt: str = Field(description="Ask GET /receipts/{receipt} for the case.")
    state: str = Field(description="queued, done (the case is made) or failed.")
    case: str | None = Field(None, description="The case code, once made.")
    error: str | None = Field(None, description="Why the report was refused (state failed).")
    url: str


def receipt_out(row) -> dict:
    return {
        "receipt": row.token,
        "state": row.state,
        "case": row.case.code if row.case_id else None,
        "error": row.error or None,
        "url": reverse("api-1.0.0:receipt", kwargs={"receipt": row.token}),
    }


def case_detail_out(case) -> dict:
    data = case_out(case)
    data.update(
        merged_into=case.merged_into.code if case.merged_into_id else None,
        extension_days=case.extension_days,
        reporter_count=case.reporters.count(),
        assignments=[
            {
                "department": a.department.code,
                "department_name": a.department.name,
                "role": a.role,
                "state": a.state,
                "dispatched_at": a.dispatched_at,
                "sign_deadline": a.sign_deadline,
                "signed_at": a.signed_at,
                "return_reason": a.return_reason,
                "forced": a.forced,
                "active": a.active,
            }
            for a in case.assignments.select_related("department").order_by("-active", "id")
        ],
        supervisions=[
            {
                "id": s.pk,
                "level": s.level,
                "reason": mask_numbers_in_text(s.reason),
                "automatic": s.automatic,
                "issued_at": s.issued_at,
                "answer_due": s.answer_due,
                "answer": mask_numbers_in_text(s.answer),
                "answered_at": s.answered_at,
            }
            for s in case.supervisions.order_by("issued_at", "id")
        ],
        extensions=[
            {
                "id": e.pk,
                "days": e.days,
                "reason": mask_numbers_in_text(e.reason),
                "state": e.state,
                "requested_at": e.requested_at,
                "decided_at": e.decided_at,
            }
            for e in case.extensions.order_by("requested_at", "id")
        ],
        instructions=[
            {
                "id": i.pk,
                "signer_name": i.signer_name,
                "text": mask_numbers_in_text(i.text),
                "required_actions": mask_numbers_in_text(i.required_actions),
                "created": i.created,
            }
            for i in case.instructions.order_by("created", "id")
        ],
        attachments=[attachment_out(case, a) for a in case.attachments.order_by("created", "id")],
        possible_actions=workflow.allowed_actions(case.state),
    )
    return data


class TimelineEntryOut(Schema):
    id: int
    action: str
    action_label: str
    actor_name: str
    role: str
    unit_code: str
    from_state: str
    to_state: str
    text: str
    data: dict
    attachments: list[int]
    created: datetime


def timeline_entry_out(row) -> dict:
    return {
        "id": row.pk,
        "action": row.action,
        "action_label": str(row.get_action_label()),
        "actor_name": row.actor_name,
        "role": row.role,
        "unit_code": row.unit_code,
        "from_state": row.from_state,
        "to_state": row.to_state,
        "text": mask_numbers_in_text(row.text),
        "data": row.data or {},
        "attachments": [a.pk for a in row.attachments.all()],
        "created": row.created,
    }


# ---------------------------------------------------------------- requests


class ReportIn(Schema):
    description: Text
    category: Code | None = None
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    lng: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    datum: str = Field("wgs84", pattern="^(wgs84|gcj02)$")
    grid: Code | None = None
    region: Code | None = None
    address: ShortText = ""
    urgent: bool = False
    channel: str | None = Field(
        None, description="Defaults to “api”; integration keys always report on “api”."
    )
    idempotency_key: _text(64) | None = None
    reporter_name: _text(50) = ""
    reporter_phone: _text(20) = ""
    photos: list[Photo] = Field([], max_length=MAX_PHOTOS, description="Base64-encoded images.")


def decode_photos(values, field: str = "photos") -> list[bytes]:
    from civicgrid.api.rest.errors import ApiError

    decoded = []
    for value in values or ():
        try:
            decoded.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            raise ApiError(
                400, _("A photo is not valid base64."), fields={field: [_("Not base64.")]}
            ) from None
    return decoded


class VersionIn(Schema):
    expected_version: Version | None = None


class CategoryIn(VersionIn):
    category: Code


class AcceptIn(VersionIn):
    category: Code | None = None


class GridIn(VersionIn):
    grid: Code


class ReasonIn(VersionIn):
    reason: Text


class TextIn(VersionIn):
    text: Text = ""


class MergeIn(Schema):
    into: Code


class AssignDownIn(VersionIn):
    unit_code: Code
    text: Text = ""
    deadline: When | None = None


class DispatchIn(VersionIn):
    lead: Code
    assisting: list[Code] = Field([], max_length=20)
    text: Text = ""


class ReturnIn(VersionIn):
    reason: Code
    text: Text = ""


class DecideIn(VersionIn):
    approve: bool
    text: Text = ""


class FeedbackIn(VersionIn):
    text: Text
    photos: list[Photo] = Field([], max_length=MAX_PHOTOS)


class VerifyIn(VersionIn):
    passed: bool
    text: Text = ""


class SelfCloseIn(VersionIn):
    text: Text
    before_photos: list[Photo] = Field(..., min_length=1, max_length=MAX_PHOTOS)
    after_photos: list[Photo] = Field(..., min_length=1, max_length=MAX_PHOTOS)


class ExtensionIn(Schema):
    days: int = Field(..., ge=1, le=365)
    reason: Text


class ExtensionDecisionIn(Schema):
    approve: bool
    text: Text = ""


class EvaluateIn(VersionIn):
    satisfaction: str = Field(..., pattern="^(satisfied|basically_satisfied|unsatisfied)$")
    comment: Text = ""


class ReviewIn(VersionIn):
    reopen: bool
    text: Text


class SuperviseIn(Schema):
    level: int = Field(..., ge=1, le=3, description="1 supervised, 2 yellow card, 3 red card")
    reason: Text
    answer_due: When | None = None


class AnswerIn(Schema):
    answer: Text


class InstructIn(Schema):
    text: Text
    required_actions: Text = ""


class HardCaseIn(Schema):
    leader: _text(150)
    departments: list[Code] = Field([], max_length=20)
    text: Text = ""


class MeetingIn(Schema):
    decisions: Text
    follow_ups: Text = ""
    departments: list[Code] = Field([], max_length=20)
    held_at: When | None = None


class JointOperationIn(Schema):
    town_code: Code
    title: _text(100)
    planned_for: When
    place: ShortText
    departments: list[Code] = Field(..., max_length=20)
    cases: list[Code] = Field([], max_length=200)


class JointResultIn(Schema):
    results: Text


class JointOperationOut(Schema):
    id: int
    town_code: str
    title: str
    planned_for: datetime
    place: str
    state: str
    results: str
    departments: list[str]
    cases: list[str]


def joint_operation_out(op) -> dict:
    return {
        "id": op.pk,
        "town_code": op.town_code,
        "title": op.title,
        "planned_for": op.planned_for,
        "place": op.place,
        "state": op.state,
        "results": op.results,
        "departments": [d.code for d in op.departments.order_by("code")],
        "cases": [c.code for c in op.cases.order_by("code")],
    }


# ---------------------------------------------------------------- account


class MeOut(Schema):
    username: str
    name: str
    roles: list[str]
    scopes: list[str]
    via: str
    key_region: str | None
    key_department: str | None


class TokenIn(Schema):
    name: _text(100)
    expires_at: When | None = None


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(TokenOut):
    token: str


def token_out(key) -> dict:
    return {
        "id": key.pk,
        "name": key.name,
        "prefix": key.prefix,
        "created": key.created,
        "expires_at": key.expires_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }
