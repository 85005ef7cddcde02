"""Every URL the dashboard links to is built here, so routes and links cannot drift apart.

Tables are ``/<db>/<table>``, rows ``/<db>/<table>/<key>``; filters are ``column__op=value``
and control parameters start with ``_`` (``_sort``, ``_size``, ``_next``), so a page's whole
state is in its URL and can be bookmarked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from flask import url_for

from . import keys
from .catalog.model import Entity

# Path segments the blueprint uses itself; no database may take these names.
RESERVED_NAMES = {"static", "healthz", "-"}


def home() -> str:
    return url_for("browse.home")


def database(db: str) -> str:
    return url_for("browse.database", db=db)


def table(db: str, entity: Entity, args: Iterable[tuple[str, str]] = ()) -> str:
    path = url_for(
        "browse.table", db=db, table=keys.entity_segment(entity.schema, entity.table_name)
    )
    return with_query(path, args)


def with_query(path: str, args: Iterable[tuple[str, str]]) -> str:
    """``path`` with query arguments (a list page links to itself some twenty times: its
    path is built once with ``url_for`` and reused)."""
    query = urlencode(list(args))
    return f"{path}?{query}" if query else path


def row(db: str, entity: Entity, identity: str) -> str:
    return url_for(
        "browse.row",
        db=db,
        table=keys.entity_segment(entity.schema, entity.table_name),
        key=identity,
    )


def with_args(
    args: Sequence[tuple[str, str]], drop: Iterable[str] = (), **changes: Any
) -> list[tuple[str, str]]:
    """Copy query arguments, dropping some names and setting others (None removes a name)."""
    removed = set(drop) | set(changes)
    kept = [(k, v) for k, v in args if k not in removed]
    kept += [(k, str(v)) for k, v in changes.items() if v is not None]
    return kept
