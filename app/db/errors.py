"""The dashboard's own exceptions, each carrying the HTTP status it should be answered with.

Services raise these; one error handler in the app factory renders them as HTML or JSON.
Anything else reaching the handler is a bug and gets a 500.
"""

from __future__ import annotations

import math


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
    """The database cannot answer now (down, restarting, busy, hung): a 503 with Retry-After.

    The message names the database by its Rowboat name only; the driver's own text, which
    names the host, port and user, goes to the log, never to the page.
    """

    status = 503
    title = "Database unavailable"

    def __init__(self, message: str, retry_after: float = 5) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


class DatabaseBusy(DatabaseUnavailable):
    title = "Database busy"


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
            f"The tables of database {database!r} could not be read: {reason} {self.retry_note}",
            retry_in,
        )


class DiscoveryBusy(DatabaseBusy):
    """Another request is still reading the database's tables (``Database.catalog``)."""

    def __init__(self, database: str, waited: float) -> None:
        super().__init__(
            f"The tables of database {database!r} are still being read by another request "
            f"(waited {waited:g} s). Try again in a moment.",
            max(2.0, waited / 2),
        )


# --- database faults that are not the request's fault ------------------------------------------

# (kind, retry after) -> what the page says; {db} is the Rowboat name of the database.
_FAULT_TEXT = {
    "lost": (
        "The connection to database {db} was lost: the server closed it, restarted or was "
        "stopped. Try again in a moment.",
        5,
    ),
    "unreachable": (
        "Database {db} cannot be reached: its server refuses connections or did not answer "
        "in time.",
        5,
    ),
    "starting": (
        "Database {db} is starting up, shutting down or recovering, and does not accept "
        "connections yet. Try again in a moment.",
        5,
    ),
    "login": (
        "Database {db} refused the dashboard's login (user name, password or database name). "
        "The connection settings of the dashboard need fixing.",
        30,
    ),
    "full": ("Database {db} has no free connections: too many clients are connected.", 5),
    "busy": (
        "Database {db} is busy: another program holds a lock on it. Try again in a moment.",
        2,
    ),
}

_PG_CODES = {
    "57P01": "lost",  # admin_shutdown: terminating connection due to administrator command
    "57P02": "lost",  # crash_shutdown
    "57P03": "starting",  # cannot_connect_now: starting up, shutting down, in recovery
    "53300": "full",  # too_many_connections
    "28P01": "login",  # invalid_password
    "28000": "login",  # invalid_authorization_specification (pg_hba.conf)
    "3D000": "login",  # invalid_catalog_name: the database does not exist
}
_MY_CODES = {
    1044: "login",  # access denied to the database
    1045: "login",  # access denied for user (wrong password)
    1049: "login",  # unknown database
    1698: "login",  # access denied (unix socket auth)
    1040: "full",  # too many connections
    1203: "full",  # max_user_connections
    1226: "full",  # a user resource limit
    2002: "unreachable",
    2003: "unreachable",
    2005: "unreachable",
    2006: "lost",  # server has gone away
    2013: "lost",  # lost connection during query
    2055: "lost",
    1053: "lost",  # server shutdown in progress
    1927: "lost",  # connection was killed
    4031: "lost",  # disconnected by the server for inactivity
}
_TEXTS = (
    ("starting", ("the database system is starting up", "the database system is shutting down")),
    ("starting", ("not yet accepting connections", "the database system is in recovery mode")),
    ("full", ("too many clients", "too many connections", "remaining connection slots")),
    ("login", ("password authentication failed", "no pg_hba.conf entry", "access denied for")),
    ("login", ('fatal:  role "', 'fatal:  database "')),  # unknown role or database, connecting
    ("busy", ("database is locked", "database table is locked", "database schema is locked")),
    ("lost", ("terminating connection", "server closed the connection", "connection already")),
    ("lost", ("ssl syscall error", "could not receive data", "could not send data")),
    ("lost", ("no connection to the server", "lost connection", "server has gone away")),
    ("lost", ("connection reset by peer", "broken pipe")),
    ("unreachable", ("connection refused", "could not connect", "can't connect")),
    ("unreachable", ("timeout expired", "could not translate host", "no route to host")),
    ("unreachable", ("network is unreachable", "unable to open database file")),
)


_CAUSES = {
    "lost": "the connection to the database was lost",
    "unreachable": "the database cannot be reached",
    "starting": "the database is starting up or shutting down",
    "login": "the database refused the dashboard's login",
    "full": "the database has no free connections",
    "busy": "the database is busy: another program holds a lock on it",
}


def fault_cause(kind: str) -> str:
    """A fault kind (``fault_kind``) as the cause in a sentence."""
    return _CAUSES.get(kind, "the database failed")


def fault_kind(exc: BaseException) -> str | None:
    """Which passing fault of the database ``exc`` (a DBAPI error or SQLAlchemy's wrapper of
    one) reports: lost, unreachable, starting, login, full or busy; None for anything else."""
    orig = getattr(exc, "orig", None) or exc
    kind = _PG_CODES.get(getattr(orig, "pgcode", None) or "")
    args = getattr(orig, "args", ())
    if kind is None and args and isinstance(args[0], int):
        kind = _MY_CODES.get(args[0])
        if args[0] == 0 and "InterfaceError" in type(orig).__name__:
            kind = "lost"  # PyMySQL's "(0, '')": the connection is already closed
    if kind is None:
        text = str(orig).lower()
        kind = next((k for k, needles in _TEXTS if any(n in text for n in needles)), None)
    if kind is None and getattr(exc, "connection_invalidated", False):
        kind = "lost"
    return kind


def unavailable(exc: BaseException, database: str | None) -> DatabaseUnavailable | None:
    """The 503 to answer ``exc`` with, when it is a passing fault of the database, else None."""
    kind = fault_kind(exc)
    if kind is None:
        return None
    text, retry = _FAULT_TEXT[kind]
    message = text.format(db=repr(database) if database else "(this one)")
    return DatabaseBusy(message, retry) if kind == "busy" else DatabaseUnavailable(message, retry)


def scrub(text: str, *secrets: object) -> str:
    """``text`` without the given host, port and user names (a driver's message names them)."""
    for secret in secrets:
        if secret not in (None, ""):
            text = text.replace(str(secret), "…")
    return text


class Unreadable(RowboatError):
    """One table or view the database refuses to read (a materialized view never refreshed, a
    table the user may not select from): that object is broken, the rest of the database works."""

    status = 409
    title = "Cannot be read"


class TooBusy(RowboatError):
    """Too many slow operations already run on one database in this process (``app.slots``):
    answered at once with 503 and a Retry-After, rather than queued behind them."""

    status = 503
    title = "Too busy"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class URITooLong(RowboatError):
    """A request address longer than MAX_URL_LENGTH: refused before it is parsed."""

    status = 414
    title = "Address too long"
