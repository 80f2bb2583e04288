import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from civicgrid.core.backup import BackupError, restore_backup


class Command(BaseCommand):
    help = (
        "Replace the database and the uploaded files with a backup, then check every table "
        "against it and walk the audit chain. Stop the server and the scheduler first."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", type=Path)
        parser.add_argument(
            "--yes", action="store_true", help="really replace the current data (required)"
        )

    def handle(self, *args, archive, yes, **options):
        if not yes:
            raise CommandError(
                "restore replaces everything in the database and the uploaded files; "
                "run it again with --yes"
            )
        try:
            result = restore_backup(archive, progress=lambda text: sys.stderr.write(text + "\n"))
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"restored {result['tables']} tables ({result['rows']:,} rows) and "
            f"{result['media_files']:,} files; every table matches the backup; "
            "audit chain intact"
        )
