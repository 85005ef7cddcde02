"""Unit tests for the list page's rows built in Python (``app/browse/rowhtml.py``).

The rows skip Jinja's autoescaping, so these tests parse what they produce and check that any
text (labels and values included) comes back as the same text, never as markup.
"""

from __future__ import annotations

import datetime as dt
import decimal
from html.parser import HTMLParser
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Boolean, DateTime, Integer, LargeBinary, Numeric, String, column
from sqlalchemy.types import TypeEngine

from rowboat.browse import rowhtml
from rowboat.browse.labels import RowRef
from rowboat.catalog.model import Column, Entity, Relation
from rowboat.catalog.types import kind_of

TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)
PREFIXES = {"orders": "/db/orders/", "customers": "/db/customers/"}


def col(key: str, type_: TypeEngine[Any], primary_key: bool = False) -> Column:
    return Column(key, key, kind_of(type_), type_, column(key, type_), primary_key=primary_key)


def orders(primary_key: bool = True) -> Entity:
    columns = [
        col("id", Integer(), primary_key=primary_key),
        col("customer_id", Integer()),
        col("created_at", DateTime()),
        col("amount", Numeric(10, 2)),
        col("paid", Boolean()),
        col("scan", LargeBinary()),
        col("note", String(200)),
    ]
    customer = Relation("customer", "many-to-one", "customers", ["customer_id"], ["id"])
    return Entity(
        name="orders",
        schema=None,
        table_name="orders",
        kind="table",
        columns={c.key: c for c in columns},
        primary_key=["id"] if primary_key else [],
        selectable=None,
        relations={"customer": customer},
    )


def row(**changes: Any) -> dict[str, Any]:
    values = {
        "id": 7,
        "customer_id": 3,
        "created_at": dt.datetime(2024, 1, 2, 3, 4, 5),
        "amount": decimal.Decimal("12.50"),
        "paid": True,
        "scan": 2048,  # the list query selects a binary column's length
        "note": "a note",
    }
    return {**values, **changes}


class Cells(HTMLParser):
    """Each <td>'s text, and every link and checkbox value, of one rendered row."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[str] = []
        self.links: list[str] = []
        self.checkboxes: list[str] = []
        self.tags: list[str] = []
        self._open = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "td":
            self.cells.append("")
            self._open = True
        elif tag == "a":
            self.links.append(found["href"] or "")
        elif tag == "input":
            self.checkboxes.append(found["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._open = False

    def handle_data(self, data: str) -> None:
        if self._open:
            self.cells[-1] += data


def render(entity: Entity, values: dict[str, Any], refs: Any, selectable: bool = True) -> Cells:
    (html,) = rowhtml.list_rows(entity, [values], refs, PREFIXES, selectable)
    return Cells(str(html))


def test_a_row_links_to_itself_and_its_customer() -> None:
    refs = {"customer": {(3,): RowRef("Ada Lovelace", "3")}}
    found = render(orders(), row(), refs)
    assert found.links == ["/db/orders/7", "/db/customers/3"]
    assert found.checkboxes == ["7"]
    assert found.cells == [
        " open",  # the space after the checkbox
        "7",
        "Ada Lovelace 3",
        "2024-01-02 03:04:05",
        "12.50",
        "true",
        "<binary, 2.0 KB>",
        "a note",
    ]


def test_null_empty_and_dangling_values_say_so() -> None:
    refs = {"customer": {}}  # customer 3 is not there
    found = render(orders(), row(note="", amount=None), refs, selectable=False)
    assert found.checkboxes == []
    assert found.cells[2] == "3 (missing)"
    assert found.cells[4] == "NULL"
    assert found.cells[7] == "(empty)"
    null_customer = render(orders(), row(customer_id=None), refs)
    assert null_customer.cells[2] == "NULL"


def test_a_table_without_a_key_has_no_link_cell() -> None:
    found = render(orders(primary_key=False), row(), {})
    assert found.links == []
    assert found.cells[0] == "7"


def test_long_text_is_cut_with_the_whole_value_kept() -> None:
    note = "x" * 100 + "\nsecond line"
    found = render(orders(), row(note=note), {})
    assert "details" in found.tags
    assert found.cells[7] == "x" * 80 + "…" + note


@settings(max_examples=200, deadline=None)
@given(note=TEXT, label=TEXT)
def test_any_text_comes_back_as_the_same_text(note: str, label: str) -> None:
    refs = {"customer": {(3,): RowRef(label, "3")}}
    found = render(orders(), row(note=note), refs)
    assert found.tags.count("td") == 8  # nothing in a value opened or closed a cell
    assert found.cells[2] == f"{label} 3"
    if note == "":
        assert found.cells[7] == "(empty)"
    elif len(note) <= 80 and "\n" not in note:
        assert found.cells[7] == note


def test_the_row_page_cell_matches_the_list_cell() -> None:
    refs = {"customer": {(3,): RowRef("<b>Ada</b>", "3")}}
    entity = orders()
    cell = rowhtml.value_cell(
        entity.columns["customer_id"], row(), entity.relations["customer"], refs, PREFIXES
    )
    assert str(cell) == (
        '<a class="fk" href="/db/customers/3">&lt;b&gt;Ada&lt;/b&gt;</a> <span class="key">3</span>'
    )


class Record(HTMLParser):
    """The row page's table: per <tr>, the heading's text and the value cell's text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.titles: list[str] = []
        self._in: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append(["", ""])
        elif tag in ("th", "td"):
            self._in = tag
            if tag == "th":
                self.titles.append(dict(attrs).get("title") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self.rows[-1][0 if self._in == "th" else 1] += data


@settings(max_examples=100, deadline=None)
@given(name=TEXT, comment=TEXT, note=TEXT)
def test_the_record_table_keeps_names_comments_and_values_as_text(
    name: str, comment: str, note: str
) -> None:
    entity = orders()
    entity.columns["note"] = Column(
        "note", name, "text", String(200), column("note"), comment=comment
    )
    refs = {"customer": {(3,): RowRef("Ada", "3")}}
    html = str(rowhtml.record_rows("db", entity, "7", row(note=note, scan=None), refs, PREFIXES))
    found = Record(html)
    assert len(found.rows) == len(entity.columns)  # nothing in a name or value broke a row
    heading, value = found.rows[-1]
    assert " ".join(heading.split()) == " ".join(f"{name} VARCHAR(200) {comment}".split())
    if note and len(note) <= 80 and "\n" not in note:
        assert value == note
    assert found.rows[0][0].split() == ["id", "key", "INTEGER"]
    assert found.rows[1][1] == "Ada 3"
    assert "download" not in html  # the bytes are NULL: nothing to download
