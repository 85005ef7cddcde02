"""The row page: one row by its primary key, and previews of the rows related to it."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Select, and_, bindparam, false, inspect
from sqlalchemy.orm import Session, with_parent
from sqlalchemy.orm.attributes import set_committed_value

from ..catalog.model import Catalog, Entity, Relation
from ..core import keys
from ..core.values import to_text
from ..db import blobs
from ..db.errors import NotFound
from ..db.reads import read
from .counting import Count, capped_count
from .labels import LabelJoin, Refs, RowRef, label_columns, read_refs, refs_select, split_labelled
from .listing import SIZE_ONLY, base_select, selected

PREVIEW_ROWS = 5


def find_row(
    session: Session, entity: Entity, identity_text: str, joins: Sequence[LabelJoin] = ()
) -> tuple[tuple[Any, ...], dict[str, Any], Refs]:
    """Decode the identity and load the row, with the labels ``joins`` select of what it points
    at (``labels.label_joins``); NotFound for a malformed or missing key."""
    if not entity.primary_key:
        raise NotFound(f"{entity.name!r} has no primary key, so its rows have no pages")
    identity = decode_key(entity, identity_text)
    stmt = _row_select(entity, joins)
    row = read(session, stmt, {f"pk_{i}": v for i, v in enumerate(identity)}).first()
    if row is None:
        raise NotFound(f"no row {identity_text!r} in {entity.name!r}")
    (values,), refs = split_labelled(entity, joins, [row])
    return identity, values, refs


_ROW_SELECTS: weakref.WeakKeyDictionary[Entity, dict[tuple[int, ...], Select[Any]]] = (
    weakref.WeakKeyDictionary()
)


def _row_select(entity: Entity, joins: Sequence[LabelJoin]) -> Select[Any]:
    """The select of one row by its key (bound as ``pk_0``, ``pk_1``, …), built once per table
    and set of joins: reused, neither the statement nor its cache key is built per page."""
    by_joins = _ROW_SELECTS.setdefault(entity, {})
    shape = tuple(id(join) for join in joins)  # label_joins keeps its joins for the entity
    stmt = by_joins.get(shape)
    if stmt is None:
        pk_columns = [entity.columns[k] for k in entity.primary_key]
        stmt = by_joins[shape] = (
            base_select(entity, [selected(c) for c in entity.columns.values()])
            .where(and_(*[c.expression == bindparam(f"pk_{i}") for i, c in enumerate(pk_columns)]))
            .add_columns(*label_columns(joins))
        )
    return stmt


_PREVIEW_SELECTS: weakref.WeakKeyDictionary[Relation, Select[Any]] = weakref.WeakKeyDictionary()


def _preview_select(relation: Relation, target: Entity) -> Select[Any]:
    """The first related rows by the foreign key's values (bound as ``fk_0``, …), built once
    per relation, as ``_row_select`` is per table."""
    stmt = _PREVIEW_SELECTS.get(relation)
    if stmt is None:
        bound: list[BindParameter[Any]] = [
            bindparam(f"fk_{i}") for i in range(len(relation.target_keys))
        ]
        condition = _by_foreign_key(relation, target, bound)
        stmt = _PREVIEW_SELECTS[relation] = refs_select(target, condition, limit=PREVIEW_ROWS)
    return stmt


def _by_foreign_key(relation: Relation, target: Entity, values: Sequence[Any]) -> Any:
    """The target's rows whose foreign-key columns hold ``values`` (or bound parameters)."""
    return and_(*[target.columns[k].expression == v for k, v in zip(relation.target_keys, values)])


def decode_key(entity: Entity, identity_text: str) -> tuple[Any, ...]:
    """The typed primary-key values a URL segment names; NotFound when it cannot be decoded."""
    try:
        return keys.decode_identity(identity_text, [entity.columns[k] for k in entity.primary_key])
    except keys.MalformedKey as exc:
        raise NotFound(f"no row {identity_text!r} in {entity.name!r}: {exc}") from None


def _parent_for_with_parent(
    session: Session, entity: Entity, identity: tuple[Any, ...], row: dict[str, Any]
) -> Any:
    """An object of the row's class for ``with_parent``, holding the row's values.

    ``with_parent`` only reads the values the relationships join on, and the row page has
    already fetched them: the object is made from them (no ``__init__``, no validators, never
    added to the session) instead of loading the same row again. A row whose binary columns
    were fetched as sizes only is loaded, in case a relationship joins on one of them, with
    those columns deferred (read only if a relationship really does join on one).
    """
    mapper = inspect(entity.mapped_class)
    if any(c.kind in SIZE_ONLY for c in entity.columns.values()):
        return session.get(
            entity.mapped_class,  # type: ignore[arg-type]
            identity,
            options=blobs.deferred(entity),
        )
    parent = mapper.class_manager.new_instance()
    for column in entity.columns.values():
        if not column.computed:
            set_committed_value(parent, column.key, row[column.key])
    return parent


@dataclass
class RelatedPreview:
    relation: Relation
    target: Entity
    refs: list[RowRef]
    count: Count
    list_args: list[tuple[str, str]]  # query-string arguments of the full list


def related_previews(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    identity: tuple[Any, ...],
    row: dict[str, Any],
    cap: int,
) -> list[RelatedPreview]:
    """The first few related rows for every one-to-many and many-to-many relation."""
    previews = []
    parent = None
    for relation in entity.collections:
        target = catalog.entities.get(relation.target)
        if target is None:
            continue
        values = [row[k] for k in relation.local_keys]
        # Automap's one-to-many relationships join on their foreign key and nothing else, so
        # the key values say it all; a model's relationship may join on more (with_parent).
        by_keys = relation.direction == "one-to-many" and catalog.mode == "reflected"
        if relation.attribute is not None and not by_keys:
            if parent is None:
                parent = _parent_for_with_parent(session, entity, identity, row)
            condition = with_parent(parent, relation.attribute)
        elif None in values:  # a NULL key points at nothing (``= NULL`` would become IS NULL)
            condition = false()
        else:
            condition = None  # _preview_select's, with the values bound
        if relation.attribute is not None:
            via = ":".join(
                [
                    keys.encode(entity.name),
                    keys.encode(relation.name),
                    keys.encode_identity(identity, [entity.columns[k] for k in entity.primary_key]),
                ]
            )
            list_args = [("_via", via)]
        else:
            list_args = [(f"{k}__exact", to_text(v)) for k, v in zip(relation.target_keys, values)]
        if condition is None:
            stmt, params = (
                _preview_select(relation, target),
                {f"fk_{i}": v for i, v in enumerate(values)},
            )
        else:
            stmt, params = refs_select(target, condition, limit=PREVIEW_ROWS), None
        refs = [ref for _, ref in read_refs(session, target, stmt, params)]
        if len(refs) < PREVIEW_ROWS:
            count = Count(len(refs), exact=True)
        else:
            if condition is None:
                condition = _by_foreign_key(relation, target, values)
            first_column = [target.columns[k].expression for k in target.columns][:1]
            count = capped_count(session, base_select(target, first_column).where(condition), cap)
        previews.append(RelatedPreview(relation, target, refs, count, list_args))
    return previews
