"""Many-to-many links changed through a row's form are in the audit log, on every engine: the
parent's update entry names the target rows linked and unlinked, the history shows them, a
revert puts the links back (refused when someone changed them since), and ``reconcile``
reads them. The write itself reports exactly the link rows it inserted and deleted.

The schema is the write tests' (``test_edit_support``): ``parent`` ↔ ``tag`` through the link
table ``parent_tag``; parent 1 starts linked to tags 1 and 2.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from audit_record_support import Audited, audited_app, entries, page_at, post_form
from conftest import ENV_TO_CLEAR, dispose_app
from flask.testing import FlaskClient
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session
from test_edit_support import form_data, parent_tag, with_values

from rowboat import create_app
from rowboat.audit import journal as journal_module
from rowboat.audit.reconcile import reconcile
from rowboat.forms.fields import RelatedChanges
from rowboat.state.models import AuditEntry
from rowboat.writes.links import LinkChange, apply_related
from rowboat.writes.rows import load


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mariadb"])
def audited(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Audited]:
    with audited_app(request.param, "sqlite", "rowboat_audit_links", tmp_path_factory) as made:
        yield made


@pytest.fixture
def aud(audited: Audited) -> Audited:
    audited.reset()
    return audited


@pytest.fixture
def client(aud: Audited) -> FlaskClient:
    return aud.app.test_client()


def _relation(aud: Audited) -> str:
    """The name the catalog gives parent's many-to-many relation to tag."""
    entity = aud.app.extensions["rowboat.databases"]["w"].catalog.entities["parent"]
    (name,) = [n for n, r in entity.relations.items() if r.direction == "many-to-many"]
    return name


def _links(aud: Audited) -> list[tuple[int, int]]:
    with aud.engine.connect() as connection:
        return sorted(tuple(r) for r in connection.execute(select(parent_tag)))  # type: ignore[misc]


def _choose_tags(client: FlaskClient, *tags: str) -> Any:
    """Save parent 1's edit form with exactly ``tags`` chosen, as a browser posts it."""
    page = page_at(client, "/w/parent/1/-/edit")
    field = page.one("div", "related-search").attrs["data-name"]
    data = with_values(form_data(page), **{field: None})
    for tag in tags:
        data.add(field, tag)
    return post_form(client, "/w/parent/1/-/edit", data)


def _linked(*keys: str) -> dict[str, Any]:
    return {"t": "linked", "v": list(keys)}


def _unlinked(*keys: str) -> dict[str, Any]:
    return {"t": "unlinked", "v": list(keys)}


def _revert(client: FlaskClient, entry: int, status: int = 302) -> str:
    path = f"/w/parent/-/revert/{entry}"
    assert client.get(path).status_code == (200 if status == 302 else status)
    answer = client.post(path)
    assert answer.status_code == status, answer.get_data(as_text=True)[:2000]
    return answer.get_data(as_text=True)


def test_a_link_change_is_recorded_shown_and_reverted(aud: Audited, client: FlaskClient) -> None:
    relation = _relation(aud)
    assert _links(aud) == [(1, 1), (1, 2)]
    assert _choose_tags(client, "2", "3").status_code == 302
    assert _links(aud) == [(1, 2), (1, 3)]
    (entry,) = entries(aud.state)
    assert (entry["action"], entry["outcome"], entry["row_key"]) == ("update", "committed", "1")
    # Only the links changed: tag 2 stayed and is not listed.
    assert entry["changes"] == {relation: {"before": _unlinked("1"), "after": _linked("3")}}

    history = page_at(client, "/w/parent/1/-/history").html
    assert "unlinked 1" in history and "linked 3" in history

    _revert(client, entry["id"])
    assert _links(aud) == [(1, 1), (1, 2)]
    revert_entry = entries(aud.state)[-1]
    assert revert_entry["revert_of"] == entry["id"]
    assert revert_entry["outcome"] == "committed"
    assert revert_entry["changes"] == {relation: {"before": _unlinked("3"), "after": _linked("1")}}
    # The revert is an entry like any other: reverting it makes the first change again.
    _revert(client, revert_entry["id"])
    assert _links(aud) == [(1, 2), (1, 3)]


def test_a_save_of_columns_and_links_records_both(aud: Audited, client: FlaskClient) -> None:
    relation = _relation(aud)
    page = page_at(client, "/w/parent/1/-/edit")
    field = page.one("div", "related-search").attrs["data-name"]
    data = with_values(form_data(page), name="renamed", **{field: None})
    assert post_form(client, "/w/parent/1/-/edit", data).status_code == 302  # no tag at all
    (entry,) = entries(aud.state)
    assert entry["changes"][relation] == {"before": _unlinked("1", "2"), "after": _linked()}
    assert entry["changes"]["name"]["after"] == {"t": "text", "v": "renamed"}
    _revert(client, entry["id"])
    assert _links(aud) == [(1, 1), (1, 2)]


def test_a_revert_of_links_changed_since_is_refused(aud: Audited, client: FlaskClient) -> None:
    assert _choose_tags(client, "2", "3").status_code == 302
    (entry,) = entries(aud.state)
    with aud.engine.begin() as connection:  # someone else unlinks tag 3
        connection.execute(delete(parent_tag).where(parent_tag.c.tag_id == 3))
    page = _revert(client, entry["id"], status=409)
    assert "has changed since this entry" in page
    assert re.search(r"changed since", page)
    assert _links(aud) == [(1, 2)]  # nothing written
    assert len(entries(aud.state)) == 1


def test_reconcile_reads_the_links(aud: Audited, client: FlaskClient) -> None:
    """A crash after the commit leaves the entry pending; the links tell what happened."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(journal_module.Journal, "settle", lambda self, outcome: None)
        assert _choose_tags(client, "2", "3").status_code == 302
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=600)
    with aud.state.begin() as connection:
        connection.execute(update(AuditEntry).values(at=old))
    assert reconcile(aud.app)["committed"] == 1

    # The same entry, as if the commit had not happened: the links are as before it.
    with aud.state.begin() as connection:
        connection.execute(update(AuditEntry).values(outcome="pending"))
    with aud.engine.begin() as connection:
        connection.execute(delete(parent_tag).where(parent_tag.c.tag_id == 3))
        connection.execute(insert(parent_tag).values(parent_id=1, tag_id=1))
    assert reconcile(aud.app)["failed"] == 1


def test_the_write_reports_exactly_the_link_rows_it_changed(aud: Audited) -> None:
    """Through a search-and-add field's changes: an unlink of a row that is not linked, or
    that does not exist, changes nothing and is not reported."""
    database = aud.app.extensions["rowboat.databases"]["w"]
    catalog = database.catalog
    entity = catalog.entities["parent"]
    relation = _relation(aud)
    with aud.app.app_context(), Session(database.engine) as session:
        obj = load(session, entity, "1").obj
        change = apply_related(
            session,
            catalog,
            entity,
            obj,
            {relation: RelatedChanges(add=["3", "2"], remove=["1", "4", "99"])},
        )
        session.commit()
    assert change == {relation: LinkChange(linked=["3"], unlinked=["1"])}
    assert _links(aud) == [(1, 2), (1, 3)]
    with aud.app.app_context(), Session(database.engine) as session:
        obj = load(session, entity, "1").obj
        assert apply_related(session, catalog, entity, obj, {relation: ["2", "3"]}) == {}
        session.rollback()


def test_links_through_the_users_own_relationship(tmp_path: Any) -> None:
    """A model's own many-to-many (the demo's Book.tags): the ORM writes the link rows, and
    the entry and its revert are the same as through a reflected link table."""
    with pytest.MonkeyPatch.context() as patch:
        for variable in ENV_TO_CLEAR:
            patch.delenv(variable, raising=False)
        app = create_app(
            {
                "DEMO_PATH": str(tmp_path / "demo.sqlite"),
                "STATE_URL": f"sqlite:///{tmp_path / 'state.sqlite'}",
            }
        )
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        client = app.test_client()
        database = app.extensions["rowboat.databases"]["demo"]
        state = app.extensions["rowboat.state"]

        def tags() -> list[str]:
            with database.engine.connect() as connection:
                rows = connection.exec_driver_sql(
                    "SELECT tag_id FROM book_tags WHERE book_id = 1 ORDER BY tag_id"
                )
                return [str(t) for (t,) in rows]

        before = tags()
        page = page_at(client, "/demo/books/1/-/edit")
        box = page.one("div", "related-search")
        every = [i.attrs["value"] for i in box.find_all("input", type="checkbox")]
        chosen = [t for t in every if t not in before][:1] + before[1:]
        data = with_values(form_data(page), **{box.attrs["data-name"]: None})
        data.setlist(box.attrs["data-name"], chosen)
        assert post_form(client, "/demo/books/1/-/edit", data).status_code == 302
        assert tags() == sorted(chosen, key=int)
        (entry,) = entries(state)
        assert entry["changes"] == {
            "tags": {"before": _unlinked(*before[:1]), "after": _linked(*chosen[:1])}
        }
        assert client.post(f"/demo/books/-/revert/{entry['id']}").status_code == 302
        assert tags() == before
        assert entries(state)[-1]["changes"] == {
            "tags": {"before": _unlinked(*chosen[:1]), "after": _linked(*before[:1])}
        }
    finally:
        dispose_app(app)
