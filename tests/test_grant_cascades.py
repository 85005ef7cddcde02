"""A delete that the database would cascade into tables the caller may not change is refused,
before anything is deleted; with write on every table it reaches, it goes through."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import dashboard_for, database_with
from sqlalchemy import create_engine, text

from rowboat.auth import accounts, tokens

SCHEMA = [
    "CREATE TABLE parent (id INTEGER PRIMARY KEY, name VARCHAR(20))",
    "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER "
    "REFERENCES parent(id) ON DELETE CASCADE, note VARCHAR(20))",
    "INSERT INTO parent VALUES (1, 'one'), (2, 'two')",
    "INSERT INTO child VALUES (10, 1, 'a'), (11, 1, 'b')",
]


def _create(engine: Any) -> None:
    with engine.begin() as connection:
        for statement in SCHEMA:
            connection.execute(text(statement))


@pytest.fixture()
def setup(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, str, str]]:
    monkeypatch.setenv("ROWBOAT_STATE_URL", f"sqlite:///{tmp_path / 'state.sqlite'}")
    with (
        database_with("sqlite", "cascades", tmp_path_factory, _create) as url,
        dashboard_for(
            url, tmp_path, monkeypatch, name="c", AUTH=True, ADMIN_PASSWORD="x" * 12
        ) as app,
    ):
        state = app.extensions["rowboat.state"]
        accounts.create_user(state, "ed", "editor", "password-ed")
        accounts.grant(state, "ed", "c", "write", table="parent")
        ed = accounts.account(state, name="ed")
        assert ed is not None
        token = tokens.create(state, ed.id, "script", read_only=False, expires_at=None)
        yield app, url, token


def _rows(url: str, table: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def test_a_cascade_into_a_table_not_granted_is_refused(setup: tuple[Any, str, str]) -> None:
    app, url, token = setup
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    answer = client.post("/c/parent/1/-/delete", headers=auth)
    assert answer.status_code == 403
    assert "&#39;child&#39;" in answer.text and "may not change" in answer.text
    bulk = client.post("/c/parent/-/delete", data={"_key": ["1"], "_confirm": "1"}, headers=auth)
    assert bulk.status_code == 403
    assert _rows(url, "parent") == 2 and _rows(url, "child") == 2
    # a row nothing refers to is deleted
    assert client.post("/c/parent/2/-/delete", headers=auth).status_code == 302
    assert _rows(url, "parent") == 1


def test_with_write_on_the_cascaded_table_the_delete_goes_through(
    setup: tuple[Any, str, str],
) -> None:
    app, url, token = setup
    accounts.grant(app.extensions["rowboat.state"], "ed", "c", "write", table="child")
    app.extensions["rowboat.directory"].forget()
    answer = app.test_client().post(
        "/c/parent/1/-/delete", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 302
    assert _rows(url, "parent") == 1 and _rows(url, "child") == 0
