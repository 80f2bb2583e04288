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

__all__ = [
    "do_drain_service_requests",
    "do_queue_api_report",
    "do_queue_service_request",
    "do_submit_service_request",
]

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
    started = timezone.now()
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
        # A case made by this call has no link yet; only a retry's (older) case is looked up.
        created = case.created >= started or not ServiceRequest.objects.filter(case=case).exists()
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
    return _insert_queued(row, key)


def do_queue_api_report(
    *, api_key: ApiKey, idempotency_key: str | None = None, **report
) -> QueuedRequest:
    """Store a validated, photo-less REST report (``POST /api/v1/cases`` in the queued mode,
    ``API_QUEUED_INTAKE``) for the runner; return it (its token is the answer's receipt).

    ``report`` are codes and values as sent (channel, description, category, lat, lng, datum,
    grid, region, address, urgent, reporter_name, reporter_phone); ``idempotency_key`` is
    already scoped to the caller, and a retry with it returns the first queued request. The
    runner makes the case as the key's user through ``api.actions.do_report_with_key``.
    """
    if api_key is None or api_key.revoked_at is not None:
        raise ActionRefused(_("This API key does not work."))
    key = None
    if idempotency_key:
        key = hashlib.sha256(f"rest:{idempotency_key}".encode()).hexdigest()
    row = QueuedRequest(
        token=secrets.token_hex(16),
        api_key=api_key,
        idempotency_key=key,
        params={"source": SOURCE_REST, "client_idempotency_key": idempotency_key or "", **report},
        created=timezone.now(),
    )
    return _insert_queued(row, key)


def _insert_queued(row: QueuedRequest, key: str | None) -> QueuedRequest:
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


SOURCE_REST = "rest"
ROWS_PER_TRANSACTION = 25  # the audit head and the day's code counter are held this long


def _make_open311_case(row: QueuedRequest, params: dict, categories: dict) -> Case:
    code = params.pop("category", "")
    client_key = params.pop("client_idempotency_key", "") or f"token:{row.token}"
    category = categories.get(code)
    if category is None:
        raise ValidationError(_("Service %(code)s does not exist.") % {"code": code})
    return do_submit_service_request(
        api_key=row.api_key, category=category, idempotency_key=client_key, **params
    )


def _make_rest_case(row: QueuedRequest, params: dict, categories: dict) -> Case:
    from civicgrid.api.actions import do_report_with_key
    from civicgrid.regions.models import Grid, Region

    api_key = row.api_key
    if api_key.revoked_at is not None:
        raise ActionRefused(_("This API key does not work."))
    code = params.pop("category", None)
    category = None
    if code:
        category = categories.get(code)
        if category is None or not category.active:
            raise ValidationError({"category": [_("No such category.")]})
    grid = region = None
    if params.get("grid"):
        grid = Grid.objects.filter(code=params["grid"], active=True).first()
        if grid is None:
            raise ValidationError({"grid": [_("No such grid.")]})
    if params.get("region"):
        region = Region.objects.filter(code=params["region"]).first()
        if region is None:
            raise ValidationError({"region": [_("No such region.")]})
    params["grid"], params["region"] = grid, region
    client_key = params.pop("client_idempotency_key", "") or f"api:token:{row.token}"
    return do_report_with_key(
        api_key=api_key,
        actor=api_key.user,
        category=category,
        idempotency_key=client_key,
        **params,
    )


def do_drain_service_requests(
    *, node: str = "", batch: int = 100, now=None, per_transaction: int = ROWS_PER_TRANSACTION
) -> dict[str, int]:
    """Make cases of up to ``batch`` queued requests (Open311's and the REST API's); return
    counts (claimed, done, failed).

    Rows are claimed by a conditional UPDATE (only rows still queued and unclaimed, or whose
    claim is older than ``CLAIM_EXPIRES``), so runners on several nodes share the queue without
    taking a row twice. Each case is made through the action its channel uses at once
    (``do_submit_service_request``, ``api.actions.do_report_with_key``) with an idempotency key
    (the client's, or the token), so a row taken over from a runner that died after making its
    case gets that same case.

    ``per_transaction`` rows share one transaction (issue 11): the audit chain head and each
    day's case-code counter are locked and written once for them (``audit_batch``,
    ``case_code_batch``), each row in its own savepoint, so a refused request rolls back alone
    (its code and audit events are given back: codes stay gapless, the chain unbroken); the
    rows' states are written in one UPDATE at the end.
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
    if not claimed:
        return counts
    rows = list(
        QueuedRequest.objects.filter(claimed_by=claim, state=QueuedRequest.State.QUEUED)
        .select_related("api_key__user", "api_key__department")
        .order_by("id")
    )
    codes = {row.params.get("category") for row in rows} - {None, ""}
    categories = {c.code: c for c in Category.objects.filter(code__in=codes)}
    step = max(1, per_transaction)
    for start in range(0, len(rows), step):
        _drain_rows(rows[start : start + step], claim, categories, counts)
    return counts


def _drain_rows(rows, claim: str, categories: dict, counts: dict) -> None:
    from django.db.models import Case as SqlCase
    from django.db.models import Value, When

    from civicgrid.cases.actions import case_code_batch
    from civicgrid.core.audit import audit_batch

    done: dict[int, int] = {}  # row id → case id
    failed: dict[int, str] = {}
    with transaction.atomic(), audit_batch() as chain, case_code_batch() as case_codes:
        for row in rows:
            params = dict(row.params)
            source = params.pop("source", "")
            make = _make_rest_case if source == SOURCE_REST else _make_open311_case
            before = (chain.last_id, chain.last_hash), case_codes.snapshot()
            try:
                with transaction.atomic():
                    done[row.pk] = make(row, params, categories).pk
            except (ValidationError, ActionRefused, PermissionDenied) as exc:
                # The savepoint took the row's case and events: the chain and the codes go on
                # from where they were before it.
                (chain.last_id, chain.last_hash), taken = before
                case_codes.restore(taken)
                messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
                failed[row.pk] = " ".join(messages)[:1000]
        mine = QueuedRequest.objects.filter(claimed_by=claim, state=QueuedRequest.State.QUEUED)
        if done:
            mine.filter(pk__in=list(done)).update(
                state=QueuedRequest.State.DONE,
                params={},
                case_id=SqlCase(*(When(pk=pk, then=Value(case)) for pk, case in done.items())),
            )
        if failed:
            mine.filter(pk__in=list(failed)).update(
                state=QueuedRequest.State.FAILED,
                params={},
                error=SqlCase(*(When(pk=pk, then=Value(text)) for pk, text in failed.items())),
            )
    counts["done"] += len(done)
    counts["failed"] += len(failed)
