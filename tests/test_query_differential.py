"""Differential property test: the builder's SQL returns what Python says it should.

Hypothesis draws random valid specs over the shop schema (a many-to-one join, inner or left,
or none; filters with every operator that fits each column and random values; AND/OR groups
nested two deep; sorts on one or two columns; limits) and each is run through the whole
pipeline (query string -> spec -> plan -> select() -> read-only run) on SQLite, PostgreSQL and
MariaDB. The expected rows are computed in Python over all the rows the database was filled
from, with SQL's rules for NULL and each engine's place for NULLs in a sort.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from conftest import engine_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_query_support import CUSTOMERS, ORDERS, make_query_app, query_url  # noqa: F401

from rowboat.querybuilder import spec as specs
from rowboat.querybuilder.compile import compile_plan
from rowboat.querybuilder.operators import QUERY_OPERATORS
from rowboat.querybuilder.run import run_select
from rowboat.querybuilder.validate import validate

ORDER_FIELDS = {
    "id": "integer",
    "customer_id": "integer",
    "status": "text",
    "total": "numeric",
    "qty": "integer",
    "placed": "datetime",
}
CUSTOMER_FIELDS = {
    "customer.id": "integer",
    "customer.name": "text",
    "customer.region_id": "integer",
    "customer.vip": "boolean",
    "customer.joined": "date",
    "customer.credit": "numeric",
}
OPS = {
    kind: [op for op in QUERY_OPERATORS if op.fits(kind)]
    for kind in ("integer", "text", "numeric", "datetime", "boolean", "date")
}


@pytest.fixture(scope="module")
def shop(query_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:  # noqa: F811
    app = make_query_app(query_url, tmp_path_factory.mktemp("diff"))
    database = app.extensions["rowboat.databases"]["shop"]
    database.catalog  # noqa: B018 - discover once, outside the timed examples
    yield database
    database.engine.dispose()


# --- strategies: a typed value and the text a user would type for it ---------------------------


def _values(kind: str, pattern: bool = False) -> st.SearchStrategy[tuple[Any, str]]:
    if kind == "integer":
        return st.integers(-2, 26).map(lambda v: (v, str(v)))
    if kind == "numeric":
        return st.integers(-6000, 21000).map(lambda v: (Decimal(v) / 100, str(Decimal(v) / 100)))
    if kind == "text":
        alphabet = "abc%_" if pattern else "abc"
        return st.text(alphabet, min_size=0 if pattern else 1, max_size=3).map(lambda v: (v, v))
    if kind == "date":
        return (
            st.integers(-30, 950)
            .map(lambda d: (dt.date(2020, 1, 1) + dt.timedelta(days=d),) * 2)
            .map(lambda p: (p[0], p[0].isoformat()))
        )
    if kind == "datetime":
        start = dt.datetime(2023, 12, 1)
        return (
            st.integers(0, 60 * 24 * 450)
            .map(lambda m: start + dt.timedelta(minutes=m))
            .map(lambda v: (v, v.isoformat(sep=" ")))
        )
    raise AssertionError(kind)


@st.composite
def conditions(draw: Any, fields: dict[str, str]) -> tuple[str, str, Any, str]:
    name = draw(st.sampled_from(sorted(fields)))
    kind = fields[name]
    op = draw(st.sampled_from(OPS[kind]))
    if op.arity == "none":
        return name, op.key, None, ""
    if op.arity == "one":
        value, raw = draw(_values(kind, pattern=op.key in ("contains", "startswith", "endswith")))
        return name, op.key, value, raw
    pairs = draw(
        st.lists(
            _values(kind),
            min_size=2 if op.arity == "two" else 1,
            max_size=2 if op.arity == "two" else 3,
        )
    )
    return name, op.key, [v for v, _ in pairs], ",".join(raw for _, raw in pairs)


def groups(fields: dict[str, str], depth: int) -> st.SearchStrategy[Any]:
    leaf = conditions(fields)
    item = leaf if depth == 0 else st.one_of(leaf, groups(fields, depth - 1))
    return st.tuples(st.sampled_from(["and", "or"]), st.lists(item, max_size=3))


@st.composite
def queries(draw: Any, engine: str) -> dict[str, Any]:
    join = draw(st.sampled_from([None, "inner", "left"]))
    fields = dict(ORDER_FIELDS, **(CUSTOMER_FIELDS if join else {}))
    if join and engine == "mariadb":
        fields["customer.vip"] = "integer"  # MySQL has no boolean type: TINYINT(1)
    orderable = sorted(fields)
    return {
        "join": join,
        "where": draw(groups(fields, 2)),
        "order": draw(
            st.lists(
                st.tuples(st.sampled_from(orderable), st.booleans()),
                max_size=2,
                unique_by=lambda t: t[0],
            )
        ),
        "limit": draw(st.none() | st.integers(1, 40)),
    }


# --- the query as a spec, and the answer computed in Python -------------------------------------


def _group_spec(group: Any) -> specs.GroupSpec:
    kind, items = group
    result = specs.GroupSpec(kind)
    for item in items:
        if isinstance(item[1], list):
            result.items.append(_group_spec(item))
        else:
            name, op, _value, raw = item
            result.items.append(specs.ConditionSpec(specs.parse_field(name), op, raw))
    return result


def to_spec(query: dict[str, Any]) -> specs.QuerySpec:
    spec = specs.QuerySpec(table="qb_order", columns=[specs.FieldRef((), "id")])
    if query["join"]:
        spec.joins.append(specs.JoinSpec(("customer",), query["join"]))
    spec.where = _group_spec(query["where"])
    spec.order = [specs.OrderSpec(specs.parse_field(n), d) for n, d in query["order"]]
    spec.limit = query["limit"]
    return spec


def _test(op: str, v: Any, value: Any, raw: str) -> bool:
    if op == "isnull":
        return v is None
    if op == "notnull":
        return v is not None
    if op in ("not", "notin"):
        return v is None or (v != value if op == "not" else v not in value)
    if v is None:
        return False
    return {
        "exact": lambda: v == value,
        "lt": lambda: v < value,
        "lte": lambda: v <= value,
        "gt": lambda: v > value,
        "gte": lambda: v >= value,
        "between": lambda: value[0] <= v <= value[1],
        "in": lambda: v in value,
        "contains": lambda: raw in v,
        "startswith": lambda: v.startswith(raw),
        "endswith": lambda: v.endswith(raw),
        "istrue": lambda: v is True,
        "isfalse": lambda: v is False,
    }[op]()


def _matches(group: Any, row: dict[str, Any]) -> bool | None:
    """Whether the row passes the group; None for a group with no conditions (ignored)."""
    kind, items = group
    results = []
    for item in items:
        if isinstance(item[1], list):
            inner = _matches(item, row)
            if inner is not None:
                results.append(inner)
        else:
            name, op, value, raw = item
            results.append(_test(op, row[name], value, raw))
    if not results:
        return None
    return all(results) if kind == "and" else any(results)


def _joined_rows(join: str | None) -> list[dict[str, Any]]:
    customers = {c["id"]: c for c in CUSTOMERS}
    rows = []
    for o in ORDERS:
        row = dict(o)
        c = customers.get(o["customer_id"]) if o["customer_id"] is not None else None
        if join == "inner" and c is None:
            continue
        if join:
            for key in ("id", "name", "region_id", "vip", "joined", "credit"):
                row[f"customer.{key}"] = c[key] if c else None
        rows.append(row)
    return rows


def expected(query: dict[str, Any], engine: str) -> list[int]:
    rows = [r for r in _joined_rows(query["join"]) if _matches(query["where"], r) is not False]
    nulls_high = engine == "postgresql"

    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        for name, descending in [*query["order"], ("id", False)]:
            x, y = a[name], b[name]
            if x == y:
                continue
            if x is None or y is None:
                # NULL is the biggest value on PostgreSQL and the smallest elsewhere.
                result = (1 if x is None else -1) * (1 if nulls_high else -1)
            else:
                result = -1 if x < y else 1
            return -result if descending else result
        return 0

    rows.sort(key=functools.cmp_to_key(compare))
    if query["limit"] is not None:
        rows = rows[: query["limit"]]
    return [r["id"] for r in rows]


@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_results_match_python(shop: Any, data: st.DataObject) -> None:
    engine = engine_of(str(shop.engine.url))
    query = data.draw(queries(engine), label="query")
    spec = to_spec(query)
    # Through the URL form too: what a shared link holds must be the same query.
    reparsed = specs.parse_args(specs.to_args(spec))
    assert specs.to_args(reparsed) == specs.to_args(spec)
    plan = validate(reparsed, shop.catalog, 1000)
    limit = query["limit"] or 1000
    result = run_select(shop.engine, compile_plan(plan), limit, 5.0)
    got = [row[0] for row in result.rows]
    assert got == expected(query, engine)
