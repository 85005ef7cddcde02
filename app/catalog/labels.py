"""Choose how a row of an entity is named when another table points at it.

A model's own ``__str__`` wins; otherwise a "sensible" text column: a conventional name
(name, title, ...), a first/last name pair, or a column ending in "name" or "title"; otherwise
none, and the row's key serves. Only ever a choice among the entity's reflected columns.
"""

from __future__ import annotations

import re

from .model import Column

_PREFERRED = (
    "name",
    "title",
    "label",
    "display_name",
    "full_name",
    "username",
    "email",
    "code",
    "description",
)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def choose_label_keys(columns: dict[str, Column]) -> list[str]:
    """Return the column keys whose values, joined by a space, label a row (may be empty)."""
    text = [
        c for c in columns.values() if c.kind == "text" and not c.primary_key and not c.computed
    ]
    by_norm = {_norm(c.name): c.key for c in text}
    for wanted in _PREFERRED:
        if _norm(wanted) in by_norm:
            return [by_norm[_norm(wanted)]]
    first = by_norm.get("firstname") or by_norm.get("givenname")
    last = by_norm.get("lastname") or by_norm.get("surname") or by_norm.get("familyname")
    if first and last:
        return [first, last]
    for column in text:
        if _norm(column.name).endswith(("name", "title")):
            return [column.key]
    # No column that names the row (an invoice's first text column is its billing address):
    # the key itself is the clearer label.
    return []
