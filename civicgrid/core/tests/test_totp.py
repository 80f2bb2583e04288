"""The second factor (RFC 6238) and session expiry, through the pages and the actions.

Codes are computed for the frozen clock's time; nothing sleeps.
"""

import base64
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from civicgrid.core import totp
from civicgrid.core.models import AuditEvent, TotpDevice
from civicgrid.people import pii

PASSWORD = "Grid-work-2026!"


@pytest.fixture
def clock(monkeypatch):
    moment = {"now": datetime(2026, 3, 2, 9, 0, 5, tzinfo=ZoneInfo("Asia/Shanghai"))}
    monkeypatch.setattr(timezone, "now", lambda: moment["now"])

    def advance(**delta):
        moment["now"] += timedelta(**delta)

    advance.now = lambda: moment["now"]
    return advance


@pytest.fixture
def user(personas):
    user = personas.grid1
    user.set_password(PASSWORD)
    user.save()
    return user


def _client():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def _password_login(username=None, user=None):
    client = _client()
    response = client.post(
        reverse("login"), {"username": username or user.username, "password": PASSWORD}
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    return client


def _code(user, clock, *, steps=0):
    secret = pii.reveal(TotpDevice.objects.get(user=user).secret_cipher)
    return totp.totp_code(secret, totp.step_at(clock.now()) + steps)


def _enrol(user, clock) -> list[str]:
    client = _client()
    client.force_login(user)
    page = client.get(reverse("totp_enrol"))
    assert page.status_code == 200
    response = client.post(reverse("totp_enrol"), {"code": _code(user, clock)})
    assert response.status_code == 200
    codes = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", response.content.decode())
    assert len(codes) == 10
    return codes


def test_rfc6238_reference_values():
    # RFC 6238 appendix B, SHA-1 secret "12345678901234567890", last six of the eight digits.
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp.totp_code(secret, 59 // 30) == "287082"
    assert totp.totp_code(secret, 1111111109 // 30) == "081804"
    assert totp.totp_code(secret, 1234567890 // 30) == "005924"
    assert totp.totp_code(secret, 2000000000 // 30) == "279037"


def test_enrolment_page_shows_the_key_and_a_first_code_confirms_it(user, clock):
    client = _client()
    client.force_login(user)
    page = client.get(reverse("totp_enrol")).content.decode()
    secret = pii.reveal(TotpDevice.objects.get(user=user).secret_cipher)
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in page
    assert "otpauth://totp/civicgrid:grid1?secret=" + secret in page.replace("&amp;", "&")
    # The secret is sealed like personal data, never stored in clear.
    device = TotpDevice.objects.get(user=user)
    assert secret not in device.secret_cipher and device.confirmed is None

    wrong = client.post(reverse("totp_enrol"), {"code": "000000"})
    assert "This code is wrong" in wrong.content.decode()
    assert TotpDevice.objects.get(user=user).confirmed is None

    codes = client.post(reverse("totp_enrol"), {"code": _code(user, clock)})
    assert codes.status_code == 200 and "Recovery codes" in codes.content.decode()
    assert TotpDevice.objects.get(user=user).confirmed is not None
    assert client.get(reverse("security")).status_code == 200  # this session stays verified
    actions = list(
        AuditEvent.objects.filter(target_id=str(user.pk), action__startswith="core.totp.")
        .order_by("id")
        .values_list("action", "scope_code")
    )
    assert [a for a, _s in actions] == [
        "core.totp.enrolment_started",
        "core.totp.enrol_failed",
        "core.totp.enrolled",
    ]
    assert all(s == user.person.region_code for _a, s in actions)


def test_qr_code_is_an_svg_made_on_the_server(user, clock):
    pytest.importorskip("segno")
    client = _client()
    client.force_login(user)
    page = client.get(reverse("totp_enrol")).content.decode()
    assert 'src="data:image/svg+xml' in page


def test_a_login_waits_at_the_second_step_everywhere_until_a_code_is_given(user, clock):
    _enrol(user, clock)
    clock(seconds=30)
    client = _password_login(user=user)
    for url in ("/", reverse("case_list"), "/admin/", reverse("security")):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("totp_verify")), url
    verify = client.get(reverse("totp_verify") + "?next=/cases/")
    assert verify.status_code == 200
    done = client.post(reverse("totp_verify"), {"code": _code(user, clock), "next": "/cases/"})
    assert done.status_code == 302 and done["Location"] == "/cases/"
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="core.totp.verified", actor=user).count() == 1


def test_a_code_is_accepted_once_and_from_one_step_either_side(user, clock):
    _enrol(user, clock)  # uses this step's code
    first = _password_login(user=user)
    same = first.post(reverse("totp_verify"), {"code": _code(user, clock)})
    assert same.status_code == 200 and "already used" in same.content.decode()
    assert first.get("/").status_code == 302
    ahead = first.post(reverse("totp_verify"), {"code": _code(user, clock, steps=1)})
    assert ahead.status_code == 302  # the phone's clock runs 30 s ahead
    clock(seconds=30)  # that step is now the current one: its code was used
    second = _password_login(user=user)
    replay = second.post(reverse("totp_verify"), {"code": _code(user, clock)})
    assert replay.status_code == 200
    far = second.post(reverse("totp_verify"), {"code": _code(user, clock, steps=3)})
    assert far.status_code == 200  # ninety seconds off: refused
    clock(seconds=30)
    assert second.post(reverse("totp_verify"), {"code": _code(user, clock)}).status_code == 302


def test_wrong_codes_lock_the_step_and_a_new_password_login_does_not_reset_it(
    user, clock, settings
):
    _enrol(user, clock)
    clock(seconds=30)
    client = _password_login(user=user)
    for _ in range(3):
        client.post(reverse("totp_verify"), {"code": "123456"})
    client = _password_login(user=user)  # a fresh login keeps the count
    for _ in range(2):
        client.post(reverse("totp_verify"), {"code": "123456"})
    locked = client.post(reverse("totp_verify"), {"code": _code(user, clock)})
    assert locked.status_code == 200 and "Too many wrong codes" in locked.content.decode()
    assert AuditEvent.objects.filter(action="core.totp.verify_failed", actor=user).count() == 5
    clock(minutes=settings.LOGIN_LOCK_MINUTES, seconds=1)
    assert client.post(reverse("totp_verify"), {"code": _code(user, clock)}).status_code == 302


def test_a_recovery_code_works_once(user, clock):
    codes = _enrol(user, clock)
    client = _password_login(user=user)
    response = client.post(reverse("totp_verify"), {"code": codes[0].upper()})
    assert response.status_code == 302
    assert totp.unused_recovery_codes(user) == 9
    again = _password_login(user=user)
    assert again.post(reverse("totp_verify"), {"code": codes[0]}).status_code == 200
    event = AuditEvent.objects.filter(action="core.totp.verified", actor=user).get()
    assert event.after == {"method": "recovery"}


def test_switching_off_needs_a_code(user, clock):
    _enrol(user, clock)
    clock(seconds=30)
    client = _password_login(user=user)
    client.post(reverse("totp_verify"), {"code": _code(user, clock)})
    refused = client.post(reverse("totp_disable"), {"code": "000000"}, follow=True)
    assert "This code is wrong" in refused.content.decode()
    assert TotpDevice.objects.filter(user=user).exists()
    clock(seconds=30)
    client.post(reverse("totp_disable"), {"code": _code(user, clock)})
    assert not TotpDevice.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(action="core.totp.disabled", actor=user).exists()
    assert _password_login(user=user).get("/").status_code == 200  # no second step now


def test_required_roles_are_sent_to_enrol_and_cannot_switch_off(personas, clock, settings):
    settings.TOTP_REQUIRED_ROLES = ["county_leader"]
    leader, other = personas.leader, personas.grid2
    for u in (leader, other):
        u.set_password(PASSWORD)
        u.save()
    client = _password_login(user=leader)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("totp_enrol"))
    assert client.get("/admin/")["Location"].startswith(reverse("totp_enrol"))
    assert _password_login(user=other).get("/").status_code == 200
    page = client.get(reverse("totp_enrol"))
    assert "Your role must use a second factor" in page.content.decode()
    client.post(reverse("totp_enrol"), {"code": _code(leader, clock)})
    assert client.get("/").status_code == 200
    clock(seconds=30)
    refused = client.post(reverse("totp_disable"), {"code": _code(leader, clock)}, follow=True)
    assert "cannot be switched off" in refused.content.decode()
    assert TotpDevice.objects.filter(user=leader, confirmed__isnull=False).exists()


def test_enrolling_ends_the_other_sessions(user, clock):
    elsewhere = _password_login(user=user)
    assert elsewhere.get("/").status_code == 200
    _enrol(user, clock)
    assert elsewhere.get("/").status_code == 302  # logged out: it never gave a code


def test_only_the_owner_changes_their_second_factor(user, personas):
    with pytest.raises(totp.ActionRefused):
        totp.do_start_totp_enrolment(user, actor=personas.admin)


def test_an_idle_session_ends(user, clock, settings):
    assert settings.SESSION_IDLE_SECONDS == 30 * 60
    client = _password_login(user=user)
    clock(minutes=29)
    assert client.get("/").status_code == 200
    clock(minutes=29)  # active 29 minutes ago: still in
    assert client.get("/").status_code == 200
    clock(minutes=31)
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("login"))
    assert "without activity" in response.content.decode()


def test_a_busy_session_ends_after_its_lifetime(user, clock, settings):
    client = _password_login(user=user)
    hours = settings.SESSION_COOKIE_AGE // 3600
    for _ in range(hours * 3):
        clock(minutes=20)
        assert client.get(reverse("security")).status_code == 200
    clock(minutes=20)
    response = client.get(reverse("security"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_superuser_resets_a_lost_second_factor(user, clock, personas):
    from io import StringIO

    from django.core.management import CommandError, call_command

    _enrol(user, clock)
    with pytest.raises(CommandError, match="superuser"):
        call_command("reset_totp", "grid1", reason="lost phone", **{"actor": "county"})
    out = StringIO()
    call_command(
        "reset_totp", "grid1", reason="lost phone; seen in person", actor="admin", stdout=out
    )
    assert "removed" in out.getvalue()
    assert not TotpDevice.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action="core.totp.reset")
    assert event.actor == personas.admin and event.after == {"reason": "lost phone; seen in person"}
    assert _password_login(user=user).get("/").status_code == 200


def test_the_pages_speak_chinese(user, clock):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(user)
    assert "设置双重验证" in client.get(reverse("security")).content.decode()
    assert "扫描此二维码" in client.get(reverse("totp_enrol")).content.decode()
