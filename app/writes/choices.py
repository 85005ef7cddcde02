"""Choices for foreign-key and many-to-many fields, without ever loading a large table.

A target table with at most ``SMALL_TARGET`` rows becomes a select of labelled rows (one capped
count, then one query). A larger one becomes a search-as-you-type input: the form shows only
the label of the current value, and ``search`` answers the lookup endpoint with at most
``limit`` rows matching the typed text in the target's label columns (or its key).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, literal, or_, select, true
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, with_parent

from ..browse.counting import cached_table_estimate, entity_count
from ..browse.labels import Refs, label_of, refs_where
from ..catalog.model import Catalog, Entity
from ..core import keys
from ..core.batches import chunks, key_in
from ..core.filters import make_filter, search_condition
from ..core.values import to_text
from ..db import timeouts
from ..db.engines import EstimateMemo
from ..db.reads import read
from ..forms.builder import FormSpec
from ..forms.fields import UNSET, ForeignKeyField, RelatedChanges, RelatedField

SMALL_TARGET = 100
LOOKUP_LIMIT = 20
LINKS_SHOWN = 50  # a many-to-many field of a large target lists this many of its links


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
    parent: Any = None,
) -> None:
    """Give each foreign-key and many-to-many field its choices (small targets) and the label
    of its current value, unless ``known`` holds it. ``estimates`` is the database's memo of
    row estimates (``counting.cached_table_estimate``). ``parent`` is the row being edited
    (an ORM object), whose many-to-many links are read here."""
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
        related_field = spec.related_fields(form)[spec.related.index(related)]
        if related.target.name not in small:
            small[related.target.name] = is_small(session, catalog, related.target, estimates)
        _fill_related(session, related.target, related_field, small[related.target.name], parent)


def _current_value(field: ForeignKeyField) -> Any:
    if field.data is not UNSET and field.data is not None:
        return field.data
    if field.text:
        try:
            return field.conversion.parse(field.text)
        except ValueError:
            return None
    return None


def _fill_related(
    session: Session, target: Entity, field: RelatedField, small: bool, parent: Any
) -> None:
    """A small target: every row as a choice, the linked ones chosen. A large one: the count
    of linked rows, the first ``LINKS_SHOWN`` of them, and the labels of posted changes."""
    linked_to_parent = with_parent(parent, field.relation.attribute) if parent is not None else None
    if small:
        found = refs_where(session, target, true(), limit=SMALL_TARGET + 1)
        field.choices = sorted(
            [(ref.identity or "", ref.label) for _, ref in found], key=lambda c: c[1].lower()
        )
        current: list[str] = []
        if linked_to_parent is not None:
            current = [r.identity or "" for _, r in refs_where(session, target, linked_to_parent)]
        if field.data is UNSET:
            field.data = current
        elif isinstance(field.data, RelatedChanges):  # posted as changes, shown as every choice
            changes = field.data
            field.data = [k for k in current if k not in changes.remove] + changes.add
        _list_choices(field, current)
        return
    if isinstance(field.data, list):  # posted as a whole list, shown as a search box: all added
        field.data = RelatedChanges(add=field.data)
    changes = field.data if isinstance(field.data, RelatedChanges) else RelatedChanges()
    if linked_to_parent is not None:
        count_stmt = select(func.count()).select_from(_from(target)).where(linked_to_parent)
        field.linked_count = read(session, count_stmt).scalar_one()
        found = refs_where(session, target, linked_to_parent, limit=LINKS_SHOWN)
        field.linked = [(ref.identity or "", ref.label) for _, ref in found]
    labels = _labels_of(session, target, changes.add + changes.remove)
    shown = {identity for identity, _ in field.linked}
    field.added = [(k, labels.get(k, k)) for k in changes.add]
    # Removals of links beyond the first few are listed too, still ticked.
    field.removed = [(k, labels.get(k, k)) for k in changes.remove if k not in shown]
    field.removing = set(changes.remove)


def _list_choices(field: RelatedField, current: list[str]) -> None:
    """A small target's rows as the form lists them: the linked ones (ticked unless the user
    unticked them), those the user chose beside them, and every other row, to choose from."""
    labels = dict(field.choices or [])
    chosen = list(field.data) if isinstance(field.data, list) else []
    linked = set(current)
    field.linked = sorted([(k, labels.get(k, k)) for k in current], key=lambda c: c[1].lower())
    field.removing = linked - set(chosen)
    field.added = [(k, labels.get(k, k)) for k in chosen if k not in linked]
    listed = linked | set(chosen)
    field.others = [(k, label) for k, label in field.choices or [] if k not in listed]


def _labels_of(session: Session, target: Entity, texts: list[str]) -> dict[str, str]:
    """The labels of the target rows named by identity texts, looked up in batches."""
    pk_columns = [target.columns[k] for k in target.primary_key]
    identities = []
    for text in dict.fromkeys(texts):
        try:
            identities.append(keys.decode_identity(text, pk_columns))
        except keys.MalformedKey:
            continue
    labels: dict[str, str] = {}
    for chunk in chunks(identities):
        condition = key_in([c.expression for c in pk_columns], chunk)
        labels.update(
            {r.identity or "": r.label for _, r in refs_where(session, target, condition)}
        )
    return labels


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
            # As a list filter compares: a value the key's character set cannot hold
            # (an emoji, a utf8mb3 key) matches no row instead of the database refusing.
            parts.append(make_filter(key_column, "exact", query).condition())
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
