"""A real server process for fault tests (outage, kill -9): ``civicgrid runserver`` on its own
database, talked to over HTTP, plus a TCP relay that can cut the database away from it."""

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


class Relay:
    """A TCP relay to the database that the test can cut and restore on the same port."""

    def __init__(self, target: tuple[str, int]):
        self.target, self.port = target, free_port()
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``civicgrid runserver`` in its own process on the given database."""

    def __init__(self, database_url: str, tmp_path):
        self.database_path = database_url.removeprefix("sqlite:///")
        self.port = free_port()
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
        with self.log.open("a") as out:
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

    def request_json(self, path, payload, headers=None):
        """POST JSON; (status, decoded answer) — status 0 when the server did not answer."""
        request = urllib.request.Request(
            self.url + path, data=json.dumps(payload).encode(), headers=headers or {}
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError as error:
            return 0, str(error)

    def get_json(self, path, headers=None):
        status, _headers, body = self.request(path, headers=headers)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body

    def wait_until_up(self, seconds=60):
        deadline = time.monotonic() + seconds
        while self.get("/healthz")[0] != 200:
            assert time.monotonic() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.2)

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


def run_command(env, *args, timeout=600) -> str:
    """``civicgrid <args>`` in its own process on the server's database; its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "civicgrid", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"civicgrid {' '.join(args)}:\n{done.stderr[-3000:]}"
    return done.stdout


class FileSender:
    """An SMS "gateway" for the fault tests: appends each notification id to a file (flushed
    and synced, as a gateway's acknowledgement would be) and takes a little time per message,
    so a ``kill -9`` lands in the middle of a run. Set with CIVICGRID_SMS_SENDER."""

    def send(self, notification) -> None:
        with open(os.environ["CIVICGRID_TEST_OUTBOX"], "a") as out:
            out.write(f"{notification.pk}\n")
            out.flush()
            os.fsync(out.fileno())
        time.sleep(0.02)
