"""The caller: who they are, and their personal tokens."""

from django.shortcuts import get_object_or_404
from ninja import Router, Status

from civicgrid.api.actions import do_create_personal_token, do_revoke_api_key
from civicgrid.api.rest import schemas as s
from civicgrid.api.rest.errors import ERRORS, ApiError
from civicgrid.api.selectors import personal_tokens_of
from civicgrid.core.scoping import scope_for

router = Router(tags=["account"])


@router.get("/me", response={200: s.MeOut, **ERRORS})
def me(request):
    """Who the request acts as, with which roles and places, and through what."""
    principal = request.auth
    user = principal.user
    key = principal.key
    scope = scope_for(user)
    if key is None:
        via = "session"
    else:
        via = "token" if key.kind == "personal" else "key"
    return {
        "username": user.get_username() if principal.has_user else "",
        "name": (user.get_full_name() or user.get_username()) if principal.has_user else "",
        "roles": scope.roles,
        "scopes": sorted({g.prefix for g in scope.grants}),
        "via": via,
        "key_region": (key.region_code or None) if key else None,
        "key_department": key.department.code if key and key.department_id else None,
    }


def _person(request):
    principal = request.auth
    if not principal.has_user:
        raise ApiError(403, _no_account())
    if principal.key is not None and principal.key.kind != "personal":
        raise ApiError(403, _integration())
    return principal.user


def _no_account():
    from django.utils.translation import gettext as _

    return _("This key has no service account.")


def _integration():
    from django.utils.translation import gettext as _

    return _("Integration keys do not manage personal tokens.")


@router.get("/tokens", response={200: list[s.TokenOut], **ERRORS})
def tokens(request):
    """The caller's personal tokens (never their secrets)."""
    return [s.token_out(t) for t in personal_tokens_of(_person(request))]


@router.post("/tokens", response={201: s.NewTokenOut, **ERRORS})
def create_token(request, payload: s.TokenIn):
    """Make a personal token; the secret is in this response only."""
    key, secret = do_create_personal_token(
        name=payload.name, actor=_person(request), expires_at=payload.expires_at
    )
    return Status(201, {**s.token_out(key), "token": secret})


@router.delete("/tokens/{token_id}", response={200: s.TokenOut, **ERRORS})
def revoke_token(request, token_id: int):
    user = _person(request)
    key = get_object_or_404(personal_tokens_of(user), pk=token_id)
    return s.token_out(do_revoke_api_key(key, actor=user))
