"""Run a compiled query safely: read-only, time-limited, through the shared pool, capped.

A query from the builder is somebody's ad-hoc idea, so it gets a transaction that cannot
write (PostgreSQL ``SET TRANSACTION READ ONLY``, MySQL/MariaDB ``START TRANSACTION READ ONLY``,
SQLite ``PRAGMA query_only``), the engine's statement time limit, and a fetch of at most the
cap plus one row: the extra row only tells whether the result was cut. The connection goes back
to the pool on every path; a cancelled statement becomes a QueryTimeout (504) with a message.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from ..db import timeouts
from .compile import Explain


@dataclass
class Result:
    rows: list[tuple[Any, ...]]
    truncated: bool  # more rows exist than were fetched
    limit: int
    seconds: float


@contextmanager
def read_only(connection: Connection) -> Iterator[Connection]:
    """Make the connection's next transaction read-only; end it (rolled back) afterwards."""
    name = connection.dialect.name
    if name == "sqlite":
        connection.exec_driver_sql("PRAGMA query_only = ON")
        try:
            yield connection
        finally:
            try:
                connection.rollback()
                connection.exec_driver_sql("PRAGMA query_only = OFF")
                connection.commit()
            except DBAPIError:
                # A connection that cannot be made writable again must not be reused.
                connection.invalidate()
        return
    if name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
    else:
        connection.exec_driver_sql("START TRANSACTION READ ONLY")
    try:
        yield connection
    finally:
        if not connection.invalidated:
            connection.rollback()


def timed_out(exc: DBAPIError, seconds: float) -> Exception:
    """The QueryTimeout for a cancelled statement, or the error itself otherwise."""
    return timeouts.timeout_error(seconds) if timeouts.is_timeout(exc) else exc


def run_select(engine: Engine, stmt: Select[Any], limit: int, seconds: float) -> Result:
    """Fetch at most ``limit`` rows of ``stmt`` (asking for one more to know if it was cut)."""
    started = time.monotonic()
    try:
        with engine.connect() as connection, read_only(connection):
            result = connection.execute(stmt.limit(limit + 1))
            rows = [tuple(row) for row in result.fetchmany(limit + 1)]
            result.close()
    except DBAPIError as exc:
        raise timed_out(exc, seconds) from exc
    truncated = len(rows) > limit
    return Result(rows[:limit], truncated, limit, time.monotonic() - started)


def explain(engine: Engine, stmt: Select[Any], seconds: float) -> tuple[list[str], list[tuple]]:
    """The database's plan for ``stmt``: column names and rows, as the database gives them."""
    try:
        with engine.connect() as connection, read_only(connection):
            result = connection.execute(Explain(stmt))
            columns = list(result.keys())
            rows = [tuple(row) for row in result.fetchall()]
    except DBAPIError as exc:
        raise timed_out(exc, seconds) from exc
    return columns, rows
