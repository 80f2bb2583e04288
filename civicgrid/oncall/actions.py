"""Every write to postings and summons.

Postings are managed by those who give roles over the grid (township and county staff,
``people.assign_role``). A summons is sent by whoever acts for the unit that owns the case
(``cases.actions.is_owner``: the command room), answered by the person summoned; each step is
a ``SummonsEvent`` row and an audit event, and summoned / arrived / done are also rows on the
case's timeline (``cases.actions.do_record_side_event``). Notifications go through the cases
outbox (``cases.models.Notification``: in the app, and by SMS for the person summoned).
"""

from datetime import date

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases import workflow as case_workflow
from civicgrid.cases.actions import do_record_side_event, is_owner
from civicgrid.cases.models import Case, Notification
from civicgrid.core.audit import record_event
from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import can
from civicgrid.oncall import workflow
from civicgrid.oncall.models import StaffPosting, Summons, SummonsEvent, SummonsPhoto
from civicgrid.people.models import Department, Person, RoleAssignment
from civicgrid.regions.models import Grid

__all__ = [
    "DEPARTMENT_ROLES",
    "MAX_PHOTOS",
    "cancel_summonses_of_closed_case",
    "do_accept_summons",
    "do_arrive_summons",
    "do_cancel_summons",
    "do_decline_summons",
    "do_end_posting",
    "do_finish_summons",
    "do_post_staff",
    "do_summon",
]

DEPARTMENT_ROLES = ("dept_resident", "dept_on_call", "dept_handler")
MAX_PHOTOS = 6


def _today() -> date:
    return timezone.localdate(timezone.now())


# --------------------------------------------------------------------------- postings


def do_post_staff(
    *,
    person: Person,
    department: Department,
    grid: Grid,
    kind: str,
    actor,
    starts_on: date | None = None,
    ends_on: date | None = None,
    note: str = "",
) -> StaffPosting:
    """Post a department's staff member in a grid as resident (常驻) or on call (随叫随驻)."""
    if kind not in StaffPosting.Kind.values:
        raise ValidationError({"kind": _("Choose resident or on call.")})
    if grid.is_micro:
        raise ValidationError({"grid": _("Post staff in a grid, not a micro-grid.")})
    if not can(actor, "people.assign_role", region_code=grid.code):
        raise ActionRefused(_("Only township or county staff over this grid can post staff in it."))
    if not grid.code.startswith(department.region.code):
        raise ValidationError({"department": _("This department does not serve this grid.")})
    if not department.active:
        raise ValidationError({"department": _("This department is not active.")})
    if person.user_id is None or not person.user.is_active:
        raise ValidationError({"person": _("The staff member needs a login to be summoned.")})
    if not RoleAssignment.objects.filter(
        person=person, department=department, role__in=DEPARTMENT_ROLES, active=True
    ).exists():
        raise ValidationError({"person": _("This person does not work for this department.")})
    starts_on = starts_on or _today()
    if ends_on is not None and ends_on < starts_on:
        raise ValidationError({"ends_on": _("The end is before the start.")})
    with transaction.atomic():
        overlapping = StaffPosting.objects.select_for_update().filter(
            person=person, department=department, grid=grid
        )
        overlapping = overlapping.exclude(ends_on__lt=starts_on)
        if ends_on is not None:
            overlapping = overlapping.exclude(starts_on__gt=ends_on)
        if overlapping.exists():
            raise ValidationError(
                {"person": _("This person is already posted in this grid for this period.")}
            )
        posting = StaffPosting.objects.create(
            person=person,
            department=department,
            grid=grid,
            region_code=grid.code,
            kind=kind,
            starts_on=starts_on,
            ends_on=ends_on,
            note=(note or "").strip()[:200],
            created=timezone.now(),
            created_by=actor if actor is not None and actor.pk else None,
        )
        record_event(
            "oncall.posting.create",
            actor=actor,
            target=posting,
            scope_code=grid.code,
            after={
                "person": person.pk,
                "department": department.code,
                "grid": grid.code,
                "kind": kind,
                "starts_on": starts_on.isoformat(),
                "ends_on": ends_on.isoformat() if ends_on else None,
            },
        )
    return posting


def do_end_posting(posting: StaffPosting, *, actor, ends_on: date | None = None) -> StaffPosting:
    """End a posting (from ``ends_on``, default today); the row stays as history."""
    if not can(actor, "people.assign_role", region_code=posting.region_code):
        raise ActionRefused(_("Only township or county staff over this grid can end a posting."))
    ends_on = ends_on or _today()
    with transaction.atomic():
        posting = StaffPosting.objects.select_for_update().get(pk=posting.pk)
        if posting.ends_on is not None and posting.ends_on <= ends_on:
            raise ActionRefused(_("This posting has already ended."))
        if ends_on < posting.starts_on:
            raise ValidationError({"ends_on": _("The end is before the start.")})
        before = posting.ends_on
        posting.ends_on = ends_on
        posting.save(update_fields=["ends_on"])
        record_event(
            "oncall.posting.end",
            actor=actor,
            target=posting,
            scope_code=posting.region_code,
            before={"ends_on": before.isoformat() if before else None},
            after={"ends_on": ends_on.isoformat()},
        )
    return posting


# --------------------------------------------------------------------------- summons


def _notify_staff(summons: Summons, event: str, subject: str) -> None:
    """The person summoned hears it in the app and by SMS (the gateway reads their number)."""
    now = timezone.now()
    Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=summons.staff_id,
                channel=channel,
                case_id=summons.case_id,
                event=event,
                subject=subject[:200],
                created=now,
            )
            for channel in (Notification.Channel.INBOX, Notification.Channel.SMS)
        ]
    )


def _notify_room(summons: Summons, event: str, subject: str) -> None:
    Notification.objects.create(
        unit_code=summons.unit_code,
        channel=Notification.Channel.INBOX,
        case_id=summons.case_id,
        event=event,
        subject=subject[:200],
        created=timezone.now(),
    )


def _event(summons: Summons, action: str, from_state: str, *, actor, text: str = "") -> None:
    now = timezone.now()
    SummonsEvent.objects.create(
        summons=summons,
        action=action,
        from_state=from_state,
        to_state=summons.state,
        actor=actor if actor is not None and actor.pk else None,
        actor_name=actor.get_username() if actor is not None and actor.pk else "system",
        text=text,
        created=now,
    )
    record_event(
        f"oncall.summons.{action}",
        actor=actor,
        target=summons,
        scope_code=summons.region_code,
        before={"state": from_state} if from_state else None,
        after={"state": summons.state, "case": summons.case.code},
    )


def do_summon(case: Case, posting: StaffPosting, *, actor, request: str = "") -> Summons:
    """The command room calls one posted person of a department to the case's grid.

    One open summons per department and case at a time; after a decline (or a cancel) the
    room summons the next person. Someone who declined this case is not summoned again.
    """
    if not is_owner(actor, case):
        raise ActionRefused(_("Only the unit that owns this case can summon staff."))
    if case.grid_id is None:
        raise ActionRefused(_("Set the case's grid before summoning staff."))
    posting = StaffPosting.objects.select_related("person__user", "department").get(pk=posting.pk)
    if posting.grid_id != case.grid_id or not posting.active_on(_today()):
        raise ValidationError({"posting": _("This person is not posted in the case's grid now.")})
    person = posting.person
    if person.user_id is None or not person.user.is_active:
        raise ValidationError({"posting": _("This person has no active login.")})
    if case.state not in case_workflow.OPEN_STATES:
        raise ActionRefused(_("The case is no longer open."))
    request = (request or "").strip()[:300]
    with transaction.atomic():
        # The timeline row first: it locks the case, so two rooms cannot both summon.
        try:
            row = do_record_side_event(
                case,
                actor=actor,
                action="summon",
                text=request,
                data={
                    "staff": person.user.get_username(),
                    "department": posting.department.code,
                    "kind": posting.kind,
                },
                unit=case.unit_code,
            )
        except case_workflow.InvalidTransition:
            raise ActionRefused(_("The case is no longer open.")) from None
        taken = Summons.objects.filter(
            case=case, department=posting.department, state__in=workflow.OPEN_STATES
        )
        if taken.exists():
            raise ActionRefused(_("Someone of this department is already summoned to this case."))
        if Summons.objects.filter(case=case, staff=person.user, state=workflow.DECLINED).exists():
            raise ActionRefused(_("This person declined this case: summon the next person."))
        summons = Summons.objects.create(
            case=case,
            posting=posting,
            staff=person.user,
            staff_name=person.name,
            department=posting.department,
            grid=case.grid,
            region_code=case.grid.code,
            state=workflow.SENT,
            request=request,
            summoned_by=actor if actor is not None and actor.pk else None,
            unit_code=case.unit_code,
            sent_at=row.created,
        )
        summons.case = case
        _event(summons, "summon", "", actor=actor, text=request)
        _notify_staff(
            summons,
            "summoned",
            _("You are summoned to case %(code)s in %(grid)s")
            % {"code": case.code, "grid": case.grid.name},
        )
    return summons


def _transition(summons: Summons, action: str, *, actor, text: str = "", **stamp):
    """Lock the case, then the summons (the order every case action and the closing listener
    take them in); check the table and who may act; return (summons, from_state)."""
    case = Case.objects.select_for_update(of=("self",)).get(pk=summons.case_id)
    summons = Summons.objects.select_for_update().get(pk=summons.pk)
    summons.case = case
    step = workflow.next_step(summons.state, action)
    if step.actor == "staff":
        if actor is None or actor.pk != summons.staff_id:
            raise ActionRefused(_("Only the person summoned can answer this summons."))
    elif not is_owner(actor, summons.case):
        raise ActionRefused(_("Only the unit that owns this case can cancel a summons."))
    from_state = summons.state
    summons.state = step.next_state
    return summons, from_state


def do_accept_summons(summons: Summons, *, actor) -> Summons:
    with transaction.atomic():
        summons, from_state = _transition(summons, "accept", actor=actor)
        if summons.case.state not in case_workflow.OPEN_STATES:
            raise ActionRefused(_("The case is no longer open."))
        summons.accepted_at = timezone.now()
        summons.save(update_fields=["state", "accepted_at"])
        _event(summons, "accept", from_state, actor=actor)
    return summons


def do_decline_summons(summons: Summons, *, actor, reason: str) -> Summons:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why you cannot come.")})
    with transaction.atomic():
        summons, from_state = _transition(summons, "decline", actor=actor)
        summons.declined_at = timezone.now()
        summons.reason = reason[:300]
        summons.save(update_fields=["state", "declined_at", "reason"])
        _event(summons, "decline", from_state, actor=actor, text=reason)
        _notify_room(
            summons,
            "summons_declined",
            _("%(name)s declined the summons to case %(code)s: summon the next person")
            % {"name": summons.staff_name, "code": summons.case.code},
        )
    return summons


def _timeline(summons: Summons, action: str, *, actor, text: str, data: dict) -> None:
    """The case's timeline row; a case closed meanwhile keeps the record on the summons."""
    try:
        do_record_side_event(
            summons.case, actor=actor, action=action, text=text, data=data, unit=""
        )
    except case_workflow.InvalidTransition:
        pass


def do_arrive_summons(summons: Summons, *, actor) -> Summons:
    with transaction.atomic():
        summons, from_state = _transition(summons, "arrive", actor=actor)
        summons.arrived_at = timezone.now()
        summons.save(update_fields=["state", "arrived_at"])
        _event(summons, "arrive", from_state, actor=actor)
        _timeline(
            summons,
            "summon_arrived",
            actor=actor,
            text="",
            data={
                "summons": summons.pk,
                "department": summons.department.code,
                "minutes": round(summons.minutes_to("arrived_at") or 0),
            },
        )
    return summons


def _clean_photos(photos) -> list:
    from civicgrid.cases.photos import CleanPhoto, PhotoRejected, clean_photo

    photos = list(photos or ())
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photos": [_("At most %(n)d photos.") % {"n": MAX_PHOTOS}]})
    cleaned = []
    for photo in photos:
        if isinstance(photo, CleanPhoto):
            cleaned.append(photo)
            continue
        try:
            cleaned.append(clean_photo(photo))
        except PhotoRejected as exc:
            raise ValidationError({"photos": [str(exc)]}) from None
    return cleaned


def do_finish_summons(summons: Summons, *, actor, notes: str, photos=()) -> Summons:
    """The work record: what was done (notes), with optional photos."""
    notes = (notes or "").strip()
    if not notes:
        raise ValidationError({"notes": _("Write what you did.")})
    cleaned = _clean_photos(photos)  # before any lock: decoding is the slow part
    with transaction.atomic():
        summons, from_state = _transition(summons, "finish", actor=actor)
        summons.done_at = timezone.now()
        summons.work_notes = notes
        summons.save(update_fields=["state", "done_at", "work_notes"])
        for clean in cleaned:
            photo = SummonsPhoto(
                summons=summons,
                content_type=clean.content_type,
                sha256=clean.sha256,
                width=clean.width,
                height=clean.height,
                taken_at=clean.taken_at,
                created=summons.done_at,
            )
            photo.file.save(
                f"{summons.case.code}-s{summons.pk}-{clean.sha256[:12]}.{clean.extension}",
                ContentFile(clean.content),
                save=False,
            )
            photo.save()
        _event(summons, "finish", from_state, actor=actor, text=notes)
        _timeline(
            summons,
            "summon_done",
            actor=actor,
            text=notes,
            data={
                "summons": summons.pk,
                "department": summons.department.code,
                "photos": len(cleaned),
            },
        )
        _notify_room(
            summons,
            "summons_done",
            _("%(name)s finished the work on case %(code)s")
            % {"name": summons.staff_name, "code": summons.case.code},
        )
    return summons


def do_cancel_summons(summons: Summons, *, actor, reason: str = "") -> Summons:
    reason = (reason or "").strip()
    with transaction.atomic():
        summons, from_state = _transition(summons, "cancel", actor=actor)
        summons.cancelled_at = timezone.now()
        summons.reason = reason[:300]
        summons.save(update_fields=["state", "cancelled_at", "reason"])
        _event(summons, "cancel", from_state, actor=actor, text=reason)
        _notify_staff(
            summons,
            "summons_cancelled",
            _("The summons to case %(code)s is cancelled") % {"code": summons.case.code},
        )
    return summons


def cancel_summonses_of_closed_case(sender, *, case, row, **kwargs) -> None:
    """``case_action_recorded`` listener: a case that closes cancels the summonses not yet
    answered or on the way (those on site may still record their work)."""
    if (
        row.to_state not in case_workflow.CLOSED_STATES
        or row.from_state in case_workflow.CLOSED_STATES
    ):
        return
    pending = list(
        Summons.objects.select_for_update().filter(
            case=case, state__in=(workflow.SENT, workflow.ACCEPTED)
        )
    )
    for summons in pending:
        from_state = summons.state
        summons.state = workflow.CANCELLED
        summons.cancelled_at = row.created
        summons.reason = _("The case was closed.")
        summons.save(update_fields=["state", "cancelled_at", "reason"])
        summons.case = case
        _event(summons, "cancel", from_state, actor=None, text=summons.reason)
        _notify_staff(
            summons,
            "summons_cancelled",
            _("The summons to case %(code)s is cancelled") % {"code": case.code},
        )
