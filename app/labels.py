"""Human labels for rows that other rows point at, fetched one query per relation.

A list page of 50 orders shows each order's customer by name: the customer ids on the page are
collected and looked up in a single ``IN`` query, never one query per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, inspect, select, tuple_
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Session, raiseload

from . import keys
from .catalog.model import Catalog, Entity, Relation


@dataclass(frozen=True)
class RowRef:
    """A link target: the row's label and its encoded identity (None if it has no key)."""

    label: str
    identity: str | None


def label_of(entity: Entity, values: dict[str, Any]) -> str:
    """Label a row from its label columns, falling back to its key."""
    parts = [str(values[k]) for k in entity.label_keys if values.get(k) not in (None, "")]
    if parts:
        return " ".join(parts)
    return ", ".join(str(values.get(k)) for k in entity.primary_key) or "(row)"


def ref_for(
    refs: dict[str, dict[tuple[Any, ...], RowRef]], relation: Relation, values: dict[str, Any]
) -> RowRef | None:
    """The looked-up reference for a row's foreign key, or None when it points at nothing."""
    return refs.get(relation.name, {}).get(tuple(values[k] for k in relation.local_keys))


def _str_label(entity: Entity, obj: Any, values: dict[str, Any]) -> str:
    try:
        return str(obj)
    except InvalidRequestError:  # the model's __str__ wanted a relationship (raiseload)
        return label_of(entity, values)


def _key_match(columns: Sequence[Any], key_tuples: list[tuple[Any, ...]]) -> Any:
    if len(columns) == 1:
        return columns[0].in_([t[0] for t in key_tuples])
    return tuple_(*columns).in_(key_tuples)


def refs_where(
    session: Session, entity: Entity, stmt_filter: Any, limit: int | None = None, order: bool = True
) -> list[tuple[dict[str, Any], RowRef]]:
    """Rows of ``entity`` matching a condition, each with its label and identity."""
    pk_columns = [entity.columns[k] for k in entity.primary_key]
    if entity.label_from_str and entity.mapped_class is not None:
        # raiseload: a __str__ that touches a relationship would cost one query per row;
        # such a label falls back to the label columns instead.
        stmt: Select[Any] = select(entity.mapped_class).options(raiseload("*")).where(stmt_filter)
        if order:
            stmt = stmt.order_by(*[c.expression for c in pk_columns])
        if limit is not None:
            stmt = stmt.limit(limit)
        result = []
        for obj in session.execute(stmt).scalars():
            values = {k: getattr(obj, k) for k, c in entity.columns.items() if not c.computed}
            identity = keys.encode_identity(inspect(obj).identity or (), pk_columns)
            result.append((values, RowRef(_str_label(entity, obj, values), identity)))
        return result
    wanted = {c.key: c for c in pk_columns}
    wanted.update({k: entity.columns[k] for k in entity.label_keys})
    stmt = (
        select(*[c.expression.label(c.key) for c in wanted.values()])
        .select_from(entity.mapped_class if entity.mapped_class is not None else entity.selectable)
        .where(stmt_filter)
    )
    if order and pk_columns:
        stmt = stmt.order_by(*[c.expression for c in pk_columns])
    if limit is not None:
        stmt = stmt.limit(limit)
    result = []
    for row in session.execute(stmt):
        values = dict(row._mapping)
        identity = (
            keys.encode_identity([values[c.key] for c in pk_columns], pk_columns)
            if pk_columns
            else None
        )
        result.append((values, RowRef(label_of(entity, values), identity)))
    return result


def foreign_key_refs(
    session: Session, catalog: Catalog, entity: Entity, rows: Iterable[dict[str, Any]]
) -> dict[str, dict[tuple[Any, ...], RowRef]]:
    """For each many-to-one relation shown on the page: {foreign-key values: RowRef}."""
    rows = list(rows)
    result: dict[str, dict[tuple[Any, ...], RowRef]] = {}
    for relation in entity.many_to_one:
        target = catalog.entities.get(relation.target)
        if target is None or not all(k in entity.columns for k in relation.local_keys):
            continue
        wanted = {tuple(row[k] for k in relation.local_keys) for row in rows}
        wanted = {t for t in wanted if None not in t}
        if wanted:
            result[relation.name] = _refs_by_key(
                session, target, relation, sorted(wanted, key=repr)
            )
    return result


def _refs_by_key(
    session: Session, target: Entity, relation: Relation, key_tuples: list[tuple[Any, ...]]
) -> dict[tuple[Any, ...], RowRef]:
    if (
        not (target.label_keys or target.label_from_str)
        and relation.target_keys == target.primary_key
    ):
        # Nothing to look up: the foreign key is the target's key and there is no label column.
        pk_columns = [target.columns[k] for k in target.primary_key]
        return {
            t: RowRef(", ".join(map(str, t)), keys.encode_identity(t, pk_columns))
            for t in key_tuples
        }
    columns = [target.columns[k].expression for k in relation.target_keys]
    found = refs_where(session, target, _key_match(columns, key_tuples), order=False)
    return {tuple(values[k] for k in relation.target_keys): ref for values, ref in found}
