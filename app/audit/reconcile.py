"""Settling audit entries left "pending" by a crash between the target's commit and the settle.

``Journal`` writes a write's entries as "pending" before the target database commits and marks
them after. A process that dies in between (or a state database that refused the settle)
leaves them pending; ``reconcile`` settles them by reading each row in its target database:

- create: the row exists → "committed", it does not → "failed";
- delete: the row is gone → "committed", it is still there → "failed";
- update: the changed columns hold the "after" values → "committed", the "before" values →
  "failed", anything else (changed again since, by someone else) → "unknown"; the
  many-to-many links it added and removed count the same way (added and not removed: after).

The entries of one write (one ``batch``) share their target transaction's outcome, so they
are settled together: one outcome when every entry's reading agrees, "unknown" otherwise.
Only entries older than ``min_age_seconds`` are looked at, so a write still in flight in
another worker or instance is left alone. A database that cannot be read (down, no longer
configured) is skipped and logged: its entries stay pending for the next run.

``reconcile`` runs at start-up in a daemon thread (``app.start_reconcile``) and can be called
from a command.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.orm import Session

from ..browse.rowpage import decode_key
from ..catalog.model import Entity
from ..db.engines import Database, databases_of
from ..db.errors import NotFound
from ..state.models import AuditEntry
from ..writes.rows import LoadedRow, encode_identity, load
from .values import NotRestorable, decode, holds, links_now

log = logging.getLogger(__name__)

OUTCOMES = ("committed", "failed", "unknown")


class _Skip(Exception):
    """The target database cannot be read now: leave its entries pending."""


# "unknown" entries (the connection was lost during the COMMIT) are read again for this long:
# the row may show by now whether the change happened. After that they stay unknown.
RECHECK_UNKNOWN = timedelta(days=7)


def pending(state: Engine, min_age_seconds: float) -> list[AuditEntry]:
    """The entries pending (or of unknown outcome, recent) for longer than ``min_age_seconds``,
    oldest first."""
    now = datetime.now(UTC)
    cutoff = now - timedelta(seconds=min_age_seconds)
    with Session(state, expire_on_commit=False) as session:
        found = session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.at < cutoff,
                or_(
                    AuditEntry.outcome == "pending",
                    and_(AuditEntry.outcome == "unknown", AuditEntry.at > now - RECHECK_UNKNOWN),
                ),
            )
            .order_by(AuditEntry.id)
        ).all()
        session.expunge_all()
    return list(found)


def reconcile(app: Flask, min_age_seconds: float = 120) -> dict[str, int]:
    """Settle the entries left pending; returns how many became committed, failed and
    unknown, and how many were skipped (left pending: their database could not be read)."""
    state: Engine = app.extensions["rowboat.state"]
    counts: Counter[str] = Counter({name: 0 for name in (*OUTCOMES, "skipped")})
    batches: dict[str, list[AuditEntry]] = {}
    for entry in pending(state, min_age_seconds):
        batches.setdefault(entry.batch or f"id:{entry.id}", []).append(entry)
    if not batches:
        return dict(counts)
    databases = databases_of(app)
    down: set[str] = set()
    with app.app_context():
        for entries in batches.values():
            name = entries[0].database
            database = databases.get(name)
            if database is None or name in down:
                if database is None:
                    log.warning("audit: database %r is not configured; entries stay pending", name)
                counts["skipped"] += len(entries)
                continue
            try:
                outcome = _batch_outcome(database, entries)
            except _Skip as reason:
                log.warning(
                    "audit: cannot read database %r (%s); entries stay pending", name, reason
                )
                down.add(name)
                counts["skipped"] += len(entries)
                continue
            settled = _settle(state, [e.id for e in entries], outcome)
            counts[outcome] += settled
            log.info(
                "audit: settled %d pending entries of batch %s: %s",
                settled,
                entries[0].batch,
                outcome,
            )
    return dict(counts)


def _settle(state: Engine, ids: list[int], outcome: str) -> int:
    # pending -> any outcome; unknown -> committed or failed once the row tells
    unsettled = ["pending"] if outcome == "unknown" else ["pending", "unknown"]
    with state.begin() as connection:
        result = connection.execute(
            update(AuditEntry)
            .where(AuditEntry.id.in_(ids), AuditEntry.outcome.in_(unsettled))
            .values(outcome=outcome)
        )
    return int(result.rowcount or 0)


def _batch_outcome(database: Database, entries: list[AuditEntry]) -> str:
    try:
        catalog = database.catalog
    except Exception as exc:  # noqa: BLE001 - discovery failed: the database is down
        raise _Skip(str(exc)) from exc
    readings = set()
    try:
        with Session(database.engine) as session:
            for entry in entries:
                readings.add(_reading(session, catalog, entry))
    except _Skip:
        raise
    except Exception as exc:  # noqa: BLE001 - a lost or refused connection: try again later
        raise _Skip(str(getattr(exc, "orig", None) or exc)) from exc
    return readings.pop() if len(readings) == 1 else "unknown"


def _entity(catalog: Any, entry: AuditEntry) -> Entity | None:
    name = f"{entry.schema}.{entry.table}" if entry.schema else entry.table
    entity = catalog.entities.get(name)
    if entity is None or entity.mapped_class is None:
        return None
    return entity


def _loaded(session: Session, entity: Entity, row_key: str) -> LoadedRow | None:
    """The row as stored now (binary columns as size and digest), None when it is gone."""
    try:
        return load(session, entity, row_key)
    except NotFound:
        return None


def _reading(session: Session, catalog: Any, entry: AuditEntry) -> str:
    """What the row says about the entry's outcome."""
    entity = _entity(catalog, entry)
    if entity is None:
        return "unknown"  # the table is gone (or no longer has a key): nothing to read
    try:
        decode_key(entity, entry.row_key)
    except NotFound:
        return "unknown"
    changes: dict[str, dict[str, Any]] = json.loads(entry.changes)
    try:
        # One read of the row serves its values and, through it, its links.
        loaded = _loaded(session, entity, entry.row_key)
        return _outcome(session, catalog, entity, entry.action, changes, loaded)
    finally:
        session.rollback()  # each reading sees the latest committed state


def _outcome(
    session: Session,
    catalog: Any,
    entity: Entity,
    action: str,
    changes: dict[str, dict[str, Any]],
    loaded: LoadedRow | None,
) -> str:
    if action == "create":
        return "committed" if loaded is not None else "failed"
    if action == "delete":
        return "committed" if loaded is None else "failed"
    if loaded is None:
        # An update that changed the key names the row by its new key: the row still under
        # its old key with the old values means the change never happened.
        if any(k in entity.primary_key for k in changes):
            return _old_key_reading(session, entity, changes)
        return "unknown"
    current = loaded.values
    links = {k: c for k, c in changes.items() if k in entity.relations}
    columns = {k: c for k, c in changes.items() if k not in links}
    now = links_now(session, catalog, entity, loaded.obj, links)
    if all(holds(c.get("after"), current.get(k)) for k, c in columns.items()) and all(
        now[k] == set(c["after"]["v"]) for k, c in links.items()
    ):
        return "committed"
    if all(holds(c.get("before"), current.get(k)) for k, c in columns.items()) and all(
        now[k] == set(c["before"]["v"]) for k, c in links.items()
    ):
        return "failed"
    return "unknown"


def _old_key_reading(session: Session, entity: Entity, changes: dict[str, dict[str, Any]]) -> str:
    try:
        identity = [
            decode(changes[k]["before"]) if k in changes else None for k in entity.primary_key
        ]
    except (NotRestorable, ValueError):
        return "unknown"
    if any(v is None for v in identity):
        return "unknown"
    old_row = _loaded(session, entity, encode_identity(entity, identity))
    old = None if old_row is None else old_row.values
    if old is None:
        return "unknown"
    same = all(holds(c.get("before"), old.get(k)) for k, c in changes.items())
    return "failed" if same else "unknown"
