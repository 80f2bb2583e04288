"""Benchmark: a day of 311 arrivals replayed over HTTP through POST /open311/v2/requests.json.

Usage::

    .venv/bin/python bench/open311_replay.py [--count 2000] [--concurrency 1] [--speedup 0]
    .venv/bin/python bench/open311_replay.py --database-url postgres://postgres@127.0.0.1:5432/civicgrid
    .venv/bin/python bench/open311_replay.py --count 50          # smoke run, well under a minute

Without --database-url it migrates a fresh SQLite database in a temporary directory; with a
PostgreSQL URL it creates a throwaway database next to the named one (``test_<name>_bench_<pid>``
through ``django.test.utils.setup_databases``) and drops it at the end, so nothing real is
touched. Either way it loads the demo county at ``--scale`` (0.05: 75 grids, the test county),
makes an anonymous integration key (``civicgrid.api.actions.do_create_api_key``) and then:

1. starts the project's WSGI application (``civicgrid.wsgi``) over real HTTP on 127.0.0.1, in
   a child process running this script with ``--serve`` (so client and server do not share a
   GIL): a wsgiref server (Django's ``basehttp`` request handler, as ``runserver``) with a fixed
   pool of ``--server-threads`` threads that live on, as in a gunicorn thread worker, so a
   database connection is reused where the settings say so (``CONN_MAX_AGE``: 60 s on
   PostgreSQL; 0, a connection per request, on SQLite). The URLconf is ``civicgrid.urls`` plus
   ``POST /bench/baseline``;
2. reads the catalogue like a client (GET services.json, then services/<code>.json for every
   service, to send ``attribute[...]`` values where a definition requires them);
3. generates one seeded day of arrivals (``--count``, default 2,000; a real county day is
   ~100–300): a diurnal curve (few at night, peaks mid-morning and mid-afternoon), the
   category mix of the demo generator's public reports (``civicgrid.demo.cases``) over the
   services listed, WGS-84 points inside the demo county's grids or an address only,
   descriptions, names and phones, three kinds of client (a phone app with device_id and an
   ``X-Idempotency-Key``, a web form, a call-centre integration sending addresses) and a few
   app retries re-sending the same submission with the same key;
4. baseline: the same form bodies POSTed to ``/bench/baseline``, a bare Django view (same
   server, same middleware) that parses the form and INSERTs one row, in a transaction, into a
   table the bench creates itself (``bench_baseline``; no app model or migration);
5. the replay: every arrival POSTed, form-encoded, to /open311/v2/requests.json in timestamp
   order with ``--concurrency`` clients (default 1; SQLite serialises writes anyway), as fast
   as possible or ``--speedup`` times real time; one TCP connection per request.

It prints requests, errors (non-2xx; a valid run has none, and the first ones are shown),
requests/second and p50/p95/p99/max latency for both, the ratios to the baseline, checks the
rows written (one case per submission, retries answered with the first case's id) and exits 0
whatever the figures (1 only if the run itself failed; with ``--check``, 3 if the run is
invalid: a non-2xx answer or a missing row — for a CI smoke run). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BASE = "/open311/v2/"
BASELINE_PATH = "/bench/baseline"
BASELINE_TABLE = "bench_baseline"
DAY = 24 * 3600
REAL_DAY = 300  # reports on a busy real day of the county (a usual one: 100–300)
# Arrivals per hour of day (relative) for reports from the public through apps and forms:
# a trickle at night, a mid-morning peak, a lunch dip, a mid-afternoon peak, a long evening.
HOURLY = (
    0.4, 0.25, 0.15, 0.1, 0.1, 0.2, 0.6, 1.8, 3.2, 4.2, 4.3, 3.4,
    2.2, 2.3, 3.3, 3.8, 3.6, 3.0, 2.4, 2.3, 2.2, 1.7, 1.1, 0.7,
)  # fmt: skip
# Kinds of client: share of submissions.
CLIENTS = (("app", 0.6), ("web", 0.25), ("call", 0.15))
FALLBACK_STREETS = "阳明路 新建路 南雷路 舜水路 城东路".split()
FALLBACK_SURNAMES = "王 李 张 刘 陈 杨 黄 赵 吴 周".split()
FALLBACK_GIVEN = "伟 芳 娜 敏 静 丽 强 磊 军 洋".split()


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the server


def _baseline_urlconf():
    """A URLconf module: ``civicgrid.urls`` plus the baseline view."""
    import types

    from django.db import connection, transaction
    from django.http import HttpResponseNotAllowed, JsonResponse
    from django.urls import include, path
    from django.utils import timezone
    from django.views.decorators.csrf import csrf_exempt

    @csrf_exempt
    def baseline(request):
        """Parse the form and INSERT one row in a transaction: the floor under any endpoint."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        text = request.POST.get("description", "")
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {BASELINE_TABLE} (created, body) VALUES (%s, %s) RETURNING id",
                [now, text],
            )
            (row_id,) = cursor.fetchone()
        return JsonResponse([{"service_request_id": str(row_id)}], safe=False)

    module = types.ModuleType("civicgrid_bench_urls")
    module.urlpatterns = [
        path(BASELINE_PATH.lstrip("/"), baseline),
        path("", include("civicgrid.urls")),
    ]
    sys.modules[module.__name__] = module
    return module.__name__


def serve(threads: int) -> int:
    """Child process: serve civicgrid.wsgi on an ephemeral port; print READY <port>."""
    from concurrent.futures import ThreadPoolExecutor

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicgrid.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.servers import basehttp

    settings.ROOT_URLCONF = _baseline_urlconf()
    from civicgrid.wsgi import application

    class Handler(basehttp.WSGIRequestHandler):
        def log_message(self, fmt, *args):
            if len(args) > 1 and str(args[1])[:1] in {"4", "5"}:  # only what went wrong
                sys.stderr.write("server: %s\n" % (fmt % args))

    class PooledWSGIServer(basehttp.WSGIServer):
        """A fixed pool of threads that live on, so CONN_MAX_AGE can keep their connections."""

        request_queue_size = 256

        def __init__(self, *args, pool_size: int, **kwargs):
            super().__init__(*args, **kwargs)
            self.pool = ThreadPoolExecutor(pool_size, thread_name_prefix="http")

        def process_request(self, request, client_address):
            self.pool.submit(self._work, request, client_address)

        def _work(self, request, client_address):
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

    server = PooledWSGIServer(("127.0.0.1", 0), Handler, pool_size=threads)
    server.set_app(application)
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.2)
    return 0


class Server:
    """This script with --serve in a child process, on the bench's database and var dir."""

    def __init__(self, env: dict[str, str], threads: int):
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve",
                f"--server-threads={threads}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline().strip()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"the server did not start (said {line!r})")
        self.port = int(line.split()[1])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --------------------------------------------------------------------------- HTTP client


def request(port: int, method: str, path: str, body: bytes | None = None, headers=None):
    """(status, body bytes, seconds) of one request on its own connection."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        status, data = 0, f"{type(exc).__name__}: {exc}".encode()
    finally:
        connection.close()
    return status, data, time.perf_counter() - started


def post(port: int, path: str, arrival: Arrival):
    """POST one arrival's form, as a GeoReport client sends it."""
    headers = {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "User-Agent": f"civicgrid-bench/{arrival.client}",
        **arrival.headers,
    }
    return request(port, "POST", path, arrival.body(), headers)


def get_json(port: int, path: str):
    status, data, _seconds = request(port, "GET", path)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {data[:300]!r}")
    return json.loads(data)


# --------------------------------------------------------------------------- the day


@dataclass
class Arrival:
    at: float  # seconds after midnight, local time
    client: str
    service: str
    fields: list[tuple[str, str]]
    headers: dict[str, str] = field(default_factory=dict)
    location: str = "gps"  # gps, gps+address, address
    number: int = 0  # the submission; a retry has its first sending's number
    retry: bool = False

    def body(self) -> bytes:
        return urlencode(self.fields).encode()


@dataclass
class Day:
    arrivals: list[Arrival]
    submissions: int
    retries: int
    mix_source: str
    services: int
    with_attributes: int
    grids: int


def _demo_tables():
    """The demo generator's mix and texts, if the demo package still has them."""
    try:
        from civicgrid.demo import cases, loader

        return {
            "group_share": dict(cases.GROUP_SHARE),
            "public_share": dict(cases.PUBLIC_SHARE),
            "leaf_weight": dict(cases.LEAF_WEIGHT),
            "details": dict(cases.DETAILS),
            "streets": list(loader.STREETS),
            "surnames": list(loader.SURNAMES),
            "given": list(loader.GIVEN),
        }
    except (ImportError, AttributeError):
        return None


def _service_weights(services: list[dict], tables) -> list[float]:
    """Weight of each service: the demo's group share × public share × leaf weight."""
    if tables is None:
        return [1.0] * len(services)
    by_group: dict[str, float] = Counter()
    for service in services:
        by_group[service["service_code"][:2]] += tables["leaf_weight"].get(
            service["service_code"], 1.0
        )
    weights = []
    for service in services:
        code = service["service_code"]
        group = code[:2]
        weights.append(
            tables["group_share"].get(group, 0.5)
            * tables["public_share"].get(group, 0.25)
            * tables["leaf_weight"].get(code, 1.0)
            / by_group[group]
        )
    return weights


def _points_in_grids(rng: random.Random, per_grid: int = 6):
    """[(grid, village name, town name, [(lat, lng) WGS-84 inside the grid]), weight]."""
    from shapely.geometry import Point

    from civicgrid.regions import geo
    from civicgrid.regions.models import Grid

    found = []
    grids = (
        Grid.objects.filter(active=True, parent__isnull=True, geometry__isnull=False)
        .select_related("village__parent")
        .order_by("code")
    )
    for grid in grids:
        shape = geo.geometry_from_geojson(grid.geometry)
        inner = shape.buffer(-0.0002)
        inner = shape if inner.is_empty else inner
        min_lng, min_lat, max_lng, max_lat = inner.bounds
        points = []
        for _ in range(400):
            lng, lat = rng.uniform(min_lng, max_lng), rng.uniform(min_lat, max_lat)
            if inner.contains(Point(lng, lat)):
                points.append((round(lat, 6), round(lng, 6)))
                if len(points) == per_grid:
                    break
        if points:
            village = grid.village
            town = village.parent.name if village.parent_id else ""
            # Urban communities report more (a crude population proxy).
            weight = 2.0 if village.name.endswith(("社区", "居委会")) else 1.0
            found.append(((grid.code, village.name, town, points), weight))
    return found


def _attribute_values(rng: random.Random, definition: dict) -> list[tuple[str, str]]:
    """attribute[CODE] values for the required attributes of a service definition."""
    values = []
    for attribute in definition.get("attributes") or []:
        if not attribute.get("variable", True) or not attribute.get("required"):
            continue
        code, kind = attribute["code"], attribute.get("datatype", "string")
        choices = [v["key"] for v in attribute.get("values") or [] if "key" in v]
        if kind == "multivaluelist" and choices:
            for key in rng.sample(choices, k=min(len(choices), rng.randint(1, 2))):
                values.append((f"attribute[{code}][]", str(key)))
        elif kind == "singlevaluelist" and choices:
            values.append((f"attribute[{code}]", str(rng.choice(choices))))
        elif kind == "number":
            values.append((f"attribute[{code}]", str(rng.randint(1, 20))))
        elif kind == "datetime":
            values.append((f"attribute[{code}]", "2025-06-17T09:30:00+08:00"))
        else:
            values.append((f"attribute[{code}]", "现场有人看守"))
    return values


def generate_day(
    rng: random.Random,
    *,
    count: int,
    retry_share: float,
    services: list[dict],
    definitions: dict[str, dict],
    places: list,
    api_key: str,
) -> Day:
    tables = _demo_tables()
    weights = _service_weights(services, tables)
    if not places:
        raise RuntimeError("the demo county has no grid with a boundary")
    place_list = [p for p, _w in places]
    place_weights = [w for _p, w in places]
    streets = tables["streets"] if tables else FALLBACK_STREETS
    surnames = tables["surnames"] if tables else FALLBACK_SURNAMES
    given = tables["given"] if tables else FALLBACK_GIVEN
    details = tables["details"] if tables else {}
    attributes = {
        code: definition
        for code, definition in definitions.items()
        if any(a.get("required") for a in definition.get("attributes") or [])
    }

    retries = round(count * retry_share) if count >= 20 else 0
    submissions = count - retries
    hours = rng.choices(range(24), weights=HOURLY, k=submissions)
    moments = sorted(h * 3600 + rng.uniform(0, 3600) for h in hours)
    devices = [f"dev-{rng.getrandbits(48):012x}" for _ in range(max(1, int(submissions * 0.7)))]
    kinds, kind_weights = zip(*CLIENTS, strict=True)

    arrivals: list[Arrival] = []
    for index, at in enumerate(moments):
        service = rng.choices(services, weights=weights)[0]
        code = service["service_code"]
        client = rng.choices(kinds, weights=kind_weights)[0]
        ((_grid, village, town, points),) = rng.choices(place_list, weights=place_weights)
        lat, lng = rng.choice(points)
        address = f"{town}{village}{rng.choice(streets)}{rng.randint(1, 300)}号"
        text = rng.choice(details.get(code) or [f"{service['service_name']}，请尽快处理"])
        if rng.random() < 0.3:
            text = f"{village}附近：{text}"
        fields = [("api_key", api_key), ("service_code", code)]
        headers = {}
        if client == "call":
            location = "address"
            fields += [("address_string", address), ("account_id", f"12345-{index:06d}")]
        elif client == "web":
            location = "gps+address" if rng.random() < 0.5 else "gps"
            fields += [("lat", f"{lat:.6f}"), ("long", f"{lng:.6f}")]
            if location == "gps+address":
                fields.append(("address_string", address))
        else:
            location = "gps+address" if rng.random() < 0.3 else "gps"
            fields += [("lat", f"{lat:.6f}"), ("long", f"{lng:.6f}")]
            if location == "gps+address":
                fields.append(("address_string", address))
            fields.append(("device_id", rng.choice(devices)))
            headers["X-Idempotency-Key"] = f"sub-{rng.getrandbits(64):016x}"
        fields.append(("description", text))
        if rng.random() < (0.8 if client == "call" else 0.4):
            name = "".join(rng.choice(given) for _ in range(rng.choice((1, 2))))
            fields += [("last_name", rng.choice(surnames)), ("first_name", name)]
            fields.append(("phone", f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"))
        if client == "web" and rng.random() < 0.3:
            fields.append(("email", f"user{rng.randrange(10**6)}@example.com"))
        if code in attributes:
            fields += _attribute_values(rng, attributes[code])
        arrivals.append(Arrival(at, client, code, fields, headers, location, number=index))

    app_indices = [i for i, a in enumerate(arrivals) if "X-Idempotency-Key" in a.headers]
    for index in rng.sample(app_indices, k=min(retries, len(app_indices))):
        first = arrivals[index]
        # The app did not see the answer (a flaky network) and sends the same thing again.
        at = min(first.at + rng.uniform(2, 90), DAY - 0.001)
        arrivals.append(
            Arrival(
                at,
                first.client,
                first.service,
                list(first.fields),
                dict(first.headers),
                first.location,
                number=first.number,
                retry=True,
            )
        )
    arrivals.sort(key=lambda a: a.at)
    return Day(
        arrivals=arrivals,
        submissions=submissions,
        retries=sum(1 for a in arrivals if a.retry),
        mix_source="demo generator (public reports)" if tables else "uniform (no demo tables)",
        services=len(services),
        with_attributes=len(attributes),
        grids=len(place_list),
    )


# --------------------------------------------------------------------------- the replay


@dataclass
class Phase:
    label: str
    statuses: list[int]
    latencies: list[float]
    bodies: list[bytes]
    seconds: float

    @classmethod
    def join(cls, label: str, pieces: list[Phase]) -> Phase:
        """The pieces (consecutive slices of the day) as one phase."""
        return cls(
            label,
            [s for piece in pieces for s in piece.statuses],
            [s for piece in pieces for s in piece.latencies],
            [b for piece in pieces for b in piece.bodies],
            sum(piece.seconds for piece in pieces),
        )

    @property
    def errors(self) -> list[int]:
        return [i for i, s in enumerate(self.statuses) if not 200 <= s < 300]

    @property
    def rate(self) -> float:
        return len(self.statuses) / self.seconds if self.seconds else float("inf")

    def percentile(self, p: float) -> float:
        values = sorted(self.latencies)
        if not values:
            return float("nan")
        rank = (len(values) - 1) * p / 100
        low = int(rank)
        high = min(low + 1, len(values) - 1)
        return values[low] + (values[high] - values[low]) * (rank - low)


def replay(
    label: str,
    port: int,
    path: str,
    arrivals: list[Arrival],
    *,
    concurrency: int,
    speedup: float,
) -> Phase:
    """POST every arrival in order with ``concurrency`` clients; paced if ``speedup`` > 0."""
    n = len(arrivals)
    statuses, latencies, bodies = [0] * n, [0.0] * n, [b""] * n
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "errors": 0}
    first_at = arrivals[0].at if arrivals else 0.0
    started = time.perf_counter()

    def worker():
        while True:
            with lock:
                index = state["next"]
                if index >= n:
                    return
                state["next"] += 1
            arrival = arrivals[index]
            if speedup > 0:
                delay = started + (arrival.at - first_at) / speedup - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            status, data, seconds = post(port, path, arrival)
            statuses[index], latencies[index], bodies[index] = status, seconds, data
            with lock:
                state["done"] += 1
                state["errors"] += not 200 <= status < 300

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    last = time.perf_counter()
    while any(thread.is_alive() for thread in threads):
        for thread in threads:
            thread.join(0.25)
        if time.perf_counter() - last >= 5:
            last = time.perf_counter()
            elapsed = last - started
            progress(
                f"  {label}: {state['done']:,}/{n:,} in {elapsed:.0f}s "
                f"({state['done'] / elapsed:.1f}/s, {state['errors']} errors)"
            )
    return Phase(label, statuses, latencies, bodies, time.perf_counter() - started)


def interleave(
    port: int, arrivals: list[Arrival], *, blocks: int, concurrency: int, speedup: float
) -> tuple[Phase, Phase, list[float]]:
    """The day in ``blocks`` consecutive slices, each sent to the baseline and to Open311.

    Alternating the two (ABBA: baseline first in even slices, Open311 first in odd ones) gives
    both the same share of whatever else the machine is doing; the Open311 replay still
    sees the whole day in timestamp order. Returns (baseline, replay, per-slice rps ratios).
    """
    n = len(arrivals)
    size = -(-n // max(1, min(blocks, n)))
    slices = [arrivals[start : start + size] for start in range(0, n, size)]
    pieces: dict[str, list[Phase]] = {"baseline": [], "replay": []}
    routes = [("baseline", BASELINE_PATH), ("replay", f"{BASE}requests.json")]
    started = time.perf_counter()
    for number, chunk in enumerate(slices, 1):
        for label, path in routes if number % 2 else reversed(routes):
            pieces[label].append(
                replay(
                    f"{label} slice {number}/{len(slices)}",
                    port,
                    path,
                    chunk,
                    concurrency=concurrency,
                    speedup=speedup,
                )
            )
        base, run = pieces["baseline"][-1], pieces["replay"][-1]
        progress(
            f"slice {number}/{len(slices)}: {len(chunk):,} POSTs, baseline {base.rate:.0f}/s, "
            f"requests.json {run.rate:.1f}/s, errors {len(base.errors)}/{len(run.errors)}; "
            f"{sum(len(p.statuses) for p in pieces['replay']):,}/{n:,} replayed in "
            f"{time.perf_counter() - started:.0f}s"
        )
    ratios = [r.rate / b.rate for b, r in zip(pieces["baseline"], pieces["replay"], strict=True)]
    return (
        Phase.join("baseline", pieces["baseline"]),
        Phase.join("replay", pieces["replay"]),
        ratios,
    )


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="POSTs in the day (with retries)")
    parser.add_argument("--concurrency", type=int, default=1, help="clients sending at once")
    parser.add_argument(
        "--speedup", type=float, default=0.0, help="times real time (0: as fast as possible)"
    )
    parser.add_argument(
        "--blocks", type=int, default=10, help="alternating baseline/replay slices of the day"
    )
    parser.add_argument("--retry-share", type=float, default=0.03, help="app retries, of POSTs")
    parser.add_argument("--server-threads", type=int, default=0, help="default max(4, clients)")
    parser.add_argument(
        "--server",
        choices=("wsgiref", "gunicorn"),
        default="wsgiref",
        help="gunicorn: the production server of bench/intake_server.py (--workers gthread "
        "workers with --server-threads threads each)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--scale", type=float, default=0.05, help="demo county scale")
    parser.add_argument("--seed", type=int, default=20241126)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--check", action="store_true", help="exit 3 if the run is invalid (for CI smoke runs)"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(max(1, args.server_threads or 4))
    if min(args.count, args.concurrency, args.blocks) < 1:
        parser.error("--count, --concurrency and --blocks must be at least 1")
    args.server_threads = args.server_threads or max(4, args.concurrency)

    from _setup import throwaway_database

    with throwaway_database(args.database_url) as workdir:
        valid = _run(args, workdir)
    return 3 if args.check and not valid else 0


def _server_env(args, workdir: str) -> dict[str, str]:
    from django.db import connection

    env = dict(os.environ)
    env["CIVICGRID_VAR_DIR"] = workdir
    env["CIVICGRID_LOG_LEVEL"] = "WARNING"
    env["DJANGO_SETTINGS_MODULE"] = "civicgrid.settings"
    if args.database_url:
        parts = urlsplit(args.database_url)
        name = connection.settings_dict["NAME"]  # the throwaway database
        env["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + quote(name)))
    else:
        env.pop("DATABASE_URL", None)  # the same SQLite file under the var dir
    return env


def _make_baseline_table() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        columns = "id BIGSERIAL PRIMARY KEY, created TIMESTAMPTZ NOT NULL, body TEXT NOT NULL"
    else:
        columns = "id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, body TEXT NOT NULL"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {BASELINE_TABLE} ({columns})")


def _run(args, workdir: str) -> bool:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from civicgrid.api.actions import do_create_api_key
    from civicgrid.cases.models import Case
    from civicgrid.demo.loader import load_demo
    from civicgrid.open311.models import ServiceRequest

    rng = random.Random(args.seed)
    progress(f"loading the demo county at scale {args.scale} …")
    summary = load_demo(seed=args.seed, scale=args.scale, progress=lambda line: None)
    admin = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
    _key, secret = do_create_api_key(name="open311 replay bench", actor=admin)
    _make_baseline_table()
    database = (
        f"{connection.vendor} ({connection.settings_dict['NAME']}), "
        f"CONN_MAX_AGE {connection.settings_dict.get('CONN_MAX_AGE', 0)}"
    )

    connection.close()
    progress(f"starting the server ({args.server}, {args.server_threads} threads) …")
    if args.server == "gunicorn":
        from intake_server import Gunicorn

        server = Gunicorn(
            _server_env(args, workdir),
            workers=args.workers,
            threads=max(2, args.server_threads),
            log=Path(workdir) / "gunicorn.log",
        )
    else:
        server = Server(_server_env(args, workdir), args.server_threads)
    try:
        progress("reading the catalogue: services.json and every service definition …")
        services = get_json(server.port, f"{BASE}services.json")
        definitions = {
            s["service_code"]: get_json(server.port, f"{BASE}services/{s['service_code']}.json")
            for s in services
        }
        places = _points_in_grids(rng)
        day = generate_day(
            rng,
            count=args.count,
            retry_share=args.retry_share,
            services=services,
            definitions=definitions,
            places=places,
            api_key=secret,
        )
        arrivals = day.arrivals
        connection.close()

        # Warm-up (not measured): the first requests import views and build the grid locator.
        warm = generate_day(
            random.Random(args.seed + 1),
            count=3,
            retry_share=0,
            services=services,
            definitions=definitions,
            places=places,
            api_key=secret,
        ).arrivals
        warm_failures = []
        for arrival in warm:
            for path in (BASELINE_PATH, f"{BASE}requests.json"):
                status, data, _s = post(server.port, path, arrival)
                if not 200 <= status < 300:
                    warm_failures.append((path, status))
                    progress(f"warm-up POST {path}: {status} {data[:300]!r}")

        progress(
            f"replaying {len(arrivals):,} POSTs to {BASE}requests.json and {BASELINE_PATH} "
            f"in {min(args.blocks, len(arrivals))} alternating slices …"
        )
        base, run, ratios = interleave(
            server.port,
            arrivals,
            blocks=args.blocks,
            concurrency=args.concurrency,
            speedup=args.speedup,
        )
    finally:
        server.stop()

    # What was written.
    ids = [_request_id(body) for body in run.bodies]
    first_ids = {a.number: ids[i] for i, a in enumerate(arrivals) if not a.retry}
    retried_same = sum(
        1
        for i, a in enumerate(arrivals)
        if a.retry and ids[i] is not None and ids[i] == first_ids.get(a.number)
    )
    cases = Case.objects.filter(channel=Case.Channel.OPEN311).count()
    links = ServiceRequest.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {BASELINE_TABLE}")
        (baseline_rows,) = cursor.fetchone()

    return _print(
        args,
        day,
        summary,
        database,
        (base, run, ratios),
        (cases, links, baseline_rows, retried_same),
        (warm, warm_failures),
    )


def _request_id(body: bytes) -> str | None:
    try:
        return json.loads(body)[0]["service_request_id"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _print(args, day, summary, database, phases, written, warm) -> bool:
    """Print the figures; True if the run is valid (every POST 2xx, every row written)."""
    warm, warm_failures = warm
    base, run, ratios = phases
    cases, links, baseline_rows, same = written
    arrivals = day.arrivals
    n = len(arrivals)
    per_hour = Counter(int(a.at // 3600) for a in arrivals)
    busiest = max(range(24), key=lambda h: per_hour[h])
    quietest = min(range(24), key=lambda h: per_hour[h])
    clients = Counter(a.client for a in arrivals)
    locations = Counter(a.location for a in arrivals)
    by_service = Counter(a.service for a in arrivals)
    groups = Counter(a.service[:2] for a in arrivals)
    devices = {v for a in arrivals for k, v in a.fields if k == "device_id"}
    keyed = sum(1 for a in arrivals if "X-Idempotency-Key" in a.headers)
    named = sum(1 for a in arrivals if any(k == "phone" for k, _v in a.fields))
    with_attributes = sum(
        1 for a in arrivals if any(k.startswith("attribute[") for k, _ in a.fields)
    )

    def ms(seconds):
        return f"{seconds * 1e3:7.1f}"

    print("open311 replay benchmark")
    print(f"  database:        {database}")
    print(
        f"  demo county:     scale {args.scale}, {summary.counts['grids']} grids "
        f"({day.grids} with points)"
    )
    if args.server == "gunicorn":
        print(
            f"  server:          civicgrid.wsgi over HTTP on 127.0.0.1 (gunicorn, {args.workers} "
            f"gthread workers × {max(2, args.server_threads)} threads), one HTTP connection "
            f"per request"
        )
    else:
        print(
            f"  server:          civicgrid.wsgi over HTTP on 127.0.0.1 (child process, wsgiref "
            f"with Django's request handler, {args.server_threads} pooled threads), one HTTP "
            f"connection per request"
        )
    pace = f"{args.speedup:g}x real time" if args.speedup > 0 else "as fast as possible"
    print(f"  clients:         {args.concurrency} at once, in timestamp order, {pace}")
    print(
        f"  the day:         {n:,} POSTs = {day.submissions:,} submissions + {day.retries} "
        f"app retries (same device, same X-Idempotency-Key); a real county day is ~100–300"
    )
    print("  per hour:        " + " ".join(f"{per_hour[h]}" for h in range(24)) + "  (00h … 23h)")
    print(
        f"  shape:           busiest {busiest:02d}h ({per_hour[busiest]:,}, "
        f"{per_hour[busiest] / n:.1%}), quietest {quietest:02d}h ({per_hour[quietest]:,}); "
        f"07–19h {sum(per_hour[h] for h in range(7, 19)) / n:.0%} of the day; real-time peak "
        f"{per_hour[busiest] / 3600:.3f} POSTs/s"
    )
    print(
        f"  categories:      {len(by_service)} of {day.services} services in {len(groups)} "
        f"groups, mix from the {day.mix_source}; top: "
        + ", ".join(f"{code} {count / n:.1%}" for code, count in by_service.most_common(6))
    )
    print(
        f"  services with required attributes: {day.with_attributes} "
        f"({with_attributes} POSTs carry attribute[...])"
    )
    print(
        f"  locations:       {locations['gps']:,} lat/long, {locations['gps+address']:,} "
        f"lat/long + address_string, {locations['address']:,} address_string only"
    )
    print(
        "  clients:         "
        + ", ".join(f"{kind} {clients[kind]:,}" for kind, _share in CLIENTS)
        + f"; {keyed:,} with X-Idempotency-Key from {len(devices):,} devices; "
        f"{named:,} with name and phone"
    )
    print(
        f"  baseline:        POST {BASELINE_PATH}: the same form bodies, a bare Django view that "
        f"parses the form and INSERTs one row into {BASELINE_TABLE} (made by the bench) in a "
        f"transaction, through the same server and middleware"
    )
    print()
    print(
        f"  {'':22} {'requests':>8} {'errors':>6} {'req/s':>8} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}"
    )
    for phase, label in ((base, "baseline (1 INSERT)"), (run, "POST requests.json")):
        print(
            f"  {label:22} {len(phase.statuses):8,} {len(phase.errors):6,} {phase.rate:8.1f} "
            f"{ms(phase.percentile(50))} {ms(phase.percentile(95))} "
            f"{ms(phase.percentile(99))} {ms(max(phase.latencies, default=0))}"
        )
    print(
        f"  {'replay / baseline':22} {'':8} {'':6} {run.rate / base.rate:8.2f} "
        + " ".join(f"{run.percentile(p) / base.percentile(p):6.1f}x" for p in (50, 95, 99))
        + f" {max(run.latencies) / max(base.latencies):6.1f}x"
    )
    ordered = sorted(ratios)
    print(
        f"  per slice:       requests.json/baseline req/s over {len(ratios)} alternating slices: "
        f"min {ordered[0]:.2f}, median {ordered[len(ordered) // 2]:.2f}, max {ordered[-1]:.2f}"
    )
    real_peak = REAL_DAY * max(HOURLY) / sum(HOURLY) / 3600
    if args.speedup > 0:
        print(
            f"  paced:           {args.speedup:g}x real time, so req/s is the offered rate, not "
            f"the capacity (run without --speedup for that); the latencies are the figures"
        )
    print(
        f"  headroom:        {run.rate / (per_hour[busiest] / 3600):,.0f}x the busiest hour of "
        f"this day, {run.rate / real_peak:,.0f}x that of a real {REAL_DAY}-report day "
        f"({real_peak * 3600:.0f}/h); the whole day replayed in {run.seconds:.1f}s"
    )
    expected_cases = day.submissions + len(warm)
    print(
        f"  written:         {cases:,} open311 cases and {links:,} ServiceRequest rows "
        f"(expected {expected_cases:,}: {day.submissions:,} submissions + {len(warm)} warm-up); "
        f"{baseline_rows:,} baseline rows (expected {n + len(warm):,}); retries answered with "
        f"the first case's id: {same} of {day.retries}"
    )
    problems = []
    if cases != expected_cases or links != expected_cases:
        problems.append("the open311 rows written are not one per submission")
    if baseline_rows != n + len(warm):
        problems.append("the baseline rows written are not one per POST")
    if same != day.retries:
        problems.append("some retries were not answered with the first case's id")
    problems += [f"warm-up POST {path}: {status}" for path, status in warm_failures]
    problems += [
        f"{len(phase.errors)} {phase.label} requests were not 2xx" for phase in (base, run)
    ]
    problems = [p for p in problems if not p.startswith("0 ")]
    print(f"  valid run:       {'yes' if not problems else 'NO — ' + '; '.join(problems)}")
    for phase in (base, run):
        if phase.errors:
            print(f"  INVALID RUN: {len(phase.errors)} {phase.label} requests were not 2xx:")
            for index in phase.errors[:10]:
                arrival = arrivals[index]
                print(
                    f"    #{index} {arrival.client} {arrival.service} at {arrival.at:.0f}s: "
                    f"{phase.statuses[index]} {phase.bodies[index][:300].decode(errors='replace')}"
                )
    return not problems


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        import traceback

        traceback.print_exc()
        sys.exit(1)
