"""Binary values through the edit form, the pages and downloads, on SQLite, PostgreSQL and
MariaDB, without any worker holding a whole value.

A multi-megabyte file with a known pattern is uploaded through the create and edit forms and
must be stored byte for byte, written in slices (no bound parameter larger than a slice); an
unchanged save must not write the column at all; the download must stream the same bytes; the
edit, delete and row pages must read sizes and digests, never select the column's bytes; and a
file larger than its column takes (or than ``MAX_UPLOAD``) answers 413 and changes nothing.

The table lives in a database of its own (``rowboat_blob_test``): a ``LONGBLOB`` on MariaDB
(its generic ``LargeBinary`` is a 64 KB ``BLOB``, kept as ``small`` to test that limit).
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import ENGINES, ENV_TO_CLEAR, Page, engine_of, fresh_database
from flask import Flask
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import mysql
from test_edit_support import form_data, make_edit_app, with_values
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from rowboat.db import blobs
from rowboat.db.engines import databases_of

BLOB_DATABASE = "rowboat_blob_test"
MB = 1024 * 1024

metadata = MetaData()
files = Table(
    "files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(40), nullable=False),
    Column("data", LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"), nullable=True),
    Column("small", LargeBinary, nullable=True),
)

SEED = b"\x00\x01\x02rowboat\xff\xfe"


def pattern(size: int, salt: int = 0) -> bytes:
    """``size`` bytes that differ at every offset that matters: a counter in every 16 bytes."""
    block = bytearray()
    n = 0
    while len(block) < size:
        block += SEED + (n + salt).to_bytes(4, "big") + bytes([n % 251])
        n += 1
    return bytes(block[:size])


@pytest.fixture(scope="session", params=ENGINES)
def blob_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with fresh_database(request.param, BLOB_DATABASE, tmp_path_factory) as url:
        engine = create_engine(url)
        try:
            metadata.create_all(engine)
        finally:
            engine.dispose()
        yield url


@pytest.fixture
def db_engine(blob_url: str) -> Iterator[Engine]:
    engine = create_engine(blob_url)
    with engine.begin() as connection:
        connection.execute(delete(files))
        connection.execute(
            insert(files),
            [
                {"id": 1, "name": "small one", "data": SEED, "small": SEED},
                {"id": 2, "name": "empty", "data": None, "small": None},
            ],
        )
        if engine.dialect.name == "postgresql":  # rows made by the create form come after
            connection.execute(text("SELECT setval(pg_get_serial_sequence('files', 'id'), 2)"))
    yield engine
    engine.dispose()


def _app(blob_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, **settings: Any) -> Flask:
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    app = make_edit_app(blob_url, tmp_path, **settings)
    return app


@pytest.fixture
def app(
    blob_url: str, db_engine: Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    application = _app(blob_url, tmp_path, monkeypatch)
    yield application
    for database in databases_of(application).values():
        database.engine.dispose()


def app_engine(app: Flask) -> Engine:
    return databases_of(app)["w"].engine


@contextmanager
def recording(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the app runs, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def stored(engine: Engine, row_id: int) -> tuple[int | None, str | None]:
    """(length, SHA-256) of the stored value, read in slices by the test itself."""
    with engine.connect() as connection:
        size = connection.execute(
            select(func.length(files.c.data)).where(files.c.id == row_id)
        ).scalar()
        if size is None:
            return None, None
        hasher = hashlib.sha256()
        for start in range(1, size + 1, MB):
            part = connection.execute(
                select(func.substr(files.c.data, start, MB, type_=LargeBinary)).where(
                    files.c.id == row_id
                )
            ).scalar()
            hasher.update(part)
    return size, hasher.hexdigest()


def digest(data: bytes) -> tuple[int, str]:
    return len(data), hashlib.sha256(data).hexdigest()


_WRAPPED = re.compile(r"(length|sha256|sha2|md5|substr|typeof)\(\s*$", re.I)


def bare_selects(statements: list[tuple[str, Any]], column: str = "data") -> list[str]:
    """The SELECTs that read ``files.<column>`` itself, rather than a function of it."""
    found = []
    pattern_ = re.compile(rf"[`\"]?files[`\"]?\.[`\"]?{column}[`\"]?(?![\w`\"])")
    for statement, _ in statements:
        if not statement.lstrip().upper().startswith("SELECT"):
            continue
        head = statement.split(" FROM ", 1)[0] if " FROM " in statement else statement
        for match in pattern_.finditer(head):
            if not _WRAPPED.search(head[: match.start()]):
                found.append(statement)
                break
    return found


def largest_parameter(statements: list[tuple[str, Any]]) -> int:
    sizes = [0]
    for _, parameters in statements:
        values = parameters.values() if isinstance(parameters, dict) else parameters or ()
        for value in values:
            value = getattr(value, "adapted", value)  # psycopg2 wraps bytes in Binary
            if isinstance(value, (bytes, bytearray, memoryview)):
                sizes.append(len(value))
    return max(sizes)


def updates_of(statements: list[tuple[str, Any]], column: str = "data") -> list[str]:
    setting = re.compile(rf"SET .*[`\"]?{column}[`\"]?\s*=", re.I | re.S)
    return [
        s for s, _ in statements if s.lstrip().upper().startswith("UPDATE") and setting.search(s)
    ]


def post(client: Any, path: str, data: Any) -> Any:
    """POST ``data`` as multipart, files given as (BytesIO, filename), encoded in memory: the
    test client's own encoding spools a large body to a temporary file it never closes."""
    values: MultiDict[str, Any] = MultiDict()
    pairs = data.items(multi=True) if isinstance(data, MultiDict) else data.items()
    for key, value in pairs:
        if isinstance(value, tuple):
            value = FileStorage(value[0], filename=value[1])
        values.add(key, value)
    boundary, body = encode_multipart(values)
    return client.post(path, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def post_file(client: Any, read: Callable[[Any], Page], path: str, **files_: Any) -> Any:
    data = form_data(read(client.get(path)))
    for name, (content, filename) in files_.items():
        data.poplist(name)
        data.add(name, (io.BytesIO(content), filename))
    return post(client, path, data)


# --- uploads -------------------------------------------------------------------------------------


def test_a_large_upload_is_stored_byte_for_byte_in_slices(
    app: Flask, db_engine: Engine, read: Callable[[Any], Page]
) -> None:
    client = app.test_client()
    content = pattern(5 * MB + 12_345)
    with recording(app_engine(app)) as statements:
        response = post_file(client, read, "/w/files/1/-/edit", data=(content, "five.bin"))
    assert response.status_code == 302, read(response).html[:2000]
    assert stored(db_engine, 1) == digest(content)
    # Written in slices: the ORM's UPDATE with the first, then appends; no statement carries
    # more than a slice, and the bytes are never selected back.
    assert 0 < largest_parameter(statements) <= blobs.WRITE_CHUNK
    assert len(updates_of(statements)) >= 2
    assert bare_selects(statements) == []
    # The same through the create form.
    new = pattern(3 * MB + 7, salt=9)
    data = with_values(form_data(read(client.get("/w/files/-/new"))), name="created")
    data.add("data", (io.BytesIO(new), "three.bin"))
    with recording(app_engine(app)) as statements:
        response = post(client, "/w/files/-/new", data)
    assert response.status_code == 302, read(response).html[:2000]
    created = int(response.headers["Location"].rsplit("/", 1)[1])
    assert stored(db_engine, created) == digest(new)
    assert largest_parameter(statements) <= blobs.WRITE_CHUNK


def test_an_empty_file_is_stored_as_empty_bytes(
    app: Flask, db_engine: Engine, read: Callable[[Any], Page]
) -> None:
    response = post_file(app.test_client(), read, "/w/files/2/-/edit", data=(b"", "empty.bin"))
    assert response.status_code == 302, read(response).html[:2000]
    assert stored(db_engine, 2) == digest(b"")


def test_an_unchanged_save_never_writes_the_file(
    app: Flask, db_engine: Engine, read: Callable[[Any], Page]
) -> None:
    content = pattern(2 * MB)
    with db_engine.begin() as connection:
        connection.execute(update(files).where(files.c.id == 1).values(data=content))
    client = app.test_client()
    for path in ("/w/files/1/-/edit", "/w/files/2/-/edit"):  # a value, and NULL
        data = with_values(form_data(read(client.get(path))), name="renamed")
        with recording(app_engine(app)) as statements:
            response = post(client, path, data)
        assert response.status_code == 302, read(response).html[:2000]
        assert updates_of(statements) == []
        assert updates_of(statements, "small") == []
        assert updates_of(statements, "name") != []  # the save did happen
        assert largest_parameter(statements) == 0
        assert bare_selects(statements) == []
    assert stored(db_engine, 1) == digest(content)
    assert stored(db_engine, 2) == (None, None)


def test_a_file_changed_meanwhile_is_a_conflict(
    app: Flask, db_engine: Engine, read: Callable[[Any], Page]
) -> None:
    # Same size, other bytes: only the digest tells them apart.
    content = pattern(MB + 5)
    with db_engine.begin() as connection:
        connection.execute(update(files).where(files.c.id == 1).values(data=content))
    client = app.test_client()
    data = with_values(form_data(read(client.get("/w/files/1/-/edit"))), name="mine")
    theirs = pattern(MB + 5, salt=1)
    with db_engine.begin() as connection:
        connection.execute(update(files).where(files.c.id == 1).values(data=theirs))
    response = post(client, "/w/files/1/-/edit", data)
    assert response.status_code == 409
    assert stored(db_engine, 1) == digest(theirs)
    with db_engine.connect() as connection:
        assert connection.execute(select(files.c.name).where(files.c.id == 1)).scalar() != "mine"


# --- reading -------------------------------------------------------------------------------------


def test_pages_read_sizes_and_digests_never_the_bytes(
    app: Flask, db_engine: Engine, read: Callable[[Any], Page]
) -> None:
    content = pattern(3 * MB)
    with db_engine.begin() as connection:
        connection.execute(update(files).where(files.c.id == 1).values(data=content))
    client = app.test_client()
    for path in ("/w/files/1/-/edit", "/w/files/1/-/delete", "/w/files/1", "/w/files"):
        with recording(app_engine(app)) as statements:
            response = client.get(path)
        assert response.status_code == 200, path
        assert bare_selects(statements) == [], path
        assert bare_selects(statements, "small") == [], path
        assert "3.0 MB" in response.get_data(as_text=True), path
    # Deleting with the page's fingerprint works (the fingerprints agree), still without the
    # bytes.
    page = read(client.get("/w/files/1/-/delete"))
    fingerprint = page.one("input", name="_fingerprint").attrs["value"]
    with recording(app_engine(app)) as statements:
        response = client.post("/w/files/1/-/delete", data={"_fingerprint": fingerprint})
    assert response.status_code == 302
    assert bare_selects(statements) == []
    assert stored(db_engine, 1) == (None, None)


def test_download_streams_the_bytes_in_slices(app: Flask, db_engine: Engine) -> None:
    content = pattern(4 * MB + 3)
    with db_engine.begin() as connection:
        connection.execute(update(files).where(files.c.id == 1).values(data=content))
    client = app.test_client()
    with recording(app_engine(app)) as statements:
        response = client.get("/w/files/1/-/download/data", buffered=False)
        assert response.is_streamed
        assert not isinstance(response.response, (list, tuple, bytes))
        received = b"".join(response.response)
        response.close()
    assert digest(received) == digest(content)
    assert response.headers["Content-Length"] == str(len(content))
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert bare_selects(statements) == []
    slices = [s for s, _ in statements if "substr" in s.lower()]
    # 1 MB each; SQLite's rows are read through its incremental blob I/O instead.
    assert len(slices) == (0 if app_engine(app).dialect.name == "sqlite" else 5)
    # The connection went back to the pool: a NULL and a missing row are 404s.
    assert client.get("/w/files/2/-/download/data").status_code == 404
    assert client.get("/w/files/9/-/download/data").status_code == 404
    assert app_engine(app).pool.checkedout() == 0


# --- limits --------------------------------------------------------------------------------------


def test_a_file_larger_than_max_upload_is_413_and_changes_nothing(
    blob_url: str,
    db_engine: Engine,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    read: Callable[[Any], Page],
) -> None:
    app = _app(blob_url, tmp_path, monkeypatch, MAX_UPLOAD=MB, MAX_FORM_MEMORY=MB)
    try:
        client = app.test_client()
        before = stored(db_engine, 1)
        # Within the request's limit (other fields may send text), over the field's.
        response = post_file(client, read, "/w/files/1/-/edit", data=(pattern(MB + 1), "big"))
        assert response.status_code == 413
        text = response.get_data(as_text=True)
        assert "1.0 MB (1048576 bytes)" in text and "ROWBOAT_MAX_UPLOAD" in text
        assert stored(db_engine, 1) == before
        # A request larger than the whole form can take is refused before it is read.
        huge = pattern(8 * MB)  # the form takes 2 files of 1 MB, 2 fields of 1 MB, 1 MB more
        response = post_file(client, read, "/w/files/1/-/edit", data=(huge, "huge"))
        assert response.status_code == 413
        assert "Nothing was saved" in response.get_data(as_text=True)
        response = post(
            client, "/w/files/-/new", {"name": "x", "data": (io.BytesIO(pattern(MB + 1)), "big")}
        )
        assert response.status_code == 413
        with db_engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(files)).scalar() == 2
        assert stored(db_engine, 1) == before
        # At the limit exactly, it is saved.
        response = post_file(client, read, "/w/files/1/-/edit", data=(pattern(MB), "fits"))
        assert response.status_code == 302
        assert stored(db_engine, 1) == digest(pattern(MB))
    finally:
        for database in databases_of(app).values():
            database.engine.dispose()


def test_the_limit_follows_the_column(
    app: Flask, blob_url: str, db_engine: Engine, read: Callable[[Any], Page]
) -> None:
    content = pattern(100_000)
    response = post_file(app.test_client(), read, "/w/files/1/-/edit", small=(content, "s"))
    if engine_of(blob_url) == "mariadb":  # a BLOB holds 65,535 bytes
        assert response.status_code == 413
        assert "64.0 KB (65535 bytes) a MariaDB BLOB holds" in response.get_data(as_text=True)
        with db_engine.connect() as connection:
            kept = connection.execute(select(files.c.small).where(files.c.id == 1)).scalar()
        assert kept == SEED
    else:
        assert response.status_code == 302
        with db_engine.connect() as connection:
            kept = connection.execute(select(files.c.small).where(files.c.id == 1)).scalar()
        assert kept == content
