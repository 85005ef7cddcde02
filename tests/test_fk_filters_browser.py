"""Filtering a foreign key by its label in headless Chromium, on the demo database.

books.author_id points at authors (labelled by name): the filter row's value box searches the
authors as the edit form's picker does; a row is picked with the keyboard (ArrowDown, Enter)
and with the mouse; the URL keeps the key, the rows are that author's, the chip reads the
name. A label that names no author, submitted without picking, brings the form back with
the message on its row. At 1366 and 390 px wide; screenshots go to the ``shots`` folder as
fk-filter-<width>-<step>.png, for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from conftest import ENV_TO_CLEAR, serving
from sqlalchemy import create_engine, text

from rowboat import create_app

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
NO_SUCH = "Zzqx no such author"


@pytest.fixture(scope="module")
def demo(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo served, and two authors to pick: each with a name no other author's holds,
    and with books; the second found by a part of its name that few authors share."""
    path = tmp_path_factory.mktemp("fkfilter") / "demo.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        for name in ENV_TO_CLEAR:
            mp.delenv(name, raising=False)
        app = create_app({"DEMO_PATH": str(path)})
        engine = create_engine(f"sqlite:///{path}")
        with engine.connect() as connection:
            authors = connection.execute(text("SELECT id, name FROM authors ORDER BY id")).all()
            books = dict(
                connection.execute(
                    text("SELECT author_id, count(*) FROM books GROUP BY author_id")
                ).all()
            )
        engine.dispose()
        names = [name.casefold() for _, name in authors]

        def holding(part: str) -> int:
            return sum(part.casefold() in n for n in names)

        unique = [(i, n) for i, n in authors if holding(n) == 1 and 0 < books.get(i, 0) <= 40]
        first = unique[0]
        second = next(
            (i, n, part)
            for i, n in unique[1:]
            for part in [n[2:]]
            if len(part) >= 4 and holding(part) <= 10
        )
        with serving(app) as base:
            yield {"base": base, "first": first, "second": second, "books": books}


def _filter_args(url: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in parse_qsl(urlsplit(url).query) if not k.startswith("_")]


# True once the row's list shows rows, each holding the typed text: the answer to what was
# typed, not to an earlier search (the box searches on focus too).
ANSWERED = """([row, term]) => {
  const items = [...row.querySelectorAll("ul.lookup-results li[data-value]")];
  return items.length > 0 && items.every((li) => li.dataset.label.toLowerCase().includes(term));
}"""


def _offered(page: Any, row: Any, term: str) -> None:
    page.wait_for_function(ANSWERED, arg=[row.element_handle(), term.lower()])


def _fits(page: Any) -> None:
    """Nothing wider than the window: the page, and the picker's list of rows."""
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for box in page.locator("ul.lookup-results:visible").all():
        found = box.bounding_box()
        assert found is not None and found["x"] >= 0 and found["x"] + found["width"] <= width


@pytest.mark.parametrize("width", list(WIDTHS))
def test_filter_a_foreign_key_by_its_label(
    browser: Any, demo: dict[str, Any], shots: Any, width: str
) -> None:
    page = browser.new_page(viewport=WIDTHS[width])
    page.set_default_timeout(15_000)
    try:
        author_id, name = demo["first"]
        page.goto(demo["base"] + "/demo/books?_size=50")
        row = page.locator(".filter-row.new")
        value = row.locator("input.filter-value")
        row.locator("select.filter-column").select_option("title")
        assert value.get_attribute("role") is None  # a plain value box: nothing to pick
        row.locator("select.filter-column").select_option("author_id")
        assert value.get_attribute("role") == "combobox"
        assert value.get_attribute("placeholder") == "search authors…"
        value.click()
        typed = name[: max(4, len(name) - 2)]  # part of the name
        value.fill(typed)
        _offered(page, row, typed)
        choice = row.locator(f'ul.lookup-results li[data-value="{author_id}"]')
        # The keyboard: down to the author, Enter picks it (the only row offered, or the first).
        offered = row.locator("ul.lookup-results li[data-value]")
        position = [li.get_attribute("data-value") for li in offered.all()].index(str(author_id))
        for _ in range(position + 1):
            value.press("ArrowDown")
        assert choice.get_attribute("aria-selected") == "true"
        assert value.get_attribute("aria-activedescendant") == choice.get_attribute("id")
        _fits(page)
        page.screenshot(path=str(shots / f"fk-filter-{width}-1-picker.png"))
        value.press("Enter")
        assert value.input_value() == str(author_id)
        assert row.locator(".filter-label").inner_text() == name
        assert row.locator("ul.lookup-results").is_hidden()
        with page.expect_navigation():
            value.press("Enter")  # nothing offered now: Enter applies the form
        assert _filter_args(page.url) == [("author_id__exact", str(author_id))]
        assert (
            page.locator("p.description").inner_text() == f"Where author_id = {name} ({author_id})."
        )
        authors = page.locator('table.rows a.fk[href*="/demo/authors/"]')
        assert authors.count() == demo["books"][author_id]
        assert set(authors.all_inner_texts()) == {name}
        active = page.locator(".filter-row").first
        assert active.locator("input.filter-value").input_value() == str(author_id)
        assert active.locator(".filter-label").inner_text() == name
        page.screenshot(path=str(shots / f"fk-filter-{width}-2-filtered.png"), full_page=True)

        # The mouse: another author, found by part of the name, clicked in the list.
        other_id, other_name, part = demo["second"]
        value = active.locator("input.filter-value")
        value.click()
        value.fill(part)
        _offered(page, active, part)
        choice = active.locator(f'ul.lookup-results li[data-value="{other_id}"]')
        choice.click()
        assert value.input_value() == str(other_id)
        assert active.locator(".filter-label").inner_text() == other_name
        with page.expect_navigation():
            page.locator("form.controls > button[type=submit]:not(.default-submit)").click()
        assert _filter_args(page.url) == [("author_id__exact", str(other_id))]
        authors = page.locator('table.rows a.fk[href*="/demo/authors/"]')
        assert authors.count() == demo["books"][other_id]
        assert set(authors.all_inner_texts()) == {other_name}
        assert other_name in page.locator("p.description").inner_text()

        # A label that names no author, submitted without picking: the form comes back.
        active = page.locator(".filter-row").first
        value = active.locator("input.filter-value")
        value.click()
        value.fill(NO_SUCH)
        active.locator("ul.lookup-results li.more").wait_for()
        with page.expect_navigation() as navigation:
            value.press("Enter")
        assert navigation.value.status == 400
        active = page.locator(".filter-row").first
        assert active.locator("input.filter-value").input_value() == NO_SUCH
        assert active.locator("select.filter-column").input_value() == "author_id"
        problem = active.locator("p.filter-problem")
        assert f"No row of authors is labelled {NO_SUCH!r}" in problem.inner_text()
        assert "pick a row from the list" in problem.inner_text()
        assert page.locator("table.rows").count() == 0
        _fits(page)
        page.screenshot(path=str(shots / f"fk-filter-{width}-3-no-such-label.png"), full_page=True)
    finally:
        page.close()


def test_pick_several_authors_for_an_in_list(browser: Any, demo: dict[str, Any]) -> None:
    page = browser.new_page(viewport=WIDTHS["desktop"])
    page.set_default_timeout(15_000)
    try:
        (first_id, first), (second_id, second, part) = demo["first"], demo["second"][:3]
        page.goto(demo["base"] + "/demo/books")
        row = page.locator(".filter-row.new")
        row.locator("select.filter-column").select_option("author_id")
        row.locator("select.filter-op").select_option("in")
        value = row.locator("input.filter-value")
        value.click()
        value.fill(first)
        _offered(page, row, first)
        row.locator(f'ul.lookup-results li[data-value="{first_id}"]').click()
        assert value.input_value() == str(first_id)
        value.press("End")
        value.press_sequentially(", " + part)  # the text after the last comma is searched
        _offered(page, row, part)
        row.locator(f'ul.lookup-results li[data-value="{second_id}"]').click()
        assert value.input_value() == f"{first_id}, {second_id}"
        assert row.locator(".filter-label").inner_text() == f"{first}, {second}"
        with page.expect_navigation():
            value.press("Enter")
        assert _filter_args(page.url) == [("author_id__in", f"{first_id}, {second_id}")]
        chip = page.locator("p.description").inner_text()
        assert chip == f"Where author_id in {first} ({first_id}), {second} ({second_id})."
        authors = page.locator('table.rows a.fk[href*="/demo/authors/"]')
        assert set(authors.all_inner_texts()) == {first, second}
        assert authors.count() == demo["books"][first_id] + demo["books"][second_id]
    finally:
        page.close()
