"""How long the schema pages take on a PostgreSQL database with 1,000 tables.

Creates (or reuses) the database ``rowboat_bench_schema`` holding 1,000 tables in chains of
foreign keys, each with a few columns, an index and a comment, then times through Flask's test
client, with a fresh app each run:

- the bulk snapshot on its own (``take_snapshot``: SQLAlchemy 2's multi-table reflection),
- the schema page's first load (snapshot + statistics + render) and later loads (cached),
- a structure page, a one-table diagram and the whole-database diagram page (a picker here),
- a search across all table and column names,
- meanwhile, how long another request (``/healthz``) waits while the first load runs.

Usage: python bench/schema_reflection.py [--url postgresql+psycopg2://postgres@127.0.0.1/postgres]
       [--tables 1000] [--repeat 5] [--recreate]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from rowboat import create_app  # noqa: E402
from rowboat.schema.structure import take_snapshot  # noqa: E402

DATABASE = "rowboat_bench_schema"


def build_schema(admin_url: str, n_tables: int, recreate: bool) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    url = make_url(admin_url).set(database=DATABASE).render_as_string(hide_password=False)
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DATABASE}
        ).first()
        if exists and recreate:
            connection.execute(text(f"DROP DATABASE {DATABASE} WITH (FORCE)"))
            exists = None
        if not exists:
            connection.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as connection:
        have = connection.execute(
            text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        ).scalar()
        if have != n_tables:
            started = time.perf_counter()
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            statements = []
            for i in range(n_tables):
                parent = f", parent_id integer REFERENCES t{i - 1:04d} (id)" if i % 10 else ""
                statements.append(
                    f"CREATE TABLE t{i:04d} (id serial PRIMARY KEY, name varchar(80) NOT NULL, "
                    f"created timestamp DEFAULT now(), amount numeric(10, 2), "
                    f"note text{parent});"
                    f"CREATE INDEX ix_t{i:04d}_name ON t{i:04d} (name);"
                    f"COMMENT ON TABLE t{i:04d} IS 'bench table {i}';"
                )
            for chunk in range(0, len(statements), 100):
                connection.execute(text("".join(statements[chunk : chunk + 100])))
            print(f"created {n_tables} tables in {time.perf_counter() - started:.1f} s")
    engine.dispose()
    return url


def timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--recreate", action="store_true")
    args = parser.parse_args()
    for name in ("DATABASE_URL", "ROWBOAT_DATABASES", "ROWBOAT_MODELS"):
        os.environ.pop(name, None)
    url = build_schema(args.url, args.tables, args.recreate)

    engine = create_engine(url)
    snapshot_times = [timed(lambda: take_snapshot(engine))[0] for _ in range(args.repeat)]
    engine.dispose()
    print(f"{'bulk snapshot (take_snapshot)':<44} median {statistics.median(snapshot_times):.3f} s")

    rows: dict[str, list[float]] = {}
    waits: list[float] = []
    for _ in range(args.repeat):
        app = create_app({"DATABASES": {"bench": url}, "DEMO_PATH": "/tmp/rowboat-bench-demo"})
        client = app.test_client()
        other = app.test_client()
        done = threading.Event()
        blocked: list[float] = []

        def ping(other: Any = other, done: threading.Event = done, out: list = blocked) -> None:
            time.sleep(0.02)
            while not done.is_set():
                seconds, response = timed(lambda: other.get("/healthz"))
                assert response.status_code == 200
                out.append(seconds)

        pinger = threading.Thread(target=ping)
        pinger.start()
        first, response = timed(lambda client=client: client.get("/bench/-/schema"))
        done.set()
        pinger.join()
        assert response.status_code == 200, response.status_code
        waits.append(max(blocked) if blocked else 0.0)
        rows.setdefault("schema page, first load", []).append(first)
        for label, path in (
            ("schema page, later loads", "/bench/-/schema"),
            ("search 'amount' (1,000 hits)", "/bench/-/schema?q=amount"),
            ("structure page t0005", "/bench/-/schema/t0005"),
            ("one-table diagram t0005", "/bench/-/diagram/t0005"),
            ("whole-database diagram (picker)", "/bench/-/diagram"),
        ):
            seconds, response = timed(lambda path=path, client=client: client.get(path))
            assert response.status_code == 200, (path, response.status_code)
            rows.setdefault(label, []).append(seconds)
        app.extensions["rowboat.databases"]["bench"].engine.dispose()
    for label, values in rows.items():
        print(f"{label:<44} median {statistics.median(values):.3f} s  max {max(values):.3f} s")
    print(
        f"{'longest /healthz wait during the first load':<44} median "
        f"{statistics.median(waits):.3f} s  max {max(waits):.3f} s"
    )


if __name__ == "__main__":
    main()
