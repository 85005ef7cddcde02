"""Managing users: ``flask users …`` and the admin pages (/-/users, /-/users/<name>, /-/hidden)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from signin_accounts_support import (
    ADMIN_PASSWORD,
    add_user,
    cheap_hashing,  # noqa: F401 (autouse)
    engine,
    make_data,
    post,
    problem,
    sign_in,
    signed_in,
    signin_app,
)

from rowboat.auth import accounts, directory


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    folder = tmp_path_factory.mktemp("admin")
    with signin_app(folder, make_data(folder / "data.sqlite")) as application:
        yield application


@pytest.fixture(scope="module")
def admin(app: Flask) -> FlaskClient:
    return signed_in(app, "admin", ADMIN_PASSWORD)


def _state(app: Flask) -> tuple[Any, ...]:
    """Everything the admin pages and the commands can change."""
    return (tuple(accounts.accounts(engine(app))), tuple(accounts.hidden_rows(engine(app))))


# --- the command line -------------------------------------------------------------------------


def _cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["users", *args])


def _ok(app: Flask, *args: str) -> str:
    result = _cli(app, *args)
    assert result.exit_code == 0, result.output
    return str(result.output)


def _refused(app: Flask, *args: str, code: int = 1) -> str:
    before = _state(app)
    result = _cli(app, *args)
    assert result.exit_code == code, result.output
    assert _state(app) == before
    return str(result.output)


def _another_process_sees_it() -> None:
    """The command runs in a process of its own: the dashboard's processes see its change
    within the directory's time to live."""
    time.sleep(directory.TTL + 0.05)


def _listed(app: Flask) -> dict[str, str]:
    return {line.split("\t")[0]: line for line in _ok(app, "list").splitlines()}


def test_cli_add_passwd_and_list(app: Flask) -> None:
    out = _ok(app, "add", "cli-ann", "--role", "editor")
    assert "Added cli-ann (editor)." in out
    password = re.search(r"Password \(shown once\): (\S+)", out).group(1)  # type: ignore[union-attr]
    assert sign_in(app.test_client(), "cli-ann", password).status_code == 303
    out = _ok(app, "add", "cli-bob", "--password", "bob-chosen-1")
    assert "Added cli-bob (viewer)." in out and "Password" not in out
    assert sign_in(app.test_client(), "cli-bob", "bob-chosen-1").status_code == 303
    assert _listed(app)["cli-ann"] == "cli-ann\teditor\tno grants"
    assert _listed(app)["admin"] == "admin\tadmin\teverything"

    assert "their sessions have ended" in _ok(
        app, "passwd", "cli-bob", "--password", "bob-new-pass"
    )
    assert sign_in(app.test_client(), "cli-bob", "bob-new-pass").status_code == 303
    out = _ok(app, "passwd", "cli-bob", "--random")
    fresh = re.search(r"Password \(shown once\): (\S+)", out).group(1)  # type: ignore[union-attr]
    assert sign_in(app.test_client(), "cli-bob", fresh).status_code == 303
    prompted = app.test_cli_runner().invoke(
        args=["users", "passwd", "cli-bob"], input="typed-twice-1\ntyped-twice-1\n"
    )
    assert prompted.exit_code == 0, prompted.output
    assert sign_in(app.test_client(), "cli-bob", "typed-twice-1").status_code == 303


def test_cli_refusals_exit_1_with_the_reason(app: Flask) -> None:
    _ok(app, "add", "cli-cy", "--password", "cy-password")
    assert "exists already" in _refused(app, "add", "cli-cy")
    assert "at least 8" in _refused(app, "add", "cli-dee", "--password", "short")
    assert "is not one" in _refused(app, "add", "two words")
    assert "No user is called 'ghost'" in _refused(app, "passwd", "ghost", "--random")
    assert "at least 8" in _refused(app, "passwd", "cli-cy", "--password", "short")
    for command in (["role", "ghost", "editor"], ["disable", "ghost"], ["enable", "ghost"]):
        assert "No user is called 'ghost'" in _refused(app, *command)
    assert "No user is called 'ghost'" in _refused(app, "remove", "ghost")
    assert "No user is called 'ghost'" in _refused(app, "grant", "ghost", "h")
    assert "No database is called 'nope'" in _refused(app, "grant", "cli-cy", "nope")
    assert "no table or view 'nope'" in _refused(app, "grant", "cli-cy", "h", "nope")
    assert "No database is called 'nope'" in _refused(app, "revoke", "cli-cy", "nope")
    assert "no grant" in _refused(app, "revoke", "cli-cy", "h", "people")
    assert "no table 'nope'" in _refused(app, "hide", "h", "nope", "x")
    assert "no column 'nope'" in _refused(app, "hide", "h", "people", "nope")
    assert "primary-key" in _refused(app, "hide", "h", "people", "id")
    assert "was not hidden" in _refused(app, "unhide", "h", "people", "name")
    # A role or level not in the list is a usage error (Click's exit status 2), with the choices.
    out = _refused(app, "role", "cli-cy", "boss", code=2)
    assert "'boss' is not one of 'viewer', 'editor', 'admin'" in out
    out = _refused(app, "grant", "cli-cy", "h", "--level", "all", code=2)
    assert "'all' is not one of 'none', 'read', 'write'" in out
    out = _refused(app, "add", "cli-eve", "--role", "boss", code=2)
    assert "'boss' is not one of" in out


def test_cli_role_disable_enable_remove(app: Flask) -> None:
    _ok(app, "add", "cli-fay", "--password", "fay-password")
    assert "cli-fay is now editor." in _ok(app, "role", "cli-fay", "editor")
    assert _listed(app)["cli-fay"].startswith("cli-fay\teditor\t")
    assert "cli-fay is disabled." in _ok(app, "disable", "cli-fay")
    assert "(disabled)" in _listed(app)["cli-fay"]
    assert sign_in(app.test_client(), "cli-fay", "fay-password").status_code == 200
    assert "cli-fay is enabled." in _ok(app, "enable", "cli-fay")
    assert "(disabled)" not in _listed(app)["cli-fay"]
    assert "Removed cli-fay." in _ok(app, "remove", "cli-fay")
    assert "cli-fay" not in _listed(app)


def test_cli_grants_show_in_the_list(app: Flask) -> None:
    _ok(app, "add", "cli-gil", "--role", "editor", "--password", "gil-password")
    assert "cli-gil: h/people = write." in _ok(
        app, "grant", "cli-gil", "h", "people", "--level", "write"
    )
    assert "cli-gil: h = read." in _ok(app, "grant", "cli-gil", "h")
    assert _listed(app)["cli-gil"] == "cli-gil\teditor\th=read, h/people=write"
    client = signed_in(app, "cli-gil", "gil-password")
    assert client.get("/h/people/1/-/edit").status_code == 200
    assert client.get("/h/notes/1/-/edit").status_code == 403
    assert "grant on h/people removed" in _ok(app, "revoke", "cli-gil", "h", "people")
    assert _listed(app)["cli-gil"] == "cli-gil\teditor\th=read"
    _another_process_sees_it()
    assert client.get("/h/people/1/-/edit").status_code == 403


def test_cli_hide_and_unhide(app: Flask, admin: FlaskClient) -> None:
    assert "h: people.secret is hidden." in _ok(app, "hide", "h", "people", "secret")
    _another_process_sees_it()
    assert "s-ann" not in admin.get("/h/people").text
    assert "h: people.secret is shown again." in _ok(app, "unhide", "h", "people", "secret")
    _another_process_sees_it()
    assert "s-ann" in admin.get("/h/people").text


def test_cli_keeps_the_last_admin(tmp_path: Any) -> None:
    with signin_app(tmp_path, make_data(tmp_path / "data.sqlite")) as fresh:
        for command in (["role", "admin", "viewer"], ["disable", "admin"], ["remove", "admin"]):
            assert "is the last admin" in _refused(fresh, *command)
        assert _listed(fresh)["admin"] == "admin\tadmin\teverything"
        # With a second admin, the first may go.
        _ok(fresh, "add", "second", "--role", "admin", "--password", "second-pass")
        assert "Removed admin." in _ok(fresh, "remove", "admin")
        assert "is the last admin" in _refused(fresh, "disable", "second")


# --- the admin pages --------------------------------------------------------------------------


def test_only_admins_open_the_user_pages(app: Flask) -> None:
    add_user(app, "pg-ed", "editor", h="write")
    editor = signed_in(app, "pg-ed")
    before = _state(app)
    assert editor.get("/-/users").status_code == 403
    assert editor.get("/-/users/admin").status_code == 403
    assert post(editor, "/-/users", {"name": "sneaky", "role": "admin"}).status_code == 403
    assert post(editor, "/-/users/pg-ed", {"action": "role", "role": "admin"}).status_code == 403
    hide = {"database": "h", "table": "people", "column": "secret"}
    assert post(editor, "/-/hidden", hide).status_code == 403
    assert _state(app) == before


def test_admin_manages_a_user_through_the_pages(app: Flask, admin: FlaskClient) -> None:
    assert admin.get("/-/users").status_code == 200
    made = post(admin, "/-/users", {"name": "pg-max", "role": "editor"})
    assert made.status_code == 201
    password = re.search(r'<code id="new-password">([^<]+)</code>', made.text).group(1)  # type: ignore[union-attr]
    assert admin.get("/-/users/pg-max").status_code == 200
    assert password not in admin.get("/-/users/pg-max").text  # shown once
    user = signed_in(app, "pg-max", password)
    assert user.get("/h/people").status_code in (403, 404)

    changes: list[tuple[dict[str, str], Any]] = [
        ({"action": "grant", "database": "h", "table": "people", "level": "write"}, None),
        ({"action": "grant", "database": "h", "table": "", "level": "read"}, None),
    ]
    for form, _ in changes:
        answer = post(admin, "/-/users/pg-max", form)
        assert answer.status_code == 303 and answer.headers["Location"] == "/-/users/pg-max"
    found = accounts.account(engine(app), name="pg-max")
    assert found is not None
    assert {(g.table, g.level) for g in found.grants} == {("people", "write"), (None, "read")}
    assert user.get("/h/people/1/-/edit").status_code == 200
    revoke = {"action": "revoke", "database": "h", "schema": "", "table": "people"}
    assert post(admin, "/-/users/pg-max", revoke).status_code == 303
    assert user.get("/h/people/1/-/edit").status_code == 403
    assert user.get("/h/people").status_code == 200

    assert post(admin, "/-/users/pg-max", {"action": "role", "role": "viewer"}).status_code == 303
    assert accounts.account(engine(app), name="pg-max").role == "viewer"  # type: ignore[union-attr]

    reset = post(admin, "/-/users/pg-max", {"action": "password"})
    assert reset.status_code == 200
    new = re.search(r'<code id="new-password">([^<]+)</code>', reset.text).group(1)  # type: ignore[union-attr]
    assert user.get("/h/people").status_code == 302  # the old session ended
    user = signed_in(app, "pg-max", new)

    assert post(admin, "/-/users/pg-max", {"action": "disable"}).status_code == 303
    assert accounts.account(engine(app), name="pg-max").disabled  # type: ignore[union-attr]
    assert post(admin, "/-/users/pg-max", {"action": "enable"}).status_code == 303
    gone = post(admin, "/-/users/pg-max", {"action": "remove"})
    assert gone.status_code == 303 and gone.headers["Location"] == "/-/users"
    assert accounts.account(engine(app), name="pg-max") is None
    assert admin.get("/-/users/pg-max").status_code == 404


def test_an_added_user_with_a_given_password(app: Flask, admin: FlaskClient) -> None:
    made = post(admin, "/-/users", {"name": "pg-nia", "role": "viewer", "password": "nia-chosen"})
    assert made.status_code == 201 and 'id="new-password"' not in made.text
    assert sign_in(app.test_client(), "pg-nia", "nia-chosen").status_code == 303


def test_admin_hides_a_column_and_shows_it_again(app: Flask, admin: FlaskClient) -> None:
    add_user(app, "pg-ola", "editor", h="write")
    user = signed_in(app, "pg-ola")
    hide = {"database": "h", "table": "people", "column": "secret"}
    answer = post(admin, "/-/hidden", hide)
    assert answer.status_code == 303 and answer.headers["Location"] == "/-/users#hidden"
    assert accounts.hidden_rows(engine(app)) == [("h", "", "people", "secret")]
    for client in (admin, user):
        assert "s-ann" not in client.get("/h/people").text
        assert "s-ann" not in client.get("/h/-/export/people.csv").text
    assert post(admin, "/-/hidden", {**hide, "action": "show"}).status_code == 303
    assert accounts.hidden_rows(engine(app)) == []
    assert "s-ann" in user.get("/h/people").text


@pytest.mark.parametrize(
    ("path", "form", "message"),
    [
        ("/-/users", {"name": "admin", "role": "viewer"}, "exists already"),
        ("/-/users", {"name": "pg-new", "role": "viewer", "password": "short"}, "at least 8"),
        ("/-/users", {"name": "pg-new", "role": "boss"}, "must be one of viewer, editor, admin"),
        ("/-/users", {"name": "two words", "role": "viewer"}, "is not one"),
        ("/-/users", {"name": "", "role": "viewer"}, "is not one"),
        ("/-/users/pg-bad", {"action": "role", "role": "boss"}, "must be one of"),
        ("/-/users/pg-bad", {"action": "role"}, "must be one of"),
        (
            "/-/users/pg-bad",
            {"action": "grant", "database": "nope", "table": "", "level": "read"},
            "No database is called 'nope'",
        ),
        (
            "/-/users/pg-bad",
            {"action": "grant", "database": "h", "table": "nope", "level": "read"},
            "no table or view 'nope'",
        ),
        (
            "/-/users/pg-bad",
            {"action": "grant", "database": "h", "table": "people", "level": "all"},
            "level must be one of none, read, write",
        ),
        (
            "/-/users/pg-bad",
            {"action": "revoke", "database": "h", "table": "notes"},
            "no grant",
        ),
        ("/-/users/pg-bad", {"action": "explode"}, "Unknown change"),
        ("/-/users/ghost", {"action": "disable"}, "No user is called 'ghost'"),
        ("/-/users/ghost", {"action": "password"}, "No user is called 'ghost'"),
        ("/-/users/admin", {"action": "role", "role": "viewer"}, "last admin"),
        ("/-/users/admin", {"action": "disable"}, "last admin"),
        ("/-/users/admin", {"action": "remove"}, "last admin"),
        ("/-/hidden", {"database": "nope", "table": "people", "column": "x"}, "No database"),
        ("/-/hidden", {"database": "h", "table": "nope", "column": "x"}, "no table 'nope'"),
        ("/-/hidden", {"database": "h", "table": "people", "column": "nope"}, "no column"),
        ("/-/hidden", {"database": "h", "table": "people", "column": "id"}, "primary-key"),
    ],
)
def test_bad_input_is_a_400_that_changes_nothing(
    app: Flask, admin: FlaskClient, path: str, form: dict[str, str], message: str
) -> None:
    if accounts.account(engine(app), name="pg-bad") is None:
        add_user(app, "pg-bad", "editor", h="read")
    before = _state(app)
    response = post(admin, path, form)
    assert response.status_code == 400, (response.status_code, problem(response))
    assert message in problem(response)
    assert _state(app) == before
