"""Recording writes in the audit log, consistently with the target database.

The audit log lives in the state database, so it cannot share the target database's
transaction. A write therefore goes in three steps (``writes.rows._transaction``):

1. the rows it changed are flushed (not committed) in the target database; their entries are
   written to the state database as "pending" and committed there;
2. the target database commits;
3. the entries are marked "committed", or "failed" when the target rolled back, or "unknown"
   when the connection was lost during the commit.

If the state database cannot take the pending entries, step 1 raises and the target rolls
back: no change is ever committed without an entry. A crash between 2 and 3 leaves entries
"pending"; ``reconcile`` settles them later by reading the rows. An entry that says
"committed" therefore always names a change that happened.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..catalog.model import Entity
from ..catalog.modellogic import identity_of
from ..db import blobs
from ..state.models import AuditEntry
from ..writes.links import LinkChange
from ..writes.rows import WriteInterrupted, encode_identity, row_values, stored_keys
from .readback import columns_to_read_back
from .values import encode, encode_links

log = logging.getLogger(__name__)

# Built once: a save runs both, and building them cost more than running them.
_INSERT = insert(AuditEntry)
_SETTLE = (
    update(AuditEntry)
    .where(AuditEntry.batch == bindparam("settled_batch"), AuditEntry.outcome == "pending")
    .values(outcome=bindparam("settled_outcome"))
)


@contextmanager
def _unsynced(connection: Connection) -> Iterator[None]:
    """The outcome's commit without waiting for the disk, on a SQLite state database in
    write-ahead-log mode (``state.migrate.state_engine``): a power cut may lose it (never
    corrupt the file), which leaves the entries pending for ``reconcile``, as a crash before
    ``settle`` would. The pending entries' commit stays synced. Elsewhere: as it is."""
    raw: Any = connection.connection.driver_connection
    relaxed = (
        connection.dialect.name == "sqlite"
        and raw is not None
        and raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    )
    if relaxed:
        raw.execute("PRAGMA synchronous = NORMAL")
    try:
        yield
    finally:
        if relaxed:
            try:
                raw.execute("PRAGMA synchronous = FULL")
            except Exception:  # noqa: BLE001 - never hand the pool an unsynced connection
                connection.invalidate()
                raise


class AuditUnavailable(WriteInterrupted):
    """The state database could not take the entries: the write is rolled back (503)."""


@dataclass(frozen=True)
class Actor:
    """Who makes the change, as the entry records it."""

    user: str | None  # None: sign-in is off
    token: str | None = None
    address: str | None = None
    request_id: str | None = None


def row_hash(database: str, schema: str | None, table: str, row_key: str) -> str:
    text = "\x1f".join((database, schema or "", table, row_key))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class Journal:
    """The entries of one write transaction (one row, or every row of a bulk delete).

    ``entity`` is the table's full catalog entity (hidden columns included), so a deleted row's
    entry holds every column and can be put back whole.
    """

    def __init__(
        self,
        state: Engine,
        actor: Actor,
        database: str,
        entity: Entity,
        cascade: dict[str, int | None] | None = None,
        revert_of: int | None = None,
    ) -> None:
        self.state = state
        self.actor = actor
        self.database = database
        self.entity = entity
        self.cascade = cascade
        self.revert_of = revert_of
        self.batch = str(uuid.uuid4())
        self.entries: list[dict[str, Any]] = []
        self.prepared = False
        # The state connection ``prepare`` used, kept for ``settle``: one checkout (and one
        # pool ping) a write instead of two.
        self.connection: Connection | None = None

    # --- what the write tells it (inside the target transaction, after a flush) ---------------

    def _key(self, session: Session, obj: Any) -> str:
        return encode_identity(self.entity, identity_of(session, self.entity, obj))

    def _values(
        self, session: Session, obj: Any, keys: list[str] | None = None, reread: bool = False
    ) -> dict[str, Any]:
        """The stored values of ``obj``'s row (binary columns as size and digest, read by the
        database: the bytes are never loaded).

        ``reread``: after a create or an update, the values are read back from the row (one
        SELECT, in the transaction) rather than taken from what the save assigned, which the
        database may keep in another form (``readback``); an update skips the columns the
        database is known to store as given. The entry must say what the row holds: a revert
        and ``reconcile`` compare it with the row.
        """
        if reread:
            binary = set(blobs.binary_keys(self.entity))
            if keys is None:
                wanted = stored_keys(self.entity)  # a create: server defaults too
            else:
                wanted = columns_to_read_back(session, self.entity, obj, keys)
            names = [k for k in wanted if k not in binary]
            if names:  # only these: an expired binary column must not be loaded with them
                session.refresh(obj, names)
        binaries: dict[str, Any] = {}
        if blobs.binary_keys(self.entity):
            binaries = blobs.summaries(session, self.entity, identity_of(session, self.entity, obj))
        values = row_values(self.entity, obj, binaries)
        return values if keys is None else {k: values[k] for k in keys if k in values}

    def _add(self, action: str, key: str, changes: dict[str, dict[str, Any]]) -> None:
        self.entries.append({"action": action, "row_key": key, "changes": changes})

    def created(self, session: Session, obj: Any, links: dict[str, LinkChange]) -> None:
        values = self._values(session, obj, reread=True)
        changes = {k: {"after": encode(v)} for k, v in values.items()}
        self._add("create", self._key(session, obj), {**changes, **encode_links(links)})

    def updated(
        self, session: Session, obj: Any, before: dict[str, Any], links: dict[str, LinkChange]
    ) -> None:
        """``before``: the stored values of the columns the save wrote; ``links``: the
        many-to-many links it changed."""
        if not before and not links:
            return
        changes = {}
        if before:
            after = self._values(session, obj, list(before), reread=True)
            changes = {
                k: {"before": encode(before[k]), "after": encode(after.get(k))} for k in before
            }
        self._add("update", self._key(session, obj), {**changes, **encode_links(links)})

    def deleted(self, session: Session, obj: Any) -> None:
        values = self._values(session, obj)
        self._add(
            "delete", self._key(session, obj), {k: {"before": encode(v)} for k, v in values.items()}
        )

    # --- around the commit -------------------------------------------------------------------

    def prepare(self) -> None:
        """Write the entries as pending and commit them, before the target commits. Raising
        here makes the write roll back."""
        if not self.entries:
            return
        now = datetime.now(UTC)
        schema = self.entity.schema or ""
        cascade = json.dumps(self.cascade, sort_keys=True) if self.cascade else None
        rows = [
            {
                "at": now,
                "user_name": self.actor.user,
                "token_name": self.actor.token,
                "database": self.database,
                "schema": schema,
                "table": self.entity.table_name,
                "row_key": entry["row_key"],
                "row_hash": row_hash(
                    self.database, schema, self.entity.table_name, entry["row_key"]
                ),
                "action": entry["action"],
                "changes": json.dumps(entry["changes"], sort_keys=True, ensure_ascii=False),
                "cascade": cascade,
                "batch": self.batch,
                "revert_of": self.revert_of,
                "request_id": self.actor.request_id,
                "address": self.actor.address,
                "outcome": "pending",
            }
            for entry in self.entries
        ]
        try:
            self.connection = self.state.connect()
            with self.connection.begin():
                self.connection.execute(_INSERT, rows)
        except SQLAlchemyError as exc:
            self._release()
            log.error("audit: the state database refused the entries: %s", exc)
            raise AuditUnavailable(
                "Not saved: the audit log (Rowboat's state database) could not record the "
                "change, so nothing was written. Your values are kept below: save again in a "
                "moment."
            ) from None
        self.prepared = True

    def settle(self, outcome: str) -> None:
        """Mark the pending entries with the write's outcome. A failure here is logged, not
        raised: the target has already committed or rolled back, and the entries stay
        pending until ``reconcile`` reads the rows."""
        if not self.prepared:
            return
        try:
            # On the connection ``prepare`` used; if that one broke meanwhile (a state server
            # restarted during the target's commit), once more on a fresh one (pinged).
            for fresh in (False, True):
                try:
                    if fresh or self.connection is None:
                        self._release()
                        self.connection = self.state.connect()
                    with _unsynced(self.connection), self.connection.begin():
                        self.connection.execute(
                            _SETTLE, {"settled_batch": self.batch, "settled_outcome": outcome}
                        )
                    break
                except SQLAlchemyError:
                    if fresh:
                        raise
        except Exception:  # noqa: BLE001 - the write's answer must not depend on it
            log.exception("audit: could not mark batch %s %s; reconcile will", self.batch, outcome)
        finally:
            self._release()

    def _release(self) -> None:
        """Give the state connection back to the pool (invalidated if it broke)."""
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - closing must not hide the write's answer
                log.exception("audit: could not close a state database connection")
