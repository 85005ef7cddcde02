"""A list page too slow to read, in headless Chromium: it says so in place of its rows, keeps its
breadcrumbs and form, and "without the sort" opens the list. Error pages keep their way back.

The table's ``heavy`` column is computed from each row by an expression that takes about
0.2 ms on a quiet machine (SQLite's virtual generated column): a page of rows in primary-key
order computes it fifty times (20 ms), a page sorted by it, filtered to 11,111 rows, as many
times (over 4 s, four times the one-second statement limit the app is given; at a fifth of
that the sort once finished within the limit on a quiet machine). Screenshots at 1366x900
and 390x844 go to $ROWBOAT_SCREENSHOTS, else a temporary folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ENV_TO_CLEAR, serving
from sqlalchemy import create_engine, text

from rowboat import create_app

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
SLOW = "/shop/orders?_sort=heavy&name__contains=order+1"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("timeout-browser")
    url = f"sqlite:///{folder / 'shop.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE orders (id INTEGER PRIMARY KEY, name VARCHAR(40), v INTEGER)")
        )
        connection.execute(
            text(
                "INSERT INTO orders (name, v) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
                "SELECT x + 1 FROM c WHERE x < 20000) SELECT 'order ' || x, (x * 7919) % 10007 "
                "FROM c"
            )
        )
        # Added after the rows, so that inserting them does not compute it.
        connection.execute(
            text(
                "ALTER TABLE orders ADD COLUMN heavy TEXT GENERATED ALWAYS AS "
                "(length(hex(zeroblob(200000 + v % 7))) || '-' || v) VIRTUAL"
            )
        )
    engine.dispose()
    with pytest.MonkeyPatch.context() as mp:
        for name in ENV_TO_CLEAR:
            mp.delenv(name, raising=False)
        app = create_app(
            {
                "DATABASES": {"shop": url},
                "DEMO_PATH": str(folder / "demo.sqlite"),
                "STATEMENT_TIMEOUT": 1.0,
            }
        )
        with serving(app) as base:
            yield base


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_slow_list_offers_its_way_out(
    browser: Any, base_url: str, shots: Path, viewport: dict[str, int]
) -> None:
    kind = "phone" if viewport is PHONE else "desktop"
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(20_000)
    try:
        page.goto(base_url + "/shop/orders")  # the page that led to the slow one
        with page.expect_navigation():
            page.locator("th a.sort", has_text="heavy").click()
        with page.expect_navigation():
            page.fill("input[name=_fv] >> nth=-1", "order 1")
            page.locator("select[name=_fc] >> nth=-1").select_option("name")
            page.locator("select[name=_fo] >> nth=-1").select_option("contains")
            page.click("form#list-form button[type=submit]:not(.default-submit):not(.remove)")
        assert "_sort=heavy" in page.url and "name__contains=order+1" in page.url, page.url
        response = page.reload()
        assert response is not None and response.status == 504
        page.screenshot(path=str(shots / f"timeout-list-{kind}.png"), full_page=True)
        problem = page.locator("section.unfinished")
        assert problem.is_visible()
        assert "This page took longer than 1 s" in problem.inner_text()
        assert page.locator("nav.crumbs a").all_inner_texts() == ["shop", "orders"]
        # The form as it was: the filter row and the sort.
        assert page.locator("select[name=_fc] >> nth=0").input_value() == "name"
        assert page.locator("input[name=_fv] >> nth=0").input_value() == "order 1"
        assert page.locator("input[name=_sort]").input_value() == "heavy"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"the page lays out {width} px wide"
        # The ways back: the page that led here (the sorted list, before the filter), the
        # database, home.
        ways = page.locator("section.unfinished .way-back a")
        assert ways.all_inner_texts() == ["Try again", "Go back", "Database shop", "Home"]
        assert page.locator(".way-back a.back").get_attribute("href") == (
            base_url + "/shop/orders?_sort=heavy"
        )
        # Without the sort: the list, still filtered.
        with page.expect_navigation():
            page.click("section.unfinished a.drop-sort")
        assert "_sort" not in page.url and "name__contains=order+1" in page.url
        page.locator("table.rows tbody tr").first.wait_for()
        assert page.locator("section.unfinished").count() == 0
        first = page.locator("table.rows tbody tr").first.inner_text()
        assert "order 1" in first
        page.screenshot(path=str(shots / f"timeout-list-{kind}-without-sort.png"))
    finally:
        page.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_missing_row_keeps_its_way_back(
    browser: Any, base_url: str, shots: Path, viewport: dict[str, int]
) -> None:
    kind = "phone" if viewport is PHONE else "desktop"
    page = browser.new_page(viewport=viewport)
    try:
        page.goto(base_url + "/shop/orders?name__contains=order+2")
        here = base_url + "/shop/orders?name__contains=order+2"
        response = page.goto(base_url + "/shop/orders/999999", referer=here)
        assert response is not None and response.status == 404
        page.screenshot(path=str(shots / f"error-404-row-{kind}.png"), full_page=True)
        assert page.locator("nav.crumbs a").all_inner_texts() == ["shop", "orders"]
        with page.expect_navigation():
            page.click(".way-back a.parent")
        assert page.url == base_url + "/shop/orders"
        page.go_back()
        with page.expect_navigation():
            page.click(".way-back a.back")  # the referring page, with its filter
        assert page.url.endswith("/shop/orders?name__contains=order+2")
    finally:
        page.close()
