"""Discover what a database holds: reflect and automap it, or read the user's own models.

Both paths end in the same ``Catalog`` of ``Entity`` objects. Reflection has to survive any
real schema, so every step that can fail on an odd table degrades instead of failing the whole
database: relationship names are made unique before automap sees them, a mapping failure is
retried without relationships, and whatever still cannot be mapped is served read-only from its
Core ``Table``, with the reason shown.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    MetaData,
    String,
    Table,
    Time,
    cast,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import NoReferencedColumnError, NoReferencedTableError
from sqlalchemy.ext.automap import automap_base, generate_relationship
from sqlalchemy.ext.hybrid import HybridExtensionType
from sqlalchemy.orm import Mapper, RelationshipDirection, RelationshipProperty, registry
from sqlalchemy.schema import Column as SAColumn
from sqlalchemy.types import NullType

from ..config import DatabaseConfig
from . import modellogic, relnames, sources
from .labels import choose_label_keys
from .model import Catalog, Column, Entity, Relation
from .readtypes import MYSQL_SPATIAL, MySQLGeometryText, for_reading
from .types import kind_of, unwrap

_SYSTEM_SCHEMAS = re.compile(r"^(pg_.*|information_schema)$")

NO_PRIMARY_KEY = (
    "This table has no primary key, so a row cannot be addressed safely: it is read-only."
)
VIEW = "This is a view: its rows are read-only."


def discover(config: DatabaseConfig, engine: Engine) -> Catalog:
    """Build the catalog of one database."""
    if config.models is not None:
        models = models_for(config)
        if models.registry is None:  # a plain MetaData: its tables, mapped as reflected ones
            catalog = _from_metadata(models.metadata, engine)
        else:
            catalog = _from_models(models, engine)
    else:
        catalog = _reflected(engine)
    if catalog.dialect == "postgresql":
        _mark_unequatable(catalog)
    return catalog


def _mark_unequatable(catalog: Catalog) -> None:
    """Mark the PostgreSQL columns no typed-in value can be compared with by "=".

    Those are the types SQLAlchemy does not know (reflected as NullType): ``point`` and the
    other geometric types and ``xml`` have no "=" at all, and a composite type's cannot take a
    text literal ("input of anonymous composite types is not implemented"). ``json`` has none
    either. A domain is what its base type is.
    """
    for entity in catalog.entities.values():
        for column in entity.columns.values():
            type_ = unwrap(column.type)
            if isinstance(type_, postgresql.DOMAIN):
                type_ = unwrap(type_.data_type)
            if isinstance(type_, NullType) or (
                isinstance(type_, JSON) and not isinstance(type_, postgresql.JSONB)
            ):
                column.equatable = False


def models_for(config: DatabaseConfig) -> sources.Models:
    """The user's models of a database: a reference (``module:attr``) is imported, an object
    (given by an application that embeds Rowboat) read as it is. ModelsError if unusable."""
    if isinstance(config.models, str):
        return sources.load(config.models, config.name)
    return sources.models_of(config.models, sources.describe(config.models), config.name)


def check_models(config: DatabaseConfig) -> None:
    """Import and configure a database's models, so a mistake is reported when Rowboat
    starts (ModelsError, with the cause and the fix) rather than as a 500 on every page."""
    if config.models is None:
        return
    models = models_for(config)
    if models.registry is not None:
        _configure(models.registry, sources.describe(config.models))


def _configure(own: registry, reference: str) -> None:
    try:
        own.configure()
    except Exception as exc:  # noqa: BLE001 - the user's mappings are wrong: say so at start
        raise sources.ModelsError(
            f"models {reference!r}: SQLAlchemy cannot configure the mappings: "
            f"{type(exc).__name__}: {exc}"
        ) from None


# --- reflection -------------------------------------------------------------------------------


def _reflected(engine: Engine) -> Catalog:
    inspector = inspect(engine)
    default_schema = inspector.default_schema_name
    metadata = MetaData()
    event.listen(metadata, "column_reflect", _name_reflected_column)
    view_keys: dict[str, str] = {}
    problems: list[str] = []
    for schema in _schemas(engine, inspector):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # Foreign keys are resolved below, once every shown schema is in ``metadata``:
            # resolve_fks=True would reflect each target on the spot, and a target that does
            # not exist (SQLite and MariaDB let a key point at a missing table) would raise
            # and take every table of the database with it.
            metadata.reflect(engine, schema=schema, views=True, resolve_fks=False)
        problems.extend(str(w.message) for w in caught)
        for name in inspector.get_view_names(schema=schema):
            view_keys[_table_key(schema, name)] = "view"
        if engine.dialect.name == "postgresql":
            for name in inspector.get_materialized_view_names(schema=schema):
                view_keys[_table_key(schema, name)] = "materialized view"

    return _catalog_of(engine, metadata, view_keys, problems, default_schema, "reflected")


def _from_metadata(user_metadata: MetaData, engine: Engine) -> Catalog:
    """A user's plain MetaData: its tables (copied: the user's objects are left as they are)
    mapped as reflected tables are."""
    metadata = MetaData()
    for table in user_metadata.sorted_tables:
        table.to_metadata(metadata)
    default_schema = inspect(engine).default_schema_name
    return _catalog_of(engine, metadata, {}, [], default_schema, "models")


def _catalog_of(
    engine: Engine,
    metadata: MetaData,
    view_keys: dict[str, str],
    problems: list[str],
    default_schema: str | None,
    mode: str,
) -> Catalog:
    """The catalog of tables in ``metadata`` that no class maps yet: each mapped by automap
    (views and tables without a key: read-only, with the reason)."""
    problems.extend(_drop_dangling_foreign_keys(metadata))
    if engine.dialect.name == "sqlite":
        _match_sqlite_time_formats(engine, metadata)
        _mark_sqlite_keys_not_numbered(engine, metadata)
    spatial = _mysql_spatial_columns(engine)
    for table in metadata.tables.values():
        for column in table.columns:
            data_type = spatial.get((table.schema, table.name, column.name))
            if data_type is not None:
                column.type = MySQLGeometryText(data_type)
            else:
                column.type = for_reading(column.type, engine.dialect)
    classes, mapping_problem = _automap(metadata)
    if mapping_problem:
        problems.append(mapping_problem)
    entities: dict[str, Entity] = {}
    plain = registry()
    for table in metadata.sorted_tables:
        kind = view_keys.get(table.key, "table")
        cls = classes.get(table.key) if kind == "table" else None
        if cls is None and kind == "table" and not mapping_problem:
            cls = _map_plain(plain, table)  # e.g. a link table automap keeps as "secondary"
        if cls is not None:
            entity = _entity_from_mapper(inspect(cls), table, kind)
        else:
            reason = _core_reason(table, kind, mapping_problem)
            entity = _entity_from_table(table, kind, reason)
        entities[entity.name] = entity
    _add_core_relations(entities)
    relnames.set_titles(entities, models=False)
    return Catalog(
        dialect=engine.dialect.name,
        entities=_sorted(entities),
        default_schema=default_schema,
        mode=mode,
        warnings=problems,
    )


# Attribute names a mapped class cannot give a column: declarative's own ("metadata",
# "registry"), the automap base's ("classes", "prepare"...), and every name starting with "_"
# (Python's dunders, the ORM's "_sa_" state; and a list page's URL reads "_name" as one of its
# own parameters, never as a column filter).
_BASE_ATTRIBUTES = frozenset(dir(automap_base())) | {"metadata", "registry"}


def safe_attribute(name: str) -> bool:
    """Whether ``name`` can be a mapped attribute and a URL's ``name__op`` filter as it is."""
    return not name.startswith("_") and name not in _BASE_ATTRIBUTES


def _name_reflected_column(inspector: Any, table: Table, column_info: dict[str, Any]) -> None:
    """Fix a reflected column's name, and give a name no attribute can have a key of its own.

    MySQL's reflection parses SHOW CREATE TABLE and leaves a backtick in a name doubled (it
    unescapes table names, not column names), so ``we`ird`` came back as ``we``ird`` and no
    statement found that column. A column named ``__init__`` or ``metadata`` is mapped under
    the key ``c__init__`` / ``c_metadata`` (made unique in its table): URLs and forms use the
    key, every page shows ``Column.name``, which stays the real name.
    """
    name = column_info["name"]
    if inspector.dialect.name in ("mysql", "mariadb") and "``" in name:
        name = column_info["name"] = name.replace("``", "`")
    if safe_attribute(name):
        return
    taken = {c.key for c in table.columns} | {
        c["name"].replace("``", "`")
        if inspector.dialect.name in ("mysql", "mariadb")
        else c["name"]
        for c in inspector.get_columns(table.name, schema=table.schema)
    }
    key = ("c" if name.startswith("_") else "c_") + name
    candidate, n = key, 1
    while candidate in taken or not safe_attribute(candidate):
        n += 1
        candidate = f"{key}_{n}"
    column_info["key"] = candidate


def _drop_dangling_foreign_keys(metadata: MetaData) -> list[str]:
    """Forget the foreign keys whose target table or column is not in ``metadata``; say which.

    Such a key links nothing, and left in place it makes automap (and any join through it)
    raise for the whole database. The table itself is served as usual; the key's columns
    show their plain values.
    """
    problems = []
    for table in metadata.tables.values():
        for constraint in sorted(table.foreign_key_constraints, key=lambda c: list(c.column_keys)):
            missing = [fk.target_fullname for fk in constraint.elements if not _resolves(fk)]
            if not missing:
                continue
            for fk in constraint.elements:
                table.foreign_keys.discard(fk)
                fk.parent.foreign_keys.discard(fk)
                fk._remove_from_metadata(metadata)
            table.constraints.discard(constraint)
            columns = ", ".join(c.name for c in constraint.columns)
            problems.append(
                f"{_entity_name(table)}: the foreign key ({columns}) refers to "
                f"{', '.join(missing)}, which does not exist; it is ignored."
            )
    return problems


def _resolves(fk: ForeignKey) -> bool:
    try:
        fk.column  # noqa: B018 - resolving the target is the test
    except (NoReferencedTableError, NoReferencedColumnError):
        return False
    return True


# SQLite keeps dates and times as text in whatever format the writer chose; SQLAlchemy binds
# '2024-01-01 00:00:00.000000', which compares (as text) before a stored '2024-01-01 00:00:00'.
# So filters and page cursors would miss rows. Where a column's stored values carry no
# fraction, its type is told to bind (and write) that same format.
_WHOLE_SECONDS = (
    (
        DateTime,
        sqlite.DATETIME,
        re.compile(r"^\d{4}-\d{2}-\d{2}([ T])\d{2}:\d{2}:\d{2}$"),
        "%(year)04d-%(month)02d-%(day)02d{sep}%(hour)02d:%(minute)02d:%(second)02d",
    ),
    (
        Time,
        sqlite.TIME,
        re.compile(r"^\d{2}:\d{2}:\d{2}()$"),
        "%(hour)02d:%(minute)02d:%(second)02d",
    ),
)


def _match_sqlite_time_formats(engine: Engine, metadata: MetaData) -> None:
    with engine.connect() as connection:
        for table in metadata.tables.values():
            for column in table.columns:
                for generic, sqlite_type, pattern, storage in _WHOLE_SECONDS:
                    if not isinstance(column.type, generic):
                        continue
                    sample = connection.execute(
                        select(cast(column, String)).where(column.is_not(None)).limit(1)
                    ).scalar()
                    found = pattern.match(sample or "")
                    if found:
                        fmt = storage.replace("{sep}", found.group(1))
                        column.type = sqlite_type(storage_format=fmt)


def _mysql_spatial_columns(engine: Engine) -> dict[tuple[str | None, str, str], str]:
    """MariaDB/MySQL spatial columns, which reflection leaves untyped: {(None, table, column):
    their data type}."""
    if engine.dialect.name != "mysql":
        return {}
    with engine.connect() as connection:
        rows = connection.execute(
            select(text("TABLE_NAME"), text("COLUMN_NAME"), text("DATA_TYPE"))
            .select_from(text("information_schema.COLUMNS"))
            .where(text("TABLE_SCHEMA = DATABASE()"))
        ).all()
    return {
        (None, table, column): data_type
        for table, column, data_type in rows
        if str(data_type).lower() in MYSQL_SPATIAL
    }


def _mark_sqlite_keys_not_numbered(engine: Engine, metadata: MetaData) -> None:
    """Tell SQLAlchemy which single integer keys SQLite does not number.

    Only a rowid alias (``INTEGER PRIMARY KEY``, exactly) takes the next number when a row
    is inserted without it; ``INT PRIMARY KEY``, ``BIGINT PRIMARY KEY``, ``INTEGER PRIMARY KEY
    DESC`` and keys of WITHOUT ROWID tables are ordinary columns that store NULL. SQLAlchemy
    reflects them all alike, so the create form offered to leave the key empty and stored
    a NULL key. SQLite backs every primary key that is not the rowid with an index whose
    origin is "pk": that is the sure sign.
    """
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect() as connection:
        for table in metadata.tables.values():
            keys = list(table.primary_key.columns)
            if len(keys) != 1 or keys[0].autoincrement is False:
                continue
            indexes = connection.exec_driver_sql(f"PRAGMA index_list({quote(table.name)})")
            if any(row[3] == "pk" for row in indexes):
                keys[0].autoincrement = False


def _schemas(engine: Engine, inspector: Any) -> list[str | None]:
    """The schemas to show: the default one, plus every user schema on PostgreSQL."""
    if engine.dialect.name != "postgresql":
        return [None]
    default = inspector.default_schema_name
    others = [
        s for s in inspector.get_schema_names() if s != default and not _SYSTEM_SCHEMAS.match(s)
    ]
    return [None, *sorted(others)]


def _table_key(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def _map_plain(plain: registry, table: Table) -> type | None:
    """Map a table with a primary key to a bare class: columns only, no relationships."""
    if not table.primary_key.columns:
        return None
    cls = type(table.key, (), {"__doc__": f"Plain mapping of {table.key}"})
    try:
        plain.map_imperatively(cls, table)
    except Exception:  # noqa: BLE001 - leave it to the read-only Core fallback
        return None
    return cls


def _core_reason(table: Table, kind: str, mapping_problem: str | None) -> str:
    if kind != "table":
        return VIEW
    if not table.primary_key.columns:
        return NO_PRIMARY_KEY
    return (
        f"This table could not be mapped ({mapping_problem or 'unknown reason'}): it is read-only."
    )


def _automap(metadata: MetaData) -> tuple[dict[str, type], str | None]:
    """Map every table with a primary key; return {table key: class} and any problem met."""
    try:
        return _prepare(metadata, with_relationships=True), None
    except Exception as exc:  # noqa: BLE001 - any mapper error must degrade, not crash the app
        first = f"relationships could not be mapped: {exc}"
    try:
        return _prepare(metadata, with_relationships=False), first
    except Exception as exc:  # noqa: BLE001
        return {}, f"{first}; tables could not be mapped: {exc}"


def _prepare(metadata: MetaData, with_relationships: bool) -> dict[str, type]:
    base: Any = automap_base(metadata=metadata)
    names = _UniqueNames()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            base.prepare(
                classname_for_table=names.classname,
                name_for_scalar_relationship=names.scalar,
                name_for_collection_relationship=names.collection,
                generate_relationship=(
                    _view_only_relationship if with_relationships else lambda *args, **kw: None
                ),
            )
            base.registry.configure()
    except Exception:
        base.registry.dispose()
        raise
    return {cls.__table__.key: cls for cls in base.classes}


def _view_only_relationship(
    base: Any,
    direction: Any,
    return_fn: Callable[..., Any],
    attrname: str,
    local_cls: type,
    referred_cls: type,
    **kw: Any,
) -> Any:
    """Relationships for reading only: the database, not the ORM, decides what a delete does."""
    for option in ("cascade", "passive_deletes"):
        kw.pop(option, None)
    kw["viewonly"] = True
    return generate_relationship(
        base, direction, return_fn, attrname, local_cls, referred_cls, **kw
    )


class _UniqueNames:
    """Naming callbacks for automap that never hand out the same attribute name twice.

    Automap's defaults name every relationship after the target table, so a table with both a
    direct foreign key and a link table to the same target, or two foreign keys to one table,
    produce clashing names and automap raises. Here each name is checked against the class's
    columns and the names already given, and made specific when needed.
    """

    def __init__(self) -> None:
        self.used: dict[Any, set[str]] = {}
        self.class_names: set[str] = set()

    def classname(self, _base: Any, tablename: str, table: Table) -> str:
        name = table.key
        candidate, n = name, 1
        while candidate in self.class_names:
            n += 1
            candidate = f"{name}#{n}"
        self.class_names.add(candidate)
        return candidate

    def _claim(self, cls: type[Any], candidates: list[str]) -> str:
        used = self.used.setdefault(cls, {c.key for c in cls.__table__.columns})
        for candidate in candidates:
            if candidate not in used and safe_attribute(candidate):
                used.add(candidate)
                return candidate
        base, n = candidates[-1], 2
        if not safe_attribute(base):  # a name from a column or table such as "_x" or "metadata"
            base = f"rel_{base}"
        while f"{base}_{n}" in used:
            n += 1
        used.add(f"{base}_{n}")
        return f"{base}_{n}"

    def scalar(
        self,
        _base: Any,
        local_cls: type[Any],
        referred_cls: type[Any],
        constraint: ForeignKeyConstraint,
    ) -> str:
        target = referred_cls.__table__.name
        columns = [c.name for c in constraint.columns]
        candidates = []
        if len(columns) == 1:
            stripped = re.sub(r"_?id$", "", columns[0], flags=re.IGNORECASE)
            if stripped:
                candidates.append(stripped)
        candidates += [target, f"{target}_via_{'_'.join(columns)}"]
        return self._claim(local_cls, candidates)

    def collection(
        self,
        _base: Any,
        local_cls: type[Any],
        referred_cls: type[Any],
        constraint: ForeignKeyConstraint,
    ) -> str:
        target = referred_cls.__table__.name
        through = constraint.table.name
        candidates = [f"{target}_collection"]
        if through != target:  # a link table
            candidates.append(f"{target}_collection_via_{through}")
        candidates.append(f"{target}_collection_by_{'_'.join(c.name for c in constraint.columns)}")
        return self._claim(local_cls, candidates)


# --- entities -------------------------------------------------------------------------------


def _entity_name(table: Table) -> str:
    return _table_key(table.schema, table.name)


def _column_from_table(column: Any) -> Column:
    label, help_, hidden = modellogic.column_info(column)  # a plain MetaData's Column(info=)
    return Column(
        key=column.key,
        name=column.name,
        kind=kind_of(column.type),
        type=column.type,
        expression=column,
        nullable=bool(column.nullable),
        primary_key=bool(column.primary_key),
        computed=column.computed is not None,
        comment=column.comment,
        label=label,
        help=help_,
        hidden=hidden,
    )


def _entity_from_table(table: Table, kind: str, reason: str | None) -> Entity:
    columns = {c.key: _column_from_table(c) for c in table.columns}
    return Entity(
        name=_entity_name(table),
        schema=table.schema,
        table_name=table.name,
        kind=kind,
        columns=columns,
        primary_key=[c.key for c in table.primary_key.columns] if kind == "table" else [],
        selectable=table,
        read_only_reason=reason,
        label_keys=choose_label_keys(columns),
        comment=table.comment,
    )


def _entity_from_mapper(
    mapper: Mapper[Any], table: Table, kind: str, name: str | None = None, reason: str | None = None
) -> Entity:
    cls = mapper.class_
    columns: dict[str, Column] = {}
    for prop in mapper.column_attrs:
        columns[prop.key] = _column_from_property(mapper, prop)
    hybrids = _hybrid_columns(mapper)
    columns.update(hybrids)
    pk_keys = [mapper.get_property_by_column(c).key for c in mapper.primary_key]
    label_from_str = cls.__str__ is not object.__str__
    return Entity(
        name=name or _entity_name(table),
        schema=table.schema,
        table_name=table.name,
        kind=kind,
        columns=columns,
        primary_key=pk_keys,
        selectable=mapper.selectable,
        mapped_class=cls,
        relations=_relations(mapper),
        read_only_reason=reason,
        label_keys=[] if label_from_str else choose_label_keys(columns),
        label_from_str=label_from_str,
        derived=modellogic.derived_attributes(mapper, set(hybrids)),
        comment=table.comment,
    )


def _column_from_property(mapper: Mapper[Any], prop: Any) -> Column:
    """A mapped column, or a ``column_property`` over an expression (shown, never written),
    with what its ``info`` says; a custom TypeDecorator's column reads as its impl stores."""
    column = prop.columns[0]
    attribute = getattr(mapper.class_, prop.key)
    label, help_, hidden = modellogic.column_info(column, prop)
    stored = isinstance(column, SAColumn) and isinstance(column.table, Table)
    decorator = modellogic.custom_decorator(column.type)
    expression, type_ = attribute, column.type
    if decorator is not None:
        expression, type_ = modellogic.as_stored(attribute, decorator)
    return Column(
        key=prop.key,
        name=column.name if stored else prop.key,
        kind=kind_of(type_),
        type=type_,
        expression=expression,
        nullable=bool(column.nullable) if stored else True,
        primary_key=any(column is pk for pk in mapper.primary_key),
        computed=not stored or getattr(column, "computed", None) is not None,
        comment=column.comment if stored else None,
        label=label,
        help=help_,
        hidden=hidden,
        attribute=attribute if decorator is not None else None,
        decorator=decorator,
    )


def _hybrid_columns(mapper: Mapper[Any]) -> dict[str, Column]:
    """Hybrid properties whose class-level form is a SQL expression, as computed columns."""
    result: dict[str, Column] = {}
    for key, descriptor in mapper.all_orm_descriptors.items():
        if getattr(descriptor, "extension_type", None) is not HybridExtensionType.HYBRID_PROPERTY:
            continue
        if key.startswith("_"):
            continue  # private by Python convention: not for display
        try:
            expression = getattr(mapper.class_, key)
            type_ = modellogic.hybrid_type(descriptor, expression.type)
        except Exception:  # noqa: BLE001 - a Python-only hybrid: the row page shows it
            continue
        label, help_, _hidden = modellogic.column_info(descriptor)
        result[key] = Column(
            key=key,
            name=key,
            kind=kind_of(type_),
            type=type_,
            expression=expression,
            nullable=True,
            computed=True,
            label=label,
            help=help_,
        )
    return result


_DIRECTIONS = {
    RelationshipDirection.MANYTOONE: "many-to-one",
    RelationshipDirection.ONETOMANY: "one-to-many",
    RelationshipDirection.MANYTOMANY: "many-to-many",
}


def _relations(mapper: Mapper[Any]) -> dict[str, Relation]:
    relations: dict[str, Relation] = {}
    for prop in mapper.relationships:
        prop = _as_relationship(prop)
        target = prop.mapper
        direction = _DIRECTIONS[prop.direction]
        local_keys: list[str] = []
        target_keys: list[str] = []
        if direction != "many-to-many":
            for local, remote in prop.local_remote_pairs or ():
                local_keys.append(_key_for(mapper, local))
                target_keys.append(_key_for(target, remote))
        relations[prop.key] = Relation(
            name=prop.key,
            direction=direction,
            target=_pending_name(target),
            local_keys=local_keys,
            target_keys=target_keys,
            attribute=getattr(mapper.class_, prop.key),
        )
    return relations


def _as_relationship(prop: Any) -> RelationshipProperty[Any]:
    return prop


def _key_for(mapper: Mapper[Any], column: Any) -> str:
    try:
        return mapper.get_property_by_column(column).key
    except Exception:  # noqa: BLE001 - a column the mapper does not map: use its own key
        return str(column.key)


def _pending_name(mapper: Mapper[Any]) -> str:
    """Relations name their target by the mapped class; ``_resolve_targets`` rewrites it."""
    return f"\x00{id(mapper.class_)}"


def _resolve_targets(entities: dict[str, Entity]) -> None:
    by_class = {f"\x00{id(e.mapped_class)}": e.name for e in entities.values() if e.mapped_class}
    for entity in entities.values():
        for name, relation in list(entity.relations.items()):
            if relation.target in by_class:
                relation.target = by_class[relation.target]
            else:
                del entity.relations[name]  # a class outside the catalog: nothing to link to


def _add_core_relations(entities: dict[str, Entity]) -> None:
    """Resolve mapped targets, then add links for foreign keys no mapped relationship covers.

    Tables served without automap's relationships (link tables, tables without a primary key)
    still show their foreign keys as links, and their parents list them on the row page.
    """
    _resolve_targets(entities)
    by_table = {
        id(e.selectable): e
        for e in entities.values()
        if isinstance(e.selectable, Table) and e.kind == "table"
    }
    for entity in entities.values():
        if not isinstance(entity.selectable, Table):
            continue
        for constraint in entity.selectable.foreign_key_constraints:
            target = by_table.get(id(constraint.referred_table))
            if target is None:
                continue
            local_keys = [c.key for c in constraint.columns]
            target_keys = [_target_key(target, fk.column) for fk in constraint.elements]
            if _covered(entity, "many-to-one", target.name, local_keys):
                continue
            name = _unique(entity.relations, f"{target.table_name}_via_{'_'.join(local_keys)}")
            entity.relations[name] = Relation(
                name=name,
                direction="many-to-one",
                target=target.name,
                local_keys=local_keys,
                target_keys=target_keys,
            )
            if _covered(target, "one-to-many", entity.name, local_keys, on_target=True):
                continue
            # The way back, so the parent's row page lists these rows too.
            # Named after the referencing table; by its columns too when it points here twice.
            twice = (
                sum(
                    c.referred_table is constraint.referred_table
                    for c in entity.selectable.foreign_key_constraints
                )
                > 1
            )
            back = _unique(
                target.relations,
                f"{entity.table_name}_by_{'_'.join(local_keys)}" if twice else entity.table_name,
            )
            target.relations[back] = Relation(
                name=back,
                direction="one-to-many",
                target=entity.name,
                local_keys=target_keys,
                target_keys=local_keys,
            )


def _covered(
    entity: Entity, direction: str, target: str, keys: list[str], on_target: bool = False
) -> bool:
    """Whether a relation already links ``entity`` to ``target`` through these columns."""
    for relation in entity.relations.values():
        held = relation.target_keys if on_target else relation.local_keys
        if relation.direction == direction and relation.target == target and held == keys:
            return True
    return False


def _target_key(target: Entity, column: Any) -> str:
    for key, col in target.columns.items():
        if col.name == column.name and not col.computed:
            return key
    return str(column.key)


def _unique(existing: dict[str, Any], name: str) -> str:
    candidate, n = name, 1
    while candidate in existing:
        n += 1
        candidate = f"{name}_{n}"
    return candidate


def _sorted(entities: dict[str, Entity]) -> dict[str, Entity]:
    return dict(sorted(entities.items(), key=lambda item: (item[1].schema or "", item[0].lower())))


# --- the user's models -------------------------------------------------------------------------


def _from_models(models: sources.Models, engine: Engine) -> Catalog:
    assert models.registry is not None
    _configure(models.registry, "the models")
    entities: dict[str, Entity] = {}
    mapped_tables: set[int] = set()
    for mapper in sorted(models.mappers, key=lambda m: m.class_.__name__):
        table = mapper.local_table
        if not isinstance(table, Table):
            continue
        shares_table = mapper.inherits is not None and mapper.inherits.local_table is table
        name = mapper.class_.__name__ if shares_table else _entity_name(table)
        entities[name] = _entity_from_mapper(mapper, table, "table", name=name)
        mapped_tables.add(id(table))
    plain = registry()
    for table in models.metadata.sorted_tables:
        if id(table) in mapped_tables:
            continue
        cls = _map_plain(plain, table)  # a plain link table (``secondary=``), say
        entity = (
            _entity_from_mapper(inspect(cls), table, "table")
            if cls is not None
            else _entity_from_table(table, "table", NO_PRIMARY_KEY)
        )
        entities[entity.name] = entity
    _add_core_relations(entities)
    relnames.set_titles(entities, models=True)
    return Catalog(
        dialect=engine.dialect.name,
        entities=_sorted(entities),
        default_schema=inspect(engine).default_schema_name,
        mode="models",
    )
