"""Human labels for rows that other rows point at, never one query per row.

A list page of 50 orders shows each order's customer by name. Where the label comes from
columns, the page's own query selects it: ``label_joins`` builds one correlated subquery per
value it needs (once per table), ``label_columns`` adds them to a select and
``split_labelled`` reads them back from its rows. One
statement for the page, as a hand-written app would do it. Otherwise (a model's ``__str__``)
the customer ids are collected and looked up in a single ``IN`` query per relation
(``foreign_key_refs``).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, inspect, select, tuple_
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Session, raiseload

from ..catalog.model import Catalog, Entity, Relation
from ..core import keys
from ..db.reads import read


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
    session: Session,
    entity: Entity,
    stmt_filter: Any,
    limit: int | None = None,
    order: bool = True,
) -> list[tuple[dict[str, Any], RowRef]]:
    """Rows of ``entity`` matching a condition, each with its label and identity."""
    return read_refs(session, entity, refs_select(entity, stmt_filter, limit, order))


def refs_select(
    entity: Entity, stmt_filter: Any, limit: int | None = None, order: bool = True
) -> Select[Any]:
    """The statement ``refs_where`` runs: a caller that runs it often can build it once,
    with bound parameters in ``stmt_filter``, and hand it to ``read_refs``."""
    pk_columns = [entity.columns[k].expression for k in entity.primary_key]
    if entity.label_from_str and entity.mapped_class is not None:
        # raiseload: a __str__ that touches a relationship would cost one query per row;
        # such a label falls back to the label columns instead.
        stmt: Select[Any] = select(entity.mapped_class).options(raiseload("*"))
    else:
        wanted = {k: entity.columns[k] for k in [*entity.primary_key, *entity.label_keys]}
        stmt = select(*[c.expression.label(c.key) for c in wanted.values()]).select_from(
            entity.mapped_class if entity.mapped_class is not None else entity.selectable
        )
    stmt = stmt.where(stmt_filter)
    if order and pk_columns:
        stmt = stmt.order_by(*pk_columns)
    return stmt.limit(limit) if limit is not None else stmt


def read_refs(
    session: Session, entity: Entity, stmt: Select[Any], params: dict[str, Any] | None = None
) -> list[tuple[dict[str, Any], RowRef]]:
    """Run a ``refs_select`` statement: each row's values, label and identity."""
    pk_columns = [entity.columns[k] for k in entity.primary_key]
    result = []
    if entity.label_from_str and entity.mapped_class is not None:
        for obj in session.execute(stmt, params).scalars():
            values = {k: getattr(obj, k) for k, c in entity.columns.items() if not c.computed}
            identity = keys.row_identity(inspect(obj).identity or (), pk_columns)
            result.append((values, RowRef(_str_label(entity, obj, values), identity)))
        return result
    for row in read(session, stmt, params):
        values = dict(row._mapping)
        identity = (
            keys.row_identity([values[c.key] for c in pk_columns], pk_columns)
            if pk_columns
            else None
        )
        result.append((values, RowRef(label_of(entity, values), identity)))
    return result


Refs = dict[str, dict[tuple[Any, ...], RowRef]]  # relation name -> {foreign-key values: ref}


def _shown_relations(catalog: Catalog, entity: Entity) -> list[tuple[Relation, Entity]]:
    """The many-to-one relations whose references a page of ``entity`` labels."""
    found = []
    for relation in entity.many_to_one:
        target = catalog.entities.get(relation.target)
        if target is not None and all(k in entity.columns for k in relation.local_keys):
            found.append((relation, target))
    return found


def _needs_lookup(relation: Relation, target: Entity) -> bool:
    # Without label columns a reference to the target's key is labelled by that key.
    return bool(target.label_keys or target.label_from_str) or (
        relation.target_keys != target.primary_key
    )


@dataclass(frozen=True)
class LabelJoin:
    """A many-to-one relation whose target's label a list query selects alongside its rows.

    ``columns`` holds one correlated scalar subquery per target column in ``keys``: the keys
    the foreign key matches (never NULL when a row matched, so NULL means a dangling
    reference), then the target's primary key, then its label columns. The target is aliased
    inside them, so a table pointing at itself correlates to the outer row, not to itself.

    Subqueries rather than a join: a join's plan can change with the page's sort and filter
    (a hash join of every row before an unindexed sort), while a select-list subquery runs
    only for the rows kept. PostgreSQL postpones it past the sort when there is a LIMIT, and
    MariaDB and SQLite evaluate the select list of the rows they return (``EXPLAIN`` on the
    benchmark's 5M orders: 51 subquery loops for a 51-row page). They are also built once per
    table, where a subquery wrapped in a join was a quarter of a list page's Python time.
    """

    relation: Relation
    target: Entity
    columns: list[Any]
    keys: list[str]  # the target column keys of ``columns``, in order


_JOINS: weakref.WeakKeyDictionary[Entity, list[LabelJoin]] = weakref.WeakKeyDictionary()


def label_joins(catalog: Catalog, entity: Entity) -> list[LabelJoin]:
    """The label subqueries a list query of ``entity`` selects (built once per entity).

    Targets labelled by a model's ``__str__`` need their objects: ``foreign_key_refs`` loads
    those.
    """
    joins = _JOINS.get(entity)
    if joins is None:
        joins = []
        for relation, target in _shown_relations(catalog, entity):
            if target.label_from_str or not _needs_lookup(relation, target):
                continue
            alias = target.selectable.alias()
            keys = list(dict.fromkeys(relation.target_keys + target.primary_key))
            keys += [k for k in target.label_keys if k not in keys]
            aliased = {k: alias.corresponding_column(target.columns[k].expression) for k in keys}
            if any(c is None for c in aliased.values()):
                continue  # a column the alias cannot name: foreign_key_refs looks these up
            matches = and_(
                *[
                    aliased[k] == entity.columns[local].expression
                    for k, local in zip(relation.target_keys, relation.local_keys)
                ]
            )
            columns = [
                select(aliased[k])
                .where(matches)
                .limit(1)  # a key is unique; LIMIT keeps a non-unique target from failing
                .scalar_subquery()
                for k in keys
            ]
            joins.append(LabelJoin(relation, target, columns, keys))
        _JOINS[entity] = joins
    return joins


def label_columns(joins: Sequence[LabelJoin]) -> list[Any]:
    """What a select of ``entity``'s columns adds, after them, to read its labels."""
    return [column for join in joins for column in join.columns]


def split_labelled(
    entity: Entity, joins: Sequence[LabelJoin], fetched: Sequence[Sequence[Any]]
) -> tuple[list[dict[str, Any]], Refs]:
    """Rows of a select of ``entity``'s columns then ``label_columns(joins)``: each row's
    values by column key, and the references the label columns read."""
    width = len(entity.columns)
    rows = [dict(zip(entity.columns, row[:width])) for row in fetched]
    return rows, joined_refs(joins, rows, [row[width:] for row in fetched])


def joined_refs(
    joins: Sequence[LabelJoin], rows: Sequence[dict[str, Any]], joined: Sequence[Sequence[Any]]
) -> Refs:
    """The references of a page from its joined columns: ``joined[i]`` holds row i's values
    of every join's ``columns``, one join after the other."""
    refs: Refs = {}
    start = 0
    for join in joins:
        found: dict[tuple[Any, ...], RowRef] = {}
        end = start + len(join.columns)
        pk_columns = [join.target.columns[k] for k in join.target.primary_key]
        for values, extra in zip(rows, joined):
            key = tuple(values[k] for k in join.relation.local_keys)
            if key in found or extra[start] is None:  # seen, or no row matched: dangling
                continue
            target_values = dict(zip(join.keys, extra[start:end]))
            identity = (
                keys.row_identity([target_values[c.key] for c in pk_columns], pk_columns)
                if pk_columns
                else None
            )
            found[key] = RowRef(label_of(join.target, target_values), identity)
        refs[join.relation.name] = found
        start = end
    return refs


def foreign_key_refs(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    rows: Iterable[dict[str, Any]],
    skip: Iterable[str] = (),
) -> Refs:
    """For each many-to-one relation shown on the page (but those named in ``skip``, already
    read): {foreign-key values: RowRef}, one query per relation."""
    rows = list(rows)
    skipped = set(skip)
    result: Refs = {}
    for relation, target in _shown_relations(catalog, entity):
        if relation.name in skipped:
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
    if not _needs_lookup(relation, target):
        # Nothing to look up: the foreign key is the target's key and there is no label column.
        pk_columns = [target.columns[k] for k in target.primary_key]
        return {
            t: RowRef(", ".join(map(str, t)), keys.row_identity(t, pk_columns)) for t in key_tuples
        }
    columns = [target.columns[k].expression for k in relation.target_keys]
    found = refs_where(session, target, _key_match(columns, key_tuples), order=False)
    return {tuple(values[k] for k in relation.target_keys): ref for values, ref in found}


def refs_for_keys(
    session: Session, target: Entity, relation: Relation, key_tuples: Iterable[tuple[Any, ...]]
) -> dict[tuple[Any, ...], RowRef]:
    """The rows of ``target`` that these foreign-key values of ``relation`` point at, in one
    query (none when the key is its own label): {foreign-key values: RowRef}. For the labels
    of a list page's filters, which name rows the page may not show."""
    wanted = sorted({t for t in key_tuples if None not in t}, key=repr)
    return _refs_by_key(session, target, relation, wanted) if wanted else {}
