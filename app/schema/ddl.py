"""A table's DDL: the database's own text where it keeps one, else compiled by SQLAlchemy.

SQLite stores the statements it was given (``sqlite_master.sql``, indexes and triggers too) and
MySQL/MariaDB answer ``SHOW CREATE TABLE``; those are what a user would see in the database's
own shell, so they are shown as they are. PostgreSQL has no such command, so the reflected
``Table`` is compiled with ``CreateTable`` (plus its indexes and comments) for this dialect.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from sqlalchemy import MetaData, Table, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, NoSuchTableError, SAWarning
from sqlalchemy.schema import CreateIndex, CreateTable, SetColumnComment, SetTableComment

from .structure import (
    UNKNOWN_TYPE,
    DatabaseType,
    TableGone,
    TableInfo,
    catalog_columns,
    rendered_type,
)


@dataclass(frozen=True)
class DDL:
    text: str
    source: str  # where the text comes from, said on the page


def table_ddl(engine: Engine, info: TableInfo, view_definition: str | None = None) -> DDL:
    dialect = engine.dialect.name
    if dialect == "sqlite":
        return _sqlite(engine, info)
    if dialect in ("mysql", "mariadb"):
        return _mysql(engine, info)
    if info.kind != "table":
        return _view(engine, info, view_definition)
    return _compiled(engine, info)


def _sqlite(engine: Engine, info: TableInfo) -> DDL:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT sql FROM sqlite_master WHERE tbl_name = :name AND sql IS NOT NULL "
                "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'view' THEN 0 "
                "WHEN 'index' THEN 1 ELSE 2 END, name"
            ),
            {"name": info.name},
        ).all()
    if not rows:
        raise TableGone(info.name)
    return DDL(";\n\n".join(r[0].strip() for r in rows) + ";", "sqlite_master.sql")


def _mysql(engine: Engine, info: TableInfo) -> DDL:
    # The name comes from the snapshot (never from the request) and is quoted by the dialect.
    quoted = engine.dialect.identifier_preparer.quote_identifier(info.name)
    statement = "SHOW CREATE VIEW" if info.kind == "view" else "SHOW CREATE TABLE"
    with engine.connect() as connection:
        try:
            row = connection.execute(text(f"{statement} {quoted}")).first()
        except DBAPIError as exc:
            if "doesn't exist" in str(exc.orig):
                raise TableGone(info.name) from None
            raise
    if row is None:
        raise TableGone(info.name)
    return DDL(str(row[1]) + ";", statement)


def _view(engine: Engine, info: TableInfo, definition: str | None) -> DDL:
    preparer = engine.dialect.identifier_preparer
    name = preparer.quote(info.name)
    if info.schema:
        name = f"{preparer.quote_schema(info.schema)}.{name}"
    kind = "MATERIALIZED VIEW" if info.kind == "materialized view" else "VIEW"
    body = (definition or "").strip().rstrip(";")
    return DDL(
        f"CREATE {kind} {name} AS\n{body};",
        "built from the view definition the database reports",
    )


def _compiled(engine: Engine, info: TableInfo) -> DDL:
    metadata = MetaData()
    try:
        # Reflection warns about each type it does not know; the structure page already lists
        # those warnings (``describe_table``), and the DDL names the types all the same.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)
            table = Table(info.name, metadata, schema=info.schema, autoload_with=engine)
    except NoSuchTableError:
        raise TableGone(info.name) from None
    dialect = engine.dialect
    _name_unknown_types(engine, info, table)
    parts = [str(CreateTable(table).compile(dialect=dialect)).strip()]
    for index in sorted(table.indexes, key=lambda i: i.name or ""):
        parts.append(str(CreateIndex(index).compile(dialect=dialect)).strip())
    if table.comment:
        parts.append(str(SetTableComment(table).compile(dialect=dialect)).strip())
    for column in table.columns:
        if column.comment:
            parts.append(str(SetColumnComment(column).compile(dialect=dialect)).strip())
    return DDL(
        ";\n\n".join(parts) + ";",
        "compiled by SQLAlchemy from the reflected table (PostgreSQL keeps no CREATE TABLE text)",
    )


def _name_unknown_types(engine: Engine, info: TableInfo, table: Table) -> None:
    """Give the columns whose type SQLAlchemy cannot render the name the database uses.

    Reflection makes them ``NullType`` (``point``, ``xml``, a composite type...), which
    ``CreateTable`` refuses to compile; the catalog's name, printed as it is, is the DDL.
    """
    unknown = [c for c in table.columns if rendered_type(c.type, engine) is None]
    if not unknown:
        return
    with engine.connect() as connection:
        reported = catalog_columns(connection, info.schema, info.name)
    for column in unknown:
        found = reported.get((info.name, column.name))
        column.type = DatabaseType(found.type if found else UNKNOWN_TYPE)
