"""What a user's model says beyond its table: read by discovery for each mapped class.

- ``info={"label": ..., "help": ..., "hidden": True}`` on a column (or a ``column_property``);
- a custom ``TypeDecorator``: the dashboard reads, filters, sorts and types its values as the
  ``impl`` stores them, so what is typed is what is stored and what is shown;
- hybrids without a SQL form and association proxies: values only Python can compute, shown
  read-only on the row page (``Derived``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import typing
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import inspect, type_coerce
from sqlalchemy import types as sat
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.associationproxy import AssociationProxyExtensionType
from sqlalchemy.ext.hybrid import HybridExtensionType
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.types import TypeDecorator, TypeEngine

from .model import Derived, Entity

_OWN_PACKAGE = __name__.split(".")[0]


def column_info(*holders: Any) -> tuple[str | None, str | None, bool]:
    """(label, help, hidden) from the ``info`` of a column and its property (the last wins)."""
    info: dict[str, Any] = {}
    for holder in holders:
        info.update(getattr(holder, "info", None) or {})
    label, help_ = info.get("label"), info.get("help")
    return (
        str(label) if label else None,
        str(help_) if help_ else None,
        bool(info.get("hidden")),
    )


def custom_decorator(type_: TypeEngine[Any]) -> TypeDecorator[Any] | None:
    """The type when it is a model's own TypeDecorator (not one of SQLAlchemy's or ours)."""
    if not isinstance(type_, TypeDecorator):
        return None
    module = type(type_).__module__
    if module.startswith("sqlalchemy.") or module.split(".")[0] == _OWN_PACKAGE:
        return None
    return type_


def as_stored(attribute: Any, decorator: TypeDecorator[Any]) -> tuple[Any, TypeEngine[Any]]:
    """The expression that reads ``attribute`` as its impl stores it, and the impl type."""
    impl = decorator.impl_instance
    return type_coerce(attribute, impl), impl


def _dialect(name: str) -> Dialect:
    try:
        return make_url(f"{name}://").get_dialect()()
    except Exception:  # noqa: BLE001 - an unknown name: the generic dialect serves
        from sqlalchemy.engine.default import DefaultDialect

        return DefaultDialect()


def to_stored(decorator: TypeDecorator[Any], value: Any, dialect: str) -> Any:
    """A Python value as the decorator hands it to its impl."""
    if value is None:
        return None
    try:
        return decorator.process_bind_param(value, _dialect(dialect))
    except NotImplementedError:
        return value


def from_stored(decorator: TypeDecorator[Any], value: Any, dialect: str) -> Any:
    """A value of the impl as the decorator gives it to Python (what the ORM then writes)."""
    if value is None:
        return None
    try:
        return decorator.process_result_value(value, _dialect(dialect))
    except NotImplementedError:
        return value


def stored_identity(entity: Entity, identity: Sequence[Any], dialect: str) -> tuple[Any, ...]:
    """An ORM identity as the database stores the key: a custom TypeDecorator's Python value
    goes back through it. Pages, URLs, reads by ``Column.expression`` and the audit log all
    name a row by its stored key; the ORM's identity map by the Python values."""
    columns = [entity.columns[k] for k in entity.primary_key]
    return tuple(
        to_stored(c.decorator, v, dialect) if c.decorator is not None else v
        for c, v in zip(columns, identity)
    )


def orm_identity(entity: Entity, identity: Sequence[Any], dialect: str) -> tuple[Any, ...]:
    """A stored key as the ORM's identity (``session.get``), the reverse of ``stored_identity``."""
    columns = [entity.columns[k] for k in entity.primary_key]
    return tuple(
        from_stored(c.decorator, v, dialect) if c.decorator is not None else v
        for c, v in zip(columns, identity)
    )


def identity_of(session: Session, entity: Entity, obj: Any) -> tuple[Any, ...]:
    """The stored key of a loaded or just-flushed ORM object."""
    identity = inspect(obj).identity
    assert identity is not None, "an object without an identity: not flushed"
    return stored_identity(entity, identity, session.get_bind().dialect.name)


_BY_ANNOTATION: dict[Any, type[TypeEngine[Any]]] = {
    bool: sat.Boolean,
    int: sat.Integer,
    float: sat.Float,
    decimal.Decimal: sat.Numeric,
    str: sat.String,
    dt.datetime: sat.DateTime,
    dt.date: sat.Date,
    dt.time: sat.Time,
    dt.timedelta: sat.Interval,
    uuid.UUID: sat.Uuid,
}


def hybrid_type(descriptor: Any, expression_type: TypeEngine[Any]) -> TypeEngine[Any]:
    """A hybrid's SQL type; when its expression has none (``func.length(a) + ...`` is
    untyped), the type its getter's return annotation names (``-> int``), as ``Mapped[int]``
    would give a column."""
    if not isinstance(expression_type, sat.NullType):
        return expression_type
    try:
        returned = typing.get_type_hints(descriptor.fget).get("return")
    except Exception:  # noqa: BLE001 - an annotation that cannot be resolved: untyped
        return expression_type
    found = _BY_ANNOTATION.get(returned)
    return found() if found is not None else expression_type


def derived_attributes(mapper: Mapper[Any], sql_keys: set[str]) -> list[Derived]:
    """Hybrids without a SQL form (``sql_keys`` are those with one) and association proxies."""
    found = []
    for key, descriptor in mapper.all_orm_descriptors.items():
        if key.startswith("_") or key in sql_keys:
            continue
        kind = getattr(descriptor, "extension_type", None)
        if kind is HybridExtensionType.HYBRID_PROPERTY:
            found.append(Derived(key=key, kind="hybrid"))
        elif kind is AssociationProxyExtensionType.ASSOCIATION_PROXY:
            relation = getattr(descriptor, "target_collection", None)
            found.append(Derived(key=key, kind="proxy", relation=relation))
    return found
