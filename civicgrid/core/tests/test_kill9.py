"""``kill -9`` in the middle of work, then a restart: nothing acknowledged is lost or doubled
(issue 12, 7). Real processes on a database of their own (SQLite, or PostgreSQL in that
pass), no mocks.

* The server: a client keeps reporting cases through the REST API, each with its own
  idempotency key, and retries what got no answer with the same key. The server is killed
  with SIGKILL mid-stream and started again. Afterwards every acknowledged report is there
  exactly once (with the case code the client was told), no key made two cases, every case
  has its whole intake (the report step in its timeline, its audit event) and the audit chain
  verifies.
* The sender: ``send`` delivers SMS notifications through a gateway that acknowledges each
  one; it is killed mid-run and run again. No notification is lost; the one that was in the
  gateway's hands when the process died is the only one that can be handed over twice, under
  the same notification id (the gateway's de-duplication key). Its claim keeps any other
  runner off it until the claim expires, then it is delivered.

The long form (a 10-minute soak with kills) is ``bench/soak.py``'s job; this is CI's short form.
"""

import json
import os
import signal
import sqlite3
import threading
import time

import pytest

from civicgrid.core.tests.live_server import Server, run_command

pytestmark = pytest.mark.django_db

REPORTS = 60
KILL_AFTER = 20


class Database:
    """The server's own database, read directly by the test: a fresh SQLite file, or — in the
    PostgreSQL pass — a fresh database next to the session's, dropped at the end."""

    def __init__(self, tmp_path):
        url = os.environ.get("DATABASE_URL", "")
        self.postgres = url.startswith("postgres")
        if self.postgres:
            import psycopg

            self.name = f"kill9_{os.getpid()}"
            base = url.rsplit("/", 1)[0]
            url = f"{base}/postgres"  # the maintenance database: the named one may not exist
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}"')
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.admin_url, self.url = url, f"{base}/{self.name}"
        else:
            self.url = f"sqlite:///{tmp_path / 'kill9.sqlite3'}"

    def connect(self):
        if self.postgres:
            import psycopg

            return psycopg.connect(self.url, autocommit=True)
        return sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)

    def drop(self):
        if self.postgres:
            import psycopg

            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    """A migrated database with the small demo county and grid1's API token (shared by the
    module's tests: migrating and loading take most of their time)."""
    tmp_path = tmp_path_factory.mktemp("kill9")
    database = Database(tmp_path)
    server = Server(database.url, tmp_path)
    server.database = database
    run_command(server.env, "migrate", "--verbosity", "0")
    run_command(server.env, "load_demo", "--scale", "0.05", "--seed", "7", "--verbosity", "0")
    token = run_command(server.env, "create_token", "--as", "grid1", "--name", "kill -9").split()[
        -1
    ]
    grid = run_command(
        server.env,
        "shell",
        "-c",
        "from civicgrid.people.models import RoleAssignment as R; "
        "print(R.objects.get(person__user__username='grid1').grid.code)",
    ).split()[-1]
    yield server, token, grid
    database.drop()


def test_reports_survive_a_killed_server_exactly_once(county, tmp_path):
    server, token, grid = county
    server.start()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    acknowledged: dict[str, str] = {}  # idempotency key → case code the client was told
    pending = [f"kill9-{n:03d}" for n in range(REPORTS)]
    killed = threading.Event()

    def post(key):
        body = {"description": f"路灯不亮 {key}", "grid": grid, "idempotency_key": key}
        return server.request_json("/api/v1/cases", body, headers=headers)

    while pending:
        key = pending[0]
        status, answer = post(key)
        if status in (200, 201):
            acknowledged[key] = answer["code"]
            pending.pop(0)
        else:
            assert status == 0, (status, answer)  # no answer at all: the server is down
            server.wait_until_up()
        if len(acknowledged) == KILL_AFTER and not killed.is_set():
            killed.set()
            # Kill while a report is in flight: fire one and kill without waiting for it.
            in_flight = threading.Thread(target=post, args=(pending[0],))
            in_flight.start()
            time.sleep(0.01)
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait()
            in_flight.join()
            server.start()
    server.stop()

    assert len(acknowledged) == REPORTS
    db = server.database.connect()
    rows = db.execute("SELECT code FROM cases_case WHERE idempotency_key IS NOT NULL").fetchall()
    # The keys are stored hashed (per reporter); one case per key and the codes the client
    # was told: nothing lost, nothing doubled (the in-flight report either committed and was
    # returned again on retry, or left nothing).
    assert len(rows) == REPORTS, len(rows)
    assert {code for (code,) in rows} == set(acknowledged.values())
    # Every case has its whole intake: the report step and its audit event.
    steps = db.execute(
        "SELECT COUNT(DISTINCT case_id) FROM cases_caseaction WHERE action = 'report'"
    ).fetchone()[0]
    assert steps == len(rows)
    events = db.execute(
        "SELECT COUNT(*) FROM core_auditevent WHERE action = 'cases.case.report'"
    ).fetchone()[0]
    assert events == len(rows)  # one per case: a killed, uncommitted report left none
    verified = run_command(server.env, "verify_audit")
    assert "audit trail intact" in verified, verified


def test_a_killed_sender_loses_nothing(county, tmp_path):
    server, _token, _grid = county
    outbox = tmp_path / "gateway.txt"
    env = dict(server.env, CIVICGRID_SMS_SENDER="civicgrid.core.tests.live_server.FileSender")
    env["CIVICGRID_TEST_OUTBOX"] = str(outbox)
    queued = json.loads(
        run_command(
            env,
            "shell",
            "-c",
            "import json; from django.utils import timezone; "
            "from civicgrid.cases.models import Notification as N; "
            "rows = N.objects.bulk_create([N(channel='sms', event='test', subject=f'#{i}', "
            "created=timezone.now()) for i in range(150)]); "
            "print(json.dumps([n.pk for n in rows]))",
        ).splitlines()[-1]
    )
    import subprocess
    import sys

    runner = subprocess.Popen(
        [sys.executable, "-m", "civicgrid", "send"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not outbox.exists() or len(outbox.read_text().split()) < 40:
        assert runner.poll() is None, "send finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    delivered_before = outbox.read_text().split()
    assert len(delivered_before) < len(queued)

    run_command(env, "send")  # a second runner: everything not claimed by the dead one
    db = server.database.connect()
    stuck = db.execute(
        "SELECT id FROM cases_notification WHERE channel = 'sms' AND sent_at IS NULL"
    ).fetchall()
    assert len(stuck) <= 1, stuck  # at most the one in the dead runner's hands, still claimed
    # Its claim runs out (two minutes in production; moved here instead of waiting) …
    db.execute("UPDATE cases_notification SET claimed_until = '2000-01-01 00:00:00+00'")
    run_command(env, "send")
    # … and it is delivered: nothing lost.
    unsent = db.execute(
        "SELECT COUNT(*) FROM cases_notification WHERE channel = 'sms' AND sent_at IS NULL"
    ).fetchone()[0]
    assert unsent == 0
    delivered = [int(pk) for pk in outbox.read_text().split()]
    assert set(delivered) == set(queued)
    doubled = {pk for pk in delivered if delivered.count(pk) > 1}
    assert doubled <= {pk for (pk,) in stuck}, doubled  # only the in-flight one, same id
