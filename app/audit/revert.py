"""Reverting an audit entry: put the row back as it was before the change.

- an update is reverted by an update of the columns it changed, back to their "before" values;
- a delete by inserting the row again, with its key and every column (a bulk delete: every
  row of the batch, in one transaction); rows the database removed by ``ON DELETE CASCADE``
  are not in the entry and are not restored;
- a create by deleting the row.

The lost-update guard is the edit form's: the row's current values of the columns the entry
changed must still be its "after" values (a deleted row must still be gone, a created one
still there), or the revert is refused with the three versions (before, after, now) to
compare. The check is made before writing, and the write itself re-checks the row's
fingerprint under a lock (``writes.update`` / ``writes.delete``) or relies on the primary key
(an insert of a row that came back meanwhile fails as a duplicate). A value the log kept only
as a summary (binary, cut text) cannot be written back: such a revert is refused plainly.

The revert is written through ``app.writes`` with a journal whose ``revert_of`` names the
entry, so it is an entry of its own. Plain Python: no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from .. import writes
from ..catalog.model import Catalog, Entity
from ..db.errors import NotFound
from ..forms.fields import RelatedChanges
from ..writes.errors import RULE_ERRORS, Conflict, WriteFailed
from ..writes.links import in_order
from ..writes.rows import Journal, LoadedRow, load, restore
from .history import Entry, batch_of, reverts_of
from .values import decode, describe, encode, holds, links_now, restorable

KINDS = {"update": "update", "delete": "insert", "create": "delete"}  # entry action → revert


class RevertRefused(WriteFailed):
    """The entry cannot be reverted (not committed, a value kept only as a summary)."""

    status = 409
    title = "Not reverted"


class RevertConflict(Conflict):
    """The row changed since the entry: nothing was written. Carries the refreshed plan."""

    status = 409
    title = "Not reverted"

    def __init__(self, message: str, plan: Plan) -> None:
        super().__init__(message, None, None)
        self.plan = plan


@dataclass
class RowVersions:
    """One row a revert writes: the columns involved, as encoded values (``None`` for a row
    that did not exist at that point; a column's value ``None`` is SQL NULL)."""

    key: str
    columns: list[str]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    current: dict[str, Any] | None
    changed: list[str] = field(default_factory=list)  # columns whose value is not "after"

    @property
    def conflict(self) -> bool:
        return bool(self.changed) or (self.after is None) != (self.current is None)


@dataclass
class Plan:
    """What reverting ``entry`` does, and whether it can be done now."""

    entry: Entry
    entries: list[Entry]  # the rows it reverts (every row of a bulk delete)
    kind: str  # "update", "insert" or "delete"
    rows: list[RowVersions]
    problems: list[str]  # why it cannot be done at all
    reverted_by: list[int]
    cascade: dict[str, int | None] | None

    @property
    def conflict(self) -> bool:
        return any(r.conflict for r in self.rows)

    @property
    def possible(self) -> bool:
        return not self.problems and not self.conflict

    @property
    def conflict_message(self) -> str:
        if self.kind == "insert":
            existing = [r.key for r in self.rows if r.current is not None]
            return (
                f"Not reverted: {_rows(len(existing))} of this delete exist again "
                f"({', '.join(existing[:5])}{'…' if len(existing) > 5 else ''}); nothing was "
                "written. Compare the versions below."
            )
        if self.kind == "delete" and len(self.rows) > 1:
            changed = [r.key for r in self.rows if r.conflict]
            return (
                f"Not reverted: {len(changed)} of the {len(self.rows)} rows this change "
                f"created {'has' if len(changed) == 1 else 'have'} changed or been deleted "
                f"since ({', '.join(changed[:5])}"
                f"{'…' if len(changed) > 5 else ''}); nothing was written. Compare the versions "
                "below."
            )
        if self.kind == "delete" and all(r.current is None for r in self.rows):
            return "Not reverted: the row this entry created has been deleted since."
        if all(r.current is None for r in self.rows):
            return "Not reverted: the row has been deleted since this change."
        return (
            "Not reverted: the row has changed since this entry, so putting back its old "
            "values would undo someone's later change. Nothing was written. Compare the "
            "three versions below; revert the later entries first, or edit the row."
        )


def _rows(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"


def _loaded(session: Session, entity: Entity, key: str) -> LoadedRow | None:
    """The row now, or None when it does not exist."""
    try:
        return load(session, entity, key)
    except NotFound:
        return None


def plan(
    session: Session,
    catalog: Catalog,
    state: Engine,
    entity: Entity,
    entry: Entry,
    visible: Entity | None = None,
) -> Plan:
    """What reverting ``entry`` would do, compared with the rows as they are now.

    ``entity``: the table's full catalog entity (hidden columns too: they are checked and
    written); ``visible``: the caller's view of it, which messages name columns from. A
    many-to-many relation an update changed is a "column" of its own: its before and after
    are the links removed and added, and now, which of those rows are linked."""
    kind = KINDS[entry.action]
    # A bulk delete is reverted whole, and so is a revert of one (the rows it put back).
    entries = batch_of(state, entry) if kind in ("insert", "delete") else [entry]
    entries = [e for e in entries if e.outcome == "committed"] or [entry]
    problems = []
    if entry.outcome != "committed":
        problems.append(
            f"Only a change that was committed can be reverted; this entry's outcome is "
            f"{entry.outcome!r}."
        )
    rows = []
    for e in entries:
        loaded = _loaded(session, entity, e.row_key)
        columns = [k for k in entity.columns if k in e.changes]
        links = [k for k in entity.relations if k in e.changes] if kind == "update" else []
        keys = columns + links
        before = {k: e.changes[k].get("before") for k in keys} if kind != "delete" else None
        after = {k: e.changes[k].get("after") for k in keys} if kind != "insert" else None
        current = None
        changed = []
        if loaded is not None:
            current = {k: encode(loaded.values.get(k)) for k in columns}
            linked = links_now(
                session, catalog, entity, loaded.obj, {k: e.changes[k] for k in links}
            )
            current.update({k: {"t": "linked", "v": in_order(v)} for k, v in linked.items()})
            if after is not None:
                wrote = after
                changed = [k for k in columns if not holds(wrote[k], loaded.values.get(k))]
                changed += [k for k in links if linked[k] != set((wrote[k] or {})["v"])]
        rows.append(RowVersions(e.row_key, keys, before, after, current, changed))
        if kind != "delete":
            problems += _summaries(entity, visible or entity, e, columns)
    session.rollback()  # end the read transaction: the write begins its own
    return Plan(entry, entries, kind, rows, problems, reverts_of(state, entry.id), entry.cascade)


def _summaries(entity: Entity, visible: Entity, entry: Entry, columns: list[str]) -> list[str]:
    """Why values the revert must write back cannot be: kept only as a summary."""
    found = []
    for k in columns:
        if entity.columns[k].computed:
            continue  # the database computes it: never written
        value = entry.changes[k].get("before")
        if restorable(value):
            continue
        if k in visible.columns:
            what = f"The old value of {visible.columns[k].name!r} ({describe(value)})"
        else:
            what = "The old value of a hidden column"
        found.append(
            f"Cannot revert: {what} in row {entry.row_key} was kept in the audit log only as "
            "a summary (binary values and very long text are never stored whole), so it "
            "cannot be written back. Restore it by hand."
        )
    return found


def _decoded(entity: Entity, encoded: dict[str, Any]) -> dict[str, Any]:
    values = {}
    for k, value in encoded.items():
        column = entity.columns[k]
        if column.computed:
            continue
        values[k] = decode(value, getattr(column.type, "enum_class", None))
    return values


def apply(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    state: Engine,
    entry: Entry,
    journal: Journal | None,
    visible: Entity | None = None,
    rules: tuple[type[Exception], ...] = RULE_ERRORS,
) -> Plan:
    """Revert ``entry``; return the plan that was carried out. RevertRefused when it cannot be
    done, RevertConflict (with the rows as they are now) when they changed since the entry;
    WriteFailed when the model's validators refuse a value (raising one of ``rules``)."""
    done = plan(session, catalog, state, entity, entry, visible)
    if done.problems:
        raise RevertRefused(" ".join(done.problems))
    if done.conflict:
        raise RevertConflict(done.conflict_message, done)
    try:
        _write(session, catalog, entity, done, journal, rules)
    except WriteFailed as failure:
        if isinstance(failure, writes.WriteInterrupted):
            raise
        # Did the rows change between the check and the lock?
        again = plan(session, catalog, state, entity, entry, visible)
        if again.conflict:
            raise RevertConflict(again.conflict_message, again) from None
        raise
    return done


def _write(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    done: Plan,
    journal: Journal | None,
    rules: tuple[type[Exception], ...],
) -> None:
    if done.kind == "insert":
        rows = [
            _decoded(entity, {k: c.get("before") for k, c in e.changes.items()})
            for e in done.entries
        ]
        restore(session, catalog, entity, rows, journal, rules)
        return
    if done.kind == "delete" and len(done.rows) > 1:
        _delete_rows(session, catalog, entity, done, journal)
        return
    row = done.rows[0]
    try:
        loaded = load(session, entity, row.key)  # the fingerprint the write re-checks, locked
    except NotFound:
        raise Conflict("The row was deleted meanwhile.", None, None) from None
    session.rollback()
    after = {k: v for k, v in (row.after or {}).items() if k in entity.columns}
    if not all(holds(after[k], loaded.values.get(k)) for k in after):
        raise Conflict("The row changed meanwhile.", None, None)
    if done.kind == "update":
        assert row.before is not None and row.after is not None
        columns = {k: v for k, v in row.before.items() if k in entity.columns}
        # Links back as they were: relink what was unlinked, unlink what was linked.
        related: dict[str, list[str] | RelatedChanges] = {
            k: RelatedChanges(add=list(row.before[k]["v"]), remove=list(row.after[k]["v"]))
            for k in row.columns
            if k in entity.relations
        }
        writes.update(
            session,
            catalog,
            entity,
            row.key,
            loaded.fingerprint,
            _decoded(entity, columns),
            related,
            journal=journal,
            rules=rules,
        )
    else:
        writes.delete(session, catalog, entity, row.key, loaded.fingerprint, journal)


def _delete_rows(
    session: Session, catalog: Catalog, entity: Entity, done: Plan, journal: Journal | None
) -> None:
    """Delete every row a batch of creates made (a revert of a bulk delete's revert), in one
    transaction, each still holding what was created (checked again just before)."""
    for row in done.rows:
        after = {k: v for k, v in (row.after or {}).items() if k in entity.columns}
        try:
            loaded = load(session, entity, row.key)
        except NotFound:
            session.rollback()
            raise Conflict("A row was deleted meanwhile.", None, None) from None
        if not all(holds(after[k], loaded.values.get(k)) for k in after):
            session.rollback()
            raise Conflict("A row changed meanwhile.", None, None)
    session.rollback()
    writes.bulk_delete(session, catalog, entity, [r.key for r in done.rows], journal)
