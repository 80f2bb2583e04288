"""A thread that runs a bulk path's INSERTs on the run's own SQLite connection.

Used by the demo's two bulk paths (``demo.bulk_cases``, ``demo.bulk_mediation``) on SQLite.
"""

from __future__ import annotations

import queue
import threading

__all__ = ["ThreadedWriter"]


class ThreadedWriter:
    """Runs the chunks' INSERTs on a thread of its own, on the same SQLite connection (the
    run's transaction), so that SQLite's own work — the B-trees of the audit trail's indexes,
    a fifth of the bulk path's time — goes on while the year is simulated: the ``sqlite3``
    module lets go of the GIL while a statement steps, and SQLite serializes the use of a
    connection (``sqlite3.threadsafety`` 3), so the few reads the steps make meanwhile wait
    their turn. The values are made on the caller's thread; an error is raised there, at the
    next chunk or at ``close()``. At most two chunks wait (the memory they hold)."""

    def __init__(self, connection):
        connection.ensure_connection()
        self.raw = connection.connection
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="bulk-writer")
        self.thread.start()

    def _run(self) -> None:
        cursor = self.raw.cursor()
        try:
            while (job := self.queue.get()) is not None:
                if self.error is None:  # after an error the rest is only drained
                    try:
                        cursor.executemany(*job)
                    except BaseException as exc:  # raised on the caller's thread
                        self.error = exc
        finally:
            cursor.close()

    def _check(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def put(self, sql: str, values: list) -> None:
        self._check()
        self.queue.put((sql, values))

    def close(self) -> None:
        """Wait for the chunks given so far; raise their error if one failed."""
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        self._check()

    def abort(self) -> None:
        """After a failure on the caller's side: stop the thread, keep the caller's error
        (the transaction is rolled back, so what the thread wrote goes with it)."""
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        self.error = None
