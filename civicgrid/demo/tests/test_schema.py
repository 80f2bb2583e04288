"""The migrated schema's snapshot (``demo.schema``, decision 56): the SQL the demo's first
start runs instead of replaying every migration must be what the migrations make."""

import os
import sqlite3
import subprocess
import sys

from civicgrid.demo import schema


def test_the_snapshot_is_what_the_migrations_make():
    fresh = schema.dump()
    assert 'CREATE TABLE "cases_case"' in fresh and 'INSERT INTO "cases_category"' in fresh
    assert schema.SNAPSHOT.read_text(encoding="utf-8") == fresh, (
        "the migrations changed: run `civicgrid dump_demo_schema` and commit "
        f"{schema.SNAPSHOT.name}"
    )


def _migrate_step(path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "civicgrid", "load_demo_extras", "--steps", "migrate"],
        env=dict(env, DATABASE_URL=f"sqlite:///{path}"),
        capture_output=True,
        text=True,
        check=True,
    )


def test_a_new_database_gets_the_snapshot_then_migrate_and_a_later_start_only_migrate(
    tmp_path,
):
    path = tmp_path / "demo.sqlite3"
    first = _migrate_step(path)
    assert "snapshot" in first.stderr
    db = sqlite3.connect(path)
    try:
        # every migration recorded, now; the rest as the migrations make it
        applied = {row[0] for row in db.execute("SELECT applied FROM django_migrations")}
        assert applied and not any(value.startswith("1970") for value in applied)
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        dumped = "\n".join(db.iterdump()) + "\n"
    finally:
        db.close()
    assert schema.normalized(dumped) == schema.SNAPSHOT.read_text(encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    check = subprocess.run(
        [sys.executable, "-m", "civicgrid", "migrate", "--check"],
        env=dict(env, DATABASE_URL=f"sqlite:///{path}"),
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr  # nothing left to apply
    again = _migrate_step(path)
    assert "snapshot" not in again.stderr
