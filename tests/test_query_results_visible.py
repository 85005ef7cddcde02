"""After Run, the query builder's results start on the first screen, at a laptop's size
(1366x900) and a phone's (390x844), in headless Chromium.

The builder folds into an "Edit the query" line above the results after a run; unfolding it
gives back the whole form as it was. The queries are run by clicking Run in the builder, as a
user does: a small one, and one with every column of two joined tables ticked and a filter
(its SQL is long). Screenshots go to $ROWBOAT_SCREENSHOTS, else a temporary folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ENV_TO_CLEAR, serving

from rowboat import create_app

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}

QUERIES = {
    "small": "/demo/-/query?table=books&join=author",
    "wide": "/demo/-/query?table=books&join=author&join=tags&where=title:contains:e",
}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("results-visible")
    with pytest.MonkeyPatch.context() as mp:
        for name in ENV_TO_CLEAR:
            mp.delenv(name, raising=False)
        app = create_app({"DEMO_PATH": str(folder / "demo.sqlite")})
        with serving(app) as base:
            yield base


@pytest.mark.parametrize("query", list(QUERIES))
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_results_show_on_the_first_screen_after_run(
    browser: Any, base_url: str, shots: Path, viewport: dict[str, int], query: str
) -> None:
    kind = "phone" if viewport is PHONE else "desktop"
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(20_000)
    try:
        page.goto(base_url + QUERIES[query])
        if query == "wide":  # every column of the three tables: a long SELECT list
            boxes = page.locator(".qb-columns input[type=checkbox]")
            for i in range(boxes.count()):
                boxes.nth(i).check()
        with page.expect_navigation():
            page.click("button.qb-run")
        assert "run=1" in page.url
        page.screenshot(path=str(shots / f"query-run-{query}-{kind}.png"))
        first = page.locator("table.qb-results tbody tr").first
        box = first.bounding_box()
        assert box is not None, "no results row"
        scrolled = page.evaluate("window.scrollY")
        assert scrolled == 0, "the page scrolled by itself"
        # Its top inside the window, with a line of it at least (a row can be tall).
        shown = min(box["height"], 40)
        assert 0 <= box["y"] and box["y"] + shown <= viewport["height"], (
            f"the first results row starts at {box['y']:.0f} px, "
            f"below the {viewport['height']} px window"
        )
        print(f"\nFIRST ROW {query} {kind} at {box['y']:.0f} px")
        assert page.locator("table.qb-results tbody td.none").count() == 0  # real rows
        # The builder is folded, not gone: unfolding it gives back the form as it was.
        assert page.locator("form#qb").is_hidden()
        page.click("details.qb-editor > summary")
        assert page.locator("form#qb").is_visible()
        assert page.locator(".qb-join-path").first.inner_text() == "Author"
        page.screenshot(path=str(shots / f"query-run-{query}-{kind}-unfolded.png"))
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= viewport["width"]
    finally:
        page.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_builder_stays_open_before_a_run_and_after_a_failed_one(
    browser: Any, base_url: str, shots: Path, viewport: dict[str, int]
) -> None:
    kind = "phone" if viewport is PHONE else "desktop"
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(20_000)
    try:
        page.goto(base_url + QUERIES["small"])
        assert page.locator("details.qb-editor").count() == 0
        assert page.locator("form#qb").is_visible()
        # A value the column cannot hold: the run fails, the reason shows on the first screen
        # and the form stays open to fix it.
        page.fill(".qb-where input[name=_wv] >> nth=0", "abc")
        page.locator(".qb-where select[name=_wf] >> nth=0").select_option("id")
        page.locator(".qb-where select[name=_wo] >> nth=0").select_option("gt")
        with page.expect_navigation():
            page.click("button.qb-run")
        page.screenshot(path=str(shots / f"query-run-failed-{kind}.png"))
        assert page.locator("form#qb").is_visible()
        error = page.locator(".qb-error")
        assert error.count() == 1
        box = error.bounding_box()
        assert box is not None and box["y"] + box["height"] <= viewport["height"], box
    finally:
        page.close()
