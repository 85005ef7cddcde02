"""The relationship diagram in a real headless Chromium, on every engine.

It checks what only a browser can: the SVG appears at a size a person can read, its boxes do not
overlap and contain their text, hovering a table lights up its links, the zoom buttons work, and
clicking a box opens that table's structure page. Screenshots go to $ROWBOAT_SCREENSHOTS or to a
pytest temporary directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import serving
from flask import Flask
from test_schema_support import TABLES

from rowboat.core.keys import entity_segment

pytestmark = pytest.mark.browser

# The schema database fixtures (schema_url, schema_app, ...) live beside the helpers.
pytest_plugins = ["test_schema_support"]


@pytest.fixture
def base_url(schema_app: Flask) -> Iterator[str]:
    with serving(schema_app) as base:
        yield base


def open_page(browser: Any, base_url: str, problems: list[str]) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: m.type in ("error", "warning") and problems.append(m.text))
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "request",
        lambda r: r.url.startswith(base_url) or problems.append(f"off-site request {r.url}"),
    )
    return page


def test_diagram_renders_and_boxes_open_their_tables(
    browser: Any, base_url: str, shots: Path, schema_engine_name: str
) -> None:
    problems: list[str] = []
    page = open_page(browser, base_url, problems)
    page.goto(base_url + "/s/-/diagram")
    svg = page.locator("svg.erd")
    svg.wait_for(state="visible")
    page.screenshot(path=str(shots / f"diagram-{schema_engine_name}.png"), full_page=True)

    size = svg.bounding_box()
    assert size["width"] > 300 and size["height"] > 200
    boxes = page.locator("svg.erd a.box")
    expected = len(TABLES) + (1 if schema_engine_name == "postgresql" else 0)
    assert boxes.count() == expected
    rects = [boxes.nth(i).bounding_box() for i in range(boxes.count())]
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            apart = (
                a["x"] + a["width"] <= b["x"] + 0.5
                or b["x"] + b["width"] <= a["x"] + 0.5
                or a["y"] + a["height"] <= b["y"] + 0.5
                or b["y"] + b["height"] <= a["y"] + 0.5
            )
            assert apart, (a, b)
    # Every table name fits inside its box (the server sized boxes for the browser's font).
    fits = page.evaluate(
        """() => Array.from(document.querySelectorAll('svg.erd a.box')).every(box => {
            const frame = box.querySelector('rect.frame').getBBox();
            return Array.from(box.querySelectorAll('text')).every(t => {
              const b = t.getBBox();
              return b.x >= frame.x && b.x + b.width <= frame.x + frame.width + 0.5;
            });
        })"""
    )
    assert fits
    assert page.locator("svg.erd path.edge").count() >= 4

    # Hover: the table's foreign keys light up.
    order = page.locator('svg.erd a.box[data-key="order"]')
    order.hover()
    lit = page.locator("svg.erd path.edge.lit")
    assert lit.count() == 3  # order → customer, line item → order, Ünïcode 表 → order
    page.screenshot(path=str(shots / f"diagram-hover-{schema_engine_name}.png"))

    # Zoom out, then back to actual size.
    before = svg.bounding_box()["width"]
    page.get_by_role("button", name="Zoom out").click()
    assert svg.bounding_box()["width"] < before
    page.get_by_role("button", name="1:1").click()
    assert svg.bounding_box()["width"] == pytest.approx(before, abs=1)

    # Click: the box opens the table's structure page.
    segment = entity_segment(None, "o'quote")
    page.locator(f'svg.erd a.box[data-key="{segment}"]').click()
    page.wait_for_url(f"**/s/-/schema/{segment}")
    assert page.locator("h1").inner_text().startswith("o'quote")
    page.screenshot(path=str(shots / f"structure-{schema_engine_name}.png"), full_page=True)
    # The structure page's own diagram: this table and its neighbour, clickable too.
    page.locator('svg.erd a.box[data-key="customer"]').click()
    page.wait_for_url("**/s/-/schema/customer")
    assert page.locator("table.structure-columns tbody tr").count() == 5
    assert problems == []
    page.close()


def test_schema_search_filters_as_you_type(browser: Any, base_url: str, shots: Path) -> None:
    problems: list[str] = []
    page = open_page(browser, base_url, problems)
    page.goto(base_url + "/s/-/schema")
    visible = page.locator("table.schema-tables tbody tr:visible")
    total = visible.count()
    page.fill("#schema-q", "mail")
    assert visible.count() == 1
    assert visible.first.locator("td.name").inner_text() == "customer"
    page.fill("#schema-q", "")
    assert visible.count() == total
    page.screenshot(path=str(shots / "schema-list.png"), full_page=True)
    assert problems == []
    page.close()
