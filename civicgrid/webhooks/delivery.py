"""Posting queued webhook deliveries: signed, timed out, retried with exponential backoff.

Safe on several nodes at once: each row is claimed with a conditional UPDATE (its
``next_attempt_at`` moves past the attempt), so exactly one process posts it; a process that
dies mid-attempt leaves a claim that expires after ``CLAIM_SECONDS``.

The outcome of each attempt is written to the row (the delivery log). No transaction is held
open while a receiver answers.
"""

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from civicgrid.people.pii import reveal
from civicgrid.webhooks.models import WebhookDelivery

__all__ = [
    "MAX_ATTEMPTS",
    "DeliveryResult",
    "backoff",
    "deliver_webhooks",
    "encode_body",
    "sign",
]

log = logging.getLogger("civicgrid.webhooks")

TIMEOUT_SECONDS = 5
CLAIM_SECONDS = 60  # longer than any attempt can take
MAX_ATTEMPTS = 8
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
ERROR_LENGTH = 500
RESPONSE_SNIPPET = 200
USER_AGENT = "civicgrid-webhooks/1"
OPEN = (WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING)


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 1, 2, 4, 8 … minutes, at most an hour."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


def encode_body(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``<timestamp>.<body>`` under the secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would resend the signed body somewhere nobody configured; a 3xx is a failure.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


@dataclass
class DeliveryResult:
    delivered: int = 0
    retrying: int = 0
    gave_up: int = 0

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.gave_up

    def __str__(self):
        return f"delivered {self.delivered}, retrying {self.retrying}, gave up {self.gave_up}"


@dataclass
class _Response:
    status: int | None
    error: str
    ms: int


def _post(url: str, body: bytes, headers: dict) -> _Response:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.monotonic()
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
            snippet = response.read(RESPONSE_SNIPPET)
    except urllib.error.HTTPError as exc:  # the receiver answered, with a non-2xx status
        status = exc.code
        try:
            snippet = exc.read(RESPONSE_SNIPPET)
        except Exception:  # the body may be cut off; the status is what counts
            snippet = b""
        finally:
            exc.close()
    except urllib.error.URLError as exc:  # refused, unknown host, TLS
        return _Response(None, str(exc.reason), _ms(started))
    except Exception as exc:  # timeouts, resets, bad URLs: logged, never raised
        return _Response(None, f"{type(exc).__name__}: {exc}", _ms(started))
    error = "" if 200 <= status < 300 else f"HTTP {status}: {snippet.decode('utf-8', 'replace')}"
    return _Response(status, error, _ms(started))


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _attempt(delivery_id: int, now: datetime) -> str | None:
    """Claim and post one delivery; return its new status, or None if another node has it."""
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status__in=OPEN, next_attempt_at__lte=now
    ).update(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
    if claimed != 1:
        return None
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    subscription = delivery.subscription
    if subscription.revoked_at is not None:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.GAVE_UP,
            next_attempt_at=None,
            last_error="subscription revoked",
        )
        return WebhookDelivery.Status.GAVE_UP
    body = encode_body(delivery.payload)
    try:
        secret = reveal(subscription.secret_cipher)
    except Exception as exc:  # a key rotated without CIVICGRID_PII_OLD_KEYS
        response = _Response(None, f"cannot decrypt the signing secret: {exc}", 0)
    else:
        timestamp = str(int(time.time()))
        response = _post(
            subscription.target_url,
            body,
            {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-Civicgrid-Event": delivery.event,
                "X-Civicgrid-Delivery": str(delivery.pk),
                "X-Civicgrid-Timestamp": timestamp,
                "X-Civicgrid-Signature": sign(secret, timestamp, body),
            },
        )
    attempts = delivery.attempts + 1
    outcome = {
        "attempts": F("attempts") + 1,
        "last_status_code": response.status,
        "last_error": response.error[:ERROR_LENGTH],
        "response_ms": response.ms,
    }
    if response.status is not None and 200 <= response.status < 300:
        status = WebhookDelivery.Status.DELIVERED
        outcome.update(delivered_at=timezone.now(), next_attempt_at=None)
    elif attempts >= MAX_ATTEMPTS:
        status = WebhookDelivery.Status.GAVE_UP
        outcome.update(next_attempt_at=None)
        log.warning(
            "webhook %s gave up after %d attempts: %s", delivery.pk, attempts, response.error
        )
    else:
        status = WebhookDelivery.Status.RETRYING
        outcome.update(next_attempt_at=now + backoff(attempts))
    WebhookDelivery.objects.filter(pk=delivery_id).update(status=status, **outcome)
    return status


def deliver_webhooks(
    *,
    batch: int = 100,
    now: datetime | None = None,
    progress: Callable[[DeliveryResult], None] | None = None,
) -> DeliveryResult:
    """Post every due delivery, ``batch`` rows at a time, until none is due.

    Once a receiver fails in this run, its other due deliveries wait for the next run, so a
    receiver that is down costs one timeout per run rather than one per queued event.
    """
    result = DeliveryResult()
    failing: set[int] = set()
    while True:
        moment = now or timezone.now()
        due = list(
            WebhookDelivery.objects.filter(status__in=OPEN, next_attempt_at__lte=moment)
            .exclude(subscription_id__in=failing)
            .order_by("id")
            .values_list("id", "subscription_id")[:batch]
        )
        if not due:
            return result
        for delivery_id, subscription_id in due:
            if subscription_id in failing:
                continue
            status = _attempt(delivery_id, moment)
            if status == WebhookDelivery.Status.DELIVERED:
                result.delivered += 1
            elif status == WebhookDelivery.Status.RETRYING:
                result.retrying += 1
                failing.add(subscription_id)
            elif status == WebhookDelivery.Status.GAVE_UP:
                result.gave_up += 1
                failing.add(subscription_id)
        if progress is not None:
            progress(result)
