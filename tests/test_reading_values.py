"""Reading values on every engine: numbers grouped by the browser's locale with the exact
value kept as the page's text, dates stored at midnight without a spurious time, headers that
stick, foreign-key labels that do not overflow, relations and related rows named for people.

A small music store (the shapes of the Chinook sample a new user tries first): employees who
report to one another and share a job title, customers with a support rep and an account
manager (two references to one table), albums with long titles, 1,234 tracks with sizes in
bytes, prices and years, invoices dated at midnight, deliveries at midnight and not.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from conftest import ENGINES, dashboard_for, database_with, serving
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    insert,
)

Reader = Callable[[Any], Any]

metadata = MetaData()
employee = Table(
    "employee",
    metadata,
    Column("EmployeeId", Integer, primary_key=True, autoincrement=False),
    Column("LastName", String(40)),
    Column("FirstName", String(40)),
    Column("Title", String(40)),
    Column("Email", String(60)),
    Column("ReportsTo", Integer, ForeignKey("employee.EmployeeId")),
)
customer = Table(
    "customer",
    metadata,
    Column("CustomerId", Integer, primary_key=True, autoincrement=False),
    Column("FirstName", String(40)),
    Column("LastName", String(40)),
    Column("Email", String(60)),
    Column("SupportRepId", Integer, ForeignKey("employee.EmployeeId")),
    Column("AccountManagerId", Integer, ForeignKey("employee.EmployeeId")),
)
album = Table(
    "album",
    metadata,
    Column("AlbumId", Integer, primary_key=True, autoincrement=False),
    Column("Title", String(200)),
)
track = Table(
    "track",
    metadata,
    Column("TrackId", Integer, primary_key=True, autoincrement=False),
    Column("Name", String(200)),
    Column("AlbumId", Integer, ForeignKey("album.AlbumId")),
    Column("Bytes", BigInteger),
    Column("UnitPrice", Numeric(10, 2)),
    Column("ReleaseYear", Integer),
    Column("RecordedOn", Date),
)
invoice = Table(
    "invoice",
    metadata,
    Column("InvoiceId", Integer, primary_key=True, autoincrement=False),
    Column("CustomerId", Integer, ForeignKey("customer.CustomerId")),
    Column("InvoiceDate", DateTime),
    Column("Total", Numeric(10, 2)),
)
delivery = Table(
    "delivery",
    metadata,
    Column("DeliveryId", Integer, primary_key=True, autoincrement=False),
    Column("InvoiceId", Integer, ForeignKey("invoice.InvoiceId")),
    Column("SentAt", DateTime),
)

LONG_TITLE = "A Very Long Album Title That Goes On " * 4
TRACKS = 1234
BYTES = 11170334
PRICE = Decimal("1234.50")


def _create(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(employee),
            [
                dict(EmployeeId=1, FirstName="Andrew", LastName="Adams", Title="General Manager",
                     Email="andrew@chinookcorp.com", ReportsTo=None),
                dict(EmployeeId=2, FirstName="Jane", LastName="Peacock",
                     Title="Sales Support Agent", Email="jane@chinookcorp.com", ReportsTo=1),
                dict(EmployeeId=3, FirstName="Margaret", LastName="Park",
                     Title="Sales Support Agent", Email="margaret@chinookcorp.com", ReportsTo=1),
            ],
        )  # fmt: skip
        connection.execute(
            insert(customer),
            [
                dict(CustomerId=1, FirstName="Luís", LastName="Gonçalves",
                     Email="luisg@embraer.com.br", SupportRepId=2, AccountManagerId=3),
            ],
        )  # fmt: skip
        connection.execute(insert(album), [dict(AlbumId=1, Title=LONG_TITLE.strip())])
        connection.execute(
            insert(track),
            [
                dict(TrackId=i, Name=f"Track {i}", AlbumId=1, Bytes=BYTES + i - 1,
                     UnitPrice=PRICE, ReleaseYear=1998, RecordedOn=dt.date(1998, 5, 1))
                for i in range(1, TRACKS + 1)
            ],
        )  # fmt: skip
        connection.execute(
            insert(invoice),
            [
                dict(InvoiceId=98 + i, CustomerId=1, InvoiceDate=dt.datetime(2009, 1, 1 + i),
                     Total=Decimal("3.98"))
                for i in range(3)
            ],
        )  # fmt: skip
        connection.execute(
            insert(delivery),
            [
                dict(DeliveryId=1, InvoiceId=98, SentAt=dt.datetime(2009, 1, 2)),
                dict(DeliveryId=2, InvoiceId=99, SentAt=dt.datetime(2009, 1, 3, 13, 45)),
            ],
        )


@pytest.fixture(scope="module", params=ENGINES)
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with database_with(request.param, "rowboat_values", tmp_path_factory, _create) as url:
        yield url


@pytest.fixture
def store(store_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    with dashboard_for(store_url, tmp_path, monkeypatch, name="store") as application:
        yield application


@pytest.fixture
def client(store: Flask) -> FlaskClient:
    return store.test_client()


def _page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def _catalog(app: Flask) -> Any:
    return app.extensions["rowboat.databases"]["store"].catalog


def test_people_are_labelled_by_their_names(
    store: Flask, client: FlaskClient, read: Reader
) -> None:
    entities = _catalog(store).entities
    assert entities["employee"].label_keys == ["FirstName", "LastName"]
    assert entities["customer"].label_keys == ["FirstName", "LastName"]
    assert entities["album"].label_keys == ["Title"]
    assert entities["track"].label_keys == ["Name"]
    record = read(_page(client, "/store/customer/1")).one("table", "record")
    links = {a.text() for a in record.find_all("a", "fk")}
    assert links == {"Jane Peacock", "Margaret Park"}  # not "Sales Support Agent" twice
    listed = _page(client, "/store/employee")
    assert ">Andrew Adams</a>" in listed and "Sales Support Agent</a>" not in listed


def test_relations_are_titled_for_people(store: Flask, client: FlaskClient, read: Reader) -> None:
    page = read(_page(client, "/store/employee/1"))
    titles = [section.one("h2").text() for section in page.find_all("section", "related")]
    headings = [re.sub(r"\s+", " ", t).split(" one-to-many")[0] for t in titles]
    assert headings == [
        "Customers (account manager)",
        "Customers (support rep)",
        "Employees (reports to)",
    ]
    body = _page(client, "/store/customer/1")
    shown = re.sub(r"<[^>]*>", "", body)  # the words on the page (URLs keep the names)
    assert "_collection" not in shown and "_via_" not in shown
    assert "<h2>Invoices <small>" in body
    # The references are links in the record; no list below repeats them.
    assert read(body).find("section", "relations") is None
    # The query builder offers the joins by their titles, keeping the paths as values.
    builder = _page(client, "/store/-/query?table=customer")
    assert ">Invoices (one-to-many invoice)</option>" in builder
    assert 'value="Invoice_collection"' in builder or 'value="invoice_collection"' in builder


def test_the_query_builder_names_joins_and_groups_numbers(
    store: Flask, client: FlaskClient, read: Reader
) -> None:
    relations = _catalog(store).entities["customer"].relations
    (invoices,) = [name for name, r in relations.items() if r.target == "invoice"]
    spec = (
        f"table=customer&join={invoices}&col=CustomerId&col={invoices}.InvoiceId"
        f"&col={invoices}.Total&col={invoices}.CustomerId&run=1"
    )
    body = _page(client, f"/store/-/query?{spec}")
    page = read(body)
    # The words on the page, but for the SQL and the spec's JSON, which must use the names
    # (as URLs and values do).
    words = re.sub(r"<(pre|textarea)\b.*?</\1>", "", body, flags=re.S)
    shown = re.sub(r"<[^>]*>", "", words)
    assert invoices not in shown, [line for line in shown.splitlines() if invoices in line]
    assert page.one("span", "qb-join-path").text() == "Invoices"
    # Each header is its title, then its type in a <span>.
    headers = [str(th.children[0]) for th in page.one("table", "qb-results").find_all("th")]
    assert headers == ["CustomerId", "Invoices.InvoiceId", "Invoices.Total", "Invoices.CustomerId"]
    legends = [legend.text() for legend in page.find_all("legend")]
    assert "Invoices (invoice)" in legends
    # Digits are grouped as on list pages: the total, not the keys.
    first = page.one("table", "qb-results").find_all("tr")[1]
    classes = [td.attrs["class"] for td in first.find_all("td")]
    assert classes == ["integer", "integer", "numeric grp", "integer"]
    # A count is a quantity; the highest key is not. Exports keep the path names.
    counted = read(
        _page(
            client,
            f"/store/-/query?table=customer&join={invoices}&group=CustomerId"
            f"&agg=count:*&agg=max:{invoices}.InvoiceId&agg=sum:{invoices}.Total&run=1",
        )
    )
    first = counted.one("table", "qb-results").find_all("tr")[1]
    classes = [td.attrs["class"] for td in first.find_all("td")]
    assert classes == ["integer", "integer grp", "integer", "numeric grp"]
    exported = client.get(f"/store/-/query/export.csv?{spec}").get_data(as_text=True)
    assert exported.splitlines()[0] == (
        f"CustomerId,{invoices}.InvoiceId,{invoices}.Total,{invoices}.CustomerId"
    )


def test_relations_come_in_the_same_order_every_time(store: Flask) -> None:
    for entity in _catalog(store).entities.values():
        titles = [r.title for r in entity.relations.values()]
        assert titles == sorted(titles), entity.name


def test_related_rows_preview_their_labels(client: FlaskClient, read: Reader) -> None:
    page = read(_page(client, "/store/employee/1"))
    (reports,) = [
        s for s in page.find_all("section", "related") if "reports to" in s.one("h2").text()
    ]
    assert [li.text() for li in reports.find_all("li")] == ["Jane Peacock", "Margaret Park"]


def test_numbers_keep_their_exact_text_and_are_marked_for_grouping(
    client: FlaskClient, read: Reader
) -> None:
    page = read(_page(client, "/store/track?_size=20"))
    first = page.one("table", "rows").find_all("tr")[1]
    cells = {td.attrs["class"]: td.text() for td in first.find_all("td")[1:]}
    assert cells["integer grp"] == str(BYTES)  # the exact value: values.js only draws commas
    assert cells["numeric grp"] == "1234.50"
    ungrouped = {
        td.text() for td in first.find_all("td", "integer") if "grp" not in td.attrs["class"]
    }
    assert {"1", "1998"} <= ungrouped  # the key and the year
    assert first.one("td", "fk").text().endswith(" 1")  # the album's key, not grouped
    record = read(_page(client, "/store/track/1")).one("table", "record")
    grouped = {td.text() for td in record.find_all("td") if "grp" in td.attrs.get("class", "")}
    assert grouped == {str(BYTES), "1234.50"}


def test_a_column_of_midnights_shows_its_dates(client: FlaskClient, read: Reader) -> None:
    body = _page(client, "/store/invoice")
    # The exact value stays the text (copied, exported, read aloud); the time takes no room.
    assert '2009-01-01<span class="midnight"> 00:00:00</span>' in body
    # A column holding a time on the page shows every value whole, midnight too.
    deliveries = _page(client, "/store/delivery")
    assert "2009-01-03 13:45:00" in deliveries and "2009-01-02 00:00:00" in deliveries
    assert 'class="midnight"' not in deliveries
    # A date is a date: no time at all.
    tracks = _page(client, "/store/track?_size=20")
    assert ">1998-05-01</td>" in tracks and "1998-05-01 00" not in tracks
    # The row page likewise; the edit form shows the value as it always did.
    assert 'class="midnight"' in _page(client, "/store/invoice/98")
    edit = _page(client, "/store/invoice/98/-/edit")
    assert 'class="midnight"' not in edit


def test_exports_keep_the_exact_values(client: FlaskClient) -> None:
    rows = json.loads(_page(client, "/store/-/export/track.json?TrackId__exact=1"))
    text = json.dumps(rows)
    assert str(BYTES) in text and "11,170,334" not in text
    csv = _page(client, "/store/-/export/invoice.csv")
    assert "2009-01-01 00:00:00" in csv


# --- in a browser --------------------------------------------------------------------------

# What a cell shows: its text, the separators drawn before its digit groups, and nothing of
# the text CSS shrinks to no size.
SHOWN = """(el) => {
  let out = "";
  const walk = (n) => {
    if (n.nodeType === 3) {
      if (parseFloat(getComputedStyle(n.parentElement).fontSize) > 0) out += n.data;
      return;
    }
    if (n.nodeType !== 1) return;
    const before = getComputedStyle(n, "::before").content;
    if (before && before !== "none" && before !== "normal") out += JSON.parse(before);
    n.childNodes.forEach(walk);
  };
  walk(el);
  return out.trim();
}"""
# What copying a cell gives.
COPIED = """(el) => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const selection = getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  return selection.toString().trim();
}"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The store on SQLite, served: the pages' markup is the same on every engine (the
    tests above read it on each), the browser reads one."""
    with database_with("sqlite", "rowboat_values_browser", tmp_path_factory, _create) as url:
        with pytest.MonkeyPatch.context() as monkeypatch:
            tmp = tmp_path_factory.mktemp("values")
            with dashboard_for(url, tmp, monkeypatch, name="store") as application:
                with serving(application) as base:
                    yield base


@pytest.mark.browser
@pytest.mark.parametrize(
    ("locale", "size", "price", "count"),
    [
        ("en-US", "11,170,334", "1,234.50", "1,234 rows"),
        ("de-DE", "11.170.334", "1.234,50", "1.234 rows"),
    ],
)
def test_numbers_read_in_the_browsers_locale(
    browser: Any, served: str, locale: str, size: str, price: str, count: str, shots: Any
) -> None:
    context = browser.new_context(locale=locale, viewport={"width": 1366, "height": 900})
    try:
        page = context.new_page()
        page.goto(served + "/store/track?_size=20")
        row = page.locator("table.rows tbody tr").first
        cells = row.locator("td.grp")
        assert cells.nth(0).evaluate(SHOWN) == size
        assert cells.nth(1).evaluate(SHOWN) == price
        # What the page holds, what is copied: the stored value, exactly.
        assert cells.nth(0).text_content() == str(BYTES)
        assert cells.nth(0).evaluate(COPIED) == str(BYTES)
        assert cells.nth(1).evaluate(COPIED) == "1234.50"
        # Keys and years are not grouped, in any locale.
        assert row.locator("td.integer:not(.grp):not(.fk)").nth(0).evaluate(SHOWN) == "1"
        assert row.locator("td.integer:not(.grp):not(.fk)").nth(1).evaluate(SHOWN) == "1998"
        assert page.locator("p.count").inner_text().startswith(count)
        page.goto(served + "/")
        assert count.split()[0] in page.locator("table.tables").inner_text()
        page.goto(served + "/store/invoice")
        date = page.locator("table.rows tbody tr").first.locator("td.datetime")
        assert date.evaluate(SHOWN) == "2009-01-01"
        assert date.evaluate(COPIED) == "2009-01-01 00:00:00"
        page.screenshot(path=str(shots / f"values-invoices-{locale}.png"))
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [1366, 390])
def test_the_header_sticks_while_the_list_scrolls(
    browser: Any, served: str, width: int, shots: Any
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 844})
    try:
        page = context.new_page()
        page.goto(served + "/store/track?_size=200")
        header = page.locator("table.rows thead th").nth(2)
        table = page.locator("table.rows")
        start = header.bounding_box()
        assert start is not None
        box = table.bounding_box()
        assert box is not None
        # Wheel over the list, as a person reads down it: the page, then the list scrolls.
        page.mouse.move(min(box["x"] + 150, width - 10), 400)
        for _ in range(12):
            page.mouse.wheel(0, 600)
        page.wait_for_function("() => document.querySelector('.scroll').scrollTop > 1000")
        stuck = header.bounding_box()
        assert stuck is not None
        assert 0 <= stuck["y"] < 844 - stuck["height"]  # still in view
        rows_under = page.locator("table.rows tbody tr").first.bounding_box()
        assert rows_under is not None and rows_under["y"] < stuck["y"]  # rows went under it
        hit = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y).closest('th') !== null",
            [stuck["x"] + stuck["width"] / 2, stuck["y"] + stuck["height"] / 2],
        )
        assert hit, "the header is drawn over the rows that scrolled under it"
        # The page never scrolls sideways; the list's own box does.
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        page.screenshot(path=str(shots / f"values-sticky-{width}.png"))
    finally:
        context.close()


@pytest.mark.browser
def test_a_long_label_stays_in_its_cell(browser: Any, served: str) -> None:
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    try:
        page.goto(served + "/store/track?_size=20")
        cell = page.locator("table.rows tbody tr").first.locator("td.fk")
        link = cell.locator("a.fk")
        assert link.get_attribute("title") == LONG_TITLE.strip()  # whole, on hover
        cell_box, link_box = cell.bounding_box(), link.bounding_box()
        assert cell_box is not None and link_box is not None
        assert link_box["x"] + link_box["width"] <= cell_box["x"] + cell_box["width"]
        key = cell.locator("span.key").bounding_box()
        assert key is not None and key["x"] + key["width"] <= cell_box["x"] + cell_box["width"]
    finally:
        page.close()
