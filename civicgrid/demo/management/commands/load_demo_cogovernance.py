"""``civicgrid load_demo_cogovernance [--seed N] [--scale 0.2] [--end YYYY-MM-DD]``

Co-governance members (about 1,500 × scale) with a year of reports through the real case
actions, their points from the real listener, a few reports found invalid, and the county's
award proposal for the year (see ``civicgrid.demo.cogovernance``). Run ``load_demo`` first. A
second run does nothing.
"""

from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from civicgrid.demo.cogovernance import demo_cogovernance_loaded, generate_demo_cogovernance
from civicgrid.demo.loader import demo_is_loaded

DEFAULT_SCALE = 0.2


class Command(BaseCommand):
    help = "Generate co-governance members, a year of their reports and points (after load_demo)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=None, help="default: CIVICGRID_DEMO_SEED")
        parser.add_argument(
            "--scale",
            type=float,
            default=DEFAULT_SCALE,
            help=f"1.0 is about 1,500 members (default {DEFAULT_SCALE})",
        )
        parser.add_argument("--days", type=int, default=365, help="days of reports (default 365)")
        parser.add_argument(
            "--end",
            type=date.fromisoformat,
            default=None,
            help="the reports stop at midnight starting this day (YYYY-MM-DD, default today)",
        )

    def handle(self, *args, seed, scale, days, end, **options):
        if not 0 < scale <= 10:
            raise CommandError("--scale must be in (0, 10]")
        if days < 1:
            raise CommandError("--days must be at least 1")
        if not demo_is_loaded():
            raise CommandError("the demo county is not loaded: run load_demo first")
        if demo_cogovernance_loaded():
            self.stdout.write("the co-governance demo is already loaded; nothing to do")
            return
        summary = generate_demo_cogovernance(
            seed=settings.DEMO_SEED if seed is None else seed,
            scale=scale,
            days=days,
            end=end,
            progress=lambda line: self.stderr.write(line),
        )
        states = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.by_state.items()))
        self.stdout.write(
            f"{summary.members:,} co-governance members, {summary.reports:,} reports "
            f"({states}) from {summary.start} to {summary.end}; {summary.entries:,} points "
            f"entries, {summary.points:,} points net, {summary.invalidated} reports found "
            f"invalid; award proposal with {summary.award_candidates:,} ranked members; "
            f"{summary.errors} steps refused; {summary.seconds:.1f}s"
        )
