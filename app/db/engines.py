"""The shared engine pools, one per configured database, and the per-request sessions.

This module owns the lifecycle of both: engines are created once by the app factory and
disposed with the app; a request asks for a session with ``session_for(db)`` and the teardown
registered in ``init_app`` closes every session the request opened, whatever happened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session

from ..config import DatabaseConfig
from . import heap, pgvalues, timeouts
from .errors import DiscoveryBusy, DiscoveryFailed, scrub, unavailable

log = logging.getLogger(__name__)

# Row estimates of big tables: entity name -> (when read, estimate).
EstimateMemo = dict[str, tuple[float, int | None]]


def build_engine(db: DatabaseConfig, settings: dict[str, Any]) -> Engine:
    """Create the one engine for ``db``: pre-ping, pool limits, time limit, SQLite foreign keys."""
    url = make_url(db.url)
    options: dict[str, Any] = {}
    if url.get_backend_name() != "sqlite":
        # SQLite files use a queue pool of their own; sizes apply to server databases only.
        options.update(
            pool_size=settings["POOL_SIZE"],
            max_overflow=settings["MAX_OVERFLOW"],
            pool_timeout=settings["POOL_TIMEOUT"],
            pool_recycle=settings["POOL_RECYCLE"],
        )
    connect_args = timeouts.connect_args(
        url.get_backend_name(), url.get_driver_name(), url.query, settings
    )
    if url.get_backend_name() == "mysql":
        connect_args["charset"] = "utf8mb4"
        url = url.update_query_dict({"charset": "utf8mb4"}) if "charset" not in url.query else url
    if url.get_backend_name() == "sqlite":
        connect_args["check_same_thread"] = False
    # A database's own options come last; its connect_args add to these, key by key.
    options.update(db.options)
    options["connect_args"] = {**connect_args, **dict(db.options.get("connect_args", {}))}
    engine = create_engine(url, **options)
    if not options.get("pool_pre_ping"):  # a database's options may ask for a ping every time
        _ping_idle_connections(engine)
    if engine.dialect.name == "sqlite":
        _enforce_sqlite_foreign_keys(engine)
    if engine.dialect.driver == "psycopg2":
        event.listen(
            engine, "connect", lambda dbapi_connection, _record: pgvalues.register(dbapi_connection)
        )
    timeouts.install(engine, settings["STATEMENT_TIMEOUT"])
    timeouts.install_deadlines(
        engine, settings["STATEMENT_TIMEOUT"], float(settings.get("CONNECT_TIMEOUT", 5.0))
    )
    return engine


# A connection used less than this many seconds ago is handed out without a ping (what
# HikariCP calls its "alive bypass window"): under load each request skips a round trip,
# while a connection idle for longer, which a server restart or a firewall may have cut
# meanwhile, is still checked and replaced if it is dead.
PING_AFTER_IDLE = 1.0


def _ping_idle_connections(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _note_idle(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
            return  # just connected, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_connection, None):
                # The pool discards this connection and checks out a fresh one.
                raise DisconnectionError(str(exc)) from exc
            raise


def _enforce_sqlite_foreign_keys(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragma(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()


class Database:
    """A configured database: its settings, its engine and (loaded on first use) its catalog."""

    def __init__(self, config: DatabaseConfig, engine: Engine, settings: dict[str, Any]) -> None:
        self.config = config
        self.name = config.name
        self.engine = engine
        self.settings = settings
        self._catalog: Any = None
        # The last failed discovery: (when, the reason). Reading a schema is slow (0.8 s on a
        # failing one), so a failure is remembered for DISCOVERY_RETRY seconds instead of
        # being tried again by every request.
        self._failure: tuple[float, str] | None = None
        self._lock = threading.Lock()
        # Row estimates of big tables, reused for a while (counting.cached_table_estimate).
        self.estimates: EstimateMemo = {}

    @property
    def read_only(self) -> bool:
        return self.config.read_only or self.settings["READ_ONLY"]

    @property
    def catalog(self) -> Any:
        """The catalog, discovered once; concurrent first requests wait for one discovery.

        A discovery that fails raises DiscoveryFailed (a 503 with the reason), and so does
        every request until DISCOVERY_RETRY seconds have passed or the schema is refreshed.
        """
        if self._catalog is None:
            with self._locked():
                if self._catalog is None:
                    self._catalog = self._discover()
                    heap.settle()
        return self._catalog

    @property
    def discovered(self) -> Any:
        """The catalog if it has been read, else None (never reads it: for error pages)."""
        return self._catalog

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the discovery lock, waiting at most DISCOVERY_WAIT seconds for another request's
        discovery (which its connect and statement deadlines bound) before a 503."""
        wait = float(self.settings.get("DISCOVERY_WAIT", 10.0))
        if not self._lock.acquire(timeout=wait if wait > 0 else -1):
            raise DiscoveryBusy(self.name, wait)
        try:
            yield
        finally:
            self._lock.release()

    def _discover(self) -> Any:
        from ..catalog import discovery

        retry = float(self.settings.get("DISCOVERY_RETRY", 30.0))
        if self._failure is not None:
            failed_at, reason = self._failure
            waited = time.monotonic() - failed_at
            if waited < retry:
                raise DiscoveryFailed(self.name, reason, retry - waited)
        try:
            catalog = discovery.discover(self.config, self.engine)
        except Exception as exc:  # noqa: BLE001 - whatever broke, the pages say why
            log.exception("discovering database %r failed", self.name)
            fault = unavailable(exc, self.name)
            if fault is not None:
                # The server is down, restarting or busy, not the schema broken: the page says
                # so (the driver's text, naming host and user, stays in the log), and the next
                # request after Retry-After tries again.
                remember = min(retry, fault.retry_after)
                self._failure = (time.monotonic() - retry + remember, fault.message)
                raise DiscoveryFailed(self.name, fault.message, remember) from exc
            reason = str(getattr(exc, "orig", None) or exc).strip() or type(exc).__name__
            url = self.engine.url
            reason = scrub(reason, url.password, url.username, url.host)
            self._failure = (time.monotonic(), reason)
            raise DiscoveryFailed(self.name, reason, retry) from exc
        self._failure = None
        return catalog

    def refresh(self) -> None:
        with self._locked():
            self._catalog = None
            self._failure = None
            self.estimates.clear()

    def pool_status(self) -> dict[str, Any]:
        pool = self.engine.pool
        figures: dict[str, Any] = {"class": type(pool).__name__}
        for attribute in ("size", "checkedin", "checkedout", "overflow"):
            method = getattr(pool, attribute, None)
            if callable(method):
                figures[attribute] = method()
        return figures


def init_app(app: Flask, databases: dict[str, Database]) -> None:
    app.extensions["rowboat.databases"] = databases
    app.teardown_appcontext(_close_sessions)


def databases_of(app: Flask) -> dict[str, Database]:
    return app.extensions["rowboat.databases"]


def session_for(db: Database) -> Session:
    """The request's session on ``db``, opened on first use and closed at teardown."""
    sessions: dict[str, Session] = g.setdefault("rowboat_sessions", {})
    if db.name not in sessions:
        sessions[db.name] = Session(db.engine, autoflush=False, expire_on_commit=False)
    return sessions[db.name]


def _close_sessions(_exc: BaseException | None) -> None:
    for session in g.pop("rowboat_sessions", {}).values():
        try:
            session.close()
        except DBAPIError:
            # A statement cancel that arrives late can fail the closing ROLLBACK; the answer
            # is already made, so the connection is dropped rather than the request failed.
            session.invalidate()


def dispose_all(databases: dict[str, Database]) -> None:
    for db in databases.values():
        db.engine.dispose()
