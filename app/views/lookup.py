"""Turn the names in a URL into the configured database and the catalog entity they mean.

Every blueprint resolves ``<db>`` and ``<table>`` the same way, and an unknown or malformed
name is always the same clear 404.
"""

from __future__ import annotations

from flask import current_app

from ..catalog.model import Entity
from ..core import keys
from ..db.engines import Database, databases_of
from ..db.errors import NotFound


def database_named(name: str) -> Database:
    database = databases_of(current_app).get(name)
    if database is None:
        raise NotFound(f"no database is called {name!r}")
    return database


def entity_at(database: Database, segment: str) -> Entity:
    """The table or view a URL segment (``table`` or ``schema.table``, tilde-encoded) names."""
    try:
        schema, table = keys.parse_entity_segment(segment)
    except keys.MalformedKey as exc:
        raise NotFound(str(exc)) from None
    name = f"{schema}.{table}" if schema else table
    entity = database.catalog.entities.get(name)
    if entity is None:
        raise NotFound(f"database {database.name!r} has no table or view {name!r}")
    return entity
