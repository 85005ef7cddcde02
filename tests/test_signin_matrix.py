"""Every endpoint, every method, every kind of caller: who gets in, and what they never see.

The matrix is generated from ``app.url_map``: each rule's arguments are filled with sample
values (a rule with an argument nobody knows how to fill fails the run), so a new endpoint is
covered the day it is added. Callers: anonymous, a viewer and an editor granted the whole
database, an admin, an editor granted write on one table only, and a read-only API token.

Marker strings sit in what some callers may not read (a table, a hidden column): no answer to
those callers ever holds one, whatever its status (pages, exports, lookups, query JSON, error
pages, downloads). Writes are sent with real forms and real CSRF tokens, so a missing check
would change the database; the database is compared afterwards.

The support code here (schema, callers, requests) is shared with test_signin_matrix_hidden.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import ENGINES, Page, browser_submission, dashboard_for, database_with
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
)
from werkzeug.routing import Rule

from rowboat.auth import accounts, tokens
from rowboat.state.models import AuditEntry
from rowboat.web.signin import decision

DB = "mx"
PASSWORD = "matrix-password-1"

# What some callers may not see, and must never find in any answer.
VAULT_MARK = "SECRET-ROW-7f3a"  # every row of vault (a text and a binary column)
CUSTOMER_MARK = "SECRET-CUST-2b8d"  # every customer's name
HIDDEN_MARK = "HIDDEN-COL-9c1e"  # orders.note, a column hidden from everyone

SESSION_USERS = ("viewer", "editor", "solo", "admin")
OWN_KEYS = {"anonymous": 11, "viewer": 12, "editor": 13, "solo": 14, "admin": 15, "token": 16}


# --- the database ------------------------------------------------------------------------------

metadata = MetaData()
customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(60)),
    Column("tier", String(20)),
)
orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", Integer, ForeignKey("customers.id")),
    Column("item", String(60)),
    Column("note", String(60)),  # hidden
    Column("receipt", LargeBinary),
)
vault = Table(
    "vault",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("order_id", Integer, ForeignKey("orders.id")),
    Column("secret", String(60)),
    Column("blob", LargeBinary),
)
TABLES = (customers, orders, vault)
ROW_KEYS = [1, 2, 3, *range(11, 17), *range(21, 27)]


def create_schema(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(customers),
            [{"id": i, "name": f"{CUSTOMER_MARK} {i}", "tier": "gold"} for i in (1, 2, 3)],
        )
        connection.execute(
            insert(orders),
            [
                {
                    "id": i,
                    "customer_id": 1 + i % 3,
                    "item": f"item {i}",
                    "note": f"{HIDDEN_MARK} {i}",
                    "receipt": f"receipt {i}".encode(),
                }
                for i in ROW_KEYS
            ],
        )
        connection.execute(
            insert(vault),
            [
                {
                    "id": i,
                    "order_id": i if i < 20 else 1,  # 21-26 are bulk-deleted from orders
                    "secret": f"{VAULT_MARK} {i}",
                    "blob": f"{VAULT_MARK} blob {i}".encode(),
                }
                for i in ROW_KEYS
            ],
        )


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order."""
    with engine.connect() as connection:
        return {
            t.name: [tuple(r) for r in connection.execute(select(t).order_by(t.c.id))]
            for t in TABLES
        }


def state_snapshot(state: Engine) -> dict[str, Any]:
    """Users, their grants and the hidden columns: what only an admin may change."""
    users = {a.name: (a.role, a.disabled, a.grants) for a in accounts.accounts(state)}
    return {"users": users, "hidden": accounts.hidden_rows(state)}


# --- callers -----------------------------------------------------------------------------------

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "no csrf_token on the page"
    return found.group(1)


@dataclass
class Caller:
    name: str
    client: FlaskClient
    user: str | None = None  # signs in with a password
    bearer: str | None = None
    reads: frozenset[str] = frozenset()
    writes: frozenset[str] = frozenset()
    whole: bool = False  # may read the whole database (schema pages)
    admin: bool = False
    csrf: str = ""
    spare_token: int = 0  # one of the caller's own tokens, for the revoke endpoint
    # an audit entry per target table the caller may revert (an edit of row 10 + its key)
    entries: dict[str, int] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return self.user is None and self.bearer is None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer}"} if self.bearer else {}

    def sign_in(self) -> None:
        """Sign in (again) with the password, and take the session's CSRF token."""
        page = self.client.get("/-/login")
        if self.user is not None:
            answer = self.client.post(
                "/-/login",
                data={"csrf_token": csrf_of(page.text), "name": self.user, "password": PASSWORD},
            )
            assert answer.status_code == 303, answer.text[:500]
            page = self.client.get("/-/account")
            assert page.status_code == 200
        self.csrf = csrf_of(page.text)

    def still_signed_in(self) -> None:
        """After a POST that may have signed the session out (logout), sign in again."""
        if self.user is not None and self.client.get("/-/account").status_code != 200:
            self.sign_in()

    def forbidden_marks(self) -> list[str]:
        marks = [HIDDEN_MARK]
        if "vault" not in self.reads:
            marks.append(VAULT_MARK)
        if "customers" not in self.reads:
            marks.append(CUSTOMER_MARK)
        return marks


@dataclass
class World:
    engine_name: str
    app: Flask
    data: Engine  # the app's own engine on the database
    state: Engine
    callers: dict[str, Caller]
    scraper: Caller  # an admin session used to read forms (never a caller under test)
    write_token: str  # the editor's read-write token
    entities: dict[str, Any] = field(default_factory=dict)

    def forget(self) -> None:
        self.app.extensions["rowboat.directory"].forget()


def make_world(
    engine_name: str, url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The dashboard (sign-in on, a state database of its own) serving ``url`` as ``mx``,
    with its users, grants, tokens and the hidden column."""
    tmp = tmp_path_factory.mktemp("signin")
    monkeypatch = pytest.MonkeyPatch()
    settings = {
        "AUTH": True,
        "STATE_URL": f"sqlite:///{tmp / 'state.sqlite'}",
        "ADMIN_PASSWORD": PASSWORD,
    }
    try:
        with dashboard_for(url, tmp, monkeypatch, name=DB, **settings) as app:
            yield _populate(engine_name, app)
    finally:
        monkeypatch.undo()


def _populate(engine_name: str, app: Flask) -> World:
    state = app.extensions["rowboat.state"]
    database = app.extensions["rowboat.databases"][DB]
    entities = {name: database.catalog.entities[name] for name in ("customers", "orders", "vault")}
    orders_entity = entities["orders"]
    for name, role in (("viewer", "viewer"), ("editor", "editor"), ("solo", "editor")):
        accounts.create_user(state, name, role, PASSWORD)
    accounts.create_user(state, "bystander", "viewer", PASSWORD)
    accounts.grant(state, "viewer", DB, "read")
    accounts.grant(state, "editor", DB, "write")
    accounts.grant(state, "solo", DB, "write", orders_entity.schema, "orders")
    accounts.hide_column(state, DB, orders_entity.schema, "orders", "note")
    editor_id = _user_id(state, "editor")
    read_token = tokens.create(state, editor_id, "read-only", True, None)
    write_token = tokens.create(state, editor_id, "read-write", False, None)
    everything = frozenset(entities)
    callers = {
        "anonymous": Caller("anonymous", app.test_client()),
        "viewer": Caller("viewer", app.test_client(), "viewer", reads=everything, whole=True),
        "token": Caller("token", app.test_client(), bearer=read_token, reads=everything),
        "solo": Caller(
            "solo",
            app.test_client(),
            "solo",
            reads=frozenset({"orders"}),
            writes=frozenset({"orders"}),
        ),
        "editor": Caller(
            "editor", app.test_client(), "editor", reads=everything, writes=everything
        ),
        "admin": Caller(
            "admin", app.test_client(), "admin", reads=everything, writes=everything, admin=True
        ),
    }
    callers["token"].whole = True
    callers["editor"].whole = callers["admin"].whole = True
    for caller in callers.values():
        if caller.user is not None:
            caller.spare_token = _spare_token(state, caller.user)
        if caller.bearer is None:
            caller.sign_in()
    scraper = Caller("scraper", app.test_client(), "admin")
    scraper.sign_in()
    app.extensions["rowboat.directory"].forget()
    world = World(engine_name, app, database.engine, state, callers, scraper, write_token)
    world.entities = entities
    _revertible_entries(world)
    return world


def _revertible_entries(world: World) -> None:
    """An admin's edit of each caller's row 10 + its key, in each target table: the audit entry
    the caller's revert endpoints name (rows nothing else changes before they are reverted)."""
    for caller in world.callers.values():
        key = 10 + OWN_KEYS[caller.name]
        for table in TARGETS:
            path = f"/{DB}/{table}/{key}/-/edit"
            data = _scraped(world, path)
            mark = VAULT_MARK if table == "vault" else ""
            data[TEXT[table]] = f"{mark} {key} to revert"
            answer = world.scraper.client.post(path, data=data)
            assert answer.status_code == 302, answer.text[:500]
            with world.state.connect() as connection:
                caller.entries[table] = connection.scalar(
                    select(func.max(AuditEntry.id)).where(
                        AuditEntry.table == table, AuditEntry.row_key == str(key)
                    )
                )


def _user_id(state: Engine, name: str) -> int:
    found = accounts.account(state, name=name)
    assert found is not None
    return found.id


def _spare_token(state: Engine, name: str) -> int:
    user_id = _user_id(state, name)
    tokens.create(state, user_id, "spare", False, None)
    return next(t.id for t in tokens.tokens_of(state, user_id) if t.name == "spare")


@pytest.fixture(scope="module", params=ENGINES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with database_with(request.param, "rowboat_signin", tmp_path_factory, create_schema) as url:
        yield from make_world(request.param, url, tmp_path_factory)


# --- requests ----------------------------------------------------------------------------------


def call(caller: Caller, method: str, url: str, data: dict[str, Any] | Any | None = None) -> Any:
    answer = caller.client.open(url, method=method, data=data, headers=caller.headers)
    body = answer.get_data()  # a streamed export is read to its end
    answer.close()
    for mark in caller.forbidden_marks():
        assert mark.encode() not in body, (
            f"{caller.name} {method} {url} ({answer.status_code}) shows {mark!r}: "
            + body.decode("utf-8", "replace")[:1500]
        )
    return answer


def check_no_marks(caller: Caller, answer: Any, what: str) -> None:
    body = answer.get_data()
    for mark in caller.forbidden_marks():
        assert mark.encode() not in body, f"{caller.name} {what} shows {mark!r}"


def is_login_redirect(answer: Any) -> bool:
    return answer.status_code == 302 and answer.headers.get("Location", "").startswith("/-/login")


# --- the matrix, from the URL map --------------------------------------------------------------

TARGETS = ("orders", "vault")  # one table the one-table editor may write, one it may not read
# Endpoints that take their table from the query string (the query builder's).
QUERY_TABLE = {"query.page", "query.page_json", "query.explain_page", "query.export"}
BINARY = {"orders": "receipt", "vault": "blob"}
TEXT = {"orders": "item", "vault": "secret"}
# Allowed POSTs that answer 400 on purpose (a wrong current password: nothing changes).
REFUSED_ON_PURPOSE = {"accounts.change_password"}

Filler = Callable[[Caller, str], Any]
FILLERS: dict[str, Filler] = {
    "db": lambda caller, table: DB,
    "table": lambda caller, table: table,
    "key": lambda caller, table: str(OWN_KEYS[caller.name]),
    "column": lambda caller, table: BINARY[table],
    "name": lambda caller, table: "bystander",
    "token_id": lambda caller, table: caller.spare_token or 1,
    "filename": lambda caller, table: "rowboat.css",
    "entry": lambda caller, table: str(caller.entries[table]),
}


@dataclass(frozen=True)
class Case:
    rule: Rule
    method: str
    table: str | None  # the target table, for a rule that names one
    choices: tuple[tuple[str, str], ...]  # values of choice converters (``any(csv, json)``)

    @property
    def endpoint(self) -> str:
        return self.rule.endpoint

    def url(self, caller: Caller) -> str:
        values = dict(self.choices)
        for argument in self.rule.arguments:
            if argument not in values:
                values[argument] = FILLERS[argument](caller, self.table or "orders")
        _, path = self.rule.build(values, append_unknown=False) or ("", "")
        if self.endpoint in QUERY_TABLE:
            path += f"?table={self.table}&run=1"
        return path

    def __str__(self) -> str:
        shown = f" [{self.table}]" if self.table else ""
        choices = "".join(f" {k}={v}" for k, v in self.choices)
        return f"{self.method} {self.endpoint}{shown}{choices}"


def unfillable(app: Flask) -> list[str]:
    """Rules with an argument the matrix cannot fill."""
    problems = []
    for rule in app.url_map.iter_rules():
        for argument in sorted(rule.arguments):
            converter = rule._converters.get(argument)
            if argument not in FILLERS and not hasattr(converter, "items"):
                problems.append(f"{rule.endpoint} ({rule.rule}): no sample for <{argument}>")
    return problems


def cases(app: Flask) -> list[Case]:
    """Every rule × every method it allows × every target table × every choice value.
    GETs first; POSTs after, deletes last (a deleted row would make later GETs 404)."""
    found = []
    for rule in app.url_map.iter_rules():
        choice_lists: list[tuple[tuple[str, str], ...]] = [()]
        for argument in sorted(rule.arguments):
            items = getattr(rule._converters.get(argument), "items", None)
            if items:
                choice_lists = [
                    (*c, (argument, item)) for c in choice_lists for item in sorted(items)
                ]
        tables: tuple[str | None, ...] = (None,)
        if "table" in rule.arguments or rule.endpoint in QUERY_TABLE:
            tables = TARGETS
        for method in sorted(rule.methods or ()):
            for table in tables:
                for choices in choice_lists:
                    found.append(Case(rule, method, table, choices))

    def order(case: Case) -> tuple[int, str]:
        if case.method != "POST":
            return 0, str(case)
        # vault rows refer to orders: they go first
        return (2 if "delete" in case.endpoint else 1), f"{case.table != 'vault'} {case}"

    return sorted(found, key=order)


ALLOWED = "allowed"


def expected(app: Flask, caller: Caller, case: Case) -> set[int] | str:
    """The statuses the caller may get, or ALLOWED."""
    level = decision(app, case.endpoint)
    view = app.view_functions[case.endpoint]
    machine = bool(getattr(view, "rowboat_machine", False))
    if level == "public":
        return ALLOWED
    if caller.anonymous:
        return {401} if machine else {302}  # the 302 must lead to the sign-in page
    if level == "admin":
        return ALLOWED if caller.admin else {403}
    if case.method == "OPTIONS":
        return {200}  # Flask answers it: no view runs, nothing is read
    if level == "signed-in":
        # An API token may not change its account (password, tokens); signing out is harmless.
        if caller.bearer and case.method == "POST" and case.endpoint != "accounts.logout":
            return {403}
        return ALLOWED
    if case.endpoint.startswith("schema."):
        return ALLOWED if caller.whole else {403}  # the structure of every table
    if case.table is None:
        return ALLOWED
    if case.endpoint in QUERY_TABLE:
        # The builder works from the tables the caller may read: another one is unknown.
        return ALLOWED if case.table in caller.reads else {400}
    if level == "write" and case.table not in caller.writes:
        return {403}
    return ALLOWED if case.table in caller.reads else {403}


def allowed_statuses(caller: Caller, case: Case) -> set[int]:
    if case.method != "POST":
        return {200}
    if case.endpoint in REFUSED_ON_PURPOSE:
        return {400}
    if case.endpoint == "edit.delete" and case.table == "orders" and "vault" not in caller.writes:
        return {409}  # a vault row (which the caller cannot see, nor delete) refers to it
    return {200, 201, 302, 303}


# --- what each POST sends: a real form, which changes something when allowed ----------------


def _scraped(world: World, path: str) -> Any:
    world.scraper.still_signed_in()  # a caller's "sign out everywhere" may have ended it
    answer = world.scraper.client.get(path)
    assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:300]}"
    return browser_submission(Page(answer.text), files=False)


def _new_row(world: World, caller: Caller, table: str) -> Any:
    data = _scraped(world, f"/{DB}/{table}/-/new")
    data["id"] = str(30 + OWN_KEYS[caller.name])
    data[TEXT[table]] = f"made by {caller.name}"
    return data


def _edit_row(world: World, caller: Caller, table: str) -> Any:
    data = _scraped(world, f"/{DB}/{table}/{OWN_KEYS[caller.name]}/-/edit")
    data[TEXT[table]] = f"edited by {caller.name}"
    return data


def _delete_row(world: World, caller: Caller, table: str) -> dict[str, str]:
    answer = world.scraper.client.get(f"/{DB}/{table}/{OWN_KEYS[caller.name]}/-/delete")
    found = re.search(r'name="_fingerprint" value="([^"]*)"', answer.text)
    assert found, answer.text[:500]
    return {"_fingerprint": found.group(1)}


BODIES: dict[str, Callable[[World, Caller, str], Any]] = {
    "accounts.login": lambda w, c, t: {"name": "nobody", "password": "not-the-password"},
    "accounts.change_password": lambda w, c, t: {
        "current": "not-the-password",
        "new": "another-password-2",
        "again": "another-password-2",
    },
    "accounts.create_token": lambda w, c, t: {"name": f"made by {c.name}", "expires": "7"},
    "accounts.add_user": lambda w, c, t: {
        "name": f"made-by-{c.name}",
        "role": "admin",
        "password": "a-new-password-3",
    },
    "accounts.change_user": lambda w, c, t: {
        "action": "grant",
        "database": DB,
        "table": "vault",
        "level": "write",
    },
    "accounts.hidden_columns": lambda w, c, t: {
        "database": DB,
        "table": "customers",
        "column": "tier",
    },
    "edit.new": _new_row,
    "edit.edit": _edit_row,
    "edit.delete": _delete_row,
    "edit.bulk_delete": lambda w, c, t: {"_key": str(10 + OWN_KEYS[c.name]), "_confirm": "1"},
}


def body_for(world: World, caller: Caller, case: Case) -> Any:
    build = BODIES.get(case.endpoint)
    data = build(world, caller, case.table or "orders") if build else {}
    if caller.bearer is None:
        data["csrf_token"] = caller.csrf  # a real one: the CSRF check is on
    return data


# --- the tests ---------------------------------------------------------------------------------


def test_every_endpoint_has_an_access_decision(world: World) -> None:
    app = world.app
    missing = [
        f"{rule.endpoint} ({rule.rule})"
        for rule in app.url_map.iter_rules()
        if decision(app, rule.endpoint) is None
    ]
    assert not missing, "endpoints without @needs(...): " + ", ".join(missing)


def test_every_rule_can_be_filled(world: World) -> None:
    assert not unfillable(world.app)
    assert len(cases(world.app)) > 100


def test_a_session_post_needs_its_csrf_token_and_a_token_post_does_not(world: World) -> None:
    """A session's POST without its CSRF token is refused, nothing saved; the same POST with a
    read-write API token (which another site cannot send) is accepted without one; a
    read-only token is refused whatever it sends."""
    url = f"/{DB}/orders/2/-/edit"
    form = _scraped(world, url)
    del form["csrf_token"]  # the scraper's
    form["item"] = "no csrf"
    before = snapshot(world.data)
    editor = world.callers["editor"]
    for token in (None, "not-the-token"):
        if token is not None:
            form["csrf_token"] = token
        answer = editor.client.post(url, data=form)
        assert answer.status_code == 400, answer.text[:500]
        assert "CSRF" in answer.text
    read_only = world.callers["token"]
    answer = read_only.client.post(url, data=form, headers=read_only.headers)
    assert answer.status_code == 403
    assert snapshot(world.data) == before
    bearer = {"Authorization": f"Bearer {world.write_token}"}
    answer = world.app.test_client().post(url, data=form, headers=bearer)
    assert answer.status_code == 302, answer.text[:500]
    with world.data.connect() as connection:
        assert connection.scalar(select(orders.c.item).where(orders.c.id == 2)) == "no csrf"
        # the hidden column was not in the form, and is as it was
        assert connection.scalar(select(orders.c.note).where(orders.c.id == 2)) == (
            f"{HIDDEN_MARK} 2"
        )


CALLERS = ("anonymous", "viewer", "token", "solo", "editor", "admin")


@pytest.mark.parametrize("who", CALLERS)
def test_matrix(world: World, who: str) -> None:
    app, caller = world.app, world.callers[who]
    data_before, state_before = snapshot(world.data), state_snapshot(world.state)
    failures: list[str] = []
    for case in cases(app):
        url = case.url(caller)
        data = body_for(world, caller, case) if case.method == "POST" else None
        try:
            answer = call(caller, case.method, url, data)
        except AssertionError as exc:
            failures.append(f"{case}: {exc}")
            continue
        finally:
            if case.method == "POST":
                caller.still_signed_in()
        status = answer.status_code
        wanted = expected(app, caller, case)
        if wanted == ALLOWED:
            wanted = allowed_statuses(caller, case)
            if status in (302, 303) and is_login_redirect(answer):
                failures.append(f"{case} {url}: sent to the sign-in page")
                continue
        assert isinstance(wanted, set)
        if status not in wanted:
            failures.append(
                f"{case} {url}: {status}, wanted {sorted(wanted)}: {answer.text[:300]!r}"
            )
        elif caller.anonymous and wanted == {302} and not is_login_redirect(answer):
            failures.append(f"{case} {url}: redirects to {answer.headers.get('Location')}")
    data_after, state_after = snapshot(world.data), state_snapshot(world.state)
    for table in TABLES:
        if table.name not in caller.writes:
            assert data_after[table.name] == data_before[table.name], (
                f"{who} changed {table.name}, which they may not write"
            )
    if not caller.admin:
        assert state_after == state_before, f"{who} changed users, grants or hidden columns"
    else:
        assert "made-by-admin" in state_after["users"]
    if caller.writes:  # the writes it may make were made (the bodies are real)
        for name in caller.writes & set(TARGETS):
            rows = {row[0]: row for row in data_after[name]}
            own = OWN_KEYS[who]
            assert 30 + own in rows and 10 + own not in rows, (name, sorted(rows))
            if "vault" in caller.writes:
                assert own not in rows, (name, sorted(rows))
            else:
                assert f"edited by {who}" in rows[own], rows[own]
    with world.state.connect() as connection:  # a revert is recorded only when allowed
        for table in TARGETS:
            reverts = connection.scalar(
                select(func.count()).where(
                    AuditEntry.revert_of == caller.entries[table],
                    AuditEntry.outcome == "committed",
                )
            )
            assert reverts == (1 if table in caller.writes else 0), (table, reverts)
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)
