"""Helpers for test_signin_*.py (accounts, sessions, tokens): a small data database, an app
with sign-in on and a state database of its own, and a browser-like sign-in.

Each app gets its own state database (STATE_URL), so users never leak from one app to another;
a module-scoped app is shared by its module's tests, which pick user names of their own.
"""

from __future__ import annotations

import html
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from conftest import ENV_TO_CLEAR, dispose_app
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from rowboat import create_app
from rowboat.auth import accounts, passwords

ADMIN_PASSWORD = "admin-password-1"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module", autouse=True)
def cheap_hashing() -> Iterator[None]:
    """argon2 with the smallest cost while these tests run (imported by each module, so it
    applies there): the production parameters take 50 ms to 0.5 s a hash, and these tests
    are about who may do what, not about the hash's cost."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_HASHER", cheap)
        patch.setattr(passwords, "_DUMMY", cheap.hash("not anybody's password"))
        yield


def make_data(path: Path) -> str:
    """A SQLite file with two small tables; returns its URL."""
    connection = sqlite3.connect(path)
    connection.executescript(
        """
        CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, secret TEXT);
        INSERT INTO people VALUES (1, 'ann', 's-ann'), (2, 'bob', 's-bob');
        CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
        INSERT INTO notes VALUES (1, 'hello');
        """
    )
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def state_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'state.sqlite'}"


@contextmanager
def signin_app(folder: Path, data_url: str, **settings: Any) -> Iterator[Flask]:
    """The dashboard with sign-in on, serving ``data_url`` as database ``h``, its state
    database in ``folder`` (unless STATE_URL is given). A setting given as None is left to
    the environment (ADMIN_PASSWORD=None: ROWBOAT_ADMIN_PASSWORD, or a printed one)."""
    overrides: dict[str, Any] = {
        "DATABASES": {"h": {"url": data_url}},
        "DEMO_PATH": str(folder / "demo.sqlite"),
        "AUTH": True,
        "STATE_URL": state_url(folder),
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    overrides.update(settings)
    overrides = {key: value for key, value in overrides.items() if value is not None}
    with pytest.MonkeyPatch.context() as patch:
        for variable in ENV_TO_CLEAR:
            patch.delenv(variable, raising=False)
        application = create_app(overrides)
    application.config["TESTING"] = True
    try:
        yield application
    finally:
        dispose_app(application)


def engine(app: Flask) -> Any:
    return app.extensions["rowboat.state"]


def forget(app: Flask) -> None:
    """After a change made straight in the state database: no cached answer hides it."""
    app.extensions["rowboat.directory"].forget()


def add_user(
    app: Flask, name: str, role: str = "viewer", password: str | None = None, **grants: str
) -> str:
    """A user made directly (no request); ``grants``: database -> level. Returns the password."""
    made = accounts.create_user(engine(app), name, role, password or f"{name}-password")
    for database, level in grants.items():
        accounts.grant(engine(app), name, database, level)
    forget(app)
    return made


def csrf_token(client: FlaskClient, path: str = "/-/login") -> str:
    found = _CSRF.search(client.get(path).get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(
    client: FlaskClient,
    name: str,
    password: str,
    *,
    next: str | None = None,
    address: str | None = None,
    **request: Any,
) -> TestResponse:
    data = {"csrf_token": csrf_token(client), "name": name, "password": password}
    if next is not None:
        data["next"] = next
    if address is not None:
        request["environ_base"] = {**request.get("environ_base", {}), "REMOTE_ADDR": address}
    return client.post("/-/login", data=data, **request)


def signed_in(app: Flask, name: str, password: str | None = None) -> FlaskClient:
    """A new client, signed in as ``name`` (password: the one add_user gives by default)."""
    client = app.test_client()
    response = sign_in(client, name, password or f"{name}-password")
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def post(client: FlaskClient, path: str, data: dict[str, Any], **request: Any) -> TestResponse:
    """POST a form as the page would, with the session's CSRF token."""
    return client.post(path, data={"csrf_token": csrf_token(client), **data}, **request)


def is_signed_in(client: FlaskClient) -> bool:
    """Whether the client's session still opens a signed-in page (the account page)."""
    response = client.get("/-/account")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def session_cookie(response: TestResponse) -> dict[str, str | bool]:
    """The attributes of the response's rowboat_session cookie (flags as True)."""
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith("rowboat_session="):
            parts = [part.strip() for part in header.split(";")]
            found: dict[str, str | bool] = {"value": parts[0].partition("=")[2]}
            for part in parts[1:]:
                key, sep, value = part.partition("=")
                found[key.lower()] = value if sep else True
            return found
    raise AssertionError("no rowboat_session cookie was set")


def expires_in_hours(cookie: dict[str, str | bool], now: float) -> float:
    moment = parsedate_to_datetime(str(cookie["expires"]))
    return (moment.timestamp() - now) / 3600


def problem(response: TestResponse) -> str:
    """The message of an error page or JSON error (whitespace collapsed)."""
    if response.is_json:
        return str(response.json["message"])  # type: ignore[index]
    text = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(text).split())
