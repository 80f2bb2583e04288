from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from civicgrid.demo.loader import demo_is_loaded, load_demo


class Command(BaseCommand):
    help = "Load the Yuyao demo county (real divisions, synthetic geometry and people)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=None, help="default: CIVICGRID_DEMO_SEED")
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="fraction of villages and grids to generate (tests use 0.05)",
        )

    def handle(self, *args, seed, scale, **options):
        if not 0 < scale <= 1:
            raise CommandError("--scale must be in (0, 1]")
        if demo_is_loaded():
            self.stdout.write("the demo county is already loaded; nothing to do")
            return
        summary = load_demo(
            seed=settings.DEMO_SEED if seed is None else seed,
            scale=scale,
            progress=lambda line: self.stderr.write(line),
        )
        counts = ", ".join(f"{k} {v:,}" for k, v in summary.counts.items())
        self.stdout.write(f"demo county loaded in {summary.seconds:.1f}s: {counts}")
