"""Unit tests for the filter operators, checked on the SQL they compile to.

Each operator is compiled on the SQLite, PostgreSQL and MySQL dialects (no server needed).
Beyond the shape of the SQL, two properties matter for safety: values always travel as bound
parameters, never inlined into the statement text, and the LIKE operators escape ``%`` and
``_`` so user text is matched literally.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Uuid,
)
from sqlalchemy import Column as SAColumn
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from rowboat.catalog.model import Column
from rowboat.catalog.types import kind_of
from rowboat.core.filters import (
    OPERATORS,
    FilterError,
    combine,
    make_filter,
    operators_for,
    search_condition,
    split_list,
)


class Mood(enum.Enum):
    happy = 1
    sad = 2


TABLE = Table(
    "t",
    MetaData(),
    SAColumn("id", Integer, primary_key=True),
    SAColumn("name", String(50)),
    SAColumn("qty", Integer),
    SAColumn("price", Numeric(10, 2)),
    SAColumn("flag", Boolean),
    SAColumn("born", Date),
    SAColumn("mood", Enum(Mood, name="mood")),
    SAColumn("guid", Uuid),
    SAColumn("data", JSON),
    SAColumn("blob", LargeBinary),
)
COLUMNS = {
    c.key: Column(key=c.key, name=c.name, kind=kind_of(c.type), type=c.type, expression=c)
    for c in TABLE.c
}

DIALECTS: dict[str, Dialect] = {
    "sqlite": sqlite.dialect(),
    "postgresql": postgresql.dialect(),
    "mysql": mysql.dialect(),
}


def compiled(condition: ColumnElement[bool], dialect: str) -> tuple[str, dict[str, Any]]:
    """The condition's SQL with placeholders written ``:p`` (and ``%%`` as ``%``), and params."""
    result = condition.compile(dialect=DIALECTS[dialect])
    sql = str(result)
    sql = re.sub(r"%\(\w+\)s(::\w+)?|%s|\?", ":p", sql)
    if dialect != "sqlite":
        sql = sql.replace("%%", "%")
    return sql, dict(result.params)


# (column, operator, raw value, expected SQL on sqlite / postgresql / mysql, expected params)
CASES: list[tuple[str, str, str, dict[str, str], list[Any]]] = [
    ("qty", "exact", "4242", {"*": "t.qty = :p"}, [4242]),
    ("name", "exact", "Zebedee", {"*": "t.name = :p"}, ["Zebedee"]),
    ("mood", "exact", "happy", {"*": "t.mood = :p"}, ["happy"]),
    ("qty", "not", "4242", {"*": "t.qty != :p OR t.qty IS NULL"}, [4242]),
    ("qty", "lt", "4242", {"*": "t.qty < :p"}, [4242]),
    ("qty", "lte", "4242", {"*": "t.qty <= :p"}, [4242]),
    ("qty", "gt", "4242", {"*": "t.qty > :p"}, [4242]),
    ("born", "gte", "2021-03-04", {"*": "t.born >= :p"}, [dt.date(2021, 3, 4)]),
    (
        "name",
        "contains",
        "Zebedee",
        {
            "*": "t.name LIKE '%' || :p || '%' ESCAPE '/'",
            "mysql": "t.name LIKE concat('%', :p, '%') ESCAPE '/'",
        },
        ["Zebedee"],
    ),
    (
        "name",
        "startswith",
        "Zebedee",
        {
            "*": "t.name LIKE :p || '%' ESCAPE '/'",
            "mysql": "t.name LIKE concat(:p, '%') ESCAPE '/'",
        },
        ["Zebedee"],
    ),
    (
        "name",
        "endswith",
        "Zebedee",
        {
            "*": "t.name LIKE '%' || :p ESCAPE '/'",
            "mysql": "t.name LIKE concat('%', :p) ESCAPE '/'",
        },
        ["Zebedee"],
    ),
    ("qty", "in", "11, 22,33", {"*": "t.qty IN (__[POSTCOMPILE_qty_1])"}, [[11, 22, 33]]),
    ("name", "isnull", "", {"*": "t.name IS NULL"}, []),
    ("name", "notnull", "", {"*": "t.name IS NOT NULL"}, []),
    ("flag", "istrue", "", {"*": "t.flag = true", "sqlite": "t.flag = 1"}, []),
    ("flag", "isfalse", "", {"*": "t.flag = false", "sqlite": "t.flag = 0"}, []),
]


def test_every_operator_has_a_case() -> None:
    assert {op for _, op, *_ in CASES} == {op.key for op in OPERATORS}


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize(
    ("column", "op", "raw", "sql", "params"), CASES, ids=[f"{c[0]}__{c[1]}" for c in CASES]
)
def test_operator_sql(
    column: str, op: str, raw: str, sql: dict[str, str], params: list[Any], dialect: str
) -> None:
    condition = make_filter(COLUMNS[column], op, raw).condition()
    got_sql, got_params = compiled(condition, dialect)
    assert got_sql == sql.get(dialect, sql["*"])
    assert list(got_params.values()) == params


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize(
    ("column", "op", "raw", "value"),
    [
        ("qty", "exact", "4242", 4242),
        ("name", "exact", "Zebedee'; DROP TABLE t; --", "Zebedee'; DROP TABLE t; --"),
        ("name", "not", "Zebedee", "Zebedee"),
        ("price", "gt", "98.76", "98.76"),
        ("born", "lte", "2021-03-04", "2021-03-04"),
        ("guid", "exact", "12345678-1234-5678-1234-567812345678", None),
        ("name", "contains", "Zebedee", "Zebedee"),
        ("name", "startswith", "Zebedee", "Zebedee"),
        ("name", "endswith", "Zebedee", "Zebedee"),
        ("mood", "contains", "Zebedee", "Zebedee"),
        ("name", "in", "Zebedee,Xanthippe", "Xanthippe"),
    ],
)
def test_values_are_bound_never_inlined(
    column: str, op: str, raw: str, value: Any, dialect: str
) -> None:
    result = make_filter(COLUMNS[column], op, raw).condition().compile(dialect=DIALECTS[dialect])
    shown = raw if value is None else str(value)
    assert shown not in str(result)
    bound = [str(v) for p in result.params.values() for v in (p if isinstance(p, list) else [p])]
    assert any(shown in b for b in bound)


# --- LIKE escaping ------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize(
    ("op", "raw", "param"),
    [
        ("contains", "50%_off", "50/%/_off"),
        ("startswith", "a_b", "a/_b"),
        ("endswith", "100%", "100/%"),
        ("contains", "a/b", "a//b"),  # the escape character itself is escaped
        ("contains", "plain", "plain"),
    ],
)
def test_pattern_operators_escape_wildcards(op: str, raw: str, param: str, dialect: str) -> None:
    filter_ = make_filter(COLUMNS["name"], op, raw)
    assert filter_.value == raw  # kept as typed; escaping happens in the SQL layer
    sql, params = compiled(filter_.condition(), dialect)
    assert sql.endswith("ESCAPE '/'")
    assert list(params.values()) == [param]


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_enum_pattern_operators_cast_to_text(dialect: str) -> None:
    text_type = "CHAR" if dialect == "mysql" else "VARCHAR"
    for op in ("contains", "startswith", "endswith"):
        sql, params = compiled(make_filter(COLUMNS["mood"], op, "ap%").condition(), dialect)
        assert sql.startswith(f"CAST(t.mood AS {text_type}) LIKE ")
        assert list(params.values()) == ["ap/%"]


def test_enum_equality_does_not_cast() -> None:
    sql, params = compiled(make_filter(COLUMNS["mood"], "exact", "sad").condition(), "postgresql")
    assert sql == "t.mood = :p"
    assert params == {"mood_1": "sad"}


# --- "in" lists ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "items"),
    [
        ("a,b,c", ["a", "b", "c"]),
        (" a , b ,, c ,", ["a", "b", "c"]),
        ("a,b\nc", ["a,b", "c"]),  # one per line when there are several lines
        ("one\r\ntwo\n\n three ", ["one", "two", "three"]),
        ("single", ["single"]),
        ("", []),
        (" , ,", []),
    ],
)
def test_split_list(raw: str, items: list[str]) -> None:
    assert split_list(raw) == items


@pytest.mark.parametrize(
    ("column", "raw", "value"),
    [
        ("qty", "1,2, 3", [1, 2, 3]),
        ("qty", "1\n2\n", [1, 2]),
        ("born", "2021-01-01\n2021-02-01", [dt.date(2021, 1, 1), dt.date(2021, 2, 1)]),
        ("name", "Smith, J.\nDoe, A.", ["Smith, J.", "Doe, A."]),
        ("mood", "happy,sad", ["happy", "sad"]),
    ],
)
def test_in_converts_each_item(column: str, raw: str, value: list[Any]) -> None:
    filter_ = make_filter(COLUMNS[column], "in", raw)
    assert filter_.value == value
    assert [type(v) for v in filter_.value] == [type(v) for v in value]


@pytest.mark.parametrize("raw", ["", " ", ",,", "\n\n"])
def test_in_needs_values(raw: str) -> None:
    with pytest.raises(FilterError, match="needs values"):
        make_filter(COLUMNS["qty"], "in", raw)


def test_in_rejects_an_item_of_the_wrong_type() -> None:
    with pytest.raises(FilterError, match="'qty'"):
        make_filter(COLUMNS["qty"], "in", "1,two,3")


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "op"),
    [
        ("flag", "exact"),
        ("flag", "not"),
        ("flag", "lt"),
        ("flag", "in"),
        ("qty", "contains"),
        ("qty", "startswith"),
        ("born", "endswith"),
        ("qty", "istrue"),
        ("name", "isfalse"),
        ("data", "exact"),
        ("data", "lt"),
        ("data", "contains"),
        ("data", "in"),
        ("blob", "exact"),
        ("blob", "gt"),
        ("blob", "in"),
        ("guid", "contains"),
    ],
)
def test_operators_refuse_kinds_they_do_not_fit(column: str, op: str) -> None:
    with pytest.raises(FilterError, match="does not apply"):
        make_filter(COLUMNS[column], op, "1")


@pytest.mark.parametrize("column", ["data", "blob", "flag", "qty"])
def test_null_checks_fit_every_kind(column: str) -> None:
    for op in ("isnull", "notnull"):
        assert make_filter(COLUMNS[column], op, "").value is None


@pytest.mark.parametrize("op", ["like", "EXACT", "", "in_", "__"])
def test_unknown_operator(op: str) -> None:
    with pytest.raises(FilterError, match="unknown filter operator"):
        make_filter(COLUMNS["qty"], op, "1")


@pytest.mark.parametrize(
    ("column", "op", "raw"),
    [
        ("qty", "exact", "abc"),
        ("qty", "lt", ""),
        ("price", "gte", "NaN"),
        ("born", "gt", "2021-02-30"),
        ("guid", "exact", "nope"),
    ],
)
def test_bad_values_are_filter_errors_naming_the_column(column: str, op: str, raw: str) -> None:
    with pytest.raises(FilterError, match=f"'{column}'"):
        make_filter(COLUMNS[column], op, raw)


def test_operators_for_a_column() -> None:
    assert [op.key for op in operators_for(COLUMNS["flag"])] == [
        "isnull",
        "notnull",
        "istrue",
        "isfalse",
    ]
    assert [op.key for op in operators_for(COLUMNS["data"])] == ["isnull", "notnull"]
    text_ops = {op.key for op in operators_for(COLUMNS["name"])}
    assert {"contains", "startswith", "endswith", "exact", "in", "lt"} <= text_ops
    assert not {"istrue", "isfalse"} & text_ops


def test_description() -> None:
    assert make_filter(COLUMNS["qty"], "gt", "5").description() == "qty > 5"
    assert make_filter(COLUMNS["qty"], "in", "1\n2").description() == "qty in 1, 2"
    assert make_filter(COLUMNS["name"], "contains", "a b").description() == "name contains 'a b'"
    assert make_filter(COLUMNS["name"], "in", "x,y").description() == "name in 'x', 'y'"
    assert make_filter(COLUMNS["name"], "isnull", "").description() == "name is null"


# --- combining and searching -----------------------------------------------------------------


def test_combine_ands_filters() -> None:
    filters = [
        make_filter(COLUMNS["qty"], "gt", "1"),
        make_filter(COLUMNS["name"], "startswith", "a"),
    ]
    sql, params = compiled(combine(filters), "postgresql")
    assert sql == "t.qty > :p AND (t.name LIKE :p || '%' ESCAPE '/')"
    assert list(params.values()) == [1, "a"]


def test_combine_without_filters_is_true() -> None:
    assert compiled(combine([]), "sqlite")[0] == "1 = 1"
    assert compiled(combine([]), "postgresql")[0] == "true"


@pytest.mark.parametrize(
    ("dialect", "sql"),
    [
        (
            "sqlite",
            "(lower(t.name) LIKE '%' || lower(:p) || '%' ESCAPE '/') OR "
            "(lower(CAST(t.mood AS VARCHAR)) LIKE '%' || lower(:p) || '%' ESCAPE '/')",
        ),
        (
            "postgresql",
            "(t.name ILIKE '%' || :p || '%' ESCAPE '/') OR "
            "(CAST(t.mood AS VARCHAR) ILIKE '%' || :p || '%' ESCAPE '/')",
        ),
        (
            "mysql",
            "(lower(t.name) LIKE concat('%', lower(:p), '%') ESCAPE '/') OR "
            "(lower(CAST(t.mood AS CHAR)) LIKE concat('%', lower(:p), '%') ESCAPE '/')",
        ),
    ],
)
def test_search_condition_across_columns(dialect: str, sql: str) -> None:
    condition = search_condition([COLUMNS["name"], COLUMNS["mood"]], "Zeb_5%")
    got_sql, params = compiled(condition, dialect)
    assert got_sql == sql
    assert list(params.values()) == ["Zeb/_5/%", "Zeb/_5/%"]
    assert "Zeb" not in str(condition.compile(dialect=DIALECTS[dialect]))


def test_search_without_columns_matches_nothing() -> None:
    assert compiled(search_condition([], "x"), "sqlite")[0] == "0 = 1"
    assert compiled(search_condition([], "x"), "postgresql")[0] == "false"
