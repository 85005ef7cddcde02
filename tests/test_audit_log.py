"""The audit log's page (/-/audit), its CSV (/-/audit.csv) and its retention (audit prune).

Entries are made through real requests (forms with their CSRF tokens, an API token), on a
SQLite and a PostgreSQL target database, each with its own SQLite state database: filters,
keyset paging, who sees what (a non-admin only their own entries, never those of a table
they may no longer read), hidden columns (stored, never shown), the CSV byte for byte, bad
filters (400), and pruning. A browser check looks at the page on a phone.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Page, browser_submission, dashboard_for, database_with, serving
from flask import Flask
from flask.testing import FlaskClient
from signin_accounts_support import (
    ADMIN_PASSWORD,
    add_user,
    cheap_hashing,  # noqa: F401 (autouse)
    forget,
    problem,
    signed_in,
)
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert, select, update

from rowboat.audit.log import CSV_HEADER
from rowboat.auth import accounts, tokens
from rowboat.state.models import AuditEntry

DB = "h"
HIDDEN_MARK = "HIDDEN-AUDIT-5e1d"  # people.secret, hidden from everyone

metadata = MetaData()
people = Table(
    "people",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(60)),
    Column("secret", String(60)),
)
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("body", String(200)),
)
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("label", String(60)),
    Column("price", String(20)),
)


def create_schema(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(people),
            [{"id": i, "name": f"person {i}", "secret": f"{HIDDEN_MARK} {i}"} for i in range(1, 9)],
        )
        connection.execute(insert(notes), [{"body": "first"}])
        connection.execute(
            insert(items), [{"id": i, "label": f"item {i}", "price": "1.00"} for i in range(1, 7)]
        )


@dataclass
class World:
    engine_name: str
    app: Flask
    data: Engine
    state: Engine
    admin: FlaskClient

    def client(self, name: str) -> FlaskClient:
        return signed_in(self.app, name)


@pytest.fixture(scope="module", params=("sqlite", "postgresql"))
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    engine_name = request.param
    with database_with(engine_name, "rowboat_audit_log", tmp_path_factory, create_schema) as url:
        tmp = tmp_path_factory.mktemp("audit-log")
        monkeypatch = pytest.MonkeyPatch()
        settings = {
            "AUTH": True,
            "STATE_URL": f"sqlite:///{tmp / 'state.sqlite'}",
            "ADMIN_PASSWORD": ADMIN_PASSWORD,
        }
        try:
            with dashboard_for(url, tmp, monkeypatch, name=DB, **settings) as app:
                state = app.extensions["rowboat.state"]
                accounts.hide_column(state, DB, None, "people", "secret")
                forget(app)
                admin = signed_in(app, "admin", ADMIN_PASSWORD)
                data = app.extensions["rowboat.databases"][DB].engine
                yield World(engine_name, app, data, state, admin)
        finally:
            monkeypatch.undo()


# --- making entries through the pages ----------------------------------------------------------


def _form(client: FlaskClient, path: str) -> Any:
    answer = client.get(path)
    assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:300]}"
    return browser_submission(Page(answer.text), files=False)


def edit(client: FlaskClient, table: str, key: Any, **values: str) -> None:
    path = f"/{DB}/{table}/{key}/-/edit"
    data = _form(client, path)
    for name, value in values.items():
        data[name] = value
    answer = client.post(path, data=data)
    assert answer.status_code == 302, problem(answer)[-1200:]


def create(client: FlaskClient, table: str, **values: str) -> None:
    path = f"/{DB}/{table}/-/new"
    data = _form(client, path)
    for name, value in values.items():
        data[name] = value
    answer = client.post(path, data=data)
    assert answer.status_code == 302, problem(answer)[-1200:]


def delete(client: FlaskClient, table: str, key: Any) -> None:
    path = f"/{DB}/{table}/{key}/-/delete"
    page = client.get(path).text
    found = re.search(r'name="_fingerprint" value="([^"]*)"', page)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found and csrf, page[:500]
    answer = client.post(path, data={"_fingerprint": found.group(1), "csrf_token": csrf.group(1)})
    assert answer.status_code in (302, 303), answer.text[:800]


def entries(world: World, **where: Any) -> list[AuditEntry]:
    """The stored entries, newest first."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    for name, value in where.items():
        query = query.where(getattr(AuditEntry, name) == value)
    from sqlalchemy.orm import Session

    with Session(world.state) as session:
        found = list(session.scalars(query))
        session.expunge_all()
    return found


# --- reading the page and the CSV --------------------------------------------------------------

_ENTRY = re.compile(r'<li class="audit-entry[^"]*" id="entry-(\d+)"')
_OLDER = re.compile(r'<a rel="next" href="([^"]+)"')


def shown_ids(html: str) -> list[int]:
    return [int(n) for n in _ENTRY.findall(html)]


def walk(client: FlaskClient, path: str) -> tuple[list[int], int]:
    """Every entry id the page shows, following its "older" links; and the pages walked."""
    ids: list[int] = []
    pages = 0
    while True:
        answer = client.get(path)
        assert answer.status_code == 200, answer.text[:500]
        pages += 1
        ids.extend(shown_ids(answer.text))
        found = _OLDER.search(answer.text)
        if found is None:
            return ids, pages
        path = found.group(1).replace("&amp;", "&")
        assert pages < 100


def csv_rows(client: FlaskClient, query: str = "", **request: Any) -> list[dict[str, str]]:
    answer = client.get(f"/-/audit.csv{query}", **request)
    assert answer.status_code == 200, answer.text[:500]
    assert answer.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))


# --- the tests ---------------------------------------------------------------------------------


def test_filters(world: World) -> None:
    add_user(world.app, "fil-ed", "editor", **{DB: "write"})
    add_user(world.app, "fil-other", "editor", **{DB: "write"})
    ed, other = world.client("fil-ed"), world.client("fil-other")
    edit(ed, "items", 1, label="filtered 1")
    create(ed, "notes", body="by fil-ed")
    edit(other, "items", 2, label="filtered 2")
    mine = entries(world, user_name="fil-ed")
    assert [(e.action, e.table, e.outcome) for e in mine] == [
        ("create", "notes", "committed"),
        ("update", "items", "committed"),
    ]

    def ids(query: str) -> list[int]:
        answer = world.admin.get(f"/-/audit{query}")
        assert answer.status_code == 200, answer.text[:500]
        from_csv = [int(row["id"]) for row in csv_rows(world.admin, query)]
        assert shown_ids(answer.text) == from_csv
        return from_csv

    assert ids("?user=fil-ed") == [e.id for e in mine]
    assert ids("?user=fil-ed&table=items") == [mine[1].id]
    assert ids("?user=fil-ed&action=create") == [mine[0].id]
    assert ids("?user=fil-ed&action=update&database=h") == [mine[1].id]
    assert ids("?user=fil-ed&database=elsewhere") == []
    assert ids("?user=fil-ed&outcome=committed") == [e.id for e in mine]
    assert ids("?user=fil-ed&outcome=failed") == []
    today = datetime.now(UTC).date()
    assert ids(f"?user=fil-ed&from={today}&to={today}") == [e.id for e in mine]
    assert ids(f"?user=fil-ed&from={today + timedelta(days=1)}") == []
    assert ids(f"?user=fil-ed&to={today - timedelta(days=1)}") == []
    both = {e.id for e in entries(world, table="items") if e.user_name in ("fil-ed", "fil-other")}
    assert {i for i in ids("?table=items") if i in both} == both
    # the page keeps the filters in its form and its CSV link
    page = world.admin.get("/-/audit?user=fil-ed&action=update").text
    assert 'name="user" value="fil-ed"' in page
    assert "/-/audit.csv?user=fil-ed&amp;action=update" in page
    # the diff, and the link to the row
    assert "<del>item 1</del>" in page and "<ins>filtered 1</ins>" in page
    assert f'href="/{DB}/items/1"' in page


def test_keyset_paging_walks_every_entry_once(world: World) -> None:
    add_user(world.app, "pager", "editor", **{DB: "write"})
    client = world.client("pager")
    for n in range(57):
        create(client, "notes", body=f"page note {n}")
    expected = [e.id for e in entries(world, user_name="pager")]
    assert len(expected) == 57
    for who in (world.admin, client):
        ids, pages = walk(who, "/-/audit?user=pager&action=create")
        assert ids == expected  # newest first, no gap, no repeat
        assert pages == 2
    first = client.get("/-/audit").text
    assert len(shown_ids(first)) == 50
    # an entry written meanwhile does not shift the next page
    older = _OLDER.search(first)
    assert older
    create(client, "notes", body="meanwhile")
    second = client.get(older.group(1).replace("&amp;", "&")).text
    assert shown_ids(second) == expected[50:]


def test_a_non_admin_sees_only_their_own_entries(world: World) -> None:
    add_user(world.app, "own-a", "editor", **{DB: "write"})
    add_user(world.app, "own-b", "editor", **{DB: "write"})
    add_user(world.app, "own-viewer", "viewer", **{DB: "read"})
    a, b = world.client("own-a"), world.client("own-b")
    edit(a, "items", 3, label="by a")
    edit(b, "items", 3, label="by b")
    edit(world.admin, "items", 3, label="by admin")
    for name, client in (("own-a", a), ("own-b", b)):
        ids, _ = walk(client, "/-/audit")
        assert ids == [e.id for e in entries(world, user_name=name)]
        assert {row["user"] for row in csv_rows(client)} == {name}
        assert "Users</a>" not in client.get("/-/audit").text  # no admin link
        assert 'name="user"' not in client.get("/-/audit").text  # no user filter
    viewer = world.client("own-viewer")
    page = viewer.get("/-/audit")
    assert page.status_code == 200 and shown_ids(page.text) == []
    assert "No changes recorded yet." in page.text
    assert csv_rows(viewer) == []
    # asking for someone else's is refused, not quietly widened
    answer = a.get("/-/audit?user=own-b")
    assert answer.status_code == 400
    assert "only an admin may see other users' entries" in problem(answer)
    assert a.get("/-/audit?user=own-a").status_code == 200
    # the admin sees everyone's
    admin_ids, _ = walk(world.admin, "/-/audit?table=items")
    assert {e.id for e in entries(world, table="items")} <= set(admin_ids)


def test_entries_of_a_table_no_longer_readable_are_not_shown(world: World) -> None:
    add_user(world.app, "solo-log", "editor")
    accounts.grant(world.state, "solo-log", DB, "write", None, "items")
    accounts.grant(world.state, "solo-log", DB, "write", None, "notes")
    forget(world.app)
    solo = world.client("solo-log")
    edit(solo, "items", 2, label="by solo")
    create(solo, "notes", body="solo's note")
    mine = entries(world, user_name="solo-log")
    assert len(mine) == 2
    assert shown_ids(solo.get("/-/audit").text) == [e.id for e in mine]
    accounts.revoke(world.state, "solo-log", DB, None, "items")
    forget(world.app)
    page = solo.get("/-/audit").text
    notes_entry = next(e for e in mine if e.table == "notes")
    assert shown_ids(page) == [notes_entry.id]
    assert "by solo" not in page
    assert [row["id"] for row in csv_rows(solo)] == [str(notes_entry.id)]
    assert [int(r["id"]) for r in csv_rows(world.admin, "?user=solo-log")] == [e.id for e in mine]


def test_hidden_column_values_are_stored_but_never_shown(world: World) -> None:
    add_user(world.app, "hider", "editor", **{DB: "write"})
    client = world.client("hider")
    edit(client, "people", 5, name="renamed five")
    delete(client, "people", 6)
    stored = entries(world, user_name="hider")
    assert [e.action for e in stored] == ["delete", "update"]
    deleted = json.loads(stored[0].changes)
    assert deleted["secret"] == {"before": {"t": "text", "v": f"{HIDDEN_MARK} 6"}}  # kept
    for who in (world.admin, client):
        for path in (
            "/-/audit",
            "/-/audit?table=people",
            "/-/audit.csv",
            "/-/audit.csv?user=hider",
        ):
            body = who.get(path).get_data(as_text=True)
            assert HIDDEN_MARK not in body, path
            assert "secret" not in body, path
    rows = csv_rows(world.admin, "?user=hider&action=delete")
    assert rows[0]["changes"] == "id: 6 →; name: person 6 →"


def test_csv_is_exact(world: World) -> None:
    add_user(world.app, "csv-ed", "editor", **{DB: "write"})
    account = accounts.account(world.state, name="csv-ed")
    assert account is not None
    token = tokens.create(world.state, account.id, "script", False, None)
    client = world.client("csv-ed")
    edit(client, "items", 4, label='quoted "label", with comma', price="2.50")
    # a script edits with its API token (no CSRF token needed)
    path = f"/{DB}/items/5/-/edit"
    form = _form(client, path)
    del form["csrf_token"]
    form["label"] = "by token"
    answer = world.app.test_client().post(
        path, data=form, headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-42"}
    )
    assert answer.status_code == 302, answer.text[:500]
    delete(client, "people", 7)
    stored = entries(world, user_name="csv-ed")
    assert [e.action for e in stored] == ["delete", "update", "update"]
    remove, by_token, by_form = stored
    assert by_token.request_id == "req-42" and by_token.token_name == "script"

    def at(entry: AuditEntry) -> str:
        moment = entry.at
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        return moment.astimezone(UTC).isoformat()

    lines = [",".join(CSV_HEADER)]
    lines.append(
        f"{remove.id},{at(remove)},csv-ed,,h,people,7,delete,committed,"
        f"id: 7 →; name: person 7 →,,{remove.request_id},127.0.0.1"
    )
    lines.append(
        f"{by_token.id},{at(by_token)},csv-ed,script,h,items,5,update,committed,"
        f"label: item 5 → by token,,req-42,127.0.0.1"
    )
    lines.append(
        f"{by_form.id},{at(by_form)},csv-ed,,h,items,4,update,committed,"
        f'"label: item 4 → quoted ""label"", with comma; price: 1.00 → 2.50",,'
        f"{by_form.request_id},127.0.0.1"
    )
    answer = client.get("/-/audit.csv")
    assert answer.headers["Content-Disposition"] == 'attachment; filename="audit.csv"'
    assert answer.get_data(as_text=True) == "\r\n".join(lines) + "\r\n"
    # a script reads it with its token too; without one it is told to send one
    by_script = world.app.test_client().get(
        "/-/audit.csv", headers={"Authorization": f"Bearer {token}"}
    )
    assert by_script.get_data(as_text=True) == answer.get_data(as_text=True)
    anonymous = world.app.test_client().get("/-/audit.csv")
    assert anonymous.status_code == 401
    assert world.app.test_client().get("/-/audit").status_code == 302


BAD = [
    ("action=rename", "action: 'rename' is not one of create, update, delete."),
    ("outcome=lost", "outcome: 'lost' is not one of pending, committed, failed, unknown."),
    ("from=yesterday", "from: 'yesterday' is not a date (write it as YYYY-MM-DD)."),
    ("to=2024-02-30", "to: '2024-02-30' is not a date (write it as YYYY-MM-DD)."),
    ("from=2024-03-02&to=2024-03-01", "to: the end of the time range comes before its start."),
    ("from=2024-03-02T25:00", "from: '2024-03-02T25:00' is not a date or a time"),
    ("before=abc", "before: 'abc' is not an entry number."),
    ("before=-3", "before: '-3' is not an entry number."),
    ("before=0", "before: '0' is not an entry number."),
    ("before=%D9%A3", "before: '٣' is not an entry number."),
    ("table=" + "t" * 600, "table: at most 520 characters."),
    ("before=" + "9" * 21, "before: at most 20 characters."),
    ("user=a%00b", "user: control characters cannot be part of a filter."),
    ("from=0001-01-01T00:00%2B14:00", "from: '0001-01-01T00:00+14:00' is out of range in UTC."),
]


def test_filters_at_their_edges(world: World) -> None:
    """Extreme but valid values answer 200: the widest dates, the largest entry number."""
    newest = entries(world)[0].id if entries(world) else 0
    for query in ("from=0001-01-01&to=9999-12-31", "before=" + "9" * 20, "to=9999-12-31T23:59"):
        for path in ("/-/audit", "/-/audit.csv"):
            answer = world.admin.get(f"{path}?{query}")
            assert answer.status_code == 200, (path, query, problem(answer))
    if newest:
        page = world.admin.get("/-/audit?before=" + "9" * 20).text
        assert shown_ids(page)[0] == newest


@pytest.mark.parametrize(("query", "message"), BAD, ids=[q[:24] for q, _ in BAD])
def test_bad_filters_are_400(world: World, query: str, message: str) -> None:
    for path in ("/-/audit", "/-/audit.csv"):
        answer = world.admin.get(f"{path}?{query}")
        assert answer.status_code == 400, (path, answer.status_code)
        assert message in problem(answer), problem(answer)


def test_prune_deletes_exactly_the_old_entries(world: World) -> None:
    add_user(world.app, "pruner", "editor", **{DB: "write"})
    client = world.client("pruner")
    for n in range(4):
        create(client, "notes", body=f"prune {n}")
    made = entries(world, user_name="pruner")
    now = datetime.now(UTC)
    ages = {made[0].id: 40, made[1].id: 31, made[2].id: 29}  # made[3]: now
    with world.state.begin() as connection:
        for entry_id, days in ages.items():
            connection.execute(
                update(AuditEntry)
                .where(AuditEntry.id == entry_id)
                .values(at=now - timedelta(days=days))
            )
    before = {e.id for e in entries(world)}
    runner = world.app.test_cli_runner()
    world.app.config["AUDIT_RETENTION_DAYS"] = 0
    refused = runner.invoke(args=["audit", "prune"])
    assert refused.exit_code == 1
    assert "ROWBOAT_AUDIT_RETENTION_DAYS is 0 or unset" in refused.output
    assert {e.id for e in entries(world)} == before
    zero = runner.invoke(args=["audit", "prune", "--days", "0"])
    assert zero.exit_code == 2 and {e.id for e in entries(world)} == before
    world.app.config["AUDIT_RETENTION_DAYS"] = 30
    try:
        done = runner.invoke(args=["audit", "prune"])
    finally:
        world.app.config["AUDIT_RETENTION_DAYS"] = 0
    assert done.exit_code == 0, done.output
    assert done.output == "Deleted 2 audit entries older than 30 days.\n"
    assert {e.id for e in entries(world)} == before - {made[0].id, made[1].id}
    done = runner.invoke(args=["audit", "prune", "--days", "28"])
    assert done.output == "Deleted 1 audit entry older than 28 days.\n"
    assert {e.id for e in entries(world)} == before - {made[0].id, made[1].id, made[2].id}


def test_open_dashboard_shows_every_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With sign-in off the dashboard is open: the header links the log and it shows all."""
    data = tmp_path / "open.sqlite"
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{data}")
    create_schema(engine)
    engine.dispose()
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    with dashboard_for(
        f"sqlite:///{data}", tmp_path, monkeypatch, AUTH=False, STATE_URL=state
    ) as app:
        client = app.test_client()
        edit(client, "items", 1, label="open edit")
        page = client.get("/").text
        assert 'href="/-/audit">Audit</a>' in page
        audit = client.get("/-/audit").text
        assert len(shown_ids(audit)) == 1
        assert "anyone (sign-in off)" in audit and "<ins>open edit</ins>" in audit


@pytest.mark.browser
def test_audit_page_fits_a_phone(world: World, browser: Any, shots: Path) -> None:
    if world.engine_name != "sqlite":
        pytest.skip("one engine is enough for the layout")
    add_user(world.app, "phone", "editor", **{DB: "write"})
    client = world.client("phone")
    edit(client, "items", 3, label="a-long-label-without-spaces-" * 2, price="9.99")
    create(client, "notes", body="x" * 120)
    delete(client, "people", 8)
    with serving(world.app) as base:
        context = browser.new_context(viewport={"width": 390, "height": 844})
        try:
            page = context.new_page()
            page.goto(f"{base}/-/login")
            page.fill("input[name=name]", "phone")
            page.fill("input[name=password]", "phone-password")
            page.click("button[type=submit]")
            page.goto(f"{base}/-/audit")
            page.wait_for_selector(".audit-entry")
            widths = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            page.screenshot(path=str(shots / "audit-390.png"), full_page=True)
        finally:
            context.close()
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"
