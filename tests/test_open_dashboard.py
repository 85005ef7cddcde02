"""With sign-in switched off (ROWBOAT_AUTH=off) every page is open, and there are no users to
manage: accounts made then would hold once sign-in is switched on."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import dashboard_for, database_with
from sqlalchemy import text


def _create(engine: Any) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        connection.execute(text("INSERT INTO t VALUES (1, 'x')"))


def test_the_open_dashboard_has_no_accounts(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with (
        database_with("sqlite", "open", tmp_path_factory, _create) as url,
        dashboard_for(url, tmp_path, monkeypatch, name="o", AUTH=False) as app,
    ):
        client = app.test_client()
        assert client.get("/").status_code == 200
        assert client.get("/o/t/1/-/edit").status_code == 200
        assert client.get("/-/users").status_code == 403
        assert "switched off" in client.get("/-/users").text
        assert client.post("/-/users", data={"name": "eve", "role": "admin"}).status_code in (
            400,
            403,
        )
        assert client.get("/-/account").status_code == 404
        login = client.get("/-/login?next=/o/t")
        assert login.status_code == 302 and login.headers["Location"] == "/o/t"
        assert "Sign out" not in client.get("/o/t").text
