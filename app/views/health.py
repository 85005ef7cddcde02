"""``/healthz``: whether each database answers, with its pool figures, as JSON."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..engines import databases_of

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    report: dict[str, Any] = {}
    healthy = True
    for name, db in databases_of(current_app).items():
        started = time.perf_counter()
        try:
            with db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            entry: dict[str, Any] = {"reachable": True}
        except SQLAlchemyError as exc:
            healthy = False
            entry = {"reachable": False, "error": str(getattr(exc, "orig", exc))}
        entry["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        entry["dialect"] = db.engine.dialect.name
        entry["pool"] = db.pool_status()
        report[name] = entry
    return jsonify({"ok": healthy, "databases": report}), 200 if healthy else 503
