"""Measure the server's memory while it streams exports of 10 k, 100 k and 1,000,000 rows.

Usage (from the repository root):

    .venv/bin/python bench/export_memory.py [sqlite|postgresql|mariadb ...] [--rows N]

For each engine it fills a table of N rows (default 1,000,000; SQLite in a temporary file,
the servers in a dedicated ``rowboat_export_bench`` database, dropped afterwards), starts the
dashboard in a separate process, downloads each export (query CSV and JSON, list-page CSV) while
discarding the bytes, and prints the server process's resident memory (VmRSS) and peak
(VmHWM, from /proc) after each one. Streaming holds when the peak after a million rows is
about what it was after ten thousand. Figures, not assertions: it is not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import servers
from sqlalchemy import Column, Integer, MetaData, Numeric, String, Table, create_engine

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "rowboat_export_bench"
URLS = {name: servers.database_url(name, BENCH_DB) for name in servers.ADMIN}

metadata = MetaData()
big = Table(
    "big",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("label", String(40), nullable=False),
    Column("amount", Numeric(12, 2), nullable=True),
    Column("note", String(100), nullable=True),
)

SERVER = """
import sys
from werkzeug.serving import make_server
from rowboat import create_app
app = create_app({"DATABASES": {"bench": sys.argv[1]}, "DEMO_PATH": sys.argv[3],
                  "EXPORT_MAX_ROWS": 5_000_000, "EXPORT_TIMEOUT": 600.0})
make_server("127.0.0.1", int(sys.argv[2]), app, threaded=True).serve_forever()
"""


def fill(url: str, rows: int) -> None:
    engine = create_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    batch = 20_000
    with engine.begin() as connection:
        for start in range(1, rows + 1, batch):
            connection.execute(
                big.insert(),
                [
                    {
                        "id": i,
                        "label": f"row {i:07d}",
                        "amount": None if i % 7 == 0 else i / 100,
                        "note": "x" * (i % 60),
                    }
                    for i in range(start, min(start + batch, rows + 1))
                ],
            )
    engine.dispose()


def memory(pid: int) -> tuple[int, int]:
    """Resident and peak resident memory of a process, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, amount, _unit = line.split()
            values[key] = int(amount) // 1024
    return values["VmRSS:"], values["VmHWM:"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def download(url: str) -> tuple[int, float]:
    started = time.monotonic()
    size = 0
    with urllib.request.urlopen(url, timeout=900) as response:
        while chunk := response.read(1 << 16):
            size += len(chunk)
    return size, time.monotonic() - started


def bench(engine_name: str, rows: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="rowboat-bench-"))
    if engine_name == "sqlite":
        url = f"sqlite:///{folder / 'bench.sqlite'}"
    else:
        servers.admin(engine_name, f"DROP DATABASE IF EXISTS {BENCH_DB}")
        servers.admin(engine_name, f"CREATE DATABASE {BENCH_DB}")
        url = URLS[engine_name]
    print(f"\n== {engine_name}: filling {rows:,} rows …", flush=True)
    fill(url, rows)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ROWBOAT_DATABASES")}
    env["PYTHONPATH"] = str(ROOT)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, url, str(port), str(folder / "demo.sqlite")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}/bench"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/big", timeout=5).read()
                break
            except OSError:
                time.sleep(0.1)
        rss, peak = memory(server.pid)
        print(f"{'after start (one list page)':<42} rss {rss:>5} MB  peak {peak:>5} MB")
        sizes = [n for n in (10_000, 100_000, rows) if n <= rows]
        for fmt, path in (
            ("query CSV", "/-/query/export.csv?table=big&limit={n}"),
            ("query JSON", "/-/query/export.json?table=big&limit={n}"),
            ("list-page CSV", "/-/export/big.csv?id__lte={n}&_sort_desc=amount"),
        ):
            for n in sizes:
                size, seconds = download(base + path.format(n=n))
                rss, peak = memory(server.pid)
                label = f"{fmt} {n:>9,} rows ({size / 1e6:,.0f} MB, {seconds:.1f} s)"
                print(f"{label:<42} rss {rss:>5} MB  peak {peak:>5} MB", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if engine_name != "sqlite":
            servers.admin(engine_name, f"DROP DATABASE IF EXISTS {BENCH_DB}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engines", nargs="*", default=["sqlite", "postgresql", "mariadb"])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    for engine_name in args.engines:
        bench(engine_name, args.rows)


if __name__ == "__main__":
    main()
