"""Filters on the types real databases hold, on the list page and in the query builder.

A fresh database (``rowboat_schf_test``) holds a single- and a double-precision column on every
engine, MariaDB's ``BIGINT UNSIGNED`` with values above 2**63, and PostgreSQL's types without an
``=`` a typed-in value can use (``point``, ``xml``, ``json``, a composite type, a domain over
``point``) next to types whose literals the database checks (``inet``, a domain over ``date``).
Every answer is read from the page the user gets: the rows shown, or the 400 and its message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import ENGINES, Page, dashboard_for, engine_of, fresh_database
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

Read = Callable[[Any], Page]

SINGLE = {"postgresql": "REAL", "mariadb": "FLOAT", "sqlite": "REAL"}
DOUBLE = {"postgresql": "DOUBLE PRECISION", "mariadb": "DOUBLE", "sqlite": "DOUBLE"}
UNSIGNED_MAX = 2**64 - 1


def create_objects(url: str) -> None:
    name = engine_of(url)
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    f"CREATE TABLE measure (id INTEGER PRIMARY KEY, r {SINGLE[name]}, "
                    f"f {DOUBLE[name]})"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO measure (id, r, f) VALUES "
                    "(1, 0.1, 0.1), (2, 1.7, 1.7), (3, NULL, NULL)"
                )
            )
            if name == "mariadb":
                connection.execute(
                    text("CREATE TABLE big (id INTEGER PRIMARY KEY, ub BIGINT UNSIGNED)")
                )
                connection.execute(
                    text(f"INSERT INTO big VALUES (1, {UNSIGNED_MAX}), (2, {2**63}), (3, 5)")
                )
                # A character set the filters know nothing about: its refusals are the
                # database's own (error 1267).
                connection.execute(
                    text(
                        "CREATE TABLE greek_names (id INTEGER PRIMARY KEY, "
                        "name VARCHAR(20) CHARACTER SET greek)"
                    )
                )
                connection.execute(text("INSERT INTO greek_names VALUES (1, 'alpha')"))
            if name == "postgresql":
                for statement in (
                    "CREATE TYPE pair AS (a int, b text)",
                    "CREATE DOMAIN dpoint AS point",
                    "CREATE DOMAIN day AS date",
                    "CREATE TABLE odd (id serial PRIMARY KEY, p point, pr pair, x xml, "
                    "j json, dp dpoint, ip inet, dd day)",
                    "INSERT INTO odd (p, pr, x, j, dp, ip, dd) VALUES "
                    "(point(1, 2), ROW(1, 'x'), '<a/>', '[1]', point(3, 4), '10.0.0.1', "
                    "'2024-01-02')",
                ):
                    connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="session", params=ENGINES)
def types_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with fresh_database(request.param, "rowboat_schf_test", tmp_path_factory) as url:
        create_objects(url)
        yield url


@pytest.fixture
def types_app(types_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    with dashboard_for(types_url, tmp_path, monkeypatch, name="t") as application:
        yield application


@pytest.fixture
def client(types_app: Flask) -> FlaskClient:
    return types_app.test_client()


def listed_ids(client: FlaskClient, read: Read, table: str, **filters: str) -> list[str]:
    response = client.get(f"/t/{table}?{urlencode(filters)}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return [row.cells["id"].text() for row in read(response).list_rows()]


def queried_ids(client: FlaskClient, table: str, *where: str) -> list[str]:
    args = [("table", table), ("col", "id"), *[("where", w) for w in where], ("run", "1")]
    response = client.get(f"/t/-/query.json?{urlencode(args)}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return [str(row[0]) for row in response.get_json()["rows"]]


def refused(client: FlaskClient, path: str) -> str:
    """The message of the 400 that ``path`` must answer."""
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 400, response.get_data(as_text=True)
    return response.get_json()["message"]


# --- B6: floats ----------------------------------------------------------------------------------


def test_equality_on_a_single_precision_column_matches_the_value_shown(
    client: FlaskClient, read: Read
) -> None:
    # The page shows 0.1 and 1.7; the database holds their nearest float32s.
    shown = {row.cells["id"].text(): row.cells["r"].text() for row in _rows(client, read)}
    assert shown == {"1": "0.1", "2": "1.7", "3": "NULL"}
    assert listed_ids(client, read, "measure", r__exact="0.1") == ["1"]
    assert listed_ids(client, read, "measure", r__exact="1.7") == ["2"]
    assert listed_ids(client, read, "measure", r__not="0.1") == ["2", "3"]
    assert listed_ids(client, read, "measure", r__in="0.1,1.7") == ["1", "2"]
    assert listed_ids(client, read, "measure", r__lte="0.1") == ["1"]
    assert listed_ids(client, read, "measure", r__gt="0.1") == ["2"]
    assert queried_ids(client, "measure", "r:exact:1.7") == ["2"]
    assert queried_ids(client, "measure", "r:between:0.1,1.7") == ["1", "2"]


def test_equality_on_a_double_precision_column_still_matches(
    client: FlaskClient, read: Read
) -> None:
    assert listed_ids(client, read, "measure", f__exact="0.1") == ["1"]
    assert listed_ids(client, read, "measure", f__exact="1.7") == ["2"]
    assert listed_ids(client, read, "measure", f__not="1.7") == ["1", "3"]
    assert queried_ids(client, "measure", "f:exact:0.1") == ["1"]


def test_paging_by_a_single_precision_column_sees_every_row_once(
    client: FlaskClient, read: Read
) -> None:
    """The page cursor carries the value as shown (0.1): compared as a double with the stored
    float32 (0.100000001...) the row itself came back on the next page."""
    for order in ("_sort", "_sort_desc"):
        seen: list[str] = []
        url: str | None = f"/t/measure?{order}=r&_size=1"
        while url:
            response = client.get(url)
            assert response.status_code == 200, url
            page = read(response)
            seen += [row.cells["id"].text() for row in page.list_rows()]
            url = page.pager_href("next")
            assert len(seen) <= 3, (order, seen)  # a repeated row would loop here
        assert sorted(seen) == ["1", "2", "3"], (order, seen)


def _rows(client: FlaskClient, read: Read) -> list[Any]:
    response = client.get("/t/measure")
    assert response.status_code == 200
    return read(response).list_rows()


def test_a_value_a_column_s_character_set_refuses_is_a_400(
    client: FlaskClient, types_url: str
) -> None:
    """MariaDB's 1267 ("Illegal mix of collations") is about the request's value: a 400 with
    the database's reason, on the list page and in the query builder, never a 409 or 500."""
    if engine_of(types_url) != "mariadb":
        pytest.skip("character sets per column are MySQL/MariaDB's")
    for path in (
        "/t/greek_names?name__exact=%F0%9F%98%80",
        "/t/greek_names?name__gt=%F0%9F%98%80",
        "/t/-/query.json?table=greek_names&where=name:exact:%F0%9F%98%80&run=1",
    ):
        assert "collation" in refused(client, path).lower(), path


# --- B5: BIGINT UNSIGNED -----------------------------------------------------------------------


def test_bigint_unsigned_filters_take_the_whole_unsigned_range(
    client: FlaskClient, read: Read, types_url: str
) -> None:
    if engine_of(types_url) != "mariadb":
        pytest.skip("BIGINT UNSIGNED is MySQL/MariaDB's")
    assert listed_ids(client, read, "big", ub__exact=str(UNSIGNED_MAX)) == ["1"]
    assert listed_ids(client, read, "big", ub__gte=str(2**63)) == ["1", "2"]
    assert listed_ids(client, read, "big", ub__in=f"5,{2**63}") == ["2", "3"]
    assert queried_ids(client, "big", f"ub:exact:{UNSIGNED_MAX}") == ["1"]
    message = refused(client, f"/t/big?ub__exact={UNSIGNED_MAX + 1}")
    assert "out of range" in message and f"{UNSIGNED_MAX:,}" in message
    assert "out of range" in refused(client, "/t/big?ub__exact=-1")
    assert "out of range" in refused(client, f"/t/-/query.json?table=big&where=ub:exact:{2**64}")


def test_signed_integers_keep_the_64_bit_range(client: FlaskClient) -> None:
    message = refused(client, f"/t/measure?id__exact={2**63}")
    assert "out of range" in message and "'id'" in message


def test_a_bad_literal_is_a_400_with_a_message(client: FlaskClient) -> None:
    assert "'abc' is not a valid integer value for 'id'" in refused(
        client, "/t/measure?id__exact=abc"
    )
    assert "'abc' is not a valid float value for 'r'" in refused(client, "/t/measure?r__exact=abc")


# --- B7 and B8: PostgreSQL types without "=", literals the database refuses --------------------


NO_EQUALITY = ("p", "pr", "x", "j", "dp")


@pytest.fixture
def pg(types_url: str) -> None:
    if engine_of(types_url) != "postgresql":
        pytest.skip("these types are PostgreSQL's")


@pytest.mark.usefixtures("pg")
def test_types_without_equality_are_offered_only_null_tests(
    client: FlaskClient, read: Read
) -> None:
    page = read(client.get("/t/odd"))
    offered = {
        option.attrs["value"]: option.attrs["data-ops"].split()
        for option in page.find("select", "filter-column").find_all("option")
        if option.attrs["value"]
    }
    for name in NO_EQUALITY:
        assert offered[name] == ["isnull", "notnull"], name
    assert "exact" in offered["ip"] and "exact" in offered["dd"] and "exact" in offered["id"]
    # The query builder's column pickers offer the same.
    builder = read(client.get("/t/-/query?table=odd"))
    ops = {
        o.attrs["value"]: o.attrs["data-ops"].split()
        for o in builder.find_all("option")
        if "data-ops" in o.attrs
    }
    for name in NO_EQUALITY:
        assert ops[name] == ["isnull", "notnull"], name
    assert "exact" in ops["ip"]


@pytest.mark.usefixtures("pg")
def test_asking_for_equality_on_those_types_is_a_400(client: FlaskClient, read: Read) -> None:
    for name in NO_EQUALITY:
        for op in ("exact", "not", "in"):
            message = refused(client, f"/t/odd?{name}__{op}=(1,2)")
            assert repr(name) in message and "cannot be compared" in message, message
        message = refused(client, f"/t/-/query.json?table=odd&where={name}:exact:(1,2)&run=1")
        assert "cannot be compared" in message
        message = refused(client, f"/t/-/query/explain?table=odd&where={name}:notin:(1,2)")
        assert "cannot be compared" in message
    # What does work on them still works.
    assert listed_ids(client, read, "odd", p__notnull="") == ["1"]
    assert listed_ids(client, read, "odd", x__isnull="") == []


@pytest.mark.usefixtures("pg")
def test_a_literal_the_database_refuses_is_a_400_with_its_reason(client: FlaskClient) -> None:
    for path in (
        "/t/odd?ip__exact=not-an-address",
        "/t/-/query.json?table=odd&where=ip:in:not-an-address&run=1",
        "/t/-/query/explain?table=odd&where=ip:exact:not-an-address",
    ):
        assert "invalid input syntax for type inet" in refused(client, path), path
    # A date PostgreSQL cannot hold (the domain's values are typed in as text).
    assert "out of range" in refused(client, "/t/odd?dd__exact=5874898-01-01")
    assert "out of range" in refused(
        client, "/t/-/query/explain?table=odd&where=dd:exact:5874898-01-01"
    )
