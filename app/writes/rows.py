"""Create, update and delete rows: each call is one transaction that commits or rolls back whole.

Rows are written through the mapped class (the user's models, or automap's), so validators and
Python-side defaults of user models apply; foreign keys are written as columns, never through
relationships (automap's are view-only). Deletes are plain ``DELETE`` statements on the row's
tables, so what happens to referencing rows is decided by the database's own ON DELETE rules,
exactly as the delete preview reports them.

Lost updates are prevented without any schema change: the edit form carries a fingerprint of
the row as it was loaded (or the model's ``version_id_col``), and the save locks the row
(``SELECT ... FOR UPDATE``; on SQLite the write transaction begins IMMEDIATE) and refuses to
write when the fingerprint no longer matches.

Binary values are never loaded whole (``app.db.blobs``): objects are loaded with their binary
columns deferred, the fingerprint takes each one's size and SHA-256 from the database, and a new
file is written a slice at a time from the temporary file it was uploaded to.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import inspect as python_inspect
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import JSON, CursorResult, Table, inspect, null
from sqlalchemy import delete as delete_statement
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.schema import sort_tables

from ..browse.labels import Refs, label_joins
from ..browse.listing import SIZE_ONLY
from ..browse.rowpage import decode_key, find_row
from ..catalog.model import Catalog, Entity, core_columns
from ..catalog.modellogic import identity_of, orm_identity
from ..core import keys
from ..core.batches import chunks, key_in
from ..db import blobs, timeouts
from ..db.errors import NotFound, ReadOnly, fault_cause, fault_kind
from ..forms.fields import RelatedChanges
from .errors import (
    RULE_ERRORS,
    Conflict,
    Problem,
    WriteContext,
    WriteFailed,
    rule_broken,
    rules_broken,
    translate,
)
from .links import LinkChange, apply_related


@dataclass
class LoadedRow:
    obj: Any  # None when only the values were read (load_for_form)
    values: dict[str, Any]  # stored column values by key
    fingerprint: str
    identity: tuple[Any, ...]


# --- reading ------------------------------------------------------------------------------------


def check_writable(database: Any, entity: Entity) -> None:
    """Raise ReadOnly (403) unless rows of ``entity`` may be written on this database."""
    if database.read_only:
        raise ReadOnly(f"The database {database.name!r} is read-only: writes are switched off.")
    if entity.read_only or entity.mapped_class is None:
        raise ReadOnly(entity.read_only_reason or f"{entity.name!r} is read-only.")


def encode_identity(entity: Entity, identity: Sequence[Any]) -> str:
    return keys.encode_identity(identity, [entity.columns[k] for k in entity.primary_key])


def stored_keys(entity: Entity) -> list[str]:
    """The keys of the columns stored in the row (hybrid properties excluded)."""
    return [k for k, c in entity.columns.items() if core_columns(c)]


def row_values(
    entity: Entity, obj: Any, binaries: dict[str, blobs.StoredBinary | None]
) -> dict[str, Any]:
    """The stored values of a loaded object; binary columns (deferred, never loaded) as their
    ``binaries`` summaries."""
    values = {}
    for key in stored_keys(entity):
        values[key] = binaries[key] if key in binaries else getattr(obj, key)
    return values


def _binaries(session: Session, entity: Entity, obj: Any) -> dict[str, blobs.StoredBinary | None]:
    """The size and digest of each binary column of ``obj``'s row, read by the database."""
    if not blobs.binary_keys(entity):
        return {}
    return blobs.summaries(session, entity, identity_of(session, entity, obj))


def _canonical(value: Any) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, blobs.StoredBinary):
        return "b:" + value.digest  # the SHA-256 the database computed (blobs.summaries)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "b:" + hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, float):
        return "f:" + repr(value)
    if isinstance(value, (dict, list)):
        return "j:" + json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, (set, frozenset)):
        return "s:" + ",".join(sorted(map(str, value)))
    if isinstance(value, enum.Enum):
        return "e:" + value.name
    if isinstance(value, (dt.date, dt.time, dt.timedelta, decimal.Decimal, uuid.UUID)):
        return f"{type(value).__name__}:{value}"
    return f"{type(value).__name__}:{value}"


def fingerprint(entity: Entity, obj: Any, values: dict[str, Any]) -> str:
    """A short digest of the row's stored ``values``, or its version number when it has one."""
    mapper: Mapper[Any] = inspect(obj).mapper
    if mapper.version_id_col is not None:
        key = mapper.get_property_by_column(mapper.version_id_col).key
        return f"v:{getattr(obj, key)}"
    return _digest(entity, values)


def _digest(entity: Entity, values: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    for key in sorted(stored_keys(entity)):
        digest.update(f"{key}\x1f{_canonical(values[key])}\x1e".encode())
    return digest.hexdigest()[:32]


def load(session: Session, entity: Entity, identity_text: str, lock: bool = False) -> LoadedRow:
    """Load one row as an object; NotFound (404) when there is none."""
    identity = decode_key(entity, identity_text)
    obj = _get(session, entity, identity, lock)
    if obj is None:
        raise NotFound(f"no row {identity_text!r} in {entity.name!r}")
    values = row_values(entity, obj, _binaries(session, entity, obj))
    return LoadedRow(obj, values, fingerprint(entity, obj, values), identity)


def load_for_form(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    identity_text: str,
    needs_object: bool,
) -> tuple[LoadedRow, Refs]:
    """The row an edit form starts from, with the labels of the rows its foreign keys point at.

    A reflected table's form needs only the row's values: one select of its columns with the
    labels as subqueries (``rowpage.find_row``), where loading an object and then looking up
    each label took a statement each and a third of the form's time. The fingerprint is the
    one a save computes from the object it locks (same columns, same types). A model's row
    (validators, inheritance, version counters), a form with many-to-many fields
    (``needs_object``) load the object. Binary columns are selected as sizes, and their digests
    read by a second statement (``blobs.summaries``): the bytes are never read.
    """
    if needs_object or catalog.mode != "reflected":
        return load(session, entity, identity_text), {}
    joins = label_joins(catalog, entity)
    identity, values, refs = find_row(session, entity, identity_text, joins)
    stored = {k: values[k] for k in stored_keys(entity)}
    if any(c.kind in SIZE_ONLY for c in entity.columns.values()):
        binaries = blobs.summaries(session, entity, identity)
        if not binaries:
            raise NotFound(f"no row {identity_text!r} in {entity.name!r}")  # deleted meanwhile
        stored.update(binaries)
    return LoadedRow(None, stored, _digest(entity, stored), identity), refs


def _get(session: Session, entity: Entity, identity: tuple[Any, ...], lock: bool) -> Any:
    """The ORM object of the row whose stored key is ``identity``."""
    dialect = session.get_bind().dialect.name
    return session.get(
        entity.mapped_class,  # type: ignore[arg-type]
        orm_identity(entity, identity, dialect),
        populate_existing=True,
        with_for_update=lock and dialect != "sqlite",
        options=blobs.deferred(entity),  # sizes and digests come from blobs.summaries
    )


# --- the transaction ----------------------------------------------------------------------------


class WriteInterrupted(WriteFailed):
    """The database failed during the save (lost, down, busy): the transaction was rolled
    back and nothing was written; the form comes back with the user's values."""

    status = 503
    retry_after = 5
    unknown_outcome = False


class OutcomeUnknown(WriteInterrupted):
    """The connection was lost while the COMMIT was on its way: it may have been recorded."""

    unknown_outcome = True


def _interrupted(exc: DBAPIError, committing: bool) -> WriteInterrupted | None:
    kind = fault_kind(exc)
    if kind is None:
        return None
    cause = fault_cause(kind)
    if committing and kind in ("lost", "unreachable"):
        return OutcomeUnknown(
            f"The connection to the database was lost while the change was being committed "
            f"({cause}), so Rowboat cannot tell whether the database recorded it. Look at the "
            "row before saving again. Your values are kept below."
        )
    return WriteInterrupted(
        f"Not saved: {cause}. The transaction was rolled back, so nothing was written. "
        "Your values are kept below: save again in a moment."
    )


class Journal(Protocol):
    """What a write tells the audit log (``app/audit/journal.py``): the rows it changes, inside
    the transaction; then, around the commit, ``prepare`` (raising rolls the write back) and
    ``settle`` with the outcome."""

    def created(self, session: Session, obj: Any, links: dict[str, LinkChange]) -> None: ...
    def updated(
        self, session: Session, obj: Any, before: dict[str, Any], links: dict[str, LinkChange]
    ) -> None: ...
    def deleted(self, session: Session, obj: Any) -> None: ...
    def prepare(self) -> None: ...
    def settle(self, outcome: str) -> None: ...


@contextmanager
def _transaction(ctx: WriteContext, journal: Journal | None = None) -> Iterator[None]:
    """One write transaction, its audit entries settled with its outcome: "committed",
    "failed" (rolled back) or "unknown" (the connection was lost during the COMMIT)."""
    progress = {"committing": False}
    try:
        with _committed(ctx, journal, progress):
            yield
    except OutcomeUnknown:
        if journal is not None:
            journal.settle("unknown")
        raise
    except WriteFailed:  # the database refused, or the save never reached the commit
        if journal is not None:
            journal.settle("failed")
        raise
    except BaseException:
        if journal is not None:
            journal.settle("unknown" if progress["committing"] else "failed")
        raise
    if journal is not None:
        journal.settle("committed")


@contextmanager
def _committed(
    ctx: WriteContext, journal: Journal | None, progress: dict[str, bool]
) -> Iterator[None]:
    """One write transaction: commit at the end, roll back on anything, translate DB errors."""
    session = ctx.session
    session.rollback()  # end whatever read-only transaction this request had begun
    committing = False
    try:
        if ctx.catalog.dialect == "sqlite":
            # Take SQLite's write lock now, so the row read for the fingerprint check cannot
            # change before the write (SQLite has no SELECT ... FOR UPDATE).
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        yield
        session.flush()
        if journal is not None:
            journal.prepare()  # the entries are in the state database before the commit
        committing = progress["committing"] = True  # from here a lost connection: unknown
        session.commit()
    except DBAPIError as exc:
        try:
            session.rollback()
        except DBAPIError:
            pass  # the connection is gone: the server rolls the transaction back itself
        if timeouts.is_timeout(exc):
            raise
        interrupted = _interrupted(exc, committing)
        if interrupted is not None:
            raise interrupted from exc
        if exc.connection_invalidated:
            raise
        raise translate(exc, ctx) from None
    except StaleDataError:
        session.rollback()
        raise Conflict(
            "Someone else changed or deleted this row while it was being saved.", None, None
        ) from None
    except StatementError as exc:  # a value the driver or type could not send
        session.rollback()
        message = f"A value could not be sent to the database: {exc.orig}"
        raise WriteFailed(message, status=400) from None
    except BaseException:
        session.rollback()
        raise


def _context(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    values: dict[str, Any],
    action: str,
    identity: tuple[Any, ...] | None = None,
) -> WriteContext:
    mapper: Mapper[Any] = inspect(entity.mapped_class)
    # Typed as TableClause, but a mapper of reflected tables maps Table objects only.
    tables = cast("Sequence[Table]", mapper.tables)
    return WriteContext(session, catalog, entity, list(tables), values, action, identity)


def _same(current: Any, new: Any) -> bool:
    if current is None or new is None:
        return current is new
    if type(current) is not type(new) and not (
        isinstance(current, (int, float, decimal.Decimal))
        and isinstance(new, (int, float, decimal.Decimal))
    ):
        return False
    try:
        return bool(current == new)
    except (TypeError, ValueError):
        return False


def _kept(key: str, value: Any, stored: dict[str, Any], binaries: dict[str, Any]) -> bool:
    """Whether writing ``value`` would leave the column as it is (so it is not written)."""
    if isinstance(value, blobs.Upload):
        return False
    if key in binaries:  # only NULL over NULL is known to be the same without the bytes
        return value is None and binaries[key] is None
    return _same(stored[key], value)


def _new_object(entity: Entity) -> Any:
    """A new object of the entity's class, its values assigned next.

    Its constructor is called when it needs no argument (declarative's, SQLModel's and
    Flask-SQLAlchemy's take keywords only, and may set defaults); one that requires arguments
    (a dataclass mapped with ``registry.map_imperatively``, say) is skipped, as the ORM skips it
    for every row it loads."""
    cls = entity.mapped_class
    assert cls is not None
    try:
        python_inspect.signature(cls).bind()
    except TypeError:
        mapper: Mapper[Any] = inspect(cls)
        return mapper.class_manager.new_instance()
    except ValueError:  # no signature to read (a constructor written in C): just call it
        pass
    return cls()


def _assign(
    entity: Entity, obj: Any, values: dict[str, Any], rules: tuple[type[Exception], ...]
) -> None:
    """Set each value on the object, where the model's validators (``@validates``) run. Every
    value is tried, so one answer names each one refused (one of ``rules`` raised: 400, on its
    field); it comes before anything is flushed."""
    refused: dict[str, list[Problem]] = {}
    for key, value in values.items():
        if value is None and isinstance(entity.columns[key].type, JSON):
            value = null()  # SQL NULL, not the JSON document 'null'
        try:
            setattr(obj, key, value)
        except rules as exc:
            refused[key] = [rule_broken(exc, obj, key)]
    if refused:
        raise rules_broken(refused)


def _split_uploads(
    session: Session, values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, blobs.Upload]]:
    """The values with each uploaded file's first slice in place of the file (written through
    the ORM, so validators and version counters see a write), and the uploads to append."""
    uploads = {k: v for k, v in values.items() if isinstance(v, blobs.Upload)}
    first = {k: blobs.first_slice(session, u) for k, u in uploads.items()}
    return {**values, **first}, uploads


def _append_uploads(
    session: Session, entity: Entity, obj: Any, uploads: dict[str, blobs.Upload]
) -> None:
    """Append the rest of each upload to the row just flushed, then forget the object's copy of
    the first slice (the database holds the whole file)."""
    for key, upload in uploads.items():
        blobs.append_rest(session, entity, obj, key, upload)
    if uploads:
        session.expire(obj, list(uploads))


def _without_uploads(values: dict[str, Any]) -> dict[str, Any]:
    """Values for the error translation (which compares and looks rows up by them): a file
    is neither."""
    return {k: v for k, v in values.items() if not isinstance(v, blobs.Upload)}


def create(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    values: dict[str, Any],
    related: dict[str, list[str] | RelatedChanges] | None = None,
    journal: Journal | None = None,
    rules: tuple[type[Exception], ...] = RULE_ERRORS,
) -> str:
    """Insert a row; return its identity (for the redirect to its page). A value the model's
    validators refuse by raising one of ``rules`` fails the save on its field (400)."""
    ctx = _context(session, catalog, entity, _without_uploads(values), "create")
    with _transaction(ctx, journal):
        obj = _new_object(entity)
        first, uploads = _split_uploads(session, values)
        _assign(entity, obj, first, rules)
        session.add(obj)
        session.flush()
        _append_uploads(session, entity, obj, uploads)
        links = apply_related(session, catalog, entity, obj, related or {}, rules)
        session.flush()
        identity = identity_of(session, entity, obj)
        if journal is not None:
            journal.created(session, obj, links)
    assert identity is not None
    return encode_identity(entity, identity)


def restore(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    rows: list[dict[str, Any]],
    journal: Journal | None = None,
    rules: tuple[type[Exception], ...] = RULE_ERRORS,
) -> list[str]:
    """Insert rows with every stored column given, their keys included (putting deleted rows
    back: reverting a delete), in one transaction: all of them, or none. A row whose key is
    taken again fails as a duplicate. Returns their identities."""
    ctx = _context(session, catalog, entity, rows[0] if len(rows) == 1 else {}, "create")
    with _transaction(ctx, journal):
        objs = []
        for values in rows:
            obj = _new_object(entity)
            _assign(entity, obj, values, rules)
            session.add(obj)
            objs.append(obj)
        session.flush()
        identities = [identity_of(session, entity, obj) for obj in objs]
        if journal is not None:
            for obj in objs:
                journal.created(session, obj, {})
    return [encode_identity(entity, identity) for identity in identities if identity is not None]


def update(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    identity_text: str,
    expected: str,
    values: dict[str, Any],
    related: dict[str, list[str] | RelatedChanges] | None = None,
    journal: Journal | None = None,
    rules: tuple[type[Exception], ...] = RULE_ERRORS,
) -> str:
    """Update a row unless it changed since ``expected`` was taken; return its new identity.
    A value the model's validators refuse (one of ``rules``) fails the save on its field."""
    identity = decode_key(entity, identity_text)
    ctx = _context(session, catalog, entity, _without_uploads(values), "update", identity)
    with _transaction(ctx, journal):
        obj = _get(session, entity, identity, lock=True)
        if obj is None:
            raise Conflict(
                "This row was deleted by someone else after the form was loaded.", None, None
            )
        binaries = _binaries(session, entity, obj)
        stored = row_values(entity, obj, binaries)
        current = fingerprint(entity, obj, stored)
        if current != expected:
            raise Conflict(
                "Someone else changed this row after the form was loaded. "
                "Their values are shown beside yours; save again to apply yours.",
                stored,
                current,
            )
        ctx.values = {**stored, **_without_uploads(values)}
        # Only what differs is written: a value the database reads back ambiguously (JSON
        # null and SQL NULL both read as None) is left exactly as it is when untouched. A
        # binary column is compared by its summary (NULL stays NULL unwritten); a new file is
        # always written.
        changed = {k: v for k, v in values.items() if not _kept(k, v, stored, binaries)}
        first, uploads = _split_uploads(session, changed)
        _assign(entity, obj, first, rules)
        session.flush()
        _append_uploads(session, entity, obj, uploads)
        links = apply_related(session, catalog, entity, obj, related or {}, rules)
        session.flush()
        new_identity = identity_of(session, entity, obj)
        if journal is not None:
            journal.updated(session, obj, {k: stored[k] for k in changed}, links)
    assert new_identity is not None
    return encode_identity(entity, new_identity)


def delete(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    identity_text: str,
    expected: str | None,
    journal: Journal | None = None,
) -> None:
    """Delete one row, unless it changed since the confirmation page showed it."""
    identity = decode_key(entity, identity_text)
    ctx = _context(session, catalog, entity, {}, "delete", identity)
    with _transaction(ctx, journal):
        obj = _get(session, entity, identity, lock=True)
        if obj is None:
            raise Conflict("This row had already been deleted by someone else.", None, None)
        if expected is not None:
            stored = row_values(entity, obj, _binaries(session, entity, obj))
            current = fingerprint(entity, obj, stored)
            if current != expected:
                raise Conflict(
                    "Someone else changed this row after the confirmation was shown; "
                    "nothing was deleted. Check the current values and confirm again.",
                    stored,
                    current,
                )
        if journal is not None:
            journal.deleted(session, obj)
        _delete_objects(session, [obj])


def bulk_delete(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    identity_texts: list[str],
    journal: Journal | None = None,
) -> int:
    """Delete the given rows in one transaction; all of them, or none."""
    identities = [decode_key(entity, t) for t in dict.fromkeys(identity_texts)]
    ctx = _context(session, catalog, entity, {}, "delete")
    with _transaction(ctx, journal):
        objs = []
        missing = []
        for identity_text, identity in zip(dict.fromkeys(identity_texts), identities):
            obj = _get(session, entity, identity, lock=True)
            if obj is None:
                missing.append(identity_text)
            else:
                objs.append(obj)
        if missing:
            raise Conflict(
                f"{len(missing)} of the {len(identities)} selected rows no longer exist; "
                "nothing was deleted.",
                None,
                None,
            )
        if journal is not None:
            for obj in objs:
                journal.deleted(session, obj)
        _delete_objects(session, objs)
    return len(identities)


def _delete_objects(session: Session, objs: list[Any]) -> None:
    """DELETE each row from every table of its class, most derived table first."""
    groups: dict[Mapper[Any], list[Any]] = {}
    for obj in objs:
        groups.setdefault(inspect(obj).mapper, []).append(obj)
    for mapper, members in groups.items():
        for table in reversed(sort_tables(mapper.tables)):  # subclass tables first
            pk = list(table.primary_key.columns)
            rows = [
                tuple(getattr(o, mapper.get_property_by_column(c).key) for c in pk) for o in members
            ]
            for chunk in chunks(rows):
                # Session.execute is typed as returning Result; a DELETE gives a CursorResult.
                result = cast(
                    "CursorResult[Any]",
                    session.execute(delete_statement(table).where(key_in(pk, chunk))),
                )
                if table is mapper.local_table and result.rowcount != len(chunk):
                    raise Conflict(
                        "Some of these rows were deleted by someone else meanwhile; "
                        "nothing was deleted.",
                        None,
                        None,
                    )
        for obj in members:
            session.expunge(obj)
