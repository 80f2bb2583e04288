"""The database goes away under a running server: clear 503s, then recovery without a restart.

A real server process (``civicgrid runserver``) and a real fault, no mocks (issue 12, 7):

* PostgreSQL: the server reaches the database through a TCP relay run by the test; the relay
  is cut (every connection dropped, new ones refused) for a while and then restored.
* SQLite: another process holds the database file's write lock (``BEGIN EXCLUSIVE``, as a
  stuck writer would); writes wait out the busy timeout and fail, then the lock is released.

Each runs on the database pass it belongs to and skips on the other.
"""

import http.cookiejar
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


class Relay:
    """A TCP relay to the database that the test can cut and restore on the same port."""

    def __init__(self, target: tuple[str, int]):
        self.target, self.port = target, _free_port()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()

    def start(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(32)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self):
        """Refuse new connections and drop the open ones (the database "goes away")."""
        with self._lock:
            if self._listener is not None:
                # shutdown() wakes the thread blocked in accept(); close() alone would not,
                # and the port would go on accepting.
                try:
                    self._listener.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self._listener.close()
                self._listener = None
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._sockets.clear()

    def _accept(self, listener):
        while True:
            try:
                client, _addr = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``civicgrid runserver`` in its own process on the given database."""

    def __init__(self, database_url: str, tmp_path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICGRID_DEBUG")}
        env.update(
            DATABASE_URL=database_url,
            CIVICGRID_VAR_DIR=str(tmp_path),
            DJANGO_SETTINGS_MODULE="civicgrid.settings",
        )
        self.env = env
        self.log = tmp_path / "server.log"
        self.process = None
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def start(self):
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "civicgrid",
                    "runserver",
                    "--noreload",
                    f"127.0.0.1:{self.port}",
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while self.get("/healthz")[0] != 200:
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.2)

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def request(self, path, data=None, headers=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.url + path, data=body, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()
        except OSError as error:  # the server itself did not answer
            return 0, {}, str(error)

    def get(self, path, headers=None):
        return self.request(path, headers=headers)

    def log_in_attempt(self):
        """A real login POST (with the CSRF token of the page): it writes a LoginAttempt row."""
        status, _h, body = self.get("/login/")
        assert status == 200, status
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
        return self.request(
            "/login/",
            {"csrfmiddlewaretoken": token, "username": "nobody", "password": "wrong-password"},
            headers={"Referer": self.url + "/login/"},
        )


def _assert_unavailable(answer, *, api=False):
    status, headers, body = answer
    assert status == 503, (status, body[:300])
    assert headers.get("Retry-After") == "30"
    if api:
        assert json.loads(body)["error"]["code"] == "unavailable"
    else:
        assert "database cannot be reached" in body


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
