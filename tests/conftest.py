"""Fixtures for the database-backed tests: the same edge-case schema on every engine.

``edge_url`` is parametrized over SQLite, PostgreSQL and MariaDB, so every test that uses it
(directly or through ``app`` / ``client``) runs once per engine against a freshly created,
dedicated database. A server that cannot be reached skips its tests on a developer's machine
and fails the run on CI (``CI=true``), where a silent skip would hide a broken setup.
"""

from __future__ import annotations

import collections
import io
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from edge_schema import create_edge_schema
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from werkzeug.datastructures import MultiDict

from rowboat import create_app

ENGINES = ("sqlite", "postgresql", "mariadb")
TEST_DATABASE = "rowboat_test"
# Where each server's administrative connection goes (the test database is created from it).
ADMIN_URLS = {
    "postgresql": "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/mysql",
}
ENV_TO_CLEAR = ("DATABASE_URL", "ROWBOAT_DATABASES", "ROWBOAT_MODELS")


@pytest.fixture(scope="session", autouse=True)
def _state_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Every app the tests create keeps its state database in one temporary SQLite file,
    never ``instance/state.sqlite`` in the checkout (subprocesses inherit the variables).

    Sign-in is off unless a test turns it on (``AUTH=True``): the tests of browsing, editing
    and querying act as the open dashboard; test_signin*.py test the accounts and grants.
    """
    url = f"sqlite:///{tmp_path_factory.mktemp('state') / 'state.sqlite'}"
    wanted = {"ROWBOAT_STATE_URL": url, "ROWBOAT_AUTH": "off"}
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield url
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def dispose_app(application: Flask) -> None:
    """Close the engines an app opened: its databases' and its state database's."""
    for database in application.extensions["rowboat.databases"].values():
        database.engine.dispose()
    application.extensions["rowboat.state"].dispose()


def _unreachable(engine_name: str, exc: BaseException) -> None:
    message = f"{engine_name} server is unreachable: {getattr(exc, 'orig', exc)}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _admin_engine(engine_name: str) -> Engine:
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"}
    engine = create_engine(ADMIN_URLS[engine_name], **options)
    try:
        engine.connect().close()
    except OperationalError as exc:
        engine.dispose()
        _unreachable(engine_name, exc)
    return engine


def _recreate_server_database(engine_name: str, name: str) -> str:
    """Drop and create the database ``name``; return its URL."""
    admin = _admin_engine(engine_name)
    try:
        with admin.connect() as connection:
            if engine_name == "postgresql":
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                connection.execute(text(f"CREATE DATABASE {name} ENCODING 'UTF8'"))
            else:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
                connection.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    finally:
        admin.dispose()
    return (
        make_url(ADMIN_URLS[engine_name]).set(database=name).render_as_string(hide_password=False)
    )


def _drop_server_database(engine_name: str, name: str) -> None:
    admin = _admin_engine(engine_name)
    try:
        with admin.connect() as connection:
            force = " WITH (FORCE)" if engine_name == "postgresql" else ""
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
    finally:
        admin.dispose()


_HELD: collections.Counter[tuple[str, str]] = collections.Counter()


@contextmanager
def _exclusive(engine_name: str, name: str) -> Iterator[None]:
    """Hold a server-wide lock named after the test database while a run uses it.

    Two runs on one machine (a developer's and an editor's, say) would otherwise drop the
    database under each other; with the lock the second waits for the first to finish. Within
    one run the lock is taken once: test modules that import a session fixture each hold their
    own instance of it, and the second must not wait for the first.
    """
    key = (engine_name, name)
    if _HELD[key]:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    admin = _admin_engine(engine_name)
    try:
        with admin.connect() as connection:
            if engine_name == "postgresql":
                connection.execute(text("SET lock_timeout = '15min'"))
                connection.execute(text("SELECT pg_advisory_lock(hashtext(:name))"), {"name": name})
            else:
                got = connection.execute(
                    text("SELECT GET_LOCK(:name, 900)"), {"name": name}
                ).scalar()
                if got != 1:
                    pytest.fail(f"another test run kept {name} on {engine_name} busy")
            _HELD[key] = 1
            try:
                yield  # the lock goes with the connection, closed by dispose() below
            finally:
                _HELD[key] = 0
    finally:
        admin.dispose()


@contextmanager
def fresh_database(
    engine_name: str, name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database called ``name`` (a file on SQLite); yields its URL, drops it after.

    On a server the database is held under a server-wide lock for the whole run, so two test
    runs on one machine take turns instead of dropping it under each other.
    ``ROWBOAT_TEST_DB_SUFFIX`` gives a checkout databases of its own, so two checkouts' runs
    can go side by side instead; and each pytest-xdist worker of a run has its own (``_gw0``).
    """
    name += os.environ.get("ROWBOAT_TEST_DB_SUFFIX", "")
    if "PYTEST_XDIST_WORKER" in os.environ:
        name += "_" + os.environ["PYTEST_XDIST_WORKER"]
    if engine_name == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp(name) / (name + '.sqlite')}"
        return
    with _exclusive(engine_name, name):
        url = _recreate_server_database(engine_name, name)
        try:
            yield url
        finally:
            _drop_server_database(engine_name, name)


@contextmanager
def database_with(
    engine_name: str,
    name: str,
    tmp_path_factory: pytest.TempPathFactory,
    create: Callable[[Engine], None],
) -> Iterator[str]:
    """A fresh database called ``name`` holding what ``create`` puts in it; yields its URL."""
    with fresh_database(engine_name, name, tmp_path_factory) as url:
        engine = create_engine(url)
        try:
            create(engine)
        finally:
            engine.dispose()
        yield url


@contextmanager
def dashboard_for(
    url: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    name: str = "h",
    csrf: bool = True,
    **settings: Any,
) -> Iterator[Flask]:
    """The dashboard serving only ``url``, as database ``name``; its engines disposed after.

    ``csrf=False`` lets a test post forms it built itself without a token."""
    for variable in ENV_TO_CLEAR:
        monkeypatch.delenv(variable, raising=False)
    application = create_app(
        {"DATABASES": {name: {"url": url}}, "DEMO_PATH": str(tmp_path / "demo.sqlite"), **settings}
    )
    application.config["TESTING"] = True
    if not csrf:
        application.config["WTF_CSRF_ENABLED"] = False
    try:
        yield application
    finally:
        dispose_app(application)


def engine_of(url: str) -> str:
    """Which engine a URL points at: "sqlite", "postgresql" or "mariadb"."""
    backend = make_url(url).get_backend_name()
    return "mariadb" if backend == "mysql" else backend


@pytest.fixture(scope="session", params=ENGINES)
def edge_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a fresh database holding the edge-case schema, once per engine."""
    with fresh_database(request.param, TEST_DATABASE, tmp_path_factory) as url:
        engine = create_engine(url)
        try:
            create_edge_schema(engine)
        finally:
            engine.dispose()
        yield url


@pytest.fixture
def engine_name(edge_url: str) -> str:
    """Which engine this test runs on: "sqlite", "postgresql" or "mariadb"."""
    return engine_of(edge_url)


@pytest.fixture
def app(edge_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The dashboard serving only the edge database, under the name ``edge``."""
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    application = create_app(
        {"DATABASES": {"edge": {"url": edge_url}}, "DEMO_PATH": str(tmp_path / "demo.sqlite")}
    )
    application.config["TESTING"] = True
    yield application
    dispose_app(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def edge_engine(app: Flask) -> Engine:
    """The app's own engine on the edge database (the one its requests use)."""
    return app.extensions["rowboat.databases"]["edge"].engine


@pytest.fixture
def count_statements() -> Callable[[Engine], AbstractContextManager[list[str]]]:
    """``with count_statements(engine) as statements:`` records every SQL statement run."""

    @contextmanager
    def counting(engine: Engine) -> Iterator[list[str]]:
        statements: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return counting


# --- reading pages -----------------------------------------------------------------------------

_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "wbr",
}


@dataclass(eq=False)
class Node:
    """An element of a parsed page: just enough DOM to find links, cells and sections."""

    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        """The visible text below this element, whitespace collapsed (entities decoded)."""
        parts: list[str] = []
        for child in self.children:
            parts.append(child if isinstance(child, str) else child.text())
        return " ".join("".join(parts).split())

    def iter(self) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        return [
            node
            for node in self.iter()
            if (tag is None or node.tag == tag)
            and (cls is None or cls in node.classes)
            and all(node.attrs.get(k) == v for k, v in attrs.items())
        ]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node | None:
        found = self.find_all(tag, cls, **attrs)
        return found[0] if found else None

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, cls, **attrs)
        assert len(found) == 1, f"expected one <{tag} class={cls} {attrs}>, found {len(found)}"
        return found[0]

    @property
    def href(self) -> str:
        return self.attrs["href"]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


@dataclass
class ListRow:
    """One row of a list page: its "open" link (None without a key) and its cells by column."""

    open_href: str | None
    cells: dict[str, Node]


class Page:
    """A parsed HTML page, with helpers for the list and row pages' structure."""

    def __init__(self, html: str) -> None:
        builder = _TreeBuilder()
        builder.feed(html)
        builder.close()
        self.html = html
        self.root = builder.root

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        return self.root.find_all(tag, cls, **attrs)

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node | None:
        return self.root.find(tag, cls, **attrs)

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        return self.root.one(tag, cls, **attrs)

    def list_columns(self) -> list[str]:
        """The column names heading a list page's table, in order."""
        names = []
        for th in self.one("table", "rows").one("thead").find_all("th"):
            if "link" in th.classes:
                continue
            link = th.find("a")
            if link is not None:
                names.append(link.text().rstrip(" ▲▼"))
            else:
                names.append(next(c for c in th.children if isinstance(c, str)).strip())
        return names

    def list_rows(self) -> list[ListRow]:
        columns = self.list_columns()
        rows = []
        for tr in self.one("table", "rows").one("tbody").find_all("tr"):
            cells = tr.find_all("td")
            if len(cells) == 1 and "none" in cells[0].classes:
                continue  # "No rows."
            open_href = None
            if cells and "link" in cells[0].classes:
                link = cells.pop(0).find("a")  # none for a row whose key is NULL
                open_href = link.href if link is not None else None
            assert len(cells) == len(columns)
            rows.append(ListRow(open_href, dict(zip(columns, cells))))
        return rows

    def pager_href(self, rel: str) -> str | None:
        """The href of the pager's ``next`` or ``prev`` link, None when there is none."""
        link = self.find("a", rel=rel)
        return link.href if link is not None else None

    def record(self) -> dict[str, Node]:
        """A row page's values by column name."""
        values = {}
        for tr in self.one("table", "record").find_all("tr"):
            th = tr.one("th")
            name = next(c for c in th.children if isinstance(c, str)).strip()
            values[name] = tr.one("td")
        return values


@pytest.fixture
def read() -> Callable[[Any], Page]:
    """``read(response)``: parse a test-client response (or HTML text) into a ``Page``."""

    def parse(response: Any) -> Page:
        html = response if isinstance(response, str) else response.get_data(as_text=True)
        return Page(html)

    return parse


# --- what a browser submits ---------------------------------------------------------------------

_LINE_INPUTS = {"text", "search", "tel", "url", "email", "password"}
_FLOAT = re.compile(r"^-?(\d+(\.\d+)?|\.\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4,}-\d{2}-\d{2}$")


def _tokenized(text: str) -> str:
    """An HTML parser's input preprocessing: every CR and CRLF becomes LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _input_value(node: Any) -> str:
    kind = node.attrs.get("type", "text").lower()
    value = _tokenized(node.attrs.get("value", ""))
    if kind in _LINE_INPUTS:
        return value.replace("\n", "")  # the value sanitization of one-line inputs
    if kind == "number" and not _FLOAT.match(value):
        return ""
    if kind == "date" and not _DATE.match(value):
        return ""
    return value


def browser_submission(
    page: Page, form_class: str = "row-form", files: bool = True
) -> MultiDict[str, Any]:
    """The form data Chromium posts for the form as rendered, untouched.

    An empty file input is posted as an empty file part, as browsers do; ``files=False``
    leaves such inputs out, so the data can be posted more than once."""
    form = page.one("form", form_class)
    data: MultiDict[str, Any] = MultiDict()
    for node in form.iter():
        name = node.attrs.get("name")
        if not name or "disabled" in node.attrs:
            continue
        if node.tag == "input":
            kind = node.attrs.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in node.attrs:
                    data.add(name, node.attrs.get("value", "on"))
            elif kind == "file":
                if files:
                    data.add(name, (io.BytesIO(b""), ""))
            elif kind not in ("submit", "button", "reset", "image"):
                data.add(name, _input_value(node))
        elif node.tag == "textarea":
            text = _tokenized("".join(c for c in node.children if isinstance(c, str)))
            text = text[1:] if text.startswith("\n") else text
            data.add(name, text.replace("\n", "\r\n"))
        elif node.tag == "select":
            options = node.find_all("option")
            chosen = [o for o in options if "selected" in o.attrs]
            if not chosen and "multiple" not in node.attrs and options:
                chosen = options[:1]
            for option in chosen:
                data.add(name, option.attrs.get("value", option.text()))
    return data


# --- headless Chromium -------------------------------------------------------------------------

CHROMIUM = os.environ.get("ROWBOAT_CHROMIUM", "/usr/bin/chromium")
# This machine has no internet: without these flags Chromium keeps trying to reach Google.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium (Debian's) for every browser test, driven by Playwright."""
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing (Debian package 'chromium')"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Where screenshots go: $ROWBOAT_SCREENSHOTS, or a temporary folder (never the repo)."""
    from pathlib import Path

    configured = os.environ.get("ROWBOAT_SCREENSHOTS")
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


@contextmanager
def serving(application: Flask) -> Iterator[str]:
    """Serve ``application`` on a free port of 127.0.0.1 in a thread; yield its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="rowboat-test-server")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        dispose_app(application)
