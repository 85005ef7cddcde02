"""The query builder's test schema and database fixtures, on SQLite, PostgreSQL and MariaDB.

A small shop (regions, customers, orders) with NULLs in every optional column, plus two tables
that make a deliberately explosive join for the time-limit tests. The rows are generated from
a fixed seed and kept as module constants, so tests compute what they expect in Python from
the same source the databases were filled from. Server databases are the dedicated
``rowboat_query_test``, recreated per session; an unreachable server skips its tests, or fails
them under ``CI=true``.

Other ``test_query_*`` modules import the fixtures from here.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from conftest import ENGINES, fresh_database
from flask import Flask
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    insert,
    text,
)

from rowboat import create_app

DATABASE = "rowboat_query_test"

metadata = MetaData()

region = Table(
    "qb_region",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(20), nullable=False),
)
customer = Table(
    "qb_customer",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(30), nullable=True),
    Column("region_id", Integer, ForeignKey("qb_region.id"), nullable=True),
    Column("vip", Boolean, nullable=True),
    Column("joined", Date, nullable=True),
    Column("credit", Numeric(8, 2), nullable=True),
)
order = Table(
    "qb_order",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", Integer, ForeignKey("qb_customer.id"), nullable=True),
    Column("status", String(12), nullable=True),
    Column("total", Numeric(10, 2), nullable=True),
    Column("qty", Integer, nullable=True),
    Column("placed", DateTime, nullable=True),
)
# One group holding every number: following grp -> nums twice multiplies the rows enormously.
grp = Table("qb_grp", metadata, Column("id", Integer, primary_key=True, autoincrement=False))
num = Table(
    "qb_num",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("grp_id", Integer, ForeignKey("qb_grp.id"), nullable=False),
)

WORDS = ["", "a", "ab", "abc", "b", "ba", "bca", "c", "cab", "cc"]
REGIONS = [{"id": i, "name": name} for i, name in enumerate(["north", "south", "east", "west"], 1)]


def _maybe(rng: random.Random, value: Any, p_null: float = 0.2) -> Any:
    return None if rng.random() < p_null else value


def _rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(20261121)
    customers = []
    for i in range(1, 26):
        customers.append(
            {
                "id": i,
                "name": _maybe(rng, rng.choice(WORDS)),
                "region_id": _maybe(rng, rng.randint(1, 4)),
                "vip": _maybe(rng, rng.random() < 0.5),
                "joined": _maybe(rng, dt.date(2020, 1, 1) + dt.timedelta(days=rng.randint(0, 900))),
                "credit": _maybe(rng, Decimal(rng.randint(-5000, 50000)) / 100),
            }
        )
    orders = []
    for i in range(1, 151):
        orders.append(
            {
                "id": i,
                "customer_id": _maybe(rng, rng.randint(1, 25), 0.1),
                "status": _maybe(rng, rng.choice(WORDS)),
                "total": _maybe(rng, Decimal(rng.randint(0, 20000)) / 100),
                "qty": _maybe(rng, rng.randint(0, 9)),
                "placed": _maybe(
                    rng,
                    dt.datetime(2024, 1, 1) + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 400)),
                ),
            }
        )
    return customers, orders


CUSTOMERS, ORDERS = _rows()
N_NUMS = 3000
ROWS: dict[str, list[dict[str, Any]]] = {
    "qb_region": REGIONS,
    "qb_customer": CUSTOMERS,
    "qb_order": ORDERS,
    "qb_grp": [{"id": 1}],
    "qb_num": [{"id": i, "grp_id": 1} for i in range(1, N_NUMS + 1)],
}


def create_query_schema(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            connection.execute(insert(table), ROWS[table.name])


@pytest.fixture(scope="session", params=ENGINES)
def query_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh database holding the query-builder schema, once per engine."""
    with fresh_database(request.param, DATABASE, tmp_path_factory) as url:
        engine = create_engine(url)
        try:
            create_query_schema(engine)
        finally:
            engine.dispose()
        yield url


def make_query_app(url: str, tmp_path: Any, **settings: Any) -> Flask:
    application = create_app(
        {
            "DATABASES": {"shop": {"url": url}},
            "DEMO_PATH": str(tmp_path / "demo.sqlite"),
            **settings,
        }
    )
    application.config["TESTING"] = True
    return application


@pytest.fixture
def query_app(query_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    for name in ("DATABASE_URL", "ROWBOAT_DATABASES", "ROWBOAT_MODELS"):
        monkeypatch.delenv(name, raising=False)
    application = make_query_app(query_url, tmp_path)
    yield application
    for database in application.extensions["rowboat.databases"].values():
        database.engine.dispose()


def test_schema_is_loaded(query_url: str) -> None:
    engine = create_engine(query_url)
    try:
        with engine.connect() as connection:
            counts = {
                t.name: connection.execute(text(f"SELECT count(*) FROM {t.name}")).scalar_one()
                for t in metadata.sorted_tables
            }
    finally:
        engine.dispose()
    assert counts == {name: len(rows) for name, rows in ROWS.items()}
