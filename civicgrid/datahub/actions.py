"""Every write of the data hub: sources (saved mappings), uploads, dry runs, imports.

An import is all or nothing: ``engine.plan`` checks every row first (outside any write
transaction, so a large file does not hold SQLite's write lock while it is being read), then
one transaction writes the records, the run's counts and one ``datahub.import`` audit event
(decision 5's rule for bulk loads: the counts, never per-person data). A row with a problem
stops the import unless the operator chose to skip bad rows.
"""

from __future__ import annotations

import json
import threading
import time

from django.core.exceptions import ValidationError
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.core.audit import record_event, snapshot
from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import can, scope_for
from civicgrid.datahub import engine, workflow
from civicgrid.datahub.fields import fields_of, suggest_mapping
from civicgrid.datahub.models import (
    Datum,
    ImportFile,
    ImportProblem,
    ImportRun,
    OnDuplicate,
    Source,
    Target,
)
from civicgrid.datahub.reading import open_table
from civicgrid.people import pii
from civicgrid.regions.models import Region

__all__ = [
    "MAX_FILE_BYTES",
    "SYNC_MAX_BYTES",
    "do_cancel_run",
    "do_check_run",
    "do_import_run",
    "do_map_run",
    "do_save_source",
    "do_upload_file",
    "may_import",
    "start_check",
    "start_import",
]

PERMISSION = engine.PERMISSION
MAX_FILE_BYTES = 100 * 1024 * 1024
# Files up to this size are checked and imported within the request; larger ones in a
# background thread while the page shows the progress.
SYNC_MAX_BYTES = 256 * 1024
HEARTBEAT_EVERY = 2.0  # seconds between progress writes


def may_import(actor) -> bool:
    return can(actor, PERMISSION)


def _require(actor) -> None:
    if not may_import(actor):
        raise ActionRefused(_("You are not allowed to import data."))


def home_code(actor) -> str:
    """The widest place the actor imports for (a county's code for an administrator)."""
    prefixes = scope_for(actor).prefixes(PERMISSION)
    if "" in prefixes or (actor is not None and actor.is_superuser):
        county = Region.objects.filter(level=Region.Level.COUNTY).order_by("code").first()
        return county.code if county else ""
    return min(prefixes, key=len) if prefixes else ""


def _run_scope_check(run: ImportRun, actor) -> None:
    _require(actor)
    if run.region_code and not can(actor, PERMISSION, region_code=run.region_code):
        raise ActionRefused(_("This import belongs to another area."))


# --------------------------------------------------------------------------- sources


def _clean_mapping(target: str, columns: dict, defaults: dict) -> tuple[dict, dict]:
    specs = {spec.name: spec for spec in fields_of(target)}
    errors = {}
    columns = {k: str(v).strip() for k, v in (columns or {}).items() if v and str(v).strip()}
    defaults = {k: str(v).strip() for k, v in (defaults or {}).items() if v and str(v).strip()}
    unknown = (set(columns) | set(defaults)) - set(specs)
    if unknown:
        errors["columns"] = _("Unknown fields: %s") % ", ".join(sorted(unknown))
    missing = [
        str(spec.label)
        for spec in specs.values()
        if spec.required and spec.name not in columns and spec.name not in defaults
    ]
    if missing:
        errors["columns"] = _("Map a column (or give a default) for: %s") % "、".join(missing)
    if "id_number" in defaults or "phone" in defaults:
        errors["defaults"] = _("ID and phone numbers cannot have a default value.")
    if errors:
        raise ValidationError(errors)
    return columns, defaults


def do_save_source(
    *,
    actor,
    name: str,
    target: str,
    columns: dict,
    defaults: dict | None = None,
    on_duplicate: str = OnDuplicate.UPDATE,
    datum: str = Datum.WGS84,
    source: Source | None = None,
) -> Source:
    """Create a source with its column mapping, or change an existing source's mapping."""
    _require(actor)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": _("Name the source in at most 100 characters.")})
    if target not in Target.values:
        raise ValidationError({"target": _("Unknown kind of data.")})
    if on_duplicate not in OnDuplicate.values:
        raise ValidationError({"on_duplicate": _("Choose update or skip.")})
    if datum not in Datum.values:
        raise ValidationError({"datum": _("Unknown coordinate system.")})
    columns, defaults = _clean_mapping(target, columns, defaults or {})
    with transaction.atomic():
        clash = Source.objects.filter(name=name)
        if source is not None:
            clash = clash.exclude(pk=source.pk)
        if clash.exists():
            raise ValidationError({"name": _("Another source has this name.")})
        if source is None:
            source = Source.objects.create(
                name=name,
                target=target,
                columns=columns,
                defaults=defaults,
                on_duplicate=on_duplicate,
                datum=datum,
                region_code=home_code(actor),
                created_by=actor if actor is not None and actor.pk else None,
            )
            before = None
        else:
            source = Source.objects.select_for_update().get(pk=source.pk)
            if not can(actor, PERMISSION, region_code=source.region_code):
                raise ActionRefused(_("This source belongs to another area."))
            if source.target != target and source.runs.exists():
                raise ValidationError(
                    {"target": _("A source that has imported cannot feed another kind of data.")}
                )
            before = snapshot(source)
            source.name, source.target, source.columns = name, target, columns
            source.defaults, source.on_duplicate, source.datum = defaults, on_duplicate, datum
            source.save(
                update_fields=[
                    "name",
                    "target",
                    "columns",
                    "defaults",
                    "on_duplicate",
                    "datum",
                    "updated",
                ]
            )
        record_event(
            "datahub.source.save",
            actor=actor,
            target=source,
            scope_code=source.region_code,
            before=before,
            after=snapshot(source),
        )
    return source


def mapping_of(source: Source) -> dict:
    return {
        "target": source.target,
        "columns": dict(source.columns),
        "defaults": dict(source.defaults),
        "on_duplicate": source.on_duplicate,
        "datum": source.datum,
    }


# --------------------------------------------------------------------------- runs


def do_upload_file(
    *,
    actor,
    file_name: str,
    data: bytes,
    source: Source | None = None,
    target: str = "",
    source_name: str = "",
) -> ImportRun:
    """Keep an uploaded file (sealed) as a new run, after reading its header. The file comes
    from a saved ``source`` (its mapping is used) or from a new source named ``source_name``
    feeding ``target`` (a mapping is suggested from the header; saved at the mapping step)."""
    _require(actor)
    if source is not None:
        if not can(actor, PERMISSION, region_code=source.region_code):
            raise ActionRefused(_("This source belongs to another area."))
        target = source.target
    else:
        source_name = (source_name or "").strip()
        if target not in Target.values:
            raise ValidationError({"target": _("Say what the file holds.")})
        if not source_name or len(source_name) > 100:
            raise ValidationError({"source_name": _("Name the source in at most 100 characters.")})
        if Source.objects.filter(name=source_name).exists():
            raise ValidationError({"source_name": _("Another source has this name.")})
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError({"file": _("The file is larger than 100 MB.")})
    try:
        table = open_table(data, file_name)
    except ValidationError as exc:
        raise ValidationError({"file": exc.messages}) from None
    header = list(table.header)
    if not any(header):
        raise ValidationError({"file": _("The first row of the file names no columns.")})
    if source is not None:
        mapping = mapping_of(source)
    else:
        mapping = {
            "target": target,
            "columns": suggest_mapping(target, header),
            "defaults": {},
            "on_duplicate": OnDuplicate.UPDATE,
            "datum": Datum.WGS84,
            "source_name": source_name,
        }
    # The file holds clear ID and phone numbers: sealed with the personal-data key, like them.
    content = pii._crypto().encrypt(data)
    now = timezone.now()
    with transaction.atomic():
        run = ImportRun.objects.create(
            source=source,
            target=target,
            mapping=mapping,
            actor=actor if actor is not None and actor.pk else None,
            actor_name=getattr(actor, "username", "") or "",
            region_code=home_code(actor),
            file_name=(file_name or "upload").replace("\x00", "")[-200:] or "upload",
            file_size=len(data),
            header=header[:500],
            created=now,
            rows_total=table.total,
        )
        ImportFile.objects.create(run=run, content=content)
        # Who brought which file of personal data into the system (names and sizes only).
        record_event(
            "datahub.upload",
            actor=actor,
            target=run,
            scope_code=run.region_code,
            after={
                "source": source.name if source is not None else source_name,
                "target": target,
                "file": run.file_name,
                "bytes": run.file_size,
                "rows": run.rows_total,
            },
        )
    return run


def do_map_run(
    run: ImportRun,
    *,
    actor,
    name: str,
    columns: dict,
    defaults: dict | None = None,
    on_duplicate: str = OnDuplicate.UPDATE,
    datum: str = Datum.WGS84,
) -> ImportRun:
    """Save the mapping chosen for this file as its source's (creating the source for a
    file from a new one); the next dry run uses it."""
    _run_scope_check(run, actor)
    missing = sorted({c for c in (columns or {}).values() if c} - set(run.header))
    if missing:
        raise ValidationError({"columns": _("The file has no column %s.") % "、".join(missing)})
    with transaction.atomic():
        source = do_save_source(
            actor=actor,
            name=name,
            target=run.target,
            columns=columns,
            defaults=defaults,
            on_duplicate=on_duplicate,
            datum=datum,
            source=run.source,
        )
        if run.source_id != source.pk:
            run.source = source
            run.save(update_fields=["source"])
    return run


def _file_of(run: ImportRun) -> bytes:
    upload = ImportFile.objects.filter(run=run).first()
    if upload is None:
        raise ValidationError(_("The file of this run is no longer kept; upload it again."))
    return pii._crypto().decrypt(bytes(upload.content))


def _transition(run: ImportRun, action: str, *, actor, **fields) -> ImportRun:
    with transaction.atomic():
        run = ImportRun.objects.select_for_update().get(pk=run.pk)
        try:
            state = workflow.next_state(run, action, timezone.now())
        except workflow.InvalidTransition:
            raise ValidationError(
                _("The run is %(state)s: it cannot do that now.")
                % {"state": run.get_state_display()}
            ) from None
        run.state = state
        for name, value in fields.items():
            setattr(run, name, value)
        run.save(update_fields=["state", *fields])
    return run


class _Progress:
    """Writes rows done to the run every few seconds (its own small transactions)."""

    def __init__(self, run: ImportRun, report=None):
        self.run, self.report, self.last = run, report, 0.0

    def __call__(self, done: int, total: int) -> None:
        if self.report is not None:
            self.report(done, total)
        now = time.monotonic()
        if now - self.last >= HEARTBEAT_EVERY and not connection.in_atomic_block:
            self.last = now
            ImportRun.objects.filter(pk=self.run.pk).update(
                rows_done=done, rows_total=max(total, done), heartbeat=timezone.now()
            )


def _store_plan(run: ImportRun, result: engine.Plan) -> None:
    ImportProblem.objects.filter(run=run).delete()
    ImportProblem.objects.bulk_create(
        [
            ImportProblem(
                run=run,
                row=p.row,
                field=p.field,
                column=p.column.replace("\x00", "")[:100],
                value=p.value.replace("\x00", "")[:200],
                message=p.message.replace("\x00", "")[:300],
            )
            for p in result.problems
        ],
        batch_size=1000,
    )


def _counts(result: engine.Plan) -> dict:
    return {
        "new": result.counts["new"],
        "updated": result.counts["updated"],
        "unchanged": result.counts["unchanged"],
        "skipped": result.counts["skipped"],
        "errors": result.error_rows,
    }


class _LastPlan:
    """The last dry run's plan, kept in this process for the import that usually follows
    (one slot, half an hour). The import re-checks the keys of new records before writing;
    a plan made elsewhere (another worker) or for another mapping is made again."""

    TTL = 30 * 60

    def __init__(self):
        self._lock = threading.Lock()
        self._key, self._plan, self._at = None, None, 0.0

    @staticmethod
    def key(run: ImportRun, actor) -> tuple:
        return (run.pk, getattr(actor, "pk", None), json.dumps(run.mapping, sort_keys=True))

    MAX_ROWS = 300_000  # larger plans are not kept (memory); their import checks again

    def keep(self, run, actor, result) -> None:
        with self._lock:
            if result.rows_total > self.MAX_ROWS:
                self._key, self._plan = None, None
                return
            self._key, self._plan, self._at = self.key(run, actor), result, time.monotonic()

    def take(self, run, actor) -> engine.Plan | None:
        with self._lock:
            found = self._plan if self._key == self.key(run, actor) else None
            fresh = time.monotonic() - self._at < self.TTL
            self._key, self._plan = None, None
        return found if fresh else None


_last_plan = _LastPlan()


def _plan(run: ImportRun, *, actor, progress) -> engine.Plan:
    data = _file_of(run)
    table = open_table(data, run.file_name)
    return engine.plan(
        table,
        source=run.source,
        mapping=run.mapping,
        actor=actor,
        progress=_Progress(run, progress),
    )


def _fail(run: ImportRun, message: str) -> ImportRun:
    ImportRun.objects.filter(pk=run.pk).update(
        state=ImportRun.State.FAILED,
        message=message.replace("\x00", "")[:300],
        finished_at=timezone.now(),
    )
    run.refresh_from_db()
    return run


def start_check(run: ImportRun, *, actor, mapping: dict | None = None) -> ImportRun:
    """Move a run into its dry run (with the source's mapping as it is now)."""
    _run_scope_check(run, actor)
    if run.source is None:
        raise ValidationError(_("Save the column mapping first."))
    return _transition(
        run,
        "check",
        actor=actor,
        mapping=mapping or mapping_of(run.source),
        target=run.source.target,
        heartbeat=timezone.now(),
        rows_done=0,
        message="",
    )


def perform_check(run: ImportRun, *, actor, progress=None) -> ImportRun:
    started = time.perf_counter()
    try:
        result = _plan(run, actor=actor, progress=progress)
    except ValidationError as exc:
        return _fail(run, " ".join(exc.messages))
    _last_plan.keep(run, actor, result)
    with transaction.atomic():
        _store_plan(run, result)
        counts = _counts(result)
        ImportRun.objects.filter(pk=run.pk).update(
            state=ImportRun.State.CHECKED,
            checked_at=timezone.now(),
            rows_total=result.rows_total,
            rows_done=result.rows_total,
            sample=result.sample,
            seconds=time.perf_counter() - started,
            **counts,
        )
    run.refresh_from_db()
    return run


def do_check_run(run: ImportRun, *, actor, progress=None) -> ImportRun:
    """The dry run: what the import would do, per row; nothing but the run is written."""
    run = start_check(run, actor=actor)
    return perform_check(run, actor=actor, progress=progress)


def start_import(run: ImportRun, *, actor, skip_bad: bool = False) -> ImportRun:
    _run_scope_check(run, actor)
    return _transition(
        run, "import", actor=actor, skip_bad=skip_bad, heartbeat=timezone.now(), rows_done=0
    )


def perform_import(run: ImportRun, *, actor, progress=None) -> ImportRun:
    started = time.perf_counter()
    result = _last_plan.take(run, actor)
    if result is None:
        try:
            result = _plan(run, actor=actor, progress=progress)
        except ValidationError as exc:
            return _fail(run, " ".join(exc.messages))
    elif progress is not None:
        progress(result.rows_total, result.rows_total)
    counts = _counts(result)
    if result.error_rows and not run.skip_bad:
        with transaction.atomic():
            _store_plan(run, result)
            ImportRun.objects.filter(pk=run.pk).update(rows_total=result.rows_total, **counts)
        return _fail(
            run,
            _("%(count)d rows have problems: nothing was imported.") % {"count": result.error_rows},
        )
    try:
        with transaction.atomic():
            engine.apply(result, source=run.source, mapping=run.mapping, actor=actor, run=run)
            _store_plan(run, result)
            ImportFile.objects.filter(run=run).delete()
            ImportRun.objects.filter(pk=run.pk).update(
                state=ImportRun.State.IMPORTED,
                finished_at=timezone.now(),
                rows_total=result.rows_total,
                rows_done=result.rows_total,
                sample=result.sample,
                seconds=time.perf_counter() - started,
                **counts,
            )
            run.refresh_from_db()
            record_event(
                "datahub.import",
                actor=actor,
                target=run,
                scope_code=run.region_code,
                after={
                    "source": run.source.name,
                    "target": run.target,
                    "file": run.file_name,
                    "rows": result.rows_total,
                    "skip_bad": run.skip_bad,
                    **counts,
                },
            )
    except engine.Conflict:
        return _fail(
            run,
            _("Records were registered while the file was being checked: run the dry run again."),
        )
    except DatabaseError as exc:
        # A value the checks let through but the database refused: nothing was written.
        return _fail(run, _("The database refused the import (%s).") % exc.__class__.__name__)
    return run


def do_import_run(run: ImportRun, *, actor, skip_bad: bool = False, progress=None) -> ImportRun:
    """Import a checked run: every row or none (unless ``skip_bad``), in one transaction."""
    run = start_import(run, actor=actor, skip_bad=skip_bad)
    return perform_import(run, actor=actor, progress=progress)


def do_cancel_run(run: ImportRun, *, actor) -> ImportRun:
    _run_scope_check(run, actor)
    with transaction.atomic():
        run = _transition(run, "cancel", actor=actor, finished_at=timezone.now())
        ImportFile.objects.filter(run=run).delete()
        record_event(
            "datahub.cancel",
            actor=actor,
            target=run,
            scope_code=run.region_code,
            after={"file": run.file_name, "state": run.state, "file_deleted": True},
        )
    _last_plan.take(run, actor)  # forget its plan
    return run


# --------------------------------------------------------------------------- background


def in_background(work) -> None:
    """Run ``work()`` in a thread with its own database connection (tests replace this)."""

    def target():
        close_old_connections()
        try:
            work()
        finally:
            connection.close()

    threading.Thread(target=target, name="datahub-import", daemon=True).start()


def run_later(run: ImportRun, *, actor, mode: str) -> None:
    """After the transition committed: the dry run or the import of a large file."""
    perform = perform_check if mode == "check" else perform_import

    def work():
        try:
            perform(ImportRun.objects.get(pk=run.pk), actor=actor)
        except Exception as exc:  # the run must not stay "under way" for ever
            _fail(run, _("The run stopped: %s") % exc.__class__.__name__)
            raise

    transaction.on_commit(lambda: in_background(work))
