"""The shared engine pools, one per configured database, and the per-request sessions.

This module owns the lifecycle of both: engines are created once by the app factory and
disposed with the app; a request asks for a session with ``session_for(db)`` and the teardown
registered in ``init_app`` closes every session the request opened, whatever happened.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from . import heap, timeouts
from .config import DatabaseConfig


def build_engine(db: DatabaseConfig, settings: dict[str, Any]) -> Engine:
    """Create the one engine for ``db``: pre-ping, pool limits, time limit, SQLite foreign keys."""
    url = make_url(db.url)
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.get_backend_name() == "sqlite":
        # SQLite files use a queue pool of their own; sizes apply to server databases only.
        options["connect_args"] = {"check_same_thread": False}
    else:
        options.update(
            pool_size=settings["POOL_SIZE"],
            max_overflow=settings["MAX_OVERFLOW"],
            pool_timeout=settings["POOL_TIMEOUT"],
            pool_recycle=settings["POOL_RECYCLE"],
        )
    if url.get_backend_name() == "mysql":
        options.setdefault("connect_args", {})["charset"] = "utf8mb4"
        url = url.update_query_dict({"charset": "utf8mb4"}) if "charset" not in url.query else url
    options.update(db.options)
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        _enforce_sqlite_foreign_keys(engine)
    timeouts.install(engine, settings["STATEMENT_TIMEOUT"])
    return engine


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
        self._lock = threading.Lock()
        # Row estimates of big tables, reused for a while (counting.cached_table_estimate).
        self.estimates: dict[str, tuple[float, int | None]] = {}

    @property
    def read_only(self) -> bool:
        return self.config.read_only or self.settings["READ_ONLY"]

    @property
    def catalog(self) -> Any:
        """The catalog, discovered once; concurrent first requests wait for one discovery."""
        if self._catalog is None:
            with self._lock:
                if self._catalog is None:
                    from .catalog.discovery import discover

                    self._catalog = discover(self.config, self.engine)
                    heap.settle()
        return self._catalog

    def refresh(self) -> None:
        with self._lock:
            self._catalog = None
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
        session.close()


def dispose_all(databases: dict[str, Database]) -> None:
    for db in databases.values():
        db.engine.dispose()
