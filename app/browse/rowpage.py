"""The row page: one row by its primary key, and previews of the rows related to it."""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Select, and_, bindparam, false, inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, with_parent
from sqlalchemy.orm.attributes import set_committed_value

from ..catalog.labels import choose_summary_keys
from ..catalog.model import Catalog, Entity, Relation
from ..catalog.modellogic import from_stored, orm_identity
from ..core import keys
from ..core.formatting import is_midnight
from ..core.values import to_text
from ..db import blobs, timeouts
from ..db.errors import NotFound
from ..db.reads import read
from .counting import Count, capped_count
from .labels import (
    LabelJoin,
    Refs,
    RowRef,
    foreign_key_refs,
    joined_refs,
    label_columns,
    label_joins,
    read_refs,
    refs_select,
    split_labelled,
)
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


def _preview_select(catalog: Catalog, relation: Relation, target: Entity) -> Select[Any]:
    """The first related rows by the foreign key's values (bound as ``fk_0``, …), built once
    per relation, as ``_row_select`` is per table."""
    stmt = _PREVIEW_SELECTS.get(relation)
    if stmt is None:
        bound: list[BindParameter[Any]] = [
            bindparam(f"fk_{i}") for i in range(len(relation.target_keys))
        ]
        condition = _by_foreign_key(relation, target, bound)
        stmt = _PREVIEW_SELECTS[relation] = _previews_of(catalog, relation, target, condition)
    return stmt


@dataclass(frozen=True)
class _Description:
    """How previews describe rows of a table no column names: by what they point at (but
    the row the page shows) and a date and a quantity of their own."""

    keys: list[str]  # the columns selected, then each join's columns
    summary: list[str]
    joins: list[LabelJoin]
    looked_up: list[Relation]  # references labelled by a model's __str__: looked up after
    with_key: bool  # the key says something the references do not (it is not all theirs)


_DESCRIPTIONS: weakref.WeakKeyDictionary[Relation, _Description | None] = (
    weakref.WeakKeyDictionary()
)


def _description(catalog: Catalog, relation: Relation, target: Entity) -> _Description | None:
    """None when the target's own label serves (a name column, a model's ``__str__``)."""
    if relation in _DESCRIPTIONS:
        return _DESCRIPTIONS[relation]
    found = None
    if not target.label_keys and not target.label_from_str and target.primary_key:
        back = relation.target_keys if relation.direction == "one-to-many" else []
        joins = [j for j in label_joins(catalog, target) if j.relation.local_keys != back]
        looked_up = [
            r
            for r in target.many_to_one
            if r.local_keys != back
            and r.target in catalog.entities
            and catalog.entities[r.target].label_from_str
        ]
        held = {k for r in target.many_to_one for k in r.local_keys}
        summary = choose_summary_keys(target.columns, held)
        keys = [*target.primary_key, *summary]
        for referring in [*(j.relation for j in joins), *looked_up]:
            keys += [k for k in referring.local_keys if k not in keys]
        with_key = not (joins or looked_up) or not set(target.primary_key) <= held
        found = _Description(keys, summary, joins, looked_up, with_key)
    _DESCRIPTIONS[relation] = found
    return found


def _previews_of(
    catalog: Catalog, relation: Relation, target: Entity, condition: Any
) -> Select[Any]:
    described = _description(catalog, relation, target)
    if described is None:
        return refs_select(target, condition, limit=PREVIEW_ROWS)
    columns = [target.columns[k].expression.label(k) for k in described.keys]
    pk_columns = [target.columns[k].expression for k in target.primary_key]
    return (
        base_select(target, columns)
        .where(condition)
        .order_by(*pk_columns)
        .limit(PREVIEW_ROWS)
        .add_columns(*label_columns(described.joins))
    )


def _summary_text(value: Any) -> str:
    if is_midnight(value):
        return str(value.date())
    return to_text(value)


def _read_previews(
    session: Session,
    catalog: Catalog,
    relation: Relation,
    target: Entity,
    stmt: Select[Any],
    params: dict[str, Any] | None,
) -> list[RowRef]:
    described = _description(catalog, relation, target)
    if described is None:
        return [ref for _, ref in read_refs(session, target, stmt, params)]
    fetched = read(session, stmt, params).all()
    width = len(described.keys)
    rows = [dict(zip(described.keys, row[:width])) for row in fetched]
    refs = joined_refs(described.joins, rows, [row[width:] for row in fetched])
    if described.looked_up and rows:
        wanted = {r.name for r in described.looked_up}
        others = [r.name for r in target.many_to_one if r.name not in wanted]
        refs.update(foreign_key_refs(session, catalog, target, rows, skip=others))
    referring = [*(j.relation for j in described.joins), *described.looked_up]
    pk_columns = [target.columns[k] for k in target.primary_key]
    previews = []
    for values in rows:
        parts = []
        for reference in referring:
            found = refs.get(reference.name, {})
            ref = found.get(tuple(values[k] for k in reference.local_keys))
            if ref is not None:
                parts.append(ref.label)
        parts += [_summary_text(values[k]) for k in described.summary if values[k] is not None]
        key = ", ".join(to_text(values[k]) for k in target.primary_key)
        label = " · ".join([key, *parts] if described.with_key or not parts else parts)
        identity = keys.row_identity([values[k] for k in target.primary_key], pk_columns)
        previews.append(RowRef(label, identity))
    return previews


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
    dialect = session.get_bind().dialect.name
    if any(c.kind in SIZE_ONLY for c in entity.columns.values()):
        return session.get(
            entity.mapped_class,  # type: ignore[arg-type]
            orm_identity(entity, identity, dialect),
            options=blobs.deferred(entity),
        )
    parent = mapper.class_manager.new_instance()
    for column in entity.columns.values():
        if not column.computed:
            value = row[column.key]
            if column.decorator is not None:  # read as stored; the object holds Python's value
                value = from_stored(column.decorator, value, dialect)
            set_committed_value(parent, column.key, value)
    return parent


@dataclass
class RelatedPreview:
    relation: Relation
    target: Entity
    refs: list[RowRef]
    count: Count | None  # None: not read in time (``late``)
    list_args: list[tuple[str, str]]  # query-string arguments of the full list
    late: bool = False  # reading them ran out of time: the page links to the list instead


def related_previews(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    identity: tuple[Any, ...],
    row: dict[str, Any],
    cap: int,
    seconds: float,
) -> list[RelatedPreview]:
    """The first few related rows for every one-to-many and many-to-many relation.

    A relation whose rows take longer than the statement limit ``seconds`` (a foreign key no
    index serves, on a big table) is marked ``late`` and the others are still read. The
    relations together get twice the limit: one slow relation leaves the fast ones time, and
    once it is spent the rest are marked late unread, so the previews never take more than
    about three limits however many relations are slow (no limit: ``seconds`` 0).
    """
    previews = []
    parent: list[Any] = []  # the object ``with_parent`` needs, made once when first needed
    deadline = time.monotonic() + 2 * seconds if seconds > 0 else float("inf")
    for relation in entity.collections:
        target = catalog.entities.get(relation.target)
        if target is None:
            continue
        values = [row[k] for k in relation.local_keys]
        list_args = _list_args(entity, identity, relation, values)
        late = RelatedPreview(relation, target, [], None, list_args, late=True)
        if time.monotonic() >= deadline:
            previews.append(late)
            continue
        try:
            refs, count = _related_rows(
                session, catalog, entity, identity, row, relation, target, values, cap, parent
            )
        except DBAPIError as exc:
            if not timeouts.is_timeout(exc):
                raise
            session.rollback()  # PostgreSQL aborts the transaction on a cancelled statement
            parent.clear()  # made in that transaction
            previews.append(late)
            continue
        previews.append(RelatedPreview(relation, target, refs, count, list_args))
    return previews


def late_message(previews: list[RelatedPreview], seconds: float) -> str | None:
    """What the row page says of the relations it could not read in time, if any."""
    late = [p.relation.title for p in previews if p.late]
    if not late:
        return None
    return (
        f"Reading the rows of {', '.join(late)} took longer than the {seconds:g} s time limit, "
        "so they are not shown: their lists may be slow too. An index on their foreign key "
        "would make it fast."
    )


def _list_args(
    entity: Entity, identity: tuple[Any, ...], relation: Relation, values: list[Any]
) -> list[tuple[str, str]]:
    """The arguments of the list page showing all the related rows."""
    if relation.attribute is not None:
        via = ":".join(
            [
                keys.encode(entity.name),
                keys.encode(relation.name),
                keys.encode_identity(identity, [entity.columns[k] for k in entity.primary_key]),
            ]
        )
        return [("_via", via)]
    return [(f"{k}__exact", to_text(v)) for k, v in zip(relation.target_keys, values)]


def _related_rows(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    identity: tuple[Any, ...],
    row: dict[str, Any],
    relation: Relation,
    target: Entity,
    values: list[Any],
    cap: int,
    parent: list[Any],
) -> tuple[list[RowRef], Count]:
    """One relation's first rows and their count (capped at ``cap``)."""
    # Automap's one-to-many relationships join on their foreign key and nothing else, so
    # the key values say it all; a model's relationship may join on more (with_parent).
    by_keys = relation.direction == "one-to-many" and catalog.mode == "reflected"
    if relation.attribute is not None and not by_keys:
        if not parent:
            parent.append(_parent_for_with_parent(session, entity, identity, row))
        condition = with_parent(parent[0], relation.attribute)
    elif None in values:  # a NULL key points at nothing (``= NULL`` would become IS NULL)
        condition = false()
    else:
        condition = None  # _preview_select's, with the values bound
    if condition is None:
        stmt, params = (
            _preview_select(catalog, relation, target),
            {f"fk_{i}": v for i, v in enumerate(values)},
        )
    else:
        stmt, params = _previews_of(catalog, relation, target, condition), None
    refs = _read_previews(session, catalog, relation, target, stmt, params)
    if len(refs) < PREVIEW_ROWS:
        return refs, Count(len(refs), exact=True)
    if condition is None:
        condition = _by_foreign_key(relation, target, values)
    first_column = [target.columns[k].expression for k in target.columns][:1]
    count = capped_count(session, base_select(target, first_column).where(condition), cap)
    return refs, count
