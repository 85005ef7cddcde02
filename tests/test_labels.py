"""Labels read in the page's own query agree with labels looked up separately, on every engine.

A list page and a row page select what their foreign keys point at with correlated
subqueries (``labels.label_joins``); ``labels.foreign_key_refs`` looks the same references up
with one ``IN`` query per relation. Both must give the same label and link for every row of
every table of the edge schema: a self-reference (``person.mentor_id``), a key that is text
(``item.tag_code``), a link table with two foreign keys, reserved-word names. A reference to
a row that does not exist (written with the server's foreign-key checks switched off) must
come back as no reference at all from both, so the page marks it "(missing)".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from rowboat.browse import labels, listing, rowpage

DANGLING_ORDER = 990_001
MISSING_PERSON = 987_654


def _database(app: Flask) -> Any:
    return app.extensions["rowboat.databases"]["edge"]


def _whole_table(app: Flask, entity_name: str) -> tuple[Any, listing.Page]:
    database = _database(app)
    catalog = database.catalog
    entity = catalog.entities[entity_name]
    query = listing.parse_list_query(entity, catalog, [("_size", "500")], 50, 500)
    with Session(database.engine) as session:
        joins = labels.label_joins(catalog, entity)
        page = listing.fetch_page(session, entity, query, catalog.dialect, joins)
    return entity, page


def _looked_up(app: Flask, entity: Any, rows: list[dict[str, Any]]) -> labels.Refs:
    database = _database(app)
    with Session(database.engine) as session:
        return labels.foreign_key_refs(session, database.catalog, entity, rows)


def test_every_table_labels_the_same_both_ways(app: Flask) -> None:
    catalog = _database(app).catalog
    joined = set()  # (table, its foreign-key columns) labelled from the page query
    for name, entity in catalog.entities.items():
        if not entity.many_to_one:
            continue
        entity, page = _whole_table(app, name)
        looked_up = _looked_up(app, entity, page.rows)
        for relation_name, refs in page.refs.items():
            joined.add((name, tuple(entity.relations[relation_name].local_keys)))
            assert refs == looked_up[relation_name], (name, relation_name)
    # A self-reference, a text key, a reserved-word table: all read in the page query.
    expected = {("person", ("mentor_id",)), ("item", ("tag_code",)), ("order", ("person_id",))}
    assert expected <= joined


def test_self_reference_labels_each_row_with_its_mentor(app: Flask) -> None:
    person, page = _whole_table(app, "person")
    (relation,) = [r for r in person.many_to_one if r.local_keys == ["mentor_id"]]
    names = {row["id"]: row["name"] for row in page.rows}
    mentored = [row for row in page.rows if row["mentor_id"] is not None]
    assert mentored
    for row in mentored:
        ref = page.refs[relation.name][(row["mentor_id"],)]
        assert ref.label == names[row["mentor_id"]]  # the mentor's name, not the row's own
        assert ref.identity == str(row["mentor_id"])


def test_row_page_reads_the_same_labels(app: Flask) -> None:
    database = _database(app)
    catalog = database.catalog
    entity, page = _whole_table(app, "person")
    joins = labels.label_joins(catalog, entity)
    with Session(database.engine) as session:
        for row in page.rows[:10]:
            identity_text = str(row["id"])
            _, values, refs = rowpage.find_row(session, entity, identity_text, joins)
            assert values == row
            expected = labels.foreign_key_refs(session, catalog, entity, [values])
            for relation_name, found in refs.items():
                assert found == expected.get(relation_name, {})


# How each engine lets a session write a foreign key that points at nothing, and stops again.
FOREIGN_KEY_CHECKS = {
    "sqlite": ("PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys = ON"),
    "postgresql": (
        "SET session_replication_role = replica",
        "SET session_replication_role = DEFAULT",
    ),
    "mariadb": ("SET FOREIGN_KEY_CHECKS = 0", "SET FOREIGN_KEY_CHECKS = 1"),
}


@pytest.fixture
def dangling_order(app: Flask, engine_name: str) -> Iterator[int]:
    """An order pointing at a person who does not exist, removed again afterwards."""
    database = _database(app)
    order = database.catalog.entities["order"].selectable  # quoted by SQLAlchemy: reserved words
    off, on = FOREIGN_KEY_CHECKS[engine_name]
    with database.engine.connect() as connection:
        connection.exec_driver_sql(off)
        connection.execute(
            insert(order).values(id=DANGLING_ORDER, person_id=MISSING_PERSON, **{"from": "x"})
        )
        connection.commit()
        connection.exec_driver_sql(on)
    try:
        yield DANGLING_ORDER
    finally:
        with database.engine.begin() as connection:
            connection.execute(delete(order).where(order.c.id == DANGLING_ORDER))


def test_a_dangling_reference_has_no_label_either_way(app: Flask, dangling_order: int) -> None:
    entity, page = _whole_table(app, "order")
    (relation,) = [r for r in entity.many_to_one if r.local_keys == ["person_id"]]
    (row,) = [r for r in page.rows if r["id"] == dangling_order]
    assert (MISSING_PERSON,) not in page.refs[relation.name]
    assert (MISSING_PERSON,) not in _looked_up(app, entity, [row]).get(relation.name, {})
    others = [r for r in page.rows if r["person_id"] not in (None, MISSING_PERSON)]
    assert others and all((r["person_id"],) in page.refs[relation.name] for r in others)
    response = app.test_client().get(f"/edge/order/{dangling_order}")
    assert response.status_code == 200
    # The record marks the reference where it shows it, in the person_id row.
    assert 'title="no matching row in person">(missing)' in response.get_data(as_text=True)
    listed = app.test_client().get("/edge/order?_size=500").get_data(as_text=True)
    assert "(missing)" in listed
