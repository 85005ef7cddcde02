"""A person editing rows in a real headless Chromium: create a row (choosing its foreign key
with the search box), edit it, hit a unique violation, fix it, delete it, and bulk-delete from
the list page. Each step is photographed into $ROWBOAT_SCREENSHOTS or a pytest temporary
directory; the page is watched for console errors, failed requests and dialogs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import serving
from sqlalchemy import create_engine
from test_edit_support import kinds, metadata, parent, refill

from rowboat import create_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    directory = tmp_path_factory.mktemp("edit-browser")
    url = f"sqlite:///{directory / 'edit.sqlite'}"
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    refill(url)
    with pytest.MonkeyPatch.context() as mp:
        for name in ("DATABASE_URL", "ROWBOAT_DATABASES", "ROWBOAT_MODELS"):
            mp.delenv(name, raising=False)
        # Three parents count as "large" here, so the foreign-key search box is used.
        mp.setattr("rowboat.writes.choices.SMALL_TARGET", 2)
        app = create_app(
            {"DATABASES": {"w": {"url": url}}, "DEMO_PATH": str(directory / "demo.sqlite")}
        )
        with serving(app) as base:
            yield base, url


class Watch:
    """Console errors, failed requests, dialogs and unexpected HTTP errors on the page."""

    def __init__(self, page: Any, expected_statuses: set[int]) -> None:
        self.problems: list[str] = []
        self.expected = expected_statuses
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        page.on("console", self._console)
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type == "error" and "409" not in message.text:
            self.problems.append(f"console: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.status not in self.expected:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def check(self) -> None:
        assert self.problems == [], "\n".join(self.problems)


def test_create_edit_conflict_fix_delete(
    browser: Any, served: tuple[str, str], shots: Path
) -> None:
    base, url = served
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page, {409})
    n = iter(range(1, 100))

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"edit-{next(n):02d}-{name}.png"), full_page=True)

    try:
        # Create: from the list page's "New row" button; the parent comes from the search box.
        page.goto(f"{base}/w/kinds")
        page.click("a.new-row")
        page.fill("input[name=code]", "fresh")
        page.fill("input[name=label]", "Made in Chromium")
        page.check("input[name=flag]")
        page.fill("input[name=amount]", "3.250")
        page.fill("input[name=day]", "2024-05-06")
        search = page.locator("[data-name=parent_id] input.lookup-input")
        search.fill("bet")
        page.wait_for_selector("[data-name=parent_id] ul.lookup-results li[data-value]")
        shot("fk-search")
        page.locator("[data-name=parent_id] ul.lookup-results li[data-value]").first.click()
        assert page.input_value("[data-name=parent_id] input.fk-value") == "2"
        assert page.inner_text("[data-name=parent_id] .fk-label") == "beta"
        shot("new-form")
        page.click("button.save")
        page.wait_for_selector("div.flash")
        assert "Created" in page.inner_text("div.flash")
        created = page.url
        assert "/w/kinds/" in created
        shot("created")

        # Edit: change the label; typing into a NULL field unticks its NULL box.
        page.click("a.edit-row")
        assert page.is_checked("[data-name=body] input[name=_null]")
        page.fill("textarea[name=body]", "Now with a body")
        assert not page.is_checked("[data-name=body] input[name=_null]")
        page.fill("input[name=label]", "Edited")
        page.click("button.save")
        page.wait_for_selector("div.flash")
        assert "Edited" in page.inner_text("table.record")
        shot("edited")

        # A unique violation: the code of another row. The form comes back with the input.
        page.click("a.edit-row")
        page.fill("input[name=code]", "k1")
        page.click("button.save")
        page.wait_for_selector("div.form-problems")
        box = page.locator("[data-name=code]")
        assert "uq_kinds_code" in box.inner_text()
        assert page.input_value("input[name=code]") == "k1"
        shot("unique-violation")
        box.locator("a.conflict-link").wait_for()

        # Fix it and save.
        page.fill("input[name=code]", "fresh2")
        page.click("button.save")
        page.wait_for_selector("div.flash")
        assert "fresh2" in page.inner_text("table.record")
        shot("fixed")

        # Delete: the preview first, then the confirmation.
        page.click("a.delete-row")
        page.wait_for_selector("form.confirm")
        assert page.locator("p.preview-none").count() == 1
        shot("delete-preview")
        page.click("form.confirm button.danger")
        page.wait_for_selector("div.flash")
        assert "Deleted" in page.inner_text("div.flash")
        shot("deleted")

        # A parent with children: the preview counts what goes with it.
        page.goto(f"{base}/w/parent/1/-/delete")
        text = page.inner_text("ul.preview")
        assert "2 rows in child_cascade will be deleted too" in text
        shot("cascade-preview")

        # Bulk delete from the list page.
        page.goto(f"{base}/w/pair")
        button = page.locator("form.bulk-delete button")
        assert button.is_disabled()  # nothing ticked: nothing to delete
        assert button.inner_text() == "Delete selected rows…"
        boxes = page.locator("input[name=_key]")
        boxes.nth(0).check()
        assert button.is_enabled() and button.inner_text() == "Delete 1 selected row…"
        boxes.nth(1).check()
        assert button.inner_text() == "Delete 2 selected rows…"
        shot("bulk-selected")
        page.click("form.bulk-delete button")
        page.wait_for_selector("form.confirm")
        assert page.inner_text("h1") == "Delete 2 rows from pair?"
        page.click("form.confirm button.danger")
        page.wait_for_selector("div.flash")
        assert page.locator("table.rows tbody tr").count() == 1
        shot("bulk-deleted")
        watch.check()
    finally:
        context.close()

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            assert (
                connection.execute(kinds.select().where(kinds.c.code == "fresh2")).first() is None
            )
            assert connection.execute(parent.select()).all()  # the cascade preview deleted nothing
    finally:
        engine.dispose()
