"""The state database: its migrations from empty to head and back, on every engine; the
migrated schema equals the models; two instances migrating at once; the app and the CLI."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import ENGINES, fresh_database
from sqlalchemy import create_engine, inspect, text

from rowboat import create_app
from rowboat.state import migrate
from rowboat.state.models import VERSION_TABLE, Base

TABLES = {"users", "grants", "api_tokens", "hidden_columns", "settings", "audit_entries"}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=ENGINES)
def state_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with fresh_database(request.param, "rowboat_state_test", tmp_path_factory) as url:
        yield url


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _differences(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_from_empty_and_downgrade_to_empty(state_url: str) -> None:
    assert migrate.current(state_url) is None
    migrate.upgrade(state_url)
    assert migrate.current(state_url) == migrate.head() == "0003"
    assert _tables(state_url) == TABLES | {VERSION_TABLE}
    migrate.upgrade(state_url)  # at head already: nothing to do
    migrate.downgrade(state_url, "base")
    assert migrate.current(state_url) is None
    assert _tables(state_url) <= {VERSION_TABLE}
    migrate.upgrade(state_url, "0001")  # one step at a time: 0002 alters 0001's users table
    assert migrate.current(state_url) == "0001"
    migrate.upgrade(state_url)
    migrate.downgrade(state_url, "0001")
    assert "hidden_columns" not in _tables(state_url)
    migrate.upgrade(state_url)
    assert migrate.current(state_url) == "0003"


def test_migrated_schema_equals_the_models(state_url: str) -> None:
    migrate.upgrade(state_url)
    assert _differences(state_url) == []


def test_the_models_work_on_the_migrated_schema(state_url: str) -> None:
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.orm import Session

    from rowboat.state.models import ApiToken, Grant, User

    migrate.upgrade(state_url)
    engine = create_engine(state_url)
    try:
        with Session(engine) as session:
            user = User(name="ada", role="admin")
            session.add(user)
            session.flush()
            session.add(Grant(user_id=user.id, database="demo", level="read"))
            session.add(ApiToken(user_id=user.id, name="ci", token_hash="x" * 64))
            session.commit()
            assert session.get(User, user.id) is not None
        with Session(engine) as session:
            session.add(User(name="bob", role="superuser"))
            with pytest.raises(DBAPIError):  # MariaDB: OperationalError 4025
                session.commit()
    finally:
        engine.dispose()


_RACER = """
import sys
from rowboat.state import migrate
migrate.upgrade(sys.argv[1])
print(migrate.current(sys.argv[1]))
"""


@pytest.mark.parametrize("engine", ["sqlite", "postgresql", "mariadb"])
def test_two_instances_migrating_at_once(
    engine: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two processes starting together both succeed; the version table has one row."""
    with fresh_database(engine, "rowboat_state_test", tmp_path_factory) as url:
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", _RACER, url],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        for racer in racers:
            out, err = racer.communicate(timeout=120)
            assert racer.returncode == 0, err
            assert out.strip() == "0003"
        db = create_engine(url)
        try:
            with db.connect() as connection:
                rows = connection.execute(text(f"SELECT * FROM {VERSION_TABLE}")).all()
        finally:
            db.dispose()
        assert [tuple(r) for r in rows] == [("0003",)]
        assert _tables(url) == TABLES | {VERSION_TABLE}


def test_create_app_migrates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'deeper' / 'state.sqlite'}"  # the folder is made
    app = create_app({"STATE_URL": url, "DEMO_PATH": str(tmp_path / "demo.sqlite")})
    try:
        assert migrate.current(url) == migrate.head()
        engine = app.extensions["rowboat.state"]
        assert str(engine.url) == url
        assert set(inspect(engine).get_table_names()) >= TABLES
        result = app.test_cli_runner().invoke(args=["state", "current"])
        assert result.exit_code == 0, result.output
        assert result.output.startswith(migrate.head() or "-")
        result = app.test_cli_runner().invoke(args=["state", "downgrade", "base"])
        assert result.exit_code == 0, result.output
        assert migrate.current(url) is None
        result = app.test_cli_runner().invoke(args=["state", "upgrade"])
        assert result.exit_code == 0, result.output
        assert migrate.current(url) == migrate.head()
    finally:
        for database in app.extensions["rowboat.databases"].values():
            database.engine.dispose()
        app.extensions["rowboat.state"].dispose()


def test_a_state_database_that_cannot_be_migrated_stops_start_up(tmp_path: Path) -> None:
    url = "postgresql+psycopg2://rowboat:s3cret@127.0.0.1:1/nowhere?connect_timeout=2"
    with pytest.raises(migrate.StateDatabaseError) as caught:
        create_app({"STATE_URL": url, "DEMO_PATH": str(tmp_path / "demo.sqlite")})
    message = str(caught.value)
    assert "postgresql+psycopg2://rowboat:***@127.0.0.1:1/nowhere" in message
    assert "s3cret" not in message


def test_the_default_state_database_is_in_the_instance_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unset, STATE_URL is instance/state.sqlite in the checkout (not created here)."""
    monkeypatch.delenv("ROWBOAT_STATE_URL")
    made: list[str] = []
    monkeypatch.setattr(migrate, "upgrade", lambda engine: made.append(str(engine.url)))
    # A given SECRET_KEY and sign-in off: nothing reads the (unmigrated) state database.
    app = create_app({"DEMO_PATH": str(tmp_path / "demo.sqlite"), "SECRET_KEY": "k", "AUTH": False})
    try:
        assert app.config["STATE_URL"] == f"sqlite:///{ROOT / 'instance' / 'state.sqlite'}"
        assert made == [app.config["STATE_URL"]]
    finally:
        for database in app.extensions["rowboat.databases"].values():
            database.engine.dispose()
        app.extensions["rowboat.state"].dispose()
