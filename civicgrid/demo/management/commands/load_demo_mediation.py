"""``civicgrid load_demo_mediation [--seed N] [--scale 1] [--days 365] [--end YYYY-MM-DD]
[--through-actions]``

A year of demo disputes (about 60,500 for the whole county at ``--scale 1``, with 3,755
reception-hall visitors and 14,000 12348 calls), the mediation organisations and mediators,
simulated on a simulated clock (see ``civicgrid.demo.mediation``). The rows are written in
bulk by ``civicgrid.demo.bulk_mediation``, which writes what the mediation actions would
(the registry included; ``bench/demo_mediation.py`` measures it);
``--through-actions`` makes every step through the actions themselves (~20 disputes/s).
Progress goes to stderr. Run ``load_demo`` first. A second run does nothing.
"""

from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from civicgrid.demo.loader import demo_is_loaded
from civicgrid.demo.mediation import demo_mediation_loaded, generate_demo_mediation


class Command(BaseCommand):
    help = "Generate a year of demo disputes (the mediation actions' rows, written in bulk)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=None, help="default: CIVICGRID_DEMO_SEED")
        parser.add_argument("--scale", type=float, default=1.0, help="1.0 ≈ 60,500 a year")
        parser.add_argument("--days", type=int, default=365)
        parser.add_argument("--end", type=date.fromisoformat, default=None)
        parser.add_argument(
            "--through-actions",
            action="store_true",
            help="make every step through the mediation actions (slow; the bulk path's reference)",
        )

    def handle(self, *args, seed, scale, days, end, through_actions, **options):
        if not 0 < scale <= 10:
            raise CommandError("--scale must be in (0, 10]")
        if days < 1:
            raise CommandError("--days must be at least 1")
        if not demo_is_loaded():
            raise CommandError("the demo county is not loaded: run load_demo first")
        if demo_mediation_loaded():
            self.stdout.write("the demo disputes are already loaded; nothing to do")
            return
        summary = generate_demo_mediation(
            seed=settings.DEMO_SEED if seed is None else seed,
            scale=scale,
            days=days,
            end=end,
            progress=lambda line: self.stderr.write(line),
            through_actions=through_actions,
        )
        states = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.by_state.items()))
        self.stdout.write(
            f"{summary.disputes:,} demo disputes from {summary.start} to {summary.end} in "
            f"{summary.seconds:.1f}s; success rate {summary.success_rate} %; {states}; "
            f"{summary.orgs} organisations, {summary.mediators} mediators, "
            f"{summary.visits:,} visitors, {summary.calls:,} calls"
        )
        for line in summary.errors:
            self.stderr.write(f"  stopped early: {line}")
