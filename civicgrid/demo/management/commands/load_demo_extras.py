import argparse
import gc
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from civicgrid.demo import schema, side_by_side, status
from civicgrid.demo.mediation import demo_registry_loaded, generate_demo_registry

# After the county, its cases and its disputes (which ``demo`` loads before it serves), the
# other ends of the system in this order, each a load_demo_<name> command that does nothing
# when its data is already there: visits, special campaigns, co-governance members,
# department staff on call, rewards, then the early warning (it finds the 僵尸车 cluster) and
# a year of reports, after everything that makes cases.
EXTRAS = list(status.STEPS)
# What ``demo`` does before it serves — migrate, the county (``load_demo``, whole, whatever
# --scale) and the two bulk paths (the year of disputes, the year of cases) — in a process of
# its own too, so that their memory is the system's again when the server starts.
# "merge": the cases loaded beside the disputes into a copy of the database brought over
# (demo.side_by_side; ``demo`` runs the two at once on SQLite).
# "mediators": the disputes' registry (organisations, mediators), whose roles the cases read.
BULK = ["migrate", "county", "mediators", "mediation", "cases", "merge"]


class Command(BaseCommand):
    help = (
        "Load the demo's other ends after its cases (visits, campaigns, co-governance, on "
        "call, rewards, early warning, reports); what `demo` runs behind the server."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            type=float,
            default=0.2,
            help="volume of the visits, campaigns, members, summons and rewards (default 0.2)",
        )
        parser.add_argument(
            "--steps",
            nargs="+",
            default=EXTRAS,
            choices=BULK + EXTRAS,
            help="the steps to load, in this order (default: the visits to the reports)",
        )
        parser.add_argument(
            "--skip",
            action="append",
            default=[],
            choices=EXTRAS,
            help="a step not to load (repeat for more)",
        )
        parser.add_argument(
            "--merge-when-told",
            action="store_true",
            help=argparse.SUPPRESS,  # demo.side_by_side.load: prepare, merge on "go" (stdin)
        )

    def handle(self, *args, scale, skip=(), steps=EXTRAS, merge_when_told=False, **options):
        if scale < 0:
            raise CommandError("--scale must not be negative")
        started = time.monotonic()
        for name in steps:
            if name in skip:
                self.stderr.write(f"demo {name}: skipped")
                continue
            step = time.monotonic()
            self.stderr.write(f"demo {name} …")
            if name == "migrate":  # the migration graph stays in this process
                # a new SQLite database: the migrated schema's SQL first (decision 56)
                if schema.load():
                    self.stderr.write("demo schema: the migrated schema's snapshot")
                call_command("migrate", interactive=False, verbosity=0)
            elif name == "county":
                call_command("load_demo")
            elif name == "mediators":
                if not demo_registry_loaded():
                    orgs, mediators = generate_demo_registry(seed=settings.DEMO_SEED)
                    self.stderr.write(f"{orgs} organisations, {mediators} mediators")
            elif name == "merge":
                told = self._told if merge_when_told else None
                try:
                    side_by_side.merge(progress=self.stderr.write, when_told=told)
                except RuntimeError as error:
                    raise CommandError(str(error)) from error
            elif name in ("cases", "mediation"):
                # The bulk paths hold a year of rows: the cyclic collector's default (a
                # pass every 700 new objects) walked them for ~7 % of the cases' CPU
                # (26.8 → 25.0 s at scale 0.3, twice each). Rarer passes for these two
                # only: elsewhere garbage in cycles would pile up (the extras reached
                # ~950 MiB with them).
                defaults = gc.get_threshold()
                gc.set_threshold(50_000, 20, 100)
                try:
                    call_command(f"load_demo_{name}", scale=scale)
                finally:
                    gc.set_threshold(*defaults)
                    gc.collect()
            else:
                call_command(f"load_demo_{name}", scale=scale)
            self.stderr.write(f"demo {name}: {time.monotonic() - step:.0f} s")
        if steps == EXTRAS:
            self.stderr.write(f"demo extras: {time.monotonic() - started:.0f} s")

    @staticmethod
    def _told() -> None:
        """Wait for ``side_by_side.load`` to say the database's own run is done."""
        if sys.stdin.buffer.readline() != side_by_side.GO:
            raise CommandError("the merge was not told to go: the other run failed")
