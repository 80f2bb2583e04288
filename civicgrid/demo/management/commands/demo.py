import os
import subprocess
import sys
import threading
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from civicgrid.demo import chunks, side_by_side, status
from civicgrid.demo.loader import DEMO_LOGINS, DEMO_PASSWORD
from civicgrid.demo.management.commands.load_demo_extras import EXTRAS

# Seconds a transaction of the loading behind the server may stay open (demo.chunks): well
# under SQLite's 5 s busy timeout, so a visitor's write waits a moment at most.
COMMIT_EVERY = "0.5"


class Command(BaseCommand):
    help = (
        "Fetch the browser assets if missing, migrate, load the demo county, its cases and "
        "disputes if needed, print the demo logins and serve it while the rest loads behind."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000")
        parser.add_argument(
            "--no-serve", action="store_true", help="set everything up, then stop (no server)"
        )
        parser.add_argument(
            "--cases-scale",
            type=float,
            default=1.0,
            help="volume of the demo year of cases and disputes (1.0, the default, ≈ 30,000 "
            "cases and ≈ 56,000 disputes, a county's year; 0 = the county only)",
        )
        parser.add_argument(
            "--extras-scale",
            type=float,
            default=None,
            help="volume of the visits, campaigns, members, summons and rewards; "
            "default: the smaller of 0.2 and --cases-scale (the disputes follow --cases-scale)",
        )

    def handle(self, *args, addrport, no_serve, cases_scale, extras_scale=None, **options):
        started = time.monotonic()
        # htmx, ECharts, Leaflet: pinned npm tarballs, fetched once (a no-op when present)
        call_command("fetch_assets", stdout=self.stderr)
        extras = min(0.2, cases_scale) if extras_scale is None else extras_scale
        interrupted = status.left_behind()
        skip = ["--skip", interrupted] if interrupted else []
        if interrupted:
            self.stderr.write(
                f"the demo's loading stopped half-way through {interrupted} last time: its "
                "rows are partly there and it is not loaded again (to start afresh, stop the "
                "demo and delete the database under the var directory)"
            )
            status.clear()
        # Migrate, the county, then the two bulk paths (decisions 18 and 45), which number
        # their rows and audit events ahead and write in one transaction each: before anyone
        # can log in. Each runs in a process of its own (its memory is free after), the two
        # bulk paths at once where they can (_load_year).
        # (the disputes' registry too: the cases read the mediator roles it gives)
        first = ["migrate", "county", *(["mediators"] if cases_scale > 0 else [])]
        self._load(first, max(cases_scale, 0))
        if cases_scale > 0:
            self._load_year(cases_scale)
        if no_serve or cases_scale <= 0:
            if cases_scale > 0:
                self._load(EXTRAS, extras, skip)
            self.stderr.write(f"demo ready in {time.monotonic() - started:.0f} s")
            self._logins(addrport)
            if not no_serve:
                self._serve(addrport)
            return
        # Serve now; the other ends load behind, one subprocess a step (their own simulated
        # clocks; each step's memory free after it: together in one process they reached
        # ~860 MiB, none alone 500), in short transactions (demo.chunks), each step named on
        # every page meanwhile (demo.status, written here: this process is the one alive).
        self.stderr.write(
            f"demo served in {time.monotonic() - started:.0f} s; the visits, campaigns, "
            "co-governance, on call, rewards, early warning and reports load behind it"
        )
        self._logins(addrport)
        env = dict(os.environ, **{chunks.ENV: COMMIT_EVERY})
        command = [sys.executable, "-m", "civicgrid", "load_demo_extras", "--scale", str(extras)]
        status.write(EXTRAS[0], 0, len(EXTRAS))  # the banner from the first page on
        current: list[subprocess.Popen] = []

        def load_behind():
            code = 0
            for done, name in enumerate(EXTRAS):
                if name == interrupted:
                    continue
                status.write(name, done, len(EXTRAS))
                current[:] = [subprocess.Popen([*command, "--steps", name], env=env)]
                code = current[0].wait()
                if code != 0:
                    break
            status.clear()
            if code == 0:
                self.stderr.write(f"demo ready in {time.monotonic() - started:.0f} s")
            else:
                self.stderr.write(f"the demo's loading behind the server failed (exit {code})")
            self._start_jobs()

        threading.Thread(target=load_behind, daemon=True, name="demo-extras").start()
        try:
            self._serve(addrport, jobs=False)
        finally:
            for loader in current:
                if loader.poll() is None:
                    loader.terminate()
                    loader.wait(timeout=30)

    def _load_year(self, scale: float) -> None:
        """The year of disputes and of cases: on SQLite's first start at once, the disputes
        into the database and the cases into a copy merged after (demo.side_by_side,
        decisions 53 and 54); else one after the other (each does nothing when its rows are
        there)."""
        applies, main = side_by_side.applies(), side_by_side.database()
        connection.close()  # this process only asked; the loaders write
        if not applies:
            self._load(["mediation", "cases"], scale)
            return
        try:
            side_by_side.load(main, scale)
        except RuntimeError as error:
            raise CommandError(str(error)) from error

    def _load(self, steps: list[str], scale: float, more=()) -> None:
        command = [sys.executable, "-m", "civicgrid", "load_demo_extras", "--steps", *steps]
        done = subprocess.run([*command, "--scale", str(scale), *more], check=False)
        if done.returncode != 0:
            raise CommandError(f"loading the demo's {', '.join(steps)} failed")

    def _logins(self, addrport):
        self.stdout.write("\nDemo logins (password for all: %s):" % DEMO_PASSWORD)
        for username, _role, _where, _dept, description in DEMO_LOGINS:
            self.stdout.write(f"  {username:<10} {description}")
        self.stdout.write(f"\nOpen http://{addrport}/ (admin: http://{addrport}/admin/)\n")
        self.stdout.flush()

    def _start_jobs(self):
        from civicgrid.cases.scheduler import start_background_jobs

        start_background_jobs()  # tick + send every minute, as cron would in production

    def _serve(self, addrport, *, jobs=True):
        # The jobs start once the demo is loaded: tick on real time while the loaders move
        # their simulated clocks through the year would act on cases they are not done with.
        if jobs:
            self._start_jobs()
        call_command("runserver", addrport, use_reloader=False)
