"""demo.chunks: the loaders' transaction, committed at checkpoints behind a serving demo."""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from civicgrid.core.audit import record_event, verify_chain
from civicgrid.core.models import AuditEvent
from civicgrid.demo import chunks
from civicgrid.demo.chunks import Batches, commit_every


def test_the_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(chunks.ENV, raising=False)
    assert commit_every() is None
    monkeypatch.setenv(chunks.ENV, "0.5")
    assert commit_every() == 0.5
    monkeypatch.setenv(chunks.ENV, "0")
    with pytest.raises(ValueError):
        commit_every()


def test_without_a_limit_it_is_one_transaction(db):
    with Batches(None) as chain:
        for n in range(3):
            record_event("test.chunk", target_repr=str(n))
            assert chain.checkpoint() is False
    assert chain.commits == 0
    assert AuditEvent.objects.filter(action="test.chunk").count() == 3
    assert list(verify_chain()) == []


def test_a_checkpoint_inside_a_savepoint_is_refused(db):
    with Batches(0) as chain:
        with pytest.raises(RuntimeError), transaction.atomic():
            chain.checkpoint()


def _committed_count() -> int:
    """Events another connection can see: only committed ones."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM core_auditevent WHERE action = %s", ["test.chunk"])
            return cursor.fetchone()[0]
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_checkpoints_commit_and_a_waiting_writer_gets_in_between():
    """What a visitor's login does while the demo loads behind the server: it writes an audit
    event (and SQLite's lock) in one of the gaps, and the chain stays whole."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        # The test database is in memory with a shared cache, whose table locks do not wait
        # (busy timeout): test_demo_command's login during the loading covers the file.
        pytest.skip("needs a database file or PostgreSQL")
    outcome: dict = {}

    def visitor():
        try:
            # waits for the loader's transaction (SQLite's lock / the chain head's row lock)
            outcome["event"] = record_event("test.visitor", target_repr="login")
        except Exception as exc:  # reported below
            outcome["error"] = exc
        finally:
            connection.close()

    with Batches(0.05) as chain:
        record_event("test.chunk", target_repr="0")
        thread = threading.Thread(target=visitor)
        thread.start()
        deadline = time.monotonic() + 4  # under the 5 s busy timeout
        n = 0
        while time.monotonic() < deadline and thread.is_alive():
            n += 1
            record_event("test.chunk", target_repr=str(n))
            time.sleep(0.06)
            chain.checkpoint()
        commits = chain.commits
        thread.join(timeout=10)
        # what was recorded before the last checkpoint is visible to others: committed
        assert 0 < _committed_count() <= n + 1
    assert "error" not in outcome, outcome.get("error")
    assert outcome["event"].action == "test.visitor"
    assert commits >= 1
    assert AuditEvent.objects.filter(action="test.chunk").count() == n + 1
    assert list(verify_chain()) == []
