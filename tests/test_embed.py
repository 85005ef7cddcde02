"""Rowboat mounted inside a host Flask application (``rowboat.Rowboat``), as the README shows.

The host is a small blog: Flask-SQLAlchemy models (users with an ``is_admin`` flag, posts),
Flask-Login sign-in on its own ``/login``, its own ``/`` page. Rowboat is mounted at ``/admin``
in three lines and the host's role hook decides: alice (an admin) may edit, carol reads, bob is
refused, an anonymous visitor is sent to the host's sign-in page. Runs on a SQLite file and on
PostgreSQL, through the test client, and once in headless Chromium.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import ENV_TO_CLEAR, Page, browser_submission, dispose_app, fresh_database
from flask import Flask, redirect, request
from flask.testing import FlaskClient
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, String, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from rowboat import Rowboat
from rowboat.auth import directory
from rowboat.config import _name_from_url
from rowboat.embed import flask_login_role
from rowboat.state.models import AuditEntry


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    is_admin: Mapped[bool] = mapped_column(default=False)


class Post(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


def role_of(user: User) -> str | None:
    if user.is_admin:
        return "admin"
    return "viewer" if user.username == "carol" else None


def create_host(
    url: str,
    instance: Path,
    templates: Path,
    host_config: dict[str, Any] | None = None,
    **rowboat: Any,
) -> Flask:
    """The host application, as its own developer would write it, plus the three lines."""
    host = Flask(__name__, instance_path=str(instance), template_folder=str(templates))
    host.config.update(SECRET_KEY="host-secret", SQLALCHEMY_DATABASE_URI=url, **(host_config or {}))
    db.init_app(host)
    login = LoginManager(host)
    login.login_view = "login"

    @login.user_loader
    def load_user(user_id: str) -> User | None:
        return db.session.get(User, int(user_id))

    @host.get("/")
    def index() -> str:
        who = current_user.username if current_user.is_authenticated else "stranger"
        posts = db.session.scalars(select(Post).order_by(Post.id)).all()
        return f"Hello {who}; " + ", ".join(post.title for post in posts)

    @host.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        if request.method == "POST":
            user = db.session.scalar(select(User).filter_by(username=request.form["username"]))
            if user is None:
                return "no such user", 400
            login_user(user)
            return redirect(request.args.get("next") or "/")
        return '<form method="post"><input name="username"><button>Sign in</button></form>'

    @host.get("/logout")
    def logout() -> Any:
        logout_user()
        return redirect("/")

    with host.app_context():
        db.create_all()
        if db.session.scalar(select(User).limit(1)) is None:
            alice = User(username="alice", is_admin=True)
            db.session.add_all([alice, User(username="bob"), User(username="carol")])
            db.session.flush()
            db.session.add_all(
                [Post(title=f"Post {n}", body="…", author_id=alice.id) for n in (1, 2, 3)]
            )
            db.session.commit()

    # The three lines of the README:
    options = {"role": flask_login_role(role_of), **rowboat}
    Rowboat(host, models=db, url_prefix="/admin", **options)
    return host


def close_host(host: Flask) -> None:
    dispose_app(host.extensions["rowboat"])
    with host.app_context():
        for engine in db.engines.values():
            engine.dispose()


@dataclass
class World:
    host: Flask
    url: str
    name: str  # the Rowboat database the host's SQLALCHEMY_DATABASE_URI became
    instance: Path

    def client(self, user: str | None = None) -> FlaskClient:
        client = self.host.test_client()
        if user is not None:
            answer = client.post("/login", data={"username": user})
            assert answer.status_code == 302
        return client

    def state(self) -> Session:
        engine = create_engine(f"sqlite:///{self.instance / 'rowboat-state.sqlite'}")
        return Session(engine)


@pytest.fixture(scope="module", params=("sqlite", "postgresql"))
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("embed")
    templates = tmp / "templates" / "rowboat"
    templates.mkdir(parents=True)
    # The host replaces one of Rowboat's templates with its own.
    (templates / "error.html").write_text(
        '<!doctype html><p class="host-error">{{ status }}: {{ message }}</p>'
    )
    with fresh_database(request.param, "rowboat_embed", tmp_path_factory) as url:
        with pytest.MonkeyPatch.context() as mp:
            for name in (*ENV_TO_CLEAR, "ROWBOAT_STATE_URL"):
                mp.delenv(name, raising=False)  # the state database: the host's instance folder
            host = create_host(url, tmp / "instance", tmp / "templates")
        try:
            yield World(host, url, _name_from_url(url), tmp / "instance")
        finally:
            close_host(host)


def test_anonymous_is_sent_to_the_hosts_sign_in(world: World) -> None:
    client = world.client()
    answer = client.get(f"/admin/{world.name}/posts?_size=2")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login?next=%2Fadmin%2F" + world.name + (
        "%2Fposts%3F_size%3D2"
    )
    assert client.get("/admin/").headers["Location"] == "/login?next=%2Fadmin%2F"
    # Scripts get 401, never a page; writes are refused the same way.
    assert client.get("/admin/-/audit.csv").status_code == 401
    assert client.post(f"/admin/{world.name}/posts/1/-/edit").status_code == 302
    # Static files are public, under the prefix.
    css = client.get("/admin/static/rowboat.css")
    assert css.status_code == 200 and b"{" in css.data
    css.close()


def test_rowboats_own_sign_in_is_not_used(world: World) -> None:
    client = world.client("alice")
    for path in ("/-/login", "/-/account", "/-/users"):
        answer = client.get("/admin" + path)
        assert answer.status_code == 404, path
        assert "Sign-in is the host application" in answer.text
    page = client.get("/admin/").text
    assert "Sign out" not in page and "/admin/-/account" not in page
    assert '<span class="user-name">alice</span>' in page


def test_a_host_approved_admin_edits_a_row(world: World) -> None:
    client = world.client("alice")
    home = Page(client.get("/admin/").text)
    assert f"/admin/{world.name}" in [a.attrs.get("href") for a in home.find_all("a")]
    assert "/admin/static/rowboat.css" in home.html
    listing = client.get(f"/admin/{world.name}/posts")
    assert listing.status_code == 200
    rows = Page(listing.text).list_rows()
    assert [row.cells["title"].text() for row in rows] == ["Post 1", "Post 2", "Post 3"]
    assert rows[0].open_href == f"/admin/{world.name}/posts/1"
    assert client.get(rows[0].open_href).status_code == 200

    form = client.get(f"/admin/{world.name}/posts/1/-/edit")
    assert form.status_code == 200
    data = browser_submission(Page(form.text), files=False)
    assert data["csrf_token"]
    data["title"] = "Edited through the host"
    forged = data.copy()
    forged.pop("csrf_token")
    assert client.post(f"/admin/{world.name}/posts/1/-/edit", data=forged).status_code == 400
    saved = client.post(f"/admin/{world.name}/posts/1/-/edit", data=data)
    assert saved.status_code == 302
    assert saved.headers["Location"] == f"/admin/{world.name}/posts/1"
    assert "Edited through the host" in client.get(saved.headers["Location"]).text
    with world.host.app_context():
        assert db.session.get(Post, 1).title == "Edited through the host"

    with world.state() as state:
        entry = state.scalars(
            select(AuditEntry).where(AuditEntry.table == "posts").order_by(AuditEntry.id.desc())
        ).first()
        state.get_bind().dispose()  # type: ignore[union-attr]
    assert entry is not None and entry.user_name == "alice" and entry.action == "update"
    assert entry.database == world.name
    audit = client.get("/admin/-/audit")
    assert audit.status_code == 200 and "alice" in audit.text


def test_roles_from_the_hook(world: World) -> None:
    bob = world.client("bob")  # signed in on the host, but the hook gives him no role
    refused = bob.get("/admin/")
    assert refused.status_code == 403
    assert 'class="host-error"' in refused.text  # the host's own template for Rowboat's errors
    assert "does not let you open it" in refused.text
    css = bob.get("/admin/static/rowboat.css")
    assert css.status_code == 200
    css.close()

    carol = world.client("carol")  # a viewer: reads everything, changes nothing
    assert carol.get(f"/admin/{world.name}/posts/2").status_code == 200
    assert carol.get(f"/admin/{world.name}/posts/2/-/edit").status_code == 403
    assert carol.get("/admin/-/audit").status_code == 200


def test_the_hosts_routes_and_session_are_untouched(world: World) -> None:
    client = world.client("alice")
    assert client.get("/").text.startswith("Hello alice;")
    answer = client.get(f"/admin/{world.name}/posts/1/-/edit")  # Rowboat's session: CSRF
    cookies = answer.headers.getlist("Set-Cookie")
    assert cookies and all(c.startswith("rowboat_session=") for c in cookies)
    assert all("Path=/admin;" in c for c in cookies)
    assert client.get_cookie("session") is not None  # the host's, still there
    assert client.get_cookie("rowboat_session", path="/admin") is not None
    assert client.get("/").text.startswith("Hello alice;")
    # Only /admin and below are Rowboat's.
    assert client.get("/administrator").status_code == 404
    assert b"Rowboat" not in client.get("/administrator").data
    assert client.get("/login").status_code == 200
    # Signing out on the host signs out of the dashboard too.
    client.get("/logout")
    assert client.get("/admin/").status_code == 302


def test_without_a_role_hook_everyone_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'blog.sqlite'}"
    with caplog.at_level(logging.WARNING, logger="rowboat.embed"):
        host = create_host(url, tmp_path / "instance", tmp_path / "templates", role=None)
    try:
        assert "without a role hook" in caplog.text
        client = host.test_client()
        client.post("/login", data={"username": "alice"})
        answer = client.get("/admin/")
        assert answer.status_code == 403
        assert "role=flask_login_role" in answer.text
        assert "/admin/-/audit" not in answer.text  # no menu for a caller who may not come in
    finally:
        close_host(host)


def test_the_hosts_flask_command_runs_rowboats(world: World) -> None:
    """``flask rowboat …`` on the host: hide a column, the audit log's retention, the state
    database's migrations, each on the mounted dashboard's own settings and state database."""
    runner = world.host.test_cli_runner()

    def run(*args: str) -> str:
        result = runner.invoke(args=["rowboat", *args])
        assert result.exit_code == 0, result.output
        return str(result.output)

    listed = run("--help")
    assert all(name in listed for name in ("audit", "state", "hide", "unhide"))
    assert "users" not in listed  # the host signs people in: no accounts of Rowboat's
    admin = world.client("alice")
    page = f"/admin/{world.name}/users"
    assert "is_admin" in admin.get(page).text
    said = run("hide", world.name, "users", "is_admin")
    assert f"{world.name}: users.is_admin is hidden." in said
    try:
        time.sleep(directory.TTL + 0.05)  # a command is another process: seen within the TTL
        assert "is_admin" not in admin.get(page).text
    finally:
        said = run("unhide", world.name, "users", "is_admin")
    assert "is shown again" in said
    time.sleep(directory.TTL + 0.05)
    assert "is_admin" in admin.get(page).text
    assert "Deleted 0 audit entries older than 30 days." in run("audit", "prune", "--days", "30")
    current, head = run("state", "current").strip().removesuffix(")").split(" (head: ")
    assert current == head  # the mounted dashboard migrated its state database on start


def test_the_hosts_connect_args_reach_rowboats_engines(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database may need its engine options to be reached at all (TLS files, a server's
    options): Rowboat's own engines take the host's ``connect_args``, for the default engine and
    for each bind, and keep their own statement time limit."""
    for name in (*ENV_TO_CLEAR, "ROWBOAT_STATE_URL"):
        monkeypatch.delenv(name, raising=False)
    tmp = tmp_path_factory.mktemp("embed_options")
    with fresh_database("postgresql", "rowboat_embed_options", tmp_path_factory) as url:
        host = create_host(
            url,
            tmp / "instance",
            tmp / "templates",
            host_config={
                "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"application_name": "blog-web"}},
                "SQLALCHEMY_BINDS": {
                    "stats": {"url": url, "connect_args": {"application_name": "blog-stats"}}
                },
            },
            STATEMENT_TIMEOUT=7.0,
        )
        try:
            databases = host.extensions["rowboat"].extensions["rowboat.databases"]
            assert set(databases) == {_name_from_url(url), "stats"}
            for name, expected in ((_name_from_url(url), "blog-web"), ("stats", "blog-stats")):
                with databases[name].engine.connect() as connection:
                    shown = connection.exec_driver_sql(
                        "SELECT current_setting('application_name'), "
                        "current_setting('statement_timeout')"
                    ).one()
                assert tuple(shown) == (expected, "7s"), name
            # The dashboard still reads through them.
            client = host.test_client()
            client.post("/login", data={"username": "alice"})
            page = client.get(f"/admin/{_name_from_url(url)}/posts")
            assert page.status_code == 200 and "Post 3" in page.text
        finally:
            close_host(host)


# --- in a real browser ------------------------------------------------------------------------


@pytest.mark.browser
def test_in_a_browser(browser: Any, world: World) -> None:
    from werkzeug.serving import make_server

    if not world.url.startswith("sqlite"):
        pytest.skip("one browser run is enough: the SQLite host")
    server = make_server("127.0.0.1", 0, world.host, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="embed-test-server")
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and "Failed to load resource" not in m.text
            and problems.append(m.text)
        ),
    )
    # The host's own pages have no favicon: its 404 is the host's business.
    page.on(
        "response",
        lambda r: (
            r.status >= 400
            and not r.url.endswith("/favicon.ico")
            and problems.append(f"HTTP {r.status}: {r.url}")
        ),
    )
    try:
        page.goto(f"{base}/admin/{world.name}/posts")  # anonymous: the host's sign-in
        assert page.url.startswith(f"{base}/login?next=")
        page.fill("input[name=username]", "alice")
        page.click("button")
        page.wait_for_selector("table.rows")
        assert page.url == f"{base}/admin/{world.name}/posts"
        page.screenshot(path="/tmp/embed-list-1200.png", full_page=True)
        page.click(f"a[href='/admin/{world.name}/posts/3']")
        page.click("a.edit-row")
        page.fill("input[name=title]", "Written in Chromium")
        page.screenshot(path="/tmp/embed-edit-1200.png", full_page=True)
        page.click("button.save")
        page.wait_for_selector("div.flash")
        assert "Written in Chromium" in page.inner_text("table.record")
        page.goto(f"{base}/admin/{world.name}/posts")
        assert "Written in Chromium" in page.inner_text("table.rows")
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path="/tmp/embed-list-390.png", full_page=True)
        page.goto(f"{base}/")
        assert "Hello alice" in page.inner_text("body")
        assert "Written in Chromium" in page.inner_text("body")
        assert problems == [], problems
    finally:
        context.close()
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
