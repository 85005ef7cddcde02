"""The write tests' own database: every column type the forms convert, every constraint kind
the error translation names, and foreign keys with each ON DELETE rule.

Created once per engine in a dedicated database (``rowboat_edit_test`` on the servers) and
refilled before every test, so each test starts from the rows below. PostgreSQL adds a table
of intervals and arrays, MariaDB one of SET and YEAR. ``form_data`` reads a rendered form the
way a browser would submit it, so tests post exactly what the page offers.

The fixtures here are imported by the ``test_edit_*`` modules; this module has no tests of its
own beyond a check that the schema loads.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from conftest import ENGINES, ENV_TO_CLEAR, Page, browser_submission, engine_of, fresh_database
from flask import Flask
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Engine,
    Enum,
    Float,
    ForeignKey,
    Integer,
    Interval,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
    create_engine,
    delete,
    insert,
    text,
)
from sqlalchemy.dialects import mysql, postgresql
from werkzeug.datastructures import MultiDict

from rowboat import create_app

EDIT_DATABASE = "rowboat_edit_test"

metadata = MetaData()

parent = Table(
    "parent",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(40), nullable=False),
    UniqueConstraint("name", name="uq_parent_name"),
)

tag = Table(
    "tag",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(40), nullable=False),
)

kinds = Table(
    "kinds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("small", SmallInteger, nullable=True),
    Column("big", BigInteger, nullable=True),
    Column("amount", Numeric(10, 3), nullable=True),
    Column("ratio", Float, nullable=True),
    Column("code", String(12), nullable=False, comment="Unique short code"),
    Column("label", String(30), nullable=True),
    Column("body", Text, nullable=True),
    Column("flag", Boolean, nullable=False),
    Column("maybe", Boolean, nullable=True),
    Column("day", Date, nullable=True),
    Column("at_time", Time, nullable=True),
    Column("at", DateTime, nullable=True),
    Column("at_tz", DateTime(timezone=True), nullable=True),
    Column("mood", Enum("happy", "sad", "meh", name="mood_enum"), nullable=True),
    Column("doc", JSON, nullable=True),
    Column("uid", Uuid, nullable=True),
    Column("blob", LargeBinary, nullable=True),
    Column("status", String(10), nullable=False, server_default="new"),
    Column("qty", Integer, nullable=False, server_default="0"),
    Column("parent_id", Integer, ForeignKey("parent.id", name="fk_kinds_parent"), nullable=True),
    UniqueConstraint("code", name="uq_kinds_code"),
    CheckConstraint("qty >= 0", name="ck_kinds_qty"),
)

child_cascade = Table(
    "child_cascade",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column(
        "parent_id",
        Integer,
        ForeignKey("parent.id", ondelete="CASCADE", name="fk_cc_parent"),
        nullable=False,
    ),
)

grandchild = Table(
    "grandchild",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column(
        "child_id",
        Integer,
        ForeignKey("child_cascade.id", ondelete="CASCADE", name="fk_gc_child"),
        nullable=False,
    ),
)

child_setnull = Table(
    "child_setnull",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column(
        "parent_id",
        Integer,
        ForeignKey("parent.id", ondelete="SET NULL", name="fk_csn_parent"),
        nullable=True,
    ),
)

child_restrict = Table(
    "child_restrict",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("parent_id", Integer, ForeignKey("parent.id", name="fk_cr_parent"), nullable=True),
)

pair = Table(
    "pair",  # a composite key, one part text
    metadata,
    Column("a", Integer, nullable=False, autoincrement=False),
    Column("b", String(20), nullable=False),
    Column("note", String(40), nullable=True),
    PrimaryKeyConstraint("a", "b", name="pk_pair"),
)

parent_tag = Table(
    "parent_tag",  # a pure link table: many-to-many between parent and tag
    metadata,
    Column("parent_id", Integer, ForeignKey("parent.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", Integer, ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True),
)

loose = Table(
    "loose",  # no primary key: read-only, and says why
    metadata,
    Column("a", Integer, nullable=True),
    Column("b", String(10), nullable=True),
)

PG_ONLY = MetaData()
pg_extras = Table(
    "pg_extras",
    PG_ONLY,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("span", Interval, nullable=True),
    Column("nums", postgresql.ARRAY(Integer), nullable=True),
    Column("words", postgresql.ARRAY(Text), nullable=True),
    Column("uid", postgresql.UUID(as_uuid=True), nullable=True),
    Column("doc", postgresql.JSONB, nullable=True),
)

MY_ONLY = MetaData()
my_extras = Table(
    "my_extras",
    MY_ONLY,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("flags", mysql.SET("red", "green", "blue"), nullable=True),
    Column("yr", mysql.YEAR, nullable=True),
)

PARENTS = [{"id": 1, "name": "alpha"}, {"id": 2, "name": "beta"}, {"id": 3, "name": "gamma"}]
TAGS = [{"id": 1, "name": "red"}, {"id": 2, "name": "green"}, {"id": 3, "name": "blue"}]
KINDS = [
    {
        "id": 1,
        "small": 7,
        "big": 9_000_000_000,
        "amount": Decimal("12.345"),
        "ratio": 0.5,
        "code": "k1",
        "label": "first",
        "body": "Some long text",
        "flag": True,
        "maybe": None,
        "day": dt.date(2024, 2, 29),
        "at_time": dt.time(13, 45, 10),
        "at": dt.datetime(2024, 1, 2, 3, 4, 5),
        "at_tz": None,
        "mood": "happy",
        "doc": {"a": 1},
        "uid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "blob": b"\x00\x01binary",
        "status": "old",
        "qty": 3,
        "parent_id": 3,
    },
    {
        "id": 2,
        "small": None,
        "big": None,
        "amount": None,
        "ratio": None,
        "code": "k2",
        "label": None,
        "body": None,
        "flag": False,
        "maybe": True,
        "day": None,
        "at_time": None,
        "at": None,
        "at_tz": None,
        "mood": None,
        "doc": None,
        "uid": None,
        "blob": None,
        "status": "new",
        "qty": 0,
        "parent_id": None,
    },
]
CHILD_CASCADE = [{"id": 1, "parent_id": 1}, {"id": 2, "parent_id": 1}, {"id": 3, "parent_id": 3}]
GRANDCHILD = [{"id": 1, "child_id": 1}, {"id": 2, "child_id": 1}, {"id": 3, "child_id": 2}]
CHILD_SETNULL = [{"id": 1, "parent_id": 1}, {"id": 2, "parent_id": 3}]
CHILD_RESTRICT = [{"id": 1, "parent_id": 2}]
PAIRS = [
    {"a": 1, "b": "a", "note": "one a"},
    {"a": 1, "b": "b", "note": "one b"},
    {"a": 2, "b": "x,y", "note": None},
]
PARENT_TAGS = [{"parent_id": 1, "tag_id": 1}, {"parent_id": 1, "tag_id": 2}]

ROWS: dict[str, list[dict[str, Any]]] = {
    "parent": PARENTS,
    "tag": TAGS,
    "kinds": KINDS,
    "child_cascade": CHILD_CASCADE,
    "grandchild": GRANDCHILD,
    "child_setnull": CHILD_SETNULL,
    "child_restrict": CHILD_RESTRICT,
    "pair": PAIRS,
    "parent_tag": PARENT_TAGS,
    "loose": [{"a": 1, "b": "x"}],
    "pg_extras": [{"id": 1, "span": dt.timedelta(days=1, hours=2), "nums": [1, 2], "words": ["x"]}],
    "my_extras": [{"id": 1, "flags": {"red"}, "yr": 1999}],
}


def extra_metadata(engine_name: str) -> MetaData | None:
    return {"postgresql": PG_ONLY, "mariadb": MY_ONLY}.get(engine_name)


@pytest.fixture(scope="session", params=ENGINES)
def edit_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database holding the write tests' schema, once per engine."""
    with fresh_database(request.param, EDIT_DATABASE, tmp_path_factory) as url:
        engine = create_engine(url)
        try:
            metadata.create_all(engine)
            extra = extra_metadata(request.param)
            if extra is not None:
                extra.create_all(engine)
        finally:
            engine.dispose()
        yield url


def refill(url: str) -> None:
    """Put back exactly the rows above (and restart PostgreSQL's sequences after them)."""
    engine_name = engine_of(url)
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            tables = list(metadata.sorted_tables)
            extra = extra_metadata(engine_name)
            if extra is not None:
                tables += list(extra.sorted_tables)
            for table in reversed(tables):
                connection.execute(delete(table))
            for table in tables:
                connection.execute(insert(table), ROWS[table.name])
            if engine_name == "postgresql":
                for name in ("parent", "kinds"):
                    connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"(SELECT max(id) FROM {name}))"
                        )
                    )
    finally:
        engine.dispose()


def make_edit_app(url: str, tmp_path: Any, **settings: Any) -> Flask:
    app = create_app(
        {
            "DATABASES": {"w": {"url": url, "read_only": settings.pop("read_only", False)}},
            "DEMO_PATH": str(tmp_path / "demo.sqlite"),
            **settings,
        }
    )
    app.config["TESTING"] = True
    app.config["WTF_CSRF_ENABLED"] = False
    return app


@pytest.fixture
def edit_app(edit_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The dashboard on the write database, refilled, with CSRF checks off (one test turns
    them on)."""
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    refill(edit_url)
    app = make_edit_app(edit_url, tmp_path)
    yield app
    for database in app.extensions["rowboat.databases"].values():
        database.engine.dispose()


@pytest.fixture
def wclient(edit_app: Flask) -> Any:
    return edit_app.test_client()


@pytest.fixture
def db_engine(edit_url: str) -> Iterator[Engine]:
    """A separate engine for reading back what was written: not the app's own connections."""
    engine = create_engine(edit_url)
    yield engine
    engine.dispose()


def fetch(engine: Engine, table: Table, **where: Any) -> dict[str, Any] | None:
    stmt = table.select()
    for key, value in where.items():
        stmt = stmt.where(table.c[key] == value)
    with engine.connect() as connection:
        row = connection.execute(stmt).first()
    return dict(row._mapping) if row is not None else None


def count(engine: Engine, table: Table) -> int:
    with engine.connect() as connection:
        return len(connection.execute(table.select()).all())


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for "nothing else changed" checks."""
    result = {}
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            # Raw values: what the database holds, whatever the declared types would make of it.
            rows = connection.exec_driver_sql(f"SELECT * FROM {quote(table.name)}").all()
            result[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return result


def form_data(page: Page, form_class: str = "row-form") -> MultiDict[str, Any]:
    """What a browser would submit for the form: inputs, ticked boxes, chosen options."""
    return browser_submission(page, form_class, files=False)


def with_values(data: MultiDict[str, Any], **values: Any) -> MultiDict[str, Any]:
    """Copy form data, replacing fields (None removes a field)."""
    result: MultiDict[str, Any] = MultiDict(data)
    for key, value in values.items():
        result.poplist(key)
        if value is not None:
            result.add(key, value)
    return result


def test_schema_is_loaded(edit_url: str) -> None:
    refill(edit_url)
    engine = create_engine(edit_url)
    try:
        assert count(engine, kinds) == len(KINDS)
    finally:
        engine.dispose()
