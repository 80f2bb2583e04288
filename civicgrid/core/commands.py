"""Commands act as a named user, so scope checks and the audit trail apply to them too."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError


def actor_option(parser) -> None:
    parser.add_argument(
        "--as", dest="actor", required=True, help="user name the command acts as (scope, audit)"
    )


def resolve_actor(username: str):
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"no active user {username!r}")
    return user
