"""``civicgrid warn [--date YYYY-MM-DD | --from YYYY-MM-DD [--to YYYY-MM-DD]] [--category CODE …]``

The daily early-warning run (``civicgrid.warning.run.run_warnings``): space–time scans and
temporal detectors for every enabled category, new signals stored and ongoing ones updated.
Without a date it runs for yesterday (the last complete day, local time). ``--from`` backfills
every day from that date to ``--to`` (default yesterday), in order. Running a day twice
changes nothing.
"""

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from civicgrid.warning.run import run_warnings


class Command(BaseCommand):
    help = "Run the early-warning detectors for a day (default yesterday) or a range of days."

    def add_arguments(self, parser):
        parser.add_argument("--date", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
        parser.add_argument(
            "--from", dest="first", type=date.fromisoformat, default=None, help="backfill from"
        )
        parser.add_argument("--to", dest="last", type=date.fromisoformat, default=None)
        parser.add_argument("--category", action="append", default=None, help="category code")
        parser.add_argument(
            "--fast", action="store_true", help="the fast approximation for every category"
        )

    def handle(self, *args, date, first, last, category, fast, **options):
        yesterday = timezone.localdate() - timedelta(days=1)
        if date and first:
            raise CommandError("give --date or --from, not both")
        if first:
            last = last or yesterday
            if last < first:
                raise CommandError("--to is before --from")
            days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        else:
            days = [date or yesterday]
        totals = {"new": 0, "updated": 0, "grown": 0, "findings": 0, "seconds": 0.0}
        errors: list[str] = []
        verbose = options.get("verbosity", 1) >= 1
        for day in days:
            summary = run_warnings(
                day,
                progress=(lambda line: self.stderr.write(line)) if verbose else None,
                categories=category,
                fast=True if fast else None,
            )
            for key in totals:
                totals[key] += summary[key]
            errors += [f"{day} {e}" for e in summary["errors"]]
            if verbose:
                self.stderr.write(
                    f"{day}: {summary['scanned']}/{summary['categories']} categories with cases, "
                    f"{summary['findings']} cluster(s), {summary['new']} new, "
                    f"{summary['updated']} updated, {summary['grown']} grown "
                    f"in {summary['seconds']:.1f}s"
                )
        self.stdout.write(
            f"warn: {len(days)} day(s) {days[0]}…{days[-1]}: {totals['new']} new signal(s), "
            f"{totals['updated']} updated, {totals['grown']} grown, "
            f"{totals['findings']} cluster(s) above threshold in {totals['seconds']:.1f}s"
        )
        if errors:
            self.stderr.write(f"{len(errors)} detector run(s) failed (the others went on):")
            for line in errors[:20]:
                self.stderr.write(f"  {line}")
