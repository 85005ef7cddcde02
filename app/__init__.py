"""Rowboat: a web dashboard for relational databases, built on Flask and SQLAlchemy."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from .config import INSTANCE_FOLDER, ConfigError, DatabaseConfig, load_config


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config, one engine per database, blueprints and error handlers."""
    from .db import engines
    from .views import browse, health
    from .views import edit as edit_views
    from .views import query as query_views
    from .views import schema as schema_views
    from .web import errorpages, headers, urls

    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    config = load_config(os.environ, overrides)
    if not config["DATABASES"]:
        config["DATABASES"] = {"demo": _demo_database(config["DEMO_PATH"], app.root_path)}
    for name in config["DATABASES"]:
        if name in urls.RESERVED_NAMES:
            raise ConfigError(f"{name!r} cannot name a database: the dashboard uses it")
    app.config.update(config)
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
    # Templates build the same static and table URLs on every page: remembered (urls.py).
    app.jinja_env.globals["url_for"] = urls.cached_url_for
    CSRFProtect(app)  # every POST form carries csrf_token(); the schema refresh is one
    errorpages.init_app(app)
    headers.init_app(app)
    return app


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

    from .state import cli, migrate

    url = app.config["STATE_URL"] or "sqlite:///" + _instance_path(
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


def _instance_path(path: str, root: str) -> str:
    """A relative path is taken from the checkout (the folder above the app package)."""
    return path if os.path.isabs(path) else os.path.join(os.path.dirname(root), path)


def _demo_database(path: str, root: str) -> DatabaseConfig:
    from .demo import ensure_demo_database

    path = _instance_path(path, root)
    return DatabaseConfig(name="demo", url=ensure_demo_database(path), models="app.demo:Base")
