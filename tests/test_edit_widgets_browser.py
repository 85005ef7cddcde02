"""The edit form's risky controls in a real headless Chromium.

- A many-to-many field (the demo's book tags): ticked boxes for the linked tags and a search to
  add one. An unchanged save posts the same tags and writes nothing (no link row, no history
  entry); unticking one and adding one by search changes just those two links.
- An editable primary key: read-only until "Change the key" is ticked, then saved as typed,
  the referencing rows following it (ON UPDATE CASCADE).

Screenshots (edit form at 1366 and 390 wide, home and schema pages) go to $ROWBOAT_SCREENSHOTS
or a pytest temporary folder.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ENV_TO_CLEAR, serving
from sqlalchemy import create_engine, insert
from test_key_warning import ROWS, book_follows, metadata

from rowboat import create_app
from rowboat.demo import ensure_demo_database

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def _sql(path: Path, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute(statement, params).fetchall()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """The demo and the key schema (as "k"), both on SQLite, served on one app."""
    directory = tmp_path_factory.mktemp("edit-widgets")
    keys_path = directory / "keys.sqlite"
    engine = create_engine(f"sqlite:///{keys_path}")
    metadata.create_all(engine)
    with engine.begin() as connection:
        for table, rows in ROWS:
            connection.execute(insert(table), rows)
    engine.dispose()
    demo = directory / "demo.sqlite"
    demo_url = ensure_demo_database(str(demo))
    with pytest.MonkeyPatch.context() as mp:
        for name in ENV_TO_CLEAR:
            mp.delenv(name, raising=False)
        app = create_app(
            {
                "DATABASES": {
                    "demo": {"url": demo_url, "models": "rowboat.demo:Base"},
                    "k": {"url": f"sqlite:///{keys_path}"},
                },
                "DEMO_PATH": str(demo),
            }
        )
        with serving(app) as base:
            yield base, demo, keys_path


def _posted_tags(body: str) -> list[str]:
    """The tags a multipart form body chose."""
    return re.findall(r'name="_related:tags"\r\n\r\n([^\r]*)', body)


def _tags(demo: Path, book: int) -> set[int]:
    return {t for (t,) in _sql(demo, "SELECT tag_id FROM book_tags WHERE book_id = ?", book)}


def test_many_to_many_checkboxes_and_search(
    browser: Any, served: tuple[str, Path, Path], shots: Path
) -> None:
    base, demo, _ = served
    book = _sql(demo, "SELECT book_id FROM book_tags GROUP BY book_id HAVING count(*) >= 2")[0][0]
    before = _tags(demo, book)
    names = dict(_sql(demo, "SELECT id, name FROM tags"))
    page = browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.post_data or "") if r.method == "POST" else None)
    try:
        history = f"{base}/demo/books/{book}/-/history"
        page.goto(history)
        entries_before = page.locator("li.entry").count()
        page.goto(f"{base}/demo/books/{book}/-/edit")
        field = page.locator(".field[data-name='_related:tags']")
        assert field.locator("select").count() == 0  # no Ctrl-click multi-select
        linked = field.locator("ul.related-chosen input[type=checkbox]")
        assert {int(v) for v in linked.evaluate_all("els => els.map(e => e.value)")} == before
        assert all(linked.evaluate_all("els => els.map(e => e.checked)"))
        page.screenshot(path=str(shots / "widgets-edit-desktop.png"), full_page=True)
        page.set_viewport_size(PHONE)
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(shots / "widgets-edit-phone.png"), full_page=True)
        assert width <= PHONE["width"], f"the edit form is {width} px wide at 390"
        page.set_viewport_size(DESKTOP)

        # An unchanged save: the same tags posted, no link row written, no history entry.
        with page.expect_navigation():
            page.click("button.save")
        assert page.locator(".flash").inner_text().strip() == "Saved."
        assert {int(t) for t in _posted_tags(posted[0])} == before
        assert _tags(demo, book) == before
        page.goto(history)
        assert page.locator("li.entry").count() == entries_before

        # Untick one linked tag, add another through the search box.
        page.goto(f"{base}/demo/books/{book}/-/edit")
        gone = min(before)
        new = min(set(names) - before)
        box = field.locator(f"ul.related-chosen input[value='{gone}']")
        box.uncheck()
        struck = field.locator(f"ul.related-chosen label:has(input[value='{gone}'])")
        assert "line-through" in struck.evaluate("e => getComputedStyle(e).textDecorationLine")
        search = field.locator("input.lookup-input")
        search.fill(names[new])
        choice = field.locator(f"ul.lookup-results li[data-key='{new}']")
        choice.wait_for()
        choice.dispatch_event("mousedown")
        added = field.locator(f"ul.related-added input[value='{new}']")
        assert added.is_checked()
        page.screenshot(path=str(shots / "widgets-edit-changed.png"), full_page=True)
        posted.clear()
        with page.expect_navigation():
            page.click("button.save")
        assert page.locator(".flash").inner_text().strip() == "Saved."
        assert _tags(demo, book) == (before - {gone}) | {new}
        # The form posts every chosen tag (the form is multipart): the kept ones and the new one.
        assert {int(t) for t in _posted_tags(posted[0])} == (before - {gone}) | {new}
        page.goto(history)
        assert page.locator("li.entry").count() == entries_before + 1  # this save, recorded
        assert errors == []
    finally:
        page.close()


def test_the_key_stays_read_only_until_unlocked(
    browser: Any, served: tuple[str, Path, Path], shots: Path
) -> None:
    base, _, keys_path = served
    page = browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{base}/k/shelf/B/-/edit")
        key = page.locator(".field[data-name='code'] input[name=code]")
        warning = page.locator(".field[data-name='code'] .key-warning")
        assert "they follow the new key" in warning.inner_text()
        assert key.evaluate("e => e.readOnly")
        unlock = warning.locator(".key-unlock input")
        assert unlock.is_visible() and not unlock.is_checked()
        page.screenshot(path=str(shots / "widgets-key-locked.png"), full_page=True)
        unlock.check()
        assert not key.evaluate("e => e.readOnly")
        key.fill("H")
        page.screenshot(path=str(shots / "widgets-key-unlocked.png"), full_page=True)
        with page.expect_navigation():
            page.click("button.save")
        assert page.url == f"{base}/k/shelf/H"
        follows = _sql(keys_path, f"SELECT shelf_code FROM {book_follows.name} WHERE id = 2")
        assert follows == [("H",)]
        # Unticking locks it again.
        page.goto(f"{base}/k/shelf/H/-/edit")
        warning.locator(".key-unlock input").check()
        warning.locator(".key-unlock input").uncheck()
        assert key.evaluate("e => e.readOnly")
    finally:
        page.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_home_and_schema_pages_show_counts_and_query_links(
    browser: Any, served: tuple[str, Path, Path], shots: Path, viewport: dict[str, int]
) -> None:
    base, _, _ = served
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(15_000)
    try:
        suffix = "phone" if viewport is PHONE else "desktop"
        page.goto(f"{base}/")
        page.screenshot(path=str(shots / f"widgets-home-{suffix}.png"), full_page=True)
        page.goto(f"{base}/demo/-/schema")
        page.screenshot(path=str(shots / f"widgets-schema-{suffix}.png"), full_page=True)
        assert page.locator("nav.schema-nav a.query-link").is_visible()
        cells = page.locator("table.schema-tables td.num:nth-child(4)")
        texts = cells.evaluate_all("els => els.map(e => e.textContent.trim())")
        assert texts and "—" not in texts, texts
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"the schema page is {width} px wide"
    finally:
        page.close()
