"""``/healthz``: whether each database answers, with its pool figures, as JSON.

A monitor polls this page, often from several places: it must never use up the workers. So the
databases are checked at once, each in a small shared thread pool with HEALTH_TIMEOUT seconds to
answer; a database whose previous check is still running (a hung server) is not checked again
meanwhile but reported down; and one answer serves every caller for ``CACHE_SECONDS``.

Anyone may call it, so it says up or down and the pool figures, never the driver's error text
(which names the server's host, port and user): that goes to the log.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from flask import Blueprint, current_app, jsonify
from flask_login import current_user
from sqlalchemy import text

from ..db.engines import Database, databases_of
from ..db.errors import fault_kind
from ..web.signin import needs

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)

CACHE_SECONDS = 1.0
_WORKERS = 4


class _Health:
    """One app's checks: the thread pool, the check running per database, the last answer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.executor = ThreadPoolExecutor(_WORKERS, thread_name_prefix="rowboat-healthz")
        self.running: dict[str, Future[tuple[str | None, float]]] = {}
        self.answer: tuple[float, dict[str, Any], int] | None = None


_CREATING = threading.Lock()


def _state() -> _Health:
    with _CREATING:
        state = current_app.extensions.get("rowboat.health")
        if state is None:
            state = current_app.extensions["rowboat.health"] = _Health()
        return state


def _check(db: Database) -> tuple[str | None, float]:
    """(None when ``db`` answers, else what kind of fault it has; the seconds it took). The
    driver's error goes to the log."""
    started = time.monotonic()
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - whatever it is, the database is down
        log.warning("healthz: database %r does not answer: %s", db.name, exc)
        return fault_kind(exc) or "error", time.monotonic() - started
    return None, time.monotonic() - started


@bp.get("/healthz")
@needs("public", machine=True)
def healthz() -> Any:
    """Up or down; the databases' names, latencies and pools only for a signed-in caller."""
    payload, status = _report()
    if current_app.config["AUTH"] and not current_user.is_authenticated:
        payload = {"ok": payload["ok"]}
    return jsonify(payload), status


def _report() -> tuple[dict[str, Any], int]:
    state = _state()
    timeout = float(current_app.config.get("HEALTH_TIMEOUT", 2.0))
    # While one request checks, the others answer with the last report rather than queue.
    got = (
        state.lock.acquire(timeout=timeout + 1)
        if state.answer is None
        else state.lock.acquire(blocking=False)
    )
    if not got:
        if state.answer is None:
            return {"ok": False, "databases": {}}, 503
        _, payload, status = state.answer
        return payload, status
    try:
        if state.answer is not None and time.monotonic() - state.answer[0] < CACHE_SECONDS:
            _, payload, status = state.answer
            return payload, status
        started = time.monotonic()
        databases = databases_of(current_app)
        checks: dict[str, Future[tuple[str | None, float]]] = {}
        for name, db in databases.items():
            running = state.running.get(name)
            if running is None or running.done():
                running = state.executor.submit(_check, db)
                state.running[name] = running
            checks[name] = running
        report: dict[str, Any] = {}
        for name, future in checks.items():
            remaining = max(0.0, started + timeout - time.monotonic())
            try:
                problem, took = future.result(timeout=remaining)
            except FutureTimeout:
                problem, took = "timeout", time.monotonic() - started
            db = databases[name]
            entry: dict[str, Any] = {"reachable": problem is None, "status": "up"}
            if problem is not None:
                entry["status"] = "down"
                entry["problem"] = problem  # a kind of fault (timeout, lost...), no driver text
            entry["latency_ms"] = round(took * 1000, 1)
            entry["dialect"] = db.engine.dialect.name
            entry["pool"] = db.pool_status()
            report[name] = entry
        healthy = all(entry["reachable"] for entry in report.values())
        payload = {"ok": healthy, "databases": report}
        status = 200 if healthy else 503
        state.answer = (time.monotonic(), payload, status)
    finally:
        state.lock.release()
    return payload, status
