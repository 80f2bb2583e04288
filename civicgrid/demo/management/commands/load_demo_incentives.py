"""``civicgrid load_demo_incentives [--seed N] [--scale 0.2]``

The "141" reward scheme (试行, then 正式版), townships' budgets, about 640 × scale high-value
report nominations on closed demo cases through review and approval (a few refused or revoked),
and twelve published typical cases (see ``civicgrid.demo.incentives``). Run ``load_demo`` and
``load_demo_cases`` first. A second run does nothing.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from civicgrid.demo.incentives import demo_incentives_loaded, generate_demo_incentives
from civicgrid.demo.loader import demo_is_loaded

DEFAULT_SCALE = 0.2


class Command(BaseCommand):
    help = "Generate a year of high-value report rewards and typical cases (after load_demo_cases)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=None, help="default: CIVICGRID_DEMO_SEED")
        parser.add_argument(
            "--scale",
            type=float,
            default=DEFAULT_SCALE,
            help=f"1.0 is about 640 rewarded reports a year (default {DEFAULT_SCALE})",
        )

    def handle(self, *args, seed, scale, **options):
        if not 0 < scale <= 10:
            raise CommandError("--scale must be in (0, 10]")
        if not demo_is_loaded():
            raise CommandError("the demo county is not loaded: run load_demo first")
        if demo_incentives_loaded():
            self.stdout.write("the incentives demo is already loaded; nothing to do")
            return
        try:
            summary = generate_demo_incentives(
                seed=settings.DEMO_SEED if seed is None else seed,
                scale=scale,
                progress=lambda line: self.stderr.write(line),
            )
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        states = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.by_state.items()))
        self.stdout.write(
            f"{summary.nominations:,} nominations ({states}); {summary.typical_cases} typical "
            f"cases published; {summary.errors} steps refused; {summary.seconds:.1f}s"
        )
