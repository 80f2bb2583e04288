"""``/api/v1/cases``: list, report, read and act on cases through the same actions as the web."""

import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Status

from civicgrid.api.actions import do_report_with_key
from civicgrid.api.rest import schemas as s
from civicgrid.api.rest.errors import ERRORS, ApiError
from civicgrid.api.selectors import access_case_for, cases_for, narrow_cases
from civicgrid.cases import actions
from civicgrid.cases import selectors as case_selectors
from civicgrid.cases.models import Case, Category, JointOperation
from civicgrid.core.scoping import scope_for
from civicgrid.open311.actions import do_queue_api_report
from civicgrid.open311.models import QueuedRequest
from civicgrid.people.models import Department
from civicgrid.regions.models import Grid, Region

router = Router(tags=["cases"])


# ---------------------------------------------------------------- helpers


def _actor(request):
    """The user the request acts as; a key without a service account cannot act on cases."""
    principal = request.auth
    if not principal.has_user:
        raise ApiError(
            403,
            _("This key has no service account; it may only report through Open311."),
        )
    return principal.user


def _case(request, code: str) -> Case:
    return access_case_for(_actor(request), request.auth.key, code)


def _category(code: str | None, field: str = "category") -> Category | None:
    if code is None or code == "":
        return None
    category = Category.objects.filter(code=code, active=True).first()
    if category is None:
        raise ApiError(400, _("No such category."), fields={field: [_("No such category.")]})
    return category


def _department(code: str, field: str) -> Department:
    department = Department.objects.filter(code=code, active=True).first()
    if department is None:
        raise ApiError(
            400, _("No such department: %(code)s.") % {"code": code}, fields={field: [code]}
        )
    return department


def _departments(codes, field: str) -> list[Department]:
    return [_department(code, field) for code in dict.fromkeys(codes)]


def _grid(code: str | None, field: str = "grid") -> Grid | None:
    if not code:
        return None
    grid = Grid.objects.filter(code=code, active=True).first()
    if grid is None:
        raise ApiError(400, _("No such grid."), fields={field: [_("No such grid.")]})
    return grid


def _detail(case: Case) -> dict:
    case = Case.objects.select_related("category", "grid", "merged_into").get(pk=case.pk)
    return s.case_detail_out(case)


# ---------------------------------------------------------------- reads


class CaseFilters(s.PageQuery):
    state: list[str] = Field([], max_length=20, description="One or more states.")
    category: s.Code | None = Field(
        None, description="A category code; a first-level code includes its children."
    )
    region: s.Code | None = Field(None, description="A region or grid code (prefix).")
    channel: s.Code | None = None
    overdue: bool | None = None
    supervised: bool | None = None
    urgent: bool | None = None
    created_after: s.When | None = None
    created_before: s.When | None = None
    q: s.ShortText | None = Field(None, description="Case code, or words in the description.")
    ordering: str = Field("-created", pattern="^-?(created|resolve_deadline|updated|code)$")


def _filtered(cases, f: CaseFilters):
    return case_selectors.filter_cases(
        cases,
        state=f.state,
        category=f.category,
        region=f.region,
        channel=f.channel,
        overdue=f.overdue,
        supervised=f.supervised,
        urgent=f.urgent,
        created_after=f.created_after,
        created_before=f.created_before,
        q=f.q,
        ordering=f.ordering,
    )


@router.get("/cases", response={200: s.CasePage, **ERRORS}, url_name="case_list")
def list_cases(request, filters: Query[CaseFilters]):
    """Cases the caller may see, newest first, with filters."""
    cases = _filtered(cases_for(_actor(request), request.auth.key), filters)
    return s.paginate(request, cases, filters, s.case_out)


@router.get("/tasks", response={200: s.CasePage, **ERRORS}, url_name="task_list")
def my_tasks(request, filters: Query[CaseFilters]):
    """My tasks (待办): cases waiting for the caller's next move."""
    user = _actor(request)
    tasks = narrow_cases(case_selectors.tasks_for(user), request.auth.key)
    return s.paginate(request, _filtered(tasks, filters), filters, s.case_out)


@router.get("/cases/{code}", response={200: s.CaseDetailOut, **ERRORS}, url_name="case_detail")
def case_detail(request, code: str):
    return _detail(_case(request, code))


@router.get("/cases/{code}/timeline", response={200: list[s.TimelineEntryOut], **ERRORS})
def case_timeline(request, code: str):
    """Every step of the case's history, oldest first."""
    return [s.timeline_entry_out(row) for row in case_selectors.timeline(_case(request, code))]


@router.get("/cases/{code}/duplicates", response={200: list[s.CaseOut], **ERRORS})
def case_duplicates(request, code: str):
    """Open cases of the same category nearby in space and time (possible duplicates)."""
    case = _case(request, code)
    candidates = case_selectors.duplicate_candidates(case)
    allowed = set(
        cases_for(request.auth.user, request.auth.key)
        .filter(pk__in=[c.pk for c in candidates])
        .values_list("pk", flat=True)
    )
    return [s.case_out(c) for c in candidates if c.pk in allowed]


@router.get(
    "/cases/{code}/attachments/{attachment_id}",
    response={200: None, **ERRORS},
    url_name="case_attachment",
)
def case_attachment(request, code: str, attachment_id: int):
    """The photo itself (JPEG or PNG, re-encoded, EXIF stripped except the capture time)."""
    case = _case(request, code)
    attachment = get_object_or_404(case.attachments, pk=attachment_id)
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise ApiError(404, _("The file is missing.")) from None
    return FileResponse(handle, content_type=attachment.content_type)


# ---------------------------------------------------------------- intake


@router.post(
    "/cases",
    response={201: s.CaseDetailOut, 200: s.CaseDetailOut, 202: s.ReceiptOut, **ERRORS},
)
def report_case(request, payload: s.ReportIn):
    """Report a case (every channel goes through the same intake action).

    A retry with the same ``idempotency_key`` returns the first case with status 200. In the
    queued intake mode (``API_QUEUED_INTAKE``) a photo-less report sent with a token or key is
    answered 202 with a receipt (``GET /receipts/{receipt}`` gives the case once it is made;
    a retry gets the same receipt).
    """
    principal = request.auth
    actor = _actor(request)
    channel = payload.channel or Case.Channel.API
    if principal.key is not None and principal.key.kind == "integration":
        channel = Case.Channel.API
    key = payload.idempotency_key
    scoped_key = f"api:{principal}:{key}" if key else None
    if (
        getattr(settings, "API_QUEUED_INTAKE", False)
        and principal.key is not None
        and not payload.photos
    ):
        return _queue_report(principal, actor, channel, payload, scoped_key)
    region = None
    if payload.region:
        region = Region.objects.filter(code=payload.region).first()
        if region is None:
            raise ApiError(400, _("No such region."), fields={"region": [_("No such region.")]})
    started = timezone.now()
    case = do_report_with_key(
        api_key=principal.key,
        actor=actor,
        channel=channel,
        description=payload.description,
        category=_category(payload.category),
        lat=payload.lat,
        lng=payload.lng,
        datum=payload.datum,
        grid=_grid(payload.grid),
        region=region,
        address=payload.address,
        photos=s.decode_photos(payload.photos),
        idempotency_key=scoped_key,
        reporter_name=payload.reporter_name,
        reporter_phone=payload.reporter_phone,
        urgent=payload.urgent,
    )
    if case.created >= started:  # made now: answered from memory, not read back
        return Status(201, s.reported_case_detail_out(case, photos=bool(payload.photos)))
    return Status(200, _detail(case))


CATEGORY_CACHE_SECONDS = 60
_category_cache: dict[str, tuple[float, bool]] = {}


def _category_exists(code: str) -> bool:
    """Whether an active category has this code, remembered a minute in this process: for the
    queued intake, whose runner looks the category up again when it makes the case."""
    now = time.monotonic()
    hit = _category_cache.get(code)
    if hit is not None and hit[0] > now:
        return hit[1]
    found = Category.objects.filter(code=code, active=True).exists()
    if len(_category_cache) > 1000:  # unknown codes sent by a client must not grow it forever
        _category_cache.clear()
    _category_cache[code] = (now + CATEGORY_CACHE_SECONDS, found)
    return found


_reporter_cache: dict[tuple[int, int], tuple[float, bool]] = {}


def _may_report(key, actor) -> bool:
    """Whether the key's user may report, remembered in this process as long as the key itself
    (``API_KEY_CACHE_SECONDS``): a courtesy answer only, the runner checks again (through
    ``do_report_case``) before it makes the case, so a role taken away meanwhile gives a
    refused receipt, never a case."""
    ttl = float(getattr(settings, "API_KEY_CACHE_SECONDS", 5))
    now = time.monotonic()
    hit = _reporter_cache.get((key.pk, actor.pk)) if ttl > 0 else None
    if hit is not None and hit[0] > now:
        return hit[1]
    allowed = scope_for(actor).has("cases.report")
    if ttl > 0:
        if len(_reporter_cache) > 1000:
            _reporter_cache.clear()
        _reporter_cache[(key.pk, actor.pk)] = (now + ttl, allowed)
    return allowed


def _queue_report(principal, actor, channel, payload, scoped_key):
    """The queued intake: check what is cheap to check now, store the report, answer 202."""
    if channel not in Case.Channel.values:
        raise ApiError(400, _("Unknown channel."), fields={"channel": [_("Unknown channel.")]})
    if not _may_report(principal.key, actor):
        raise ApiError(403, _("You are not allowed to report cases."))
    if payload.category and not _category_exists(payload.category):
        raise ApiError(400, _("No such category."), fields={"category": [_("No such category.")]})
    _grid(payload.grid)
    if payload.region and not Region.objects.filter(code=payload.region).exists():
        raise ApiError(400, _("No such region."), fields={"region": [_("No such region.")]})
    if payload.lat is None and payload.grid is None and payload.region is None:
        if not payload.address.strip():
            message = _("Give the place: a point on the map, a grid or an area.")
            raise ApiError(400, message, fields={"location": [message]})
    if (payload.lat is None) != (payload.lng is None):
        message = _("The location is not a pair of numbers.")
        raise ApiError(400, message, fields={"location": [message]})
    row = do_queue_api_report(
        api_key=principal.key,
        idempotency_key=scoped_key,
        channel=channel,
        description=payload.description,
        category=payload.category or "",
        lat=payload.lat,
        lng=payload.lng,
        datum=payload.datum,
        grid=payload.grid or "",
        region=payload.region or "",
        address=payload.address,
        urgent=payload.urgent,
        reporter_name=payload.reporter_name,
        reporter_phone=payload.reporter_phone,
    )
    return Status(202, s.receipt_out(row))


@router.get("/receipts/{receipt}", response={200: s.ReceiptOut, **ERRORS}, url_name="receipt")
def receipt(request, receipt: str):
    """A report taken in the queued intake mode: queued, done (with the case's code) or failed
    (with the reason). Only the token or key that sent it sees it."""
    key = request.auth.key
    row = None
    if key is not None and len(receipt) <= 64:
        rows = QueuedRequest.objects.select_related("case")
        row = rows.filter(token=receipt, api_key=key).first()
    if row is None:
        raise ApiError(404, _("No such receipt."))
    return s.receipt_out(row)


# ---------------------------------------------------------------- workflow actions
# Each endpoint parses, finds the case in the caller's scope and calls the one action that
# the web app calls too; refusals, bad states and stale versions come back as 403/409/400.

Detail = {200: s.CaseDetailOut, **ERRORS}


@router.post("/cases/{code}/classify", response=Detail)
def classify(request, code: str, payload: s.CategoryIn):
    case = actions.do_classify_case(
        _case(request, code),
        actor=_actor(request),
        category=_category(payload.category),
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/locate", response=Detail)
def locate(request, code: str, payload: s.GridIn):
    case = actions.do_locate_case(
        _case(request, code),
        actor=_actor(request),
        grid=_grid(payload.grid),
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/accept", response=Detail)
def accept(request, code: str, payload: s.AcceptIn):
    case = actions.do_accept_case(
        _case(request, code),
        actor=_actor(request),
        category=_category(payload.category),
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/reject", response=Detail)
def reject(request, code: str, payload: s.ReasonIn):
    case = actions.do_reject_case(
        _case(request, code),
        actor=_actor(request),
        reason=payload.reason,
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/merge", response=Detail)
def merge(request, code: str, payload: s.MergeIn):
    duplicate = _case(request, code)
    into = access_case_for(_actor(request), request.auth.key, payload.into)
    return _detail(actions.do_merge_case(duplicate, into=into, actor=_actor(request)))


@router.post("/cases/{code}/escalate", response=Detail)
def escalate(request, code: str, payload: s.ReasonIn):
    case = actions.do_escalate_case(
        _case(request, code),
        actor=_actor(request),
        reason=payload.reason,
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/assign-down", response=Detail)
def assign_down(request, code: str, payload: s.AssignDownIn):
    case = actions.do_assign_case_down(
        _case(request, code),
        actor=_actor(request),
        unit_code=payload.unit_code,
        text=payload.text,
        deadline=payload.deadline,
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/dispatch", response=Detail)
def dispatch(request, code: str, payload: s.DispatchIn):
    case = actions.do_dispatch_case(
        _case(request, code),
        actor=_actor(request),
        lead=_department(payload.lead, "lead"),
        assisting=_departments(payload.assisting, "assisting"),
        text=payload.text,
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/sign", response=Detail)
def sign(request, code: str, payload: s.VersionIn):
    case = actions.do_sign_case(
        _case(request, code), actor=_actor(request), expected_version=payload.expected_version
    )
    return _detail(case)


@router.post("/cases/{code}/request-return", response=Detail)
def request_return(request, code: str, payload: s.ReturnIn):
    case = actions.do_request_return(
        _case(request, code),
        actor=_actor(request),
        reason=payload.reason,
        text=payload.text,
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/decide-return", response=Detail)
def decide_return(request, code: str, payload: s.DecideIn):
    case = actions.do_decide_return(
        _case(request, code),
        actor=_actor(request),
        approve=payload.approve,
        text=payload.text,
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/handle", response=Detail)
def handle(request, code: str, payload: s.TextIn):
    case = actions.do_handle_case(
        _case(request, code),
        actor=_actor(request),
        text=payload.text,
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/feedback", response=Detail)
def feedback(request, code: str, payload: s.FeedbackIn):
    case = actions.do_feedback_case(
        _case(request, code),
        actor=_actor(request),
        text=payload.text,
        photos=s.decode_photos(payload.photos),
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/verify", response=Detail)
def verify(request, code: str, payload: s.VerifyIn):
    case = actions.do_verify_case(
        _case(request, code),
        actor=_actor(request),
        passed=payload.passed,
        text=payload.text,
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/self-close", response=Detail)
def self_close(request, code: str, payload: s.SelfCloseIn):
    case = actions.do_self_close_case(
        _case(request, code),
        actor=_actor(request),
        text=payload.text,
        before_photos=s.decode_photos(payload.before_photos, "before_photos"),
        after_photos=s.decode_photos(payload.after_photos, "after_photos"),
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/extensions", response=Detail)
def request_extension(request, code: str, payload: s.ExtensionIn):
    case = _case(request, code)
    actions.do_request_extension(
        case, actor=_actor(request), days=payload.days, reason=payload.reason
    )
    return _detail(case)


@router.post("/cases/{code}/extensions/{extension_id}/decide", response=Detail)
def decide_extension(request, code: str, extension_id: int, payload: s.ExtensionDecisionIn):
    case = _case(request, code)
    extension = get_object_or_404(case.extensions, pk=extension_id)
    actions.do_decide_extension(
        extension, actor=_actor(request), approve=payload.approve, text=payload.text
    )
    return _detail(case)


@router.post("/cases/{code}/suspend", response=Detail)
def suspend(request, code: str, payload: s.ReasonIn):
    case = actions.do_suspend_case(
        _case(request, code),
        actor=_actor(request),
        reason=payload.reason,
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/resume", response=Detail)
def resume(request, code: str, payload: s.VersionIn):
    case = actions.do_resume_case(
        _case(request, code), actor=_actor(request), expected_version=payload.expected_version
    )
    return _detail(case)


@router.post("/cases/{code}/file", response=Detail)
def file_case(request, code: str, payload: s.ReasonIn):
    case = actions.do_file_case(
        _case(request, code),
        actor=_actor(request),
        reason=payload.reason,
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/evaluate", response=Detail)
def evaluate(request, code: str, payload: s.EvaluateIn):
    case = actions.do_evaluate_case(
        _case(request, code),
        actor=_actor(request),
        satisfaction=payload.satisfaction,
        comment=payload.comment,
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/review", response=Detail)
def review(request, code: str, payload: s.ReviewIn):
    case = actions.do_review_case(
        _case(request, code),
        actor=_actor(request),
        reopen=payload.reopen,
        text=payload.text,
        expected_version=payload.expected_version,
    )
    return _detail(case)


@router.post("/cases/{code}/supervise", response=Detail)
def supervise(request, code: str, payload: s.SuperviseIn):
    case = _case(request, code)
    actions.do_supervise_case(
        case,
        actor=_actor(request),
        level=payload.level,
        reason=payload.reason,
        answer_due=payload.answer_due,
    )
    return _detail(case)


@router.post("/cases/{code}/supervisions/{supervision_id}/answer", response=Detail)
def answer_supervision(request, code: str, supervision_id: int, payload: s.AnswerIn):
    case = _case(request, code)
    supervision = get_object_or_404(case.supervisions, pk=supervision_id)
    actions.do_answer_supervision(supervision, actor=_actor(request), answer=payload.answer)
    return _detail(case)


@router.post("/cases/{code}/instruct", response=Detail)
def instruct(request, code: str, payload: s.InstructIn):
    case = _case(request, code)
    actions.do_instruct_case(
        case, actor=_actor(request), text=payload.text, required_actions=payload.required_actions
    )
    return _detail(case)


@router.post("/cases/{code}/hard-case", response=Detail)
def hard_case(request, code: str, payload: s.HardCaseIn):
    case = _case(request, code)
    leader = get_user_model().objects.filter(username=payload.leader, is_active=True).first()
    if leader is None:
        raise ApiError(400, _("No such leader."), fields={"leader": [_("No such user.")]})
    actions.do_mark_hard_case(
        case,
        actor=_actor(request),
        leader=leader,
        departments=_departments(payload.departments, "departments"),
        text=payload.text,
    )
    return _detail(case)


@router.post("/cases/{code}/joint-meetings", response=Detail)
def joint_meeting(request, code: str, payload: s.MeetingIn):
    case = _case(request, code)
    actions.do_record_joint_meeting(
        case,
        actor=_actor(request),
        decisions=payload.decisions,
        follow_ups=payload.follow_ups,
        departments=_departments(payload.departments, "departments"),
        held_at=payload.held_at,
    )
    return _detail(case)


@router.post("/joint-operations", response={201: s.JointOperationOut, **ERRORS})
def plan_joint_operation(request, payload: s.JointOperationIn):
    """联合执法: a township command room plans an operation with several departments."""
    actor = _actor(request)
    cases = [
        access_case_for(actor, request.auth.key, code) for code in dict.fromkeys(payload.cases)
    ]
    operation = actions.do_plan_joint_operation(
        actor=actor,
        town_code=payload.town_code,
        title=payload.title,
        planned_for=payload.planned_for,
        place=payload.place,
        departments=_departments(payload.departments, "departments"),
        cases=cases,
    )
    return Status(201, s.joint_operation_out(operation))


@router.post(
    "/joint-operations/{operation_id}/result", response={200: s.JointOperationOut, **ERRORS}
)
def joint_operation_result(request, operation_id: int, payload: s.JointResultIn):
    actor = _actor(request)
    operation = get_object_or_404(JointOperation, pk=operation_id)
    operation = actions.do_record_joint_operation_result(
        operation, actor=actor, results=payload.results
    )
    return s.joint_operation_out(operation)
