"""Make a personal API token for a person, on the server's command line.

    civicgrid create_token --as county --name "nightly export" [--days 90]

The token acts as that person with their scope; the secret is printed once. Whoever runs
commands on the server can act as anyone already, so this asks nothing more.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from civicgrid.api.actions import do_create_personal_token
from civicgrid.core.commands import actor_option, resolve_actor


class Command(BaseCommand):
    help = "Make a personal API token for a person; prints the secret once."

    def add_arguments(self, parser):
        actor_option(parser)
        parser.add_argument("--name", required=True, help="what the token is for")
        parser.add_argument("--days", type=int, default=0, help="expire after N days (0: never)")

    def handle(self, *args, **options):
        actor = resolve_actor(options["actor"])
        if options["days"] < 0:
            raise CommandError("--days must be 0 or more")
        expires = timezone.now() + timedelta(days=options["days"]) if options["days"] else None
        try:
            key, secret = do_create_personal_token(
                name=options["name"], actor=actor, expires_at=expires
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stderr.write(f"token {key.prefix}… for {actor.get_username()} (id {key.pk})")
        self.stdout.write(secret)
