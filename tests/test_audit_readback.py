"""An update's audit entry reads back only what the database may store in another form
(``app/audit/readback.py``): these are the cases where skipping the read would record the value
written instead of the value kept, on every engine.

- a trigger that changes the written column: the entry holds the trigger's value;
- a MariaDB connection without a strict ``sql_mode``, which cuts a string too long for its
  column instead of refusing it: the entry holds the cut value;
- the type rules themselves, without a database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from audit_record_support import entries, page_at, post_form
from conftest import ENV_TO_CLEAR, dispose_app, fresh_database
from flask import Flask
from sqlalchemy import (
    CHAR,
    Boolean,
    Column,
    Enum,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects import mysql, postgresql
from test_edit_support import form_data, make_edit_app, with_values

from rowboat.audit.readback import stored_as_given

ENGINES = ["sqlite", "postgresql", "mariadb"]

metadata = MetaData()
Table(
    "noted",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("label", String(8), nullable=True),
    Column("amount", Integer, nullable=True),
    # MariaDB's latin1 has no emoji: a non-strict connection keeps "?" instead.
    Column("latin", String(8).with_variant(mysql.VARCHAR(8, charset="latin1"), "mysql", "mariadb")),
)
Table(
    "shouted",  # its trigger writes every label in capitals
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("label", String(30), nullable=True),
)

TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER shouted_upper AFTER UPDATE OF label ON shouted BEGIN "
        "UPDATE shouted SET label = upper(NEW.label) WHERE id = NEW.id; END"
    ],
    "postgresql": [
        "CREATE FUNCTION shouted_upper() RETURNS trigger AS $$ BEGIN "
        "NEW.label := upper(NEW.label); RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER shouted_upper BEFORE UPDATE ON shouted FOR EACH ROW "
        "EXECUTE FUNCTION shouted_upper()",
    ],
    "mariadb": [
        "CREATE TRIGGER shouted_upper BEFORE UPDATE ON shouted FOR EACH ROW "
        "SET NEW.label = UPPER(NEW.label)"
    ],
}


@pytest.fixture(scope="module", params=ENGINES)
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    engine_name = request.param
    with (
        fresh_database(engine_name, "rowboat_audit_readback", tmp_path_factory) as url,
        fresh_database("sqlite", "rowboat_audit_readback_state", tmp_path_factory) as state_url,
    ):
        engine = create_engine(url)
        metadata.create_all(engine)
        with engine.begin() as connection:
            for statement in TRIGGERS[engine_name]:
                connection.exec_driver_sql(statement)
        engine.dispose()
        with pytest.MonkeyPatch.context() as patch:
            for variable in ENV_TO_CLEAR:
                patch.delenv(variable, raising=False)
            made = make_edit_app(url, tmp_path_factory.mktemp("readback"), STATE_URL=state_url)
        made.config["engine_name"] = engine_name
        thread = made.extensions.get("rowboat.reconcile")
        if thread is not None:
            thread.join(timeout=30)
        try:
            yield made
        finally:
            dispose_app(made)


def _target(app: Flask) -> Any:
    return app.extensions["rowboat.databases"]["w"].engine


def _fill(app: Flask, table: str, **values: Any) -> str:
    """A fresh row in ``table`` (a new id per test); returns its key."""
    key = str(uuid.uuid4().int % 1_000_000_000)
    columns = ", ".join(["id", *values])
    marks = ", ".join([":id", *(f":{k}" for k in values)])
    with _target(app).begin() as connection:
        connection.execute(
            text(f"INSERT INTO {table} ({columns}) VALUES ({marks})"), {"id": int(key), **values}
        )
    return key


def _save(app: Flask, table: str, key: str, **values: str) -> dict[str, Any]:
    """Edit the row through its form; return the entry it left."""
    client = app.test_client()
    before = len(entries(app.extensions["rowboat.state"]))
    data = with_values(form_data(page_at(client, f"/w/{table}/{key}/-/edit")), **values)
    response = post_form(client, f"/w/{table}/{key}/-/edit", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    found = entries(app.extensions["rowboat.state"])
    assert len(found) == before + 1
    return found[-1]


def _row(app: Flask, table: str, key: str) -> dict[str, Any]:
    with _target(app).connect() as connection:
        row = connection.execute(text(f"SELECT * FROM {table} WHERE id = :id"), {"id": int(key)})
        return dict(row.one()._mapping)


def test_a_trigger_that_changes_the_value_is_recorded_as_the_row_holds_it(app: Flask) -> None:
    key = _fill(app, "shouted", label="calm")
    entry = _save(app, "shouted", key, label="Still calm")
    assert _row(app, "shouted", key)["label"] == "STILL CALM"
    assert entry["outcome"] == "committed"
    assert entry["changes"] == {
        "label": {"before": {"t": "text", "v": "calm"}, "after": {"t": "text", "v": "STILL CALM"}}
    }


def test_a_table_without_triggers_records_what_was_written(app: Flask) -> None:
    key = _fill(app, "noted", label="a", amount=1)
    entry = _save(app, "noted", key, label="b ", amount="-7")
    assert _row(app, "noted", key) == {"id": int(key), "label": "b ", "amount": -7, "latin": None}
    assert entry["changes"] == {
        "label": {"before": {"t": "text", "v": "a"}, "after": {"t": "text", "v": "b "}},
        "amount": {"before": {"t": "int", "v": "1"}, "after": {"t": "int", "v": "-7"}},
    }


def test_mariadb_without_strict_mode_is_read_back(app: Flask) -> None:
    """A non-strict MariaDB keeps "?" for a character its column's character set lacks and
    says so only in a warning: the entry must hold what was kept, not what was typed."""
    if app.config["engine_name"] != "mariadb":
        pytest.skip("only MariaDB and MySQL have a non-strict sql_mode")
    engine = _target(app)

    def relaxed(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET SESSION sql_mode = ''")

    event.listen(engine, "connect", relaxed)
    engine.dispose()  # every connection from now on is a relaxed one
    try:
        key = _fill(app, "noted", latin="plain")
        entry = _save(app, "noted", key, latin="a😀b")
        assert _row(app, "noted", key)["latin"] == "a?b"
        assert entry["changes"]["latin"]["after"] == {"t": "text", "v": "a?b"}
    finally:
        event.remove(engine, "connect", relaxed)
        engine.dispose()


class _Lowered(TypeDecorator[str]):
    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return None if value is None else value.lower()


@pytest.mark.parametrize(
    ("type_", "dialect", "value", "as_given"),
    [
        (Integer(), "postgresql", 5, True),
        (Integer(), "mariadb", True, False),  # a form's True in TINYINT(1) reads back 1
        (mysql.TINYINT(display_width=1), "mariadb", 1, True),
        (mysql.YEAR(), "mariadb", 69, False),
        (String(10), "sqlite", "x", True),
        (Text(), "mariadb", "x", True),
        (postgresql.CITEXT(), "postgresql", "X", True),
        (CHAR(4), "postgresql", "x", False),  # padded to four
        (mysql.SET("a", "b"), "mariadb", "b,a", False),  # reordered
        (Enum("a", "b"), "postgresql", "a", False),
        (Boolean(), "postgresql", True, True),
        (Boolean(), "sqlite", False, True),
        (Boolean(), "mariadb", True, False),
        (Numeric(10, 2), "postgresql", 1, False),  # padded to its scale
        (_Lowered(), "postgresql", "ABC", False),
        (String(10), "postgresql", 5, False),  # not a string: the database converts it
        (Numeric(10, 2), "postgresql", None, True),  # NULL stays NULL
    ],
)
def test_which_values_are_stored_as_given(
    type_: Any, dialect: str, value: Any, as_given: bool
) -> None:
    assert stored_as_given(type_, dialect, value) is as_given
