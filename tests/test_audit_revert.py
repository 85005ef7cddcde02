"""A row's history and reverting its entries, on SQLite, PostgreSQL and MariaDB (the state
database on SQLite).

Every revert round-trips: after editing, deleting (one row or a bulk delete) or creating a row
through the dashboard and reverting that entry, a SELECT on a separate connection reads exactly
the values the table held before, their Python types included. A revert that would undo a
later change is refused (409, the three versions shown) and writes nothing; a value the log
kept only as a summary (binary, cut text) refuses plainly; a viewer may read the history but
not revert (403); each revert is an entry of its own, naming the entry it reverted.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from conftest import ENGINES, Page, browser_submission, dashboard_for, database_with
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)

from rowboat.audit import history
from rowboat.audit.values import TEXT_KEPT
from rowboat.auth import accounts
from rowboat.state.models import AuditEntry

DB = "av"
PASSWORD = "revert-password-1"

metadata = MetaData()
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(60)),
    Column("price", Numeric(12, 4)),
    Column("ratio", Float(53)),
    Column("big", BigInteger),
    Column("born", Date),
    Column("seen", DateTime),
    Column("flag", Boolean),
    Column("note", Text),
    Column("blob", LargeBinary),
)
lines = Table(
    "lines",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE")),
    Column("qty", Integer),
)


def item(i: int, **changes: Any) -> dict[str, Any]:
    values = {
        "id": i,
        "name": f"item {i} é",
        "price": Decimal("12345678.1200"),
        "ratio": 0.1 + 0.2,  # 0.30000000000000004: every bit must come back
        "big": 2**62 + i,  # beyond 2^53
        "born": dt.date(1999, 12, 31),
        "seen": dt.datetime(2024, 2, 29, 23, 59, 58),
        "flag": True,
        "note": None,
        "blob": None,
    }
    return {**values, **changes}


ROWS = [
    item(1),
    item(2),
    item(3, blob=b"\x00\x01 binary"),  # deleting it cannot be reverted: bytes not kept
    item(4),
    item(5, flag=False, note=""),
    item(6),
    item(7),
    item(8),
    item(9, note="x" * (TEXT_KEPT + 10)),  # cut in the log
    item(10),
    item(11),
    item(12),
    item(13),
    item(14),
    item(15),  # for the restore's revert: rows no other test touches
    item(16),
]


def create_schema(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(items), ROWS)
        connection.execute(
            insert(lines), [{"id": 100 + i, "item_id": 2, "qty": i} for i in range(3)]
        )
        connection.execute(insert(lines), [{"id": 200, "item_id": 5, "qty": 1}])


# --- the dashboard and its callers --------------------------------------------------------------

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class World:
    engine_name: str
    app: Flask
    data: Engine
    state: Engine
    editor: FlaskClient
    viewer: FlaskClient


def signed_in(app: Flask, name: str) -> FlaskClient:
    client = app.test_client()
    page = client.get("/-/login")
    csrf = CSRF_RE.search(page.text)
    assert csrf
    answer = client.post(
        "/-/login", data={"csrf_token": csrf.group(1), "name": name, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text[:300]
    return client


@pytest.fixture(scope="module", params=ENGINES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with database_with(request.param, "rowboat_revert", tmp_path_factory, create_schema) as url:
        tmp = tmp_path_factory.mktemp("revert")
        monkeypatch = pytest.MonkeyPatch()
        settings = {
            "AUTH": True,
            "STATE_URL": f"sqlite:///{tmp / 'state.sqlite'}",
            "ADMIN_PASSWORD": PASSWORD,
        }
        try:
            with dashboard_for(url, tmp, monkeypatch, name=DB, **settings) as app:
                state = app.extensions["rowboat.state"]
                accounts.create_user(state, "editor", "editor", PASSWORD)
                accounts.create_user(state, "viewer", "viewer", PASSWORD)
                accounts.grant(state, "editor", DB, "write")
                accounts.grant(state, "viewer", DB, "read")
                app.extensions["rowboat.directory"].forget()
                data = app.extensions["rowboat.databases"][DB].engine
                yield World(
                    request.param,
                    app,
                    data,
                    state,
                    signed_in(app, "editor"),
                    signed_in(app, "viewer"),
                )
        finally:
            monkeypatch.undo()


def row_of(world: World, i: int) -> tuple[Any, ...] | None:
    """The row as the table holds it, read on a connection of its own."""
    with world.data.connect() as connection:
        found = connection.execute(select(items).where(items.c.id == i)).first()
    return tuple(found) if found is not None else None


def typed(row: tuple[Any, ...] | None) -> list[tuple[str, Any]] | None:
    """Each value with its Python type: equal values of another type do not pass."""
    return None if row is None else [(type(v).__name__, v) for v in row]


def csrf(client: FlaskClient, path: str) -> str:
    found = CSRF_RE.search(client.get(path).text)
    assert found, path
    return found.group(1)


def edit(world: World, i: int, **fields: str) -> None:
    path = f"/{DB}/items/{i}/-/edit"
    page = world.editor.get(path)
    assert page.status_code == 200, page.text[:300]
    data = browser_submission(Page(page.text), files=False)
    for name, value in fields.items():
        data[name] = value
    answer = world.editor.post(path, data=data)
    assert answer.status_code == 302, answer.text[:1500]


def delete_row(world: World, i: int) -> None:
    path = f"/{DB}/items/{i}/-/delete"
    page = world.editor.get(path).text
    fingerprint = re.search(r'name="_fingerprint" value="([^"]*)"', page)
    assert fingerprint
    token = CSRF_RE.search(page)
    assert token
    answer = world.editor.post(
        path, data={"csrf_token": token.group(1), "_fingerprint": fingerprint.group(1)}
    )
    assert answer.status_code == 302, answer.text[:1500]


def bulk_delete(world: World, ids: list[int]) -> None:
    token = csrf(world.editor, f"/{DB}/items")
    data = {"csrf_token": token, "_confirm": "1", "_key": [str(i) for i in ids]}
    answer = world.editor.post(f"/{DB}/items/-/delete", data=data)
    assert answer.status_code == 302, answer.text[:1500]


def create(world: World, i: int, name: str) -> None:
    path = f"/{DB}/items/-/new"
    data = browser_submission(Page(world.editor.get(path).text), files=False)
    data["id"] = str(i)
    data["name"] = name
    data["price"] = "2.5"
    answer = world.editor.post(path, data=data)
    assert answer.status_code == 302, answer.text[:1500]


def entries(world: World, i: int) -> list[history.Entry]:
    """The row's entries, newest first."""
    database = world.app.extensions["rowboat.databases"][DB]
    entity = database.catalog.entities["items"]
    found, _ = history.entries_of_row(world.state, DB, entity, str(i))
    return found


def all_entries(world: World) -> list[Any]:
    with world.state.connect() as connection:
        return list(connection.execute(select(AuditEntry.__table__).order_by(AuditEntry.id)))


def revert(world: World, entry: int, status: int = 302, client: FlaskClient | None = None) -> Any:
    """Open the revert page, then confirm it (as the page's form does)."""
    client = client or world.editor
    path = f"/{DB}/items/-/revert/{entry}"
    page = client.get(path)
    token = CSRF_RE.search(page.text)
    data = {"csrf_token": token.group(1)} if token else {}
    answer = client.post(path, data=data)
    assert answer.status_code == status, answer.text[:2000]
    return answer


def reverting(world: World, entry: history.Entry) -> list[Any]:
    """The committed entries that revert ``entry``."""
    return [e for e in all_entries(world) if e.revert_of == entry.id]


# --- round trips -------------------------------------------------------------------------------


def test_revert_an_update_puts_back_exactly_the_old_values(world: World) -> None:
    original = row_of(world, 1)
    edit(world, 1, name="renamed", price="0.5", ratio="1e-300", big="-5", born="2001-01-01")
    edit(world, 1, flag="")  # a second entry: the first cannot be reverted over it
    changed = row_of(world, 1)
    assert changed is not None and changed[1] == "renamed"
    newest, first = entries(world, 1)[:2]
    assert newest.action == first.action == "update"
    assert set(first.changes) == {"name", "price", "ratio", "big", "born"}
    assert (
        first.changes["price"]
        == {
            "before": {"t": "decimal", "v": "12345678.1200"},
            "after": {"t": "decimal", "v": "0.5000"},
        }
        or first.changes["price"]["after"]["v"] == "0.5"
    )
    revert(world, newest.id)
    revert(world, first.id)
    assert typed(row_of(world, 1)) == typed(original)
    (undo,) = reverting(world, first)
    assert (undo.action, undo.outcome, undo.user_name) == ("update", "committed", "editor")
    assert json.loads(undo.changes)["name"] == {
        "before": {"t": "text", "v": "renamed"},
        "after": {"t": "text", "v": "item 1 é"},
    }


def test_revert_a_delete_inserts_the_row_again_but_not_its_cascade(world: World) -> None:
    original = row_of(world, 2)
    delete_row(world, 2)
    assert row_of(world, 2) is None
    (deleted,) = entries(world, 2)
    assert deleted.action == "delete" and deleted.cascade
    page = world.editor.get(f"/{DB}/items/-/revert/{deleted.id}")
    assert page.status_code == 200
    text = Page(page.text).one("main").text()
    assert "ON DELETE CASCADE are not restored" in text
    assert "lines (deleted): 3 rows" in text
    revert(world, deleted.id)
    assert typed(row_of(world, 2)) == typed(original)
    with world.data.connect() as connection:  # the cascade is not restored
        assert connection.scalars(select(lines.c.id).where(lines.c.item_id == 2)).all() == []
    (undo,) = reverting(world, deleted)
    assert (undo.action, undo.outcome) == ("create", "committed")


def test_revert_a_bulk_delete_restores_every_row_in_one_transaction(world: World) -> None:
    originals = {i: row_of(world, i) for i in (4, 5, 6)}
    bulk_delete(world, [4, 5, 6])
    assert all(row_of(world, i) is None for i in (4, 5, 6))
    (entry,) = entries(world, 5)
    page = world.editor.get(f"/{DB}/items/-/revert/{entry.id}")
    assert page.status_code == 200
    text = Page(page.text).one("main").text()
    assert "the 3 rows this bulk delete removed" in text
    assert "lines (deleted): 1 row" in text
    revert(world, entry.id)
    assert {i: typed(row_of(world, i)) for i in (4, 5, 6)} == {
        i: typed(row) for i, row in originals.items()
    }
    undone = reverting(world, entry)
    assert len(undone) == 3  # one entry per row, all of the revert's one transaction
    assert {u.row_key for u in undone} == {"4", "5", "6"}
    assert len({u.batch for u in undone}) == 1
    # Reverting the revert (from any of its rows) deletes all three again, in one batch.
    page = world.editor.get(f"/{DB}/items/-/revert/{undone[0].id}")
    assert page.status_code == 200
    revert(world, undone[0].id)
    assert all(row_of(world, i) is None for i in (4, 5, 6))
    again = reverting(world, undone[0])
    assert sorted((a.action, a.row_key) for a in again) == [
        ("delete", "4"),
        ("delete", "5"),
        ("delete", "6"),
    ]
    assert len({a.batch for a in again}) == 1


def test_reverting_a_restore_refuses_when_one_row_changed_since(world: World) -> None:
    bulk_delete(world, [15, 16])
    (entry,) = entries(world, 15)
    revert(world, entry.id)
    undone = reverting(world, entry)
    edit(world, 16, name="changed after the restore")
    answer = revert(world, undone[0].id, status=409)
    assert "1 of the 2 rows this change created has changed" in answer.text
    assert row_of(world, 15) is not None and row_of(world, 16) is not None


def test_revert_a_create_deletes_the_row(world: World) -> None:
    create(world, 40, "brand new")
    assert row_of(world, 40) is not None
    (created,) = entries(world, 40)
    assert created.action == "create"
    revert(world, created.id)
    assert row_of(world, 40) is None
    (undo,) = reverting(world, created)
    assert (undo.action, undo.outcome) == ("delete", "committed")


def test_a_revert_can_itself_be_reverted(world: World) -> None:
    edit(world, 10, name="ten")
    (changed,) = entries(world, 10)
    revert(world, changed.id)
    newest = entries(world, 10)[0]
    assert newest.revert_of == changed.id
    revert(world, newest.id)
    row = row_of(world, 10)
    assert row is not None and row[1] == "ten"


# --- refusals ----------------------------------------------------------------------------------


def test_a_conflicting_revert_is_refused_and_changes_nothing(world: World) -> None:
    edit(world, 7, name="first")
    edit(world, 7, name="second")
    second, first = entries(world, 7)[:2]
    before = row_of(world, 7), len(all_entries(world))
    page = world.editor.get(f"/{DB}/items/-/revert/{first.id}")
    assert page.status_code == 409
    shown = Page(page.text)
    assert "has changed since this entry" in shown.one("div", "form-problems").text()
    name_row = shown.one("tr", "changed")
    cells = [td.text() for td in name_row.find_all("td")]
    assert cells == ["item 7 é", "first", "second"]  # before, after, now
    assert shown.find("form", "confirm") is None
    answer = revert(world, first.id, status=409)
    assert "Compare the three versions" in answer.text
    assert (row_of(world, 7), len(all_entries(world))) == before
    # a deleted row that came back, and a created row that was edited, refuse too
    delete_row(world, 8)
    (deleted,) = entries(world, 8)
    create(world, 8, "back again")
    assert "exist again" in revert(world, deleted.id, status=409).text
    create(world, 41, "new")
    (created,) = entries(world, 41)
    edit(world, 41, name="edited")
    revert(world, created.id, status=409)
    assert row_of(world, 41) is not None
    assert not reverting(world, first) and not reverting(world, deleted)
    assert not reverting(world, created)
    assert second.id > first.id


def test_values_kept_only_as_a_summary_refuse_plainly(world: World) -> None:
    for i, words in ((3, "'blob'"), (9, "'note'")):
        delete_row(world, i)
        (deleted,) = entries(world, i)
        page = world.editor.get(f"/{DB}/items/-/revert/{deleted.id}")
        assert page.status_code == 409
        message = Page(page.text).one("div", "form-problems").text()
        assert f"The old value of {words}" in message, message
        assert "only as a summary" in message
        answer = revert(world, deleted.id, status=409)
        assert "only as a summary" in answer.text
        assert row_of(world, i) is None and not reverting(world, deleted)


def test_a_viewer_reads_the_history_but_cannot_revert(world: World) -> None:
    edit(world, 11, name="by the editor")
    (entry,) = entries(world, 11)
    page = world.viewer.get(f"/{DB}/items/11/-/history")
    assert page.status_code == 200
    assert "by the editor" in page.text
    assert Page(page.text).find("a", "revert") is None
    before = row_of(world, 11)
    assert world.viewer.get(f"/{DB}/items/-/revert/{entry.id}").status_code == 403
    token = csrf(world.viewer, f"/{DB}/items/11/-/history")
    answer = world.viewer.post(f"/{DB}/items/-/revert/{entry.id}", data={"csrf_token": token})
    assert answer.status_code == 403
    assert row_of(world, 11) == before and not reverting(world, entry)


def test_only_committed_entries_can_be_reverted(world: World) -> None:
    edit(world, 12, name="twelve")
    (entry,) = entries(world, 12)
    with world.state.begin() as connection:
        connection.execute(
            update(AuditEntry).where(AuditEntry.id == entry.id).values(outcome="failed")
        )
    page = world.editor.get(f"/{DB}/items/-/revert/{entry.id}")
    assert page.status_code == 409 and "Only a change that was committed" in page.text
    history_page = Page(world.editor.get(f"/{DB}/items/12/-/history").text)
    assert history_page.find("a", "revert") is None
    assert "rolled back" in history_page.one("li", "entry").text()
    revert(world, entry.id, status=409)
    with world.state.begin() as connection:
        connection.execute(
            update(AuditEntry).where(AuditEntry.id == entry.id).values(outcome="committed")
        )


def test_bad_entry_ids_are_404(world: World) -> None:
    edit(world, 13, name="thirteen")
    (entry,) = entries(world, 13)
    for path in (
        f"/{DB}/items/-/revert/999999",
        f"/{DB}/items/-/revert/0",
        f"/{DB}/items/-/revert/{'9' * 40}",
        f"/{DB}/items/-/revert/abc",
        f"/{DB}/items/-/revert/-1",
        f"/{DB}/lines/-/revert/{entry.id}",  # an entry of another table
        f"/{DB}/nosuch/-/revert/{entry.id}",
    ):
        assert world.editor.get(path).status_code == 404, path
        token = csrf(world.editor, f"/{DB}/items")
        assert world.editor.post(path, data={"csrf_token": token}).status_code == 404, path
    assert world.editor.get(f"/{DB}/items/13/-/history?before=x").status_code == 400
    assert world.editor.get(f"/{DB}/items/{'~' * 3}/-/history").status_code == 404


# --- the pages ---------------------------------------------------------------------------------


def test_the_history_is_newest_first_paged_and_the_row_page_links_to_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with world.data.begin() as connection:
        connection.execute(delete(items).where(items.c.id == 30))
        connection.execute(insert(items), [item(30)])
    for n in range(5):
        edit(world, 30, name=f"name {n}")
    monkeypatch.setattr(history, "PAGE", 2)
    seen: list[str] = []
    path: str | None = f"/{DB}/items/30/-/history"
    while path:
        page = Page(world.editor.get(path).text)
        for li in page.find_all("li", "entry"):
            seen.append(li.one("td", "after").text())
            assert li.one("a", "revert")
        pager = page.find("a", rel="next")
        path = pager.href if pager is not None else None
    assert seen == [f"name {n}" for n in reversed(range(5))]
    row_page = Page(world.editor.get(f"/{DB}/items/30").text)
    line = row_page.one("p", "row-history").text()
    assert line.startswith("Last changed by editor at ") and line.endswith("History")
    assert row_page.one("a", "history-link").href == f"/{DB}/items/30/-/history"
    untouched = Page(world.editor.get(f"/{DB}/items/14").text).one("p", "row-history")
    assert untouched.text() == "History"  # no entry: no "last changed"
    fresh = Page(world.viewer.get(f"/{DB}/items/13").text).one("p", "row-history").text()
    assert "Last changed by editor" in fresh


def test_the_row_page_says_nothing_when_auditing_is_off(world: World) -> None:
    world.app.config["AUDIT"] = False
    try:
        page = Page(world.editor.get(f"/{DB}/items/13").text)
        assert page.find("p", "row-history") is None
        history_page = world.editor.get(f"/{DB}/items/13/-/history")
        assert "Auditing is off" in history_page.text
        assert Page(history_page.text).find("a", "revert") is None
    finally:
        world.app.config["AUDIT"] = True


# --- in a browser --------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Any) -> Iterator[tuple[str, Engine]]:
    """The dashboard (sign-in off, auditing on) on a SQLite copy of the schema, served."""
    from conftest import serving
    from sqlalchemy import create_engine

    from rowboat import create_app

    url = f"sqlite:///{tmp_path / 'journey.sqlite'}"
    engine = create_engine(url)
    create_schema(engine)
    with pytest.MonkeyPatch.context() as mp:
        for name in ("DATABASE_URL", "ROWBOAT_DATABASES", "ROWBOAT_MODELS"):
            mp.delenv(name, raising=False)
        app = create_app(
            {
                "DATABASES": {"j": {"url": url}},
                "DEMO_PATH": str(tmp_path / "demo.sqlite"),
                "STATE_URL": f"sqlite:///{tmp_path / 'state.sqlite'}",
            }
        )
        try:
            with serving(app) as base:
                yield base, engine
        finally:
            engine.dispose()


@pytest.mark.browser
def test_journey_edit_twice_see_the_history_revert(
    browser: Any, served: tuple[str, Engine], shots: Any
) -> None:
    """Edit a row twice; the history shows both diffs; reverting the first is refused (the
    three versions shown); reverting the second, then the first, brings the row back."""
    base, engine = served
    with engine.connect() as connection:
        original = tuple(connection.execute(select(items).where(items.c.id == 1)).one())
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console", lambda m: m.type == "error" and "409" not in m.text and problems.append(m.text)
    )

    def shot(name: str) -> None:
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(shots / f"revert-{name}-{width}.png"), full_page=True)
        page.set_viewport_size({"width": 1366, "height": 900})

    def edit(**fields: str) -> None:
        page.click("a.edit-row")
        for name, value in fields.items():
            page.fill(f"input[name={name}]", value)
        page.click("button.save")
        page.wait_for_selector("div.flash")

    try:
        page.goto(f"{base}/j/items/1")
        assert page.locator("p.row-history").inner_text() == "History"
        edit(name="First edit", price="10.5")
        edit(name="Second edit")
        assert "Last changed by" in page.inner_text("p.row-history")

        page.click("a.history-link")
        entries = page.locator("li.entry")
        assert entries.count() == 2
        newest, first = entries.nth(0), entries.nth(1)
        assert newest.locator("td.before").all_inner_texts() == ["First edit"]
        assert newest.locator("td.after").all_inner_texts() == ["Second edit"]
        assert first.locator("td.before").all_inner_texts() == ["item 1 é", "12345678.1200"]
        assert first.locator("td.after").all_inner_texts()[0] == "First edit"
        shot("history")

        first.locator("a.revert").click()
        problem = page.locator("div.form-problems")
        assert "has changed since this entry" in problem.inner_text()
        changed = page.locator("tr.changed")
        assert changed.count() == 1
        assert changed.locator("td").all_inner_texts() == ["item 1 é", "First edit", "Second edit"]
        assert page.locator("form.confirm").count() == 0
        shot("conflict")

        page.go_back()
        page.locator("li.entry").nth(0).locator("a.revert").click()
        assert page.locator("form.confirm").count() == 1
        shot("confirm")
        page.click("button.revert-confirm")
        page.wait_for_selector("div.flash")
        assert "Reverted entry" in page.inner_text("div.flash")
        entries = page.locator("li.entry")
        assert entries.count() == 3
        assert "revert of" in entries.nth(0).inner_text()
        shot("history-after")

        entries.nth(2).locator("a.revert").click()  # the first edit: now it can be
        page.click("button.revert-confirm")
        page.wait_for_selector("div.flash")
        with engine.connect() as connection:
            now = tuple(connection.execute(select(items).where(items.c.id == 1)).one())
        assert typed(now) == typed(original)
        page.goto(f"{base}/j/items/1")
        assert "item 1 é" in page.inner_text("table.record")

        # A delete whose ON DELETE CASCADE removed rows: the revert page says they stay gone.
        page.goto(f"{base}/j/items/2")
        page.click("a.delete-row")
        page.click("form.confirm button.danger")
        page.wait_for_selector("div.flash")
        page.goto(f"{base}/j/items/2/-/history")
        page.locator("li.entry a.revert").click()
        assert "lines (deleted): 3 rows" in page.inner_text("div.cascade-note")
        shot("cascade")
        page.click("button.revert-confirm")
        page.wait_for_selector("div.flash")
        assert problems == []
    finally:
        context.close()
