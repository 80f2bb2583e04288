"""Writing and verifying the hash-chained audit trail."""

import datetime
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from civicgrid.core.context import current_request_id
from civicgrid.core.models import AuditChainHead, AuditCheck, AuditEvent

__all__ = [
    "GENESIS_HASH",
    "AuditBatch",
    "AuditProblem",
    "audit_batch",
    "do_check_audit_chain",
    "chain_hash",
    "event_body",
    "event_hash",
    "record_event",
    "snapshot",
    "verify_chain",
]

GENESIS_HASH = "0" * 64


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def event_body(event: AuditEvent) -> str:
    """The canonical JSON of what an event's hash binds between its id and the previous hash:
    the part that does not depend on where in the chain the event stands."""
    return _canonical(
        [
            event.created.astimezone(datetime.UTC).isoformat(),
            event.actor_id,
            event.actor_name,
            event.action,
            event.target_type,
            event.target_id,
            event.target_repr,
            event.scope_code,
            event.before,
            event.after,
            event.request_id,
        ]
    )[1:-1]


def chain_hash(pk: int, body: str, prev_hash: str) -> str:
    """The hash of the event numbered ``pk`` with ``body`` (``event_body``) after
    ``prev_hash``: the SHA-256 of the canonical JSON list [pk, *body, prev_hash]."""
    if type(pk) is int and prev_hash.isascii() and prev_hash.isalnum():
        text = f'[{pk},{body},"{prev_hash}"]'  # what _canonical makes of them, sooner
    else:
        text = f"[{_canonical(pk)},{body},{_canonical(prev_hash)}]"
    return hashlib.sha256(text.encode()).hexdigest()


def event_hash(event: AuditEvent) -> str:
    return chain_hash(event.pk, event_body(event), event.prev_hash)


def _json_safe(value):
    return None if value is None else json.loads(_canonical(value))


def record_event(
    action: str,
    *,
    actor=None,
    target=None,
    target_type: str = "",
    target_id: str = "",
    target_repr: str = "",
    scope_code: str = "",
    before=None,
    after=None,
) -> AuditEvent:
    """Append one event. Call it inside the action's transaction so it commits with the change."""
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
        target_repr = target_repr or str(target)[:200]
    batch = _current_batch.get()
    # No savepoint: the event belongs to the caller's transaction and fails with it.
    with transaction.atomic(savepoint=False):
        if batch is None:
            head = AuditChainHead.objects.select_for_update().get_or_create(pk=1)[0]
            last_id, last_hash = head.last_id, head.last_hash
        else:
            last_id, last_hash = batch.last_id, batch.last_hash
        event = AuditEvent(
            pk=last_id + 1,
            created=timezone.now(),
            actor=actor if actor is not None and actor.pk else None,
            actor_name=(actor.get_username() if actor is not None and actor.pk else "system"),
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            target_repr=target_repr[:200],
            scope_code=scope_code or "",
            before=_json_safe(before),
            after=_json_safe(after),
            request_id=current_request_id(),
            prev_hash=last_hash,
        )
        event.hash = event_hash(event)
        AuditEvent.objects.bulk_create([event])
        if batch is None:
            head.last_id = event.pk
            head.last_hash = event.hash
            head.count += 1
            head.save(update_fields=["last_id", "last_hash", "count"])
        else:
            batch.last_id, batch.last_hash = event.pk, event.hash
    return event


class AuditBatch:
    """The chain head held in memory while one transaction appends many events.

    Made by ``audit_batch()``; ``record_event`` takes the previous id and hash from here
    instead of locking and rewriting the head row for every event.
    """

    def __init__(self, head: AuditChainHead):
        self.head = head
        self.start_id, self.start_hash = head.last_id, head.last_hash
        self.last_id, self.last_hash = head.last_id, head.last_hash

    def _written(self):
        return AuditEvent.objects.filter(pk__gt=self.start_id)

    def resync(self) -> None:
        """Go on from the newest event still there (after a rolled-back savepoint)."""
        newest = self._written().order_by("-id").values_list("id", "hash").first()
        self.last_id, self.last_hash = newest or (self.start_id, self.start_hash)

    def finish(self) -> None:
        """Write the head, after checking that the events written are the ones counted."""
        written = self._written()
        newest = tuple(written.order_by("-id").values_list("id", "hash").first() or ())
        expected = (self.last_id, self.last_hash) if self.last_id != self.start_id else ()
        if newest != expected or written.count() != self.last_id - self.start_id:
            raise RuntimeError(
                "audit_batch: events were rolled back without resync(); the chain would break"
            )
        self.head.count += self.last_id - self.start_id
        self.head.last_id, self.head.last_hash = self.last_id, self.last_hash
        self.head.save(update_fields=["last_id", "last_hash", "count"])


_current_batch: ContextVar[AuditBatch | None] = ContextVar("audit_batch", default=None)


@contextmanager
def audit_batch() -> Iterator[AuditBatch]:
    """Append many events in the current transaction with the chain head read and written once.

    For bulk work done through the actions (the demo's year of cases writes ~190,000 events
    in one transaction): locking and rewriting the head row for every event is a fifth of
    that time. The head row is locked here, at the start, and stays locked to the end of the
    transaction, so no other writer appends meanwhile; the events are the same rows
    ``record_event`` writes without a batch, and the head is written on the way out.

    A savepoint rolled back inside the batch takes its events with it, which the batch cannot
    see: code that catches such an error and goes on calls ``batch.resync()``. On the way out
    the newest event and the count are checked against the batch; a mismatch raises (so the
    transaction is rolled back) rather than leaving a broken chain.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("audit_batch() needs an open transaction (transaction.atomic())")
    if _current_batch.get() is not None:
        raise RuntimeError("audit_batch() is already open")
    batch = AuditBatch(AuditChainHead.objects.select_for_update().get_or_create(pk=1)[0])
    token = _current_batch.set(batch)
    try:
        yield batch
    finally:
        _current_batch.reset(token)
    batch.finish()


@dataclass
class AuditProblem:
    event_id: int | None
    message: str


def verify_chain(*, chunk_size: int = 2000, progress=None) -> Iterator[AuditProblem]:
    """Walk the whole chain and yield every inconsistency found.

    Detects edited rows (hash mismatch), deleted or inserted rows (broken prev_hash links and
    gaps in the id sequence), and a deleted tail (the chain head names a newer event).
    """
    head = AuditChainHead.objects.filter(pk=1).first()
    expected_prev = GENESIS_HASH
    expected_id = 1
    seen = 0
    last_id = 0
    queryset = AuditEvent.objects.order_by("id")
    for event in queryset.iterator(chunk_size=chunk_size):
        seen += 1
        if event.pk != expected_id:
            yield AuditProblem(event.pk, f"events {expected_id}..{event.pk - 1} are missing")
        if event.prev_hash != expected_prev:
            yield AuditProblem(event.pk, "the link to the previous event is broken")
        if event_hash(event) != event.hash:
            yield AuditProblem(event.pk, "the event was changed after it was written")
        expected_prev = event.hash
        expected_id = event.pk + 1
        last_id = event.pk
        if progress is not None and seen % chunk_size == 0:
            progress(seen)
    if head is None:
        if seen:
            yield AuditProblem(None, "the chain head is missing")
        return
    if head.last_id != last_id or head.last_hash != expected_prev:
        yield AuditProblem(
            head.last_id or None,
            f"the chain head names event {head.last_id} but the newest event is {last_id}",
        )
    if head.count != seen:
        yield AuditProblem(None, f"the chain head counts {head.count} events, found {seen}")


def snapshot(instance, *, exclude: tuple[str, ...] = ()) -> dict:
    """Plain values of a model instance's concrete fields, for the before/after of an event.

    Large JSON (boundaries) is summarised by a digest so the trail stays small.
    """
    data = {}
    for field in instance._meta.concrete_fields:
        if field.name in exclude:
            continue
        value = getattr(instance, field.attname)
        if isinstance(value, dict | list) and len(_canonical(value)) > 500:
            value = {"sha256": hashlib.sha256(_canonical(value).encode()).hexdigest()}
        data[field.attname] = value
    return json.loads(_canonical(data))


def do_check_audit_chain(*, now=None, daily: bool = False, progress=None) -> AuditCheck | None:
    """Walk the chain and keep the result as an ``AuditCheck`` (and as an audit event).

    ``daily``: the check ``tick`` makes, at most once per local day across all nodes — the day
    is claimed by inserting its row (unique), and a node that loses the race returns None.
    """
    now = now or timezone.now()
    day = timezone.localdate(now) if daily else None
    if daily:
        if AuditCheck.objects.filter(day=day).exists():
            return None
        try:
            with transaction.atomic():
                check = AuditCheck.objects.create(day=day, started=now)
        except IntegrityError:
            return None
    else:
        check = AuditCheck.objects.create(started=now)
    head = AuditChainHead.objects.filter(pk=1).first()
    problems = list(verify_chain(progress=progress))
    check.events = head.count if head else 0
    check.problems = len(problems)
    if problems:
        first = problems[0]
        where = f"event {first.event_id}: " if first.event_id else ""
        check.first_problem = f"{where}{first.message}"[:1000]
    check.finished = timezone.now()
    with transaction.atomic():
        check.save(update_fields=["events", "problems", "first_problem", "finished"])
        record_event(
            "core.audit.check",
            target=check,
            after={"events": check.events, "problems": check.problems, "daily": daily},
        )
    return check
