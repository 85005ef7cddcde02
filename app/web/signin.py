"""Sign-in in front of every request: who is calling, and whether this endpoint lets them in.

Every view declares what it needs with ``@needs(...)``:

- ``public``: anyone (static files, the sign-in page, ``/healthz``);
- ``signed-in``: any signed-in user (home, account, sign-out);
- ``read`` / ``write``: a level on the table the URL names, checked where the table is looked
  up (``views/lookup.py``), and on the catalog every page works from (``auth/visible.py``);
- ``admin``: admins only (users and grants).

A view without a decision is refused (403), and a test walks the URL map so that one cannot be
added by mistake. A caller is found, in order, by an ``Authorization: Bearer`` API token, the
session cookie (Flask-Login), or the trusted proxy header (``ROWBOAT_AUTH_HEADER``). Pages
send an anonymous caller to the sign-in page; JSON, CSV, lookups and downloads answer 401.

Mounted inside another Flask application (``rowboat.embed``), sign-in is that application's:
the ``HOST_ROLE`` setting is a callable that asks it, for this request, who is calling and
with which role (a ``HostVerdict``). Rowboat's own accounts, sign-in pages and API tokens are
then not used (their pages answer 404), and the role is a grant on every database.

CSRF is checked here rather than by Flask-WTF's own hook, because a request signed with an API
token is exempt (it cannot be forged by another site: browsers never add that header), and a
session request never is.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Flask, current_app, g, jsonify, redirect, request, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFProtect
from itsdangerous import BadSignature

from ..auth.access import OPEN, ROLES, Access, GrantRule
from ..auth.accounts import Account, AccountError, check_name
from ..auth.directory import Directory
from ..auth.tokens import TokenOwner, touch
from ..db.errors import NotFound, RowboatError

F = TypeVar("F", bound=Callable[..., Any])

DECISIONS = ("public", "signed-in", "read", "write", "admin")
_FIXED = {"static": "public"}  # endpoints Flask itself adds


class Forbidden(RowboatError):
    """Signed in, but not allowed: a plain 403 that names what was refused."""

    status = 403


class Unauthorized(RowboatError):
    status = 401
    title = "Sign-in required"


def needs(level: str, *, machine: bool = False) -> Callable[[F], F]:
    """Declare what a view needs. ``machine``: it answers scripts (JSON, CSV, files), so an
    anonymous caller gets 401 rather than a redirect to the sign-in page."""
    if level not in DECISIONS:
        raise ValueError(f"unknown access decision {level!r}")

    def mark(view: F) -> F:
        view.rowboat_needs = level  # type: ignore[attr-defined]
        view.rowboat_machine = machine  # type: ignore[attr-defined]
        return view

    return mark


def decision(app: Flask, endpoint: str) -> str | None:
    """The access decision of an endpoint, or None when its view declared none."""
    fixed = _FIXED.get(endpoint)
    if fixed is not None:
        return fixed
    view = app.view_functions.get(endpoint)
    return getattr(view, "rowboat_needs", None)


@dataclass(frozen=True)
class HostVerdict:
    """What the host application says of one request (``HOST_ROLE``).

    ``user`` is None when nobody is signed in on the host; ``role`` is viewer, editor or
    admin, or None when the host does not let this caller in. ``login_url`` is where the host
    signs people in (with ``next=`` this request's address), if it has such a page;
    ``refusal`` is said on the 403 page to a signed-in caller who has no role."""

    user: str | None
    role: str | None
    login_url: str | None = None
    refusal: str = "The application this dashboard is part of does not let you open it."

    def __post_init__(self) -> None:
        if self.role is not None and self.role not in ROLES:
            raise ValueError(f"the host's role hook answered {self.role!r}: give one of {ROLES}")


class Caller(UserMixin):
    """The signed-in user as Flask-Login holds them, with the token they used, if any."""

    def __init__(self, account: Account, token: TokenOwner | None = None) -> None:
        self.account = account
        self.token = token

    def get_id(self) -> str:
        # The epoch is part of the id: a new password or a disabled account ends old sessions.
        return f"{self.account.id}.{self.account.epoch}"


def directory() -> Directory:
    found: Directory = current_app.extensions["rowboat.directory"]
    return found


def request_id() -> str:
    """This request's id for the audit log: the proxy's X-Request-ID when it is a sane one,
    else a new one."""
    found = g.get("rowboat_request_id")
    if found is None:
        given = request.headers.get("X-Request-ID", "")
        found = given if re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", given) else uuid.uuid4().hex
        g.rowboat_request_id = found
    return str(found)


def current_access() -> Access:
    """What the current caller may do (worked out once per request)."""
    found = g.get("rowboat_access")
    if found is None:
        found = g.rowboat_access = _access()
    return found


def host_verdict() -> HostVerdict | None:
    """The host application's answer for this request (asked once), or None when Rowboat is
    not mounted in one (``HOST_ROLE`` unset)."""
    ask = current_app.config.get("HOST_ROLE")
    if ask is None:
        return None
    found = g.get("rowboat_host_verdict")
    if found is None:
        found = g.rowboat_host_verdict = ask(request.environ)
    verdict: HostVerdict = found
    return verdict


def _access() -> Access:
    hidden = directory().hidden()
    verdict = host_verdict()
    if verdict is not None:
        if verdict.user is None or verdict.role is None:
            return Access(user=verdict.user, role="anonymous", hidden=hidden)
        # The host gives a role, not grants: a viewer reads and an editor writes everywhere.
        level = "read" if verdict.role == "viewer" else "write"
        grants = tuple(
            GrantRule(name, None, None, level) for name in current_app.config["DATABASES"]
        )
        return Access(user=verdict.user, role=verdict.role, grants=grants, hidden=hidden)
    if not current_app.config["AUTH"]:
        return Access(user=None, role=OPEN.role, hidden=hidden)
    if not current_user.is_authenticated:
        return Access(user=None, role="anonymous", hidden=hidden)
    caller: Caller = current_user
    token = caller.token
    return Access(
        user=caller.account.name,
        role=caller.account.role,
        grants=caller.account.grants,
        read_only=bool(token and token.read_only),
        hidden=hidden,
        token=token.token_name if token else None,
    )


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _load_session_user(user_id: str) -> Caller | None:
    if _bearer() is not None:
        return None  # a token decides alone, whatever cookie comes with it
    number, _, epoch = user_id.partition(".")
    if not number.isdigit() or not epoch.isdigit():
        return None
    account = directory().account(int(number))
    if account is None or account.disabled or account.epoch != int(epoch):
        return None
    return Caller(account)


def _load_request_user(_request: Any) -> Caller | None:
    token = _bearer()
    if token is not None:
        found = directory().token_owner(token)
        if found is None:
            return None
        account = directory().account(found.user_id)
        if account is None or account.disabled:
            return None
        touch(directory().engine, found)
        return Caller(account, found)
    header = current_app.config["AUTH_HEADER"]
    name = request.headers.get(header, "").strip() if header else ""
    if name:
        return _proxy_user(name)
    return None


def _proxy_user(name: str) -> Caller | None:
    """The user a trusted proxy names, created with the default role on first sight."""
    from ..auth import accounts

    try:
        check_name(name)
    except AccountError:
        return None
    account = directory().account_named(name)
    if account is None:
        try:
            accounts.create_user(directory().engine, name, current_app.config["AUTH_DEFAULT_ROLE"])
        except AccountError:
            pass  # created a moment ago by another request
        directory().forget()
        account = directory().account_named(name)
    if account is None or account.disabled:
        return None
    return Caller(account)


def _anonymous_answer(machine: bool) -> Any:
    verdict = host_verdict()
    if verdict is not None and verdict.login_url and not machine:
        return redirect(verdict.login_url)  # the host's own sign-in page
    if verdict is not None:
        raise Unauthorized("Sign in on the application this dashboard is part of.")
    if machine or _bearer() is not None:
        answer = jsonify(
            {
                "ok": False,
                "status": 401,
                "error": "Sign-in required",
                "message": (
                    "Send an API token (Authorization: Bearer …), made on your account page."
                ),
            }
        )
        return answer, 401, {"WWW-Authenticate": 'Bearer realm="rowboat"'}
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("accounts.login") + "?" + urlencode({"next": target}))


class _Session(SecureCookieSession):
    signed_at: datetime | None = None  # when the cookie it came from was signed


class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS (behind a proxy:
    with ROWBOAT_PROXIES set, from its X-Forwarded-Proto), not only when configured.

    A signed-in session is permanent, and its lifetime starts again with each request; Flask
    does that by signing and sending the cookie again on every answer, which cost a signed-in
    page about a tenth of its speed. Here an unchanged cookie is renewed only once it is a
    minute old (at most a hundredth of the lifetime): a sign-in still lasts SESSION_HOURS
    from the last request, give or take that minute.
    """

    session_class = _Session

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)

    def get_cookie_path(self, app: Flask) -> str:
        # Mounted in a host application: the cookie is the dashboard's only, below its
        # prefix (wherever the host itself is mounted), never sent to the host's pages.
        if app.config.get("HOST_ROLE") is not None and not app.config["SESSION_COOKIE_PATH"]:
            return request.script_root or "/"
        return super().get_cookie_path(app)

    def open_session(self, app: Flask, request: Any) -> _Session | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return _Session()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return _Session()
        session = _Session(data)
        session.signed_at = signed_at
        return session

    def should_set_cookie(self, app: Flask, session: Any) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        if signed_at is None:
            return True
        renew_after = min(60.0, app.permanent_session_lifetime.total_seconds() / 100)
        return (datetime.now(UTC) - signed_at).total_seconds() >= renew_after


def _enforce_host(endpoint: str, level: str, machine: bool) -> Any:
    """Mounted in a host application, whose verdict decides; Rowboat's own accounts are off."""
    if endpoint.split(".", 1)[0] == "accounts":
        raise NotFound(
            "Sign-in is the host application's: Rowboat's own sign-in, accounts, users and "
            "API tokens are not used here."
        )
    if level == "public":
        return None
    verdict = host_verdict()
    assert verdict is not None
    if verdict.user is None:
        return _anonymous_answer(machine)
    if verdict.role is None:
        raise Forbidden(verdict.refusal)
    if level == "admin" and not current_access().is_admin:
        raise Forbidden("Only an admin may open this page.")
    return None


def init_app(app: Flask, csrf: CSRFProtect, state_engine: Any) -> None:
    from datetime import timedelta

    app.extensions["rowboat.directory"] = Directory(state_engine)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked in _enforce (token requests exempt)
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config["SESSION_COOKIE_NAME"] = "rowboat_session"
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=app.config["SESSION_HOURS"])
    app.session_interface = _SessionInterface()
    manager = LoginManager(app)
    manager.user_loader(_load_session_user)
    manager.request_loader(_load_request_user)
    manager.session_protection = "basic"

    @app.before_request
    def _enforce() -> Any:
        endpoint = request.endpoint
        if endpoint is None:
            return None  # no route: the 404 (or 405) answers
        level = decision(app, endpoint)
        if level is None:
            raise Forbidden(f"The page {endpoint!r} has no access decision: it is closed.")
        g.rowboat_needs = level
        view = app.view_functions.get(endpoint)
        machine = bool(getattr(view, "rowboat_machine", False))
        signed_in_by_token = False
        if app.config.get("HOST_ROLE") is not None:
            answer = _enforce_host(endpoint, level, machine)
            if answer is not None:
                return answer
        elif app.config["AUTH"]:
            authenticated = current_user.is_authenticated
            if _bearer() is not None and not authenticated:
                return _anonymous_answer(True)  # a bad token is never a page visitor
            signed_in_by_token = authenticated and current_user.token is not None
            if level != "public" and not authenticated:
                return _anonymous_answer(machine)
            if level == "admin" and not current_access().is_admin:
                raise Forbidden("Only an admin may open this page.")
        elif level == "admin":
            # Open dashboard: nobody may make accounts that would hold once sign-in is on.
            raise Forbidden("Sign-in is switched off (ROWBOAT_AUTH=off): there are no users.")
        if (
            request.method not in ("GET", "HEAD", "OPTIONS")
            and not signed_in_by_token
            and app.config.get("WTF_CSRF_ENABLED", True)
        ):
            csrf.protect()
        return None

    @app.context_processor
    def _signed_in() -> dict[str, Any]:
        return {"access": current_access()}
