"""Taking a service request from an Open311 client: a case through ``do_report_case``.

At once (the default), or queued (``OPEN311_QUEUED_INTAKE``): ``do_queue_service_request``
stores the request in one short transaction and the client gets a token;
``do_drain_service_requests`` (the ``drain_open311`` command, on any number of nodes) claims
queued requests by a conditional UPDATE and makes their cases through the same action.
"""

import hashlib
import secrets
import uuid
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.api.models import ApiKey
from civicgrid.cases.actions import do_report_case
from civicgrid.cases.models import Case, Category
from civicgrid.core.audit import record_event
from civicgrid.core.errors import ActionRefused
from civicgrid.open311.models import QueuedRequest, ServiceRequest

__all__ = ["do_drain_service_requests", "do_queue_service_request", "do_submit_service_request"]

MAX_DESCRIPTION = 4000
CLAIM_EXPIRES = timedelta(minutes=5)  # a runner that died: its claim is taken over after this


def do_submit_service_request(
    *,
    api_key: ApiKey,
    category: Category,
    description: str,
    lat: float | None = None,
    lng: float | None = None,
    address: str = "",
    address_id: str = "",
    media_url: str = "",
    account_id: str = "",
    device_id: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    photos=(),
    idempotency_key: str | None = None,
) -> Case:
    """Report a case as the key's service account (or anonymously) on the Open311 channel.

    The media URL is kept as text, never fetched. A retry with the same idempotency key from
    the same key returns the first case. A key limited to an area refuses places outside it.
    """
    if api_key is None or api_key.revoked_at is not None:
        raise ActionRefused(_("This API key does not work."))
    text = (description or "").strip()
    if media_url:
        extra = f"\n\nmedia_url: {media_url}"
        if len(text) + len(extra) <= MAX_DESCRIPTION:
            text += extra
    if not address and address_id:
        address = f"address_id: {address_id}"
    scoped_key = f"open311:{api_key.pk}:{idempotency_key}" if idempotency_key else None
    with transaction.atomic():
        case = do_report_case(
            actor=api_key.user,
            channel=Case.Channel.OPEN311,
            description=text,
            category=category,
            lat=lat,
            lng=lng,
            address=address,
            photos=photos,
            idempotency_key=scoped_key,
            reporter_name=reporter_name,
            reporter_phone=reporter_phone,
        )
        if api_key.region_code and not case.region_code.startswith(api_key.region_code):
            raise ActionRefused(
                _("This API key may only report places inside area %(code)s.")
                % {"code": api_key.region_code}
            )
        link = {
            "api_key": api_key,
            "account_id": account_id,
            "device_id": device_id,
            "address_id": address_id,
            "media_url": media_url,
            "created": timezone.now(),
        }
        # The case code counter and the audit chain head stay locked until commit: a SELECT
        # and an INSERT instead of get_or_create's SELECT, savepoint, INSERT and release. A
        # retry gets the first case only once its transaction, link included, has committed.
        created = not ServiceRequest.objects.filter(case=case).exists()
        if created:
            ServiceRequest.objects.create(case=case, **link)
            record_event(
                "open311.request.submit",
                actor=api_key.user,
                target=case,
                scope_code=case.region_code,
                after={"api_key": api_key.pk, "api_key_prefix": api_key.prefix},
            )
    return case


def _queue_key(api_key: ApiKey, idempotency_key: str | None) -> str | None:
    if not idempotency_key:
        return None
    return hashlib.sha256(f"open311:{api_key.pk}:{idempotency_key}".encode()).hexdigest()


def do_queue_service_request(
    *, api_key: ApiKey, category: Category, idempotency_key: str | None = None, **params
) -> QueuedRequest:
    """Store a validated, photo-less request for the runner; return it (its token is the answer).

    ``params`` are ``do_submit_service_request``'s (description, lat, lng, address, address_id,
    media_url, account_id, device_id, reporter_name, reporter_phone). A retry with the same
    idempotency key from the same key returns the first queued request.
    """
    if api_key is None or api_key.revoked_at is not None:
        raise ActionRefused(_("This API key does not work."))
    key = _queue_key(api_key, idempotency_key)
    row = QueuedRequest(
        token=secrets.token_hex(16),
        api_key=api_key,
        idempotency_key=key,
        params={
            "category": category.code,
            "client_idempotency_key": idempotency_key or "",
            **params,
        },
        created=timezone.now(),
    )
    # One INSERT, no look-up first: a retry (rare) hits the unique key and gets the first row.
    # In its own savepoint when the caller has a transaction; else one autocommit statement.
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                row.save(force_insert=True)
        else:
            row.save(force_insert=True)
    except IntegrityError:
        existing = QueuedRequest.objects.filter(idempotency_key=key).first() if key else None
        if existing is None:
            raise
        return existing
    return row


def do_drain_service_requests(*, node: str = "", batch: int = 100, now=None) -> dict[str, int]:
    """Make cases of up to ``batch`` queued requests; return counts (claimed, done, failed).

    Rows are claimed by a conditional UPDATE (only rows still queued and unclaimed, or whose
    claim is older than ``CLAIM_EXPIRES``), so runners on several nodes share the queue without
    taking a row twice. Each case is made in its own transaction through
    ``do_submit_service_request`` with an idempotency key (the client's, or the token), so a
    row taken over from a runner that died after making its case gets that same case.
    """
    now = now or timezone.now()
    claim = f"{node or 'runner'}:{uuid.uuid4().hex}"[:80]
    free = Q(claimed_by="") | Q(claimed_at__lt=now - CLAIM_EXPIRES)
    queued = QueuedRequest.objects.filter(free, state=QueuedRequest.State.QUEUED)
    claimed, seen = 0, 0
    while not claimed:
        # Another runner may claim the same rows first: its UPDATE wins, this one matches none
        # of them (PostgreSQL re-checks the condition once the other commits), so look further.
        ids = list(queued.filter(pk__gt=seen).order_by("id").values_list("id", flat=True)[:batch])
        if not ids:
            break
        claimed = queued.filter(pk__in=ids).update(claimed_by=claim, claimed_at=now)
        seen = ids[-1]
    counts = {"claimed": claimed, "done": 0, "failed": 0}
    rows = QueuedRequest.objects.filter(claimed_by=claim, state=QueuedRequest.State.QUEUED)
    for row in rows.select_related("api_key__user").order_by("id"):
        params = dict(row.params)
        code = params.pop("category", "")
        client_key = params.pop("client_idempotency_key", "") or f"token:{row.token}"
        category = Category.objects.filter(code=code).first()
        try:
            with transaction.atomic():
                if category is None:
                    raise ValidationError(_("Service %(code)s does not exist.") % {"code": code})
                case = do_submit_service_request(
                    api_key=row.api_key, category=category, idempotency_key=client_key, **params
                )
                QueuedRequest.objects.filter(pk=row.pk, claimed_by=claim).update(
                    state=QueuedRequest.State.DONE, case=case, params={}
                )
            counts["done"] += 1
        except (ValidationError, ActionRefused, PermissionDenied) as exc:
            messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            QueuedRequest.objects.filter(pk=row.pk, claimed_by=claim).update(
                state=QueuedRequest.State.FAILED, error=" ".join(messages)[:1000], params={}
            )
            counts["failed"] += 1
    return counts
