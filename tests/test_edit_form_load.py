"""The edit form of a reflected table reads the row's values, not an object, and its
fingerprint must be exactly the one a save computes from the object it locks.

``writes.load_for_form`` reads a reflected row with one select (its labels as subqueries);
``writes.load`` loads the object a save checks. If the two disagreed on any value's type
(a Decimal, a timezone, a UUID, a JSON document, an engine's own types), every untouched form
would come back as a conflict. Every row of every table of the write database, on every
engine, is checked both ways; a table with bytes (read as sizes by the select) loads its object.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_edit_support import edit_app, edit_url, refill  # noqa: F401

from rowboat import writes
from rowboat.browse import labels
from rowboat.browse.rowpage import find_row
from rowboat.core import keys
from rowboat.writes import rows


def _database(app: Flask) -> Any:
    return app.extensions["rowboat.databases"]["w"]


def _identities(session: Session, entity: Any) -> list[str]:
    pk = [entity.columns[k] for k in entity.primary_key]
    stmt = select(*[c.expression for c in pk]).select_from(entity.selectable).limit(20)
    return [keys.encode_identity(tuple(row), pk) for row in session.execute(stmt)]


def test_values_and_objects_fingerprint_alike(edit_app: Flask) -> None:  # noqa: F811
    database = _database(edit_app)
    catalog = database.catalog
    checked = 0
    with Session(database.engine) as session:
        for entity in catalog.entities.values():
            if entity.read_only or not entity.primary_key:
                continue
            for identity in _identities(session, entity):
                loaded = writes.load(session, entity, identity)
                _, values, _ = find_row(session, entity, identity, ())
                stored = {k: values[k] for k in rows.stored_keys(entity)}
                for key, column in entity.columns.items():
                    if column.kind == "binary":  # the select reads its size: use the bytes
                        stored[key] = loaded.values[key]
                assert stored == loaded.values, (entity.name, identity)
                assert rows._digest(entity, stored) == loaded.fingerprint, (entity.name, identity)
                quick, _ = writes.load_for_form(session, catalog, entity, identity, False)
                assert quick.fingerprint == loaded.fingerprint
                checked += 1
    assert checked >= 10


def test_the_form_shows_the_label_read_with_the_row(edit_app: Flask) -> None:  # noqa: F811
    database = _database(edit_app)
    catalog = database.catalog
    entity = catalog.entities["child_setnull"]
    with Session(database.engine) as session:
        identity = _identities(session, entity)[0]
        loaded, refs = writes.load_for_form(session, catalog, entity, identity, False)
        assert loaded.obj is None  # values only
        known = writes.known_labels(entity, loaded.values, refs)
        joins = labels.label_joins(catalog, entity)
        looked_up = labels.foreign_key_refs(session, catalog, entity, [loaded.values])
    (relation,) = entity.many_to_one
    value = loaded.values["parent_id"]
    assert joins and value is not None  # the fixture's child points at a named parent
    assert known == {("parent_id", value): looked_up[relation.name][(value,)].label}
    page = edit_app.test_client().get(f"/w/child_setnull/{identity}/-/edit")
    assert page.status_code == 200
    assert known[("parent_id", value)] in page.get_data(as_text=True)
