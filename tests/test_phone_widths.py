"""Every page type at a phone's width (390 px) and a laptop's (1366 px), in headless Chromium.

What must hold on each: the page itself never scrolls sideways (a wide table scrolls inside its
own box), and every visible control, button and link lies inside the viewport horizontally, or
inside a box that scrolls sideways by itself and is itself inside the viewport. The demo
database has every kind of page; its books table has many columns, a many-to-many field and a
binary column. Screenshots of each page go to $ROWBOAT_SCREENSHOTS, else the system's temporary
folder, as phone-<page>.png and desktop-<page>.png, for a person to look at.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import ENV_TO_CLEAR, serving

from rowboat import create_app

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}

LIST = "/demo/books?title__contains=the&_size=20"
# Page name -> path on the demo database; the list's page 2 is found, and the history made, first.
PAGES: dict[str, str | None] = {
    "home": "/",
    "database": "/demo",
    "list-filtered": LIST,
    "list-page2": None,
    "row": "/demo/books/1",
    "row-employee": "/demo/employees/1",
    "row-link-table": "/demo/book_tags/1,28",
    "edit": "/demo/books/2/-/edit",
    "new": "/demo/books/-/new",
    "delete": "/demo/books/3/-/delete",
    "schema": "/demo/-/schema",
    "structure": "/demo/-/schema/books",
    "ddl": "/demo/-/schema/books#ddl",
    "structure-employees": "/demo/-/schema/employees",
    "diagram": "/demo/-/diagram",
    "drift": "/demo/-/drift",
    "query": "/demo/-/query?table=books&join=author&run=1",
    "history": "/demo/books/1/-/history",
    "audit": "/-/audit",
    "error-404": "/demo/no_such_table",
    "error-400": "/demo/books?no_such_column__exact=1",
}
STATUS = {"error-404": 404, "error-400": 400}

# Every visible control outside the viewport horizontally, unless a box between it and the page
# scrolls sideways by itself and that box is inside the viewport. Offscreen helpers marked
# aria-hidden (the list form's hidden default button) are not controls a person reaches.
OUTSIDE = """() => {
  const width = document.documentElement.clientWidth;
  const inside = (r) => r.left >= -1 && r.right <= width + 1;
  const scroller = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const x = getComputedStyle(p).overflowX;
      if (x === "auto" || x === "scroll" || x === "hidden") return p;
    }
    return null;
  };
  const out = [];
  const controls = "a[href], button, input, select, textarea, summary, [tabindex]";
  for (const el of document.querySelectorAll(controls)) {
    if (el.type === "hidden" || el.closest("[aria-hidden=true]")) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (getComputedStyle(el).visibility === "hidden") continue;
    if (inside(r)) continue;
    const box = scroller(el);
    if (box && box.scrollWidth > box.clientWidth && inside(box.getBoundingClientRect())) continue;
    if (box && getComputedStyle(box).overflowX === "hidden") continue;  // clipped: not shown
    const name = (el.textContent || el.name || el.value || "").trim().slice(0, 40);
    out.push(`${el.tagName.toLowerCase()}.${el.className} "${name}" ` +
             `${Math.round(r.left)}..${Math.round(r.right)}`);
  }
  return out;
}"""


# Links and buttons that must read as whole words: a pager link, an export link, a tab, a button
# broken over two lines reads as a column of single words. Breadcrumbs are names, and may wrap.
BROKEN = """() => {
  const out = [];
  const words = "nav a, nav span, nav button, .exports a, .qb-links a, a.button, button";
  for (const el of document.querySelectorAll(words)) {
    if (el.closest("nav.crumbs, [aria-hidden=true]")) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const cs = getComputedStyle(el);
    let lines;
    if (cs.display === "inline") {
      lines = new Set([...el.getClientRects()].map((q) => Math.round(q.top))).size;
    } else {
      const line = parseFloat(cs.lineHeight) || parseFloat(cs.fontSize) * 1.2;
      const inner = r.height - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom) -
                    parseFloat(cs.borderTopWidth) - parseFloat(cs.borderBottomWidth);
      lines = Math.round(inner / line);
    }
    if (lines > 1) out.push(`${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 40)}"`);
  }
  return out;
}"""


def shot_folder() -> Path:
    return Path(os.environ.get("ROWBOAT_SCREENSHOTS") or tempfile.gettempdir())


@contextmanager
def demo_pages(
    browser: Any, tmp_path_factory: pytest.TempPathFactory, edited_title: str
) -> Iterator[dict[str, str]]:
    """The demo served; a book edited (for its history page); the list's page 2 found. Yields
    each page's URL by its name in PAGES, and the base URL as "base"."""
    directory = tmp_path_factory.mktemp("demo-pages")
    with pytest.MonkeyPatch.context() as mp:
        for name in ENV_TO_CLEAR:
            mp.delenv(name, raising=False)
        app = create_app({"DEMO_PATH": str(directory / "demo.sqlite")})
        with serving(app) as base:
            page = browser.new_page(viewport=DESKTOP)
            page.set_default_timeout(15_000)
            page.goto(base + "/demo/books/1/-/edit")
            page.fill("[name=title]", edited_title)
            with page.expect_navigation():
                page.click("button.save")
            page.goto(base + LIST)
            following = page.locator("nav.pager a.next").first.get_attribute("href")
            assert following, "the filtered list has a single page"
            page.close()
            paths = {name: path or following for name, path in PAGES.items()}
            paths["base"] = ""
            yield {name: base + path for name, path in paths.items()}


@pytest.fixture(scope="module")
def served(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with demo_pages(browser, tmp_path_factory, "A title edited on a phone-width test") as pages:
        yield pages


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("name", list(PAGES))
def test_page_fits_the_width(
    browser: Any, served: dict[str, str], name: str, viewport: dict[str, int]
) -> None:
    page = browser.new_page(viewport=viewport)
    try:
        response = page.goto(served[name])
        assert response is not None and response.status == STATUS.get(name, 200), response
        if name == "diagram":
            page.locator("svg.erd").wait_for(state="visible")
        kind = "phone" if viewport is PHONE else "desktop"
        page.screenshot(path=str(shot_folder() / f"{kind}-{name}.png"), full_page=True)
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        inner_width = page.evaluate("window.innerWidth")
        print(f"\nWIDTH {kind} {name} {scroll_width}")
        assert scroll_width <= inner_width, f"{name} lays out {scroll_width} px wide"
        outside = page.evaluate(OUTSIDE)
        assert outside == [], f"{name}: controls out of reach:\n" + "\n".join(outside)
        broken = page.evaluate(BROKEN)
        assert broken == [], f"{name}: links or buttons broken over lines:\n" + "\n".join(broken)
    finally:
        page.close()
