"""Which columns an update's audit entry must read back from the row, and which the database
is known to store exactly as they were given.

An entry's "after" must say what the row holds (a revert and ``reconcile`` compare it with the
row), and a database may keep a value in another form than the one written: MariaDB's BOOLEAN
is a TINYINT, a NUMERIC pads to its scale, PostgreSQL moves a time zone to UTC, CHAR pads with
spaces, jsonb reorders keys, a non-strict MariaDB cuts a long string. Reading back costs a
SELECT per save, so it is skipped only where nothing can differ:

- integers, and text in VARCHAR or TEXT (not CHAR, ENUM or SET), on every engine, plus
  booleans on PostgreSQL and SQLite;
- of a plain type (a TypeDecorator of the user's models may change the value on its way in);
- on a table with no trigger (nor, on PostgreSQL, a rewrite rule) that could change the row;
- on MariaDB, only under a strict ``sql_mode``, where a value that does not fit is an error
  rather than silently cut or replaced.

A trigger added after the catalog was loaded is seen at the next catalog refresh: until then,
an entry may hold the value written instead of the one the trigger made, which a revert then
refuses as a conflict (it never overwrites).
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, inspect, text
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from ..catalog.model import Entity
from ..catalog.types import kind_of

# The exact classes of text types that store a string as given (subclasses such as CHAR,
# NCHAR, ENUM and MySQL's SET normalise it, so they are not matched by inheritance).
_PLAIN_TEXT = {
    "String",
    "Unicode",
    "VARCHAR",
    "NVARCHAR",
    "Text",
    "UnicodeText",
    "TEXT",
    "TINYTEXT",
    "MEDIUMTEXT",
    "LONGTEXT",
    "CITEXT",
}
_MYSQL = ("mysql", "mariadb")

# Whether each table (catalog entity) has triggers; a refreshed catalog has new entities.
_TRIGGERS: WeakKeyDictionary[Entity, bool] = WeakKeyDictionary()

_TRIGGER_QUERIES = {
    "sqlite": "SELECT 1 FROM {schema}sqlite_master WHERE type = 'trigger' AND tbl_name = :table",
    "postgresql": (
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = :table AND n.nspname = COALESCE(:schema, current_schema()) AND ("
        "EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) "
        "OR EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class = c.oid "
        "AND r.rulename <> '_RETURN'))"
    ),
    "mysql": (
        "SELECT 1 FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_TABLE = :table "
        "AND EVENT_OBJECT_SCHEMA = COALESCE(:schema, DATABASE())"
    ),
}


def columns_to_read_back(session: Session, entity: Entity, obj: Any, keys: list[str]) -> list[str]:
    """Of the columns an update wrote to ``obj`` (``keys``), those whose stored value must be
    read: the database may hold it in another form than the value written."""
    connection = session.connection()
    dialect = connection.dialect.name
    if _has_triggers(connection, entity) or (dialect in _MYSQL and not _strict(connection)):
        return list(keys)
    written = inspect(obj).dict  # what the save assigned (an expired column is not in it)
    return [
        k
        for k in keys
        if k not in written or not stored_as_given(entity.columns[k].type, dialect, written[k])
    ]


def stored_as_given(type_: Any, dialect: str, value: Any) -> bool:
    """Whether ``value``, written to a column of ``type_``, always reads back equal (a MariaDB
    connection is assumed strict: the caller checks). The value's own type counts too: a
    form may give ``True`` to MariaDB's TINYINT(1), which reads back 1."""
    if value is None:
        return True
    if isinstance(type_, TypeDecorator):
        return False
    kind = kind_of(type_)
    name = type(type_).__name__
    if kind == "integer":
        return type(value) is int and name != "YEAR"  # MySQL's YEAR turns 69 into 2069
    if kind == "text":
        return type(value) is str and name in _PLAIN_TEXT
    if kind == "boolean":
        return (
            type(value) is bool
            and dialect in ("postgresql", "sqlite")
            and name
            in (
                "Boolean",
                "BOOLEAN",
            )
        )
    return False


def _has_triggers(connection: Connection, entity: Entity) -> bool:
    known = _TRIGGERS.get(entity)
    if known is None:
        dialect = connection.dialect.name
        sql = _TRIGGER_QUERIES["mysql" if dialect in _MYSQL else dialect]
        schema = entity.schema
        if dialect == "sqlite":
            # An attached database keeps its own catalog; its name comes from the reflection.
            quoted = connection.dialect.identifier_preparer.quote_identifier(schema or "")
            sql = sql.format(schema=f"{quoted}." if schema else "")
            found = connection.execute(text(sql), {"table": entity.table_name}).first()
        else:
            found = connection.execute(
                text(sql), {"table": entity.table_name, "schema": schema}
            ).first()
        known = _TRIGGERS[entity] = found is not None
    return known


def _strict(connection: Connection) -> bool:
    """Whether this MariaDB/MySQL connection refuses values that do not fit (cached per
    connection: ``sql_mode`` is set when it connects)."""
    info = connection.info
    if "rowboat.strict" not in info:
        mode = connection.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar() or ""
        flags = set(str(mode).upper().split(","))
        info["rowboat.strict"] = bool(flags & {"STRICT_TRANS_TABLES", "STRICT_ALL_TABLES"})
    return bool(info["rowboat.strict"])
