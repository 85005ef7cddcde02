"""The first start (the first admin and its password) and what /healthz tells whom."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from signin_accounts_support import (
    add_user,
    cheap_hashing,  # noqa: F401 (autouse)
    engine,
    make_data,
    sign_in,
    signed_in,
    signin_app,
)

from rowboat.auth import accounts
from rowboat.config import ConfigError


@pytest.fixture
def data_url(tmp_path: Path) -> str:
    return make_data(tmp_path / "data.sqlite")


def _printed_password(err: str) -> str:
    found = re.findall(r"password: (\S+)", err)
    assert len(found) == 1, err
    return found[0]


def test_first_start_prints_a_random_admin_password_once(
    tmp_path: Path, data_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with signin_app(tmp_path, data_url, ADMIN_PASSWORD="") as app:
        printed = capsys.readouterr()
        password = _printed_password(printed.err)
        assert "name:     admin" in printed.err and password not in printed.out
        assert len(password) >= 16
        assert [(a.name, a.role) for a in accounts.accounts(engine(app))] == [("admin", "admin")]
        client = app.test_client()
        assert sign_in(client, "admin", password).status_code == 303
        assert client.get("/-/users").status_code == 200
    # A second start on the same state database creates nobody and prints nothing.
    with signin_app(tmp_path, data_url, ADMIN_PASSWORD="") as again:
        printed = capsys.readouterr()
        assert printed.err == "" and printed.out == ""
        assert len(accounts.accounts(engine(again))) == 1
        assert sign_in(again.test_client(), "admin", password).status_code == 303


def test_no_default_password_ever(
    tmp_path: Path, data_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two fresh state databases get two different random passwords; no guessable one works."""
    passwords = []
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        with signin_app(tmp_path / folder, data_url, ADMIN_PASSWORD="") as app:
            passwords.append(_printed_password(capsys.readouterr().err))
            client = app.test_client()
            for guess in ("admin", "password", "rowboat"):
                answer = sign_in(client, "admin", guess)
                assert answer.status_code == 200 and "Wrong name or password" in answer.text
    assert passwords[0] != passwords[1]


def test_admin_password_from_the_environment_is_used_and_not_printed(
    tmp_path: Path, data_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    monkeypatch.setenv("ROWBOAT_ADMIN_PASSWORD", "from-the-environment-1")
    with signin_app(tmp_path, data_url, ADMIN_PASSWORD=None) as app:
        printed = capsys.readouterr()
        assert "ROWBOAT_ADMIN_PASSWORD" in printed.err
        assert "from-the-environment-1" not in printed.err + printed.out
        assert "password:" not in printed.err
        assert sign_in(app.test_client(), "admin", "from-the-environment-1").status_code == 303


def test_a_too_short_admin_password_stops_the_start(
    tmp_path: Path, data_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a silent start without any user (nobody could sign in): the setting is named."""
    with pytest.raises(ConfigError, match="ADMIN_PASSWORD.*at least 8"):
        with signin_app(tmp_path, data_url, ADMIN_PASSWORD="short"):
            pass
    assert "short" not in capsys.readouterr().err


def test_healthz_tells_anonymous_callers_only_ok(tmp_path: Path, data_url: str) -> None:
    with signin_app(tmp_path, data_url) as app:
        anonymous = app.test_client().get("/healthz")
        assert anonymous.status_code == 200 and anonymous.json == {"ok": True}
        add_user(app, "hugo", "viewer")
        answer = signed_in(app, "hugo").get("/healthz")
        assert answer.status_code == 200
        assert answer.json["ok"] is True and set(answer.json["databases"]) == {"h"}
        assert answer.json["databases"]["h"]["status"] == "up"
