"""The mediation actions the demo year uses, with rows kept in memory and written in bulk.

``civicgrid.demo.mediation`` runs its simulation against an "actions module": the real
``civicgrid.mediation.actions`` (``--through-actions``) or a ``BulkMediation`` from here, which
offers the same functions with the same arguments and writes the same rows — the registry
(organisations, mediators and their role assignments), disputes, parties, routings, sessions,
outcomes, agreements, hand-offs, confirmations, performance, follow-ups, the visitor and 12348
logs, activities, the timeline (``DisputeEvent``), the dispute codes' counters and the audit
events with their hash chain — with the same primary keys, but without a query per step: the
state the actions read back from the database (the load of each organisation and mediator,
the open disputes sharing a party, the latest hand-off …) is kept here as the rows are made.

The pure parts of the actions are reused as they are (``_text``, ``_decimal``,
``_clean_terms``, ``_match_key``, the workflow table, the risk rules and the clocks), and each
step makes the same checks (permission answers cached per actor and place); ``_parties`` is
``actions._clean_parties`` making rows. What differs is how rows are held and written:

* no Django model instances (``Model.__init__`` and ``get_db_prep_save`` were ~40 % of the
  time): each model gets a slotted row class with its columns' names and defaults
  (``_Table.row``), and each column a converter chosen once — none where ``get_db_prep_save``
  hands the value through (text, numbers, booleans, integer keys), the backend's own adapter
  for datetimes, dates and JSON, ``get_db_prep_save`` itself for anything else — so a row
  becomes the tuple the database would be given by one ``attrgetter`` call;
* the append-only rows (timeline, audit events, parties, sessions …) are written in chunks as
  they pile up, the ones later steps still change (disputes, assignments, hand-offs,
  confirmations, calls, code counters) at ``finish()``; the registry at ``begin_year()``,
  before the simulation reads it back.

Foreign keys are checked at commit (Django creates them deferrable, on PostgreSQL and SQLite
alike), so the order of the chunks does not matter; ``finish()`` moves the tables' id
sequences past the rows written.

``civicgrid.demo.tests.test_bulk_mediation`` holds the two paths to identical tables.

Must run inside ``transaction.atomic()`` and ``core.audit.audit_batch()`` (the batch's chain
head is advanced here, event by event, exactly as ``record_event`` would).
"""

from __future__ import annotations

import dataclasses
import operator
from collections import defaultdict
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.core.audit import AuditBatch, _json_safe, event_hash, snapshot
from civicgrid.core.calendar import default_calendar
from civicgrid.core.context import current_request_id
from civicgrid.core.errors import ActionRefused
from civicgrid.core.models import AuditEvent
from civicgrid.core.scoping import can, departments_of, forget_scope, scope_for
from civicgrid.demo.sqlite_writer import ThreadedWriter as _Writer
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
from civicgrid.people import pii
from civicgrid.people.actions import role_scope_code
from civicgrid.people.models import RoleAssignment
from civicgrid.regions.models import Grid, Region

__all__ = ["BulkMediation"]

SessionMediator = MediationSession.mediators.through
# The registry: written by ``begin_year()`` (the simulation reads it back).
_REGISTRY = (MediationOrg, Mediator, RoleAssignment)
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
CHUNK = 20_000  # rows per executemany
FLUSH_AT = 25_000  # append-only rows held before they are written (100,000: ~30 MiB more)
# SQLite's page cache for the run (KiB, as ``PRAGMA cache_size`` takes it when negative):
# the audit trail's six indexes are written at random places, and the default 2 MiB cache
# spills. Set on this connection while the rows are written, restored by ``finish()``.
# 16 MiB since the two years load side by side (session 20): the year took no longer
# than with 128 MiB (158 vs 166 s, the INSERTs are on the writer thread) and 137 MB less.
SQLITE_CACHE_KIB = 16 * 1024
# On SQLite the INSERTs run on a thread of their own (``_Writer``) while the year goes on.
THREADED_WRITES = True

# The choices, once (``Choices.values`` builds its list on every call).
_SOURCES = frozenset(Source.values)
_SCALES = frozenset(Scale.values)
_ROUTES = frozenset(Route.values)
_CHANNELS = frozenset(LegalChannel.values)
_OUTCOMES = frozenset(Outcome.values)
_SATISFACTIONS = frozenset(Satisfaction.values)
_PARTY_ROLES = frozenset(Party.Role.values)
_PARTY_KINDS = frozenset(Party.Kind.values)
_ORG_KINDS = frozenset(MediationOrg.Kind.values)
_MEDIATOR_KINDS = frozenset(Mediator.Kind.values)
_ACTIVITY_KINDS = frozenset(Activity.Kind.values)
_CALL_CATEGORIES = frozenset(CallLog.Category.values)
_VISIT_OUTCOMES = frozenset(VisitorLog.Outcome.values) - {
    VisitorLog.Outcome.DISPUTE,
    VisitorLog.Outcome.CASE,
}
_CONFIRMATION_RESULTS = frozenset(
    {JudicialConfirmation.Result.CONFIRMED, JudicialConfirmation.Result.REJECTED}
)

# Columns whose ``get_db_prep_save`` hands the value through unchanged, for the values the
# actions put there (str, int, bool, float, None). Exact classes: a subclass may prepare.
_AS_IS = frozenset(
    {
        models.AutoField,
        models.BigAutoField,
        models.SmallAutoField,
        models.CharField,
        models.TextField,
        models.IntegerField,
        models.BigIntegerField,
        models.SmallIntegerField,
        models.PositiveIntegerField,
        models.PositiveBigIntegerField,
        models.PositiveSmallIntegerField,
        models.BooleanField,
        models.FloatField,
    }
)


def _converter(field, connection, moments: dict):
    """What turns the column's value into what ``field.get_db_prep_save`` would give the
    database (``None``: the value as it is). Datetimes, dates and JSON go straight to the
    backend's adapter that ``get_db_prep_save`` ends in; anything unusual takes the long way.
    ``moments`` keeps adapted datetimes (the same moment is in several rows: a step's
    timeline entry, its audit event, the dispute's ``updated`` …)."""
    kind = type(field)
    if kind in _AS_IS:
        return None
    if kind in (models.ForeignKey, models.OneToOneField) and type(field.target_field) in _AS_IS:
        return None
    slow = field.get_db_prep_save
    if kind is models.DateTimeField:
        adapt = connection.ops.adapt_datetimefield_value

        def convert(value):
            if value is None:
                return None
            if type(value) is datetime and value.utcoffset() is not None:
                try:
                    return moments[value]
                except KeyError:
                    moments[value] = adapted = adapt(value)
                    return adapted
            return slow(value, connection)  # naive: warned about and made aware there

        return convert
    if kind is models.DateField:
        adapt = connection.ops.adapt_datefield_value

        def convert(value):
            return adapt(value) if type(value) is date else slow(value, connection)

        return convert
    if kind is models.JSONField:
        adapt, encoder = connection.ops.adapt_json_value, field.encoder
        texts: dict = {}

        def convert(value):
            if value is None:
                return None
            # Most payloads are a few words ({"state": "closed"}): adapted once each.
            if type(value) is dict and len(value) < 4:
                key = tuple(value.items())
                if all(type(k) is str and type(v) is str for k, v in key):
                    try:
                        return texts[key]
                    except KeyError:
                        if len(texts) > 10_000:
                            texts.clear()
                        texts[key] = adapted = adapt(value, encoder)
                        return adapted
            return adapt(value, encoder)

        return convert
    return lambda value: slow(value, connection)


class _Table:
    """One model's light row class, its INSERT and its columns' converters.

    ``row(**columns)``: a slotted object with the model's column names (``attname``: ``org_id``,
    not ``org``), the model's defaults for the columns not given (as ``Model()`` fills them),
    ``pk``, ``_meta`` and the model's ``__str__`` (for the audit event's target), plus the
    model's properties named in ``methods``. ``write()`` takes these rows or model instances.
    """

    def __init__(self, model, connection, *, moments: dict, methods=()):
        fields = model._meta.concrete_fields
        specs = []
        for field in fields:
            if field.has_default() and callable(field.default):
                spec = dataclasses.field(default_factory=field.default)
            else:
                spec = dataclasses.field(default=None if field.primary_key else field.get_default())
            specs.append((field.attname, object, spec))
        pk = model._meta.pk.attname
        namespace = {
            "_meta": model._meta,
            "__str__": model.__str__,
            "pk": property(operator.attrgetter(pk), lambda row, value: setattr(row, pk, value)),
        }
        for name in methods:
            namespace[name] = model.__dict__[name]
        self.row = dataclasses.make_dataclass(
            f"{model.__name__}Row", specs, namespace=namespace, kw_only=True, slots=True, eq=False
        )
        self.model = model
        self.connection = connection
        names = [f.attname for f in fields]
        self.get = operator.attrgetter(*names)
        self.convert = [
            (i, convert)
            for i, field in enumerate(fields)
            if (convert := _converter(field, connection, moments)) is not None
        ]
        qn = connection.ops.quote_name
        self.sql = "INSERT INTO {} ({}) VALUES ({})".format(
            qn(model._meta.db_table),
            ", ".join(qn(f.column) for f in fields),
            ", ".join(["%s"] * len(fields)),
        )
        # The same for the sqlite3 module's own cursor (``_Writer``): its placeholder.
        self.raw_sql = self.sql.replace("%s", "?") if connection.vendor == "sqlite" else ""

    def values(self, rows) -> list:
        """The rows as the database is given them (``bulk_create``'s values, without
        ``pre_save``: an ``auto_now`` column keeps the moment of the row's last step)."""
        get, convert = self.get, self.convert
        if not convert:
            return [get(row) for row in rows]
        out = []
        for row in rows:
            values = list(get(row))
            for i, fn in convert:
                values[i] = fn(values[i])
            out.append(values)
        return out

    def write(self, rows, writer: _Writer | None = None) -> int:
        """INSERT the rows as they are, ``CHUNK`` at a time, one ``executemany`` each (on the
        writer's thread if there is one: the values are made here)."""
        for i in range(0, len(rows), CHUNK):
            values = self.values(rows[i : i + CHUNK])
            if writer is not None:
                writer.put(self.raw_sql, values)
            else:
                with self.connection.cursor() as cursor:
                    cursor.executemany(self.sql, values)
        return len(rows)


def _named(actor):
    return actor if actor is not None and actor.pk else None


class _NotPlain(Exception):
    pass


def _plain(value):
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    if t is dict:
        if not all(type(key) is str for key in value):
            raise _NotPlain
        return {key: _plain(value[key]) for key in sorted(value)}
    if t is list or t is tuple:
        return [_plain(item) for item in value]
    raise _NotPlain


def _json_safe_fast(value):
    """``core.audit._json_safe`` (a JSON round trip with the keys sorted) without the round
    trip for what the steps put in an event — dicts with text keys, lists, text, integers,
    booleans, None: the same value comes back with its keys sorted. Anything else (a
    Decimal, a date, an enum member …) takes the round trip."""
    if value is None:
        return None
    try:
        return _plain(value)
    except _NotPlain:
        return _json_safe(value)


class BulkMediation:
    """One run's rows and the state the actions would read back.

    Use once: the registry's ``do_save_org`` / ``do_assign_role`` / ``do_save_mediator``, then
    ``begin_year()``, then the year's steps, then ``finish()``."""

    def __init__(self, batch: AuditBatch, *, progress=None):
        if batch is None:
            raise RuntimeError("BulkMediation needs an open audit_batch()")
        self.batch = batch
        self.progress = progress
        self.connection = connection = connections[DEFAULT_DB_ALIAS]
        self.tz = timezone.get_current_timezone()
        self.cache_size = None
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size")
                self.cache_size = cursor.fetchone()[0]
                cursor.execute(f"PRAGMA cache_size = {-int(SQLITE_CACHE_KIB)}")
        self.moments: dict = {}
        self.tables = {
            model: _Table(
                model,
                connection,
                moments=self.moments,
                methods=("open_step",) if model is CallLog else (),
            )
            for model in (*_REGISTRY, *_APPEND_ONLY, *_KEPT, DisputeCodeCounter)
        }
        self._next = {}
        for model in (*_REGISTRY, *_APPEND_ONLY, *_KEPT, DisputeCodeCounter):
            if model is AuditEvent:
                continue  # the chain head gives the ids
            last = model.objects.order_by("-pk").values_list("pk", flat=True).first()
            self._next[model] = (last or 0) + 1
        self._rows = {model: self.tables[model].row for model in self.tables}
        self.rows = defaultdict(list)  # append-only model → rows not yet written
        self.pending = 0
        self.written = 0
        self._can: dict = {}
        self._scopes: dict = {}
        self._depts: dict = {}
        self._names: dict = {}
        # The registry as the database holds it before this run, and this run's additions.
        self.new_orgs: dict[str, MediationOrg] = {}
        self.old_org_codes = set(MediationOrg.objects.values_list("code", flat=True))
        self.new_mediators: list[Mediator] = []
        self.mediator_users = set(
            Mediator.objects.exclude(user=None).values_list("user_id", flat=True)
        )
        self.new_roles: dict[tuple, RoleAssignment] = {}
        self.old_roles: dict[str, set] = {}
        self.places = set(Region.objects.values_list("code", flat=True))
        self.places |= set(Grid.objects.values_list("code", flat=True))
        self.begun = False
        self.writer = None
        if THREADED_WRITES and connection.vendor == "sqlite":
            self.writer = _Writer(connection)

    # ----------------------------------------------------------------------- plumbing

    def _pk(self, obj):
        model = obj._meta.model
        obj.pk = self._next[model]
        self._next[model] += 1
        return obj

    def _add(self, model, obj):
        self.rows[model].append(obj)
        self.pending += 1
        if self.pending >= FLUSH_AT:
            self._flush()
        return obj

    def _new(self, model, **columns):
        """A new append-only row, numbered and queued for writing."""
        row = self._rows[model](**columns)
        row.pk = self._next[model]
        self._next[model] += 1
        return self._add(model, row)

    def _flush(self):
        for model in _APPEND_ONLY:
            rows = self.rows.pop(model, [])
            self.written += self.tables[model].write(rows, self.writer)
        self.pending = 0
        self.moments.clear()
        if self.progress:
            self.progress(f"  {self.written:,} rows written")

    def _can_do(self, actor, permission, region_code) -> bool:
        key = (getattr(actor, "pk", None), permission, region_code)
        if key not in self._can:
            self._can[key] = can(actor, permission, region_code=region_code)
        return self._can[key]

    def _name(self, named) -> str:
        if named is None:
            return "system"
        try:
            return self._names[named.pk]
        except KeyError:
            self._names[named.pk] = name = named.get_username()
            return name

    def _audit(self, action, *, actor, target, scope_code="", before=None, after=None):
        """``core.audit.record_event`` inside a batch, without the INSERT per event."""
        batch = self.batch
        named = actor if actor is not None and actor.pk else None
        event = self._rows[AuditEvent](
            id=batch.last_id + 1,
            created=timezone.now(),
            actor_id=named.pk if named else None,
            actor_name=self._name(named),
            action=action,
            target_type=target._meta.label_lower,
            target_id=str(target.pk),
            target_repr=str(target)[:200],
            scope_code=scope_code or "",
            before=_json_safe_fast(before),
            after=_json_safe_fast(after),
            request_id=current_request_id(),
            prev_hash=batch.last_hash,
        )
        event.hash = event_hash(event)
        batch.last_id, batch.last_hash = event.id, event.hash
        self._add(AuditEvent, event)

    # ----------------------------------------------------------------------- the registry

    def do_save_org(
        self,
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
        """``actions.do_save_org``; an organisation already in the database goes through it."""
        if code in self.old_org_codes:
            return A.do_save_org(
                actor=actor,
                code=code,
                name=name,
                kind=kind,
                region_code=region_code,
                specialities=specialities,
                capacity=capacity,
                active=active,
            )
        A._require_configure(actor, region_code)
        if kind not in _ORG_KINDS:
            raise ValidationError({"kind": _("Choose a kind.")})
        if region_code not in self.places:
            raise ValidationError({"region_code": _("Unknown area.")})
        code = A._text(code, "code", required=True, limit=32)
        name = A._text(name, "name", required=True, limit=100)
        specialities = A._clean_specialities(specialities)
        org = self.new_orgs.get(code)
        if org is not None:
            A._require_configure(actor, org.region_code)  # moving one needs both places
        before = snapshot(org) if org else None
        if org is None:
            org = self.new_orgs[code] = self._pk(MediationOrg(code=code))
        org.name, org.kind, org.region_code = name, kind, region_code
        org.specialities, org.capacity, org.active = specialities, max(int(capacity), 1), active
        self._audit(
            "mediation.org.save",
            actor=actor,
            target=org,
            scope_code=region_code,
            before=before,
            after=snapshot(org),
        )
        return org

    def do_save_mediator(
        self,
        *,
        actor,
        org: MediationOrg,
        name: str,
        kind: str,
        specialities=(),
        region_code: str = "",
        user=None,
        active: bool = True,
    ) -> Mediator:
        """``actions.do_save_mediator`` for a new mediator."""
        region_code = region_code or org.region_code
        A._require_configure(actor, region_code)
        if user is not None and user.pk in self.mediator_users:
            raise ValidationError({"user": _("This login already belongs to another mediator.")})
        if kind not in _MEDIATOR_KINDS:
            raise ValidationError({"kind": _("Choose a kind.")})
        if not region_code.startswith(org.region_code[:6]):
            raise ValidationError(
                {"region_code": _("The area is outside the organisation's county.")}
            )
        name = A._text(name, "name", required=True, limit=50)
        specialities = A._clean_specialities(specialities)
        mediator = Mediator()
        mediator.org, mediator.name, mediator.kind = org, name, kind
        mediator.specialities, mediator.region_code = specialities, region_code
        mediator.user, mediator.active = user, active
        self._pk(mediator)
        self.new_mediators.append(mediator)
        if user is not None:
            self.mediator_users.add(user.pk)
        self._audit(
            "mediation.mediator.save",
            actor=actor,
            target=mediator,
            scope_code=region_code,
            before=None,
            after=snapshot(mediator),
        )
        return mediator

    def do_assign_role(
        self, person, role: str, *, region=None, grid=None, department=None, since=None, actor
    ) -> RoleAssignment:
        """``people.actions.do_assign_role`` by a superuser (the only actor of the registry)."""
        from civicgrid.people.actions import do_assign_role

        scope_code = role_scope_code(role, region=region, grid=grid, department=department)
        if not (actor is not None and actor.is_superuser):
            raise ActionRefused("the demo's bulk path assigns roles as a superuser only")
        department_id = department.pk if department is not None else None
        key = (person.pk, role, scope_code, department_id)
        if role not in self.old_roles:
            self.old_roles[role] = set(
                RoleAssignment.objects.filter(role=role).values_list(
                    "person_id", "role", "scope_code", "department_id"
                )
            )
        if key in self.old_roles[role]:  # already in the database: the action gets it
            return do_assign_role(
                person,
                role,
                region=region,
                grid=grid,
                department=department,
                since=since,
                actor=actor,
            )
        assignment = self.new_roles.get(key)
        if assignment is None:
            assignment = self._pk(
                RoleAssignment(
                    person=person,
                    role=role,
                    scope_code=scope_code,
                    department=department,
                    region=region,
                    grid=grid,
                    since=since,
                )
            )
            self.new_roles[key] = assignment
            self._audit(
                "people.role.assign",
                actor=actor,
                target=assignment,
                scope_code=scope_code,
                after=snapshot(assignment),
            )
        if person.user is not None:
            forget_scope(person.user)
        return assignment

    def begin_year(self) -> None:
        """Write the registry, then read what the year's steps need: the organisations by
        place, the mediators, the loads as the database holds them (open disputes per
        organisation, active assignments to open disputes per mediator) and the parties of
        open disputes (for "same parties as an open dispute")."""
        if self.begun:
            raise RuntimeError("begin_year() runs once")
        self.begun = True
        for model, rows in (
            (MediationOrg, list(self.new_orgs.values())),
            (Mediator, self.new_mediators),
            (RoleAssignment, list(self.new_roles.values())),
        ):
            self.written += self.tables[model].write(sorted(rows, key=lambda r: r.pk))
        self.disputes: dict[int, object] = {}
        self.assignments: dict[int, list] = defaultdict(list)
        self.handoffs: dict[int, list] = defaultdict(list)
        self.confirmations: dict[int, object] = {}
        self.agreements: dict[int, object] = {}
        self.sessions: dict[int, int] = defaultdict(int)
        self.calls: dict[int, object] = {}
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

    # -- the state the actions read back

    def _dispute(self, dispute):
        try:
            return self.disputes[dispute.pk]
        except KeyError:
            raise ValidationError("the bulk path acts only on the disputes it made") from None

    def _active(self, dispute_id) -> list:
        return [a for a in self.assignments[dispute_id] if a.active]

    def _recount(self, d) -> None:
        """Keep the loads as the database would count them after this dispute's change."""
        is_open = d.state in workflow.OPEN_STATES
        now = (
            d.org_id if is_open else None,
            tuple(a.mediator_id for a in self._active(d.id)) if is_open else (),
        )
        old_org, old_meds = self._counted.get(d.id, (None, ()))
        if old_org is not None:
            self.org_load[old_org] -= 1
        for m in old_meds:
            self.mediator_load[m] -= 1
        if now[0] is not None:
            self.org_load[now[0]] += 1
        for m in now[1]:
            self.mediator_load[m] += 1
        self._counted[d.id] = now

    def lead_mediator_id(self, dispute) -> int | None:
        rows = sorted(self._active(dispute.pk), key=lambda a: (not a.lead, a.id))
        return rows[0].mediator_id if rows else None

    def is_handler(self, actor, d) -> bool:
        if actor is None or not actor.is_authenticated:
            return False
        try:
            superuser, mediates = self._scopes[actor.pk]
        except KeyError:
            scope = scope_for(actor)
            superuser, mediates = self._scopes[actor.pk] = (
                scope.superuser,
                scope.has("mediation.mediate"),
            )
        if superuser:
            return True
        if d.route == Route.CENTRE and self._can_do(actor, "mediation.route", d.region_code):
            return True
        if not mediates:
            return False
        if d.department_id:
            key = actor.pk
            if key not in self._depts:
                self._depts[key] = departments_of(actor, "mediation.mediate")
            if d.department_id in self._depts[key]:
                return True
        return any(self.mediators[a.mediator_id].user_id == actor.pk for a in self._active(d.id))

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
        self._new(
            DisputeEvent,
            dispute_id=d.id,
            action=action,
            actor_id=named.pk if named else None,
            actor_name=self._name(named),
            from_state=from_state,
            to_state=d.state,
            text=text,
            data=data or {},
            created=now,
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
        prefix = f"MD-{county_code}-{now.astimezone(self.tz):%Y%m%d}"  # timezone.localtime
        counter = self.counters.get(prefix)
        if counter is None:
            counter = self._pk(DisputeCodeCounter(prefix=prefix, last=0))
            self.counters[prefix] = counter
            self.new_counters.add(prefix)
        elif prefix not in self.new_counters:
            self.changed_counters.add(prefix)
        counter.last += 1
        return f"{prefix}-{counter.last:05d}"

    def _parties(self, parties) -> list:
        """``actions._clean_parties``, making rows (the same checks, in the same order)."""
        if not isinstance(parties, (list, tuple)) or not parties:
            raise ValidationError({"parties": _("Name the applicant and the respondent.")})
        if len(parties) > A.MAX_PARTIES:
            raise ValidationError({"parties": _("At most 50 parties.")})
        make = self._rows[Party]
        rows, errors = [], []
        for i, raw in enumerate(parties, start=1):
            role = raw.get("role") or ""
            kind = raw.get("kind") or Party.Kind.NATURAL
            name = (raw.get("name") or "").strip()
            if role not in _PARTY_ROLES or kind not in _PARTY_KINDS:
                errors.append(_("Party %(n)s: choose a role and a kind.") % {"n": i})
                continue
            if not name or len(name) > 100:
                errors.append(_("Party %(n)s: give a name of at most 100 characters.") % {"n": i})
                continue
            party = make(
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
                errors.append(
                    _("Party %(n)s: %(error)s") % {"n": i, "error": " ".join(exc.messages)}
                )
                continue
            party.match_key = A._match_key(party)
            rows.append(party)
        if not errors:
            roles = {p.role for p in rows}
            if Party.Role.APPLICANT not in roles or Party.Role.RESPONDENT not in roles:
                errors.append(_("A dispute needs at least one applicant and one respondent."))
        if errors:
            raise ValidationError({"parties": errors})
        return rows

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
    ):
        """``actions.do_register_dispute`` for a grid's dispute (no case, map point or date)."""
        title = A._text(title, "title", required=True, limit=100)
        description = A._text(description, "description", required=True)
        if category not in A._CATEGORY_CODES or source not in _SOURCES:
            raise ValidationError(_("Choose a dispute category."))
        if scale not in _SCALES:
            raise ValidationError({"scale": _("Choose a scale.")})
        amount = A._decimal(amount, "amount")
        petitions = int(petitions or 0)
        rows = self._parties(parties)
        people_involved = int(people_involved if people_involved not in (None, "") else 0)
        if grid is None:
            raise ValidationError({"location": _("Give the place.")})
        region_code = grid.code
        if not self._can_do(actor, "mediation.register", region_code):
            raise ActionRefused(_("You may not register disputes in this area."))
        people_involved = max(people_involved, len(rows))
        now = timezone.now()
        named = _named(actor)
        d = self._rows[Dispute](
            state=workflow.REGISTERED,
            title=title,
            description=description,
            category=category,
            source=source,
            amount=amount,
            people_involved=people_involved,
            scale=scale,
            threats=bool(threats),
            petitions=petitions,
            grid_id=grid.pk,
            region_code=region_code,
            registered_by_id=named.pk if named else None,
            deadline=rules.mediation_deadline(now),
            created=now,
        )
        d.risk_level, d.risk_reasons = rules.assess_risk(d)
        d.code = self._next_code(region_code[:6], now)
        related_id, related_code = self._related_open(rows)
        d.related_open_id = related_id
        d.updated = now
        self._pk(d)
        self.disputes[d.id] = d
        for party in rows:
            party.dispute_id = d.id
            self._pk(party)
            self._add(Party, party)
            if party.match_key:
                self.by_key[party.match_key].append(d.id)
        data = {"risk": d.risk_level, "deadline": d.deadline.isoformat()}
        if related_id:
            data["related_open"] = related_code
        self._new(
            DisputeEvent,
            dispute_id=d.id,
            action="register",
            actor_id=named.pk if named else None,
            actor_name=self._name(named),
            from_state="",
            to_state=d.state,
            data=data,
            created=now,
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
        if route not in _ROUTES or route == Route.LEGAL:
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
        for a in self._active(d.id):
            a.active = False
        make = self._rows[DisputeMediator]
        for i, m in enumerate(mediators):
            self.assignments[d.id].append(
                self._pk(make(dispute_id=d.id, mediator_id=m.pk, lead=(i == 0), created=now))
            )
        d.route = route
        d.org_id = org.pk if org is not None else None
        d.department_id = department.pk if department is not None else None
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
        if channel not in _CHANNELS:
            raise ValidationError({"channel": _("Choose a legal channel.")})
        receiving_unit = A._text(receiving_unit, "receiving_unit", required=True, limit=100)
        note = A._text(note, "note")
        d, step = self._step(dispute, "refer", actor=actor)
        from_state = d.state
        now = timezone.now()
        handoff = self._pk(
            self._rows[LegalHandoff](
                dispute_id=d.id,
                channel=channel,
                receiving_unit=receiving_unit,
                note=note,
                deadline=rules.legal_deadline(channel, now),
                created=now,
            )
        )
        self.handoffs[d.id].append(handoff)
        for a in self._active(d.id):
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
        handoff = max(self.handoffs[d.id], key=lambda h: (h.created, h.id))
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
            a.mediator_id for a in sorted(self._active(d.id), key=lambda a: (not a.lead, a.id))
        ]
        named = _named(actor)
        session = self._new(
            MediationSession,
            dispute_id=d.id,
            held_at=held_at,
            place=place,
            attendees=attendees,
            notes=notes,
            recorded_by_id=named.pk if named else None,
            created=timezone.now(),
        )
        # As ``session.mediators.set()`` adds them: in the order of a set of ids.
        for mediator_id in set(mediator_ids):
            self._new(SessionMediator, mediationsession_id=session.id, mediator_id=mediator_id)
        self.sessions[d.id] += 1
        self._record(
            d,
            step,
            "session",
            actor=actor,
            from_state=from_state,
            text=notes,
            data={"held_at": held_at.isoformat(), "place": place, "session": session.id},
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
        if outcome not in _OUTCOMES:
            raise ValidationError({"outcome": _("Choose an outcome.")})
        note = A._text(note, "note")
        if outcome == Outcome.AGREEMENT:
            terms = A._clean_terms(terms)
            amount = A._decimal(amount, "amount")
        action = A._OUTCOME_ACTION[outcome]
        d, step = self._step(dispute, action, actor=actor)
        if outcome in (Outcome.AGREEMENT, Outcome.FAILED) and not self.sessions[d.id]:
            raise ValidationError({"outcome": _("Record a mediation session first.")})
        from_state = d.state
        now = timezone.now()
        data = {"outcome": outcome}
        if outcome == Outcome.AGREEMENT:
            signed_on = timezone.localdate(now)
            if perform_by is not None and perform_by < signed_on:
                raise ValidationError({"perform_by": _("The date is before the agreement.")})
            self.agreements[d.id] = self._new(
                Agreement,
                dispute_id=d.id,
                terms=terms,
                amount=amount,
                perform_by=perform_by,
                signed_on=signed_on,
                created=now,
            )
            data.update({"terms": len(terms), "amount": str(amount)})
        d.outcome, d.outcome_note, d.concluded_at = outcome, note, now
        self._record(d, step, action, actor=actor, from_state=from_state, text=note, data=data)
        return d

    def do_apply_confirmation(self, dispute, *, actor, court):
        court = A._text(court, "court", required=True, limit=100)
        d, step = self._step(dispute, "apply_confirmation", actor=actor)
        applied_on = timezone.localdate()
        agreement = self.agreements[d.id]
        if d.id in self.confirmations:
            raise ValidationError({"court": _("Judicial confirmation was already applied for.")})
        if (
            not agreement.signed_on
            <= applied_on
            <= agreement.signed_on + timedelta(days=A.CONFIRMATION_DAYS)
        ):
            raise ValidationError({"applied_on": _("The date is before the agreement.")})
        from_state = d.state
        confirmation = self._pk(
            self._rows[JudicialConfirmation](dispute_id=d.id, court=court, applied_on=applied_on)
        )
        self.confirmations[d.id] = confirmation
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
        if result not in _CONFIRMATION_RESULTS:
            raise ValidationError({"result": _("Choose confirmed or rejected.")})
        note = A._text(note, "note", limit=200)
        d, step = self._step(dispute, "confirmation_result", actor=actor)
        confirmation = self.confirmations.get(d.id)
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
        row = self._new(
            Performance,
            dispute_id=d.id,
            kind=kind,
            amount_paid=amount_paid,
            note=note,
            created=timezone.now(),
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
        if satisfaction not in _SATISFACTIONS:
            raise ValidationError({"satisfaction": _("Choose the parties' satisfaction.")})
        note = A._text(note, "note")
        d, step = self._step(dispute, "follow_up", actor=actor)
        from_state = d.state
        named = _named(actor)
        row = self._new(
            FollowUp,
            dispute_id=d.id,
            satisfaction=satisfaction,
            note=note,
            by_id=named.pk if named else None,
            created=timezone.now(),
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
        if kind not in _ACTIVITY_KINDS:
            raise ValidationError({"kind": _("Choose a kind.")})
        if day > timezone.localdate():
            raise ValidationError({"day": _("The day is in the future.")})
        note = A._text(note, "note", limit=500)
        row = self._new(
            Activity,
            org_id=org.pk,
            mediator_id=None,
            kind=kind,
            day=day,
            people_reached=max(int(people_reached or 0), 0),
            note=note,
            region_code=region_code,
            created=timezone.now(),
        )
        self._audit("mediation.activity.log", actor=actor, target=row, scope_code=region_code)
        return row

    def do_log_visit(self, *, actor, region_code, name, about, outcome, phone="", visitors=1):
        if not self._can_do(actor, "mediation.register", region_code):
            raise ActionRefused(_("You may not keep this reception hall's log."))
        name = A._text(name, "name", required=True, limit=50)
        about = A._text(about, "about", required=True)
        if outcome not in _VISIT_OUTCOMES:
            raise ValidationError({"outcome": _("Choose the outcome.")})
        sealed = self._seal_phone(phone)
        named = _named(actor)
        row = self._new(
            VisitorLog,
            visited_at=timezone.now(),
            name=name,
            phone_cipher=sealed.cipher if sealed else "",
            phone_hash=sealed.hash if sealed else "",
            phone_masked=sealed.masked if sealed else "",
            visitors=max(int(visitors or 1), 1),
            about=about,
            outcome=outcome,
            dispute_id=None,
            case_id=None,
            region_code=region_code,
            recorded_by_id=named.pk if named else None,
        )
        self._audit("mediation.visit.log", actor=actor, target=row, scope_code=region_code)
        return row

    def do_log_call(self, *, actor, region_code, category, summary, caller="", phone="", answer=""):
        if not self._can_do(actor, "mediation.register", region_code):
            raise ActionRefused(_("You may not keep this hotline's log."))
        if category not in _CALL_CATEGORIES:
            raise ValidationError({"category": _("Choose consultation, complaint or suggestion.")})
        summary = A._text(summary, "summary", required=True)
        answer = A._text(answer, "answer")
        caller = A._text(caller, "caller", limit=50)
        sealed = self._seal_phone(phone)
        now = timezone.now()
        calendar = default_calendar()
        named = _named(actor)
        row = self._pk(
            self._rows[CallLog](
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
                recorded_by_id=named.pk if named else None,
            )
        )
        self.calls[row.id] = row
        self._audit("mediation.call.log", actor=actor, target=row, scope_code=region_code)
        return row

    def _call_step(self, call, actor, step):
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
        if satisfaction not in _SATISFACTIONS:
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

    def close(self) -> None:
        """Wait for the writer's thread (``finish()`` does; after a failure, call it before
        the transaction is rolled back)."""
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.close()

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
            self.written += self.tables[model].write(rows, self.writer)
        self.close()
        new = [self.counters[p] for p in sorted(self.new_counters)]
        DisputeCodeCounter.objects.bulk_create(new, batch_size=CHUNK)
        changed = [self.counters[p] for p in sorted(self.changed_counters)]
        DisputeCodeCounter.objects.bulk_update(changed, ["last"], batch_size=CHUNK)
        self.written += len(new)
        models_ = [m for m in self._next if m is not AuditEvent]
        statements = self.connection.ops.sequence_reset_sql(no_style(), models_)
        with self.connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
            if self.cache_size is not None:
                cursor.execute(f"PRAGMA cache_size = {int(self.cache_size)}")
        return self.written
