"""The demo loaders' transaction: one, or a run of short ones while the demo is being served.

Each loader after the cases (visits, campaigns, co-governance, on call, rewards, reports)
writes through the actions inside ``transaction.atomic()`` with the audit chain batched
(``core.audit.audit_batch``). Run before the demo is served, one transaction for the whole
step is fastest. Run behind a serving demo (``civicgrid demo`` serves once the cases and
disputes are in, and loads the rest in subprocesses), a transaction of tens of seconds would
hold SQLite's write lock — and the audit chain's head — that long, and a visitor's login
(session, last login, audit event) would wait past the 5 s busy timeout and fail. So the
loaders call ``checkpoint()`` at points where nothing is half done (between two simulated
steps, between two reports), and when ``CIVICGRID_DEMO_COMMIT_EVERY`` (seconds) is set the
transaction is committed there once it is that old, and a new one begun with the chain head
read again (a visitor's events may have been appended in between).

The rows written are the same either way (``demo/tests/test_chunked_loaders.py``); only a step
interrupted half-way leaves a part of its rows behind (its "loaded" mark is written last).
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack

from django.db import connection, transaction

from civicgrid.core.audit import audit_batch

__all__ = ["ENV", "Batches", "commit_every"]

ENV = "CIVICGRID_DEMO_COMMIT_EVERY"
PAUSE = 0.1  # seconds between a commit and the next transaction


def commit_every() -> float | None:
    """Seconds a loader's transaction may stay open (None: one transaction per step)."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    seconds = float(value)
    if seconds <= 0:
        raise ValueError(f"{ENV} must be a positive number of seconds")
    return seconds


class Batches:
    """``transaction.atomic()`` + ``audit_batch()``, committed and reopened at checkpoints.

    Use as ``with Batches() as chain:``; ``chain.resync()`` is the current batch's (after a
    rolled-back savepoint), ``chain.checkpoint()`` commits when the transaction is old enough.
    """

    def __init__(self, seconds: float | None | type(...) = ...):
        self.seconds = commit_every() if seconds is ... else seconds
        self.commits = 0
        self._stack: ExitStack | None = None
        self.batch = None
        self._opened = 0.0
        self._depth = 0

    def _open(self) -> None:
        stack = ExitStack()
        stack.enter_context(transaction.atomic())
        self.batch = stack.enter_context(audit_batch())
        self._stack, self._opened = stack, time.monotonic()
        self._depth = len(connection.savepoint_ids)

    def __enter__(self) -> Batches:
        self._open()
        return self

    def __exit__(self, *exc) -> bool:
        stack, self._stack = self._stack, None
        return bool(stack.__exit__(*exc))

    def resync(self) -> None:
        self.batch.resync()

    def checkpoint(self) -> bool:
        """Commit and begin again if the transaction is older than the limit; True if so."""
        if self.seconds is None or time.monotonic() - self._opened < self.seconds:
            return False
        if len(connection.savepoint_ids) != self._depth:
            raise RuntimeError("checkpoint() inside a savepoint: call it between steps")
        stack, self._stack = self._stack, None
        stack.close()
        self.commits += 1
        # A writer waiting for SQLite's lock polls it (every 100 ms at most, its busy
        # handler): leave it a window that long, or it may never get in before its timeout.
        time.sleep(PAUSE)
        self._open()
        return True
