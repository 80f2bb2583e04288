import time

from django.core.management import call_command
from django.core.management.base import BaseCommand

from civicgrid.demo.loader import DEMO_LOGINS, DEMO_PASSWORD

# After the county and its year of cases (full volume, written by the bulk path of
# demo.bulk_cases), the other ends of the system, in this order (each a load_demo_<name>
# command that does nothing when its data is already there): visits, special campaigns,
# co-governance members, department staff on call, disputes, rewards, then the early warning
# and the reports. name → share of --extras-scale (default 0.2: the visits, campaigns and the
# rest through their actions, as before).
EXTRAS = {
    "visits": 1.0,
    "campaigns": 1.0,
    "cogovernance": 1.0,
    "oncall": 1.0,
    "mediation": 1.0,
    "incentives": 1.0,
    "warning": 1.0,  # the nightly early-warning run over the last weeks (finds the 僵尸车 cluster)
    "analytics": 1.0,  # a year of daily, weekly and monthly reports (after the signals)
}
# Steps whose volume follows --cases-scale instead: the disputes, a county's year of ~56,000
# at 1.0 like the cases, written by the bulk path of demo.bulk_mediation (decision 45).
FOLLOW_CASES = {"mediation"}


class Command(BaseCommand):
    help = (
        "Fetch the browser assets if missing, migrate, load the demo county if needed, "
        "print the demo logins and serve it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000")
        parser.add_argument("--no-serve", action="store_true", help="set up only")
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
        call_command("migrate", interactive=False, verbosity=0)
        self.stderr.write("database migrated")
        call_command("load_demo")
        if cases_scale > 0:
            self.stderr.write("generating a year of cases …")
            step = time.monotonic()
            call_command("load_demo_cases", scale=cases_scale)
            self.stderr.write(f"demo cases: {time.monotonic() - step:.0f} s")
            extras = min(0.2, cases_scale) if extras_scale is None else extras_scale
            for name, share in EXTRAS.items():
                step = time.monotonic()
                self.stderr.write(f"demo {name} …")
                scale = cases_scale if name in FOLLOW_CASES else extras
                call_command(f"load_demo_{name}", scale=scale * share)
                self.stderr.write(f"demo {name}: {time.monotonic() - step:.0f} s")
        self.stderr.write(f"demo ready in {time.monotonic() - started:.0f} s")
        self.stdout.write("\nDemo logins (password for all: %s):" % DEMO_PASSWORD)
        for username, _role, _where, _dept, description in DEMO_LOGINS:
            self.stdout.write(f"  {username:<10} {description}")
        self.stdout.write(f"\nOpen http://{addrport}/ (admin: http://{addrport}/admin/)\n")
        if not no_serve:
            from civicgrid.cases.scheduler import start_background_jobs

            start_background_jobs()  # tick + send every minute, as cron would in production
            call_command("runserver", addrport, use_reloader=False)
