"""What a database's tables look like, read with SQLAlchemy's ``Inspector``.

Two levels, because the two pages that read them have different costs to meet:

- ``take_snapshot`` reflects every table's columns, primary key and foreign keys in bulk (SQLAlchemy
  2's ``get_multi_*`` calls: a handful of queries per schema on PostgreSQL, whatever the number
  of tables). It feeds the schema page, its search, the diagrams and the "referenced by" lists,
  and is cached until the user refreshes the schema.
- ``describe_table`` reads one table in full (defaults, identity, computed columns, indexes,
  constraints, comments, view definition) every time its page is opened, so that page is never
  stale; a table that has gone since the snapshot raises ``TableGone``.

Schemas are named as the catalog names them: ``None`` for the connection's default schema.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import (
    ReflectedColumn,
    ReflectedComputed,
    ReflectedPrimaryKeyConstraint,
)
from sqlalchemy.engine.reflection import Inspector, ObjectKind
from sqlalchemy.exc import DBAPIError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.types import NullType, TypeEngine, UserDefinedType

_SYSTEM_SCHEMAS = re.compile(r"^(pg_.*|information_schema)$")
# Above this file size, SQLite's per-table sizes (the dbstat table walks every page) are skipped.
SQLITE_SIZE_LIMIT = 256 * 1024 * 1024

TableKey = tuple[str | None, str]


class TableGone(LookupError):
    """The table was in the snapshot but the database no longer has it."""


# --- the snapshot ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForeignKeyInfo:
    name: str | None
    columns: list[str]
    target_schema: str | None
    target_table: str
    target_columns: list[str]
    on_delete: str | None = None
    on_update: str | None = None

    @property
    def target(self) -> TableKey:
        return (self.target_schema, self.target_table)


@dataclass
class TableInfo:
    """One table or view as the snapshot knows it: enough for lists, search and diagrams."""

    schema: str | None
    name: str
    kind: str  # "table", "view" or "materialized view"
    columns: list[str]
    column_types: dict[str, str]
    primary_key: list[str]
    foreign_keys: list[ForeignKeyInfo]
    comment: str | None = None

    @property
    def key(self) -> TableKey:
        return (self.schema, self.name)

    @property
    def fk_columns(self) -> list[str]:
        seen: list[str] = []
        for fk in self.foreign_keys:
            seen.extend(c for c in fk.columns if c not in seen)
        return seen

    @property
    def key_columns(self) -> list[str]:
        """Primary-key columns, then foreign-key columns: what a diagram box shows."""
        fk = set(self.fk_columns)
        # The key in its constraint's order (PRIMARY KEY (b, a) lists b first).
        return [c for c in self.primary_key if c in self.columns] + [
            c for c in self.columns if c in fk and c not in self.primary_key
        ]


@dataclass
class Snapshot:
    dialect: str
    default_schema: str | None
    schemas: list[str | None]
    tables: dict[TableKey, TableInfo]
    seconds: float = 0.0
    taken_at: float = field(default_factory=time.time)
    notes: list[str] = field(default_factory=list)
    incoming: dict[TableKey, list[tuple[TableInfo, ForeignKeyInfo]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for table in self.tables.values():
            for fk in table.foreign_keys:
                self.incoming.setdefault(fk.target, []).append((table, fk))

    def get(self, schema: str | None, name: str) -> TableInfo | None:
        return self.tables.get((self.normal_schema(schema), name))

    def normal_schema(self, schema: str | None) -> str | None:
        return None if schema == self.default_schema else schema

    def in_schema(self, schema: str | None) -> list[TableInfo]:
        return [t for t in self.tables.values() if t.schema == schema]

    def neighbours(self, key: TableKey) -> list[TableInfo]:
        """The tables one foreign-key hop from ``key``, either way, without ``key`` itself."""
        table = self.tables[key]
        found: dict[TableKey, TableInfo] = {}
        for fk in table.foreign_keys:
            if fk.target in self.tables and fk.target != key:
                found[fk.target] = self.tables[fk.target]
        for source, _fk in self.incoming.get(key, []):
            if source.key != key:
                found[source.key] = source
        return sorted(found.values(), key=lambda t: (t.schema or "", t.name.lower()))


def user_schemas(engine: Engine, inspector: Inspector) -> list[str | None]:
    """The schemas shown: the default one, plus every user schema on PostgreSQL."""
    if engine.dialect.name != "postgresql":
        return [None]
    default = inspector.default_schema_name
    others = [
        s for s in inspector.get_schema_names() if s != default and not _SYSTEM_SCHEMAS.match(s)
    ]
    return [None, *sorted(others)]


@contextmanager
def _collect_warnings(notes: list[str]) -> Iterator[None]:
    """Reflection warns about types it does not know; keep them as notes, never fail on them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    notes.extend(str(w.message) for w in caught)


def _optional(call: Callable[[], dict[Any, Any]]) -> dict[Any, Any]:
    try:
        return call()
    except NotImplementedError:
        return {}


UNKNOWN_TYPE = "(type unknown)"  # only when even the catalog did not name it


def type_sql(type_: TypeEngine[Any], engine: Engine, reported: str | None = None) -> str:
    """The column type as the database's DDL names it.

    A type SQLAlchemy does not know (PostgreSQL's ``point``, ``xml``, a composite type,
    MariaDB's ``INET6``...) is reflected as ``NullType``, which cannot be rendered: it takes
    ``reported``, the name the database's own catalog gives (see ``catalog_columns``).
    """
    rendered = rendered_type(type_, engine)
    if rendered is not None:
        return rendered
    return reported if reported is not None else UNKNOWN_TYPE


def rendered_type(type_: TypeEngine[Any], engine: Engine) -> str | None:
    """The type as SQLAlchemy renders it for this database; None when it cannot."""
    if isinstance(type_, NullType):
        return None
    try:
        return type_.compile(dialect=engine.dialect)
    except Exception:  # noqa: BLE001 - e.g. an ARRAY of a type SQLAlchemy does not know
        return None


class DatabaseType(UserDefinedType):
    """A type SQLAlchemy does not know, rendered in DDL by the name the database gave it."""

    cache_ok = True

    def __init__(self, name: str) -> None:
        self.name = name

    def get_col_spec(self, **_kw: Any) -> str:
        return self.name


@dataclass(frozen=True)
class CatalogColumn:
    type: str  # the column's type as the database's catalog spells it
    default: str | None = None  # MySQL/MariaDB only: information_schema's COLUMN_DEFAULT


# Each column's type by the database's own name, for one schema (None: the default one) and
# optionally one table. Read only when reflection left something out: it costs a query.
_CATALOG_COLUMNS = {
    "postgresql": "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NULL "
    "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = coalesce(CAST(:schema AS text), current_schema()) "
    "AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
    "AND (CAST(:table AS text) IS NULL OR c.relname = :table)",
    "mysql": "SELECT table_name, column_name, column_type, column_default "
    "FROM information_schema.columns WHERE table_schema = coalesce(:schema, DATABASE()) "
    "AND (:table IS NULL OR table_name = :table)",
    "sqlite": "SELECT m.name, p.name, p.type, NULL "
    "FROM sqlite_master m JOIN pragma_table_info(m.name) p "
    "WHERE m.type IN ('table', 'view') "
    "AND (:table IS NULL OR m.name = :table)",
}


def catalog_columns(
    connection: Connection, schema: str | None, table: str | None = None
) -> dict[tuple[str, str], CatalogColumn]:
    """(table, column) -> the column as the database's catalog describes it."""
    dialect = connection.dialect.name
    sql = _CATALOG_COLUMNS.get("mysql" if dialect == "mariadb" else dialect)
    if sql is None:
        return {}
    rows = connection.execute(text(sql), {"schema": schema, "table": table}).all()
    return {
        (str(t), str(c)): CatalogColumn(str(type_ or ""), None if d is None else str(d))
        for t, c, type_, d in rows
    }


def take_snapshot(engine: Engine) -> Snapshot:
    """Reflect the names, columns and keys of every table and view, in bulk."""
    started = time.perf_counter()
    notes: list[str] = []
    with engine.connect() as connection:
        inspector = inspect(connection)
        default = inspector.default_schema_name
        schemas = user_schemas(engine, inspector)
        tables: dict[TableKey, TableInfo] = {}
        for schema in schemas:
            with _collect_warnings(notes):
                tables.update(_snapshot_schema(engine, connection, inspector, schema, default))
    return Snapshot(
        dialect=engine.dialect.name,
        default_schema=default,
        schemas=schemas,
        tables=dict(sorted(tables.items(), key=lambda i: (i[0][0] or "", i[0][1].lower()))),
        seconds=time.perf_counter() - started,
        notes=notes,
    )


def _snapshot_schema(
    engine: Engine,
    connection: Connection,
    inspector: Inspector,
    schema: str | None,
    default: str | None,
) -> dict[TableKey, TableInfo]:
    kinds: dict[str, str] = {name: "table" for name in inspector.get_table_names(schema=schema)}
    kinds.update({name: "view" for name in inspector.get_view_names(schema=schema)})
    if engine.dialect.name == "postgresql":
        kinds.update(
            {name: "materialized view" for name in inspector.get_materialized_view_names(schema)}
        )
    if not kinds:
        return {}
    any_kind = ObjectKind.ANY
    columns = inspector.get_multi_columns(schema=schema, kind=any_kind)
    primary = _optional(lambda: inspector.get_multi_pk_constraint(schema=schema))
    foreign = _optional(lambda: inspector.get_multi_foreign_keys(schema=schema))
    comments = _optional(lambda: inspector.get_multi_table_comment(schema=schema, kind=any_kind))

    def norm(s: str | None) -> str | None:
        return None if s is None or s == default else s

    rendered = {
        (key[1], c["name"]): rendered_type(c["type"], engine)
        for key, cols in columns.items()
        for c in cols
    }
    reported = catalog_columns(connection, schema) if None in rendered.values() else {}

    def type_name(table: str, column: str) -> str:
        found = reported.get((table, column))
        return rendered[(table, column)] or (found.type if found else UNKNOWN_TYPE)

    result: dict[TableKey, TableInfo] = {}
    for (_schema, name), cols in columns.items():
        if name not in kinds:
            continue
        key = (_schema, name)
        fks = [
            ForeignKeyInfo(
                name=fk.get("name"),
                columns=list(fk["constrained_columns"]),
                # None means "found through the search path": the default schema.
                target_schema=norm(fk.get("referred_schema")),
                target_table=fk["referred_table"],
                target_columns=list(fk["referred_columns"]),
                on_delete=(fk.get("options") or {}).get("ondelete"),
                on_update=(fk.get("options") or {}).get("onupdate"),
            )
            for fk in foreign.get(key, [])
        ]
        result[(norm(schema), name)] = TableInfo(
            schema=norm(schema),
            name=name,
            kind=kinds[name],
            columns=[c["name"] for c in cols],
            column_types={c["name"]: type_name(name, c["name"]) for c in cols},
            primary_key=list((primary.get(key) or {}).get("constrained_columns") or []),
            foreign_keys=fks,
            comment=(comments.get(key) or {}).get("text"),
        )
    return result


# --- table statistics ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TableStats:
    rows: int | None  # the database's own estimate; None when it keeps none
    size: int | None  # bytes on disk, indexes included; None when not reported


def table_stats(connection: Connection, snapshot: Snapshot) -> dict[TableKey, TableStats]:
    """Row estimates and on-disk sizes for every table, in one or two cheap queries."""
    dialect = snapshot.dialect
    try:
        if dialect == "postgresql":
            rows = connection.execute(
                text(
                    # reltuples is -1 until the table is first analysed; the statistics
                    # collector's live-row count stands in for it until then.
                    "SELECT n.nspname, c.relname, CASE WHEN c.reltuples >= 0 "
                    "THEN c.reltuples::bigint ELSE s.n_live_tup END, "
                    "pg_total_relation_size(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
                    "WHERE c.relkind IN ('r', 'm', 'p') "
                    "AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'"
                )
            ).all()
            return {
                (snapshot.normal_schema(s), name): TableStats(
                    n if n is not None and n >= 0 else None, size
                )
                for s, name, n, size in rows
            }
        if dialect in ("mysql", "mariadb"):
            rows = connection.execute(
                text(
                    "SELECT table_name, table_rows, data_length + index_length "
                    "FROM information_schema.tables WHERE table_schema = DATABASE() "
                    "AND table_type = 'BASE TABLE'"
                )
            ).all()
            return {(None, name): TableStats(_int(n), _int(size)) for name, n, size in rows}
        if dialect == "sqlite":
            return _sqlite_stats(connection)
    except DBAPIError:
        connection.rollback()
    return {}


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _sqlite_stats(connection: Connection) -> dict[TableKey, TableStats]:
    estimates: dict[TableKey, int] = {}
    has_stat1 = connection.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
    ).first()
    if has_stat1:  # written by ANALYZE: the first number of a table's stat is its row count
        for name, stat in connection.execute(
            text("SELECT tbl, stat FROM sqlite_stat1 WHERE idx IS NULL OR idx = tbl")
        ):
            first = str(stat).split(" ", 1)[0]
            if first.isdigit():
                estimates[(None, name)] = int(first)
    sizes: dict[TableKey, int] = {}
    page_size = connection.execute(text("PRAGMA page_size")).scalar() or 0
    pages = connection.execute(text("PRAGMA page_count")).scalar() or 0
    if page_size * pages <= SQLITE_SIZE_LIMIT:
        try:
            # Indexes belong to their table: sum each b-tree's pages onto its table's name.
            for name, size in connection.execute(
                text(
                    "SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat d "
                    "JOIN sqlite_master m ON m.name = d.name GROUP BY m.tbl_name"
                )
            ):
                sizes[(None, name)] = int(size)
        except DBAPIError:
            pass  # SQLite built without the dbstat table: no sizes
    return {key: TableStats(estimates.get(key), sizes.get(key)) for key in {*estimates, *sizes}}


# --- one table in full ---------------------------------------------------------------------------


@dataclass
class ColumnDetail:
    name: str
    type: str
    nullable: bool
    default: str | None
    autoincrement: str | None  # "identity (always)", "auto-increment", "rowid alias", ...
    computed: str | None  # the generation expression
    computed_stored: bool | None
    comment: str | None
    primary_key: bool
    foreign_keys: list[ForeignKeyInfo]


@dataclass
class IndexDetail:
    name: str | None
    unique: bool
    parts: list[str]  # column names, or the expression where the index has one
    where: str | None = None  # a partial index's condition
    using: str | None = None
    include: list[str] = field(default_factory=list)
    from_constraint: str | None = None  # the unique constraint this index implements


@dataclass
class ConstraintDetail:
    name: str | None
    columns: list[str] = field(default_factory=list)
    sqltext: str | None = None


@dataclass
class TableDetail:
    info: TableInfo
    columns: list[ColumnDetail]
    primary_key: list[str]  # in the constraint's order, which need not be the columns'
    primary_key_name: str | None
    foreign_keys: list[ForeignKeyInfo]
    referenced_by: list[tuple[TableInfo, ForeignKeyInfo]]
    indexes: list[IndexDetail]
    unique_constraints: list[ConstraintDetail]
    check_constraints: list[ConstraintDetail]
    comment: str | None
    view_definition: str | None
    notes: list[str] = field(default_factory=list)


def describe_table(engine: Engine, snapshot: Snapshot, info: TableInfo) -> TableDetail:
    """Read one table (or view) in full, as it is now; ``TableGone`` if it no longer exists."""
    notes: list[str] = []
    schema = info.schema
    name = info.name
    with engine.connect() as connection:
        inspector = inspect(connection)
        try:
            with _collect_warnings(notes):
                raw_columns = inspector.get_columns(name, schema=schema)
        except NoSuchTableError:
            raise TableGone(name) from None
        if not raw_columns and not inspector.has_table(name, schema=schema):
            raise TableGone(name)
        with _collect_warnings(notes):
            is_table = info.kind == "table"
            pk: ReflectedPrimaryKeyConstraint | dict[str, Any] = (
                inspector.get_pk_constraint(name, schema=schema) if is_table else {}
            )
            fks = _foreign_keys(inspector, snapshot, info) if is_table else []
            indexes = _indexes(inspector, info, notes)
            if engine.dialect.name == "sqlite":
                indexes = _with_sqlite_expression_indexes(connection, info, indexes, notes)
            uniques = _unique_constraints(inspector, info) if is_table else []
            checks = _check_constraints(inspector, info) if is_table else []
            comment = _table_comment(inspector, info)
            definition = None
            if not is_table:
                try:
                    definition = inspector.get_view_definition(name, schema=schema)
                except (NotImplementedError, SQLAlchemyError):
                    definition = None
        reported = _reported_columns(engine, connection, info, raw_columns)
    # An index reflection skipped but read from its CREATE INDEX after all is no news.
    shown = {f"index {i.name}" for i in indexes if i.name}
    notes = [n for n in notes if not any(n.endswith(s) for s in shown)]
    pk_columns = list(pk.get("constrained_columns") or [])
    if engine.dialect.name == "sqlite" and any(c.get("computed") for c in raw_columns):
        _sqlite_generated_expressions(engine, info, raw_columns)
    columns = [
        _column_detail(c, engine, pk_columns, fks, info, raw_columns, reported.get(c["name"]))
        for c in raw_columns
    ]
    return TableDetail(
        info=info,
        columns=columns,
        primary_key=pk_columns,
        primary_key_name=pk.get("name"),
        foreign_keys=fks,
        referenced_by=snapshot.incoming.get(info.key, []),
        indexes=indexes,
        unique_constraints=uniques,
        check_constraints=checks,
        comment=comment,
        view_definition=definition.strip() if isinstance(definition, str) else None,
        notes=notes,
    )


def _reported_columns(
    engine: Engine, connection: Connection, info: TableInfo, columns: list[ReflectedColumn]
) -> dict[str, CatalogColumn]:
    """The catalog's word on the table's columns, where reflection is known to fall short.

    That is a type SQLAlchemy cannot render, and on MySQL/MariaDB any default: reflection
    parses SHOW CREATE TABLE and drops the defaults it cannot parse, such as MariaDB's
    ``DEFAULT nextval(`db`.`seq`)``.
    """
    mysql = engine.dialect.name in ("mysql", "mariadb")
    if not mysql and all(rendered_type(c["type"], engine) is not None for c in columns):
        return {}
    found = catalog_columns(connection, info.schema, info.name)
    return {column: c for (_table, column), c in found.items()}


def _column_detail(
    column: ReflectedColumn,
    engine: Engine,
    pk_columns: list[str],
    fks: list[ForeignKeyInfo],
    info: TableInfo,
    all_columns: list[ReflectedColumn],
    reported: CatalogColumn | None = None,
) -> ColumnDetail:
    name = column["name"]
    computed: ReflectedComputed | dict[str, Any] = column.get("computed") or {}
    default = _text_of(column.get("default"))
    if default is None and reported is not None and reported.default not in (None, "NULL"):
        default = reported.default  # MariaDB says "NULL" for no default (or DEFAULT NULL)
    return ColumnDetail(
        name=name,
        type=type_sql(column["type"], engine, reported.type if reported else None),
        nullable=bool(column.get("nullable", True)),
        default=default,
        autoincrement=_autoincrement(column, engine, pk_columns, info, all_columns),
        computed=(_text_of(computed.get("sqltext")) or "") if computed else None,
        computed_stored=computed.get("persisted") if computed else None,
        comment=column.get("comment"),
        primary_key=name in pk_columns,
        foreign_keys=[fk for fk in fks if name in fk.columns],
    )


def _sqlite_generated_expressions(
    engine: Engine, info: TableInfo, columns: list[ReflectedColumn]
) -> None:
    """Fill in generated-column expressions that SQLite's reflection leaves empty."""
    with engine.connect() as connection:
        sql = connection.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
            {"t": info.name},
        ).scalar()
    if not sql:
        return
    for column in columns:
        computed = column.get("computed")
        if not computed or computed.get("sqltext"):
            continue
        quoted = r"(?:\"{0}\"|`{0}`|\[{0}\]|\b{0}\b)".format(re.escape(column["name"]))
        match = re.search(quoted + r".*?\bAS\s*\(", sql, re.IGNORECASE | re.DOTALL)
        if match is None:
            continue
        depth, start = 1, match.end()
        for i in range(start, len(sql)):
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            if depth == 0:
                computed["sqltext"] = sql[start:i].strip()
                break


def _text_of(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "text", value))


def _autoincrement(
    column: ReflectedColumn,
    engine: Engine,
    pk_columns: list[str],
    info: TableInfo,
    all_columns: list[ReflectedColumn],
) -> str | None:
    identity = column.get("identity")
    if identity:
        always = "always" if identity.get("always") else "by default"
        start, step = identity.get("start"), identity.get("increment")
        return f"identity ({always}, start {start}, step {step})"
    if engine.dialect.name == "sqlite":
        # SQLite reports nothing; a lone INTEGER primary key is the rowid, numbered by SQLite.
        if (
            info.kind == "table"
            and pk_columns == [column["name"]]
            and type_sql(column["type"], engine).upper() == "INTEGER"
        ):
            return "rowid alias (numbered by SQLite)"
        return None
    if column.get("autoincrement") is True:
        default = _text_of(column.get("default")) or ""
        return "sequence (serial)" if default.startswith("nextval(") else "auto-increment"
    return None


def _foreign_keys(
    inspector: Inspector, snapshot: Snapshot, info: TableInfo
) -> list[ForeignKeyInfo]:
    result = []
    for fk in inspector.get_foreign_keys(info.name, schema=info.schema):
        options = fk.get("options") or {}
        result.append(
            ForeignKeyInfo(
                name=fk.get("name"),
                columns=list(fk["constrained_columns"]),
                target_schema=snapshot.normal_schema(fk.get("referred_schema")),
                target_table=fk["referred_table"],
                target_columns=list(fk["referred_columns"]),
                on_delete=options.get("ondelete"),
                on_update=options.get("onupdate"),
            )
        )
    return result


def _indexes(inspector: Inspector, info: TableInfo, notes: list[str]) -> list[IndexDetail]:
    try:
        with _collect_warnings(notes):
            raw = inspector.get_indexes(info.name, schema=info.schema)
    except (NotImplementedError, SQLAlchemyError):
        return []
    result = []
    for index in raw:
        expressions = index.get("expressions") or []
        names = index.get("column_names") or []
        parts = [
            (expressions[i] if i < len(expressions) and expressions[i] else name) or "?"
            for i, name in enumerate(names)
        ] or list(expressions)
        options = index.get("dialect_options") or {}
        where = next(
            (v for k, v in options.items() if k.endswith("_where") and v is not None), None
        )
        result.append(
            IndexDetail(
                name=index.get("name"),
                unique=bool(index.get("unique")),
                parts=[str(p) for p in parts],
                where=_text_of(where),
                using=options.get("postgresql_using") or options.get("mysql_using"),
                include=list(options.get("postgresql_include") or []),
                from_constraint=index.get("duplicates_constraint"),
            )
        )
    return sorted(result, key=lambda i: i.name or "")


_SQLITE_INDEX = re.compile(
    r"\bON\s+(?:\"[^\"]*\"|\[[^\]]*\]|`[^`]*`|\S+)\s*\((?P<parts>.*)\)"
    r"(?:\s+WHERE\s+(?P<where>.*))?$",
    re.IGNORECASE | re.DOTALL,
)


def _with_sqlite_expression_indexes(
    connection: Connection, info: TableInfo, indexes: list[IndexDetail], notes: list[str]
) -> list[IndexDetail]:
    """Add the expression indexes SQLAlchemy skips on SQLite, read from their CREATE INDEX."""
    known = {i.name for i in indexes}
    rows = connection.execute(
        text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t "
            "AND sql IS NOT NULL"
        ),
        {"t": info.name},
    ).all()
    added = []
    for name, sql in rows:
        if name in known:
            continue
        match = _SQLITE_INDEX.search(sql.strip().rstrip(";"))
        if match is None:
            continue
        added.append(
            IndexDetail(
                name=name,
                unique=sql.lstrip().upper().startswith("CREATE UNIQUE"),
                parts=[match["parts"].strip()],
                where=match["where"].strip() if match["where"] else None,
            )
        )
    return sorted(indexes + added, key=lambda i: i.name or "")


def _unique_constraints(inspector: Inspector, info: TableInfo) -> list[ConstraintDetail]:
    try:
        raw = inspector.get_unique_constraints(info.name, schema=info.schema)
    except (NotImplementedError, SQLAlchemyError):
        return []
    return [ConstraintDetail(name=u.get("name"), columns=list(u["column_names"])) for u in raw]


def _check_constraints(inspector: Inspector, info: TableInfo) -> list[ConstraintDetail]:
    try:
        raw = inspector.get_check_constraints(info.name, schema=info.schema)
    except (NotImplementedError, SQLAlchemyError):
        return []
    return [ConstraintDetail(name=c.get("name"), sqltext=c.get("sqltext")) for c in raw]


def _table_comment(inspector: Inspector, info: TableInfo) -> str | None:
    try:
        return inspector.get_table_comment(info.name, schema=info.schema).get("text")
    except (NotImplementedError, SQLAlchemyError):
        return None


# --- search ------------------------------------------------------------------------------------


@dataclass
class SearchHit:
    table: TableInfo
    name_matches: bool
    columns: list[str]


def search(snapshot: Snapshot, query: str) -> list[SearchHit]:
    """Tables whose name, or some of whose column names, contain ``query`` (any case)."""
    needle = query.strip().casefold()
    hits = []
    for table in snapshot.tables.values():
        in_name = needle in table.name.casefold()
        columns = [c for c in table.columns if needle in c.casefold()]
        if in_name or columns:
            hits.append(SearchHit(table, in_name, columns))
    return hits
