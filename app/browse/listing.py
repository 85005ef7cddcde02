"""List pages: parse a table's query string, build its ``select()``, fetch one keyset page.

Pure functions turn the URL into a ``ListQuery`` and the ``ListQuery`` into a statement;
``fetch_page`` is the only part that talks to the database. Pagination seeks on the sort column
plus the primary key, so page 100,000 costs what page 1 does, and the count is never needed to
page. A page link stays short whatever the sort column holds: a long sort value is left out of
the cursor and read back by the row's key ("seek by key"). A table or view without a primary key
has nothing to seek by and pages by position (OFFSET).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import Select, Table, and_, false, func, literal, or_, select, true
from sqlalchemy.orm import Session, with_parent
from sqlalchemy.sql.elements import ColumnElement

from ..catalog.model import Catalog, Column, Entity, Relation
from ..catalog.modellogic import orm_identity
from ..catalog.types import ORDERABLE
from ..core import keys
from ..core.filters import (
    OPERATORS_BY_KEY,
    Filter,
    FilterError,
    Operator,
    combine,
    compared_value,
    make_filter,
    search_condition,
)
from ..core.values import check_text, from_text, to_text
from ..db import blobs
from ..db.engines import EstimateMemo
from ..db.errors import BadRequest, NotFound, QueryTimeout
from ..db.reads import read
from .counting import Count, cached_table_estimate, capped_count, planner_estimate
from .labels import LabelJoin, Refs, label_columns, split_labelled

# Kinds whose values the list page never fetches whole (it shows their size instead).
SIZE_ONLY = {"binary"}


@dataclass(frozen=True)
class Via:
    """Rows of this entity reached from one row of another through a mapped relationship."""

    source: Entity
    relation: Relation
    identity: tuple[Any, ...]
    raw: str


@dataclass(frozen=True)
class Cursor:
    values: tuple[Any, ...]  # the order-column values of the row to seek past
    backwards: bool  # True: the page before that row (offset cursors: counted from the end)
    by_key: bool = False  # values[0] was too long to carry: read it by the key in values[1:]
    offset: int | None = None  # tables without a key: the page's position instead of values


@dataclass(frozen=True)
class FilterProblem:
    """A filter of the URL that cannot be used, kept so the form shows it again, as typed,
    with its message on its row (rather than an error page that loses the form)."""

    column_key: str
    operator_key: str
    raw: str
    message: str
    column: Column | None  # None: the table has no such column
    operator: Operator | None  # None: no such operator


@dataclass
class ListQuery:
    filters: list[Filter] = field(default_factory=list)
    # Every filter of the URL in its order, usable or not: the rows of the filter form.
    form: list[Filter | FilterProblem] = field(default_factory=list)
    search: str = ""
    sort: Column | None = None
    descending: bool = False
    size: int = 50
    cursor: Cursor | None = None
    last: bool = False  # jump to the last page
    via: Via | None = None
    # The number of the page's first row, carried by the pager's links (``_at``) so a page can
    # say which rows it shows; keyset paging itself does not know it. None: not known.
    at: int | None = None

    @property
    def where_parts(self) -> bool:
        return bool(self.filters or self.search or self.via)


# The filter form's fields: a column, operator and value per row, and the row a "remove"
# button drops (its position: each button carries one number, not a link to the page without
# its filter, which repeated every other filter and made a page's size grow with their square).
FORM_FIELDS = ("_fc", "_fo", "_fv", "_remove")

# The arguments that say where in the rows a page is: a new filter or sort starts over.
PAGING = ("_next", "_prev", "_last", "_at")

# Filters one list page may have unless ``MAX_FILTERS`` says otherwise.
MAX_FILTERS = 50


def canonical_args(
    args: list[tuple[str, str]], default_size: int, max_filters: int = MAX_FILTERS
) -> list[tuple[str, str]] | None:
    """Rewrite the filter form's ``_fc/_fo/_fv`` triples as ``column__op=value`` arguments.

    Returns None when there is nothing to rewrite. The form submits the triples so that it
    works without JavaScript; the view redirects to the canonical URL so links stay short.
    ``_remove=N`` (a row's remove button) leaves out the Nth triple.
    """
    if not any(name in FORM_FIELDS for name, _ in args):
        return None
    columns = [v for n, v in args if n == "_fc"]
    operators = [v for n, v in args if n == "_fo"]
    raws = [v for n, v in args if n == "_fv"]
    if not len(columns) == len(operators) == len(raws):
        raise BadRequest("the filter form sent an incomplete filter")
    removed = {v for n, v in args if n == "_remove"}
    rest = [
        (n, v) for n, v in args if n not in FORM_FIELDS and n not in PAGING and n.startswith("_")
    ]
    filters = [
        (f"{c}__{o}", v)
        for i, (c, o, v) in enumerate(zip(columns, operators, raws))
        if c and str(i) not in removed
    ]
    check_filter_count(len(filters), max_filters)
    # An empty search box and the default page size add nothing to the URL.
    return [
        (n, v)
        for n, v in filters + rest
        if not (n == "_search" and not v) and not (n == "_size" and v == str(default_size))
    ]


def check_filter_count(count: int, max_filters: int) -> None:
    """Refuse more filters than a page may have, before any of them is read."""
    if count > max_filters:
        raise BadRequest(
            f"This page asks for {count:,} filters; a list page may have at most "
            f"{max_filters:,} (the ROWBOAT_MAX_FILTERS setting). Remove some filters, or use "
            "the “in list” operator to match several values of one column."
        )


def _max_filters() -> int:
    """The configured cap, for callers that do not pass one (the list export)."""
    if not has_app_context():
        return MAX_FILTERS
    return int(current_app.config.get("MAX_FILTERS", MAX_FILTERS))


def parse_list_query(
    entity: Entity,
    catalog: Catalog,
    args: Sequence[tuple[str, str]],
    page_size: int,
    max_page_size: int,
    max_filters: int | None = None,
    keep_problems: bool = False,
) -> ListQuery:
    """Turn query-string pairs into a checked ListQuery; BadRequest names any bad part.

    More than ``max_filters`` filters (by default the ``MAX_FILTERS`` setting) is a 400.
    With ``keep_problems`` a filter that cannot be used (an unknown column or operator, a value
    of the wrong type) is kept in ``form`` as a ``FilterProblem`` instead, for the list page to
    show again with its message; without it, the first one is the BadRequest.
    """
    check_filter_count(
        sum(1 for name, _ in args if not name.startswith("_")),
        _max_filters() if max_filters is None else max_filters,
    )
    query = ListQuery(size=page_size)
    for name, raw in args:
        if not name.startswith("_"):
            parsed = _parse_filter(entity, name, raw)
            if isinstance(parsed, FilterProblem) and not keep_problems:
                raise BadRequest(parsed.message)
            query.form.append(parsed)
            if isinstance(parsed, Filter):
                query.filters.append(parsed)
        elif name == "_search":
            try:
                query.search = check_text(raw).strip()
            except ValueError as exc:
                raise BadRequest(f"search: {exc}") from None
        elif name in ("_sort", "_sort_desc"):
            query.sort = _sort_column(entity, raw)
            query.descending = name == "_sort_desc"
        elif name == "_size":
            query.size = _parse_size(raw, max_page_size)
        elif name == "_last":
            query.last = raw not in ("", "0")
        elif name == "_via":
            query.via = _parse_via(entity, catalog, raw)
        elif name == "_at":
            query.at = _parse_at(raw)
        elif name not in ("_next", "_prev"):
            raise BadRequest(f"unknown parameter {name!r}")
    cursor_args = [(n, v) for n, v in args if n in ("_next", "_prev")]
    if len(cursor_args) > 1:
        raise BadRequest("give at most one of _next and _prev")
    if cursor_args:
        name, raw = cursor_args[0]
        query.cursor = decode_cursor(
            raw,
            order_columns(entity, query),
            backwards=name == "_prev",
            keyed=has_unique_order(entity),
            by_key=seeks_by_key(entity, query),
        )
    return query


def _parse_at(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 15 or int(raw) < 1:
        raise BadRequest(f"_at: {raw!r} is not a row number (1 or more)")
    return int(raw)


def first_row_number(query: ListQuery, shown: int, count: Any) -> int | None:
    """The number of the page's first row: 1 on the first page, what the pager's link said
    further on, counted back from the end on the last page when the count is exact."""
    if query.last:
        exact = getattr(count, "exact", False) and getattr(count, "value", None) is not None
        return max(int(count.value) - shown + 1, 1) if exact else None
    if query.cursor is None:
        return 1
    return query.at


def _parse_filter(entity: Entity, name: str, raw: str) -> Filter | FilterProblem:
    key, sep, op = name.rpartition("__")
    if not sep or (key not in entity.columns and name in entity.columns):
        key, op = name, "exact"  # ``column=value``, the column's key holding "__" or not
    column = entity.columns.get(key)
    operator = OPERATORS_BY_KEY.get(op)
    if column is None:
        message = f"{entity.name!r} has no column {key!r}"
        return FilterProblem(key, op, raw, message, None, operator)
    try:
        return make_filter(column, op, raw)
    except FilterError as exc:
        return FilterProblem(key, op, raw, str(exc), column, operator)


def _sort_column(entity: Entity, key: str) -> Column:
    column = entity.columns.get(key)
    if column is None:
        raise BadRequest(f"cannot sort: {entity.name!r} has no column {key!r}")
    if column.kind not in ORDERABLE or column.kind in SIZE_ONLY:
        raise BadRequest(f"cannot sort by {column.name!r}: {column.kind} values have no order")
    return column


def _parse_size(raw: str, max_page_size: int) -> int:
    try:
        size = int(raw)
    except ValueError:
        raise BadRequest(f"_size must be a whole number, not {raw!r}") from None
    if not 1 <= size <= max_page_size:
        raise BadRequest(f"_size must be between 1 and {max_page_size}")
    return size


def _parse_via(entity: Entity, catalog: Catalog, raw: str) -> Via:
    parts = raw.split(":")
    if len(parts) != 3:
        raise BadRequest("_via must be source:relationship:key")
    try:
        source = catalog.entities[keys.decode(parts[0])]
        relation = source.relations[keys.decode(parts[1])]
        identity = keys.decode_identity(parts[2], [source.columns[k] for k in source.primary_key])
    except (KeyError, keys.MalformedKey) as exc:
        raise BadRequest(f"_via does not name a row and relationship: {exc}") from None
    if relation.target != entity.name or relation.attribute is None:
        raise BadRequest(f"_via: {relation.name!r} does not lead to {entity.name!r}")
    return Via(source=source, relation=relation, identity=identity, raw=raw)


# --- ordering and cursors ------------------------------------------------------------------


def order_columns(entity: Entity, query: ListQuery) -> list[Column]:
    """The columns the page is ordered (and seeks) by: the sort column, then a unique tail.

    The tail is the primary key; a table without one falls back to every orderable column
    (an order as stable as its rows allow, since such a table pages by position).
    """
    tail = [entity.columns[k] for k in entity.primary_key] or [
        c
        for c in entity.columns.values()
        if c.kind in ORDERABLE and c.kind not in SIZE_ONLY and not c.computed
    ]
    head = [query.sort] if query.sort is not None else []
    return head + [c for c in tail if c is not query.sort]


def has_unique_order(entity: Entity) -> bool:
    return bool(entity.primary_key)


def seeks_by_key(entity: Entity, query: ListQuery) -> bool:
    """Whether a long sort value may be left out of a cursor and read back by the row's key:
    only when the sort column is not itself part of the key (the key is always carried)."""
    return (
        has_unique_order(entity)
        and query.sort is not None
        and query.sort.key not in entity.primary_key
    )


# A sort value whose JSON text is longer than this is not carried in a cursor: the row's key is,
# and the next page reads the value back by it. Sorting by a column of long texts made
# megabyte-long page links, which servers refuse (gunicorn: request lines over 4 KB).
CURSOR_VALUE_MAX = 64
_BY_KEY = {"key": 1}  # what stands in a cursor for a sort value left out


def _b64_json(payload: Any) -> str:
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def encode_cursor(values: Sequence[Any], columns: Sequence[Column], by_key: bool = False) -> str:
    """A keyset cursor; with ``by_key`` a long first value is replaced by ``_BY_KEY``."""
    payload: list[Any] = [None if v is None else to_text(v, c) for v, c in zip(values, columns)]
    if by_key and payload and payload[0] is not None:
        if len(json.dumps(payload[0], ensure_ascii=False)) > CURSOR_VALUE_MAX:
            payload[0] = _BY_KEY
    return _b64_json(payload)


def encode_offset(offset: int, from_end: bool) -> str:
    """A position cursor (tables without a key): rows to skip, from the start or the end."""
    return _b64_json({"offset": offset, "end": int(from_end)})


def decode_cursor(
    raw: str,
    columns: Sequence[Column],
    backwards: bool,
    keyed: bool = True,
    by_key: bool = False,
) -> Cursor:
    """Parse a cursor: values for a table with a key (``keyed``), a position otherwise."""
    try:
        padded = raw + "=" * (-len(raw) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))
        if not keyed:
            offset, end = payload["offset"], payload["end"]
            if type(offset) is not int or offset < 0 or end not in (0, 1):
                raise ValueError("wrong shape")
            return Cursor(values=(), backwards=bool(end), offset=offset)
        if not isinstance(payload, list) or len(payload) != len(columns):
            raise ValueError("wrong shape")
        read_by_key = by_key and len(payload) > 1 and payload[0] == _BY_KEY
        values = tuple(
            None if v is None or (i == 0 and read_by_key) else from_text(str(v), c)
            for i, (v, c) in enumerate(zip(payload, columns))
        )
        if any(isinstance(v, (dict, list)) for v in payload[1 if read_by_key else 0 :]):
            raise ValueError("wrong shape")
    except (ValueError, KeyError, TypeError, UnicodeError, RecursionError, binascii.Error):
        raise BadRequest(
            "the page link is not valid for this table (was the sort changed?)"
        ) from None
    return Cursor(values=values, backwards=backwards, by_key=read_by_key)


def _nulls_sort_high(dialect: str) -> bool:
    """PostgreSQL puts NULLs after every value in ascending order; MySQL and SQLite before."""
    return dialect == "postgresql"


def _seek(
    columns: Sequence[Column],
    values: Sequence[Any],
    descending: bool,
    dialect: str,
) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``columns``."""
    nulls_first = _nulls_sort_high(dialect) == descending
    alternatives = []
    equal_so_far: list[ColumnElement[bool]] = []
    for column, value in zip(columns, values):
        expr = column.expression
        if value is None:
            after = expr.is_not(None) if nulls_first else false()
            equal = expr.is_(None)
        else:
            value = _bound(column, value)
            after = expr < value if descending else expr > value
            if column.nullable and not nulls_first:
                after = or_(after, expr.is_(None))
            equal = expr == value
        alternatives.append(and_(*equal_so_far, after))
        equal_so_far.append(equal)
    condition = or_(*alternatives)
    # A redundant bound on the leading column lets the database seek with an index on it.
    first, value = columns[0], values[0]
    if value is not None and (not first.nullable or nulls_first):
        value = _bound(first, value)
        bound = first.expression <= value if descending else first.expression >= value
        condition = and_(bound, condition)
    return condition


def _bound(column: Column, value: Any) -> Any:
    """A cursor value as the database compares it with the column.

    An explicit bind: SQLAlchemy refuses ``column > False`` with a plain Python bool. A
    single-precision column's value is cast to its precision (``compared_value``): the cursor
    holds 0.1 as shown, the column the float32 0.100000001..., and compared as doubles the row
    at the cursor came back on every next page.
    """
    compared = compared_value(column, value)
    return literal(value, column.type) if compared is value else compared


# --- statements --------------------------------------------------------------------------------


def selected(column: Column) -> Any:
    """What a list page selects for a column: binary values by size only."""
    if column.kind in SIZE_ONLY:
        return func.length(column.expression).label(column.key)
    return column.expression.label(column.key)


def base_select(entity: Entity, columns: Iterable[Any]) -> Select[Any]:
    stmt = select(*columns)
    return stmt.select_from(
        entity.mapped_class if entity.mapped_class is not None else entity.selectable
    )


def check_present(session: Session, entity: Entity) -> None:
    """Ask the database for none of the entity's rows: raises its error (a missing table: the
    error pages' 404) when the table is not there, as when models declare a table the database
    was never migrated to. For a page that would otherwise not read the table at all."""
    for column in entity.columns.values():
        read(session, base_select(entity, [column.expression]).where(false())).all()
        return


def where_clause(entity: Entity, query: ListQuery, via_parent: Any = None) -> ColumnElement[bool]:
    parts = [combine(query.filters)]
    if query.search:
        text_columns = entity.text_columns
        parts.append(search_condition(text_columns, query.search) if text_columns else false())
    if via_parent is not None and query.via is not None:
        parts.append(with_parent(via_parent, query.via.relation.attribute))
    return and_(true(), *parts)


def _is_backwards(query: ListQuery) -> bool:
    """True when the page is read in reverse order (the last page, or "previous")."""
    return query.last or (query.cursor is not None and query.cursor.backwards)


def page_select(
    entity: Entity, query: ListQuery, dialect: str, via_parent: Any = None
) -> Select[Any]:
    """The statement for one page: filters, search, seek, order, and one row more than shown."""
    order = order_columns(entity, query)
    descending = query.descending != _is_backwards(query)
    stmt = base_select(entity, [selected(c) for c in entity.columns.values()])
    stmt = stmt.where(where_clause(entity, query, via_parent))
    cursor = query.cursor
    if cursor is not None and cursor.by_key:
        raise ValueError("a by-key cursor must be resolved first (resolve_cursor)")
    if cursor is not None and cursor.offset is not None:
        # No key to seek by (a view, a table without one): skip rows. Seeking on every column
        # instead repeated each column's expression in the WHERE clause once per later column,
        # so a view's computed column was evaluated several times per row on every page but the
        # first; an OFFSET costs what page 1 does, plus reading the rows skipped.
        stmt = stmt.offset(cursor.offset)
    elif cursor is not None and order:
        stmt = stmt.where(_seek(order, cursor.values, descending, dialect))
    stmt = stmt.order_by(
        *[c.expression.desc() if descending else c.expression.asc() for c in order]
    )
    return stmt.limit(query.size + 1)


def resolve_cursor(session: Session, entity: Entity, query: ListQuery) -> ListQuery:
    """Read back the sort value a by-key cursor left out, from the row its key names.

    One lookup by primary key. The row may have been deleted since the link was made: then
    there is no place to continue from, and the user is sent back to the first page.
    """
    cursor = query.cursor
    if cursor is None or not cursor.by_key or query.sort is None:
        return query
    key_columns = order_columns(entity, query)[1:]  # the primary key (seeks_by_key)
    stmt = base_select(entity, [query.sort.expression]).where(
        *[c.expression == literal(v, c.type) for c, v in zip(key_columns, cursor.values[1:])]
    )
    row = read(session, stmt).first()
    if row is None:
        raise BadRequest(
            "The row this page link continues from has been deleted since: "
            "start again from the first page."
        )
    values = (row[0], *cursor.values[1:])
    return replace(query, cursor=replace(cursor, values=values, by_key=False))


@dataclass
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None
    prev_cursor: str | None
    order: list[Column]
    seconds: float = 0.0  # how long the page query took
    via_parent: Any = None  # the row a ``_via`` page's rows relate to (loaded once)
    refs: Refs = field(default_factory=dict)  # labels of what the rows point at, where joined


def fetch_page(
    session: Session,
    entity: Entity,
    query: ListQuery,
    dialect: str,
    joins: Sequence[LabelJoin] = (),
) -> Page:
    """Run the page query (with ``joins`` for labels) and work out the cursors around it."""
    via_parent = load_via_parent(session, query.via) if query.via else None
    query = resolve_cursor(session, entity, query)
    stmt = page_select(entity, query, dialect, via_parent).add_columns(*label_columns(joins))
    started = time.perf_counter()
    fetched = read(session, stmt).all()
    seconds = time.perf_counter() - started
    more = len(fetched) > query.size
    fetched = fetched[: query.size]
    backwards = _is_backwards(query)
    if backwards:
        fetched = fetched[::-1]
    rows, refs = split_labelled(entity, joins, fetched)
    order = order_columns(entity, query)
    if has_unique_order(entity):
        has_next = (not query.last) and (more if not backwards else True)
        has_prev = more if backwards else query.cursor is not None
        by_key = seeks_by_key(entity, query)
        next_cursor = _cursor_after(rows, order, by_key, True) if has_next else None
        prev_cursor = _cursor_after(rows, order, by_key, False) if has_prev else None
    else:
        next_cursor, prev_cursor = _offset_cursors(query, more)
    return Page(
        rows=rows,
        next_cursor=next_cursor,
        prev_cursor=prev_cursor,
        order=order,
        seconds=seconds,
        via_parent=via_parent,
        refs=refs,
    )


def load_via_parent(session: Session, via: Via) -> Any:
    """The row whose related rows a list shows, without its binary values (a page never
    holds one whole)."""
    source_cls = via.source.mapped_class
    parent = (
        session.get(
            source_cls,
            orm_identity(via.source, via.identity, session.get_bind().dialect.name),
            options=blobs.deferred(via.source),
        )
        if source_cls is not None
        else None
    )
    if parent is None:
        raise NotFound(f"no row {via.raw.rsplit(':', 1)[-1]!r} in {via.source.name!r}")
    return parent


def _cursor_after(
    rows: list[dict[str, Any]], order: list[Column], by_key: bool, forward: bool
) -> str | None:
    if not rows or not order:
        return None
    edge = rows[-1] if forward else rows[0]
    return encode_cursor([edge[c.key] for c in order], order, by_key)


def _offset_cursors(query: ListQuery, more: bool) -> tuple[str | None, str | None]:
    """Next and previous cursors of a page read by position (a table without a key).

    Positions count from the start, or from the end for the last page and the pages before
    it (read in reverse order, like keyset pages), so "Last" needs no count.
    """
    offset = query.cursor.offset if query.cursor is not None else None
    offset = offset or 0
    size = query.size
    if not _is_backwards(query):
        return (
            encode_offset(offset + size, False) if more else None,
            encode_offset(max(0, offset - size), False) if offset > 0 else None,
        )
    return (
        encode_offset(max(0, offset - size), True) if offset > 0 else None,
        encode_offset(offset + size, True) if more else None,
    )


def list_count(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    query: ListQuery,
    page: Page,
    cap: int,
    filter_cap: int,
    estimates: EstimateMemo,
) -> Count:
    """The count for a list page: capped (at ``filter_cap`` when filtered), or an estimate.

    A first page that is not full already holds every matching row: no query counts them.
    Otherwise the database's estimate comes first (for a whole table one indexed catalog
    lookup, for a filtered one PostgreSQL's planner): when it is well above the cap, as the home
    page decides, no rows are read to count them. ``estimates`` keeps the whole-table
    estimates between requests.
    """
    if query.cursor is None and not query.last and len(page.rows) < query.size:
        return Count(len(page.rows), exact=True)
    stmt = base_select(entity, [literal(1)]).where(where_clause(entity, query, page.via_parent))
    if query.where_parts:
        cap = filter_cap  # counted on every page view of a search: a smaller bound
        estimate = planner_estimate(session, stmt)
    else:
        estimate = cached_table_estimate(session, catalog, entity, estimates)
    if estimate is not None and estimate > cap * 2:
        return Count(estimate, exact=False, estimated=True)
    count = capped_count(session, stmt, cap)
    if count.exact or query.where_parts:
        return count
    return Count(estimate, exact=False, estimated=True) if estimate and estimate > cap else count


def slow_page_advice(entity: Entity, query: ListQuery, page: Page, threshold: float) -> str | None:
    """Say that a page was slow, and which of its sort and filter columns have no index."""
    if page.seconds < threshold:
        return None
    advice = index_advice(entity, query)
    return f"Its query took {page.seconds:.2f} s." + (f" {advice}" if advice else "")


def list_timeout(entity: Entity, query: ListQuery, seconds: float) -> QueryTimeout:
    """The 504 for a list page whose query hit the time limit, with what would make it fast."""
    advice = index_advice(entity, query) or "Narrow the filters or sort by an indexed column."
    return QueryTimeout(
        f"This page's query ran longer than the {seconds:g} s time limit and was cancelled. "
        + advice
    )


def retry_choices(
    args: Sequence[tuple[str, str]], query: ListQuery
) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """The lighter versions of a list page that was too slow: (css, label, arguments) for the
    page without its sort, without its filters and search, and without both, each only when
    it differs from the page itself. Each starts at the first page: a cursor belongs to the
    sort and filters it was read with."""
    sort = ("_sort", "_sort_desc")
    sorted_ = query.sort is not None
    filtered = bool(query.filters or query.search)
    narrowing = [
        part
        for part, present in (("the filters", query.filters), ("the search", query.search))
        if present
    ]

    def without(drop_sort: bool, drop_filters: bool) -> list[tuple[str, str]]:
        return [
            (name, value)
            for name, value in args
            if name not in PAGING
            and not (drop_sort and name in sort)
            and not (drop_filters and (name == "_search" or not name.startswith("_")))
        ]

    # The sort is named: with no rows, no column heading shows it.
    sort_name = f"the sort by {query.sort.name}" if query.sort is not None else ""
    choices = []
    if sorted_:
        choices.append(("drop-sort", f"Without {sort_name}", without(True, False)))
    if filtered:
        label = "Without " + _and(narrowing)
        choices.append(("drop-filters", label, without(False, True)))
    if sorted_ and filtered:
        label = "Without " + _and([sort_name, *narrowing])
        choices.append(("drop-both", label, without(True, True)))
    return choices


def _and(parts: list[str]) -> str:
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def index_advice(entity: Entity, query: ListQuery) -> str | None:
    """Which sort and filter columns lack an index, or that a search reads every row.

    Sorting or filtering on a column without an index reads the whole table; on a big table
    that is what makes a page slow, and an index is the cure the user can act on.
    """
    used = ([query.sort] if query.sort is not None else []) + [f.column for f in query.filters]
    unindexed = sorted({c.name for c in used if not c.computed} - indexed_columns(entity))
    if unindexed:
        names = ", ".join(unindexed)
        return f"No index that the dashboard knows of starts with {names}: one would make it fast."
    if query.search:
        return "Searching every text column reads the whole table; a column filter is faster."
    return None


def indexed_columns(entity: Entity) -> set[str]:
    """Names of the columns that lead an index (or the primary key) of the entity's table."""
    table = entity.selectable
    if not isinstance(table, Table):  # a mapper's join or select: no indexes of its own
        return set()
    names = {index.columns.values()[0].name for index in table.indexes if index.columns}
    if table.primary_key.columns:
        names.add(table.primary_key.columns.values()[0].name)
    return names


# Filter operators no index serves (a pattern that does not start the value).
_SCANNING_OPERATORS = frozenset({"contains", "endswith", "not"})


def slow_list(entity: Entity, query: Any) -> bool:
    """Whether a list page is off its fast path: no index serves its order, filters or search.

    A search reads every text column of every row; a filter on a column that leads no index
    (or a pattern no index serves) reads the whole table; so does ordering by a column that
    leads no index (a table without a key orders by its first columns). A view's query may
    cost anything, so its pages count as slow; a materialized view is a table.
    """
    if query.search or entity.kind == "view":
        return True
    indexed = indexed_columns(entity)
    for item in query.filters:
        if item.column.computed or item.column.name not in indexed:
            return True
        if item.operator.key in _SCANNING_OPERATORS:
            return True
    order = order_columns(entity, query)
    if not order:
        return False
    first = order[0]
    return bool(first.computed or first.name not in indexed)
