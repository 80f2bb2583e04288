"""The database goes away under a running server: clear 503s, then recovery without a restart.

A real server process (``civicgrid runserver``) and a real fault, no mocks (issue 12, 7):

* PostgreSQL: the server reaches the database through a TCP relay run by the test; the relay
  is cut (every connection dropped, new ones refused) for a while and then restored.
* SQLite: another process holds the database file's write lock (``BEGIN EXCLUSIVE``, as a
  stuck writer would); writes wait out the busy timeout and fail, then the lock is released.

Each runs on the database pass it belongs to and skips on the other.
"""

import json
import sqlite3
import subprocess
import sys
import urllib.parse

import pytest
from django.db import connection

from civicgrid.core.tests.live_server import Relay, Server

pytestmark = pytest.mark.django_db


def _assert_unavailable(answer, *, api=False):
    status, headers, body = answer
    assert status == 503, (status, body[:300])
    assert headers.get("Retry-After") == "30"
    if api:
        assert json.loads(body)["error"]["code"] == "unavailable"
    else:
        # The site's default language is Chinese; the page says it in the request's language.
        assert "database cannot be reached" in body or "无法连接数据库" in body


@pytest.mark.skipif("not os.environ.get('DATABASE_URL', '').startswith('postgres')")
def test_postgres_cut_for_a_while_gives_503s_then_recovers_without_restart(tmp_path):
    settings = connection.settings_dict  # the session's test database: migrated, committed
    relay = Relay((settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)))
    relay.start()
    user = urllib.parse.quote(settings["USER"] or "postgres")
    password = f":{urllib.parse.quote(settings['PASSWORD'])}" if settings["PASSWORD"] else ""
    server = Server(
        f"postgres://{user}{password}@127.0.0.1:{relay.port}/{settings['NAME']}", tmp_path
    )
    server.start()
    try:
        bearer = {"Authorization": "Bearer not-a-token"}
        assert server.get("/api/v1/cases", bearer)[0] == 401
        relay.cut()
        _assert_unavailable(server.get("/healthz"))
        _assert_unavailable(server.get("/api/v1/cases", bearer), api=True)
        status, _h, body = server.get("/open311/v2/requests.json")
        assert status == 503 and json.loads(body)[0]["code"] == 503
        assert server.process.poll() is None  # still serving, only answering 503
        relay.start()
        assert server.get("/healthz")[0] == 200
        assert server.get("/api/v1/cases", bearer)[0] == 401
        status, _h, body = server.log_in_attempt()
        assert status == 200 and "csrfmiddlewaretoken" in body  # the form again, with an error
    finally:
        server.stop()
        relay.cut()


@pytest.mark.skipif("os.environ.get('DATABASE_URL', '').startswith('postgres')")
def test_sqlite_held_by_a_stuck_writer_gives_503s_then_recovers(tmp_path):
    path = tmp_path / "outage.sqlite3"
    server = Server(f"sqlite:///{path}", tmp_path)
    migrated = subprocess.run(
        [sys.executable, "-m", "civicgrid", "migrate", "--verbosity", "0"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert migrated.returncode == 0, migrated.stderr
    server.start()
    try:
        assert server.log_in_attempt()[0] == 200
        stuck = sqlite3.connect(path, isolation_level=None)
        stuck.execute("BEGIN EXCLUSIVE")
        try:
            _assert_unavailable(server.log_in_attempt())
        finally:
            stuck.execute("ROLLBACK")
            stuck.close()
        status, _h, body = server.log_in_attempt()
        assert status == 200 and "csrfmiddlewaretoken" in body
        attempts = sqlite3.connect(path).execute("SELECT COUNT(*) FROM core_loginattempt")
        assert attempts.fetchone()[0] == 2  # the refused one left nothing behind
    finally:
        server.stop()
