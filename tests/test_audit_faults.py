"""Fault injection around the audit log's two commits, on SQLite, PostgreSQL and MariaDB.

The audit log lives in the state database and the row in the target database, so a write is
three steps: entries written "pending" (state), the row committed (target), the entries
settled. Each step is broken here in turn:

(a) the state database refuses the pending entries: the save answers 503, nothing is written;
(b) the target's COMMIT fails after the entries are pending: they end "failed", or "unknown"
    when the connection was killed during the COMMIT; never "committed" over an unchanged row;
(c) the process "dies" between the target's commit and the settle: the entries stay pending
    and ``reconcile`` settles them by reading the rows, committed or failed.

Throughout: no committed change lacks an entry, no entry claims a change that was rolled back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from audit_record_support import (
    COMBINATIONS,
    Audited,
    audited_app,
    entries,
    page_at,
    post_form,
    stored,
)
from conftest import dispose_app
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, event, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from test_edit_support import form_data, make_edit_app, with_values

from rowboat.audit import journal as journal_module
from rowboat.audit.reconcile import reconcile
from rowboat.state.models import AuditEntry


@pytest.fixture(scope="module", params=COMBINATIONS[:3], ids=lambda c: c[0])
def audited(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Audited]:
    with audited_app(*request.param, "rowboat_audit_faults", tmp_path_factory) as made:
        yield made


@pytest.fixture
def aud(audited: Audited) -> Audited:
    audited.reset()
    return audited


@pytest.fixture
def client(aud: Audited) -> FlaskClient:
    return aud.app.test_client()


def _writes(client: FlaskClient) -> dict[str, Any]:
    """Every kind of write, ready to post: an edit, a create, a delete, a bulk delete."""
    bulk = with_values(form_data(page_at(client, "/w/pair"), "bulk-delete"), _key=None)
    bulk.setlist("_key", ["1,a", "1,b"])
    bulk["_confirm"] = "1"
    return {
        "edit": (
            "/w/kinds/1/-/edit",
            with_values(form_data(page_at(client, "/w/kinds/1/-/edit")), label="changed"),
        ),
        "create": (
            "/w/tag/-/new",
            with_values(form_data(page_at(client, "/w/tag/-/new")), id="9", name="new tag"),
        ),
        "delete": ("/w/tag/3/-/delete", form_data(page_at(client, "/w/tag/3/-/delete"), "confirm")),
        "bulk": ("/w/pair/-/delete", bulk),
    }


def _unchanged(aud: Audited) -> None:
    """None of the writes of ``_writes`` happened."""
    assert stored(aud.app, "kinds", "1")["label"] == "first"  # type: ignore[index]
    assert stored(aud.app, "tag", "9") is None
    assert stored(aud.app, "tag", "3") is not None
    assert stored(aud.app, "pair", "1,a") is not None and stored(aud.app, "pair", "1,b")


def _done(aud: Audited) -> None:
    """Every write of ``_writes`` happened."""
    assert stored(aud.app, "kinds", "1")["label"] == "changed"  # type: ignore[index]
    assert stored(aud.app, "tag", "9") is not None
    assert stored(aud.app, "tag", "3") is None
    assert stored(aud.app, "pair", "1,a") is None and stored(aud.app, "pair", "1,b") is None


def _outcomes(state: Engine) -> list[tuple[str, str, str]]:
    return [(e["table"], e["row_key"], e["outcome"]) for e in entries(state)]


EXPECTED_ROWS = [("kinds", "1"), ("tag", "9"), ("tag", "3"), ("pair", "1,a"), ("pair", "1,b")]


# --- (a) the state database refuses the pending entries ---------------------------------------


@contextmanager
def _state_replaced(aud: Audited, engine: Engine) -> Iterator[None]:
    saved = aud.app.extensions["rowboat.state"]
    aud.app.extensions["rowboat.state"] = engine
    try:
        yield
    finally:
        aud.app.extensions["rowboat.state"] = saved


def test_a_state_database_that_refuses_the_entries_stops_the_write(
    aud: Audited, client: FlaskClient, tmp_path: Any
) -> None:
    writes = _writes(client)
    broken = create_engine(f"sqlite:///{tmp_path}/no/such/folder/state.sqlite")
    with _state_replaced(aud, broken):
        for name, (path, data) in writes.items():
            response = post_form(client, path, data)
            assert response.status_code == 503, (name, response.status_code)
            assert response.headers["Retry-After"]
            body = response.get_data(as_text=True)
            assert "audit log" in body and "nothing was written" in body, name
    broken.dispose()
    _unchanged(aud)
    assert entries(aud.state) == []

    # The audit table gone (a state database restored from an old backup, say): the same.
    with aud.state.begin() as connection:
        connection.execute(text("ALTER TABLE audit_entries RENAME TO audit_entries_away"))
    try:
        path, data = writes["edit"]
        assert post_form(client, path, data).status_code == 503
    finally:
        with aud.state.begin() as connection:
            connection.execute(text("ALTER TABLE audit_entries_away RENAME TO audit_entries"))
    _unchanged(aud)
    assert entries(aud.state) == []
    # And once the state database is back, the same form saves, recorded.
    assert post_form(client, *writes["edit"]).status_code == 302
    assert _outcomes(aud.state) == [("kinds", "1", "committed")]


# --- (b) the target's COMMIT fails after the entries are pending -----------------------------


@contextmanager
def _failing_commit(aud: Audited, error: BaseException) -> Iterator[list[str]]:
    """The target session's COMMIT raises ``error`` (after a rollback: nothing is committed),
    once the entries are pending; yields the outcomes the entries had at that moment."""
    target = aud.app.extensions["rowboat.databases"]["w"].engine
    original = Session.commit
    seen: list[str] = []

    def commit(self: Session) -> None:
        if self.get_bind() is not target:
            original(self)
            return
        seen.extend(e["outcome"] for e in entries(aud.state))
        self.rollback()
        raise error

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Session, "commit", commit)
        yield seen


def test_a_commit_the_database_refuses_leaves_failed_entries(
    aud: Audited, client: FlaskClient
) -> None:
    writes = _writes(client)
    refused = IntegrityError("COMMIT", None, Exception("deferred constraint violated"))
    with _failing_commit(aud, refused) as seen:
        for name, (path, data) in writes.items():
            response = post_form(client, path, data)
            assert response.status_code in (400, 409), (name, response.status_code)
    assert "pending" in seen  # the entries were there before the commit was tried
    _unchanged(aud)
    outcomes = _outcomes(aud.state)
    assert sorted(outcomes) == sorted((t, k, "failed") for t, k in EXPECTED_ROWS)


def test_an_exception_during_commit_never_leaves_a_committed_entry(
    aud: Audited, client: FlaskClient
) -> None:
    """Not a database error: the commit was reached, so the outcome is not known."""
    aud.app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        with _failing_commit(aud, RuntimeError("worker killed")):
            response = post_form(client, *_writes(client)["edit"])
    finally:
        aud.app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code == 500
    _unchanged_edit(aud)
    assert _outcomes(aud.state) == [("kinds", "1", "unknown")]


def _unchanged_edit(aud: Audited) -> None:
    assert stored(aud.app, "kinds", "1")["label"] == "first"  # type: ignore[index]


def _backend_id(dbapi_connection: Any, engine_name: str) -> int:
    if engine_name == "postgresql":
        return int(dbapi_connection.get_backend_pid())
    return int(dbapi_connection.thread_id())


def test_a_connection_killed_during_commit_leaves_unknown_never_committed(
    aud: Audited, client: FlaskClient
) -> None:
    if aud.engine_name == "sqlite":
        pytest.skip("an SQLite connection is a file, not a connection that can be killed")
    target = aud.app.extensions["rowboat.databases"]["w"].engine
    path, data = _writes(client)["edit"]

    def kill(connection: Any) -> None:
        victim = _backend_id(connection.connection.dbapi_connection, aud.engine_name)
        with aud.engine.connect() as other:
            if aud.engine_name == "postgresql":
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
            else:
                other.execute(text(f"KILL {victim}"))

    event.listen(target, "commit", kill)
    try:
        response = post_form(client, path, data)
    finally:
        event.remove(target, "commit", kill)
    assert response.status_code == 503
    assert "cannot tell whether" in response.get_data(as_text=True)
    _unchanged_edit(aud)  # the server rolled back the transaction of the killed backend
    assert _outcomes(aud.state) == [("kinds", "1", "unknown")]
    # At the next start the row tells: unchanged, so the change did not happen.
    with aud.state.begin() as connection:
        connection.execute(
            update(AuditEntry).values(at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=600))
        )
    assert reconcile(aud.app)["failed"] == 1
    assert _outcomes(aud.state) == [("kinds", "1", "failed")]
    # The app recovers: the same save goes through, recorded once.
    assert post_form(client, *_writes(client)["edit"]).status_code == 302
    assert _outcomes(aud.state)[-1] == ("kinds", "1", "committed")


# --- (c) a crash between the target's commit and the settle ---------------------------------


@contextmanager
def _no_settle() -> Iterator[None]:
    """The process dies after the target's commit: the entries are never settled."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(journal_module.Journal, "settle", lambda self, outcome: None)
        yield


def _age(state: Engine, seconds: float = 600) -> None:
    """Make every pending entry ``seconds`` old (as if the crash was a while ago)."""
    with state.begin() as connection:
        connection.execute(
            update(AuditEntry)
            .where(AuditEntry.outcome == "pending")
            .values(at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds))
        )


def test_reconcile_settles_a_change_that_was_committed(aud: Audited, client: FlaskClient) -> None:
    writes = _writes(client)
    with _no_settle():
        for name, (path, data) in writes.items():
            assert post_form(client, path, data).status_code == 302, name
    _done(aud)
    assert {e["outcome"] for e in entries(aud.state)} == {"pending"}
    # Too recent: a write of another worker may still be on its way. Left alone.
    assert reconcile(aud.app)["committed"] == 0
    _age(aud.state)
    counts = reconcile(aud.app)
    assert counts == {"committed": 5, "failed": 0, "unknown": 0, "skipped": 0}
    assert sorted(_outcomes(aud.state)) == sorted((t, k, "committed") for t, k in EXPECTED_ROWS)
    assert reconcile(aud.app, 0)["committed"] == 0  # settled once


def test_reconcile_fails_a_change_that_never_happened(aud: Audited, client: FlaskClient) -> None:
    writes = _writes(client)
    refused = IntegrityError("COMMIT", None, Exception("deferred constraint violated"))
    with _no_settle(), _failing_commit(aud, refused):
        for name, (path, data) in writes.items():
            assert post_form(client, path, data).status_code in (400, 409), name
    _unchanged(aud)
    assert {e["outcome"] for e in entries(aud.state)} == {"pending"}
    _age(aud.state)
    counts = reconcile(aud.app)
    assert counts == {"committed": 0, "failed": 5, "unknown": 0, "skipped": 0}
    assert sorted(_outcomes(aud.state)) == sorted((t, k, "failed") for t, k in EXPECTED_ROWS)


def test_reconcile_says_unknown_when_the_row_moved_on_and_skips_a_missing_database(
    aud: Audited, client: FlaskClient
) -> None:
    with _no_settle():
        assert post_form(client, *_writes(client)["edit"]).status_code == 302
    with aud.engine.begin() as connection:  # changed again since, outside Rowboat
        connection.execute(text("UPDATE kinds SET label = 'third' WHERE id = 1"))
    with aud.state.begin() as connection:  # and an entry of a database no longer configured
        connection.execute(
            AuditEntry.__table__.insert().values(
                at=dt.datetime.now(dt.UTC),
                database="gone",
                schema="",
                table="t",
                row_key="1",
                row_hash="0" * 64,
                action="delete",
                changes="{}",
                batch="b" * 36,
                outcome="pending",
            )
        )
    _age(aud.state)
    assert reconcile(aud.app) == {"committed": 0, "failed": 0, "unknown": 1, "skipped": 1}
    assert [e["outcome"] for e in entries(aud.state)] == ["unknown", "pending"]


def test_reconcile_runs_when_the_app_starts(
    aud: Audited, client: FlaskClient, tmp_path: Any
) -> None:
    with _no_settle():
        assert post_form(client, *_writes(client)["edit"]).status_code == 302
    _age(aud.state)
    restarted = make_edit_app(aud.url, tmp_path, STATE_URL=aud.state_url)
    try:
        thread = restarted.extensions["rowboat.reconcile"]
        thread.join(timeout=60)
        assert not thread.is_alive()
    finally:
        dispose_app(restarted)
    assert _outcomes(aud.state) == [("kinds", "1", "committed")]


def test_the_reconcile_command_settles_from_a_shell(aud: Audited, client: FlaskClient) -> None:
    with _no_settle():
        assert post_form(client, *_writes(client)["edit"]).status_code == 302
    result = aud.app.test_cli_runner().invoke(args=["audit", "reconcile", "--min-age", "0"])
    assert result.exit_code == 0, result.output
    assert "committed: 1" in result.output
    assert _outcomes(aud.state)[-1] == ("kinds", "1", "committed")
