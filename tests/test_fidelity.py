"""Fidelity over the hostile corpus: every row of every table shows, and an unchanged save made
the way a browser makes it writes nothing at all.

For every table of ``hostile_corpus`` on every engine, the list page is read, then every row it
links to: the row page and the edit form must answer 200, and the form posted back exactly as
Chromium would post it (text inputs lose their newlines, textareas send CRLF, a ``<textarea>``
drops the newline right after its tag, number and date inputs send "" for what they cannot
parse, empty file inputs are sent as empty files) must redirect, send no INSERT, UPDATE or
DELETE, and leave every table's bytes identical. The bytes are read back in the database's
own words (``quote()`` on SQLite, ``::text`` on PostgreSQL, ``HEX()`` beside the raw value on
MariaDB), so a value changed into an equal-looking one (2.5 into '2.5') is caught too.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import (
    ENGINES,
    Page,
    browser_submission,
    dashboard_for,
    database_with,
    engine_of,
)
from flask import Flask
from hostile_corpus import create_hostile_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, inspect

HOSTILE_DATABASE = "rowboat_hostile_test"
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|MERGE)\b", re.IGNORECASE)


@pytest.fixture(scope="session", params=ENGINES)
def hostile_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    def create(engine: Engine) -> None:
        create_hostile_corpus(engine, request.param)

    with database_with(request.param, HOSTILE_DATABASE, tmp_path_factory, create) as url:
        yield url


@pytest.fixture
def hostile_app(
    hostile_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    with dashboard_for(hostile_url, tmp_path, monkeypatch, csrf=False) as application:
        yield application


# --- the database's bytes -------------------------------------------------------------------------


def database_bytes(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, each value in the database's own exact rendering."""
    name = engine_of(str(engine.url))
    quote = engine.dialect.identifier_preparer.quote
    result = {}
    with engine.connect() as connection, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # types SQLAlchemy does not know: names are enough
        for table in inspect(connection).get_table_names():
            columns = [c["name"] for c in inspect(connection).get_columns(table)]
            if name == "mariadb":  # reflection doubles a backtick in a name
                columns = [c.replace("``", "`") for c in columns]
            if name == "sqlite":
                exprs = [f"quote({quote(c)})" for c in columns]
            elif name == "postgresql":
                exprs = [f"{quote(c)}::text" for c in columns]
            else:
                exprs = [f"{quote(c)}, HEX({quote(c)})" for c in columns]
            rows = connection.exec_driver_sql(
                f"SELECT {', '.join(exprs)} FROM {quote(table)}"
            ).all()
            result[table] = sorted(tuple(map(repr, r)) for r in rows)
    return result


# --- the walk ---------------------------------------------------------------------------------


def _list_pages(client: Any, read: Any, url: str, failures: list[str]) -> Iterator[Page]:
    """Every page of a list, following its "next" links."""
    while url:
        response = client.get(url)
        if response.status_code != 200:
            failures.append(f"{url}: list page {response.status_code}")
            return
        page = read(response.get_data(as_text=True))
        yield page
        url = page.pager_href("next") or ""


def walk_unchanged_saves(
    app: Flask, name: str, counting: Any, each_save: bool = True, only: set[str] | None = None
) -> tuple[int, list[str]]:
    """Open every row of every table of database ``name`` and post its edit form back as a
    browser would; return how many saves were made and every failure seen.

    The database's bytes are compared around every save (``each_save``), or, for a big
    database, once around the whole walk (every save is still checked to send no write).
    ``only`` names the tables to walk (all of them by default)."""
    client = app.test_client()
    database = app.extensions["rowboat.databases"][name]
    engine = database.engine
    failures: list[str] = []
    checked = 0
    at_start = database_bytes(engine)
    for entity in database.catalog.entities.values():
        if only is not None and entity.name not in only:
            continue
        table_url = f"/{name}/{_segment(entity)}"
        pages = _list_pages(client, Page, table_url, failures)
        rows = [row for page in pages for row in page.list_rows()]
        for row in rows:
            if row.open_href is None:
                continue
            shown = client.get(row.open_href)
            if shown.status_code != 200:
                failures.append(f"{row.open_href}: row page {shown.status_code}")
                continue
            if entity.read_only:
                continue
            form_url = f"{row.open_href}/-/edit"
            form = client.get(form_url)
            if form.status_code != 200:
                failures.append(f"{form_url}: edit form {form.status_code}")
                continue
            data = browser_submission(Page(form.get_data(as_text=True)))
            before = database_bytes(engine) if each_save else {}
            # Multipart only when a file input is there: Werkzeug's test client writes a field
            # name holding '"' unescaped into multipart (a browser sends %22).
            files = any(isinstance(v, tuple) for v in data.values())
            kind = "multipart/form-data" if files else "application/x-www-form-urlencoded"
            with counting(engine) as statements:
                saved = client.post(form_url, data=data, content_type=kind)
            checked += 1
            if saved.status_code != 302:
                problems = re.findall(r'class="problem-msg">([^<]*)', saved.get_data(as_text=True))
                failures.append(f"{form_url}: unchanged save {saved.status_code} {problems}")
            written = [s for s in statements if WRITES.match(s)]
            if written:
                failures.append(f"{form_url}: unchanged save wrote {written}")
            after = database_bytes(engine) if each_save else {}
            if after != before:
                changed = {
                    t: sorted(set(after[t]) ^ set(before[t]))
                    for t in after
                    if after[t] != before.get(t)
                }
                failures.append(f"{form_url}: unchanged save changed {changed}")
    if database_bytes(engine) != at_start:
        failures.append("the database's bytes changed over the walk")
    return checked, failures


def test_every_row_shows_and_saves_unchanged(hostile_app: Flask, count_statements: Any) -> None:
    assert hostile_app.test_client().get("/").status_code == 200
    checked, failures = walk_unchanged_saves(hostile_app, "h", count_statements)
    assert checked > 10
    assert not failures, "\n".join(failures)


def _segment(entity: Any) -> str:
    from rowboat.core import keys

    return keys.entity_segment(entity.schema, entity.table_name)


# --- values in the database's own words ---------------------------------------------------------

# (table, key, column): the text the row page and the edit form must show.
SHOWN = {
    "sqlite": {
        ("untyped", "4", "v"): "<binary, 4 bytes>",
        ("untyped", "3", "n"): "abc",
        ("untyped", "2", "v"): "2.5",
        ("stamps", "2", "dt"): "31/12/2009",
        ("stamps", "3", "d"): "20240101",
        ("numbers", "3", "f"): "Infinity",
        ("jsons", "6", "doc"): "not json",
        ("blobs", "4", "data"): "<binary, 14 bytes>",  # a BLOB column shows sizes, even of text
    },
    "postgresql": {
        ("stamps", "1", "d"): "infinity",
        ("stamps", "5", "ts"): "-infinity",
        ("stamps", "1", "t"): "24:00:00",
        ("stamps", "1", "iv"): "1 mon 2 days 03:04:05",
        ("stamps", "2", "d"): "4713-01-01 BC",
        ("stamps", "3", "ts"): "12345-06-07 08:09:10",
        ("numbers", "1", "n"): "NaN",
        ("numbers", "1", "r"): "NaN",
        ("numbers", "2", "r"): "Infinity",
        ("numbers", "2", "d"): "-Infinity",
        ("odd", "1", "h"): '""=>"", "a"=>"1", "b c"=>NULL',
        ("odd", "1", "arr"): "[1, null, 3]",
    },
    "mariadb": {
        ("numbers", "1", "d"): "2.718281828459045",
        ("numbers", "1", "bu"): "18446744073709551615",
        ("numbers", "1", "b1"): "1",
        ("stamps", "1", "t"): "838:59:59",
        ("stamps", "1", "t6"): "-838:59:59.000000",
        ("stamps", "2", "t"): "-12:00:00",
        ("stamps", "1", "d"): "0000-00-00",
        ("stamps", "2", "dt"): "2024-02-00 00:00:00",
        ("odd", "2", "s"): "a,c d",
        ("odd", "3", "s"): "a,b,c d",
        ("odd", "1", "e"): "(empty)",
        ("odd", "1", "pt"): "POINT(1.5 -2)",
        ("odd", "1", "g"): "LINESTRING(0 0,1 1)",
    },
}


def test_values_show_in_the_databases_words(
    hostile_app: Flask, hostile_url: str, read: Any
) -> None:
    client = hostile_app.test_client()
    for (table, key, column), expected in SHOWN[engine_of(hostile_url)].items():
        page = read(client.get(f"/h/{table}/{key}"))
        assert page.record()[column].text() == expected, (table, key, column)
        assert not re.search(r"b'\\x|\{'|datetime\.|Decimal\(|timedelta", page.html)


# (table, filter, keys of the rows that must match): filtering by what a page shows.
FILTERS = {
    "sqlite": [("texts", "short__exact=plain", ["1"]), ("numbers", "f__exact=Infinity", ["3"])],
    "postgresql": [
        ("stamps", "iv__exact=1 mon 2 days 03:04:05", ["1"]),
        ("stamps", "d__exact=infinity", ["1"]),
    ],
    "mariadb": [
        ("stamps", "t__exact=838:59:59", ["1"]),
        ("stamps", "t__lt=-11:00:00", ["2"]),
        ("odd", "s__exact=a,c d", ["2"]),
        ("numbers", "d__exact=2.718281828459045", ["1"]),
        ("odd", "pt__exact=POINT(1.5 -2)", ["1"]),
    ],
}


def test_filters_match_what_is_shown(hostile_app: Flask, hostile_url: str, read: Any) -> None:
    client = hostile_app.test_client()
    for table, condition, expected in FILTERS[engine_of(hostile_url)]:
        response = client.get(f"/h/{table}?{condition}")
        assert response.status_code == 200, (table, condition)
        keys = [row.open_href.rsplit("/", 1)[1] for row in read(response).list_rows()]
        assert keys == expected, (table, condition)


# (table, key, column, typed, stored as the database renders it): edits write what was typed.
EDITS = {
    "sqlite": [
        ("untyped", "3", "v", "7", "7"),  # an integer again, not the text '7'
        ("untyped", "3", "v", "x'00FF'", "X'00FF'"),
        ("untyped", "3", "v", "seven", "'seven'"),
        ("texts", "1", "body", "one\r\ntwo", "'one\ntwo'"),
    ],
    "postgresql": [
        ("stamps", "4", "iv", "3 mons -1 days", "3 mons -1 days"),
        ("numbers", "3", "d", "NaN", "NaN"),
        ("numbers", "3", "n", "Infinity", "Infinity"),
        ("odd", "3", "h", '"k"=>"v"', '"k"=>"v"'),
        ("texts", "7", "body", "a\r\nb", "a\nb"),
        ("texts", "4", "body", "crlf\r\nkept", "crlf\r\nkept"),
    ],
    "mariadb": [
        ("stamps", "3", "t", "100:00:01", "100:00:01"),
        ("odd", "1", "s", ["a", "c d"], "a,c d"),
        ("numbers", "3", "b1", "1", "\x01"),
        ("odd", "2", "pt", "POINT(3 4)", "POINT(3 4)"),
        ("texts", "7", "body", "a\r\nb", "a\nb"),
    ],
}


def _stored(engine: Engine, table: str, column: str, key: str) -> str:
    name = engine_of(str(engine.url))
    quote = engine.dialect.identifier_preparer.quote
    expr = {"sqlite": "quote({})", "postgresql": "{}::text", "mariadb": "CAST({} AS CHAR)"}
    if column in ("pt", "g") and name == "mariadb":
        expr["mariadb"] = "ST_AsText({})"
    key_column = "id"
    with engine.connect() as connection:
        return connection.exec_driver_sql(
            f"SELECT {expr[name].format(quote(column))} FROM {quote(table)} "
            f"WHERE {key_column} = {int(key)}"
        ).scalar_one()


def test_edits_write_what_was_typed(
    hostile_app: Flask, hostile_url: str, read: Any, count_statements: Any
) -> None:
    client = hostile_app.test_client()
    engine = hostile_app.extensions["rowboat.databases"]["h"].engine
    for table, key, column, typed, stored in EDITS[engine_of(hostile_url)]:
        url = f"/h/{table}/{key}/-/edit"
        data = browser_submission(read(client.get(url)))
        data.setlist(column, typed if isinstance(typed, list) else [typed])
        with count_statements(engine) as statements:
            response = client.post(url, data=data, content_type="multipart/form-data")
        assert response.status_code == 302, (url, column, response.get_data(as_text=True)[-800:])
        updates = [s for s in statements if WRITES.match(s)]
        assert len(updates) == 1 and updates[0].count("=") == 2, updates  # SET one column
        assert _stored(engine, table, column, key) == stored, (table, key, column)


# --- any text, typed as a browser sends it ----------------------------------------------------

typed_text = st.text(
    alphabet=st.sampled_from(list("ab \t\r\n'\"\\`<>&é☃😀%_;")), min_size=0, max_size=30
)


def _as_browser_sends(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=typed_text)
def test_typed_text_is_stored_as_typed_and_saves_unchanged_after(
    hostile_app: Flask, read: Any, count_statements: Any, text: str
) -> None:
    """Text typed into a textarea is stored with the user's line breaks as LF (the row held
    LF before), and the form of the new value posted back writes nothing."""
    client = hostile_app.test_client()
    engine = hostile_app.extensions["rowboat.databases"]["h"].engine
    url = "/h/texts/3/-/edit"  # body holds 'two\nlines': LF, so LF it stays
    data = browser_submission(read(client.get(url)))
    data.setlist("body", [_as_browser_sends(text)])
    response = client.post(url, data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[-600:]
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT body FROM texts WHERE id = 3").scalar_one()
    assert stored == expected
    data = browser_submission(read(client.get(url)))
    with count_statements(engine) as statements:
        again = client.post(url, data=data, content_type="multipart/form-data")
    assert again.status_code == 302
    assert not [s for s in statements if WRITES.match(s)]
    with engine.begin() as connection:  # back to the corpus's value for the other tests
        connection.exec_driver_sql("UPDATE texts SET body = 'two\nlines' WHERE id = 3")


# (export path, texts it must hold): exports write values as the pages show them.
EXPORTS = {
    "sqlite": [("/h/-/export/numbers.csv", ["Infinity"])],
    "postgresql": [
        ("/h/-/export/stamps.csv", ["infinity", "24:00:00", "1 mon 2 days 03:04:05"]),
        ("/h/-/export/stamps.json", ['"4713-01-01 BC"', '"-1 years -2 mons"']),
    ],
    "mariadb": [
        ("/h/-/export/odd.csv", ['"a,c d"', "POINT(1.5 -2)"]),
        ("/h/-/export/odd.json", ['"s": "a,b,c d"', '"e": ""']),
        ("/h/-/export/stamps.csv", ["838:59:59", "-838:59:59.000000", "0000-00-00"]),
    ],
}


def test_exports_hold_the_values_as_shown(hostile_app: Flask, hostile_url: str) -> None:
    client = hostile_app.test_client()
    for path, texts in EXPORTS[engine_of(hostile_url)]:
        # Closed as a WSGI server closes it: an export holds one of the database's slow slots
        # until then.
        with client.get(path) as response:
            body = response.get_data(as_text=True)
        for text in texts:
            assert text in body, (path, text)
        assert "{'" not in body and "set()" not in body, path
