"""Filtering a foreign key by its label, through the Flask test client, on every engine.

The URL keeps the key (``favourite_group_id__exact=1``); the filter's description (the chip)
and its row show the label; a label typed instead of a key becomes the key of the one row it
names (a redirect), and a value that cannot be used comes back on its row, the form as it was
sent, with a 400. The browser journey (picker, keyboard and mouse) is test_fk_filters_browser.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import edge_schema as edge
import pytest
from conftest import browser_submission
from flask.testing import FlaskClient
from sqlalchemy import Column as SAColumn
from sqlalchemy import Engine, Integer, MetaData, String, Table

from rowboat.browse import keyfilters
from rowboat.catalog.model import Catalog, Column, Entity, Relation
from rowboat.catalog.types import kind_of

Reader = Callable[[Any], Any]
Args = list[tuple[str, str]]


def _get(client: FlaskClient, path: str, args: Args, status: int = 200) -> Any:
    response = client.get(path, query_string=args)
    assert response.status_code == status, (args, response.get_data(as_text=True)[-1500:])
    return response


def _ids(page: Any) -> set[int]:
    return {int(row.open_href.rsplit("/", 1)[-1]) for row in page.list_rows()}


def _location_args(response: Any) -> Args:
    return parse_qsl(urlsplit(response.headers["Location"]).query, keep_blank_values=True)


# --- the chip and the row show the label; the URL keeps the key ---------------------------------


@pytest.mark.parametrize(
    ("args", "chip", "beside", "expected"),
    [
        (
            [("favourite_group_id__exact", "1")],
            "favourite_group_id = Admins (1)",
            ["Admins"],
            {1, 4},
        ),
        (
            [("favourite_group_id__not", "1")],
            "favourite_group_id ≠ Admins (1)",
            ["Admins"],
            {2, 3, 5, 6},
        ),
        (
            [("favourite_group_id__in", "1, 3")],
            "favourite_group_id in Admins (1), Readers (3)",
            ["Admins, Readers"],
            {1, 4, 5},
        ),
        (
            [("favourite_group_id__exact", "99")],
            "favourite_group_id = 99 (no group has this id)",
            [],
            set(),
        ),
        (
            [("mentor_id__exact", "1"), ("name__contains", "o")],
            "mentor_id = Ada (1) and name contains 'o'",
            ["Ada"],
            {3, 4},
        ),
        ([("favourite_group_id__gt", "2")], "favourite_group_id > 2", [], {5}),
    ],
)
def test_the_chip_and_the_filter_row_show_the_label(
    client: FlaskClient, read: Reader, args: Args, chip: str, beside: list[str], expected: set[int]
) -> None:
    page = read(_get(client, "/edge/person", args))
    assert page.one("p", "description").text() == f"Where {chip}."
    assert [s.text() for s in page.find_all("span", "filter-label")] == beside
    values = [i.attrs["value"] for i in page.find_all("input", "filter-value")]
    assert values == [v for _, v in args] + [""]  # the keys as given, then the blank row
    assert _ids(page) == expected


def test_a_text_key_is_labelled_too(client: FlaskClient, read: Reader) -> None:
    page = read(_get(client, "/edge/item", [("tag_code__exact", "O'Brien"), ("_size", "5")]))
    assert page.one("p", "description").text() == "Where tag_code = Tag 3 (O'Brien)."
    page = read(_get(client, "/edge/item", [("tag_code__exact", "zzz")]))
    assert page.one("p", "description").text() == "Where tag_code = 'zzz' (no tag has this code)."
    assert "No rows match" in page.html


def test_a_label_is_escaped(client: FlaskClient, read: Reader) -> None:
    response = _get(client, "/edge/person", [("mentor_id__exact", "2")])
    body = response.get_data(as_text=True)
    assert "<script>alert" not in body
    page = read(response)
    assert page.one("p", "description").text() == f"Where mentor_id = {edge.SCRIPT} (2)."
    assert page.one("span", "filter-label").text() == edge.SCRIPT


def test_labels_take_one_query_per_referenced_table_not_per_filter(
    client: FlaskClient,
    edge_engine: Engine,
    count_statements: Callable[[Engine], AbstractContextManager[list[str]]],
) -> None:
    one = [("favourite_group_id__not", "4"), ("mentor_id__not", "6")]
    many = [
        ("favourite_group_id__not", "4"),
        ("favourite_group_id__in", "1, 2, 3"),
        ("favourite_group_id__not", "2"),
        ("mentor_id__not", "6"),
        ("mentor_id__in", "1, 2, 4"),
    ]
    _get(client, "/edge/person", one)  # the catalog read, the estimates remembered
    with count_statements(edge_engine) as with_one:
        _get(client, "/edge/person", one)
    with count_statements(edge_engine) as with_many:
        _get(client, "/edge/person", many)
    assert len(with_many) == len(with_one), (with_one, with_many)
    with count_statements(edge_engine) as without:
        _get(client, "/edge/person", [("name__contains", "o")])
    assert len(with_one) == len(without) + 2  # one for the groups, one for the mentors


# --- a label typed instead of a key ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "args", "keys"),
    [
        ("/edge/person", [("favourite_group_id__exact", "Admins")], ["1"]),
        ("/edge/person", [("favourite_group_id__exact", " admins ")], ["1"]),  # case aside
        ("/edge/person", [("favourite_group_id", "Readers")], ["3"]),
        ("/edge/person", [("favourite_group_id__not", "Editors")], ["2"]),
        ("/edge/person", [("favourite_group_id__exact", "Edit")], ["2"]),  # the one row offered
        ("/edge/person", [("favourite_group_id__in", "Admins, 2, readers")], ["1, 2, 3"]),
        ("/edge/person", [("mentor_id__exact", "Zoë"), ("name__contains", "o")], ["4", "o"]),
        ("/edge/item", [("tag_code__exact", "Tag 3")], ["O'Brien"]),  # a text key: exactly
        ("/edge/item", [("tag_code__exact", "tag 1"), ("group_id", "Admins")], ["a/b", "1"]),
    ],
)
def test_a_label_naming_one_row_becomes_its_key_in_the_url(
    client: FlaskClient, read: Reader, path: str, args: Args, keys: list[str]
) -> None:
    response = _get(client, path, [*args, ("_size", "20")], status=302)
    moved = _location_args(response)
    assert moved == [(name, key) for (name, _), key in zip(args, keys)] + [("_size", "20")]
    read(_get(client, path, moved))  # and that URL is a page


def test_the_filter_form_with_a_label_ends_at_the_key(client: FlaskClient, read: Reader) -> None:
    form = [("_fc", "favourite_group_id"), ("_fo", "exact"), ("_fv", "Readers")]
    form += [("_fc", ""), ("_fo", "exact"), ("_fv", "")]
    response = _get(client, "/edge/person", form, status=302)  # the canonical URL first
    response = _get(client, "/edge/person", _location_args(response), status=302)
    assert _location_args(response) == [("favourite_group_id__exact", "3")]
    page = read(_get(client, "/edge/person", _location_args(response)))
    assert page.one("p", "description").text() == "Where favourite_group_id = Readers (3)."
    assert _ids(page) == {5}


# --- a value that cannot be used: the form kept, the message on its row, a 400 -------------------


@pytest.mark.parametrize(
    ("path", "args", "bad", "message"),
    [
        (
            "/edge/person",
            [("name__contains", "o"), ("favourite_group_id__exact", "Nope")],
            1,
            "No row of group is labelled 'Nope', and that is not a valid id either: type part of "
            "a label and pick a row from the list, or type the id itself.",
        ),
        (
            "/edge/person",
            [("favourite_group_id__exact", "s")],
            0,
            "4 rows of group match 's' (Admins (1), Editors (2), Readers (3)…)",
        ),
        (
            "/edge/person",
            [("favourite_group_id__in", "1, Nope")],
            0,
            "No row of group is labelled 'Nope'",
        ),
        ("/edge/person", [("id__exact", "abc")], 0, "'abc' is not a valid integer value for 'id'"),
        (
            "/edge/person",
            [("id__gt", "2"), ("balance__gt", "ten")],
            1,
            "'ten' is not a valid numeric value for 'balance'",
        ),
        ("/edge/person", [("born__exact", "yesterday")], 0, "not a valid date value"),
        ("/edge/person", [("favourite_group_id__gt", "Admins")], 0, "not a valid integer"),
        ("/edge/person", [("id__contains", "1")], 0, "does not apply to 'id'"),
        ("/edge/person", [("nope__exact", "1")], 0, "'person' has no column 'nope'"),
        ("/edge/person", [("favourite_group_id", "a\x00b")], 0, "NUL"),  # never searched for
        ("/edge/item", [("tag_code", "a\x00b")], 0, "NUL"),
    ],
)
def test_a_value_that_cannot_be_used_keeps_the_form_with_a_message_on_its_row(
    client: FlaskClient, read: Reader, path: str, args: Args, bad: int, message: str
) -> None:
    page = read(_get(client, path, args, status=400))
    rows = page.one("fieldset", "filters").find_all("div", "filter-row")
    assert len(rows) == len(args) + 1  # every filter as sent, then the blank row
    for row, (name, raw) in zip(rows, args):
        assert row.one("input", "filter-value").attrs["value"] == raw
        column, _, operator = name.partition("__")
        chosen = row.one("select", "filter-column").find("option", selected="")
        if column != "nope":
            assert chosen is not None and chosen.attrs["value"] == column
            picked = row.one("select", "filter-op").one("option", selected="")
            assert picked.attrs["value"] == (operator or "exact")
    problem = rows[bad].one("p", "filter-problem")
    assert message in problem.text()
    value = rows[bad].one("input", "filter-value")
    assert value.attrs["aria-invalid"] == "true"
    assert value.attrs["aria-describedby"] == problem.attrs["id"]
    assert [r for r in rows if "has-problem" in r.classes] == [rows[bad]]
    assert "cannot be used" in page.one("p", "filter-problems").text()
    assert page.find("table", "rows") is None  # no rows that are not the ones asked for
    table = path.rsplit("/", 1)[-1]
    assert page.one("h1").text().startswith(table)  # the list page, its navigation kept


def test_the_kept_form_can_be_sent_again_or_mended(client: FlaskClient, read: Reader) -> None:
    args = [("name__contains", "o"), ("favourite_group_id__exact", "Nope")]
    page = read(_get(client, "/edge/person", args, status=400))
    sent = browser_submission(page, form_class="controls")
    again = _get(client, "/edge/person", list(sent.items(multi=True)), status=302)
    assert _location_args(again) == args  # nothing typed was lost
    sent.setlist("_fv", ["o", "Admins", ""])
    mended = _get(client, "/edge/person", list(sent.items(multi=True)), status=302)
    mended = _get(client, "/edge/person", _location_args(mended), status=302)
    assert _location_args(mended) == [("name__contains", "o"), ("favourite_group_id__exact", "1")]
    sent.add("_remove", "1")
    removed = _get(client, "/edge/person", list(sent.items(multi=True)), status=302)
    assert _location_args(removed) == [("name__contains", "o")]


def test_json_clients_still_get_a_json_400(client: FlaskClient) -> None:
    response = client.get(
        "/edge/person",
        query_string=[("favourite_group_id", "Nope")],
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert "No row of group is labelled 'Nope'" in response.get_json()["message"]


# --- which filter columns offer the picker -----------------------------------------------------


def test_foreign_key_columns_name_their_lookup(client: FlaskClient, read: Reader) -> None:
    page = read(_get(client, "/edge/item", []))
    options = page.one("div", "new").one("select", "filter-column").find_all("option")
    lookups = {o.attrs["value"]: o.attrs.get("data-lookup") for o in options}
    assert lookups["group_id"] == "/edge/group/-/lookup.json?_column=id"
    assert lookups["tag_code"] == "/edge/tag/-/lookup.json?_column=code"
    assert lookups["label"] is None and lookups["id"] is None
    found = client.get(lookups["group_id"] + "&q=adm").get_json()
    assert [(r["value"], r["label"]) for r in found["results"]] == [("1", "Admins")]


def _entity(name: str, table: Table, relations: dict[str, Relation]) -> Entity:
    columns = {
        c.key: Column(
            key=c.key,
            name=c.name,
            kind=kind_of(c.type),
            type=c.type,
            expression=c,
            primary_key=c.primary_key,
        )
        for c in table.c
    }
    pk = [c.key for c in table.c if c.primary_key]
    return Entity(name, None, name, "table", columns, pk, table, relations=relations)


def test_only_single_column_foreign_keys_to_a_table_with_a_key_offer_the_picker() -> None:
    metadata = MetaData()
    parent = Table(
        "parent",
        metadata,
        SAColumn("a", Integer, primary_key=True),
        SAColumn("b", String(5), primary_key=True),
    )
    loose = Table("loose", metadata, SAColumn("code", String(5)))
    child = Table(
        "child",
        metadata,
        SAColumn("id", Integer, primary_key=True),
        SAColumn("pa", Integer),
        SAColumn("pb", String(5)),
        SAColumn("self_id", Integer),
        SAColumn("loose_code", String(5)),
    )
    relations = {
        "parent": Relation("parent", "many-to-one", "parent", ["pa", "pb"], ["a", "b"]),
        "me": Relation("me", "many-to-one", "child", ["self_id"], ["id"]),
        "loose": Relation("loose", "many-to-one", "loose", ["loose_code"], ["code"]),
        "hidden": Relation("hidden", "many-to-one", "gone", ["pa"], ["x"]),
    }
    catalog = Catalog(
        "sqlite",
        {
            "parent": _entity("parent", parent, {}),
            "loose": _entity("loose", loose, {}),
            "child": _entity("child", child, relations),
        },
        None,
        "reflected",
    )
    found = keyfilters.pickers(catalog, catalog.entities["child"])
    assert list(found) == ["self_id"]  # a composite key, no key, a table not seen: no picker
    assert found["self_id"].target.name == "child" and found["self_id"].key == "id"


def test_with_replacements_starts_again_from_the_first_page() -> None:
    args = [("a__exact", "x"), ("_sort", "a"), ("b__in", "y, z"), ("_next", "c"), ("_at", "51")]
    assert keyfilters.with_replacements(args, {1: "1, 2"}) == [
        ("a__exact", "x"),
        ("_sort", "a"),
        ("b__in", "1, 2"),
    ]
