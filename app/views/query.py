"""The query builder's pages and the streamed exports (query results and list pages).

Routes live under the reserved ``/-/`` segment so they cannot clash with table names:
``/<db>/-/query`` (the builder; its whole state is the query string), ``/<db>/-/query.json``
(the spec, SQL and results as JSON), ``/<db>/-/query/explain``, ``/<db>/-/query/export.csv``
and ``.json``, and ``/<db>/-/export/<table>.csv`` / ``.json`` for a list page's rows with its
current filters and sort. Each view parses, calls the querybuilder services and renders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.exc import DBAPIError

from ..browse import listing
from ..catalog.model import Catalog, Entity
from ..core import keys
from ..core.formatting import GROUPED, cell
from ..db.engines import Database, session_for
from ..db.errors import QueryTimeout, RowboatError
from ..querybuilder import spec as specs
from ..querybuilder.compile import compile_plan, render_sql
from ..querybuilder.describe import describe
from ..querybuilder.export import Limits, json_value, open_export
from ..querybuilder.operators import HAVING_KEYS, QUERY_OPERATORS, operators_for
from ..querybuilder.run import Result, explain, run_select
from ..querybuilder.spec import AGGREGATES, QueryError, QuerySpec
from ..querybuilder.validate import (
    FUNC_LABELS,
    FieldTerm,
    Plan,
    column_title,
    join_choices,
    joined_titles,
    path_titles,
    reachable,
    validate,
)
from ..web import slots, urls
from ..web.signin import needs
from .lookup import catalog_of, database_named, entity_at

bp = Blueprint("query", __name__)
# Slow operations take a slot of their database (app.web.slots): exports and runs here, list pages
# off their fast path in browse.
bp.record_once(lambda state: slots.init_app(cast(Flask, state.app)))


def setting(name: str) -> Any:
    """A query/export setting (QUERY_ROW_LIMIT, QUERY_MAX_ROWS, EXPORT_MAX_ROWS, EXPORT_TIMEOUT)."""
    return current_app.config[name]


def query_url(db: str, spec: QuerySpec, endpoint: str = "query.page", **kw: Any) -> str:
    path = url_for(endpoint, db=db, **kw)
    args = specs.to_args(spec) if spec.table else []
    return f"{path}?{_encode(args)}" if args else path


def _encode(args: list[tuple[str, str]]) -> str:
    # ":", "," and "*" are legal in a query string and keep shared links readable.
    return urlencode(args, safe=":,*")


def _args() -> list[tuple[str, str]]:
    # In the order sent: request.args groups repeated names, and the form's rows interleave.
    return parse_qsl(request.query_string.decode("utf-8", "replace"), keep_blank_values=True)


def _spec_from_request() -> QuerySpec:
    args = _args()
    if specs.is_form(args):
        return specs.from_form(args)
    return specs.parse_args(args)


def _plan(database: Database, spec: QuerySpec) -> Plan:
    return validate(spec, catalog_of(database), setting("EXPORT_MAX_ROWS"))


def _shown_limit(plan: Plan) -> int:
    wanted = plan.limit if plan.limit is not None else setting("QUERY_ROW_LIMIT")
    return min(wanted, setting("QUERY_MAX_ROWS"))


# --- the builder page -------------------------------------------------------------------------


@dataclass
class Built:
    """What the builder page shows: the plan (when valid), its SQL, sentence and result."""

    spec: QuerySpec
    plan: Plan | None = None
    sql: str = ""
    description: str = ""
    result: Result | None = None
    error: RowboatError | None = None
    database_error: str = ""
    status: int = 200
    rows: list[list[dict[str, Any]]] = field(default_factory=list)


def _build(database: Database, spec: QuerySpec) -> Built:
    built = Built(spec)
    try:
        built.plan = _plan(database, spec)
    except QueryError as exc:
        built.error, built.status = exc, exc.status
        return built
    plan = built.plan
    limit = _shown_limit(plan)
    stmt = compile_plan(plan, limit=limit)
    built.sql = render_sql(stmt, database.engine.dialect)
    built.description = describe(plan, limit)
    if spec.run:
        try:
            with slots.held(database):
                built.result = run_select(
                    database.engine, stmt, limit, current_app.config["STATEMENT_TIMEOUT"]
                )
        except QueryTimeout as exc:
            built.error, built.status = exc, exc.status
        except DBAPIError as exc:
            built.database_error = str(exc.orig).strip()
            built.status = 400
        else:
            built.rows = _cells(database, plan, built.result)
    return built


def _cells(database: Database, plan: Plan, result: Result) -> list[list[dict[str, Any]]]:
    """Each value as safe HTML, with a link to its row page where the key was selected."""
    links: dict[int, tuple[Entity, list[int]]] = {}
    if not plan.aggregated:
        for source in plan.sources:
            pk = source.entity.primary_key
            positions: dict[str, int] = {}
            for i, term in enumerate(plan.outputs):
                if isinstance(term, FieldTerm) and term.source is source:
                    positions.setdefault(term.column.key, i)
            if pk and all(k in positions for k in pk):
                for k in pk:
                    links[positions[k]] = (source.entity, [positions[x] for x in pk])
    # A quantity's cell is marked for static/values.js to group its digits, as on list pages.
    kinds = [f"{t.kind} {GROUPED}" if t.grouped else t.kind for t in plan.outputs]
    rows = []
    for values in result.rows:
        cells = []
        for i, (term, value) in enumerate(zip(plan.outputs, values)):
            href = None
            if i in links and value is not None:
                entity, where = links[i]
                identity = keys.row_identity(
                    [values[j] for j in where], [entity.columns[k] for k in entity.primary_key]
                )
                if identity is not None:  # a NULL in a composite key: the row has no page
                    href = url_for(
                        "browse.row",
                        db=database.name,
                        table=urls.segment(entity),
                        key=identity,
                    )
            cells.append({"html": cell(value, term.column), "href": href, "kind": kinds[i]})
        rows.append(cells)
    return rows


def _fields(catalog: Catalog, spec: QuerySpec) -> list[dict[str, Any]]:
    """Every column the query can use, grouped by the table it belongs to."""
    groups = []
    for path, entity in reachable(catalog, spec).items():
        titles = path_titles(catalog, spec.table, path)
        columns = []
        for column in entity.columns.values():
            ref = specs.FieldRef(path, column.key)
            columns.append(
                {
                    "ref": ref.text(),
                    "name": column_title(titles, column.name),
                    "short": column.name,
                    "kind": column.kind,
                    "ops": " ".join(op.key for op in operators_for(column)),
                }
            )
        label = f"{joined_titles(titles)} ({entity.name})" if path else entity.name
        groups.append({"path": path, "label": label, "entity": entity, "columns": columns})
    return groups


def _group_items(group: specs.GroupSpec, counter: list[int], parent: int) -> dict[str, Any]:
    """The WHERE tree with ids, as the template draws it (ids renumbered from 0)."""
    gid = counter[0]
    counter[0] += 1
    items: list[dict[str, Any]] = []
    for item in group.items:
        if isinstance(item, specs.GroupSpec):
            if not item.is_empty():
                items.append(_group_items(item, counter, gid))
        else:
            items.append({"condition": item})
    return {"group": True, "id": gid, "parent": parent, "kind": group.kind, "items": items}


@bp.get("/<db>/-/query")
@needs("read")
def page(db: str) -> Any:
    database = database_named(db)
    args = _args()
    if specs.is_form(args):
        return redirect(query_url(db, specs.from_form(args)))
    spec = specs.parse_args(args)
    catalog = catalog_of(database)
    if not spec.table:
        return render_template("query/choose.html", db=database, catalog=catalog)
    if spec.table not in catalog.entities:
        raise QueryError(f"the database has no table or view {spec.table!r}")
    built = _build(database, spec)
    fields = _fields(catalog, spec)
    context = {
        "db": database,
        "catalog": catalog,
        "spec": spec,
        "built": built,
        "fields": fields,
        "selected_cols": {c.text() for c in spec.columns},
        "where_tree": _group_items(spec.where, [0], -1),
        "join_choices": join_choices(catalog, spec),
        "operators": QUERY_OPERATORS,
        "having_operators": [op for op in QUERY_OPERATORS if op.key in HAVING_KEYS],
        "aggregates": [(key, FUNC_LABELS[key]) for key in AGGREGATES],
        "urls_for": _page_urls(db, spec),
        "remove_join": lambda path: query_url(db, specs.without_join(spec, path)),
        "path_title": lambda path: joined_titles(path_titles(catalog, spec.table, tuple(path))),
        "shown_limit": _shown_limit(built.plan) if built.plan else None,
        "max_rows": setting("QUERY_MAX_ROWS"),
        "spec_json": json.dumps(specs.to_json(spec), indent=2, ensure_ascii=False),
    }
    return render_template("query/builder.html", **context), built.status


def _page_urls(db: str, spec: QuerySpec) -> dict[str, str]:
    return {
        "run": _with_run(db, spec, True),
        "edit": _with_run(db, spec, False),
        "share": _with_run(db, spec, True, external=True),
        "explain": query_url(db, spec, "query.explain_page"),
        "csv": query_url(db, spec, "query.export", fmt="csv"),
        "json_export": query_url(db, spec, "query.export", fmt="json"),
        "json": query_url(db, spec, "query.page_json"),
        "reset": url_for("query.page", db=db, table=spec.table),
    }


def _with_run(db: str, spec: QuerySpec, run: bool, external: bool = False) -> str:
    path = url_for("query.page", db=db)
    if external:  # ROWBOAT_BASE_URL, or the request's trusted host: never any Host header
        path = urls.external(path)
    return f"{path}?{_encode(specs.to_args(spec, run=run))}"


# --- JSON, explain, export --------------------------------------------------------------------


@bp.get("/<db>/-/query.json")
@needs("read", machine=True)
def page_json(db: str) -> Any:
    database = database_named(db)
    args = _args()
    spec = specs.from_form(args) if specs.is_form(args) else specs.parse_args(args)
    plan = _plan(database, spec)
    limit = _shown_limit(plan)
    stmt = compile_plan(plan, limit=limit)
    parts = [
        ('"spec"', json.dumps(specs.to_json(spec), ensure_ascii=False)),
        ('"url"', json.dumps(_with_run(db, spec, True, external=True))),
        ('"sql"', json.dumps(render_sql(stmt, database.engine.dialect), ensure_ascii=False)),
        ('"description"', json.dumps(describe(plan, limit), ensure_ascii=False)),
        ('"columns"', json.dumps([t.name for t in plan.outputs], ensure_ascii=False)),
    ]
    if spec.run:
        with slots.held(database):
            seconds = current_app.config["STATEMENT_TIMEOUT"]
            result = run_select(database.engine, stmt, limit, seconds)
        rows = ",\n".join("[" + ", ".join(json_value(v) for v in row) + "]" for row in result.rows)
        parts += [('"rows"', f"[{rows}]"), ('"truncated"', json.dumps(result.truncated))]
    body = "{" + ",\n".join(f"{k}: {v}" for k, v in parts) + "}\n"
    return Response(body, mimetype="application/json")


@bp.get("/<db>/-/query/explain")
@needs("read")
def explain_page(db: str) -> Any:
    database = database_named(db)
    spec = _spec_from_request()
    plan = _plan(database, spec)
    limit = _shown_limit(plan)
    stmt = compile_plan(plan, limit=limit)
    columns, rows = explain(database.engine, stmt, current_app.config["STATEMENT_TIMEOUT"])
    return render_template(
        "query/explain.html",
        db=database,
        spec=spec,
        sql=render_sql(stmt, database.engine.dialect),
        description=describe(plan, limit),
        columns=columns,
        rows=rows,
        back=_with_run(db, spec, spec.run),
    )


def _stream(database: Database, stmt: Any, headers: list[str], fmt: str, cap: int, name: str):
    limits = Limits(
        seconds=setting("EXPORT_TIMEOUT"),
        idle=setting("EXPORT_IDLE_TIMEOUT"),
        default=current_app.config["STATEMENT_TIMEOUT"],
    )
    # The slot is held until the stream is closed (the last byte sent, or the client gone).
    slot = slots.take(database)
    try:
        stream = open_export(database.engine, stmt, headers, fmt, cap, limits, slot.release)
    except BaseException:
        slot.release()
        raise
    filename = "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "export"
    response = Response(stream, mimetype=stream.content_type.split(";")[0])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response.headers["X-Row-Cap"] = str(cap)
    return response


@bp.get("/<db>/-/query/export.<any(csv, json):fmt>")
@needs("read", machine=True)
def export(db: str, fmt: str) -> Any:
    database = database_named(db)
    spec = _spec_from_request()
    plan = _plan(database, spec)
    cap = min(plan.limit or setting("EXPORT_MAX_ROWS"), setting("EXPORT_MAX_ROWS"))
    stmt = compile_plan(plan, export=True)
    headers = [t.name for t in plan.outputs]
    return _stream(database, stmt, headers, fmt, cap, f"{plan.base.entity.name}-query")


@bp.get("/<db>/-/export/<table>.<any(csv, json):fmt>")
@needs("read", machine=True)
def export_table(db: str, table: str, fmt: str) -> Any:
    """A list page's rows, all of them (up to the cap), with its filters, search and sort."""
    database = database_named(db)
    entity = entity_at(database, table)
    catalog = catalog_of(database)
    settings = current_app.config
    args = [(n, v) for n, v in _args() if n not in ("_next", "_prev", "_last", "_at", "_size")]
    query = listing.parse_list_query(
        entity, catalog, args, settings["PAGE_SIZE"], settings["MAX_PAGE_SIZE"]
    )
    via_parent = listing.load_via_parent(session_for(database), query.via) if query.via else None
    columns = list(entity.columns.values())
    stmt = listing.base_select(entity, [c.expression.label(c.key) for c in columns])
    stmt = stmt.where(listing.where_clause(entity, query, via_parent))
    order = listing.order_columns(entity, query)
    stmt = stmt.order_by(
        *[c.expression.desc() if query.descending else c.expression.asc() for c in order]
    )
    headers = [c.name for c in columns]
    return _stream(database, stmt, headers, fmt, setting("EXPORT_MAX_ROWS"), entity.name)
