"""Remove a person's second factor when they lost their phone and their recovery codes."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from civicgrid.core.commands import actor_option, resolve_actor
from civicgrid.core.totp import do_reset_totp


class Command(BaseCommand):
    help = "Remove USER's second factor (a superuser acts; the reason is audited)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--reason", required=True, help="why, and how the person was identified"
        )
        actor_option(parser)

    def handle(self, *args, username, reason, actor, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        try:
            removed = do_reset_totp(user, actor=resolve_actor(actor), reason=reason)
        except (PermissionDenied, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
        self.stdout.write(
            f"second factor of {username} removed; they set it up again at their next login"
            if removed
            else f"{username} had no second factor"
        )
