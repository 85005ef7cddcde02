"""The session cookie of a signed-in user: renewed as it ages, not re-signed on every answer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import dispose_app
from flask import Flask

from rowboat import create_app

PASSWORD = "a-fine-admin-password"


@pytest.fixture
def signed_in_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    for name in ("DATABASE_URL", "ROWBOAT_DATABASES", "ROWBOAT_MODELS"):
        monkeypatch.delenv(name, raising=False)
    app = create_app(
        {
            "DEMO_PATH": str(tmp_path / "demo.sqlite"),
            "STATE_URL": f"sqlite:///{tmp_path / 'state.sqlite'}",
            "AUTH": True,
            "ADMIN_PASSWORD": PASSWORD,
        }
    )
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    yield app
    dispose_app(app)


def _sets_cookie(response: object) -> bool:
    return any(h.startswith("rowboat_session=") for h in response.headers.getlist("Set-Cookie"))  # type: ignore[attr-defined]


class _Later(datetime):
    """Two minutes from now: every cookie signed so far is a minute old."""

    @classmethod
    def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
        return datetime.now(tz) + timedelta(minutes=2)  # type: ignore[arg-type]


def test_cookie_renewed_only_once_it_has_aged(
    signed_in_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in_app.test_client()
    signed_in = client.post("/-/login", data={"name": "admin", "password": PASSWORD})
    assert signed_in.status_code == 303 and _sets_cookie(signed_in)
    # The first page puts the sign-out form's CSRF token in the session: a change, sent.
    assert _sets_cookie(client.get("/-/account"))

    fresh = client.get("/-/account")
    assert fresh.status_code == 200
    assert not _sets_cookie(fresh)  # unchanged, and signed a moment ago

    monkeypatch.setattr("rowboat.web.signin.datetime", _Later)
    aged = client.get("/-/account")
    assert aged.status_code == 200
    assert _sets_cookie(aged)  # a minute old: signed again, the lifetime starts again
    monkeypatch.undo()
    assert client.get("/-/account").status_code == 200

    signed_out = client.post("/-/logout")
    assert signed_out.status_code == 303
    assert client.get("/-/account").status_code == 302  # to the sign-in page
