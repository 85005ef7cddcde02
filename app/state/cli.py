"""``flask --app wsgi state upgrade | downgrade REV | current``: the migrations by hand.

The app applies ``upgrade`` itself on start; these act on the app's STATE_URL.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from . import migrate

state = AppGroup("state", help="Rowboat's own state database: its migrations.")


def _url() -> str:
    url: str = current_app.config["STATE_URL"]
    return url


@state.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    """Apply the migrations up to REVISION (the newest by default)."""
    migrate.upgrade(_url(), revision)
    click.echo(f"{migrate.safe_url(_url())}: at {migrate.current(_url()) or 'base (empty)'}")


@state.command("downgrade")
@click.argument("revision")
def downgrade_command(revision: str) -> None:
    """Undo the migrations down to REVISION ("base": no tables at all)."""
    migrate.downgrade(_url(), revision)
    click.echo(f"{migrate.safe_url(_url())}: at {migrate.current(_url()) or 'base (empty)'}")


@state.command("current")
def current_command() -> None:
    """Print the revision the state database is at, and the newest one."""
    click.echo(f"{migrate.current(_url()) or 'base (empty)'} (head: {migrate.head()})")
