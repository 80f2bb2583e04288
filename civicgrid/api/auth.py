"""Finding the key behind a secret an integration sends.

Keys are read from a short per-process cache (issue 11: the key's look-up was a third of a
queued intake POST's server CPU). An entry lives ``API_KEY_CACHE_SECONDS`` (default 5; 0 turns
the cache off) and is dropped in this process at once when the key or its user is saved (a
revocation, a deactivated account) — on the save and again on commit. Another process (another
gunicorn worker, another node) sees a revocation within the TTL. Expiry is checked on every
call, so an expiring token stops on time everywhere.
"""

import copy
import hmac
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from civicgrid.api.actions import hash_secret
from civicgrid.api.models import ApiKey

__all__ = ["authenticate_api_key", "clear_key_cache", "forget_key", "forget_user_keys"]

MAX_SECRET_LENGTH = 200
LAST_USED_RESOLUTION = timedelta(minutes=1)
DEFAULT_CACHE_SECONDS = 5.0
MAX_CACHED_KEYS = 1000  # a process serves a handful of integrations; a bound, not a tuning knob

_cache: dict[str, tuple[float, ApiKey]] = {}  # key_hash → (monotonic deadline, key)
_lock = threading.Lock()


def _ttl() -> float:
    return float(getattr(settings, "API_KEY_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))


def clear_key_cache() -> None:
    with _lock:
        _cache.clear()


def _drop(match) -> None:
    with _lock:
        for digest in [d for d, (_t, key) in _cache.items() if match(key)]:
            del _cache[digest]


def forget_key(key_id) -> None:
    """Drop a key from this process's cache now and again when the transaction commits (a
    request reading the row between the two would otherwise cache the old row)."""

    def drop():
        _drop(lambda key: key.pk == key_id)

    drop()
    transaction.on_commit(drop)


def forget_user_keys(user_id) -> None:
    def drop():
        _drop(lambda key: key.user_id == user_id)

    drop()
    transaction.on_commit(drop)


def _load(digest: str, now) -> ApiKey | None:
    key = (
        ApiKey.objects.select_related("user", "department")
        .filter(key_hash=digest, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        return None
    return key


def _copy(key: ApiKey) -> ApiKey:
    """A copy per request: callers may set attributes on the key and its user (the scope is
    memoised on the user object for one request), which must not outlive the request."""
    fresh = copy.copy(key)
    if key.user_id is not None:
        fresh.user = copy.copy(key.user)
    return fresh


def authenticate_api_key(raw) -> ApiKey | None:
    """The active key whose secret is ``raw``, or None.

    The lookup is by the secret's hash, so the database compares digests and timing reveals
    nothing about the secret; the digest is compared again in constant time. ``last_used_at``
    is written at most once a minute per key, so busy integrations do not write on every call.
    Unknown secrets are not cached (each costs a look-up, as before).
    """
    if not isinstance(raw, str) or not raw or len(raw) > MAX_SECRET_LENGTH or "\x00" in raw:
        return None
    digest = hash_secret(raw)
    now = timezone.now()
    ttl = _ttl()
    clock = time.monotonic()
    entry = _cache.get(digest) if ttl > 0 else None
    if entry is not None and entry[0] > clock:
        key = entry[1]
    else:
        key = _load(digest, now)
        if key is None:
            if entry is not None:
                with _lock:
                    _cache.pop(digest, None)
            return None
        if ttl > 0:
            with _lock:
                if len(_cache) >= MAX_CACHED_KEYS:
                    _cache.clear()
                _cache[digest] = (clock + ttl, key)
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return None
    if key.user_id is not None and not key.user.is_active:
        return None
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        key.last_used_at = now  # the cached row too: the next write is a minute away
    return _copy(key)
