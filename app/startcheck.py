"""``python -m rowboat.startcheck``: what ``./rowboat serve`` runs before gunicorn, so that a
mistake in the settings or in the user's models is said once, plainly, and the server does not
start (exit status 2), instead of every worker failing or every page answering 500.

With no database configured, it builds the demo database (the first start), before the workers
exist. It also compares the user's models with their databases and says where they differ: those
tables will not work, the others will (the drift page lists the differences). A database that
cannot be reached is not an error here: pages answer 503 until it is back.
"""

from __future__ import annotations

import os
import sys

from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError

from . import checkout_path
from .catalog.discovery import check_models, models_for
from .config import ConfigError, DatabaseConfig, load_config
from .schema.drift import MODELS_ONLY, compare


def main() -> int:
    try:
        config = load_config(os.environ)
        for database in config["DATABASES"].values():
            check_models(database)
    except ConfigError as exc:
        print(f"rowboat: {exc}", file=sys.stderr)
        return 2
    if not config["DATABASES"]:
        _build_demo(checkout_path(config["DEMO_PATH"], os.path.dirname(__file__)))
    for database in config["DATABASES"].values():
        if database.models is not None:
            _report_drift(database)
    return 0


def _build_demo(path: str) -> None:
    """Build the demo database now, before gunicorn starts its workers, and say so: built by
    the first request instead, it kept that request waiting for seconds without a word."""
    from .demo import ensure_demo_database

    if os.path.exists(path):
        return
    print(
        f"rowboat: building the demo database at {path} (first start, a few seconds)",
        file=sys.stderr,
    )
    ensure_demo_database(path)
    print("rowboat: the demo database is ready", file=sys.stderr)


def _report_drift(database: DatabaseConfig) -> None:
    """Warn (once, at start) about tables of the models the database does not have as they
    say; a database that is down is left to the pages."""
    engine = create_engine(database.url, connect_args=_quick(database.url))
    try:
        items, _ = compare(engine, models_for(database).metadata)
    except SQLAlchemyError:
        return
    finally:
        engine.dispose()
    missing = sorted({i.table for i in items if i.direction == MODELS_ONLY and i.kind == "table"})
    columns = [i for i in items if i.direction == MODELS_ONLY and i.kind == "column"]
    if not missing and not columns:
        return
    parts = []
    if missing:
        parts.append(f"tables missing from the database: {', '.join(missing)}")
    if columns:
        named = ", ".join(f"{i.table}.{i.name}" for i in columns[:10])
        parts.append(f"columns missing: {named}{'…' if len(columns) > 10 else ''}")
    print(
        f"rowboat: warning: the models of {database.name!r} do not match the database "
        f"({'; '.join(parts)}). Those tables will answer with an error; the others work. "
        f"Migrate the database or fix the models; the drift page /{database.name}/-/drift "
        "lists every difference.",
        file=sys.stderr,
    )


def _quick(url: str) -> dict[str, object]:
    """A short connect timeout: the check must not hold the start-up on a server that is down."""
    if url.startswith(("postgresql", "mysql", "mariadb")):
        return {"connect_timeout": 5}
    return {}


if __name__ == "__main__":
    sys.exit(main())
