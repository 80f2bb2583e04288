"""Benchmark: sustained report intake through a production server (gunicorn), issue 11 target 1/4.

Usage::

    .venv/bin/python bench/intake_server.py --database-url postgres://postgres@127.0.0.1:5432/civicgrid
    .venv/bin/python bench/intake_server.py                     # SQLite, for comparison
    .venv/bin/python bench/intake_server.py --workers 4 --connections 8 --seconds 20
    .venv/bin/python bench/intake_server.py --seconds 5 --check # smoke run (exit 3 if invalid)

A throwaway database (``bench/_setup.py``: SQLite in a temporary directory, or
``test_<name>_bench_<pid>`` next to the named PostgreSQL database, dropped at the end) gets the
demo county at ``--scale`` (0.05, the test county), an anonymous Open311 key and a personal REST
token for the grid worker ``grid1``. Then:

1. gunicorn serves ``civicgrid.wsgi`` on 127.0.0.1 (``--workers`` sync workers, or the
   ``gthread`` worker with ``--threads`` > 1) with the URLconf ``civicgrid.urls`` plus the
   baseline ``POST /bench/baseline`` of ``bench/open311_replay.py`` (the same view: parse the
   form, INSERT one row into ``bench_baseline`` in a transaction — reused, not copied);
2. the load generator is ``wrk`` (Debian package ``wrk``, C with LuaJIT; ``--connections``
   keep-alive connections on one thread), which costs a few percent of one core: it shares the
   machine's 2 cores with the server and PostgreSQL, as any client on the same box does;
3. phases of ``--seconds`` each, in this order: baseline, Open311 ``POST
   /open311/v2/requests.json`` (form, photo-less, ``X-Idempotency-Key`` unique per request),
   REST ``POST /api/v1/cases`` (JSON, photo-less, ``idempotency_key`` unique per request), and
   the baseline again (the baseline figure is the mean of the two, so drift shows);
4. it prints, per phase, req/s, p50/p95/p99/max (wrk's own histogram), errors (non-2xx and
   socket errors), the largest RSS of any gunicorn worker while the phase ran (sampled every
   0.25 s from /proc) and the ratio to the baseline; then checks the rows: every id a 2xx answer
   carried is stored exactly once, and no more reports were stored than were sent (wrk drops the
   answers still in flight when a phase ends: those reports may be stored unacknowledged).

Exit status 0 whatever the figures (1 if the run itself failed); with ``--check``, 3 if the run
is invalid (an error, or an acknowledged report missing or doubled).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (str(ROOT), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import open311_replay  # noqa: E402  (the baseline view, the day generator)

OPEN311_PATH = "/open311/v2/requests.json"
REST_PATH = "/api/v1/cases"
BODIES = 400  # distinct payloads per phase; each request still gets its own idempotency key


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the app


def application():
    """gunicorn's app factory (``intake_server:application()``): civicgrid.wsgi + baseline."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicgrid.settings")
    import django

    django.setup()
    from django.conf import settings

    settings.ROOT_URLCONF = open311_replay._baseline_urlconf()
    from civicgrid.wsgi import application as wsgi

    return wsgi


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    def __init__(self, env: dict[str, str], *, workers: int, threads: int, log: Path):
        self.port = free_port()
        command = [
            str(Path(sys.executable).with_name("gunicorn")),
            "--chdir",
            str(HERE),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--backlog",
            "2048",
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ]
        if threads > 1:
            command += ["--worker-class", "gthread", "--threads", str(threads)]
        command.append("intake_server:application()")
        self.command = command
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
            status, _data, _s = open311_replay.request(self.port, "GET", "/healthz")
            if status == 200 and len(self.workers()) >= workers:
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not answer: {log.read_text()[-2000:]}")
            time.sleep(0.3)

    def workers(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pids) -> dict[int, float]:
    """user + system CPU time of each of these processes (from /proc)."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two readings; a process started meanwhile counts whole (a
    PostgreSQL backend replaced meanwhile, CONN_MAX_AGE, loses its last seconds)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def database_pids(name: str) -> list[int]:
    """The PostgreSQL backends serving the bench's database (same machine: /proc works)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        pids = [row[0] for row in cursor.fetchall()]
    connection.close()
    return pids


class RssSampler:
    """The largest RSS of any worker, sampled every 0.25 s while a phase runs."""

    def __init__(self, server: Gunicorn):
        self.server, self.peak, self.stop = server, 0.0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            for pid in self.server.workers():
                self.peak = max(self.peak, rss_mb(pid))
            self.stop.wait(0.25)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


# --------------------------------------------------------------------------- the load

LUA = r"""
-- Generated by bench/intake_server.py: cycle through the bodies, a fresh key per request,
-- record the id of every 2xx answer (one line per answer, flushed) and the figures at the end.
local bodies = %(bodies)s
local method, path, kind, tag, out = %(method)s, %(path)s, %(kind)s, %(tag)s, %(out)s
local base_headers = %(headers)s
local threads = {}
counter = 0

function setup(thread)
  thread:set("number", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  file = io.open(out .. "." .. number, "w")
end

function request()
  counter = counter + 1
  local key = tag .. "-" .. number .. "-" .. counter
  local body = bodies[(counter %% #bodies) + 1]
  local headers = {}
  for k, v in pairs(base_headers) do headers[k] = v end
  if kind == "rest" then
    body = string.gsub(body, "@KEY@", key)
  else
    headers["X-Idempotency-Key"] = key
  end
  return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
  local id = "-"
  if status >= 200 and status < 300 then
    if kind == "rest" then
      id = string.match(body, '"receipt"%%s*:%%s*"([^"]+)"')
        or string.match(body, '"code"%%s*:%%s*"([^"]+)"') or "?"
    else
      id = string.match(body, '"service_request_id"%%s*:%%s*"([^"]+)"')
        or string.match(body, '"token"%%s*:%%s*"([^"]+)"') or "?"
    end
  end
  file:write(status, " ", id, "\n")
  file:flush()
end

function done(summary, latency, requests)
  local sent = 0
  for _, t in ipairs(threads) do sent = sent + (t:get("counter") or 0) end
  local e = summary.errors
  io.write("WRKJSON ", string.format(
    '{"requests":%%d,"duration_us":%%d,"sent":%%d,"connect":%%d,"read":%%d,"write":%%d,' ..
    '"status":%%d,"timeout":%%d,"p50":%%d,"p95":%%d,"p99":%%d,"max":%%d}',
    summary.requests, summary.duration, sent, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max), "\n")
end
"""


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def _lua_table(items) -> str:
    return "{" + ",".join(_lua_string(item) for item in items) + "}"


def _lua_map(mapping: dict[str, str]) -> str:
    return (
        "{" + ",".join(f"[ {_lua_string(k)} ]={_lua_string(v)}" for k, v in mapping.items()) + "}"
    )


def write_script(workdir: Path, phase: str, kind: str, path: str, bodies, headers) -> Path:
    out = workdir / f"answers-{phase}"
    text = LUA % {
        "bodies": _lua_table(bodies),
        "method": _lua_string("POST"),
        "path": _lua_string(path),
        "kind": _lua_string(kind),
        "tag": _lua_string(f"bench{phase}"),
        "out": _lua_string(str(out)),
        "headers": _lua_map(headers),
    }
    script = workdir / f"{phase}.lua"
    script.write_text(text)
    return script


class Phase:
    def __init__(self, label: str, path: str, figures: dict, answers: list[tuple[int, str]]):
        self.label, self.path, self.figures, self.answers = label, path, figures, answers
        self.rss = 0.0
        self.cpu = {"server": 0.0, "database": 0.0, "wrk": 0.0}  # CPU seconds in the phase

    def cpu_ms(self, part: str) -> float:
        """CPU milliseconds per answered request: what the load on the machine does not hide."""
        answered = len(self.answers)
        return self.cpu[part] * 1000 / answered if answered else float("nan")

    @property
    def seconds(self) -> float:
        return self.figures["duration_us"] / 1e6

    @property
    def ok(self) -> int:
        return sum(1 for status, _id in self.answers if 200 <= status < 300)

    @property
    def non_2xx(self) -> int:
        return sum(1 for status, _id in self.answers if not 200 <= status < 300)

    @property
    def socket_errors(self) -> int:
        f = self.figures
        return f["connect"] + f["read"] + f["write"] + f["timeout"]

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def ids(self) -> list[str]:
        return [i for status, i in self.answers if 200 <= status < 300]


def run_wrk(
    server: Gunicorn, workdir: Path, label: str, kind: str, path: str, bodies, headers, args
) -> Phase:
    script = write_script(workdir, label, kind, path, bodies, headers)
    command = [
        "wrk",
        "-t",
        "1",
        "-c",
        str(args.connections),
        "-d",
        f"{args.seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        f"http://127.0.0.1:{server.port}",
    ]
    progress(f"{label}: wrk -c {args.connections} -d {args.seconds}s POST {path} …")
    before = cpu_seconds(server.workers()), cpu_seconds(database_pids(args.database_name))
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # only wrk terminates meanwhile
    with RssSampler(server) as sampler:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.seconds + 120)
    wrk_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (wrk_usage.ru_utime + wrk_usage.ru_stime) - (children.ru_utime + children.ru_stime)
    after = cpu_seconds(server.workers()), cpu_seconds(database_pids(args.database_name))
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk said: {done.stdout[-1500:]} {done.stderr[-1500:]}")
    figures = json.loads(line.removeprefix("WRKJSON "))
    answers = []
    for file in sorted(workdir.glob(f"answers-{label}.*")):
        for row in file.read_text().splitlines():
            status, _sep, ident = row.partition(" ")
            answers.append((int(status), ident))
    phase = Phase(label, path, figures, answers)
    phase.rss = sampler.peak
    phase.cpu["server"] = cpu_used(before[0], after[0])
    phase.cpu["database"] = cpu_used(before[1], after[1])
    phase.cpu["wrk"] = wrk_cpu
    progress(
        f"{label}: {phase.ok:,} 2xx in {phase.seconds:.1f}s = {phase.rate:.0f}/s, "
        f"p99 {figures['p99'] / 1000:.0f} ms, {phase.non_2xx} non-2xx, "
        f"{phase.socket_errors} socket errors, worker RSS max {phase.rss:.0f} MB"
    )
    return phase


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help=">1: gthread worker")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--seconds", type=int, default=20, help="per phase")
    parser.add_argument("--phases", default="baseline,open311,rest,baseline")
    parser.add_argument("--scale", type=float, default=0.05, help="demo county scale")
    parser.add_argument("--seed", type=int, default=20241126)
    parser.add_argument(
        "--queued",
        action="store_true",
        help="Open311 and REST in the queued intake mode (tokens, receipts), then drain the "
        "queue and time it",
    )
    parser.add_argument("--drain-batch", type=int, default=100, help="rows per claim")
    parser.add_argument("--check", action="store_true", help="exit 3 if the run is invalid")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (Debian: apt-get install wrk)")
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(phases) - {"baseline", "open311", "rest"}
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")

    from _setup import throwaway_database

    with throwaway_database(args.database_url) as workdir:
        valid = _run(args, Path(workdir), phases)
    return 3 if args.check and not valid else 0


def _server_env(args, workdir: Path) -> dict[str, str]:
    from django.db import connection

    env = dict(os.environ)
    env["CIVICGRID_VAR_DIR"] = str(workdir)
    env["CIVICGRID_LOG_LEVEL"] = "WARNING"
    env["DJANGO_SETTINGS_MODULE"] = "civicgrid.settings"
    env["CIVICGRID_API_RATE_PER_MINUTE"] = "100000000"  # capacity, not the limit
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(HERE)])
    env["CIVICGRID_OPEN311_QUEUED_INTAKE"] = "true" if args.queued else "false"
    env["CIVICGRID_API_QUEUED_INTAKE"] = "true" if args.queued else "false"
    if args.database_url:
        parts = urlsplit(args.database_url)
        name = connection.settings_dict["NAME"]  # the throwaway database
        env["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + quote(name)))
    else:
        env.pop("DATABASE_URL", None)
    return env


def _payloads(rng, port: int, secret: str):
    """Open311 form bodies and REST JSON bodies (with @KEY@ for the idempotency key)."""
    services = open311_replay.get_json(port, f"{open311_replay.BASE}services.json")
    definitions = {
        s["service_code"]: open311_replay.get_json(
            port, f"{open311_replay.BASE}services/{s['service_code']}.json"
        )
        for s in services
    }
    places = open311_replay._points_in_grids(rng)
    day = open311_replay.generate_day(
        rng,
        count=BODIES,
        retry_share=0,
        services=services,
        definitions=definitions,
        places=places,
        api_key=secret,
    )
    forms, rest = [], []
    for arrival in day.arrivals:
        forms.append(arrival.body().decode())
        fields = dict(arrival.fields)
        if "lat" not in fields:
            continue  # REST reports from the field carry a point
        body = {
            "description": fields.get("description", "") or "道路破损",
            "category": fields["service_code"],
            "lat": float(fields["lat"]),
            "lng": float(fields["long"]),
            "idempotency_key": "@KEY@",
        }
        if "phone" in fields:
            body["reporter_name"] = fields.get("last_name", "") + fields.get("first_name", "")
            body["reporter_phone"] = fields["phone"]
        rest.append(json.dumps(body, ensure_ascii=False))
    return forms, rest


def _run(args, workdir: Path, phases: list[str]) -> bool:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from civicgrid.api.actions import do_create_api_key, do_create_personal_token
    from civicgrid.demo.loader import load_demo

    rng = random.Random(args.seed)
    progress(f"loading the demo county at scale {args.scale} …")
    load_demo(seed=args.seed, scale=args.scale, progress=lambda line: None)
    users = get_user_model().objects
    admin = users.filter(is_superuser=True).order_by("pk").first()
    _key, secret = do_create_api_key(name="intake bench", actor=admin)
    _token, token = do_create_personal_token(name="intake bench", actor=users.get(username="grid1"))
    open311_replay._make_baseline_table()
    database = f"{connection.vendor} ({connection.settings_dict['NAME']})"
    args.database_name = str(connection.settings_dict["NAME"])
    conn_max_age = connection.settings_dict.get("CONN_MAX_AGE", 0)
    connection.close()

    log = workdir / "gunicorn.log"
    progress(f"starting gunicorn: {args.workers} workers × {args.threads} threads …")
    server = Gunicorn(
        _server_env(args, workdir), workers=args.workers, threads=args.threads, log=log
    )
    results: list[Phase] = []
    try:
        forms, rest = _payloads(rng, server.port, secret)
        form_headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        rest_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        routes = {
            "baseline": ("form", open311_replay.BASELINE_PATH, forms, form_headers),
            "open311": ("form", OPEN311_PATH, forms, form_headers),
            "rest": ("rest", REST_PATH, rest, rest_headers),
        }
        # Warm-up, not measured: imports, the grid locator, connections in every worker.
        for kind, path, bodies, headers in routes.values():
            for number in range(args.workers * 3):
                extra = dict(headers)
                body = bodies[number % len(bodies)]
                if kind == "rest":
                    body = body.replace("@KEY@", f"warm-{number}")
                else:
                    extra["X-Idempotency-Key"] = f"warm-{path}-{number}"
                status, data, _s = open311_replay.request(
                    server.port, "POST", path, body.encode(), extra
                )
                if not 200 <= status < 300:
                    raise RuntimeError(f"warm-up POST {path}: {status} {data[:300]!r}")
        for number, name in enumerate(phases, 1):
            kind, path, bodies, headers = routes[name]
            label = f"{number}-{name}"
            results.append(run_wrk(server, workdir, label, kind, path, bodies, headers, args))
    finally:
        server.stop()
    drain = _drain(args) if args.queued else None
    problems = _check(results, queued=args.queued)
    _print(args, database, conn_max_age, server, results, problems)
    if drain is not None:
        print(
            f"  drain:         {drain['done']:,} queued requests made into cases in "
            f"{drain['seconds']:.1f}s = {drain['done'] / drain['seconds']:.1f}/s by one runner "
            f"(batches of {args.drain_batch}, the server stopped), {drain['failed']} refused"
        )
    return not problems


def _drain(args) -> dict:
    """Empty the queue with one runner (in this process) and time it."""
    from civicgrid.open311.actions import do_drain_service_requests

    progress("draining the queue …")
    totals = {"done": 0, "failed": 0}
    started = time.perf_counter()
    while True:
        counts = do_drain_service_requests(node="bench", batch=args.drain_batch)
        totals["done"] += counts["done"]
        totals["failed"] += counts["failed"]
        if not counts["claimed"]:
            break
    totals["seconds"] = time.perf_counter() - started
    return totals


def _check(results: list[Phase], *, queued: bool = False) -> list[str]:
    """Every acknowledged report stored once; no more stored than sent."""
    from django.db import connection

    from civicgrid.cases.models import Case
    from civicgrid.open311.models import QueuedRequest

    if queued:  # the answers are tokens (Open311) or receipts (REST): each must be one case
        for phase in results:
            if phase.label.endswith("baseline"):
                continue
            tokens = set(phase.ids)
            rows = QueuedRequest.objects.filter(token__in=tokens)
            made = list(rows.filter(state="done").values_list("case__code", flat=True))
            phase.answers = [(200, code) for code in made] + [
                (status, i) for status, i in phase.answers if not 200 <= status < 300
            ]
            if len(made) != len(tokens):
                return [f"{len(tokens) - len(made)} acknowledged tokens have no case"]

    problems = []
    for phase in results:
        if phase.non_2xx or phase.socket_errors:
            problems.append(
                f"{phase.label}: {phase.non_2xx} non-2xx answers, "
                f"{phase.socket_errors} socket errors"
            )
        ids = phase.ids
        if "?" in ids:
            problems.append(f"{phase.label}: a 2xx answer without an id")
        if len(set(ids)) != len(ids):
            problems.append(f"{phase.label}: the same id acknowledged twice")
    acked = {i for p in results if not p.label.endswith("baseline") for i in p.ids}
    stored_codes = set()
    for chunk_start in range(0, len(acked), 5000):
        chunk = sorted(acked)[chunk_start : chunk_start + 5000]
        stored_codes |= set(Case.objects.filter(code__in=chunk).values_list("code", flat=True))
    missing = acked - stored_codes
    if missing:
        problems.append(f"{len(missing)} acknowledged reports are not stored")
    sent = sum(p.figures["sent"] for p in results if not p.label.endswith("baseline"))
    stored = Case.objects.filter(idempotency_key__isnull=False).count()
    if stored > sent + 1000:  # warm-up ones included
        problems.append(f"{stored} keyed reports stored but only {sent} were sent")
    baseline_ids = {i for p in results if p.label.endswith("baseline") for i in p.ids}
    if baseline_ids:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {open311_replay.BASELINE_TABLE}")
            (rows,) = cursor.fetchone()
        if rows < len(baseline_ids):
            problems.append("baseline rows missing")
    return problems


def _print(args, database, conn_max_age, server, results, problems) -> None:
    def ms(us):
        return f"{us / 1000:7.1f}"

    baselines = [p for p in results if p.label.endswith("baseline")]
    base_rate = sum(p.rate for p in baselines) / len(baselines) if baselines else 0.0
    kind = f"gthread × {args.threads} threads" if args.threads > 1 else "sync"
    print("intake through a production server")
    print(f"  database:      {database}, CONN_MAX_AGE {conn_max_age}")
    print(f"  server:        gunicorn, {args.workers} {kind} workers, civicgrid.wsgi + baseline")
    print(
        f"  client:        wrk, 1 thread, {args.connections} keep-alive connections, "
        f"{args.seconds}s per phase, on the same 2-core machine"
    )
    print(f"  load average:  {os.getloadavg()[0]:.2f} (1 min, at the end)")
    print()
    print(
        f"  {'phase':16} {'2xx':>7} {'errors':>6} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'RSS MB':>6} {'/base':>6}"
    )
    for phase in results:
        f = phase.figures
        ratio = phase.rate / base_rate if base_rate else float("nan")
        print(
            f"  {phase.label:16} {phase.ok:7,} {phase.non_2xx + phase.socket_errors:6,} "
            f"{phase.rate:7.1f} {ms(f['p50'])} {ms(f['p95'])} {ms(f['p99'])} {ms(f['max'])} "
            f"{phase.rss:6.0f} {ratio:6.2f}"
        )
    print(f"  baseline req/s (mean of {len(baselines)}): {base_rate:.1f}")
    print()
    print("  CPU ms per request (what the other load on the machine does not change much), and the")
    print("  rate 2 idle cores could serve if the CPU were the only limit (2000 / total):")
    print(f"  {'phase':16} {'server':>7} {'database':>8} {'wrk':>6} {'total':>7} {'2 cores':>8}")
    for phase in results:
        parts = [phase.cpu_ms(part) for part in ("server", "database", "wrk")]
        total = sum(parts)
        print(
            f"  {phase.label:16} {parts[0]:7.2f} {parts[1]:8.2f} {parts[2]:6.2f} {total:7.2f} "
            f"{2000 / total if total else float('nan'):8.0f}"
        )
    acked = sum(len(p.ids) for p in results if not p.label.endswith("baseline"))
    print(f"  acknowledged reports: {acked:,}, each stored exactly once: {not problems}")
    print(f"  valid run:     {'yes' if not problems else 'NO — ' + '; '.join(problems)}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        import traceback

        traceback.print_exc()
        sys.exit(1)
