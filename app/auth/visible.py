"""The catalog one caller works from: the tables they may read, without hidden columns."""

from __future__ import annotations

import threading
import weakref

from ..catalog.model import Catalog
from ..catalog.narrow import narrowed
from .access import Access, GrantRule
from .accounts import AccountError

# catalog -> (role, read-only, grants) -> the names of the entities that role may read
_READABLE: weakref.WeakKeyDictionary[
    Catalog, dict[tuple[str, bool, tuple[GrantRule, ...]], frozenset[str]]
] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def readable_names(database: str, catalog: Catalog, access: Access) -> frozenset[str] | None:
    """The entities ``access`` may read in ``catalog`` (None: all of them)."""
    if access.role == "admin":
        return None
    key = (access.role, access.read_only, access.grants)
    with _LOCK:
        memo = _READABLE.setdefault(catalog, {})
        found = memo.get(key)
    if found is None:
        found = frozenset(
            name
            for name, entity in catalog.entities.items()
            if access.may("read", database, entity.schema, entity.table_name)
        )
        with _LOCK:
            if len(memo) > 1000:
                memo.clear()
            memo[key] = found
    return found


def visible_catalog(database: str, catalog: Catalog, access: Access) -> Catalog:
    return narrowed(catalog, readable_names(database, catalog, access), access.hidden_in(database))


def grant_target(catalog: Catalog, text: str) -> tuple[str | None, str | None]:
    """(schema, table) of a grant's target as an admin types it: "" for the whole database,
    ``schema.*`` for one schema, or a table's name as the dashboard shows it."""
    text = text.strip()
    if not text:
        return None, None
    if text.endswith(".*") and len(text) > 2:
        return text[:-2], None
    entity = catalog.entities.get(text)
    if entity is None:
        raise AccountError(
            f"There is no table or view {text!r}: give a name as the dashboard lists it, "
            "schema.* for a whole schema, or nothing for the whole database."
        )
    return entity.schema, entity.table_name
