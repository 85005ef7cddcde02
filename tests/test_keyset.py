"""Keyset pagination walked end to end, on every engine, by following the pager's links.

Walking every page forwards (``_next``) and backwards from the last page (``_prev``) must
give each row exactly once, in the promised order: the sort column, then the primary key,
with NULLs where the engine puts them (PostgreSQL: after every value ascending; MariaDB and
SQLite: before). Tables without a primary key page by position and must still return each
duplicated row as many times as it exists.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import edge_schema as edge
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from rowboat.browse import listing
from rowboat.core import keys

Reader = Callable[[Any], Any]
PAGE_SIZE = 20


def _get(client: FlaskClient, href: str) -> Any:
    response = client.get(href)
    assert response.status_code == 200, (href, response.get_data(as_text=True)[-600:])
    return response


def _walk(client: FlaskClient, read: Reader, href: str, rel: str) -> list[list[Any]]:
    """The pages from ``href`` on, following ``rel`` ("next" or "prev") links to the end."""
    pages = []
    seen: set[str] = set()
    while href:
        assert href not in seen, f"the pager loops back to {href}"
        seen.add(href)
        page = read(_get(client, href))
        pages.append(page.list_rows())
        href = page.pager_href(rel)
    return pages


def _identities(rows: list[Any]) -> list[str]:
    """Each row's key values, decoded from its "open" link and joined by "|"."""
    segments = [row.open_href.rsplit("/", 1)[-1] for row in rows]
    return ["|".join(keys.decode(part) for part in segment.split(",")) for segment in segments]


def _null_key(value: Any, nulls_high: bool) -> tuple[int, Any]:
    """Sort key putting None before (or after) every value, as the engine does ascending."""
    if value is None:
        return (1, 0) if nulls_high else (-1, 0)
    return (0, value)


def _expected_items(sort: str | None, descending: bool, engine_name: str) -> list[str]:
    """Item ids in page order, worked out here: NULLs placed as the engine places them."""
    nulls_high = engine_name == "postgresql"
    if sort is None:
        order = sorted(edge.ITEMS, key=lambda item: item["id"])
    else:
        order = sorted(edge.ITEMS, key=lambda item: (_null_key(item[sort], nulls_high), item["id"]))
    if descending:
        order.reverse()  # every ORDER BY column flips, the key's too
    return [str(item["id"]) for item in order]


ITEM_ORDERS = [
    pytest.param([], None, False, id="default"),
    pytest.param([("_sort_desc", "id")], "id", True, id="id-desc"),
    pytest.param([("_sort", "score")], "score", False, id="score-asc"),
    pytest.param([("_sort_desc", "score")], "score", True, id="score-desc"),
    pytest.param([("_sort", "label")], "label", False, id="label-asc"),
    pytest.param([("_sort_desc", "label")], "label", True, id="label-desc"),
]


def _item_oracle(engine: Engine, column: str, descending: bool) -> list[str]:
    """Item ids in the database's own order, for text whose collation differs by engine."""
    direction = (lambda c: c.desc()) if descending else (lambda c: c.asc())
    stmt = select(edge.item.c.id).order_by(
        direction(edge.item.c[column]), direction(edge.item.c.id)
    )
    with engine.connect() as connection:
        return [str(i) for i in connection.execute(stmt).scalars()]


def _item_url(args: list[tuple[str, str]], *extra: tuple[str, str]) -> str:
    query = "&".join(f"{k}={v}" for k, v in [*args, ("_size", str(PAGE_SIZE)), *extra])
    return f"/edge/item?{query}"


@pytest.mark.parametrize(("args", "sort", "descending"), ITEM_ORDERS)
def test_walk_every_page_forwards(
    client: FlaskClient,
    read: Reader,
    engine_name: str,
    args: list[tuple[str, str]],
    sort: str | None,
    descending: bool,
) -> None:
    pages = _walk(client, read, _item_url(args), "next")
    assert [len(p) for p in pages] == [PAGE_SIZE] * 11 + [edge.N_ITEMS - 11 * PAGE_SIZE]
    walked = [identity for page in pages for identity in _identities(page)]
    assert walked == _expected_items(sort, descending, engine_name)


@pytest.mark.parametrize(("args", "sort", "descending"), ITEM_ORDERS)
def test_walk_every_page_backwards_from_the_last(
    client: FlaskClient,
    read: Reader,
    engine_name: str,
    args: list[tuple[str, str]],
    sort: str | None,
    descending: bool,
) -> None:
    pages = _walk(client, read, _item_url(args, ("_last", "1")), "prev")
    # The last page is full (it is counted from the end); the first holds the remainder.
    assert [len(p) for p in pages] == [PAGE_SIZE] * 11 + [edge.N_ITEMS - 11 * PAGE_SIZE]
    walked = [identity for page in reversed(pages) for identity in _identities(page)]
    assert walked == _expected_items(sort, descending, engine_name)
    last = read(_get(client, _item_url(args, ("_last", "1"))))
    assert last.pager_href("next") is None


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_walk_by_a_text_foreign_key_with_punctuation(
    client: FlaskClient, read: Reader, edge_engine: Engine, descending: bool
) -> None:
    """Cursors carrying "a/b", "x,y", 'say "hi"' or "日本" bring back the next page exactly."""
    args = [("_sort_desc" if descending else "_sort", "tag_code")]
    expected = _item_oracle(edge_engine, "tag_code", descending)
    pages = _walk(client, read, _item_url(args), "next")
    assert [i for page in pages for i in _identities(page)] == expected
    pages = _walk(client, read, _item_url(args, ("_last", "1")), "prev")
    assert [i for page in reversed(pages) for i in _identities(page)] == expected


def test_next_then_prev_returns_to_the_same_page(client: FlaskClient, read: Reader) -> None:
    first = read(_get(client, _item_url([("_sort", "score")])))
    second = read(_get(client, first.pager_href("next")))
    back = read(_get(client, second.pager_href("prev")))
    assert _identities(back.list_rows()) == _identities(first.list_rows())
    assert back.pager_href("prev") is None  # back on the first page


def test_walk_a_filtered_and_searched_list(
    client: FlaskClient, read: Reader, engine_name: str
) -> None:
    args = [("group_id__exact", "2"), ("_search", "label 1"), ("_sort_desc", "score")]
    pages = _walk(client, read, _item_url(args), "next")
    walked = [identity for page in pages for identity in _identities(page)]
    wanted = {
        str(item["id"])
        for item in edge.ITEMS
        if item["group_id"] == 2 and "label 1" in item["label"]
    }
    expected = [i for i in _expected_items("score", True, engine_name) if i in wanted]
    assert walked == expected


def test_walk_a_related_list_both_ways(client: FlaskClient, read: Reader, app: Any) -> None:
    """The "see all" list of a row's related rows (``_via``) pages like any other."""
    group = app.extensions["rowboat.databases"]["edge"].catalog.entities["group"]
    [items] = [r for r in group.collections if r.target == "item"]
    start = f"/edge/item?_via=group:{items.name}:1&_sort=label&_size=7"
    forwards = [i for page in _walk(client, read, start, "next") for i in _identities(page)]
    expected = sorted(
        (item for item in edge.ITEMS if item["group_id"] == 1),
        key=lambda item: (item["label"], item["id"]),
    )
    assert forwards == [str(item["id"]) for item in expected]
    backwards = _walk(client, read, start + "&_last=1", "prev")
    assert [i for page in reversed(backwards) for i in _identities(page)] == forwards


SORTABLE_TABLES = [
    ("person", [c.name for c in edge.person.columns if c.name != "photo"]),
    ("tag", ["code", "name"]),
    ("grid", ["x", "y", "note"]),
    ("order", ["from", "person_id"]),
]


@pytest.mark.parametrize(
    ("table", "column"),
    [(table, column) for table, columns in SORTABLE_TABLES for column in columns],
)
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_walk_one_row_per_page_matches_the_database_order(
    client: FlaskClient,
    read: Reader,
    edge_engine: Engine,
    table: str,
    column: str,
    descending: bool,
) -> None:
    """Cursors of every kind of value (text with punctuation, dates, numerics...) round-trip."""
    core = edge.metadata.tables[table]
    pk = list(core.primary_key.columns)
    direction = (lambda c: c.desc()) if descending else (lambda c: c.asc())
    oracle = select(*pk).order_by(direction(core.c[column]), *[direction(c) for c in pk])
    with edge_engine.connect() as connection:
        expected = ["|".join(str(v) for v in row) for row in connection.execute(oracle)]
    sort = "_sort_desc" if descending else "_sort"
    start = f"/edge/{keys.encode(table)}?{sort}={column}&_size=1"
    forwards = [i for page in _walk(client, read, start, "next") for i in _identities(page)]
    assert forwards == expected
    backwards = _walk(client, read, start + "&_last=1", "prev")
    assert [i for page in reversed(backwards) for i in _identities(page)] == forwards


def _nokey_rows(rows: list[Any]) -> list[tuple[Any, Any]]:
    """(a, b) per list row, telling NULL from the empty string by the cell's markup."""

    def value(cell: Any, convert: Callable[[str], Any]) -> Any:
        if cell.find("span", "null") is not None:
            return None
        if cell.find("span", "empty") is not None:
            return ""
        return convert(cell.text())

    return [(value(r.cells["a"], int), value(r.cells["b"], str)) for r in rows]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 50])
@pytest.mark.parametrize("sort", ["", "&_sort=b", "&_sort_desc=a", "&_sort_desc=b"])
def test_table_without_key_pages_forwards_through_duplicates(
    client: FlaskClient, read: Reader, engine_name: str, size: int, sort: str
) -> None:
    pages = _walk(client, read, f"/edge/nokey?_size={size}{sort}", "next")
    walked = _nokey_rows([row for page in pages for row in page])
    expected = Counter((row["a"], row["b"]) for row in edge.NOKEY)
    assert Counter(walked) == expected
    assert len(walked) == len(edge.NOKEY)
    if not sort:
        nulls_high = engine_name == "postgresql"
        order = sorted(
            expected.elements(),
            key=lambda r: (_null_key(r[0], nulls_high), _null_key(r[1], nulls_high)),
        )
        assert walked == order


def test_view_pages_forwards_and_backwards(client: FlaskClient, read: Reader) -> None:
    start = f"/edge/{edge.VIEW_NAME}?_size=2"
    forwards = [r.cells["id"].text() for p in _walk(client, read, start, "next") for r in p]
    assert sorted(forwards, key=int) == [str(p["id"]) for p in edge.PEOPLE]
    assert forwards == sorted(forwards, key=int)


def test_listing_functions_walk_the_same_rows(app: Any, engine_name: str) -> None:
    """The service layer alone, without HTTP: fetch_page cursors chain to the full table."""
    database = app.extensions["rowboat.databases"]["edge"]
    catalog = database.catalog
    entity = catalog.entities["item"]
    with Session(database.engine) as session:
        for args, sort, descending in [
            ([], None, False),
            ([("_sort", "score")], "score", False),
            ([("_sort_desc", "score")], "score", True),
        ]:
            walked: list[str] = []
            cursor_args: list[tuple[str, str]] = []
            for _ in range(100):
                query = listing.parse_list_query(entity, catalog, [*args, *cursor_args], 7, 500)
                page = listing.fetch_page(session, entity, query, catalog.dialect)
                walked.extend(str(row["id"]) for row in page.rows)
                if page.next_cursor is None:
                    break
                cursor_args = [("_next", page.next_cursor)]
            assert walked == _expected_items(sort, descending, engine_name)
