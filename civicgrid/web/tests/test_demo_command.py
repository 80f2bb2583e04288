"""The README's demo command, for real: a fresh var/ directory, SQLite, a served login page."""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif("DATABASE_URL" in os.environ, reason="the demo runs on SQLite; once is enough")
def test_it_sets_up_and_serves_the_full_demo_county(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["CIVICGRID_VAR_DIR"] = str(tmp_path)
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
    try:
        body, deadline = None, time.monotonic() + 480
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as r:
                    body = r.read().decode()
                    break
            except OSError:
                time.sleep(1)
        assert body is not None, "the demo never served its login page"
        assert "登录" in body
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "towns 21, villages 326, grids 1,497" in output
    assert " demo cases from " in output
    # …then every other end of the system, each through its own generator.
    names = ["visits", "campaigns", "cogovernance", "oncall", "mediation", "incentives"]
    for name in [*names, "warning", "analytics"]:
        assert f"demo {name}: " in output, name
    assert "demo ready in " in output
    grid_staff = int(output.split("grid_staff ")[1].split()[0].replace(",", ""))
    assert grid_staff >= 16_800
    for login in ["admin", "county", "lizhou", "grid1", "police"]:
        assert f"  {login} " in output
    # The demo database is on SQLite in WAL mode, under the chosen var/ directory.
    import sqlite3

    with sqlite3.connect(tmp_path / "civicgrid.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
