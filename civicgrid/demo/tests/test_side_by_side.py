"""The cases loaded beside the disputes and merged make the database the two make one after
the other (``demo.side_by_side``, decisions 53 and 54).

The session's demo county is copied to two SQLite files. One gets the year of disputes, then the
year of cases, in one process (``load_demo_extras --steps mediation cases``); the other
gets them side by side (``side_by_side.load``: two processes, two databases, the merge). Every
table of the two files is then compared row by row, primary keys included. What differs
between any two runs of the cases, and so is compared without it: the sealed personal data
(Fernet tokens carry a random IV: compared decrypted), an attachment's name when two photos
share one (the storage adds a random suffix), and the time the cases' summary event was
written (the real time at the end of the run) — which the hashes of every later event bind,
so hashes are not compared; instead the merged chain is verified (``verify_audit``).
"""

import os
import re
import shutil
import sqlite3
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from civicgrid.demo import side_by_side
from civicgrid.people import pii

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        "DATABASE_URL" in os.environ, reason="the side-by-side load is the SQLite demo's"
    ),
]

SCALE = "0.2"  # of the test county (75 grids): ~360 disputes, ~1,700 cases
_SUFFIX = re.compile(r"_[A-Za-z0-9]{7}(?=\.\w+$)")


def _env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["CIVICGRID_VAR_DIR"] = str(tmp_path / "var")
    # the county's personal data was sealed with the test run's key
    env["CIVICGRID_PII_KEY"] = settings.PII_KEY
    env["CIVICGRID_PII_INDEX_KEY"] = settings.PII_INDEX_KEY
    return env


@pytest.fixture(scope="module")
def county(django_db_setup, django_db_blocker, tmp_path_factory):
    """The session's demo county in an SQLite file (copied outside any test's transaction),
    with the disputes' registry."""
    path = tmp_path_factory.mktemp("county") / "county.sqlite3"
    with django_db_blocker.unblock():
        connection.ensure_connection()
        target = sqlite3.connect(path)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
    # the disputes' registry, which demo loads before the two years (the cases read its roles)
    env = _env(path.parent)
    subprocess.run(
        [sys.executable, "-m", "civicgrid", "load_demo_extras", "--steps", "mediators"],
        env=dict(env, DATABASE_URL=f"sqlite:///{path}"),
        check=True,
        capture_output=True,
    )
    return path


def _rows(path) -> dict[str, list[tuple]]:
    db = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        out = {}
        for table in tables:
            columns = [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]
            rows = []
            for row in db.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):
                values = dict(zip(columns, row, strict=True))
                for column, value in values.items():
                    if column.endswith("_cipher") and value:
                        values[column] = ("revealed", pii.reveal(value))
                if table == "cases_attachment":
                    values["file"] = _SUFFIX.sub("", values["file"])
                if table == "core_auditevent":
                    del values["hash"], values["prev_hash"]
                    if values["action"] == "demo.cases":
                        del values["created"]
                if table == "core_auditchainhead":
                    del values["last_hash"]
                rows.append(tuple(sorted(values.items())))
            out[table] = rows
        return out
    finally:
        db.close()


def test_side_by_side_makes_the_rows_of_one_after_the_other(county, tmp_path):
    one_by_one, side = tmp_path / "one-by-one.sqlite3", tmp_path / "side.sqlite3"
    shutil.copy(county, one_by_one)
    shutil.copy(county, side)
    env = _env(tmp_path)
    subprocess.run(
        [sys.executable, "-m", "civicgrid", "load_demo_extras", "--scale", SCALE]
        + ["--steps", "mediation", "cases"],
        env=dict(env, DATABASE_URL=f"sqlite:///{one_by_one}"),
        check=True,
        capture_output=True,
    )
    side_by_side.load(side, float(SCALE), env)

    expected, got = _rows(one_by_one), _rows(side)
    assert set(got) == set(expected)
    # the year is there, disputes and their audit events included
    assert len(got["mediation_dispute"]) > 100 and len(got["cases_case"]) > 100
    actions = {dict(row)["action"] for row in got["core_auditevent"]}
    assert {"demo.cases", "mediation.dispute.register"} <= actions
    different = [table for table in sorted(expected) if expected[table] != got[table]]
    assert different == []
    # the copies are gone, the merged chain is whole
    assert not [p for p in tmp_path.iterdir() if p.name.endswith((".demo-base", ".demo-cases"))]
    check = subprocess.run(
        [sys.executable, "-m", "civicgrid", "verify_audit"],
        env=dict(env, DATABASE_URL=f"sqlite:///{side}"),
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.fixture
def copies(county, tmp_path):
    """The county as the merge finds it: the database, the base copy and the side copy, all
    equal -- each test changes what its runs would have."""
    main = tmp_path / "main.sqlite3"
    base, side = side_by_side.paths(main)
    for copy in (main, base, side):
        shutil.copy(county, copy)
    return main, side


def _merge(main, tmp_path, *extra, **run):
    return subprocess.run(
        [sys.executable, "-m", "civicgrid", "load_demo_extras", "--steps", "merge", *extra],
        env=dict(_env(tmp_path), DATABASE_URL=f"sqlite:///{main}"),
        capture_output=True,
        text=True,
        **run,
    )


def test_a_table_both_runs_changed_is_refused(copies, tmp_path):
    main, side = copies
    # both "runs" add a department: the merge cannot keep both
    for path, code in ((main, "X1"), (side, "X2")):
        with sqlite3.connect(path) as db:
            row = db.execute("SELECT * FROM people_department ORDER BY id LIMIT 1").fetchone()
            columns = [r[1] for r in db.execute("PRAGMA table_info(people_department)")]
            values = dict(zip(columns, row, strict=True))
            values.update(id=values["id"] + 100_000, code=code)
            marks = ", ".join("?" * len(values))
            db.execute(
                f"INSERT INTO people_department ({', '.join(values)}) VALUES ({marks})",
                [*values.values()],
            )
    done = _merge(main, tmp_path)
    assert done.returncode != 0
    assert "both changed people_department" in done.stderr
    assert "Traceback" not in done.stderr
    with sqlite3.connect(main) as db:
        codes = {r[0] for r in db.execute("SELECT code FROM people_department")}
    assert "X1" in codes and "X2" not in codes


def test_the_merge_waits_to_be_told_and_leaves_the_database_as_it_was_if_not(copies, tmp_path):
    """``load`` starts the merge before the disputes are done; should they fail, the merge
    reads the end of its input without "go" and must stop without writing."""
    main, side = copies
    with sqlite3.connect(side) as db:  # the side run changed a table
        db.execute("UPDATE people_department SET name = name || ' (side)'")
    done = _merge(main, tmp_path, "--merge-when-told", stdin=subprocess.DEVNULL)
    assert done.returncode != 0
    assert "not told to go" in done.stderr
    assert "Traceback" not in done.stderr
    with sqlite3.connect(main) as db:
        names = [r[0] for r in db.execute("SELECT name FROM people_department")]
    assert names and not [name for name in names if name.endswith("(side)")]
