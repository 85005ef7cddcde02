"""An editable primary key on the edit form, on the three engines: the warning beside it names
the tables whose foreign keys point at it and what a change does to their rows (ON UPDATE
CASCADE: they follow; otherwise the database refuses while rows point here); a changed key
still saves, or is refused by the database with nothing changed. The same schema checks the
row pages' breadcrumbs, their query builder links and the schema page's row counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ENGINES, ENV_TO_CLEAR, Page, dashboard_for, database_with
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    insert,
    select,
)
from test_edit_support import form_data, with_values

from rowboat.browse.crumbs import CRUMB_LABEL_MAX, crumb_text

metadata = MetaData()
shelf = Table(
    "shelf",
    metadata,
    Column("code", String(10), primary_key=True),
    Column("name", String(40), nullable=False),
)
book_follows = Table(  # its rows follow a shelf's new code
    "book_follows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("title", String(40), nullable=False),
    Column(
        "shelf_code",
        String(10),
        ForeignKey("shelf.code", onupdate="CASCADE", name="fk_bf_shelf"),
        nullable=True,
    ),
)
book_stays = Table(  # its rows hold a shelf's code: the database refuses to change it
    "book_stays",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("title", String(40), nullable=False),
    Column("shelf_code", String(10), ForeignKey("shelf.code", name="fk_bs_shelf"), nullable=True),
)
lonely = Table(  # nothing points at it
    "lonely",
    metadata,
    Column("code", String(10), primary_key=True),
    Column("note", String(40), nullable=True),
)

ROWS: list[tuple[Table, list[dict[str, Any]]]] = [
    (shelf, [{"code": "A", "name": "Fiction"}, {"code": "B", "name": "History"}]),
    (shelf, [{"code": "C", "name": "Poetry"}]),
    (
        book_follows,
        [
            {"id": 1, "title": "Dune", "shelf_code": "A"},
            {"id": 2, "title": "SPQR", "shelf_code": "B"},
        ],
    ),
    (book_stays, [{"id": 1, "title": "Emma", "shelf_code": "A"}]),
    (lonely, [{"code": "x", "note": "alone"}]),
]


@pytest.fixture(scope="module", params=ENGINES)
def keys_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with database_with(request.param, "rowboat_keys", tmp_path_factory, metadata.create_all) as url:
        yield url


@pytest.fixture
def kapp(keys_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The dashboard on the key database ("k"), its rows as ``ROWS`` says."""
    engine = create_engine(keys_url)
    try:
        with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                connection.execute(delete(table))
            for table, rows in ROWS:
                connection.execute(insert(table), rows)
    finally:
        engine.dispose()
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    with dashboard_for(keys_url, tmp_path, monkeypatch, name="k", csrf=False) as application:
        yield application


@pytest.fixture
def kclient(kapp: Flask) -> FlaskClient:
    return kapp.test_client()


@pytest.fixture
def kengine(keys_url: str) -> Iterator[Engine]:
    engine = create_engine(keys_url)
    yield engine
    engine.dispose()


def _rows(engine: Engine, table: Table) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return sorted(tuple(r) for r in connection.execute(select(table)))


def _warning(page: Page, name: str) -> Any:
    return page.one("div", "field", **{"data-name": name}).find("div", "key-warning")


# --- the warning ---------------------------------------------------------------------------------


def test_the_key_warning_names_the_referencing_tables_and_their_rule(
    kclient: FlaskClient, read: Any
) -> None:
    page = read(kclient.get("/k/shelf/A/-/edit"))
    warning = _warning(page, "code")
    assert warning is not None
    assert "This is the row's key" in warning.text()
    items = {li.one("a").text(): li for li in warning.find_all("li")}
    assert set(items) == {"book_follows", "book_stays"}
    follows, stays = items["book_follows"], items["book_stays"]
    assert follows.one("a").href == "/k/book_follows"
    assert "shelf_code" in follows.text() and "they follow the new key" in follows.text()
    assert "(ON UPDATE CASCADE)" in follows.text()
    assert "the database refuses the change" in stays.text()
    assert "ON UPDATE NO ACTION" in stays.text() or "ON UPDATE RESTRICT" in stays.text()
    # The unlock box is there for the script to show; without it the warning alone.
    unlock = warning.one("label", "key-unlock")
    assert "hidden" in unlock.attrs and "Change the key" in unlock.text()
    # Only the key gets it.
    assert _warning(page, "name") is None


def test_no_warning_on_create_and_a_plain_note_where_nothing_points(
    kclient: FlaskClient, read: Any
) -> None:
    assert read(kclient.get("/k/shelf/-/new")).find("div", "key-warning") is None
    warning = _warning(read(kclient.get("/k/lonely/x/-/edit")), "code")
    assert warning is not None
    assert "No foreign key in this database points at this table." in warning.text()
    assert warning.find("ul") is None


# --- saving a changed key -----------------------------------------------------------------------


def test_a_changed_key_saves_and_cascading_rows_follow(
    kclient: FlaskClient, read: Any, kengine: Engine
) -> None:
    page = read(kclient.get("/k/shelf/B/-/edit"))
    response = kclient.post("/k/shelf/B/-/edit", data=with_values(form_data(page), code="H"))
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    assert response.headers["Location"] == "/k/shelf/H"
    assert ("H", "History") in _rows(kengine, shelf)
    assert (2, "SPQR", "H") in _rows(kengine, book_follows)  # ON UPDATE CASCADE


def test_a_key_rows_still_hold_is_refused_and_nothing_changes(
    kclient: FlaskClient, read: Any, kengine: Engine
) -> None:
    before = [_rows(kengine, t) for t in metadata.sorted_tables]
    page = read(kclient.get("/k/shelf/A/-/edit"))
    response = kclient.post("/k/shelf/A/-/edit", data=with_values(form_data(page), code="Z"))
    assert 400 <= response.status_code < 500, response.status_code
    again = read(response)
    assert again.find("div", "form-problems") is not None
    assert _warning(again, "code") is not None  # the warning is still beside the key
    assert [_rows(kengine, t) for t in metadata.sorted_tables] == before


# --- navigation on the same rows ----------------------------------------------------------------


def test_every_page_of_a_row_names_it_the_same_way_in_the_breadcrumbs(
    kclient: FlaskClient, read: Any
) -> None:
    """The label and the key, "Fiction (A)", on the row, edit, delete and history pages."""
    row = read(kclient.get("/k/shelf/A"))
    assert row.one("nav", "crumbs").text().endswith("› Fiction (A)")
    for path in ("/k/shelf/A/-/edit", "/k/shelf/A/-/delete", "/k/shelf/A/-/history"):
        response = kclient.get(path)
        assert response.status_code == 200, path
        crumbs = read(response).one("nav", "crumbs")
        link = next(a for a in crumbs.find_all("a") if a.href == "/k/shelf/A")
        assert link.text() == "Fiction (A)", path
    # A row whose label is its key is named by its key alone.
    assert read(kclient.get("/k/lonely/x")).one("nav", "crumbs").text().endswith("› x")


def test_the_query_builder_is_one_click_from_the_row_and_schema_pages(
    kclient: FlaskClient, read: Any
) -> None:
    def query_links(path: str) -> list[str]:
        response = kclient.get(path)
        assert response.status_code == 200, path
        return [a.href for a in read(response).find_all("a", "query-link")]

    assert "/k/-/query?table=shelf" in query_links("/k/shelf/A")
    for path in ("/k/-/schema", "/k/-/diagram", "/k/-/drift", "/k/-/schema/shelf"):
        assert "/k/-/query" in query_links(path), path
    assert "/k/-/query?table=shelf" in query_links("/k/-/schema/shelf")
    assert kclient.get("/k/-/query?table=shelf").status_code == 200
    home = read(kclient.get("/"))
    assert "/k/-/query" in [a.href for a in home.find_all("a")]


def test_the_schema_page_shows_the_row_counts_the_home_page_shows(
    kclient: FlaskClient, read: Any
) -> None:
    def counts(path: str, name_cell: str) -> dict[str, str]:
        page = read(kclient.get(path))
        found = {}
        for tr in page.find_all("tr"):
            cells = tr.find_all("td")
            if cells and tr.find("td", name_cell) is not None:
                found[cells[0].text()] = [td for td in cells if "num" in td.classes][1].text()
        return found

    schema = counts("/k/-/schema", "name")
    assert schema["shelf"] == "3" and schema["book_stays"] == "1" and schema["lonely"] == "1"
    home = read(kclient.get("/k"))
    home_counts = {
        tr.find_all("td")[0].text(): tr.one("td", "num").text()
        for tr in home.one("table", "tables").one("tbody").find_all("tr")
    }
    for name, shown in schema.items():
        assert home_counts[name] == shown, name


def test_a_long_label_is_cut_in_the_breadcrumbs() -> None:
    assert crumb_text("5", "Dune") == "Dune (5)"
    assert crumb_text("5", "5") == "5" and crumb_text("5", None) == "5"
    cut = crumb_text("7", "A" * 300)
    assert cut.endswith("… (7)") and len(cut) == CRUMB_LABEL_MAX + len(" (7)")
