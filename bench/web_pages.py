"""Benchmark: how fast the main web pages answer at the demo's size (issue 4: under 300 ms).

Usage::

    .venv/bin/python bench/web_pages.py [--cases-scale 0.2] [--repeat 30]
    .venv/bin/python bench/web_pages.py --database-url postgres://postgres@127.0.0.1:5432/civicgrid

Loads the demo county at full size (1,497 grids, 20,000 staff) and a year of demo cases at
``--cases-scale`` into a fresh SQLite database in a temporary directory (or a throwaway
PostgreSQL database next to the named one), then requests each page ``--repeat`` times through
Django's full request stack (middleware, session, templates) as the person who uses it, and
prints the median, p95 and maximum in milliseconds, with the same run's ``/healthz`` (one
``SELECT 1``) as the baseline. Exits 0 whatever the figures (1 only if the run itself failed).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_MS = 300


def _pages(world):
    """(label, user name, url) of the pages people use most."""
    from django.urls import reverse

    case, dispatched = world
    return [
        ("health check (baseline)", None, "/healthz"),
        ("command room workbench", "lizhou", "/"),
        ("intake queue", "lizhou", reverse("case_list") + "?queue=intake"),
        ("all cases, page 1", "county", reverse("case_list") + "?queue=all"),
        ("overdue list", "county", reverse("case_list") + "?queue=overdue"),
        ("all cases, filtered", "county", reverse("case_list") + "?queue=all&category=01"),
        ("case page (owner)", "lizhou", reverse("case_detail", args=[case.code])),
        ("case page (department)", "police", reverse("case_detail", args=[dispatched.code])),
        ("county workbench", "county", "/"),
        ("department inbox", "police", "/"),
        ("grid worker workbench", "grid1", "/"),
        ("report page", "grid1", reverse("report")),
    ]


def _sample_cases():
    from civicgrid.cases.models import Case

    owned = Case.objects.filter(unit_code="330281001").order_by("-created").first()
    owned = owned or Case.objects.filter(region_code__startswith="330281001").first()
    dispatched = (
        Case.objects.filter(assignments__department__code="330281-public_security")
        .order_by("-created")
        .first()
    )
    return owned, dispatched or owned


def _measure(client, url, repeat):
    client.get(url)  # warm: templates compiled, locator and calendar loaded
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {response.status_code}")
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, times[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="demo county scale")
    parser.add_argument("--cases-scale", type=float, default=0.2, help="demo cases scale")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20241126)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    from _setup import throwaway_database

    with throwaway_database(args.database_url):
        from django.core.management import call_command

        print(f"loading the demo county (scale {args.scale}) …", file=sys.stderr)
        call_command("load_demo", scale=args.scale, seed=args.seed, verbosity=0)
        print(f"loading a year of cases (scale {args.cases_scale}) …", file=sys.stderr)
        call_command("load_demo_cases", scale=args.cases_scale, seed=args.seed, verbosity=0)
        _run(args)
    return 0


def _run(args) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from civicgrid.cases.models import Case

    clients = {}
    User = get_user_model()
    rows = []
    for label, username, url in _pages(_sample_cases()):
        if username not in clients:
            client = Client(HTTP_HOST="127.0.0.1")
            if username:
                client.force_login(User.objects.get(username=username))
            clients[username] = client
        median, p95, worst = _measure(clients[username], url, args.repeat)
        rows.append((label, username or "-", median, p95, worst))
        print(f"  {label}: median {median:.1f} ms", file=sys.stderr)

    base = rows[0][2] or 1e-9
    print("web-pages benchmark")
    print(f"  database:  {connection.vendor}; {Case.objects.count():,} cases")
    print(f"  requests:  {args.repeat} per page through the full Django stack (test client)")
    print(f"  {'page':<28} {'as':<8} {'median':>8} {'p95':>8} {'max':>8} {'×base':>7}  target")
    for label, who, median, p95, worst in rows:
        verdict = "ok" if p95 < TARGET_MS else f"OVER {TARGET_MS} ms"
        print(
            f"  {label:<28} {who:<8} {median:8.1f} {p95:8.1f} {worst:8.1f} "
            f"{median / base:7.1f}  {verdict}"
        )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        import traceback

        traceback.print_exc()
        sys.exit(1)
