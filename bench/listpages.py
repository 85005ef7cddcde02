"""Rowboat against the floor on a big orders table: list pages, row pages, lookups and exports.

    .venv/bin/python bench/listpages.py postgresql mariadb --orders 5000000

For each engine it builds the dataset in ``rowboat_bench`` (``bench/dataset.py``; kept when it
already holds that many orders, ``--rebuild`` to force), starts Rowboat (``gunicorn wsgi:app``)
and the floor app (``bench/floor_app.py``) with 2 gunicorn workers each on free ports of
127.0.0.1, drives every page of both with ``wrk`` (2 connections, ``--duration`` seconds a
case), streams the CSV export against ``psql \\copy`` (``mysql --quick`` on MariaDB) to
/dev/null while sampling the Rowboat workers' resident memory, times the list template's
render per row in-process against the floor's, and prints one table where every figure has
its ratio to the floor beside it. Needs ``wrk`` (Debian: ``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import dataset  # noqa: E402  (bench/dataset.py)

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SECRET = "bench-only-secret"  # two workers must share it for the edit form's CSRF token


# --- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start(name: str, app: str, cwd: Path, env: dict[str, str]) -> Server:
    port = free_port()
    command = [str(VENV_BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", app]
    command += ["--timeout", "600", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **env})
    server = Server(name, process, port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(server.base + "/", timeout=2).read()
            return server
        except urllib.error.HTTPError:  # it answers: a 404 will do
            return server
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"{name} exited with status {process.returncode}") from None
            time.sleep(0.2)
    server.stop()
    raise SystemExit(f"{name} did not answer within 30 s")


def get(url: str, timeout: float = 60) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode("utf-8")


# --- load -----------------------------------------------------------------------------------


@dataclass
class Load:
    rps: float
    p50: float  # seconds
    p99: float
    errors: int

    def cells(self) -> tuple[str, str, str]:
        return f"{self.rps:,.1f}", _ms(self.p50), _ms(self.p99)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.1f} s"


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, duration: int, connections: int) -> Load:
    command = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{duration}s", "--latency"]
    command += ["--timeout", "30s", url]
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 60, check=True
    ).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    timeouts = re.search(r"Socket errors: .*timeout (\d+)", output)
    return Load(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        p50=_seconds(percentiles.get("50", "0s")),
        p99=_seconds(percentiles.get("99", "0s")),
        errors=sum(int(m.group(1)) for m in (errors, timeouts) if m),
    )


def warm(url: str, budget: float) -> list[float]:
    """A few requests, within ``budget`` seconds: the seconds each took (errors included)."""
    timings: list[float] = []
    deadline = time.monotonic() + budget
    while len(timings) < 4 and time.monotonic() < deadline:
        started = time.monotonic()
        try:
            urllib.request.urlopen(url, timeout=budget).read()
        except OSError:  # an error page or a timeout still warms the worker
            pass
        timings.append(time.monotonic() - started)
    return timings


def wrk_or_timed(url: str, duration: int, connections: int) -> Load:
    """wrk, or, when its requests were too slow for it to record latencies, timed requests."""
    load = wrk(url, duration, connections)
    if load.p50 == 0 or load.p99 < load.p50:  # wrk prints 0 for latencies it did not bin
        timings = sorted(warm(url, duration * 3))
        load.p50, load.p99 = statistics.median(timings), timings[-1]
    return load


# --- export ---------------------------------------------------------------------------------


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) if match else 0


def export_rowboat(server: Server, path: str) -> tuple[int, float, float]:
    """Stream one export to nowhere: (rows, seconds, peak RSS growth of a worker in MB)."""
    workers = server.workers()
    before = {pid: _rss_kb(pid) for pid in workers}
    peak = dict(before)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            for pid in workers:
                peak[pid] = max(peak[pid], _rss_kb(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    lines = 0
    with urllib.request.urlopen(server.base + path, timeout=900) as response:
        while chunk := response.read(1 << 20):
            lines += chunk.count(b"\n")
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    growth = max(peak[pid] - before[pid] for pid in workers) / 1024
    return lines - 1, seconds, growth  # minus the header line


def export_floor(engine_name: str) -> tuple[float, str]:
    """The client tool's own export of the same rows to /dev/null: (seconds, what ran)."""
    query = "SELECT * FROM orders ORDER BY id"
    if engine_name == "postgresql":
        command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", dataset.BENCH_DB, "-c"]
        command.append(f"\\copy ({query}) TO '/dev/null' WITH (FORMAT csv, HEADER)")
        label = "psql \\copy"
    else:
        command = ["mysql", "-h", "127.0.0.1", "-uroot", "--quick", "--batch", dataset.BENCH_DB]
        command += ["-e", query]
        label = "mysql --quick"
    started = time.monotonic()
    with open(os.devnull, "wb") as sink:
        subprocess.run(command, stdout=sink, check=True, timeout=900)
    return time.monotonic() - started, label


# --- render cost ----------------------------------------------------------------------------


def render_per_row(app: object, list_path: str, sizes: tuple[int, int] = (50, 500)) -> float:
    """Seconds of template rendering per row: (render at 500 rows - at 50 rows) / 450, medians."""
    from flask import before_render_template, template_rendered

    timings: list[float] = []
    clock: list[float] = []

    def before(*_args: object, **_kw: object) -> None:
        clock.append(time.perf_counter())

    def after(*_args: object, **_kw: object) -> None:
        timings.append(time.perf_counter() - clock.pop())

    before_render_template.connect(before, app)
    template_rendered.connect(after, app)
    client = app.test_client()
    medians = []
    for size in sizes:
        url = list_path.format(size=size)
        client.get(url)  # warm: catalog, template compilation
        timings.clear()
        deadline = time.monotonic() + 10
        for _ in range(30):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            if time.monotonic() > deadline:
                break
        medians.append(statistics.median(timings))
    before_render_template.disconnect(before, app)
    template_rendered.disconnect(after, app)
    return (medians[1] - medians[0]) / (sizes[1] - sizes[0])


def render_costs(url: str) -> tuple[float, float]:
    """(Rowboat's, the floor's) list-template render seconds per row, in this process."""
    os.environ["FLOOR_DATABASE_URL"] = url
    import floor_app

    from app import create_app

    rowboat = create_app({"DATABASES": {"bench": url}, "SECRET_KEY": SECRET})
    return (
        render_per_row(rowboat, "/bench/orders?_size={size}"),
        render_per_row(floor_app.app, "/orders?limit={size}"),
    )


# --- the run --------------------------------------------------------------------------------


def cases(rowboat: Server, orders: int) -> list[tuple[str, str, str]]:
    """(what, Rowboat path, floor path) for every page measured with wrk."""
    last = get(rowboat.base + "/bench/orders?_last=1")
    prev = re.search(r'rel="prev" class="prev" href="([^"]+)"', last).group(1).replace("&amp;", "&")
    before = orders - 49  # the floor's page before its last: ids below the last 50
    key = orders // 2
    customer = 4242 % max(orders // 25, 10) + 1
    edit = f"/bench/orders/{key}/-/edit"
    has_edit = urllib.request.urlopen(rowboat.base + edit, timeout=60).status == 200
    has_lookup = "lookup.json" in get(rowboat.base + edit)
    return [
        ("list page 1", "/bench/orders", "/orders"),
        ("deep page (prev of last)", prev, f"/orders?before={before}"),
        ("sort, indexed (created_at)", "/bench/orders?_sort=created_at", "/orders?sort=created_at"),
        ("sort, unindexed (amount)", "/bench/orders?_sort=amount", "/orders?sort=amount"),
        (
            "filter, indexed (customer_id)",
            f"/bench/orders?customer_id={customer}",
            f"/orders?customer_id={customer}",
        ),
        (
            "filter, unindexed (amount >)",
            "/bench/orders?amount__gt=99999.9",
            "/orders?amount_gt=99999.9",
        ),
        ("text search (gift)", "/bench/orders?_search=gift", "/orders?q=gift"),
        ("row page", f"/bench/orders/{key}", f"/orders/{key}"),
        ("edit form", edit if has_edit else "", f"/orders/{key}/edit"),
        (
            "FK lookup on customers (kowal)",
            "/bench/customers/-/lookup.json?q=kowal" if has_lookup else "",
            "/customers/lookup.json?q=kowal",
        ),
    ]


def ratio(value: float, floor: float) -> str:
    return f"{value / floor:.2f}×" if floor else "-"


def run_engine(engine_name: str, options: argparse.Namespace) -> list[str]:
    url = dataset.URLS[engine_name]
    if options.rebuild or dataset.existing_orders(engine_name) != options.orders:
        seconds = dataset.create(engine_name, options.orders)
        print(f"{engine_name}: built {options.orders:,} orders in {seconds:.0f} s", flush=True)
    rowboat = start(
        "rowboat",
        "wsgi:app",
        ROOT,
        {"ROWBOAT_DATABASES": f"bench={url}", "ROWBOAT_SECRET_KEY": SECRET, "DATABASE_URL": ""},
    )
    try:
        floor = start("floor", "floor_app:app", ROOT / "bench", {"FLOOR_DATABASE_URL": url})
    except BaseException:
        rowboat.stop()
        raise
    lines = [
        f"### {engine_name}: {options.orders:,} orders, {max(options.orders // 25, 10):,} "
        f"customers; wrk -c{options.connections} -d{options.duration}s per case",
        "",
        "| case | Rowboat req/s | p50 | p99 | floor req/s | p50 | p99 "
        "| req/s ratio | p99 ratio | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    try:
        for what, ours, theirs in cases(rowboat, options.orders):
            if not ours:
                lines.append(f"| {what} | n/a (not built yet) | | | | | | | | |")
                continue
            for server, path in ((rowboat, ours), (floor, theirs)):  # warm both workers
                warm(server.base + path, options.duration)
            mine = wrk_or_timed(rowboat.base + ours, options.duration, options.connections)
            base = wrk_or_timed(floor.base + theirs, options.duration, options.connections)
            lines.append(
                f"| {what} | {' | '.join(mine.cells())} | {' | '.join(base.cells())} "
                f"| {ratio(mine.rps, base.rps)} | {ratio(mine.p99, base.p99)} "
                f"| {mine.errors or ''} |"
            )
            print(lines[-1], flush=True)
        if not options.no_export:
            rows, seconds, growth = export_rowboat(rowboat, "/bench/-/export/orders.csv")
            floor_seconds, tool = export_floor(engine_name)
            lines.append(
                f"| CSV export, {rows:,} rows (floor: {tool}) | {rows / seconds:,.0f} rows/s "
                f"| {seconds:.1f} s | peak RSS +{growth:.0f} MB "
                f"| {options.orders / floor_seconds:,.0f} rows/s | {floor_seconds:.1f} s | "
                f"| {ratio(floor_seconds, seconds)} | | |"
            )
            print(lines[-1], flush=True)
    finally:
        rowboat.stop()
        floor.stop()
    ours, theirs = render_costs(url)
    lines.append(
        f"| list template render per row (in-process) | {ours * 1e6:.1f} µs | | "
        f"| {theirs * 1e6:.1f} µs | | | {ratio(ours, theirs)} (time) | | |"
    )
    print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("engines", nargs="+", choices=sorted(dataset.URLS))
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per case")
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the dataset anyway")
    parser.add_argument("--no-export", action="store_true", help="skip the export case")
    options = parser.parse_args()
    os.chdir(ROOT)
    tables = [run_engine(name, options) for name in options.engines]
    print(f"\n$ {' '.join(shlex.quote(a) for a in sys.argv)}\n")
    for table in tables:
        print("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
