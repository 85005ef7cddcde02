"""Choices for foreign-key and many-to-many fields, without ever loading a large table.

A target table with at most ``SMALL_TARGET`` rows becomes a select of labelled rows (one capped
count, then one query). A larger one becomes a search-as-you-type input: the form shows only
the label of the current value, and ``search`` answers the lookup endpoint with at most
``limit`` rows matching the typed text in the target's label columns (or its key).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, literal, or_, select, true
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, with_parent

from .. import keys, timeouts
from ..catalog.model import Catalog, Entity
from ..counting import EstimateMemo, cached_table_estimate, entity_count
from ..filters import search_condition
from ..forms.builder import FormSpec
from ..forms.fields import UNSET, ForeignKeyField, RelatedField
from ..labels import Refs, label_of, refs_where
from ..reads import read
from ..values import from_text, to_text

SMALL_TARGET = 100
LOOKUP_LIMIT = 20


def _from(entity: Entity) -> Any:
    return entity.mapped_class if entity.mapped_class is not None else entity.selectable


def is_small(session: Session, catalog: Catalog, entity: Entity, estimates: EstimateMemo) -> bool:
    """At most ``SMALL_TARGET`` rows: counted as the home page counts (``entity_count``), from
    the database's estimate, remembered per database for a minute, where one is far above."""
    estimate = cached_table_estimate(session, catalog, entity, estimates)
    return entity_count(session, entity, estimate, SMALL_TARGET).exact


def _options(
    session: Session,
    target: Entity,
    value_key: str,
    condition: ColumnElement[bool],
    limit: int | None,
) -> list[tuple[str, str, str | None]]:
    """(value as text, label, identity) for the target rows matching ``condition``."""
    if value_key in target.primary_key or target.label_from_str:
        found = refs_where(session, target, condition, limit=limit)
        if all(value_key in values for values, _ in found):
            return [(to_text(values[value_key]), ref.label, ref.identity) for values, ref in found]
    # The key is not the primary key: select it beside the label columns.
    wanted = list(dict.fromkeys([value_key, *target.primary_key, *target.label_keys]))
    stmt = (
        select(*[target.columns[k].expression.label(k) for k in wanted])
        .select_from(_from(target))
        .where(condition)
        .order_by(*[target.columns[k].expression for k in target.primary_key])
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    result = []
    for row in read(session, stmt):
        values = dict(row._mapping)
        identity = keys.identity_of(target, values)
        result.append((to_text(values[value_key]), label_of(target, values), identity))
    return result


# (foreign-key column key, its value) -> the label of the row it points at, None if none.
KnownLabels = dict[tuple[str, Any], str | None]


def known_labels(entity: Entity, values: dict[str, Any], refs: Refs) -> KnownLabels:
    """The labels a row's page query already read (``labels.joined_refs``), by column."""
    known: KnownLabels = {}
    for column_key, value in values.items():
        relation = entity.foreign_key_for(column_key)
        if value is None or relation is None or relation.name not in refs:
            continue
        if len(relation.local_keys) == 1:
            ref = refs[relation.name].get((value,))
            known[(column_key, value)] = ref.label if ref is not None else None
    return known


def fill_choices(
    session: Session,
    catalog: Catalog,
    spec: FormSpec,
    form: Any,
    estimates: EstimateMemo,
    known: KnownLabels,
) -> None:
    """Give each foreign-key and many-to-many field its choices (small targets) and the label
    of its current value, unless ``known`` holds it. ``estimates`` is the database's memo of
    row estimates (``counting.cached_table_estimate``)."""
    small: dict[str, bool] = {}  # per target name, checked once per form
    for column in spec.columns:
        field = spec.field(form, column.key)
        if not isinstance(field, ForeignKeyField) or column.target is None:
            continue
        target, value_key = column.target, column.target_key
        assert value_key is not None
        if target.name not in small:
            small[target.name] = is_small(session, catalog, target, estimates)
        if small[target.name]:
            options = _options(session, target, value_key, true(), SMALL_TARGET + 1)
            options.sort(key=lambda o: o[1].lower())
            field.choices = [(value, label) for value, label, _ in options]
        current = _current_value(field)
        if (column.key, current) in known:
            field.current_label = known[(column.key, current)]
        elif current is not None:
            match = target.columns[value_key].expression == current
            found = _options(session, target, value_key, match, 1)
            field.current_label = found[0][1] if found else None
    for related in spec.related:
        field = spec.related_fields(form)[spec.related.index(related)]
        if related.target.name not in small:
            small[related.target.name] = is_small(session, catalog, related.target, estimates)
        _fill_related(session, related.target, field, small[related.target.name])


def _current_value(field: ForeignKeyField) -> Any:
    if field.data is not UNSET and field.data is not None:
        return field.data
    if field.text:
        try:
            return field.conversion.parse(field.text)
        except ValueError:
            return None
    return None


def _fill_related(session: Session, target: Entity, field: RelatedField, small: bool) -> None:
    if small:
        found = refs_where(session, target, true(), limit=SMALL_TARGET + 1)
        field.choices = sorted(
            [(ref.identity or "", ref.label) for _, ref in found], key=lambda c: c[1].lower()
        )
    chosen = field.data if field.data is not UNSET else []
    if not chosen:
        field.selected = []
        return
    pk_columns = [target.columns[k] for k in target.primary_key]
    identities = []
    for text in chosen:
        try:
            identities.append(keys.decode_identity(text, pk_columns))
        except keys.MalformedKey:
            continue
    labels: dict[str, str] = {}
    if identities:
        condition = or_(
            *[and_(*[c.expression == v for c, v in zip(pk_columns, ident)]) for ident in identities]
        )
        labels = {
            ref.identity or "": ref.label for _, ref in refs_where(session, target, condition)
        }
    field.selected = [(text, labels.get(text, text)) for text in chosen]


def current_related(session: Session, entity: Entity, obj: Any, spec: FormSpec) -> dict[str, Any]:
    """The identities each many-to-many relation of ``obj`` holds now (for the edit form)."""
    result = {}
    for related in spec.related:
        target = related.target
        pk_columns = [target.columns[k] for k in target.primary_key]
        stmt = select(*[c.expression for c in pk_columns]).where(
            with_parent(obj, related.relation.attribute)
        )
        stmt = stmt.order_by(*[c.expression for c in pk_columns])
        result[related.html_name] = [
            keys.encode_identity(tuple(row), pk_columns) for row in session.execute(stmt)
        ]
    return result


def search(
    session: Session, target: Entity, value_key: str, query: str, limit: int = LOOKUP_LIMIT
) -> tuple[list[dict[str, Any]], bool]:
    """Rows of ``target`` whose label (or key) matches ``query``; and whether there are more."""
    columns = [target.columns[k] for k in target.label_keys] or target.text_columns
    parts = []
    query = query.strip()
    if query:
        if columns:
            parts.append(search_condition(columns, query))
        key_column = target.columns[value_key]
        try:
            parts.append(key_column.expression == from_text(query, key_column))
        except ValueError:
            pass
        condition: ColumnElement[bool] = or_(*parts) if parts else literal(False)
    else:
        condition = true()
    try:
        found = _options(session, target, value_key, condition, limit + 1)
    except DBAPIError as exc:
        if not timeouts.is_timeout(exc):
            raise
        session.rollback()
        return [], True
    results = [
        {"value": value, "label": label, "key": identity} for value, label, identity in found
    ]
    return results[:limit], len(results) > limit
