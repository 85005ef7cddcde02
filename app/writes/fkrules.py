"""A foreign key's ON UPDATE and ON DELETE rules, as the database keeps them.

SQLite's reflection drops both rules; its own ``PRAGMA foreign_key_list`` keeps them, read once
per referencing table (``cache``). The delete preview reads ON DELETE, the edit form's key
warning ON UPDATE.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import ForeignKeyConstraint, Table, text
from sqlalchemy.orm import Session

Rules = dict[tuple[str, tuple[str, ...]], tuple[str, str]]  # (referred, columns): (update, delete)


def rule(
    session: Session,
    constraint: ForeignKeyConstraint,
    on: Literal["update", "delete"],
    cache: dict[int, Rules],
) -> str:
    """CASCADE, SET NULL, SET DEFAULT, RESTRICT or NO ACTION (the default when none is set)."""
    if session.get_bind().dialect.name == "sqlite":
        table = constraint.table
        if id(table) not in cache:
            cache[id(table)] = _sqlite_rules(session, table)
        key = (constraint.referred_table.name, tuple(c.name for c in constraint.columns))
        on_update, on_delete = cache[id(table)].get(key, ("NO ACTION", "NO ACTION"))
        return on_update if on == "update" else on_delete
    declared = constraint.onupdate if on == "update" else constraint.ondelete
    return (declared or "NO ACTION").upper()


def _sqlite_rules(session: Session, table: Table) -> Rules:
    quoted = session.get_bind().dialect.identifier_preparer.quote(table.name)
    by_id: dict[int, tuple[str, list[str], str, str]] = {}
    for row in session.execute(text(f"PRAGMA foreign_key_list({quoted})")):
        fk_id, _seq, referred, from_col, _to, on_update, on_delete = row[:7]
        by_id.setdefault(fk_id, (referred, [], on_update, on_delete))[1].append(from_col)
    return {
        (referred, tuple(columns)): (on_update.upper(), on_delete.upper())
        for referred, columns, on_update, on_delete in by_id.values()
    }
