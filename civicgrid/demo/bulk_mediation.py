"""The mediation actions the demo year uses, with rows kept in memory and written in bulk.

``civicgrid.demo.mediation`` runs its simulation against an "actions module": the real
``civicgrid.mediation.actions`` (``--through-actions``) or a ``BulkMediation`` from here, which
offers the same functions with the same arguments and writes the same rows — disputes,
parties, routings, sessions, outcomes, agreements, hand-offs, confirmations, performance,
follow-ups, the visitor and 12348 logs, activities, the timeline (``DisputeEvent``), the
dispute codes' counters and the audit events with their hash chain — with the same primary
keys, but without a query per step: the state the actions read back from the database (the
load of each organisation and mediator, the open disputes sharing a party, the latest
hand-off …) is kept here as the rows are made.

The pure parts of the actions are reused as they are (``_clean_parties``, ``_text``,
``_decimal``, ``_clean_terms``, the workflow table, the risk rules and the clocks), and each
step makes the same permission check (answers cached per actor and place). What differs is
only when rows reach the database: the append-only ones (timeline, audit events, parties,
sessions …) in chunks as they pile up, the ones later steps still change (disputes,
assignments, hand-offs, confirmations, calls, code counters) at ``finish()``. Foreign keys are
checked at commit (Django creates them deferrable, on PostgreSQL and SQLite alike), so the
order of the chunks does not matter; ``finish()`` moves the tables' id sequences past the
rows written.

``civicgrid.demo.tests.test_bulk_mediation`` holds the two paths to identical tables.

Must run inside ``transaction.atomic()`` and ``core.audit.audit_batch()`` (the batch's chain
head is advanced here, event by event, exactly as ``record_event`` would).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.management.color import no_style
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.core.audit import AuditBatch, _json_safe, event_hash
from civicgrid.core.calendar import default_calendar
from civicgrid.core.context import current_request_id
from civicgrid.core.errors import ActionRefused
from civicgrid.core.models import AuditEvent
from civicgrid.core.scoping import can, departments_of, scope_for
from civicgrid.mediation import actions as A
from civicgrid.mediation import rules, workflow
from civicgrid.mediation.models import (
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

__all__ = ["BulkMediation"]

SessionMediator = MediationSession.mediators.through
# Written in chunks as they come (never changed after they are made).
_APPEND_ONLY = (
    AuditEvent,
    DisputeEvent,
    Party,
    MediationSession,
    SessionMediator,
    Agreement,
    Performance,
    FollowUp,
    VisitorLog,
    Activity,
)
# Written at the end (later steps change them).
_KEPT = (Dispute, DisputeMediator, LegalHandoff, JudicialConfirmation, CallLog)
CHUNK = 5000
FLUSH_AT = 40_000  # append-only rows held before they are written


def _named(actor):
    return actor if actor is not None and actor.pk else None


def _insert(model, rows) -> None:
    """INSERT the rows as they are, in one ``executemany`` per chunk.

    Each value goes through the field's ``get_db_prep_save`` as ``bulk_create`` does, but not
    through ``pre_save``: an ``auto_now`` field keeps the moment of the row's last step (the
    simulated clock, as the actions stamped it), not the moment of writing. No per-batch
    SQL compiling either (SQLite's 999-parameter limit cuts bulk_create into small batches)."""
    fields = model._meta.concrete_fields
    qn = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        qn(model._meta.db_table),
        ", ".join(qn(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    prep = [(f.attname, f.get_db_prep_save) for f in fields]
    with connection.cursor() as cursor:
        for i in range(0, len(rows), CHUNK):
            cursor.executemany(
                sql,
                [
                    [save(getattr(row, name), connection) for name, save in prep]
                    for row in rows[i : i + CHUNK]
                ],
            )


class BulkMediation:
    """One run's rows and the state the actions would read back. Use once, then ``finish()``."""

    def __init__(self, batch: AuditBatch, *, progress=None):
        if batch is None:
            raise RuntimeError("BulkMediation needs an open audit_batch()")
        self.batch = batch
        self.progress = progress
        self._next = {}
        for model in (*_APPEND_ONLY, *_KEPT, DisputeCodeCounter):
            if model is AuditEvent:
                continue  # the chain head gives the ids
            last = model.objects.order_by("-pk").values_list("pk", flat=True).first()
            self._next[model] = (last or 0) + 1
        self.rows = defaultdict(list)  # append-only model → rows not yet written
        self.pending = 0
        self.written = 0
        self.disputes: dict[int, Dispute] = {}
        self.assignments: dict[int, list[DisputeMediator]] = defaultdict(list)
        self.handoffs: dict[int, list[LegalHandoff]] = defaultdict(list)
        self.confirmations: dict[int, JudicialConfirmation] = {}
        self.agreements: dict[int, Agreement] = {}
        self.sessions: dict[int, int] = defaultdict(int)
        self.calls: dict[int, CallLog] = {}
        self.counters = {c.prefix: c for c in DisputeCodeCounter.objects.all()}
        self.new_counters: set[str] = set()
        self.changed_counters: set[str] = set()
        self.orgs_at: dict[str, list[MediationOrg]] = defaultdict(list)
        for org in MediationOrg.objects.filter(active=True).order_by("code"):
            self.orgs_at[org.region_code].append(org)
        self.mediators = {m.pk: m for m in Mediator.objects.all()}
        self.mediators_of: dict[int, list[Mediator]] = defaultdict(list)
        for m in self.mediators.values():
            if m.active:
                self.mediators_of[m.org_id].append(m)
        self._can: dict = {}
        self._depts: dict = {}
        # Loads as the database holds them before this run: open disputes per organisation
        # and active assignments to open disputes per mediator.
        open_ = workflow.OPEN_STATES
        self.org_load: dict[int, int] = defaultdict(int)
        for org_id in Dispute.objects.filter(state__in=open_, org__isnull=False).values_list(
            "org_id", flat=True
        ):
            self.org_load[org_id] += 1
        self.mediator_load: dict[int, int] = defaultdict(int)
        for mediator_id in DisputeMediator.objects.filter(
            active=True, dispute__state__in=open_
        ).values_list("mediator_id", flat=True):
            self.mediator_load[mediator_id] += 1
        self._counted: dict[int, tuple] = {}
        # Parties of open disputes by match key (for "same parties as an open dispute").
        self.by_key: dict[str, list[int]] = defaultdict(list)
        self.old_open: dict[int, str] = {}  # earlier disputes: pk → code
        for dispute_id, key, code in (
            Party.objects.filter(dispute__state__in=open_)
            .exclude(match_key="")
            .order_by("dispute_id", "id")
            .values_list("dispute_id", "match_key", "dispute__code")
        ):
            self.by_key[key].append(dispute_id)
            self.old_open[dispute_id] = code

    # ----------------------------------------------------------------------- plumbing

    def _pk(self, obj):
        model = type(obj)
        obj.pk = self._next[model]
        self._next[model] += 1
        return obj

    def _add(self, obj, *, pk=True):
        if pk:
            self._pk(obj)
        self.rows[type(obj)].append(obj)
        self.pending += 1
        if self.pending >= FLUSH_AT:
            self._flush()
        return obj

    def _flush(self):
        for model in _APPEND_ONLY:
            rows = self.rows.pop(model, [])
            _insert(model, rows)
            self.written += len(rows)
        self.pending = 0
        if self.progress:
            self.progress(f"  {self.written:,} rows written")

    def _can_do(self, actor, permission, region_code) -> bool:
        key = (getattr(actor, "pk", None), permission, region_code)
        if key not in self._can:
            self._can[key] = can(actor, permission, region_code=region_code)
        return self._can[key]

    def _audit(self, action, *, actor, target, scope_code="", before=None, after=None):
        """``core.audit.record_event`` inside a batch, without the INSERT per event."""
        batch = self.batch
        named = _named(actor)
        event = AuditEvent(
            pk=batch.last_id + 1,
            created=timezone.now(),
            actor=named,
            actor_name=named.get_username() if named else "system",
            action=action,
            target_type=target._meta.label_lower,
            target_id=str(target.pk),
            target_repr=str(target)[:200],
            scope_code=scope_code or "",
            before=_json_safe(before),
            after=_json_safe(after),
            request_id=current_request_id(),
            prev_hash=batch.last_hash,
        )
        event.hash = event_hash(event)
        batch.last_id, batch.last_hash = event.pk, event.hash
        self._add(event, pk=False)

    # -- the state the actions read back

    def _dispute(self, dispute) -> Dispute:
        try:
            return self.disputes[dispute.pk]
        except KeyError:
            raise ValidationError("the bulk path acts only on the disputes it made") from None

    def _active(self, dispute_id) -> list[DisputeMediator]:
        return [a for a in self.assignments[dispute_id] if a.active]

    def _recount(self, d: Dispute) -> None:
        """Keep the loads as the database would count them after this dispute's change."""
        is_open = d.state in workflow.OPEN_STATES
        now = (
            d.org_id if is_open else None,
            tuple(a.mediator_id for a in self._active(d.pk)) if is_open else (),
        )
        old_org, old_meds = self._counted.get(d.pk, (None, ()))
        if old_org is not None:
            self.org_load[old_org] -= 1
        for m in old_meds:
            self.mediator_load[m] -= 1
        if now[0] is not None:
            self.org_load[now[0]] += 1
        for m in now[1]:
            self.mediator_load[m] += 1
        self._counted[d.pk] = now

    def lead_mediator_id(self, dispute) -> int | None:
        rows = sorted(self._active(dispute.pk), key=lambda a: (not a.lead, a.pk))
        return rows[0].mediator_id if rows else None

    def is_handler(self, actor, d: Dispute) -> bool:
        if actor is None or not actor.is_authenticated:
            return False
        scope = scope_for(actor)
        if scope.superuser:
            return True
        if d.route == Route.CENTRE and self._can_do(actor, "mediation.route", d.region_code):
            return True
        if not scope.has("mediation.mediate"):
            return False
        if d.department_id:
            key = actor.pk
            if key not in self._depts:
                self._depts[key] = departments_of(actor, "mediation.mediate")
            if d.department_id in self._depts[key]:
                return True
        return any(self.mediators[a.mediator_id].user_id == actor.pk for a in self._active(d.pk))

    def _allowed(self, who, actor, d) -> bool:
        centre = self._can_do(actor, "mediation.route", d.region_code)
        if who == "centre":
            return centre
        if who == "handler":
            return self.is_handler(actor, d)
        return centre or self.is_handler(actor, d)

    def _step(self, dispute, action, *, actor):
        d = self._dispute(dispute)
        step = workflow.next_step(d.state, action)
        if not self._allowed(step.actor, actor, d):
            raise ActionRefused(A._REFUSALS[step.actor])
        return d, step

    def _record(self, d, step, action, *, actor, from_state, text="", data=None):
        now = timezone.now()
        d.state = step.next_state
        d.version += 1
        d.updated = now
        named = _named(actor)
        self._add(
            DisputeEvent(
                dispute_id=d.pk,
                action=action,
                actor=named,
                actor_name=named.get_username() if named else "system",
                from_state=from_state,
                to_state=d.state,
                text=text,
                data=data or {},
                created=now,
            )
        )
        self._audit(
            f"mediation.dispute.{action}",
            actor=actor,
            target=d,
            scope_code=d.region_code,
            before={"state": from_state},
            after={"state": d.state, **(data or {})},
        )
        self._recount(d)

    # ----------------------------------------------------------------------- registration

    def _next_code(self, county_code: str, now: datetime) -> str:
        prefix = f"MD-{county_code}-{timezone.localtime(now):%Y%m%d}"
        counter = self.counters.get(prefix)
        if counter is None:
            counter = self._pk(DisputeCodeCounter(prefix=prefix, last=0))
            self.counters[prefix] = counter
            self.new_counters.add(prefix)
        elif prefix not in self.new_counters:
            self.changed_counters.add(prefix)
        counter.last += 1
        return f"{prefix}-{counter.last:05d}"

    def _related_open(self, parties) -> tuple[int | None, str]:
        keys = {p.match_key for p in parties if p.match_key}
        if not keys:
            return None, ""
        need = 1 if len(keys) == 1 else 2
        hits: dict[int, int] = defaultdict(int)
        for key in keys:
            for dispute_id in set(self.by_key.get(key, ())):
                d = self.disputes.get(dispute_id)
                if d is None or d.state in workflow.OPEN_STATES:
                    hits[dispute_id] += 1
        found = [pk for pk, n in hits.items() if n >= need]
        if not found:
            return None, ""
        pk = max(found)
        d = self.disputes.get(pk)
        return pk, d.code if d is not None else self.old_open[pk]

    def do_register_dispute(
        self,
        *,
        actor,
        title,
        description,
        category,
        source,
        parties,
        amount=0,
        people_involved=None,
        scale=Scale.ORDINARY,
        threats=False,
        petitions=0,
        grid=None,
    ) -> Dispute:
        """``actions.do_register_dispute`` for a grid's dispute (no case, map point or date)."""
        title = A._text(title, "title", required=True, limit=100)
        description = A._text(description, "description", required=True)
        if category not in A._CATEGORY_CODES or source not in Source.values:
            raise ValidationError(_("Choose a dispute category."))
        if scale not in Scale.values:
            raise ValidationError({"scale": _("Choose a scale.")})
        amount = A._decimal(amount, "amount")
        petitions = int(petitions or 0)
        rows = A._clean_parties(parties)
        people_involved = int(people_involved if people_involved not in (None, "") else 0)
        if grid is None:
            raise ValidationError({"location": _("Give the place.")})
        region_code = grid.code
        if not self._can_do(actor, "mediation.register", region_code):
            raise ActionRefused(_("You may not register disputes in this area."))
        people_involved = max(people_involved, len(rows))
        now = timezone.now()
        named = _named(actor)
        d = Dispute(
            state=workflow.REGISTERED,
            title=title,
            description=description,
            category=category,
            source=source,
            source_case=None,
            occurred_on=None,
            amount=amount,
            people_involved=people_involved,
            scale=scale,
            threats=bool(threats),
            petitions=petitions,
            address="",
            lat=None,
            lng=None,
            grid=grid,
            region_code=region_code,
            registered_by=named,
            deadline=rules.mediation_deadline(now),
            created=now,
        )
        d.risk_level, d.risk_reasons = rules.assess_risk(d)
        d.code = self._next_code(region_code[:6], now)
        related_id, related_code = self._related_open(rows)
        d.related_open_id = related_id
        d.updated = now
        self._pk(d)
        self.disputes[d.pk] = d
        for party in rows:
            party.dispute_id = d.pk
            self._add(party)
            if party.match_key:
                self.by_key[party.match_key].append(d.pk)
        data = {"risk": d.risk_level, "deadline": d.deadline.isoformat()}
        if related_id:
            data["related_open"] = related_code
        self._add(
            DisputeEvent(
                dispute_id=d.pk,
                action="register",
                actor=named,
                actor_name=named.get_username() if named else "system",
                from_state="",
                to_state=d.state,
                data=data,
                created=now,
            )
        )
        self._audit(
            "mediation.dispute.register",
            actor=actor,
            target=d,
            scope_code=region_code,
            after={"state": d.state, "category": category, "source": source, **data},
        )
        self._recount(d)
        return d

    # ----------------------------------------------------------------------- routing

    def route_candidates(self, dispute, route: str) -> list[MediationOrg]:
        kinds = {
            Route.CENTRE: [MediationOrg.Kind.CENTRE],
            Route.COMMITTEE: [
                MediationOrg.Kind.COMMITTEE_VILLAGE,
                MediationOrg.Kind.COMMITTEE_TOWN,
            ],
            Route.STUDIO: [MediationOrg.Kind.STUDIO],
            Route.TRADE: [MediationOrg.Kind.TRADE],
        }.get(route, [])
        code = dispute.region_code
        orgs = [
            org
            for prefix in {code[:n] for n in (6, 9, 12, 15) if n <= len(code)}
            for org in self.orgs_at.get(prefix, ())
            if org.kind in kinds and (not org.specialities or dispute.category in org.specialities)
        ]
        for org in orgs:
            org.load = self.org_load.get(org.pk, 0)
        rank = {kind: i for i, kind in enumerate(kinds)}
        orgs.sort(key=lambda o: (rank[o.kind], o.load / max(o.capacity, 1), o.code))
        return orgs

    def _pick_mediators(self, org, d) -> list[Mediator]:
        mediators = self.mediators_of.get(org.pk, [])
        if not mediators:
            return []
        return sorted(
            mediators,
            key=lambda m: (
                d.category not in (m.specialities or []),
                self.mediator_load.get(m.pk, 0),
                m.pk,
            ),
        )[:1]

    def do_route_dispute(self, dispute, *, actor, route, org=None, department=None, note=""):
        if route not in Route.values or route == Route.LEGAL:
            raise ValidationError({"route": _("Choose a route.")})
        note = A._text(note, "note")
        d = self._dispute(dispute)
        action = "reroute" if d.state == workflow.ROUTED else "route"
        d, step = self._step(d, action, actor=actor)
        if route == Route.DEPARTMENT:
            if department is None:
                raise ValidationError({"department": _("Choose the department.")})
            if not d.region_code.startswith(department.region.code):
                raise ValidationError(
                    {"department": _("This department does not serve the dispute's place.")}
                )
            org = None
        else:
            department = None
            candidates = self.route_candidates(d, route)
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
        mediators = self._pick_mediators(org, d) if org is not None else []
        from_state = d.state
        now = timezone.now()
        for a in self._active(d.pk):
            a.active = False
        for i, m in enumerate(mediators):
            self.assignments[d.pk].append(
                self._pk(
                    DisputeMediator(dispute_id=d.pk, mediator_id=m.pk, lead=(i == 0), created=now)
                )
            )
        d.route = route
        d.org = org
        d.department = department
        d.legal_channel = ""
        self._record(
            d,
            step,
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
        )
        return d

    def do_refer_dispute(self, dispute, *, actor, channel, receiving_unit, note=""):
        if channel not in LegalChannel.values:
            raise ValidationError({"channel": _("Choose a legal channel.")})
        receiving_unit = A._text(receiving_unit, "receiving_unit", required=True, limit=100)
        note = A._text(note, "note")
        d, step = self._step(dispute, "refer", actor=actor)
        from_state = d.state
        now = timezone.now()
        handoff = self._pk(
            LegalHandoff(
                dispute_id=d.pk,
                channel=channel,
                receiving_unit=receiving_unit,
                note=note,
                deadline=rules.legal_deadline(channel, now),
                created=now,
            )
        )
        self.handoffs[d.pk].append(handoff)
        for a in self._active(d.pk):
            a.active = False
        d.route, d.legal_channel = Route.LEGAL, channel
        d.deadline = handoff.deadline
        self._record(
            d,
            step,
            "refer",
            actor=actor,
            from_state=from_state,
            text=note,
            data={
                "channel": channel,
                "receiving_unit": receiving_unit,
                "deadline": handoff.deadline.isoformat(),
            },
        )
        return handoff

    def do_record_handoff_result(self, dispute, *, actor, resolved, result):
        result = A._text(result, "result", required=True)
        d, step = self._step(dispute, "handoff_result", actor=actor)
        from_state = d.state
        handoff = max(self.handoffs[d.pk], key=lambda h: (h.created, h.pk))
        handoff.result, handoff.resolved = result, bool(resolved)
        handoff.result_at = timezone.now()
        self._record(
            d,
            step,
            "handoff_result",
            actor=actor,
            from_state=from_state,
            text=result,
            data={"resolved": bool(resolved)},
        )
        return handoff

    # ----------------------------------------------------------------------- mediation

    def do_record_session(self, dispute, *, actor, held_at, place, attendees="", notes=""):
        place = A._text(place, "place", required=True, limit=100)
        attendees, notes = A._text(attendees, "attendees"), A._text(notes, "notes")
        if not isinstance(held_at, datetime) or timezone.is_naive(held_at):
            raise ValidationError({"held_at": _("Give the date and time of the session.")})
        if held_at > timezone.now() + timedelta(minutes=5):
            raise ValidationError({"held_at": _("A session is recorded after it was held.")})
        d, step = self._step(dispute, "session", actor=actor)
        if held_at < d.created - timedelta(days=1):
            raise ValidationError(
                {"held_at": _("The session is before the dispute was registered.")}
            )
        from_state = d.state
        mediator_ids = [
            a.mediator_id for a in sorted(self._active(d.pk), key=lambda a: (not a.lead, a.pk))
        ]
        session = self._add(
            MediationSession(
                dispute_id=d.pk,
                held_at=held_at,
                place=place,
                attendees=attendees,
                notes=notes,
                recorded_by=_named(actor),
                created=timezone.now(),
            )
        )
        # As ``session.mediators.set()`` adds them: in the order of a set of ids.
        for mediator_id in set(mediator_ids):
            self._add(SessionMediator(mediationsession_id=session.pk, mediator_id=mediator_id))
        self.sessions[d.pk] += 1
        self._record(
            d,
            step,
            "session",
            actor=actor,
            from_state=from_state,
            text=notes,
            data={"held_at": held_at.isoformat(), "place": place, "session": session.pk},
        )
        return session

    def do_extend_dispute(self, dispute, *, actor, days, reason):
        reason = A._text(reason, "reason", required=True, limit=500)
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValidationError({"days": _("Give a number of days.")})
        d, step = self._step(dispute, "extend", actor=actor)
        if d.extension_days + days > rules.MAX_EXTENSION_DAYS:
            raise ValidationError({"days": _("At most %(n)s days of extension in all.")})
        if d.deadline is not None and timezone.now() > d.deadline:
            raise ValidationError({"days": _("Extend before the time limit passes.")})
        from_state = d.state
        d.extension_days += days
        d.deadline = rules.mediation_deadline(d.created, d.extension_days)
        self._record(
            d,
            step,
            "extend",
            actor=actor,
            from_state=from_state,
            text=reason,
            data={"days": days, "deadline": d.deadline.isoformat()},
        )
        return d

    def do_conclude_dispute(
        self, dispute, *, actor, outcome, note="", terms=(), amount=0, perform_by=None
    ):
        if outcome not in Outcome.values:
            raise ValidationError({"outcome": _("Choose an outcome.")})
        note = A._text(note, "note")
        if outcome == Outcome.AGREEMENT:
            terms = A._clean_terms(terms)
            amount = A._decimal(amount, "amount")
        action = A._OUTCOME_ACTION[outcome]
        d, step = self._step(dispute, action, actor=actor)
        if outcome in (Outcome.AGREEMENT, Outcome.FAILED) and not self.sessions[d.pk]:
            raise ValidationError({"outcome": _("Record a mediation session first.")})
        from_state = d.state
        now = timezone.now()
        data = {"outcome": outcome}
        if outcome == Outcome.AGREEMENT:
            signed_on = timezone.localdate(now)
            if perform_by is not None and perform_by < signed_on:
                raise ValidationError({"perform_by": _("The date is before the agreement.")})
            self.agreements[d.pk] = self._add(
                Agreement(
                    dispute_id=d.pk,
                    terms=terms,
                    amount=amount,
                    perform_by=perform_by,
                    signed_on=signed_on,
                    created=now,
                )
            )
            data.update({"terms": len(terms), "amount": str(amount)})
        d.outcome, d.outcome_note, d.concluded_at = outcome, note, now
        self._record(d, step, action, actor=actor, from_state=from_state, text=note, data=data)
        return d

    def do_apply_confirmation(self, dispute, *, actor, court):
        court = A._text(court, "court", required=True, limit=100)
        d, step = self._step(dispute, "apply_confirmation", actor=actor)
        applied_on = timezone.localdate()
        agreement = self.agreements[d.pk]
        if d.pk in self.confirmations:
            raise ValidationError({"court": _("Judicial confirmation was already applied for.")})
        if (
            not agreement.signed_on
            <= applied_on
            <= agreement.signed_on + timedelta(days=A.CONFIRMATION_DAYS)
        ):
            raise ValidationError({"applied_on": _("The date is before the agreement.")})
        from_state = d.state
        confirmation = self._pk(
            JudicialConfirmation(dispute_id=d.pk, court=court, applied_on=applied_on)
        )
        self.confirmations[d.pk] = confirmation
        self._record(
            d,
            step,
            "apply_confirmation",
            actor=actor,
            from_state=from_state,
            data={"court": court, "applied_on": applied_on.isoformat()},
        )
        return confirmation

    def do_record_confirmation_result(self, dispute, *, actor, result, note=""):
        if result not in {
            JudicialConfirmation.Result.CONFIRMED,
            JudicialConfirmation.Result.REJECTED,
        }:
            raise ValidationError({"result": _("Choose confirmed or rejected.")})
        note = A._text(note, "note", limit=200)
        d, step = self._step(dispute, "confirmation_result", actor=actor)
        confirmation = self.confirmations.get(d.pk)
        if confirmation is None or confirmation.result != JudicialConfirmation.Result.PENDING:
            raise ValidationError({"result": _("No application is waiting for a result.")})
        from_state = d.state
        confirmation.result = result
        confirmation.result_on = timezone.localdate()
        confirmation.note = note
        self._record(
            d,
            step,
            "confirmation_result",
            actor=actor,
            from_state=from_state,
            data={"result": result},
        )
        return confirmation

    def do_record_performance(self, dispute, *, actor, kind, amount_paid=0, note=""):
        if kind not in A._PERFORMANCE_ACTION:
            raise ValidationError({"kind": _("Choose how the agreement was performed.")})
        amount_paid = A._decimal(amount_paid, "amount_paid")
        note = A._text(note, "note", limit=500)
        action = A._PERFORMANCE_ACTION[kind]
        d, step = self._step(dispute, action, actor=actor)
        from_state = d.state
        row = self._add(
            Performance(
                dispute_id=d.pk,
                kind=kind,
                amount_paid=amount_paid,
                note=note,
                created=timezone.now(),
            )
        )
        self._record(
            d,
            step,
            action,
            actor=actor,
            from_state=from_state,
            text=note,
            data={"amount_paid": str(amount_paid)},
        )
        return row

    def do_follow_up(self, dispute, *, actor, satisfaction, note=""):
        if satisfaction not in Satisfaction.values:
            raise ValidationError({"satisfaction": _("Choose the parties' satisfaction.")})
        note = A._text(note, "note")
        d, step = self._step(dispute, "follow_up", actor=actor)
        from_state = d.state
        row = self._add(
            FollowUp(
                dispute_id=d.pk,
                satisfaction=satisfaction,
                note=note,
                by=_named(actor),
                created=timezone.now(),
            )
        )
        d.satisfaction = satisfaction
        self._record(
            d,
            step,
            "follow_up",
            actor=actor,
            from_state=from_state,
            text=note,
            data={"satisfaction": satisfaction},
        )
        return row

    def do_close_dispute(self, dispute, *, actor, note=""):
        note = A._text(note, "note")
        d, step = self._step(dispute, "close", actor=actor)
        from_state = d.state
        d.closed_at = timezone.now()
        self._record(d, step, "close", actor=actor, from_state=from_state, text=note)
        return d

    # ----------------------------------------------------------------------- logs

    def _seal_phone(self, phone):
        errors = {}
        sealed = A._seal_phone(phone, errors)
        if errors:
            raise ValidationError(errors)
        return sealed

    def do_log_activity(self, *, actor, org, kind, day: date, people_reached=0, note=""):
        region_code = org.region_code
        if not self._can_do(actor, "mediation.register", region_code):
            raise ActionRefused(_("You may not log activities here."))
        if kind not in Activity.Kind.values:
            raise ValidationError({"kind": _("Choose a kind.")})
        if day > timezone.localdate():
            raise ValidationError({"day": _("The day is in the future.")})
        note = A._text(note, "note", limit=500)
        row = self._add(
            Activity(
                org=org,
                mediator=None,
                kind=kind,
                day=day,
                people_reached=max(int(people_reached or 0), 0),
                note=note,
                region_code=region_code,
                created=timezone.now(),
            )
        )
        self._audit("mediation.activity.log", actor=actor, target=row, scope_code=region_code)
        return row

    def do_log_visit(self, *, actor, region_code, name, about, outcome, phone="", visitors=1):
        if not self._can_do(actor, "mediation.register", region_code):
            raise ActionRefused(_("You may not keep this reception hall's log."))
        name = A._text(name, "name", required=True, limit=50)
        about = A._text(about, "about", required=True)
        if outcome not in VisitorLog.Outcome.values or outcome in {
            VisitorLog.Outcome.DISPUTE,
            VisitorLog.Outcome.CASE,
        }:
            raise ValidationError({"outcome": _("Choose the outcome.")})
        sealed = self._seal_phone(phone)
        row = self._add(
            VisitorLog(
                visited_at=timezone.now(),
                name=name,
                phone_cipher=sealed.cipher if sealed else "",
                phone_hash=sealed.hash if sealed else "",
                phone_masked=sealed.masked if sealed else "",
                visitors=max(int(visitors or 1), 1),
                about=about,
                outcome=outcome,
                dispute=None,
                case=None,
                region_code=region_code,
                recorded_by=_named(actor),
            )
        )
        self._audit("mediation.visit.log", actor=actor, target=row, scope_code=region_code)
        return row

    def do_log_call(self, *, actor, region_code, category, summary, caller="", phone="", answer=""):
        if not self._can_do(actor, "mediation.register", region_code):
            raise ActionRefused(_("You may not keep this hotline's log."))
        if category not in CallLog.Category.values:
            raise ValidationError({"category": _("Choose consultation, complaint or suggestion.")})
        summary = A._text(summary, "summary", required=True)
        answer = A._text(answer, "answer")
        caller = A._text(caller, "caller", limit=50)
        sealed = self._seal_phone(phone)
        now = timezone.now()
        calendar = default_calendar()
        row = self._pk(
            CallLog(
                received_at=now,
                caller=caller,
                phone_cipher=sealed.cipher if sealed else "",
                phone_hash=sealed.hash if sealed else "",
                phone_masked=sealed.masked if sealed else "",
                category=category,
                summary=summary,
                answer=answer,
                transfer_due=None
                if answer
                else calendar.add_working_days(now, A.CALL_TRANSFER_DAYS),
                reply_due=None if answer else calendar.add_working_days(now, A.CALL_REPLY_DAYS),
                region_code=region_code,
                recorded_by=_named(actor),
            )
        )
        self.calls[row.pk] = row
        self._audit("mediation.call.log", actor=actor, target=row, scope_code=region_code)
        return row

    def _call_step(self, call, actor, step) -> CallLog:
        if not self._can_do(actor, "mediation.register", call.region_code):
            raise ActionRefused(_("You may not keep this hotline's log."))
        call = self.calls[call.pk]
        if call.open_step != step:
            raise ValidationError(_("This call is not waiting for that."))
        return call

    def do_transfer_call(self, call, *, actor, to):
        to = A._text(to, "to", required=True, limit=100)
        call = self._call_step(call, actor, "transfer")
        call.transferred_to, call.transferred_at = to, timezone.now()
        self._audit(
            "mediation.call.transfer", actor=actor, target=call, scope_code=call.region_code
        )
        return call

    def do_reply_call(self, call, *, actor, reply):
        reply = A._text(reply, "reply", required=True)
        call = self._call_step(call, actor, "reply")
        call.reply, call.replied_at = reply, timezone.now()
        self._audit("mediation.call.reply", actor=actor, target=call, scope_code=call.region_code)
        return call

    def do_record_call_satisfaction(self, call, *, actor, satisfaction):
        if satisfaction not in Satisfaction.values:
            raise ValidationError({"satisfaction": _("Choose the caller's satisfaction.")})
        if not self._can_do(actor, "mediation.register", call.region_code):
            raise ActionRefused(_("You may not keep this hotline's log."))
        call = self.calls[call.pk]
        if call.open_step in {"transfer", "reply"} or call.satisfaction:
            raise ValidationError(_("This call is not waiting for that."))
        call.satisfaction = satisfaction
        if satisfaction == Satisfaction.UNSATISFIED:
            call.callback_due = default_calendar().add_working_days(
                timezone.now(), A.CALL_CALLBACK_DAYS
            )
        self._audit(
            "mediation.call.satisfaction",
            actor=actor,
            target=call,
            scope_code=call.region_code,
            after={"satisfaction": satisfaction},
        )
        return call

    def do_callback_call(self, call, *, actor, note):
        note = A._text(note, "note", required=True)
        call = self._call_step(call, actor, "callback")
        call.callback_at, call.callback_note = timezone.now(), note
        self._audit(
            "mediation.call.callback", actor=actor, target=call, scope_code=call.region_code
        )
        return call

    # ----------------------------------------------------------------------- the end

    def finish(self) -> int:
        """Write what is left and move the id sequences on; returns the rows written."""
        self._flush()
        kept = {
            Dispute: list(self.disputes.values()),
            DisputeMediator: [a for rows in self.assignments.values() for a in rows],
            LegalHandoff: [h for rows in self.handoffs.values() for h in rows],
            JudicialConfirmation: list(self.confirmations.values()),
            CallLog: list(self.calls.values()),
        }
        for model, rows in kept.items():
            rows.sort(key=lambda r: r.pk)
            _insert(model, rows)
            self.written += len(rows)
        new = [self.counters[p] for p in sorted(self.new_counters)]
        DisputeCodeCounter.objects.bulk_create(new, batch_size=CHUNK)
        changed = [self.counters[p] for p in sorted(self.changed_counters)]
        DisputeCodeCounter.objects.bulk_update(changed, ["last"], batch_size=CHUNK)
        self.written += len(new)
        models = [m for m in self._next if m is not AuditEvent]
        statements = connection.ops.sequence_reset_sql(no_style(), models)
        if statements:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
        return self.written
