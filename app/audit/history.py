"""A row's audit entries, read from the state database: its history, newest first, and the
last change the row page shows.

Both are served by the ``(row_hash, id)`` index: a row's entries are found by the hash of its
database, schema, table and key (``journal.row_hash``), never by scanning the log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from ..browse.rowpage import decode_key
from ..catalog.model import Entity
from ..state.models import AuditEntry
from ..writes.rows import encode_identity
from .journal import row_hash
from .log import LARGEST_ID, utc

PAGE = 50  # entries on one page of a row's history


@dataclass(frozen=True)
class Entry:
    """One audit entry, its JSON read."""

    id: int
    at: datetime
    user_name: str | None
    token_name: str | None
    database: str
    schema: str
    table: str
    row_key: str
    action: str
    changes: dict[str, dict[str, Any]]
    cascade: dict[str, int | None] | None
    batch: str | None
    revert_of: int | None
    outcome: str

    @classmethod
    def of(cls, row: Any) -> Entry:
        """From a row of ``audit_entries`` (as ``_columns`` selects it)."""
        return cls(
            id=row.id,
            at=utc(row.at),
            user_name=row.user_name,
            token_name=row.token_name,
            database=row.database,
            schema=row.schema or "",
            table=row.table,
            row_key=row.row_key,
            action=row.action,
            changes=json.loads(row.changes),
            cascade=json.loads(row.cascade) if row.cascade else None,
            batch=row.batch,
            revert_of=row.revert_of,
            outcome=row.outcome,
        )

    @property
    def who(self) -> str:
        """Who made the change, as a person reads it."""
        if self.user_name is None and self.token_name is None:
            return "someone (sign-in was off)"
        who = self.user_name or "an API token"
        return f"{who} (token {self.token_name!r})" if self.token_name else who

    @property
    def when(self) -> str:
        return self.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    def is_for(self, database: str, entity: Entity) -> bool:
        return (
            self.database == database
            and self.schema == (entity.schema or "")
            and self.table == entity.table_name
        )

    def shown_changes(self, entity: Entity) -> list[tuple[str, dict[str, Any]]]:
        """The changed columns the caller may see (``entity``: the caller's view of the table,
        without hidden columns), in the table's column order, then the many-to-many links
        the change added and removed; each by the name to show."""
        columns = [
            (c.name, self.changes[k]) for k, c in entity.columns.items() if k in self.changes
        ]
        links = [
            (r.name, self.changes[k]) for k, r in entity.relations.items() if k in self.changes
        ]
        return columns + links


def canonical_key(entity: Entity, key: str) -> str:
    """The row key as the journal records it (a URL may spell it another way)."""
    return encode_identity(entity, decode_key(entity, key))  # NotFound when malformed


def _row_hash(database: str, entity: Entity, key: str) -> str:
    return row_hash(database, entity.schema or "", entity.table_name, key)


def entries_of_row(
    state: Engine, database: str, entity: Entity, key: str, before: int | None = None
) -> tuple[list[Entry], int | None]:
    """One page of the row's entries, newest first, older than entry ``before``; and the id to
    page on from (None on the last page)."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.row_hash == _row_hash(database, entity, key))
        .order_by(AuditEntry.id.desc())
        .limit(PAGE + 1)
    )
    if before is not None:
        stmt = stmt.where(AuditEntry.id < min(before, LARGEST_ID))
    with state.connect() as connection:
        rows = connection.execute(_columns(stmt)).all()
    # The hash could (in theory) be shared: keep only entries for exactly this row.
    entries = [e for e in map(Entry.of, rows) if e.is_for(database, entity) and e.row_key == key]
    more = len(rows) > PAGE
    return entries[:PAGE], (rows[PAGE - 1].id if more else None)


def _columns(stmt: Any) -> Any:
    """The statement selecting the entries' columns as plain rows (no ORM session)."""
    return stmt.with_only_columns(*AuditEntry.__table__.columns)


def last_change(state: Engine, database: str, entity: Entity, key: str) -> Entry | None:
    """The row's newest committed entry (one indexed query), or None."""
    stmt = (
        select(AuditEntry)
        .where(
            AuditEntry.row_hash == _row_hash(database, entity, key),
            AuditEntry.outcome == "committed",
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    with state.connect() as connection:
        row = connection.execute(_columns(stmt)).first()
    return Entry.of(row) if row is not None else None


def find(state: Engine, entry_id: int) -> Entry | None:
    if not 0 < entry_id < LARGEST_ID:
        return None
    with state.connect() as connection:
        row = connection.execute(
            _columns(select(AuditEntry).where(AuditEntry.id == entry_id))
        ).first()
    return Entry.of(row) if row is not None else None


def batch_of(state: Engine, entry: Entry) -> list[Entry]:
    """The entries written in the same transaction as ``entry`` with the same action (every
    row of a bulk delete), in order; just ``entry`` when it has no batch."""
    if entry.batch is None:
        return [entry]
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.batch == entry.batch, AuditEntry.action == entry.action)
        .order_by(AuditEntry.id)
    )
    with state.connect() as connection:
        rows = connection.execute(_columns(stmt)).all()
    return [Entry.of(row) for row in rows]


def reverts_of(state: Engine, entry_id: int) -> list[int]:
    """The committed entries that reverted ``entry_id``."""
    stmt = (
        select(AuditEntry.id)
        .where(AuditEntry.revert_of == entry_id, AuditEntry.outcome == "committed")
        .order_by(AuditEntry.id)
    )
    with state.connect() as connection:
        return list(connection.scalars(stmt))
