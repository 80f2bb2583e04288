"""Every write of the mediation app. A dispute action locks the dispute, checks the workflow
table and who may act, writes its rows and a ``DisputeEvent`` (the timeline) and an
``AuditEvent`` in one transaction."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicgrid.core.audit import record_event, snapshot
from civicgrid.core.calendar import default_calendar
from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import can, departments_of, scope_for
from civicgrid.mediation import rules, workflow
from civicgrid.mediation.models import (
    DISPUTE_CATEGORIES,
    Activity,
    Agreement,
    CallLog,
    Dispute,
    DisputeCodeCounter,
    DisputeEvent,
    DisputeMediator,
    FollowUp,
    JudicialConfirmation,
    LegalChannel,
    LegalHandoff,
    MediationOrg,
    MediationSession,
    Mediator,
    Outcome,
    Party,
    Performance,
    Route,
    Satisfaction,
    Scale,
    Source,
    VisitorLog,
)
from civicgrid.people import pii
from civicgrid.regions.models import Grid, Region

__all__ = [
    "DisputeConflict",
    "do_apply_confirmation",
    "do_callback_call",
    "do_close_dispute",
    "do_conclude_dispute",
    "do_extend_call_reply",
    "do_extend_dispute",
    "do_follow_up",
    "do_log_activity",
    "do_log_call",
    "do_log_visit",
    "do_record_call_satisfaction",
    "do_record_confirmation_result",
    "do_record_handoff_result",
    "do_record_performance",
    "do_record_session",
    "do_file_log_as_case",
    "do_refer_dispute",
    "do_register_dispute",
    "do_register_dispute_from_log",
    "do_remind_overdue_disputes",
    "do_reveal_party_pii",
    "do_reply_call",
    "do_route_dispute",
    "do_save_mediator",
    "do_save_org",
    "do_transfer_call",
    "centre_code",
    "is_centre",
    "is_handler",
    "log_source",
    "may_act",
    "overdue_disputes",
]

_CATEGORY_CODES = {code for code, _label in DISPUTE_CATEGORIES}
_MAX_TEXT = 4000
MAX_PARTIES = 50
CONFIRMATION_DAYS = 30  # 人民调解法 art. 33: apply within 30 days of the agreement
CALL_TRANSFER_DAYS = 1
CALL_REPLY_DAYS = 5
CALL_REPLY_MAX_DAYS = 15
CALL_CALLBACK_DAYS = 1
_OUTCOME_ACTION = {
    Outcome.AGREEMENT: "agree",
    Outcome.FAILED: "fail",
    Outcome.TERMINATED: "terminate",
    Outcome.WITHDRAWN: "withdraw",
}
_PERFORMANCE_ACTION = {"part": "perform_part", "done": "perform_done", "breach": "breach"}


class DisputeConflict(ActionRefused):
    """Someone else changed the dispute since the actor looked at it."""


# --------------------------------------------------------------------------- who may act


def is_centre(actor, dispute: Dispute) -> bool:
    return can(actor, "mediation.route", region_code=dispute.region_code)


def is_handler(actor, dispute: Dispute) -> bool:
    """An assigned mediator, the department it was routed to, or the centre mediating itself."""
    if actor is None or not actor.is_authenticated:
        return False
    scope = scope_for(actor)
    if scope.superuser:
        return True
    if dispute.route == Route.CENTRE and is_centre(actor, dispute):
        return True
    if not scope.has("mediation.mediate"):
        return False
    if dispute.department_id and dispute.department_id in departments_of(
        actor, "mediation.mediate"
    ):
        return True
    return DisputeMediator.objects.filter(
        dispute=dispute, active=True, mediator__user=actor
    ).exists()


def _allowed(who: str, actor, dispute: Dispute) -> bool:
    if who == "centre":
        return is_centre(actor, dispute)
    if who == "handler":
        return is_handler(actor, dispute)
    return is_centre(actor, dispute) or is_handler(actor, dispute)


def may_act(actor, dispute: Dispute, action: str) -> bool:
    """Reads only: may ``actor`` take ``action`` now (the page shows just these)."""
    step = workflow.TRANSITIONS.get((dispute.state, action))
    return step is not None and _allowed(step.actor, actor, dispute)


_REFUSALS = {
    "centre": gettext_lazy("Only the mediation centre of this area can do this."),
    "handler": gettext_lazy("Only the mediators of this dispute can do this."),
    "either": gettext_lazy("Only the centre or the mediators of this dispute can do this."),
}


# --------------------------------------------------------------------------- the core step


def _lock(dispute: Dispute, expected_version: int | None) -> Dispute:
    locked = Dispute.objects.select_for_update(of=("self",)).get(pk=dispute.pk)
    if expected_version is not None and locked.version != expected_version:
        raise DisputeConflict(
            _("Someone else changed dispute %(code)s a moment ago. Reload it and try again.")
            % {"code": locked.code}
        )
    return locked


def _step(dispute: Dispute, action: str, *, actor, expected_version=None):
    dispute = _lock(dispute, expected_version)
    step = workflow.next_step(dispute.state, action)
    if not _allowed(step.actor, actor, dispute):
        raise ActionRefused(_REFUSALS[step.actor])
    from_state = dispute.state
    dispute.state = step.next_state
    return dispute, from_state


def _record(
    dispute: Dispute,
    action: str,
    *,
    actor,
    from_state: str,
    text: str = "",
    data: dict | None = None,
    fields: tuple[str, ...] = (),
) -> DisputeEvent:
    dispute.version += 1
    dispute.save(update_fields=sorted({"state", "version", "updated", *fields}))
    named = actor is not None and actor.pk
    row = DisputeEvent.objects.create(
        dispute=dispute,
        action=action,
        actor=actor if named else None,
        actor_name=actor.get_username() if named else "system",
        from_state=from_state,
        to_state=dispute.state,
        text=text,
        data=data or {},
        created=timezone.now(),
    )
    record_event(
        f"mediation.dispute.{action}",
        actor=actor,
        target=dispute,
        scope_code=dispute.region_code,
        before={"state": from_state},
        after={"state": dispute.state, **(data or {})},
    )
    return row


def _text(value, field: str, *, required: bool = False, limit: int = _MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: _("This field is required.")})
    if len(value) > limit:
        raise ValidationError({field: _("At most %(n)s characters.") % {"n": f"{limit:,}"}})
    return value


def _decimal(value, field: str) -> Decimal:
    try:
        number = Decimal(str(value if value not in (None, "") else 0))
    except InvalidOperation:
        raise ValidationError({field: _("Enter an amount in yuan.")}) from None
    if not number.is_finite() or number < 0 or number >= Decimal("1e12"):
        raise ValidationError({field: _("Enter an amount in yuan.")})
    return number.quantize(Decimal("0.01"))


# --------------------------------------------------------------------------- registration


def _next_code(county_code: str, now: datetime) -> str:
    """一案一码: MD-<county>-<date>-<sequence>, readable, unique and sortable by day."""
    prefix = f"MD-{county_code}-{timezone.localtime(now):%Y%m%d}"
    counter, _created = DisputeCodeCounter.objects.select_for_update().get_or_create(prefix=prefix)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{prefix}-{counter.last:05d}"


def _clean_parties(parties) -> list[Party]:
    if not isinstance(parties, (list, tuple)) or not parties:
        raise ValidationError({"parties": _("Name the applicant and the respondent.")})
    if len(parties) > MAX_PARTIES:
        raise ValidationError({"parties": _("At most 50 parties.")})
    rows, errors = [], []
    for i, raw in enumerate(parties, start=1):
        role = raw.get("role") or ""
        kind = raw.get("kind") or Party.Kind.NATURAL
        name = (raw.get("name") or "").strip()
        if role not in Party.Role.values or kind not in Party.Kind.values:
            errors.append(_("Party %(n)s: choose a role and a kind.") % {"n": i})
            continue
        if not name or len(name) > 100:
            errors.append(_("Party %(n)s: give a name of at most 100 characters.") % {"n": i})
            continue
        party = Party(
            role=role,
            kind=kind,
            name=name,
            address=(raw.get("address") or "").strip()[:200],
            credit_code=(raw.get("credit_code") or "").strip().upper()[:18],
        )
        try:
            if raw.get("id_number"):
                if kind != Party.Kind.NATURAL:
                    raise ValidationError(_("Only a natural person has an ID number."))
                sealed = pii.seal_id_number(raw["id_number"])
                party.id_number_cipher, party.id_number_hash = sealed.cipher, sealed.hash
                party.id_number_masked = sealed.masked
            if raw.get("phone"):
                sealed = pii.seal_phone(raw["phone"])
                party.phone_cipher, party.phone_hash = sealed.cipher, sealed.hash
                party.phone_masked = sealed.masked
        except ValidationError as exc:
            errors.append(_("Party %(n)s: %(error)s") % {"n": i, "error": " ".join(exc.messages)})
            continue
        party.match_key = _match_key(party)
        rows.append(party)
    if not errors:
        roles = {p.role for p in rows}
        if Party.Role.APPLICANT not in roles or Party.Role.RESPONDENT not in roles:
            errors.append(_("A dispute needs at least one applicant and one respondent."))
    if errors:
        raise ValidationError({"parties": errors})
    return rows


def _match_key(party: Party) -> str:
    """How a party is recognised in another dispute: ID number, else phone, else (for a legal
    person or organisation) its credit code or name. A natural person with neither an ID nor
    a phone number is not matched (names alone are too common)."""
    if party.id_number_hash:
        return f"id:{party.id_number_hash}"
    if party.phone_hash:
        return f"phone:{party.phone_hash}"
    if party.kind != Party.Kind.NATURAL:
        return f"org:{party.credit_code or party.name}"[:80]
    return ""


def _related_open(parties: list[Party]) -> Dispute | None:
    """An open dispute with the same parties: it shares two parties with the new one, or the
    new one's only recognisable party."""
    keys = {p.match_key for p in parties if p.match_key}
    if not keys:
        return None
    need = 1 if len(keys) == 1 else 2
    hit = (
        Party.objects.filter(match_key__in=keys, dispute__state__in=workflow.OPEN_STATES)
        .values("dispute_id")
        .annotate(n=Count("match_key", distinct=True))
        .filter(n__gte=need)
        .order_by("-dispute_id")
        .first()
    )
    return Dispute.objects.get(pk=hit["dispute_id"]) if hit else None


def _place(*, lat, lng, grid, region, source_case) -> tuple[Grid | None, str, float, float]:
    if lat not in (None, "") or lng not in (None, ""):
        try:
            lat, lng = float(lat), float(lng)
        except (TypeError, ValueError):
            raise ValidationError(
                {"location": _("The location is not a pair of numbers.")}
            ) from None
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise ValidationError(
                {"location": _("The location is outside the earth's coordinates.")}
            )
        from civicgrid.regions.selectors import locate_grid

        code, _micro = locate_grid(lat, lng)
        if code is None:
            raise ValidationError(
                {"location": _("This place is not inside any grid of the county.")}
            )
        grid = Grid.objects.get(code=code)
    else:
        lat = lng = None
    if grid is None and region is None and source_case is not None:
        grid = source_case.grid
        if grid is None:
            region = Region.objects.filter(code=source_case.region_code).first()
    if grid is not None:
        return grid, grid.code, lat, lng
    if region is not None:
        return None, region.code, lat, lng
    raise ValidationError({"location": _("Give the place: a point on the map, a grid or an area.")})


def do_register_dispute(
    *,
    actor,
    title: str,
    description: str,
    category: str,
    source: str,
    parties,
    amount=0,
    people_involved: int | None = None,
    scale: str = Scale.ORDINARY,
    threats: bool = False,
    petitions: int = 0,
    occurred_on: date | None = None,
    address: str = "",
    lat=None,
    lng=None,
    grid: Grid | None = None,
    region: Region | None = None,
    source_case=None,
    created: datetime | None = None,
) -> Dispute:
    """登记: one door for every source. Computes the risk, places it in a grid, starts the
    one-month clock and flags an open dispute with the same parties."""
    errors = {}
    try:
        title = _text(title, "title", required=True, limit=100)
        description = _text(description, "description", required=True)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if category not in _CATEGORY_CODES:
        errors["category"] = [_("Choose a dispute category.")]
    if source not in Source.values:
        errors["source"] = [_("Choose where the dispute came from.")]
    if scale not in Scale.values:
        errors["scale"] = [_("Choose a scale.")]
    try:
        amount = _decimal(amount, "amount")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        petitions = int(petitions or 0)
        if petitions < 0 or petitions > 1000:
            raise ValueError
    except (TypeError, ValueError):
        errors["petitions"] = [_("Enter a number of petitions.")]
    try:
        rows = _clean_parties(parties)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        rows = []
    try:
        people_involved = int(people_involved if people_involved not in (None, "") else 0)
        if people_involved < 0 or people_involved > 1_000_000:
            raise ValueError
    except (TypeError, ValueError):
        errors["people_involved"] = [_("Enter a number of people.")]
        people_involved = 0
    try:
        grid, region_code, lat, lng = _place(
            lat=lat, lng=lng, grid=grid, region=region, source_case=source_case
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
        region_code = ""
    if errors:
        raise ValidationError(errors)
    if not can(actor, "mediation.register", region_code=region_code):
        raise ActionRefused(_("You may not register disputes in this area."))
    if source_case is not None and not can(
        actor, "cases.view", region_code=source_case.region_code
    ):
        raise ActionRefused(_("You may not link this case."))
    people_involved = max(people_involved, len(rows))
    now = created or timezone.now()
    dispute = Dispute(
        state=workflow.REGISTERED,
        title=title,
        description=description,
        category=category,
        source=source,
        source_case=source_case,
        occurred_on=occurred_on,
        amount=amount,
        people_involved=people_involved,
        scale=scale,
        threats=bool(threats),
        petitions=petitions,
        address=(address or "").strip()[:200],
        lat=lat,
        lng=lng,
        grid=grid,
        region_code=region_code,
        registered_by=actor if actor is not None and actor.pk else None,
        deadline=rules.mediation_deadline(now),
        created=now,
    )
    dispute.risk_level, dispute.risk_reasons = rules.assess_risk(dispute)
    with transaction.atomic():
        dispute.code = _next_code(region_code[:6], now)
        dispute.related_open = _related_open(rows)
        dispute.save()
        for party in rows:
            party.dispute = dispute
        Party.objects.bulk_create(rows)
        data = {"risk": dispute.risk_level, "deadline": dispute.deadline.isoformat()}
        if dispute.related_open_id:
            data["related_open"] = dispute.related_open.code
        DisputeEvent.objects.create(
            dispute=dispute,
            action="register",
            actor=actor if actor is not None and actor.pk else None,
            actor_name=actor.get_username() if actor is not None and actor.pk else "system",
            from_state="",
            to_state=dispute.state,
            data=data,
            created=now,
        )
        record_event(
            "mediation.dispute.register",
            actor=actor,
            target=dispute,
            scope_code=region_code,
            after={"state": dispute.state, "category": category, "source": source, **data},
        )
    return dispute


# --------------------------------------------------------------------------- routing


def _load(org: MediationOrg) -> int:
    return Dispute.objects.filter(org=org, state__in=workflow.OPEN_STATES).count()


def route_candidates(dispute: Dispute, route: str) -> list[MediationOrg]:
    """The organisations that can take ``dispute`` on ``route``, best first.

    An organisation fits when it is of the route's kind, serves the dispute's place (its
    area code is a prefix of the dispute's) and takes the category (no specialities: all).
    A committee route prefers the village committee over the township's. Among the fitting
    ones the least loaded (open disputes per capacity) comes first, then the code. Each
    carries ``load`` (open disputes).
    """
    kinds = {
        Route.CENTRE: [MediationOrg.Kind.CENTRE],
        Route.COMMITTEE: [MediationOrg.Kind.COMMITTEE_VILLAGE, MediationOrg.Kind.COMMITTEE_TOWN],
        Route.STUDIO: [MediationOrg.Kind.STUDIO],
        Route.TRADE: [MediationOrg.Kind.TRADE],
    }.get(route, [])
    code = dispute.region_code
    prefixes = [code[:n] for n in (6, 9, 12, 15) if n <= len(code)]
    orgs = [
        org
        for org in MediationOrg.objects.filter(
            kind__in=kinds, active=True, region_code__in=prefixes
        )
        if not org.specialities or dispute.category in org.specialities
    ]
    loads = dict(
        Dispute.objects.filter(org__in=orgs, state__in=workflow.OPEN_STATES)
        .values_list("org_id")
        .annotate(n=Count("id"))
    )
    for org in orgs:
        org.load = loads.get(org.pk, 0)
    rank = {kind: i for i, kind in enumerate(kinds)}
    orgs.sort(key=lambda o: (rank[o.kind], o.load / max(o.capacity, 1), o.code))
    return orgs


def _pick_mediators(org: MediationOrg, dispute: Dispute) -> list[Mediator]:
    """The org's least-loaded active mediator, preferring those with the category."""
    mediators = list(org.mediators.filter(active=True))
    if not mediators:
        return []
    loads = dict(
        DisputeMediator.objects.filter(
            mediator__in=mediators, active=True, dispute__state__in=workflow.OPEN_STATES
        )
        .values_list("mediator_id")
        .annotate(n=Count("id"))
    )
    mediators.sort(
        key=lambda m: (dispute.category not in (m.specialities or []), loads.get(m.pk, 0), m.pk)
    )
    return mediators[:1]


def do_route_dispute(
    dispute: Dispute,
    *,
    actor,
    route: str,
    org: MediationOrg | None = None,
    department=None,
    mediators=(),
    note: str = "",
    expected_version: int | None = None,
) -> Dispute:
    """分流: the centre sends the dispute to be mediated — at the centre, by a committee, a
    studio or a trade mediator (chosen by category and load unless named), or a resident
    department. A legal channel is ``do_refer_dispute``."""
    if route not in Route.values or route == Route.LEGAL:
        raise ValidationError({"route": _("Choose a route.")})
    note = _text(note, "note")
    with transaction.atomic():
        dispute = _lock(dispute, expected_version)
        action = "reroute" if dispute.state == workflow.ROUTED else "route"
        dispute, from_state = _step(dispute, action, actor=actor)
        if route == Route.DEPARTMENT:
            if department is None:
                raise ValidationError({"department": _("Choose the department.")})
            if not dispute.region_code.startswith(department.region.code):
                raise ValidationError(
                    {"department": _("This department does not serve the dispute's place.")}
                )
            org = None
        else:
            department = None
            candidates = route_candidates(dispute, route)
            if org is None:
                if not candidates:
                    raise ValidationError(
                        {"org": _("No organisation of this kind takes this dispute here.")}
                    )
                org = candidates[0]
            elif org.pk not in {c.pk for c in candidates}:
                raise ValidationError(
                    {"org": _("This organisation does not take this dispute here.")}
                )
        mediators = list(mediators)
        if org is not None:
            if any(m.org_id != org.pk or not m.active for m in mediators):
                raise ValidationError(
                    {"mediators": _("Choose active mediators of the organisation.")}
                )
            if not mediators:
                mediators = _pick_mediators(org, dispute)
        elif mediators:
            raise ValidationError({"mediators": _("A department route has no mediators.")})
        now = timezone.now()
        DisputeMediator.objects.filter(dispute=dispute, active=True).update(active=False)
        DisputeMediator.objects.bulk_create(
            [
                DisputeMediator(dispute=dispute, mediator=m, lead=(i == 0), created=now)
                for i, m in enumerate(mediators)
            ]
        )
        dispute.route, dispute.org, dispute.department = route, org, department
        dispute.legal_channel = ""
        _record(
            dispute,
            action,
            actor=actor,
            from_state=from_state,
            text=note,
            data={
                "route": route,
                "org": org.code if org else "",
                "department": department.code if department else "",
                "mediators": [m.name for m in mediators],
            },
            fields=("route", "org", "department", "legal_channel"),
        )
    return dispute


def do_refer_dispute(
    dispute: Dispute,
    *,
    actor,
    channel: str,
    receiving_unit: str,
    note: str = "",
    expected_version: int | None = None,
) -> LegalHandoff:
    """诉调/警调/访调对接, labour arbitration, administrative review: the hand-off is recorded
    and the dispute runs on that procedure's statutory clock."""
    if channel not in LegalChannel.values:
        raise ValidationError({"channel": _("Choose a legal channel.")})
    receiving_unit = _text(receiving_unit, "receiving_unit", required=True, limit=100)
    note = _text(note, "note")
    with transaction.atomic():
        dispute, from_state = _step(
            dispute, "refer", actor=actor, expected_version=expected_version
        )
        now = timezone.now()
        handoff = LegalHandoff.objects.create(
            dispute=dispute,
            channel=channel,
            receiving_unit=receiving_unit,
            note=note,
            deadline=rules.legal_deadline(channel, now),
            created=now,
        )
        DisputeMediator.objects.filter(dispute=dispute, active=True).update(active=False)
        dispute.route, dispute.legal_channel = Route.LEGAL, channel
        dispute.deadline = handoff.deadline
        _record(
            dispute,
            "refer",
            actor=actor,
            from_state=from_state,
            text=note,
            data={
                "channel": channel,
                "receiving_unit": receiving_unit,
                "deadline": handoff.deadline.isoformat(),
            },
            fields=("route", "legal_channel", "deadline"),
        )
    return handoff


def do_record_handoff_result(
    dispute: Dispute, *, actor, resolved: bool, result: str, expected_version=None
) -> LegalHandoff:
    """The legal channel reported back: resolved there or not, and how."""
    result = _text(result, "result", required=True)
    with transaction.atomic():
        dispute, from_state = _step(
            dispute, "handoff_result", actor=actor, expected_version=expected_version
        )
        handoff = dispute.handoffs.order_by("-created", "-id").first()
        handoff.result, handoff.resolved, handoff.result_at = result, bool(resolved), timezone.now()
        handoff.save(update_fields=["result", "resolved", "result_at"])
        _record(
            dispute,
            "handoff_result",
            actor=actor,
            from_state=from_state,
            text=result,
            data={"resolved": bool(resolved)},
        )
    return handoff


# --------------------------------------------------------------------------- mediation


def do_record_session(
    dispute: Dispute,
    *,
    actor,
    held_at: datetime,
    place: str,
    mediators=(),
    attendees: str = "",
    notes: str = "",
    expected_version=None,
) -> MediationSession:
    """A mediation session; the first one starts the mediation."""
    place = _text(place, "place", required=True, limit=100)
    attendees, notes = _text(attendees, "attendees"), _text(notes, "notes")
    if not isinstance(held_at, datetime) or timezone.is_naive(held_at):
        raise ValidationError({"held_at": _("Give the date and time of the session.")})
    if held_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"held_at": _("A session is recorded after it was held.")})
    with transaction.atomic():
        dispute, from_state = _step(
            dispute, "session", actor=actor, expected_version=expected_version
        )
        if held_at < dispute.created - timedelta(days=1):
            raise ValidationError(
                {"held_at": _("The session is before the dispute was registered.")}
            )
        mediators = list(mediators) or [
            a.mediator for a in dispute.assignments.filter(active=True).select_related("mediator")
        ]
        session = MediationSession.objects.create(
            dispute=dispute,
            held_at=held_at,
            place=place,
            attendees=attendees,
            notes=notes,
            recorded_by=actor if actor is not None and actor.pk else None,
            created=timezone.now(),
        )
        session.mediators.set(mediators)
        _record(
            dispute,
            "session",
            actor=actor,
            from_state=from_state,
            text=notes,
            data={"held_at": held_at.isoformat(), "place": place, "session": session.pk},
        )
    return session


def do_extend_dispute(dispute: Dispute, *, actor, days: int, reason: str, expected_version=None):
    """延长调解期限 with the parties' consent: at most 30 days in all, asked before the limit."""
    reason = _text(reason, "reason", required=True, limit=500)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValidationError({"days": _("Give a number of days.")})
    with transaction.atomic():
        dispute, from_state = _step(
            dispute, "extend", actor=actor, expected_version=expected_version
        )
        if dispute.extension_days + days > rules.MAX_EXTENSION_DAYS:
            raise ValidationError(
                {
                    "days": _("At most %(n)s days of extension in all.")
                    % {"n": rules.MAX_EXTENSION_DAYS}
                }
            )
        if dispute.deadline is not None and timezone.now() > dispute.deadline:
            raise ValidationError({"days": _("Extend before the time limit passes.")})
        dispute.extension_days += days
        dispute.deadline = rules.mediation_deadline(dispute.created, dispute.extension_days)
        _record(
            dispute,
            "extend",
            actor=actor,
            from_state=from_state,
            text=reason,
            data={"days": days, "deadline": dispute.deadline.isoformat()},
            fields=("extension_days", "deadline"),
        )
    return dispute


def _clean_terms(terms) -> list[str]:
    if isinstance(terms, str):
        terms = terms.splitlines()
    items = [str(t).strip() for t in (terms or []) if str(t).strip()]
    if not items:
        raise ValidationError({"terms": _("Write the terms of the agreement, one per line.")})
    if len(items) > 50 or any(len(t) > 1000 for t in items):
        raise ValidationError({"terms": _("At most 50 terms of at most 1,000 characters each.")})
    return items


def do_conclude_dispute(
    dispute: Dispute,
    *,
    actor,
    outcome: str,
    note: str = "",
    terms=(),
    amount=0,
    perform_by: date | None = None,
    signed_on: date | None = None,
    expected_version=None,
) -> Dispute:
    """The outcome: agreement (with its terms), failed, terminated or withdrawn.

    An agreement or a failure needs at least one session; an agreement without anything to
    perform later (no amount, no date) is performed at once.
    """
    if outcome not in Outcome.values:
        raise ValidationError({"outcome": _("Choose an outcome.")})
    note = _text(note, "note")
    if outcome == Outcome.AGREEMENT:
        terms = _clean_terms(terms)
        amount = _decimal(amount, "amount")
    action = _OUTCOME_ACTION[outcome]
    with transaction.atomic():
        dispute, from_state = _step(dispute, action, actor=actor, expected_version=expected_version)
        if outcome in (Outcome.AGREEMENT, Outcome.FAILED) and not dispute.sessions.exists():
            raise ValidationError({"outcome": _("Record a mediation session first.")})
        now = timezone.now()
        data = {"outcome": outcome}
        if outcome == Outcome.AGREEMENT:
            signed_on = signed_on or timezone.localdate(now)
            if perform_by is not None and perform_by < signed_on:
                raise ValidationError({"perform_by": _("The date is before the agreement.")})
            Agreement.objects.create(
                dispute=dispute,
                terms=terms,
                amount=amount,
                perform_by=perform_by,
                signed_on=signed_on,
                created=now,
            )
            data.update({"terms": len(terms), "amount": str(amount)})
        dispute.outcome, dispute.outcome_note, dispute.concluded_at = outcome, note, now
        _record(
            dispute,
            action,
            actor=actor,
            from_state=from_state,
            text=note,
            data=data,
            fields=("outcome", "outcome_note", "concluded_at"),
        )
    return dispute


def do_apply_confirmation(
    dispute: Dispute, *, actor, court: str, applied_on: date | None = None, expected_version=None
) -> JudicialConfirmation:
    """司法确认 application: within 30 days of the agreement taking effect (人民调解法 art. 33)."""
    court = _text(court, "court", required=True, limit=100)
    with transaction.atomic():
        dispute, from_state = _step(
            dispute, "apply_confirmation", actor=actor, expected_version=expected_version
        )
        applied_on = applied_on or timezone.localdate()
        agreement = dispute.agreement
        if hasattr(dispute, "confirmation"):
            raise ValidationError({"court": _("Judicial confirmation was already applied for.")})
        if applied_on < agreement.signed_on:
            raise ValidationError({"applied_on": _("The date is before the agreement.")})
        if applied_on > agreement.signed_on + timedelta(days=CONFIRMATION_DAYS):
            raise ValidationError(
                {
                    "applied_on": _(
                        "Judicial confirmation is applied for within 30 days of the agreement."
                    )
                }
            )
        confirmation = JudicialConfirmation.objects.create(
            dispute=dispute, court=court, applied_on=applied_on
        )
        _record(
            dispute,
            "apply_confirmation",
            actor=actor,
            from_state=from_state,
            data={"court": court, "applied_on": applied_on.isoformat()},
        )
    return confirmation


def do_record_confirmation_result(
    dispute: Dispute,
    *,
    actor,
    result: str,
    result_on: date | None = None,
    note: str = "",
    expected_version=None,
) -> JudicialConfirmation:
    if result not in {JudicialConfirmation.Result.CONFIRMED, JudicialConfirmation.Result.REJECTED}:
        raise ValidationError({"result": _("Choose confirmed or rejected.")})
    note = _text(note, "note", limit=200)
    with transaction.atomic():
        dispute, from_state = _step(
            dispute, "confirmation_result", actor=actor, expected_version=expected_version
        )
        confirmation = JudicialConfirmation.objects.filter(dispute=dispute).first()
        if confirmation is None or confirmation.result != JudicialConfirmation.Result.PENDING:
            raise ValidationError({"result": _("No application is waiting for a result.")})
        confirmation.result = result
        confirmation.result_on = result_on or timezone.localdate()
        confirmation.note = note
        confirmation.save(update_fields=["result", "result_on", "note"])
        _record(
            dispute,
            "confirmation_result",
            actor=actor,
            from_state=from_state,
            data={"result": result},
        )
    return confirmation


def do_record_performance(
    dispute: Dispute,
    *,
    actor,
    kind: str,
    amount_paid=0,
    note: str = "",
    expected_version=None,
) -> Performance:
    """履行: part performed, fully performed, or not performed (the parties may then go to
    court; the centre can refer it)."""
    if kind not in _PERFORMANCE_ACTION:
        raise ValidationError({"kind": _("Choose how the agreement was performed.")})
    amount_paid = _decimal(amount_paid, "amount_paid")
    note = _text(note, "note", limit=500)
    with transaction.atomic():
        dispute, from_state = _step(
            dispute, _PERFORMANCE_ACTION[kind], actor=actor, expected_version=expected_version
        )
        row = Performance.objects.create(
            dispute=dispute, kind=kind, amount_paid=amount_paid, note=note, created=timezone.now()
        )
        _record(
            dispute,
            _PERFORMANCE_ACTION[kind],
            actor=actor,
            from_state=from_state,
            text=note,
            data={"amount_paid": str(amount_paid)},
        )
    return row


def do_follow_up(
    dispute: Dispute, *, actor, satisfaction: str, note: str = "", expected_version=None
) -> FollowUp:
    """回访: the parties asked how it ended for them."""
    if satisfaction not in Satisfaction.values:
        raise ValidationError({"satisfaction": _("Choose the parties' satisfaction.")})
    note = _text(note, "note")
    with transaction.atomic():
        dispute, from_state = _step(
            dispute, "follow_up", actor=actor, expected_version=expected_version
        )
        row = FollowUp.objects.create(
            dispute=dispute,
            satisfaction=satisfaction,
            note=note,
            by=actor if actor is not None and actor.pk else None,
            created=timezone.now(),
        )
        dispute.satisfaction = satisfaction
        _record(
            dispute,
            "follow_up",
            actor=actor,
            from_state=from_state,
            text=note,
            data={"satisfaction": satisfaction},
            fields=("satisfaction",),
        )
    return row


def do_close_dispute(dispute: Dispute, *, actor, note: str = "", expected_version=None) -> Dispute:
    """结案 (案结事了)."""
    note = _text(note, "note")
    with transaction.atomic():
        dispute, from_state = _step(
            dispute, "close", actor=actor, expected_version=expected_version
        )
        dispute.closed_at = timezone.now()
        _record(
            dispute, "close", actor=actor, from_state=from_state, text=note, fields=("closed_at",)
        )
    return dispute


# --------------------------------------------------------------------------- registry


def _require_configure(actor, region_code: str) -> None:
    if not can(actor, "mediation.configure", region_code=region_code):
        raise ActionRefused(_("You may not change the mediation registry here."))


def _clean_specialities(value) -> list[str]:
    value = list(value or [])
    if any(code not in _CATEGORY_CODES for code in value):
        raise ValidationError({"specialities": _("Unknown dispute category.")})
    return sorted(set(value))


def do_save_org(
    *,
    actor,
    code: str,
    name: str,
    kind: str,
    region_code: str,
    specialities=(),
    capacity: int = 20,
    active: bool = True,
) -> MediationOrg:
    """Create or change a mediation organisation (county centre)."""
    _require_configure(actor, region_code)
    if kind not in MediationOrg.Kind.values:
        raise ValidationError({"kind": _("Choose a kind.")})
    if (
        not Region.objects.filter(code=region_code).exists()
        and not Grid.objects.filter(code=region_code).exists()
    ):
        raise ValidationError({"region_code": _("Unknown area.")})
    code = _text(code, "code", required=True, limit=32)
    name = _text(name, "name", required=True, limit=100)
    specialities = _clean_specialities(specialities)
    with transaction.atomic():
        org = MediationOrg.objects.select_for_update().filter(code=code).first()
        if org is not None:
            _require_configure(actor, org.region_code)  # moving one needs both places
        before = snapshot(org) if org else None
        org = org or MediationOrg(code=code)
        org.name, org.kind, org.region_code = name, kind, region_code
        org.specialities, org.capacity, org.active = specialities, max(int(capacity), 1), active
        org.save()
        record_event(
            "mediation.org.save",
            actor=actor,
            target=org,
            scope_code=region_code,
            before=before,
            after=snapshot(org),
        )
    return org


def do_save_mediator(
    *,
    actor,
    org: MediationOrg,
    name: str,
    kind: str,
    specialities=(),
    region_code: str = "",
    user=None,
    active: bool = True,
    mediator: Mediator | None = None,
) -> Mediator:
    region_code = region_code or org.region_code
    _require_configure(actor, region_code)
    if mediator is not None and mediator.pk:
        _require_configure(actor, mediator.region_code)
    if (
        user is not None
        and Mediator.objects.filter(user=user).exclude(pk=getattr(mediator, "pk", None)).exists()
    ):
        raise ValidationError({"user": _("This login already belongs to another mediator.")})
    if kind not in Mediator.Kind.values:
        raise ValidationError({"kind": _("Choose a kind.")})
    if not region_code.startswith(org.region_code[:6]):
        raise ValidationError({"region_code": _("The area is outside the organisation's county.")})
    name = _text(name, "name", required=True, limit=50)
    specialities = _clean_specialities(specialities)
    with transaction.atomic():
        before = snapshot(mediator) if mediator else None
        mediator = mediator or Mediator()
        mediator.org, mediator.name, mediator.kind = org, name, kind
        mediator.specialities, mediator.region_code = specialities, region_code
        mediator.user, mediator.active = user, active
        mediator.save()
        record_event(
            "mediation.mediator.save",
            actor=actor,
            target=mediator,
            scope_code=region_code,
            before=before,
            after=snapshot(mediator),
        )
    return mediator


def do_log_activity(
    *,
    actor,
    org: MediationOrg,
    kind: str,
    day: date,
    people_reached: int = 0,
    note: str = "",
    mediator: Mediator | None = None,
    region_code: str = "",
) -> Activity:
    """Work that is not a dispute (help to people under community correction, publicity …)."""
    region_code = region_code or org.region_code
    own = mediator is not None and mediator.user_id == getattr(actor, "pk", None)
    if not (own or can(actor, "mediation.register", region_code=region_code)):
        raise ActionRefused(_("You may not log activities here."))
    if kind not in Activity.Kind.values:
        raise ValidationError({"kind": _("Choose a kind.")})
    if mediator is not None and mediator.org_id != org.pk:
        raise ValidationError({"mediator": _("The mediator is not of this organisation.")})
    if day > timezone.localdate():
        raise ValidationError({"day": _("The day is in the future.")})
    note = _text(note, "note", limit=500)
    with transaction.atomic():
        row = Activity.objects.create(
            org=org,
            mediator=mediator,
            kind=kind,
            day=day,
            people_reached=max(int(people_reached or 0), 0),
            note=note,
            region_code=region_code,
            created=timezone.now(),
        )
        record_event("mediation.activity.log", actor=actor, target=row, scope_code=region_code)
    return row


# --------------------------------------------------------------------------- reception, 12348


def _seal_phone(phone: str, errors: dict):
    if not phone:
        return None
    try:
        return pii.seal_phone(phone)
    except ValidationError as exc:
        errors["phone"] = exc.messages
        return None


def do_log_visit(
    *,
    actor,
    region_code: str,
    name: str,
    about: str,
    outcome: str,
    phone: str = "",
    visitors: int = 1,
    dispute: Dispute | None = None,
    case=None,
    visited_at: datetime | None = None,
) -> VisitorLog:
    """来访登记 in the reception hall."""
    if not can(actor, "mediation.register", region_code=region_code):
        raise ActionRefused(_("You may not keep this reception hall's log."))
    errors = {}
    try:
        name = _text(name, "name", required=True, limit=50)
        about = _text(about, "about", required=True)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if outcome not in VisitorLog.Outcome.values:
        errors["outcome"] = [_("Choose the outcome.")]
    elif outcome == VisitorLog.Outcome.DISPUTE and dispute is None:
        errors["outcome"] = [_("Name the dispute registered.")]
    elif outcome == VisitorLog.Outcome.CASE and case is None:
        errors["outcome"] = [_("Name the case reported.")]
    sealed = _seal_phone(phone, errors)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        row = VisitorLog.objects.create(
            visited_at=visited_at or timezone.now(),
            name=name,
            phone_cipher=sealed.cipher if sealed else "",
            phone_hash=sealed.hash if sealed else "",
            phone_masked=sealed.masked if sealed else "",
            visitors=max(int(visitors or 1), 1),
            about=about,
            outcome=outcome,
            dispute=dispute,
            case=case,
            region_code=region_code,
            recorded_by=actor if actor is not None and actor.pk else None,
        )
        record_event("mediation.visit.log", actor=actor, target=row, scope_code=region_code)
    return row


def do_log_call(
    *,
    actor,
    region_code: str,
    category: str,
    summary: str,
    caller: str = "",
    phone: str = "",
    answer: str = "",
    received_at: datetime | None = None,
) -> CallLog:
    """A 12348 call. Answered at once (``answer``), or it must be transferred within one
    working day and replied to within five."""
    if not can(actor, "mediation.register", region_code=region_code):
        raise ActionRefused(_("You may not keep this hotline's log."))
    errors = {}
    if category not in CallLog.Category.values:
        errors["category"] = [_("Choose consultation, complaint or suggestion.")]
    try:
        summary = _text(summary, "summary", required=True)
        answer = _text(answer, "answer")
        caller = _text(caller, "caller", limit=50)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    sealed = _seal_phone(phone, errors)
    if errors:
        raise ValidationError(errors)
    now = received_at or timezone.now()
    calendar = default_calendar()
    with transaction.atomic():
        row = CallLog.objects.create(
            received_at=now,
            caller=caller,
            phone_cipher=sealed.cipher if sealed else "",
            phone_hash=sealed.hash if sealed else "",
            phone_masked=sealed.masked if sealed else "",
            category=category,
            summary=summary,
            answer=answer,
            transfer_due=None if answer else calendar.add_working_days(now, CALL_TRANSFER_DAYS),
            reply_due=None if answer else calendar.add_working_days(now, CALL_REPLY_DAYS),
            region_code=region_code,
            recorded_by=actor if actor is not None and actor.pk else None,
        )
        record_event("mediation.call.log", actor=actor, target=row, scope_code=region_code)
    return row


def _call_step(call: CallLog, actor, step: str) -> CallLog:
    if not can(actor, "mediation.register", region_code=call.region_code):
        raise ActionRefused(_("You may not keep this hotline's log."))
    call = CallLog.objects.select_for_update().get(pk=call.pk)
    if call.open_step != step:
        raise ValidationError(_("This call is not waiting for that."))
    return call


def do_transfer_call(call: CallLog, *, actor, to: str) -> CallLog:
    to = _text(to, "to", required=True, limit=100)
    with transaction.atomic():
        call = _call_step(call, actor, "transfer")
        call.transferred_to, call.transferred_at = to, timezone.now()
        call.save(update_fields=["transferred_to", "transferred_at"])
        record_event(
            "mediation.call.transfer", actor=actor, target=call, scope_code=call.region_code
        )
    return call


def do_extend_call_reply(call: CallLog, *, actor, days: int, reason: str) -> CallLog:
    """The unit's head allows more time: the reply is due within 15 working days at most."""
    reason = _text(reason, "reason", required=True, limit=500)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValidationError({"days": _("Give a number of days.")})
    with transaction.atomic():
        call = _call_step(call, actor, "reply")
        total = CALL_REPLY_DAYS + call.reply_extension_days + days
        if total > CALL_REPLY_MAX_DAYS:
            raise ValidationError({"days": _("A reply is due within 15 working days at most.")})
        if timezone.now() > call.reply_due:
            raise ValidationError({"days": _("Extend before the time limit passes.")})
        call.reply_extension_days += days
        call.reply_due = default_calendar().add_working_days(call.received_at, total)
        call.save(update_fields=["reply_extension_days", "reply_due"])
        record_event(
            "mediation.call.extend",
            actor=actor,
            target=call,
            scope_code=call.region_code,
            after={"days": days, "reason": reason},
        )
    return call


def do_reply_call(call: CallLog, *, actor, reply: str) -> CallLog:
    reply = _text(reply, "reply", required=True)
    with transaction.atomic():
        call = _call_step(call, actor, "reply")
        call.reply, call.replied_at = reply, timezone.now()
        call.save(update_fields=["reply", "replied_at"])
        record_event("mediation.call.reply", actor=actor, target=call, scope_code=call.region_code)
    return call


def do_record_call_satisfaction(call: CallLog, *, actor, satisfaction: str) -> CallLog:
    """The caller's rating; an unsatisfied caller is called back within one working day."""
    if satisfaction not in Satisfaction.values:
        raise ValidationError({"satisfaction": _("Choose the caller's satisfaction.")})
    if not can(actor, "mediation.register", region_code=call.region_code):
        raise ActionRefused(_("You may not keep this hotline's log."))
    with transaction.atomic():
        call = CallLog.objects.select_for_update().get(pk=call.pk)
        if call.open_step in {"transfer", "reply"} or call.satisfaction:
            raise ValidationError(_("This call is not waiting for that."))
        call.satisfaction = satisfaction
        if satisfaction == Satisfaction.UNSATISFIED:
            call.callback_due = default_calendar().add_working_days(
                timezone.now(), CALL_CALLBACK_DAYS
            )
        call.save(update_fields=["satisfaction", "callback_due"])
        record_event(
            "mediation.call.satisfaction",
            actor=actor,
            target=call,
            scope_code=call.region_code,
            after={"satisfaction": satisfaction},
        )
    return call


def do_callback_call(call: CallLog, *, actor, note: str) -> CallLog:
    note = _text(note, "note", required=True)
    with transaction.atomic():
        call = _call_step(call, actor, "callback")
        call.callback_at, call.callback_note = timezone.now(), note
        call.save(update_fields=["callback_at", "callback_note"])
        record_event(
            "mediation.call.callback", actor=actor, target=call, scope_code=call.region_code
        )
    return call


# --------------------------------------------------------------------------- log → dispute / case


def _check_log_actor(actor, row) -> None:
    if not can(actor, "mediation.register", region_code=row.region_code):
        raise ActionRefused(_("You may not keep this reception hall's log."))


def _log_kind(row) -> str:
    if isinstance(row, VisitorLog):
        return "visit"
    if isinstance(row, CallLog):
        return "call"
    raise TypeError(row)


def log_source(row) -> str:
    """The dispute source of a log row: the reception hall or the 12348 hotline."""
    return Source.RECEPTION if _log_kind(row) == "visit" else Source.HOTLINE_12348


def _mark_call_handed_on(row: CallLog, to: str, now: datetime) -> list[str]:
    """A call waiting to be transferred is transferred by turning it into a dispute or a case."""
    if row.open_step != "transfer":
        return []
    row.transferred_to, row.transferred_at = to[:100], now
    return ["transferred_to", "transferred_at"]


def do_register_dispute_from_log(row, *, actor, **register) -> Dispute:
    """登记 a dispute from a visitor or 12348 call entry and link the entry to it, in one step."""
    _check_log_actor(actor, row)
    kind = _log_kind(row)
    register.setdefault("source", log_source(row))
    with transaction.atomic():
        row = type(row).objects.select_for_update().get(pk=row.pk)
        if row.dispute_id or row.case_id:
            raise ValidationError(
                _("This entry was already registered as a dispute or filed as a case.")
            )
        dispute = do_register_dispute(actor=actor, **register)
        before = {"dispute": None}
        row.dispute = dispute
        fields = ["dispute"]
        if kind == "visit":
            before["outcome"] = row.outcome
            row.outcome = VisitorLog.Outcome.DISPUTE
            fields.append("outcome")
        else:
            fields += _mark_call_handed_on(row, dispute.code, timezone.now())
        row.save(update_fields=fields)
        record_event(
            f"mediation.{kind}.to_dispute",
            actor=actor,
            target=row,
            scope_code=row.region_code,
            before=before,
            after={"dispute": dispute.code},
        )
    return dispute


def do_file_log_as_case(row, *, actor, category=None):
    """File a visitor or 12348 call entry as a grid case (``cases.do_report_case``) and link it.
    A visitor at the window is a resident reporting; a call comes through the 12348 channel."""
    from civicgrid.cases.actions import do_report_case
    from civicgrid.cases.models import Case

    _check_log_actor(actor, row)
    kind = _log_kind(row)
    channel = Case.Channel.RESIDENT if kind == "visit" else Case.Channel.HOTLINE_12348
    region = Region.objects.filter(code=row.region_code).first()
    grid = None if region else Grid.objects.filter(code=row.region_code).first()
    with transaction.atomic():
        row = type(row).objects.select_for_update().get(pk=row.pk)
        if row.dispute_id or row.case_id:
            raise ValidationError(
                _("This entry was already registered as a dispute or filed as a case.")
            )
        case = do_report_case(
            actor=actor,
            channel=channel,
            description=row.about if kind == "visit" else row.summary,
            category=category,
            region=region,
            grid=grid,
            reporter_name=row.name if kind == "visit" else row.caller,
            reporter_phone=pii.reveal(row.phone_cipher) if row.phone_cipher else "",
            idempotency_key=f"mediation-{kind}-{row.pk}",
        )
        row.case = case
        fields = ["case"]
        before = {"case": None}
        if kind == "visit":
            before["outcome"] = row.outcome
            row.outcome = VisitorLog.Outcome.CASE
            fields.append("outcome")
        else:
            fields += _mark_call_handed_on(row, case.code, timezone.now())
        row.save(update_fields=fields)
        record_event(
            f"mediation.{kind}.to_case",
            actor=actor,
            target=row,
            scope_code=row.region_code,
            before=before,
            after={"case": case.code},
        )
    return case


# --------------------------------------------------------------------------- personal data


def do_reveal_party_pii(party: Party, *, actor, reason: str = "") -> dict[str, str]:
    """A party's clear ID and phone numbers, for those with personal-data rights over the
    dispute's place; every look is audited."""
    dispute = party.dispute
    if not can(actor, "people.view_pii", region_code=dispute.region_code):
        raise ActionRefused(_("You may not see parties' ID and phone numbers here."))
    with transaction.atomic():
        record_event(
            "mediation.party.view_pii",
            actor=actor,
            target=party,
            scope_code=dispute.region_code,
            after={"dispute": dispute.code, "reason": reason[:200]},
        )
    return {
        "id_number": pii.reveal(party.id_number_cipher) if party.id_number_cipher else "",
        "phone": pii.reveal(party.phone_cipher) if party.phone_cipher else "",
    }


# --------------------------------------------------------------------------- overdue


def overdue_disputes(now: datetime):
    """Disputes whose clock has run out and whose current deadline was not yet notified."""
    from django.db.models import F, Q

    return Dispute.objects.filter(
        state__in=workflow.CLOCK_STATES, deadline__isnull=False, deadline__lt=now
    ).filter(Q(overdue_notified_for__isnull=True) | ~Q(overdue_notified_for=F("deadline")))


def _remind_one(dispute: Dispute, now: datetime) -> bool:
    from civicgrid.cases.models import Notification

    with transaction.atomic():
        # Claim it only if it is still overdue and this deadline not yet notified (another
        # node ticking at the same minute, or an extension meanwhile, makes this a no-op).
        claimed = (
            overdue_disputes(now)
            .filter(pk=dispute.pk, deadline=dispute.deadline)
            .update(overdue_notified_for=dispute.deadline)
        )
        if claimed != 1:
            return False
        users = [
            a.mediator.user
            for a in dispute.assignments.filter(active=True, mediator__user__isnull=False)
            .select_related("mediator__user")
            .order_by("id")
        ]
        subject = _("Dispute %(code)s is past its time limit: %(title)s") % {
            "code": dispute.code,
            "title": dispute.title,
        }
        rows = [
            Notification(
                recipient=user,
                channel=Notification.Channel.INBOX,
                event="mediation_overdue",
                subject=subject[:200],
                body=dispute.code,
                created=now,
            )
            for user in users
        ]
        centre = centre_code(dispute)
        rows.append(
            Notification(
                unit_code=centre,
                channel=Notification.Channel.INBOX,
                event="mediation_overdue",
                subject=subject[:200],
                body=dispute.code,
                created=now,
            )
        )
        Notification.objects.bulk_create(rows)
        record_event(
            "mediation.dispute.overdue_notified",
            actor=None,
            target=dispute,
            scope_code=dispute.region_code,
            after={
                "deadline": dispute.deadline.isoformat(),
                "mediators": [u.get_username() for u in users],
                "centre": centre,
            },
        )
    return True


def centre_code(dispute: Dispute) -> str:
    """The mediation centre answering for a dispute: its township's (综治中心)."""
    return dispute.region_code[:9]


def do_remind_overdue_disputes(now: datetime | None = None) -> int:
    """The tick: tell the assigned mediators and the centre once when a dispute's clock has run
    out (once per deadline: an extension gives a new deadline and a new reminder)."""
    now = now or timezone.now()
    return sum(
        _remind_one(dispute, now) for dispute in overdue_disputes(now).order_by("id").iterator()
    )
