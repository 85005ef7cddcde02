"""Real data is bigger than the edge schema: long sort values, a keyless view with a computed
column, a many-to-many with thousands of links, megabyte texts. Each case once per engine, in a
database of its own (``rowboat_large_test``), so the other suites' schemas stay as they are.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import ENGINES, Page, dashboard_for, database_with
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import mysql
from test_edit_support import form_data, with_values
from werkzeug.test import encode_multipart

from rowboat import create_app
from rowboat.core import keys

LARGE_DATABASE = "rowboat_large_test"
# MariaDB's TEXT holds 64 KB; the values here are bigger.
LONG_TEXT = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

metadata = MetaData()
page = Table(
    "page",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("body", LONG_TEXT, nullable=True),
)
pair_page = Table(  # a composite key, one part text
    "pair_page",
    metadata,
    Column("a", Integer, primary_key=True, autoincrement=False),
    Column("b", String(20), primary_key=True),
    Column("body", LONG_TEXT, nullable=True),
)
thing = Table(
    "thing",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(40), nullable=False),
)
doc = Table(
    "doc",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("body", LONG_TEXT, nullable=True),
)
label = Table(
    "label",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(40), nullable=False),
)
post = Table(
    "post",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("title", String(40), nullable=False),
)
post_label = Table(  # a pure link table: many-to-many between post and label
    "post_label",
    metadata,
    Column("post_id", Integer, ForeignKey("post.id"), primary_key=True),
    Column("label_id", Integer, ForeignKey("label.id"), primary_key=True),
)
VIEW = "thing_scored"

N_PAGES = 30
BIG = 100_000


def _body(i: int) -> str | None:
    """100 KB texts: NULLs, a run of equal values, and values that differ early on."""
    if i % 10 == 0:
        return None
    if i % 3 == 0:
        return "same " + "s" * BIG  # a tie, broken by the key
    # Told apart within the first few hundred characters: MariaDB sorts text by its first
    # max_sort_length bytes (1,024) only, and then pages such values in an order of its own.
    return f"{i * 7 % 31:03d} " + "x" * BIG + str(i)


PAGES = [{"id": i, "body": _body(i)} for i in range(1, N_PAGES + 1)]
PAIR_PAGES = [
    {"a": i % 4, "b": f"k,{i}", "body": _body(i)} for i in range(1, N_PAGES + 1)
]  # "k,12": a comma, which the row identity encodes
THINGS = [{"id": i, "name": f"thing {i}"} for i in range(1, 201)]
N_LINKS = 2_000
LABELS = [{"id": i, "name": f"label {i:04d}"} for i in range(1, N_LINKS + 101)]
POSTS = [{"id": 1, "title": "busy"}, {"id": 2, "title": "quiet"}]
LINKS = [{"post_id": 1, "label_id": i} for i in range(1, N_LINKS + 1)]
# A megabyte of text: several lines, some of them not ASCII, and markup to escape.
MEGABYTE = ("Line <b>&amp; ünïcødé ✓\n" + "y" * 1000 + "\n") * 1000


def _create(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as connection:
        for table, rows in (
            (page, PAGES),
            (pair_page, PAIR_PAGES),
            (thing, THINGS),
            (doc, [{"id": 1, "body": MEGABYTE}]),
            (label, LABELS),
            (post, POSTS),
            (post_label, LINKS),
        ):
            connection.execute(delete(table))
            connection.execute(insert(table), rows)
        # A computed column: an expression the database works out for every row it reads.
        connection.execute(
            text(f"CREATE VIEW {VIEW} AS SELECT id, name, (id * 37) % 11 AS score FROM thing")
        )


@pytest.fixture(scope="module", params=ENGINES)
def large_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with database_with(request.param, LARGE_DATABASE, tmp_path_factory, _create) as url:
        yield url


@pytest.fixture
def large_app(large_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    with dashboard_for(large_url, tmp_path, monkeypatch, name="big", csrf=False) as app:
        yield app


@pytest.fixture
def big(large_app: Flask) -> FlaskClient:
    return large_app.test_client()


@pytest.fixture
def big_engine(large_app: Flask) -> Engine:
    return large_app.extensions["rowboat.databases"]["big"].engine


Reader = Callable[[Any], Page]


# --- paging -------------------------------------------------------------------------------------

PAGER_URL_MAX = 500


def _walk(client: FlaskClient, read: Reader, href: str, rel: str) -> list[Page]:
    """Every page from ``href`` on, following ``rel`` links; each pager link must be short."""
    pages = []
    seen: set[str] = set()
    while href:
        assert href not in seen, f"the pager loops back to {href}"
        seen.add(href)
        response = client.get(href)
        assert response.status_code == 200, (href, response.get_data(as_text=True)[-600:])
        current = read(response)
        for link in [a for nav in current.find_all("nav", "pager") for a in nav.find_all("a")]:
            assert len(link.href) < PAGER_URL_MAX, link.href
        pages.append(current)
        href = current.pager_href(rel)
    return pages


def _identities(pages: list[Page]) -> list[str]:
    rows = [row for p in pages for row in p.list_rows()]
    return [r.open_href.rsplit("/", 1)[-1] for r in rows if r.open_href]


def _oracle(engine: Engine, table: Table, descending: bool) -> list[str]:
    """Row identities, as in row links, in the database's order (collation, NULLs)."""
    pk = list(table.primary_key.columns)
    direction = (lambda c: c.desc()) if descending else (lambda c: c.asc())
    stmt = select(*pk).order_by(direction(table.c.body), *[direction(c) for c in pk])
    with engine.connect() as connection:
        return [",".join(keys.encode(str(v)) for v in row) for row in connection.execute(stmt)]


@pytest.mark.parametrize("table", [page, pair_page], ids=["key", "composite-key"])
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_paging_by_a_100kb_text_column_keeps_links_short(
    big: FlaskClient, read: Reader, big_engine: Engine, table: Table, descending: bool
) -> None:
    sort = "_sort_desc" if descending else "_sort"
    start = f"/big/{table.name}?{sort}=body&_size=7"
    expected = _oracle(big_engine, table, descending)
    assert len(expected) == N_PAGES
    forwards = _walk(big, read, start, "next")
    assert len(forwards) == 5
    assert _identities(forwards) == expected
    backwards = _walk(big, read, start + "&_last=1", "prev")
    assert _identities(list(reversed(backwards))) == expected
    # Next, then previous, comes back to the same page.
    second = read(big.get(forwards[0].pager_href("next")))
    assert _identities([read(big.get(second.pager_href("prev")))]) == _identities(forwards[:1])


def test_a_deleted_row_under_a_page_link_is_a_clear_400(
    big: FlaskClient, read: Reader, large_url: str
) -> None:
    first = read(big.get("/big/page?body__contains=x&_sort=body&_size=3"))
    href = first.pager_href("next")
    last_id = keys.decode(first.list_rows()[-1].open_href.rsplit("/", 1)[-1])
    engine = create_engine(large_url)
    try:
        with engine.begin() as connection:
            row = connection.execute(select(page).where(page.c.id == int(last_id))).one()
            connection.execute(delete(page).where(page.c.id == int(last_id)))
        response = big.get(href)
        assert response.status_code == 400
        assert "deleted since" in response.get_data(as_text=True)
    finally:
        with engine.begin() as connection:
            connection.execute(insert(page), [dict(row._mapping)])
        engine.dispose()


def _page_statement(statements: list[str]) -> str:
    [statement] = [s for s in statements if "ORDER BY" in s and VIEW in s]
    return " ".join(statement.split())


def test_a_view_sorted_by_its_computed_column_pages_by_position(
    big: FlaskClient,
    read: Reader,
    big_engine: Engine,
    count_statements: Callable[[Engine], Any],
) -> None:
    """Page 2 runs page 1's statement with an OFFSET: no seek condition that would repeat the
    computed expression per row; pages are complete and disjoint, both ways."""
    # SQLite gives a view's expression column no type, so it cannot be sorted by there (the
    # list refuses it): the view is sorted by its name instead, still paged by position.
    sort = "name" if big_engine.dialect.name == "sqlite" else "score"
    start = f"/big/{VIEW}?_sort={sort}&_size=50"
    with count_statements(big_engine) as statements:
        first = read(big.get(start))
    page1 = _page_statement(statements)
    with count_statements(big_engine) as statements:
        second = read(big.get(first.pager_href("next")))
    page2 = _page_statement(statements)
    assert re.search(r" OFFSET | LIMIT \S+, ", page2)  # MariaDB says LIMIT offset, count
    assert re.sub(r" LIMIT .*", "", page2) == re.sub(r" LIMIT .*", "", page1)
    assert len(second.list_rows()) == 50

    def walked(pages: list[Page]) -> list[tuple[int, int]]:
        rows = [r for p in pages for r in p.list_rows()]
        return [(int(r.cells["score"].text()), int(r.cells["id"].text())) for r in rows]

    forwards = walked(_walk(big, read, start, "next"))
    assert Counter(i for _, i in forwards) == Counter(range(1, 201))
    backwards = walked(list(reversed(_walk(big, read, start + "&_last=1", "prev"))))
    assert backwards == forwards
    if sort == "score":
        assert [s for s, _ in forwards] == sorted(s for s, _ in forwards)


# --- large values through the edit form ---------------------------------------------------------


def _doc_body(engine: Engine) -> str:
    with engine.connect() as connection:
        return connection.execute(select(doc.c.body).where(doc.c.id == 1)).scalar_one()


def _post(client: FlaskClient, path: str, data: Any) -> Any:
    """Post ``data`` as a browser does (multipart), the body encoded here in memory: the test
    client spools a large body to a temporary file that it never closes."""
    boundary, body = encode_multipart(data)
    return client.post(path, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_a_megabyte_of_text_round_trips_through_the_edit_form(
    big: FlaskClient, read: Reader, big_engine: Engine
) -> None:
    assert len(MEGABYTE.encode()) > 1_000_000
    assert _doc_body(big_engine) == MEGABYTE
    form = read(big.get("/big/doc/1/-/edit"))
    data = form_data(form)
    # Shown whole, exactly (the browser posts its newlines as CRLF, read back as the LF stored).
    assert data["body"] == MEGABYTE.replace("\n", "\r\n")
    response = _post(big, "/big/doc/1/-/edit", data)
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    assert _doc_body(big_engine) == MEGABYTE
    edited = "✓ " + MEGABYTE[: len(MEGABYTE) // 2] + "an edit in the middle" + MEGABYTE + "end"
    try:
        response = _post(big, "/big/doc/1/-/edit", with_values(form_data(form), body=edited))
        assert response.status_code == 302, response.get_data(as_text=True)[-800:]
        assert _doc_body(big_engine) == edited
    finally:
        with big_engine.begin() as connection:
            connection.execute(doc.update().where(doc.c.id == 1).values(body=MEGABYTE))


def test_a_form_over_the_size_limit_is_a_clear_413(
    large_url: str, tmp_path: Any, read: Reader, big_engine: Engine
) -> None:
    app = create_app(
        {
            "DATABASES": {"big": {"url": large_url}},
            "DEMO_PATH": str(tmp_path / "demo.sqlite"),
            "MAX_FORM_MEMORY": 500_000,
        }
    )
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        client = app.test_client()
        data = form_data(read(client.get("/big/doc/1/-/edit")))
        response = _post(client, "/big/doc/1/-/edit", data)
        assert response.status_code == 413
        message = read(response).one("p", "message").text()
        assert "ROWBOAT_MAX_FORM_MEMORY" in message and "500 KB" in message
    finally:
        for database in app.extensions["rowboat.databases"].values():
            database.engine.dispose()
    assert _doc_body(big_engine) == MEGABYTE


# --- a many-to-many with thousands of links ------------------------------------------------------


def _links(engine: Engine) -> list[tuple[int, int]]:
    with engine.connect() as connection:
        return sorted(tuple(r) for r in connection.execute(select(post_label)))  # type: ignore[misc]


def test_a_many_to_many_with_2000_links_is_edited_by_changes(
    big: FlaskClient,
    read: Reader,
    big_engine: Engine,
    count_statements: Callable[[Engine], Any],
) -> None:
    """The form shows a count and the first links, and posts only what changed."""
    before = _links(big_engine)
    assert len(before) == N_LINKS
    response = big.get("/big/post/1/-/edit")
    assert response.status_code == 200, response.get_data(as_text=True)[-800:]
    form = read(response)
    box = form.one("div", "related-search")
    assert "2,000 linked" in box.text() and "first 50" in box.text()
    [marker] = [n for n in form.find_all("input") if n.attrs.get("name") == "_related_changes"]
    removes = box.find_all("input", type="checkbox")
    assert len(removes) == 50 and not any("checked" in r.attrs for r in removes)
    remove_name = removes[0].attrs["name"]
    add_name = box.attrs["data-add-name"]
    data = form_data(form)
    assert len(list(data.items(multi=True))) < 60  # nothing like one field per link
    assert marker.attrs["value"] == box.attrs["data-name"]

    # An unchanged save writes no link row.
    with count_statements(big_engine) as statements:
        response = _post(big, "/big/post/1/-/edit", data)
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    assert not [s for s in statements if "post_label" in s and not s.startswith("SELECT")]
    assert _links(big_engine) == before

    # One added by search, one ticked for removal: just those two change.
    data.add(add_name, "2050")
    data.add(remove_name, "7")
    try:
        response = _post(big, "/big/post/1/-/edit", data)
        assert response.status_code == 302, response.get_data(as_text=True)[-800:]
        expected = sorted({*before, (1, 2050)} - {(1, 7)})
        assert _links(big_engine) == expected
        # A row that does not exist is refused on the field, and nothing changes.
        response = _post(big, "/big/post/1/-/edit", with_values(data, **{add_name: "99999"}))
        assert response.status_code == 409
        field = read(response).one("div", "field", **{"data-name": marker.attrs["value"]})
        assert "No row '99999' in label" in field.text()
        assert _links(big_engine) == expected
    finally:
        with big_engine.begin() as connection:
            connection.execute(delete(post_label))
            connection.execute(insert(post_label), LINKS)


def test_large_values_and_relations_save_unchanged(large_app: Flask, count_statements: Any) -> None:
    """The unchanged-save walk of ``test_fidelity`` over the megabyte text, the post with
    2,000 links (and the one with none) and the 200-row view."""
    from test_fidelity import walk_unchanged_saves

    large_app.config["WTF_CSRF_ENABLED"] = False
    checked, failures = walk_unchanged_saves(
        large_app, "big", count_statements, each_save=False, only={"doc", "post", VIEW}
    )
    assert checked == 3  # the document and both posts; the view is read-only
    assert not failures, failures
