"""``civicgrid load_demo_warning [--days 28] [--every 7] [--end YYYY-MM-DD] [--full]``

Replays the nightly early-warning run over the demo's last weeks so the planted 僵尸车 (0101)
cluster of the demo cases is found and its signal shows in the warnings list and on the
cockpit map (see ``civicgrid.demo.warning``). Run ``load_demo`` and ``load_demo_cases`` first.
Fast Monte Carlo by default; ``--full`` uses each category's own setting (999 replicates).
A second run does nothing.
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from civicgrid.demo.cases import demo_cases_loaded
from civicgrid.demo.warning import DEFAULT_DAYS, demo_warning_loaded, generate_demo_warnings


class Command(BaseCommand):
    help = "Replay the nightly early-warning run over the demo's last weeks."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
        parser.add_argument(
            "--end",
            type=date.fromisoformat,
            default=None,
            help="the day the demo cases end (default: the day after the last case)",
        )
        parser.add_argument("--full", action="store_true", help="full Monte Carlo")
        parser.add_argument(
            "--every",
            type=int,
            default=7,
            help="before the last three nights, run one night in this many (1: every night)",
        )
        # The demo command passes every extra its share of the volume; the run looks at
        # whatever cases there are.
        parser.add_argument("--scale", type=float, default=None, help="ignored")

    def handle(self, *args, days, end, full, every=7, scale=None, **options):
        if days < 1 or every < 1:
            raise CommandError("--days and --every must be positive")
        if not demo_cases_loaded():
            raise CommandError("the demo cases are not loaded: run load_demo_cases first")
        if demo_warning_loaded():
            self.stdout.write("the demo warnings are already loaded; nothing to do")
            return
        summary = generate_demo_warnings(
            days=days,
            end=end,
            full=full,
            every=every,
            progress=(lambda line: self.stderr.write(line))
            if options.get("verbosity", 1) >= 1
            else None,
        )
        self.stdout.write(
            f"demo warnings {summary.first}…{summary.last}: {summary.signals} signal(s) "
            f"({summary.cluster_signals} of 0101 僵尸车), {summary.new} new, "
            f"{summary.updated} updated, {summary.grown} grown in {summary.seconds:.1f}s"
        )
        if summary.errors:
            self.stderr.write(f"{len(summary.errors)} detector run(s) failed (the others went on):")
            for line in summary.errors[:20]:
                self.stderr.write(f"  {line}")
