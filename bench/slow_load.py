"""Slow requests against one database, and what everything else waits meanwhile: slots on/off.

    .venv/bin/python bench/slow_load.py postgresql --orders 3000000    # --duration 8

It builds (once; kept when it already holds that many orders) the list-page benchmark's dataset
(``bench/dataset.py``) in a database of its own, ``rowboat_bench_load``, plus a small SQLite
database ``other``; then, twice, starts Rowboat under gunicorn as ``./rowboat serve`` does
(``-w 2 --threads 4``) on a free port of 127.0.0.1: once with the slow-operation slots at their
default (``ROWBOAT_SLOW_SLOTS=2``), once with them off (``0``, the baseline). For 1, 4, 8 and 16
concurrent clients that each ask, over and over for ``--duration`` seconds, for a slow page
(orders sorted by the unindexed ``amount``, or a search that finds nothing: both read every
row), one probe asks in turn for ``/healthz``, a page of the other database and page 1 of
orders (indexed, fast), and the latencies of each are printed as p50 / p95 with both runs side
by side. A client refused with 503 waits half a second before it asks again, as a person
would; the slow requests' outcomes are counted. Runtime: about 2 × 4 × (duration + 5) s.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataset  # noqa: E402  (bench/dataset.py)

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
LOAD_DB = "rowboat_bench_load"  # not rowboat_bench: listpages.py may rebuild that one
SLOW_PATHS = ("/bench/orders?_sort=amount", "/bench/orders?_search=zzqx-nothing")
PROBES = {
    "/healthz": "/healthz",
    "other db page": "/other/thing",
    "fast page, same db": "/bench/orders",
}
RETRY_PAUSE = 0.5


def use_own_database() -> None:
    """Point bench/dataset.py at ``rowboat_bench_load``: its helpers read these names."""
    dataset.BENCH_DB = LOAD_DB
    for name, url in dataset.URLS.items():
        dataset.URLS[name] = url.rsplit("/", 1)[0] + "/" + LOAD_DB


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def other_database(folder: str) -> str:
    path = os.path.join(folder, "other.sqlite")
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE thing (id integer PRIMARY KEY, name text NOT NULL)")
        connection.executemany(
            "INSERT INTO thing VALUES (?, ?)", [(i, f"thing {i}") for i in range(1, 1001)]
        )
    return f"sqlite:///{path}"


@dataclass
class Server:
    process: subprocess.Popen
    base: str

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start(databases: str, slots: int) -> Server:
    port = free_port()
    command = [str(VENV_BIN / "gunicorn"), "-w", "2", "--threads", "4"]
    command += ["-b", f"127.0.0.1:{port}", "--timeout", "120", "--log-level", "error"]
    command.append("wsgi:app")
    env = {
        **os.environ,
        "ROWBOAT_DATABASES": databases,
        "ROWBOAT_SECRET_KEY": "bench-only-secret",
        "ROWBOAT_SLOW_SLOTS": str(slots),
        "DATABASE_URL": "",
    }
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    server = Server(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(server.base + "/healthz", timeout=2).read()
            break
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"gunicorn exited with status {process.returncode}") from None
            time.sleep(0.2)
    else:
        server.stop()
        raise SystemExit("gunicorn did not answer within 30 s")
    for _ in range(6):  # both workers discover both databases before anything is timed
        for path in PROBES.values():
            fetch(server.base + path)
    return server


def fetch(url: str, timeout: float = 60) -> tuple[int, float]:
    """(status, seconds); a refused or broken request is status 0."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    except OSError:
        status = 0
    return status, time.monotonic() - started


@dataclass
class Level:
    probes: dict[str, list[float]] = field(default_factory=dict)
    slow: Counter[int] = field(default_factory=Counter)
    slow_ok: list[float] = field(default_factory=list)


def run_level(server: Server, clients: int, duration: float) -> Level:
    level = Level(probes={name: [] for name in PROBES})
    stop = threading.Event()
    lock = threading.Lock()

    def slow_client(index: int) -> None:
        turn = index
        while not stop.is_set():
            status, seconds = fetch(server.base + SLOW_PATHS[turn % len(SLOW_PATHS)])
            turn += 1
            with lock:
                level.slow[status] += 1
                if status == 200:
                    level.slow_ok.append(seconds)
            if status == 503:
                stop.wait(RETRY_PAUSE)

    threads = [threading.Thread(target=slow_client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(min(1.0, duration / 4))  # let the slow requests start
    ends = time.monotonic() + duration
    while time.monotonic() < ends:
        for name, path in PROBES.items():
            status, seconds = fetch(server.base + path, timeout=30)
            level.probes[name].append(seconds if status == 200 else float("inf"))
    stop.set()
    for thread in threads:
        thread.join(90)
    return level


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    if seconds == float("inf"):
        return "failed"
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def pair(values: list[float]) -> str:
    return f"{ms(percentile(values, 0.5))} / {ms(percentile(values, 0.95))}"


def outcome(level: Level) -> str:
    done = level.slow[200]
    parts = [f"{done} ok"]
    for status, label in ((503, "503"), (504, "504")):
        if level.slow[status]:
            parts.append(f"{level.slow[status]} {label}")
    other = sum(n for s, n in level.slow.items() if s not in (200, 503, 504))
    if other:
        parts.append(f"{other} other")
    if done:
        parts.append(f"p50 {ms(percentile(level.slow_ok, 0.5))}")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("engines", nargs="+", choices=sorted(dataset.URLS))
    parser.add_argument("--orders", type=int, default=3_000_000)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per level")
    parser.add_argument("--levels", default="1,4,8,16")
    parser.add_argument("--slots", type=int, default=2, help="ROWBOAT_SLOW_SLOTS of the run")
    options = parser.parse_args()
    levels = [int(n) for n in options.levels.split(",")]
    use_own_database()
    output: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        other = other_database(folder)
        for engine_name in options.engines:
            if dataset.existing_orders(engine_name) != options.orders:
                seconds = dataset.create(engine_name, options.orders)
                print(f"{engine_name}: built {options.orders:,} orders in {seconds:.0f} s")
            databases = f"bench={dataset.URLS[engine_name]} other={other}"
            runs: dict[int, dict[int, Level]] = {}
            for slots in (options.slots, 0):
                server = start(databases, slots)
                try:
                    runs[slots] = {}
                    for clients in levels:
                        runs[slots][clients] = run_level(server, clients, options.duration)
                        print(f"{engine_name} slots={slots} clients={clients} done", flush=True)
                finally:
                    server.stop()
            output += table(engine_name, options, levels, runs)
    print(f"\n$ {' '.join(shlex.quote(a) for a in sys.argv)}\n")
    print("\n".join(output))


def table(
    engine_name: str,
    options: argparse.Namespace,
    levels: list[int],
    runs: dict[int, dict[int, Level]],
) -> list[str]:
    on, off = options.slots, 0
    lines = [
        f"#### {engine_name}: {options.orders:,} orders; gunicorn -w 2 --threads 4; "
        f"{options.duration:g} s per level; p50 / p95",
        "",
        "| slow clients | what | ROWBOAT_SLOW_SLOTS="
        f"{on} | baseline: ROWBOAT_SLOW_SLOTS={off} (no limit) |",
        "| ---: | --- | --- | --- |",
    ]
    for clients in levels:
        with_slots, without = runs[on][clients], runs[off][clients]
        for name in PROBES:
            lines.append(
                f"| {clients} | {name} | {pair(with_slots.probes[name])} "
                f"| {pair(without.probes[name])} |"
            )
        lines.append(
            f"| {clients} | slow requests (sort by amount, fruitless search) "
            f"| {outcome(with_slots)} | {outcome(without)} |"
        )
    lines.append("")
    return lines


if __name__ == "__main__":
    main()
