"""Drift between models and the database, and the Alembic revision, on every engine.

``DriftBase`` describes part of the schema database with one column too many, so the report
must name that column (models only) and the tables the models leave out (database only), and
nothing else about the tables both sides agree on. The demo models are checked to produce no
drift at all on each engine, since that is the first drift page a new user sees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import Page
from sqlalchemy import Column, Engine, Integer, MetaData, text
from sqlalchemy.orm import DeclarativeBase
from test_schema_support import customer, line_item, make_app, order

from rowboat.schema.drift import DATABASE_ONLY, DIFFERS, MODELS_ONLY, compare

Read = Callable[[Any], Page]

drift_metadata = MetaData()
drift_customer = customer.to_metadata(drift_metadata)
drift_customer.append_column(Column("loyalty_points", Integer, nullable=True))
order.to_metadata(drift_metadata)
line_item.to_metadata(drift_metadata)

# The schema database fixtures (schema_url, schema_app, ...) live beside the helpers.
pytest_plugins = ["test_schema_support"]


class DriftBase(DeclarativeBase):
    metadata = drift_metadata


class Customer(DriftBase):
    __table__ = drift_customer


MODELS = "test_schema_drift:DriftBase"


def drift_rows(page: Page) -> dict[str, list[tuple[str, ...]]]:
    result: dict[str, list[tuple[str, ...]]] = {}
    for table in page.find_all("table", "drift-items"):
        result[table.attrs["data-direction"]] = [
            tuple(td.text() for td in tr.find_all("td")[:3])
            for tr in table.one("tbody").find_all("tr")
        ]
    return result


def test_drift_names_the_extra_column_and_the_extra_tables(
    schema_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, read: Read
) -> None:
    app = make_app(schema_url, tmp_path, monkeypatch, models=MODELS)
    response = app.test_client().get("/s/-/drift")
    assert response.status_code == 200
    rows = drift_rows(read(response))
    assert rows[MODELS_ONLY] == [("column", "customer", "loyalty_points")]
    tables = sorted(name for kind, _t, name in rows[DATABASE_ONLY] if kind == "table")
    assert tables == ["lonely", "o'quote", "Ünïcode 表"]
    # The indexes added by hand on PostgreSQL and SQLite are the database's only.
    others = {(kind, name) for kind, _t, name in rows[DATABASE_ONLY] if kind != "table"}
    assert others <= {("index", "ix_customer_new"), ("index", "ix_customer_lower")}
    assert DIFFERS not in rows  # no false alarms on the columns both sides agree on
    app.extensions["rowboat.databases"]["s"].engine.dispose()


def test_alembic_revision_is_shown(
    schema_url: str,
    schema_engine: Engine,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    read: Read,
) -> None:
    plain = make_app(schema_url, tmp_path, monkeypatch)
    client = plain.test_client()
    page = read(client.get("/s/-/drift"))
    assert "No alembic_version table" in page.one(id="alembic-revision").text()
    assert page.find(id="no-models") is not None
    with schema_engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        )
        connection.execute(text("INSERT INTO alembic_version VALUES ('1f2e3d4c5b6a')"))
    try:
        page = read(client.get("/s/-/drift"))
        assert [c.text() for c in page.find_all("code", "revision")] == ["1f2e3d4c5b6a"]
        # alembic_version is Alembic's own table: never reported as drift.
        with_models = make_app(schema_url, tmp_path, monkeypatch, models=MODELS)
        rows = drift_rows(read(with_models.test_client().get("/s/-/drift")))
        with_models.extensions["rowboat.databases"]["s"].engine.dispose()
        assert "alembic_version" not in [name for _k, _t, name in rows[DATABASE_ONLY]]
    finally:
        with schema_engine.begin() as connection:
            connection.execute(text("DROP TABLE alembic_version"))
        plain.extensions["rowboat.databases"]["s"].engine.dispose()


def test_demo_models_show_no_drift_on_every_engine(schema_engine: Engine) -> None:
    from rowboat.demo.models import Base

    Base.metadata.create_all(schema_engine)
    try:
        items, _notes = compare(schema_engine, Base.metadata)
    finally:
        Base.metadata.drop_all(schema_engine)
    demo_tables = set(Base.metadata.tables)
    assert [i for i in items if i.table in demo_tables] == []
    # What is left is the schema database's own tables, which the demo models do not have.
    assert {i.direction for i in items} <= {DATABASE_ONLY}


def test_demo_database_drift_page_is_empty(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, read: Read
) -> None:
    from rowboat import create_app

    for name in ("DATABASE_URL", "ROWBOAT_DATABASES", "ROWBOAT_MODELS"):
        monkeypatch.delenv(name, raising=False)
    app = create_app({"DEMO_PATH": str(tmp_path / "demo.sqlite")})
    page = read(app.test_client().get("/demo/-/drift"))
    assert "No drift" in page.one(id="in-sync").text()
    assert page.find("table", "drift-items") is None
    app.extensions["rowboat.databases"]["demo"].engine.dispose()
