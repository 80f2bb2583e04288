"""``civicgrid rollup [--full]``: bring the daily case summary of the province KPI table up to
date (``analytics.rollup.refresh``) — the days whose cases changed since the last run, or
everything with ``--full``. Idempotent and safe to run on several nodes at once (the mark row
is locked); ``tick`` runs it every time."""

from django.core.management.base import BaseCommand

from civicgrid.analytics import rollup


class Command(BaseCommand):
    help = "Refresh the daily case summary behind the province KPI table."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="rebuild it from all cases")

    def handle(self, *args, full=False, **options):
        if not rollup.available():
            self.stdout.write("the daily summary needs SQLite or PostgreSQL, a fixed-offset zone")
            return
        result = rollup.refresh(full=full)
        days = "all days" if result["days"] < 0 else f"{result['days']} days"
        self.stdout.write(f"daily case summary: {days} recomputed, {result['rows']} rows")
