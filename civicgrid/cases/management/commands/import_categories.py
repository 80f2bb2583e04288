from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from civicgrid.cases.taxonomy import do_import_categories
from civicgrid.core.commands import actor_option, resolve_actor


class Command(BaseCommand):
    help = "Create or update case categories from a CSV file (all rows or none)."

    def add_arguments(self, parser):
        parser.add_argument("path")
        actor_option(parser)

    def handle(self, *args, path, actor, **options):
        try:
            with open(path, encoding="utf-8-sig") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None
        try:
            result = do_import_categories(text, actor=resolve_actor(actor))
        except ValidationError as exc:
            for message in exc.messages:
                self.stdout.write(message)
            raise CommandError("nothing imported") from None
        self.stdout.write(f"created {result['created']}, updated {result['updated']}")
