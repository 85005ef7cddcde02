"""A list page with many filters: page size and time, to show the cost grows linearly.

Usage (from the repository root):

    .venv/bin/python bench/many_filters.py [sqlite|postgresql|mariadb] [--counts 50,570,2000]

Fills a table ``items`` (100 rows; SQLite in a temporary file, the servers in a dedicated
``rowboat_filters_bench`` database, dropped afterwards) and asks Flask's test client for its
list page with N filters ``id__not=<i>`` (570 of them make a 7 KB query string). The filter
cap and the URL-length cap are raised for the measurement (``MAX_FILTERS``,
``MAX_URL_LENGTH``), so the page is rendered whatever N is; what the default caps answer is
printed after. SQLite refuses an expression over 1,000 terms deep, so 2,000 filters need a
server. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import servers
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rowboat import create_app  # noqa: E402

BENCH_DB = "rowboat_filters_bench"
URLS = {name: servers.database_url(name, BENCH_DB) for name in servers.ADMIN}


def _fill(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(40))"))
        connection.execute(
            text("INSERT INTO items (id, name) VALUES (:id, :name)"),
            [{"id": i, "name": f"item {i}"} for i in range(100)],
        )
    engine.dispose()


def url_for_filters(count: int) -> str:
    return "/bench/items?" + "&".join(f"id__not={i}" for i in range(count))


def measure(url: str, counts: list[int], repeat: int, folder: str) -> None:
    overrides = {"DATABASES": {"bench": url}, "DEMO_PATH": str(Path(folder) / "demo.sqlite")}
    raised = create_app({**overrides, "MAX_FILTERS": 100_000, "MAX_URL_LENGTH": 10**7})
    defaults = create_app(overrides)
    client, default_client = raised.test_client(), defaults.test_client()
    client.get("/bench/items")  # discovery and templates, once
    print(f"{'filters':>8} {'query string':>13} {'status':>6} {'page':>12} {'median':>9}")
    for count in counts:
        path = url_for_filters(count)
        times, size, status = [], 0, 0
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - started)
            size, status = len(response.data), response.status_code
        query = len(path.split("?", 1)[1])
        median = statistics.median(times)
        print(f"{count:>8} {query:>11,} B {status:>6} {size:>10,} B {median:>7.3f} s")
    for count in counts:
        response = default_client.get(url_for_filters(count))
        print(f"default caps, {count} filters: {response.status_code}")
    for application in (raised, defaults):
        for database in application.extensions["rowboat.databases"].values():
            database.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("engine", nargs="?", default="sqlite", choices=["sqlite", *servers.ADMIN])
    parser.add_argument("--counts", default="50,570,2000")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    counts = [int(n) for n in options.counts.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        if options.engine == "sqlite":
            url = f"sqlite:///{folder}/bench.sqlite"
            _fill(url)
            measure(url, counts, options.repeat, folder)
            return
        servers.admin(options.engine, f"DROP DATABASE IF EXISTS {BENCH_DB}")
        servers.admin(options.engine, f"CREATE DATABASE {BENCH_DB}")
        try:
            _fill(URLS[options.engine])
            measure(URLS[options.engine], counts, options.repeat, folder)
        finally:
            servers.admin(options.engine, f"DROP DATABASE IF EXISTS {BENCH_DB}")


if __name__ == "__main__":
    main()
