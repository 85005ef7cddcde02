"""The colour themes of static/*.css, read as text: no browser needed.

Every colour is a variable of :root in static/rowboat.css, so the dark theme (the same variables
redefined) reaches every rule: a literal colour elsewhere would stay light in the dark theme.
The dark values are written twice (for prefers-color-scheme and for the header's explicit
choice) and must stay identical. The pairs of variables that the stylesheets put together meet
WCAG AA in both themes: 4.5:1 for text, 3:1 for the borders of controls and the focus ring.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parent.parent / "static"
COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}\b|\b(?:rgba?|hsla?)\(")
VARIABLE = re.compile(r"(--[\w-]+)\s*:\s*([^;]+);")


def css_text(name: str) -> str:
    return re.sub(r"/\*.*?\*/", "", (STATIC / name).read_text(encoding="utf-8"), flags=re.S)


def blocks(text: str, selector: str) -> list[str]:
    """The bodies of the rules whose selector is exactly ``selector``."""
    found = []
    for match in re.finditer(re.escape(selector) + r"\s*\{", text):
        depth, start = 1, match.end()
        i = start
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        found.append(text[start : i - 1])
    return found


def variables(body: str) -> dict[str, str]:
    return {name: value.strip() for name, value in VARIABLE.findall(body)}


ROWBOAT = css_text("rowboat.css")
LIGHT: dict[str, str] = {}
for body in blocks(ROWBOAT, ":root"):
    LIGHT.update(variables(body))
DARK_MEDIA = blocks(ROWBOAT, ":root:not([data-theme=light])")
DARK_CHOSEN = blocks(ROWBOAT, ":root[data-theme=dark]")


def test_the_dark_values_are_written_once_for_the_system_and_once_for_the_picker() -> None:
    assert len(DARK_MEDIA) == 1 and len(DARK_CHOSEN) == 1
    assert "@media (prefers-color-scheme: dark)" in ROWBOAT
    assert variables(DARK_MEDIA[0]) == variables(DARK_CHOSEN[0])
    assert "color-scheme: dark" in DARK_MEDIA[0] and "color-scheme: dark" in DARK_CHOSEN[0]


def test_dark_redefines_every_colour_variable() -> None:
    dark = variables(DARK_MEDIA[0])
    colours = {name for name, value in LIGHT.items() if COLOUR.search(value)}
    assert colours - set(dark) == set()


@pytest.mark.parametrize("name", sorted(p.name for p in STATIC.glob("*.css")))
def test_no_literal_colour_outside_the_variables(name: str) -> None:
    text = css_text(name)
    for selector in (":root", ":root:not([data-theme=light])", ":root[data-theme=dark]"):
        for body in blocks(text, selector):
            text = text.replace(body, "")
    found = [line.strip() for line in text.splitlines() if COLOUR.search(line)]
    assert found == [], f"{name}: use a variable of :root (static/rowboat.css):\n" + "\n".join(
        found
    )


def luminance(colour: str) -> float:
    hexa = colour.lstrip("#")
    if len(hexa) == 3:
        hexa = "".join(c * 2 for c in hexa)
    channels = [int(hexa[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


TEXT = 4.5
UI = 3.0
BACKGROUNDS = ("--page", "--bg", "--stripe")
# (foreground, background, minimum ratio): the pairs the stylesheets use.
PAIRS = [
    *[
        (fg, bg, TEXT)
        for fg in (
            "--fg",
            "--muted",
            "--accent",
            "--null",
            "--empty",
            "--danger",
            "--warn-fg",
            "--ok-fg",
        )
        for bg in BACKGROUNDS
    ],
    ("--on-accent", "--accent", TEXT),
    ("--on-danger", "--danger-solid", TEXT),
    ("--danger", "--danger-bg", TEXT),
    ("--danger-strong", "--danger-bg", TEXT),
    ("--fg", "--danger-bg", TEXT),
    ("--warn-fg", "--warn-bg", TEXT),
    ("--fg", "--warn-bg", TEXT),
    ("--ok-fg", "--ok-bg", TEXT),
    ("--fg", "--ok-bg", TEXT),
    ("--info-fg", "--info-bg", TEXT),
    ("--accent", "--info-bg", TEXT),
    ("--pk-fg", "--pk-bg", TEXT),
    ("--fk-fg", "--fk-bg", TEXT),
    ("--fg", "--mark-bg", TEXT),
    ("--header-fg", "--header-bg", TEXT),
    ("--header-muted", "--header-bg", TEXT),
    ("--term-fg", "--term-bg", TEXT),
    ("--disabled-fg", "--disabled-bg", TEXT),
    ("--erd-name", "--erd-head", TEXT),
    ("--fg", "--erd-bg", TEXT),
    ("--muted", "--erd-bg", TEXT),
    ("--erd-name", "--erd-focus-head", TEXT),
    ("--control-line", "--page", UI),
    ("--control-line", "--bg", UI),
    ("--header-line", "--header-bg", UI),
    ("--focus", "--page", UI),
    ("--focus", "--bg", UI),
    ("--header-fg", "--header-bg", UI),  # the focus ring inside the header
    ("--error-line", "--page", UI),
    ("--erd-edge", "--erd-bg", UI),
]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_both_themes_meet_wcag_aa(theme: str) -> None:
    values = dict(LIGHT)
    if theme == "dark":
        values.update(variables(DARK_MEDIA[0]))
    failing = [
        f"{fg} on {bg}: {contrast(values[fg], values[bg]):.2f}:1 < {ratio}:1"
        for fg, bg, ratio in PAIRS
        if contrast(values[fg], values[bg]) < ratio
    ]
    assert failing == [], f"{theme}:\n" + "\n".join(failing)
