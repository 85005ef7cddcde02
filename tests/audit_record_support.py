"""Helpers for test_audit_record.py and test_audit_faults.py: the write tests' schema
(``test_edit_support``) in a database of its own per target engine, an app on it whose state
database is its own too (SQLite, or PostgreSQL in one run), and readers of the audit log.

Each module gets one database and one app per combination (module scope); every test starts
from the refilled rows and an empty audit log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import ENV_TO_CLEAR, Page, dispose_app, engine_of, fresh_database
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, delete, select
from test_edit_support import extra_metadata, make_edit_app, metadata, refill

from rowboat.state.models import AuditEntry

# (target engine, state engine): each target with its state on SQLite, and MariaDB's with
# its state on PostgreSQL (the state database on a server, apart from the target's server).
COMBINATIONS = [
    ("sqlite", "sqlite"),
    ("postgresql", "sqlite"),
    ("mariadb", "sqlite"),
    ("mariadb", "postgresql"),
]


@dataclass
class Audited:
    """An app on a fresh write database, with a state database of its own."""

    app: Flask
    url: str  # the target database's
    state_url: str
    engine: Engine  # a separate engine on the target, for reading back

    @property
    def engine_name(self) -> str:
        return engine_of(self.url)

    @property
    def state(self) -> Engine:
        return self.app.extensions["rowboat.state"]

    def reset(self) -> None:
        refill(self.url)
        with self.state.begin() as connection:
            connection.execute(delete(AuditEntry))


@contextmanager
def audited_app(
    target: str, state: str, name: str, tmp_path_factory: pytest.TempPathFactory, **settings: Any
) -> Iterator[Audited]:
    with (
        fresh_database(target, name, tmp_path_factory) as url,
        fresh_database(state, name + "_state", tmp_path_factory) as state_url,
    ):
        engine = create_engine(url)
        metadata.create_all(engine)
        extra = extra_metadata(target)
        if extra is not None:
            extra.create_all(engine)
        refill(url)
        with pytest.MonkeyPatch.context() as patch:
            for variable in ENV_TO_CLEAR:
                patch.delenv(variable, raising=False)
            folder = tmp_path_factory.mktemp(name)
            app = make_edit_app(url, folder, STATE_URL=state_url, **settings)
        thread = app.extensions.get("rowboat.reconcile")
        if thread is not None:
            thread.join(timeout=30)  # the start-up reconcile: nothing to do on a fresh state
        try:
            yield Audited(app, url, state_url, engine)
        finally:
            dispose_app(app)
            engine.dispose()


def entries(state: Engine) -> list[dict[str, Any]]:
    """Every audit entry, oldest first, with ``changes`` and ``cascade`` parsed."""
    with state.connect() as connection:
        rows = connection.execute(select(AuditEntry.__table__).order_by(AuditEntry.id)).all()
    found = []
    for row in rows:
        entry = dict(row._mapping)
        entry["changes"] = json.loads(entry["changes"])
        entry["cascade"] = json.loads(entry["cascade"]) if entry["cascade"] else None
        found.append(entry)
    return found


def only_entry(state: Engine) -> dict[str, Any]:
    found = entries(state)
    assert len(found) == 1, found
    return found[0]


def stored(app: Flask, table: str, key: str) -> dict[str, Any] | None:
    """The row's values as Rowboat reads them (its own types; binary columns as size and
    digest), None when there is no such row."""
    from sqlalchemy.orm import Session

    from rowboat.db.errors import NotFound
    from rowboat.writes.rows import load

    database = app.extensions["rowboat.databases"]["w"]
    with app.app_context(), Session(database.engine) as session:
        try:
            return load(session, database.catalog.entities[table], key).values
        except NotFound:
            return None


def agrees(recorded: Any, value: Any) -> bool:
    """Whether an entry's encoded value is exactly the encoding of ``value``; a time zone
    may be spelled differently (the entry keeps the offset the user typed, PostgreSQL gives
    the instant back in UTC), the instant must be the same."""
    from rowboat.audit.values import decode, encode

    now = json.loads(json.dumps(encode(value)))
    if now == recorded:
        return True
    return (
        isinstance(now, dict)
        and isinstance(recorded, dict)
        and now.get("t") == recorded.get("t") == "datetime"
        and decode(now) == decode(recorded)
        and decode(now).tzinfo is not None
    )


def assert_matches_row(app: Flask, entry: dict[str, Any]) -> None:
    """A committed create or update entry: every "after" is what the row now holds."""
    row = stored(app, entry["table"], entry["row_key"])
    assert row is not None, entry
    wrong = {
        k: (c["after"], row[k])
        for k, c in entry["changes"].items()
        if not agrees(c["after"], row[k])
    }
    assert not wrong, wrong


def page_at(client: FlaskClient, path: str) -> Page:
    """The page at ``path``, which must answer 200."""
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return Page(response.get_data(as_text=True))


def post_form(client: FlaskClient, path: str, data: Any, **request: Any) -> Any:
    """Post ``data`` as a browser posts a row form (multipart)."""
    return client.post(path, data=data, content_type="multipart/form-data", **request)
