"""Humane titles for relations: "Invoices", "Support rep", not ``Invoice_collection``.

A reflected database's relations are named by automap and discovery so that names never
clash (``Invoice_collection``, ``Track_collection_via_PlaylistTrack``, ``Employee_via_ReportsTo``):
good keys for URLs and query specs, which keep them, but not words for people. The title
says the same thing from the relation's shape: a collection is the plural of the table it
lists, a reference is its foreign-key column without its "Id". Two collections of one table
reaching the same table (or a table listing its own rows) add what tells them apart, the
foreign key's column: "Invoices (customer)". A user's model named its relationships itself
(``orders``, ``author``): those names are only made readable ("Orders", "Author").
"""

from __future__ import annotations

import re
from collections import Counter

from .model import Entity, Relation

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_ID_SUFFIX = re.compile(r"(?:_?id|_?key|_?fk)$", re.IGNORECASE)


def humanize(identifier: str) -> str:
    """Words of a code name, sentence case: "InvoiceLine" → "Invoice line", "HTTPLog" →
    "HTTP log", "reports_to" → "Reports to". An identifier without letters stays itself."""
    words = _WORD.findall(identifier)
    if not words:
        return identifier
    words = [w if w.isupper() and len(w) > 1 else w.lower() for w in words]
    return " ".join(words)[:1].upper() + " ".join(words)[1:]


def plural(phrase: str) -> str:
    """English plural of a phrase's last word; a word that already looks plural stays."""
    head, _, last = phrase.rpartition(" ")
    lower = last.lower()
    if lower.endswith("s") and not lower.endswith(("ss", "us", "is")):
        word = last  # "orders", "news"
    elif lower.endswith("y") and lower[-2:-1] not in tuple("aeiou"):
        word = last[:-1] + "ies"
    elif lower.endswith(("s", "x", "z", "ch", "sh")):
        word = last + "es"
    else:
        word = last + "s"
    return f"{head} {word}" if head else word


def _reference(columns: list[str], fallback: str) -> str:
    """A foreign key's columns as a name: "SupportRepId" → "Support rep"."""
    if len(columns) == 1:
        stripped = _ID_SUFFIX.sub("", columns[0])
        if stripped:
            return humanize(stripped)
    return humanize(fallback)


def _via_table(relation: Relation) -> str | None:
    """The link table a many-to-many relationship goes through, if mapped."""
    prop = getattr(relation.attribute, "property", None)
    secondary = getattr(prop, "secondary", None)
    return getattr(secondary, "name", None)


def set_titles(entities: dict[str, Entity], models: bool) -> None:
    """Give every relation of every entity its ``label`` (see ``Relation.title``), and put
    the relations in a stable order.

    Automap and foreign-key reflection hand relations over in the order of Python sets,
    which differs between processes: pages listed them in a new order after each restart (and
    between workers). Even their names can swap (of two foreign keys to one table, which one
    gets ``Customer_collection``), but not their titles, made from their columns: the rest go
    by title. A model's relationships keep the order its author declared them in.
    """
    for entity in entities.values():
        reach = Counter((r.direction == "many-to-one", r.target) for r in entity.relations.values())
        for relation in entity.relations.values():
            if not relation.label:  # a catalog is titled once
                relation.label = _title(entity, relation, entities, models, reach)
        declared = [r for r in entity.relations.values() if models and r.attribute is not None]
        rest = sorted(
            (r for r in entity.relations.values() if r not in declared),
            key=lambda r: (r.title, r.name),
        )
        entity.relations = {r.name: r for r in [*declared, *rest]}


def _title(
    entity: Entity,
    relation: Relation,
    entities: dict[str, Entity],
    models: bool,
    reach: Counter[tuple[bool, str]],
) -> str:
    if models and relation.attribute is not None:
        return humanize(relation.name)  # the author's own word for it
    target = entities.get(relation.target)
    target_name = target.table_name if target is not None else relation.target
    if relation.direction == "many-to-one":
        return _reference([_column_name(entity, k) for k in relation.local_keys], target_name)
    title = plural(humanize(target_name))
    if reach[(False, relation.target)] > 1 or relation.target == entity.name:
        if relation.direction == "many-to-many":
            via = _via_table(relation)
            if via:
                return f"{title} (via {humanize(via).lower()})"
        elif target is not None:
            columns = [_column_name(target, k) for k in relation.target_keys]
            return f"{title} ({_reference(columns, entity.table_name).lower()})"
    return title


def _column_name(entity: Entity, key: str) -> str:
    column = entity.columns.get(key)
    return column.name if column is not None else key
