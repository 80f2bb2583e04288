"""Every write to integration keys."""

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.api.models import ApiKey
from civicgrid.core.audit import record_event
from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import scope_for
from civicgrid.regions.models import Grid, Region

__all__ = ["do_create_api_key", "do_revoke_api_key", "hash_secret"]

SECRET_BYTES = 32


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


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


def do_revoke_api_key(key: ApiKey, *, actor) -> ApiKey:
    """Stop a key from working at once; revoking twice changes nothing."""
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
