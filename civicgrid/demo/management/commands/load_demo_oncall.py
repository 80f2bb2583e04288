"""``civicgrid load_demo_oncall [--seed N] [--scale 0.2] [--end YYYY-MM-DD]``

Department staff posted in the demo county's grids and a year of on-call summonses, through
the real actions on a simulated clock (see ``civicgrid.demo.oncall``). Run ``load_demo``
first. A second run does nothing.
"""

from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from civicgrid.demo.loader import demo_is_loaded
from civicgrid.demo.oncall import demo_oncall_loaded, generate_demo_oncall

DEFAULT_SCALE = 0.2


class Command(BaseCommand):
    help = "Post department staff in the demo grids and make a year of on-call summonses."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=None, help="default: CIVICGRID_DEMO_SEED")
        parser.add_argument(
            "--scale",
            type=float,
            default=DEFAULT_SCALE,
            help=f"1.0 is about 1,500 summoned cases a year; default {DEFAULT_SCALE}",
        )
        parser.add_argument(
            "--end", type=date.fromisoformat, default=None, help="last day (default today)"
        )

    def handle(self, *args, seed, scale, end, **options):
        if not 0 < scale <= 10:
            raise CommandError("--scale must be in (0, 10]")
        if not demo_is_loaded():
            raise CommandError("the demo county is not loaded: run load_demo first")
        if demo_oncall_loaded():
            self.stdout.write("the demo summonses are already loaded; nothing to do")
            return
        summary = generate_demo_oncall(
            seed=settings.DEMO_SEED if seed is None else seed,
            scale=scale,
            end=end,
            progress=lambda line: self.stderr.write(line),
        )
        self.stdout.write(
            f"on-call demo: {summary.postings} postings, {summary.cases} cases, summonses "
            + ", ".join(f"{k} {v}" for k, v in sorted(summary.summonses.items()))
            + f" in {summary.seconds:.1f}s"
        )
