"""The schema browser: tables and views, one table's structure and DDL, diagrams, drift.

Routes live under the reserved ``-`` segment (``/<db>/-/schema``...), so they can never be
taken for a table or a row. Views stay thin: the reading is done by ``app.schema``; the bulk
snapshot is cached per database in ``app.extensions["rowboat.schema"]`` and dropped, with the
catalog, by the POST refresh action.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

from ..browse.overview import database_overview
from ..catalog.discovery import models_for
from ..core import keys
from ..db.engines import Database, session_for
from ..db.errors import NotFound
from ..schema import diagram as diagrams
from ..schema.cache import SnapshotCache
from ..schema.ddl import table_ddl
from ..schema.drift import DATABASE_ONLY, DIFFERS, MODELS_ONLY, drift_report
from ..schema.structure import (
    Snapshot,
    TableGone,
    TableInfo,
    describe_table,
    search,
    table_stats,
)
from ..web import refreshes
from ..web.signin import needs
from .lookup import catalog_of, schema_database

bp = Blueprint("schema", __name__)

# A one-table diagram shows the table and its neighbours; past this many it lists them instead.
MAX_NEIGHBOURS = 40


@bp.record_once
def _setup(state: Any) -> None:
    state.app.extensions["rowboat.schema"] = SnapshotCache()
    state.app.jinja_env.globals.update(
        {
            "schema_url": schema_url,
            "structure_url": structure_url,
            "diagram_url": diagram_url,
            "rows_url": rows_url,
            "drift_url": lambda db: url_for("schema.drift", db=db),
            "refresh_url": lambda db: url_for("schema.refresh", db=db),
        }
    )


# --- URLs ----------------------------------------------------------------------------------------


def _segment(table: TableInfo) -> str:
    return keys.entity_segment(table.schema, table.name)


def schema_url(db: str, q: str | None = None) -> str:
    return url_for("schema.overview", db=db, q=q or None)


def structure_url(db: str, table: TableInfo) -> str:
    return url_for("schema.structure", db=db, table=_segment(table))


def diagram_url(db: str, table: TableInfo | None = None) -> str:
    if table is None:
        return url_for("schema.diagram", db=db)
    return url_for("schema.table_diagram", db=db, table=_segment(table))


def rows_url(db: str, table: TableInfo) -> str:
    return url_for("browse.table", db=db, table=_segment(table))


# --- helpers -------------------------------------------------------------------------------------


def _cache() -> SnapshotCache:
    return current_app.extensions["rowboat.schema"]


def _snapshot(database: Database) -> Snapshot:
    return _cache().get(database.name, database.engine)


def _table(database: Database, snapshot: Snapshot, segment: str) -> TableInfo:
    try:
        schema, name = keys.parse_entity_segment(segment)
    except keys.MalformedKey as exc:
        raise NotFound(str(exc)) from None
    info = snapshot.get(schema, name)
    if info is None:
        shown = f"{schema}.{name}" if schema else name
        raise NotFound(
            f"database {database.name!r} has no table or view {shown!r}. If it was created "
            "since the schema was read, use “Refresh schema”."
        )
    return info


def _gone(database: Database, info: TableInfo) -> NotFound:
    return NotFound(
        f"{info.name!r} no longer exists in database {database.name!r}. "
        "Use “Refresh schema” to reload the list of tables."
    )


# --- pages ---------------------------------------------------------------------------------------


@bp.get("/<db>/-/schema")
@needs("read")
def overview(db: str) -> Any:
    database = schema_database(db)
    snapshot = _snapshot(database)
    query = request.args.get("q", "").strip()
    hits = search(snapshot, query) if query else None
    stats = table_stats(session_for(database).connection(), snapshot)
    # Row counts as the home page shows them (exact for small tables, the database's estimate
    # for big ones), so SQLite without ANALYZE gets its counts too.
    counts = database_overview(database, catalog_of).counts
    return render_template(
        "schema/overview.html",
        db=database,
        snapshot=snapshot,
        query=query,
        hits=hits,
        stats=stats,
        counts=counts,
        max_tables=diagrams.MAX_TABLES,
    )


@bp.get("/<db>/-/schema/<table>")
@needs("read")
def structure(db: str, table: str) -> Any:
    database = schema_database(db)
    snapshot = _snapshot(database)
    info = _table(database, snapshot, table)
    try:
        detail = describe_table(database.engine, snapshot, info)
        ddl = table_ddl(database.engine, info, detail.view_definition)
    except TableGone:
        raise _gone(database, info) from None
    neighbours = snapshot.neighbours(info.key)
    drawing = None
    if info.kind == "table" and neighbours and len(neighbours) <= MAX_NEIGHBOURS:
        drawing = diagrams.build(
            [info, *neighbours], lambda t: structure_url(db, t), focus=info.key
        )
    name = f"{info.schema}.{info.name}" if info.schema else info.name
    return render_template(
        "schema/structure.html",
        query_table=name if name in catalog_of(database).entities else None,
        db=database,
        snapshot=snapshot,
        info=info,
        detail=detail,
        ddl=ddl,
        neighbours=neighbours,
        drawing=drawing,
    )


@bp.get("/<db>/-/diagram")
@needs("read")
def diagram(db: str) -> Any:
    database = schema_database(db)
    snapshot = _snapshot(database)
    chosen = request.args.get("table")
    if chosen:  # the picker's GET form: go to the table's canonical diagram URL
        return redirect(diagram_url(db, _table(database, snapshot, chosen)))
    tables = [t for t in snapshot.tables.values() if t.kind == "table"]
    drawing = None
    if len(tables) <= diagrams.MAX_TABLES:
        drawing = diagrams.build(tables, lambda t: structure_url(db, t))
    return render_template(
        "schema/diagram.html",
        db=database,
        snapshot=snapshot,
        tables=tables,
        focus=None,
        drawing=drawing,
        max_tables=diagrams.MAX_TABLES,
    )


@bp.get("/<db>/-/diagram/<table>")
@needs("read")
def table_diagram(db: str, table: str) -> Any:
    database = schema_database(db)
    snapshot = _snapshot(database)
    info = _table(database, snapshot, table)
    neighbours = snapshot.neighbours(info.key)
    drawing = diagrams.build([info, *neighbours], lambda t: structure_url(db, t), focus=info.key)
    return render_template(
        "schema/diagram.html",
        db=database,
        snapshot=snapshot,
        tables=[t for t in snapshot.tables.values() if t.kind == "table"],
        focus=info,
        drawing=drawing,
        max_tables=diagrams.MAX_TABLES,
    )


@bp.get("/<db>/-/drift")
@needs("read")
def drift(db: str) -> Any:
    database = schema_database(db)
    models = database.config.models
    metadata = models_for(database.config).metadata if models is not None else None
    shown = models if models is None or isinstance(models, str) else type(models).__name__
    report = drift_report(database.engine, shown, metadata)
    return render_template(
        "schema/drift.html",
        db=database,
        report=report,
        directions=(MODELS_ONLY, DATABASE_ONLY, DIFFERS),
    )


@bp.post("/<db>/-/refresh")
@needs("read")
def refresh(db: str) -> Any:
    database = schema_database(db)
    database.refresh()
    _cache().drop(database.name)
    refreshes.refreshed(current_app, database.name)  # the other instances follow
    snapshot = _snapshot(database)
    flash(
        f"Schema reloaded: {len(snapshot.tables)} tables and views "
        f"(read in {snapshot.seconds:.2f} s)."
    )
    return redirect(_back_to(request.form.get("next", ""), db, snapshot), code=303)


def _back_to(target: str, db: str, snapshot: Snapshot) -> str:
    """Where to go after a refresh: the page it was asked from, if that page still exists."""
    # Only a path on this site: never an absolute or protocol-relative URL.
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return schema_url(db)
    try:
        _endpoint, args = current_app.url_map.bind("localhost").match(target.split("?", 1)[0])
    except HTTPException:
        return schema_url(db)
    if "table" in args:
        try:
            schema, name = keys.parse_entity_segment(args["table"])
        except keys.MalformedKey:
            return schema_url(db)
        if snapshot.get(schema, name) is None:
            return schema_url(db)
    return target
