"""Browsing: the home page, a database's tables, a table's list page and a row's page."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request
from markupsafe import Markup
from sqlalchemy.exc import DBAPIError

from ..browse import labels, listing, rowhtml, rowpage
from ..browse.counting import Count
from ..browse.overview import database_overview
from ..catalog.model import Entity
from ..core import keys
from ..core.filters import OPERATORS, operator_keys
from ..core.formatting import cell
from ..db import timeouts
from ..db.engines import databases_of, session_for
from ..db.errors import Unreadable
from ..web import slots, urls
from ..web.errorpages import object_problem
from .lookup import database_named, entity_at

bp = Blueprint("browse", __name__)


@bp.record_once
def _template_helpers(state: Any) -> None:
    # Globals rather than a context processor, so imported macros see them too.
    state.app.jinja_env.globals.update(
        {
            "urls": urls,
            "cell": cell,
            "keys": keys,
            "operator_keys": operator_keys,
            "ref_for": labels.ref_for,
            "with_args": urls.with_args,
            "all_operators": OPERATORS,
            "null_keys": lambda values: {k for k, v in values.items() if v is None},
            "list_rows": rowhtml.list_rows,
            "value_cell": rowhtml.value_cell,
            "row_url_prefixes": rowhtml.row_url_prefixes,
            "record_rows": rowhtml.record_rows,
            "blank_filter_row": blank_filter_row,
        }
    )


_BLANK_FILTER_ROWS: weakref.WeakKeyDictionary[Entity, Markup] = weakref.WeakKeyDictionary()


def blank_filter_row(entity: Entity) -> Markup:
    """The filter form's empty row for ``entity``, rendered once per table: it lists every
    column with its operators and every operator, which was a twentieth of a list page's
    time, and it is the same on every page of the table."""
    html = _BLANK_FILTER_ROWS.get(entity)
    if html is None:
        # Any: a template module's macros are attributes Jinja sets on it at runtime.
        macros: Any = current_app.jinja_env.get_template("_filter_row.html").module
        html = _BLANK_FILTER_ROWS[entity] = Markup(macros.filter_row(entity, None, None, ""))
    return html


@contextmanager
def _reading(entity: Entity) -> Iterator[None]:
    """Answer a table or view the database refuses to read with its reason (a 409), not 500."""
    try:
        yield
    except DBAPIError as exc:
        problem = object_problem(exc)
        if problem is None:
            raise
        raise Unreadable(f"{entity.name!r} cannot be read. The database says: {problem}") from exc


@bp.get("/")
def home() -> Any:
    overviews = [database_overview(db) for db in databases_of(current_app).values()]
    return render_template("home.html", overviews=overviews)


@bp.get("/<db>")
def database(db: str) -> Any:
    return render_template("home.html", overviews=[database_overview(database_named(db))])


@bp.get("/<db>/<table>")
def table(db: str, table: str) -> Any:
    database = database_named(db)
    entity = entity_at(database, table)
    catalog = database.catalog
    settings = current_app.config
    args = list(request.args.items(multi=True))
    canonical = listing.canonical_args(args, settings["PAGE_SIZE"], settings["MAX_FILTERS"])
    if canonical is not None:
        return redirect(urls.table(db, entity, canonical))
    query = listing.parse_list_query(
        entity,
        catalog,
        args,
        settings["PAGE_SIZE"],
        settings["MAX_PAGE_SIZE"],
        settings["MAX_FILTERS"],
    )
    session = session_for(database)
    joins = labels.label_joins(catalog, entity)
    # A page no index serves takes one of the database's few slow slots (503 when none is free).
    slots.hold_for_request(database, listing.slow_list(entity, query))
    with _reading(entity):
        try:
            page = listing.fetch_page(session, entity, query, catalog.dialect, joins)
        except DBAPIError as exc:
            if not timeouts.is_timeout(exc):
                raise
            raise listing.list_timeout(entity, query, settings["STATEMENT_TIMEOUT"]) from exc
    refs = page.refs | labels.foreign_key_refs(session, catalog, entity, page.rows, page.refs)
    try:
        count = listing.list_count(
            session,
            catalog,
            entity,
            query,
            page,
            settings["COUNT_CAP"],
            settings["FILTER_COUNT_CAP"],
            database.estimates,
        )
    except DBAPIError as exc:
        if object_problem(exc) is None:
            raise
        # The rows were read, only counting (or PostgreSQL's EXPLAIN) failed: the page shows
        # them with an unknown count rather than not at all.
        current_app.logger.warning("counting %s failed: %s", entity.name, exc)
        session.rollback()
        count = Count(None, exact=False)
    slow = listing.slow_page_advice(entity, query, page, settings["SLOW_PAGE"])
    return render_template(
        "table.html",
        table_url=urls.table(db, entity),
        slow=slow,
        db=database,
        entity=entity,
        catalog=catalog,
        query=query,
        page=page,
        refs=refs,
        count=count,
        args=args,
    )


@bp.get("/<db>/<table>/<key>")
def row(db: str, table: str, key: str) -> Any:
    database = database_named(db)
    entity = entity_at(database, table)
    catalog = database.catalog
    session = session_for(database)
    joins = labels.label_joins(catalog, entity)
    with _reading(entity):
        identity, values, refs = rowpage.find_row(session, entity, key, joins)
    refs |= labels.foreign_key_refs(session, catalog, entity, [values], refs)
    previews = rowpage.related_previews(
        session, catalog, entity, identity, values, current_app.config["COUNT_CAP"]
    )
    return render_template(
        "row.html",
        db=database,
        entity=entity,
        catalog=catalog,
        key=key,
        values=values,
        refs=refs,
        previews=previews,
    )
