"""One place that turns exceptions into answers: an HTML page, or JSON for JSON clients.

Services raise ``RowboatError`` subclasses that carry their status. Two database failures are
translated here because any page can meet them: a statement cancelled by the time limit, and a
database that cannot be reached. Anything else is a bug: logged, and answered with a plain 500.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import timeouts
from .errors import DatabaseUnavailable, RowboatError


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return request.path.endswith(".json") or best == "application/json"


def render_error(status: int, title: str, message: str) -> Any:
    if _wants_json():
        return jsonify({"ok": False, "status": status, "error": title, "message": message}), status
    return render_template("error.html", status=status, title=title, message=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(RowboatError)
    def _rowboat_error(exc: RowboatError) -> Any:
        return render_error(exc.status, exc.title, exc.message)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Any:
        limit = app.config["MAX_FORM_MEMORY_SIZE"]
        return render_error(
            413,
            "Form too large",
            f"A value sent with this form is larger than the {_size(limit)} this dashboard "
            "accepts, so nothing was saved. The limit is the ROWBOAT_MAX_FORM_MEMORY setting "
            "(bytes).",
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        return render_error(exc.code or 500, exc.name, exc.description or "")

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError) -> Any:
        if timeouts.is_timeout(exc):
            error: RowboatError = timeouts.timeout_error(app.config["STATEMENT_TIMEOUT"])
            return render_error(error.status, error.title, error.message)
        stale = _stale_schema(exc)
        if stale is not None:
            status, message = stale
            return render_error(status, "Schema changed", message)
        if isinstance(exc, DataError):
            # A value the database would not take for its column (out of range, bad text).
            return render_error(400, "Value refused", f"The database refused a value: {exc.orig}")
        if disconnected(exc):
            error = DatabaseUnavailable(f"The database could not be reached: {exc.orig}")
            return render_error(error.status, error.title, error.message)
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


def object_problem(exc: DBAPIError) -> str | None:
    """The database's reason when ``exc`` is about the object read, None when it is not.

    A timeout, a table dropped since discovery and a lost connection have answers of their
    own (the handlers above), and so does a value of the request the database refused (a
    filter's literal: a 400); any other refusal to read one table or view (PostgreSQL's "has
    not been populated", "permission denied") is that object's problem, shown as its reason.
    """
    if isinstance(exc, DataError) or timeouts.is_timeout(exc):
        return None
    if _stale_schema(exc) is not None or disconnected(exc):
        return None
    return str(exc.orig).strip()


def disconnected(exc: DBAPIError) -> bool:
    """Whether ``exc`` says the database could not be reached (not that it refused a read)."""
    invalidated = isinstance(exc, OperationalError) and exc.connection_invalidated
    return invalidated or _unreachable(exc)


def _unreachable(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return any(
        s in text
        for s in (
            "could not connect",
            "can't connect",
            "connection refused",
            "server closed the connection",
            "lost connection",
        )
    )
