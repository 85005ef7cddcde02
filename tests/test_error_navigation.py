"""No dead ends: every error page keeps the breadcrumbs for the part of its URL that exists and
offers the way back, and a list page too slow to read is the list page itself, with its form as
the user had it and links to the same page without its sort, its filters or both.

On every engine: the slow view takes far longer than the one-second statement limit the app is
given, as in test_timeouts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from conftest import ENV_TO_CLEAR, Node, Page
from flask import Flask
from sqlalchemy import create_engine, text

from rowboat import create_app
from rowboat.browse import listing
from rowboat.core import keys
from rowboat.db.errors import Unreadable
from rowboat.views import browse
from rowboat.web import slots

SLOW_VIEWS = {
    # Every read of the view takes far longer than the one-second limit. SQLite's view reads its
    # columns from a table, so that they have types (an expression's column has none).
    "sqlite": "CREATE VIEW slow_nav AS SELECT b.x AS x, b.t AS t FROM slow_nav_base b WHERE "
    "(WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 2000000000) "
    "SELECT max(n) FROM c) > 0",
    "postgresql": "CREATE VIEW slow_nav AS SELECT 1 AS x, pg_sleep(6)::text AS t",
    "mariadb": "CREATE VIEW slow_nav AS SELECT 1 AS x, CAST(SLEEP(6) AS CHAR) AS t",
}


def _dashboard(edge_url: str, tmp_path: Any, **settings: Any) -> Flask:
    return create_app(
        {
            "DATABASES": {"edge": {"url": edge_url}},
            "DEMO_PATH": str(tmp_path / "demo.sqlite"),
            "STATEMENT_TIMEOUT": 1.0,
            **settings,
        }
    )


@pytest.fixture
def slow_app(
    edge_url: str, engine_name: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    setup = create_engine(edge_url)
    with setup.begin() as connection:
        if engine_name == "sqlite":
            connection.execute(text("CREATE TABLE slow_nav_base (x INTEGER, t VARCHAR(20))"))
            connection.execute(text("INSERT INTO slow_nav_base VALUES (1, 'a1')"))  # one to test
        connection.execute(text(SLOW_VIEWS[engine_name]))
    app = _dashboard(edge_url, tmp_path)
    try:
        yield app
    finally:
        app.extensions["rowboat.databases"]["edge"].engine.dispose()
        with setup.begin() as connection:
            connection.execute(text("DROP VIEW slow_nav"))
            if engine_name == "sqlite":
                connection.execute(text("DROP TABLE slow_nav_base"))
        setup.dispose()


def _soup(response: Any) -> Page:
    return Page(response.get_data(as_text=True))


def _crumbs(page: Page) -> list[tuple[str, str]]:
    return [(a.text(), a.href) for a in page.one("nav", "crumbs").find_all("a")]


def _ways(page: Page) -> dict[str, str]:
    return {a.text(): a.href for a in page.one(None, "way-back").find_all("a")}


def _selected(node: Node, name: str) -> str:
    select = node.one("select", name=name)
    return next(o.attrs["value"] for o in select.find_all("option") if "selected" in o.attrs)


def _retries(page: Page) -> dict[str, Node]:
    box = page.one("section", "unfinished").find("p", "retry")
    return {} if box is None else {a.attrs["class"]: a for a in box.find_all("a")}


def _args(href: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(href).query, keep_blank_values=True)


# --- the list page that runs out of time --------------------------------------------------------


def test_a_list_page_out_of_time_is_the_list_page_with_its_form(slow_app: Flask) -> None:
    url = "/edge/slow_nav?_sort_desc=x&x__gt=0&_search=a1&_size=20"
    response = slow_app.test_client().get(url)
    assert response.status_code == 504
    page = _soup(response)
    assert _crumbs(page) == [("edge", "/edge"), ("slow_nav", "/edge/slow_nav")]
    problem = page.one("section", "unfinished")
    assert "This page took longer than 1 s" in problem.text()
    assert "1 s time limit" in problem.text()
    assert page.find("table", "rows") is None  # no rows, no empty "No rows" table
    # The form as the user had it: the search, the filter row, the sort, the page size.
    form = page.one("form", id="list-form")
    assert form.one("input", name="_search").attrs["value"] == "a1"
    kept = [row for row in form.find_all("div", "filter-row") if "new" not in row.classes]
    assert len(kept) == 1
    assert _selected(kept[0], "_fc") == "x"
    assert _selected(kept[0], "_fo") == "gt"
    assert kept[0].one(None, name="_fv").attrs["value"] == "0"
    assert form.one("input", name="_sort_desc").attrs["value"] == "x"
    assert _selected(form, "_size") == "20"
    # The way out: the same page without the sort, without the filter and search, without both.
    links = _retries(page)
    assert set(links) == {"drop-sort", "drop-filters", "drop-both"}
    assert all(urlsplit(a.href).path == "/edge/slow_nav" for a in links.values())
    assert _args(links["drop-sort"].href) == [("x__gt", "0"), ("_search", "a1"), ("_size", "20")]
    assert _args(links["drop-filters"].href) == [("_sort_desc", "x"), ("_size", "20")]
    assert _args(links["drop-both"].href) == [("_size", "20")]
    assert links["drop-filters"].text() == "without the filters and the search"
    assert links["drop-sort"].text() == "without the sort by x"
    assert links["drop-both"].text() == "without the sort by x, the filters and the search"
    ways = _ways(page)
    assert list(ways) == ["Try again", "Database edge", "Home"]
    assert ways["Database edge"] == "/edge"
    assert urlsplit(ways["Try again"]).path == "/edge/slow_nav"
    assert _args(ways["Try again"]) == _args(url)
    # The page that led here (the list before the sort was chosen, say) is the way back.
    referrer = "http://localhost/edge/slow_nav?x__gt=0"
    again = slow_app.test_client().get(url, headers={"Referer": referrer})
    assert _ways(_soup(again))["Go back"] == referrer


def test_only_the_choices_that_apply_are_offered(slow_app: Flask) -> None:
    client = slow_app.test_client()
    assert list(_retries(_soup(client.get("/edge/slow_nav?_sort=x")))) == ["drop-sort"]
    links = _retries(_soup(client.get("/edge/slow_nav?x__gt=0")))
    assert list(links) == ["drop-filters"]
    assert links["drop-filters"].text() == "without the filters"
    assert links["drop-filters"].href == "/edge/slow_nav"
    # Nothing to drop: the message, the form and the ways back only.
    plain = client.get("/edge/slow_nav")
    assert plain.status_code == 504
    page = _soup(plain)
    assert _retries(page) == {}
    page.one("form", id="list-form")
    assert _ways(page)["Database edge"] == "/edge"


def test_json_clients_still_get_json(slow_app: Flask) -> None:
    response = slow_app.test_client().get(
        "/edge/slow_nav?_sort=x", headers={"Accept": "application/json"}
    )
    assert response.status_code == 504
    assert response.get_json()["error"] == "Query took too long"


def test_a_list_page_with_no_slot_free_is_the_list_page_too(
    edge_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    app = _dashboard(edge_url, tmp_path, SLOW_SLOTS=1)
    database = app.extensions["rowboat.databases"]["edge"]
    try:
        client = app.test_client()
        with app.app_context():
            held = slots.take(database)  # the one slot, taken by another request
        try:
            # A search no index serves needs a slot: refused at once, on the list page itself.
            response = client.get("/edge/person?_search=an&_sort=notes")
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "1"
            page = _soup(response)
            assert "Too many slow pages at once" in page.one("section", "unfinished").text()
            assert page.one("input", name="_search").attrs["value"] == "an"
            links = _retries(page)
            assert _args(links["drop-sort"].href) == [("_search", "an")]
            assert _args(links["drop-filters"].href) == [("_sort", "notes")]
            # The page sorted by its key needs no slot: it opens while the slot is taken.
            assert client.get("/edge/person?_sort=id").status_code == 200
        finally:
            held.release()
    finally:
        database.engine.dispose()


# --- every error page keeps its navigation ------------------------------------------------------


@pytest.fixture
def nav_app(edge_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    app = _dashboard(edge_url, tmp_path)
    try:
        yield app
    finally:
        app.extensions["rowboat.databases"]["edge"].engine.dispose()


def test_a_missing_table_keeps_the_database(nav_app: Flask) -> None:
    response = nav_app.test_client().get("/edge/no_such_table")
    assert response.status_code == 404
    soup = _soup(response)
    assert _crumbs(soup) == [("edge", "/edge")]
    assert _ways(soup) == {"Database edge": "/edge", "Home": "/"}


def test_a_missing_database_offers_home(nav_app: Flask) -> None:
    soup = _soup(nav_app.test_client().get("/nowhere/person/1"))
    assert _crumbs(soup) == []
    assert _ways(soup) == {"Home": "/"}


def test_a_missing_row_keeps_its_table(nav_app: Flask) -> None:
    client = nav_app.test_client()
    referrer = "http://localhost/edge/person?_sort=name"
    response = client.get("/edge/person/999999", headers={"Referer": referrer})
    assert response.status_code == 404
    soup = _soup(response)
    assert _crumbs(soup) == [("edge", "/edge"), ("person", "/edge/person")]
    assert _ways(soup) == {
        "Go back": referrer,
        "The list of person": "/edge/person",
        "Home": "/",
    }
    # Another site's page is never offered as the way back.
    elsewhere = client.get("/edge/person/999999", headers={"Referer": "https://example.com/x"})
    assert "Go back" not in _ways(_soup(elsewhere))


def test_a_bad_request_on_a_list_keeps_its_crumbs(nav_app: Flask) -> None:
    response = nav_app.test_client().get("/edge/person?_next=%%%")
    assert response.status_code == 400
    soup = _soup(response)
    assert _crumbs(soup) == [("edge", "/edge"), ("person", "/edge/person")]
    # The list page itself is what failed: the nearest page above it is the database.
    assert _ways(soup)["Database edge"] == "/edge"


def test_a_refused_edit_keeps_the_row(
    edge_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    app = _dashboard(edge_url, tmp_path, READ_ONLY=True)
    try:
        response = app.test_client().get("/edge/tag/" + keys.encode("a/b") + "/-/edit")
        assert response.status_code == 403
        soup = _soup(response)
        row = "/edge/tag/" + keys.encode("a/b")
        assert _crumbs(soup) == [("edge", "/edge"), ("tag", "/edge/tag"), ("a/b", row)]
        assert _ways(soup)["tag a/b"] == row
    finally:
        app.extensions["rowboat.databases"]["edge"].engine.dispose()


@pytest.mark.parametrize(
    ("failure", "status"),
    [(Unreadable("'person' cannot be read."), 409), (RuntimeError("a bug"), 500)],
    ids=["409", "500"],
)
def test_a_failing_row_page_keeps_its_crumbs(
    nav_app: Flask, monkeypatch: pytest.MonkeyPatch, failure: Exception, status: int
) -> None:
    def fail(*_args: Any, **_kw: Any) -> Any:
        raise failure

    monkeypatch.setattr(browse.rowpage, "find_row", fail)
    response = nav_app.test_client().get("/edge/person/1")
    assert response.status_code == status
    soup = _soup(response)
    assert _crumbs(soup) == [("edge", "/edge"), ("person", "/edge/person")]
    assert soup.one("nav", "crumbs").text().endswith("› 1")
    assert _ways(soup) == {"The list of person": "/edge/person", "Home": "/"}


def test_a_failing_list_page_offers_its_database(
    nav_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_args: Any, **_kw: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(listing, "fetch_page", fail)
    response = nav_app.test_client().get("/edge/person?_sort=name")
    assert response.status_code == 500
    soup = _soup(response)
    assert _crumbs(soup) == [("edge", "/edge"), ("person", "/edge/person")]
    assert _ways(soup) == {"Database edge": "/edge", "Home": "/"}


def _slow_relations(monkeypatch: pytest.MonkeyPatch, slow: Callable[[str], bool]) -> list[str]:
    """Make the related rows of the relations ``slow`` names run into the statement limit (a
    real cancelled statement); returns the relations whose rows were read, in order."""
    real = browse.rowpage._read_previews
    tried: list[str] = []

    def reading(session: Any, catalog: Any, relation: Any, *args: Any) -> Any:
        tried.append(relation.name)
        if slow(relation.name):
            session.execute(text("SELECT * FROM slow_nav")).all()  # cancelled at the limit
        return real(session, catalog, relation, *args)

    monkeypatch.setattr(browse.rowpage, "_read_previews", reading)
    return tried


def _related(page: Page) -> dict[str, Node]:
    return {s.attrs["id"].removeprefix("rel-"): s for s in page.find_all("section", "related")}


def test_a_related_list_out_of_time_leaves_the_row_and_the_other_lists(
    slow_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = slow_app.test_client()
    fast = _related(_soup(client.get("/edge/person/1")))
    assert len(fast) >= 3, fast.keys()
    slow_one = sorted(fast)[0]
    tried = _slow_relations(monkeypatch, lambda name: name == slow_one)
    response = client.get("/edge/person/1")
    assert response.status_code == 200
    page = _soup(response)
    assert "name" in page.record()  # the row itself
    assert sorted(tried) == sorted(fast)  # one slow relation leaves the others time
    sections = _related(page)
    assert sections.keys() == fast.keys()  # in the same order, each in its place
    late = sections.pop(slow_one)
    assert "Not read in time" in late.text()
    link = late.one("a", "all")
    assert urlsplit(link.href).query  # the list of exactly these related rows
    see_all = fast[slow_one].find("a", "all")
    assert see_all is None or see_all.href == link.href
    for name, section in sections.items():
        assert section.text() == fast[name].text(), name  # read as without the slow one
    note = page.one("p", "previews-late")
    assert "took longer than the 1 s time limit" in note.text()
    assert late.one("h2").text().split(" one-to-many")[0].split(" many-to-many")[0] in note.text()
    assert _crumbs(page) == [("edge", "/edge"), ("person", "/edge/person")]
    # The connection went back healthy: the next page reads normally.
    assert client.get("/edge/person?_sort=id").status_code == 200


def test_many_slow_related_lists_are_not_all_waited_for(
    slow_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = slow_app.test_client()
    names = list(_related(_soup(client.get("/edge/person/1"))))
    tried = _slow_relations(monkeypatch, lambda name: True)
    response = client.get("/edge/person/1")
    assert response.status_code == 200
    sections = _related(_soup(response))
    assert list(sections) == names
    assert all("Not read in time" in s.text() for s in sections.values())
    # Twice the limit for them all: the first one or two are tried, not every one of them.
    assert 1 <= len(tried) < len(names), tried


def test_a_row_page_out_of_time_offers_to_try_again(
    slow_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow_row(session: Any, *_args: Any) -> Any:
        session.execute(text("SELECT * FROM slow_nav")).all()  # cancelled at the limit

    monkeypatch.setattr(browse.rowpage, "find_row", slow_row)
    response = slow_app.test_client().get("/edge/person/1?x=1")
    assert response.status_code == 504
    page = _soup(response)
    assert "1 s" in page.one("p", "message").text()
    assert _crumbs(page) == [("edge", "/edge"), ("person", "/edge/person")]
    assert _ways(page) == {
        "Try again": "/edge/person/1?x=1",
        "The list of person": "/edge/person",
        "Home": "/",
    }


def test_retry_choices_keep_everything_else_and_start_at_the_first_page() -> None:
    sort: Any = type("Sort", (), {"name": "total"})()
    query = listing.ListQuery(filters=[object()], search="", sort=sort)  # stand-ins suffice
    args = [("_sort", "total"), ("status__exact", "new"), ("_size", "20"), ("_next", "c1")]
    args += [("_at", "21"), ("_via", "v")]
    choices = {css: (label, kept) for css, label, kept in listing.retry_choices(args, query)}
    assert choices == {
        "drop-sort": (
            "Without the sort by total",
            [("status__exact", "new"), ("_size", "20"), ("_via", "v")],
        ),
        "drop-filters": (
            "Without the filters",
            [("_sort", "total"), ("_size", "20"), ("_via", "v")],
        ),
        "drop-both": (
            "Without the sort by total and the filters",
            [("_size", "20"), ("_via", "v")],
        ),
    }
    assert listing.retry_choices([("_size", "20")], listing.ListQuery()) == []
