"""Stream a statement's rows as CSV or JSON in constant memory, under a deadline, cancellable.

Nothing here holds more than one batch of rows. A producer thread owns the export's connection
and hands encoded chunks to the response over a small bounded queue: on PostgreSQL, CSV comes
straight from the server with ``COPY (SELECT …) TO STDOUT`` through psycopg2; everywhere else a
server-side cursor (``stream_results`` + ``yield_per``) feeds the writer batch by batch.

Every export is bounded three ways:

- an overall deadline (``EXPORT_TIMEOUT``) from its start to its last row, which is also the
  statement's own limit on the server (the remaining time), so a process that dies cannot
  leave it running;
- an idle bound (``EXPORT_IDLE_TIMEOUT``): when the client has not taken a chunk for that
  long, the export stops, so its transaction is never left waiting on a slow reader (the
  server enforces it too: PostgreSQL ``idle_in_transaction_session_timeout``, MariaDB
  ``net_write_timeout``);
- a row cap (``EXPORT_MAX_ROWS``).

When it stops early (the deadline, the idle bound, the client going away: ``close()``) the
statement is cancelled on the server (psycopg2's ``cancel()``, MariaDB ``KILL QUERY`` from
another connection, SQLite ``interrupt()``) and the connection is discarded, not pooled. The
first chunk is awaited before the response is returned, so a failure or the deadline before
any row is still an ordinary error page (a 504); after that, a stopped JSON export ends with
``"stopped": "<why>"``, a stopped CSV export with a ``# export stopped: <why>`` line, and the
transfer is then broken off so no client takes it for a complete file.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import enum
import io
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from ..core import looseval
from ..db import timeouts
from ..db.errors import QueryTimeout
from .run import read_only, timed_out

log = logging.getLogger(__name__)

BATCH_ROWS = 1000
CHUNK_BYTES = 64 * 1024
QUEUE_CHUNKS = 8
COPY_OPTION = "rowboat_copy_to"
POLL_SECONDS = 0.1  # how often a waiting side looks at the deadline and the stop flag
JOIN_SECONDS = 5.0  # how long close() waits for the producer to let go of its connection
SERVER_IDLE_MARGIN = 5.0  # the server's own idle bound: ours, plus this (a backstop)

FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


# --- values -----------------------------------------------------------------------------------


def text_value(value: Any) -> str:
    """A value as CSV text: NULL is empty, bytes are ``\\x`` hex (as PostgreSQL writes them)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return looseval.float_text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def json_value(value: Any) -> str:
    """A value as JSON text; decimals stay exact numbers, dates are ISO strings."""
    if value is None or isinstance(value, (bool, int, str)):
        return json.dumps(value, ensure_ascii=False)
    # NaN and ±Infinity have no JSON number: they go as the text pages show (null is NULL).
    if isinstance(value, float):
        return json.dumps(value) if value - value == 0 else json.dumps(looseval.float_text(value))
    if isinstance(value, decimal.Decimal):
        return format(value, "f") if value.is_finite() else json.dumps(format(value, "f"))
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return json.dumps(base64.b64encode(bytes(value)).decode("ascii"))
    if isinstance(value, uuid.UUID):
        return json.dumps(str(value))
    return json.dumps(text_value(value), ensure_ascii=False)


# Values the csv module turns into the same text as ``text_value`` (``type() is``: a bool or an
# int-based Enum is not one of them). csv writes floats with repr(), which is what str() gives.
_CSV_AS_IS = frozenset({str, int, float, type(None)})


# --- time limits ------------------------------------------------------------------------------


@contextmanager
def time_limit(
    connection: Connection, seconds: float, default: float, idle: float = 0.0
) -> Iterator[None]:
    """Give this connection ``seconds`` per statement (and, with ``idle``, a server-side bound
    on waiting for the client), then put the usual limits back."""
    name = connection.dialect.name
    if name == "postgresql":
        # SET LOCAL ends with the transaction; the numbers come from config, never a user.
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {max(int(seconds * 1000), 1)}")
        if idle > 0:
            millis = int((idle + SERVER_IDLE_MARGIN) * 1000)
            connection.exec_driver_sql(f"SET LOCAL idle_in_transaction_session_timeout = {millis}")
        yield
    elif name in ("mysql", "mariadb"):
        engine = connection.engine
        for statement in timeouts.session_statements(engine, max(seconds, 0.001)):
            connection.exec_driver_sql(statement)
        if idle > 0:
            # The server gives up on a client that does not read for this long.
            connection.exec_driver_sql(
                f"SET SESSION net_write_timeout = {max(int(idle + SERVER_IDLE_MARGIN), 1)}"
            )
        try:
            yield
        finally:
            if not connection.invalidated:
                try:
                    for statement in timeouts.session_statements(engine, default):
                        connection.exec_driver_sql(statement)
                    if idle > 0:
                        connection.exec_driver_sql("SET SESSION net_write_timeout = DEFAULT")
                except DBAPIError:
                    connection.invalidate()
    else:
        # SQLite: the engine's progress handler cannot be read back, so the export installs
        # its own deadline and the connection is retired afterwards (a new one has the
        # engine's handler). Opening an SQLite file costs next to nothing.
        dbapi = connection.connection.dbapi_connection
        deadline = time.monotonic() + seconds if seconds > 0 else None

        def _past_deadline() -> int:
            return 1 if deadline is not None and time.monotonic() > deadline else 0

        assert dbapi is not None
        dbapi.set_progress_handler(_past_deadline, 10_000)
        try:
            yield
        finally:
            connection.invalidate()


def cancel_on_server(engine: Engine, dbapi_connection: Any, thread_id: int | None) -> None:
    """Cancel what ``dbapi_connection`` runs, from any thread (it may be busy in another)."""
    name = engine.dialect.name
    if name == "postgresql":
        dbapi_connection.cancel()  # psycopg2: a cancel request on a connection of its own
    elif name in ("mysql", "mariadb"):
        if thread_id is None:
            return
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        killer = engine.dialect.loaded_dbapi.connect(*cargs, **{**cparams, "connect_timeout": 5})
        try:
            with killer.cursor() as cursor:
                cursor.execute(f"KILL QUERY {int(thread_id)}")
        finally:
            killer.close()
    else:
        dbapi_connection.interrupt()  # sqlite3: safe from another thread


def _forget_unbuffered_result(connection: Connection) -> None:
    """PyMySQL: drop a streaming result half-read, rather than read the rest of it.

    Closed normally (or garbage-collected) a PyMySQL unbuffered result reads every row left
    in it; on a connection about to be discarded after its query was killed, that either reads
    a stream that was cancelled for being too long or fails on the closed socket.
    """
    dbapi_connection = connection.connection.dbapi_connection
    result = getattr(dbapi_connection, "_result", None)
    if getattr(result, "unbuffered_active", False):
        result.unbuffered_active = False  # type: ignore[union-attr]


# --- streams ----------------------------------------------------------------------------------


class _Writer:
    """Turn batches of rows into encoded chunks of CSV or JSON."""

    def __init__(self, fmt: str, headers: Sequence[str]) -> None:
        self.fmt = fmt
        self.headers = list(headers)
        self.keys = [json.dumps(h, ensure_ascii=False) for h in self.headers]
        self.first = True

    def head(self) -> bytes:
        if self.fmt == "csv":
            return self.csv_rows([self.headers])
        return (
            '{"columns": ' + json.dumps(self.headers, ensure_ascii=False) + ', "rows": ['
        ).encode()

    def csv_rows(self, rows: Sequence[Sequence[Any]]) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        # The csv module writes str, int and float itself (and None as ""), exactly as
        # text_value would; only other values need it. This halves the Python time per row.
        # A float that is not finite (v - v is NaN) is spelt as pages show it, not 'inf'.
        plain = _CSV_AS_IS
        writer.writerows(
            [
                [
                    v
                    if type(v) in plain and (type(v) is not float or v - v == 0)
                    else text_value(v)
                    for v in row
                ]
                for row in rows
            ]
        )
        return buffer.getvalue().encode("utf-8")

    def rows(self, rows: Sequence[Sequence[Any]]) -> bytes:
        if self.fmt == "csv":
            return self.csv_rows(rows)
        parts = []
        for row in rows:
            body = ", ".join(f"{k}: {json_value(v)}" for k, v in zip(self.keys, row))
            parts.append(("\n" if self.first else ",\n") + "{" + body + "}")
            self.first = False
        return "".join(parts).encode("utf-8")

    def tail(self, truncated: bool, cap: int, stopped: str | None = None) -> bytes:
        if self.fmt == "csv":
            return f"# export stopped: {stopped}\n".encode() if stopped else b""
        return (
            f'\n], "truncated": {json.dumps(truncated)}, "row_cap": {cap}, '
            f'"stopped": {json.dumps(stopped, ensure_ascii=False)}}}\n'
        ).encode()


class ExportStopped(Exception):
    """Raised out of a CSV stream that stopped early, so the server breaks the transfer off."""


class _Cancelled(Exception):
    pass


@dataclass
class _End:
    truncated: bool


@dataclass
class Limits:
    seconds: float  # the whole export, start to last row (EXPORT_TIMEOUT)
    idle: float  # the longest wait for the client to take a chunk (EXPORT_IDLE_TIMEOUT)
    default: float  # the engine's usual statement limit, put back afterwards


class _QueueFile:
    """The file ``copy_expert`` writes to: gathers 64 KB, then hands it to the export.

    The first rows are handed over at once, so the response starts as soon as there are any.
    """

    def __init__(self, put: Callable[[Any], None]) -> None:
        self.put = put
        self.buffer: list[bytes] = []
        self.size = 0
        self.first = True

    def write(self, data: bytes | str) -> int:
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        self.buffer.append(raw)
        self.size += len(raw)
        if self.size >= CHUNK_BYTES or self.first:
            self.first = False
            self.flush()
        return len(raw)

    def flush(self) -> None:
        if self.buffer:
            self.put(b"".join(self.buffer))
            self.buffer, self.size = [], 0


def _copy_hook(cursor: Any, statement: str, parameters: Any, context: Any) -> bool | None:
    """Run a statement marked for export as ``COPY (…) TO STDOUT`` into its queue file."""
    target = context.execution_options.get(COPY_OPTION)
    if target is None:
        return None
    select_sql = cursor.mogrify(statement, parameters)
    cursor.copy_expert(b"COPY (" + select_sql + b") TO STDOUT WITH (FORMAT csv)", target)
    return True


class Export:
    """An open export: iterate it for the bytes; ``close()`` (the server calls it, also when
    the client goes away) cancels whatever still runs and frees the connection and the slot."""

    def __init__(
        self,
        engine: Engine,
        stmt: Select[Any],
        headers: Sequence[str],
        fmt: str,
        cap: int,
        limits: Limits,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.writer = _Writer(fmt, headers)
        self.fmt = fmt
        self.content_type = FORMATS[fmt]
        self.cap = cap
        self.limits = limits
        self.on_close = on_close
        self.copy = fmt == "csv" and engine.dialect.driver == "psycopg2"
        self.deadline = time.monotonic() + limits.seconds
        self.chunks: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self.cancelled = threading.Event()
        self.stopped: str | None = None  # why it stopped early, for the client
        self.truncated = False
        self.finished = False  # the consumer has had every row
        self.closed = False
        # What cancel_on_server needs while the producer holds the connection; None otherwise.
        self._lock = threading.Lock()
        self._target: tuple[Any, int | None] | None = None
        if self.copy and not event.contains(engine, "do_execute", _copy_hook):
            event.listen(engine, "do_execute", _copy_hook)
        self.thread = threading.Thread(
            target=self._produce, args=(stmt,), name="rowboat-export", daemon=True
        )
        self.thread.start()
        try:
            # The first chunk (or the end, or the error) comes before the response, so a
            # failure to start is an error page rather than a cut-off download.
            self.pending = self._take()
            if self.pending is None:
                raise self._timeout()
            if isinstance(self.pending, BaseException):
                raise self.pending
        except BaseException:
            self.close()
            raise

    # --- stopping ---------------------------------------------------------------------------

    def _timeout(self) -> QueryTimeout:
        return QueryTimeout(self._deadline_reason())

    def _deadline_reason(self) -> str:
        return (
            f"The export ran longer than its {self.limits.seconds:g} s time limit "
            "(ROWBOAT_EXPORT_TIMEOUT) and was cancelled. Narrow the filters, sort by an "
            "indexed column, or export fewer rows."
        )

    def _stop(self, reason: str | None, cancel: bool = True) -> None:
        """Stop the export: remember why (the first reason wins), cancel what runs."""
        if self.cancelled.is_set():
            return
        self.stopped = reason
        self.cancelled.set()
        if cancel:
            self._cancel_server()

    def _cancel_server(self) -> None:
        with self._lock:
            if self._target is None:
                return
            dbapi_connection, thread_id = self._target
            try:
                cancel_on_server(self.engine, dbapi_connection, thread_id)
            except Exception:  # noqa: BLE001 - the connection is discarded anyway
                log.warning("cancelling an export's statement failed", exc_info=True)

    # --- the producer (its own thread, the only user of the connection) ----------------------

    def _put(self, item: Any) -> None:
        waiting_since = time.monotonic()
        while True:
            if self.cancelled.is_set():
                raise _Cancelled()
            now = time.monotonic()
            if now >= self.deadline:
                self._stop(self._deadline_reason(), cancel=False)
                raise _Cancelled()
            if now - waiting_since >= self.limits.idle > 0:
                self._stop(
                    f"The client did not read for {self.limits.idle:g} s "
                    "(ROWBOAT_EXPORT_IDLE_TIMEOUT); the export was cancelled.",
                    cancel=False,
                )
                raise _Cancelled()
            try:
                self.chunks.put(item, timeout=POLL_SECONDS)
                return
            except queue.Full:
                continue

    def _produce(self, stmt: Select[Any]) -> None:
        try:
            with self.engine.connect() as connection:
                dbapi_connection = connection.connection.dbapi_connection
                thread_id = None
                if connection.dialect.name in ("mysql", "mariadb"):
                    thread_id = dbapi_connection.thread_id()  # type: ignore[union-attr]
                with self._lock:
                    self._target = (dbapi_connection, thread_id)
                try:
                    self._run(connection, stmt)
                finally:
                    with self._lock:
                        self._target = None
                    if self.cancelled.is_set():
                        connection.invalidate()  # never back into the pool half-way
        except _Cancelled:
            return
        except DBAPIError as exc:
            if timeouts.is_timeout(exc) and not self.cancelled.is_set():
                self._hand_over(self._timeout())  # the server's copy of the deadline
            elif not self.cancelled.is_set():
                self._hand_over(timed_out(exc, self.limits.seconds))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            if not self.cancelled.is_set():
                self._hand_over(exc)

    def _run(self, connection: Connection, stmt: Select[Any]) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self._stop(self._deadline_reason(), cancel=False)
            raise _Cancelled()
        limits = self.limits
        with time_limit(connection, remaining, limits.default, limits.idle), read_only(connection):
            try:
                if self.copy:
                    target = _QueueFile(self._put)
                    connection.execution_options(**{COPY_OPTION: target}).execute(
                        stmt.limit(self.cap)
                    )
                    target.flush()
                    self._put(_End(False))
                else:
                    self._stream_rows(connection, stmt)
            except BaseException:
                # Stopped, failed or cancelled half-way: the statement may still run on the
                # server, and the connection is in no state to be rolled back and reused.
                self._cancel_server()
                _forget_unbuffered_result(connection)
                connection.invalidate()
                raise

    def _stream_rows(self, connection: Connection, stmt: Select[Any]) -> None:
        streaming = connection.execution_options(stream_results=True, yield_per=BATCH_ROWS)
        result = streaming.execute(stmt.limit(self.cap + 1))
        sent = 0
        truncated = False
        for batch in result.partitions(BATCH_ROWS):
            if self.cancelled.is_set():
                raise _Cancelled()
            if sent + len(batch) > self.cap:
                batch = batch[: self.cap - sent]
                truncated = True
            sent += len(batch)
            if batch:
                self._put(self.writer.rows(batch))
            if truncated:
                break
        result.close()
        self._put(_End(truncated))

    def _hand_over(self, exc: BaseException) -> None:
        try:
            self._put(exc)
        except _Cancelled:
            pass

    # --- the consumer (the response) ---------------------------------------------------------

    def _take(self) -> Any:
        """The next item from the producer; None once the export has stopped early."""
        while True:
            try:
                return self.chunks.get(timeout=POLL_SECONDS)
            except queue.Empty:
                pass
            if self.cancelled.is_set():
                return None
            if time.monotonic() >= self.deadline:
                self._stop(self._deadline_reason())  # the statement runs too long: cancel it
                return None
            if not self.thread.is_alive() and self.chunks.empty():
                return RuntimeError("the export's producer ended without a word")

    def __iter__(self) -> Iterator[bytes]:
        yield self.writer.head()
        item = self.pending
        line_ended = True  # COPY's chunks may end in the middle of a line
        while True:
            if isinstance(item, QueryTimeout):
                self._stop(item.message)
                item = None
            if item is None:
                reason = self.stopped or "cancelled"
                yield (b"" if line_ended else b"\n") + self.writer.tail(False, self.cap, reason)
                if self.fmt == "csv":
                    raise ExportStopped(reason)
                return
            if isinstance(item, _End):
                self.finished = True
                self.truncated = item.truncated
                yield self.writer.tail(item.truncated, self.cap)
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            line_ended = item.endswith(b"\n")
            item = self._take()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if not self.finished:
                self._stop("the client went away")
            while True:  # unblock the producer if it waits on a full queue
                try:
                    self.chunks.get_nowait()
                except queue.Empty:
                    break
            self.thread.join(JOIN_SECONDS)
        finally:
            if self.on_close is not None:
                self.on_close()


def open_export(
    engine: Engine,
    stmt: Select[Any],
    headers: Sequence[str],
    fmt: str,
    cap: int,
    limits: Limits,
    on_close: Callable[[], None] | None = None,
) -> Export:
    """Start streaming ``stmt`` as ``fmt`` ("csv" or "json"); raise if it cannot start."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    return Export(engine, stmt, headers, fmt, cap, limits, on_close)
