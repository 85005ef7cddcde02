"""Schema and EXPLAIN pages on objects SQLAlchemy does not fully understand, on every engine.

A fresh database (``rowboat_sch_test``) holds what real databases have and the edge schema
lacks: PostgreSQL's geometric, XML, composite and domain types (SQLAlchemy reflects the first
three as ``NullType``), MariaDB's ``INET6`` and ``POINT`` and a sequence default, SQLite
columns declared without a type, a primary key declared in another order than its columns,
and a table whose column types have result processors that must not touch an EXPLAIN plan.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import ENGINES, Page, dashboard_for, engine_of, fresh_database
from flask import Flask
from sqlalchemy import (
    JSON,
    Column,
    Date,
    Double,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    text,
)
from test_schema_http import columns_of

from rowboat.schema.structure import take_snapshot

Read = Callable[[Any], Page]

metadata = MetaData()
# Ten columns: MariaDB's EXPLAIN has ten, SQLite's four, PostgreSQL's one. Selecting as many
# columns as the plan has is what made SQLAlchemy read plan rows with these columns' types.
typed = Table(
    "typed",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("d", Date),
    Column("j", JSON),
    Column("n", Numeric(10, 2)),
    Column("f", Double),  # reflected on MariaDB as DOUBLE(asdecimal=True): read as Decimal
    *[Column(f"c{i}", Integer) for i in range(6, 11)],
)
pk_order = Table(
    "pk_order",
    metadata,
    Column("a", Integer, nullable=False),
    Column("b", Integer, nullable=False),
    Column("c", String(10)),
)

PLAN_COLUMNS = {
    "postgresql": ["n"],
    "sqlite": ["d", "j", "n", "id"],
    "mariadb": ["id", "f", "d", "j", "n", *[f"c{i}" for i in range(6, 11)]],
}


def create_objects(url: str) -> None:
    engine = create_engine(url)
    name = engine_of(url)
    try:
        metadata.create_all(engine, tables=[typed])
        with engine.begin() as connection:
            connection.execute(
                typed.insert(),
                {"id": 1, "d": dt.date(2024, 1, 2), "j": {"a": 1}, "n": decimal.Decimal("1.5")},
            )
            # Declared in the other order than the columns: the key is (b, a).
            connection.execute(
                text(
                    "CREATE TABLE pk_order (a INTEGER NOT NULL, b INTEGER NOT NULL, "
                    "c VARCHAR(10), PRIMARY KEY (b, a))"
                )
            )
            if name == "postgresql":
                connection.execute(text("CREATE TYPE pair AS (a int, b text)"))
                connection.execute(text("CREATE DOMAIN posint AS integer CHECK (VALUE > 0)"))
                connection.execute(
                    text(
                        "CREATE TABLE odd_types (id serial PRIMARY KEY, p point, pr pair, "
                        "x xml, ts tsvector, d posint, pa point[])"
                    )
                )
            elif name == "mariadb":
                connection.execute(text("CREATE SEQUENCE s"))
                connection.execute(
                    text(
                        "CREATE TABLE seq_default (id INT DEFAULT NEXTVAL(s) PRIMARY KEY, "
                        "v VARCHAR(10))"
                    )
                )
                connection.execute(
                    text("CREATE TABLE odd_types (id INT PRIMARY KEY, g POINT, i6 INET6)")
                )
            else:
                connection.execute(
                    text("CREATE TABLE odd_types (id INTEGER PRIMARY KEY, untyped, v TEXT)")
                )
    finally:
        engine.dispose()


@pytest.fixture(scope="session", params=ENGINES)
def hostile_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with fresh_database(request.param, "rowboat_sch_test", tmp_path_factory) as url:
        create_objects(url)
        yield url


@pytest.fixture
def hostile_app(
    hostile_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    with dashboard_for(hostile_url, tmp_path, monkeypatch) as application:
        yield application


# What each engine's catalog calls the columns SQLAlchemy cannot name.
EXPECTED_TYPES = {
    "postgresql": {
        "p": "point",
        "pr": "pair",
        "x": "xml",
        "ts": "TSVECTOR",
        "d": "posint",
        "pa": "point[]",
    },
    "mariadb": {"g": "point", "i6": "inet6"},
    "sqlite": {"untyped": "", "v": "TEXT"},
}


def test_unknown_types_are_shown_by_the_database_s_own_name(
    hostile_app: Flask, hostile_url: str, read: Read
) -> None:
    engine = engine_of(hostile_url)
    response = hostile_app.test_client().get("/h/-/schema/odd_types")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "NullType" not in html
    page = read(response)
    columns = columns_of(page)
    for name, type_name in EXPECTED_TYPES[engine].items():
        assert columns[name]["Type"] == type_name
    ddl = page.one("pre", "ddl").text()
    if engine == "postgresql":  # compiled: every column by the name the database gave
        for fragment in ("p point", "pr pair", "x xml", "ts TSVECTOR", "d posint", "pa point[]"):
            assert fragment in ddl
    elif engine == "mariadb":
        assert "`g` point" in ddl and "`i6` inet6" in ddl


def test_no_schema_page_names_nulltype(hostile_app: Flask) -> None:
    client = hostile_app.test_client()
    for path in ("/h/-/schema", "/h/-/schema?q=odd", "/h/-/diagram", "/h/-/diagram/odd_types"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "NullType" not in response.get_data(as_text=True), path


def test_the_diagram_names_unknown_types_by_the_database_s_name(
    hostile_app: Flask, hostile_url: str
) -> None:
    engine = hostile_app.extensions["rowboat.databases"]["h"].engine
    snapshot = take_snapshot(engine)
    types = snapshot.get(None, "odd_types").column_types
    for name, type_name in EXPECTED_TYPES[engine_of(hostile_url)].items():
        assert types[name] == type_name


def test_a_composite_primary_key_is_listed_in_the_constraint_s_order(
    hostile_app: Flask, read: Read
) -> None:
    response = hostile_app.test_client().get("/h/-/schema/pk_order")
    assert response.status_code == 200
    page = read(response)
    line = page.one("p", "pk-line")
    assert [code.text() for code in line.find_all("code")] == ["b", "a"]
    # The diagrams' boxes list the key the same way.
    engine = hostile_app.extensions["rowboat.databases"]["h"].engine
    assert take_snapshot(engine).get(None, "pk_order").key_columns == ["b", "a"]


def test_mariadb_sequence_default_is_shown(
    hostile_app: Flask, hostile_url: str, read: Read
) -> None:
    if engine_of(hostile_url) != "mariadb":
        pytest.skip("sequences as column defaults: MariaDB")
    response = hostile_app.test_client().get("/h/-/schema/seq_default")
    assert response.status_code == 200
    default = columns_of(read(response))["id"]["Default"]
    assert default.startswith("nextval(") and default.endswith("`s`)")


def test_explain_reads_plan_rows_as_text_whatever_the_query_s_column_types(
    hostile_app: Flask, hostile_url: str, read: Read
) -> None:
    columns = PLAN_COLUMNS[engine_of(hostile_url)]
    query = "&".join(["table=typed", *[f"col={c}" for c in columns]])
    response = hostile_app.test_client().get(f"/h/-/query/explain?{query}")
    assert response.status_code == 200
    page = read(response)
    plan = page.find("pre", "qb-plan") or page.one("table", "qb-plan")
    assert "typed" in plan.text()
