"""``civicgrid load_demo_campaigns [--seed N] [--scale 0.2] [--end YYYY-MM-DD]``

The year's eight special inspection campaigns (专项排查) of the loaded demo county, made
through the real campaign and case actions on a simulated clock (see
``civicgrid.demo.campaigns``). Run ``load_demo`` first. ``--scale 1`` finds about 8,000
hazards for the whole county; the default 0.2 about 1,600. A second run does nothing.
"""

from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from civicgrid.demo.campaigns import demo_campaigns_loaded, generate_demo_campaigns
from civicgrid.demo.loader import demo_is_loaded

DEFAULT_SCALE = 0.2


class Command(BaseCommand):
    help = "Generate the year's special inspection campaigns through the real actions."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=None, help="default: CIVICGRID_DEMO_SEED")
        parser.add_argument(
            "--scale",
            type=float,
            default=DEFAULT_SCALE,
            help=f"volume: 1.0 is about 8,000 hazards a year for the whole county; "
            f"default {DEFAULT_SCALE}",
        )
        parser.add_argument(
            "--end",
            type=date.fromisoformat,
            default=None,
            help="the year ends at midnight starting this day (YYYY-MM-DD, default today)",
        )

    def handle(self, *args, seed, scale, end, **options):
        if not 0 < scale <= 10:
            raise CommandError("--scale must be in (0, 10]")
        if not demo_is_loaded():
            raise CommandError("the demo county is not loaded: run load_demo first")
        if demo_campaigns_loaded():
            self.stdout.write("the demo campaigns are already loaded; nothing to do")
            return
        summary = generate_demo_campaigns(
            seed=getattr(settings, "DEMO_SEED", 1) if seed is None else seed,
            scale=scale,
            end=end,
            progress=lambda line: self.stderr.write(line),
        )
        self.stdout.write(
            f"{summary.campaigns} demo campaigns: {summary.targets:,} targets, "
            f"{summary.checks:,} checks, {summary.hazards:,} hazards "
            f"({summary.rectified:,} rectified) in {summary.seconds:.1f}s"
        )
        if summary.error_count:
            self.stderr.write(f"{summary.error_count} step(s) refused:")
            for line in summary.errors:
                self.stderr.write(f"  {line}")
