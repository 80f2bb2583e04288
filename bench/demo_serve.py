"""Benchmark: from a fresh clone, how long the README's demo command takes to serve the demo
(issue 11 target 5: under 3 minutes, install included) and how much memory it takes (target
4: the demo under 1 GB).

Usage::

    .venv/bin/python bench/demo_serve.py [--repo .] [--keep DIR] [--cases-scale 1.0]

Clones the repository's HEAD into a temporary directory and runs the README's first command
there verbatim (read from the clone's README: ``python3 -m venv .venv && .venv/bin/pip
install --no-compile -e . && .venv/bin/civicgrid demo``, with ``--addrport`` on a free port),
then prints, from the start:

* when the install finished, when the demo first answered its login page, when a demo login
  (a write: session, last login) went through, and when the loading behind the server ended
  ("demo ready");
* the peak memory of the demo — the server and its loading subprocess together (the sum of
  their resident sets, sampled every 0.2 s) — and of each alone;
* the baseline measured in the same run: the install alone, and the ratio of the serving
  time to the 180 s target;
* the machine's speed: the CPU time of a plain Python loop (runs on different days differ
  by 2x on this virtual machine).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

TARGET_SERVE = 180.0
TARGET_MEMORY = 1024 * 1024 * 1024  # 1 GiB


def readme_command(repo: Path) -> str:
    """The README's demo command: the first indented line that ends with ``civicgrid demo``."""
    for line in (repo / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("    ") and line.rstrip().endswith("civicgrid demo"):
            return line.strip()
    raise SystemExit("README.md: no demo command (an indented line ending in 'civicgrid demo')")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(parent, []).append(int(entry))
    return tree


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _python_tree(root: int) -> list[int]:
    """root and its descendants that run Python (not the shell, not pip's build steps)."""
    tree, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "civicgrid" in command and "pip" not in command:
            found.append(pid)
    return found


class Watch:
    def __init__(self, root: int):
        self.root = root
        self.peak_sum = 0
        self.peak_each: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.wait(0.2):
            total = 0
            for pid in _python_tree(self.root):
                rss = _rss(pid)
                total += rss
                self.peak_each[pid] = max(self.peak_each.get(pid, 0), rss)
                if pid not in self.names:
                    try:
                        with open(f"/proc/{pid}/cmdline", "rb") as f:
                            args = f.read().split(b"\0")
                        self.names[pid] = " ".join(a.decode() for a in args[2:5])
                    except OSError:
                        self.names[pid] = str(pid)
            self.peak_sum = max(self.peak_sum, total)


def _cpu_seconds(pid: int, *, children: bool = False) -> float:
    """CPU time (user + system) of a process, or of its finished, waited-for children."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # after the name: state ppid … utime(12) stime(13) cutime(14) cstime(15), 0-based from state
    first = 13 if children else 11
    return (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu(root: int) -> float:
    """CPU time of everything the command has run so far: each live process's own and that
    of its finished children (a finished child's own children are in its figure)."""
    tree, total, todo = _children(), 0.0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        total += _cpu_seconds(pid) + _cpu_seconds(pid, children=True)
    return total


def _log_in(base: str, username: str, password: str) -> bool:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/login/", timeout=60) as response:
        form = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": username, "password": password}
    ).encode()
    request = urllib.request.Request(f"{base}/login/", data=data, headers={"Referer": base})
    with opener.open(request, timeout=60) as response:
        return response.status == 200 and not response.url.endswith("/login/")


LOOP = 10_000_000


def _loop_seconds() -> float:
    started, total = time.process_time(), 0
    for i in range(LOOP):
        total += i
    return time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--keep", default="", help="clone into this directory and keep it")
    parser.add_argument("--cases-scale", default="", help="passed to demo (default: its own)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument(
        "--until-served",
        action="store_true",
        help="stop once the demo is served and a login went through (no memory figure then)",
    )
    args = parser.parse_args()

    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="civicgrid-serve-"))
    if workdir.exists() and any(workdir.iterdir()):
        print(f"{workdir} is not empty", file=sys.stderr)
        return 2
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    subprocess.run(["git", "clone", "-q", args.repo, str(workdir)], check=True)
    extra = f" --cases-scale {args.cases_scale}" if args.cases_scale else ""
    command = f"{readme_command(workdir)} --addrport 127.0.0.1:{port}{extra}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CIVICGRID_VAR_DIR")}
    env["PYTHONUNBUFFERED"] = "1"
    log_path = workdir.parent / f"{workdir.name}.log"
    print(f"$ cd {workdir} && {command}   (log: {log_path})", flush=True)
    began = time.monotonic()
    marks: dict[str, float] = {}
    cpu: dict[str, float] = {}
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        watch = Watch(process.pid)
        try:
            deadline = began + args.timeout
            while time.monotonic() < deadline and process.poll() is None:
                text = log_path.read_text(errors="replace")
                now = time.monotonic() - began
                if "install" not in marks and (workdir / ".venv/bin/civicgrid").exists():
                    if "fetch_assets" in text or "downloading" in text or "migrated" in text:
                        marks["install"] = now
                for needle, name in (
                    ("demo migrate:", "migrated"),
                    ("demo county:", "county"),
                    ("demo cases:", "cases"),
                    ("demo mediation:", "disputes"),
                ):
                    if name not in marks and needle in text:
                        marks[name] = now
                if "served" not in marks:
                    try:
                        with urllib.request.urlopen(f"{base}/login/", timeout=2) as r:
                            if r.status == 200:
                                marks["served"] = time.monotonic() - began
                                cpu["served"] = _tree_cpu(process.pid)
                                print(f"served at {marks['served']:.0f} s", flush=True)
                                if _log_in(base, "lizhou", "civicgrid-demo"):
                                    marks["logged in"] = time.monotonic() - began
                                if args.until_served:
                                    break
                    except OSError:
                        pass
                if "demo ready in" in text:
                    marks["ready"] = now
                    break
                time.sleep(0.2)
        finally:
            watch.stop.set()
            os.killpg(process.pid, 15)
            process.wait(timeout=60)
    print()
    order = ["install", "migrated", "county", "cases", "disputes", "served", "logged in", "ready"]
    for name in order:
        if name in marks:
            print(f"  {name:<10} {marks[name]:7.1f} s")
    print()
    served = marks.get("served")
    if served is None:
        print("FAIL: the demo was never served")
        return 1
    install = marks.get("install", 0.0)
    mib = 1024 * 1024
    print(f"install (pip install -e . into a new venv): {install:.0f} s (baseline, same run)")
    demo = served - install
    print(f"served after: {served:.0f} s, of which install {install:.0f} s, demo {demo:.0f} s")
    print(f"served / target ({TARGET_SERVE:.0f} s): {served / TARGET_SERVE:.2f}")
    if cpu:
        print(
            f"CPU until served, install included: {cpu['served']:.0f} s (user + system, every "
            "process; the two bulk loaders run at once on SQLite's first start)"
        )
    print(
        f"machine: a {LOOP:,}-step Python loop takes {_loop_seconds():.2f} s of CPU (1.59 s "
        "in session 20, whose figures are in docs/benchmarks.md): the virtual machine's speed "
        "varies from day to day, compare runs by this"
    )
    if "ready" in marks:
        print(f"everything loaded after: {marks['ready']:.0f} s")
    for pid, peak in sorted(watch.peak_each.items()):
        print(f"  peak RSS {watch.names.get(pid, pid)}: {peak / mib:.0f} MiB")
    print(f"peak RSS of the demo (server + loader, summed): {watch.peak_sum / mib:.0f} MiB")
    memory_ok = args.until_served or watch.peak_sum <= TARGET_MEMORY
    ok = served <= TARGET_SERVE and memory_ok and "logged in" in marks
    print("PASS" if ok else "FAIL", "(serve ≤ 180 s, login while loading, memory ≤ 1 GiB)")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
