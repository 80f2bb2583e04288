"""Soak: a steady stream of reports with the command room and a department working the cases
at the same time, against a real server process, for minutes (issue 12, 7).

Usage::

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 5]
    .venv/bin/python bench/soak.py --minutes 10 --database-url postgres://postgres@127.0.0.1:5432/civicgrid

A fresh database (SQLite in a temporary directory, or a throwaway ``soak_<pid>`` database next
to the named PostgreSQL one, dropped at the end) gets the small demo county (scale 0.05) and
API tokens for three people; a production server serves it in its own process: gunicorn
(``--server gunicorn``, the default: ``--workers`` gthread workers with ``--threads`` threads
each, serving ``civicgrid.wsgi``) or ``civicgrid runserver`` (``--server runserver``, the
development server the soak used before). Then, at the same time:

* intake: grid1 reports ``--rate`` cases a second through the REST API into a neighbouring
  grid (so they go to the township command room), each with its own idempotency key, and
  retries anything that got no answer with the same key;
* the command room (lizhou): takes its tasks, accepts each and dispatches it to the township
  police;
* the department (a township police handler): signs each dispatched case and feeds back.

It prints every 30 s and at the end: reports acknowledged, actions done, answers by status,
latency p50/p95/p99, the server's resident memory (first minute vs last minute; with gunicorn
the largest worker's, the master only forks and watches) and the
checks: no 5xx, no lost or doubled report (every acknowledged code stored once, one case per
key), the audit chain intact. Exit status 1 if a check fails. ``--check`` runs 30 seconds (the
short form CI can afford).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from civicgrid.core.tests.live_server import Server, run_command  # noqa: E402

SETUP = """
import json
from civicgrid.api.actions import do_create_personal_token
from civicgrid.core.roles import Role
from civicgrid.people.actions import do_assign_role, do_create_login, do_create_person
from civicgrid.people.models import Department, RoleAssignment
from civicgrid.regions.models import Grid
from django.contrib.auth import get_user_model
U = get_user_model().objects
admin = U.get(username="admin")
dept = Department.objects.get(code="330281001-public_security")
person = do_create_person(name="soak-police", region=dept.region, is_resident=False, actor=admin)
do_create_login(person, username="soak-police", password="Kx7-river-lamp-93", actor=admin)
do_assign_role(person, Role.DEPARTMENT_HANDLER, department=dept, actor=admin)
own = RoleAssignment.objects.get(person__user__username="grid1").grid
other = Grid.objects.filter(code__startswith=own.code[:9], kind="basic").exclude(pk=own.pk)[0]
tokens = {}
for name in ("grid1", "lizhou", "soak-police"):
    _key, secret = do_create_personal_token(name="soak", actor=U.get(username=name))
    tokens[name] = secret
print(json.dumps({"tokens": tokens, "grid": other.code, "department": dept.code}))
"""


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:  # a worker that has just been replaced
        pass
    return 0.0


class GunicornServer(Server):
    """gunicorn serving ``civicgrid.wsgi`` instead of ``runserver``, on the same database."""

    def __init__(self, database_url: str, tmp_path, *, workers: int, threads: int):
        super().__init__(database_url, tmp_path)
        self.workers, self.threads = workers, threads

    def start(self):
        gunicorn = Path(sys.executable).with_name("gunicorn")
        if not gunicorn.exists():
            raise SystemExit("gunicorn is not installed (it is a dependency: pip install -e .)")
        command = [
            str(gunicorn),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(self.threads),
            "--timeout",
            "60",
            "civicgrid.wsgi:application",
        ]
        with self.log.open("a") as out:
            self.process = subprocess.Popen(command, env=self.env, stdout=out, stderr=out)
        self.wait_until_up()

    def worker_pids(self) -> list[int]:
        pid = self.process.pid
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def server_rss_mb(server: Server) -> float:
    """The server's resident memory: the largest gunicorn worker, or runserver's process."""
    if isinstance(server, GunicornServer):
        return max((rss_mb(pid) for pid in server.worker_pids()), default=0.0)
    return rss_mb(server.process.pid)


class Soak:
    def __init__(self, server: Server, setup: dict, rate: float, seconds: float):
        self.server, self.setup, self.rate, self.seconds = server, setup, rate, seconds
        self.statuses: Counter = Counter()
        self.latencies: list[float] = []
        self.acknowledged: dict[str, str] = {}
        self.actions = Counter()
        self.errors: list[str] = []
        self.refused: list[str] = []  # the first few 4xx, to show what was refused
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def call(self, who, method_path, payload=None):
        token = self.setup["tokens"][who]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        started = time.perf_counter()
        if payload is None:
            status, answer = self.server.get_json(method_path, headers=headers)
        else:
            status, answer = self.server.request_json(method_path, payload, headers=headers)
        with self.lock:
            self.statuses[status] += 1
            self.latencies.append(time.perf_counter() - started)
            if status >= 500 or status == 0:
                self.errors.append(f"{who} {method_path}: {status} {str(answer)[:200]}")
            elif status >= 400 and len(self.refused) < 5:
                self.refused.append(f"{who} {method_path}: {status} {str(answer)[:300]}")
        return status, answer

    def intake(self):
        n, pending = 0, []
        interval = 1 / self.rate
        next_at = time.monotonic()
        while not self.stop.is_set():
            key = pending.pop(0) if pending else f"soak-{n:06d}"
            if key == f"soak-{n:06d}":
                n += 1
            body = {
                "description": f"道路破损 {key}",
                "grid": self.setup["grid"],
                "idempotency_key": key,
            }
            status, answer = self.call("grid1", "/api/v1/cases", body)
            if status in (200, 201):
                with self.lock:
                    self.acknowledged[key] = answer["code"]
            else:
                pending.append(key)
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    def command_room(self):
        department = self.setup["department"]
        while not self.stop.is_set():
            status, page = self.call("lizhou", "/api/v1/tasks?page_size=50")
            worked = 0
            for case in page.get("results", []) if status == 200 else []:
                code, state = case["code"], case["state"]
                if state == "reported":
                    if (
                        self.call("lizhou", f"/api/v1/cases/{code}/accept", {"category": "0101"})[0]
                        == 200
                    ):
                        self.actions["accept"] += 1
                        worked += 1
                    state = "accepted"
                if state == "accepted":
                    body = {"lead": department}
                    if self.call("lizhou", f"/api/v1/cases/{code}/dispatch", body)[0] == 200:
                        self.actions["dispatch"] += 1
                        worked += 1
            if not worked:
                time.sleep(0.5)

    def department(self):
        while not self.stop.is_set():
            status, page = self.call("soak-police", "/api/v1/tasks?page_size=50")
            worked = 0
            for case in page.get("results", []) if status == 200 else []:
                code = case["code"]
                if case["state"] == "dispatched":
                    if self.call("soak-police", f"/api/v1/cases/{code}/sign", {})[0] == 200:
                        self.actions["sign"] += 1
                        worked += 1
                elif case["state"] == "in_progress":
                    body = {"text": "已处理，路面修复。"}
                    if self.call("soak-police", f"/api/v1/cases/{code}/feedback", body)[0] == 200:
                        self.actions["feedback"] += 1
                        worked += 1
            if not worked:
                time.sleep(0.5)

    def run(self):
        memory = []
        threads = [
            threading.Thread(target=f, daemon=True)
            for f in (self.intake, self.command_room, self.department)
        ]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        last_print = started
        while time.monotonic() - started < self.seconds:
            time.sleep(1)
            memory.append((time.monotonic() - started, server_rss_mb(self.server)))
            if time.monotonic() - last_print >= 30:
                last_print = time.monotonic()
                self.progress(time.monotonic() - started, memory[-1][1])
        self.stop.set()
        for thread in threads:
            thread.join(timeout=60)
        return memory

    def progress(self, elapsed, rss):
        with self.lock:
            print(
                f"[{elapsed:6.0f} s] reports {len(self.acknowledged)}, actions "
                f"{dict(self.actions)}, answers {dict(self.statuses)}, server {rss:.0f} MB",
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=5, help="reports per second")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--check", action="store_true", help="30 seconds, for CI")
    parser.add_argument("--server", choices=("gunicorn", "runserver"), default="gunicorn")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    args = parser.parse_args()
    seconds = 30 if args.check else args.minutes * 60
    workdir = Path(tempfile.mkdtemp(prefix="civicgrid-soak-"))
    dropped = None
    if args.database_url:
        import psycopg

        name = f"soak_{os.getpid()}"
        base = args.database_url.rsplit("/", 1)[0]
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url, dropped = f"{base}/{name}", (args.database_url, name)
    else:
        url = f"sqlite:///{workdir / 'soak.sqlite3'}"
    if args.server == "gunicorn":
        server = GunicornServer(url, workdir, workers=args.workers, threads=args.threads)
    else:
        server = Server(url, workdir)
    # The per-token API rate limit (600 a minute) would throttle the command room's polling:
    # this measures capacity, not the limit.
    server.env["CIVICGRID_API_RATE_PER_MINUTE"] = "1000000"
    print(
        f"database {url.split('@')[-1]}: migrating and loading the small demo county …", flush=True
    )
    run_command(server.env, "migrate", "--verbosity", "0", timeout=1200)
    run_command(server.env, "load_demo", "--scale", "0.05", "--seed", "7", "--verbosity", "0")
    setup = json.loads(run_command(server.env, "shell", "-c", SETUP).splitlines()[-1])
    server.start()
    kind = (
        f"gunicorn, {args.workers} workers × {args.threads} threads"
        if args.server == "gunicorn"
        else "runserver"
    )
    print(
        f"soak: {seconds:.0f} s at {args.rate:g} reports/s, the command room and a department"
        f" working; server: {kind}",
        flush=True,
    )
    soak = Soak(server, setup, args.rate, seconds)
    failures = []
    try:
        memory = soak.run()
        soak.progress(seconds, memory[-1][1] if memory else 0)
    finally:
        server.stop()
    # Checks on the stored data.
    codes = set(soak.acknowledged.values())
    stored = json.loads(
        run_command(
            server.env,
            "shell",
            "-c",
            "import json; from civicgrid.cases.models import Case; "
            "print(json.dumps(list(Case.objects.filter(idempotency_key__isnull=False)"
            ".values_list('code', flat=True))))",
        ).splitlines()[-1]
    )
    audit = run_command(server.env, "verify_audit")
    if dropped:
        import psycopg

        with psycopg.connect(dropped[0], autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{dropped[1]}" WITH (FORCE)')
    latencies = sorted(soak.latencies)
    quantile = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    first = [rss for t, rss in memory if t <= 60]
    last = [rss for t, rss in memory if t >= seconds - 60]
    print("\nresults")
    print(
        f"  reports acknowledged   {len(soak.acknowledged)}"
        f" ({len(soak.acknowledged) / seconds:.1f}/s)"
    )
    print(f"  actions                {dict(soak.actions)}")
    print(f"  answers by status      {dict(sorted(soak.statuses.items()))}")
    print(
        f"  latency ms             p50 {quantile(0.5):.0f}, p95 {quantile(0.95):.0f},"
        f" p99 {quantile(0.99):.0f}"
    )
    print(
        f"  server RSS MB          first minute {statistics.mean(first):.0f}, last minute "
        f"{statistics.mean(last):.0f}, max {max(r for _t, r in memory):.0f}"
    )
    print(f"  audit                  {audit.strip()}")
    for refused in soak.refused:
        print(f"  refused                {refused}")
    if soak.errors:
        failures.append(f"{len(soak.errors)} server errors or no answer, e.g. {soak.errors[:3]}")
    if len(stored) != len(set(stored)) or set(stored) != codes:
        failures.append(f"stored {len(stored)} cases, acknowledged {len(codes)}: lost or doubled")
    if "intact" not in audit:
        failures.append("audit chain not intact")
    for failure in failures:
        print(f"FAIL {failure}")
    print("PASS" if not failures else "FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
