"""Time limits, per dialect, so no query and no silent server can hold a worker for long.

PostgreSQL and MySQL/MariaDB enforce the statement limit in the server (the statement is
cancelled there); SQLite has no such setting, so a progress handler interrupts the running
statement once its deadline has passed.

A server that stops answering altogether (hung, blackholed by the network) cancels nothing, so
the client side has deadlines of its own: the drivers' connect timeouts, TCP keepalives and
``tcp_user_timeout`` on PostgreSQL, read and write timeouts on MariaDB (``connect_args``), and a
watchdog thread that drops the connection of a statement whose answer is more than
CONNECT_TIMEOUT seconds past the statement limit (``install_deadlines``): the request then gets
a lost connection (a 503), and the pool a fresh connection next time.
"""

from __future__ import annotations

import logging
import math
import re
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from .errors import QueryTimeout

log = logging.getLogger(__name__)

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


# --- connecting: the drivers' own timeouts ------------------------------------------------------


def connect_args(
    backend: str, driver: str, url_query: Mapping[str, Any], settings: Mapping[str, Any]
) -> dict[str, Any]:
    """The driver arguments that bound connecting and waiting on a server (none from a URL's
    own query string is overridden)."""
    connect = float(settings.get("CONNECT_TIMEOUT", 5.0))
    statement = float(settings["STATEMENT_TIMEOUT"])
    args: dict[str, Any] = {}
    if backend == "sqlite":
        # How long a statement waits for another connection's lock before "database is locked".
        args["timeout"] = statement if statement > 0 else 5.0
    elif driver == "psycopg2" and connect > 0:
        seconds = max(2, math.ceil(connect))  # libpq counts whole seconds, 2 at the least
        args.update(
            connect_timeout=seconds,
            keepalives=1,
            keepalives_idle=seconds,
            keepalives_interval=max(1, seconds // 3),
            keepalives_count=3,
            # Data sent but not acknowledged this long: the network or the host is gone.
            tcp_user_timeout=seconds * 2000,
        )
    elif driver == "pymysql" and connect > 0:
        # read_timeout bounds the handshake here; once connected it becomes the statement
        # limit plus CONNECT_TIMEOUT (install_deadlines), so it always exceeds the limit.
        args.update(connect_timeout=connect, read_timeout=connect, write_timeout=connect)
    return {k: v for k, v in args.items() if k not in url_query}


# --- answering: a watchdog for servers that stop answering ---------------------------------------

# The statements that change a session's limit (session_statements, the export's SET LOCAL):
# the client deadline follows them.
_LIMIT_SET = re.compile(
    r"\s*SET\s+(?:LOCAL\s+|SESSION\s+)?"
    r"(?:(statement_timeout|max_execution_time)\s*=\s*(\d+)|max_statement_time\s*=\s*([\d.]+))",
    re.IGNORECASE,
)
_LIMIT_KEY = "rowboat_statement_limit"


class Watchdog:
    """Drops the connection of a statement (or ping, commit, rollback) that outlives its
    deadline: it shuts the socket down, which wakes the driver blocked on it with an error."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        # id(dbapi connection) -> (deadline, the connection, its allowance, the waiting thread)
        self._watched: dict[int, tuple[float, Any, float, int]] = {}
        self._cut: dict[int, float] = {}  # thread ident -> the allowance its connection overran
        self._thread: threading.Thread | None = None
        self.cuts = 0

    def watch(self, dbapi_connection: Any, seconds: float) -> None:
        ident = threading.get_ident()
        with self._cond:
            self._cut.pop(ident, None)
            deadline = time.monotonic() + seconds
            self._watched[id(dbapi_connection)] = (deadline, dbapi_connection, seconds, ident)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="rowboat-db-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def unwatch(self, dbapi_connection: Any) -> None:
        with self._cond:
            self._watched.pop(id(dbapi_connection), None)

    def overran(self) -> float | None:
        """The allowance the current thread's statement overran (its connection was dropped)."""
        with self._cond:
            return self._cut.pop(threading.get_ident(), None)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for key, (deadline, connection, seconds, ident) in list(self._watched.items()):
                    if deadline <= now:
                        del self._watched[key]
                        self._cut[ident] = seconds
                        self.cuts += 1
                        _drop(connection, seconds)
                nearest = min((entry[0] for entry in self._watched.values()), default=None)
                self._cond.wait(None if nearest is None else max(nearest - now, 0.01))


def _drop(dbapi_connection: Any, seconds: float) -> None:
    sock = getattr(dbapi_connection, "_sock", None)  # PyMySQL
    try:
        fd = sock.fileno() if sock is not None else dbapi_connection.fileno()  # psycopg2
        if fd < 0:
            return
        # A duplicate of the descriptor: shutting it down ends the connection itself, and
        # closing it leaves the driver's own descriptor for the driver to close.
        with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as dup:
            dup.shutdown(socket.SHUT_RDWR)
    except Exception:  # noqa: BLE001 - closed meanwhile: nothing left to drop
        return
    log.warning("a database did not answer within %g s: its connection was dropped", seconds)


watchdog = Watchdog()


def install_deadlines(engine: Engine, statement_seconds: float, grace: float) -> None:
    """Watch every statement, ping, commit and rollback of ``engine``'s connections: one whose
    answer is ``grace`` seconds past the statement limit loses its connection."""
    if engine.dialect.name == "sqlite" or grace <= 0:
        return
    postgresql = engine.dialect.name == "postgresql"

    def allowance(info: Mapping[str, Any]) -> float | None:
        limit = info.get(_LIMIT_KEY, statement_seconds)
        return limit + grace if limit > 0 else None

    def set_read_timeout(dbapi_connection: Any, info: Mapping[str, Any]) -> None:
        if hasattr(dbapi_connection, "_read_timeout"):  # PyMySQL reads it before each packet
            dbapi_connection._read_timeout = allowance(info)
            dbapi_connection._write_timeout = allowance(info)

    @event.listens_for(engine, "connect")
    def _connected(dbapi_connection: Any, record: Any) -> None:
        set_read_timeout(dbapi_connection, record.info)

    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        fairy = conn.connection
        match = _LIMIT_SET.match(statement)
        if match:
            millis, seconds = match.group(2), match.group(3)
            fairy.info[_LIMIT_KEY] = int(millis) / 1000 if millis else float(seconds)
            set_read_timeout(fairy.dbapi_connection, fairy.info)
        seconds_allowed = allowance(fairy.info)
        if seconds_allowed is not None:
            watchdog.watch(fairy.dbapi_connection, seconds_allowed)

    @event.listens_for(engine, "after_cursor_execute")
    def _stop(conn: Any, *_args: Any) -> None:
        watchdog.unwatch(conn.connection.dbapi_connection)

    @event.listens_for(engine, "handle_error")
    def _failed(context: Any) -> None:
        try:
            watchdog.unwatch(context.connection.connection.dbapi_connection)
        except Exception:  # noqa: BLE001 - no connection (connecting failed) or gone already
            pass

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        watchdog.unwatch(dbapi_connection)
        if postgresql and record is not None:
            record.info.pop(_LIMIT_KEY, None)  # SET LOCAL ended with its transaction

    @event.listens_for(engine, "close")
    def _closed(dbapi_connection: Any, _record: Any) -> None:
        watchdog.unwatch(dbapi_connection)

    dialect = engine.dialect
    for name in ("do_ping", "do_commit", "do_rollback"):
        setattr(dialect, name, _watched(getattr(dialect, name), statement_seconds + grace))


def _watched(method: Any, seconds: float) -> Any:
    def call(dbapi_connection: Any, *args: Any) -> Any:
        watchdog.watch(dbapi_connection, seconds)
        try:
            return method(dbapi_connection, *args)
        finally:
            watchdog.unwatch(dbapi_connection)

    return call
