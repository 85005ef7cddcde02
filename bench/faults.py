"""How long a page of a hung, cut or slow database takes to answer (503), and /healthz meanwhile.

Puts ``tests/faultproxy.FaultProxy`` between the app and the shared PostgreSQL (5432) and
MariaDB (3306), in the database ``rowboat_bench_faults`` (created, filled and dropped here),
then times, per engine and over ``--repeat`` runs:

- a list page while the proxy blackholes a pooled connection (the watchdog's deadline:
  statement limit + CONNECT_TIMEOUT);
- a list page needing a new connection through the blackhole (the driver's connect timeout);
- a list page after every connection was cut (a lost connection, then a refused one);
- /healthz while the database hangs (HEALTH_TIMEOUT).

    .venv/bin/python bench/faults.py                 # --repeat 3 --statement 1 --connect 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from faultproxy import FaultProxy  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from rowboat import create_app  # noqa: E402

SERVERS = {
    "postgresql": ("postgresql+psycopg2://postgres@127.0.0.1:5432/postgres", 5432),
    "mariadb": ("mysql+pymysql://root@127.0.0.1:3306/mysql", 3306),
}
NAME = "rowboat_bench_faults"


def _prepare(admin_url: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {NAME}"))
        connection.execute(text(f"CREATE DATABASE {NAME}"))
    admin.dispose()
    url = make_url(admin_url).set(database=NAME).render_as_string(hide_password=False)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE item (id integer PRIMARY KEY, name varchar(40))"))
        connection.execute(text("INSERT INTO item VALUES (1, 'one'), (2, 'two')"))
    engine.dispose()
    return url


def _drop(admin_url: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {NAME}"))
    admin.dispose()


def _timed(client: Any, path: str) -> tuple[float, int]:
    started = time.monotonic()
    response = client.get(path)
    return time.monotonic() - started, response.status_code


def run(engine_name: str, repeat: int, statement: float, connect: float) -> dict[str, list[float]]:
    admin_url, port = SERVERS[engine_name]
    url = _prepare(admin_url)
    figures: dict[str, list[float]] = {}
    try:
        for _ in range(repeat):
            with FaultProxy(port) as proxy:
                via = make_url(url).set(port=proxy.port).render_as_string(hide_password=False)
                app = create_app(
                    {
                        "DATABASES": {"flaky": {"url": via}},
                        "STATEMENT_TIMEOUT": statement,
                        "CONNECT_TIMEOUT": connect,
                        "HEALTH_TIMEOUT": 1.0,
                    }
                )
                client = app.test_client()
                assert client.get("/flaky/item").status_code == 200
                proxy.set("blackhole")
                for what, path in (
                    ("hung, pooled connection", "/flaky/item"),
                    ("hung, new connection", "/flaky/item/1"),
                ):
                    seconds, status = _timed(client, path)
                    assert status == 503, status
                    figures.setdefault(what, []).append(seconds)
                seconds, status = _timed(client, "/healthz")
                assert status == 503
                figures.setdefault("/healthz while hung", []).append(seconds)
                proxy.set("pass")
                proxy.cut()
                assert client.get("/flaky/item").status_code == 200
                proxy.set("refuse")
                proxy.cut()
                seconds, status = _timed(client, "/flaky/item")
                assert status == 503
                figures.setdefault("cut, then refused", []).append(seconds)
                for database in app.extensions["rowboat.databases"].values():
                    database.engine.dispose()
    finally:
        _drop(admin_url)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--statement", type=float, default=1.0)
    parser.add_argument("--connect", type=float, default=2.0)
    args = parser.parse_args()
    print(f"STATEMENT_TIMEOUT={args.statement:g} s, CONNECT_TIMEOUT={args.connect:g} s")
    for engine_name in SERVERS:
        for what, values in run(engine_name, args.repeat, args.statement, args.connect).items():
            print(
                f"{engine_name:<11} {what:<26} median {statistics.median(values):6.2f} s"
                f"   max {max(values):6.2f} s"
            )


if __name__ == "__main__":
    main()
