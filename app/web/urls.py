"""Every URL the dashboard links to is built here, so routes and links cannot drift apart.

Tables are ``/<db>/<table>``, rows ``/<db>/<table>/<key>``; filters are ``column__op=value``
and control parameters start with ``_`` (``_sort``, ``_size``, ``_next``), so a page's whole
state is in its URL and can be bookmarked.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from flask import current_app, request, url_for
from werkzeug.sansio.utils import host_is_trusted

from ..catalog.model import Entity
from ..core import keys
from . import statics

# Path segments the blueprint uses itself; no database may take these names.
RESERVED_NAMES = {"static", "healthz", "-"}


# url_for's own options: their URLs depend on more than the path (host, scheme, anchor).
_FLASK_OPTIONS = frozenset({"_anchor", "_method", "_scheme", "_external"})


def cached_url_for(endpoint: str, **values: Any) -> str:
    """``url_for``, remembered per script root for the last few thousand distinct arguments.

    Werkzeug builds a URL in about 10 µs and a row page asked for sixteen, most of them the
    same on every page (static files, the table's own path). The templates' ``url_for`` is
    this function too (``create_app``). Relative endpoints, Flask's options and unhashable
    values go straight to ``url_for``.
    """
    if endpoint.startswith(".") or not _FLASK_OPTIONS.isdisjoint(values):
        return url_for(endpoint, **values)
    try:
        return _remembered_url(request.script_root, endpoint, tuple(values.items()))
    except TypeError:  # a list of values for one query argument
        return url_for(endpoint, **values)


@functools.lru_cache(maxsize=4096)
def _remembered_url(script_root: str, endpoint: str, values: tuple[tuple[str, Any], ...]) -> str:
    arguments = dict(values)
    if endpoint == "static" and "filename" in arguments and "v" not in arguments:
        found = statics.version(arguments["filename"])  # cached for a year under this URL
        if found is not None:
            arguments["v"] = found
    return url_for(endpoint, **arguments)


def home() -> str:
    return cached_url_for("browse.home")


def database(db: str) -> str:
    return cached_url_for("browse.database", db=db)


def segment(entity: Entity) -> str:
    """The URL segment naming ``entity`` (``table`` or ``schema.table``, tilde-encoded)."""
    return keys.entity_segment(entity.schema, entity.table_name)


def table(db: str, entity: Entity, args: Iterable[tuple[str, str]] = ()) -> str:
    path = cached_url_for("browse.table", db=db, table=segment(entity))
    return with_query(path, args)


def with_query(path: str, args: Iterable[tuple[str, str]]) -> str:
    """``path`` with query arguments (a list page links to itself some twenty times: its
    path is built once with ``url_for`` and reused)."""
    query = urlencode(list(args))
    return f"{path}?{query}" if query else path


def row(db: str, entity: Entity, identity: str) -> str:
    return cached_url_for(
        "browse.row",
        db=db,
        table=segment(entity),
        key=identity,
    )


def download(db: str, entity: Entity, identity: str, column_key: str) -> str:
    """The bytes of one binary value, as a file."""
    return cached_url_for(
        "edit.download",
        db=db,
        table=keys.entity_segment(entity.schema, entity.table_name),
        key=identity,
        column=keys.encode(column_key),
    )


def with_args(
    args: Sequence[tuple[str, str]], drop: Iterable[str] = (), **changes: Any
) -> list[tuple[str, str]]:
    """Copy query arguments, dropping some names and setting others (None removes a name)."""
    removed = set(drop) | set(changes)
    kept = [(k, v) for k, v in args if k not in removed]
    kept += [(k, str(v)) for k, v in changes.items() if v is not None]
    return kept


# --- hosts -----------------------------------------------------------------------------------


def host_allowed(host: str, trusted: Sequence[str]) -> bool:
    """Whether a Host header (``name[:port]`` or ``[v6]:port``) names a trusted host.

    ``trusted`` holds names, IPv4 addresses and bracketed IPv6 literals; an entry starting
    with a dot also allows its subdomains. Werkzeug checks names and IPv4 (and the header's
    characters); an IPv6 literal is compared here, as Werkzeug 3.1 cannot match one.
    """
    host = host.strip().lower()
    if host.startswith("["):
        literal, _, port = host.partition("]")
        literal += "]"
        if port and not (port[0] == ":" and port[1:].isascii() and port[1:].isdigit()):
            return False
        return literal in trusted and host_is_trusted(host)
    names = [h for h in trusted if not h.startswith("[")]
    return bool(names) and host_is_trusted(host, names)


def external(path: str) -> str:
    """An absolute URL for ``path`` (a path ``url_for`` built) to share outside the browser.

    ROWBOAT_BASE_URL when set (the dashboard's public address); otherwise the request's own
    scheme and host, which the host check (ROWBOAT_TRUSTED_HOSTS) has already let through.
    """
    base = current_app.config.get("BASE_URL") or ""
    if base:
        root = request.script_root
        if root and path.startswith(root):
            path = path[len(root) :]
        return base.rstrip("/") + path
    return request.host_url.rstrip("/") + path
