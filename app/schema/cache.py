"""Snapshots kept between requests, one per database, until the user refreshes the schema.

The first schema page of a database reflects it in bulk (see ``structure.take_snapshot``);
later pages reuse that snapshot, so a 1,000-table schema costs one reflection, not one per
view. Only requests for the same database's snapshot wait while it is taken; everything else,
the database's other pages included, goes on.
"""

from __future__ import annotations

import threading

from sqlalchemy.engine import Engine

from .structure import Snapshot, take_snapshot


class SnapshotCache:
    def __init__(self) -> None:
        self._snapshots: dict[str, Snapshot] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, name: str, engine: Engine) -> Snapshot:
        snapshot = self._snapshots.get(name)
        if snapshot is not None:
            return snapshot
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            snapshot = self._snapshots.get(name)
            if snapshot is None:
                snapshot = take_snapshot(engine)
                self._snapshots[name] = snapshot
            return snapshot

    def drop(self, name: str) -> None:
        self._snapshots.pop(name, None)
