"""The audit log: ``/-/audit`` (a page of entries, filtered, paged by key) and its CSV.

Admins see everyone's entries, others only their own; the logic is in ``audit/log.py``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context

from ..audit import log
from ..catalog.model import Catalog
from ..core import keys
from ..db.engines import databases_of
from ..db.errors import BadRequest
from ..state.models import AUDIT_ACTIONS, OUTCOMES
from ..web.signin import current_access, needs
from ..web.urls import cached_url_for

bp = Blueprint("audit", __name__)

FILTER_NAMES = ("user", "database", "table", "action", "outcome", "from", "to")


def _state() -> Any:
    return current_app.extensions["rowboat.state"]


def _catalog_of(name: str) -> Catalog | None:
    database = databases_of(current_app).get(name)
    if database is None:
        return None
    try:
        found: Catalog = database.catalog
    except Exception:  # noqa: BLE001 - unreachable now: hidden columns fall back to names
        return None
    return found


def _filters() -> log.Filters:
    try:
        return log.parse_filters(request.args, current_access())
    except log.BadFilter as exc:
        raise BadRequest(f"Bad audit log filter. {exc}") from None


def row_url(entry: log.Shown) -> str | None:
    """The row page of an entry, when its database is served and the caller may read it."""
    if entry.database not in databases_of(current_app):
        return None
    if not current_access().may("read", entry.database, entry.schema or None, entry.table):
        return None
    segment = keys.entity_segment(entry.schema or None, entry.table)
    return cached_url_for("browse.row", db=entry.database, table=segment, key=entry.row_key)


@bp.get("/-/audit")
@needs("signed-in")
def page() -> Any:
    access = current_access()
    filters = _filters()
    found = log.page(_state(), filters, access, _catalog_of)
    kept = [(name, request.args[name]) for name in FILTER_NAMES if request.args.get(name)]
    return render_template(
        "audit/log.html",
        page=found,
        filters=filters,
        values={name: request.args.get(name, "") for name in FILTER_NAMES},
        kept=kept,
        actions=AUDIT_ACTIONS,
        outcomes=OUTCOMES,
        databases=[name for name in databases_of(current_app) if access.sees_database(name)],
        everyone=access.is_admin,
        row_url=row_url,
        auditing=bool(current_app.config["AUDIT"]),
    )


@bp.get("/-/audit.csv")
@needs("signed-in", machine=True)
def export() -> Any:
    access = current_access()
    filters = _filters()
    lines = log.csv_lines(_state(), filters, access, _catalog_of)
    response = Response(stream_with_context(lines), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="audit.csv"'
    return response
