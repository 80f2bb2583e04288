"""The migrated schema of an empty SQLite database, as SQL, for the demo's first start.

Applying the ~60 migrations to a new database takes ~9 s on the 2-core machine, nearly all of
it Django rendering the models' historical states, not SQL. The demo's first start, on a new
SQLite file, runs ``SNAPSHOT`` instead — the dump of a database just migrated (tables,
indexes, triggers, the rows the data migrations and ``post_migrate`` write, the migrations
recorded as applied) — then ``migrate`` as usual, which applies whatever migration is newer
than the snapshot (decision 56, after Rails' schema loading). ``migrate`` stays the one
source of the schema: ``civicgrid dump_demo_schema`` writes the snapshot from it, and
``demo.tests.test_schema`` fails when the two differ.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from django.db import connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

SNAPSHOT = Path(__file__).parent / "data" / "schema.sqlite.sql"
# When each migration was applied is the one thing a dump of two migrations differs in.
_APPLIED = re.compile(
    r"""^(INSERT INTO "django_migrations" VALUES\(\d+,'[^']*','[^']*',)'[^']*'\);$""", re.M
)
_EPOCH = "'1970-01-01 00:00:00'"


def dump() -> str:
    """A new SQLite database migrated (``civicgrid migrate``, in a process of its own),
    dumped as SQL; the times the migrations were applied set to the epoch."""
    with tempfile.TemporaryDirectory(prefix="civicgrid-schema-") as tmp:
        path = Path(tmp) / "schema.sqlite3"
        env = dict(os.environ, DATABASE_URL=f"sqlite:///{path}")
        subprocess.run(
            [sys.executable, "-m", "civicgrid", "migrate", "--verbosity", "0"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        db = sqlite3.connect(path)
        try:
            text = "\n".join(db.iterdump()) + "\n"
        finally:
            db.close()
    return normalized(text)


def normalized(text: str) -> str:
    """A dump with the times the migrations were applied set to the epoch."""
    return _APPLIED.sub(rf"\1{_EPOCH});", text)


def applies() -> bool:
    """The default database is SQLite and holds no table yet, and the snapshot is there."""
    return (
        connection.vendor == "sqlite"
        and SNAPSHOT.exists()
        and not connection.introspection.table_names()
    )


def load() -> bool:
    """Run the snapshot on the default database when ``applies()``; the migrations it holds
    are recorded as applied now. Returns whether it ran (``migrate`` is still to run)."""
    if not applies():
        return False
    script = SNAPSHOT.read_text(encoding="utf-8")
    connection.ensure_connection()
    raw = connection.connection
    # The dump opens and commits its own transaction (BEGIN TRANSACTION … COMMIT) and writes
    # table after table by name, rows before the tables they refer to: the foreign keys are
    # checked once it is all there.
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        raw.executescript(script)
    finally:
        raw.execute("PRAGMA foreign_keys = ON")
    if raw.execute("PRAGMA foreign_key_check").fetchone() is not None:
        raise RuntimeError(f"{SNAPSHOT}: rows refer to rows it does not hold")
    with transaction.atomic():
        MigrationRecorder.Migration.objects.update(applied=timezone.now())
    return True
