"""A second factor for logins: time-based one-time codes (RFC 6238) from an authenticator app.

Optional for everyone; the roles in ``settings.TOTP_REQUIRED_ROLES`` must enrol. A person
enrols on their security page (the secret as text, an ``otpauth://`` URI and a QR code),
confirms with a first code and receives ten one-time recovery codes (kept as keyed hashes).
After a password login, ``TotpMiddleware`` lets a session with a confirmed device reach
nothing but the verify step (the login page, the admin and every other page alike), and sends
a person who must enrol but has not to the enrolment page. A code is accepted once (the
newest accepted 30-second step is kept), one step of clock drift either way; wrong codes are
counted per device and every ``LOGIN_MAX_FAILURES`` in a row lock the step for
``LOGIN_LOCK_MINUTES`` — a new password login does not reset the count. Secrets are sealed
like personal data (``people.pii``) and never logged. Audited: enrolment started and
confirmed, verification succeeded or failed, disabled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.core.audit import record_event
from civicgrid.core.errors import ActionRefused
from civicgrid.core.models import TotpDevice, TotpRecoveryCode

__all__ = [
    "STEP_SECONDS",
    "TotpMiddleware",
    "do_confirm_totp",
    "do_disable_totp",
    "do_reset_totp",
    "do_start_totp_enrolment",
    "do_verify_totp",
    "enrolment_required",
    "mark_verified",
    "otpauth_uri",
    "pending_secret",
    "qr_svg_data_uri",
    "totp_code",
]

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1  # a code from the step before or after is accepted too
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
SESSION_KEY = "_civicgrid_2fa"


# --------------------------------------------------------------------------- RFC 6238


def _secret_bytes(secret_b32: str) -> bytes:
    padded = secret_b32.upper() + "=" * (-len(secret_b32) % 8)
    return base64.b32decode(padded)


def totp_code(secret_b32: str, step: int) -> str:
    """The six-digit code of a base32 secret for a 30-second step (HMAC-SHA1, RFC 4226 §5.3)."""
    digest = hmac.new(_secret_bytes(secret_b32), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 10**DIGITS:0{DIGITS}d}"


def step_at(moment: datetime | None = None) -> int:
    return int((moment or timezone.now()).timestamp()) // STEP_SECONDS


def _matching_step(secret_b32: str, code: str, *, now: datetime) -> int | None:
    current = step_at(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp_code(secret_b32, step), code):
            return step
    return None


def otpauth_uri(secret_b32: str, username: str) -> str:
    """The URI an authenticator app reads (Google Authenticator's key-URI format)."""
    issuer = getattr(settings, "TOTP_ISSUER", "civicgrid")
    label = quote(f"{issuer}:{username}", safe=":@")
    query = urlencode(
        {
            "secret": secret_b32,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_SECONDS,
        }
    )
    return f"otpauth://totp/{label}?{query}"


def qr_svg_data_uri(text: str) -> str:
    """A QR code of ``text`` as an SVG data: URI, made here ("" without the segno package)."""
    try:
        import segno
    except ImportError:
        return ""
    return segno.make(text, error="m").svg_data_uri(scale=5, border=2)


# --------------------------------------------------------------------------- secrets


def _seal(secret_b32: str) -> str:
    from civicgrid.people import pii

    return pii.seal("totp", secret_b32, "").cipher


def _unseal(cipher: str) -> str:
    from civicgrid.people import pii

    return pii.reveal(cipher)


def _recovery_hash(code: str) -> str:
    key = hashlib.sha256(f"totp-recovery:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


def _normalise(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def _new_recovery_codes(device: TotpDevice) -> list[str]:
    codes = ["".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))]
    while len(codes) < RECOVERY_CODES:
        codes.append("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10)))
    device.recovery_codes.all().delete()
    TotpRecoveryCode.objects.bulk_create(
        [TotpRecoveryCode(device=device, code_hash=_recovery_hash(c)) for c in codes]
    )
    return [f"{c[:5]}-{c[5:]}" for c in codes]


# --------------------------------------------------------------------------- actions


def confirmed_device(user) -> TotpDevice | None:
    if user is None or not user.is_authenticated:
        return None
    return TotpDevice.objects.filter(user=user, confirmed__isnull=False).first()


def _scope(user) -> str:
    """The place of the account's person, so auditors there see its events."""
    from civicgrid.people.models import Person

    return Person.objects.filter(user=user).values_list("region_code", flat=True).first() or ""


def _record(event: str, user, *, actor, after=None) -> None:
    """The audit event of a second-factor action on ``user``'s account."""
    record_event(
        event,
        actor=actor,
        target=user,
        target_repr=user.get_username(),
        scope_code=_scope(user),
        after=after,
    )


def _require_self(user, actor) -> None:
    if actor is None or not actor.is_authenticated or actor.pk != user.pk:
        raise ActionRefused(_("Only the account's owner can change its second factor."))


def do_start_totp_enrolment(user, *, actor) -> TotpDevice:
    """A new secret for ``user`` (replacing an unconfirmed one); refused once confirmed."""
    _require_self(user, actor)
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device is not None and device.confirmed is not None:
            raise ValidationError(_("A second factor is already set up for this account."))
        secret = base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")
        if device is None:
            device = TotpDevice(user=user)
        device.secret_cipher = _seal(secret)
        device.created = timezone.now()
        device.last_step = device.failures = 0
        device.locked_until = None
        device.save()
        _record("core.totp.enrolment_started", user, actor=actor)
    return device


def pending_secret(user) -> str | None:
    """The secret of an enrolment in progress, for its owner's enrolment page only."""
    device = TotpDevice.objects.filter(user=user, confirmed__isnull=True).first()
    return _unseal(device.secret_cipher) if device is not None else None


def _locked_message(until) -> str:
    minutes = max(1, round((until - timezone.now()).total_seconds() / 60))
    return _("Too many wrong codes. Try again in %(minutes)d minutes.") % {"minutes": minutes}


def _check(device: TotpDevice, code: str, *, now: datetime, recovery: bool) -> str | None:
    """How ``code`` is right for the locked ``device`` ("code" / "recovery"), or None."""
    code = (code or "").strip().replace(" ", "")
    if code.isdigit() and len(code) == DIGITS:
        step = _matching_step(_unseal(device.secret_cipher), code, now=now)
        if step is not None and step > device.last_step:  # never the same code twice
            device.last_step = step
            return "code"
        return None
    if recovery:
        used = TotpRecoveryCode.objects.filter(
            device=device, code_hash=_recovery_hash(_normalise(code)), used__isnull=True
        ).update(used=now)
        if used:
            return "recovery"
    return None


def _attempt(user, code: str, *, recovery: bool, confirmed: bool, event: str):
    """Lock the device, check the code, count a failure (committed even when refused)."""
    now = timezone.now()
    with transaction.atomic():
        device = (
            TotpDevice.objects.select_for_update()
            .filter(user=user, confirmed__isnull=not confirmed)
            .first()
        )
        if device is None:
            raise ValidationError(_("No second factor is set up for this account."))
        if device.locked_until and device.locked_until > now:
            raise ValidationError({"code": [_locked_message(device.locked_until)]})
        how = _check(device, code, now=now, recovery=recovery)
        if how is None:
            device.failures += 1
            if device.failures % settings.LOGIN_MAX_FAILURES == 0:
                device.locked_until = now + timedelta(minutes=settings.LOGIN_LOCK_MINUTES)
            device.save(update_fields=["failures", "locked_until"])
            _record(f"{event}_failed", user, actor=user, after={"failures": device.failures})
        else:
            device.failures = 0
            device.locked_until = None
            device.last_used = now
            device.save(update_fields=["failures", "locked_until", "last_step", "last_used"])
    if how is None:
        raise ValidationError({"code": [_("This code is wrong, expired or already used.")]})
    return device, how


def do_confirm_totp(user, code: str, *, actor) -> list[str]:
    """Confirm an enrolment with a first code; returns the recovery codes (shown once)."""
    _require_self(user, actor)
    device, _how = _attempt(user, code, recovery=False, confirmed=False, event="core.totp.enrol")
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().get(pk=device.pk)
        device.confirmed = timezone.now()
        device.save(update_fields=["confirmed"])
        codes = _new_recovery_codes(device)
        _record("core.totp.enrolled", user, actor=actor)
    return codes


def do_verify_totp(user, code: str) -> str:
    """The second step of a login: a code from the app or a recovery code ("code"/"recovery")."""
    _device, how = _attempt(user, code, recovery=True, confirmed=True, event="core.totp.verify")
    with transaction.atomic():
        _record("core.totp.verified", user, actor=user, after={"method": how})
    return how


def do_disable_totp(user, code: str, *, actor) -> None:
    """Remove the second factor; a current code (or a recovery code) proves the owner asks."""
    _require_self(user, actor)
    if enrolment_required(user):
        raise ActionRefused(_("Your role must use a second factor; it cannot be switched off."))
    device, how = _attempt(user, code, recovery=True, confirmed=True, event="core.totp.disable")
    with transaction.atomic():
        TotpDevice.objects.filter(pk=device.pk).delete()
        _record("core.totp.disabled", user, actor=actor, after={"method": how})


def do_new_recovery_codes(user, code: str, *, actor) -> list[str]:
    """Replace the recovery codes (the old ones stop working); a current code is needed."""
    _require_self(user, actor)
    device, _how = _attempt(
        user, code, recovery=False, confirmed=True, event="core.totp.recovery_codes"
    )
    with transaction.atomic():
        codes = _new_recovery_codes(device)
        _record("core.totp.recovery_codes", user, actor=actor)
    return codes


def do_reset_totp(user, *, actor, reason: str) -> bool:
    """Remove the second factor of someone who lost both phone and recovery codes (a superuser,
    after checking who asks, with the reason recorded). Their sessions end; they enrol again."""
    if actor is None or not actor.is_superuser or actor.pk == user.pk:
        raise ActionRefused(_("Only another superuser can reset a second factor."))
    if not (reason or "").strip():
        raise ValidationError({"reason": [_("Say why and how the person was identified.")]})
    from civicgrid.core.auth import do_log_out_everywhere

    with transaction.atomic():
        removed, _rows = TotpDevice.objects.filter(user=user).delete()
        _record("core.totp.reset", user, actor=actor, after={"reason": reason.strip()[:200]})
    do_log_out_everywhere(user)
    return bool(removed)


def unused_recovery_codes(user) -> int:
    return TotpRecoveryCode.objects.filter(device__user=user, used__isnull=True).count()


# --------------------------------------------------------------------------- the login step


def _required_roles() -> tuple[str, ...]:
    return tuple(sorted(getattr(settings, "TOTP_REQUIRED_ROLES", ()) or ()))


def enrolment_required(user) -> bool:
    """Must ``user`` use a second factor (one of their roles is in TOTP_REQUIRED_ROLES)?"""
    required = set(_required_roles())
    if not required or user is None or not user.is_authenticated:
        return False
    from civicgrid.core.scoping import scope_for

    if user.is_superuser and "admin" in required:
        return True
    return bool(required & set(scope_for(user).roles))


def mark_verified(request) -> None:
    """This session has passed the second step (or set the factor up just now)."""
    request.session[SESSION_KEY] = {"user": request.user.pk, "state": "verified"}


def _exempt_state(user) -> dict:
    return {"user": user.pk, "state": "exempt", "roles": list(_required_roles())}


@receiver(user_logged_in)
def _decide_at_login(sender, request, user, **kwargs):
    # Every login proves the second factor again, even in a session that had; an account
    # that needs none is told so now, while the session is being written anyway.
    if request is not None and hasattr(request, "session"):
        request.session.pop(SESSION_KEY, None)
        if confirmed_device(user) is None and not enrolment_required(user):
            request.session[SESSION_KEY] = _exempt_state(user)


def _exempt_paths() -> tuple[str, ...]:
    paths = [
        reverse("totp_verify"),
        reverse("totp_enrol"),
        reverse("logout"),
        reverse("admin:logout"),
        reverse("set_language"),
        "/healthz",
        settings.STATIC_URL,
    ]
    return tuple("/" + p.lstrip("/") for p in paths)


class TotpMiddleware:
    """Hold an authenticated session at the second step until it is passed.

    The state is kept in the session once decided ("verified", or "exempt" for an account
    without a device whose roles need none), so an ordinary request costs no query; enrolling
    ends the account's other sessions, and every login decides anew.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self._exempt = None

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            redirect = self._hold(request, user)
            if redirect is not None:
                return redirect
        return self.get_response(request)

    def _hold(self, request, user):
        state = request.session.get(SESSION_KEY) or {}
        if state.get("user") == user.pk and (
            state.get("state") == "verified"
            or (state.get("state") == "exempt" and state.get("roles") == list(_required_roles()))
        ):
            return None
        if self._exempt is None:
            self._exempt = _exempt_paths()
        if request.path_info.startswith(self._exempt):
            return None
        if confirmed_device(user) is not None:
            target = "totp_verify"
        elif enrolment_required(user):
            target = "totp_enrol"
        else:
            request.session[SESSION_KEY] = _exempt_state(user)
            return None
        query = urlencode({"next": request.get_full_path()}) if request.method == "GET" else ""
        return HttpResponseRedirect(reverse(target) + (f"?{query}" if query else ""))
