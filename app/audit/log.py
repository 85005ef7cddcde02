"""Reading the audit log: filtered entries, newest first, a page at a time, and as CSV.

Plain code over the state database (no Flask). Who sees what:

- an admin sees every entry; anyone else only their own (``user_name``), and of those only
  the ones on tables they may still read;
- a hidden column's values are never shown (they stay stored: a revert needs them).

Pages go by key (``before_id``: entries older than that id), so a page costs the same however
far back it is, and an entry written meanwhile never shifts one into the next page twice.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, Select, and_, delete, or_, select
from sqlalchemy.orm import Session

from ..auth.access import Access
from ..catalog.model import Catalog
from ..state.models import AUDIT_ACTIONS, OUTCOMES, AuditEntry
from .values import describe

PAGE_SIZE = 50
_CHUNK = 200  # entries read at once while looking for a page (some may not be shown)
LARGEST_ID = 2**62  # an entry id beyond any the state database holds (and any it can compare)
CSV_HEADER = (
    "id",
    "at",
    "user",
    "token",
    "database",
    "table",
    "key",
    "action",
    "outcome",
    "changes",
    "cascade",
    "request_id",
    "address",
)


# The catalog of a database by name, None when it is unknown or cannot be read now (only asked
# for a table with hidden columns, to turn their names into the keys the changes use).
CatalogOf = Callable[[str], Catalog | None]


class BadFilter(ValueError):
    """A filter value that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Filters:
    user: str | None = None
    database: str | None = None
    table: str | None = None  # "table" (any schema) or "schema.table"
    action: str | None = None
    outcome: str | None = None
    since: datetime | None = None  # inclusive, UTC
    until: datetime | None = None  # exclusive, UTC
    before_id: int | None = None


@dataclass(frozen=True)
class Change:
    column: str
    before: str | None  # None: the side does not exist (a create has no before)
    after: str | None

    def as_text(self) -> str:
        before = "" if self.before is None else self.before
        after = "" if self.after is None else self.after
        return f"{self.column}: {before} → {after}".rstrip()


@dataclass(frozen=True)
class Shown:
    """One entry as a caller may see it."""

    id: int
    at: datetime  # UTC
    user: str | None
    token: str | None
    database: str
    schema: str  # "" for the default schema
    table: str
    row_key: str
    action: str
    outcome: str
    changes: tuple[Change, ...]
    cascade: tuple[tuple[str, int | None], ...]
    request_id: str | None
    address: str | None
    revert_of: int | None

    @property
    def qualified_table(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table


@dataclass(frozen=True)
class Page:
    entries: list[Shown]
    older: int | None  # before_id of the next (older) page, None when this is the last
    filters: Filters = field(default_factory=Filters)


# --- filters -----------------------------------------------------------------------------------


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadFilter(f"{name}: {text[:40]!r} is not a date (write it as YYYY-MM-DD).") from None


def _moment(text: str, name: str, end: bool) -> datetime:
    """A date (the whole day: ``end`` means up to its end) or a date and time, as UTC."""
    text = text.strip()
    if len(text) <= 10:
        day = _day(text, name)
        if end and day == date.max:
            return datetime.max.replace(tzinfo=UTC)
        moment = datetime.combine(day, time(), UTC)
        return moment + timedelta(days=1) if end else moment
    try:
        found = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadFilter(
            f"{name}: {text[:40]!r} is not a date or a time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)."
        ) from None
    try:
        return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)
    except OverflowError:
        raise BadFilter(f"{name}: {text[:40]!r} is out of range in UTC.") from None


def parse_filters(args: Mapping[str, str], access: Access) -> Filters:
    """The filters a page's query string gives (``user``, ``database``, ``table``,
    ``action``, ``outcome``, ``from``, ``to``, ``before``); BadFilter names a wrong one."""

    def value(name: str, limit: int = 255) -> str | None:
        text = (args.get(name) or "").strip()
        if len(text) > limit:
            raise BadFilter(f"{name}: at most {limit} characters.")
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
            raise BadFilter(f"{name}: control characters cannot be part of a filter.")
        return text or None

    user = value("user", 150)
    if user is not None and not access.is_admin and user != access.user:
        raise BadFilter(
            "user: only an admin may see other users' entries; leave it empty for your own."
        )
    action = value("action", 16)
    if action is not None and action not in AUDIT_ACTIONS:
        raise BadFilter(f"action: {action!r} is not one of {', '.join(AUDIT_ACTIONS)}.")
    outcome = value("outcome", 16)
    if outcome is not None and outcome not in OUTCOMES:
        raise BadFilter(f"outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}.")
    since_text, until_text = value("from", 40), value("to", 40)
    since = _moment(since_text, "from", end=False) if since_text else None
    until = _moment(until_text, "to", end=True) if until_text else None
    if since is not None and until is not None and until <= since:
        raise BadFilter("to: the end of the time range comes before its start.")
    before_text = value("before", 20)
    before_id = None
    if before_text is not None:
        if not before_text.isascii() or not before_text.isdigit() or int(before_text) < 1:
            raise BadFilter(f"before: {before_text!r} is not an entry number.")
        before_id = min(int(before_text), LARGEST_ID)  # past every entry: from the newest
    return Filters(
        user=user,
        database=value("database", 100),
        table=value("table", 520),
        action=action,
        outcome=outcome,
        since=since,
        until=until,
        before_id=before_id,
    )


def _query(filters: Filters, access: Access) -> Select[AuditEntry]:
    query = select(AuditEntry)
    if access.user is not None and not access.is_admin:
        query = query.where(AuditEntry.user_name == access.user)
    elif filters.user is not None:
        query = query.where(AuditEntry.user_name == filters.user)
    if filters.database is not None:
        query = query.where(AuditEntry.database == filters.database)
    if filters.table is not None:
        named = AuditEntry.table == filters.table
        schema, dot, table = filters.table.partition(".")
        if dot:
            named = or_(named, and_(AuditEntry.schema == schema, AuditEntry.table == table))
        query = query.where(named)
    if filters.action is not None:
        query = query.where(AuditEntry.action == filters.action)
    if filters.outcome is not None:
        query = query.where(AuditEntry.outcome == filters.outcome)
    if filters.since is not None:
        query = query.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEntry.at < filters.until)
    return query


# --- what a caller is shown --------------------------------------------------------------------


class _Viewer:
    """The caller's view: which tables they may read, and which columns nobody sees."""

    def __init__(self, access: Access, catalogs: CatalogOf) -> None:
        self.access = access
        self.catalogs = catalogs
        self._hidden: dict[tuple[str, str, str], frozenset[str]] = {}

    def readable(self, entry: AuditEntry) -> bool:
        return self.access.may("read", entry.database, entry.schema or None, entry.table)

    def hidden(self, database: str, schema: str, table: str) -> frozenset[str]:
        """The change keys of ``table`` not to show: its hidden columns' attribute keys (and
        their database names, when the table is no longer in the catalog)."""
        where = (database, schema, table)
        found = self._hidden.get(where)
        if found is None:
            name = f"{schema}.{table}" if schema else table
            columns = self.access.hidden_in(database).get(name, frozenset())
            catalog = self.catalogs(database)
            entity = catalog.entities.get(name) if catalog is not None else None
            if entity is None:
                found = frozenset(columns)
            else:  # a grant's hidden columns, and those the model marks info={"hidden": True}
                found = frozenset(
                    column.key
                    for column in entity.columns.values()
                    if column.name in columns or column.hidden
                ) | frozenset(columns)
            self._hidden[where] = found
        return found

    def shown(self, entry: AuditEntry) -> Shown:
        hidden = self.hidden(entry.database, entry.schema, entry.table)
        return Shown(
            id=entry.id,
            at=utc(entry.at),
            user=entry.user_name,
            token=entry.token_name,
            database=entry.database,
            schema=entry.schema,
            table=entry.table,
            row_key=entry.row_key,
            action=entry.action,
            outcome=entry.outcome,
            changes=changes_of(entry.changes, hidden),
            cascade=cascade_of(entry.cascade),
            request_id=entry.request_id,
            address=entry.address,
            revert_of=entry.revert_of,
        )


def utc(moment: datetime) -> datetime:
    """A stored time as UTC (SQLite and MariaDB give it back without a zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def changes_of(text: str, hidden: frozenset[str] = frozenset()) -> tuple[Change, ...]:
    """The stored changes, each side described, hidden columns left out."""
    try:
        stored = json.loads(text) if text else {}
    except ValueError:
        return ()
    found = []
    for column in sorted(stored):
        if column in hidden:
            continue
        sides = stored[column] if isinstance(stored[column], dict) else {}
        before = describe(sides["before"]) if "before" in sides else None
        after = describe(sides["after"]) if "after" in sides else None
        found.append(Change(column, before, after))
    return tuple(found)


def cascade_of(text: str | None) -> tuple[tuple[str, int | None], ...]:
    try:
        stored = json.loads(text) if text else {}
    except ValueError:
        return ()
    if not isinstance(stored, dict):
        return ()
    return tuple((str(k), v if isinstance(v, int) else None) for k, v in sorted(stored.items()))


def _walk(state: Engine, filters: Filters, access: Access, catalogs: CatalogOf) -> Iterator[Shown]:
    """Every entry the filters match and the caller may see, newest first, read by key."""
    viewer = _Viewer(access, catalogs)
    query = _query(filters, access)
    cursor = filters.before_id
    while True:
        chunk = query.order_by(AuditEntry.id.desc()).limit(_CHUNK)
        if cursor is not None:
            chunk = chunk.where(AuditEntry.id < cursor)
        with Session(state, expire_on_commit=False) as session:
            rows = list(session.scalars(chunk))
            session.expunge_all()
        for entry in rows:
            if viewer.readable(entry):  # an admin reads every table
                yield viewer.shown(entry)
        if len(rows) < _CHUNK:
            return
        cursor = rows[-1].id


def page(
    state: Engine,
    filters: Filters,
    access: Access,
    catalogs: CatalogOf,
    size: int = PAGE_SIZE,
) -> Page:
    """One page of entries, newest first, from ``filters.before_id`` (exclusive)."""
    entries: list[Shown] = []
    for shown in _walk(state, filters, access, catalogs):
        entries.append(shown)
        if len(entries) > size:
            break
    older = None
    if len(entries) > size:
        entries = entries[:size]
        older = entries[-1].id
    return Page(entries, older, filters)


# --- CSV ---------------------------------------------------------------------------------------


def _csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def csv_row(shown: Shown) -> list[str]:
    cascade = "; ".join(f"{k}: {'?' if v is None else v}" for k, v in shown.cascade)
    return [
        str(shown.id),
        shown.at.isoformat(),
        shown.user or "",
        shown.token or "",
        shown.database,
        shown.qualified_table,
        shown.row_key,
        shown.action,
        shown.outcome,
        "; ".join(change.as_text() for change in shown.changes),
        cascade,
        shown.request_id or "",
        shown.address or "",
    ]


def csv_lines(
    state: Engine, filters: Filters, access: Access, catalogs: CatalogOf
) -> Iterator[str]:
    """The CSV export, a line at a time: a header, then every matching entry the caller may
    see, newest first (``filters.before_id`` applies too)."""
    yield _csv_line(list(CSV_HEADER))
    for shown in _walk(state, filters, access, catalogs):
        yield _csv_line(csv_row(shown))


# --- retention ---------------------------------------------------------------------------------


def prune(state: Engine, days: int, now: datetime | None = None) -> int:
    """Delete entries older than ``days`` days; returns how many went."""
    if days < 1:
        raise ValueError("days must be at least 1")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    with state.begin() as connection:
        result = connection.execute(delete(AuditEntry).where(AuditEntry.at < cutoff))
    return int(result.rowcount or 0)
