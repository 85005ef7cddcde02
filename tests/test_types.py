"""Unit tests for ``kind_of``: the one place a column type becomes a kind.

Reflection hands back dialect types (PostgreSQL's JSONB, MySQL's TINYINT, ...) and users bring
TypeDecorators, so each must land on the kind its values behave like; a wrong kind silently
turns off sorting or filtering for the column.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import types as sat
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.types import TypeEngine

from rowboat.catalog.types import ORDERABLE, TEXT_LIKE, kind_of, unwrap


class Lowercase(sat.TypeDecorator[str]):
    impl = sat.String(50)
    cache_ok = True


class Cents(sat.TypeDecorator[int]):
    impl = sat.Integer
    cache_ok = True


class Nested(sat.TypeDecorator[str]):
    impl = Lowercase
    cache_ok = True


GENERIC: list[tuple[TypeEngine[Any], str]] = [
    (sat.Integer(), "integer"),
    (sat.BigInteger(), "integer"),
    (sat.SmallInteger(), "integer"),
    (sat.Numeric(10, 2), "numeric"),
    (sat.DECIMAL(), "numeric"),
    (sat.Float(), "float"),
    (sat.Double(), "float"),
    (sat.REAL(), "float"),
    (sat.Boolean(), "boolean"),
    (sat.Date(), "date"),
    (sat.DateTime(), "datetime"),
    (sat.DateTime(timezone=True), "datetime"),
    (sat.TIMESTAMP(), "datetime"),
    (sat.Time(), "time"),
    (sat.Interval(), "interval"),
    (sat.String(), "text"),
    (sat.Text(), "text"),
    (sat.Unicode(), "text"),
    (sat.CHAR(3), "text"),
    (sat.Enum("a", "b", name="ab"), "enum"),
    (sat.Uuid(), "uuid"),
    (sat.JSON(), "json"),
    (sat.ARRAY(sat.Integer()), "array"),
    (sat.LargeBinary(), "binary"),
    (sat.BINARY(16), "binary"),
    (sat.NullType(), "unknown"),
]

POSTGRESQL: list[tuple[TypeEngine[Any], str]] = [
    (postgresql.ENUM("a", "b", name="ab"), "enum"),
    (postgresql.INTERVAL(), "interval"),
    (postgresql.JSON(), "json"),
    (postgresql.JSONB(), "json"),
    (postgresql.ARRAY(sat.Text()), "array"),
    (postgresql.UUID(), "uuid"),
    (postgresql.BYTEA(), "binary"),
    (postgresql.TIMESTAMP(timezone=True), "datetime"),
    (postgresql.DOUBLE_PRECISION(), "float"),
    (postgresql.CITEXT(), "text"),
    (postgresql.INET(), "other"),
    (postgresql.MONEY(), "other"),
]

MYSQL: list[tuple[TypeEngine[Any], str]] = [
    (mysql.ENUM("a", "b"), "enum"),
    (mysql.SET("a", "b"), "text"),
    (mysql.YEAR(), "integer"),
    (mysql.TINYINT(), "integer"),
    (mysql.TINYINT(1), "integer"),
    (mysql.MEDIUMINT(), "integer"),
    (mysql.INTEGER(unsigned=True), "integer"),
    (mysql.BIGINT(), "integer"),
    (mysql.DECIMAL(10, 2), "numeric"),
    (mysql.DOUBLE(), "float"),
    (mysql.FLOAT(), "float"),
    (mysql.VARCHAR(10), "text"),
    (mysql.LONGTEXT(), "text"),
    (mysql.JSON(), "json"),
    (mysql.DATETIME(fsp=6), "datetime"),
    (mysql.LONGBLOB(), "binary"),
    (mysql.BIT(), "other"),
]

SQLITE: list[tuple[TypeEngine[Any], str]] = [
    (sqlite.DATETIME(), "datetime"),
    (sqlite.DATE(), "date"),
    (sqlite.JSON(), "json"),
]

DECORATED: list[tuple[TypeEngine[Any], str]] = [
    (Lowercase(), "text"),
    (Cents(), "integer"),
    (Nested(), "text"),
]


def _cases(cases: list[tuple[TypeEngine[Any], str]]) -> Any:
    return pytest.mark.parametrize(("type_", "kind"), cases, ids=[repr(t) for t, _ in cases])


@_cases(GENERIC)
def test_generic_types(type_: TypeEngine[Any], kind: str) -> None:
    assert kind_of(type_) == kind


@_cases(POSTGRESQL)
def test_postgresql_types(type_: TypeEngine[Any], kind: str) -> None:
    assert kind_of(type_) == kind


@_cases(MYSQL)
def test_mysql_types(type_: TypeEngine[Any], kind: str) -> None:
    assert kind_of(type_) == kind


@_cases(SQLITE)
def test_sqlite_types(type_: TypeEngine[Any], kind: str) -> None:
    assert kind_of(type_) == kind


@_cases(DECORATED)
def test_type_decorators_take_the_kind_of_what_they_store(
    type_: TypeEngine[Any], kind: str
) -> None:
    assert kind_of(type_) == kind


def test_enum_is_checked_before_string() -> None:
    # Both ENUMs subclass String; they must not come out as plain text.
    assert issubclass(postgresql.ENUM, sat.String)
    assert issubclass(mysql.ENUM, sat.String)
    assert kind_of(postgresql.ENUM("x", name="e")) == "enum"
    assert kind_of(mysql.ENUM("x")) == "enum"


def test_unwrap_looks_through_decorators() -> None:
    assert isinstance(unwrap(Nested()), sat.String)
    assert isinstance(unwrap(Cents()), sat.Integer)
    plain = sat.Integer()
    assert unwrap(plain) is plain


def test_every_kind_named_here_is_known() -> None:
    named = {kind for cases in (GENERIC, POSTGRESQL, MYSQL, DECORATED) for _, kind in cases}
    assert TEXT_LIKE <= ORDERABLE
    assert named - ORDERABLE <= {"json", "array", "unknown", "other"}
