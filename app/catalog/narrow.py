"""A catalog cut down to what one caller may see: readable tables only, hidden columns gone.

Every page, form, export, lookup, filter and query works from the catalog it is given, so
handing it the narrowed one is what keeps a table or a column out of all of them at once: a
relation into a table the caller may not read disappears (no label, no related rows, no join),
and a hidden column is not selected, filtered, sorted, searched or written.

Narrowed catalogs are remembered per full catalog and per (readable tables, hidden columns),
so their entities stay the same objects from one request to the next and the caches keyed by
entity keep working. A caller who may see everything gets the full catalog itself.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from dataclasses import replace

from .model import Catalog, Entity

Hidden = Mapping[str, frozenset[str]]  # entity name -> database column names

_NARROWED: weakref.WeakKeyDictionary[Catalog, dict[object, Catalog]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
_MAX_VARIANTS = 256  # distinct (grants, hidden) combinations kept per catalog


def narrowed(catalog: Catalog, readable: frozenset[str] | None, hidden: Hidden) -> Catalog:
    """``catalog`` with only the ``readable`` entities (None: all) and without ``hidden``
    columns. A primary-key column is never hidden: rows could no longer be addressed."""
    hidden = {name: cols for name, cols in hidden.items() if cols and name in catalog.entities}
    if readable is not None and readable >= catalog.entities.keys():
        readable = None
    if readable is None and not hidden and not _model_hidden(catalog):
        return catalog
    key = (readable, frozenset((name, cols) for name, cols in hidden.items()))
    with _LOCK:
        variants = _NARROWED.setdefault(catalog, {})
        found = variants.get(key)
        if found is None:
            if len(variants) >= _MAX_VARIANTS:
                variants.clear()
            found = variants[key] = _build(catalog, readable, hidden)
        return found


_MODEL_HIDDEN: weakref.WeakKeyDictionary[Catalog, dict[str, set[str]]] = weakref.WeakKeyDictionary()


def _model_hidden(catalog: Catalog) -> dict[str, set[str]]:
    """Entity name -> the keys of the columns its model marks hidden (never a key column),
    worked out once per catalog: every request narrows."""
    found = _MODEL_HIDDEN.get(catalog)
    if found is None:
        found = {}
        for name, entity in catalog.entities.items():
            keys = {k for k, c in entity.columns.items() if c.hidden and not c.primary_key}
            if keys:
                found[name] = keys
        _MODEL_HIDDEN[catalog] = found
    return found


def _build(catalog: Catalog, readable: frozenset[str] | None, hidden: Hidden) -> Catalog:
    names: set[str] | frozenset[str] = (
        set(catalog.entities) if readable is None else readable & catalog.entities.keys()
    )
    gone_keys = {
        name: {
            column.key
            for column in catalog.entities[name].columns.values()
            if column.name in cols and not column.primary_key
        }
        for name, cols in hidden.items()
    }
    model_hidden = _model_hidden(catalog)
    entities = {
        name: _entity(entity, names, gone_keys, model_hidden.get(name, set()))
        for name, entity in catalog.entities.items()
        if name in names
    }
    return replace(catalog, entities=entities)


def _entity(
    entity: Entity,
    names: set[str] | frozenset[str],
    gone_keys: Mapping[str, set[str]],
    model_hidden: set[str],
) -> Entity:
    granted_away = gone_keys.get(entity.name, set())
    gone = granted_away | model_hidden
    relations = {
        key: relation
        for key, relation in entity.relations.items()
        if relation.target in names
        and not gone.intersection(relation.local_keys)
        and not gone_keys.get(relation.target, set()).intersection(relation.target_keys)
    }
    if not gone and len(relations) == len(entity.relations):
        return entity
    return replace(
        entity,
        columns={k: c for k, c in entity.columns.items() if k not in gone},
        relations=relations,
        label_keys=[k for k in entity.label_keys if k not in gone],
        # a model's __str__ (or Python-only hybrid) may print a column a grant hides:
        # labels come from label_keys instead. The model's own hidden ones its author knows.
        label_from_str=entity.label_from_str and not granted_away,
        derived=[
            d
            for d in entity.derived
            if not granted_away and (d.relation is None or d.relation in relations)
        ],
    )
