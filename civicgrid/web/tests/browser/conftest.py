"""Browser tests: Playwright drives Debian's Chromium (headless) against a real server.

The server is a separate ``civicgrid runserver`` process on its own SQLite database in a
temporary ``CIVICGRID_VAR_DIR`` (seeded by ``seed.py``), not pytest-django's ``live_server``:
that one is transactional and would flush the session's demo county the other tests share.
Every test saves full-page screenshots of its steps into ``CIVICGRID_SCREENSHOT_DIR`` (default
``var/screenshots/``) as ``<test>-<nn>-<step>.png``.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from civicgrid.web.tests.browser.support import Person, Shots, Site

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def _skip_reason() -> str | None:
    if os.environ.get("DATABASE_URL"):
        return "browser tests run once, on SQLite: skipped in the DATABASE_URL (PostgreSQL) pass"
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)"
        if os.environ.get("CIVICGRID_BROWSER_TESTS") == "required":  # CI: must not skip
            pytest.fail(f"CIVICGRID_BROWSER_TESTS=required, but {reason}")
        return reason
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, so fixtures can screenshot a failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


# --------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="package")
def site(tmp_path_factory):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    var = tmp_path_factory.mktemp("browser-var")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(CIVICGRID_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="civicgrid.settings")
    from django.conf import settings

    vendor = getattr(settings, "VENDOR_STATIC_DIR", None)
    if vendor:  # htmx, ECharts, Leaflet as fetched for this checkout
        env["CIVICGRID_VENDOR_DIR"] = str(vendor)
    seeded = subprocess.run(
        [sys.executable, "-m", "civicgrid.web.tests.browser.seed"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert seeded.returncode == 0, f"seeding the browser tests' database failed:\n{seeded.stderr}"
    data = json.loads(seeded.stdout)
    port = _free_port()
    log = var / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "civicgrid", "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    site = Site(url=f"http://127.0.0.1:{port}", data=data, log=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{site.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the test server did not start:\n{site.log_tail()}")
            time.sleep(0.2)
        yield site
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="package")
def browser(site):
    # Package scope: Playwright's sync API runs an event loop in this thread while it is
    # started, and Django refuses database queries under a running loop, so it must stop
    # before the other tests of the session run.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


# --------------------------------------------------------------------------- people in browsers


@pytest.fixture
def shots(request):
    return Shots(re.sub(r"[^\w-]+", "_", request.node.name))


@pytest.fixture
def people(site, browser, shots, request):
    """``people("lizhou")`` → a logged-in Person at a desk; ``phone=True`` for a phone."""
    opened: list[Person] = []

    def open_person(username: str, *, phone: bool = False, geolocation=None) -> Person:
        options = dict(PHONE if phone else DESKTOP)
        options.update(locale="zh-CN", timezone_id="Asia/Shanghai", accept_downloads=True)
        if geolocation is not None:
            lat, lng = geolocation
            options.update(
                geolocation={"latitude": lat, "longitude": lng, "accuracy": 10},
                permissions=["geolocation"],
            )
        if username in site.states:
            options["storage_state"] = site.states[username]
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        person = Person(site, username, context.new_page(), shots)
        opened.append(person)
        if username and username not in site.states:
            person.log_in()
        return person

    yield open_person
    failed = getattr(request.node, "report_call", None)
    for person in opened:
        if failed is not None and failed.failed and not person.page.is_closed():
            try:
                person.shot("failure")
            except Exception:  # a screenshot must not hide the failure
                pass
        person.page.context.close()
    problems = [f"{p.username}: {problem}" for p in opened for problem in p.problems]
    assert not problems, "\n".join(problems) + "\n--- server log ---\n" + site.log_tail()
