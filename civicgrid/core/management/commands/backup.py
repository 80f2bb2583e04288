import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from civicgrid.core.backup import BackupError, make_backup


class Command(BaseCommand):
    help = (
        "Write a consistent backup of the database and the uploaded files "
        "(default: var/backups/civicgrid-<time>.tar.gz). The keys are not in it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, default=None, help="the .tar.gz to write")

    def handle(self, *args, output, **options):
        try:
            path = make_backup(output, progress=lambda text: sys.stderr.write(text + "\n"))
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(str(path))
