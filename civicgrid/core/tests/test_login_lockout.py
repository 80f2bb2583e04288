"""Password logins: attempts kept; accounts and addresses locked after repeated failures."""

import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from civicgrid.core.models import LoginAttempt

PASSWORD = "Grid-work-2026!"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def clock(monkeypatch):
    moment = {"now": datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)}
    monkeypatch.setattr(timezone, "now", lambda: moment["now"])

    def advance(**delta):
        moment["now"] += timedelta(**delta)

    return advance


@pytest.fixture
def user(personas):
    user = personas.grid1
    user.set_password(PASSWORD)
    user.save()
    return user


def _login(username, password, *, ip="10.0.0.1", path="/login/"):
    client = Client(REMOTE_ADDR=ip, HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(path, {"username": username, "password": password})
    logged_in = "_auth_user_id" in client.session
    return response, logged_in


def test_five_failures_lock_the_account_for_fifteen_minutes(user, clock, settings):
    assert settings.LOGIN_MAX_FAILURES == 5 and settings.LOGIN_LOCK_MINUTES == 15
    for _ in range(5):
        assert _login("grid1", "wrong-password")[1] is False
        clock(minutes=1)
    response, logged_in = _login("grid1", PASSWORD)  # the right password, but locked
    assert not logged_in
    assert "Too many failed logins" in response.content.decode()
    clock(minutes=10)  # 15 minutes after the first failure: the refused try did not extend it
    response, logged_in = _login("grid1", PASSWORD)
    assert logged_in, response.content.decode()[-3000:]
    attempts = LoginAttempt.objects.filter(username="grid1").order_by("at")
    assert [(a.succeeded, a.locked) for a in attempts] == [(False, False)] * 5 + [
        (False, True),
        (True, False),
    ]
    assert {a.ip for a in attempts} == {"10.0.0.1"}


def test_a_success_starts_the_count_again(user, clock):
    for _ in range(4):
        _login("grid1", "wrong-password")
        clock(seconds=5)
    assert _login("grid1", PASSWORD)[1] is True
    for _ in range(4):
        clock(seconds=5)
        _login("grid1", "wrong-password")
    assert _login("grid1", PASSWORD)[1] is True


def test_failures_spread_over_more_than_the_window_do_not_lock(user, clock):
    for _ in range(8):
        _login("grid1", "wrong-password")
        clock(minutes=4)  # never five within fifteen minutes
    assert _login("grid1", PASSWORD)[1] is True


def test_an_address_guessing_across_accounts_is_locked(user, clock, settings):
    settings.LOGIN_MAX_FAILURES_PER_IP = 3
    for name in ["a1", "a2", "a3"]:
        _login(name, "wrong-password", ip="10.9.9.9")
    assert _login("grid1", PASSWORD, ip="10.9.9.9")[1] is False
    assert _login("grid1", PASSWORD, ip="10.0.0.2")[1] is True  # from elsewhere: fine


def test_the_admin_login_obeys_the_same_lock(personas, clock):
    admin = personas.admin
    admin.set_password(PASSWORD)
    admin.save()
    for _ in range(5):
        _login("admin", "wrong-password", path="/admin/login/")
    response, logged_in = _login("admin", PASSWORD, path="/admin/login/")
    assert not logged_in and "Too many failed logins" in response.content.decode()


def test_production_settings_hash_new_passwords_with_argon2():
    script = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','civicgrid.settings');"
        "django.setup();"
        "from django.contrib.auth.hashers import make_password, check_password;"
        "h = make_password('Grid-work-2026!');"
        "print(h.split('$')[0], check_password('Grid-work-2026!', h))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.split() == ["argon2", "True"], result.stderr


def test_log_out_everywhere_ends_the_other_sessions_only(user, personas):
    from civicgrid.core.models import AuditEvent

    phone, desk, other = Client(), Client(), Client()
    for client in (phone, desk):
        client.force_login(user)
    other.force_login(personas.grid2)
    assert phone.get("/profile/").status_code == 200
    response = desk.post("/profile/log-out-everywhere/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert phone.get("/profile/").status_code == 302  # sent to the login page
    assert desk.get("/profile/").status_code == 200  # the one that asked stays
    assert other.get("/profile/").status_code == 200  # other people are not touched
    event = AuditEvent.objects.filter(action="core.auth.log_out_everywhere").get()
    assert event.actor_name == "grid1" and event.after == {"sessions_ended": 1}
    assert desk.get("/profile/log-out-everywhere/").status_code == 405  # POST only
