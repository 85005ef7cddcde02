"""``flask --app wsgi audit …`` (``./rowboat audit …``): the audit log from a shell.

``audit prune`` applies the retention (ROWBOAT_AUDIT_RETENTION_DAYS, or ``--days N``): it
deletes the entries older than that many days and prints how many went. Run it from cron.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from . import log

audit = AppGroup("audit", help="Rowboat's audit log: retention and reconciling.")


@audit.command("prune")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="Keep this many days (default: ROWBOAT_AUDIT_RETENTION_DAYS).",
)
def prune(days: int | None) -> None:
    """Delete audit entries older than the retention period."""
    if days is None:
        days = int(current_app.config.get("AUDIT_RETENTION_DAYS") or 0)
        if days < 1:
            raise click.ClickException(
                "Nothing pruned: ROWBOAT_AUDIT_RETENTION_DAYS is 0 or unset, which keeps the "
                "audit log forever. Set it, or give --days N to delete entries older than N days."
            )
    removed = log.prune(current_app.extensions["rowboat.state"], days)
    noun = "entry" if removed == 1 else "entries"
    click.echo(f"Deleted {removed:,} audit {noun} older than {days} day{'s' if days != 1 else ''}.")


@audit.command("reconcile")
@click.option(
    "--min-age",
    type=click.FloatRange(min=0),
    default=120.0,
    show_default=True,
    help="Leave entries younger than this many seconds (a write may still be on its way).",
)
def reconcile_command(min_age: float) -> None:
    """Settle entries left pending (or of unknown outcome) by reading their rows."""
    from .reconcile import reconcile

    counts = reconcile(current_app._get_current_object(), min_age)  # type: ignore[attr-defined]
    click.echo(", ".join(f"{name}: {number}" for name, number in counts.items()))
