"""A row's history (its audit entries, each with a before/after diff) and reverting an entry.

``/<db>/<table>/<key>/-/history`` lists the row's entries, newest first, keyset paged by entry
id (``?before=<id>``); it works for a row that no longer exists (its delete can be reverted).
``/<db>/<table>/-/revert/<entry>`` shows what a revert would write next to the row as it is now
(GET), and does it (POST, CSRF-checked): thin views over ``app.audit.revert``. A revert that
cannot be done now (the row changed, a value kept only as a summary, an entry that was not
committed) answers 409 with the reason and the versions to compare.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from .. import writes
from ..audit import history, revert
from ..audit.values import describe
from ..browse import crumbs, rowpage
from ..catalog.model import Entity
from ..db.engines import Database, session_for
from ..db.errors import BadRequest, NotFound
from ..web import urls
from ..web.signin import needs
from .edit import check_cascades, journal_for, shown_key, validation_errors, writable
from .lookup import database_named, entity_at

bp = Blueprint("history", __name__)

ACTIONS = {"create": "Created", "update": "Changed", "delete": "Deleted"}
REVERTS = {
    "update": "put back the old values of the columns it changed",
    "insert": "insert the deleted row again, with its key and every column",
    "delete": "delete the row it created",
}


def history_url(db: str, entity: Entity, key: str, before: int | None = None) -> str:
    path = urls.cached_url_for("history.row_history", db=db, table=urls.segment(entity), key=key)
    return urls.with_query(path, [("before", str(before))] if before is not None else [])


def revert_url(db: str, entity: Entity, entry: int) -> str:
    return urls.cached_url_for("history.revert", db=db, table=urls.segment(entity), entry=entry)


def last_change(db: Database, entity: Entity, key: str) -> history.Entry | None:
    """The row page's "last changed by … at …": None when auditing is off or nothing is
    recorded (one indexed query)."""
    if not current_app.config["AUDIT"]:
        return None
    full = db.catalog.entities[entity.name]
    try:
        canonical = history.canonical_key(full, key)
    except NotFound:
        return None
    try:
        return history.last_change(_state(), db.name, full, canonical)
    except SQLAlchemyError as exc:  # the row page is shown without it
        current_app.logger.warning("audit: cannot read the last change of a row: %s", exc)
        return None


@bp.record_once
def _template_helpers(state: Any) -> None:
    state.app.jinja_env.globals.update(
        {
            "history_urls": {"history": history_url, "revert": revert_url},
            "last_change": last_change,
            "describe_value": describe,
        }
    )


def _state() -> Engine:
    engine: Engine = current_app.extensions["rowboat.state"]
    return engine


def _full(database: Database, entity: Entity) -> Entity:
    """The table's whole catalog entity (hidden columns too: a revert writes them)."""
    return database.catalog.entities[entity.name]


@bp.get("/<db>/<table>/<key>/-/history")
@needs("read")
def row_history(db: str, table: str, key: str) -> Any:
    database = database_named(db)
    entity = entity_at(database, table)
    full = _full(database, entity)
    canonical = history.canonical_key(full, key)
    before_text = request.args.get("before")
    before = None
    if before_text is not None:
        if not before_text.isdigit() or len(before_text) > 18:
            raise BadRequest(f"?before= takes an entry number, not {before_text!r}.")
        before = int(before_text)
    entries, older = history.entries_of_row(_state(), db, full, canonical, before)
    auditing = bool(current_app.config["AUDIT"])
    return render_template(
        "audit/history.html",
        db=database,
        entity=entity,
        key=canonical,
        label=shown_key(canonical),
        crumb=crumbs.row_crumb(session_for(database), entity, canonical),
        entries=entries,
        older=history_url(db, entity, canonical, older) if older is not None else None,
        newest=history_url(db, entity, canonical) if before is not None else None,
        auditing=auditing,
        may_revert=auditing and writable(database, entity),
        actions=ACTIONS,
    )


def _entry_of(database: Database, full: Entity, entry_id: int) -> history.Entry:
    found = history.find(_state(), entry_id)
    if found is None or not found.is_for(database.name, full):
        raise NotFound(f"{full.name!r} in database {database.name!r} has no audit entry {entry_id}")
    return found


@bp.route("/<db>/<table>/-/revert/<int:entry>", methods=["GET", "POST"], endpoint="revert")
@needs("write")
def revert_entry(db: str, table: str, entry: int) -> Any:
    database = database_named(db)
    entity = entity_at(database, table)  # 403 without write access on the table
    writes.check_writable(database, entity)
    full = _full(database, entity)
    found = _entry_of(database, full, entry)
    state = _state()
    session = session_for(database)
    if not current_app.config["AUDIT"]:
        raise revert.RevertRefused(
            "Auditing is off (ROWBOAT_AUDIT), so a revert would not be recorded: it is not "
            "offered until auditing is on again."
        )
    if request.method != "POST":  # GET and HEAD never write
        shown = revert.plan(session, database.catalog, state, full, found, entity)
        return _render(database, entity, shown, None, 200 if shown.possible else 409)
    cascade = None
    if found.action == "create":  # the revert deletes: the delete form's cascade check
        created = [e for e in history.batch_of(state, found) if e.outcome == "committed"]
        keys = [e.row_key for e in created] or [found.row_key]
        cascade = check_cascades(database, entity, [rowpage.decode_key(full, k) for k in keys])
    journal = journal_for(database, entity, cascade, revert_of=found.id)
    assert journal is not None  # auditing is on: checked above
    try:
        done = revert.apply(
            session,
            database.catalog,
            full,
            state,
            found,
            journal,
            entity,
            rules=validation_errors(),
        )
    except revert.RevertConflict as conflict:
        return _render(database, entity, conflict.plan, conflict, 409)
    except writes.WriteFailed as failure:
        again = revert.plan(session, database.catalog, state, full, found, entity)
        return _render(database, entity, again, failure, failure.status)
    count = len(done.entries)
    what = "put back" if done.kind == "insert" else "deleted"
    flash(
        f"Reverted entry #{found.id}"
        + (f": {count} rows {what}." if count > 1 else ".")
        + " The revert is itself in the row's history.",
        "edit",
    )
    return redirect(history_url(db, entity, found.row_key))


def _render(
    database: Database,
    entity: Entity,
    shown: revert.Plan,
    failure: Exception | None,
    status: int,
) -> Any:
    return (
        render_template(
            "audit/revert.html",
            db=database,
            entity=entity,
            plan=shown,
            entry=shown.entry,
            label=shown_key(shown.entry.row_key),
            crumb=crumbs.row_crumb(session_for(database), entity, shown.entry.row_key),
            failure=failure,
            what=REVERTS[shown.kind],
            actions=ACTIONS,
        ),
        status,
    )
