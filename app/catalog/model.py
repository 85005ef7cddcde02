"""The catalog's description of a database: plain objects that the rest of the app reads.

Discovery (automap or the user's models) fills these in once; listing, the row page, filters
and templates only ever look at an ``Entity``, never at reflection or mapper internals, so the
two ways of describing a database serve the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import Column as SAColumn
from sqlalchemy.orm import ColumnProperty, InstrumentedAttribute
from sqlalchemy.types import TypeEngine


@dataclass(eq=False)
class Column:
    key: str  # the attribute key: what URLs, filters and sorts name
    name: str  # the name in the database (or of the hybrid property)
    kind: str  # see catalog.types
    type: TypeEngine[Any]
    expression: Any  # the ORM attribute or Core column statements select and filter on
    nullable: bool = True
    primary_key: bool = False
    computed: bool = False  # a hybrid property or generated column: shown, never written
    comment: str | None = None
    # False when the database has no "=" a typed-in value can use on this column's type
    # (PostgreSQL's point, xml, json, composite types): only null tests can filter it.
    equatable: bool = True
    # What the model's ``info={...}`` says: a label for people, help text, and "hidden" (the
    # author's "never show this", a password hash: narrow.py leaves it out of every page).
    label: str | None = None
    help: str | None = None
    hidden: bool = False
    # A custom TypeDecorator column is read, filtered and sorted as its ``impl`` stores it
    # (``expression`` is then the attribute coerced to ``type``, the impl); ``attribute`` is
    # the ORM attribute writes go through and ``decorator`` the model's own type.
    attribute: Any = None
    decorator: Any = None

    @property
    def title(self) -> str:
        """How pages name the column: the model's label, else its name."""
        return self.label or self.name

    @cached_property  # compiling a type to its name costs as much as rendering a cell
    def type_name(self) -> str:
        try:
            return str(self.type)
        except Exception:  # some dialect types cannot render without a dialect
            return type(self.type).__name__


def core_columns(column: Column) -> list[Any]:
    """The table columns behind a catalog column (several for an inherited key), or [] for
    one computed by a SQL expression (a hybrid, a ``column_property``)."""
    expression = column.attribute if column.attribute is not None else column.expression
    if isinstance(expression, InstrumentedAttribute):
        prop = expression.property
        if not isinstance(prop, ColumnProperty):
            return []
        # a column_property over an expression (a Label) is computed, not stored
        return [c for c in prop.columns if isinstance(c, SAColumn)]
    return [expression] if isinstance(expression, SAColumn) else []


@dataclass(eq=False)
class Relation:
    """A link from one entity to another, as the mapper (or a foreign key) describes it."""

    name: str
    direction: str  # "many-to-one", "one-to-many" or "many-to-many"
    target: str  # the target entity's name in the catalog
    local_keys: list[str]  # many-to-one: this entity's column keys holding the foreign key
    target_keys: list[str]  # the target's column keys they point at (or, one-to-many, hold it)
    attribute: Any = None  # the ORM relationship attribute, when mapped
    label: str | None = None  # for people (``relnames``): "Invoices" for Invoice_collection

    @property
    def title(self) -> str:
        """How pages name the relation; ``name`` stays its key in URLs and query specs."""
        return self.label or self.name


@dataclass(eq=False)
class Derived:
    """A value the model computes in Python, shown read-only on the row page: a hybrid
    property without a SQL form, or an association proxy (shown as a list of labels)."""

    key: str
    kind: str  # "hybrid" or "proxy"
    relation: str | None = None  # a proxy's relationship: gone with it when narrowed


@dataclass(eq=False)
class Entity:
    """A table or view the dashboard can list."""

    name: str  # unique in the database; "schema.table" outside the default schema
    schema: str | None
    table_name: str
    kind: str  # "table", "view" or "materialized view"
    columns: dict[str, Column]
    primary_key: list[str]
    selectable: Any  # the Core Table (or the mapper's selectable)
    mapped_class: type | None = None
    relations: dict[str, Relation] = field(default_factory=dict)
    read_only_reason: str | None = None
    label_keys: list[str] = field(default_factory=list)  # columns that make a readable label
    label_from_str: bool = False  # the model defines __str__: labels come from loaded objects
    derived: list[Derived] = field(default_factory=list)
    comment: str | None = None

    @property
    def read_only(self) -> bool:
        return self.read_only_reason is not None

    @property
    def many_to_one(self) -> list[Relation]:
        return [r for r in self.relations.values() if r.direction == "many-to-one"]

    @property
    def collections(self) -> list[Relation]:
        return [r for r in self.relations.values() if r.direction != "many-to-one"]

    def foreign_key_for(self, column_key: str) -> Relation | None:
        """The many-to-one relation a column is the (first) foreign-key column of, if any."""
        for relation in self.many_to_one:
            if relation.local_keys and relation.local_keys[0] == column_key:
                return relation
        return None

    @property
    def text_columns(self) -> list[Column]:
        return [c for c in self.columns.values() if c.kind in ("text", "enum") and not c.computed]


@dataclass(eq=False)
class Catalog:
    """Everything known about one database's schema."""

    dialect: str
    entities: dict[str, Entity]
    default_schema: str | None
    mode: str  # "reflected" or "models"
    warnings: list[str] = field(default_factory=list)

    @property
    def several_schemas(self) -> bool:
        return len({e.schema for e in self.entities.values()}) > 1
