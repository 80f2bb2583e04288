"""Backups: one consistent snapshot of the database and the uploaded files, and its restore.

A backup is a ``.tar.gz`` holding ``manifest.json`` (what was taken, when, and a digest of
every table), the database (SQLite: a copy made with SQLite's online backup API; PostgreSQL:
``pg_dump -Fc`` of an exported snapshot, so the digests and the dump see the same instant)
and ``media/`` (photos). Restoring puts the database and the files back, then checks every
table against the manifest's digests and walks the audit chain; any difference fails loudly.

The keys are not in a backup: ``CIVICGRID_SECRET_KEY`` and ``CIVICGRID_PII_KEY`` are kept
apart (without the PII key the encrypted ID and phone numbers cannot be read).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

__all__ = ["BackupError", "make_backup", "restore_backup", "table_digests"]

FORMAT = 1


class BackupError(Exception):
    """The backup cannot be made or restored; the message says why."""


def _say(progress: Callable[[str], None] | None, text: str) -> None:
    if progress is not None:
        progress(text)


# --------------------------------------------------------------------------- digests


def _digest_rows(cursor, table: str, quote) -> tuple[int, str]:
    cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608 (table names from the catalogue)
    rows = sorted(repr(tuple(row)) for row in cursor.fetchall())
    digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return len(rows), digest


def table_digests(cursor=None, *, vendor: str | None = None, tables=None) -> dict[str, dict]:
    """{table: {"rows": n, "sha256": …}} for every table, order-independent.

    With no cursor, reads the default database. Rows are compared as the driver returns them,
    so a digest is comparable only with one taken on the same kind of database.
    """
    if cursor is None:
        with connection.cursor() as own:
            return table_digests(own, vendor=connection.vendor)
    if tables is None:
        tables = sorted(connection.introspection.table_names(cursor))
    quote = connection.ops.quote_name
    result = {}
    for table in tables:
        if vendor == "sqlite" and table.startswith("sqlite_"):
            continue
        rows, digest = _digest_rows(cursor, table, quote)
        result[table] = {"rows": rows, "sha256": digest}
    return result


def _sqlite_tables(db: sqlite3.Connection) -> list[str]:
    names = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return [name for (name,) in names if not name.startswith("sqlite_")]


# --------------------------------------------------------------------------- backup


def _pg_env() -> dict[str, str]:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update(
        PGHOST=str(db.get("HOST") or "127.0.0.1"),
        PGPORT=str(db.get("PORT") or 5432),
        PGUSER=str(db.get("USER") or "postgres"),
        PGDATABASE=str(db["NAME"]),
    )
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env


def _backup_sqlite(target: Path, progress) -> dict:
    source_path = settings.DATABASES["default"]["NAME"]
    source = sqlite3.connect(source_path)
    try:
        dest = sqlite3.connect(target)
        with dest:
            source.backup(
                dest,
                pages=4096,
                progress=lambda status, remaining, total: _say(
                    progress, f"  database: {total - remaining:,} / {total:,} pages"
                ),
            )
        dest.close()
        # Read the copy the way Django reads the live file (its type converters are global
        # to the sqlite3 module), so the digests compare with those taken after a restore.
        copy = sqlite3.connect(
            target, detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES
        )
        try:
            digests = {}
            for table in _sqlite_tables(copy):
                rows, digest = _digest_rows(copy.cursor(), table, _quote_sqlite)
                digests[table] = {"rows": rows, "sha256": digest}
        finally:
            copy.close()
    finally:
        source.close()
    return digests


def _quote_sqlite(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _backup_postgresql(target: Path, progress) -> dict:
    if shutil.which("pg_dump") is None:
        raise BackupError("pg_dump is not installed (apt-get install postgresql-client)")
    conn = connections["default"]
    conn.ensure_connection()
    with conn.cursor() as cursor:
        cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            _say(progress, "  database: pg_dump of the exported snapshot …")
            done = subprocess.run(
                ["pg_dump", "-Fc", f"--snapshot={snapshot}", "--no-owner", "-f", str(target)],
                env=_pg_env(),
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
            _say(progress, "  database: digests of every table at the same snapshot …")
            digests = table_digests(cursor, vendor="postgresql")
        finally:
            cursor.execute("ROLLBACK")
    return digests


def make_backup(output: Path | None = None, *, progress=None) -> Path:
    """Write a backup archive and return its path (default: var/backups/…tar.gz)."""
    vendor = connection.vendor
    if vendor not in {"sqlite", "postgresql"}:
        raise BackupError(f"backups of {vendor} databases are not supported")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    if output is None:
        output = Path(settings.VAR_DIR) / "backups" / f"civicgrid-{stamp}.tar.gz"
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="civicgrid-backup-") as work:
        work = Path(work)
        if vendor == "sqlite":
            database = work / "database.sqlite3"
            digests = _backup_sqlite(database, progress)
        else:
            database = work / "database.pgdump"
            digests = _backup_postgresql(database, progress)
        media = Path(settings.MEDIA_ROOT)
        files = [p for p in media.rglob("*") if p.is_file()] if media.exists() else []
        manifest = {
            "format": FORMAT,
            "created": timezone.now().isoformat(),
            "vendor": vendor,
            "database": database.name,
            "tables": digests,
            "media_files": len(files),
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
        partial = output.with_name(output.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(work / "manifest.json", arcname="manifest.json")
            archive.add(database, arcname=database.name)
            for n, path in enumerate(files, 1):
                archive.add(path, arcname=f"media/{path.relative_to(media).as_posix()}")
                if n % 500 == 0:
                    _say(progress, f"  media: {n:,} / {len(files):,} files")
        partial.replace(output)  # never a half-written archive under the final name
    rows = sum(t["rows"] for t in digests.values())
    summary = f"{len(digests)} tables, {rows:,} rows, {len(files):,} files"
    _say(progress, f"backup written: {output} ({summary})")
    return output


# --------------------------------------------------------------------------- restore


def _safe_members(archive: tarfile.TarFile):
    for member in archive.getmembers():
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
            raise BackupError(f"refusing a suspicious path in the archive: {member.name}")
        yield member


def _restore_sqlite(database: Path) -> None:
    connections.close_all()
    target = sqlite3.connect(settings.DATABASES["default"]["NAME"])
    source = sqlite3.connect(database)
    try:
        with target:
            source.backup(target)  # replaces every page of the live file, in one step
    finally:
        source.close()
        target.close()


def _restore_postgresql(database: Path) -> None:
    if shutil.which("pg_restore") is None:
        raise BackupError("pg_restore is not installed (apt-get install postgresql-client)")
    connections.close_all()
    env = _pg_env()
    # An empty schema first, so tables made after the backup do not survive the restore.
    wipe_sql = "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"
    wipe = subprocess.run(
        ["psql", "-v", "ON_ERROR_STOP=1", "-qc", wipe_sql], env=env, capture_output=True, text=True
    )
    if wipe.returncode != 0:
        raise BackupError(f"emptying the database failed: {wipe.stderr.strip()}")
    done = subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", "-d", env["PGDATABASE"], str(database)],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()}")


def restore_backup(archive_path: Path, *, progress=None) -> dict:
    """Put a backup back, then prove it: every table's digest and the audit chain.

    Returns {"tables": n, "rows": n, "media_files": n, "audit_problems": n}; raises
    BackupError if the database does not match the manifest afterwards.
    """
    from civicgrid.core.audit import verify_chain

    archive_path = Path(archive_path)
    if not archive_path.is_file():
        raise BackupError(f"no such backup: {archive_path}")
    with tempfile.TemporaryDirectory(prefix="civicgrid-restore-") as work:
        work = Path(work)
        with tarfile.open(archive_path, "r:gz") as archive:
            archive.extractall(work, members=_safe_members(archive))  # noqa: S202 (checked)
        manifest = json.loads((work / "manifest.json").read_text())
        if manifest.get("format") != FORMAT:
            raise BackupError(f"unknown backup format {manifest.get('format')!r}")
        if manifest["vendor"] != connection.vendor:
            raise BackupError(
                f"this backup is of a {manifest['vendor']} database; "
                f"the configured database is {connection.vendor}"
            )
        database = work / manifest["database"]
        _say(progress, f"restoring the database from {archive_path.name} …")
        if connection.vendor == "sqlite":
            _restore_sqlite(database)
        else:
            _restore_postgresql(database)
        media = Path(settings.MEDIA_ROOT)
        _say(progress, "restoring the uploaded files …")
        if media.exists():
            shutil.rmtree(media)
        media.mkdir(parents=True, exist_ok=True)
        if (work / "media").exists():
            shutil.copytree(work / "media", media, dirs_exist_ok=True)
    _say(progress, "checking every table against the backup …")
    found = table_digests()
    expected = manifest["tables"]
    wrong = sorted(t for t in set(expected) | set(found) if expected.get(t) != found.get(t))
    if wrong:
        raise BackupError(f"restored tables differ from the backup: {', '.join(wrong[:10])}")
    _say(progress, "walking the audit chain …")
    problems = list(verify_chain())
    if problems:
        raise BackupError(f"the restored audit chain is not intact: {problems[0].message}")
    return {
        "tables": len(found),
        "rows": sum(t["rows"] for t in found.values()),
        "media_files": manifest["media_files"],
        "audit_problems": 0,
    }
