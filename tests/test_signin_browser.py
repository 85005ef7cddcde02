"""Sign-in as a person meets it, in a real headless Chromium against a real gunicorn.

The journey starts from nothing: a first start with sign-in on and no user prints the admin's
password on its console; the admin signs in with it, adds an editor, grants them write on one
table of the demo database and signs out; the editor signs in, edits a row of that table (the
value is read back from the database file), sees only that table and a 403 for the others, and
signs out. A second test photographs the sign-in, account, users and user pages on a desktop
and a phone and checks that none of them scrolls sideways. Every page is watched for console
errors and Content-Security-Policy violations.

Screenshots go to $ROWBOAT_SCREENSHOTS, or to a pytest temporary directory.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
GRANTED = "tags"  # the one table the editor may write
OTHERS = ("books", "authors", "employees")
EDITOR, EDITOR_PASSWORD = "erin", "rowing-in-circles"
# Chromium reports a CSP violation as a console error too; this says which directive it was.
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline'));
});
"""


# --- the server: a first start, as `./rowboat serve` does it ----------------------------------


@dataclass
class FirstStart:
    base: str
    password: str
    demo_path: Path
    log: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    def sql(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the demo database directly: expected values do not come from the app."""
        conn = sqlite3.connect(f"file:{self.demo_path}?mode=ro", uri=True)
        try:
            return conn.execute(statement, params).fetchall()
        finally:
            conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def first_start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstStart]:
    """gunicorn serving wsgi:app with sign-in on, a fresh state database and no admin
    password given: the password is read from what the server prints on stderr."""
    folder = tmp_path_factory.mktemp("signin-browser")
    env = {
        name: value
        for name, value in os.environ.items()
        if name
        not in (
            "ROWBOAT_ADMIN_PASSWORD",
            "ROWBOAT_SECRET_KEY",
            "DATABASE_URL",
            "ROWBOAT_DATABASES",
            "ROWBOAT_MODELS",
        )
    }
    env.update(
        ROWBOAT_AUTH="on",
        ROWBOAT_STATE_URL=f"sqlite:///{folder / 'state.sqlite'}",
        ROWBOAT_DEMO_PATH=str(folder / "demo.sqlite"),
        PYTHONPATH=str(ROOT),
    )
    port = _free_port()
    command = [str(Path(sys.executable).parent / "gunicorn"), "-w", "2", "--threads", "4"]
    command += ["-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    log: list[str] = []
    found = threading.Event()
    password: list[str] = []

    def drain() -> None:  # keep reading, or gunicorn blocks on a full pipe
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line)
            match = re.match(r"rowboat:\s+password:\s+(\S+)\s*$", line)
            if match:
                password.append(match.group(1))
                found.set()

    reader = threading.Thread(target=drain, name="gunicorn-stderr", daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=5).read()
                break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("gunicorn did not start:\n" + "".join(log))
                time.sleep(0.2)
        assert found.wait(30), "no password printed on the first start:\n" + "".join(log)
        # Printed once, by the one worker that created the admin.
        assert len(password) == 1, "".join(log)
        yield FirstStart(base, password[0], folder / "demo.sqlite", log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        reader.join(timeout=5)
        if process.stderr is not None:
            process.stderr.close()


# --- watching the pages ---------------------------------------------------------------------


class Watch:
    """Console errors (CSP violations among them), page errors, dialogs, failed requests
    and HTTP errors; a 403 is expected only inside ``expecting_403``."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        self.allow_403 = False
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type not in ("error", "warning"):
            return
        if self.allow_403 and "status of 403" in message.text:
            return  # Chromium logs every error status it loads
        self.problems.append(f"console {message.type}: {message.text}")

    def _failed(self, request: Any) -> None:
        # A page left at once (the redirect after a form) cancels its icon's request.
        icon = urlsplit(request.url).path.endswith("/favicon.svg")  # its URL has ?v=<digest>
        if icon and "ERR_ABORTED" in (request.failure or ""):
            return
        self.problems.append(f"failed: {request.url} ({request.failure})")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and not (self.allow_403 and response.status == 403):
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def check(self) -> None:
        assert self.problems == [], "\n".join(self.problems)


def _new_page(browser: Any, width: int = 1366, height: int = 900) -> tuple[Any, Any, Watch]:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(30_000)  # a limit on hangs, not a speed test
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    return context, page, Watch(page)


def _sign_in(page: Any, server: FirstStart, name: str, password: str) -> None:
    page.goto(server.url("/-/login"))
    # The name box has the focus (autofocus: applied at the next frame, not by load).
    page.wait_for_function("document.activeElement && document.activeElement.id === 'name'")
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_url(server.url("/"))
    assert page.inner_text(".user-menu").count(name) == 1


def _sign_out(page: Any, server: FirstStart) -> None:
    page.click(".user-menu button:has-text('Sign out')")
    page.wait_for_url(server.url("/-/login"))
    assert "Signed out." in page.inner_text("div.flash")
    assert page.locator(".user-menu").count() == 0


def _home_tables(page: Any) -> list[str]:
    return [
        t.strip()
        for t in page.locator("#db-demo table.tables tbody td:first-child a").all_inner_texts()
    ]


# --- the journey ----------------------------------------------------------------------------


def test_first_start_admin_grants_editor_edits(
    browser: Any, first_start: FirstStart, shots: Path
) -> None:
    server = first_start
    context, page, watch = _new_page(browser)
    try:
        # Anonymous: every page sends to the sign-in page, which comes back after it.
        page.goto(server.url("/demo/books"))
        assert urlsplit(page.url).path == "/-/login"
        assert parse_qs(urlsplit(page.url).query) == {"next": ["/demo/books"]}

        # A wrong password first: the page says so and keeps the name.
        page.fill("#name", "admin")
        page.fill("#password", "not-the-password")
        page.click("form.account-form button[type=submit]")
        assert "Wrong name or password." in page.inner_text("[role=alert]")
        assert page.input_value("#name") == "admin"
        watch.check()

        # The admin, with the password printed on the first start.
        _sign_in(page, server, "admin", server.password)
        assert "Users" in page.inner_text(".user-menu")
        assert set(OTHERS + (GRANTED,)) <= set(_home_tables(page))

        # Users page: add an editor with a password of the admin's choosing.
        page.click(".user-menu a:has-text('Users')")
        page.wait_for_url(server.url("/-/users"))
        page.fill("#new-name", EDITOR)
        page.select_option("#new-role", "editor")
        page.fill("#new-password", EDITOR_PASSWORD)
        page.click("button:has-text('Add user')")
        page.wait_for_selector(f"h1:has-text('{EDITOR}')")
        assert "editor" in page.inner_text("h1 small")
        assert page.locator("#new-password").count() == 0  # a given password is not shown again

        # Open their page from the users list and grant write on one table.
        page.click(".user-menu a:has-text('Users')")
        row = page.locator("table.users tr", has_text=EDITOR)
        assert "editor" in row.inner_text() and "none" in row.inner_text()
        row.locator(f"a:has-text('{EDITOR}')").click()
        page.wait_for_url(server.url(f"/-/users/{EDITOR}"))
        assert "No grants" in page.inner_text("main")
        page.select_option("#grant-db", "demo")
        page.fill("#grant-table", GRANTED)
        page.select_option("#grant-level", "write")
        page.click("button:has-text('Grant')")
        page.wait_for_selector("div.flash")
        assert "Grant saved." in page.inner_text("div.flash")
        grants = page.inner_text("table.grants tbody")
        assert GRANTED in grants and "write" in grants
        page.screenshot(path=str(shots / "signin-01-user-granted.png"), full_page=True)
        _sign_out(page, server)
        watch.check()

        # The editor signs in and sees only the granted table.
        _sign_in(page, server, EDITOR, EDITOR_PASSWORD)
        assert "Users" not in page.inner_text(".user-menu")
        assert _home_tables(page) == [GRANTED]
        page.screenshot(path=str(shots / "signin-02-editor-home.png"), full_page=True)

        # Edit a row of it: from the home page, through the list and the row page.
        page.click(f"#db-demo table.tables a:has-text('{GRANTED}')")
        page.wait_for_url(server.url(f"/demo/{GRANTED}"))
        (tag_id,) = server.sql("SELECT min(id) FROM tags")[0]
        page.click(f"table.rows a[href$='/demo/{GRANTED}/{tag_id}']")
        page.wait_for_url(server.url(f"/demo/{GRANTED}/{tag_id}"))
        page.click("a.edit-row")
        page.wait_for_url(server.url(f"/demo/{GRANTED}/{tag_id}/-/edit"))
        page.wait_for_load_state("load")  # edit.js attached before typing, as a person would
        description = "Edited by the editor in Chromium"
        page.fill("[name=description]", description)
        assert page.input_value("[name=description]") == description
        with page.expect_navigation(url=server.url(f"/demo/{GRANTED}/{tag_id}")):
            page.click("button.save")
        # Said on failure: what the page showed instead of the saved row.
        assert page.locator("div.flash").count() == 1, page.inner_text("main")
        stored = server.sql("SELECT description FROM tags WHERE id = ?", tag_id)
        shown = page.inner_text("table.record")
        assert description in shown, (page.inner_text("div.flash"), stored, shown)
        assert server.sql("SELECT description FROM tags WHERE id = ?", tag_id) == [(description,)]

        # Any other table answers 403, its list page and its rows alike.
        watch.allow_403 = True
        for table in OTHERS:
            response = page.goto(server.url(f"/demo/{table}"))
            assert response is not None and response.status == 403, table
        response = page.goto(server.url("/demo/books/1"))
        assert response is not None and response.status == 403
        page.screenshot(path=str(shots / "signin-03-editor-403.png"), full_page=True)
        assert page.locator(".user-menu").count() == 1  # still signed in, told why not
        watch.allow_403 = False
        for url in ("/-/users", f"/-/users/{EDITOR}"):  # and the admins' pages
            watch.allow_403 = True
            response = page.goto(server.url(url))
            assert response is not None and response.status == 403, url
            watch.allow_403 = False

        # Sign out: the sign-in page, and the list page sends there again.
        page.goto(server.url("/"))
        _sign_out(page, server)
        page.goto(server.url(f"/demo/{GRANTED}"))
        assert urlsplit(page.url).path == "/-/login"
        assert parse_qs(urlsplit(page.url).query) == {"next": [f"/demo/{GRANTED}"]}
        watch.check()
    finally:
        context.close()


# --- the pages at two sizes -----------------------------------------------------------------

VIEWPORTS = {"desktop": (1366, 900), "phone": (390, 844)}


# The elements that stick out on the right (their tag, class and right edge), for the message.
_WIDE = """() => [...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
  .map((e) => `${e.tagName.toLowerCase()}.${e.className}`
    + ` ${Math.round(e.getBoundingClientRect().right)}`)
  .slice(0, 8)"""


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    visible = page.evaluate("window.innerWidth")
    assert width <= visible, f"{page.url} is {width}px wide in {visible}: {page.evaluate(_WIDE)}"


@pytest.mark.parametrize("size", VIEWPORTS)
def test_account_pages_fit(browser: Any, first_start: FirstStart, shots: Path, size: str) -> None:
    server = first_start
    width, height = VIEWPORTS[size]
    context, page, watch = _new_page(browser, width, height)

    def shot(name: str) -> None:
        _no_sideways_scroll(page)
        page.screenshot(path=str(shots / f"signin-{size}-{name}.png"), full_page=True)

    try:
        page.goto(server.url("/-/login"))
        shot("login")
        _sign_in(page, server, "admin", server.password)
        shot("home")
        _no_sideways_scroll(page)

        # A token just made: shown once, in full, on the account page.
        page.click(".user-menu a:has-text('admin')")
        page.fill("#token-name", f"nightly export {size}")
        page.click("button:has-text('Make token')")
        page.wait_for_selector("#new-token")
        assert len(page.inner_text("#new-token")) > 20
        shot("account")

        # A user with a grant of each kind, for the users and user pages.
        name = f"viewer-{size}"
        page.goto(server.url("/-/users"))
        page.fill("#new-name", name)
        page.click("button:has-text('Add user')")  # no password: a random one, shown once
        page.wait_for_selector("#new-password")
        shot("user-new")
        for target, level in (("", "read"), (GRANTED, "none")):
            page.fill("#grant-table", target)
            page.select_option("#grant-level", level)
            page.click("button:has-text('Grant')")
            page.wait_for_selector("div.flash")
        page.goto(server.url("/-/users"))
        shot("users")
        page.goto(server.url(f"/-/users/{name}"))
        shot("user")
        watch.check()
    finally:
        context.close()
