"""``civicgrid reports [--date YYYY-MM-DD] [--backfill-from YYYY-MM-DD] [--only KIND]``

Every morning (cron, or the scheduler): yesterday's daily report; last week's weekly analysis
(on Mondays, or whenever it is missing); last month's monthly thematic report (on the 1st, or
whenever it is missing) — for the county and each township. ``--date`` runs as if on that
day. ``--backfill-from`` makes every missing report from that day up to yesterday (of
``--date``). Idempotent: a report that exists is left as it is, so a second run makes
nothing. Prints what it made.
"""

import time
from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from civicgrid.analytics import actions as A
from civicgrid.analytics import reports as R
from civicgrid.analytics.models import Report


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


def due_reports(today: date, *, backfill_from: date | None = None) -> list[tuple[str, date]]:
    """(kind, first day of the period) of the reports due on ``today``, oldest first."""
    yesterday = today - timedelta(days=1)
    first = backfill_from or yesterday
    wanted: list[tuple[str, date]] = []
    day = first
    while day <= yesterday:
        wanted.append(("daily", day))
        day += timedelta(days=1)
    # weeks and months that ended by yesterday
    week = R.period_of("weekly", first)[0]
    if backfill_from is None:
        week = R.period_of("weekly", yesterday - timedelta(days=6))[0]
    while week + timedelta(days=6) <= yesterday:
        wanted.append(("weekly", week))
        week += timedelta(days=7)
    month = (first if backfill_from else yesterday).replace(day=1)
    while R.period_of("monthly", month)[1] <= yesterday:
        wanted.append(("monthly", month))
        month = R.period_of("monthly", month)[1] + timedelta(days=1)
    if backfill_from is None:
        # the last complete month, also when today is not the 1st (made if missing)
        last_month = R.period_of("monthly", today.replace(day=1) - timedelta(days=1))[0]
        if ("monthly", last_month) not in wanted:
            wanted.append(("monthly", last_month))
    order = {"daily": 0, "weekly": 1, "monthly": 2}
    return sorted(set(wanted), key=lambda kv: (kv[1], order[kv[0]]))


class Command(BaseCommand):
    help = "Generate the due daily, weekly and monthly reports (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="run as if today were this day (YYYY-MM-DD)")
        parser.add_argument("--backfill-from", help="also make every missing report since")
        parser.add_argument("--only", choices=Report.Kind.values, help="only this kind")

    def handle(self, *args, date=None, backfill_from=None, only=None, **options):
        today = _day(date) if date else timezone.localdate()
        start = _day(backfill_from) if backfill_from else None
        if start is not None and start >= today:
            raise CommandError("--backfill-from must be before the day of the run")
        regions = R.report_regions()
        if not regions:
            raise CommandError("no county or townships: load the regions first")
        due = [(k, d) for k, d in due_reports(today, backfill_from=start) if not only or k == only]
        existing = set(
            Report.objects.filter(
                period_start__gte=min((d for _k, d in due), default=today)
            ).values_list("kind", "period_start", "region_code")
        )
        todo = [
            (kind, day, region)
            for kind, day in due
            for region in regions
            if (kind, day, region.code) not in existing
        ]
        made: dict[str, int] = {}
        started = time.monotonic()
        last_line = 0.0
        for index, (kind, day, region) in enumerate(todo, start=1):
            report, created = A.do_generate_report(
                kind=kind, day=day, region=region, generator=A.COMMAND
            )
            if created:
                made[kind] = made.get(kind, 0) + 1
                if options.get("verbosity", 1) > 1:
                    self.stdout.write(f"made {report}")
            now = time.monotonic()
            if start is not None and (now - last_line > 2 or index == len(todo)):
                last_line = now
                self.stderr.write(
                    f"[{now - started:6.1f}s] {index:,}/{len(todo):,} {kind} {day} {region.name}"
                )
        if not made:
            self.stdout.write(f"{today}: nothing to make; the due reports exist")
            return
        summary = ", ".join(f"{n:,} {kind}" for kind, n in sorted(made.items()))
        self.stdout.write(
            f"{today}: made {summary} report(s) for {len(regions)} area(s) in "
            f"{time.monotonic() - started:.1f}s"
        )
