"""Browsing the edge-case schema through the Flask test client, on every engine.

Each test reads the pages the way a user does: it takes links from the HTML and follows them,
so a URL that the app builds but cannot route (an odd table name, a key with a slash or a
comma in it) fails here. Expected rows come from the constants the database was filled from,
or from the database's own ``ORDER BY`` where collations differ between engines.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import edge_schema as edge
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from rowboat.catalog.model import Catalog, Entity, Relation
from rowboat.core import keys

Reader = Callable[[Any], Any]
Args = list[tuple[str, str]]

ALL_PEOPLE = {p["id"] for p in edge.PEOPLE}


def _get(client: FlaskClient, path: str, args: Args | None = None, status: int = 200) -> Any:
    response = client.get(path, query_string=args) if args else client.get(path)
    assert response.status_code == status, (path, args, response.get_data(as_text=True)[-800:])
    return response


def _identity(href: str) -> str:
    """The encoded key at the end of a row page's URL."""
    return href.rsplit("/", 1)[-1]


def _ids(page: Any) -> list[int]:
    return [int(_identity(row.open_href)) for row in page.list_rows()]


def _walk(client: FlaskClient, read: Reader, href: str) -> list[Any]:
    """Every list row from ``href`` on, following the pager's "next" links."""
    rows: list[Any] = []
    seen: set[str] = set()
    while href:
        assert href not in seen, f"pager loops back to {href}"
        seen.add(href)
        page = read(_get(client, href))
        rows.extend(page.list_rows())
        href = page.pager_href("next")
    return rows


def _catalog(app: Flask) -> Catalog:
    with app.app_context():
        return app.extensions["rowboat.databases"]["edge"].catalog


def _relation(entity: Entity, target: str, direction: str, keys_: list[str]) -> Relation:
    found = [
        r
        for r in entity.relations.values()
        if r.target == target
        and r.direction == direction
        and (direction == "many-to-many" or keys_ in (r.local_keys, r.target_keys))
    ]
    assert len(found) == 1, (entity.name, target, direction, found)
    return found[0]


# --- home, health, every list page ---------------------------------------------------------------


def test_healthz(client: FlaskClient, engine_name: str) -> None:
    response = _get(client, "/healthz")
    payload = response.get_json()
    assert payload["ok"] is True
    entry = payload["databases"]["edge"]
    assert entry["reachable"] is True
    assert entry["dialect"] == ("mysql" if engine_name == "mariadb" else engine_name)


@pytest.mark.parametrize("path", ["/", "/edge"])
def test_home_lists_every_table_and_view_with_counts(
    client: FlaskClient, read: Reader, path: str
) -> None:
    page = read(_get(client, path))
    listed = {}
    for tr in page.one("table", "tables").one("tbody").find_all("tr"):
        cells = tr.find_all("td")
        listed[cells[0].text()] = (cells[0].one("a").href, cells[1].text(), cells[2].text())
    expected_counts = {name: len(rows) for name, rows in edge.ROWS.items()}
    expected_counts[edge.VIEW_NAME] = edge.VIEW_ROWS
    assert sorted(listed) == edge.ALL_NAMES
    for name, (href, kind, count) in listed.items():
        assert href == f"/edge/{keys.encode(name)}"
        assert kind == ("view" if name == edge.VIEW_NAME else "table")
        assert count == str(expected_counts[name]), name
    read_only = {tr.find_all("td")[0].text() for tr in page.find_all("tr") if tr.find("span", "ro")}
    assert read_only == {"nokey", edge.VIEW_NAME}


def test_every_list_page_opens_with_its_count(client: FlaskClient, read: Reader) -> None:
    home = read(_get(client, "/"))
    hrefs = [tr.one("a").href for tr in home.one("table", "tables").one("tbody").find_all("tr")]
    assert len(hrefs) == len(edge.ALL_NAMES)
    for href in hrefs:
        name = keys.decode(href.rsplit("/", 1)[-1])
        page = read(_get(client, href))
        expected = edge.VIEW_ROWS if name == edge.VIEW_NAME else len(edge.ROWS[name])
        assert page.one("p", "count").text() == f"{expected} row{'' if expected == 1 else 's'}"
        assert page.one("h1").text().startswith(name)
        shown = len(page.list_rows())
        assert shown == min(expected, 50), name


def test_read_only_pages_say_why(client: FlaskClient, read: Reader, app: Flask) -> None:
    catalog = _catalog(app)
    for name in ("nokey", edge.VIEW_NAME):
        page = read(_get(client, f"/edge/{name}"))
        reason = page.one("p", "ro-reason").text()
        assert catalog.entities[name].read_only_reason in reason
        # Rows without a key have no pages to link to.
        assert all(row.open_href is None for row in page.list_rows())
        assert page.list_rows()
        _get(client, f"/edge/{name}/1", status=404)


# --- sorting -------------------------------------------------------------------------------------

PERSON_SORTABLE = [c.name for c in edge.person.columns if c.name != "photo"]


@pytest.mark.parametrize("column", PERSON_SORTABLE)
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_sort_by_each_column(
    client: FlaskClient, read: Reader, edge_engine: Engine, column: str, descending: bool
) -> None:
    table = edge.person
    direction = (lambda c: c.desc()) if descending else (lambda c: c.asc())
    oracle = select(table.c.id).order_by(direction(table.c[column]), direction(table.c.id))
    with edge_engine.connect() as connection:
        expected = list(connection.execute(oracle).scalars())
    parameter = "_sort_desc" if descending else "_sort"
    page = read(_get(client, "/edge/person", [(parameter, column)]))
    assert _ids(page) == expected
    active = page.one("a", "active")
    assert active.text() == f"{column} {'▼' if descending else '▲'}"


def test_binary_column_cannot_be_sorted(client: FlaskClient) -> None:
    response = _get(client, "/edge/person", [("_sort", "photo")], status=400)
    assert "cannot sort by" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "args", "expected"),
    [
        ("/edge/order", [("_sort_desc", "from")], [1, 2, 3]),
        ("/edge/order", [("from__exact", "shop")], [2]),
        ("/edge/order", [("person_id__isnull", "")], [3]),
        ("/edge/MixedCase", [("_sort_desc", "CamelColumn")], None),
        ("/edge/MixedCase", [("CamelColumn__isnull", "")], [2]),
        ("/edge/spaced~20table", [("some value__exact", "")], [2]),
        ("/edge/spaced~20table", [("_sort_desc", "some value")], [1, 2]),
    ],
)
def test_reserved_mixed_case_and_spaced_names(
    client: FlaskClient, read: Reader, path: str, args: Args, expected: list[int] | None
) -> None:
    ids = _ids(read(_get(client, path, args)))
    if expected is not None:
        assert ids == expected
    else:
        assert sorted(ids) == [1, 2]


# --- filters -------------------------------------------------------------------------------------

FILTERS: list[tuple[Args, set[int]]] = [
    ([("id", "2")], {2}),
    ([("id__exact", "2")], {2}),
    ([("id__not", "2")], ALL_PEOPLE - {2}),
    ([("id__lt", "3")], {1, 2}),
    ([("id__lte", "3")], {1, 2, 3}),
    ([("id__gt", "4")], {5, 6}),
    ([("id__gte", "4")], {4, 5, 6}),
    ([("id__in", "1,3,5")], {1, 3, 5}),
    ([("id__in", "1\n6")], {1, 6}),
    ([("id__isnull", "")], set()),
    ([("id__notnull", "")], ALL_PEOPLE),
    ([("id__gte", "2"), ("id__lte", "4")], {2, 3, 4}),
    ([("favourite_group_id__exact", "1")], {1, 4}),
    ([("favourite_group_id__not", "1")], {2, 3, 5, 6}),  # NULL is "not 1" too
    ([("favourite_group_id__in", "1, 3")], {1, 4, 5}),
    ([("favourite_group_id__isnull", "")], {3, 6}),
    ([("favourite_group_id__notnull", "")], {1, 2, 4, 5}),
    ([("favourite_group_id", "1"), ("notes__exact", "plain")], {4}),
    ([("name__exact", "Bob & Co")], {3}),
    ([("name__exact", edge.SCRIPT)], {2}),
    ([("notes__exact", "")], {1}),
    ([("notes__not", "plain")], {1, 2, 3, 5, 6}),
    ([("notes__contains", "%")], {5}),
    ([("notes__contains", "_")], {5}),
    ([("notes__contains", "0% _")], {5}),
    ([("notes__startswith", "%")], set()),
    ([("notes__endswith", "%")], set()),
    ([("notes__startswith", "<b>")], {3}),
    ([("notes__endswith", "_")], {5}),
    ([("notes__in", f"plain,{edge.BOLD}")], {3, 4}),
    ([("notes__gte", "p")], {4}),
    ([("notes__lt", "p")], {1, 3, 5}),
    ([("notes__isnull", "")], {2, 6}),
    ([("notes__notnull", "")], {1, 3, 4, 5}),
    ([("bio__contains", "long text")], {1}),
    ([("born__exact", "2000-02-29")], {4}),
    ([("born__not", "2000-02-29")], {1, 2, 3, 5, 6}),
    ([("born__lt", "1986-01-01")], {2, 5}),
    ([("born__gte", "1990-01-02")], {1, 4}),
    ([("born__in", "1970-01-01,2000-02-29")], {4, 5}),
    ([("born__isnull", "")], {3, 6}),
    ([("joined__gt", "2020-12-31T23:59:59")], {2, 4}),
    ([("joined__exact", "2021-01-01 00:00:00")], {2}),
    ([("joined__lte", "2020-03-04T05:06:07")], {1, 5}),
    ([("balance__exact", "12.5")], {1}),
    ([("balance__not", "0")], {1, 2, 3, 4, 6}),
    ([("balance__lt", "0")], {2}),
    ([("balance__gte", "12.50")], {1, 4}),
    ([("balance__in", "0,100")], {4, 5}),
    ([("photo__isnull", "")], {3, 6}),
    ([("photo__notnull", "")], {1, 2, 4, 5}),
    ([("active__isnull", "")], {3, 6}),
]


@pytest.mark.parametrize(
    ("args", "expected"), FILTERS, ids=["&".join(f"{k}={v}" for k, v in a) for a, _ in FILTERS]
)
def test_filter(client: FlaskClient, read: Reader, args: Args, expected: set[int]) -> None:
    page = read(_get(client, "/edge/person", args))
    ids = _ids(page)
    assert sorted(ids) == sorted(expected)
    assert page.one("p", "count").text().startswith(f"{len(expected)} row")
    if not expected:
        assert "No rows match" in page.html


def test_boolean_filters(client: FlaskClient, read: Reader, app: Flask) -> None:
    kind = _catalog(app).entities["person"].columns["active"].kind
    if kind == "boolean":
        cases = [("active__istrue", ""), ("active__isfalse", "")]
    else:  # MariaDB: BOOLEAN is TINYINT(1), reflected as an integer
        assert kind == "integer"
        cases = [("active__exact", "1"), ("active__exact", "0")]
    assert sorted(_ids(read(_get(client, "/edge/person", [cases[0]])))) == [1, 4]
    assert sorted(_ids(read(_get(client, "/edge/person", [cases[1]])))) == [2, 5]


def test_filter_form_redirects_to_the_canonical_url(client: FlaskClient) -> None:
    args = [("_fc", "id"), ("_fo", "gt"), ("_fv", "4"), ("_fc", ""), ("_fo", "exact")]
    args += [("_fv", ""), ("_search", ""), ("_size", "20")]
    response = _get(client, "/edge/person", args, status=302)
    assert response.headers["Location"] == "/edge/person?id__gt=4&_size=20"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([("nope__exact", "1")], "has no column 'nope'"),
        ([("nope", "1")], "has no column 'nope'"),
        ([("id__like", "1")], "unknown filter operator 'like'"),
        ([("id__contains", "1")], "does not apply to 'id'"),
        ([("photo__exact", "x")], "does not apply to 'photo'"),
        ([("born__startswith", "19")], "does not apply to 'born'"),
        ([("id__exact", "abc")], "not a valid integer value"),
        ([("id__in", "1,abc")], "not a valid integer value"),
        ([("id__in", " , ")], "needs values"),
        ([("born__exact", "yesterday")], "not a valid date value"),
        ([("joined__lt", "2021-13-01")], "not a valid datetime value"),
        ([("balance__gt", "NaN")], "not a valid numeric value"),
        ([("balance__gt", "ten")], "not a valid numeric value"),
        ([("_bogus", "1")], "unknown parameter '_bogus'"),
        ([("_size", "abc")], "_size must be a whole number"),
        ([("_size", "0")], "_size must be between 1 and 500"),
        ([("_size", "-5")], "_size must be between 1 and 500"),
        ([("_size", "501")], "_size must be between 1 and 500"),
        ([("_sort", "nope")], "has no column 'nope'"),
        ([("_sort_desc", "nope")], "has no column 'nope'"),
        ([("_via", "garbage")], "_via must be"),
        ([("_via", "group:nope:1")], "_via does not name"),
        ([("_via", "person:favourite_group:1")], "does not lead to"),
    ],
)
def test_bad_query_strings_are_400_with_a_message(
    client: FlaskClient, read: Reader, args: Args, message: str
) -> None:
    page = read(_get(client, "/edge/person", args, status=400))
    if args[0][0].startswith("_"):
        assert message in page.one("p", "message").text()
    else:  # a filter: the list page again, the message on the filter's row (test_fk_filters)
        row = page.one("div", "has-problem")
        assert message in row.one("p", "filter-problem").text()
        assert row.one("input", "filter-value").attrs["value"] == args[0][1]


def _cursor(payload: Any) -> str:
    text = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


@pytest.mark.parametrize(
    "args",
    [
        [("_next", "garbage")],
        [("_next", "!!!")],
        [("_next", "é")],
        [("_prev", "zzzz")],
        [("_next", "")],
        [("_next", _cursor([1, 2, 3]))],
        [("_next", _cursor(["abc"]))],
        [("_next", _cursor([[1]]))],
        [("_next", _cursor({"a": 1}))],
        [("_next", _cursor("text"))],
        [("_next", _cursor(5))],
        [("_next", _cursor(None))],
        [("_next", _cursor([{}]))],
        [("_next", _cursor([3, {"skip": "x"}]))],
        [("_next", _cursor([3, {"skip": -1}]))],
        [("_sort", "born"), ("_next", _cursor(["not a date", 1]))],
        [("_next", _cursor([1])), ("_prev", _cursor([1]))],
    ],
    ids=lambda args: "&".join(f"{k}={v}" for k, v in args),
)
def test_garbage_cursors_are_400(client: FlaskClient, args: Args) -> None:
    response = _get(client, "/edge/person", args, status=400)
    assert "Bad request" in response.get_data(as_text=True)


HUGE = "99999999999999999999"  # beyond every engine's 64-bit integers


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param([("id__exact", HUGE)], set(), id="int-exact"),
        pytest.param([("id__gt", "-" + HUGE)], ALL_PEOPLE, id="int-gt"),
        pytest.param([("id__in", f"1,{HUGE}")], {1}, id="int-in"),
        pytest.param([("_next", _cursor([int(HUGE)]))], set(), id="int-cursor"),
        pytest.param([("notes__exact", "a\x00b")], set(), id="nul-exact"),  # PostgreSQL: no NUL
        pytest.param([("notes__contains", "\x00")], set(), id="nul-contains"),
        pytest.param([("_search", "\x00")], set(), id="nul-search"),
    ],
)
def test_values_no_column_can_hold_give_the_right_rows_or_400(
    client: FlaskClient, read: Reader, args: Args, expected: set[int]
) -> None:
    """Never a 500: either the (correct) rows, or a 400 saying the value cannot be used."""
    response = client.get("/edge/person", query_string=args)
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 200:
        assert set(_ids(read(response))) == expected


@pytest.mark.parametrize("path", [f"/edge/person/{HUGE}", "/edge/tag/~00", "/edge/tag/a~00"])
def test_keys_no_column_can_hold_are_404(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_errors_answer_json_to_json_clients(client: FlaskClient) -> None:
    response = client.get(
        "/edge/person", query_string=[("id", "abc")], headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json()["status"] == 400
    response = client.get("/edge/nope", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.get_json()["ok"] is False


# --- search --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([("_search", "zo")], {4}),
        ([("_search", "SCRIPT")], {2}),
        ([("_search", "%")], {5}),
        ([("_search", "_")], {5}),
        ([("_search", "x")], {1, 2, 3, 5}),
        ([("_search", "x"), ("id__gt", "2")], {3, 5}),
        ([("_search", "  ")], ALL_PEOPLE),
        ([("_search", "nothing like this")], set()),
    ],
)
def test_search(client: FlaskClient, read: Reader, args: Args, expected: set[int]) -> None:
    assert sorted(_ids(read(_get(client, "/edge/person", args)))) == sorted(expected)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([("code__in", "x,y\na/b")], {"x,y", "a/b"}),  # one per line: commas are literal
        ([("code__in", "plain,100%")], {"plain", "100%"}),
        ([("code__exact", "100%")], {"100%"}),
        ([("code__contains", "%")], {"100%"}),
        ([("code__startswith", "~")], {"~tilde"}),
        ([("code__contains", "'")], {"O'Brien"}),
        ([("code__contains", '"')], {'say "hi"'}),
        ([("code__endswith", ".ted")], {"dot.ted"}),
        ([("code__exact", "日本")], {"日本"}),
        ([("code__not", "plain"), ("code__contains", "a")], {"a/b", 'say "hi"', "with space"}),
    ],
)
def test_filters_on_a_text_key(
    client: FlaskClient, read: Reader, args: Args, expected: set[str]
) -> None:
    page = read(_get(client, "/edge/tag", args))
    assert {keys.decode(_identity(row.open_href)) for row in page.list_rows()} == expected


def test_search_on_a_table_with_a_text_key(client: FlaskClient, read: Reader) -> None:
    page = read(_get(client, "/edge/tag", [("_search", "'")]))
    assert [keys.decode(_identity(row.open_href)) for row in page.list_rows()] == ["O'Brien"]


# --- how values look -----------------------------------------------------------------------------


def test_null_and_empty_string_look_different(client: FlaskClient, read: Reader) -> None:
    rows = {
        int(_identity(r.open_href)): r.cells for r in read(_get(client, "/edge/person")).list_rows()
    }
    assert rows[1]["notes"].find("span", "empty") is not None
    assert rows[1]["notes"].find("span", "null") is None
    assert rows[2]["notes"].find("span", "null") is not None
    assert rows[2]["notes"].find("span", "empty") is None
    assert rows[2]["notes"].text() != rows[1]["notes"].text()
    for person_id, expected in ((1, "empty"), (2, "null")):
        record = read(_get(client, f"/edge/person/{person_id}")).record()
        assert record["notes"].find("span", expected) is not None
    spaced = read(_get(client, "/edge/spaced~20table")).list_rows()
    assert spaced[1].cells["some value"].find("span", "empty") is not None


@pytest.mark.parametrize(
    ("path", "args"),
    [
        ("/edge/person", []),
        ("/edge/person/1", []),  # the mentor's label
        ("/edge/person/2", []),
        ("/edge/person/3", []),
        ("/edge/group/2", []),  # the related person's label
        (f"/edge/{edge.VIEW_NAME}", []),
        ("/edge/person", [("name__exact", edge.SCRIPT)]),  # echoed in the form and description
        ("/edge/person", [("_search", edge.SCRIPT)]),
        ("/edge/person", [("id__exact", edge.SCRIPT)]),  # echoed in the 400 message
        ("/edge/person", [("notes__contains", edge.BOLD)]),
    ],
)
def test_html_looking_values_are_escaped(client: FlaskClient, path: str, args: Args) -> None:
    response = client.get(path, query_string=args)
    assert response.status_code in (200, 400)
    body = response.get_data(as_text=True)
    assert "<script>alert" not in body
    assert "<b>x</b>" not in body


def test_html_looking_values_come_back_as_text(client: FlaskClient, read: Reader) -> None:
    rows = {
        int(_identity(r.open_href)): r.cells for r in read(_get(client, "/edge/person")).list_rows()
    }
    assert rows[2]["name"].text() == edge.SCRIPT
    assert rows[2]["bio"].text() == edge.BOLD
    assert rows[1]["mentor_id"].one("a", "fk").text() == edge.SCRIPT


def test_long_text_is_cut_with_the_whole_value_kept(client: FlaskClient, read: Reader) -> None:
    rows = read(_get(client, "/edge/person")).list_rows()
    cell = rows[0].cells["bio"]
    assert len(cell.one("summary").text()) < 100
    assert cell.one("div", "full").text() == " ".join(edge.LONG_TEXT.split())


def test_binary_shows_its_size_not_its_bytes(client: FlaskClient, read: Reader) -> None:
    rows = {
        int(_identity(r.open_href)): r.cells for r in read(_get(client, "/edge/person")).list_rows()
    }
    assert rows[1]["photo"].text() == "<binary, 1.0 KB>"
    assert rows[2]["photo"].text() == "<binary, 3 bytes>"
    assert rows[4]["photo"].text() == "<binary, 0 bytes>"
    assert rows[3]["photo"].find("span", "null") is not None
    assert "abc" not in rows[2]["photo"].text()
    record = read(_get(client, "/edge/person/1")).record()
    assert record["photo"].text() == "<binary, 1.0 KB>"


def test_scalar_values_are_shown_in_a_readable_form(client: FlaskClient, read: Reader) -> None:
    record = read(_get(client, "/edge/person/1")).record()
    assert record["born"].text() == "1990-01-02"
    assert record["joined"].text() == "2020-03-04 05:06:07"
    assert record["balance"].text() == "12.50"
    assert record["active"].text() in ("true", "1")


# --- foreign keys --------------------------------------------------------------------------------


def test_foreign_keys_show_the_target_label_and_link_to_it(
    client: FlaskClient, read: Reader
) -> None:
    rows = {
        int(_identity(r.open_href)): r.cells for r in read(_get(client, "/edge/person")).list_rows()
    }
    link = rows[1]["favourite_group_id"].one("a", "fk")
    assert (link.text(), link.href) == ("Admins", "/edge/group/1")
    assert rows[1]["favourite_group_id"].one("span", "key").text() == "1"
    assert rows[3]["favourite_group_id"].find("a") is None
    assert rows[3]["favourite_group_id"].find("span", "null") is not None
    group = read(_get(client, link.href)).record()
    assert group["name"].text() == "Admins"


def test_foreign_keys_to_text_keys_link_to_the_right_row(client: FlaskClient, read: Reader) -> None:
    rows = _walk(client, read, "/edge/item?_size=100")
    assert len(rows) == edge.N_ITEMS
    by_id = {item["id"]: item for item in edge.ITEMS}
    for row in rows:
        item = by_id[int(_identity(row.open_href))]
        cell = row.cells["tag_code"]
        if item["tag_code"] is None:
            assert cell.find("a") is None
            continue
        link = cell.one("a", "fk")
        assert link.text() == f"Tag {edge.TEXT_KEYS.index(item['tag_code']) + 1}"
        assert keys.decode(_identity(link.href)) == item["tag_code"]
        group = row.cells["group_id"].one("a", "fk")
        assert group.text() == edge.GROUPS[item["group_id"] - 1]["name"]
    for code in edge.TEXT_KEYS:
        record = read(_get(client, f"/edge/tag/{keys.encode(code)}")).record()
        assert record["code"].text() == " ".join(code.split())


def test_link_table_rows_show_both_labels(client: FlaskClient, read: Reader) -> None:
    rows = read(_get(client, "/edge/membership")).list_rows()
    assert len(rows) == len(edge.MEMBERSHIPS)
    names = {p["id"]: p["name"] for p in edge.PEOPLE}
    groups = {g["id"]: g["name"] for g in edge.GROUPS}
    for row in rows:
        person_id, group_id = map(int, _identity(row.open_href).split(","))
        assert row.cells["person_id"].one("a", "fk").text() == names[person_id]
        assert row.cells["group_id"].one("a", "fk").text() == groups[group_id]


# --- row pages -----------------------------------------------------------------------------------

KEYED_TABLES = [name for name in edge.TABLE_NAMES if name != "nokey"]


def _expected_identities(name: str) -> set[tuple[str, ...]]:
    pk = [c.name for c in edge.metadata.tables[name].primary_key.columns]
    return {tuple(str(row[k]) for k in pk) for row in edge.ROWS[name]}


@pytest.mark.parametrize("name", KEYED_TABLES)
def test_every_row_page_opens_from_its_list_link(
    client: FlaskClient, read: Reader, name: str
) -> None:
    table = edge.metadata.tables[name]
    pk = [c.name for c in table.primary_key.columns]
    rows = _walk(client, read, f"/edge/{keys.encode(name)}?_size=100")
    assert len(rows) == len(edge.ROWS[name])
    opened = set()
    for row in rows:
        page = read(_get(client, row.open_href))
        record = page.record()
        shown = tuple(record[k].text() for k in pk)
        # The row page shows the same row the list did.
        assert shown == tuple(row.cells[k].text() for k in pk)
        decoded = tuple(keys.decode(part) for part in _identity(row.open_href).split(","))
        opened.add(decoded)
    assert opened == _expected_identities(name)


@pytest.mark.parametrize(
    "path",
    [
        "/edge/tag/~ZZ",
        "/edge/tag/~E6",  # half a UTF-8 character
        "/edge/tag/no-such-code",
        "/edge/tag/a~2Cb,c",  # two parts for a one-column key
        "/edge/grid/1",  # one part for a two-column key
        "/edge/grid/1,a,b",
        "/edge/grid/x,a",  # not an integer
        "/edge/grid/1,zzz",
        "/edge/person/abc",
        "/edge/person/1.5",
        "/edge/person/~",
        "/edge/person/999",
        "/edge/membership/1,3",
        "/edge/nokey/1",
        f"/edge/{edge.VIEW_NAME}/1",
        "/nope",
        "/nope/person",
        "/nope/person/1",
        "/edge/nope",
        "/edge/nope/1",
        "/edge/~ZZ",
        "/edge/a.b.c",
        "/edge/public.nope",
        "/edge/spaced%20table",  # the name must be tilde-encoded
    ],
)
def test_unknown_and_malformed_paths_are_404(client: FlaskClient, read: Reader, path: str) -> None:
    page = read(_get(client, path, status=404))
    assert page.one("p", "message").text()


def test_composite_key_with_a_comma_in_a_part(client: FlaskClient, read: Reader) -> None:
    href = "/edge/grid/" + ",".join([keys.encode("2"), keys.encode("a,b")])
    record = read(_get(client, href)).record()
    assert (record["x"].text(), record["y"].text(), record["note"].text()) == ("2", "a,b", "comma")


# --- related rows --------------------------------------------------------------------------------


def _check_related(
    client: FlaskClient,
    read: Reader,
    page: Any,
    relation: Relation,
    expected: set[str],
    preview_labels: set[str] | None = None,
) -> None:
    """The preview of ``relation`` and its "see all" list show exactly ``expected`` rows."""
    section = page.one("section", id=f"rel-{relation.name}")
    items = section.find_all("li")
    if not expected:
        assert items == [] and section.find("p", "none") is not None
        assert section.find("a", "all") is None
        return
    assert len(items) == min(len(expected), 5)
    assert {_identity(li.one("a").href) for li in items} <= expected
    if preview_labels is not None:
        assert {li.text() for li in items} == preview_labels
    count = len(expected)
    assert f"· {count} row{'' if count == 1 else 's'}" in section.one("small").text()
    see_all = section.one("a", "all")
    listed = [_identity(row.open_href) for row in _walk(client, read, see_all.href)]
    assert len(listed) == len(set(listed))
    assert set(listed) == expected


def test_row_page_lists_related_rows_of_a_person(
    client: FlaskClient, read: Reader, app: Flask
) -> None:
    person = _catalog(app).entities["person"]
    page = read(_get(client, "/edge/person/1"))
    groups = _relation(person, "group", "many-to-many", [])
    _check_related(client, read, page, groups, {"1", "2"}, {"Admins", "Editors"})
    mentees = _relation(person, "person", "one-to-many", ["mentor_id"])
    _check_related(client, read, page, mentees, {"3", "4"}, {"Bob & Co", "Zoë"})
    orders = _relation(person, "order", "one-to-many", ["person_id"])
    # "from" is no naming column, so the order is labelled by its key.
    _check_related(client, read, page, orders, {"1"}, {"1"})
    links = _relation(person, "membership", "one-to-many", ["person_id"])
    _check_related(client, read, page, links, {"1,1", "1,2"})
    # The favourite group and the mentor, by label, in the record; not again in a list.
    record = page.one("table", "record")
    assert {a.text() for a in record.find_all("a", "fk")} == {"Admins", edge.SCRIPT}
    assert page.find("section", "relations") is None


def test_row_page_lists_related_rows_of_a_group(
    client: FlaskClient, read: Reader, app: Flask
) -> None:
    group = _catalog(app).entities["group"]
    page = read(_get(client, "/edge/group/1"))
    favoured_by = _relation(group, "person", "one-to-many", ["favourite_group_id"])
    _check_related(client, read, page, favoured_by, {"1", "4"}, {"Ada", "Zoë"})
    members = _relation(group, "person", "many-to-many", [])
    _check_related(client, read, page, members, {"1", "3", "4"}, {"Ada", "Bob & Co", "Zoë"})
    items = _relation(group, "item", "one-to-many", ["group_id"])
    expected_items = {str(i["id"]) for i in edge.ITEMS if i["group_id"] == 1}
    assert len(expected_items) > 50  # more than one page of "see all"
    _check_related(client, read, page, items, expected_items)
    links = _relation(group, "membership", "one-to-many", ["group_id"])
    _check_related(client, read, page, links, {"1,1", "3,1", "4,1"})


def test_row_page_of_a_group_with_no_related_rows(
    client: FlaskClient, read: Reader, app: Flask
) -> None:
    group = _catalog(app).entities["group"]
    page = read(_get(client, "/edge/group/4"))
    for relation in group.collections:
        _check_related(client, read, page, relation, set())


@pytest.mark.parametrize("code", ["a/b", "x,y", "O'Brien", "日本"])
def test_related_rows_of_a_text_key(
    client: FlaskClient, read: Reader, app: Flask, code: str
) -> None:
    tag = _catalog(app).entities["tag"]
    page = read(_get(client, f"/edge/tag/{keys.encode(code)}"))
    items = _relation(tag, "item", "one-to-many", ["tag_code"])
    expected = {str(i["id"]) for i in edge.ITEMS if i["tag_code"] == code}
    _check_related(client, read, page, items, expected)


def test_via_a_missing_parent_row_is_404(client: FlaskClient, app: Flask) -> None:
    person = _catalog(app).entities["person"]
    mentees = _relation(person, "person", "one-to-many", ["mentor_id"])
    _get(client, "/edge/person", [("_via", f"person:{mentees.name}:999")], status=404)


# --- cost ----------------------------------------------------------------------------------------


def test_a_first_page_holding_every_match_is_counted_without_a_count_query(
    client: FlaskClient,
    edge_engine: Engine,
    count_statements: Callable[[Engine], AbstractContextManager[list[str]]],
    read: Reader,
) -> None:
    _get(client, "/edge/person")  # discovery stays out of the count
    total = len(read(_get(client, "/edge/person", [("_size", "500")])).list_rows())
    with count_statements(edge_engine) as whole:
        body = _get(client, "/edge/person", [("_size", "500")]).get_data(as_text=True)
    assert f"{total} rows" in body
    assert not any("count(" in sql.lower() for sql in whole), whole
    with count_statements(edge_engine) as paged:
        body = _get(client, "/edge/person", [("_size", "2")]).get_data(as_text=True)
    assert f"{total} rows" in body  # a full page: counted by a query, still exact
    assert any("count(" in sql.lower() for sql in paged), paged


@pytest.mark.parametrize("name", ["item", "person", "membership"])
def test_list_page_statement_count_does_not_grow_with_the_page(
    client: FlaskClient,
    edge_engine: Engine,
    count_statements: Callable[[Engine], AbstractContextManager[list[str]]],
    name: str,
) -> None:
    _get(client, f"/edge/{name}")  # discovery happens on first use; keep it out of the count
    counts = {}
    for size in (5, 200):
        with count_statements(edge_engine) as statements:
            _get(client, f"/edge/{name}", [("_size", str(size))])
        counts[size] = len(statements)
    # 200 rows hold the whole table, so that page needs no count: fewer statements, not more.
    assert counts[200] <= counts[5], counts
    # One page query, one label query per foreign key, one count.
    n_foreign_keys = len(edge.metadata.tables[name].foreign_keys)
    assert counts[5] <= 1 + n_foreign_keys + 1 + 1, counts


def test_related_rows_never_load_the_parent_s_bytes(
    client: FlaskClient,
    app: Flask,
    edge_engine: Engine,
    count_statements: Callable[[Engine], AbstractContextManager[list[str]]],
) -> None:
    """A list of a row's related rows loads the parent row, but not its binary values: a page
    never holds a whole binary value (only the list's own sizes are read)."""
    person = _catalog(app).entities["person"]
    mentees = _relation(person, "person", "one-to-many", ["mentor_id"])
    mentor = next(p["id"] for p in edge.PEOPLE if p.get("mentor_id") is None)
    with count_statements(edge_engine) as statements:
        _get(client, "/edge/person", [("_via", f"person:{mentees.name}:{mentor}")])
    heads = [s.split(" FROM ", 1)[0] for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert heads, statements
    bare = re.compile(r"(?<!length\()person\.photo(?!\w)", re.IGNORECASE)
    assert not [h for h in heads if bare.search(h.replace('"', "").replace("`", ""))], heads
