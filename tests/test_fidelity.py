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

import io
import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ENGINES, ENV_TO_CLEAR, Page, engine_of, fresh_database
from flask import Flask
from hostile_corpus import create_hostile_corpus
from sqlalchemy import Engine, create_engine, inspect
from werkzeug.datastructures import MultiDict

from app import create_app

HOSTILE_DATABASE = "rowboat_hostile_test"
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|MERGE)\b", re.IGNORECASE)


@pytest.fixture(scope="session", params=ENGINES)
def hostile_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with fresh_database(request.param, HOSTILE_DATABASE, tmp_path_factory) as url:
        engine = create_engine(url)
        try:
            create_hostile_corpus(engine, engine_of(url))
        finally:
            engine.dispose()
        yield url


@pytest.fixture
def hostile_app(
    hostile_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    application = create_app(
        {"DATABASES": {"h": {"url": hostile_url}}, "DEMO_PATH": str(tmp_path / "demo.sqlite")}
    )
    application.config["TESTING"] = True
    application.config["WTF_CSRF_ENABLED"] = False
    yield application
    for database in application.extensions["rowboat.databases"].values():
        database.engine.dispose()


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


# --- what a browser submits ---------------------------------------------------------------------

_LINE_INPUTS = {"text", "search", "tel", "url", "email", "password"}
_FLOAT = re.compile(r"^-?(\d+(\.\d+)?|\.\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4,}-\d{2}-\d{2}$")


def _tokenized(text: str) -> str:
    """An HTML parser's input preprocessing: every CR and CRLF becomes LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _input_value(node: Any) -> str:
    kind = node.attrs.get("type", "text").lower()
    value = _tokenized(node.attrs.get("value", ""))
    if kind in _LINE_INPUTS:
        return value.replace("\n", "")  # the value sanitization of one-line inputs
    if kind == "number" and not _FLOAT.match(value):
        return ""
    if kind == "date" and not _DATE.match(value):
        return ""
    return value


def browser_submission(page: Page, form_class: str = "row-form") -> MultiDict[str, Any]:
    """The form data Chromium posts for the form as rendered, untouched."""
    form = page.one("form", form_class)
    data: MultiDict[str, Any] = MultiDict()
    for node in form.iter():
        name = node.attrs.get("name")
        if not name or "disabled" in node.attrs:
            continue
        if node.tag == "input":
            kind = node.attrs.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in node.attrs:
                    data.add(name, node.attrs.get("value", "on"))
            elif kind == "file":
                data.add(name, (io.BytesIO(b""), ""))
            elif kind not in ("submit", "button", "reset", "image"):
                data.add(name, _input_value(node))
        elif node.tag == "textarea":
            text = _tokenized("".join(c for c in node.children if isinstance(c, str)))
            text = text[1:] if text.startswith("\n") else text
            data.add(name, text.replace("\n", "\r\n"))
        elif node.tag == "select":
            options = node.find_all("option")
            chosen = [o for o in options if "selected" in o.attrs]
            if not chosen and "multiple" not in node.attrs and options:
                chosen = options[:1]
            for option in chosen:
                data.add(name, option.attrs.get("value", option.text()))
    return data


# --- the walk ---------------------------------------------------------------------------------


def _list_pages(client: Any, read: Any, url: str, failures: list[str]) -> Iterator[Page]:
    while url:
        response = client.get(url)
        if response.status_code != 200:
            failures.append(f"{url}: list page {response.status_code}")
            return
        page = read(response)
        yield page
        url = page.pager_href("next") or ""


def test_every_row_shows_and_saves_unchanged(
    hostile_app: Flask, read: Any, count_statements: Any
) -> None:
    client = hostile_app.test_client()
    database = hostile_app.extensions["rowboat.databases"]["h"]
    engine = database.engine
    assert client.get("/").status_code == 200
    failures: list[str] = []
    checked = 0
    for entity in database.catalog.entities.values():
        table_url = f"/h/{_segment(entity)}"
        pages = _list_pages(client, read, table_url, failures)
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
            data = browser_submission(read(form))
            before = database_bytes(engine)
            with count_statements(engine) as statements:
                saved = client.post(form_url, data=data, content_type="multipart/form-data")
            checked += 1
            if saved.status_code != 302:
                problems = re.findall(r'class="problem-msg">([^<]*)', saved.get_data(as_text=True))
                failures.append(f"{form_url}: unchanged save {saved.status_code} {problems}")
            written = [s for s in statements if WRITES.match(s)]
            if written:
                failures.append(f"{form_url}: unchanged save wrote {written}")
            after = database_bytes(engine)
            if after != before:
                changed = {
                    t: sorted(set(after[t]) ^ set(before[t]))
                    for t in after
                    if after[t] != before.get(t)
                }
                failures.append(f"{form_url}: unchanged save changed {changed}")
    assert checked > 10
    assert not failures, "\n".join(failures)


def _segment(entity: Any) -> str:
    from app import keys

    return keys.entity_segment(entity.schema, entity.table_name)
