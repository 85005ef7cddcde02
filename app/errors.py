"""The dashboard's own exceptions, each carrying the HTTP status it should be answered with.

Services raise these; one error handler in the app factory renders them as HTML or JSON.
Anything else reaching the handler is a bug and gets a 500.
"""

from __future__ import annotations


class RowboatError(Exception):
    status = 500
    title = "Error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(RowboatError):
    status = 404
    title = "Not found"


class BadRequest(RowboatError):
    status = 400
    title = "Bad request"


class ReadOnly(RowboatError):
    status = 403
    title = "Read-only"


class QueryTimeout(RowboatError):
    status = 504
    title = "Query took too long"


class DatabaseUnavailable(RowboatError):
    status = 503
    title = "Database unavailable"


class DiscoveryFailed(DatabaseUnavailable):
    """The database's tables could not be read; remembered for a while (``Database.catalog``)."""

    title = "Tables could not be read"

    def __init__(self, database: str, reason: str, retry_in: float) -> None:
        self.reason = reason
        self.retry_note = (
            f"Rowboat reads them again in {max(retry_in, 0):.0f} s, or at once on "
            "“Refresh schema” (on the schema page)."
        )
        super().__init__(
            f"The tables of database {database!r} could not be read: {reason} {self.retry_note}"
        )


class Unreadable(RowboatError):
    """One table or view the database refuses to read (a materialized view never refreshed, a
    table the user may not select from): that object is broken, the rest of the database works."""

    status = 409
    title = "Cannot be read"


class URITooLong(RowboatError):
    """A request address longer than MAX_URL_LENGTH: refused before it is parsed."""

    status = 414
    title = "Address too long"
