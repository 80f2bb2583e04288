"""Benchmark: population rows imported per second through the data hub (target: 100,000
rows in under a minute on SQLite).

Usage::

    .venv/bin/python bench/datahub_import.py [--rows 100000] [--county-scale 0.2]
    .venv/bin/python bench/datahub_import.py --database-url postgres://postgres@127.0.0.1/cg

It migrates a fresh SQLite database in a temporary directory (and, with ``DATABASE_URL`` or
``--database-url``, a throwaway PostgreSQL database next to the named one, dropped at the end),
loads the demo county at ``--county-scale``, and writes a realistic population file of
``--rows`` rows: Chinese names, valid ID numbers (GB 11643 check digit), mobile numbers, and
a place given three ways — 40 % the address of a known house (prefixed with the county and
township), 20 % a street address in a named village, 40 % GPS coordinates only. 2 % of the
rows are people already registered (updates), 1 % repeat an earlier row of the file, 0.2 %
have a broken ID number. It then times, through the same actions the page and the
``import_data`` command use:

1. the upload (the file sealed and stored) and the dry run (every row checked, placed and
   looked up; nothing written);
2. the import with ``skip_bad``: the dry run's plan, kept in the process, re-checked for new
   keys and written in one transaction with one audit event. An import whose dry run ran in
   another process (another web worker) checks the file again: about the sum of both.

It prints wall-clock seconds and rows/second for each, the CPU seconds of the benchmark's own
process (the database server's work on PostgreSQL is not in it; on a shared machine the CPU
figure shows the cost when the wall clock is inflated by other loads), and PASS/FAIL of the
wall clock against the target. It exits 0 whatever the figures (1 only if the run failed).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 60.0


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _points(rng: random.Random, wanted: int = 4000) -> list[tuple[float, float]]:
    """Points inside grids (lat, lng): random points in grid boxes that fall inside."""
    from shapely.geometry import Point

    from civicgrid.regions import geo
    from civicgrid.regions.models import Grid

    grids = list(Grid.objects.filter(active=True, kind=Grid.Kind.BASIC).exclude(geometry=None))
    points = []
    while len(points) < wanted:
        grid = rng.choice(grids)
        shape = geo.geometry_from_geojson(grid.geometry)
        min_lng, min_lat, max_lng, max_lat = grid.bbox
        for _ in range(10):
            lng, lat = rng.uniform(min_lng, max_lng), rng.uniform(min_lat, max_lat)
            if shape.contains(Point(lng, lat)):
                points.append((round(lat, 6), round(lng, 6)))
                break
    return points


def make_file(rows: int, seed: int = 11) -> tuple[bytes, dict]:
    from civicgrid.demo.loader import GIVEN, STREETS, SURNAMES
    from civicgrid.people import pii
    from civicgrid.people.models import House, Person
    from civicgrid.regions.models import Region

    rng = random.Random(seed)
    county = Region.objects.get(level=Region.Level.COUNTY)
    towns = dict(Region.objects.filter(level=Region.Level.TOWN).values_list("code", "name"))
    villages = list(Region.objects.filter(level=Region.Level.VILLAGE).values_list("code", "name"))
    houses = [
        f"{county.name}{towns[code[:9]]}{address}"
        for address, code in House.objects.values_list("address", "region_code")
    ]
    existing = [
        pii.reveal(c)
        for c in Person.objects.filter(user=None)
        .exclude(id_number_cipher="")
        .values_list("id_number_cipher", flat=True)[: max(rows // 50, 1)]
    ]
    points = _points(rng)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["姓名", "性别", "公民身份号码", "联系电话", "地址", "纬度", "经度", "备注"])
    kinds = {"house": 0, "village": 0, "point": 0, "existing": 0, "repeat": 0, "bad": 0}
    written: list[list] = []
    serial = 0
    for n in range(rows):
        roll = rng.random()
        if written and roll < 0.01:
            row = list(rng.choice(written))
            kinds["repeat"] += 1
        else:
            serial += 1
            birth = f"{rng.randint(1940, 2020)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            first17 = f"{county.code}{birth}{serial % 1000:03d}"
            number = first17 + pii.id_check_digit(first17)
            if roll < 0.03 and existing:
                number = existing[n % len(existing)]
                kinds["existing"] += 1
            elif roll < 0.032:
                number = number[:-1] + ("0" if number[-1] != "0" else "1")
                kinds["bad"] += 1
            gender = "男" if int(number[16]) % 2 else "女"
            name = rng.choice(SURNAMES) + "".join(
                rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2)))
            )
            phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
            place = rng.random()
            lat = lng = address = ""
            if place < 0.4:
                address = rng.choice(houses)
                kinds["house"] += 1
            elif place < 0.6:
                _code, village = rng.choice(villages)
                address = f"{village}{rng.choice(STREETS)}{rng.randint(1, 400)}号"
                kinds["village"] += 1
            else:
                lat, lng = rng.choice(points)
                kinds["point"] += 1
            row = [name, gender, number, phone, address, lat, lng, ""]
            written.append(row)
        writer.writerow(row)
    return out.getvalue().encode("utf-8-sig"), kinds


def run(rows: int, county_scale: float, database_url: str) -> dict:
    sys.path.insert(0, str(ROOT / "bench"))
    from _setup import throwaway_database

    with throwaway_database(database_url):
        from django.contrib.auth import get_user_model
        from django.db import connection

        from civicgrid.datahub import actions
        from civicgrid.datahub.fields import suggest_mapping
        from civicgrid.demo.loader import load_demo
        from civicgrid.people.models import Person

        progress(f"{connection.vendor}: loading the demo county at scale {county_scale}")
        load_demo(seed=20241126, scale=county_scale, progress=lambda m: None)
        user = get_user_model().objects.get(username="county")
        progress(f"writing a file of {rows:,} rows")
        data, kinds = make_file(rows)
        header = data.decode("utf-8-sig").split("\r\n", 1)[0].split(",")
        source = actions.do_save_source(
            actor=user,
            name="公安人口库",
            target="population",
            columns=suggest_mapping("population", header),
        )
        people_before = Person.objects.count()

        progress("upload + dry run")
        started, cpu = time.perf_counter(), time.process_time()
        run = actions.do_upload_file(actor=user, source=source, file_name="p.csv", data=data)
        upload = time.perf_counter() - started
        run = actions.do_check_run(run, actor=user)
        dry, dry_cpu = time.perf_counter() - started, time.process_time() - cpu
        assert Person.objects.count() == people_before, "the dry run wrote people"

        progress("import (skip bad rows)")
        started, cpu = time.perf_counter(), time.process_time()
        run = actions.do_import_run(run, actor=user, skip_bad=True)
        imported, import_cpu = time.perf_counter() - started, time.process_time() - cpu
        assert run.state == "imported", run.message
        return {
            "vendor": connection.vendor,
            "rows": run.rows_total,
            "kinds": kinds,
            "file_mb": len(data) / 1e6,
            "upload": upload,
            "dry": dry,
            "import": imported,
            "dry_cpu": dry_cpu,
            "import_cpu": import_cpu,
            "counts": {
                k: getattr(run, k) for k in ("new", "updated", "unchanged", "skipped", "errors")
            },
            "people": Person.objects.count() - people_before,
        }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--county-scale", type=float, default=0.2)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child: one database, JSON out
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(run(args.rows, args.county_scale, args.one)))
        return 0
    # Django is set up once per process: each database runs in a child process.
    urls = [""] + ([args.database_url] if args.database_url.startswith("postgres") else [])
    results = []
    for url in urls:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--rows",
                str(args.rows),
                "--county-scale",
                str(args.county_scale),
                "--one",
                url,
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        if child.returncode != 0:
            print(f"the run on {url or 'SQLite'} failed (exit {child.returncode})")
            return 1
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    print("data hub import benchmark (population rows, civicgrid.datahub)")
    print(f"  python {sys.version.split()[0]}, demo county at scale {args.county_scale}")
    for r in results:
        _print(r)
    return 0


def _print(r: dict) -> None:
    rows = r["rows"]
    verdict = "PASS" if r["import"] < TARGET_SECONDS else "FAIL"
    cold_verdict = "PASS" if r["dry"] + r["import"] < TARGET_SECONDS else "FAIL"
    print(f"  database:   {r['vendor']}")
    print(f"  file:       {rows:,} rows, {r['file_mb']:.1f} MB; places: {r['kinds']}")
    print(f"  upload:     {r['upload']:.2f} s")
    print(
        f"  dry run:    {r['dry']:.2f} s (with upload; {r['dry_cpu']:.2f} s CPU of this process) "
        f"-> {rows / r['dry']:,.0f} rows/s"
    )
    print(
        f"  import:     {r['import']:.2f} s (the dry run's plan reused, then written; "
        f"{r['import_cpu']:.2f} s CPU of this process) -> {rows / r['import']:,.0f} rows/s"
    )
    cold = r["dry"] + r["import"]
    print(
        f"  cold:       {cold:.2f} s for an import whose dry run ran in another process "
        f"(checked again, then written) -> {rows / cold:,.0f} rows/s"
    )
    print(f"  outcome:    {r['counts']}; people added {r['people']:,}")
    print(
        f"  target:     {rows:,} rows in < {TARGET_SECONDS:.0f} s -> import {verdict}, "
        f"cold {cold_verdict}"
    )


if __name__ == "__main__":
    sys.exit(main())
