"""Finding the key behind a secret an integration sends."""

import hmac
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from civicgrid.api.actions import hash_secret
from civicgrid.api.models import ApiKey

__all__ = ["authenticate_api_key"]

MAX_SECRET_LENGTH = 200
LAST_USED_RESOLUTION = timedelta(minutes=1)


def authenticate_api_key(raw) -> ApiKey | None:
    """The active key whose secret is ``raw``, or None.

    The lookup is by the secret's hash, so the database compares digests and timing reveals
    nothing about the secret; the digest is compared again in constant time. ``last_used_at``
    is written at most once a minute per key, so busy integrations do not write on every call.
    """
    if not isinstance(raw, str) or not raw or len(raw) > MAX_SECRET_LENGTH or "\x00" in raw:
        return None
    digest = hash_secret(raw)
    now = timezone.now()
    key = (
        ApiKey.objects.select_related("user", "department")
        .filter(key_hash=digest, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        return None
    if key.user_id is not None and not key.user.is_active:
        return None
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        key.last_used_at = now
    return key
