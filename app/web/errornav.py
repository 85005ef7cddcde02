"""Where an error page sits: its breadcrumbs and the ways back, so no error strands the user.

An error page keeps the header's breadcrumbs for the part of its URL that exists (the
database, the table, the row) and offers the nearest page above it that works: the row, the
table's list, the database, home. It works only from what is already known: the configured
databases and a catalog already read. An error page never reads a database (the error may be
that the database is down or slow), and whatever goes wrong here leaves the page plain rather
than turning it into a second error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import current_app, request

from ..auth.visible import visible_catalog
from ..catalog.model import Entity
from ..core import keys
from ..db.engines import Database, databases_of
from . import urls
from .signin import current_access

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Crumb:
    label: str
    href: str | None  # None: shown as text (the page itself)


@dataclass(frozen=True)
class Way:
    label: str
    href: str
    css: str


@dataclass
class Navigation:
    crumbs: list[Crumb] = field(default_factory=list)
    ways: list[Way] = field(default_factory=list)


def error_navigation(status: int) -> Navigation:
    """The breadcrumbs and ways back of the error page this request answers with."""
    try:
        return _navigation(status)
    except Exception:  # noqa: BLE001 - an error page must render, with less if need be
        log.exception("working out an error page's navigation failed")
        return Navigation(ways=[Way("Home", urls.home(), "home")])


def _navigation(status: int) -> Navigation:
    endpoint = request.endpoint or ""
    found = request.view_args or {}
    nav = Navigation()
    # The pages above this one that exist, nearest last: (label, href, css, is this page).
    above: list[tuple[str, str, str, bool]] = []
    db_name, segment, key = found.get("db"), found.get("table"), found.get("key")
    database = databases_of(current_app).get(db_name) if isinstance(db_name, str) else None
    access = current_access()
    if database is not None and access.sees_database(database.name):
        href = urls.database(database.name)
        nav.crumbs.append(Crumb(database.name, href))
        if database.discovered is not None:  # else its page fails too (tables unread)
            here = endpoint == "browse.database"
            above.append((f"Database {database.name}", href, "database", here))
        entity = _known_entity(database, segment) if isinstance(segment, str) else None
        if entity is not None:
            href = urls.table(database.name, entity)
            nav.crumbs.append(Crumb(entity.name, href))
            above.append((f"The list of {entity.name}", href, "table", endpoint == "browse.table"))
            if isinstance(key, str) and status != 404:  # a 404 here: the row is what is missing
                label = _key_label(key)
                if endpoint == "browse.row":
                    nav.crumbs.append(Crumb(label, None))
                else:
                    href = urls.row(database.name, entity, key)
                    nav.crumbs.append(Crumb(label, href))
                    above.append((f"{entity.name} {label}", href, "row", False))
    if status in (503, 504) and request.method == "GET":  # busy or slow: it may work now
        again = (request.script_root + request.full_path).rstrip("?")
        nav.ways.append(Way("Try again", again, "again"))
    back = request.referrer
    if back and back.startswith(request.host_url) and back != request.url:
        nav.ways.append(Way("Go back", back, "back"))
    nearest = next((a for a in reversed(above) if not a[3]), None)
    if nearest is not None:
        label, href, css, _ = nearest
        nav.ways.append(Way(label, href, f"parent {css}"))
    nav.ways.append(Way("Home", urls.home(), "home"))
    return nav


def _key_label(key: str) -> str:
    """A row's key as its breadcrumb shows it (as on the row page)."""
    if "," in key:
        return key
    try:
        return keys.decode(key)
    except keys.MalformedKey:
        return key


def _known_entity(database: Database, segment: str) -> Entity | None:
    """The table or view ``segment`` names, if the caller may read it and the database's
    catalog is already read (never read it here)."""
    catalog = database.discovered
    if catalog is None:
        return None
    try:
        schema, table = keys.parse_entity_segment(segment)
    except keys.MalformedKey:
        return None
    name = f"{schema}.{table}" if schema else table
    visible = visible_catalog(database.name, catalog, current_access())
    return visible.entities.get(name)
