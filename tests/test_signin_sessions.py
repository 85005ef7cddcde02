"""Signing in and out, where anonymous callers are sent, and the session cookie's life."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from signin_accounts_support import (
    ADMIN_PASSWORD,
    add_user,
    cheap_hashing,  # noqa: F401 (autouse)
    csrf_token,
    engine,
    expires_in_hours,
    is_signed_in,
    make_data,
    post,
    session_cookie,
    sign_in,
    signed_in,
    signin_app,
)

from rowboat.auth import accounts

SESSION_HOURS = 3.0


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    folder = tmp_path_factory.mktemp("sessions")
    with signin_app(
        folder, make_data(folder / "data.sqlite"), SESSION_HOURS=SESSION_HOURS
    ) as application:
        yield application


@pytest.fixture(scope="module")
def admin(app: Flask) -> object:
    return signed_in(app, "admin", ADMIN_PASSWORD)


# --- one answer for every failed sign-in ------------------------------------------------------


def _normalised(body: str, name: str) -> str:
    body = re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value=""', body)
    return body.replace(f'value="{name}"', 'value="NAME"')


def test_wrong_name_wrong_password_and_disabled_user_answer_alike(app: Flask) -> None:
    add_user(app, "alice", "editor")
    add_user(app, "dora", "editor")
    accounts.set_disabled(engine(app), "dora", True)
    answers = {}
    for name, password in (
        ("nobody-here", "alice-password"),  # no such user
        ("alice", "not-her-password"),  # wrong password
        ("dora", "dora-password"),  # the right password of a disabled user
    ):
        client = app.test_client()
        response = sign_in(client, name, password, address="10.9.0.1")
        answers[name] = (
            response.status_code,
            response.mimetype,
            sorted(k for k, _ in response.headers if k != "Set-Cookie"),
            _normalised(response.get_data(as_text=True), name),
        )
        assert "Wrong name or password." in response.text
        assert not is_signed_in(client)
    first = answers["nobody-here"]
    assert answers["alice"] == first and answers["dora"] == first
    assert first[0] == 200


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example",
        "http:/evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",  # browsers drop the tab: //evil.example
        "/\n/evil.example",  # was a 500 (a newline in the Location header)
        " //evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_next_never_leaves_the_site(app: Flask, target: str) -> None:
    add_user(app, "nina", "viewer") if accounts.account(engine(app), name="nina") is None else None
    response = sign_in(app.test_client(), "nina", "nina-password", next=target)
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_a_page_sends_the_anonymous_caller_to_sign_in_and_back(app: Flask) -> None:
    add_user(app, "otto", "viewer", h="read")
    client = app.test_client()
    response = client.get("/h/people?name__contains=a")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/-/login"
    assert parse_qs(location.query) == {"next": ["/h/people?name__contains=a"]}
    form = client.get(response.headers["Location"]).text
    assert 'name="next" value="/h/people?name__contains=a"' in form
    signed = sign_in(client, "otto", "otto-password", next="/h/people?name__contains=a")
    assert signed.status_code == 303
    assert signed.headers["Location"] == "/h/people?name__contains=a"
    assert client.get(signed.headers["Location"]).status_code == 200


@pytest.mark.parametrize(
    "path", ["/", "/h", "/h/people", "/h/people/1", "/h/-/query", "/h/-/schema", "/-/account"]
)
def test_pages_redirect_anonymous_callers(app: Flask, path: str) -> None:
    response = app.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/-/login?next=")
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize(
    "path",
    [
        "/h/-/query.json?table=people&run=1",
        "/h/-/query/export.csv?table=people",
        "/h/-/export/people.csv",
        "/h/-/export/people.json",
        "/h/people/-/lookup.json?q=a",
        "/h/people/1/-/download/secret",
    ],
)
def test_machine_endpoints_answer_anonymous_callers_401(app: Flask, path: str) -> None:
    response = app.test_client().get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["ok"] is False and "token" in response.json["message"]
    assert "people" not in response.text  # nothing of the data


def test_the_admin_pages_redirect_too_and_are_closed_to_other_users(app: Flask) -> None:
    anonymous = app.test_client()
    assert anonymous.get("/-/users").status_code == 302
    add_user(app, "pia", "editor", h="write")
    client = signed_in(app, "pia")
    assert client.get("/-/users").status_code == 403


# --- signing out ------------------------------------------------------------------------------


def test_sign_out_is_a_post_with_csrf_and_ends_the_session(app: Flask) -> None:
    add_user(app, "quinn", "viewer")
    client = signed_in(app, "quinn")
    assert client.get("/-/logout").status_code in (404, 405)  # a GET signs nobody out
    refused = client.post("/-/logout")  # no CSRF token: another site's form could do this
    assert refused.status_code == 400 and is_signed_in(client)
    done = post(client, "/-/logout", {})
    assert done.status_code == 303 and done.headers["Location"] == "/-/login"
    assert not is_signed_in(client)
    assert client.get("/").status_code == 302


# --- the session cookie -----------------------------------------------------------------------


def test_session_cookie_flags_over_http(app: Flask) -> None:
    add_user(app, "rosa", "viewer")
    now = time.time()
    response = sign_in(app.test_client(), "rosa", "rosa-password")
    cookie = session_cookie(response)
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert "secure" not in cookie
    assert cookie["path"] == "/"
    assert abs(expires_in_hours(cookie, now) - SESSION_HOURS) < 0.05


def test_session_cookie_is_secure_over_https(app: Flask) -> None:
    add_user(app, "sven", "viewer")
    client = app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/-/login",
        data={"csrf_token": token, "name": "sven", "password": "sven-password"},
        base_url="https://localhost",
        # Over HTTPS Flask-WTF also checks that the form came from this site.
        headers={"Referer": "https://localhost/-/login"},
    )
    assert response.status_code == 303
    cookie = session_cookie(response)
    assert cookie["secure"] is True and cookie["httponly"] is True


def test_session_cookie_is_secure_behind_an_https_proxy(tmp_path: Path) -> None:
    with signin_app(tmp_path, make_data(tmp_path / "data.sqlite"), PROXIES=1) as proxied:
        client = proxied.test_client()
        forwarded = {
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.9",
            "Referer": "https://localhost/-/login",
        }
        response = sign_in(client, "admin", ADMIN_PASSWORD, headers=forwarded)
        assert response.status_code == 303
        assert session_cookie(response)["secure"] is True
        plain = sign_in(proxied.test_client(), "admin", ADMIN_PASSWORD)
        assert "secure" not in session_cookie(plain)
    # Without PROXIES the header is not believed.
    with signin_app(tmp_path, make_data(tmp_path / "data2.sqlite")) as direct:
        response = sign_in(direct.test_client(), "admin", ADMIN_PASSWORD, headers=forwarded)
        assert "secure" not in session_cookie(response)


def test_each_request_renews_the_session(app: Flask) -> None:
    add_user(app, "tess", "viewer")
    client = signed_in(app, "tess")
    now = time.time()
    response = client.get("/-/account")
    assert response.status_code == 200
    assert abs(expires_in_hours(session_cookie(response), now) - SESSION_HOURS) < 0.05


# --- sessions end when the account changes ----------------------------------------------------


def test_a_password_change_ends_the_other_sessions_only(app: Flask) -> None:
    add_user(app, "uma", "viewer")
    here, elsewhere = signed_in(app, "uma"), signed_in(app, "uma")
    for wrong, message in (
        ({"current": "not-it-at-all", "new": "uma-new-pass", "again": "uma-new-pass"}, "current"),
        ({"current": "uma-password", "new": "uma-new-pass", "again": "uma-other-1"}, "differ"),
        ({"current": "uma-password", "new": "short", "again": "short"}, "at least 8"),
    ):
        refused = post(here, "/-/account/password", wrong)
        assert refused.status_code == 400 and message in refused.text
    assert is_signed_in(here) and is_signed_in(elsewhere)
    changed = post(
        here,
        "/-/account/password",
        {"current": "uma-password", "new": "uma-new-pass", "again": "uma-new-pass"},
    )
    assert changed.status_code == 303
    assert is_signed_in(here)
    assert not is_signed_in(elsewhere)
    assert sign_in(app.test_client(), "uma", "uma-password").status_code == 200
    assert sign_in(app.test_client(), "uma", "uma-new-pass").status_code == 303


def test_sign_out_everywhere_ends_every_session_and_a_copied_cookie(app: Flask) -> None:
    add_user(app, "zed", "viewer")
    here, elsewhere = signed_in(app, "zed"), signed_in(app, "zed")
    copy = app.test_client()
    cookie = here.get_cookie("rowboat_session")
    assert cookie is not None
    copy.set_cookie("rowboat_session", cookie.value)
    assert is_signed_in(copy)
    ended = post(here, "/-/account/sessions", {})
    assert ended.status_code == 303 and ended.headers["Location"].endswith("/-/login")
    assert not is_signed_in(here)
    assert not is_signed_in(elsewhere)
    assert not is_signed_in(copy)
    assert sign_in(app.test_client(), "zed", "zed-password").status_code == 303


def test_disabling_a_user_ends_their_sessions_at_once(app: Flask, admin: object) -> None:
    add_user(app, "vic", "viewer", h="read")
    client = signed_in(app, "vic")
    assert client.get("/h/people").status_code == 200
    assert post(admin, "/-/users/vic", {"action": "disable"}).status_code == 303  # type: ignore[arg-type]
    assert client.get("/h/people").status_code == 302
    assert not is_signed_in(client)
    # Enabled again: the old session stays ended; a new sign-in works.
    assert post(admin, "/-/users/vic", {"action": "enable"}).status_code == 303  # type: ignore[arg-type]
    assert not is_signed_in(client)
    assert is_signed_in(signed_in(app, "vic"))


def test_removing_a_user_ends_their_sessions_at_once(app: Flask, admin: object) -> None:
    add_user(app, "walt", "editor", h="write")
    client = signed_in(app, "walt")
    assert post(admin, "/-/users/walt", {"action": "remove"}).status_code == 303  # type: ignore[arg-type]
    assert client.get("/h/people").status_code == 302
    assert not is_signed_in(client)


def test_a_removed_users_session_never_becomes_a_new_users(tmp_path: Path) -> None:
    """SQLite gives a new row the id a removed last row had: the old cookie must not name
    the new user (who may well be an admin)."""
    with signin_app(tmp_path, make_data(tmp_path / "data.sqlite")) as fresh:
        add_user(fresh, "xena", "viewer")
        old = signed_in(fresh, "xena")
        removed_id = accounts.account(engine(fresh), name="xena").id  # type: ignore[union-attr]
        accounts.remove_user(engine(fresh), "xena")
        add_user(fresh, "yves", "admin")
        assert accounts.account(engine(fresh), name="yves").id == removed_id  # type: ignore[union-attr]
        fresh.extensions["rowboat.directory"].forget()
        assert old.get("/-/users").status_code == 302
        assert not is_signed_in(old)


def test_a_role_change_reaches_the_running_session(app: Flask, admin: object) -> None:
    add_user(app, "zoe", "viewer", h="write")  # a viewer reads at most, whatever the grant
    client = signed_in(app, "zoe")
    assert client.get("/h/people/1/-/edit").status_code == 403
    assert post(admin, "/-/users/zoe", {"action": "role", "role": "editor"}).status_code == 303  # type: ignore[arg-type]
    assert client.get("/h/people/1/-/edit").status_code == 200
    assert client.get("/-/users").status_code == 403
    assert post(admin, "/-/users/zoe", {"action": "role", "role": "admin"}).status_code == 303  # type: ignore[arg-type]
    assert client.get("/-/users").status_code == 200
    assert post(admin, "/-/users/zoe", {"action": "role", "role": "viewer"}).status_code == 303  # type: ignore[arg-type]
    assert client.get("/h/people/1/-/edit").status_code == 403
    assert client.get("/h/people").status_code == 200
