"""``manage.py load_demo_cases [--seed N] [--days 365] [--scale 0.2] [--end YYYY-MM-DD]``

A year of demo cases for the loaded demo county, made through the real case actions on a
simulated clock (see ``civicgrid.demo.cases``). Run ``load_demo`` first. A second run does
nothing. Progress (every 1,000 cases: count, rate, elapsed) goes to stderr.

``--scale 1`` is about 30,000 cases a year for the whole county (about 9 minutes on SQLite:
every case goes through the real actions at 55–60 cases a second); the default 0.2 makes about
6,000 (about 2 minutes). The 0101 cluster for the early warning has the same size at any scale.
"""

from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from civicgrid.demo.cases import demo_cases_loaded, generate_demo_cases
from civicgrid.demo.loader import demo_is_loaded

DEFAULT_SCALE = 0.2


class Command(BaseCommand):
    help = "Generate a year of demo cases through the real case actions (run load_demo first)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=None, help="default: CIVICGRID_DEMO_SEED")
        parser.add_argument("--days", type=int, default=365, help="days of cases (default 365)")
        parser.add_argument(
            "--scale",
            type=float,
            default=DEFAULT_SCALE,
            help="volume: 1.0 is about 30,000 cases a year for the whole county (about 9 "
            f"minutes on SQLite); default {DEFAULT_SCALE}",
        )
        parser.add_argument(
            "--end",
            type=date.fromisoformat,
            default=None,
            help="the cases stop at midnight starting this day (YYYY-MM-DD, default today)",
        )

    def handle(self, *args, seed, days, scale, end, **options):
        if not 0 < scale <= 10:
            raise CommandError("--scale must be in (0, 10]")
        if days < 1:
            raise CommandError("--days must be at least 1")
        if not demo_is_loaded():
            raise CommandError("the demo county is not loaded: run load_demo first")
        if demo_cases_loaded():
            self.stdout.write("the demo cases are already loaded; nothing to do")
            return
        summary = generate_demo_cases(
            seed=settings.DEMO_SEED if seed is None else seed,
            days=days,
            scale=scale,
            end=end,
            progress=lambda line: self.stderr.write(line),
        )
        states = ", ".join(f"{k} {v:,}" for k, v in summary.by_state.items())
        self.stdout.write(
            f"{summary.cases:,} demo cases from {summary.start} to {summary.end} in "
            f"{summary.seconds:.1f}s ({summary.rate:.1f} cases/s): {states}; "
            f"overdue {summary.overdue:,}, supervised {summary.supervised:,}, "
            f"0101 cluster {summary.cluster_cases:,}"
        )
        if summary.error_count:
            self.stderr.write(f"{summary.error_count} case(s) stopped early:")
            for line in summary.errors:
                self.stderr.write(f"  {line}")
