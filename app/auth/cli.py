"""``flask --app wsgi users …``: manage accounts, grants and hidden columns from a shell.

Each command acts on the app's state database (ROWBOAT_STATE_URL) and prints what it did; a
refused change prints why and exits with status 1.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from . import accounts
from .access import LEVELS, ROLES
from .accounts import AccountError
from .visible import grant_target

users = AppGroup("users", help="Rowboat's users, their roles and grants, and hidden columns.")


def _engine() -> Any:
    return current_app.extensions["rowboat.state"]


def _refusals(command: Callable[..., None]) -> Callable[..., None]:
    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None

    return run


def _database(name: str) -> Any:
    from ..db.engines import databases_of

    database = databases_of(current_app).get(name)
    if database is None:
        known = ", ".join(databases_of(current_app)) or "none"
        raise AccountError(f"No database is called {name!r} (configured: {known}).")
    return database


@users.command("list")
def list_command() -> None:
    """Every user with their role and grants."""
    for account in accounts.accounts(_engine()):
        state = " (disabled)" if account.disabled else ""
        grants = ", ".join(f"{g.scope}={g.level}" for g in account.grants) or "no grants"
        if account.role == "admin":
            grants = "everything"
        click.echo(f"{account.name}\t{account.role}{state}\t{grants}")


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--password", help="Unset: a random one, printed once.")
@_refusals
def add_command(name: str, role: str, password: str | None) -> None:
    """Add a user."""
    made = accounts.create_user(_engine(), name, role, password)
    click.echo(f"Added {name} ({role}).")
    if password is None:
        click.echo(f"Password (shown once): {made}")


@users.command("passwd")
@click.argument("name")
@click.option("--password", help="Unset: asked for twice, or random with --random.")
@click.option("--random", "random_", is_flag=True, help="Set a random password and print it.")
@_refusals
def passwd_command(name: str, password: str | None, random_: bool) -> None:
    """Set a user's password (their sessions end)."""
    from .passwords import random_password

    if random_:
        password = random_password()
    elif password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    accounts.set_password(_engine(), name, password or "")
    click.echo(f"Password of {name} changed; their sessions have ended.")
    if random_:
        click.echo(f"Password (shown once): {password}")


@users.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@_refusals
def role_command(name: str, role: str) -> None:
    """Change a user's role."""
    accounts.set_role(_engine(), name, role)
    click.echo(f"{name} is now {role}.")


@users.command("disable")
@click.argument("name")
@_refusals
def disable_command(name: str) -> None:
    """Disable a user: their sessions and tokens stop working."""
    accounts.set_disabled(_engine(), name, True)
    click.echo(f"{name} is disabled.")


@users.command("enable")
@click.argument("name")
@_refusals
def enable_command(name: str) -> None:
    """Enable a disabled user again."""
    accounts.set_disabled(_engine(), name, False)
    click.echo(f"{name} is enabled.")


@users.command("remove")
@click.argument("name")
@_refusals
def remove_command(name: str) -> None:
    """Remove a user, with their grants and tokens."""
    accounts.remove_user(_engine(), name)
    click.echo(f"Removed {name}.")


@users.command("grant")
@click.argument("name")
@click.argument("database")
@click.argument("table", default="")
@click.option("--level", type=click.Choice(LEVELS), default="read", show_default=True)
@_refusals
def grant_command(name: str, database: str, table: str, level: str) -> None:
    """Grant NAME a level on DATABASE, or one TABLE of it (schema.* for a schema)."""
    schema, table_name = grant_target(_database(database).catalog, table)
    accounts.grant(_engine(), name, database, level, schema, table_name)
    click.echo(f"{name}: {database}{'/' + table if table else ''} = {level}.")


@users.command("revoke")
@click.argument("name")
@click.argument("database")
@click.argument("table", default="")
@_refusals
def revoke_command(name: str, database: str, table: str) -> None:
    """Remove NAME's grant on DATABASE, or on one TABLE of it."""
    schema, table_name = grant_target(_database(database).catalog, table)
    if accounts.revoke(_engine(), name, database, schema, table_name):
        click.echo(f"{name}: grant on {database}{'/' + table if table else ''} removed.")
    else:
        raise AccountError(f"{name} has no grant on exactly that target.")


@users.command("hide")
@click.argument("database")
@click.argument("table")
@click.argument("column")
@_refusals
def hide_command(database: str, table: str, column: str) -> None:
    """Hide TABLE.COLUMN of DATABASE from every page, form, export and query."""
    entity = _database(database).catalog.entities.get(table)
    if entity is None:
        raise AccountError(f"Database {database!r} has no table {table!r}.")
    found = next((c for c in entity.columns.values() if c.name == column), None)
    if found is None:
        raise AccountError(f"{table!r} has no column {column!r}.")
    if found.primary_key:
        raise AccountError("A primary-key column cannot be hidden: rows are addressed by it.")
    accounts.hide_column(_engine(), database, entity.schema, entity.table_name, column)
    click.echo(f"{database}: {table}.{column} is hidden.")


@users.command("unhide")
@click.argument("database")
@click.argument("table")
@click.argument("column")
@_refusals
def unhide_command(database: str, table: str, column: str) -> None:
    """Show a hidden column again."""
    schema, _, name = table.rpartition(".") if "." in table else ("", "", table)
    entity = _database(database).catalog.entities.get(table)
    if entity is not None:
        schema, name = entity.schema or "", entity.table_name
    if not accounts.show_column(_engine(), database, schema or None, name, column):
        raise AccountError(f"{table}.{column} was not hidden.")
    click.echo(f"{database}: {table}.{column} is shown again.")
