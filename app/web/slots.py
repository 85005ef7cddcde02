"""A bounded number of slow operations per database, so slow requests cannot take every thread.

A gunicorn worker has a few threads (``--threads 4``). Eight requests that each sort three
million rows by an unindexed column took all of them, and ``/healthz``, the fast pages and the
other databases' pages queued behind: 2.6 s at p95. So each database has ``SLOW_SLOTS`` slots
per process; an operation known to be slow (an export, a query-builder run, a list page whose
sort, filters or search no index serves) takes one for as long as it runs, and when none is
free it is refused at once with 503 and Retry-After instead of waiting. Fast pages (a row by
its key, an indexed page) never ask for a slot. ``SLOW_SLOTS = 0`` switches the limit off.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g

from ..db.errors import TooBusy

_REGISTRY = "rowboat.slots"
_LOCK = threading.Lock()


class Slots:
    """The slow-operation slots of one database in this process; ``limit`` 0 is unlimited."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.busy = 0
        self._lock = threading.Lock()

    def try_take(self) -> bool:
        with self._lock:
            if self.limit and self.busy >= self.limit:
                return False
            self.busy += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.busy = max(self.busy - 1, 0)


class Slot:
    """One slot taken; ``release()`` gives it back (once, however often it is called)."""

    def __init__(self, slots: Slots) -> None:
        self._slots: Slots | None = slots

    def release(self) -> None:
        slots, self._slots = self._slots, None
        if slots is not None:
            slots.give_back()


def slots_of(app: Flask, name: str) -> Slots:
    registry: dict[str, Slots] = app.extensions.setdefault(_REGISTRY, {})
    slots = registry.get(name)
    if slots is None:
        with _LOCK:
            slots = registry.setdefault(name, Slots(name, int(app.config["SLOW_SLOTS"])))
    return slots


def retry_after(app: Flask) -> int:
    """Seconds to suggest: a slow list page or run ends within the statement time limit."""
    return max(1, math.ceil(float(app.config["STATEMENT_TIMEOUT"])))


def take(database: Any) -> Slot:
    """A slot on ``database`` (a ``Database``), or TooBusy (503) at once when none is free."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    slots = slots_of(app, database.name)
    if not slots.try_take():
        raise TooBusy(
            f"There are too many slow requests on {database.name} right now "
            f"({slots.limit} at a time per worker: exports, query-builder runs and list pages "
            "sorted, filtered or searched without an index). Try again in a few seconds, or "
            "use a faster page: sort or filter by an indexed column.",
            retry_after(app),
        )
    return Slot(slots)


@contextmanager
def held(database: Any) -> Iterator[Slot]:
    """``with held(database):`` runs the block in a slot of ``database``."""
    slot = take(database)
    try:
        yield slot
    finally:
        slot.release()


def hold_for_request(database: Any, slow: bool) -> None:
    """When ``slow``, take a slot on ``database`` until the request ends (see ``init_app``)."""
    if slow:
        g.setdefault("rowboat_slots", []).append(take(database))


def _release_request_slots(_exc: BaseException | None) -> None:
    for slot in g.pop("rowboat_slots", []):
        slot.release()


def init_app(app: Flask) -> None:
    """Give back the slots a request held when it ends, and answer TooBusy with Retry-After."""
    app.teardown_appcontext(_release_request_slots)

    @app.errorhandler(TooBusy)
    def _too_busy(exc: TooBusy) -> Any:
        from .errorpages import render_error

        response = app.make_response(render_error(exc.status, exc.title, exc.message))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
