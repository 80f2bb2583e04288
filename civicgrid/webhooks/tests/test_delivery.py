"""Queued deliveries are POSTed to a real receiver, signed, and retried with backoff."""

import hashlib
import hmac
import io
import json
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from civicgrid.webhooks import delivery as D
from civicgrid.webhooks.actions import do_create_subscription, do_rotate_secret
from civicgrid.webhooks.delivery import MAX_ATTEMPTS, deliver_webhooks
from civicgrid.webhooks.models import WebhookDelivery, WebhookSubscription


def verify(secret: str, headers: dict, body: bytes, *, tolerance: int = 300) -> bool:
    """The receiver's check, as docs/webhooks.md gives it."""
    timestamp = headers.get("X-Civicgrid-Timestamp", "")
    signature = headers.get("X-Civicgrid-Signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + expected.hexdigest(), signature)


def _subscribe(world, url, events=("*",), **extra):
    return do_create_subscription(
        name="receiver", target_url=url, events=list(events), actor=world.p.county, **extra
    )


def test_it_posts_the_body_with_a_signature_the_secret_verifies(world, receiver):
    subscription, secret = _subscribe(world, receiver.url)
    case = world.report()
    queued = WebhookDelivery.objects.get()
    result = deliver_webhooks()
    assert (result.delivered, result.retrying, result.gave_up) == (1, 0, 0)
    [got] = receiver.received
    assert got.path == "/hooks/civicgrid"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Civicgrid-Event"] == "report"
    assert got.headers["X-Civicgrid-Delivery"] == str(queued.pk)
    body = json.loads(got.body)
    assert body == queued.payload and body["case"]["code"] == case.code
    assert verify(secret, got.headers, got.body)
    assert not verify(secret + "x", got.headers, got.body)
    assert not verify(secret, got.headers, got.body.replace(b"report", b"accept"))
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.last_status_code) == ("delivered", 1, 200)
    assert queued.delivered_at is not None and queued.next_attempt_at is None
    assert queued.response_ms is not None and queued.last_error == ""
    assert deliver_webhooks().attempted == 0  # nothing is sent twice
    assert len(receiver.received) == 1


def test_a_failing_receiver_is_retried_with_growing_backoff_then_given_up(world, receiver):
    _subscribe(world, receiver.url)
    world.report()
    receiver.statuses = [500] * MAX_ATTEMPTS
    now = timezone.now()
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = deliver_webhooks(now=now)
        assert result.attempted == 1
        row = WebhookDelivery.objects.get()
        assert (row.attempts, row.last_status_code) == (attempt, 500)
        assert row.last_error.startswith("HTTP 500: receiver is unwell")
        if attempt < MAX_ATTEMPTS:
            assert row.status == "retrying"
            waits.append(row.next_attempt_at - now)
            # Not due before the wait is over.
            assert deliver_webhooks(now=row.next_attempt_at - timedelta(seconds=1)).attempted == 0
            now = row.next_attempt_at
    assert [w // timedelta(minutes=1) for w in waits] == [1, 2, 4, 8, 16, 32, 60]
    assert (row.status, row.next_attempt_at) == ("gave_up", None)
    assert deliver_webhooks(now=now + timedelta(days=1)).attempted == 0
    assert len(receiver.received) == MAX_ATTEMPTS


def test_a_receiver_that_recovers_gets_the_event(world, receiver):
    _subscribe(world, receiver.url)
    world.report()
    receiver.statuses = [503]
    now = timezone.now()
    assert deliver_webhooks(now=now).retrying == 1
    assert deliver_webhooks(now=now + timedelta(minutes=1)).delivered == 1
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 2, 200)
    assert receiver.received[0].body == receiver.received[1].body


@pytest.mark.parametrize("status", [302, 404, 410])
def test_any_answer_but_2xx_is_a_failure(world, receiver, status):
    _subscribe(world, receiver.url)
    world.report()
    receiver.statuses = [status]
    assert deliver_webhooks().retrying == 1
    assert WebhookDelivery.objects.get().last_status_code == status


def test_a_refused_connection_is_logged_not_raised(world, closed_port_url):
    _subscribe(world, closed_port_url)
    world.report()
    result = deliver_webhooks()
    assert (result.delivered, result.retrying) == (0, 1)
    row = WebhookDelivery.objects.get()
    assert row.status == "retrying" and row.last_status_code is None
    assert "refused" in row.last_error.lower()


def test_a_slow_receiver_times_out(world, receiver, monkeypatch):
    monkeypatch.setattr(D, "TIMEOUT_SECONDS", 0.2)
    receiver.delay = 1.0
    _subscribe(world, receiver.url)
    world.report()
    assert deliver_webhooks().retrying == 1
    assert "timed out" in WebhookDelivery.objects.get().last_error.lower()


def test_a_receiver_that_is_down_costs_one_attempt_per_run(world, receiver, closed_port_url):
    _subscribe(world, closed_port_url)
    _subscribe(world, receiver.url)
    world.accepted()  # report + accept, for each subscription
    world.report()
    result = deliver_webhooks()
    assert (result.delivered, result.retrying) == (3, 1)
    down = WebhookDelivery.objects.filter(subscription__target_url=closed_port_url)
    assert sorted(down.values_list("attempts", flat=True)) == [0, 0, 1]
    assert len(receiver.received) == 3


def test_a_delivery_claimed_by_another_node_is_not_sent_twice(world, receiver):
    _subscribe(world, receiver.url)
    world.report()
    now = timezone.now()
    # Another node's claim: the same conditional UPDATE deliver_webhooks makes.
    claimed = WebhookDelivery.objects.filter(status="pending", next_attempt_at__lte=now).update(
        next_attempt_at=now + timedelta(seconds=D.CLAIM_SECONDS)
    )
    assert claimed == 1
    assert deliver_webhooks(now=now).attempted == 0
    assert receiver.received == []
    # If that node died, the claim runs out and the row is sent.
    assert deliver_webhooks(now=now + timedelta(seconds=D.CLAIM_SECONDS)).delivered == 1


def test_a_subscription_revoked_after_queueing_gets_nothing(world, receiver):
    subscription, _secret = _subscribe(world, receiver.url)
    world.report()
    # Revoked by another process between queueing and sending.
    WebhookSubscription.objects.filter(pk=subscription.pk).update(revoked_at=timezone.now())
    assert deliver_webhooks().gave_up == 1
    assert receiver.received == []
    assert WebhookDelivery.objects.get().status == "gave_up"


def test_a_rotated_secret_signs_what_is_still_queued(world, receiver):
    subscription, old = _subscribe(world, receiver.url)
    world.report()
    _subscription, new = do_rotate_secret(subscription, actor=world.p.county)
    deliver_webhooks()
    [got] = receiver.received
    assert verify(new, got.headers, got.body) and not verify(old, got.headers, got.body)


def test_the_command_reports_what_it_did(world, receiver):
    _subscribe(world, receiver.url)
    world.accepted()
    out = io.StringIO()
    call_command("deliver_webhooks", "--batch", "1", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[-1] == "done: delivered 2, retrying 0, gave up 0"
    assert lines[:-1] == [
        "… delivered 1, retrying 0, gave up 0",
        "… delivered 2, retrying 0, gave up 0",
    ]
    with pytest.raises(CommandError):
        call_command("deliver_webhooks", "--batch", "0")
