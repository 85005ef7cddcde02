"""The schema pages through the test client, on SQLite, PostgreSQL and MariaDB.

What each structure page shows is checked against the schema the test database was created
from (``test_schema_support``), not against the code's own reflection.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Page
from flask import Flask
from sqlalchemy import Engine, text
from test_schema_support import TABLES, VIEW

from rowboat.core.keys import entity_segment

Read = Callable[[Any], Page]

# The schema database fixtures (schema_url, schema_app, ...) live beside the helpers.
pytest_plugins = ["test_schema_support"]


def structure_path(name: str, schema: str | None = None) -> str:
    return f"/s/-/schema/{entity_segment(schema, name)}"


def columns_of(page: Page) -> dict[str, dict[str, str]]:
    """The structure page's column table: name -> {heading: cell text}."""
    table = page.one("table", "structure-columns")
    headings = [th.text() for th in table.one("thead").find_all("th")]
    result = {}
    for tr in table.one("tbody").find_all("tr"):
        cells = dict(zip(headings, (td.text() for td in tr.find_all("td"))))
        result[cells["Name"]] = cells
    return result


def section_rows(page: Page, cls: str) -> list[list[str]]:
    table = page.one("table", cls)
    return [[td.text() for td in tr.find_all("td")] for tr in table.one("tbody").find_all("tr")]


def csrf_token(page: Page) -> str:
    return page.one("input", name="csrf_token").attrs["value"]


# --- the schema page ---------------------------------------------------------------------------


def test_schema_page_lists_every_table_and_view(
    schema_app: Flask, read: Read, schema_engine_name: str
) -> None:
    response = schema_app.test_client().get("/s/-/schema")
    assert response.status_code == 200
    page = read(response)
    names = {}
    for table in page.find_all("table", "schema-tables"):
        for tr in table.one("tbody").find_all("tr"):
            cells = tr.find_all("td")
            names[(cells[0].text(), cells[0].one("a").href)] = cells[1].text()
    found = {name: kind for (name, _href), kind in names.items()}
    for name in TABLES:
        assert found[name] == "table"
    assert found[VIEW] == "view"
    # Every name links to its structure page through the tilde-encoded segment.
    for (name, href), _kind in names.items():
        if name in TABLES or name == VIEW:
            assert href == structure_path(name)
    if schema_engine_name == "postgresql":
        assert found["note"] == "table"  # in the second schema, "extra"
        assert ("note", structure_path("note", "extra")) in names
        assert found["customer_totals"] == "materialized view"


def test_schema_page_shows_estimates_and_sizes_where_the_database_keeps_them(
    schema_app: Flask, read: Read, schema_engine_name: str
) -> None:
    page = read(schema_app.test_client().get("/s/-/schema"))
    row = next(
        tr
        for tr in page.find_all("tr")
        if tr.find("td", "name") is not None and tr.one("td", "name").text() == "customer"
    )
    cells = [td.text() for td in row.find_all("td")]
    assert cells[2] == "5"  # columns
    if schema_engine_name in ("postgresql", "mariadb"):
        assert re.search(r"\d", cells[4]), cells  # an on-disk size


def test_search_finds_tables_by_table_and_column_name(schema_app: Flask, read: Read) -> None:
    client = schema_app.test_client()
    page = read(client.get("/s/-/schema?q=MAIL"))
    rows = page.one("table", "schema-tables").one("tbody").find_all("tr")
    assert [r.one("td", "name").text() for r in rows] == ["customer"]
    assert [c.text() for c in rows[0].find_all("code")] == ["e-mail"]
    page = read(client.get("/s/-/schema?q=" + "表"))
    rows = [td.text() for td in page.find_all("td", "name")]
    assert rows == ["Ünïcode 表"]
    page = read(client.get("/s/-/schema?q=no-such-thing"))
    assert "0 tables match" in page.one("p", id="search-summary").text()


# --- structure pages ---------------------------------------------------------------------------


def test_structure_of_a_table_with_keys_defaults_and_constraints(
    schema_app: Flask, read: Read, schema_engine_name: str
) -> None:
    response = schema_app.test_client().get(structure_path("customer"))
    assert response.status_code == 200
    page = read(response)
    columns = columns_of(page)
    assert list(columns) == ["id", "name", "e-mail", "status", "<b>html</b>"]
    assert columns["id"]["Null"] == "NOT NULL"
    assert "PK" in columns["id"]["Key"]
    assert columns["name"]["Null"] == "NOT NULL"
    assert columns["e-mail"]["Null"] == "NULL"
    assert "VARCHAR(120)" in columns["e-mail"]["Type"].upper()
    assert "new" in columns["status"]["Default"]
    if schema_engine_name == "sqlite":
        assert "rowid" in columns["id"]["Generated"]
    else:
        assert columns["id"]["Generated"], columns["id"]  # auto-increment / identity / serial
    if schema_engine_name != "sqlite":  # SQLite keeps no comments
        assert columns["name"]["Comment"] == "Full name"
        assert page.one("p", "table-comment").text() == "People who buy things"
    # Escaped, never interpreted: the HTML-looking column name is text.
    assert "<b>html</b>" not in response.get_data(as_text=True)
    assert "&lt;b&gt;html&lt;/b&gt;" in response.get_data(as_text=True)

    uniques = section_rows(page, "uniques")
    assert ["e-mail"] in [row[1:] for row in uniques]
    if schema_engine_name != "sqlite":  # SQLite does not name inline UNIQUE constraints
        assert uniques[0][0] == "uq_customer_email"
    checks = section_rows(page, "checks")
    assert any("status" in cond and "new" in cond for _name, cond in checks), checks
    if schema_engine_name != "mariadb":
        assert checks[0][0] == "ck_customer_status"
    referenced = {row[0]: row[1] for row in section_rows(page, "fk-in")}
    assert referenced == {"order": "customer_id", "o'quote": "customer_id"} | (
        {"extra.note": "customer_id"} if schema_engine_name == "postgresql" else {}
    )
    links = {a.text(): a.href for a in page.one("table", "fk-in").find_all("a")}
    assert links["o'quote"] == structure_path("o'quote")

    ddl = page.one("pre", "ddl").text()
    assert "CREATE TABLE" in ddl.upper()
    assert "customer" in ddl and "e-mail" in ddl and "ck_customer_status" in ddl


def test_partial_and_expression_indexes(
    schema_app: Flask, read: Read, schema_engine_name: str
) -> None:
    if schema_engine_name == "mariadb":
        pytest.skip("MariaDB has neither partial nor expression indexes")
    page = read(schema_app.test_client().get(structure_path("customer")))
    indexes = {row[0]: row for row in section_rows(page, "indexes")}
    assert "name" in indexes["ix_customer_new"][2]
    assert "status" in indexes["ix_customer_new"][3] and "new" in indexes["ix_customer_new"][3]
    assert re.search(r"lower\(\(?name", indexes["ix_customer_lower"][2]), indexes
    ddl = page.one("pre", "ddl").text()
    assert "ix_customer_new" in ddl and "ix_customer_lower" in ddl


def test_structure_of_a_reserved_word_table_with_foreign_key_indexes_and_computed_column(
    schema_app: Flask, read: Read, schema_engine_name: str
) -> None:
    page = read(schema_app.test_client().get(structure_path("order")))
    columns = columns_of(page)
    assert list(columns) == ["id", "customer_id", "total", "double_total", "note"]
    assert "computed" in columns["double_total"]["Generated"]
    assert "total" in columns["double_total"]["Generated"]
    assert "NUMERIC(10, 2)" in columns["total"]["Type"].replace("DECIMAL", "NUMERIC")
    fks = section_rows(page, "fk-out")
    assert len(fks) == 1
    assert fks[0][1] == "customer_id" and fks[0][2] == "customer(id)"
    assert fks[0][3] == "CASCADE"
    target = page.one("table", "fk-out").one("a")
    assert target.href == structure_path("customer")
    indexes = {row[0]: row for row in section_rows(page, "indexes")}
    assert indexes["ix_order_customer"][2] == "customer_id"
    assert indexes["ix_order_customer_total"][2] == "customer_id, total"
    referenced = [row[0] for row in section_rows(page, "fk-in")]
    assert sorted(referenced) == ["line item", "Ünïcode 表"]
    ddl = page.one("pre", "ddl").text()
    quote = {"mariadb": "`order`", "postgresql": '"order"', "sqlite": '"order"'}
    assert quote[schema_engine_name] in ddl


def test_composite_key_and_names_that_need_encoding(schema_app: Flask, read: Read) -> None:
    client = schema_app.test_client()
    page = read(client.get(structure_path("line item")))
    assert page.one("h1").text().startswith("line item")
    assert page.one("p", "pk-line").find_all("code")[0].text() == "order_id"
    assert [c.text() for c in page.one("p", "pk-line").find_all("code")] == ["order_id", "n"]
    assert "1" in columns_of(page)["qty"]["Default"]
    for name in ("o'quote", "Ünïcode 表"):
        response = client.get(structure_path(name))
        assert response.status_code == 200, name
        assert read(response).one("h1").text().startswith(name)


def test_view_shows_its_definition(schema_app: Flask, read: Read) -> None:
    page = read(schema_app.test_client().get(structure_path(VIEW)))
    assert "view" in page.one("h1").text()
    assert list(columns_of(page)) == ["id", "name"]
    definition = page.one("pre", "view-definition").text().lower()
    assert "select" in definition and "customer" in definition
    assert "view" in page.one("pre", "ddl").text().lower()


def test_postgresql_other_schema_and_materialized_view(
    schema_app: Flask, read: Read, schema_engine_name: str
) -> None:
    if schema_engine_name != "postgresql":
        pytest.skip("schemas and materialized views are PostgreSQL's")
    client = schema_app.test_client()
    page = read(client.get(structure_path("note", "extra")))
    fks = section_rows(page, "fk-out")
    assert fks[0][2] == "customer(id)"
    assert page.one("table", "fk-out").one("a").href == structure_path("customer")
    assert "CREATE TABLE extra.note" in page.one("pre", "ddl").text()
    page = read(client.get(structure_path("customer_totals")))
    assert "materialized view" in page.one("h1").text()
    assert "CREATE MATERIALIZED VIEW" in page.one("pre", "ddl").text()


def test_unknown_or_malformed_tables_answer_404(schema_app: Flask) -> None:
    client = schema_app.test_client()
    assert client.get("/s/-/schema/nope").status_code == 404
    assert client.get("/s/-/schema/~ZZ").status_code == 404
    assert client.get("/s/-/diagram/nope").status_code == 404
    assert client.get("/nope/-/schema").status_code == 404


# --- diagram pages -----------------------------------------------------------------------------


def test_whole_database_diagram(schema_app: Flask, read: Read, schema_engine_name: str) -> None:
    response = schema_app.test_client().get("/s/-/diagram")
    assert response.status_code == 200
    page = read(response)
    svg = page.one("svg", "erd")
    boxes = {a.attrs["data-key"]: a.href for a in svg.find_all("a")}
    expected = set(TABLES) | ({"extra.note"} if schema_engine_name == "postgresql" else set())
    assert set(boxes) == {entity_segment(None, n) if "." not in n else n for n in expected}
    assert boxes[entity_segment(None, "o'quote")] == structure_path("o'quote")
    edges = {(p.attrs["data-source"], p.attrs["data-target"]) for p in svg.find_all("path", "edge")}
    assert ("order", "customer") in edges
    assert ("line~20item", "order") in edges
    assert (entity_segment(None, "Ünïcode 表"), "order") in edges


def test_one_table_diagram_shows_its_neighbours_only(schema_app: Flask, read: Read) -> None:
    client = schema_app.test_client()
    page = read(client.get("/s/-/diagram/order"))
    keys = {a.attrs["data-key"] for a in page.one("svg", "erd").find_all("a")}
    assert keys == {"order", "customer", "line~20item", entity_segment(None, "Ünïcode 表")}
    focus = page.one("svg", "erd").one("a", "focus")
    assert focus.attrs["data-key"] == "order"
    picked = client.get("/s/-/diagram?table=order")
    assert picked.status_code == 302 and picked.headers["Location"] == "/s/-/diagram/order"


def test_big_database_gets_a_picker_instead_of_a_diagram(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, read: Read
) -> None:
    from sqlalchemy import create_engine
    from test_schema_support import make_app

    from rowboat.schema.diagram import MAX_TABLES

    url = f"sqlite:///{tmp_path / 'many.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        for n in range(MAX_TABLES + 1):
            connection.execute(text(f"CREATE TABLE t{n:03d} (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    app = make_app(url, tmp_path, monkeypatch)
    page = read(app.test_client().get("/s/-/diagram"))
    assert page.find("svg") is None
    assert f"{MAX_TABLES + 1} tables" in page.one("p", "problem").text()
    options = page.one("select", id="diagram-table").find_all("option")
    assert len(options) == MAX_TABLES + 2  # the prompt, then every table


# --- refresh -----------------------------------------------------------------------------------


def test_refresh_picks_up_a_new_table_and_a_dropped_one_answers_404(
    schema_app: Flask, schema_engine: Engine, read: Read
) -> None:
    client = schema_app.test_client()
    page = read(client.get("/s/-/schema"))
    assert client.get("/s/added_later").status_code == 404  # the catalog is loaded now
    with schema_engine.begin() as connection:
        connection.execute(text("CREATE TABLE added_later (id INTEGER PRIMARY KEY)"))
    try:
        # Cached: not there until the schema is refreshed.
        assert client.get(structure_path("added_later")).status_code == 404
        assert client.post("/s/-/refresh").status_code == 400  # no CSRF token
        response = client.post(
            "/s/-/refresh", data={"csrf_token": csrf_token(page), "next": "/s/-/diagram"}
        )
        assert response.status_code == 303
        assert response.headers["Location"] == "/s/-/diagram"
        page = read(client.get("/s/-/schema"))
        assert "Schema reloaded" in page.one("div", "flash").text()
        assert "added_later" in [td.text() for td in page.find_all("td", "name")]
        assert client.get(structure_path("added_later")).status_code == 200
        assert client.get("/s/added_later").status_code == 200  # the browse catalog too
    finally:
        with schema_engine.begin() as connection:
            connection.execute(text("DROP TABLE added_later"))
    # Gone from the database but still in the snapshot: a 404 that says what to do.
    response = client.get(structure_path("added_later"))
    assert response.status_code == 404
    assert "no longer exists" in response.get_data(as_text=True)
    response = client.post(
        "/s/-/refresh",
        data={"csrf_token": csrf_token(page), "next": structure_path("added_later")},
    )
    assert response.headers["Location"] == "/s/-/schema"  # that page would be a 404 now
    assert client.get(structure_path("added_later")).status_code == 404
    assert client.get("/s/added_later").status_code == 404


def test_refresh_only_redirects_within_the_site(schema_app: Flask, read: Read) -> None:
    client = schema_app.test_client()
    token = csrf_token(read(client.get("/s/-/schema")))
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = client.post("/s/-/refresh", data={"csrf_token": token, "next": target})
        assert response.headers["Location"] == "/s/-/schema"


def test_links_from_the_home_and_table_pages(schema_app: Flask, read: Read) -> None:
    client = schema_app.test_client()
    home = read(client.get("/"))
    assert "/s/-/schema" in [a.href for a in home.find_all("a")]
    table = read(client.get("/s/order"))
    assert structure_path("order") in [a.href for a in table.find_all("a")]
