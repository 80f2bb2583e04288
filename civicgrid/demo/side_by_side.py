"""The year of cases loaded beside the year of disputes, on the demo's SQLite database.

The two bulk paths (decisions 18 and 45) are Python on one core each, and neither reads what
the other writes: the cases need the county, not its disputes. One after the other they are
most of the time before the demo serves. On the demo's first start, with SQLite, ``demo``
runs them at once on the machine's two cores (decision 53):

1. ``load()`` copies the database, just after the county is loaded, twice: the *base*
   (kept as it is) and the *side* copy;
2. the disputes load into the database itself and the cases into the side copy, each in a
   process of its own, each exactly as when they run alone;
3. ``merge()``, in a third process started as soon as the cases are done (theirs is the
   shorter run), first does what needs the side copy alone: which tables the cases changed,
   and the hashable body of each of their audit events (``core.audit.event_body``, the
   costly part of a hash). When the disputes are done, it brings the cases over: every table
   the side run changed, compared with the base, is replaced by the side's version — refused
   if the disputes changed it too — and the side run's audit events are appended to the
   chain after the disputes' events, renumbered and hashed again (``chain_hash`` over the
   bodies; ``core.audit.audit_batch``: the head read and written once, the count checked),
   as they would have been numbered and hashed had the cases loaded after the disputes in
   the same database.

The result is the database the two steps make one after the other, disputes first (held row
for row, audit hashes included, by ``demo.tests.test_side_by_side``). The copies are deleted
after the merge; a first start interrupted half-way makes them again.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from civicgrid.core.audit import audit_batch, chain_hash, event_body
from civicgrid.core.models import AuditChainHead, AuditEvent

# Where the copies go: next to the database.
BASE_SUFFIX = ".demo-base"
SIDE_SUFFIX = ".demo-cases"
# The tables both runs change: the chain, whose merge is the point of this module.
CHAIN_TABLES = frozenset({AuditEvent._meta.db_table, AuditChainHead._meta.db_table})
CHUNK = 10_000  # audit events per executemany while merging
CACHE_KIB = 128 * 1024  # SQLite's page cache while merging (the process does nothing else)
POLL = 0.2  # seconds between looks at the loaders
GO = b"go\n"  # what load() tells the merge when the disputes are done


def database() -> Path | None:
    """The default database's file, when it is an SQLite file (else None)."""
    if connection.vendor != "sqlite":
        return None
    name = str(settings.DATABASES["default"]["NAME"])
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def paths(main: Path) -> tuple[Path, Path]:
    """The base and side copies' files of the database ``main``."""
    return main.with_name(main.name + BASE_SUFFIX), main.with_name(main.name + SIDE_SUFFIX)


def applies() -> bool:
    """SQLite on a file, the disputes' registry loaded (its roles are read by the cases) and
    neither the cases nor the disputes of the year loaded yet (a later start, or a start
    after one of them alone, goes step by step: each step does nothing when its rows are
    there)."""
    if database() is None:
        return False
    from civicgrid.cases.models import Case
    from civicgrid.demo.mediation import demo_registry_loaded
    from civicgrid.mediation.models import Dispute

    return demo_registry_loaded() and not Case.objects.exists() and not Dispute.objects.exists()


def _remove(path: Path) -> None:
    """A database file and its write-ahead log (a stale log must not meet a new copy)."""
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.unlink(missing_ok=True)


def _copy(source: Path, target: Path) -> None:
    _remove(target)
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def load(main: Path, scale: float, env: dict[str, str] | None = None) -> None:
    """The year of disputes into ``main`` and the year of cases beside it, then the merge:
    each in a process of its own (``load_demo_extras --steps mediation|cases|merge``, with
    ``env``). The merge starts as soon as the cases are done and prepares their audit
    events while the disputes finish (their run is the longer), then merges when told.
    Raises RuntimeError if one of them fails."""
    env = dict(os.environ if env is None else env)
    base, side = paths(main)
    _copy(main, base)  # the county loaded, nothing of the year
    _copy(main, side)
    command = [sys.executable, "-m", "civicgrid", "load_demo_extras", "--scale", str(scale)]
    here, beside = (dict(env, DATABASE_URL=f"sqlite:///{path}") for path in (main, side))
    running = {
        "disputes": subprocess.Popen([*command, "--steps", "mediation"], env=here),
        "cases": subprocess.Popen([*command, "--steps", "cases"], env=beside),
    }
    try:
        while True:
            failed = [name for name, p in running.items() if p.poll() not in (None, 0)]
            if failed:
                raise RuntimeError(f"loading the demo's {' and '.join(failed)} failed")
            if "merge" not in running and running["cases"].poll() == 0:
                running["merge"] = subprocess.Popen(
                    [*command, "--steps", "merge", "--merge-when-told"],
                    env=here,
                    stdin=subprocess.PIPE,
                )
            if "merge" in running and running["disputes"].poll() == 0:
                break
            time.sleep(POLL)
        merger = running["merge"]
        try:
            merger.stdin.write(GO)
            merger.stdin.close()
        except BrokenPipeError:
            pass  # it is gone: its exit code says how
        if merger.wait():
            raise RuntimeError("merging the demo's cases failed")
    finally:
        for process in running.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)


def _tables(cursor) -> list[str]:
    cursor.execute(
        "SELECT name FROM main.sqlite_master WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    return [row[0] for row in cursor.fetchall()]


def _differs(cursor, left: str, right: str, table: str) -> bool:
    """Whether ``left.table`` holds other rows than ``right.table``."""
    q = connection.ops.quote_name(table)
    cursor.execute(f"SELECT count(*), max(rowid) FROM {left}.{q}")
    a = cursor.fetchone()
    cursor.execute(f"SELECT count(*), max(rowid) FROM {right}.{q}")
    if a != cursor.fetchone():
        return True
    # Same number of rows, each with its own primary key: one direction is enough.
    cursor.execute(f"SELECT EXISTS (SELECT * FROM {left}.{q} EXCEPT SELECT * FROM {right}.{q})")
    return bool(cursor.fetchone()[0])


def merge(progress=None, when_told=None) -> dict:
    """Bring the side run's rows into the database (see the module's docstring); returns what
    was merged: ``{"tables": [...], "events": n}``. Deletes the two copies when done.

    With ``when_told`` (a callable that returns when the database's own run is done), what
    needs only the side copy is done first — which tables it changed, the hashable body of
    each of its audit events — and the rest after ``when_told()`` returns."""
    say = progress or (lambda message: None)
    main = database()
    if main is None:
        raise RuntimeError("the side-by-side load needs an SQLite file database")
    base, side = paths(main)
    for path in (base, side):
        if not path.exists():
            raise RuntimeError(f"{path} is missing: load() makes it")
    connection.ensure_connection()
    with connection.cursor() as cursor:
        # the audit trail's indexes take the events at random places: a page cache that
        # holds them (bulk_mediation's, for the same reason) halves the merge
        cursor.execute(f"PRAGMA main.cache_size = {-int(CACHE_KIB)}")
        cursor.execute("ATTACH DATABASE %s AS side", [str(side)])
        cursor.execute("ATTACH DATABASE %s AS base", [str(base)])
    try:
        with connection.cursor() as cursor:
            changed = [t for t in _tables(cursor) if _differs(cursor, "side", "base", t)]
            start = _head_id(cursor, "base")
            bodies = _bodies(side, start)
        say(f"  {len(bodies):,} audit events of the side run prepared")
        if when_told is not None:
            when_told()
        with connection.cursor() as cursor:
            clash = [
                t for t in changed if t not in CHAIN_TABLES and _differs(cursor, "main", "base", t)
            ]
        if clash:
            raise RuntimeError(
                "the cases and the disputes both changed " + ", ".join(clash) + ": they "
                "cannot load side by side"
            )
        with transaction.atomic(), connection.cursor() as cursor:
            tables = [t for t in changed if t not in CHAIN_TABLES]
            for table in tables:
                q = connection.ops.quote_name(table)
                cursor.execute(f"PRAGMA main.table_info({q})")
                columns = ", ".join(connection.ops.quote_name(r[1]) for r in cursor.fetchall())
                cursor.execute(f"DELETE FROM main.{q}")
                cursor.execute(f"INSERT INTO main.{q} ({columns}) SELECT {columns} FROM side.{q}")
            say(f"  {len(tables)} tables of the side run merged")
            events = _append_events(side, start, bodies, say)
        return {"tables": tables, "events": events}
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DETACH DATABASE side")
            cursor.execute("DETACH DATABASE base")
        _remove(base)
        _remove(side)


class _Event:
    """An audit event as ``core.audit.event_body`` reads it: the columns as Django reads them."""

    __slots__ = tuple(f.attname for f in AuditEvent._meta.concrete_fields if f.attname != "id")


_FIELDS = AuditEvent._meta.concrete_fields
_NAMES = [f.attname for f in _FIELDS]
_AT = {name: i for i, name in enumerate(_NAMES)}
_JSON = [f.attname for f in _FIELDS if f.get_internal_type() == "JSONField"]
_TABLE = connection.ops.quote_name(AuditEvent._meta.db_table)
_HEAD = connection.ops.quote_name(AuditChainHead._meta.db_table)
_COLUMNS = ", ".join(connection.ops.quote_name(f.column) for f in _FIELDS)


def _head_id(cursor, schema: str) -> int:
    cursor.execute(f"SELECT last_id FROM {schema}.{_HEAD} WHERE id = 1")
    row = cursor.fetchone()
    return row[0] if row else 0


def _body(values) -> str:
    """``event_body`` of one event's row as the side copy holds it."""
    event = _Event()
    for name, value in zip(_NAMES, values, strict=True):
        if name != "id":
            setattr(event, name, value)
    # As Django reads them: the UTC time it wrote (Django's connection parses the column's
    # text to a naive datetime), the JSON text.
    created = event.created
    if isinstance(created, str):
        created = datetime.fromisoformat(created)
    event.created = created.replace(tzinfo=UTC)
    for name in _JSON:
        text = values[_AT[name]]
        setattr(event, name, None if text is None else json.loads(text))
    return event_body(event)


def _side_events(side: Path, start: int) -> tuple[sqlite3.Connection, sqlite3.Cursor]:
    """A connection to the side copy whose ``execute`` gives the side run's audit events
    (after ``start``), oldest first, as the file holds them: a plain one, without the
    converters of Django's (times stay the text written, copied as they are)."""
    reader = sqlite3.connect(side)
    return reader, reader.execute(
        f"SELECT {_COLUMNS} FROM {_TABLE} WHERE id > ? ORDER BY id", [start]
    )


def _bodies(side: Path, start: int) -> list[str]:
    reader, rows = _side_events(side, start)
    try:
        return [_body(values) for values in rows]
    finally:
        reader.close()


def _append_events(side: Path, start: int, bodies: list[str], say) -> int:
    """The side run's audit events after the database's newest, renumbered and hashed again
    (``chain_hash`` over the bodies prepared: ``verify_chain``'s view of each).

    Rows are read and written as the database holds them (one ``executemany`` a chunk; the
    ORM's per-value preparation took 150 s for the ~420,000 events of a year of disputes)."""
    raw = connection.connection
    reader, events = _side_events(side, start)
    insert = f"INSERT INTO main.{_TABLE} ({_COLUMNS}) VALUES ({', '.join('?' * len(_FIELDS))})"
    at_id, at_prev, at_hash = _AT["id"], _AT["prev_hash"], _AT["hash"]
    done = 0
    try:
        with audit_batch() as batch:
            pk, last = batch.last_id, batch.last_hash
            while rows := events.fetchmany(CHUNK):
                if done + len(rows) > len(bodies):
                    raise RuntimeError("the side run's audit events changed while merging")
                chunk = []
                for values in rows:
                    values = list(values)
                    pk += 1
                    values[at_id], values[at_prev] = pk, last
                    last = values[at_hash] = chain_hash(pk, bodies[done], last)
                    chunk.append(values)
                    done += 1
                raw.executemany(insert, chunk)
                if done % 100_000 < CHUNK:
                    say(f"  {done:,} audit events of the side run appended to the chain")
            if done != len(bodies):
                raise RuntimeError("the side run's audit events changed while merging")
            batch.last_id, batch.last_hash = pk, last
    finally:
        reader.close()
    say(f"  {done:,} audit events of the side run appended to the chain")
    return done
