"""Browsing: the home page, a database's tables, a table's list page and a row's page."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request
from markupsafe import Markup
from sqlalchemy.exc import DBAPIError

from ..browse import crumbs, derived, keyfilters, labels, listing, rowhtml, rowpage
from ..browse.counting import Count
from ..browse.overview import database_overview
from ..catalog.model import Catalog, Entity
from ..core import keys
from ..core.filters import OPERATORS, operator_keys
from ..core.formatting import cell
from ..db import timeouts
from ..db.engines import Database, databases_of, session_for
from ..db.errors import BadRequest, QueryTimeout, TooBusy, Unreadable
from ..web import slots, urls
from ..web.errornav import error_navigation
from ..web.errorpages import object_problem, wants_json
from ..web.signin import current_access, needs
from .edit import lookup_url
from .lookup import catalog_of, database_named, entity_at

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
            "unlinked_references": rowhtml.unlinked_references,
            "blank_filter_row": blank_filter_row,
        }
    )


_BLANK_FILTER_ROWS: weakref.WeakKeyDictionary[Entity, Markup] = weakref.WeakKeyDictionary()


def blank_filter_row(entity: Entity, offers: dict[str, tuple[str, str]]) -> Markup:
    """The filter form's empty row for ``entity``, rendered once per table: it lists every
    column with its operators and every operator, which was a twentieth of a list page's
    time, and it is the same on every page of the table."""
    html = _BLANK_FILTER_ROWS.get(entity)
    if html is None:
        # Any: a template module's macros are attributes Jinja sets on it at runtime.
        macros: Any = current_app.jinja_env.get_template("_filter_row.html").module
        row = macros.filter_row(entity, None, None, "", offers)
        html = _BLANK_FILTER_ROWS[entity] = Markup(row)
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
@needs("signed-in")
def home() -> Any:
    access = current_access()
    overviews = [
        database_overview(db, catalog_of)
        for db in databases_of(current_app).values()
        if access.sees_database(db.name)
    ]
    return render_template("home.html", overviews=overviews)


@bp.get("/<db>")
@needs("read")
def database(db: str) -> Any:
    overview = database_overview(database_named(db), catalog_of)
    return render_template("home.html", overviews=[overview])


@bp.get("/<db>/<table>")
@needs("read")
def table(db: str, table: str) -> Any:
    database = database_named(db)
    entity = entity_at(database, table)
    catalog = catalog_of(database)
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
        keep_problems=True,
    )
    session = session_for(database)
    pickers = keyfilters.pickers(catalog, entity)
    offers = _offers(db, pickers)
    # The filters' labels are read before the rows only when settling typed labels needs
    # them; otherwise after, mostly from the labels the rows already carry.
    early = (
        keyfilters.filter_labels(session, pickers, query.form)
        if keyfilters.settles_by_label(pickers, query.form)
        else None
    )
    settled = keyfilters.settle(session, pickers, query.form, early or {})
    if settled.replacements and not settled.messages:
        # Labels typed into foreign-key filters, each naming one row: the URL keeps its key.
        return redirect(
            urls.table(db, entity, keyfilters.with_replacements(args, settled.replacements))
        )
    if settled.messages:
        return _filter_problems(database, entity, catalog, query, args, offers, settled.messages)
    joins = labels.label_joins(catalog, entity)
    # A page no index serves takes one of the database's few slow slots (503 when none is free).
    try:
        slots.hold_for_request(database, listing.slow_list(entity, query))
    except TooBusy as busy:
        return _unfinished_list(database, entity, catalog, query, args, offers, busy)
    with _reading(entity):
        try:
            page = listing.fetch_page(session, entity, query, catalog.dialect, joins)
        except DBAPIError as exc:
            if not timeouts.is_timeout(exc):
                raise
            session.rollback()  # PostgreSQL aborts the transaction on a cancelled statement
            problem = listing.list_timeout(entity, query, settings["STATEMENT_TIMEOUT"])
            return _unfinished_list(database, entity, catalog, query, args, offers, problem)
    refs = page.refs | labels.foreign_key_refs(session, catalog, entity, page.rows, page.refs)
    if early is None:
        shown = keyfilters.filter_labels(session, pickers, query.form, refs)
    else:
        shown = early
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
        first_row=listing.first_row_number(query, len(page.rows), count),
        args=args,
        offers=offers,
        shown=shown,
        messages={},
    )


def _offers(db: str, pickers: dict[str, keyfilters.Picker]) -> dict[str, tuple[str, str]]:
    """For each foreign-key filter column: the picker's lookup URL and the table it searches."""
    return {
        key: (lookup_url(db, picker.target, picker.key), picker.target.name)
        for key, picker in pickers.items()
    }


def _filter_problems(
    database: Database,
    entity: Entity,
    catalog: Catalog,
    query: listing.ListQuery,
    args: list[tuple[str, str]],
    offers: dict[str, tuple[str, str]],
    messages: dict[int, str],
) -> Any:
    """The list page again, its form as it was sent and each filter that cannot be used
    marked with why (a 400): no rows, since they would not be the ones asked for."""
    if wants_json():
        raise BadRequest(next(iter(messages.values())))
    return _without_rows(database, entity, catalog, query, args, offers, messages=messages), 400


def _unfinished_list(
    database: Database,
    entity: Entity,
    catalog: Catalog,
    query: listing.ListQuery,
    args: list[tuple[str, str]],
    offers: dict[str, tuple[str, str]],
    problem: QueryTimeout | TooBusy,
) -> Any:
    """A list page whose rows could not be read in time (504) or not now (503): the page
    itself, with its breadcrumbs and its form as the user had it, the reason in place of the
    rows and links to the same page without its sort, its filters or both."""
    if wants_json():
        raise problem
    seconds = current_app.config["STATEMENT_TIMEOUT"]
    heading = (
        f"This page took longer than {seconds:g} s"
        if isinstance(problem, QueryTimeout)
        else "Too many slow pages at once"
    )
    headers = {"Retry-After": str(problem.retry_after)} if isinstance(problem, TooBusy) else {}
    page = _without_rows(
        database,
        entity,
        catalog,
        query,
        args,
        offers,
        problem=problem,
        problem_heading=heading,
        retries=listing.retry_choices(args, query),
        ways=error_navigation(problem.status).ways,  # again, back, the database, home
    )
    return page, problem.status, headers


def _without_rows(
    database: Database,
    entity: Entity,
    catalog: Catalog,
    query: listing.ListQuery,
    args: list[tuple[str, str]],
    offers: dict[str, tuple[str, str]],
    **why: Any,
) -> str:
    """The list page with its breadcrumbs and its form as sent, and no rows: ``why`` says
    what the template shows in their place (filter ``messages``, or a ``problem``)."""
    context: dict[str, Any] = {
        "table_url": urls.table(database.name, entity),
        "slow": None,
        "db": database,
        "entity": entity,
        "catalog": catalog,
        "query": query,
        "page": None,
        "refs": {},
        "count": None,
        "first_row": None,
        "args": args,
        "offers": offers,
        "shown": {},
        "messages": {},
    }
    return render_template("table.html", **(context | why))


@bp.get("/<db>/<table>/<key>")
@needs("read")
def row(db: str, table: str, key: str) -> Any:
    database = database_named(db)
    entity = entity_at(database, table)
    catalog = catalog_of(database)
    session = session_for(database)
    joins = labels.label_joins(catalog, entity)
    with _reading(entity):
        identity, values, refs = rowpage.find_row(session, entity, key, joins)
    refs |= labels.foreign_key_refs(session, catalog, entity, [values], refs)
    seconds = current_app.config["STATEMENT_TIMEOUT"]
    previews = rowpage.related_previews(
        session, catalog, entity, identity, values, current_app.config["COUNT_CAP"], seconds
    )
    previews_late = rowpage.late_message(previews, seconds)
    return render_template(
        "row.html",
        db=database,
        entity=entity,
        catalog=catalog,
        key=key,
        values=values,
        refs=refs,
        previews=previews,
        previews_late=previews_late,
        derived_rows=derived.derived_rows(session, entity, identity),
        crumb=crumbs.row_crumb(session, entity, key, values),
    )
