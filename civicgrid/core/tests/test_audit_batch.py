"""audit_batch(): many events in one transaction, the chain head read and written once."""

import pytest
from django.db import transaction

from civicgrid.core.audit import audit_batch, record_event, verify_chain
from civicgrid.core.models import AuditChainHead, AuditEvent


def _write(n: int, *, batched: bool) -> dict:
    """Write n events (batched or not) in a savepoint, describe what was written, undo it."""
    first_id = AuditChainHead.objects.get_or_create(pk=1)[0].last_id
    try:
        with transaction.atomic():
            if batched:
                with audit_batch():
                    for i in range(n):
                        record_event("test.step", target_id=str(i), after={"i": i})
            else:
                for i in range(n):
                    record_event("test.step", target_id=str(i), after={"i": i})
            head = AuditChainHead.objects.get(pk=1)
            last = AuditEvent.objects.order_by("-id").first()
            written = {
                "events": [
                    (pk - first_id, action, target_id, after)
                    for pk, action, target_id, after in AuditEvent.objects.filter(pk__gt=first_id)
                    .order_by("id")
                    .values_list("id", "action", "target_id", "after")
                ],
                "head": (head.last_id - first_id, head.last_hash == last.hash),
                "count": head.count == AuditEvent.objects.count(),
                "problems": list(verify_chain()),
            }
            raise _Undo
    except _Undo:
        pass
    return written


class _Undo(Exception):
    pass


def _head() -> tuple:
    head = AuditChainHead.objects.get(pk=1)
    return head.last_id, head.last_hash, head.count


def test_a_batch_writes_the_same_events_and_head_as_single_writes(db):
    single = _write(5, batched=False)
    assert len(single["events"]) == 5
    assert single["head"] == (5, True) and single["count"] and single["problems"] == []
    assert _write(5, batched=True) == single


def test_a_rolled_back_savepoint_is_taken_up_by_resync(db):
    with transaction.atomic():
        with audit_batch() as batch:
            record_event("test.kept")
            try:
                with transaction.atomic():
                    record_event("test.rolled_back")
                    raise ValueError("the action failed after writing its event")
            except ValueError:
                batch.resync()
            record_event("test.after")
    actions = list(AuditEvent.objects.order_by("-id").values_list("action", flat=True)[:2])
    assert actions == ["test.after", "test.kept"]
    assert list(verify_chain()) == []
    assert _head()[2] == AuditEvent.objects.count()


def test_without_resync_the_batch_refuses_to_close_a_broken_chain(db):
    record_event("test.start")
    before = _head()
    with pytest.raises(RuntimeError, match="resync"):
        with transaction.atomic():
            with audit_batch():
                try:
                    with transaction.atomic():
                        record_event("test.rolled_back")
                        raise ValueError
                except ValueError:
                    pass
                record_event("test.after")
    assert _head() == before
    assert list(verify_chain()) == []


def test_batches_do_not_nest(db):
    with transaction.atomic():
        with audit_batch():
            with pytest.raises(RuntimeError, match="already open"):
                with audit_batch():
                    pass
