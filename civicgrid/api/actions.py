"""Every write to integration keys."""

import hashlib
import secrets
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.api.models import ApiKey
from civicgrid.core.audit import record_event
from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import scope_for
from civicgrid.regions.models import Grid, Region

__all__ = [
    "do_create_api_key",
    "do_report_with_key",
    "do_create_personal_token",
    "do_revoke_api_key",
    "hash_secret",
]

SECRET_BYTES = 32


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def do_report_with_key(
    *, api_key: ApiKey | None, actor, idempotency_key: str | None = None, **report
):
    """A report through the REST API: ``cases.actions.do_report_case`` as ``actor`` (the token's
    or key's user), refused if the key is limited to an area and the place lies outside it.

    ``report`` are ``do_report_case``'s arguments (channel, description, category, lat, lng,
    datum, grid, region, address, photos, reporter_name, reporter_phone, urgent);
    ``idempotency_key`` is already scoped to the caller. Used at once by ``POST /api/v1/cases``
    and later by the queue's runner in the queued mode (``API_QUEUED_INTAKE``).
    """
    from civicgrid.cases.actions import do_report_case

    with transaction.atomic():
        case = do_report_case(actor=actor, idempotency_key=idempotency_key, **report)
        area = api_key.region_code if api_key is not None else ""
        if area and not case.region_code.startswith(area):
            raise ActionRefused(_("This key may only report places inside its area."))
    return case


def _check_manager(actor) -> None:
    if actor is None or not (actor.is_superuser or scope_for(actor).has("cases.configure")):
        raise ActionRefused(_("Only the county centre manages integration keys."))


def _after(key: ApiKey) -> dict:
    return {
        "name": key.name,
        "prefix": key.prefix,
        "user": key.user.get_username() if key.user_id else None,
        "department": key.department.code if key.department_id else None,
        "region_code": key.region_code,
        "kind": key.kind,
        "expires_at": key.expires_at,
    }


def do_create_api_key(
    *, name: str, actor, user=None, department=None, region_code: str = ""
) -> tuple[ApiKey, str]:
    """Make a key; return it with its secret, which is shown now and never again."""
    _check_manager(actor)
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("Name the key after the system that will use it.")]
    elif len(name) > 100:
        errors["name"] = [_("The name is longer than 100 characters.")]
    region_code = (region_code or "").strip()
    if region_code and not (
        Region.objects.filter(code=region_code).exists()
        or Grid.objects.filter(code=region_code).exists()
    ):
        errors["region_code"] = [_("No region or grid has this code.")]
    if user is not None and not user.is_active:
        errors["user"] = [_("The service account is not active.")]
    if user is not None and user.is_superuser and not actor.is_superuser:
        errors["user"] = [_("Only a superuser may make a key that acts as a superuser.")]
    if errors:
        raise ValidationError(errors)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name,
            prefix=secret[:8],
            key_hash=hash_secret(secret),
            user=user,
            department=department,
            region_code=region_code,
            created_by=actor,
            created=timezone.now(),
        )
        record_event(
            "api.api_key.create",
            actor=actor,
            target=key,
            scope_code=region_code,
            after=_after(key),
        )
    return key, secret


MAX_PERSONAL_TOKENS = 20


def do_create_personal_token(
    *, name: str, actor, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """A token for the actor's own scripts: it acts as the actor, with the actor's scope.

    Any active person may make one; the secret is shown now and never again.
    """
    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise ActionRefused(_("Log in to make a personal token."))
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("Name the token after the script that will use it.")]
    elif len(name) > 100:
        errors["name"] = [_("The name is longer than 100 characters.")]
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        errors["expires_at"] = [_("The expiry time has already passed.")]
    live = ApiKey.objects.filter(
        kind=ApiKey.Kind.PERSONAL, user=actor, revoked_at__isnull=True
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    if live.count() >= MAX_PERSONAL_TOKENS:
        errors["name"] = [
            _("You already have %(n)d working tokens; revoke one first.")
            % {"n": MAX_PERSONAL_TOKENS}
        ]
    if errors:
        raise ValidationError(errors)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    with transaction.atomic():
        key = ApiKey.objects.create(
            kind=ApiKey.Kind.PERSONAL,
            name=name,
            prefix=secret[:8],
            key_hash=hash_secret(secret),
            user=actor,
            created_by=actor,
            created=now,
            expires_at=expires_at,
        )
        record_event("api.token.create", actor=actor, target=key, after=_after(key))
    return key, secret


def do_revoke_api_key(key: ApiKey, *, actor) -> ApiKey:
    """Stop a key from working at once; revoking twice changes nothing.

    The county centre revokes any key; a person revokes their own personal tokens.
    """
    own = (
        key.kind == ApiKey.Kind.PERSONAL
        and actor is not None
        and actor.is_authenticated
        and key.user_id == actor.pk
    )
    if not own:
        _check_manager(actor)
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key.pk)
        if key.revoked_at is not None:
            return key
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        record_event(
            "api.api_key.revoke",
            actor=actor,
            target=key,
            scope_code=key.region_code,
            before={"revoked_at": None},
            after={"revoked_at": key.revoked_at},
        )
    return key
