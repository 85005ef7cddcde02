"""Column kinds: one coarse category per SQLAlchemy type, found by walking the type's MRO.

Everything type-dependent (which filter operators apply, how a URL value is converted, how a
cell is shown, whether a column can be sorted) keys on the kind, so a new type is supported by
adding one line here rather than a branch in every module.
"""

from __future__ import annotations

from sqlalchemy import types as sat
from sqlalchemy.sql import sqltypes
from sqlalchemy.types import TypeEngine

# Checked in order against the type's MRO; Enum and Boolean come before String and Integer
# because they subclass them in some dialects.
_KINDS: tuple[tuple[type, str], ...] = (
    (sat.Enum, "enum"),
    (sat.Boolean, "boolean"),
    (sat.Interval, "interval"),
    (sqltypes._AbstractInterval, "interval"),  # PostgreSQL's INTERVAL derives only from this
    (sat.DateTime, "datetime"),
    (sat.Date, "date"),
    (sat.Time, "time"),
    (sat.Float, "float"),
    (sat.Integer, "integer"),
    (sat.Numeric, "numeric"),
    (sat.Uuid, "uuid"),
    (sat.JSON, "json"),
    (sat.ARRAY, "array"),
    (sat.String, "text"),
    (sat._Binary, "binary"),
    (sat.NullType, "unknown"),
)

# Kinds whose values compare with < and > in every supported database.
ORDERABLE = {
    "integer",
    "numeric",
    "float",
    "date",
    "datetime",
    "time",
    "interval",
    "text",
    "enum",
    "boolean",
    "uuid",
    "binary",
}
TEXT_LIKE = {"text", "enum"}


def unwrap(type_: TypeEngine) -> TypeEngine:
    """Look through TypeDecorators (and variants) to the type the database stores."""
    while isinstance(type_, sat.TypeDecorator):
        type_ = type_.impl_instance
    return type_


def kind_of(type_: TypeEngine) -> str:
    """Name the kind of a column type; unknown and dialect-only types fall back sensibly."""
    # Interval is itself a TypeDecorator (over DateTime on most databases), so the outer
    # layers are checked before the stored type.
    layer = type_
    while True:
        for cls in type(layer).__mro__:
            for sa_type, kind in _KINDS:
                if cls is sa_type:
                    return kind
        if not isinstance(layer, sat.TypeDecorator):
            break
        layer = layer.impl_instance
    base = layer
    # MySQL's YEAR and similar dialect types that subclass nothing generic.
    if type(base).__name__ == "YEAR":
        return "integer"
    return "other"
