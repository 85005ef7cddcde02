"""Stream a statement's rows as CSV or JSON in constant memory, however many there are.

Nothing here holds more than one batch of rows. On PostgreSQL, CSV comes straight from the
server with ``COPY (SELECT …) TO STDOUT`` through psycopg2 (run in a worker thread that hands
64 KB chunks over a small bounded queue, since ``copy_expert`` pushes rather than yields);
everywhere else a server-side cursor (``stream_results`` + ``yield_per``) feeds the writer
batch by batch. Exports run read-only, under their own (longer) time limit, and stop at a
configurable row cap. The stream is opened, and the statement started, before the response
is returned, so a failure to start is still an ordinary error page.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import enum
import io
import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from sqlalchemy import Select, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from .. import looseval, timeouts
from .run import read_only, timed_out

BATCH_ROWS = 1000
CHUNK_BYTES = 64 * 1024
QUEUE_CHUNKS = 8
COPY_OPTION = "rowboat_copy_to"

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
def time_limit(connection: Connection, seconds: float, default: float) -> Iterator[None]:
    """Give this connection ``seconds`` per statement, then put the usual limit back."""
    name = connection.dialect.name
    if name == "postgresql":
        # SET LOCAL ends with the transaction; the number comes from config, never a user.
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")
        yield
    elif name in ("mysql", "mariadb"):
        engine = connection.engine
        for statement in timeouts.session_statements(engine, seconds):
            connection.exec_driver_sql(statement)
        try:
            yield
        finally:
            try:
                for statement in timeouts.session_statements(engine, default):
                    connection.exec_driver_sql(statement)
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

    def tail(self, truncated: bool, cap: int) -> bytes:
        if self.fmt == "csv":
            return b""
        return (f'\n], "truncated": {json.dumps(truncated)}, "row_cap": {cap}}}\n').encode()


class Export:
    """An open export: iterate it for the bytes; ``close()`` (the server calls it) frees all."""

    content_type = "text/csv"
    truncated = False

    def __iter__(self) -> Iterator[bytes]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class CursorExport(Export):
    """Rows from a server-side cursor, ``BATCH_ROWS`` at a time (every engine; JSON on all)."""

    def __init__(
        self,
        engine: Engine,
        stmt: Select[Any],
        headers: Sequence[str],
        fmt: str,
        cap: int,
        seconds: float,
        default_seconds: float,
    ) -> None:
        self.writer = _Writer(fmt, headers)
        self.content_type = FORMATS[fmt]
        self.cap = cap
        self.seconds = seconds
        self.stack = ExitStack()
        try:
            connection = self.stack.enter_context(engine.connect())
            self.stack.enter_context(time_limit(connection, seconds, default_seconds))
            self.stack.enter_context(read_only(connection))
            streaming = connection.execution_options(stream_results=True, yield_per=BATCH_ROWS)
            self.result = streaming.execute(stmt.limit(cap + 1))
        except DBAPIError as exc:
            self.stack.close()
            raise timed_out(exc, seconds) from exc
        except BaseException:
            self.stack.close()
            raise

    def __iter__(self) -> Iterator[bytes]:
        yield self.writer.head()
        sent = 0
        for batch in self.result.partitions(BATCH_ROWS):
            if sent + len(batch) > self.cap:
                batch = batch[: self.cap - sent]
                self.truncated = True
            sent += len(batch)
            if batch:
                yield self.writer.rows(batch)
            if self.truncated:
                break
        yield self.writer.tail(self.truncated, self.cap)
        self.close()

    def close(self) -> None:
        try:
            self.result.close()
        finally:
            self.stack.close()


class _Cancelled(Exception):
    pass


class _QueueFile:
    """The file ``copy_expert`` writes to: gathers 64 KB, then hands it over the queue."""

    def __init__(self, chunks: queue.Queue[Any], cancelled: threading.Event) -> None:
        self.chunks = chunks
        self.cancelled = cancelled
        self.buffer: list[bytes] = []
        self.size = 0

    def write(self, data: bytes | str) -> int:
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        self.buffer.append(raw)
        self.size += len(raw)
        if self.size >= CHUNK_BYTES:
            self.flush()
        return len(raw)

    def flush(self) -> None:
        if self.buffer:
            self.put(b"".join(self.buffer))
            self.buffer, self.size = [], 0

    def put(self, item: Any) -> None:
        while True:
            if self.cancelled.is_set():
                raise _Cancelled()
            try:
                self.chunks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue


def _copy_hook(cursor: Any, statement: str, parameters: Any, context: Any) -> bool | None:
    """Run a statement marked for export as ``COPY (…) TO STDOUT`` into its queue file."""
    target = context.execution_options.get(COPY_OPTION)
    if target is None:
        return None
    select_sql = cursor.mogrify(statement, parameters)
    cursor.copy_expert(b"COPY (" + select_sql + b") TO STDOUT WITH (FORMAT csv)", target)
    return True


_DONE = object()


class CopyExport(Export):
    """PostgreSQL CSV: the server formats the rows (``COPY … TO STDOUT``), we pass them on."""

    content_type = FORMATS["csv"]

    def __init__(
        self,
        engine: Engine,
        stmt: Select[Any],
        headers: Sequence[str],
        cap: int,
        seconds: float,
    ) -> None:
        if not event.contains(engine, "do_execute", _copy_hook):
            event.listen(engine, "do_execute", _copy_hook)
        self.head = _Writer("csv", headers).head()
        self.chunks: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self.cancelled = threading.Event()
        self.file = _QueueFile(self.chunks, self.cancelled)
        self.seconds = seconds
        self.thread = threading.Thread(
            target=self._produce, args=(engine, stmt.limit(cap)), daemon=True
        )
        self.thread.start()
        # Wait for the first chunk (or the end, or the error) so a failure to start is
        # reported as an error page rather than as a cut-off download.
        self.pending = self.chunks.get()
        if isinstance(self.pending, BaseException):
            self.close()
            raise self.pending

    def _produce(self, engine: Engine, stmt: Select[Any]) -> None:
        try:
            with engine.connect() as connection:
                try:
                    with time_limit(connection, self.seconds, 0), read_only(connection):
                        connection.execution_options(**{COPY_OPTION: self.file}).execute(stmt)
                        self.file.flush()
                except _Cancelled:
                    connection.invalidate()  # the server may still be sending: start afresh
                    return
            self.file.put(_DONE)
        except _Cancelled:
            return
        except DBAPIError as exc:
            self._hand_over(timed_out(exc, self.seconds))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            self._hand_over(exc)

    def _hand_over(self, exc: BaseException) -> None:
        try:
            self.file.put(exc)
        except _Cancelled:
            pass

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        item = self.pending
        while item is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
            item = self.chunks.get()

    def close(self) -> None:
        self.cancelled.set()
        while True:  # unblock the producer if it waits on a full queue
            try:
                self.chunks.get_nowait()
            except queue.Empty:
                break


def open_export(
    engine: Engine,
    stmt: Select[Any],
    headers: Sequence[str],
    fmt: str,
    cap: int,
    seconds: float,
    default_seconds: float,
) -> Export:
    """Start streaming ``stmt`` as ``fmt`` ("csv" or "json"); raise if it cannot start."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    if fmt == "csv" and engine.dialect.driver == "psycopg2":
        return CopyExport(engine, stmt, headers, cap, seconds)
    return CursorExport(engine, stmt, headers, fmt, cap, seconds, default_seconds)
