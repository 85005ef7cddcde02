"""Accessibility in headless Chromium: axe-core on every page type, the keyboard, the themes.

axe-core (pinned in tests/package-lock.json, installed by ``./rowboat test`` with ``npm ci`` into
tests/node_modules; never a CDN) runs on every page of test_phone_widths.PAGES at a phone's
width and a laptop's, in the light and the dark colour scheme; no violation of impact serious
or critical may remain. Without axe-core the test skips, saying why, except on CI (CI=true),
where a missing install must fail the run. Screenshots go to $ROWBOAT_SCREENSHOTS (else the
system's temporary folder) as a11y-<scheme>-<width>-<page>.png, for a person to look at.

The keyboard: Tab from a fresh page reaches the skip link first, and Enter on it moves focus
into <main>; ``/`` focuses the page's search box unless one is typing in a field; the query
builder's "follow a relationship…" select does not submit while browsed with the arrow keys.
The theme toggle: a chosen theme is remembered and applied before the page is painted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_phone_widths import DESKTOP, PAGES, PHONE, STATUS, demo_pages, shot_folder

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def axe_script() -> Path:
    if not AXE.exists():
        message = f"{AXE} is missing: run ./rowboat test, or npm ci in tests/"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return AXE


@pytest.fixture(scope="module")
def served(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with demo_pages(browser, tmp_path_factory, "A title edited by the accessibility test") as pages:
        yield pages


def described(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} {v['helpUrl']}")
        for node in v["nodes"][:6]:
            summary = node.get("failureSummary", "").replace("\n", " ")[:240]
            lines.append(f"    {json.dumps(node['target'])}: {summary}")
        if len(v["nodes"]) > 6:
            lines.append(f"    … and {len(v['nodes']) - 6} more")
    return "\n".join(lines)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("name", list(PAGES))
def test_axe_finds_nothing_serious(
    browser: Any,
    served: dict[str, str],
    axe_script: Path,
    name: str,
    viewport: dict[str, int],
    scheme: str,
) -> None:
    context = browser.new_context(viewport=viewport, color_scheme=scheme)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        response = page.goto(served[name])
        assert response is not None and response.status == STATUS.get(name, 200), response
        if name == "diagram":
            page.locator("svg.erd").wait_for(state="visible")
        kind = "phone" if viewport is PHONE else "desktop"
        page.screenshot(
            path=str(shot_folder() / f"a11y-{scheme}-{kind}-{name}.png"), full_page=True
        )
        # Evaluated through the DevTools protocol, which the page's CSP (no inline scripts)
        # does not govern, unlike page.add_script_tag, whose inline <script> it blocks.
        page.evaluate(axe_script.read_text(encoding="utf-8") + "\n;undefined")
        result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        violations = result["violations"]
        every = ", ".join(f"{v['id']}:{v['impact']}:{len(v['nodes'])}" for v in violations)
        print(f"\nAXE {scheme} {kind} {name} {every}")
        blocking = [v for v in violations if v["impact"] in BLOCKING]
        assert not blocking, f"{name} ({scheme}, {kind}):\n" + described(blocking)
    finally:
        context.close()


# --- the keyboard ------------------------------------------------------------------------------


def test_tab_reaches_the_skip_link_first_and_enter_moves_into_main(
    browser: Any, served: dict[str, str]
) -> None:
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(served["list-filtered"])
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement, r = e.getBoundingClientRect();"
            " return {cls: e.className, text: e.textContent.trim(), href: e.getAttribute('href'),"
            " top: r.top, bottom: r.bottom, width: r.width}; }"
        )
        assert focused["cls"] == "skip-link" and focused["text"] == "Skip to content", focused
        assert focused["href"] == "#content"
        # Visible once focused: inside the viewport, not a 1-pixel box.
        assert focused["top"] >= 0 and focused["bottom"] <= PHONE["height"], focused
        assert focused["width"] > 20, focused
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "content"
        # The next Tab lands inside main, past the header's links.
        page.keyboard.press("Tab")
        assert page.evaluate("!!document.activeElement.closest('main')"), page.evaluate(
            "document.activeElement.outerHTML"
        )
    finally:
        page.close()


def test_focus_ring_shows_in_both_themes(browser: Any, served: dict[str, str]) -> None:
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport=DESKTOP, color_scheme=scheme)
        page = context.new_page()
        try:
            page.goto(served["list-filtered"])
            page.keyboard.press("Tab")  # the skip link
            page.keyboard.press("Tab")  # the brand link, in the header
            ring = page.evaluate(
                "() => { const s = getComputedStyle(document.activeElement);"
                " return [s.outlineStyle, s.outlineWidth]; }"
            )
            assert ring[0] == "solid" and ring[1] != "0px", (scheme, ring)
        finally:
            context.close()


@pytest.mark.parametrize(("name", "box"), [("list-filtered", "_search"), ("schema", "q")])
def test_slash_focuses_the_search_box(
    browser: Any, served: dict[str, str], name: str, box: str
) -> None:
    page = browser.new_page(viewport=DESKTOP)
    try:
        page.goto(served[name])
        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.name") == box
        # Typing "/" in a field types it: the shortcut only applies outside fields.
        page.keyboard.press("End")
        page.keyboard.type("a/b")
        value = page.evaluate("document.activeElement.value")
        assert value.endswith("a/b"), value
    finally:
        page.close()


# Records each submission of the query builder's form, and holds it back while asked to.
RECORD_SUBMITS = """() => {
  window.submits = 0;
  window.holdSubmits = true;
  document.getElementById("qb").addEventListener("submit", (event) => {
    window.submits += 1;
    if (window.holdSubmits) event.preventDefault();
  }, true);
}"""


def test_join_select_browses_with_arrows_and_adds_on_enter(
    browser: Any, served: dict[str, str]
) -> None:
    page = browser.new_page(viewport=DESKTOP)
    try:
        page.goto(served["base"] + "/demo/-/query?table=books")
        page.evaluate(RECORD_SUBMITS)
        choice = page.locator("select.qb-join-choice")
        choice.focus()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        shown = choice.input_value()
        assert shown != "", "the arrow keys did not move through the relationships"
        assert page.evaluate("window.submits") == 0, "an arrow key submitted the form"
        page.evaluate("window.holdSubmits = false")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert f"join={shown}" in page.url.replace("%2E", "."), page.url
        # The join is named by its title; its path of names is the title attribute.
        joined = page.locator(".qb-join-path").first
        assert joined.get_attribute("title") == shown.replace(".", " → ")
        assert "_" not in joined.inner_text()
    finally:
        page.close()


def test_diagram_picker_browses_with_arrows_and_opens_on_enter(
    browser: Any, served: dict[str, str]
) -> None:
    page = browser.new_page(viewport=DESKTOP)
    try:
        page.goto(served["diagram"])
        # Leaving the page fires beforeunload at once, within the key's handler.
        page.evaluate("addEventListener('beforeunload', () => { window.leaving = true; })")
        picker = page.locator("#diagram-table")
        picker.focus()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        shown = picker.input_value()
        assert shown != ""
        assert page.evaluate("window.leaving") is None, "an arrow key opened a diagram"
        assert "table=" not in page.url and not page.url.rstrip("/").endswith(shown)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.rstrip("/").endswith("/" + shown), page.url
    finally:
        page.close()


# --- the theme picker --------------------------------------------------------------------------

# The theme when <body> first appears, before anything is painted.
THEME_AT_BODY = """
new MutationObserver((changes, observer) => {
  if (document.body) {
    window.themeAtBody = document.documentElement.getAttribute("data-theme") || "none";
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""


def test_theme_picker_is_remembered_and_applied_before_paint(
    browser: Any, served: dict[str, str]
) -> None:
    context = browser.new_context(viewport=PHONE, color_scheme="light")
    context.add_init_script(THEME_AT_BODY)
    page = context.new_page()
    background = "() => getComputedStyle(document.body).backgroundColor"
    try:
        page.goto(served["home"])
        assert page.evaluate("window.themeAtBody") == "none"
        light = page.evaluate(background)
        picker = page.locator("#theme-choice")
        assert picker.is_visible() and picker.input_value() == "system"
        picker.select_option("dark")
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        dark = page.evaluate(background)
        assert dark != light
        page.screenshot(path=str(shot_folder() / "a11y-picked-dark-phone-home.png"))
        page.goto(served["list-filtered"])
        assert page.evaluate("window.themeAtBody") == "dark"
        assert page.evaluate(background) == dark
        assert page.locator("#theme-choice").input_value() == "dark"
        page.locator("#theme-choice").select_option("system")
        assert page.evaluate("document.documentElement.hasAttribute('data-theme')") is False
        assert page.evaluate(background) == light
    finally:
        context.close()
    # The system's dark setting, with no choice made: dark, and the picker says "System".
    context = browser.new_context(viewport=PHONE, color_scheme="dark")
    page = context.new_page()
    try:
        page.goto(served["home"])
        assert page.evaluate(background) == dark
        assert page.locator("#theme-choice").input_value() == "system"
    finally:
        context.close()
