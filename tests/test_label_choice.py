"""Which columns label a row, and what a relation is called: plain functions, no Flask.

The label is what a foreign key shows instead of its number and what a row page's previews
list. A name-like column wins: a name, a person's first and last name together, a title (of an
album, a book), over an email or a job title (in Chinook three employees share "Sales Support
Agent"). Relations are titled for people ("Invoices", "Employees (reports to)"), not by
automap's ``Invoice_collection``.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import Integer, String

from rowboat.catalog.labels import choose_label_keys
from rowboat.catalog.model import Column, Entity, Relation
from rowboat.catalog.relnames import humanize, plural, set_titles
from rowboat.core.formatting import all_midnight, groups_digits, midnight_html


def _columns(*names: str, numbers: tuple[str, ...] = ()) -> dict[str, Column]:
    """Text columns ``names`` (an ``Id`` primary key first), then integer columns ``numbers``."""
    columns = {"Id": Column("Id", "Id", "integer", Integer(), None, primary_key=True)}
    for name in names:
        columns[name] = Column(name, name, "text", String(), None)
    for name in numbers:
        columns[name] = Column(name, name, "integer", Integer(), None)
    return columns


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        # Chinook's customer: a person's name, not their email nor their company.
        (("FirstName", "LastName", "Company", "Address", "Email"), ["FirstName", "LastName"]),
        # Chinook's employee: first + last name win over the job title everyone shares.
        (("LastName", "FirstName", "Title", "Email"), ["FirstName", "LastName"]),
        # An album, a book: the title is the name.
        (("Title",), ["Title"]),
        (("isbn", "title", "description"), ["title"]),
        # A track: its name, not its composer.
        (("Name", "Composer"), ["Name"]),
        # A name beats everything, a person's parts too.
        (("first_name", "last_name", "name"), ["name"]),
        (("display_name", "email"), ["display_name"]),
        # A column ending in "name" beats an email; a username is such a column.
        (("email", "username"), ["username"]),
        (("contact_email", "CompanyName"), ["CompanyName"]),
        # Identifying, when nothing names the row.
        (("email", "phone"), ["email"]),
        (("description", "code"), ["code"]),
        # A lone part of a person's name, last of all.
        (("email", "last_name"), ["email"]),
        (("city", "last_name"), ["last_name"]),
        # Nothing names an invoice: its key labels it.
        (("BillingAddress", "BillingCity"), []),
    ],
)
def test_the_label_column(names: tuple[str, ...], expected: list[str]) -> None:
    assert choose_label_keys(_columns(*names)) == expected


def test_only_text_columns_that_are_neither_key_nor_computed_label() -> None:
    columns = _columns("email", numbers=("name",))
    columns["title"] = Column("title", "title", "text", String(), None, computed=True)
    assert choose_label_keys(columns) == ["email"]
    keyed = {"name": Column("name", "name", "text", String(), None, primary_key=True)}
    assert choose_label_keys(keyed) == []


def test_the_first_of_two_spellings_of_a_name_wins() -> None:
    assert choose_label_keys(_columns("Name", "name")) == ["Name"]


@pytest.mark.parametrize(
    ("identifier", "words"),
    [
        ("InvoiceLine", "Invoice line"),
        ("invoice_line", "Invoice line"),
        ("SupportRep", "Support rep"),
        ("ReportsTo", "Reports to"),
        ("HTTPRequestLog", "HTTP request log"),
        ("media_type", "Media type"),
        ("x2", "X 2"),
        ("__", "__"),
    ],
)
def test_humanize(identifier: str, words: str) -> None:
    assert humanize(identifier) == words


@pytest.mark.parametrize(
    ("singular", "plural_form"),
    [
        ("Invoice", "Invoices"),
        ("Invoice line", "Invoice lines"),
        ("Category", "Categories"),
        ("Day", "Days"),
        ("Box", "Boxes"),
        ("Address", "Addresses"),
        ("Branch", "Branches"),
        ("Orders", "Orders"),
        ("Status", "Statuses"),
    ],
)
def test_plural(singular: str, plural_form: str) -> None:
    assert plural(singular) == plural_form


def _entity(name: str, columns: dict[str, Column], relations: list[Relation]) -> Entity:
    return Entity(
        name, None, name, "table", columns, ["Id"], None, relations={r.name: r for r in relations}
    )


def test_relation_titles_for_a_reflected_database() -> None:
    """Chinook's shapes: a customer points at an employee twice, an employee at another."""
    employee = _entity(
        "Employee",
        _columns("FirstName", numbers=("ReportsTo",)),
        [
            Relation("Employee", "many-to-one", "Employee", ["ReportsTo"], ["Id"]),
            Relation("Employee_collection", "one-to-many", "Employee", ["Id"], ["ReportsTo"]),
            Relation("Customer_collection", "one-to-many", "Customer", ["Id"], ["SupportRepId"]),
            Relation(
                "Customer_collection_by_ManagerId", "one-to-many", "Customer", ["Id"], ["ManagerId"]
            ),
        ],
    )
    customer = _entity(
        "Customer",
        _columns(numbers=("SupportRepId", "ManagerId")),
        [
            Relation("SupportRep", "many-to-one", "Employee", ["SupportRepId"], ["Id"]),
            Relation("Employee_via_ManagerId", "many-to-one", "Employee", ["ManagerId"], ["Id"]),
            Relation("Invoice_collection", "one-to-many", "Invoice", ["Id"], ["CustomerId"]),
        ],
    )
    invoice = _entity("Invoice", _columns(numbers=("CustomerId",)), [])
    entities = {e.name: e for e in (employee, customer, invoice)}
    set_titles(entities, models=False)
    titles = {name: r.title for name, r in employee.relations.items()}
    assert titles == {
        "Employee": "Reports to",
        "Employee_collection": "Employees (reports to)",  # its own rows: say which way
        "Customer_collection": "Customers (support rep)",  # two ways to one table
        "Customer_collection_by_ManagerId": "Customers (manager)",
    }
    assert {name: r.title for name, r in customer.relations.items()} == {
        "Employee_via_ManagerId": "Manager",
        "Invoice_collection": "Invoices",
        "SupportRep": "Support rep",
    }
    # In a stable order, whatever order discovery met them in (or named them): by title.
    for entity in entities.values():
        titles = [r.title for r in entity.relations.values()]
        assert titles == sorted(titles)


def test_a_models_relationship_keeps_its_authors_word_and_order() -> None:
    orders = Relation("orders", "one-to-many", "Order", ["Id"], ["customer_id"], attribute=object())
    billing = Relation("billing_address", "many-to-one", "Order", ["x"], ["Id"], attribute=object())
    reflected = Relation("Order_via_y", "many-to-one", "Order", ["y"], ["Id"])
    customer = _entity("Customer", _columns(), [reflected, orders, billing])
    order = _entity("Order", _columns(), [])
    set_titles({"Customer": customer, "Order": order}, models=True)
    assert [r.title for r in customer.relations.values()] == ["Orders", "Billing address", "Y"]


# --- which numbers are grouped, which datetimes read as dates (rowboat.core.formatting) -----


def _number(name: str, kind: str = "integer", primary_key: bool = False) -> Column:
    return Column(name, name, kind, Integer(), None, primary_key=primary_key)


@pytest.mark.parametrize(
    ("name", "kind", "grouped"),
    [
        ("Bytes", "integer", True),
        ("Milliseconds", "integer", True),
        ("UnitPrice", "numeric", True),
        ("weight", "float", True),
        ("CustomerId", "integer", False),  # an id, even where no foreign key says so
        ("external_id", "integer", False),
        ("ReleaseYear", "integer", False),
        ("year", "integer", False),
        ("zip", "integer", False),
        ("PhoneNumber", "integer", False),
        ("Name", "text", False),
    ],
)
def test_which_numbers_are_grouped(name: str, kind: str, grouped: bool) -> None:
    assert groups_digits(_number(name, kind), is_key=False) is grouped


def test_keys_are_never_grouped() -> None:
    assert not groups_digits(_number("Total"), is_key=True)  # a foreign key's column
    assert not groups_digits(_number("Total", primary_key=True), is_key=False)


def test_midnight_is_a_date_only_when_nothing_is_lost() -> None:
    midnight = dt.datetime(2009, 1, 1)
    assert all_midnight([midnight, None, dt.datetime(2009, 1, 2)])
    assert not all_midnight([midnight, dt.datetime(2009, 1, 2, 13, 45)])
    assert not all_midnight([dt.datetime(2009, 1, 1, 0, 0, 0, 1)])  # a microsecond
    assert not all_midnight([midnight.replace(tzinfo=dt.UTC)])  # a zone is a value
    assert not all_midnight([None])
    assert not all_midnight([dt.date(2009, 1, 1)])  # a date has no time to hide
    shown = midnight_html(midnight)
    assert shown == '2009-01-01<span class="midnight"> 00:00:00</span>'
    assert re.sub(r"<[^>]*>", "", shown) == str(midnight)  # the text is the exact value
