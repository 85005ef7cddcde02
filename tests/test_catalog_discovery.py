"""Discovery on the edge-case schema, on every engine: what the catalog says about each table.

Reflection plus automap must describe every table and the view, keep the unaddressable ones
read-only with a reason, survive the relationship-name clash between a direct foreign key and
a link table to the same target, and pick the columns that label rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from edge_schema import ALL_NAMES, TABLE_NAMES, VIEW_NAME
from sqlalchemy import create_engine

from rowboat.catalog.discovery import NO_PRIMARY_KEY, VIEW, discover
from rowboat.catalog.model import Catalog, Entity, Relation
from rowboat.config import DatabaseConfig


@pytest.fixture
def catalog(edge_url: str) -> Iterator[Catalog]:
    engine = create_engine(edge_url)
    try:
        yield discover(DatabaseConfig(name="edge", url=edge_url), engine)
    finally:
        engine.dispose()


def _relations_to(entity: Entity, target: str, direction: str) -> list[Relation]:
    return [r for r in entity.relations.values() if r.target == target and r.direction == direction]


def test_every_table_and_the_view_is_in_the_catalog(catalog: Catalog) -> None:
    assert sorted(catalog.entities) == ALL_NAMES
    assert catalog.entities[VIEW_NAME].kind == "view"
    assert {catalog.entities[name].kind for name in TABLE_NAMES} == {"table"}
    assert catalog.mode == "reflected"
    assert catalog.warnings == []  # nothing degraded: every mapping succeeded


def test_names_keep_their_case_spaces_and_reserved_words(catalog: Catalog) -> None:
    assert catalog.entities["MixedCase"].table_name == "MixedCase"
    assert "CamelColumn" in catalog.entities["MixedCase"].columns
    assert "some value" in catalog.entities["spaced table"].columns
    assert "from" in catalog.entities["order"].columns
    assert catalog.entities["group"].table_name == "group"


def test_view_and_table_without_key_are_read_only_with_a_reason(catalog: Catalog) -> None:
    view = catalog.entities[VIEW_NAME]
    nokey = catalog.entities["nokey"]
    assert view.read_only and view.read_only_reason == VIEW
    assert nokey.read_only and nokey.read_only_reason == NO_PRIMARY_KEY
    assert view.primary_key == [] and nokey.primary_key == []
    writable = [name for name in TABLE_NAMES if name != "nokey"]
    assert [name for name in writable if catalog.entities[name].read_only] == []
    # Mapped (automap or a plain mapping), so their rows can be loaded by key.
    assert all(catalog.entities[name].mapped_class is not None for name in writable)


def test_composite_and_text_primary_keys_are_recorded(catalog: Catalog) -> None:
    assert catalog.entities["grid"].primary_key == ["x", "y"]
    assert catalog.entities["membership"].primary_key == ["person_id", "group_id"]
    assert catalog.entities["tag"].primary_key == ["code"]
    assert catalog.entities["tag"].columns["code"].kind == "text"


def test_direct_foreign_key_and_link_table_map_without_a_name_clash(catalog: Catalog) -> None:
    person, group = catalog.entities["person"], catalog.entities["group"]
    [favourite] = _relations_to(person, "group", "many-to-one")
    [groups] = _relations_to(person, "group", "many-to-many")
    assert favourite.local_keys == ["favourite_group_id"] and favourite.target_keys == ["id"]
    assert favourite.name != groups.name
    assert favourite.attribute is not None and groups.attribute is not None

    [favoured_by] = _relations_to(group, "person", "one-to-many")
    [members] = _relations_to(group, "person", "many-to-many")
    assert favoured_by.target_keys == ["favourite_group_id"]
    assert favoured_by.name != members.name
    # Names are unique per entity and never shadow a column.
    for entity in catalog.entities.values():
        assert not set(entity.relations) & set(entity.columns), entity.name


def test_self_reference_goes_both_ways(catalog: Catalog) -> None:
    person = catalog.entities["person"]
    [mentor] = _relations_to(person, "person", "many-to-one")
    [mentees] = _relations_to(person, "person", "one-to-many")
    assert mentor.local_keys == ["mentor_id"]
    assert mentees.target_keys == ["mentor_id"]
    assert person.foreign_key_for("mentor_id") is mentor


def test_link_table_rows_link_to_both_ends(catalog: Catalog) -> None:
    membership = catalog.entities["membership"]
    targets = {r.target: r.local_keys for r in membership.many_to_one}
    assert targets == {"person": ["person_id"], "group": ["group_id"]}
    # Each end lists the link table's rows on its row page.
    for end, key in (("person", "person_id"), ("group", "group_id")):
        backs = _relations_to(catalog.entities[end], "membership", "one-to-many")
        assert [r.target_keys for r in backs] == [[key]]


def test_foreign_keys_to_text_and_labelled_targets(catalog: Catalog) -> None:
    item = catalog.entities["item"]
    by_column = {r.local_keys[0]: r.target for r in item.many_to_one}
    assert by_column == {"group_id": "group", "tag_code": "tag"}
    assert catalog.entities["order"].foreign_key_for("person_id").target == "person"


def test_labels_use_the_name_column(catalog: Catalog) -> None:
    for name in ("group", "person", "tag"):
        assert catalog.entities[name].label_keys == ["name"], name
    assert catalog.entities["membership"].label_keys == []  # nothing textual to show


def test_column_kinds(catalog: Catalog) -> None:
    kinds = {key: column.kind for key, column in catalog.entities["person"].columns.items()}
    expected = {
        "id": "integer",
        "name": "text",
        "favourite_group_id": "integer",
        "mentor_id": "integer",
        "notes": "text",
        "bio": "text",
        "photo": "binary",
        "active": "boolean",
        "born": "date",
        "joined": "datetime",
        "balance": "numeric",
    }
    if catalog.dialect in ("mysql", "mariadb"):
        # MySQL has no boolean type: BOOLEAN is created as TINYINT(1) and reflects as an
        # integer, so the dashboard shows 0/1 there.
        expected["active"] = "integer"
    assert kinds == expected
