"""``manage.py load_demo_cases [--seed N] [--days 365] [--scale 1] [--end YYYY-MM-DD]
[--through-actions]``

A year of demo cases for the loaded demo county, made by the case workflow on a simulated
clock (see ``civicgrid.demo.cases``). Run ``load_demo`` first. A second run does nothing.
Progress (every 1,000 cases: count, rate, elapsed) goes to stderr.

``--scale 1`` (the default) is about 30,000 cases a year for the whole county,
written by the bulk path (``civicgrid.demo.bulk_cases``: the rows the actions would write, kept
in memory and inserted in chunks; about 100 s of CPU for scale 1 on SQLite, half a GB of
memory). ``--through-actions`` calls ``civicgrid.cases.actions`` for every step instead (55–60
cases a second on SQLite: about 9 minutes at scale 1). The 0101 cluster for the early warning
has the same size at any scale.
"""

from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from civicgrid.demo.cases import demo_cases_loaded, generate_demo_cases
from civicgrid.demo.loader import demo_is_loaded

DEFAULT_SCALE = 1.0


class Command(BaseCommand):
    help = "Generate a year of demo cases (run load_demo first)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=None, help="default: CIVICGRID_DEMO_SEED")
        parser.add_argument("--days", type=int, default=365, help="days of cases (default 365)")
        parser.add_argument(
            "--scale",
            type=float,
            default=DEFAULT_SCALE,
            help="volume: 1.0 is about 30,000 cases a year for the whole county; "
            f"default {DEFAULT_SCALE}",
        )
        parser.add_argument(
            "--through-actions",
            action="store_true",
            help="call the case actions for every step (the same rows, about 9 minutes at "
            "scale 1 on SQLite) instead of the bulk path",
        )
        parser.add_argument(
            "--end",
            type=date.fromisoformat,
            default=None,
            help="the cases stop at midnight starting this day (YYYY-MM-DD, default today)",
        )

    def handle(self, *args, seed, days, scale, end, through_actions=False, **options):
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
            through_actions=through_actions,
        )
        states = ", ".join(f"{k} {v:,}" for k, v in summary.by_state.items())
        self.stdout.write(
            f"{summary.cases:,} demo cases from {summary.start} to {summary.end} in "
            f"{summary.seconds:.1f}s ({summary.rate:.1f} cases/s, {summary.path}): {states}; "
            f"overdue {summary.overdue:,}, supervised {summary.supervised:,}, "
            f"0101 cluster {summary.cluster_cases:,}"
        )
        if summary.error_count:
            self.stderr.write(f"{summary.error_count} case(s) stopped early:")
            for line in summary.errors:
                self.stderr.write(f"  {line}")
