"""Statement time limits, per dialect, so no query can hold a worker or a connection for long.

PostgreSQL and MySQL/MariaDB enforce the limit in the server (the statement is cancelled there);
SQLite has no such setting, so a progress handler interrupts the running statement once its
deadline has passed.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from .errors import QueryTimeout

# Opcodes between two progress-handler calls: small enough to stop within milliseconds,
# large enough not to show up in profiles.
_SQLITE_PROGRESS_STEPS = 10_000


def install(engine: Engine, seconds: float) -> None:
    """Make every connection of ``engine`` cancel statements that run longer than ``seconds``."""
    if seconds <= 0:
        return
    name = engine.dialect.name
    if name == "sqlite":
        _install_sqlite(engine, seconds)
        return

    @event.listens_for(engine, "connect")
    def _set_limit(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for statement in session_statements(engine, seconds):
                cursor.execute(statement)
        finally:
            cursor.close()
        if name == "postgresql":
            # The SET above opened a transaction under psycopg2; end it so the pool gets a clean
            # connection.
            dbapi_connection.commit()


def session_statements(engine: Engine, seconds: float) -> list[str]:
    """SQL that sets the limit for one session; the numbers come from config, never from users."""
    millis = int(seconds * 1000)
    if engine.dialect.name == "postgresql":
        return [f"SET statement_timeout = {millis}"]
    if getattr(engine.dialect, "is_mariadb", False):
        return [f"SET SESSION max_statement_time = {seconds:.3f}"]
    if engine.dialect.name in ("mysql", "mariadb"):
        return [f"SET SESSION max_execution_time = {millis}"]
    return []


def _install_sqlite(engine: Engine, seconds: float) -> None:
    deadlines: dict[int, float] = {}

    @event.listens_for(engine, "connect")
    def _add_handler(dbapi_connection: Any, _record: Any) -> None:
        key = id(dbapi_connection)

        def _past_deadline() -> int:
            deadline = deadlines.get(key)
            return 1 if deadline is not None and time.monotonic() > deadline else 0

        dbapi_connection.set_progress_handler(_past_deadline, _SQLITE_PROGRESS_STEPS)

    @event.listens_for(engine, "before_cursor_execute")
    def _start_clock(conn: Any, _cursor: Any, *_args: Any) -> None:
        deadlines[id(conn.connection.dbapi_connection)] = time.monotonic() + seconds

    @event.listens_for(engine, "checkin")
    def _stop_clock(dbapi_connection: Any, _record: Any) -> None:
        deadlines.pop(id(dbapi_connection), None)


def is_timeout(exc: BaseException) -> bool:
    """Tell whether a DBAPI error (or SQLAlchemy's wrapper of one) is a cancelled statement."""
    orig = getattr(exc, "orig", exc)
    pgcode = getattr(orig, "pgcode", None)
    if pgcode == "57014":  # query_canceled
        return True
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in (1969, 3024):  # MariaDB, MySQL
        return True
    return "interrupted" in str(orig).lower() and type(orig).__module__.startswith("sqlite3")


def timeout_error(seconds: float) -> QueryTimeout:
    return QueryTimeout(
        f"The query ran longer than the {seconds:g} s time limit and was cancelled. "
        "Narrow the filters, sort by an indexed column, or add an index."
    )
