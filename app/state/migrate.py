"""Applying the state database's migrations: ``upgrade``, ``downgrade`` and ``current``.

Each change runs under a lock, so two instances starting together do not race: PostgreSQL
``pg_advisory_lock``, MariaDB/MySQL ``GET_LOCK``, SQLite an exclusive ``flock`` on
``<file>.lock`` beside the database file. The lock is taken on a connection (or file) of its
own and held while Alembic migrates on another; the second instance then finds the database
at head and has nothing to do.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from .models import VERSION_TABLE, Base

MIGRATIONS = Path(__file__).with_name("migrations")
LOCK_NAME = "rowboat_state_migrations"
LOCK_KEY = 0x526F77626F6174  # "Rowboat": pg_advisory_lock takes a bigint
LOCK_TIMEOUT = 120  # seconds an instance waits for another one's migrations

# Alembic's ``context`` and ``op`` are module globals: one migration at a time per process.
_PROCESS_LOCK = threading.Lock()


class StateDatabaseError(RuntimeError):
    """The state database could not be reached or migrated; start-up stops with it."""


def safe_url(target: str | Engine) -> str:
    """The URL without its password, for messages."""
    url = target.url if isinstance(target, Engine) else make_url(target)
    return url.render_as_string(hide_password=True)


# Seconds to reach a state database server: start-up (and every later use) fails with a clear
# message instead of waiting as long as the driver would on a host that does not answer.
CONNECT_TIMEOUT = 10


def state_engine(url: str) -> Engine:
    """An engine on the state database; a SQLite file's folder is created first."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    connect_args: dict[str, object] = {}
    if backend in ("postgresql", "mysql") and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        event.listen(engine, "connect", _write_ahead_log)
    return engine


def _write_ahead_log(dbapi_connection: Any, _record: Any) -> None:
    """A SQLite state database in write-ahead-log mode, each commit still synced (FULL): one
    fsync of the log per commit, where the rollback journal took several and created and
    deleted its file every time (every write commits here twice: the audit log's pending
    entries, then their outcome). The mode is stored in the file; setting it again is a no-op."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
    finally:
        cursor.close()


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configured in code: the scripts in this package, no alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    # env.py is loaded by path, outside the package: it is handed what it needs.
    config.attributes["target_metadata"] = Base.metadata
    config.attributes["version_table"] = VERSION_TABLE
    return config


@cache
def head() -> str | None:
    """The newest revision in the repository."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current(target: str | Engine) -> str | None:
    """The revision the state database is at; None when it has none (empty)."""
    with _engine(target) as engine, engine.connect() as connection:
        return _current(connection)


def upgrade(target: str | Engine, revision: str = "head") -> None:
    """Bring the state database to ``revision`` (the newest by default), under the lock."""
    _run(target, "upgrade", revision)


def downgrade(target: str | Engine, revision: str) -> None:
    """Take the state database back to ``revision`` ("base": no tables), under the lock."""
    _run(target, "downgrade", revision)


def _current(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _run(target: str | Engine, direction: str, revision: str) -> None:
    try:
        with _engine(target) as engine:
            if direction == "upgrade" and revision == "head":
                with engine.connect() as connection:
                    if _current(connection) == head():
                        return  # the usual start: nothing to do, no lock taken
            with _PROCESS_LOCK, _locked(engine), engine.connect() as connection:
                config = alembic_config(connection)
                if direction == "upgrade":
                    command.upgrade(config, revision)
                else:
                    command.downgrade(config, revision)
                connection.commit()
    except Exception as exc:
        raise StateDatabaseError(
            f"the state database {safe_url(target)} could not be migrated ({direction} to "
            f"{revision}): {type(exc).__name__}: {exc}"
        ) from exc


@contextmanager
def _engine(target: str | Engine) -> Iterator[Engine]:
    """The given engine, or one made for the URL and disposed after."""
    if isinstance(target, Engine):
        yield target
        return
    engine = state_engine(target)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _locked(engine: Engine) -> Iterator[None]:
    """Hold the migration lock of the state database ``engine`` points at."""
    backend = engine.url.get_backend_name()
    if backend == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            yield  # a memory database belongs to this process alone
            return
        with open(database + ".lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
        return
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        if backend == "postgresql":
            connection.execute(text(f"SET lock_timeout = '{LOCK_TIMEOUT}s'"))
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
            unlock = "SELECT pg_advisory_unlock(:key)"
        elif backend in ("mysql", "mariadb"):
            got = connection.execute(
                text("SELECT GET_LOCK(:name, :timeout)"),
                {"name": LOCK_NAME, "timeout": LOCK_TIMEOUT},
            ).scalar()
            if got != 1:
                raise TimeoutError(f"another instance held {LOCK_NAME} for {LOCK_TIMEOUT}s")
            unlock = "SELECT RELEASE_LOCK(:name)"
        else:
            raise StateDatabaseError(f"no migration lock for {backend} databases")
        try:
            yield
        finally:
            connection.execute(text(unlock), {"key": LOCK_KEY, "name": LOCK_NAME})
