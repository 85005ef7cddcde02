"""Unit tests for list pages: query-string parsing, the page statement, and keyset paging.

Parsing and statement building are pure, so they are checked on compiled SQL for SQLite and
PostgreSQL (which put NULLs at opposite ends). Paging itself is checked as a property on an
in-memory SQLite table built by the real discovery: walking every page forwards, or backwards
from the last page, must give exactly the rows of the table in sorted order, with duplicates
and NULLs in the sort column, and, for a table without a primary key, with duplicate rows.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, delete, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from rowboat.browse import listing
from rowboat.browse.listing import (
    ListQuery,
    canonical_args,
    fetch_page,
    page_select,
    parse_list_query,
)
from rowboat.catalog.discovery import discover
from rowboat.catalog.model import Catalog, Entity
from rowboat.config import DatabaseConfig
from rowboat.db.errors import BadRequest

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

SCHEMA = [
    """CREATE TABLE items (
        id INTEGER NOT NULL PRIMARY KEY,
        name TEXT NOT NULL,
        qty INTEGER,
        made DATE,
        data JSON,
        blob BLOB
    )""",
    "CREATE TABLE nokey (a INTEGER, b TEXT)",
    # For the paging properties: a nullable int and a nullable text column with duplicates.
    "CREATE TABLE pk (id INTEGER NOT NULL PRIMARY KEY, n INTEGER, s TEXT)",
    "CREATE TABLE nopk (n INTEGER, s TEXT)",
]


@functools.cache
def database() -> tuple[Engine, Catalog]:
    """One in-memory database for the module, discovered the way the app discovers one."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    with engine.begin() as conn:
        for statement in SCHEMA:
            conn.exec_driver_sql(statement)
    return engine, discover(DatabaseConfig(name="t", url="sqlite://"), engine)


@pytest.fixture
def catalog() -> Catalog:
    return database()[1]


@pytest.fixture
def items(catalog: Catalog) -> Entity:
    return catalog.entities["items"]


@pytest.fixture
def nokey(catalog: Catalog) -> Entity:
    return catalog.entities["nokey"]


def parse(entity: Entity, args: list[tuple[str, str]]) -> ListQuery:
    return parse_list_query(entity, database()[1], args, PAGE_SIZE, MAX_PAGE_SIZE)


def sql_of(entity: Entity, args: list[tuple[str, str]], dialect: str) -> tuple[str, list[Any]]:
    """The WHERE ... LIMIT part of a page statement, placeholders as ``:p``, and its params."""
    stmt = page_select(entity, parse(entity, args), dialect)
    d = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect()}[dialect]
    result = stmt.compile(dialect=d)
    text = re.sub(r"%\(\w+\)s(::\w+)?|\?", ":p", str(result))
    text = " ".join(text.split())
    tail = text[text.index(" WHERE ") + 1 :] if " WHERE " in text else text
    return tail, list(result.params.values())


def cursor(
    entity: Entity, args: list[tuple[str, str]], values: list[Any], by_key: bool = False
) -> str:
    return listing.encode_cursor(values, listing.order_columns(entity, parse(entity, args)), by_key)


def test_discovery_gives_the_entities_the_tests_expect(catalog: Catalog) -> None:
    items = catalog.entities["items"]
    assert items.primary_key == ["id"]
    assert {k: c.kind for k, c in items.columns.items()} == {
        "id": "integer",
        "name": "text",
        "qty": "integer",
        "made": "date",
        "data": "json",
        "blob": "binary",
    }
    assert not items.columns["id"].nullable
    assert items.columns["qty"].nullable
    assert catalog.entities["nokey"].primary_key == []
    assert catalog.entities["pk"].mapped_class is not None


# --- parse_list_query -------------------------------------------------------------------------


def test_parse_defaults(items: Entity) -> None:
    query = parse(items, [])
    assert query == ListQuery(size=PAGE_SIZE)
    assert not query.where_parts


def test_parse_accepts_every_part(items: Entity) -> None:
    query = parse(
        items,
        [
            ("qty__gt", "5"),
            ("name", "Zeb"),
            ("made__isnull", ""),
            ("_search", "  hello  "),
            ("_sort_desc", "qty"),
            ("_size", "10"),
            ("_last", "1"),
        ],
    )
    assert [(f.column.key, f.operator.key, f.value) for f in query.filters] == [
        ("qty", "gt", 5),
        ("name", "exact", "Zeb"),
        ("made", "isnull", None),
    ]
    assert query.search == "hello"
    assert query.sort is items.columns["qty"]
    assert query.descending is True
    assert query.size == 10
    assert query.last is True
    assert query.cursor is None
    assert query.where_parts


@pytest.mark.parametrize(("raw", "last"), [("1", True), ("yes", True), ("0", False), ("", False)])
def test_parse_last(items: Entity, raw: str, last: bool) -> None:
    assert parse(items, [("_last", raw)]).last is last


def test_parse_size_bounds(items: Entity) -> None:
    assert parse(items, [("_size", "1")]).size == 1
    assert parse(items, [("_size", str(MAX_PAGE_SIZE))]).size == MAX_PAGE_SIZE


def test_parse_cursors(items: Entity) -> None:
    args = [("_sort", "qty")]
    raw = cursor(items, args, [5, 7])
    forward = parse(items, [*args, ("_next", raw)]).cursor
    assert forward == listing.Cursor(values=(5, 7), backwards=False)
    backward = parse(items, [*args, ("_prev", raw)]).cursor
    assert backward == listing.Cursor(values=(5, 7), backwards=True)
    with_null = parse(items, [*args, ("_next", cursor(items, args, [None, 3]))]).cursor
    assert with_null is not None and with_null.values == (None, 3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([("nope", "1")], "no column 'nope'"),
        ([("nope__gt", "1")], "no column 'nope'"),
        ([("qty__like", "1")], "unknown filter operator"),
        ([("qty", "abc")], "'qty'"),
        ([("name__istrue", "")], "does not apply"),
        ([("_x", "1")], "unknown parameter '_x'"),
        ([("_page", "2")], "unknown parameter"),
        ([("_size", "0")], "_size"),
        ([("_size", "-1")], "_size"),
        ([("_size", str(MAX_PAGE_SIZE + 1))], "_size"),
        ([("_size", "abc")], "_size"),
        ([("_size", "")], "_size"),
        ([("_sort", "nope")], "no column 'nope'"),
        ([("_sort", "data")], "cannot sort by 'data'"),
        ([("_sort_desc", "data")], "cannot sort by 'data'"),
        ([("_sort", "blob")], "cannot sort by 'blob'"),
        ([("_next", "abc"), ("_prev", "abc")], "at most one"),
        ([("_next", "abc"), ("_next", "abc")], "at most one"),
        ([("_next", "!!!")], "page link is not valid"),
        ([("_next", "")], "page link is not valid"),
        ([("_via", "a:b")], "_via"),
        ([("_via", "nokey:x:1")], "_via"),
    ],
)
def test_parse_rejects(items: Entity, args: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(BadRequest, match=re.escape(message)):
        parse(items, args)


def _b64(payload: str) -> str:
    return base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")


@pytest.mark.parametrize(
    "payload",
    [
        "[5]",  # a cursor for one order column; the page orders by two
        "[5,7,9]",
        '["x",7]',  # not an integer
        "[5,7,{}]",
        '[5,7,{"skip":-1}]',
        '[5,7,{"skip":"x"}]',
        '{"a":1}',
        "5",
        "null",
        '"text"',
        "[[5],7]",
        "not json",
    ],
)
def test_parse_rejects_cursors_of_the_wrong_shape(items: Entity, payload: str) -> None:
    with pytest.raises(BadRequest, match="page link is not valid"):
        parse(items, [("_sort", "qty"), ("_next", _b64(payload))])


def test_parse_rejects_a_deeply_nested_cursor(items: Entity) -> None:
    # Fits in a request line that gunicorn accepts (4094 bytes), yet nests past Python's limit.
    raw = _b64("[" * 1500 + "]" * 1500)
    assert len(raw) < 4094
    with pytest.raises(BadRequest):
        parse(items, [("_next", raw)])


@settings(max_examples=100, deadline=None)
@given(
    st.text(max_size=40) | st.binary(max_size=30).map(base64.urlsafe_b64encode).map(bytes.decode)
)
def test_any_cursor_text_parses_or_is_a_bad_request(raw: str) -> None:
    items = database()[1].entities["items"]
    try:
        query = parse(items, [("_sort", "name"), ("_prev", raw)])
    except BadRequest:
        return
    assert query.cursor is not None and len(query.cursor.values) == 2


def test_cursor_round_trip_with_odd_values(items: Entity) -> None:
    args = [("_sort", "name")]
    for name in ["", "a,b", '{"skip":3}', "日本", "x" * 200]:
        query = parse(items, [*args, ("_next", cursor(items, args, [name, 12]))])
        assert query.cursor == listing.Cursor(values=(name, 12), backwards=False)


# --- canonical_args -----------------------------------------------------------------------------


def test_canonical_args_without_form_fields() -> None:
    assert canonical_args([("qty__gt", "5"), ("_sort", "qty")], PAGE_SIZE) is None
    assert canonical_args([], PAGE_SIZE) is None


def test_canonical_args_rewrites_the_form() -> None:
    args = [
        ("_fc", "qty"),
        ("_fo", "gt"),
        ("_fv", "5"),
        ("_fc", "name"),
        ("_fo", "contains"),
        ("_fv", "a b"),
        ("_fc", ""),  # the form's empty extra row
        ("_fo", "exact"),
        ("_fv", ""),
        ("_sort", "qty"),
        ("_size", "10"),
        ("_search", ""),
        ("_next", "abc"),
        ("_prev", "abc"),
        ("_last", "1"),
        ("old__exact", "1"),  # filters outside the form were re-sent by it or removed
    ]
    assert canonical_args(args, PAGE_SIZE) == [
        ("qty__gt", "5"),
        ("name__contains", "a b"),
        ("_sort", "qty"),
        ("_size", "10"),
    ]


def test_canonical_args_drops_the_default_page_size() -> None:
    args = [("_fc", "qty"), ("_fo", "gt"), ("_fv", "5"), ("_size", str(PAGE_SIZE))]
    assert canonical_args(args, PAGE_SIZE) == [("qty__gt", "5")]


def test_canonical_args_keeps_a_search() -> None:
    args = [("_fc", "qty"), ("_fo", "lt"), ("_fv", "3"), ("_search", "x")]
    assert canonical_args(args, PAGE_SIZE) == [("qty__lt", "3"), ("_search", "x")]


@pytest.mark.parametrize(
    "args",
    [
        [("_fc", "qty"), ("_fo", "gt")],
        [("_fc", "qty"), ("_fv", "5")],
        [("_fv", "5")],
        [("_fc", "qty"), ("_fo", "gt"), ("_fv", "5"), ("_fc", "name")],
    ],
)
def test_canonical_args_incomplete_filter(args: list[tuple[str, str]]) -> None:
    with pytest.raises(BadRequest, match="incomplete"):
        canonical_args(args, PAGE_SIZE)


# --- page_select ---------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_first_page_orders_by_sort_column_then_key(items: Entity, dialect: str) -> None:
    sql, params = sql_of(items, [("_sort", "qty"), ("_size", "10")], dialect)
    assert "ORDER BY items.qty ASC, items.id ASC LIMIT :p" in sql
    assert params[0] == 11  # one row more than shown tells whether there is a next page
    sql, params = sql_of(items, [("_sort_desc", "name"), ("_size", "3")], dialect)
    assert "ORDER BY items.name DESC, items.id DESC LIMIT :p" in sql
    assert params[0] == 4


def test_default_order_is_the_primary_key(items: Entity) -> None:
    sql, params = sql_of(items, [], "postgresql")
    assert sql == "WHERE true ORDER BY items.id ASC LIMIT :p"
    assert params == [PAGE_SIZE + 1]


def test_binary_columns_are_selected_by_size(items: Entity) -> None:
    stmt = page_select(items, parse(items, []), "sqlite")
    assert "length(items.blob) AS blob" in str(stmt.compile(dialect=sqlite.dialect()))


def test_last_page_reverses_the_order(items: Entity) -> None:
    sql, _ = sql_of(items, [("_sort", "qty"), ("_last", "1")], "postgresql")
    assert sql == "WHERE true ORDER BY items.qty DESC, items.id DESC LIMIT :p"
    sql, _ = sql_of(items, [("_sort_desc", "qty"), ("_last", "1")], "postgresql")
    assert sql == "WHERE true ORDER BY items.qty ASC, items.id ASC LIMIT :p"


# The keyset conditions for a cursor at (qty=5, id=7). The leading "qty >= 5" / "qty <= 5" is
# redundant but lets an index on qty be used; it is only sound where NULLs sort before 5 in the
# page's direction (otherwise the NULL rows still to come would be cut off).
SEEK_CASES = [
    (
        "sqlite",
        "_sort",
        "_next",
        "items.qty >= :p AND (items.qty > :p OR items.qty = :p AND items.id > :p) "
        "ORDER BY items.qty ASC, items.id ASC",
    ),
    (
        "postgresql",
        "_sort",
        "_next",
        "(items.qty > :p OR items.qty IS NULL OR items.qty = :p AND items.id > :p) "
        "ORDER BY items.qty ASC, items.id ASC",
    ),
    (
        "sqlite",
        "_sort_desc",
        "_next",
        "(items.qty < :p OR items.qty IS NULL OR items.qty = :p AND items.id < :p) "
        "ORDER BY items.qty DESC, items.id DESC",
    ),
    (
        "postgresql",
        "_sort_desc",
        "_next",
        "items.qty <= :p AND (items.qty < :p OR items.qty = :p AND items.id < :p) "
        "ORDER BY items.qty DESC, items.id DESC",
    ),
    # A previous-page cursor seeks the other way and reverses the order.
    (
        "sqlite",
        "_sort",
        "_prev",
        "(items.qty < :p OR items.qty IS NULL OR items.qty = :p AND items.id < :p) "
        "ORDER BY items.qty DESC, items.id DESC",
    ),
    (
        "postgresql",
        "_sort",
        "_prev",
        "items.qty <= :p AND (items.qty < :p OR items.qty = :p AND items.id < :p) "
        "ORDER BY items.qty DESC, items.id DESC",
    ),
    (
        "sqlite",
        "_sort_desc",
        "_prev",
        "items.qty >= :p AND (items.qty > :p OR items.qty = :p AND items.id > :p) "
        "ORDER BY items.qty ASC, items.id ASC",
    ),
]


@pytest.mark.parametrize(("dialect", "sort", "direction", "expected"), SEEK_CASES)
def test_keyset_condition_for_a_nullable_sort_column(
    items: Entity, dialect: str, sort: str, direction: str, expected: str
) -> None:
    args = [(sort, "qty"), ("_size", "10")]
    raw = cursor(items, args, [5, 7])
    sql, params = sql_of(items, [*args, (direction, raw)], dialect)
    head = "WHERE 1 = 1 AND " if dialect == "sqlite" else "WHERE true AND "
    if dialect == "sqlite":  # SQLite always renders an OFFSET after a LIMIT
        assert sql == head + expected + " LIMIT :p OFFSET :p"
        assert params[-2:] == [11, 0]  # strict, so nothing to skip
    else:
        assert sql == head + expected + " LIMIT :p"
        assert params[-1] == 11
    assert set(params[:-2]) <= {5, 7}
    # Strict: never "qty = 5 AND id = 7", the row the cursor stands on.
    assert "items.id = :p" not in sql


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize(("sort", "op"), [("_sort", ">"), ("_sort_desc", "<")])
def test_keyset_condition_for_a_not_null_sort_column(
    items: Entity, dialect: str, sort: str, op: str
) -> None:
    args = [(sort, "name")]
    sql, params = sql_of(items, [*args, ("_next", cursor(items, args, ["Zeb", 7]))], dialect)
    bound = ">=" if op == ">" else "<="
    assert (
        f"items.name {bound} :p AND (items.name {op} :p OR items.name = :p AND items.id {op} :p)"
    ) in sql
    # One bind may serve several places; every value bound is the cursor's, never inlined.
    assert "Zeb" not in sql
    assert {"Zeb", 7} <= set(params) <= {"Zeb", 7, 0, PAGE_SIZE + 1}


def test_keyset_on_the_primary_key_alone(items: Entity) -> None:
    raw = cursor(items, [], [7])
    sql, params = sql_of(items, [("_next", raw)], "postgresql")
    assert sql == "WHERE true AND items.id >= :p AND items.id > :p ORDER BY items.id ASC LIMIT :p"
    assert set(params[:-1]) == {7} and params[-1] == PAGE_SIZE + 1


@pytest.mark.parametrize(
    ("dialect", "sort", "expected"),
    [
        # NULLs first (SQLite ascending): after a NULL come the other NULLs and every value.
        ("sqlite", "_sort", "(items.qty IS NOT NULL OR items.qty IS NULL AND items.id > :p)"),
        # NULLs last (PostgreSQL ascending): after a NULL come only the NULLs after it.
        ("postgresql", "_sort", "OR items.qty IS NULL AND items.id > :p) ORDER BY"),
        ("sqlite", "_sort_desc", "OR items.qty IS NULL AND items.id < :p) ORDER BY"),
        (
            "postgresql",
            "_sort_desc",
            "(items.qty IS NOT NULL OR items.qty IS NULL AND items.id < :p)",
        ),
    ],
)
def test_keyset_condition_from_a_null(
    items: Entity, dialect: str, sort: str, expected: str
) -> None:
    args = [(sort, "qty")]
    sql, params = sql_of(items, [*args, ("_next", cursor(items, args, [None, 7]))], dialect)
    assert expected in sql
    if "IS NOT NULL" not in expected:
        assert "IS NOT NULL" not in sql  # no value comes after a NULL when NULLs sort last
    assert 7 in params
    assert ">= :p" not in sql and "<= :p" not in sql  # no leading bound from a NULL


def test_filters_and_search_are_in_the_where_clause(items: Entity) -> None:
    args = [("qty__gt", "5"), ("_search", "zeb%")]
    sql, params = sql_of(items, args, "postgresql")
    assert sql.startswith(
        "WHERE items.qty > :p AND (items.name ILIKE '%%' || :p || '%%' ESCAPE '/') ORDER BY"
    )
    assert params[:2] == [5, "zeb/%"]


def test_search_on_a_table_without_text_columns_matches_nothing(catalog: Catalog) -> None:
    entity = catalog.entities["pk"]
    entity_without_text = Entity(
        name="ints",
        schema=None,
        table_name="pk",
        kind="table",
        columns={k: c for k, c in entity.columns.items() if c.kind != "text"},
        primary_key=["id"],
        selectable=entity.selectable,
        mapped_class=entity.mapped_class,
    )
    query = ListQuery(search="x")
    stmt = page_select(entity_without_text, query, "postgresql")
    assert "WHERE false" in str(stmt.compile(dialect=postgresql.dialect()))


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_table_without_a_primary_key_pages_by_position(nokey: Entity, dialect: str) -> None:
    # Without a key there is nothing to seek by: order by every column and skip rows. The
    # cursor is a position (from the start, or from the end for pages read backwards).
    sql, params = sql_of(nokey, [("_next", listing.encode_offset(100, False))], dialect)
    assert sql.endswith("ORDER BY nokey.a ASC, nokey.b ASC LIMIT :p OFFSET :p")
    assert "nokey.a >" not in sql and "nokey.a =" not in sql
    assert params[-2:] == [PAGE_SIZE + 1, 100]
    sql, params = sql_of(nokey, [("_prev", listing.encode_offset(50, True))], dialect)
    assert sql.endswith("ORDER BY nokey.a DESC, nokey.b DESC LIMIT :p OFFSET :p")
    assert params[-2:] == [PAGE_SIZE + 1, 50]


@pytest.mark.parametrize(
    "payload", ['{"offset":-1,"end":0}', '{"offset":"1","end":0}', '{"offset":1}', "[1,2]"]
)
def test_a_table_without_a_key_refuses_other_cursors(nokey: Entity, payload: str) -> None:
    with pytest.raises(BadRequest, match="page link is not valid"):
        parse(nokey, [("_next", _b64(payload))])


def test_a_long_sort_value_is_left_out_of_the_cursor(items: Entity) -> None:
    args = [("_sort", "name")]
    long_name = "é" * 10_000
    raw = cursor(items, args, [long_name, 12], by_key=True)
    assert len(raw) < 40
    query = parse(items, [*args, ("_next", raw)])
    assert query.cursor == listing.Cursor(values=(None, 12), backwards=False, by_key=True)
    # A short value is carried as it is.
    short = cursor(items, args, ["short", 12], by_key=True)
    assert parse(items, [*args, ("_next", short)]).cursor == listing.Cursor(
        values=("short", 12), backwards=False
    )
    # Sorted by the key itself, nothing can stand for the value: the marker is refused.
    assert not listing.seeks_by_key(items, parse(items, [("_sort", "id")]))


def test_a_by_key_cursor_is_read_back_from_the_row(items: Entity) -> None:
    engine, catalog = database()
    with engine.begin() as conn:
        conn.execute(delete(items.selectable))
        conn.execute(insert(items.selectable), [{"id": i, "name": f"{i}" * 200} for i in (1, 2)])
    args = [("_sort", "name")]
    with Session(engine) as session:
        query = parse(items, [*args, ("_next", cursor(items, args, ["1" * 200, 1], True))])
        resolved = listing.resolve_cursor(session, items, query)
        assert resolved.cursor == listing.Cursor(values=("1" * 200, 1), backwards=False)
        gone = parse(items, [*args, ("_next", cursor(items, args, ["9" * 200, 9], True))])
        with pytest.raises(BadRequest, match="deleted since"):
            listing.resolve_cursor(session, items, gone)


# --- paging properties on a real (in-memory) table ------------------------------------------

SMALL_INTS = st.none() | st.integers(min_value=-2, max_value=2)
SHORT_TEXT = st.none() | st.text(alphabet="aZ_é", max_size=2)
ROWS = st.lists(st.tuples(SMALL_INTS, SHORT_TEXT), max_size=25)
PAGING = settings(max_examples=100, deadline=None)


def _sort_key(value: Any) -> tuple[bool, Any]:
    """SQLite's ascending order: NULLs first, then values (text by code point, like BINARY)."""
    return (value is not None, value if value is not None else 0)


def _fill(table: str, rows: list[tuple[Any, ...]], columns: list[str]) -> None:
    engine, catalog = database()
    selectable = catalog.entities[table].selectable
    with engine.begin() as conn:
        conn.execute(delete(selectable))
        if rows:
            conn.execute(insert(selectable), [dict(zip(columns, row)) for row in rows])


def _walk(
    entity: Entity, args: list[tuple[str, str]], direction: str, start: list[tuple[str, str]]
) -> Iterator[list[dict[str, Any]]]:
    """Yield each page's rows, following ``direction`` cursors from the ``start`` page."""
    engine, _ = database()
    extra = start
    with Session(engine) as session:
        for _ in range(100):
            page = fetch_page(session, entity, parse(entity, args + extra), "sqlite")
            yield page.rows
            raw = page.next_cursor if direction == "_next" else page.prev_cursor
            if raw is None:
                return
            extra = [(direction, raw)]
    raise AssertionError("paging did not end")


@PAGING
@given(
    rows=ROWS,
    sort=st.sampled_from([None, "id", "n", "s"]),
    descending=st.booleans(),
    size=st.integers(min_value=1, max_value=6),
)
def test_paging_with_a_primary_key_visits_every_row_in_order(
    rows: list[tuple[Any, Any]], sort: str | None, descending: bool, size: int
) -> None:
    table = [(i, n, s) for i, (n, s) in enumerate(rows, start=1)]
    _fill("pk", table, ["id", "n", "s"])
    entity = database()[1].entities["pk"]
    args = [("_size", str(size))]
    if sort is not None:
        args.append(("_sort_desc" if descending else "_sort", sort))
    else:
        descending = False
    position = {"id": 0, "n": 1, "s": 2}[sort or "id"]
    expected = sorted(table, key=lambda r: (_sort_key(r[position]), r[0]), reverse=descending)

    forward = list(_walk(entity, args, "_next", []))
    assert all(len(page) <= size for page in forward)
    assert all(forward[:-1]) and all(len(page) == size for page in forward[:-1])
    assert [(r["id"], r["n"], r["s"]) for page in forward for r in page] == expected

    backward = list(_walk(entity, args, "_prev", [("_last", "1")]))
    assert all(0 < len(page) <= size for page in backward) or not table
    assert [(r["id"], r["n"], r["s"]) for page in reversed(backward) for r in page] == expected


@PAGING
@given(
    rows=st.lists(st.tuples(SMALL_INTS, SHORT_TEXT), max_size=12).flatmap(
        # Repeat some rows so that identical rows are common, runs of them span pages.
        lambda base: st.lists(st.sampled_from(base), max_size=25) if base else st.just([])
    ),
    sort=st.sampled_from([None, "n", "s"]),
    descending=st.booleans(),
    size=st.integers(min_value=1, max_value=6),
)
def test_paging_without_a_primary_key_visits_every_row(
    rows: list[tuple[Any, Any]], sort: str | None, descending: bool, size: int
) -> None:
    _fill("nopk", rows, ["n", "s"])
    entity = database()[1].entities["nopk"]
    args = [("_size", str(size))]
    if sort is not None:
        args.append(("_sort_desc" if descending else "_sort", sort))
    else:
        descending = False

    pages = list(_walk(entity, args, "_next", []))
    seen = [(r["n"], r["s"]) for page in pages for r in page]
    assert Counter(seen) == Counter(rows)
    first = {"n": 0, "s": 1}.get(sort or "n", 0)
    expected = sorted(
        rows,
        key=lambda r: (_sort_key(r[first]), _sort_key(r[0]), _sort_key(r[1])),
        reverse=descending,
    )
    assert seen == expected
    # Backwards from the last page: the same rows, each page in the same order.
    backward = list(_walk(entity, args, "_prev", [("_last", "1")]))
    assert [(r["n"], r["s"]) for page in reversed(backward) for r in page] == expected
    with Session(database()[0]) as session:
        assert fetch_page(session, entity, parse(entity, args), "sqlite").prev_cursor is None


def test_paging_example_with_a_run_of_identical_rows() -> None:
    """A concrete case for the property above: a run of equal rows longer than a page."""
    rows = [(1, "a"), (2, "b"), (2, "b"), (2, "b"), (3, "c")]
    _fill("nopk", rows, ["n", "s"])
    entity = database()[1].entities["nopk"]
    pages = list(_walk(entity, [("_size", "1")], "_next", []))
    assert [(r["n"], r["s"]) for page in pages for r in page] == rows


def test_cursor_payload_is_base64_json_of_texts(items: Entity) -> None:
    raw = cursor(items, [("_sort", "name")], ["é", 3])
    padded = raw + "=" * (-len(raw) % 4)
    assert json.loads(base64.urlsafe_b64decode(padded)) == ["é", "3"]
