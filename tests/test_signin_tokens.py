"""API tokens (Authorization: Bearer) and the trusted proxy header."""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Page, browser_submission
from flask import Flask
from flask.testing import FlaskClient
from signin_accounts_support import (
    add_user,
    cheap_hashing,  # noqa: F401 (autouse)
    engine,
    forget,
    make_data,
    post,
    session_cookie,
    signed_in,
    signin_app,
)
from sqlalchemy import select, update

from rowboat.auth import accounts, tokens
from rowboat.state.models import ApiToken


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tokens")


@pytest.fixture(scope="module")
def app(folder: Path) -> Iterator[Flask]:
    with signin_app(folder, make_data(folder / "data.sqlite")) as application:
        yield application


def _data(folder: Path, sql: str) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(folder / "data.sqlite")
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def _make_token(client: FlaskClient, name: str, read_only: bool, expires: str = "90") -> str:
    form = {"name": name, "expires": expires}
    if read_only:
        form["read_only"] = "on"
    response = post(client, "/-/account/tokens", form)
    assert response.status_code == 201, response.text
    found = re.search(r'<code class="token" id="new-token">(rb_[^<]+)</code>', response.text)
    assert found
    return found.group(1)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _edit_data(client: FlaskClient, headers: dict[str, str], **values: str) -> Any:
    """The edit form of people/1 as a browser would post it, with new values, no CSRF."""
    page = client.get("/h/people/1/-/edit", headers=headers)
    assert page.status_code == 200
    data = browser_submission(Page(page.text), files=False)
    data.pop("csrf_token", None)
    for key, value in values.items():
        data[key] = value
    return data


@pytest.fixture(scope="module")
def editor(app: Flask) -> FlaskClient:
    add_user(app, "ivy", "editor", h="write")
    return signed_in(app, "ivy")


def test_a_new_token_is_shown_once_and_never_kept_in_plain(
    app: Flask, editor: FlaskClient, folder: Path
) -> None:
    response = post(editor, "/-/account/tokens", {"name": "nightly export", "expires": "30"})
    assert response.status_code == 201
    token = re.search(r"(rb_[A-Za-z0-9_-]{40,})", response.text).group(1)  # type: ignore[union-attr]
    for header in response.headers.getlist("Set-Cookie"):
        assert token not in header
    cookie = str(session_cookie(response)["value"]) if response.headers.get("Set-Cookie") else ""
    if cookie:
        loaded = app.session_interface.get_signing_serializer(app).loads(cookie)  # type: ignore[attr-defined]
        assert token not in repr(loaded)
    page = editor.get("/-/account")
    assert page.status_code == 200 and "nightly export" in page.text and token not in page.text
    # The state database keeps its SHA-256 only.
    state = (folder / "state.sqlite").read_bytes()
    assert token.encode() not in state and token[3:].encode() not in state
    with engine(app).connect() as connection:
        hashes = connection.execute(select(ApiToken.token_hash)).scalars().all()
    assert tokens.digest(token) in hashes


def test_a_valid_token_reads_pages_and_json(app: Flask, editor: FlaskClient) -> None:
    token = _make_token(editor, "reader", read_only=True)
    client = app.test_client()  # no cookie at all
    page = client.get("/h/people", headers=_bearer(token))
    assert page.status_code == 200 and "ann" in page.text
    data = client.get("/h/-/query.json?table=people&run=1", headers=_bearer(token))
    assert data.status_code == 200 and data.json["columns"][:2] == ["id", "name"]
    assert [1, "ann"] == data.json["rows"][0][:2]
    export = client.get("/h/-/export/people.csv", headers=_bearer(token))
    assert export.status_code == 200 and "bob" in export.text
    assert "Set-Cookie" not in page.headers or "rowboat_session" not in page.headers["Set-Cookie"]


def test_the_last_use_is_recorded(app: Flask, editor: FlaskClient) -> None:
    token = _make_token(editor, "used", read_only=True)

    def last_used() -> datetime | None:
        with engine(app).connect() as connection:
            return connection.execute(
                select(ApiToken.last_used_at).where(ApiToken.token_hash == tokens.digest(token))
            ).scalar()

    assert last_used() is None
    assert app.test_client().get("/h/people", headers=_bearer(token)).status_code == 200
    used = last_used()
    assert used is not None
    assert abs(used.replace(tzinfo=UTC) - datetime.now(UTC)) < timedelta(minutes=1)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer rb_" + "A" * 43,  # unknown
        "Bearer not-a-token",
        "Bearer ",
        "Bearer",
        "bearer rb_",
        "Bearer rb_" + "x" * 400,
        "Bearer rb_\u00e9\u00e9",
    ],
)
@pytest.mark.parametrize("path", ["/h/people", "/h/-/query.json?table=people", "/", "/-/users"])
def test_unknown_and_malformed_tokens_get_401_never_a_redirect(
    app: Flask, header: str, path: str
) -> None:
    response = app.test_client().get(path, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["ok"] is False


def test_a_bad_token_is_not_rescued_by_a_session_cookie(app: Flask, editor: FlaskClient) -> None:
    assert editor.get("/h/people").status_code == 200
    response = editor.get("/h/people", headers=_bearer("rb_" + "B" * 43))
    assert response.status_code == 401


def test_expired_and_revoked_tokens_get_401(app: Flask, editor: FlaskClient) -> None:
    expiring = _make_token(editor, "expiring", read_only=True, expires="7")
    revoked = _make_token(editor, "to revoke", read_only=True)
    client = app.test_client()
    for token in (expiring, revoked):
        assert client.get("/h/people", headers=_bearer(token)).status_code == 200
    with engine(app).begin() as connection:
        connection.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == tokens.digest(expiring))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    forget(app)
    with engine(app).connect() as connection:
        number = connection.execute(
            select(ApiToken.id).where(ApiToken.token_hash == tokens.digest(revoked))
        ).scalar()
    assert post(editor, f"/-/account/tokens/{number}/revoke", {}).status_code == 303
    for token in (expiring, revoked):
        for path in ("/h/people", "/h/-/query.json?table=people"):
            response = client.get(path, headers=_bearer(token))
            assert response.status_code == 401, (token, path)
            assert "Location" not in response.headers
    states = {t.name: t.state for t in tokens.tokens_of(engine(app), _id(app, "ivy"))}
    assert states["expiring"] == "expired" and states["to revoke"] == "revoked"
    # Revoking again, or someone else's token: nothing to revoke.
    assert post(editor, f"/-/account/tokens/{number}/revoke", {}).status_code == 404


def _id(app: Flask, name: str) -> int:
    found = accounts.account(engine(app), name=name)
    assert found is not None
    return found.id


def test_a_read_only_token_cannot_write(app: Flask, editor: FlaskClient, folder: Path) -> None:
    token = _make_token(editor, "read only", read_only=True)
    client = app.test_client()
    before = _data(folder, "SELECT * FROM people ORDER BY id")
    data = _edit_data(editor, {}, name="changed by a reader")  # the form, as its editor sees it
    attempts = [
        ("/h/people/1/-/edit", data),
        ("/h/people/-/new", {"id": "9", "name": "new"}),
        ("/h/people/1/-/delete", {}),
        ("/h/people/-/delete", {"key": "1"}),
    ]
    for path, form in attempts:
        response = client.post(path, data=form, headers=_bearer(token))
        assert response.status_code == 403, (path, response.status_code)
    assert _data(folder, "SELECT * FROM people ORDER BY id") == before


def test_a_write_token_edits_without_csrf(app: Flask, editor: FlaskClient, folder: Path) -> None:
    token = _make_token(editor, "writer", read_only=False)
    client = app.test_client()
    data = _edit_data(client, _bearer(token), name="edited by token")
    response = client.post(
        "/h/people/1/-/edit",
        data=data,
        headers=_bearer(token),
        content_type="multipart/form-data",
    )
    assert response.status_code in (302, 303), response.text
    assert _data(folder, "SELECT name FROM people WHERE id = 1") == [("edited by token",)]
    # The same post from the session, without its CSRF token, is refused.
    data = _edit_data(editor, {}, name="edited by a forged form")
    refused = editor.post("/h/people/1/-/edit", data=data, content_type="multipart/form-data")
    assert refused.status_code == 400
    assert _data(folder, "SELECT name FROM people WHERE id = 1") == [("edited by token",)]


def test_a_token_cannot_change_its_account(app: Flask, editor: FlaskClient) -> None:
    token = _make_token(editor, "no account changes", read_only=False)
    client = app.test_client()
    headers = _bearer(token)
    changes = [
        (
            "/-/account/password",
            {"current": "ivy-password", "new": "taken-over", "again": "taken-over"},
        ),
        ("/-/account/tokens", {"name": "another", "expires": ""}),
        ("/-/account/tokens/1/revoke", {}),
    ]
    for path, form in changes:
        response = client.post(path, data=form, headers=headers)
        assert response.status_code == 403, path
        assert "API token cannot change its account" in response.text
    assert signed_in(app, "ivy")  # the password is unchanged
    assert len(tokens.tokens_of(engine(app), _id(app, "ivy"))) >= 1


def test_a_viewers_token_is_always_read_only(app: Flask, editor: FlaskClient, folder: Path) -> None:
    add_user(app, "jon", "viewer", h="write")
    viewer = signed_in(app, "jon")
    token = _make_token(viewer, "asked for write", read_only=False)
    (made,) = tokens.tokens_of(engine(app), _id(app, "jon"))
    assert made.read_only
    accounts.set_role(engine(app), "jon", "editor")  # promoted later: the token stays read-only
    forget(app)
    client = app.test_client()
    data = _edit_data(editor, {}, name="written by a viewer's token")
    response = client.post("/h/people/1/-/edit", data=data, headers=_bearer(token))
    assert response.status_code == 403
    assert _data(folder, "SELECT name FROM people WHERE id = 1") != [
        ("written by a viewer's token",)
    ]


def test_tokens_of_disabled_or_removed_users_stop_working(app: Flask) -> None:
    for name in ("kim", "lou"):
        add_user(app, name, "editor", h="read")
    kims = _make_token(signed_in(app, "kim"), "kim's", read_only=True)
    lous = _make_token(signed_in(app, "lou"), "lou's", read_only=True)
    client = app.test_client()
    assert client.get("/h/people", headers=_bearer(kims)).status_code == 200
    assert client.get("/h/people", headers=_bearer(lous)).status_code == 200
    admin = signed_in(app, "admin", "admin-password-1")
    assert post(admin, "/-/users/kim", {"action": "disable"}).status_code == 303
    assert post(admin, "/-/users/lou", {"action": "remove"}).status_code == 303
    assert client.get("/h/people", headers=_bearer(kims)).status_code == 401
    assert client.get("/h/people", headers=_bearer(lous)).status_code == 401


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "x", "expires": "5"}, "Choose an expiry"),
        ({"name": "", "expires": "30"}, "1 to 100 characters"),
        ({"name": "x" * 101, "expires": "30"}, "1 to 100 characters"),
    ],
)
def test_bad_token_forms_are_refused(
    app: Flask, editor: FlaskClient, form: dict[str, str], message: str
) -> None:
    count = len(tokens.tokens_of(engine(app), _id(app, "ivy")))
    response = post(editor, "/-/account/tokens", form)
    assert response.status_code == 400 and message in response.text
    assert len(tokens.tokens_of(engine(app), _id(app, "ivy"))) == count


# --- the trusted proxy header -----------------------------------------------------------------


def test_the_proxy_header_signs_in_and_creates_the_user(tmp_path: Path) -> None:
    data = make_data(tmp_path / "data.sqlite")
    with signin_app(tmp_path, data, AUTH_HEADER="X-Forwarded-User") as app:
        name = f"sso-{secrets.token_hex(3)}"
        header = {"X-Forwarded-User": name}
        client = app.test_client()
        home = client.get("/", headers=header)
        assert home.status_code == 200
        made = accounts.account(engine(app), name=name)
        assert made is not None and made.role == "viewer" and made.grants == ()
        assert "/h" not in {a.attrs.get("href") for a in Page(home.text).find_all("a")}
        assert client.get("/h/people", headers=header).status_code in (403, 404)
        assert app.test_client().get(
            "/h/-/query.json?table=people", headers=header
        ).status_code in (403, 404)
        accounts.grant(engine(app), name, "h", "read")
        forget(app)
        assert app.test_client().get("/h/people", headers=header).status_code == 200
        # A name the accounts would refuse signs nobody in.
        refused = app.test_client().get("/", headers={"X-Forwarded-User": "two words"})
        assert refused.status_code == 302
    with signin_app(
        tmp_path, data, AUTH_HEADER="X-Forwarded-User", AUTH_DEFAULT_ROLE="editor"
    ) as app:
        assert (
            app.test_client().get("/", headers={"X-Forwarded-User": "eve-sso"}).status_code == 200
        )
        made = accounts.account(engine(app), name="eve-sso")
        assert made is not None and made.role == "editor"


def test_without_the_setting_the_proxy_header_is_ignored(app: Flask) -> None:
    client = app.test_client()
    for path in ("/", "/h/people"):
        response = client.get(path, headers={"X-Forwarded-User": "admin"})
        assert response.status_code == 302 and response.headers["Location"].startswith("/-/login")
    assert client.get("/h/-/query.json", headers={"X-Forwarded-User": "admin"}).status_code == 401
    assert accounts.account(engine(app), name="X-Forwarded-User") is None
