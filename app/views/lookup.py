"""Turn the names in a URL into the configured database and the catalog entity they mean,
as the caller may see them.

Every blueprint resolves ``<db>`` and ``<table>`` the same way: an unknown or malformed name
is always the same clear 404, and a table the caller may not read (or, on a page that writes,
change) is a 403 that says so. Pages work from ``catalog_of``: the tables the caller may read,
without hidden columns.
"""

from __future__ import annotations

from flask import current_app, g

from ..auth.visible import visible_catalog
from ..catalog.model import Catalog, Entity
from ..core import keys
from ..db.engines import Database, databases_of
from ..db.errors import NotFound
from ..web.signin import Forbidden, current_access


def database_named(name: str) -> Database:
    database = databases_of(current_app).get(name)
    if database is None:
        raise NotFound(f"no database is called {name!r}")
    if not current_access().sees_database(name):
        raise Forbidden(f"You have no access to database {name!r}. An admin can grant it.")
    return database


def catalog_of(database: Database) -> Catalog:
    """The database's catalog as the current caller may see it."""
    return visible_catalog(database.name, database.catalog, current_access())


def schema_database(name: str) -> Database:
    """A database whose schema pages the caller may open: they show every table and key, so
    they need read access to the whole database."""
    database = database_named(name)
    if not current_access().reads_whole(name):
        raise Forbidden(
            f"The schema pages show all of database {name!r}; you may read only some of its "
            "tables. An admin can grant the whole database."
        )
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
    needed = g.get("rowboat_needs")
    access = current_access()
    if needed == "write" and not access.may(
        "write", database.name, entity.schema, entity.table_name
    ):
        verb = (
            "change rows of"
            if access.may("read", database.name, entity.schema, entity.table_name)
            else "open"
        )
        raise Forbidden(f"You may not {verb} {name!r} in database {database.name!r}.")
    if not access.may("read", database.name, entity.schema, entity.table_name):
        raise Forbidden(f"You may not open {name!r} in database {database.name!r}.")
    return catalog_of(database).entities[name]
