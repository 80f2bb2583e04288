"""``civicgrid load_demo_analytics [--full]``

A year of daily, weekly and monthly reports over the demo cases, with themes and follow-up
items chosen by the county centre (see ``civicgrid.demo.analytics``). Run ``load_demo`` and
``load_demo_cases`` first. A second run does nothing. ``--scale`` is accepted (the demo command
passes it) and ignored: the number of reports follows the calendar, not the volume.
"""

from django.core.management.base import BaseCommand, CommandError

from civicgrid.demo.analytics import demo_analytics_loaded, generate_demo_analytics
from civicgrid.demo.loader import demo_is_loaded


class Command(BaseCommand):
    help = "Generate a year of daily, weekly and monthly reports (after load_demo_cases)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--full",
            action="store_true",
            help="every township's reports of the whole year (default: the last weeks only)",
        )
        parser.add_argument("--scale", type=float, default=None, help="ignored")
        parser.add_argument("--seed", type=int, default=None, help="ignored")

    def handle(self, *args, full, **options):
        if not demo_is_loaded():
            raise CommandError("the demo county is not loaded: run load_demo first")
        if demo_analytics_loaded():
            self.stdout.write("the analytics demo is already loaded; nothing to do")
            return
        try:
            summary = generate_demo_analytics(
                full=full, progress=lambda line: self.stderr.write(line)
            )
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        kinds = ", ".join(f"{n:,} {kind}" for kind, n in sorted(summary.by_kind.items()))
        self.stdout.write(
            f"reports: {kinds}; {summary.themes} monthly themes chosen, {summary.follow_ups} "
            f"follow-up items; {summary.seconds:.1f}s"
        )
