"""Every write to webhook subscriptions, and the enqueueing of case events into the outbox.

``enqueue_case_event`` runs inside every case action (``cases.actions._record``), so it must
cost nothing when nobody subscribes: the active subscriptions are kept per process for a few
seconds as a pre-filter, and the table is only read again when one of them could match.
"""

import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases.models import Assignment, Case, CaseAction
from civicgrid.cases.workflow import ACTION_LABELS
from civicgrid.core.audit import record_event
from civicgrid.people import pii
from civicgrid.regions.models import Grid, Region
from civicgrid.webhooks.models import ALL_EVENTS, WebhookDelivery, WebhookSubscription
from civicgrid.webhooks.selectors import check_webhook_manager

__all__ = [
    "EVENTS",
    "SUBSCRIPTIONS_TTL_SECONDS",
    "case_event_payload",
    "do_create_subscription",
    "do_revoke_subscription",
    "do_rotate_secret",
    "enqueue_case_event",
    "forget_subscriptions",
]

SECRET_BYTES = 32
MAX_URL_LENGTH = 500
# How long another process may take to notice a new subscription. Revocations take effect at
# once: every match is confirmed against the table before a delivery is written.
SUBSCRIPTIONS_TTL_SECONDS = 5.0
EVENTS = tuple(ACTION_LABELS)  # the case timeline's action names


# --------------------------------------------------------------------------- subscriptions


def _new_secret() -> tuple[str, str, str]:
    """(secret, its ciphertext, its prefix)."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return secret, pii.seal("webhook_secret", secret, "").cipher, secret[:6]


def _clean_url(value) -> tuple[str, str | None]:
    """(the URL, or an error message)."""
    url = (value or "").strip() if isinstance(value, str) else ""
    if not url:
        return "", _("Enter the URL the events are posted to.")
    if len(url) > MAX_URL_LENGTH:
        return url, _("The URL is longer than 500 characters.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return url, _("The URL contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises ValueError for a port that is not a number 0–65535
    except ValueError:
        return url, _("Enter a valid http:// or https:// URL.")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return url, _("Enter a valid http:// or https:// URL.")
    if parts.username is not None or parts.password is not None:
        # The signature authenticates us; a password in the URL would sit in clear text here.
        return url, _(
            "Do not put a user name or password in the URL; receivers check the signature."
        )
    if parts.fragment:
        return url, _("The URL must not contain a fragment (#…).")
    return url, None


def _clean_events(values) -> tuple[list[str], str | None]:
    if isinstance(values, str):
        values = [values]
    try:
        chosen = {str(v).strip() for v in values or ()} - {""}
    except TypeError:
        chosen = set()
    if not chosen:
        return [], _("Choose at least one event, or “*” for all.")
    if ALL_EVENTS in chosen:
        return [ALL_EVENTS], None
    unknown = sorted(chosen - set(EVENTS))
    if unknown:
        return [], _("Unknown events: %(events)s.") % {"events": ", ".join(unknown)[:200]}
    return sorted(chosen), None


def _after(subscription: WebhookSubscription) -> dict:
    return {
        "name": subscription.name,
        "target_url": subscription.target_url,
        "events": subscription.events,
        "region_code": subscription.region_code,
        "department": subscription.department.code if subscription.department_id else None,
        "secret_prefix": subscription.secret_prefix,
    }


def do_create_subscription(
    *, name: str, target_url: str, events, actor, region_code: str = "", department=None
) -> tuple[WebhookSubscription, str]:
    """Subscribe a receiver; return it with its signing secret, shown now and never again."""
    check_webhook_manager(actor)
    errors = {}
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        errors["name"] = [_("Name the subscription after the system that receives it.")]
    elif len(name) > 100:
        errors["name"] = [_("The name is longer than 100 characters.")]
    target_url, problem = _clean_url(target_url)
    if problem:
        errors["target_url"] = [problem]
    events, problem = _clean_events(events)
    if problem:
        errors["events"] = [problem]
    region_code = (region_code or "").strip() if isinstance(region_code, str) else ""
    if region_code and not (
        Region.objects.filter(code=region_code).exists()
        or Grid.objects.filter(code=region_code).exists()
    ):
        errors["region_code"] = [_("No region or grid has this code.")]
    if errors:
        raise ValidationError(errors)
    secret, cipher, prefix = _new_secret()
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            name=name,
            target_url=target_url,
            secret_cipher=cipher,
            secret_prefix=prefix,
            events=events,
            region_code=region_code,
            department=department,
            created_by=actor,
            created=timezone.now(),
        )
        record_event(
            "webhooks.subscription.create",
            actor=actor,
            target=subscription,
            scope_code=region_code,
            after=_after(subscription),
        )
        _forget_now_and_after_commit()
    return subscription, secret


def do_revoke_subscription(subscription: WebhookSubscription, *, actor) -> WebhookSubscription:
    """Stop sending at once: no new deliveries, and the queued ones are given up."""
    check_webhook_manager(actor)
    with transaction.atomic():
        subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        if subscription.revoked_at is not None:
            return subscription
        now = timezone.now()
        subscription.revoked_at = now
        subscription.save(update_fields=["revoked_at"])
        cancelled = WebhookDelivery.objects.filter(
            subscription=subscription,
            status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING],
        ).update(
            status=WebhookDelivery.Status.GAVE_UP,
            next_attempt_at=None,
            last_error="subscription revoked",
        )
        record_event(
            "webhooks.subscription.revoke",
            actor=actor,
            target=subscription,
            scope_code=subscription.region_code,
            before={"revoked_at": None},
            after={"revoked_at": now, "queued_deliveries_cancelled": cancelled},
        )
        _forget_now_and_after_commit()
    return subscription


def do_rotate_secret(
    subscription: WebhookSubscription, *, actor
) -> tuple[WebhookSubscription, str]:
    """Replace the signing secret; return the new one, shown now and never again.

    Deliveries still queued are signed with the new secret when they are sent.
    """
    check_webhook_manager(actor)
    secret, cipher, prefix = _new_secret()
    with transaction.atomic():
        subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        if subscription.revoked_at is not None:
            raise ValidationError(
                {"subscription": [_("The subscription is revoked; make a new one instead.")]}
            )
        before = {"secret_prefix": subscription.secret_prefix}
        subscription.secret_cipher = cipher
        subscription.secret_prefix = prefix
        subscription.secret_rotated_at = timezone.now()
        subscription.save(update_fields=["secret_cipher", "secret_prefix", "secret_rotated_at"])
        record_event(
            "webhooks.subscription.rotate_secret",
            actor=actor,
            target=subscription,
            scope_code=subscription.region_code,
            before=before,
            after={"secret_prefix": prefix},
        )
    return subscription, secret


# --------------------------------------------------------------------------- the outbox


@dataclass(frozen=True)
class _Rule:
    pk: int
    events: frozenset[str]
    region_code: str
    department_id: int | None

    def wants(self, event: str, region_code: str) -> bool:
        return (ALL_EVENTS in self.events or event in self.events) and region_code.startswith(
            self.region_code
        )


_cache: tuple[float, tuple[_Rule, ...]] | None = None


def _load_rules(**filters) -> tuple[_Rule, ...]:
    rows = WebhookSubscription.objects.filter(revoked_at__isnull=True, **filters).values_list(
        "pk", "events", "region_code", "department_id"
    )
    return tuple(
        _Rule(pk, frozenset(events if isinstance(events, list) else ()), region or "", dept)
        for pk, events, region, dept in rows
    )


def _active_rules() -> tuple[_Rule, ...]:
    global _cache
    now = time.monotonic()
    cached = _cache
    if cached is not None and now - cached[0] < SUBSCRIPTIONS_TTL_SECONDS:
        return cached[1]
    rules = _load_rules()
    _cache = (now, rules)
    return rules


def forget_subscriptions() -> None:
    """Drop this process's copy of the active subscriptions (the next event reloads it)."""
    global _cache
    _cache = None


def _forget_now_and_after_commit() -> None:
    # Now, so this transaction's own case actions see the change; after commit, so a reload
    # by another thread before the commit is not kept for the whole TTL.
    forget_subscriptions()
    transaction.on_commit(forget_subscriptions)


def _iso(moment) -> str | None:
    return timezone.localtime(moment).isoformat() if moment is not None else None


def case_event_payload(case: Case, row: CaseAction) -> dict:
    """The body sent for one timeline entry. No personal data: no names, phone numbers,
    descriptions or free text, only codes, states and times."""
    category = case.category if case.category_id else None
    return {
        "event": row.action,
        "action_id": row.pk,
        "occurred_at": _iso(row.created),
        "case": {
            "id": case.pk,
            "code": case.code,
            "version": case.version,
            "status": case.state,
            "previous_status": row.from_state or None,
            "channel": case.channel,
            "category": category.code if category else None,
            "category_name": category.name if category else None,
            "urgent": case.urgent,
            "region_code": case.region_code,
            "grid_code": case.grid.code if case.grid_id else None,
            "level": case.level,
            "unit_code": case.unit_code,
            "resolve_deadline": _iso(case.resolve_deadline),
            "closed_at": _iso(case.closed_at),
        },
    }


def enqueue_case_event(case: Case, row: CaseAction) -> int:
    """Queue one delivery per matching active subscription, in the caller's transaction (so a
    rolled-back action leaves none). Returns how many were queued."""
    rules = _active_rules()
    if not rules:
        return 0
    candidates = [r.pk for r in rules if r.wants(row.action, case.region_code)]
    if not candidates:
        return 0
    # The cached list is only a pre-filter: confirm against the table, which also drops a
    # subscription revoked by another process since it was cached.
    live = [r for r in _load_rules(pk__in=candidates) if r.wants(row.action, case.region_code)]
    departments = {r.department_id for r in live if r.department_id is not None}
    involved = (
        set(
            Assignment.objects.filter(case=case, department_id__in=departments).values_list(
                "department_id", flat=True
            )
        )
        if departments
        else set()
    )
    targets = sorted(r.pk for r in live if r.department_id is None or r.department_id in involved)
    if not targets:
        return 0
    payload = case_event_payload(case, row)
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                subscription_id=pk,
                event=row.action,
                case=case,
                payload=payload,
                created=now,
                next_attempt_at=now,
            )
            for pk in targets
        ]
    )
    return len(targets)
