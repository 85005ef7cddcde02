"""Schema refreshes shared between instances (and gunicorn workers) through the state database.

``refreshed(app, name)`` is called where a refresh happens; every request first checks, at
most every ``CHECK_EVERY`` seconds, whether another process refreshed a database since, and
if so forgets this process's catalog and schema snapshot of it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Flask

from ..db.engines import databases_of
from ..state.marks import mark_refreshed, refresh_marks

CHECK_EVERY = 0.5


class _Seen:
    def __init__(self) -> None:
        self.marks: dict[str, str] | None = None  # read on the first request
        self.checked = 0.0
        self.lock = threading.Lock()


def refreshed(app: Flask, name: str) -> None:
    """Record that this process refreshed ``name``, so the other instances follow."""
    seen: _Seen = app.extensions["rowboat.refreshes"]
    mark = mark_refreshed(app.extensions["rowboat.state"], name)
    with seen.lock:
        if seen.marks is not None:
            seen.marks[name] = mark


def init_app(app: Flask, forget_schema: Any) -> None:
    """``forget_schema(name)`` drops a database's schema snapshot (the schema pages' cache)."""
    engine = app.extensions["rowboat.state"]
    seen = app.extensions["rowboat.refreshes"] = _Seen()

    @app.before_request
    def _follow_refreshes() -> None:
        now = time.monotonic()
        if now - seen.checked < CHECK_EVERY:
            return
        with seen.lock:
            if now - seen.checked < CHECK_EVERY:
                return
            seen.checked = now
            marks = refresh_marks(engine)
            known = seen.marks if seen.marks is not None else marks
            changed = [name for name, mark in marks.items() if known.get(name) != mark]
            seen.marks = marks
        databases = databases_of(app)
        for name in changed:
            if name in databases:
                databases[name].refresh()
                forget_schema(name)
