"""Password logins: every attempt kept, accounts and addresses locked after repeated failures.

An account is locked for ``LOGIN_LOCK_MINUTES`` once it has ``LOGIN_MAX_FAILURES`` failed
attempts since its last success within that many minutes; an address that fails
``LOGIN_MAX_FAILURES_PER_IP`` times in the window (guessing across many accounts) is locked
the same way. The lock is enforced by the authentication backend, so every password login —
the login page, the admin, anything calling ``authenticate`` — obeys it; the login form only
says so in words. Locked attempts are kept too, and do not extend the lock.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.core.models import LoginAttempt

__all__ = [
    "AdminThrottledAuthenticationForm",
    "ThrottledAuthenticationForm",
    "ThrottledBackend",
    "do_log_out_everywhere",
    "do_record_login_attempt",
    "locked_until",
]


def _ip(request) -> str | None:
    value = (request.META.get("REMOTE_ADDR") or "") if request is not None else ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _window() -> timedelta:
    return timedelta(minutes=settings.LOGIN_LOCK_MINUTES)


def locked_until(username: str, ip: str | None, *, now: datetime | None = None):
    """When the lock on this account or address ends, or None if neither is locked."""
    now = now or timezone.now()
    since = now - _window()
    ends = []
    username = (username or "")[:150]
    if username:
        last_success = (
            LoginAttempt.objects.filter(username=username, succeeded=True)
            .order_by("-at")
            .values_list("at", flat=True)
            .first()
        )
        failures = LoginAttempt.objects.filter(
            username=username, succeeded=False, locked=False, at__gte=since
        )
        if last_success is not None:
            failures = failures.filter(at__gt=last_success)
        failures = failures.order_by("-at")
        recent = list(failures.values_list("at", flat=True)[: settings.LOGIN_MAX_FAILURES])
        if len(recent) >= settings.LOGIN_MAX_FAILURES:
            # Locked from the failure that reached the limit, not from later locked tries.
            ends.append(recent[-1] + _window())
    if ip:
        failures = LoginAttempt.objects.filter(
            ip=ip, succeeded=False, locked=False, at__gte=since
        ).order_by("-at")
        recent = list(failures.values_list("at", flat=True)[: settings.LOGIN_MAX_FAILURES_PER_IP])
        if len(recent) >= settings.LOGIN_MAX_FAILURES_PER_IP:
            ends.append(recent[-1] + _window())
    ends = [end for end in ends if end > now]
    return max(ends) if ends else None


def do_record_login_attempt(
    username: str, request, *, succeeded: bool, locked: bool = False
) -> LoginAttempt:
    return LoginAttempt.objects.create(
        username=(username or "")[:150],
        ip=_ip(request),
        at=timezone.now(),
        succeeded=succeeded,
        locked=locked,
    )


_LOCKED_MARK = "_civicgrid_login_locked"


@receiver(user_login_failed)
def _failed(sender, credentials, request=None, **kwargs):
    locked = bool(request is not None and getattr(request, _LOCKED_MARK, False))
    do_record_login_attempt(
        credentials.get("username", ""), request, succeeded=False, locked=locked
    )


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    if getattr(user, "backend", "").endswith("ThrottledBackend"):  # password logins only
        do_record_login_attempt(user.get_username(), request, succeeded=True)


class ThrottledBackend(ModelBackend):
    """Django's user/password check, refused outright while the account or address is locked."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username and locked_until(username, _ip(request)):
            if request is not None:
                setattr(request, _LOCKED_MARK, True)  # recorded as refused by the lock
            raise PermissionDenied  # authenticate() stops here and reports a failed login
        return super().authenticate(request, username=username, password=password, **kwargs)


def _lock_message(until) -> str:
    minutes = max(1, round((until - timezone.now()).total_seconds() / 60))
    return _(
        "Too many failed logins. Try again in %(minutes)d minutes, or ask your administrator."
    ) % {"minutes": minutes}


class _ThrottleMixin:
    def clean(self):
        username = self.cleaned_data.get("username")
        until = locked_until(username or "", _ip(self.request))
        if until:
            do_record_login_attempt(username or "", self.request, succeeded=False, locked=True)
            raise forms.ValidationError(_lock_message(until), code="locked")
        return super().clean()


class ThrottledAuthenticationForm(_ThrottleMixin, AuthenticationForm):
    pass


class AdminThrottledAuthenticationForm(_ThrottleMixin, AdminAuthenticationForm):
    pass


def do_log_out_everywhere(user, *, keep_session_key: str | None = None) -> int:
    """End every session of ``user`` (a lost phone, a shared computer), except the one named.

    Sessions are stored in the database; each live one is read to find its user (a county has
    thousands, not millions). Returns how many were ended; recorded in the audit trail.
    """
    from django.contrib.sessions.models import Session
    from django.db import transaction

    from civicgrid.core.audit import record_event

    ended = 0
    with transaction.atomic():
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
            if session.session_key == keep_session_key:
                continue
            if session.get_decoded().get("_auth_user_id") == str(user.pk):
                session.delete()
                ended += 1
        record_event(
            "core.auth.log_out_everywhere",
            actor=user,
            target=user,
            target_repr=user.get_username(),
            after={"sessions_ended": ended},
        )
    return ended
