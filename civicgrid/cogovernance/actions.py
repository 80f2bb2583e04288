"""Every write of co-governance: registration, points, reversal, the annual award.

Registration is active at once (no township approval): the proven mobile number is what a
resident already needs to report, the ``co_governance`` role grants nothing more than reporting,
and points come only from reports the owning unit has accepted. A township or the county
suspends a member who abuses it (``do_suspend_member``): the role is revoked and no more points
are earned.

Points are awarded by ``on_case_action`` (connected in ``apps.py`` to
``cases.signals.case_action_recorded``), inside the case action's transaction:

* ``accept`` of a case (REPORTED → ACCEPTED): "valid report accepted", to the member who
  reported that case (its reporters whose ``original_case_code`` is the case's code);
* ``merge`` of a duplicate (→ MERGED): "duplicate confirmed", to the member who reported the
  duplicate — unless that member also reported the case it was merged into (one's own
  duplicates earn nothing);
* any step that closes the case (self-close, verification passed → CLOSED): "hazard removed",
  to the member who reported it.

Never for a rejected report; and a rejection takes back the "duplicate confirmed" points of
the duplicates merged into the rejected case. Guards against gaming: one award per member,
case and event (a unique constraint; a reopened case closed again earns nothing more); no
points for a step the member took themselves; the rule's daily and monthly caps per member
(an award that would pass a cap is cut to the room left, none when none is left; reversals do
not give room back); nothing while the member is suspended; nothing for a case found invalid.
"""

import re
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.core.audit import record_event
from civicgrid.core.errors import ActionRefused
from civicgrid.core.roles import Role
from civicgrid.core.scoping import can, forget_scope, scope_for
from civicgrid.people import pii
from civicgrid.people.actions import role_scope_code
from civicgrid.people.models import Person, RoleAssignment
from civicgrid.regions.models import Grid, Region

from .models import (
    Award,
    AwardCandidate,
    Event,
    InvalidatedReport,
    Member,
    PointEntry,
    PointRule,
)

__all__ = [
    "do_confirm_award",
    "do_exclude_candidate",
    "do_invalidate_report",
    "do_propose_award",
    "do_reactivate_member",
    "do_register_member",
    "do_suspend_member",
    "do_update_point_rule",
    "is_county_staff",
    "manages",
    "on_case_action",
    "rank_members",
]

GIG_KINDS = {Member.Kind.DELIVERY, Member.Kind.COURIER, Member.Kind.RIDE_HAILING}
_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{2,29}")
MANAGE_PERMISSION = "cases.supervise"  # township and county operators and leaders


def manages(user, region_code: str) -> bool:
    """Township and county staff (operators and leaders) manage members and their points."""
    return can(user, MANAGE_PERMISSION, region_code=region_code)


def is_county_staff(user, county_code: str) -> bool:
    """County centre staff (or an administrator): they run the annual award."""
    scope = scope_for(user)
    return scope.superuser or any(
        MANAGE_PERMISSION in g.permissions and g.prefix in {"", county_code} for g in scope.grants
    )


# --------------------------------------------------------------------------- members


def do_register_member(
    *,
    name: str,
    phone: str,
    kind: str,
    town: Region,
    grid: Grid | None = None,
    platform: str = "",
    username: str,
    password: str = "",
    password_hash: str = "",
) -> Member:
    """Register a co-governance member: a person (phone sealed), a login and the role.

    ``phone`` must already be proven by the caller (``people.actions.do_verify_phone_code``);
    the registration page does that. The member is active at once (see the module's text).
    ``password_hash`` (a ready ``make_password`` hash, instead of ``password``) is for bulk
    loading such as the demo, where hashing each password would take most of the time.
    """
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    platform = (platform or "").strip()
    username = (username or "").strip()
    if not name:
        errors["name"] = [_("A name is required.")]
    if kind not in Member.Kind.values:
        errors["kind"] = [_("Choose what kind of member you are.")]
    elif kind in GIG_KINDS and not platform:
        errors["platform"] = [_("Say which platform you work for.")]
    if town is None or town.level != Region.Level.TOWN:
        errors["town"] = [_("Choose a township.")]
    elif grid is not None and (
        grid.is_micro or not grid.active or not grid.code.startswith(town.code)
    ):
        errors["grid"] = [_("Choose a grid of the chosen township.")]
    if not _USERNAME.fullmatch(username) or re.search(r"\d{7,}", username):
        errors["username"] = [
            _(
                "3 to 30 letters, digits, dots, dashes or underscores, starting with a letter "
                "(not your phone number)."
            )
        ]
    try:
        sealed = pii.seal_phone(phone)
    except ValidationError as exc:
        errors["phone"] = exc.messages
        sealed = None
    User = get_user_model()
    if not password_hash:
        try:
            validate_password(password, User(username=username))
        except ValidationError as exc:
            errors["password"] = exc.messages
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    region_code = grid.code if grid is not None else town.code
    with transaction.atomic():
        if Member.objects.filter(phone_hash=sealed.hash).exists():
            raise ValidationError({"phone": [_("This number is already registered.")]})
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError({"username": [_("This user name is taken.")]})
        user = User.objects.create_user(username=username, password=password or None)
        if password_hash:
            user.password = password_hash
            user.save(update_fields=["password"])
        person = Person.objects.create(
            user=user,
            name=name,
            grid=grid,
            region_code=region_code,
            is_resident=kind == Member.Kind.RESIDENT,
            phone_cipher=sealed.cipher,
            phone_hash=sealed.hash,
            phone_masked=sealed.masked,
        )
        scope_code = role_scope_code(Role.CO_GOVERNANCE, region=None if grid else town, grid=grid)
        RoleAssignment.objects.create(
            person=person,
            role=Role.CO_GOVERNANCE,
            scope_code=scope_code,
            region=None if grid else town,
            grid=grid,
            since=timezone.localdate(now),
        )
        member = Member.objects.create(
            person=person,
            user=user,
            name=name,
            kind=kind,
            platform=platform[:40],
            town_code=town.code,
            grid=grid,
            region_code=region_code,
            phone_hash=sealed.hash,
            phone_masked=sealed.masked,
            joined=now,
        )
        record_event(
            "cogovernance.member.register",
            actor=None,
            target=member,
            scope_code=region_code,
            after={"kind": kind, "platform": platform, "username": username, "person": person.pk},
        )
    return member


def _set_member_state(member: Member, *, actor, state: str, reason: str) -> Member:
    if not manages(actor, member.region_code):
        raise ActionRefused(_("Only the member's township or the county can do this."))
    reason = (reason or "").strip()
    if state == Member.State.SUSPENDED and not reason:
        raise ValidationError({"reason": [_("Say why the member is suspended.")]})
    with transaction.atomic():
        member = Member.objects.select_for_update().get(pk=member.pk)
        if member.state == state:
            return member
        before = member.state
        member.state, member.state_reason = state, reason[:200]
        member.save(update_fields=["state", "state_reason"])
        RoleAssignment.objects.filter(person_id=member.person_id, role=Role.CO_GOVERNANCE).update(
            active=state == Member.State.ACTIVE
        )
        record_event(
            f"cogovernance.member.{'suspend' if state == Member.State.SUSPENDED else 'reactivate'}",
            actor=actor,
            target=member,
            scope_code=member.region_code,
            before={"state": before},
            after={"state": state, "reason": reason},
        )
    forget_scope(member.user)
    return member


def do_suspend_member(member: Member, *, actor, reason: str) -> Member:
    """Stop a member reporting and earning points (their role is revoked); the ledger stays."""
    return _set_member_state(member, actor=actor, state=Member.State.SUSPENDED, reason=reason)


def do_reactivate_member(member: Member, *, actor, reason: str = "") -> Member:
    return _set_member_state(member, actor=actor, state=Member.State.ACTIVE, reason=reason)


# --------------------------------------------------------------------------- points


def event_for(row) -> str | None:
    """Which points event a case timeline row is, if any (no database access)."""
    if row.action == "accept" and row.from_state == "reported":
        return Event.ACCEPTED
    if row.action == "merge" and row.to_state == "merged":
        return Event.DUPLICATE
    if row.to_state == "closed" and row.from_state != "closed":
        return Event.CLOSED
    return None


def on_case_action(sender, case, row, **kwargs):
    """Receiver of ``cases.signals.case_action_recorded``: award or take back points."""
    if row.action == "reject":
        _reverse_duplicates_of_rejected(case, row)
        return
    event = event_for(row)
    if event is None:
        return
    _award(case, row, event)


def _member_reporters(case, exclude_user_id=None) -> list[Member]:
    from civicgrid.cases.models import CaseReporter

    # A merged duplicate's reporters have moved to the surviving case; they keep the code
    # they reported under.
    cases = [case.pk] + ([case.merged_into_id] if case.merged_into_id else [])
    users = CaseReporter.objects.filter(
        case_id__in=cases, original_case_code=case.code, user__isnull=False
    ).values_list("user_id", flat=True)
    members = Member.objects.filter(user_id__in=users, state=Member.State.ACTIVE)
    if exclude_user_id is not None:
        members = members.exclude(user_id=exclude_user_id)
    return list(members.order_by("pk"))


def _local_bounds(moment: datetime) -> tuple[datetime, datetime, datetime, datetime]:
    zone = timezone.get_current_timezone()
    day = timezone.localtime(moment, zone).date()
    day_start = datetime.combine(day, time.min, tzinfo=zone)
    month_start = datetime.combine(day.replace(day=1), time.min, tzinfo=zone)
    next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (
        day_start,
        day_start + timedelta(days=1),
        month_start,
        datetime.combine(next_month, time.min, tzinfo=zone),
    )


def _room(member: Member, rule: PointRule, moment: datetime) -> int:
    """Points ``member`` may still earn by ``rule`` on the day and in the month of ``moment``."""
    room = rule.points
    if rule.daily_cap is None and rule.monthly_cap is None:
        return room
    day_start, day_end, month_start, month_end = _local_bounds(moment)
    earned = PointEntry.objects.filter(
        member=member,
        event=rule.event,
        reverses__isnull=True,
        effective__gte=month_start,
        effective__lt=month_end,
    ).aggregate(
        day=Sum("points", filter=Q(effective__gte=day_start, effective__lt=day_end)),
        month=Sum("points"),
    )
    if rule.daily_cap is not None:
        room = min(room, rule.daily_cap - (earned["day"] or 0))
    if rule.monthly_cap is not None:
        room = min(room, rule.monthly_cap - (earned["month"] or 0))
    return max(0, room)


def _is_invalidated(case) -> bool:
    ids = [case.pk] + ([case.merged_into_id] if case.merged_into_id else [])
    return InvalidatedReport.objects.filter(case_id__in=ids).exists()


def _award(case, row, event: str) -> None:
    members = _member_reporters(case, exclude_user_id=row.actor_id)
    if not members:
        return
    rule = PointRule.objects.filter(event=event, active=True).first()
    if rule is None or rule.points == 0 or _is_invalidated(case):
        return
    if event == Event.DUPLICATE:
        from civicgrid.cases.models import CaseReporter

        # One's own duplicates earn nothing: the member also reported the surviving case.
        own = set(
            CaseReporter.objects.filter(case_id=case.merged_into_id, user__isnull=False)
            .exclude(original_case_code=case.code)
            .values_list("user_id", flat=True)
        )
        members = [m for m in members if m.user_id not in own]
    for member in members:
        member = Member.objects.select_for_update().get(pk=member.pk)  # serialises the caps
        if PointEntry.objects.filter(
            member=member, case=case, event=event, reverses__isnull=True
        ).exists():
            continue  # one award per case and event
        points = _room(member, rule, row.created)
        if points <= 0:
            continue
        PointEntry.objects.create(
            member=member,
            points=points,
            event=event,
            rule=rule,
            case=case,
            action=row,
            region_code=member.region_code,
            effective=row.created,
            created=row.created,
        )


def _reverse(entries, *, actor, reason: str, now: datetime) -> list[PointEntry]:
    made = []
    for entry in entries:
        made.append(
            PointEntry.objects.create(
                member_id=entry.member_id,
                points=-entry.points,
                event=entry.event,
                rule_id=entry.rule_id,
                case_id=entry.case_id,
                action_id=entry.action_id,
                reverses=entry,
                reason=reason[:200],
                actor=actor if actor is not None and actor.pk else None,
                region_code=entry.region_code,
                effective=entry.effective,
                created=now,
            )
        )
    return made


def _open_awards(case_ids) -> list[PointEntry]:
    return list(
        PointEntry.objects.select_for_update(of=("self",))
        .filter(case_id__in=case_ids, reverses__isnull=True, reversed_by__isnull=True)
        .order_by("pk")
    )


def _reverse_duplicates_of_rejected(case, row) -> None:
    from civicgrid.cases.models import Case

    duplicates = list(Case.objects.filter(merged_into=case).values_list("pk", flat=True))
    if not duplicates:
        return
    entries = _open_awards(duplicates)
    if entries:
        _reverse(
            entries,
            actor=row.actor,
            reason=_("The case it duplicates (%(code)s) was rejected.") % {"code": case.code},
            now=row.created,
        )


def do_invalidate_report(case, *, actor, reason: str) -> list[PointEntry]:
    """A report found invalid after the fact: reverse every points entry it caused (and those
    of the duplicates merged into it); it earns nothing more. Township and county staff."""
    from civicgrid.cases.models import Case

    reason = (reason or "").strip()
    if not manages(actor, case.region_code):
        raise ActionRefused(_("Only the township or the county can invalidate a report."))
    if not reason:
        raise ValidationError({"reason": [_("Say why the report is invalid.")]})
    now = timezone.now()
    with transaction.atomic():
        if InvalidatedReport.objects.filter(case=case).exists():
            raise ValidationError({"reason": [_("This report was already found invalid.")]})
        InvalidatedReport.objects.create(case=case, reason=reason[:200], actor=actor, created=now)
        ids = [case.pk, *Case.objects.filter(merged_into=case).values_list("pk", flat=True)]
        reversals = _reverse(_open_awards(ids), actor=actor, reason=reason, now=now)
        record_event(
            "cogovernance.report.invalidate",
            actor=actor,
            target=case,
            scope_code=case.region_code,
            after={
                "reason": reason,
                "reversed": [r.reverses_id for r in reversals],
                "points": sum(r.points for r in reversals),
            },
        )
    return reversals


# --------------------------------------------------------------------------- the award


def year_bounds(year: int) -> tuple[datetime, datetime]:
    zone = timezone.get_current_timezone()
    return (
        datetime(year, 1, 1, tzinfo=zone),
        datetime(year + 1, 1, 1, tzinfo=zone),
    )


def rank_members(entries) -> list[dict]:
    """Members ranked by the net points of ``entries`` (only those above zero).

    Ties are broken, in order, by more accepted reports (net of reversals), then by who reached
    the total first (the earlier last entry), then by the lower member number — so the same
    ledger always gives the same order.
    """
    rows = (
        entries.values("member_id")
        .annotate(
            total=Sum("points"),
            accepted=Count(
                "id",
                filter=Q(event=Event.ACCEPTED, reverses__isnull=True, reversed_by__isnull=True),
            ),
            last=Max("effective"),
        )
        .filter(total__gt=0)
    )
    return sorted(rows, key=lambda r: (-r["total"], -r["accepted"], r["last"], r["member_id"]))


def do_propose_award(*, county_code: str, year: int, actor, size: int = 100) -> Award:
    """Rank the county's active members by their points of ``year`` and keep the ranking."""
    if not is_county_staff(actor, county_code):
        raise ActionRefused(_("Only the county centre proposes the annual award."))
    if size < 1 or size > 1000:
        raise ValidationError({"size": [_("The number of awards must be between 1 and 1,000.")]})
    now = timezone.now()
    start, end = year_bounds(year)
    if start > now:
        raise ValidationError({"year": [_("The year has not begun.")]})
    entries = PointEntry.objects.filter(
        region_code__startswith=county_code,
        effective__gte=start,
        effective__lt=end,
        member__state=Member.State.ACTIVE,
    )
    ranking = rank_members(entries)
    with transaction.atomic():
        if Award.objects.filter(county_code=county_code, year=year).exists():
            raise ValidationError({"year": [_("The award of this year is already proposed.")]})
        award = Award.objects.create(
            county_code=county_code, year=year, size=size, proposed_by=actor, proposed_at=now
        )
        AwardCandidate.objects.bulk_create(
            AwardCandidate(
                award=award,
                member_id=row["member_id"],
                rank=index,
                points=row["total"],
                accepted=row["accepted"],
                last_entry=row["last"],
            )
            for index, row in enumerate(ranking, start=1)
        )
        record_event(
            "cogovernance.award.propose",
            actor=actor,
            target=award,
            scope_code=county_code,
            after={"year": year, "size": size, "ranked": len(ranking)},
        )
    return award


def selected(award: Award):
    """The awardees: the first ``size`` candidates in rank order not excluded."""
    if award.state == Award.State.CONFIRMED:
        return award.candidates.filter(final_rank__isnull=False).order_by("final_rank")
    return award.candidates.filter(excluded_at__isnull=True).order_by("rank")[: award.size]


def do_exclude_candidate(candidate: AwardCandidate, *, actor, reason: str) -> AwardCandidate:
    """Take a candidate out of the proposal; the next in rank moves up into the list."""
    award = candidate.award
    if not is_county_staff(actor, award.county_code):
        raise ActionRefused(_("Only the county centre reviews the annual award."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the member is excluded.")]})
    with transaction.atomic():
        award = Award.objects.select_for_update().get(pk=award.pk)
        if award.state != Award.State.PROPOSED:
            raise ValidationError(_("The award is confirmed; it cannot change."))
        candidate = AwardCandidate.objects.get(pk=candidate.pk)
        if candidate.excluded:
            raise ValidationError({"reason": [_("This member is already excluded.")]})
        candidate.excluded_reason = reason[:200]
        candidate.excluded_by = actor
        candidate.excluded_at = timezone.now()
        candidate.save(update_fields=["excluded_reason", "excluded_by", "excluded_at"])
        record_event(
            "cogovernance.award.exclude",
            actor=actor,
            target=award,
            scope_code=award.county_code,
            after={"member": candidate.member_id, "rank": candidate.rank, "reason": reason},
        )
    return candidate


def do_confirm_award(award: Award, *, actor) -> Award:
    """The county confirms the list: awardees get their numbers (1 … size) and certificates."""
    if not is_county_staff(actor, award.county_code):
        raise ActionRefused(_("Only the county centre confirms the annual award."))
    with transaction.atomic():
        award = Award.objects.select_for_update().get(pk=award.pk)
        if award.state != Award.State.PROPOSED:
            raise ValidationError(_("The award is already confirmed."))
        chosen = list(selected(award))
        if not chosen:
            raise ValidationError(_("Nobody is on the list."))
        for number, candidate in enumerate(chosen, start=1):
            candidate.final_rank = number
            candidate.save(update_fields=["final_rank"])
        award.state = Award.State.CONFIRMED
        award.confirmed_by, award.confirmed_at = actor, timezone.now()
        award.save(update_fields=["state", "confirmed_by", "confirmed_at"])
        record_event(
            "cogovernance.award.confirm",
            actor=actor,
            target=award,
            scope_code=award.county_code,
            after={"awardees": [c.member_id for c in chosen]},
        )
    return award


# --------------------------------------------------------------------------- rules


def do_update_point_rule(rule: PointRule, *, actor, **changes) -> PointRule:
    """Change a rule (points, caps, active). Entries already in the ledger keep their points."""
    allowed = {"points", "daily_cap", "monthly_cap", "active"}
    if set(changes) - allowed:
        raise ValidationError(
            _("These fields cannot be changed: %s") % ", ".join(sorted(set(changes) - allowed))
        )
    if not scope_for(actor).has("cases.configure"):
        raise ActionRefused(_("Only the county centre changes the points rules."))
    for field in ("points", "daily_cap", "monthly_cap"):
        value = changes.get(field)
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ValidationError({field: [_("Enter a whole number, zero or more.")]})
    with transaction.atomic():
        rule = PointRule.objects.select_for_update().get(pk=rule.pk)
        before = {f: getattr(rule, f) for f in changes}
        for field, value in changes.items():
            setattr(rule, field, value)
        rule.save(update_fields=list(changes))
        record_event(
            "cogovernance.rule.update",
            actor=actor,
            target=rule,
            before=before,
            after={f: getattr(rule, f) for f in changes},
        )
    return rule
