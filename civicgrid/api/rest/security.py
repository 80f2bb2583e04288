"""Who is calling: a logged-in session, a personal token or an integration key.

Every authenticated request carries a ``Principal``: the user the request acts as (the token's
owner, the key's service account, the session's user) and the key, whose region or department
narrows what the user may reach. Rate limits count per principal.
"""

import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth
from ninja.throttling import BaseThrottle

from civicgrid.api.auth import authenticate_api_key
from civicgrid.api.models import ApiKey

__all__ = ["AUTH", "Principal", "PrincipalThrottle"]


@dataclass(frozen=True)
class Principal:
    user: object | None
    key: ApiKey | None = None

    def __str__(self) -> str:  # the rate limiter's identity
        if self.key is not None:
            return f"key:{self.key.pk}:{self.key.prefix}"
        return f"user:{self.user.pk}"

    @property
    def has_user(self) -> bool:
        return self.user is not None and self.user.is_authenticated and self.user.is_active


class BearerToken(HttpBearer):
    """``Authorization: Bearer <personal token or integration key>``."""

    def authenticate(self, request, token):
        key = authenticate_api_key(token)
        return Principal(user=key.user, key=key) if key is not None else None


class KeyHeader(APIKeyHeader):
    """``X-Api-Key: <integration key>``, for systems that cannot set Authorization."""

    param_name = "X-Api-Key"

    def authenticate(self, request, key):
        found = authenticate_api_key(key)
        return Principal(user=found.user, key=found) if found is not None else None


class Session(SessionAuth):
    """The web app's session cookie (with Django's CSRF check on writes)."""

    def authenticate(self, request, key):
        user = request.user
        if user.is_authenticated and user.is_active:
            return Principal(user=user)
        return None


AUTH = [BearerToken(), KeyHeader(), Session()]


class PrincipalThrottle(BaseThrottle):
    """``CIVICGRID_API_RATE_PER_MINUTE`` requests a minute for each token, key or user.

    A fixed one-minute window counted in the cache with an atomic increment (safe across
    threads, and across processes with a shared cache such as Redis).
    """

    def __init__(self):
        self._local = threading.local()

    def allow_request(self, request) -> bool:
        principal = getattr(request, "auth", None)
        if principal is None:
            return True
        now = time.time()
        key = f"civicgrid-api-rate:{principal}:{int(now // 60)}"
        cache.add(key, 0, timeout=120)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=120)
            count = 1
        self._local.wait = 60 - (now % 60)
        return count <= settings.API_RATE_PER_MINUTE

    def wait(self) -> float:
        return getattr(self._local, "wait", 60.0)
