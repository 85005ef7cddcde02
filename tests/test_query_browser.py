"""The query builder in a real headless Chromium: build a query by clicking, run it, share it.

The journey: pick a table, follow a relationship (the join is added as soon as it is picked),
add an OR group with two conditions, group by a joined column with two aggregates, sort by an
aggregate, run; then open the page's share link in a fresh page and get the same result. Every
page is watched for console errors and failed requests. Screenshots of each step go to
$ROWBOAT_SCREENSHOTS, or to a pytest temporary directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import serving
from sqlalchemy import create_engine
from test_query_support import CUSTOMERS, ORDERS, create_query_schema, make_query_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("query-browser")
    url = f"sqlite:///{folder / 'shop.sqlite'}"
    engine = create_engine(url)
    create_query_schema(engine)
    engine.dispose()
    with pytest.MonkeyPatch.context() as mp:
        for name in ("DATABASE_URL", "ROWBOAT_DATABASES", "ROWBOAT_MODELS"):
            mp.delenv(name, raising=False)
        app = make_query_app(url, folder)
        with serving(app) as base:
            yield base


def _watched_page(browser: Any, problems: list[str]) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    return page


def _results(page: Any) -> list[list[str]]:
    return page.eval_on_selector_all(
        "table.qb-results tbody tr",
        "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))",
    )


def _expected() -> list[list[str]]:
    """Orders with status 'ab' or a VIP customer, per customer region: count and sum."""
    customers = {c["id"]: c for c in CUSTOMERS}
    groups: dict[Any, list[Any]] = {}
    for o in ORDERS:
        c = customers.get(o["customer_id"]) if o["customer_id"] is not None else None
        if c is None:
            continue  # inner join
        if o["status"] == "ab" or c["vip"] is True:
            groups.setdefault(c["region_id"], []).append(o["total"])
    rows = [
        (region, len(totals), sum((t for t in totals if t is not None), Decimal(0)))
        for region, totals in groups.items()
    ]
    rows.sort(key=lambda r: (-r[2], r[0] is not None, r[0] or 0))
    return [["NULL" if r is None else str(r), str(n), f"{s:.2f}"] for r, n, s in rows]


def test_build_run_and_share_a_query(browser: Any, base_url: str, shots: Path) -> None:
    problems: list[str] = []
    page = _watched_page(browser, problems)
    page.goto(f"{base_url}/shop/-/query")
    page.select_option("select[name=table]", "qb_order")
    page.click("text=Build a query")
    page.wait_for_selector("form#qb")
    page.screenshot(path=str(shots / "q1-empty-builder.png"), full_page=True)

    # Picking a relationship adds the join at once (the page reloads with it).
    with page.expect_navigation():
        page.select_option("select.qb-join-choice", "customer")
    assert "join=customer" in page.url
    assert page.locator(".qb-join-path").inner_text() == "Customer"

    # An OR group inside the root group, with two conditions.
    page.click("fieldset[data-group='0'] > .qb-actions .qb-add-group")
    group = page.locator("fieldset.qb-group[data-group='1']")
    assert group.locator("select[name=_gkind]").input_value() == "or"
    first = group.locator(".qb-condition").nth(0)
    first.locator("select[name=_wf]").select_option("status")
    first.locator("select[name=_wo]").select_option("exact")
    first.locator("input[name=_wv]").fill("ab")
    group.locator(".qb-add-condition").first.click()
    second = group.locator(".qb-condition").nth(1)
    second.locator("select[name=_wf]").select_option("customer.vip")
    # Only the operators that fit a boolean are offered, and "is true" takes no value.
    offered = second.locator("select[name=_wo] option:not([disabled])").all_inner_texts()
    assert offered == ["is null", "is not null", "is true", "is false"]
    second.locator("select[name=_wo]").select_option("istrue")
    assert second.locator("input[name=_wv]").is_hidden()

    # Group by the customer's region, count and sum, sorted by the sum.
    page.select_option("[data-list=group] select[name=group]", "customer.region_id")
    aggregates = page.locator("[data-list=agg] .qb-row")
    aggregates.nth(0).locator("select[name=_af]").select_option("count")
    aggregates.nth(0).locator("select[name=_ar]").select_option("*")
    page.click("[data-list=agg] .qb-add")
    aggregates.nth(1).locator("select[name=_af]").select_option("sum")
    aggregates.nth(1).locator("select[name=_ar]").select_option("total")
    page.select_option("[data-list=order] select[name=_of]", "sum")
    page.select_option("[data-list=order] select[name=_or]", "total")
    page.select_option("[data-list=order] select[name=_od]", "desc")
    page.screenshot(path=str(shots / "q2-built.png"), full_page=True)

    with page.expect_navigation():
        page.click("button.qb-run")
    page.screenshot(path=str(shots / "q3-results.png"), full_page=True)
    assert page.locator("table.qb-results").count() == 1, page.url
    page.screenshot(path=str(shots / "q3-results.png"), full_page=True)
    description = page.locator("p.qb-description").inner_text()
    assert "where (status = 'ab' or Customer.vip is true)" in description
    assert "grouped by Customer.region_id" in description
    sql = page.locator("pre.sql").inner_text()
    assert "JOIN qb_customer AS customer" in sql and "GROUP BY" in sql and " OR " in sql
    result = _results(page)
    assert result == _expected()

    # The share link reproduces the result in a new page.
    link = page.locator("input.qb-share").input_value()
    assert link.startswith(base_url) and "run=1" in link
    other = _watched_page(browser, problems)
    other.goto(link)
    other.wait_for_selector("table.qb-results")
    other.screenshot(path=str(shots / "q4-shared.png"), full_page=True)
    assert _results(other) == result
    assert other.locator("pre.sql").inner_text() == sql

    # The back button returns to the builder before it ran.
    page.go_back()
    assert "run=1" not in page.url and "join=customer" in page.url
    assert problems == []
    page.close()
    other.close()
