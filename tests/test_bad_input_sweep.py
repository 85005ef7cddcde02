"""Bad input answers 4xx or an honest 200, never 500, on every endpoint that reads a value.

The values: a NUL (PostgreSQL refuses it in any text), characters a MariaDB column's character
set does not have (an emoji in utf8mb3, "Ā" in latin1: the database refused the comparison,
error 1267 "Illegal mix of collations"), and a SQLite DATETIME column holding '31/12/2009'.
A utf8mb3 column cannot hold an emoji, so no row equals or contains one: such a filter matches
nothing (and "≠" every row) rather than failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from conftest import ENGINES, engine_of, fresh_database
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from rowboat import create_app
from rowboat.core import keys
from rowboat.db.engines import databases_of


def _statements(engine_name: str) -> list[str]:
    mariadb = engine_name == "mariadb"
    mb3 = " CHARACTER SET utf8mb3" if mariadb else ""
    latin1 = " CHARACTER SET latin1" if mariadb else ""
    datetime = "TIMESTAMP" if engine_name == "postgresql" else "DATETIME"
    return [
        # The table's default character set is utf8mb3: its columns name none of their own.
        f"CREATE TABLE legacy (code VARCHAR(20) PRIMARY KEY, name VARCHAR(40)){mb3}",
        "INSERT INTO legacy VALUES ('a', 'Anna'), ('b', 'Bob'), ('c', NULL)",
        # A utf8mb4 table with utf8mb3 and latin1 columns, and a foreign key (the lookup).
        f"""CREATE TABLE mixed (id INTEGER PRIMARY KEY, legacy_code VARCHAR(20){mb3}
            REFERENCES legacy (code), old VARCHAR(40){latin1}, modern VARCHAR(40))""",
        "INSERT INTO mixed VALUES (1, 'a', 'café', 'ok 😀'), (2, 'b', NULL, NULL)",
        f"CREATE TABLE stamps (id INTEGER PRIMARY KEY, at {datetime})",
        "INSERT INTO stamps VALUES (1, '2009-12-31 00:00:00'), (2, NULL)",
        *(["INSERT INTO stamps VALUES (3, '31/12/2009')"] if engine_name == "sqlite" else []),
    ]


@pytest.fixture(scope="module", params=ENGINES)
def sweep_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with fresh_database(request.param, "rowboat_sweep_test", tmp_path_factory) as url:
        engine = create_engine(url)
        with engine.begin() as connection:
            for statement in _statements(request.param):
                connection.execute(text(statement))
        engine.dispose()
        yield url


@pytest.fixture
def sapp(sweep_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    for name in ("DATABASE_URL", "ROWBOAT_DATABASES", "ROWBOAT_MODELS"):
        monkeypatch.delenv(name, raising=False)
    application = create_app(
        {"DATABASES": {"s": sweep_url}, "DEMO_PATH": str(tmp_path / "demo.sqlite")}
    )
    application.config["TESTING"] = True
    yield application
    for database in databases_of(application).values():
        database.engine.dispose()


@pytest.fixture
def sclient(sapp: Flask) -> FlaskClient:
    return sapp.test_client()


VALUES = ["a\x00b", "x😀", "😀", "Ā", "31/12/2009", "é"]


def _q(*pairs: tuple[str, str]) -> str:
    return urlencode(pairs)


def endpoints(value: str) -> list[str]:
    """Every page that reads ``value`` from its URL, on the three tables."""
    v = value
    query = [("table", "legacy"), ("where", f"name:exact:{v}")]
    return [
        *[
            f"/s/legacy?{_q((name, v))}"
            for name in (
                "name",
                "name__not",
                "name__contains",
                "name__startswith",
                "name__in",
                "name__gt",
                "code",
                "_search",
            )
        ],
        *[f"/s/mixed?{_q((name, v))}" for name in ("legacy_code", "old", "old__endswith")],
        f"/s/mixed?{_q(('modern', v), ('_search', v))}",
        f"/s/legacy/{quote(keys.encode(v), safe='')}",
        f"/s/legacy/-/lookup.json?{_q(('q', v))}",
        f"/s/mixed/-/lookup.json?{_q(('q', v))}",
        f"/s/-/query?{_q(*query, ('run', '1'))}",
        f"/s/-/query?{_q(('table', 'legacy'), ('where', f'code:notin:{v},a'), ('run', '1'))}",
        f"/s/-/query?{_q(('table', 'legacy'), ('where', f'name:between:{v},z'), ('run', '1'))}",
        f"/s/-/query?{_q(('table', 'mixed'), ('join', 'legacy'), ('where', f'legacy.name:contains:{v}'), ('run', '1'))}",  # noqa: E501
        f"/s/-/query.json?{_q(*query, ('run', '1'))}",
        f"/s/-/query/explain?{_q(*query)}",
        f"/s/-/query/export.csv?{_q(*query)}",
        f"/s/-/export/legacy.csv?{_q(('name', v))}",
        f"/s/-/export/mixed.json?{_q(('_search', v))}",
        f"/s/stamps?{_q(('at', v))}",
        f"/s/stamps?{_q(('at__gt', v))}",
    ]


def test_no_bad_value_is_a_500(sclient: FlaskClient) -> None:
    failures = []
    for value in VALUES:
        for path in endpoints(value):
            # Exports stream: read to the end, and closed as a WSGI server closes them (an
            # export holds one of the database's slow slots until then).
            with sclient.get(path) as response:
                body = response.get_data(as_text=True)
            if response.status_code >= 500:
                failures.append((value, path, response.status_code, body[-300:]))
    assert not failures


def test_pages_with_a_text_datetime_work(sclient: FlaskClient, sweep_url: str) -> None:
    """SQLite keeps whatever text a DATETIME column is given: the list, row and query pages
    show it as it is."""
    for path in ("/s/stamps", "/s/stamps/1", "/s/stamps/2", "/s/-/query?table=stamps&run=1"):
        assert sclient.get(path).status_code == 200, path
    if engine_of(sweep_url) == "sqlite":
        for path in ("/s/stamps", "/s/stamps/3", "/s/-/query?table=stamps&run=1"):
            response = sclient.get(path)
            assert response.status_code == 200, path
            assert "31/12/2009" in response.get_data(as_text=True), path
        with sclient.get("/s/-/export/stamps.csv") as response:  # it holds a slow slot until closed
            assert response.status_code == 200


def _rows(client: FlaskClient, path: str) -> int:
    with client.get(path) as response:  # closed as a WSGI server closes it: see above
        body = response.get_data(as_text=True)
    assert response.status_code == 200, body[-500:]
    return len(body.strip().splitlines()) - 1  # CSV, less its header


@pytest.mark.parametrize("value", ["x😀", "😀"])
def test_an_emoji_matches_no_utf8mb3_value(sclient: FlaskClient, value: str) -> None:
    """Honest on every engine: no stored value is or contains the emoji; "≠" keeps them all."""
    export = "/s/-/export/legacy.csv?"
    assert _rows(sclient, export + _q(("name", value))) == 0
    assert _rows(sclient, export + _q(("name__contains", value))) == 0
    assert _rows(sclient, export + _q(("name__in", f"{value},Anna"))) == 1
    assert _rows(sclient, export + _q(("name__not", value))) == 3  # NULL too, as "≠" reads
    assert _rows(sclient, export + _q(("_search", value))) == 0
    mixed = "/s/-/export/mixed.csv?"
    assert _rows(sclient, mixed + _q(("legacy_code", value))) == 0
    # The utf8mb4 column of the same table does hold emoji: found there.
    assert _rows(sclient, mixed + _q(("_search", "😀"))) == 1
    page = sclient.get("/s/legacy?" + _q(("name", value)))
    assert page.status_code == 200 and "No rows match" in page.get_data(as_text=True)
    found = sclient.get("/s/legacy/-/lookup.json?" + _q(("q", value))).get_json()
    assert found == {"results": [], "more": False}
    query = sclient.get(
        "/s/-/query.json?" + _q(("table", "legacy"), ("where", f"name:exact:{value}"), ("run", "1"))
    )
    assert query.status_code == 200 and query.get_json()["rows"] == []


def test_ordering_against_a_character_the_column_lacks_is_a_clear_400(
    sclient: FlaskClient, sweep_url: str
) -> None:
    response = sclient.get("/s/legacy?" + _q(("name__gt", "😀")))
    if engine_of(sweep_url) != "mariadb":
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert "utf8mb3" in response.get_data(as_text=True)
    response = sclient.get("/s/mixed?" + _q(("old__lt", "Ā")))
    assert response.status_code == 400 and "latin1" in response.get_data(as_text=True)
    assert _rows(sclient, "/s/-/export/mixed.csv?" + _q(("old", "café"))) == 1  # latin1 has é


def test_a_nul_is_a_400_where_it_cannot_be_searched(sclient: FlaskClient) -> None:
    for path in (
        "/s/legacy/-/lookup.json?q=a%00b",
        "/s/legacy?name=a%00b",
        "/s/legacy?_search=a%00b",
        "/s/-/query?table=legacy&where=name:exact:a%00b&run=1",
    ):
        response = sclient.get(path)
        assert response.status_code == 400, path
        assert "NUL" in response.get_data(as_text=True), path
