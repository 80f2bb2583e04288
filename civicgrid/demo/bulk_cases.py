"""The case actions the demo year calls, kept in memory and written with ``bulk_create``.

``civicgrid.demo.cases`` runs its simulation either through ``civicgrid.cases.actions`` or
through a ``BulkCaseWriter``: the same function names and arguments, the same rows — cases,
timeline (``CaseAction``), reporters, photos, the case code counter, assignments,
supervisions, leader instructions, extension requests, notifications (same recipients and
subjects) and audit events (same payloads, timestamps, ids and hash chain) — but no query per
step: the objects stay in memory, the append-only rows go out in chunks and the rows that
change (cases, assignments, supervisions, extension requests, counters) once at the end. The
primary keys are the ones the database would have given (read from its sequences at the
start; the sequences are moved on at the end), because case and supervision ids are part of
the audit trail's payloads and hashes.

It is a second implementation of the actions' writes: ``demo/tests/test_bulk_cases.py`` runs
the same seed through both and compares every row of every table. It covers only what the
demo does — one reporter per case, no merges, no idempotency keys — and refuses to start when
something would make the actions write more than it knows about: an active webhook
subscription, a ``case_action_recorded`` receiver it does not know, or a co-governance member
among the people who act (points). ``BulkCaseWriter.unsupported()`` says why; the demo then
goes through the actions.

Every step checks (workflow table, actor, the action's validations) before it changes
anything, so a refused step leaves no trace, as the action's rolled-back savepoint does.
"""

import itertools
import os
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _t

from civicgrid.cases import actions as A
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
    ExtensionRequest,
    LeaderInstruction,
    Level,
    Notification,
    Supervision,
)
from civicgrid.cases.signals import case_action_recorded
from civicgrid.core.audit import AuditBatch, event_hash
from civicgrid.core.calendar import default_calendar
from civicgrid.core.context import current_request_id
from civicgrid.core.errors import ActionRefused
from civicgrid.core.models import AuditEvent
from civicgrid.core.scoping import can, departments_of, scope_for
from civicgrid.demo.sqlite_writer import ThreadedWriter
from civicgrid.people import pii
from civicgrid.regions import geo
from civicgrid.regions.models import Grid, Region
from civicgrid.regions.selectors import get_locator

__all__ = ["BulkCaseWriter"]

# The receivers of case_action_recorded whose writes cannot happen in the demo year (see
# ``unsupported``): co-governance points (only for members, refused below) and on-call
# summonses (a new case has none).
KNOWN_RECEIVERS = {"cogovernance-points", "oncall.cancel_on_close"}
CHUNK = 5000
# On SQLite the INSERTs run on a thread of their own (``demo.sqlite_writer``) while the year
# is simulated; the tests also run without it.
THREADED_WRITES = True

# The subjects of the actions' notifications (the same msgids: translated by the cases
# catalogue). Kept apart from gettext's ``_`` so that makemessages does not copy them here.
SUBJECTS = {
    "reported": "New case %(code)s",
    "rejected": "Case %(code)s was not accepted",
    "escalated": "Case %(code)s escalated to you",
    "dispatched": "Case %(code)s dispatched to you",
    "return_requested": "Return requested for case %(code)s",
    "forced": "Case %(code)s: return refused, please handle",
    "feedback": "Feedback on case %(code)s to verify",
    "closed": "Case %(code)s is closed",
    "rework": "Case %(code)s sent back for rework",
    "extension_requested": "Extension requested for case %(code)s",
    "not_satisfied": "Case %(code)s: the reporter is not satisfied",
    "supervised": "Case %(code)s is supervised",
    "instructed": "Leader instruction on case %(code)s",
}


class _Pks:
    """The next primary keys the database would give to one table, handed out in order."""

    def __init__(self, model):
        self.model = model
        self.table = model._meta.db_table
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [self.table])
                self.sequence = cursor.fetchone()[0]
                cursor.execute(f"SELECT last_value, is_called FROM {self.sequence}")  # noqa: S608
                last, called = cursor.fetchone()
                first = last + 1 if called else last
            elif connection.vendor == "sqlite":
                self.sequence = None
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [self.table])
                row = cursor.fetchone()
                cursor.execute(f'SELECT MAX(id) FROM "{self.table}"')  # noqa: S608
                first = max(row[0] if row else 0, cursor.fetchone()[0] or 0) + 1
            else:
                raise RuntimeError(f"bulk demo cases: no sequence reader for {connection.vendor}")
        self.first = first
        self._next = itertools.count(first)
        self.last = first - 1

    def __call__(self) -> int:
        self.last = next(self._next)
        return self.last

    def move_sequence(self) -> None:
        """After the rows are in: the next insert of anyone gets the id after ours."""
        if self.sequence is not None and self.last >= self.first:
            with connection.cursor() as cursor:
                cursor.execute("SELECT setval(%s, %s, true)", [self.sequence, self.last])


class _Row:
    """A row to insert without a model instance (a third of the run went to ``Model.__init__``):
    its ``__dict__`` holds every column's value by attribute name, as a model's does."""

    def __init__(self, values: dict):
        self.__dict__ = values

    @property
    def pk(self):
        return self.__dict__["id"]


def _row_factory(model):
    """``make(**values)``: a ``_Row`` of ``model`` with the fields' defaults for the rest."""
    defaults = {f.attname: f.get_default() for f in model._meta.concrete_fields}
    columns = frozenset(defaults)

    def make(**values) -> _Row:
        if not columns.issuperset(values):
            raise TypeError(f"{model.__name__} has no columns {sorted(set(values) - columns)}")
        return _Row({**defaults, **values})

    return make


_AS_IS = {
    "BigAutoField",
    "AutoField",
    "BooleanField",
    "CharField",
    "FloatField",
    "ForeignKey",
    "IntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "TextField",
}


def _insert(model, objs, writer: ThreadedWriter | None = None) -> None:
    """``bulk_create`` without its per-value compilation (a third of the run): one
    ``executemany`` of plain INSERTs with the values Django would send. Character, number,
    boolean and key columns go as they are (as Django's ``get_db_prep_save`` leaves them),
    datetimes through the backend's adapter, JSON and files through the field itself."""
    if not objs:
        return
    fields = list(model._meta.concrete_fields)
    ops = connection.ops
    adapters = []
    for f in fields:
        kind = f.get_internal_type()
        if kind in _AS_IS:
            adapters.append(None)
        elif kind == "DateTimeField":
            adapters.append(ops.adapt_datetimefield_value)
        else:
            adapters.append(lambda value, f=f: f.get_db_prep_save(value, connection))
    attnames = [f.attname for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({marks})"
    rows = []
    for obj in objs:
        values = obj.__dict__
        rows.append(
            tuple(
                values[name] if adapt is None else adapt(values[name])
                for name, adapt in zip(attnames, adapters, strict=True)
            )
        )
    if writer is not None:  # SQLite: on the writer's thread, with sqlite3's own marks
        raw_sql = sql.replace("%s", "?")
        for start in range(0, len(rows), CHUNK):
            writer.put(raw_sql, rows[start : start + CHUNK])
        return
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            cursor.executemany(sql, rows[start : start + CHUNK])


class BulkCaseWriter:
    """The subset of ``civicgrid.cases.actions`` the demo simulation calls, in memory."""

    MAX_EXTENSION_DAYS = A.MAX_EXTENSION_DAYS

    def __init__(self, chain: AuditBatch, *, cast_users=()):
        problem = self.unsupported(cast_users)
        if problem:
            raise RuntimeError(f"bulk demo cases: {problem}")
        self.chain = chain
        self.writer = None
        if THREADED_WRITES and connection.vendor == "sqlite":
            self.writer = ThreadedWriter(connection)
        self.calendar = default_calendar()
        self.models = [
            Case,
            CaseReporter,
            CaseAction,
            Attachment,
            Assignment,
            Supervision,
            ExtensionRequest,
            LeaderInstruction,
            Notification,
            CaseCodeCounter,
        ]
        self.pks = {model: _Pks(model) for model in self.models}
        self.rows = {model: _row_factory(model) for model in (CaseAction, Notification, AuditEvent)}
        self.append_only = {
            CaseReporter: [],
            CaseAction: [],
            Attachment: [],
            LeaderInstruction: [],
            Notification: [],
            AuditEvent: [],
        }
        self.cases: list[Case] = []
        self.assignments: dict[int, list[Assignment]] = {}  # by case pk, in pk order
        self.reporters: dict[int, list[CaseReporter]] = {}
        self.supervisions: list[Supervision] = []
        self.extensions: list[ExtensionRequest] = []
        self.pending_extension: set[int] = set()
        self.counters: dict[str, CaseCodeCounter] = {}
        self.grids: dict[str, Grid] = {}
        # locate_grid's index, asked once (it checks the geometry version on every call)
        self.locator = get_locator()
        self.county: Region | None = None
        self.pending = 0
        self.directories_seen: set[str] = set()

    # ------------------------------------------------------------------ preconditions

    @staticmethod
    def unsupported(cast_users=()) -> str:
        """Why the bulk path would not write what the actions write here ("" if it would)."""
        from civicgrid.cogovernance.models import Member
        from civicgrid.webhooks.actions import _load_rules

        # (lookup key, receiver, is_async); the lookup key is (dispatch_uid, sender id)
        receivers = {
            key[0] if isinstance(key[0], str) else repr(key[0])
            for key, *_rest in case_action_recorded.receivers
        }
        unknown = receivers - KNOWN_RECEIVERS
        if unknown:
            return f"unknown case_action_recorded receivers {sorted(unknown)}"
        if _load_rules():
            return "there are active webhook subscriptions"
        users = [u.pk for u in cast_users if u is not None]
        if Member.objects.filter(user_id__in=users).exists():
            return "some of the actors are co-governance members (points)"
        return ""

    # ------------------------------------------------------------------ the simulation's reads

    def lead_sign_deadline(self, case: Case):
        lead = self._lead(case)
        return lead.sign_deadline if lead is not None else None

    def reload(self, case: Case) -> Case:
        return case

    # ------------------------------------------------------------------ internals

    def _lead(self, case: Case) -> Assignment | None:
        for a in self.assignments.get(case.pk, ()):
            if a.role == Assignment.Role.LEAD and a.active:
                return a
        return None

    def _deactivate(self, case: Case) -> None:
        for a in self.assignments.get(case.pk, ()):
            a.active = False

    def _acting_unit(self, case: Case, who: str, actor) -> str | None:
        """``actions.acting_unit`` on the in-memory case."""
        owner = who == "owner" or (who == "handler" and self._lead(case) is None)
        if owner:
            return case.unit_code if A._acts_for_owner(actor, case) else None
        if who in {"lead", "handler"}:
            lead = self._lead(case)
            if lead and (
                lead.department_id in departments_of(actor, "cases.department")
                or scope_for(actor).superuser
            ):
                return lead.department.code
            return None
        if who == "reporter_or_owner":
            if A._acts_for_owner(actor, case) or (
                actor
                and actor.pk
                and any(r.user_id == actor.pk for r in self.reporters.get(case.pk, ()))
            ):
                return case.unit_code
            return None
        if who == "county":
            if can(actor, "cases.review", region_code=case.region_code):
                return case.region_code[:6]
            return None
        return ""

    def _step(self, case: Case, action: str, actor) -> tuple[str, str, str]:
        """Check the table and the actor; return (from_state, next_state, unit). No change."""
        step = workflow.next_step(case.state, action)
        unit = self._acting_unit(case, step.actor, actor)
        if unit is None:
            who = step.actor
            if who == "handler" and self._lead(case) is None:
                who = "owner"
            raise ActionRefused(A._refusal(who))
        return case.state, step.next_state, unit

    def _add(self, model, row) -> None:
        self.append_only[model].append(row)
        self.pending += 1

    def _event(self, action: str, *, actor, case: Case, before=None, after=None) -> None:
        """``core.audit.record_event`` with the chain's head in the batch."""
        # ``before``/``after`` are built here from plain values (str, int, bool, lists): the
        # JSON round trip of ``record_event`` (``_json_safe``) would give them back unchanged.
        event = self.rows[AuditEvent](
            id=self.chain.last_id + 1,
            created=timezone.now(),
            actor_id=actor.pk if actor is not None and actor.pk else None,
            actor_name=actor.get_username() if actor is not None and actor.pk else "system",
            action=action,
            target_type=Case._meta.label_lower,
            target_id=str(case.pk),
            target_repr=str(case)[:200],
            scope_code=case.region_code or "",
            before=before,
            after=after,
            request_id=current_request_id(),
            prev_hash=self.chain.last_hash,
        )
        event.hash = event_hash(event)
        self.chain.last_id, self.chain.last_hash = event.pk, event.hash
        self._add(AuditEvent, event)

    def _record(
        self,
        case: Case,
        action: str,
        *,
        actor,
        from_state: str,
        unit: str = "",
        text: str = "",
        data: dict | None = None,
    ) -> CaseAction:
        now = timezone.now()
        case.version += 1
        case.updated = now
        row = self.rows[CaseAction](
            id=self.pks[CaseAction](),
            case_id=case.pk,
            action=action,
            actor_id=actor.pk if actor is not None and actor.pk else None,
            actor_name=actor.get_username() if actor is not None and actor.pk else "system",
            role=",".join(scope_for(actor).roles)[:24] if actor is not None else "",
            unit_code=unit,
            from_state=from_state,
            to_state=case.state,
            text=text,
            data=data or {},
            created=now,
        )
        self._add(CaseAction, row)
        self._event(
            f"cases.case.{action}",
            actor=actor,
            case=case,
            before={"state": from_state},
            after={"state": case.state, **(data or {})},
        )
        return row

    def _notify(self, case: Case, event: str, subject: str, *, departments=(), unit_codes=()):
        now = timezone.now()
        subject = _t(SUBJECTS[subject]) % {"code": case.code}
        for d in departments:
            self._add(
                Notification,
                self.rows[Notification](
                    id=self.pks[Notification](),
                    department_id=d.pk,
                    channel=Notification.Channel.INBOX,
                    case_id=case.pk,
                    event=event,
                    subject=subject,
                    created=now,
                ),
            )
        for code in unit_codes:
            self._add(
                Notification,
                self.rows[Notification](
                    id=self.pks[Notification](),
                    unit_code=code,
                    channel=Notification.Channel.INBOX,
                    case_id=case.pk,
                    event=event,
                    subject=subject,
                    created=now,
                ),
            )

    def _notify_reporters(self, case: Case, event: str, subject: str) -> None:
        now = timezone.now()
        subject = _t(SUBJECTS[subject]) % {"code": case.code}
        for reporter in self.reporters.get(case.pk, ()):
            if reporter.user_id:
                values = {"recipient_id": reporter.user_id, "channel": "inbox"}
            elif reporter.phone_cipher:
                values = {"reporter_id": reporter.pk, "channel": "sms"}
            else:
                continue
            self._add(
                Notification,
                self.rows[Notification](
                    id=self.pks[Notification](),
                    case_id=case.pk,
                    event=event,
                    subject=subject,
                    created=now,
                    **values,
                ),
            )

    def _save_photos(self, case: Case, photos, kind: str, action: CaseAction) -> None:
        for clean in A._clean_photos(photos):
            attachment = Attachment(
                pk=self.pks[Attachment](),
                case=case,
                action_id=action.pk,
                kind=kind,
                content_type=clean.content_type,
                sha256=clean.sha256,
                width=clean.width,
                height=clean.height,
                taken_at=clean.taken_at,
                created=timezone.now(),
            )
            self._write_file(
                attachment, f"{case.code}-{clean.sha256[:12]}.{clean.extension}", clean.content
            )
            self._add(Attachment, attachment)

    def _write_file(self, attachment: Attachment, name: str, content: bytes) -> None:
        """``FieldFile.save(save=False)``: a new name is written directly (the storage's
        checks and temporary file are most of a photo's cost), a taken one by the storage,
        which finds the free name."""
        field = attachment.file.field
        name = field.generate_filename(attachment, name)
        storage = field.storage
        path = storage.path(name)
        if os.path.dirname(path) not in self.directories_seen:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.directories_seen.add(os.path.dirname(path))
        try:
            with open(path, "xb") as file:
                file.write(content)
        except FileExistsError:
            attachment.file.save(name.rsplit("/", 1)[-1], ContentFile(content), save=False)
            return
        attachment.file = name

    def _next_code(self, county_code: str, now) -> str:
        prefix = f"{county_code}-{timezone.localtime(now):%Y%m%d}"
        counter = self.counters.get(prefix)
        if counter is None:
            counter = CaseCodeCounter.objects.filter(prefix=prefix).first()
            if counter is None:
                counter = CaseCodeCounter(pk=self.pks[CaseCodeCounter](), prefix=prefix, last=0)
                counter._new = True
            self.counters[prefix] = counter
        counter.last += 1
        return f"{prefix}-{counter.last:05d}"

    def _grid(self, code: str) -> Grid:
        if code not in self.grids:
            self.grids[code] = Grid.objects.get(code=code)
        return self.grids[code]

    # ------------------------------------------------------------------ intake

    def do_report_case(
        self,
        *,
        actor,
        channel: str,
        description: str,
        category=None,
        lat=None,
        lng=None,
        datum: str = "wgs84",
        grid=None,
        region=None,
        address: str = "",
        photos=(),
        reporter_name: str = "",
        reporter_phone: str = "",
        urgent: bool = False,
        created=None,
    ) -> Case:
        if channel not in Case.Channel.values:
            raise ValidationError({"channel": _t("Unknown channel.")})
        anonymous = actor is None or not actor.pk
        if anonymous and channel not in {Case.Channel.RESIDENT, Case.Channel.OPEN311}:
            raise ActionRefused(_t("Log in to report through this channel."))
        if not anonymous and not scope_for(actor).has("cases.report"):
            raise ActionRefused(_t("You are not allowed to report cases."))
        errors = {}
        description = (description or "").strip()
        if not description or len(description) > 4000:
            errors["description"] = ["description"]
        if category is None and channel not in A._CATEGORY_OPTIONAL:
            errors["category"] = ["category"]
        if category is not None and not category.is_leaf:
            errors["category"] = ["category"]
        if lat is not None or lng is not None:
            lat, lng = float(lat), float(lng)
            if datum == "gcj02":
                lng, lat = geo.gcj02_to_wgs84(lng, lat)
            grid_code = self.locator.locate(lat, lng)  # what locate_grid answers
            if grid_code is None and grid is None and region is None:
                errors["location"] = ["location"]
            elif grid_code is not None and (grid is None or grid.code != grid_code):
                grid = self._grid(grid_code)
        if grid is None and region is None and address.strip() and "location" not in errors:
            if self.county is None:
                self.county = (
                    Region.objects.filter(level=Region.Level.COUNTY).order_by("code").first()
                )
            region = self.county
        if grid is None and region is None and "location" not in errors:
            errors["location"] = ["location"]
        sealed = pii.seal_phone(reporter_phone) if reporter_phone else None
        if errors:  # the demo never gets here: the actions' messages are not repeated
            raise ValidationError(errors)
        region_code = grid.code if grid is not None else region.code
        level, unit_code = A._intake_owner(actor, channel, grid, region_code, category)
        photos = A._clean_photos(photos)
        now = created or timezone.now()
        user = None if anonymous else actor
        case = Case(
            pk=self.pks[Case](),
            code=self._next_code(region_code[:6], now),
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
            reported_by=user,
            idempotency_key=None,
            created=now,
            updated=timezone.now(),
        )
        self.cases.append(case)
        reporter = CaseReporter(
            pk=self.pks[CaseReporter](),
            case=case,
            user=user,
            name=reporter_name[:50],
            phone_cipher=sealed.cipher if sealed else "",
            phone_hash=sealed.hash if sealed else "",
            phone_masked=sealed.masked if sealed else "",
            channel=channel,
            original_case_code=case.code,
            created=now,
        )
        self.reporters[case.pk] = [reporter]
        self._add(CaseReporter, reporter)
        row = self.rows[CaseAction](
            id=self.pks[CaseAction](),
            case_id=case.pk,
            action="report",
            actor_id=user.pk if user is not None else None,
            actor_name="anonymous" if anonymous else actor.get_username(),
            to_state=case.state,
            unit_code=unit_code,
            text=description[:500],
            created=now,
            data={"channel": channel},
        )
        self._add(CaseAction, row)
        self._save_photos(case, photos, Attachment.Kind.PHOTO, row)
        self._event(
            "cases.case.report",
            actor=user,
            case=case,
            after={"state": case.state, "channel": channel, "unit": unit_code},
        )
        self._notify(case, "reported", "reported", unit_codes=[unit_code])
        self._maybe_flush()
        return case

    # ------------------------------------------------------------------ acceptance

    def do_accept_case(self, case: Case, *, actor, category=None) -> Case:
        from_state, next_state, unit = self._step(case, "accept", actor)
        if category is not None and not category.is_leaf:
            raise ValidationError({"category": "category"})
        if category is None and case.category is None:
            raise ValidationError({"category": "category"})
        case.state = next_state
        if category is not None:
            case.category = category
        now = timezone.now()
        case.accepted_at = now
        A._push_deadline(case, now)
        self._record(
            case,
            "accept",
            actor=actor,
            from_state=from_state,
            unit=unit,
            data={"deadline": case.resolve_deadline.isoformat()},
        )
        return case

    def do_reject_case(self, case: Case, *, actor, reason: str) -> Case:
        if not (reason or "").strip():
            raise ValidationError({"reason": "reason"})
        from_state, case.state, unit = self._step(case, "reject", actor)
        case.closed_at = timezone.now()
        self._record(case, "reject", actor=actor, from_state=from_state, unit=unit, text=reason)
        self._notify_reporters(case, "rejected", "rejected")
        return case

    def do_escalate_case(self, case: Case, *, actor, reason: str) -> Case:
        if not (reason or "").strip():
            raise ValidationError({"reason": "reason"})
        from_state, next_state, unit = self._step(case, "escalate", actor)
        if from_state == workflow.IN_PROGRESS and self._lead(case) is not None:
            raise ActionRefused(
                _t("A dispatched case goes up only after the department returns it.")
            )
        position = LEVEL_ORDER.index(case.level)
        if position == len(LEVEL_ORDER) - 1:
            raise ActionRefused(_t("The county centre is the top level."))
        case.state = next_state
        old_level = case.level
        case.level = LEVEL_ORDER[position + 1]
        case.unit_code = case.region_code[: LEVEL_CODE_LENGTH[case.level]]
        case.escalation_count += 1
        A._push_deadline(case, timezone.now())
        self._record(
            case,
            "escalate",
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=reason,
            data={"from_level": old_level, "to_level": case.level, "to_unit": case.unit_code},
        )
        self._notify(case, "escalated", "escalated", unit_codes=[case.unit_code])
        return case

    # ------------------------------------------------------------------ departments

    def do_dispatch_case(self, case: Case, *, actor, lead, assisting=(), text: str = "") -> Case:
        assisting = [d for d in assisting if d.pk != lead.pk]
        from_state, case.state, unit = self._step(case, "dispatch", actor)
        now = timezone.now()
        sign_limit = (case.category.sign_limit if case.category else "") or A.DEFAULT_SIGN_LIMIT
        sign_deadline = A._deadline(now, sign_limit)
        self._deactivate(case)
        rows = self.assignments.setdefault(case.pk, [])
        for department, role in [
            (lead, Assignment.Role.LEAD),
            *[(d, Assignment.Role.ASSIST) for d in assisting],
        ]:
            rows.append(
                Assignment(
                    pk=self.pks[Assignment](),
                    case=case,
                    department=department,
                    role=role,
                    state=Assignment.State.DISPATCHED,
                    dispatched_at=now,
                    sign_deadline=sign_deadline,
                )
            )
        self._record(
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
        )
        self._notify(case, "dispatched", "dispatched", departments=[lead, *assisting])
        return case

    def do_sign_case(self, case: Case, *, actor) -> Case:
        from_state, case.state, unit = self._step(case, "sign", actor)
        now = timezone.now()
        lead = self._lead(case)
        lead.state, lead.signed_at = Assignment.State.SIGNED, now
        on_time = lead.sign_deadline is None or now <= lead.sign_deadline
        self._record(
            case, "sign", actor=actor, from_state=from_state, unit=unit, data={"on_time": on_time}
        )
        return case

    def do_request_return(self, case: Case, *, actor, reason: str, text: str = "") -> Case:
        if reason not in A.RETURN_REASONS:
            raise ValidationError({"reason": "reason"})
        from_state, next_state, unit = self._step(case, "request_return", actor)
        lead = self._lead(case)
        if lead.forced:
            raise ActionRefused(
                _t("The dispatcher already refused a return of this case: it must be handled.")
            )
        case.state = next_state
        lead.state = Assignment.State.RETURN_REQUESTED
        lead.return_reason, lead.return_text = reason, text
        self._record(
            case,
            "request_return",
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=text,
            data={"reason": reason, "department": lead.department.code},
        )
        self._notify(case, "return_requested", "return_requested", unit_codes=[case.unit_code])
        return case

    def do_decide_return(self, case: Case, *, actor, approve: bool, text: str = "") -> Case:
        action = "approve_return" if approve else "reject_return"
        from_state, case.state, unit = self._step(case, action, actor)
        lead = self._lead(case)
        if approve:
            self._deactivate(case)
            lead.state = Assignment.State.RETURNED
        else:
            lead.state, lead.forced = Assignment.State.DISPATCHED, True
            self._notify(case, "forced", "forced", departments=[lead.department])
        self._record(
            case,
            action,
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=text,
            data={"department": lead.department.code, "reason": lead.return_reason},
        )
        return case

    def do_handle_case(self, case: Case, *, actor, text: str = "") -> Case:
        from_state, case.state, unit = self._step(case, "handle", actor)
        self._deactivate(case)
        self._record(case, "handle", actor=actor, from_state=from_state, unit=unit, text=text)
        return case

    def do_feedback_case(self, case: Case, *, actor, text: str, photos=()) -> Case:
        if not (text or "").strip():
            raise ValidationError({"text": "text"})
        photos = A._clean_photos(photos)
        from_state, case.state, unit = self._step(case, "feedback", actor)
        row = self._record(
            case, "feedback", actor=actor, from_state=from_state, unit=unit, text=text
        )
        self._save_photos(case, photos, Attachment.Kind.EVIDENCE, row)
        self._notify(case, "feedback", "feedback", unit_codes=[case.unit_code])
        return case

    def do_verify_case(self, case: Case, *, actor, passed: bool, text: str = "") -> Case:
        if not passed and not (text or "").strip():
            raise ValidationError({"text": "text"})
        action = "verify_pass" if passed else "verify_fail"
        from_state, case.state, unit = self._step(case, action, actor)
        if passed:
            case.closed_at = timezone.now()
            for a in self.assignments.get(case.pk, ()):
                if a.active:
                    a.state = Assignment.State.DONE
        else:
            case.rework_count += 1
        self._record(case, action, actor=actor, from_state=from_state, unit=unit, text=text)
        if passed:
            self._notify_reporters(case, "closed", "closed")
        else:
            lead = self._lead(case)
            self._notify(
                case,
                "rework",
                "rework",
                departments=[lead.department] if lead else [],
                unit_codes=[] if lead else [case.unit_code],
            )
        return case

    def do_self_close_case(
        self, case: Case, *, actor, text: str, before_photos, after_photos
    ) -> Case:
        if not (text or "").strip():
            raise ValidationError({"text": "text"})
        if not before_photos or not after_photos:
            raise ValidationError({"photos": "photos"})
        before_photos, after_photos = A._clean_photos(before_photos), A._clean_photos(after_photos)
        from_state, next_state, unit = self._step(case, "self_close", actor)
        if case.level not in {Level.GRID, Level.VILLAGE}:
            raise ActionRefused(_t("Only a grid or a village closes cases on the spot."))
        case.state = next_state
        case.closed_at = timezone.now()
        row = self._record(
            case, "self_close", actor=actor, from_state=from_state, unit=unit, text=text
        )
        self._save_photos(case, before_photos, Attachment.Kind.BEFORE, row)
        self._save_photos(case, after_photos, Attachment.Kind.AFTER, row)
        self._notify_reporters(case, "closed", "closed")
        return case

    # ------------------------------------------------------------------ deadlines

    def do_request_extension(self, case: Case, *, actor, days: int, reason: str):
        if not (reason or "").strip():
            raise ValidationError({"reason": "reason"})
        if not isinstance(days, int) or days < 1:
            raise ValidationError({"days": "days"})
        from_state, next_state, unit = self._step(case, "request_extension", actor)
        if case.resolve_deadline is not None and timezone.now() > case.resolve_deadline:
            raise ValidationError({"days": "deadline passed"})
        if case.extension_days + days > self.MAX_EXTENSION_DAYS:
            raise ValidationError({"days": "too many"})
        if case.pk in self.pending_extension:
            raise ValidationError({"days": "pending"})
        case.state = next_state
        request = ExtensionRequest(
            pk=self.pks[ExtensionRequest](),
            case=case,
            days=days,
            reason=reason,
            requested_by=actor,
            requested_at=timezone.now(),
        )
        self.extensions.append(request)
        self.pending_extension.add(case.pk)
        self._record(
            case,
            "request_extension",
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=reason,
            data={"days": days},
        )
        self._notify(
            case, "extension_requested", "extension_requested", unit_codes=[case.unit_code]
        )
        return request

    def do_decide_extension(self, request: ExtensionRequest, *, actor, approve: bool, text=""):
        case = request.case
        from_state, next_state, unit = self._step(case, "decide_extension", actor)
        if request.state != ExtensionRequest.State.PENDING:
            raise ValidationError("already decided")
        case.state = next_state
        request.state = (
            ExtensionRequest.State.APPROVED if approve else ExtensionRequest.State.REJECTED
        )
        request.decided_by, request.decided_at = actor, timezone.now()
        self.pending_extension.discard(case.pk)
        data = {"days": request.days, "approved": approve}
        if approve:
            case.resolve_deadline = self.calendar.add_working_days(
                case.resolve_deadline - timedelta(microseconds=1), request.days
            )
            case.extension_days += request.days
            case.due_soon_notified_at = case.overdue_supervised_at = None
            data["deadline"] = case.resolve_deadline.isoformat()
        self._record(
            case,
            "decide_extension",
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=text,
            data=data,
        )
        return request

    def do_suspend_case(self, case: Case, *, actor, reason: str) -> Case:
        if not (reason or "").strip():
            raise ValidationError({"reason": "reason"})
        from_state, case.state, unit = self._step(case, "suspend", actor)
        self._record(case, "suspend", actor=actor, from_state=from_state, unit=unit, text=reason)
        return case

    def do_resume_case(self, case: Case, *, actor) -> Case:
        from_state, case.state, unit = self._step(case, "resume", actor)
        A._push_deadline(case, timezone.now())
        self._record(case, "resume", actor=actor, from_state=from_state, unit=unit)
        return case

    def do_file_case(self, case: Case, *, actor, reason: str) -> Case:
        if not (reason or "").strip():
            raise ValidationError({"reason": "reason"})
        from_state, case.state, unit = self._step(case, "file", actor)
        case.closed_at = timezone.now()
        self._record(case, "file", actor=actor, from_state=from_state, unit=unit, text=reason)
        return case

    # ------------------------------------------------------------------ evaluation

    def do_evaluate_case(self, case: Case, *, actor, satisfaction: str, comment: str = ""):
        if satisfaction not in A.SATISFACTION:
            raise ValidationError({"satisfaction": "satisfaction"})
        if satisfaction != "unsatisfied":
            action = "evaluate"
        else:
            action = "reopen" if case.reopen_count == 0 else "refer_review"
        from_state, case.state, unit = self._step(case, action, actor)
        case.satisfaction = satisfaction
        if action == "reopen":
            case.reopen_count += 1
            case.closed_at = None
            self._deactivate(case)
            A._push_deadline(case, timezone.now())
        self._record(
            case,
            action,
            actor=actor,
            from_state=from_state,
            unit=unit,
            text=comment,
            data={"satisfaction": satisfaction},
        )
        if action != "evaluate":
            self._notify(case, action, "not_satisfied", unit_codes=[case.unit_code])
        return case

    def do_review_case(self, case: Case, *, actor, reopen: bool, text: str) -> Case:
        if not (text or "").strip():
            raise ValidationError({"text": "text"})
        action = "review_reopen" if reopen else "review_archive"
        from_state, case.state, unit = self._step(case, action, actor)
        if reopen:
            case.closed_at = None
            self._deactivate(case)
            A._push_deadline(case, timezone.now())
        self._record(case, action, actor=actor, from_state=from_state, unit=unit, text=text)
        return case

    # ------------------------------------------------------------------ supervision

    def do_supervise_case(self, case: Case, *, actor, level: int, reason: str) -> Supervision:
        if level not in {Case.Supervised.NORMAL, Case.Supervised.YELLOW, Case.Supervised.RED}:
            raise ValidationError({"level": "level"})
        if not (reason or "").strip():
            raise ValidationError({"reason": "reason"})
        if not can(actor, "cases.supervise", region_code=case.region_code):
            raise ActionRefused(_t("You may not supervise this case."))
        workflow.next_step(case.state, "supervise")
        now = timezone.now()
        due = self.calendar.add_working_days(now, A.SUPERVISION_ANSWER_DAYS)
        supervision = Supervision(
            pk=self.pks[Supervision](),
            case=case,
            level=level,
            reason=reason,
            automatic=False,
            issued_by=actor,
            issued_at=now,
            answer_due=due,
        )
        self.supervisions.append(supervision)
        case.supervised = max(case.supervised, level)
        self._record(
            case,
            "supervise",
            actor=actor,
            from_state=case.state,
            text=reason,
            data={"level": level, "automatic": False, "answer_due": due.isoformat()},
        )
        lead = self._lead(case)
        self._notify(
            case,
            "supervised",
            "supervised",
            departments=[lead.department] if lead else [],
            unit_codes=[case.unit_code],
        )
        return supervision

    def do_answer_supervision(self, supervision: Supervision, *, actor, answer: str):
        if not (answer or "").strip():
            raise ValidationError({"answer": "answer"})
        case = supervision.case
        workflow.next_step(case.state, "answer_supervision")
        unit = self._acting_unit(case, "handler", actor)
        if unit is None:
            raise ActionRefused(A._refusal("handler" if self._lead(case) else "owner"))
        if supervision.answered_at is not None:
            raise ValidationError("already answered")
        supervision.answer, supervision.answered_by = answer, actor
        supervision.answered_at = timezone.now()
        self._record(
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

    def do_instruct_case(self, case: Case, *, actor, text: str, required_actions: str = ""):
        if not (text or "").strip():
            raise ValidationError({"text": "text"})
        if not can(actor, "cases.instruct", region_code=case.region_code):
            raise ActionRefused(_t("Only a leader may write an instruction on this case."))
        workflow.next_step(case.state, "instruct")
        instruction = LeaderInstruction(
            pk=self.pks[LeaderInstruction](),
            case=case,
            signer=actor,
            signer_name=actor.get_username(),
            text=text,
            required_actions=required_actions,
            created=timezone.now(),
        )
        self._add(LeaderInstruction, instruction)
        self._record(
            case,
            "instruct",
            actor=actor,
            from_state=case.state,
            text=text,
            data={"required_actions": required_actions},
        )
        lead = self._lead(case)
        self._notify(
            case,
            "instructed",
            "instructed",
            departments=[lead.department] if lead else [],
            unit_codes=[case.unit_code],
        )
        return instruction

    # ------------------------------------------------------------------ writing

    def _maybe_flush(self) -> None:
        if self.pending >= CHUNK * 4:
            self._flush_append_only()

    def _flush_append_only(self) -> None:
        for model, rows in self.append_only.items():
            if rows:
                _insert(model, rows, self.writer)
                rows.clear()
        self.pending = 0

    def abort(self) -> None:
        """After a failure: stop the writer's thread (call before the rollback)."""
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.abort()

    def finish(self) -> None:
        """Write what is still in memory and move the sequences on (call once, at the end)."""
        write = self.writer
        _insert(Case, self.cases, write)  # ``updated`` as the last step set it (no auto_now)
        self._flush_append_only()
        assignments = [a for rows in self.assignments.values() for a in rows]
        assignments.sort(key=lambda a: a.pk)
        _insert(Assignment, assignments, write)
        _insert(Supervision, self.supervisions, write)
        _insert(ExtensionRequest, self.extensions, write)
        new = [c for c in self.counters.values() if getattr(c, "_new", False)]
        _insert(CaseCodeCounter, sorted(new, key=lambda c: c.pk), write)
        if self.writer is not None:  # every row in before the updates and the sequences
            writer, self.writer = self.writer, None
            writer.close()
        old = [c for c in self.counters.values() if not getattr(c, "_new", False)]
        if old:
            CaseCodeCounter.objects.bulk_update(old, ["last"], batch_size=CHUNK)
        for pks in self.pks.values():
            pks.move_sequence()
