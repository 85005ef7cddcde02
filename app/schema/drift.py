"""Where the user's models and the live database disagree, as Alembic's autogenerate sees it.

``alembic.autogenerate.compare_metadata`` is the comparison a migration would be generated
from, so the report says exactly what ``alembic revision --autogenerate`` would want to change:
what the models have and the database lacks ("add" operations) and the other way round
("remove" operations), plus columns whose type, nullability, default or comment differ.
The revision stamped in ``alembic_version`` is read too, when the database has that table.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, ForeignKeyConstraint, Index, MetaData, Table, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

VERSION_TABLE = "alembic_version"

MODELS_ONLY = "in the models, not in the database"
DATABASE_ONLY = "in the database, not in the models"
DIFFERS = "differs"


@dataclass(frozen=True)
class DriftItem:
    direction: str  # MODELS_ONLY, DATABASE_ONLY or DIFFERS
    kind: str  # "table", "column", "index", "unique constraint", "foreign key", "type", ...
    table: str
    name: str
    detail: str = ""
    operation: str = ""  # Alembic's own name for it: add_column, modify_type, ...


@dataclass
class DriftReport:
    models: str | None  # the models' import path; None when none are configured
    items: list[DriftItem] = field(default_factory=list)
    revisions: list[str] | None = None  # alembic_version's rows; None: no such table
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def by_direction(self) -> dict[str, list[DriftItem]]:
        grouped: dict[str, list[DriftItem]] = {MODELS_ONLY: [], DATABASE_ONLY: [], DIFFERS: []}
        for item in self.items:
            grouped[item.direction].append(item)
        return grouped


def alembic_revisions(engine: Engine) -> list[str] | None:
    """The revision(s) in ``alembic_version``, or None when the database has no such table."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    return sorted(str(r[0]) for r in rows)


def compare(engine: Engine, metadata: MetaData) -> tuple[list[DriftItem], list[str]]:
    """Compare ``metadata`` with the database; return the differences and any warnings."""
    schemas = {t.schema for t in metadata.tables.values() if t.schema}

    def include_name(name: str | None, type_: str, parent: Any) -> bool:
        if type_ == "schema":
            return name is None or name in schemas
        if type_ == "table":
            return name != VERSION_TABLE
        return True

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                # Server defaults are compared as SQL text, which differs in spelling between
                # a model and what the database reports; it would flag nearly every default.
                "compare_server_default": False,
                "include_schemas": bool(schemas),
                "include_name": include_name,
            },
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            diffs = compare_metadata(context, metadata)
    notes = [str(w.message) for w in caught]
    items: list[DriftItem] = []
    for diff in diffs:
        if isinstance(diff, list):  # a column's modifications come grouped
            items.extend(_modification(d) for d in diff)
        else:
            items.append(_operation(diff))
    items.sort(key=lambda i: (i.direction, i.table, i.kind, i.name))
    return items, notes


def drift_report(engine: Engine, models: str | None, metadata: MetaData | None) -> DriftReport:
    report = DriftReport(models=models)
    try:
        report.revisions = alembic_revisions(engine)
        if metadata is not None:
            report.items, report.notes = compare(engine, metadata)
    except SQLAlchemyError as exc:
        report.error = str(getattr(exc, "orig", None) or exc)
    return report


def _qualified(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def _table_of(obj: Any) -> str:
    table = getattr(obj, "table", None)
    if isinstance(table, Table):
        return _qualified(table.schema, table.name)
    return ""


def _columns(obj: Any) -> str:
    names = [getattr(c, "name", str(c)) for c in getattr(obj, "columns", [])]
    if not names and isinstance(obj, Index):
        names = [str(e) for e in obj.expressions]
    return ", ".join(names)


_KINDS = {
    "table": "table",
    "column": "column",
    "index": "index",
    "constraint": "unique constraint",
    "fk": "foreign key",
    "table_comment": "table comment",
}


def _operation(diff: tuple[Any, ...]) -> DriftItem:
    operation = diff[0]
    verb, _, noun = operation.partition("_")
    direction = MODELS_ONLY if verb == "add" else DATABASE_ONLY
    kind = _KINDS.get(noun, noun.replace("_", " "))
    if noun == "column":
        schema, table, column = diff[1], diff[2], diff[3]
        assert isinstance(column, Column)
        detail = f"{column.type}{'' if column.nullable else ' NOT NULL'}"
        return DriftItem(direction, kind, _qualified(schema, table), column.name, detail, operation)
    obj = diff[1]
    if isinstance(obj, Table):
        if noun == "table_comment":
            return DriftItem(
                DIFFERS, kind, _qualified(obj.schema, obj.name), "", str(obj.comment), operation
            )
        columns = ", ".join(c.name for c in obj.columns)
        return DriftItem(
            direction, kind, _qualified(obj.schema, obj.name), obj.name, columns, operation
        )
    detail = f"({_columns(obj)})"
    if isinstance(obj, Index) and obj.unique:
        detail = "unique " + detail
    if isinstance(obj, ForeignKeyConstraint):
        target = obj.elements[0].target_fullname.rsplit(".", 1)[0] if obj.elements else "?"
        detail += f" → {target}"
    name = getattr(obj, "name", None)
    return DriftItem(direction, kind, _table_of(obj), str(name or "(unnamed)"), detail, operation)


_MODIFY_KINDS = {
    "modify_type": "type",
    "modify_nullable": "nullability",
    "modify_default": "server default",
    "modify_comment": "column comment",
}


def _modification(diff: tuple[Any, ...]) -> DriftItem:
    operation, schema, table, column, _existing, old, new = diff
    kind = _MODIFY_KINDS.get(operation, operation)
    if operation == "modify_nullable":
        old, new = ("NULL" if old else "NOT NULL"), ("NULL" if new else "NOT NULL")
    detail = f"database: {_shown(old)} · models: {_shown(new)}"
    return DriftItem(DIFFERS, kind, _qualified(schema, table), column, detail, operation)


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    return str(getattr(value, "arg", value))
