"""Unit tests for the spec's text forms and the compiler, on the SQL each dialect gets.

No server is needed: the catalog is discovered from an SQLite copy of the shop schema, and
statements are compiled for SQLite, PostgreSQL and MySQL. Beyond the shape of the SQL (joins,
nested AND/OR, aggregates, HAVING, the unique ORDER BY tail), values must always be bound
parameters, never text in the statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.dialects import mysql, postgresql, sqlite
from test_query_support import create_query_schema

from rowboat.catalog.discovery import discover
from rowboat.config import DatabaseConfig
from rowboat.querybuilder import spec as specs
from rowboat.querybuilder.compile import compile_plan, render_sql
from rowboat.querybuilder.describe import describe
from rowboat.querybuilder.spec import QueryError
from rowboat.querybuilder.validate import validate

DIALECTS = {
    "sqlite": sqlite.dialect(),
    "postgresql": postgresql.dialect(),
    "mysql": mysql.dialect(),
}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('compile') / 'shop.sqlite'}"
    engine = create_engine(url)
    create_query_schema(engine)
    yield discover(DatabaseConfig(name="shop", url=url), engine)
    engine.dispose()


def plan_of(catalog: Any, args: list[tuple[str, str]], max_limit: int = 1000) -> Any:
    return validate(specs.parse_args(args), catalog, max_limit)


def sql(stmt: Any, dialect: str = "postgresql") -> str:
    text = " ".join(str(stmt.compile(dialect=DIALECTS[dialect])).split())
    return re.sub(r"::[A-Z]+", "", text)  # psycopg2 under SQLAlchemy 2.1 casts each parameter


# --- the spec's text forms ---------------------------------------------------------------------

NESTED = [
    ("table", "qb_order"),
    ("join", "left:customer.region"),
    ("col", "id"),
    ("col", "customer.region.name"),
    ("wg.0", "or"),
    ("where", "status:exact:ab"),
    ("wg.1", "and"),
    ("where.1", "total:between:10,20"),
    ("wg.2", "or:1"),
    ("where.2", "customer.vip:istrue:"),
    ("where.2", "customer.name:contains:a%_b"),
    ("order", "total:desc"),
    ("order", "id"),
    ("limit", "25"),
]


def test_query_string_round_trips() -> None:
    spec = specs.parse_args(NESTED)
    assert specs.to_args(spec) == NESTED
    assert specs.to_args(specs.from_json(specs.to_json(spec))) == NESTED
    assert spec.where.kind == "or"
    inner = spec.where.items[1]
    assert isinstance(inner, specs.GroupSpec) and inner.kind == "and"
    assert isinstance(inner.items[1], specs.GroupSpec) and inner.items[1].kind == "or"


def test_names_with_dots_colons_and_tildes_are_escaped() -> None:
    ref = specs.FieldRef(("a.b", "c:d"), "e~f")
    assert ref.text() == "a~2Eb.c~3Ad.e~7Ef"
    assert specs.parse_field(ref.text()) == ref


def test_form_fields_become_the_canonical_query() -> None:
    form = [
        ("table", "qb_order"),
        ("_jaddk", "left"),
        ("_jadd", "customer"),
        ("col", "id"),
        ("_af", ""),
        ("_ar", ""),
        ("_gid", "0"),
        ("_gparent", ""),
        ("_gkind", "and"),
        ("_wg", "0"),
        ("_wf", "qty"),
        ("_wo", "gt"),
        ("_wv", "2"),
        ("_gid", "3"),
        ("_gparent", "0"),
        ("_gkind", "or"),
        ("_wg", "3"),
        ("_wf", "status"),
        ("_wo", "exact"),
        ("_wv", "a"),
        ("_wg", "3"),
        ("_wf", "status"),
        ("_wo", "isnull"),
        ("_wv", ""),
        ("_wg", "0"),
        ("_wf", ""),
        ("_wo", "exact"),
        ("_wv", ""),
        ("_hkind", "and"),
        ("_of", ""),
        ("_or", "total"),
        ("_od", "desc"),
        ("limit", ""),
        ("run", "1"),
    ]
    assert specs.is_form(form)
    assert specs.to_args(specs.from_form(form)) == [
        ("table", "qb_order"),
        ("join", "left:customer"),
        ("col", "id"),
        ("where", "qty:gt:2"),
        ("wg.1", "or"),
        ("where.1", "status:exact:a"),
        ("where.1", "status:isnull:"),
        ("order", "total:desc"),
        ("run", "1"),
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        ([("table", "qb_order"), ("bogus", "1")], "unknown parameter"),
        ([("table", "qb_order"), ("agg", "median:total")], "unknown aggregate"),
        ([("table", "qb_order"), ("agg", "sum:*")], "only count"),
        ([("table", "qb_order"), ("join", "outer:customer")], "inner or left"),
        ([("table", "qb_order"), ("where.4", "qty:gt:1")], "never defined"),
        ([("table", "qb_order"), ("wg.1", "or:2"), ("wg.2", "or:1")], "contain each other"),
        ([("table", "qb_order"), ("wg.1", "xor")], "'and' or 'or'"),
        ([("table", "qb_order"), ("limit", "ten")], "whole number"),
        ([("table", "qb_order"), ("col", "a~zz")], "~"),
        ([("table", "qb_order"), ("where", "qty")], "column:operator:value"),
    ],
)
def test_malformed_query_strings_name_the_problem(args: Any, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        specs.parse_args(args)


@pytest.mark.parametrize(
    "args, message",
    [
        ([("table", "nope")], "no table or view 'nope'"),
        ([("table", "qb_order"), ("col", "nope")], "has no column 'nope'"),
        ([("table", "qb_order"), ("join", "nope")], "has no relationship 'nope'"),
        ([("table", "qb_order"), ("where", "qty:like:1")], "unknown filter operator"),
        ([("table", "qb_order"), ("where", "qty:gt:x")], "not a valid integer"),
        ([("table", "qb_order"), ("where", "qty:contains:1")], "does not apply"),
        ([("table", "qb_order"), ("where", "qty:between:1")], "two values"),
        ([("table", "qb_order"), ("agg", "sum:status")], "needs a number column"),
        ([("table", "qb_order"), ("limit", "0")], "between 1 and"),
        ([("table", "qb_order"), ("col", "qty"), ("agg", "count:*")], "neither grouped"),
        ([("table", "qb_order"), ("having", "count:*:gt:1")], "having filters aggregates"),
        ([("table", "qb_order"), ("order", "sum:total")], "not grouped"),
        ([("table", "qb_order"), ("agg", "count:*"), ("having", "count:*:contains:1")], "cannot"),
    ],
)
def test_invalid_specs_name_the_problem(catalog: Any, args: Any, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        plan_of(catalog, args)


# --- compiled SQL -----------------------------------------------------------------------------


def test_joins_follow_relationships_both_ways_with_aliases(catalog: Any) -> None:
    plan = plan_of(
        catalog,
        [
            ("table", "qb_customer"),
            ("join", "left:qb_order_collection"),
            ("join", "region"),
            ("col", "name"),
            ("col", "region.name"),
            ("col", "qb_order_collection.total"),
        ],
    )
    text = sql(compile_plan(plan))
    assert "FROM qb_customer LEFT OUTER JOIN qb_order AS qb_order_collection" in text
    assert "ON qb_customer.id = qb_order_collection.customer_id" in text
    assert "JOIN qb_region AS region ON region.id = qb_customer.region_id" in text
    assert "LEFT OUTER JOIN qb_region" not in text
    # Every table's key closes the ORDER BY, so a limit always cuts the same rows.
    assert text.endswith("ORDER BY qb_customer.id ASC, qb_order_collection.id ASC, region.id ASC")


def test_a_self_join_path_reached_twice_gets_two_aliases(catalog: Any) -> None:
    plan = plan_of(
        catalog,
        [
            ("table", "qb_num"),
            ("join", "grp.qb_num_collection.grp"),
            ("agg", "count:*"),
        ],
    )
    text = sql(compile_plan(plan))
    assert "JOIN qb_grp AS grp ON" in text and "JOIN qb_grp AS grp_2 ON" in text
    assert "JOIN qb_num AS qb_num_collection ON grp.id = qb_num_collection.grp_id" in text


def test_nested_and_or_groups_are_parenthesised(catalog: Any) -> None:
    text = sql(compile_plan(plan_of(catalog, NESTED)))
    where = text[text.index("WHERE") : text.index("ORDER BY")]
    assert where == (
        "WHERE qb_order.status = %(status_1)s OR qb_order.total BETWEEN %(total_1)s "
        "AND %(total_2)s AND (qb_customer_1.vip = true OR (qb_customer_1.name LIKE "
        "'%%' || %(name_1)s || '%%' ESCAPE '/')) "
    ).replace("qb_customer_1", "customer")


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_values_are_always_bound(catalog: Any, dialect: str) -> None:
    hostile = "x'); DROP TABLE qb_order; --"
    plan = plan_of(
        catalog,
        [
            ("table", "qb_order"),
            ("join", "customer"),
            ("where", f"status:exact:{hostile}"),
            ("where", f"customer.name:notin:{hostile},b"),
            ("where", "total:gt:12.5"),
        ],
    )
    compiled = compile_plan(plan).compile(dialect=DIALECTS[dialect])
    assert "DROP" not in str(compiled)
    assert "12.5" not in str(compiled)
    assert hostile in compiled.params.values()


def test_aggregates_group_by_and_having(catalog: Any) -> None:
    plan = plan_of(
        catalog,
        [
            ("table", "qb_order"),
            ("join", "customer.region"),
            ("col", "customer.region.name"),
            ("agg", "count:*"),
            ("agg", "count_distinct:customer_id"),
            ("agg", "sum:total"),
            ("agg", "avg:qty"),
            ("agg", "min:placed"),
            ("agg", "max:customer.name"),
            ("group", "customer.region.name"),
            ("hg.0", "or"),
            ("having", "sum:total:gt:100"),
            ("having", "count:*:between:2,9"),
            ("order", "sum:total:desc"),
        ],
    )
    text = sql(compile_plan(plan, limit=11))
    assert text.startswith(
        "SELECT region.name AS region_name, count(*) AS count_all, "
        "count(DISTINCT qb_order.customer_id) AS count_distinct_customer_id, "
        "sum(qb_order.total) AS sum_total, avg(qb_order.qty) AS avg_qty, "
        "min(qb_order.placed) AS min_placed, max(customer.name) AS max_customer_name FROM qb_order"
    )
    assert "GROUP BY region.name" in text
    assert (
        "HAVING sum(qb_order.total) > %(sum_1)s OR count(*) BETWEEN %(count_1)s AND %(count_2)s"
        in text
    )
    assert text.endswith("ORDER BY sum_total DESC, region.name ASC LIMIT %(param_1)s")
    assert describe(plan) == (
        "qb_order with Customer (many-to-one), Customer → Region (many-to-one), "
        "grouped by Customer → Region.name, showing count(*), count(distinct customer_id), "
        "sum(total), avg(qty), min(placed), max(Customer.name), "
        "having sum(total) > 100 or count(*) between 2 and 9, sorted by sum(total) descending"
    )


def test_shown_sql_is_readable_with_values_inline(catalog: Any) -> None:
    plan = plan_of(
        catalog, [("table", "qb_order"), ("where", "status:contains:50%"), ("col", "id")]
    )
    for name, dialect in DIALECTS.items():
        shown = render_sql(compile_plan(plan, limit=10), dialect)
        assert "'50/%'" in shown, name  # autoescaped LIKE, one percent sign as the reader expects
        assert shown.splitlines()[0].startswith("SELECT")
        assert "\nWHERE " in shown and "\nORDER BY " in shown
