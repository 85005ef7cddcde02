"""One place that turns exceptions into answers: an HTML page, or JSON for JSON clients.

Services raise ``RowboatError`` subclasses that carry their status. Database failures any page
can meet are translated here: a statement cancelled by the time limit (504), and a database that
is down, restarting, busy, hung or out of connections (503 with Retry-After, naming the database
by its Rowboat name only: the driver's text, with host, port and user, goes to the log). Anything
else is a bug: logged, and answered with a plain 500.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, jsonify, render_template, request
from sqlalchemy.exc import DataError, DBAPIError, OperationalError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..db import timeouts
from ..db.errors import DatabaseBusy, DatabaseUnavailable, RowboatError, fault_kind, unavailable
from .errornav import error_navigation


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return request.path.endswith(".json") or best == "application/json"


def render_error(status: int, title: str, message: str, retry_after: int | None = None) -> Any:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if wants_json():
        payload = {"ok": False, "status": status, "error": title, "message": message}
        return jsonify(payload), status, headers
    # The breadcrumbs and ways back: an error page never strands the user (errornav).
    nav = error_navigation(status)
    page = render_template("error.html", status=status, title=title, message=message, nav=nav)
    return page, status, headers


def database_name() -> str | None:
    """The Rowboat name of the database this request is about (from its URL), if any."""
    name = (request.view_args or {}).get("db")
    return name if isinstance(name, str) and name in current_app.config["DATABASES"] else None


def fault_answer(exc: BaseException) -> DatabaseUnavailable | None:
    """The 503 for a database fault (down, restarting, busy, hung), with the driver's words
    logged, never shown: they name the server's host, port and user."""
    fault = unavailable(exc, database_name())
    if fault is None:
        return None
    overran = timeouts.watchdog.overran()
    if overran is not None and fault_kind(exc) == "lost":
        fault = DatabaseUnavailable(
            f"Database {database_name() or '(this one)'!r} did not answer within {overran:g} s; "
            "its connection was dropped. Try again in a moment.",
            5,
        )
    current_app.logger.warning(
        "database %s unavailable: %s", database_name(), getattr(exc, "orig", None) or exc
    )
    return fault


def init_app(app: Flask) -> None:
    @app.errorhandler(RowboatError)
    def _rowboat_error(exc: RowboatError) -> Any:
        return render_error(exc.status, exc.title, exc.message, getattr(exc, "retry_after", None))

    @app.errorhandler(PoolTimeout)
    def _pool_exhausted(exc: PoolTimeout) -> Any:
        name = database_name()
        app.logger.warning("database %s: no free connection: %s", name, exc)
        error = DatabaseBusy(
            f"Every connection to database {name or '(this one)'!r} is in use, and none came "
            f"free within {app.config['POOL_TIMEOUT']:g} s. Try again in a moment.",
            2,
        )
        return render_error(error.status, error.title, error.message, error.retry_after)

    @app.errorhandler(PendingRollbackError)
    def _broken_transaction(exc: PendingRollbackError) -> Any:
        # A connection lost earlier in this request left its transaction unusable.
        app.logger.warning("database %s: %s", database_name(), exc)
        error = DatabaseUnavailable(
            f"The connection to database {database_name() or '(this one)'!r} was lost during "
            "this request. Try again in a moment.",
            5,
        )
        return render_error(error.status, error.title, error.message, error.retry_after)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Any:
        limit = app.config["MAX_FORM_MEMORY_SIZE"]
        return render_error(
            413,
            "Form too large",
            f"This request is larger than this dashboard accepts, so nothing was saved: a "
            f"value typed into a form may hold {_size(limit)} (the ROWBOAT_MAX_FORM_MEMORY "
            "setting, in bytes), a file the size its column holds, up to ROWBOAT_MAX_UPLOAD.",
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        return render_error(exc.code or 500, exc.name, exc.description or "")

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError) -> Any:
        if timeouts.is_timeout(exc):
            error: RowboatError = timeouts.timeout_error(app.config["STATEMENT_TIMEOUT"])
            return render_error(error.status, error.title, error.message)
        fault = fault_answer(exc)
        if fault is not None:
            return render_error(fault.status, fault.title, fault.message, fault.retry_after)
        stale = _stale_schema(exc)
        if stale is not None:
            status, message = stale
            mismatch = _models_mismatch(status)
            if mismatch is not None:
                return render_error(status, "Models and database differ", mismatch)
            return render_error(status, "Schema changed", message)
        if refused_value(exc):
            # A value the database would not take for its column (out of range, bad text).
            return render_error(400, "Value refused", f"The database refused a value: {exc.orig}")
        app.logger.exception("database error")
        return render_error(
            500,
            "Database error",
            "The database refused the request. The details are in the server log.",
        )

    @app.errorhandler(Exception)
    def _bug(exc: Exception) -> Any:
        app.logger.exception("unhandled error")
        return render_error(
            500,
            "Internal error",
            "Something went wrong on our side. The details are in the server log.",
        )


def _size(count: int) -> str:
    for unit, factor in (("MB", 1_000_000), ("KB", 1_000)):
        if count >= factor:
            return f"{count / factor:g} {unit}"
    return f"{count} bytes"


# Errors that mean the database changed under a cached catalog: (PostgreSQL SQLSTATE, MySQL
# error number, SQLite message start) for a missing table, then for a missing column.
_MISSING_TABLE = ("42P01", 1146, "no such table")
_MISSING_COLUMN = ("42703", 1054, "no such column")
_REFRESH_HINT = " Use “Refresh schema” on the schema page to read the database again."


def _stale_schema(exc: DBAPIError) -> tuple[int, str] | None:
    orig = exc.orig
    code = getattr(orig, "pgcode", None)
    number = orig.args[0] if orig is not None and getattr(orig, "args", None) else None
    text = str(orig).lower()
    for status, (sqlstate, errno, prefix), what in (
        (404, _MISSING_TABLE, "This table no longer exists in the database."),
        (409, _MISSING_COLUMN, "This table no longer has a column the dashboard knew of."),
    ):
        if code == sqlstate or number == errno or text.startswith(prefix):
            return status, what + _REFRESH_HINT
    return None


def _models_mismatch(status: int) -> str | None:
    """What a missing table (404) or column (409) means for a database read through the
    user's models: they declare what the database lacks, which reading it again will not
    mend. None for a reflected database."""
    name = database_name()
    if name is None or current_app.config["DATABASES"][name].models is None:
        return None
    table = (request.view_args or {}).get("table") or request.args.get("table")
    if status == 404:
        what = f"table {table!r}" if table else "a table"
    else:
        what = f"a column of table {table!r}" if table else "a column"
    return (
        f"The models of database {name!r} declare {what}, which the database does not have. "
        f"Migrate the database or fix the models; /{name}/-/drift lists every difference. "
        "The other tables work."
    )


def object_problem(exc: DBAPIError) -> str | None:
    """The database's reason when ``exc`` is about the object read, None when it is not.

    A timeout, a table dropped since discovery and a lost connection have answers of their
    own (the handlers above), and so does a value of the request the database refused (a
    filter's literal: a 400); any other refusal to read one table or view (PostgreSQL's "has
    not been populated", "permission denied") is that object's problem, shown as its reason.
    """
    if refused_value(exc) or timeouts.is_timeout(exc):
        return None
    if _stale_schema(exc) is not None or disconnected(exc):
        return None
    return str(exc.orig).strip()


# MariaDB/MySQL errors about a value of the request, raised as OperationalError rather than
# DataError: 1267 "Illegal mix of collations" (a character the column's character set lacks,
# compared with it) and 1271 / 1270 (the same among three or more operands).
_MYSQL_VALUE_ERRORS = frozenset({1267, 1270, 1271})


def refused_value(exc: DBAPIError) -> bool:
    """Whether the database refused a value the request gave (a 400), not the request's object
    or the database itself."""
    if isinstance(exc, DataError):
        return True
    args: tuple[Any, ...] = tuple(getattr(exc.orig, "args", ()))
    return len(args) > 0 and args[0] in _MYSQL_VALUE_ERRORS


def disconnected(exc: DBAPIError) -> bool:
    """Whether ``exc`` is the database's passing fault (unreachable, lost, restarting, busy),
    not its refusal of this read."""
    invalidated = isinstance(exc, OperationalError) and exc.connection_invalidated
    return invalidated or fault_kind(exc) is not None
