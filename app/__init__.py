"""Rowboat: a web dashboard for relational databases, built on Flask and SQLAlchemy."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from .config import INSTANCE_FOLDER, ConfigError, DatabaseConfig, load_config, resolve_errors

if TYPE_CHECKING:
    from .embed import Rowboat as Rowboat


def _hide_checkout_from_path() -> None:
    """Rowboat is imported as ``rowboat`` (``pip install -e`` maps that name to its ``app/``
    folder, see pyproject.toml). The checkout's own folder, which gunicorn and ``python -m``
    put on ``sys.path``, would also make that code importable as ``app``, the name of many
    users' own Flask packages, and hide theirs: it is taken off the path."""
    import sys
    from pathlib import Path

    checkout = Path(__file__).resolve().parent.parent
    if not (checkout / "app" / "__init__.py").exists():
        return  # installed as a package: there is no folder called app to hide
    cwd = Path.cwd().resolve()
    sys.path[:] = [entry for entry in sys.path if Path(entry or cwd).resolve() != checkout]


_hide_checkout_from_path()


def __getattr__(name: str) -> Any:
    """``rowboat.Rowboat``, the dashboard mounted in your own Flask app (``rowboat.embed``),
    imported on first use."""
    if name == "Rowboat":
        from .embed import Rowboat

        return Rowboat
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config, one engine per database, blueprints and error handlers."""
    from .catalog.discovery import check_models
    from .db import engines
    from .views import accounts, audit, browse, health
    from .views import edit as edit_views
    from .views import history as history_views
    from .views import query as query_views
    from .views import schema as schema_views
    from .web import errorpages, headers, refreshes, signin, statics, urls

    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    config = load_config(os.environ, overrides)
    if not config["DATABASES"]:
        config["DATABASES"] = {"demo": _demo_database(config["DEMO_PATH"], app.root_path)}
    for name, database in config["DATABASES"].items():
        if name in urls.RESERVED_NAMES:
            raise ConfigError(f"{name!r} cannot name a database: the dashboard uses it")
        check_models(database)  # a wrong models reference: said now, not a 500 on every page
    app.config.update(config)
    # A model's validators raise these for a refused value: imported once, here, so a wrong
    # reference stops start-up instead of turning the first refused value into a 500.
    app.extensions["rowboat.validation_errors"] = (
        ValueError,
        AssertionError,
        *resolve_errors(config["VALIDATION_ERRORS"]),
    )
    _init_state(app)
    # Werkzeug holds each non-file field of a form in memory, up to this many bytes (a text
    # value of a row form); beyond it the request is refused with 413 (errorpages).
    app.config["MAX_FORM_MEMORY_SIZE"] = config["MAX_FORM_MEMORY"]
    _bound_requests(app)
    databases = {
        name: engines.Database(db, engines.build_engine(db, config), config)
        for name, db in config["DATABASES"].items()
    }
    engines.init_app(app, databases)
    app.register_blueprint(health.bp)
    app.register_blueprint(browse.bp)
    app.register_blueprint(query_views.bp)
    app.register_blueprint(schema_views.bp)
    app.register_blueprint(edit_views.bp)
    app.register_blueprint(history_views.bp)
    app.register_blueprint(accounts.bp)
    app.register_blueprint(audit.bp)
    # Templates build the same static and table URLs on every page: remembered (urls.py).
    app.jinja_env.globals["url_for"] = urls.cached_url_for
    csrf = CSRFProtect(app)  # every POST form carries csrf_token(); the schema refresh is one
    _init_sign_in(app)
    signin.init_app(app, csrf, app.extensions["rowboat.state"])
    refreshes.init_app(app, lambda name: app.extensions["rowboat.schema"].drop(name))
    errorpages.init_app(app)
    headers.init_app(app)
    statics.init_app(app)
    start_reconcile(app)
    return app


def start_reconcile(app: Flask) -> None:
    """Settle the audit entries a crash left pending (``audit.reconcile``), in a daemon thread
    so start-up does not wait for the target databases. The thread is kept in
    ``app.extensions["rowboat.reconcile"]`` (tests join it). Nothing runs when auditing is off,
    or when the state database is not a real engine (a test's stub); a failure is logged."""
    import logging
    import threading

    from sqlalchemy import Engine

    if not app.config.get("AUDIT") or not isinstance(app.extensions.get("rowboat.state"), Engine):
        return

    def run() -> None:
        from .audit.reconcile import reconcile

        try:
            counts = reconcile(app)
        except Exception:  # noqa: BLE001 - start-up goes on; the next start tries again
            logging.getLogger(__name__).exception("audit: reconciling pending entries failed")
            return
        if any(counts.values()):
            logging.getLogger(__name__).warning("audit: pending entries reconciled: %s", counts)

    thread = threading.Thread(target=run, name="rowboat-audit-reconcile", daemon=True)
    app.extensions["rowboat.reconcile"] = thread
    thread.start()


def _bound_requests(app: Flask) -> None:
    """Refuse, before any view runs, a request for a host the dashboard does not serve (400)
    and a URL longer than MAX_URL_LENGTH (414).

    The host check is ROWBOAT_TRUSTED_HOSTS (localhost only by default), so a page on another
    site that rebinds its DNS name to 127.0.0.1 cannot read the dashboard. Flask's own
    TRUSTED_HOSTS check (Werkzeug 3.1's ``host_is_trusted``) cuts an entry at its first colon,
    so it can never allow an IPv6 literal such as ``[::1]``: ``urls.host_allowed`` does the
    check instead, and Flask's is left off.
    """
    from flask import request

    from .config import _hosts
    from .db.errors import BadRequest, URITooLong
    from .web import urls

    hosts = app.config["TRUSTED_HOSTS"]
    hosts = _hosts(hosts) if isinstance(hosts, str) else tuple(h.lower() for h in hosts or ("*",))
    app.config["ROWBOAT_TRUSTED_HOSTS"] = None if "*" in hosts else hosts
    app.config["TRUSTED_HOSTS"] = None

    @app.before_request
    def _check_request() -> None:
        trusted = app.config["ROWBOAT_TRUSTED_HOSTS"]
        host = request.headers.get("Host", "")
        if trusted is not None and not urls.host_allowed(host, trusted):
            raise BadRequest(
                f"This dashboard does not answer requests for the host {host!r}. "
                "If it is meant to be reached by that name, add it to the "
                "ROWBOAT_TRUSTED_HOSTS setting (now: " + ", ".join(trusted) + ")."
            )
        environ = request.environ
        length = len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", ""))
        limit = app.config["MAX_URL_LENGTH"]
        if length > limit:
            raise URITooLong(
                f"This address is {length:,} bytes long; the dashboard accepts at most "
                f"{limit:,} (the ROWBOAT_MAX_URL_LENGTH setting). A list page with that many "
                "filters is better written with the “in list” operator, or as a query."
            )


def _init_state(app: Flask) -> None:
    """Open the state database and bring it to the newest migration (under its lock).

    A database that cannot be migrated stops start-up: StateDatabaseError names its URL,
    without the password. The engine is kept in ``app.extensions["rowboat.state"]`` and
    disposed when the app goes away.
    """
    import weakref

    from .audit import cli as audit_cli
    from .state import cli, migrate

    url = app.config["STATE_URL"] or "sqlite:///" + checkout_path(
        f"{INSTANCE_FOLDER}/state.sqlite", app.root_path
    )
    app.config["STATE_URL"] = url
    engine = migrate.state_engine(url)
    try:
        migrate.upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    app.extensions["rowboat.state"] = engine
    weakref.finalize(app, engine.dispose)
    app.cli.add_command(cli.state)
    app.cli.add_command(audit_cli.audit)  # retention: ``audit prune``


def _init_sign_in(app: Flask) -> None:
    """Accounts: the shared session key, the first admin, failed-login limits, proxies."""
    import sys

    from werkzeug.middleware.proxy_fix import ProxyFix

    from .auth import accounts, cli
    from .auth.throttle import LoginThrottle

    engine = app.extensions["rowboat.state"]
    app.cli.add_command(cli.users)
    if app.config.pop("SECRET_KEY_RANDOM", False):
        # No ROWBOAT_SECRET_KEY: one kept in the state database, so sessions survive a restart
        # and every instance (and worker) sharing that database accepts the same cookies.
        app.config["SECRET_KEY"] = accounts.shared_secret(engine)
    proxies = app.config["PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_prefix=proxies
        )
    storage = app.config["REDIS_URL"] or "memory://"
    try:
        app.extensions["rowboat.throttle"] = LoginThrottle(
            storage, app.config["LOGIN_LIMIT_ACCOUNT"], app.config["LOGIN_LIMIT_ADDRESS"]
        )
    except ValueError as exc:
        raise ConfigError(f"LOGIN_LIMIT_ACCOUNT / LOGIN_LIMIT_ADDRESS: {exc}") from exc
    if app.config["AUTH_DEFAULT_ROLE"] not in ("viewer", "editor", "admin"):
        raise ConfigError("AUTH_DEFAULT_ROLE must be viewer, editor or admin")
    if not app.config["AUTH"] or app.config.get("HOST_ROLE") is not None:
        return  # no accounts: none, or the host application's (rowboat.embed)
    given = app.config["ADMIN_PASSWORD"]
    try:
        password = accounts.ensure_first_admin(engine, given or None)
    except accounts.AccountError as exc:  # a refused ROWBOAT_ADMIN_PASSWORD (too short)
        raise ConfigError(f"ADMIN_PASSWORD: {exc}") from None
    if password is not None:
        if given:
            message = "rowboat: created the first user, admin, with ROWBOAT_ADMIN_PASSWORD."
        else:
            message = (
                "rowboat: created the first user. Sign in at /-/login with\n"
                "rowboat:     name:     admin\n"
                f"rowboat:     password: {password}\n"
                "rowboat: This password is shown only this once: change it on your account "
                "page (/-/account)."
            )
        print(message, file=sys.stderr, flush=True)


def checkout_path(path: str, root: str) -> str:
    """A relative path is taken from the checkout (the folder above the app package)."""
    return path if os.path.isabs(path) else os.path.join(os.path.dirname(root), path)


def _demo_database(path: str, root: str) -> DatabaseConfig:
    from .demo import ensure_demo_database

    path = checkout_path(path, root)
    return DatabaseConfig(name="demo", url=ensure_demo_database(path), models="rowboat.demo:Base")
