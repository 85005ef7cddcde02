"""Rowboat inside an existing Flask application: ``Rowboat(app, models=db, role=...)``.

The dashboard stays its own Flask application (``create_app``), mounted under a URL prefix
at the WSGI level (Werkzeug's ``DispatcherMiddleware``). Its requests arrive with the prefix
as ``SCRIPT_NAME``, so every URL it builds (pages, redirects, static files) carries it, its
session cookie is scoped to it, and the host's routes, error handlers and session are never
touched.

From the host it takes:

- the databases: its Flask-SQLAlchemy configuration (the default engine, named after its
  database as ``DATABASE_URL`` is, and each bind under its key), or ``databases=``. Rowboat
  opens engines of its own on those URLs: it sets a statement time limit and pool rules on
  every connection, which the host's engines must not get;
- the models: ``models=db`` (or ``db.Model``, a declarative base, …), read per bind;
- the secret: Rowboat's session and CSRF key is derived from the host's ``SECRET_KEY``;
- sign-in: the ``role`` hook is called inside the host's own request context (so Flask-Login's
  ``current_user`` works there) and says who is calling and as what (``flask_login_role``);
- templates: a file under ``rowboat/`` in the host's template folder replaces Rowboat's own
  of that name (``templates/rowboat/base.html``).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import click
from flask import Flask, Request, request
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader
from sqlalchemy.engine import make_url
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from .auth.access import ROLES
from .config import SETTINGS_BY_NAME, ConfigError, DatabaseConfig, _name_from_url
from .web.signin import HostVerdict
from .web.urls import RESERVED_NAMES

log = logging.getLogger(__name__)

# The audit log keeps at most this many characters of a user name.
NAME_LENGTH = 150

# What a role hook answers: None (not allowed), a role, or (user name, role).
RoleAnswer = str | tuple[str, str | None] | None
RoleHook = Callable[[Request], RoleAnswer]

NO_HOOK_REFUSAL = (
    "Nobody may open this dashboard yet: the application mounts Rowboat without a role hook. "
    'Pass one, e.g. Rowboat(app, models=db, role=flask_login_role(lambda user: "admin" if '
    "user.is_admin else None))."
)


def _refuse_everyone(_request: Request) -> RoleAnswer:
    return None


def flask_login_role(
    role_of: Callable[[Any], str | None], name_of: Callable[[Any], str] | None = None
) -> RoleHook:
    """A role hook for a host that signs people in with Flask-Login: ``role_of(current_user)``
    gives viewer, editor, admin or None for each signed-in user (anonymous callers are sent to
    the host's ``login_view``). The audit log names the user by ``name_of(user)``; by default
    their ``username``, ``name`` or ``email`` attribute, else ``get_id()``."""

    def hook(_request: Request) -> RoleAnswer:
        from flask_login import current_user

        if not current_user.is_authenticated:
            return None
        user = current_user._get_current_object()  # noqa: SLF001 - the user, not the proxy
        name = name_of(user) if name_of is not None else _user_name(user)
        return (name, role_of(user))

    return hook


def _user_name(user: Any) -> str:
    for attribute in ("username", "name", "email"):
        value = getattr(user, attribute, None)
        if isinstance(value, str) and value:
            return value
    return str(user.get_id())


class Rowboat:
    """Mount the dashboard in a Flask application (or later, with ``init_app``).

    ``models``: the host's models (a Flask-SQLAlchemy ``db``, ``db.Model``, a declarative
    base, a registry, SQLModel or a MetaData). ``role``: who may do what, called once per
    dashboard request inside the host's request context with the host's ``request``; it
    answers None (refused), ``"viewer"``, ``"editor"`` or ``"admin"``, or ``(user name,
    role)``; without it everyone is refused. ``databases``: ``{name: URL}`` instead of the
    host's Flask-SQLAlchemy configuration. ``state_url``: Rowboat's state database (audit
    log, hidden columns); default ``ROWBOAT_STATE_URL``, else ``rowboat-state.sqlite`` in the
    host's instance folder. Other settings are passed by their names in ``config.SETTINGS``
    (``PAGE_SIZE=100``); ``ROWBOAT_*`` environment variables apply under them.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        models: Any = None,
        url_prefix: str = "/admin",
        role: RoleHook | None = None,
        databases: Mapping[str, str] | None = None,
        state_url: str | None = None,
        **settings: Any,
    ) -> None:
        prefix = "/" + url_prefix.strip("/")
        if prefix == "/":
            raise ConfigError("url_prefix: Rowboat needs a path of its own, such as /admin")
        unknown = sorted(set(settings) - set(SETTINGS_BY_NAME))
        if unknown:
            raise ConfigError(
                f"unknown Rowboat setting(s) {', '.join(unknown)}: see SETTINGS in rowboat.config"
            )
        self.models = models
        self.url_prefix = prefix
        self.role = role
        self.databases = dict(databases) if databases is not None else None
        self.state_url = state_url
        self.settings = settings
        self.dashboard: Flask | None = None  # the mounted Rowboat application
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Build the dashboard for ``app`` and mount it under the prefix."""
        from . import create_app

        if not app.config.get("SECRET_KEY"):
            raise ConfigError(
                "Rowboat signs its session and CSRF tokens with a key derived from the "
                "application's SECRET_KEY: set app.config['SECRET_KEY'] before mounting it."
            )
        if self.role is None:
            log.warning("rowboat: %s", NO_HOOK_REFUSAL)
        hook = self.role or _refuse_everyone
        overrides: dict[str, Any] = {
            **self.settings,
            "DATABASES": self._databases(app),
            "SECRET_KEY": _derived_key(app.config["SECRET_KEY"]),
            # The host signs people in: Rowboat's own accounts and proxy header are off.
            "AUTH": True,
            "AUTH_HEADER": "",
            "HOST_ROLE": _Asker(app, self.url_prefix, hook, self.role is None),
        }
        if "TRUSTED_HOSTS" not in self.settings and not os.environ.get("ROWBOAT_TRUSTED_HOSTS"):
            # The host answers for its own names; a page on a rebound name has none of its
            # cookies, so its role hook refuses it.
            overrides["TRUSTED_HOSTS"] = ("*",)
        if self.state_url is not None:
            overrides["STATE_URL"] = self.state_url
        elif not os.environ.get("ROWBOAT_STATE_URL"):
            os.makedirs(app.instance_path, exist_ok=True)
            path = os.path.join(app.instance_path, "rowboat-state.sqlite")
            overrides["STATE_URL"] = "sqlite:///" + path
        dashboard = create_app(overrides)
        dashboard.jinja_loader = _host_templates(app, dashboard.jinja_loader)
        dashboard.config["TESTING"] = app.config.get("TESTING", False)
        app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
            app.wsgi_app, {self.url_prefix: dashboard}
        )
        app.extensions["rowboat"] = dashboard
        app.cli.add_command(_host_commands(dashboard))
        self.dashboard = dashboard

    def _databases(self, app: Flask) -> dict[str, DatabaseConfig]:
        if self.databases is not None:
            found: dict[str, tuple[str, dict[str, Any]]] = {
                name: (url, {}) for name, url in self.databases.items()
            }
        else:
            found = _flask_sqlalchemy_databases(app)
        if not found:
            raise ConfigError(
                "Rowboat found no database: the application has no SQLALCHEMY_DATABASE_URI or "
                "SQLALCHEMY_BINDS. Pass databases={'name': 'postgresql://…'}."
            )
        result = {}
        for name, (url, connect_args) in found.items():
            parsed = make_url(url)
            if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
                raise ConfigError(
                    f"database {name!r} is an in-memory SQLite database, which only the "
                    "application's own engine can see: Rowboat opens engines of its own. "
                    "Use a SQLite file."
                )
            result[name] = DatabaseConfig(
                name=name,
                url=url,
                models=_readable(self.models),
                options={"connect_args": connect_args} if connect_args else {},
            )
        return result


def _host_commands(dashboard: Flask) -> click.Group:
    """``flask rowboat …`` on the host's own ``flask`` command: the audit log's retention and
    reconciling, the state database's migrations, and hiding columns (the host signs people
    in, so Rowboat's account commands have no place there). They run in the dashboard's app
    context, on its settings and state database."""
    from .audit.cli import audit
    from .auth.cli import hide_command, unhide_command
    from .state.cli import state

    @click.group("rowboat", help="The Rowboat dashboard mounted in this application.")
    @click.pass_context
    def commands(ctx: click.Context) -> None:
        ctx.with_resource(dashboard.app_context())

    for command in (audit, state):
        commands.add_command(command)
    commands.add_command(hide_command, "hide")
    commands.add_command(unhide_command, "unhide")
    return commands


class _FlaskSQLAlchemyModels:
    """A Flask-SQLAlchemy ``db`` as Rowboat reads it (its ``Model`` and per-bind
    ``metadatas``). The ``db`` itself cannot be shown in a message from Rowboat's requests:
    its ``repr`` asks for its engine in the current app, which is Rowboat's, not the host's."""

    def __init__(self, db: Any) -> None:
        self.Model = db.Model  # noqa: N815 - the attribute Flask-SQLAlchemy names so
        self.metadatas = db.metadatas

    def __repr__(self) -> str:
        return "the application's Flask-SQLAlchemy db"


def _readable(models: Any) -> Any:
    from .catalog.sources import _is_flask_sqlalchemy

    return _FlaskSQLAlchemyModels(models) if _is_flask_sqlalchemy(models) else models


class _Asker:
    """``HOST_ROLE``: asks the host's role hook about one dashboard request, in the host's own
    request context (its session, Flask-Login's ``current_user``, its ``url_for``)."""

    def __init__(self, host: Flask, prefix: str, hook: RoleHook, unset: bool) -> None:
        self.host = host
        self.prefix = prefix
        self.hook = hook
        self.unset = unset

    def __call__(self, environ: Mapping[str, Any]) -> HostVerdict:
        seen = dict(environ)
        # The request as the host received it: the prefix back on the path, and no body
        # (the dashboard reads it; a hook must not consume it).
        script = seen.get("SCRIPT_NAME", "")
        if script.endswith(self.prefix):
            seen["SCRIPT_NAME"] = script[: -len(self.prefix)]
            seen["PATH_INFO"] = self.prefix + seen.get("PATH_INFO", "")
        seen["wsgi.input"] = io.BytesIO(b"")
        seen["CONTENT_LENGTH"] = "0"
        with self.host.request_context(seen):
            answer = self.hook(request)
            name, role = _parsed(answer)
            signed_in = _signed_in(self.host)
            if role is not None:
                return HostVerdict(name or "host", role)
            if signed_in is False:
                return HostVerdict(None, None, _login_url(self.host))
        refusal = NO_HOOK_REFUSAL if self.unset else HostVerdict.refusal
        return HostVerdict(name or "host", None, refusal=refusal)


def _parsed(answer: Any) -> tuple[str | None, str | None]:
    if answer is None or isinstance(answer, str):
        name, role = None, answer
    elif isinstance(answer, tuple) and len(answer) == 2:
        name, role = answer
        name = None if name is None else str(name)[:NAME_LENGTH]
    else:
        raise TypeError(
            f"Rowboat's role hook answered {answer!r}: answer None, a role "
            "('viewer', 'editor', 'admin') or (user name, role)"
        )
    if role is not None and role not in ROLES:
        raise ValueError(f"Rowboat's role hook answered the role {role!r}: use one of {ROLES}")
    return name, role


def _signed_in(host: Flask) -> bool | None:
    """Whether someone is signed in on the host (Flask-Login); None when it does not use it."""
    if getattr(host, "login_manager", None) is None:
        return None
    from flask_login import current_user

    return bool(current_user.is_authenticated)


def _login_url(host: Flask) -> str | None:
    """The host's sign-in page (Flask-Login's ``login_view``), with ``next=`` this request's
    path on the host (prefix included)."""
    from flask_login import login_url

    view = getattr(host.login_manager, "login_view", None)  # type: ignore[attr-defined]
    if not view:
        return None
    target = request.full_path if request.query_string else request.path
    found: str = login_url(view, next_url=target)
    return found


def _flask_sqlalchemy_databases(app: Flask) -> dict[str, tuple[str, dict[str, Any]]]:
    """The databases of the host's Flask-SQLAlchemy, as (URL, connect_args): its default
    engine, named after its database (as DATABASE_URL is; "main" when that name is taken or
    reserved), and each bind by its key. URLs keep their password: Rowboat connects on its own.

    The ``connect_args`` of the host's engine options (``SQLAlchemy(engine_options=…)``, then
    ``SQLALCHEMY_ENGINE_OPTIONS`` for the default engine or a bind's own dict) go with them,
    since a database may need them to be reached at all (TLS files, a server's options). The
    other engine options (pool sizes, echo) stay Rowboat's: it runs its own pools and limits.
    """
    extension = app.extensions.get("sqlalchemy")
    base = dict(getattr(extension, "_engine_options", None) or {})
    binds = app.config.get("SQLALCHEMY_BINDS") or {}
    options: dict[str | None, dict[str, Any]] = {
        None: {**base, **(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})}
    }
    for key, bind in binds.items():
        options[key] = {**base, **(dict(bind) if isinstance(bind, Mapping) else {})}
    found: dict[str | None, str] = {}
    if extension is not None:
        with app.app_context():  # Flask-SQLAlchemy keeps engines per application
            for key, engine in extension.engines.items():
                found[key] = engine.url.render_as_string(hide_password=False)
    else:
        default = app.config.get("SQLALCHEMY_DATABASE_URI")
        if default:
            found[None] = str(default)
        for key, bind in binds.items():
            found[key] = str(bind["url"] if isinstance(bind, Mapping) else bind)
    databases = {
        key: (url, _connect_args(options.get(key))) for key, url in found.items() if key is not None
    }
    if None in found:
        name = _name_from_url(found[None])
        if name in databases or name in RESERVED_NAMES:
            name = "main"
        databases[name] = (found[None], _connect_args(options[None]))
    return databases


def _connect_args(engine_options: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict((engine_options or {}).get("connect_args") or {})


def _derived_key(secret: str | bytes) -> str:
    """Rowboat's own signing key, from the host's: its cookies and CSRF tokens can never be
    taken for the host's (both use Flask's session serializer)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, b"rowboat-embedded-dashboard", hashlib.sha256).hexdigest()


def _host_templates(host: Flask, own: BaseLoader | None) -> BaseLoader:
    """Templates under ``rowboat/`` in the host's template folder first, then Rowboat's."""
    loaders: list[BaseLoader] = []
    if host.template_folder:
        folder = os.path.join(host.root_path, str(host.template_folder), "rowboat")
        loaders.append(FileSystemLoader(folder))
    if own is not None:
        loaders.append(own)
    return ChoiceLoader(loaders)
