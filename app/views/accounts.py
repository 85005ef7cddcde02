"""Signing in and out, your own account (password, API tokens), and the admins' user pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from ..auth import accounts, tokens
from ..auth.access import LEVELS, ROLES
from ..auth.accounts import NAME_RE, AccountError
from ..auth.passwords import needs_rehash, random_password, verify_or_waste
from ..auth.throttle import LoginThrottle
from ..auth.visible import grant_target
from ..db.engines import databases_of
from ..db.errors import BadRequest, NotFound
from ..web.signin import Caller, Forbidden, current_access, directory, needs

bp = Blueprint("accounts", __name__)

TOKEN_LIFETIMES = {"": None, "7": 7, "30": 30, "90": 90, "365": 365}


def _engine() -> Any:
    return current_app.extensions["rowboat.state"]


def _throttle() -> LoginThrottle:
    found: LoginThrottle = current_app.extensions["rowboat.throttle"]
    return found


def _local(target: str | None) -> str | None:
    """A path on this site to go to after signing in (never another site's address)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    # No whitespace or control characters: browsers drop tabs and newlines from a URL, so
    # "/\t/evil.example" arrives as "//evil.example" (another site), and a newline in the
    # Location header is refused by Werkzeug with a 500.
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    return target


def _changed() -> None:
    """After a change to users or grants: this process sees it at once (others within TTL)."""
    directory().forget()


def _form_error(exc: AccountError) -> BadRequest:
    return BadRequest(str(exc))


# --- signing in and out --------------------------------------------------------------------------


@bp.route("/-/login", methods=["GET", "POST"])
@needs("public")
def login() -> Any:
    target = _local(request.values.get("next")) or url_for("browse.home")
    if not current_app.config["AUTH"]:
        return redirect(target)
    error, status, headers = None, 200, {}
    name = ""
    if request.method == "POST":
        name = request.form.get("name", "").strip()[:200]
        password = request.form.get("password", "")[:1024]
        address = request.remote_addr or "unknown"
        wait = _throttle().begin(name, address)  # counts this try against the name
        if wait:
            minutes = -(-wait // 60)
            error = (
                "Too many failed sign-ins for this name or from this address. "
                f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
            )
            status, headers = 429, {"Retry-After": str(wait)}
        else:
            found = accounts.password_hash(_engine(), name) if NAME_RE.fullmatch(name) else None
            usable = found is not None and not found[2]
            if verify_or_waste(found[1] if usable and found else None, password) and found:
                account = accounts.account(_engine(), user_id=found[0])
                if account is not None:
                    if found[1] and needs_rehash(found[1]):
                        accounts.rehash(_engine(), account.id, password)
                    _throttle().succeeded(name)
                    session.clear()  # nothing from before the sign-in carries over
                    login_user(Caller(account))
                    session.permanent = True
                    accounts.record_login(_engine(), account.id)
                    return redirect(target, code=303)
            _throttle().failed(name, address)
            # The same words for an unknown name, a disabled user and a wrong password.
            error = "Wrong name or password."
    page = render_template("accounts/login.html", error=error, name=name, next=target)
    return page, status, headers


@bp.post("/-/logout")
@needs("signed-in")
def logout() -> Any:
    logout_user()
    session.clear()
    flash("Signed out.")
    return redirect(url_for("accounts.login"), code=303)


# --- your account --------------------------------------------------------------------------------


def _session_caller() -> Caller:
    """The caller, signed in with a password: account changes are not for API tokens."""
    caller: Caller = current_user
    if caller.token is not None:
        raise Forbidden("An API token cannot change its account: sign in with your password.")
    return caller


def _account_page(new_token: str | None = None, status: int = 200) -> Any:
    caller: Caller = current_user
    page = render_template(
        "accounts/account.html",
        account=caller.account,
        tokens=tokens.tokens_of(_engine(), caller.account.id),
        new_token=new_token,
        lifetimes=TOKEN_LIFETIMES,
    )
    return page, status


@bp.get("/-/account")
@needs("signed-in")
def account() -> Any:
    if not current_app.config["AUTH"]:
        raise NotFound("Sign-in is switched off (ROWBOAT_AUTH=off): there are no accounts.")
    return _account_page()


@bp.post("/-/account/password")
@needs("signed-in")
def change_password() -> Any:
    caller = _session_caller()
    found = accounts.password_hash(_engine(), caller.account.name)
    if not verify_or_waste(found[1] if found else None, request.form.get("current", "")):
        raise BadRequest("Your current password is not that one; nothing was changed.")
    new, again = request.form.get("new", ""), request.form.get("again", "")
    if new != again:
        raise BadRequest("The two new passwords differ; nothing was changed.")
    try:
        accounts.set_password(_engine(), caller.account.name, new)
    except AccountError as exc:
        raise _form_error(exc) from None
    _changed()
    # Every other session has ended with the new epoch; this one signs in again with it.
    account = accounts.account(_engine(), user_id=caller.account.id)
    if account is not None:
        login_user(Caller(account))
    flash("Password changed. Your other sessions have been signed out.")
    return redirect(url_for("accounts.account"), code=303)


@bp.post("/-/account/sessions")
@needs("signed-in")
def end_sessions() -> Any:
    """Sign out everywhere: sessions live in signed cookies, so a plain sign-out cannot end a
    copy of the cookie; moving the account's epoch on ends every one of them."""
    caller = _session_caller()
    accounts.end_sessions(_engine(), caller.account.name)
    _changed()
    logout_user()
    session.clear()
    flash("Signed out everywhere: every session of this account has ended.")
    return redirect(url_for("accounts.login"), code=303)


@bp.post("/-/account/tokens")
@needs("signed-in")
def create_token() -> Any:
    caller = _session_caller()
    days = TOKEN_LIFETIMES.get(request.form.get("expires", ""), -1)
    if days == -1:
        raise BadRequest("Choose an expiry from the list.")
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    read_only = request.form.get("read_only") == "on" or caller.account.role == "viewer"
    try:
        token = tokens.create(
            _engine(), caller.account.id, request.form.get("name", ""), read_only, expires
        )
    except AccountError as exc:
        raise _form_error(exc) from None
    # Shown in this answer only (a redirect would have to carry it in the session cookie).
    return _account_page(new_token=token, status=201)


@bp.post("/-/account/tokens/<int:token_id>/revoke")
@needs("signed-in")
def revoke_token(token_id: int) -> Any:
    caller = _session_caller()
    if not tokens.revoke(_engine(), caller.account.id, token_id):
        raise NotFound("You have no active token with that number.")
    _changed()
    flash("Token revoked: it no longer works.")
    return redirect(url_for("accounts.account"), code=303)


# --- users (admins) ------------------------------------------------------------------------------


@bp.get("/-/users")
@needs("admin")
def users() -> Any:
    return render_template(
        "accounts/users.html",
        users=accounts.accounts(_engine()),
        roles=ROLES,
        hidden=accounts.hidden_rows(_engine()),
        databases=list(databases_of(current_app)),
    )


@bp.post("/-/users")
@needs("admin")
def add_user() -> Any:
    name = request.form.get("name", "").strip()
    try:
        password = accounts.create_user(
            _engine(), name, request.form.get("role", ""), request.form.get("password") or None
        )
    except AccountError as exc:
        raise _form_error(exc) from None
    _changed()
    given = bool(request.form.get("password"))
    return _user_page(name, new_password=None if given else password, status=201)


def _user_page(name: str, new_password: str | None = None, status: int = 200) -> Any:
    found = accounts.account(_engine(), name=name)
    if found is None:
        raise NotFound(f"No user is called {name!r}.")
    databases = databases_of(current_app)
    page = render_template(
        "accounts/user.html",
        user=found,
        roles=ROLES,
        levels=LEVELS,
        databases=list(databases),
        new_password=new_password,
        me=current_access().user == found.name,
    )
    return page, status


@bp.get("/-/users/<name>")
@needs("admin")
def user(name: str) -> Any:
    return _user_page(name)


@bp.post("/-/users/<name>")
@needs("admin")
def change_user(name: str) -> Any:
    """One change from the user page: role, disabled, new password, grant, revoke, remove."""
    action = request.form.get("action", "")
    engine = _engine()
    new_password = None
    try:
        if action == "role":
            accounts.set_role(engine, name, request.form.get("role", ""))
            message = "Role changed."
        elif action in ("disable", "enable"):
            accounts.set_disabled(engine, name, action == "disable")
            message = "Disabled: signed out everywhere." if action == "disable" else "Enabled."
        elif action == "password":
            new_password = random_password()
            accounts.set_password(engine, name, new_password)
            message = "New password set; the user's sessions have ended."
        elif action in ("grant", "revoke"):
            database_name = request.form.get("database", "")
            database = databases_of(current_app).get(database_name)
            if database is None:
                raise AccountError(f"No database is called {database_name!r}.")
            if action == "grant":
                schema, table = grant_target(database.catalog, request.form.get("table", ""))
                level = request.form.get("level", "")
                accounts.grant(engine, name, database_name, level, schema, table)
                message = "Grant saved."
            else:  # the exact target of an existing grant (its table may be gone since)
                schema = request.form.get("schema") or None
                table = request.form.get("table") or None
                # Said, as the command line does: "Grant removed." for nothing would mislead.
                if not accounts.revoke(engine, name, database_name, schema, table):
                    raise AccountError(f"{name} has no grant on exactly that target.")
                message = "Grant removed."
        elif action == "remove":
            accounts.remove_user(engine, name)
            _changed()
            flash(f"User {name!r} removed.")
            return redirect(url_for("accounts.users"), code=303)
        else:
            raise AccountError("Unknown change.")
    except AccountError as exc:
        raise _form_error(exc) from None
    _changed()
    if new_password is not None:
        return _user_page(name, new_password=new_password)
    flash(message)
    return redirect(url_for("accounts.user", name=name), code=303)


@bp.post("/-/hidden")
@needs("admin")
def hidden_columns() -> Any:
    """Hide a column from every page (or show it again)."""
    database_name = request.form.get("database", "")
    database = databases_of(current_app).get(database_name)
    if database is None:
        raise BadRequest(f"No database is called {database_name!r}.")
    entity = database.catalog.entities.get(request.form.get("table", "").strip())
    if entity is None:
        raise BadRequest(f"Database {database_name!r} has no table {request.form.get('table')!r}.")
    wanted = request.form.get("column", "").strip()
    column = next((c for c in entity.columns.values() if c.name == wanted), None)
    if request.form.get("action") == "show":
        accounts.show_column(_engine(), database_name, entity.schema, entity.table_name, wanted)
        flash(f"{entity.name}.{wanted} is shown again.")
    else:
        if column is None:
            raise BadRequest(f"{entity.name!r} has no column {wanted!r}.")
        if column.primary_key:
            raise BadRequest("A primary-key column cannot be hidden: rows are addressed by it.")
        accounts.hide_column(_engine(), database_name, entity.schema, entity.table_name, wanted)
        flash(f"{entity.name}.{wanted} is now hidden from every page, form, export and query.")
    _changed()
    return redirect(url_for("accounts.users") + "#hidden", code=303)
