"""The README's demo command, for real: a fresh var/ directory, SQLite, a served login page,
a login while the rest of the demo still loads behind the server, then the whole demo."""

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Output:
    """The demo's output, read on a thread as it comes."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, needle: str, process, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and process.poll() is None:
            if needle in self.text:
                return True
            time.sleep(0.5)
        return needle in self.text


def _log_in(base: str, username: str, password: str) -> tuple[int, str]:
    """Log in through the login form as a browser would: (status, the page landed on)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/login/", timeout=30) as response:
        form = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": username, "password": password}
    ).encode()
    request = urllib.request.Request(f"{base}/login/", data=data, headers={"Referer": base})
    with opener.open(request, timeout=30) as response:  # follows the redirect
        return response.status, response.url


@pytest.mark.slow
@pytest.mark.skipif("DATABASE_URL" in os.environ, reason="the demo runs on SQLite; once is enough")
def test_it_serves_first_and_loads_the_rest_of_the_demo_behind(tmp_path):
    from civicgrid.demo.loader import DEMO_PASSWORD

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["CIVICGRID_VAR_DIR"] = str(tmp_path)
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        # A thin year of cases keeps this test short; load_demo_cases has its own tests.
        [
            sys.executable,
            "-m",
            "civicgrid",
            "demo",
            "--addrport",
            f"127.0.0.1:{port}",
            "--cases-scale",
            "0.01",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = _Output(process.stdout)
    try:
        body, deadline = None, time.monotonic() + 480
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"{base}/login/", timeout=2) as r:
                    body = r.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert body is not None, "the demo never served its login page\n" + output.text
        assert "登录" in body
        served = output.text
        # Served before the extras: the cases and disputes are in, the reports are not.
        assert "demo served in " in served
        assert "demo mediation: " in served
        assert "demo analytics: " not in served
        # The banner says what is still loading, and a login (a write: session, last login,
        # audit event) goes through meanwhile.
        assert 'class="demo-loading"' in body
        status, landed = _log_in(base, "lizhou", DEMO_PASSWORD)
        assert status == 200 and not landed.endswith("/login/"), landed
        loading_when_logged_in = (tmp_path / "demo-loading.json").exists()
        assert output.wait_for("demo ready in ", process, 480), output.text
        with urllib.request.urlopen(f"{base}/login/", timeout=10) as r:
            assert 'class="demo-loading"' not in r.read().decode()
        assert not (tmp_path / "demo-loading.json").exists()
    finally:
        process.terminate()
        process.wait(timeout=30)
        output.thread.join(timeout=10)
    text = output.text
    assert loading_when_logged_in, "the login did not happen while the demo was loading"
    assert "towns 21, villages 326, grids 1,497" in text
    assert " demo cases from " in text
    # …then every other end of the system, each through its own generator.
    for name in ["visits", "campaigns", "cogovernance", "oncall", "incentives"]:
        assert f"demo {name}: " in text, name
    for name in ["warning", "analytics"]:
        assert f"demo {name}: " in text, name
    assert "Traceback" not in text
    grid_staff = int(text.split("grid_staff ")[1].split()[0].replace(",", ""))
    assert grid_staff >= 16_800
    for login in ["admin", "county", "lizhou", "grid1", "police"]:
        assert f"  {login} " in text
    # The demo database is on SQLite in WAL mode, under the chosen var/ directory, its audit
    # chain whole after the login in the middle of the loading.
    import sqlite3

    with sqlite3.connect(tmp_path / "civicgrid.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # the login wrote: its last login time
        last_login = db.execute(
            "SELECT last_login FROM auth_user WHERE username = 'lizhou'"
        ).fetchone()[0]
        assert last_login is not None
    check = subprocess.run(
        [sys.executable, "-m", "civicgrid", "verify_audit"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stdout + check.stderr
