"""The schema browser's own database: a small schema full of what structure pages must show.

Created fresh once per engine in a dedicated database (``rowboat_schema_test`` on the servers):
identity / auto-increment keys, a composite key, server defaults, a computed column, comments,
named unique and check constraints, plain, composite, partial and expression indexes, foreign
keys with ON DELETE rules, a view, and names that need quoting and escaping (reserved words,
spaces, quotes, unicode, HTML). PostgreSQL adds a second schema and a materialized view.

The fixtures here are imported by the ``test_schema_*`` modules; this module has no tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ENGINES, ENV_TO_CLEAR, engine_of, fresh_database
from flask import Flask
from sqlalchemy import (
    CheckConstraint,
    Column,
    Computed,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    text,
)

from rowboat import create_app

SCHEMA_DATABASE = "rowboat_schema_test"

metadata = MetaData()

customer = Table(
    "customer",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, comment="Full name"),
    Column("e-mail", String(120), nullable=True),
    Column("status", String(10), nullable=False, server_default="new"),
    Column("<b>html</b>", String(20), nullable=True),
    UniqueConstraint("e-mail", name="uq_customer_email"),
    CheckConstraint("status IN ('new', 'old')", name="ck_customer_status"),
    comment="People who buy things",
)

order = Table(
    "order",  # a reserved word
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False),
    Column("total", Numeric(10, 2), nullable=False),
    Column("double_total", Numeric(12, 2), Computed("total * 2", persisted=True)),
    Column("note", String(50)),
    Index("ix_order_customer", "customer_id"),
    Index("ix_order_customer_total", "customer_id", "total"),
)

line_item = Table(
    "line item",  # a space
    metadata,
    Column("order_id", Integer, ForeignKey("order.id"), primary_key=True, autoincrement=False),
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("qty", Integer, nullable=False, server_default="1"),
)

quoted = Table(
    "o'quote",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", Integer, ForeignKey("customer.id"), nullable=True),
)

unicode_table = Table(
    "Ünïcode 表",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("naïve", String(20)),
    Column("order_id", Integer, ForeignKey("order.id")),
)

lonely = Table(
    "lonely",  # no foreign key either way
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
)

VIEW = "customer_view"
TABLES = sorted(t.name for t in metadata.sorted_tables)


def create_schema(engine: Engine) -> None:
    """Create the tables, the extra indexes each engine supports, and the views."""
    metadata.create_all(engine)
    name = engine.dialect.name
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as connection:
        if name in ("postgresql", "sqlite"):
            connection.execute(
                text("CREATE INDEX ix_customer_new ON customer (name) WHERE status = 'new'")
            )
            connection.execute(text("CREATE INDEX ix_customer_lower ON customer (lower(name))"))
        connection.execute(
            text(f"CREATE VIEW {VIEW} AS SELECT id, name FROM customer WHERE status = 'new'")
        )
        connection.execute(
            text("INSERT INTO customer (name, status) VALUES ('Ada', 'new'), ('Bob', 'old')")
        )
        connection.execute(text(f"INSERT INTO {quote('order')} (customer_id, total) VALUES (1, 5)"))
        if name == "postgresql":
            connection.execute(text("CREATE SCHEMA extra"))
            connection.execute(
                text(
                    "CREATE TABLE extra.note (id integer PRIMARY KEY, "
                    "customer_id integer REFERENCES public.customer (id))"
                )
            )
            connection.execute(text("CREATE MATERIALIZED VIEW customer_totals AS SELECT 1 AS one"))


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session", params=ENGINES)
def schema_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh database holding the schema above, once per engine."""
    with fresh_database(request.param, SCHEMA_DATABASE, tmp_path_factory) as url:
        engine = create_engine(url)
        try:
            create_schema(engine)
        finally:
            engine.dispose()
        yield url


@pytest.fixture
def schema_engine_name(schema_url: str) -> str:
    return engine_of(schema_url)


def make_app(url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, **db: Any) -> Flask:
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    application = create_app(
        {"DATABASES": {"s": {"url": url, **db}}, "DEMO_PATH": str(tmp_path / "demo.sqlite")}
    )
    application.config["TESTING"] = True
    return application


@pytest.fixture
def schema_app(schema_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The dashboard serving only the schema database, under the name ``s``."""
    application = make_app(schema_url, tmp_path, monkeypatch)
    yield application
    for database in application.extensions["rowboat.databases"].values():
        database.engine.dispose()


@pytest.fixture
def schema_engine(schema_url: str) -> Iterator[Engine]:
    """A separate engine on the schema database, for changing it behind the app's back."""
    engine = create_engine(schema_url)
    yield engine
    engine.dispose()
