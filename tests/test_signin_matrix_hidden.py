"""Hidden columns, joins into unreadable tables, and navigation, for every kind of caller.

A hidden column (orders.note) is gone for everyone, admins included: from the list and row
pages, the forms, the exports, the lookups, the filter form, filters, sorting, search and the
query builder; naming it is a 400 with a sentence, never a 500. Saving a row leaves it as it
was. The query builder refuses a join into a table the caller may not read, and no page links
to a table, a schema page or an edit button the caller could not open.

The database, users and requests are those of test_signin_matrix.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import ENGINES, Page, browser_submission, database_with
from sqlalchemy import Engine, select
from test_signin_matrix import (
    DB,
    HIDDEN_MARK,
    Caller,
    World,
    call,
    create_schema,
    make_world,
    orders,
)


@pytest.fixture(scope="module", params=ENGINES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with database_with(
        request.param, "rowboat_signin_hidden", tmp_path_factory, create_schema
    ) as url:
        yield from make_world(request.param, url, tmp_path_factory)


SIGNED_IN = ("viewer", "token", "solo", "editor", "admin")
WRITERS = ("solo", "editor", "admin")


def get(caller: Caller, url: str, status: int = 200) -> Any:
    answer = call(caller, "GET", url)
    assert answer.status_code == status, f"{url}: {answer.status_code} {answer.text[:600]}"
    return answer


def refused(caller: Caller, url: str, words: str = "note") -> None:
    """A 400 that says what was wrong (naming ``words``), not a 500."""
    answer = get(caller, url, 400)
    message = answer.text
    if answer.mimetype == "text/html":
        found = Page(answer.text).find(cls="message")
        message = found.text() if found is not None else answer.text
    assert words in message, f"{url}: {message[:400]}"


# --- hidden columns ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", SIGNED_IN)
def test_a_hidden_column_is_nowhere(world: World, who: str) -> None:
    caller = world.callers[who]  # call() also checks that no answer holds a hidden value
    table = Page(get(caller, f"/{DB}/orders").text)
    assert "note" not in table.list_columns()
    assert table.list_columns()[:2] == ["id", "customer_id"]
    filter_columns = {o.attrs.get("value") for o in table.find_all("option")}
    assert "item" in filter_columns and "note" not in filter_columns
    record = Page(get(caller, f"/{DB}/orders/1").text).record()
    assert "item" in record and "note" not in record
    for fmt in ("csv", "json"):
        export = get(caller, f"/{DB}/-/export/orders.{fmt}").text
        assert "item" in export and "note" not in export
    lookup = get(caller, f"/{DB}/orders/-/lookup.json?q=1").json
    assert lookup["results"]
    assert "note" not in str(lookup)
    if who in WRITERS:
        for url in (f"/{DB}/orders/-/new", f"/{DB}/orders/1/-/edit"):
            form = browser_submission(Page(get(caller, url).text), files=False)
            assert "item" in form and not any("note" in name for name in form), url


@pytest.mark.parametrize("who", SIGNED_IN)
def test_filtering_sorting_searching_or_looking_up_by_a_hidden_column_is_a_400(
    world: World, who: str
) -> None:
    caller = world.callers[who]
    for args in (
        "note=x",
        "note__contains=x",
        "note__isnull=1",
        "_sort=note",
        "_sort_desc=note",
    ):
        refused(caller, f"/{DB}/orders?{args}")
        refused(caller, f"/{DB}/-/export/orders.csv?{args}")
    refused(caller, f"/{DB}/orders/-/lookup.json?_column=note&q=x")
    # the filter form's own fields
    form = urlencode({"_fc": "note", "_fo": "contains", "_fv": "x"})
    answer = call(caller, "GET", f"/{DB}/orders?{form}")
    if answer.status_code == 302:  # the form is turned into the canonical URL first
        answer = call(caller, "GET", answer.headers["Location"])
    assert answer.status_code == 400, answer.text[:400]
    # Full-text search does not look into it: the marker's tail matches no row.
    page = Page(get(caller, f"/{DB}/orders?_search=9c1e").text)
    assert page.list_rows() == []
    export = get(caller, f"/{DB}/-/export/orders.json?_search=9c1e").json
    assert export["rows"] == [], export


@pytest.mark.parametrize("who", SIGNED_IN)
def test_the_query_builder_knows_no_hidden_column(world: World, who: str) -> None:
    caller = world.callers[who]
    page = get(caller, f"/{DB}/-/query?table=orders").text
    assert 'value="item"' in page
    assert 'value="note"' not in page and ">note<" not in page
    data = get(caller, f"/{DB}/-/query.json?table=orders&run=1").json
    assert "item" in data["columns"] and "note" not in data["columns"]
    assert "note" not in data["sql"]
    for args in ("col=note", "where=note:contains:x", "order=note", "agg=max:note"):
        for endpoint in ("query", "query.json", "query/export.csv"):
            refused(caller, f"/{DB}/-/{endpoint}?table=orders&{args}&run=1")


def test_a_hidden_column_cannot_be_reached_through_a_join(world: World) -> None:
    viewer = world.callers["viewer"]
    to_orders = _relation_to(world, "vault", "orders")
    get(viewer, f"/{DB}/-/query.json?table=vault&col={to_orders}.item&run=1")
    for args in (f"col={to_orders}.note", f"where={to_orders}.note:contains:x"):
        refused(viewer, f"/{DB}/-/query.json?table=vault&{args}&run=1")


@pytest.mark.parametrize("who", WRITERS)
def test_saving_a_row_keeps_its_hidden_value(
    world: World,
    who: str,
    count_statements: Callable[[Engine], AbstractContextManager[list[str]]],
) -> None:
    caller = world.callers[who]
    key = {"solo": 1, "editor": 2, "admin": 3}[who]
    url = f"/{DB}/orders/{key}/-/edit"

    def stored() -> tuple[Any, ...]:
        with world.data.connect() as connection:
            row = connection.execute(select(orders).where(orders.c.id == key)).one()
        return tuple(row)

    before = stored()
    form = browser_submission(Page(get(caller, url).text), files=False)
    with count_statements(world.data) as statements:
        answer = caller.client.post(url, data=form)
    assert answer.status_code == 302, answer.text[:800]
    writes = [s for s in statements if re.match(r"\s*(UPDATE|INSERT|DELETE)", s, re.I)]
    assert writes == [], writes
    assert stored() == before
    form = browser_submission(Page(get(caller, url).text), files=False)
    form["item"] = f"changed by {who}"
    answer = caller.client.post(url, data=form)
    assert answer.status_code == 302, answer.text[:800]
    after = stored()
    assert after[2] == f"changed by {who}"
    assert after[3] == before[3] == f"{HIDDEN_MARK} {key}"  # the hidden note
    assert after[1] == before[1] and after[4] == before[4]  # customer and receipt too


# --- joins into tables the caller may not read -------------------------------------------------


def _relation_to(world: World, source: str, target: str) -> str:
    relations = world.entities[source].relations
    return next(name for name, r in relations.items() if r.target == target)


def test_the_query_builder_refuses_a_join_into_an_unreadable_table(world: World) -> None:
    solo, viewer = world.callers["solo"], world.callers["viewer"]
    to_customers = _relation_to(world, "orders", "customers")
    to_vault = _relation_to(world, "orders", "vault")
    for relation in (to_customers, to_vault):
        for args in (f"join={relation}", f"col={relation}.id", f"where={relation}.id:gt:0"):
            query = f"table=orders&{args}&run=1"
            for endpoint in ("query", "query.json", "query/export.csv", "query/explain"):
                refused(solo, f"/{DB}/-/{endpoint}?{query}", relation)
            # a caller who may read the table may join it
            get(viewer, f"/{DB}/-/query.json?{query}")
    refused(solo, f"/{DB}/-/query.json?table=vault&run=1", "vault")
    refused(solo, f"/{DB}/-/query.json?table=customers&run=1", "customers")
    page = get(solo, f"/{DB}/-/query?table=orders").text
    assert "vault" not in page and "customers" not in page
    # a list page through a relation from a table the caller may not read
    refused(solo, f"/{DB}/orders?_via=customers:orders:1", "_via")


# --- navigation --------------------------------------------------------------------------------


def _hrefs(caller: Caller, url: str) -> list[str]:
    return [a.href for a in Page(get(caller, url).text).find_all("a") if "href" in a.attrs]


EDITING = re.compile(r"/-/(new|edit|delete)\b")
SCHEMA = re.compile(rf"^/{DB}/-/(schema|diagram|drift)")


@pytest.mark.parametrize("who", SIGNED_IN)
def test_pages_link_only_to_what_the_caller_may_open(world: World, who: str) -> None:
    caller = world.callers[who]
    may_write = who in WRITERS
    whole = who != "solo"
    pages = ["/", f"/{DB}", f"/{DB}/orders", f"/{DB}/orders/1", f"/{DB}/-/query"]
    links = {url: _hrefs(caller, url) for url in pages}
    for url, hrefs in links.items():
        for href in hrefs:
            path = href.split("?", 1)[0]
            if not whole:
                assert not re.match(rf"^/{DB}/(vault|customers)\b", path), (url, href)
                assert "table=vault" not in href and "table=customers" not in href, (url, href)
            if not whole:
                assert not SCHEMA.match(path), (url, href)
            if not may_write:
                assert not EDITING.search(path), (url, href)
            assert "/-/users" not in path or who == "admin", (url, href)
    home = links["/"]
    assert f"/{DB}/orders" in home
    if whole:
        assert f"/{DB}/vault" in home and f"/{DB}/-/schema" in home
    if may_write:
        assert f"/{DB}/orders/-/new" in links[f"/{DB}/orders"]
        assert f"/{DB}/orders/1/-/edit" in links[f"/{DB}/orders/1"]
    # and every link they are shown opens
    for href in sorted({h for hrefs in links.values() for h in hrefs if h.startswith("/")}):
        if href.startswith(("/static/", "/-/logout")) or "/-/download/" in href:
            continue
        answer = call(caller, "GET", href)
        assert answer.status_code in (200, 302), (href, answer.status_code, answer.text[:300])


def test_anonymous_callers_see_only_the_sign_in_page(world: World) -> None:
    anonymous = world.callers["anonymous"]
    for url in ("/", f"/{DB}", f"/{DB}/orders", f"/{DB}/-/query"):
        answer = call(anonymous, "GET", url)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/-/login")
    login = get(anonymous, "/-/login").text
    assert "orders" not in login and "vault" not in login
