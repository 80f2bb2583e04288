import shutil
import subprocess
from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from civicgrid.core.backup import _pg_env
from civicgrid.core.partitions import (
    ARCHIVABLE,
    PARTITIONED,
    _q,
    detach_partition,
    ensure_partitions,
    month_partitions,
    partitions_older_than,
)


def _months_since(since: str | None) -> list[datetime]:
    """Noon on the 1st of every month from ``since`` to this one (just now without it)."""
    now = timezone.now()
    if not since:
        return [now]
    try:
        first = datetime.strptime(since, "%Y-%m").replace(day=1, hour=12)
    except ValueError:
        raise CommandError("--since takes a month: YYYY-MM") from None
    month = timezone.make_aware(first)
    months = []
    while month <= now:
        months.append(month)
        month = timezone.make_aware(
            datetime(month.year + month.month // 12, month.month % 12 + 1, 1, 12)
        )
    return months or [now]


class Command(BaseCommand):
    help = (
        "PostgreSQL monthly partitions: list them with their rows, create the months ahead "
        "(--ensure; tick does it too), or archive old months of the archivable tables "
        "(--archive-older-than N: a dry run unless --apply; each month is detached, dumped "
        "with pg_dump -Fc into --dir, then dropped)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--ensure", action="store_true")
        parser.add_argument(
            "--since",
            metavar="YYYY-MM",
            help="with --ensure: also every month from this one on (after loading history, "
            "its rows move out of the DEFAULT partition into their months)",
        )
        parser.add_argument("--archive-older-than", type=int, metavar="MONTHS")
        parser.add_argument("--dir", type=Path, default=Path("var/archive"))
        parser.add_argument("--apply", action="store_true", help="archive for real")

    def handle(self, *args, ensure, since, archive_older_than, dir, apply, **options):
        if connection.vendor != "postgresql":
            self.stdout.write("not PostgreSQL: no partitions (nothing to do)")
            return
        if ensure:
            created = sum(ensure_partitions(month) for month in _months_since(since))
            self.stdout.write(f"created {created} partition(s)")
        if archive_older_than is not None:
            if archive_older_than < 1:
                raise CommandError("--archive-older-than must be at least 1 month")
            self._archive(archive_older_than, dir, apply)
            return
        for table in PARTITIONED:
            for part in month_partitions(table, count_rows=True):
                self.stdout.write(f"{table}\t{part.name}\t{part.rows}")

    def _archive(self, months: int, target: Path, apply: bool) -> None:
        if apply and shutil.which("pg_dump") is None:
            raise CommandError("pg_dump is not installed (apt-get install postgresql-client)")
        for table in ARCHIVABLE:
            for part in partitions_older_than(table, months, count_rows=True):
                dump = target / f"{part.name}.pgdump"
                if not apply:
                    self.stdout.write(f"would archive {part.name} ({part.rows} rows) to {dump}")
                    continue
                target.mkdir(parents=True, exist_ok=True)
                detach_partition(part)
                done = subprocess.run(
                    ["pg_dump", "-Fc", "--no-owner", "-t", part.name, "-f", str(dump)],
                    env=_pg_env(),
                    capture_output=True,
                    text=True,
                )
                if done.returncode != 0:
                    # Detached but not dropped: the rows are still there, in their own table.
                    raise CommandError(f"pg_dump of {part.name} failed: {done.stderr.strip()}")
                with connection.cursor() as cursor:
                    cursor.execute(f"DROP TABLE {_q(part.name)}")
                self.stdout.write(f"archived {part.name} ({part.rows} rows) to {dump}")
        if not apply:
            self.stdout.write("dry run: nothing changed (--apply to archive)")
