"""Session expiry: an idle timeout and an absolute lifetime counted from the login.

Django's own cookie age is renewed whenever the session is saved, so it bounds neither a busy
session nor an idle one precisely. This middleware keeps two stamps in the session — when the
person logged in and when they were last seen (refreshed at most once a minute, so an ordinary
request writes nothing) — and logs the person out once ``SESSION_COOKIE_AGE`` has passed since
the login or ``SESSION_IDLE_SECONDS`` since the last request. A page request is sent to the login
page with a message; anything else gets its ordinary "not logged in" answer.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

__all__ = ["SessionExpiryMiddleware", "session_expired"]

LOGIN_AT = "_civicgrid_login_at"
SEEN_AT = "_civicgrid_seen_at"
_SEEN_PRECISION = 60  # seconds: the last-seen stamp is rewritten at most this often


@receiver(user_logged_in)
def _stamp_login(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        now = int(timezone.now().timestamp())
        request.session[LOGIN_AT] = now
        request.session[SEEN_AT] = now


def session_expired(session, *, now: int) -> str:
    """ "idle", "lifetime" or "" for a logged-in session's stamps at ``now`` (epoch seconds)."""
    login_at, seen_at = session.get(LOGIN_AT), session.get(SEEN_AT)
    if login_at is not None and now - login_at > settings.SESSION_COOKIE_AGE:
        return "lifetime"
    idle = getattr(settings, "SESSION_IDLE_SECONDS", 30 * 60)
    if seen_at is not None and now - seen_at > idle:
        return "idle"
    return ""


class SessionExpiryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(timezone.now().timestamp())
            session = request.session
            why = session_expired(session, now=now)
            if why:
                logout(request)  # flushes the session; request.user becomes anonymous
                messages.info(
                    request,
                    _("You were logged out after a long time without activity.")
                    if why == "idle"
                    else _("Your session reached its time limit. Please log in again."),
                )
            else:
                if LOGIN_AT not in session:  # a session from before this middleware
                    session[LOGIN_AT] = now
                if now - session.get(SEEN_AT, 0) >= _SEEN_PRECISION:
                    session[SEEN_AT] = now
        return self.get_response(request)
