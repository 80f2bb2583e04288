"""``civicgrid load_demo_visits [--seed N] [--scale 0.2] [--months 12] [--end YYYY-MM-DD]``

A year of visits to the demo county's key-group residents, with realistic compliance (most
workers ~95%, a few behind at 60–70%), some visits raising cases, and recent comprehensive
walks (see ``civicgrid.demo.visits``). Run ``load_demo`` first. A second run does nothing.
"""

from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from civicgrid.demo.loader import demo_is_loaded
from civicgrid.demo.visits import demo_visits_loaded, generate_demo_visits


class Command(BaseCommand):
    help = "Generate a year of demo visits, visit cases and walks (run load_demo first)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=None, help="default: CIVICGRID_DEMO_SEED")
        parser.add_argument(
            "--scale", type=float, default=0.2, help="cases raised from visits: 300 × scale"
        )
        parser.add_argument("--months", type=int, default=12, help="months of visits (12)")
        parser.add_argument("--patrol-weeks", type=int, default=8, help="weeks of walks (8)")
        parser.add_argument(
            "--end", type=date.fromisoformat, default=None, help="last day (default today)"
        )

    def handle(self, *args, seed, scale, months, patrol_weeks, end, **options):
        if not 0 < scale <= 10:
            raise CommandError("--scale must be in (0, 10]")
        if not 1 <= months <= 24:
            raise CommandError("--months must be 1 to 24")
        if not 0 <= patrol_weeks <= 52:
            raise CommandError("--patrol-weeks must be 0 to 52")
        if not demo_is_loaded():
            raise CommandError("the demo county is not loaded: run load_demo first")
        if demo_visits_loaded():
            self.stdout.write("the demo visits are already loaded; nothing to do")
            return
        summary = generate_demo_visits(
            seed=settings.DEMO_SEED if seed is None else seed,
            scale=scale,
            months=months,
            patrol_weeks=patrol_weeks,
            end=end,
            progress=lambda line: self.stderr.write(line),
        )
        self.stdout.write(
            f"{summary.due_visits:,} due visits and {summary.visits:,} visits from "
            f"{summary.start} to {summary.end} in {summary.seconds:.1f}s: "
            f"{summary.rate:.1%} of past due visits done ({summary.behind_grids} grids behind), "
            f"{summary.cases} cases raised, {summary.patrols} walks"
        )
        if summary.errors:
            self.stderr.write(f"{len(summary.errors)} problem(s):")
            for line in summary.errors[:20]:
                self.stderr.write(f"  {line}")
