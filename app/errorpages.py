"""One place that turns exceptions into answers: an HTML page, or JSON for JSON clients.

Services raise ``RowboatError`` subclasses that carry their status. Two database failures are
translated here because any page can meet them: a statement cancelled by the time limit, and a
database that cannot be reached. Anything else is a bug: logged, and answered with a plain 500.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

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

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        return render_error(exc.code or 500, exc.name, exc.description or "")

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError) -> Any:
        if timeouts.is_timeout(exc):
            error = timeouts.timeout_error(app.config["STATEMENT_TIMEOUT"])
            return render_error(error.status, error.title, error.message)
        if isinstance(exc, OperationalError) and exc.connection_invalidated or _unreachable(exc):
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
