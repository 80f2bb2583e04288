"""Every write to a case. Each action locks the case, checks who may act through the
workflow table, writes a ``CaseAction`` (the timeline) and an ``AuditEvent``, and queues
notifications in the same transaction (delivered after commit by ``civicgrid send``).
"""

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicgrid.cases import workflow
from civicgrid.cases.models import (
    LEVEL_CODE_LENGTH,
    LEVEL_ORDER,
    Assignment,
    Attachment,
    Case,
    CaseAction,
    CaseCodeCounter,
    CaseReporter,
    Category,
    ExtensionRequest,
    JointMeeting,
    JointOperation,
    LeaderInstruction,
    Level,
    Notification,
    Supervision,
)
from civicgrid.cases.signals import case_action_recorded
from civicgrid.core.audit import record_event
from civicgrid.core.calendar import default_calendar
from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import acts_for_unit, can, departments_of, scope_for
from civicgrid.people import pii
from civicgrid.people.models import Department
from civicgrid.regions.models import Grid, Region
from civicgrid.webhooks.actions import enqueue_case_event

__all__ = [
    "RETURN_REASONS",
    "CaseConflict",
    "CodeBatch",
    "case_code_batch",
    "do_accept_case",
    "do_answer_supervision",
    "do_assign_case_down",
    "do_classify_case",
    "do_decide_extension",
    "do_decide_return",
    "do_dispatch_case",
    "do_escalate_case",
    "do_evaluate_case",
    "do_feedback_case",
    "do_file_case",
    "do_handle_case",
    "do_instruct_case",
    "do_locate_case",
    "do_mark_hard_case",
    "do_plan_joint_operation",
    "do_record_joint_meeting",
    "do_record_joint_operation_result",
    "do_remind_due_soon",
    "do_mark_inbox_read",
    "do_merge_case",
    "do_record_side_event",
    "do_reject_case",
    "do_report_case",
    "do_request_extension",
    "do_request_return",
    "do_resume_case",
    "do_review_case",
    "do_self_close_case",
    "do_sign_case",
    "do_supervise_case",
    "do_supervise_overdue",
    "do_suspend_case",
    "do_update_category",
    "do_verify_case",
    "parse_limit",
]

# Lazy: the labels are shown in the language of the request that reads them.
RETURN_REASONS = {
    "wrong_place": gettext_lazy("属地不符 (not in our area)"),
    "unclear_ownership": gettext_lazy("权属不清 (ownership unclear)"),
    "overlapping_duties": gettext_lazy("职能交叉 (overlapping duties)"),
    "not_our_duty": gettext_lazy("非本部门职责 (not our department's duty)"),
    "incomplete": gettext_lazy("信息不全 (information incomplete)"),
}
SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied")
MAX_EXTENSION_DAYS = 20
DEFAULT_SIGN_LIMIT = "1d"
DEFAULT_RESOLVE_LIMIT = {
    Level.GRID: "3d",
    Level.VILLAGE: "5d",
    Level.TOWN: "10d",
    Level.COUNTY: "15d",
}
SUPERVISION_ANSWER_DAYS = 2
# Working hours may be fractional and must be positive; working days are whole (0 = the
# same day, by close of business).
_LIMIT = re.compile(r"^(?:(\d+(?:\.\d+)?)(h)|(\d+)(d))$")
# Which role levels act for each owning level (see core.roles.ROLE_LEVEL).
_UNIT_ROLE_LEVELS = {
    Level.GRID: {"grid"},
    Level.VILLAGE: {"village"},
    Level.TOWN: {"town"},
    Level.COUNTY: {"county"},
}
# Channels where the reporter need not know the category: the command room classifies.
_CATEGORY_OPTIONAL = {
    Case.Channel.RESIDENT,
    Case.Channel.CO_GOVERNANCE,
    Case.Channel.HOTLINE_12345,
    Case.Channel.HOTLINE_12348,
    Case.Channel.OPEN311,
    Case.Channel.API,
}


class CaseConflict(ActionRefused):
    """Someone else changed the case since the actor looked at it."""


def parse_limit(limit: str) -> tuple[float, str]:
    match = _LIMIT.match(limit or "")
    if not match:
        raise ValueError(f"bad limit {limit!r}")
    if match.group(2):
        hours = float(match.group(1))
        if hours <= 0:
            raise ValueError(f"bad limit {limit!r}")
        return hours, "h"
    return float(match.group(3)), "d"


def _deadline(start: datetime, limit: str) -> datetime:
    amount, unit = parse_limit(limit)
    calendar = default_calendar()
    if unit == "h":
        return calendar.add_working_hours(start, amount)
    return calendar.add_working_days(start, int(amount))


def _resolve_limit(case: Case) -> str:
    limit = case.category.resolve_limit(case.level) if case.category else ""
    return limit or DEFAULT_RESOLVE_LIMIT[case.level]


def _push_deadline(case: Case, start: datetime) -> None:
    """Set the resolution deadline for the current level; it never moves earlier."""
    new = _deadline(start, _resolve_limit(case))
    if case.resolve_deadline is None or new > case.resolve_deadline:
        case.resolve_deadline = new
        # A new deadline earns a new reminder and, if missed, a new supervision.
        case.due_soon_notified_at = case.overdue_supervised_at = None


def _unit_name(level: str, code: str) -> str:
    if level == Level.GRID:
        return Grid.objects.filter(code=code).values_list("name", flat=True).first() or code
    return Region.objects.filter(code=code).values_list("name", flat=True).first() or code


# --------------------------------------------------------------------------- who may act


def _lead(case: Case) -> Assignment | None:
    # An action asks for the lead more than once between locking the case and recording the
    # step (to check the actor, then to use it); the locked instance keeps the answer until
    # _record. No action changes the assignments and then asks again before _record.
    memo = case.__dict__.get("_lead_memo")
    if memo:
        return memo[0]
    lead = (
        case.assignments.filter(role=Assignment.Role.LEAD, active=True)
        .select_related("department")
        .first()
    )
    if memo is not None:
        memo.append(lead)
    return lead


def _acts_for_owner(actor, case: Case) -> bool:
    return acts_for_unit(actor, "cases.handle", _UNIT_ROLE_LEVELS[case.level], case.unit_code)


def _is_reporter(actor, case: Case) -> bool:
    return bool(actor and actor.pk) and case.reporters.filter(user=actor).exists()


def acting_unit(case: Case, who: str, actor) -> str | None:
    """The unit ``actor`` acts for in a step that needs ``who`` (see workflow), or None.

    Reads only; the web app asks it to show exactly the actions a person may take now.
    """
    if who == "owner" or (who == "handler" and _lead(case) is None):
        return case.unit_code if _acts_for_owner(actor, case) else None
    if who in {"lead", "handler"}:
        lead = _lead(case)
        if lead and (
            lead.department_id in departments_of(actor, "cases.department")
            or scope_for(actor).superuser
        ):
            return lead.department.code
        return None
    if who == "reporter_or_owner":
        if _acts_for_owner(actor, case) or _is_reporter(actor, case):  # no query first
            return case.unit_code
        return None
    if who == "county":
        if can(actor, "cases.review", region_code=case.region_code):
            return case.region_code[:6]
        return None
    return ""


def _refusal(who: str) -> str:
    if who in {"lead", "handler"}:
        return _("Only the lead department of this case can do this.")
    if who == "reporter_or_owner":
        return _("Only the reporter or the owning unit can evaluate this case.")
    if who == "county":
        return _("Only the county centre can review this case.")
    return _("Only the unit that owns this case can do this.")


def _check_actor(case: Case, who: str, actor) -> str:
    """Raise ActionRefused unless ``actor`` is who the step needs; return the acting unit."""
    unit = acting_unit(case, who, actor)
    if unit is None:
        if who == "handler" and _lead(case) is None:
            who = "owner"
        raise ActionRefused(_refusal(who))
    return unit


# --------------------------------------------------------------------------- the core step


def _lock(case: Case, expected_version: int | None) -> Case:
    locked = Case.objects.select_for_update(of=("self",)).select_related("category").get(pk=case.pk)
    locked._lead_memo = []  # see _lead
    if expected_version is not None and locked.version != expected_version:
        raise CaseConflict(
            _(
                "Someone else changed case %(code)s a moment ago (it is now “%(state)s”). "
                "Reload it and try again."
            )
            % {"code": locked.code, "state": workflow.STATE_LABELS.get(locked.state, locked.state)}
        )
    return locked


def _record(
    case: Case,
    action: str,
    *,
    actor,
    from_state: str,
    unit: str = "",
    text: str = "",
    data: dict | None = None,
    fields: tuple[str, ...] = (),
) -> CaseAction:
    now = timezone.now()
    case.__dict__.pop("_lead_memo", None)  # the step is done: later reads ask again
    # The row is locked (or, on SQLite, the write transaction is exclusive) since _lock read
    # the version, so counting here cannot lose an update.
    case.version += 1
    stamps = ("due_soon_notified_at", "overdue_supervised_at")  # reset by _push_deadline
    case.save(update_fields=sorted({"state", "version", "updated", *stamps, *fields}))
    row = CaseAction.objects.create(
        case=case,
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        actor_name=actor.get_username() if actor is not None and actor.pk else "system",
        role=",".join(scope_for(actor).roles)[:24] if actor is not None else "",
        unit_code=unit,
        from_state=from_state,
        to_state=case.state,
        text=text,
        data=data or {},
        created=now,
    )
    record_event(
        f"cases.case.{action}",
        actor=actor,
        target=case,
        scope_code=case.region_code,
        before={"state": from_state},
        after={"state": case.state, **(data or {})},
    )
    enqueue_case_event(case, row)  # outbound webhooks, in this transaction
    case_action_recorded.send(sender=Case, case=case, row=row)
    return row


def _step(case: Case, action: str, *, actor, expected_version=None):
    """Lock the case, check the table and the actor; return (case, from_state, unit)."""
    case = _lock(case, expected_version)
    step = workflow.next_step(case.state, action)
    unit = _check_actor(case, step.actor, actor)
    from_state = case.state
    case.state = step.next_state
    return case, from_state, unit


def _notify(case: Case, event: str, subject: str, *, users=(), departments=(), unit_codes=()):
    now = timezone.now()
    rows = [
        Notification(
            recipient=u,
            channel=Notification.Channel.INBOX,
            case=case,
            event=event,
            subject=subject,
            created=now,
        )
        for u in users
        if u is not None
    ]
    rows += [
        Notification(
            department=d,
            channel=Notification.Channel.INBOX,
            case=case,
            event=event,
            subject=subject,
            created=now,
        )
        for d in departments
    ]
    rows += [
        Notification(
            unit_code=c,
            channel=Notification.Channel.INBOX,
            case=case,
            event=event,
            subject=subject,
            created=now,
        )
        for c in unit_codes
    ]
    Notification.objects.bulk_create(rows)


def _notify_reporters(case: Case, event: str, subject: str) -> None:
    """Every reporter hears the outcome: in the app if they have an account, else by SMS."""
    now = timezone.now()
    rows = []
    for reporter in case.reporters.all():
        if reporter.user_id:
            rows.append(
                Notification(
                    recipient_id=reporter.user_id,
                    channel="inbox",
                    case=case,
                    event=event,
                    subject=subject,
                    created=now,
                )
            )
        elif reporter.phone_cipher:
            rows.append(
                Notification(
                    reporter=reporter,
                    channel="sms",
                    case=case,
                    event=event,
                    subject=subject,
                    created=now,
                )
            )
    Notification.objects.bulk_create(rows)


def _clean_photos(photos) -> list:
    """Check and re-encode uploads before any lock is taken (decoding is the slow part)."""
    from civicgrid.cases.photos import CleanPhoto, PhotoRejected, clean_photo

    cleaned = []
    for photo in photos or ():
        if isinstance(photo, CleanPhoto):
            cleaned.append(photo)
            continue
        try:
            cleaned.append(clean_photo(photo))
        except PhotoRejected as exc:
            raise ValidationError({"photos": [str(exc)]}) from None
    return cleaned


def _save_photos(case: Case, photos, kind: str, action: CaseAction | None = None) -> list:
    saved = []
    for clean in _clean_photos(photos):
        attachment = Attachment(
            case=case,
            action=action,
            kind=kind,
            content_type=clean.content_type,
            sha256=clean.sha256,
            width=clean.width,
            height=clean.height,
            taken_at=clean.taken_at,
            created=timezone.now(),
        )
        attachment.file.save(
            f"{case.code}-{clean.sha256[:12]}.{clean.extension}",
            ContentFile(clean.content),
            save=False,
        )
        attachment.save()
        saved.append(attachment)
    return saved


# --------------------------------------------------------------------------- intake


class CodeBatch:
    """The day's code counters held in memory while one transaction reports many cases.

    Made by ``case_code_batch()`` (the queued intake's runner): each counter row is locked
    once, at its first use, and written once, on the way out, instead of a locked read and an
    update per case. Codes stay gapless: a report whose savepoint is rolled back gives its code
    back (``_create_reported_case`` does; a caller that rolls back more calls ``restore``).
    """

    def __init__(self):
        self.counters: dict[str, CaseCodeCounter] = {}
        self.start: dict[str, int] = {}

    def next(self, prefix: str) -> int:
        counter = self.counters.get(prefix)
        if counter is None:
            counter = CaseCodeCounter.objects.select_for_update().get_or_create(prefix=prefix)[0]
            self.counters[prefix] = counter
            self.start[prefix] = counter.last
        counter.last += 1
        return counter.last

    def snapshot(self) -> dict[str, int]:
        return {prefix: counter.last for prefix, counter in self.counters.items()}

    def restore(self, snapshot: dict[str, int]) -> None:
        """Back to ``snapshot`` after a rolled-back savepoint. A counter first used after the
        snapshot is forgotten: the savepoint may have taken its lock or made its row, so the
        next use reads (and locks, or makes) it again."""
        for prefix in list(self.counters):
            if prefix in snapshot:
                self.counters[prefix].last = snapshot[prefix]
            else:
                del self.counters[prefix], self.start[prefix]

    def finish(self) -> None:
        for prefix, counter in self.counters.items():
            if counter.last != self.start[prefix]:
                counter.save(update_fields=["last"])


_code_batch: ContextVar[CodeBatch | None] = ContextVar("case_code_batch", default=None)


@contextmanager
def case_code_batch() -> Iterator[CodeBatch]:
    """Report many cases in the current transaction with each day's code counter locked and
    written once (see ``CodeBatch``). The counters stay locked to the end of the transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("case_code_batch() needs an open transaction (transaction.atomic())")
    if _code_batch.get() is not None:
        raise RuntimeError("case_code_batch() is already open")
    batch = CodeBatch()
    token = _code_batch.set(batch)
    try:
        yield batch
    finally:
        _code_batch.reset(token)
    batch.finish()


def _next_code(county_code: str, now: datetime) -> str:
    prefix = f"{county_code}-{timezone.localtime(now):%Y%m%d}"
    batch = _code_batch.get()
    if batch is not None:
        return f"{prefix}-{batch.next(prefix):05d}"
    counter, _created = CaseCodeCounter.objects.select_for_update().get_or_create(prefix=prefix)
    # The row is locked (on SQLite the write transaction is exclusive): counting in Python
    # cannot lose an update.
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{prefix}-{counter.last:05d}"


def _idempotency_key(actor, key: str | None) -> str | None:
    if not key:
        return None
    owner = actor.pk if actor is not None and actor.pk else "anonymous"
    return hashlib.sha256(f"{owner}:{key}".encode()).hexdigest()


def _intake_owner(actor, channel, grid, region_code: str, category) -> tuple[str, str]:
    """Who owns a new case.

    A grid worker's report in their own grid stays with the grid (they may close it on the
    spot or escalate). Otherwise a classified report goes to the level its category names
    (``default_level``), and an unclassified one to the township command room, which
    classifies, accepts and dispatches. Without a grid (an address only) the county centre.
    """
    if (
        grid is not None
        and channel == Case.Channel.GRID_WORKER
        and acts_for_unit(actor, "cases.handle", {"grid"}, grid.code)
    ):
        return Level.GRID, grid.code
    level = (category.default_level if category is not None else "") or Level.TOWN
    if len(region_code) < LEVEL_CODE_LENGTH[level]:
        level = Level.COUNTY if len(region_code) < LEVEL_CODE_LENGTH[Level.TOWN] else Level.TOWN
    return level, region_code[: LEVEL_CODE_LENGTH[level]]


def do_report_case(
    *,
    actor,
    channel: str,
    description: str,
    category: Category | None = None,
    lat: float | None = None,
    lng: float | None = None,
    datum: str = "wgs84",
    grid: Grid | None = None,
    region: Region | None = None,
    address: str = "",
    photos=(),
    idempotency_key: str | None = None,
    reporter_name: str = "",
    reporter_phone: str = "",
    urgent: bool = False,
    created: datetime | None = None,
) -> Case:
    """Take a report from any channel. A retried submission with the same idempotency key
    (from the same reporter) returns the first case instead of creating a second one."""
    key = _idempotency_key(actor, idempotency_key)
    if key:
        existing = Case.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
    if channel not in Case.Channel.values:
        raise ValidationError({"channel": _("Unknown channel.")})
    anonymous = actor is None or not actor.pk
    if anonymous and channel not in {Case.Channel.RESIDENT, Case.Channel.OPEN311}:
        raise ActionRefused(_("Log in to report through this channel."))
    if not anonymous and not scope_for(actor).has("cases.report"):
        raise ActionRefused(_("You are not allowed to report cases."))
    errors = {}
    description = (description or "").strip()
    if not description:
        errors["description"] = [_("Describe the problem.")]
    elif len(description) > 4000:
        errors["description"] = [_("The description is longer than 4,000 characters.")]
    if category is None and channel not in _CATEGORY_OPTIONAL:
        errors["category"] = [_("Choose a category.")]
    if category is not None and not category.is_leaf:
        errors["category"] = [_("Choose a category of the second level.")]
    if lat is not None or lng is not None:
        try:
            lat, lng = float(lat), float(lng)
        except (TypeError, ValueError):
            errors["location"] = [_("The location is not a pair of numbers.")]
        else:
            if not (-90 <= lat <= 90 and -180 <= lng <= 180):
                errors["location"] = [_("The location is outside the earth's coordinates.")]
            else:
                from civicgrid.regions import geo
                from civicgrid.regions.selectors import locate_grid

                if datum == "gcj02":
                    lng, lat = geo.gcj02_to_wgs84(lng, lat)
                grid_code, _micro = locate_grid(lat, lng)
                if grid_code is None and grid is None and region is None:
                    errors["location"] = [_("This place is not inside any grid of the county.")]
                elif grid_code is not None and (grid is None or grid.code != grid_code):
                    grid = Grid.objects.get(code=grid_code)
    if grid is None and region is None and address.strip() and "location" not in errors:
        # Only an address (a hotline caller): the county centre places and routes it.
        region = Region.objects.filter(level=Region.Level.COUNTY).order_by("code").first()
    if grid is None and region is None and "location" not in errors:
        errors["location"] = [_("Give the place: a point on the map, a grid or an area.")]
    phone_sealed = None
    if reporter_phone:
        try:
            phone_sealed = pii.seal_phone(reporter_phone)
        except ValidationError as exc:
            errors["reporter_phone"] = exc.messages
    if errors:
        raise ValidationError(errors)
    region_code = grid.code if grid is not None else region.code
    level, unit_code = _intake_owner(actor, channel, grid, region_code, category)
    photos = _clean_photos(photos)
    now = created or timezone.now()
    try:
        return _create_reported_case(
            actor=actor,
            anonymous=anonymous,
            channel=channel,
            category=category,
            description=description,
            urgent=urgent,
            lat=lat,
            lng=lng,
            address=address,
            grid=grid,
            region_code=region_code,
            level=level,
            unit_code=unit_code,
            key=key,
            now=now,
            phone_sealed=phone_sealed,
            reporter_name=reporter_name,
            photos=photos,
        )
    except IntegrityError:
        # The same retried submission arrived twice at once: the first one won.
        existing = Case.objects.filter(idempotency_key=key).first() if key else None
        if existing is None:
            raise
        return existing


def _create_reported_case(**fields) -> Case:
    """``_insert_reported_case(**fields)``; inside a code batch, a failure gives the case's
    code back (the savepoint took the case away)."""
    codes = _code_batch.get()
    taken = codes.snapshot() if codes is not None else None
    try:
        return _insert_reported_case(**fields)
    except BaseException:
        if codes is not None:  # the savepoint took the case away: its code is free again
            codes.restore(taken)
        raise


def _insert_reported_case(
    *,
    actor,
    anonymous,
    channel,
    category,
    description,
    urgent,
    lat,
    lng,
    address,
    grid,
    region_code,
    level,
    unit_code,
    key,
    now,
    phone_sealed,
    reporter_name,
    photos,
) -> Case:
    with transaction.atomic():
        case = Case.objects.create(
            code=_next_code(region_code[:6], now),
            state=workflow.REPORTED,
            channel=channel,
            category=category,
            description=description,
            urgent=urgent,
            lat=lat,
            lng=lng,
            address=address[:200],
            grid=grid,
            region_code=region_code,
            level=level,
            unit_code=unit_code,
            reported_by=None if anonymous else actor,
            idempotency_key=key,
            created=now,
        )
        CaseReporter.objects.create(
            case=case,
            user=None if anonymous else actor,
            name=reporter_name[:50],
            phone_cipher=phone_sealed.cipher if phone_sealed else "",
            phone_hash=phone_sealed.hash if phone_sealed else "",
            phone_masked=phone_sealed.masked if phone_sealed else "",
            channel=channel,
            original_case_code=case.code,
            created=now,
        )
        row = CaseAction.objects.create(
            case=case,
            action="report",
            actor=None if anonymous else actor,
            actor_name="anonymous" if anonymous else actor.get_username(),
            to_state=case.state,
            unit_code=unit_code,
            text=description[:500],
            created=now,
            data={"channel": channel},
        )
        enqueue_case_event(case, row)  # outbound webhooks, in this transaction
        _save_photos(case, photos, Attachment.Kind.PHOTO, row)
        case_action_recorded.send(sender=Case, case=case, row=row)
        _notify(
            case, "reported", _("New case %(code)s") % {"code": case.code}, unit_codes=[unit_code]
        )
        # The audit chain head is locked from here to the end of the caller's transaction, so
        # the event comes last: concurrent reports wait on it (and on the day's code counter,
        # taken above) for as few statements as possible (issue 11).
        record_event(
            "cases.case.report",
            actor=None if anonymous else actor,
            target=case,
            scope_code=region_code,
            after={"state": case.state, "channel": channel, "unit": unit_code},
        )
    return case


# --------------------------------------------------------------------------- acceptance


def do_classify_case(
    case: Case, *, actor, category: Category | None, expected_version=None
) -> Case:
    if category is None or not category.is_leaf:
        raise ValidationError({"category": _("Choose a category of the second level.")})
    with transaction.atomic():
        case, from_state, unit = _step(
            case, "classify", actor=actor, expected_version=expected_version
        )
        case.category = category
        _record(
            case,
            "classify",
            actor=actor,
            from_state=from_state,
            unit=unit,
            data={"category": category.code},
            fields=("category",),
        )
    return case


def do_locate_case(case: Case, *, actor, grid: Grid | None, expected_version=None) -> Case:
    """Place a case reported with only an address (a hotline call) in its grid.

    The owning unit stays; the county centre can then assign it down to the township.
    """
    with transaction.atomic():
        case, from_state, unit = _step(
            case, "locate", actor=actor, expected_version=expected_version
        )
        if grid is None or not grid.code.startswith(case.unit_code) or grid.is_micro:
            raise ValidationError({"grid": _("Choose a grid inside the owning unit's area.")})
        old = case.region_code
        case.grid, case.region_code = grid, grid.code
        _record(
            case,
            "locate",
            actor=actor,
            from_state=from_state,
            unit=unit,
            data={"from": old, "to": grid.code},
            fields=("grid", "region_code"),
        )
    return case


def do_accept_case(
    case: Case, *, actor, category: Category | None = None, expected_version=None
) -> Case:
    """受理/立案: the owning unit takes the case on; the resolution clock starts."""
    with transaction.atomic():
        case, from_state, unit = _step(
            case, "accept", actor=actor, expected_version=expected_version
        )
        if category is not None:
            if not category.is_leaf:
                raise ValidationError({"category": _("Choose a category of the second level.")})
            case.category = category
        if case.category is None:
            raise ValidationError({"category": _("Classify the case before accepting it.")})
        now = timezone.now()
        case.accepted_at = now
        _push_deadline(case, now)
        _record(
            case,
            "accept",
            actor=actor,
            from_state=from_state,
            unit=unit,
            data={"deadline": case.resolve_deadline.isoformat()},
            fields=("category", "accepted_at", "resolve_deadline"),
        )
    return case


def do_reject_case(case: Case, *, actor, reason: str, expected_version=None) -> Case:
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why the case is not accepted.")})
    with transaction.atomic():
        case, from_state, unit = _step(
            case, "reject", actor=actor, expected_version=expected_version
        )
        case.closed_at = timezone.now()
        _record(
            case,
            "reject",
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=reason,
            fields=("closed_at",),
        )
        _notify_reporters(
            case, "rejected", _("Case %(code)s was not accepted") % {"code": case.code}
        )
    return case


def do_merge_case(duplicate: Case, *, into: Case, actor) -> Case:
    """Merge a duplicate into an open case: one case, every reporter and photo."""
    if duplicate.pk == into.pk:
        raise ValidationError({"into": _("A case cannot be merged into itself.")})
    with transaction.atomic():
        # Lock both in id order, so merging A into B while someone merges B into A cannot
        # deadlock.
        list(Case.objects.select_for_update().filter(pk__in=[duplicate.pk, into.pk]).order_by("pk"))
        target = Case.objects.select_for_update().get(pk=into.pk)
        if target.state not in workflow.OPEN_STATES or target.merged_into_id:
            raise ValidationError({"into": _("Merge only into an open case.")})
        duplicate, from_state, unit = _step(duplicate, "merge", actor=actor)
        if not _acts_for_owner(actor, target):
            raise ActionRefused(_("Merge only into a case your unit owns."))
        duplicate.merged_into = target
        duplicate.closed_at = timezone.now()
        CaseReporter.objects.filter(case=duplicate).update(case=target)
        Attachment.objects.filter(case=duplicate).update(case=target)
        _record(
            duplicate,
            "merge",
            actor=actor,
            from_state=from_state,
            unit=unit,
            data={"into": target.code},
            fields=("merged_into", "closed_at"),
        )
        # The surviving case records the merge in its own timeline and audit trail.
        target_from = target.state
        _record(
            target,
            "merge",
            actor=actor,
            from_state=target_from,
            unit=unit,
            data={"from": duplicate.code},
        )
    return duplicate


# --------------------------------------------------------------------------- levels


def do_escalate_case(case: Case, *, actor, reason: str, expected_version=None) -> Case:
    """提级: hand the case to the next level up (grid → village → township → county)."""
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why the case goes up a level.")})
    with transaction.atomic():
        case, from_state, unit = _step(
            case, "escalate", actor=actor, expected_version=expected_version
        )
        if from_state == workflow.IN_PROGRESS and _lead(case) is not None:
            raise ActionRefused(
                _("A dispatched case goes up only after the department returns it.")
            )
        position = LEVEL_ORDER.index(case.level)
        if position == len(LEVEL_ORDER) - 1:
            raise ActionRefused(_("The county centre is the top level."))
        old_level = case.level
        case.level = LEVEL_ORDER[position + 1]
        case.unit_code = case.region_code[: LEVEL_CODE_LENGTH[case.level]]
        case.escalation_count += 1
        _push_deadline(case, timezone.now())
        _record(
            case,
            "escalate",
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=reason,
            data={"from_level": old_level, "to_level": case.level, "to_unit": case.unit_code},
            fields=("level", "unit_code", "escalation_count", "resolve_deadline"),
        )
        _notify(
            case,
            "escalated",
            _("Case %(code)s escalated to you") % {"code": case.code},
            unit_codes=[case.unit_code],
        )
    return case


def do_assign_case_down(
    case: Case,
    *,
    actor,
    unit_code: str,
    text: str = "",
    deadline: datetime | None = None,
    expected_version=None,
) -> Case:
    """交办: a higher level gives the case to a lower unit inside its area, with a deadline."""
    levels = {length: level for level, length in LEVEL_CODE_LENGTH.items()}
    target_level = levels.get(len(unit_code or ""))
    with transaction.atomic():
        case, from_state, unit = _step(
            case, "assign_down", actor=actor, expected_version=expected_version
        )
        if (
            target_level is None
            or LEVEL_ORDER.index(target_level) >= LEVEL_ORDER.index(case.level)
            or not unit_code.startswith(case.unit_code)
            or not case.region_code.startswith(unit_code)
        ):
            raise ValidationError(
                {"unit_code": _("Assign down only to a lower unit where the case is.")}
            )
        old = (case.level, case.unit_code)
        case.level, case.unit_code = target_level, unit_code
        _push_deadline(case, timezone.now())
        if deadline is not None and deadline > case.resolve_deadline:
            case.resolve_deadline = deadline
        _record(
            case,
            "assign_down",
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=text,
            data={
                "from_unit": old[1],
                "to_unit": unit_code,
                "deadline": case.resolve_deadline.isoformat(),
            },
            fields=("level", "unit_code", "resolve_deadline"),
        )
        _notify(
            case,
            "assigned",
            _("Case %(code)s assigned to you") % {"code": case.code},
            unit_codes=[unit_code],
        )
    return case


# --------------------------------------------------------------------------- departments


def do_dispatch_case(
    case: Case, *, actor, lead: Department, assisting=(), text: str = "", expected_version=None
) -> Case:
    """一键派单: one lead department and any assisting ones; the sign-for clock starts."""
    assisting = [d for d in assisting if d.pk != lead.pk]
    with transaction.atomic():
        case, from_state, unit = _step(
            case, "dispatch", actor=actor, expected_version=expected_version
        )
        now = timezone.now()
        sign_limit = (case.category.sign_limit if case.category else "") or DEFAULT_SIGN_LIMIT
        sign_deadline = _deadline(now, sign_limit)
        case.assignments.filter(active=True).update(active=False)
        Assignment.objects.bulk_create(
            [
                Assignment(
                    case=case,
                    department=department,
                    role=role,
                    state=Assignment.State.DISPATCHED,
                    dispatched_at=now,
                    sign_deadline=sign_deadline,
                )
                for department, role in [
                    (lead, Assignment.Role.LEAD),
                    *[(d, Assignment.Role.ASSIST) for d in assisting],
                ]
            ]
        )
        _record(
            case,
            "dispatch",
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=text,
            data={
                "lead": lead.code,
                "assisting": [d.code for d in assisting],
                "sign_deadline": sign_deadline.isoformat(),
            },
            fields=("resolve_deadline",),
        )
        _notify(
            case,
            "dispatched",
            _("Case %(code)s dispatched to you") % {"code": case.code},
            departments=[lead, *assisting],
        )
    return case


def do_sign_case(case: Case, *, actor, expected_version=None) -> Case:
    """签收 by the lead department: from now the department is on the clock."""
    with transaction.atomic():
        case, from_state, unit = _step(case, "sign", actor=actor, expected_version=expected_version)
        now = timezone.now()
        lead = _lead(case)
        Assignment.objects.filter(pk=lead.pk).update(state=Assignment.State.SIGNED, signed_at=now)
        on_time = lead.sign_deadline is None or now <= lead.sign_deadline
        _record(
            case, "sign", actor=actor, from_state=from_state, unit=unit, data={"on_time": on_time}
        )
    return case


def do_request_return(
    case: Case, *, actor, reason: str, text: str = "", expected_version=None
) -> Case:
    """退单: the lead department says the case is not theirs, with a reason code."""
    if reason not in RETURN_REASONS:
        raise ValidationError({"reason": _("Choose one of the return reasons.")})
    with transaction.atomic():
        case, from_state, unit = _step(
            case, "request_return", actor=actor, expected_version=expected_version
        )
        lead = _lead(case)
        if lead.forced:
            raise ActionRefused(
                _("The dispatcher already refused a return of this case: it must be handled.")
            )
        Assignment.objects.filter(pk=lead.pk).update(
            state=Assignment.State.RETURN_REQUESTED, return_reason=reason, return_text=text
        )
        _record(
            case,
            "request_return",
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=text,
            data={"reason": reason, "department": lead.department.code},
        )
        _notify(
            case,
            "return_requested",
            _("Return requested for case %(code)s") % {"code": case.code},
            unit_codes=[case.unit_code],
        )
    return case


def do_decide_return(
    case: Case, *, actor, approve: bool, text: str = "", expected_version=None
) -> Case:
    """The dispatcher approves a return (re-dispatch later) or refuses it (forced dispatch)."""
    action = "approve_return" if approve else "reject_return"
    with transaction.atomic():
        case, from_state, unit = _step(case, action, actor=actor, expected_version=expected_version)
        lead = _lead(case)
        if approve:
            case.assignments.filter(active=True).update(active=False)
            Assignment.objects.filter(pk=lead.pk).update(state=Assignment.State.RETURNED)
        else:
            Assignment.objects.filter(pk=lead.pk).update(
                state=Assignment.State.DISPATCHED, forced=True
            )
            _notify(
                case,
                "forced",
                _("Case %(code)s: return refused, please handle") % {"code": case.code},
                departments=[lead.department],
            )
        _record(
            case,
            action,
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=text,
            data={"department": lead.department.code, "reason": lead.return_reason},
        )
    return case


def do_handle_case(case: Case, *, actor, text: str = "", expected_version=None) -> Case:
    """The owning unit handles the case itself (no department)."""
    with transaction.atomic():
        case, from_state, unit = _step(
            case, "handle", actor=actor, expected_version=expected_version
        )
        case.assignments.filter(active=True).update(active=False)
        _record(case, "handle", actor=actor, from_state=from_state, unit=unit, text=text)
    return case


def do_feedback_case(case: Case, *, actor, text: str, photos=(), expected_version=None) -> Case:
    """反馈: the handler reports what was done, with evidence."""
    if not (text or "").strip():
        raise ValidationError({"text": _("Say what was done.")})
    photos = _clean_photos(photos)
    with transaction.atomic():
        case, from_state, unit = _step(
            case, "feedback", actor=actor, expected_version=expected_version
        )
        row = _record(case, "feedback", actor=actor, from_state=from_state, unit=unit, text=text)
        _save_photos(case, photos, Attachment.Kind.EVIDENCE, row)
        _notify(
            case,
            "feedback",
            _("Feedback on case %(code)s to verify") % {"code": case.code},
            unit_codes=[case.unit_code],
        )
    return case


def do_verify_case(
    case: Case, *, actor, passed: bool, text: str = "", expected_version=None
) -> Case:
    """核查: the owner checks the feedback; pass closes (结案), fail sends it back (返工)."""
    if not passed and not (text or "").strip():
        raise ValidationError({"text": _("Say what is still wrong.")})
    action = "verify_pass" if passed else "verify_fail"
    with transaction.atomic():
        case, from_state, unit = _step(case, action, actor=actor, expected_version=expected_version)
        fields = []
        if passed:
            case.closed_at = timezone.now()
            case.assignments.filter(active=True).update(state=Assignment.State.DONE)
            fields.append("closed_at")
        else:
            case.rework_count += 1
            fields.append("rework_count")
        _record(
            case,
            action,
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=text,
            fields=tuple(fields),
        )
        if passed:
            _notify_reporters(case, "closed", _("Case %(code)s is closed") % {"code": case.code})
        else:
            lead = _lead(case)
            _notify(
                case,
                "rework",
                _("Case %(code)s sent back for rework") % {"code": case.code},
                departments=[lead.department] if lead else [],
                unit_codes=[] if lead else [case.unit_code],
            )
    return case


def do_self_close_case(
    case: Case, *, actor, text: str, before_photos, after_photos, expected_version=None
) -> Case:
    """自办结: a grid or village closes on the spot what it fixed, with before/after photos."""
    if not (text or "").strip():
        raise ValidationError({"text": _("Say what was done.")})
    if not before_photos or not after_photos:
        raise ValidationError({"photos": _("Add a photo from before and one from after.")})
    before_photos, after_photos = _clean_photos(before_photos), _clean_photos(after_photos)
    with transaction.atomic():
        case, from_state, unit = _step(
            case, "self_close", actor=actor, expected_version=expected_version
        )
        if case.level not in {Level.GRID, Level.VILLAGE}:
            raise ActionRefused(_("Only a grid or a village closes cases on the spot."))
        case.closed_at = timezone.now()
        row = _record(
            case,
            "self_close",
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=text,
            fields=("closed_at",),
        )
        _save_photos(case, before_photos, Attachment.Kind.BEFORE, row)
        _save_photos(case, after_photos, Attachment.Kind.AFTER, row)
        _notify_reporters(case, "closed", _("Case %(code)s is closed") % {"code": case.code})
    return case


# --------------------------------------------------------------------------- deadlines


def do_request_extension(case: Case, *, actor, days: int, reason: str) -> ExtensionRequest:
    """延期: the handler asks for more working days before the deadline, with a reason."""
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why more time is needed.")})
    if not isinstance(days, int) or days < 1:
        raise ValidationError({"days": _("Ask for at least one working day.")})
    with transaction.atomic():
        case, from_state, unit = _step(case, "request_extension", actor=actor)
        if case.resolve_deadline is not None and timezone.now() > case.resolve_deadline:
            raise ValidationError({"days": _("Ask for an extension before the deadline passes.")})
        if case.extension_days + days > MAX_EXTENSION_DAYS:
            raise ValidationError(
                {
                    "days": _("Extensions may add up to %(max)d working days in all.")
                    % {"max": MAX_EXTENSION_DAYS}
                }
            )
        if case.extensions.filter(state=ExtensionRequest.State.PENDING).exists():
            raise ValidationError({"days": _("An extension request is already waiting.")})
        request = ExtensionRequest.objects.create(
            case=case, days=days, reason=reason, requested_by=actor, requested_at=timezone.now()
        )
        _record(
            case,
            "request_extension",
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=reason,
            data={"days": days},
        )
        _notify(
            case,
            "extension_requested",
            _("Extension requested for case %(code)s") % {"code": case.code},
            unit_codes=[case.unit_code],
        )
    return request


def do_decide_extension(
    request: ExtensionRequest, *, actor, approve: bool, text: str = ""
) -> ExtensionRequest:
    with transaction.atomic():
        case, from_state, unit = _step(request.case, "decide_extension", actor=actor)
        request = ExtensionRequest.objects.select_for_update().get(pk=request.pk)
        if request.state != ExtensionRequest.State.PENDING:
            raise ValidationError(_("This extension request was already decided."))
        request.state = (
            ExtensionRequest.State.APPROVED if approve else ExtensionRequest.State.REJECTED
        )
        request.decided_by, request.decided_at = actor, timezone.now()
        request.save(update_fields=["state", "decided_by", "decided_at"])
        fields = ()
        data = {"days": request.days, "approved": approve}
        if approve:
            # The old deadline's day counts as the day of receipt: n more working days.
            case.resolve_deadline = default_calendar().add_working_days(
                case.resolve_deadline - timedelta(microseconds=1), request.days
            )
            case.extension_days += request.days
            case.due_soon_notified_at = case.overdue_supervised_at = None
            fields = ("resolve_deadline", "extension_days", "due_soon_notified_at")
            data["deadline"] = case.resolve_deadline.isoformat()
        _record(
            case,
            "decide_extension",
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=text,
            data=data,
            fields=fields,
        )
    return request


def do_suspend_case(case: Case, *, actor, reason: str, expected_version=None) -> Case:
    """缓办: put aside with a reason (e.g. waiting for a court); excluded from on-time rates."""
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why the case is suspended.")})
    with transaction.atomic():
        case, from_state, unit = _step(
            case, "suspend", actor=actor, expected_version=expected_version
        )
        _record(case, "suspend", actor=actor, from_state=from_state, unit=unit, text=reason)
    return case


def do_resume_case(case: Case, *, actor, expected_version=None) -> Case:
    with transaction.atomic():
        case, from_state, unit = _step(
            case, "resume", actor=actor, expected_version=expected_version
        )
        _push_deadline(case, timezone.now())
        _record(
            case,
            "resume",
            actor=actor,
            from_state=from_state,
            unit=unit,
            fields=("resolve_deadline",),
        )
    return case


def do_file_case(case: Case, *, actor, reason: str, expected_version=None) -> Case:
    """备案: closed without action (e.g. already solved, or for the record only)."""
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why the case is filed without action.")})
    with transaction.atomic():
        case, from_state, unit = _step(case, "file", actor=actor, expected_version=expected_version)
        case.closed_at = timezone.now()
        _record(
            case,
            "file",
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=reason,
            fields=("closed_at",),
        )
    return case


# --------------------------------------------------------------------------- evaluation


def do_evaluate_case(
    case: Case, *, actor, satisfaction: str, comment: str = "", expected_version=None
) -> Case:
    """评价/回访: satisfied → archived; not satisfied → reopened once, then centre review."""
    if satisfaction not in SATISFACTION:
        raise ValidationError(
            {"satisfaction": _("Choose satisfied, basically satisfied or not satisfied.")}
        )
    if satisfaction != "unsatisfied":
        action = "evaluate"
    else:
        action = "reopen" if case.reopen_count == 0 else "refer_review"
    with transaction.atomic():
        case, from_state, unit = _step(case, action, actor=actor, expected_version=expected_version)
        if action == "reopen" and case.reopen_count > 0:  # changed while we waited for the lock
            raise CaseConflict(_("The case was already reopened; reload it."))
        case.satisfaction = satisfaction
        fields = ["satisfaction"]
        if action == "reopen":
            case.reopen_count += 1
            case.closed_at = None
            case.assignments.filter(active=True).update(active=False)  # a fresh dispatch
            _push_deadline(case, timezone.now())
            fields += ["reopen_count", "closed_at", "resolve_deadline"]
        _record(
            case,
            action,
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=comment,
            data={"satisfaction": satisfaction},
            fields=tuple(fields),
        )
        if action != "evaluate":
            _notify(
                case,
                action,
                _("Case %(code)s: the reporter is not satisfied") % {"code": case.code},
                unit_codes=[case.unit_code],
            )
    return case


def do_review_case(case: Case, *, actor, reopen: bool, text: str, expected_version=None) -> Case:
    if not (text or "").strip():
        raise ValidationError({"text": _("Record the review's conclusion.")})
    action = "review_reopen" if reopen else "review_archive"
    with transaction.atomic():
        case, from_state, unit = _step(case, action, actor=actor, expected_version=expected_version)
        fields = ()
        if reopen:
            case.closed_at = None
            case.assignments.filter(active=True).update(active=False)
            _push_deadline(case, timezone.now())
            fields = ("closed_at", "resolve_deadline")
        _record(
            case, action, actor=actor, from_state=from_state, unit=unit, text=text, fields=fields
        )
    return case


# --------------------------------------------------------------------------- supervision


def do_supervise_case(
    case: Case,
    *,
    actor,
    level: int,
    reason: str,
    answer_due: datetime | None = None,
) -> Supervision:
    """督办 (普通 / 黄牌 / 红牌) with a feedback sheet the handler must answer by a date."""
    if level not in {Case.Supervised.NORMAL, Case.Supervised.YELLOW, Case.Supervised.RED}:
        raise ValidationError({"level": _("Choose normal, yellow card or red card.")})
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why the case is supervised.")})
    if not can(actor, "cases.supervise", region_code=case.region_code):
        raise ActionRefused(_("You may not supervise this case."))
    with transaction.atomic():
        return _supervise(
            _lock(case, None), level=level, reason=reason, actor=actor, answer_due=answer_due
        )


def _supervise(case: Case, *, level: int, reason: str, actor, answer_due=None) -> Supervision:
    """Write a supervision on a locked case; ``actor`` None means raised by the system."""
    workflow.next_step(case.state, "supervise")
    automatic = actor is None
    now = timezone.now()
    due = answer_due or default_calendar().add_working_days(now, SUPERVISION_ANSWER_DAYS)
    supervision = Supervision.objects.create(
        case=case,
        level=level,
        reason=reason,
        automatic=automatic,
        issued_by=actor,
        issued_at=now,
        answer_due=due,
    )
    case.supervised = max(case.supervised, level)
    _record(
        case,
        "supervise",
        actor=actor,
        from_state=case.state,
        text=reason,
        data={"level": level, "automatic": automatic, "answer_due": due.isoformat()},
        fields=("supervised",),
    )
    lead = _lead(case)
    _notify(
        case,
        "supervised",
        _("Case %(code)s is supervised") % {"code": case.code},
        departments=[lead.department] if lead else [],
        unit_codes=[case.unit_code],
    )
    return supervision


def do_remind_due_soon(case: Case, *, now: datetime) -> bool:
    """The tick's reminder for a case about to be overdue, at most once per deadline.

    The claim is a conditional UPDATE, so when several nodes tick at once exactly one
    reminds; returns whether this call did.
    """
    from civicgrid.cases.selectors import due_soon_cases

    with transaction.atomic():
        claimed = (
            due_soon_cases(now)
            .filter(pk=case.pk, due_soon_notified_at__isnull=True)
            .update(due_soon_notified_at=now)
        )
        if claimed != 1:
            return False
        _notify(
            case,
            "due_soon",
            _("Case %(code)s is due soon") % {"code": case.code},
            unit_codes=[case.unit_code],
        )
    return True


def do_supervise_overdue(case: Case, *, now: datetime) -> bool:
    """The tick's automatic supervision of an overdue case, at most once per deadline."""
    from civicgrid.cases.selectors import overdue_cases

    try:
        with transaction.atomic():
            # Claim only if it is still overdue now (not extended or closed meanwhile).
            claimed = (
                overdue_cases(now)
                .filter(pk=case.pk, overdue_supervised_at__isnull=True)
                .update(overdue_supervised_at=now)
            )
            if claimed != 1:
                return False
            _supervise(
                _lock(case, None),
                level=Case.Supervised.NORMAL,
                actor=None,
                reason=_("Overdue: the resolution deadline has passed."),
            )
    except workflow.InvalidTransition:
        return False  # closed between the query and the lock: nothing to supervise
    return True


def do_answer_supervision(supervision: Supervision, *, actor, answer: str) -> Supervision:
    """The handler fills in the supervision feedback sheet (督办反馈单)."""
    if not (answer or "").strip():
        raise ValidationError({"answer": _("Write the answer to the supervision.")})
    with transaction.atomic():
        case = _lock(supervision.case, None)
        workflow.next_step(case.state, "answer_supervision")
        unit = _check_actor(case, "handler", actor)
        supervision = Supervision.objects.select_for_update().get(pk=supervision.pk)
        if supervision.answered_at is not None:
            raise ValidationError(_("This supervision was already answered."))
        supervision.answer, supervision.answered_by = answer, actor
        supervision.answered_at = timezone.now()
        supervision.save(update_fields=["answer", "answered_by", "answered_at"])
        _record(
            case,
            "answer_supervision",
            actor=actor,
            from_state=case.state,
            unit=unit,
            text=answer,
            data={
                "supervision": supervision.pk,
                "on_time": supervision.answered_at <= supervision.answer_due,
            },
        )
    return supervision


def do_instruct_case(case: Case, *, actor, text: str, required_actions: str = ""):
    """领导批示单: a leader's instruction, shown in the timeline and printable."""
    if not (text or "").strip():
        raise ValidationError({"text": _("Write the instruction.")})
    if not can(actor, "cases.instruct", region_code=case.region_code):
        raise ActionRefused(_("Only a leader may write an instruction on this case."))
    with transaction.atomic():
        case = _lock(case, None)
        workflow.next_step(case.state, "instruct")
        instruction = LeaderInstruction.objects.create(
            case=case,
            signer=actor,
            signer_name=actor.get_username(),
            text=text,
            required_actions=required_actions,
            created=timezone.now(),
        )
        _record(
            case,
            "instruct",
            actor=actor,
            from_state=case.state,
            text=text,
            data={"required_actions": required_actions},
        )
        lead = _lead(case)
        _notify(
            case,
            "instructed",
            _("Leader instruction on case %(code)s") % {"code": case.code},
            departments=[lead.department] if lead else [],
            unit_codes=[case.unit_code],
        )
    return instruction


def do_mark_hard_case(case: Case, *, actor, leader, departments=(), text: str = "") -> Case:
    """提级攻坚: a leader takes charge and several departments are assigned together."""
    if not can(actor, "cases.instruct", region_code=case.region_code):
        raise ActionRefused(_("Only a leader may make this a hard case."))
    departments = list(departments)
    if (
        leader is None
        or not leader.is_active
        or not can(leader, "cases.instruct", region_code=case.region_code)
    ):
        raise ValidationError(
            {"leader": _("The responsible leader must be a leader over this place.")}
        )
    if any(not d.active for d in departments):
        raise ValidationError({"departments": _("Choose active departments.")})
    with transaction.atomic():
        case = _lock(case, None)
        workflow.next_step(case.state, "hard_case")
        case.hard_case, case.hard_case_leader = True, leader
        now = timezone.now()
        present = set(case.assignments.filter(active=True).values_list("department_id", flat=True))
        Assignment.objects.bulk_create(
            [
                Assignment(
                    case=case,
                    department=d,
                    role=Assignment.Role.ASSIST,
                    state=Assignment.State.DISPATCHED,
                    dispatched_at=now,
                )
                for d in departments
                if d.pk not in present
            ]
        )
        _record(
            case,
            "hard_case",
            actor=actor,
            from_state=case.state,
            text=text,
            data={"leader": leader.get_username(), "departments": [d.code for d in departments]},
            fields=("hard_case", "hard_case_leader"),
        )
        _notify(
            case,
            "hard_case",
            _("Hard case %(code)s: you are assigned") % {"code": case.code},
            users=[leader],
            departments=list(departments),
        )
    return case


def do_record_side_event(
    case: Case, *, actor, action: str, text: str = "", data: dict | None = None, unit: str = ""
) -> CaseAction:
    """A timeline row for another app's side event on an open case (workflow's
    ``RECORDED_SIDE_ACTIONS``: on-call staff summoned, arrived, finished). The caller has
    checked who may act; this locks the case and records the row in the caller's transaction.
    """
    if action not in workflow.RECORDED_SIDE_ACTIONS:
        raise ValueError(f"not a recorded side action: {action}")
    with transaction.atomic():
        case = _lock(case, None)
        workflow.next_step(case.state, action)
        return _record(
            case, action, actor=actor, from_state=case.state, unit=unit, text=text, data=data
        )


def is_owner(actor, case: Case) -> bool:
    return _acts_for_owner(actor, case)


def default_duplicate_radius_m() -> float:
    return float(getattr(settings, "CASE_DUPLICATE_RADIUS_M", 150))


_CATEGORY_FIELDS = {
    "name",
    "name_en",
    "default_level",
    "department_kinds",
    "sign_limit",
    "resolve_limit_grid",
    "resolve_limit_village",
    "resolve_limit_town",
    "resolve_limit_county",
    "acceptance_criteria",
    "closing_criteria",
    "active",
}


def do_update_category(category: Category, *, actor, **changes) -> Category:
    """Edit a taxonomy node (routing, limits, criteria); validated like an import."""
    from civicgrid.core.audit import snapshot

    if set(changes) - _CATEGORY_FIELDS:
        raise ValidationError(
            _("These fields cannot be changed: %s")
            % ", ".join(sorted(set(changes) - _CATEGORY_FIELDS))
        )
    if not scope_for(actor).has("cases.configure"):
        raise ActionRefused(_("You may not change the case taxonomy."))
    errors = {}
    for field in (
        "sign_limit",
        "resolve_limit_grid",
        "resolve_limit_village",
        "resolve_limit_town",
        "resolve_limit_county",
    ):
        if changes.get(field):
            try:
                parse_limit(changes[field])
            except ValueError:
                errors[field] = [_("Write a limit like 4h (working hours) or 5d (working days).")]
    kinds = set(Department.Kind.values)
    department_kinds = changes.get("department_kinds", [])
    if not isinstance(department_kinds, list) or not all(
        isinstance(k, str) and k in kinds for k in department_kinds
    ):
        errors["department_kinds"] = [_("Unknown department kind.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        category = Category.objects.select_for_update().get(pk=category.pk)
        before = snapshot(category)
        for name, value in changes.items():
            setattr(category, name, value)
        category.save(update_fields=list(changes))
        record_event(
            "cases.category.update",
            actor=actor,
            target=category,
            before=before,
            after=snapshot(category),
        )
    return category


def do_record_joint_meeting(
    case: Case,
    *,
    actor,
    decisions: str,
    follow_ups: str = "",
    departments=(),
    held_at: datetime | None = None,
) -> JointMeeting:
    """A joint meeting on a hard case, chaired by its leader or a supervising leader."""
    if not (decisions or "").strip():
        raise ValidationError({"decisions": _("Record what the meeting decided.")})
    with transaction.atomic():
        case = _lock(case, None)
        workflow.next_step(case.state, "joint_meeting")
        if not case.hard_case:
            raise ActionRefused(_("Joint meetings are held on hard cases (提级攻坚)."))
        if actor.pk != case.hard_case_leader_id and not can(
            actor, "cases.instruct", region_code=case.region_code
        ):
            raise ActionRefused(_("Only the responsible leader records joint meetings."))
        meeting = JointMeeting.objects.create(
            case=case,
            held_at=held_at or timezone.now(),
            chaired_by=actor,
            decisions=decisions,
            follow_ups=follow_ups,
        )
        meeting.departments.set(departments)
        _record(
            case,
            "joint_meeting",
            actor=actor,
            from_state=case.state,
            text=decisions,
            data={"follow_ups": follow_ups, "departments": [d.code for d in departments]},
        )
    return meeting


def do_plan_joint_operation(
    *, actor, town_code: str, title: str, planned_for: datetime, place: str, departments, cases=()
) -> JointOperation:
    """联合执法: the township command room plans an operation with several departments."""
    if not acts_for_unit(actor, "cases.handle", {"town"}, town_code):
        raise ActionRefused(_("Only the township command room plans its joint operations."))
    departments, cases = list(departments), list(cases)
    errors = {}
    if not (title or "").strip():
        errors["title"] = [_("Give the operation a title.")]
    elif len(title) > 100:
        errors["title"] = [_("The title is longer than 100 characters.")]
    if len(place or "") > 200:
        errors["place"] = [_("The place is longer than 200 characters.")]
    if len(departments) < 2:
        errors["departments"] = [_("A joint operation needs at least two departments.")]
    if any(not c.region_code.startswith(town_code) for c in cases):
        errors["cases"] = [_("Link only cases of this township.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        operation = JointOperation.objects.create(
            town_code=town_code,
            title=title,
            planned_for=planned_for,
            place=place,
            created_by=actor,
            created=timezone.now(),
        )
        operation.departments.set(departments)
        operation.cases.set(cases)
        record_event(
            "cases.joint_operation.plan",
            actor=actor,
            target=operation,
            scope_code=town_code,
            after={"cases": [c.code for c in cases]},
        )
        _notify(
            None,
            "joint_operation",
            _("Joint operation: %(title)s") % {"title": title},
            departments=list(departments),
        )
    return operation


def do_record_joint_operation_result(
    operation: JointOperation, *, actor, results: str
) -> JointOperation:
    """Record the results; every linked case gets them as an action in its timeline."""
    if not acts_for_unit(actor, "cases.handle", {"town"}, operation.town_code):
        raise ActionRefused(_("Only the township command room records its joint operations."))
    if not (results or "").strip():
        raise ValidationError({"results": _("Record what the operation achieved.")})
    with transaction.atomic():
        operation = JointOperation.objects.select_for_update().get(pk=operation.pk)
        if operation.state == JointOperation.State.DONE:
            raise ValidationError(_("The results of this operation are already recorded."))
        operation.state, operation.results = JointOperation.State.DONE, results
        operation.save(update_fields=["state", "results"])
        for linked in operation.cases.all():
            case = _lock(linked, None)
            if case.state in workflow.OPEN_STATES:
                _record(
                    case,
                    "joint_operation",
                    actor=actor,
                    from_state=case.state,
                    text=results,
                    data={"operation": operation.pk},
                )
        record_event(
            "cases.joint_operation.result",
            actor=actor,
            target=operation,
            scope_code=operation.town_code,
            after={"results": results[:200]},
        )
    return operation


def do_mark_inbox_read(user, *, now=None) -> int:
    """Mark the user's own unread in-app notifications read (shared ones have no reader)."""
    from civicgrid.cases.models import Notification

    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.filter(
        recipient=user, channel=Notification.Channel.INBOX, read_at__isnull=True
    ).update(read_at=now or timezone.now())
