"""Pooled connections are pinged only after being idle, and a dead one is replaced unseen.

``engines.PING_AFTER_IDLE``: a connection checked in less than that long ago is handed out as
is (under load every request skips a round trip); one idle for longer is pinged first, and if
the server has dropped it meanwhile the pool discards it and the request gets a fresh one.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ADMIN_URLS
from flask import Flask
from sqlalchemy import create_engine, text

from rowboat.db import engines


def _engine(app: Flask) -> Any:
    return app.extensions["rowboat.databases"]["edge"].engine


def _count_pings(engine: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_used_a_moment_ago_is_not_pinged(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(app)
    pings = _count_pings(engine, monkeypatch)
    for _ in range(5):
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    assert pings == []
    monkeypatch.setattr(engines, "PING_AFTER_IDLE", 0.0)  # every connection counts as idle
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    assert pings == [1]


def _kill(engine_name: str, backend: int) -> None:
    admin = create_engine(ADMIN_URLS[engine_name], isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            if engine_name == "postgresql":
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            else:
                connection.execute(text(f"KILL {int(backend)}"))
    finally:
        admin.dispose()


def test_an_idle_connection_the_server_dropped_is_replaced(
    app: Flask, engine_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(app)
    if engine_name == "sqlite":  # no server to drop it: the ping itself must pass
        monkeypatch.setattr(engines, "PING_AFTER_IDLE", 0.0)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
        return
    backend_sql = (
        "SELECT pg_backend_pid()" if engine_name == "postgresql" else "SELECT CONNECTION_ID()"
    )
    with engine.connect() as connection:
        backend = connection.execute(text(backend_sql)).scalar()
    _kill(engine_name, backend)
    monkeypatch.setattr(engines, "PING_AFTER_IDLE", 0.0)
    with engine.connect() as connection:  # the dead connection is pinged and swapped
        assert connection.execute(text(backend_sql)).scalar() != backend
    response = app.test_client().get("/edge/person")
    assert response.status_code == 200
