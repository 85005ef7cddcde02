"""Binary values a slice at a time: no page, save or download holds a whole value in memory.

Pages show a binary column's size and the lost-update fingerprint needs only a digest of it:
both are computed by the database (``length()``, and ``sha256()`` on PostgreSQL 11+,
``SHA2(…, 256)`` on MariaDB). SQLite has no hash function: its digest is the SHA-256 of the value
read in ``substr`` slices. Every engine ends with the same hexadecimal SHA-256 of the bytes, so a
form's fingerprint and a save's always agree.

Downloads read ``substr`` slices of ``READ_CHUNK`` bytes on a connection of their own (the
request's session is closed before a streamed response is sent). Uploads stay in the temporary
file Werkzeug spooled them to: the first ``WRITE_CHUNK`` bytes are written through the ORM (so a
model's version counter moves), the rest appended in the same transaction
(``col || :chunk``, ``CONCAT(col, :chunk)`` on MariaDB).

SQLite runs inside the worker, so there ``substr`` and ``||`` would build the whole value in the
worker's memory for every slice: a row of a rowid table is read and written through SQLite's
incremental blob I/O instead (``blobopen``; a ``zeroblob`` of the file's size, then written in
slices), and only a ``WITHOUT ROWID`` table falls back to ``substr`` and ``||``.

How large a file may be follows the column (a MariaDB ``BLOB`` holds 64 KB, ``MEDIUMBLOB``
16 MB; PostgreSQL's ``bytea`` 1 GB), MariaDB's ``max_allowed_packet`` (no value, not even one
built by ``CONCAT``, may be larger), and the ``MAX_UPLOAD`` setting.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import (
    LargeBinary,
    and_,
    bindparam,
    cast,
    func,
    inspect,
    literal_column,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.attributes import InstrumentedAttribute

from ..catalog.model import Column, Entity, core_columns
from ..catalog.modellogic import identity_of
from .errors import RowboatError

READ_CHUNK = 1024 * 1024  # bytes per downloaded (or, on SQLite, hashed) slice
WRITE_CHUNK = 4 * 1024 * 1024  # bytes per written slice (MariaDB: at most a quarter packet)

# What each column type can hold, in bytes, when its type names no length.
_MYSQL_CAPACITY = {
    "TINYBLOB": 255,
    "BLOB": 65_535,
    "MEDIUMBLOB": 16_777_215,
    "LONGBLOB": 4_294_967_295,
}
PG_BYTEA = 1024**3 - 1  # PostgreSQL's largest field
SQLITE_MAX_LENGTH = 1_000_000_000  # SQLITE_MAX_LENGTH as SQLite is built by default


class UploadTooLarge(RowboatError):
    status = 413
    title = "File too large"


class StoredBinary(int):
    """A stored binary value as pages see it: its size in bytes (an ``int``: formatted, compared
    and shown like the sizes list pages select) and a digest of its bytes (``digest``)."""

    digest: str

    def __new__(cls, size: int, digest: str) -> StoredBinary:
        value = super().__new__(cls, size)
        value.digest = digest
        return value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredBinary):
            return int(self) == int(other) and self.digest == other.digest
        return int(self) == other

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((int(self), self.digest))

    def __repr__(self) -> str:
        return f"StoredBinary({int(self)}, {self.digest[:12]!r}…)"


@dataclass(eq=False)
class Upload:
    """A file chosen for a binary column, still in the (temporary) file it was spooled to."""

    stream: IO[bytes]
    filename: str
    size: int

    @classmethod
    def of(cls, stream: IO[bytes], filename: str) -> Upload:
        stream.seek(0, 2)
        size = stream.tell()
        stream.seek(0)
        return cls(stream, filename, size)

    def slices(self, size: int = WRITE_CHUNK) -> Iterator[bytes]:
        """The file's bytes, ``size`` at a time; one empty slice for an empty file."""
        self.stream.seek(0)
        first = True
        while True:
            data = self.stream.read(size)
            if data or first:
                yield data
            if len(data) < size:
                return
            first = False

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"Upload({self.filename!r}, {self.size} bytes)"


# --- which columns, and how they are read ------------------------------------------------------


def binary_keys(entity: Entity) -> list[str]:
    """The stored binary columns of ``entity`` (not computed ones: they are not written)."""
    return [k for k, c in entity.columns.items() if c.kind == "binary" and core_columns(c)]


def deferred(entity: Entity) -> list[Any]:
    """Loader options that leave ``entity``'s binary columns out of an object load."""
    options = []
    for key in binary_keys(entity):
        expression = entity.columns[key].expression
        if isinstance(expression, InstrumentedAttribute):
            options.append(defer(expression))
    return options


def _by_identity(entity: Entity, identity: Sequence[Any]) -> Any:
    pk = [entity.columns[k] for k in entity.primary_key]
    return and_(*[c.expression == v for c, v in zip(pk, identity)])


def _from(entity: Entity) -> Any:
    return entity.mapped_class if entity.mapped_class is not None else entity.selectable


def _digest_expression(expression: Any, bind: Engine | Connection) -> Any | None:
    """The database's SHA-256 of a value (hexadecimal or bytes), or None: hash it here."""
    dialect = bind.dialect
    if dialect.name == "postgresql":
        version = dialect.server_version_info or (0,)
        if version >= (11,):
            return func.sha256(expression)
        return func.md5(expression)  # PostgreSQL 10 and older: tagged, never compared with sha
    if dialect.name in ("mysql", "mariadb"):
        return func.sha2(expression, 256)
    return None


def _hex(value: Any, bind: Engine | Connection) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    text = str(value).lower()
    version = bind.dialect.server_version_info or (0,)
    if bind.dialect.name == "postgresql" and version < (11,):
        return "md5:" + text
    return text


def summaries(
    session: Session | Connection, entity: Entity, identity: Sequence[Any]
) -> dict[str, StoredBinary | None]:
    """Each binary column of one row as its size and digest (None for NULL), without ever
    selecting the bytes; {} when the row is gone."""
    keys = binary_keys(entity)
    if not keys:
        return {}
    # A connection, not the engine: the server's version is known once one is open.
    bind = session.connection() if isinstance(session, Session) else session
    columns: list[Any] = []
    where: dict[str, tuple[int, int | None]] = {}  # key -> (size's index, digest's index)
    for key in keys:
        expression = entity.columns[key].expression
        digest = _digest_expression(expression, bind)
        size_at = len(columns)
        columns.append(func.length(expression))
        if digest is not None:
            columns.append(digest)
        where[key] = (size_at, size_at + 1 if digest is not None else None)
    stmt = select(*columns).select_from(_from(entity)).where(_by_identity(entity, identity))
    row = session.execute(stmt).first()
    if row is None:
        return {}
    result: dict[str, StoredBinary | None] = {}
    for key, (size_at, digest_at) in where.items():
        size = row[size_at]
        if size is None:
            result[key] = None
        elif digest_at is None:  # no hash function in the database: read it in slices
            hasher = hashlib.sha256()
            for chunk in read_slices(session, entity, entity.columns[key], identity, size):
                hasher.update(chunk)
            result[key] = StoredBinary(size, hasher.hexdigest())
        else:
            result[key] = StoredBinary(size, _hex(row[digest_at], bind))
    return result


def size_of(
    session: Session | Connection, entity: Entity, column: Column, identity: Sequence[Any]
) -> tuple[bool, int | None, bool]:
    """(the row exists, the value's size or None for NULL, whether that size counts bytes:
    not for text SQLite keeps in a BLOB column, whose ``length()`` counts characters)."""
    columns = [func.length(column.expression)]
    bind = session.get_bind() if isinstance(session, Session) else session
    if bind.dialect.name == "sqlite":
        columns.append(func.typeof(column.expression))
    stmt = select(*columns).select_from(_from(entity)).where(_by_identity(entity, identity))
    row = session.execute(stmt).first()
    if row is None:
        return False, None, True
    return True, row[0], len(row) == 1 or row[1] != "text"


def read_slices(
    session: Session | Connection,
    entity: Entity,
    column: Column,
    identity: Sequence[Any],
    size: int,
    chunk: int = READ_CHUNK,
) -> Generator[bytes, None, None]:
    """The value's bytes, ``chunk`` at a time, read with ``substr`` by offset.

    ``size`` is what ``length()`` said: bytes, or characters for text SQLite keeps in a BLOB
    column (``substr`` counts the same way there, and each slice is encoded as UTF-8).
    """
    blob = _sqlite_blob(session, entity, column, identity)
    if blob is not None:
        with blob:
            while data := blob.read(chunk):
                yield data
        return
    start: Any = bindparam("start")
    stmt = (
        select(func.substr(column.expression, start, chunk, type_=LargeBinary))
        .select_from(_from(entity))
        .where(_by_identity(entity, identity))
    )
    offset = 0
    while offset < size:
        value = session.execute(stmt, {"start": offset + 1}).scalar()
        if not value:
            return  # the row went or the value shrank meanwhile
        data = value.encode() if isinstance(value, str) else bytes(value)
        yield data
        offset += chunk


def _connection(session: Session | Connection) -> Connection:
    return session.connection() if isinstance(session, Session) else session


def _sqlite_blob(
    session: Session | Connection,
    entity: Entity,
    column: Column,
    identity: Sequence[Any],
    readonly: bool = True,
) -> Any | None:
    """An incremental blob handle on the value (SQLite only), or None: another database, a
    ``WITHOUT ROWID`` table, a missing row or a NULL."""
    connection = _connection(session)
    cores = core_columns(column)
    if connection.dialect.name != "sqlite" or not cores:
        return None
    table = cores[0].table
    quote = connection.dialect.identifier_preparer.quote
    rowid: Any = literal_column(f"{quote(table.name)}.rowid")
    stmt = select(rowid).select_from(_from(entity)).where(_by_identity(entity, identity))
    try:
        row = connection.execute(stmt).first()
    except DBAPIError:  # no rowid: a WITHOUT ROWID table
        return None
    if row is None or row[0] is None:
        return None
    raw = connection.connection.driver_connection
    try:
        return raw.blobopen(  # type: ignore[union-attr]
            table.name, cores[0].name, row[0], readonly=readonly, name=table.schema or "main"
        )
    except Exception:  # noqa: BLE001 - a NULL or a number: no blob to open
        return None


class Download:
    """A streamed response body: the value's slices, read on a connection of its own that is
    given back when the response is closed (sent or abandoned)."""

    def __init__(
        self,
        connection: Connection,
        entity: Entity,
        column: Column,
        identity: Sequence[Any],
        size: int,
    ) -> None:
        self.connection = connection
        self._slices = read_slices(connection, entity, column, identity, size)

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._slices
        finally:
            self.close()

    def close(self) -> None:
        self._slices.close()  # a SQLite blob handle is closed before its connection goes back
        if not self.connection.closed:
            self.connection.close()


def open_download(
    engine: Engine, entity: Entity, column: Column, identity: Sequence[Any]
) -> tuple[Download | None, int | None, bool]:
    """Begin reading one value: (the body, its length in bytes when known, whether the row
    exists); no body for a missing row or a NULL.

    The size and every slice are read in one transaction: REPEATABLE READ on PostgreSQL and
    MariaDB (InnoDB's default), so a save meanwhile cannot splice two values together.
    """
    connection = engine.connect()
    try:
        if engine.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        exists, size, in_bytes = size_of(connection, entity, column, identity)
        if size is None:
            connection.close()
            return None, None, exists
        body = Download(connection, entity, column, identity, size)
        return body, size if in_bytes else None, True
    except BaseException:
        connection.close()
        raise


# --- writing -------------------------------------------------------------------------------------


def _append_expression(core: Any, chunk: Any, dialect: str) -> Any:
    if dialect in ("mysql", "mariadb"):
        return func.concat(core, chunk)
    joined = core.op("||")(chunk)
    if dialect == "sqlite":
        return cast(joined, LargeBinary)  # SQLite's || makes text of two blobs
    return joined


def write_chunk_size(session: Session) -> int:
    """Bytes per written slice: a quarter of MariaDB's packet at most (escaping may double a
    slice, and the statement must fit in one packet)."""
    packet = max_packet(session)
    return WRITE_CHUNK if packet is None else max(64 * 1024, min(WRITE_CHUNK, packet // 4))


def append_rest(session: Session, entity: Entity, obj: Any, key: str, upload: Upload) -> None:
    """Append all but the first slice of ``upload`` to the column ``key`` of ``obj``'s row (the
    first was written through the ORM), a slice per statement, in the session's transaction."""
    chunk_size = write_chunk_size(session)
    slices = upload.slices(chunk_size)
    next(slices, None)  # written with the object
    core = core_columns(entity.columns[key])[0]
    table = core.table
    mapper = inspect(obj).mapper
    where = and_(
        *[
            c == getattr(obj, mapper.get_property_by_column(c).key)
            for c in table.primary_key.columns
        ]
    )
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite" and upload.size > chunk_size:
        # Room for the whole file (a zeroblob takes no memory), then written in place.
        session.execute(update(table).where(where).values({core: func.zeroblob(upload.size)}))
        identity = identity_of(session, entity, obj)
        blob = _sqlite_blob(session, entity, entity.columns[key], identity, readonly=False)
        if blob is not None:
            with blob:
                for data in upload.slices(chunk_size):
                    blob.write(data)
            return
        session.execute(update(table).where(where).values({core: first_slice(session, upload)}))
    chunk = bindparam("chunk", type_=LargeBinary)
    stmt = update(table).where(where).values({core: _append_expression(core, chunk, dialect)})
    for data in slices:
        session.execute(stmt, {"chunk": data})


def first_slice(session: Session, upload: Upload) -> bytes:
    return next(upload.slices(write_chunk_size(session)))


# --- limits --------------------------------------------------------------------------------------

_PACKETS: weakref.WeakKeyDictionary[Engine, int | None] = weakref.WeakKeyDictionary()
_packet_lock = threading.Lock()


def max_packet(session: Session) -> int | None:
    """MariaDB's ``max_allowed_packet`` (read once per engine), None on other databases."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if engine.dialect.name not in ("mysql", "mariadb"):
        return None
    with _packet_lock:
        if engine in _PACKETS:
            return _PACKETS[engine]
    value = session.connection().exec_driver_sql("SELECT @@max_allowed_packet").scalar()
    packet = int(value) if value is not None else None
    with _packet_lock:
        _PACKETS[engine] = packet
    return packet


def capacity(column: Column, dialect: str) -> tuple[int, str]:
    """The most bytes the column's type holds, and what says so."""
    kind = column.type
    length = getattr(kind, "length", None)
    name = type(kind).__name__.upper()
    if dialect in ("mysql", "mariadb"):
        if name in _MYSQL_CAPACITY and not (name == "BLOB" and length):
            return _MYSQL_CAPACITY[name], f"a MariaDB {name} holds"
        if isinstance(length, int) and length > 0:
            return length, f"a {name}({length}) column holds"
        return _MYSQL_CAPACITY["BLOB"], "a MariaDB BLOB holds"
    if isinstance(length, int) and length > 0:
        return length, f"a {name}({length}) column holds"
    if dialect == "postgresql":
        return PG_BYTEA, "PostgreSQL's bytea holds"
    return SQLITE_MAX_LENGTH, "SQLite holds in one value"


def upload_limit(session: Session, column: Column, max_upload: int) -> tuple[int, str]:
    """How large a file the column takes here, and the reason for that limit."""
    dialect = session.get_bind().dialect.name
    limit, reason = capacity(column, dialect)
    packet = max_packet(session)
    if packet is not None and packet < limit:
        limit, reason = packet, "MariaDB's max_allowed_packet lets one value be"
    if max_upload < limit:
        limit, reason = max_upload, "the ROWBOAT_MAX_UPLOAD setting allows"
    return limit, reason


def size_text(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value, unit = n / 1024, "KB"
    for bigger in ("MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"


def too_large(name: str, size: int, limit: int, reason: str) -> UploadTooLarge:
    return UploadTooLarge(
        f"The file chosen for {name} is {size_text(size)} ({size} bytes): larger than the "
        f"{size_text(limit)} ({limit} bytes) {reason}. Nothing was saved."
    )


def form_limits(session: Session, columns: Sequence[Any], max_upload: int) -> dict[str, Any]:
    """For each editable file field of a form (``ColumnSpec``s): (limit, reason), by key."""
    return {
        c.key: upload_limit(session, c.column, max_upload)
        for c in columns
        if c.field_type == "FileField" and c.editable
    }


def request_limit(limits: dict[str, Any], other_fields: int, max_form_memory: int) -> int:
    """The most bytes a form's request may hold: every file at its limit, every other field
    at Werkzeug's per-field limit, and a megabyte of multipart headers and markers."""
    return sum(limit for limit, _ in limits.values()) + other_fields * max_form_memory + 1024**2


def check_uploads(limits: dict[str, Any], fields: dict[str, Any], names: dict[str, str]) -> None:
    """UploadTooLarge (413) when a chosen file is larger than its column takes."""
    for key, (limit, reason) in limits.items():
        data = getattr(fields.get(key), "data", None)
        if isinstance(data, Upload) and data.size > limit:
            raise too_large(names[key], data.size, limit, reason)
