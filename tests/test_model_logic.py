"""The model's own logic, honoured (tests/model_logic_models.py): hybrids with a SQL form sort
and filter, those without show read-only on the row page; a ``column_property`` and an
association proxy show; each inheritance subclass lists its own columns and a create stores its
polymorphic identity; ``Enum`` classes give the choices; ``__str__`` labels rows; a column's
``info`` label, help and hidden are honoured (a hidden value is kept by every save, recorded by
the audit log, shown nowhere); custom ``TypeDecorator``s round-trip through their ``impl``.
Runs on every engine, through the test client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import model_logic_models as m
import pytest
from conftest import ENGINES, ENV_TO_CLEAR, Page, dispose_app, fresh_database, serving
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session
from test_edit_support import form_data, with_values

from rowboat import create_app

HASH = "argon2id$secret-hash-9f3b"


@pytest.fixture(scope="module", params=ENGINES)
def data_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with fresh_database(request.param, "rowboat_model_logic", tmp_path_factory) as url:
        yield url


@pytest.fixture
def world(
    data_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Flask, Engine]]:
    yield from _world(data_url, tmp_path, monkeypatch)


def _world(
    data_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Flask, Engine]]:
    """The models' tables, emptied and filled, and the dashboard serving them as ``m``."""
    engine = create_engine(data_url)
    m.Base.metadata.drop_all(engine)
    m.Base.metadata.create_all(engine)
    with Session(engine) as session:
        ada = m.Account(
            first_name="Ada",
            last_name="Lovelace",
            email="ada@example.com",
            password_hash=HASH,
            status=m.Status.ACTIVE,
            balance=Decimal("12.50"),
            settings={"theme": "dark"},
        )
        bob = m.Account(
            first_name="Bob",
            last_name="Babbage-Smith",
            email="bob@example.com",
            password_hash=HASH + "-bob",
            status=m.Status.SUSPENDED,
        )
        cy = m.Account(first_name="Cy", last_name="Ng", email="cy@example.com", status="CLOSED")
        session.add_all([ada, bob, cy])
        session.flush()
        session.add_all(
            [
                m.Order(number="A-1", account=ada, total=Decimal("3.00")),
                m.Order(number="A-2", account=ada, total=Decimal("4.25")),
                m.Car(name="Beetle", doors=2),
                m.Truck(name="Actros", payload_kg=18000),
                m.Invoice(title="March", amount=Decimal("99.99")),
                m.Coupon(code="SPRING", percent=10),
            ]
        )
        session.commit()
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    app = create_app(
        {
            "DATABASES": {"m": {"url": data_url, "models": "model_logic_models:Base"}},
            "DEMO_PATH": str(tmp_path / "demo.sqlite"),
        }
    )
    app.config["TESTING"] = True
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        yield app, engine
    finally:
        dispose_app(app)
        engine.dispose()


def page(client: FlaskClient, url: str) -> Page:
    answer = client.get(url)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:2000]
    return Page(answer.get_data(as_text=True))


def stored(engine: Engine, statement: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(statement))]


def names_in_list(listed: Page) -> list[str]:
    return [row.cells["first_name"].text() for row in listed.list_rows()]


# --- hybrids, column_property, association proxy ---------------------------------------------


def test_a_hybrid_with_an_expression_sorts_and_filters(world: tuple[Flask, Engine]) -> None:
    app, _ = world
    client = app.test_client()
    listed = page(client, "/m/accounts?_sort_desc=name_length")
    assert {"full_name", "name_length", "order_count"} <= set(listed.list_columns())
    assert "initials" not in listed.list_columns()  # no SQL form: the row page shows it
    assert names_in_list(listed) == ["Bob", "Ada", "Cy"]
    assert names_in_list(page(client, "/m/accounts?_sort=full_name")) == ["Ada", "Bob", "Cy"]
    assert names_in_list(page(client, "/m/accounts?full_name__contains=b+B")) == ["Bob"]
    assert names_in_list(page(client, "/m/accounts?name_length__lt=12")) == ["Ada", "Cy"]
    # the column_property is a column too
    assert names_in_list(page(client, "/m/accounts?order_count__gte=1")) == ["Ada"]
    assert names_in_list(page(client, "/m/accounts?_sort_desc=order_count"))[0] == "Ada"


def test_the_row_page_shows_the_models_own_values(world: tuple[Flask, Engine]) -> None:
    app, _ = world
    record = page(app.test_client(), "/m/accounts/1").record()
    assert record["full_name"].text() == "Ada Lovelace"
    assert record["name_length"].text() == "11"
    assert record["initials"].text() == "AL"  # Python-only hybrid: read-only, on the row page
    assert record["order_count"].text() == "2"
    numbers = record["order_numbers"]
    assert [li.text() for li in numbers.find_all("li")] == ["A-1", "A-2"]
    assert page(app.test_client(), "/m/accounts/3").record()["order_numbers"].text() == "None."


def test_str_labels_rows(world: tuple[Flask, Engine]) -> None:
    app, _ = world
    client = app.test_client()
    orders = page(client, "/m/orders").list_rows()
    assert "Ada Lovelace <ada@example.com>" in orders[0].cells["account_id"].text()
    assert "Order A-1" in page(client, "/m/accounts/1").one("section", "related").text()


# --- info: label, help, hidden -----------------------------------------------------------------


def test_info_label_and_help(world: tuple[Flask, Engine]) -> None:
    app, _ = world
    client = app.test_client()
    form = page(client, "/m/accounts/1/-/edit")
    email = form.one("div", "field", **{"data-name": "email"})
    assert email.one("label").text() == "E-mail address"
    assert "Receipts are sent here." in email.text()
    assert "E-mail address" in page(client, "/m/accounts/1").record()
    assert "E-mail address" in page(client, "/m/accounts").list_columns()
    assert "E-mail address" in page(client, "/m/accounts/-/new").html


def test_a_hidden_column_is_shown_nowhere(world: tuple[Flask, Engine]) -> None:
    app, _ = world
    client = app.test_client()
    urls = [
        "/m/accounts",
        "/m/accounts/1",
        "/m/accounts/1/-/edit",
        "/m/accounts/-/new",
        "/m/-/export/accounts.csv",
        "/m/-/export/accounts.json",
        "/m/-/query?table=accounts",
        "/m/-/query.json?table=accounts&run=1",
        "/m/orders",
    ]
    for url in urls:
        answer = client.get(url)
        assert answer.status_code == 200, (url, answer.get_data(as_text=True)[-1500:])
        body = answer.get_data(as_text=True)
        answer.close()  # a streamed export holds a slow slot until closed
        assert "password_hash" not in body and HASH not in body, url
    for args in ("password_hash=x", "password_hash__isnull=1", "_sort=password_hash"):
        assert client.get(f"/m/accounts?{args}").status_code == 400, args


def test_saving_keeps_a_hidden_value_exactly(world: tuple[Flask, Engine]) -> None:
    app, engine = world
    client = app.test_client()
    url = "/m/accounts/1/-/edit"
    answer = client.post(url, data=form_data(page(client, url)))
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    data = with_values(form_data(page(client, url)), email="ada@lovelace.org")
    assert client.post(url, data=data).status_code == 302
    assert stored(engine, "SELECT email, password_hash FROM accounts WHERE id = 1") == [
        ("ada@lovelace.org", HASH)
    ]


def test_the_audit_log_records_a_hidden_value_and_never_shows_it(
    world: tuple[Flask, Engine],
) -> None:
    app, engine = world
    client = app.test_client()
    url = "/m/accounts/2/-/delete"
    answer = client.post(url, data=form_data(page(client, url), "confirm"))
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    assert stored(engine, "SELECT count(*) FROM accounts WHERE id = 2") == [(0,)]
    for path in ("/-/audit", "/-/audit.csv", "/m/accounts/2/-/history"):
        body = client.get(path).get_data(as_text=True)
        assert "bob@example.com" in body, path  # the entry is there
        assert "password_hash" not in body and HASH not in body, path
    with app.extensions["rowboat.state"].connect() as connection:
        changes = connection.execute(
            text(
                "SELECT changes FROM audit_entries WHERE action = 'delete' "
                "AND \"table\" = 'accounts' ORDER BY id DESC"
            )
        ).first()[0]
    assert json.loads(changes)["password_hash"]["before"]["v"] == HASH + "-bob"


# --- enums and type decorators -------------------------------------------------------------------


def test_an_enum_class_gives_the_choices(world: tuple[Flask, Engine]) -> None:
    app, engine = world
    client = app.test_client()
    form = page(client, "/m/accounts/2/-/edit")
    options = form.one("div", "field", **{"data-name": "status"}).find_all("option")
    chosen = [(o.attrs["value"], o.text()) for o in options if o.attrs["value"]]
    assert chosen == [
        ("ACTIVE", "Active"),
        ("SUSPENDED", "Suspended for now"),
        ("CLOSED", "Closed"),
    ]
    assert [o.attrs["value"] for o in options if "selected" in o.attrs] == ["SUSPENDED"]
    data = with_values(form_data(form), status="CLOSED")
    assert client.post("/m/accounts/2/-/edit", data=data).status_code == 302
    assert stored(engine, "SELECT status FROM accounts WHERE id = 2") == [("CLOSED",)]


def test_type_decorators_round_trip_through_their_impl(world: tuple[Flask, Engine]) -> None:
    app, engine = world
    client = app.test_client()
    url = "/m/accounts/1/-/edit"
    form = page(client, url)
    balance = form.one("div", "field", **{"data-name": "balance"}).one("input")
    assert balance.attrs["value"] == "1250"  # what the impl (INTEGER) stores
    settings = form_data(form)["settings"]
    assert json.loads(settings) == {"theme": "dark"}
    record = page(client, "/m/accounts/1").record()
    assert record["balance"].text() == "1250"
    assert json.loads(record["settings"].text()) == {"theme": "dark"}
    typed = '{"theme": "light", "size": [1, 2]}'
    data = with_values(form_data(form), balance="999", settings=typed)
    answer = client.post(url, data=data)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    assert stored(engine, "SELECT balance, settings FROM accounts WHERE id = 1") == [(999, typed)]
    record = page(client, "/m/accounts/1").record()
    assert record["balance"].text() == "999"
    assert record["settings"].text() == typed
    assert (
        page(client, url)
        .one("div", "field", **{"data-name": "balance"})
        .one("input")
        .attrs["value"]
        == "999"
    )
    # Filters and sorts read the stored value too.
    assert names_in_list(page(client, "/m/accounts?balance=999")) == ["Ada"]
    # A create through the form stores what was typed.
    new = with_values(
        form_data(page(client, "/m/accounts/-/new")),
        first_name="Di",
        last_name="Ro",
        email="di@example.com",
        status="ACTIVE",
        balance="5",
    )
    answer = client.post("/m/accounts/-/new", data=new)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    created = "SELECT balance, password_hash FROM accounts WHERE email LIKE 'di@%'"
    assert stored(engine, created) == [(5, None)]


def test_a_type_decorated_primary_key_is_edited_changed_and_deleted_as_stored(
    world: tuple[Flask, Engine],
) -> None:
    """The key is read, shown, put in URLs and written back as the impl stores it ("spring"),
    never through the decorator's Python value ("SPRING"), which would lower() again on the
    way in and look up or write the wrong row."""
    app, engine = world
    client = app.test_client()
    listed = page(client, "/m/coupons")
    assert [r.cells["code"].text() for r in listed.list_rows()] == ["spring"]
    url = "/m/coupons/spring"
    assert page(client, url).record()["code"].text() == "spring"
    # An unchanged save writes nothing; a change of another column writes only it.
    form = page(client, url + "/-/edit")
    assert client.post(url + "/-/edit", data=form_data(form)).status_code == 302
    assert stored(engine, "SELECT code, percent FROM coupons") == [("spring", 10)]
    answer = client.post(url + "/-/edit", data=with_values(form_data(form), percent="15"))
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    assert stored(engine, "SELECT code, percent FROM coupons") == [("spring", 15)]
    # A new key is stored as typed (the impl's value), and the row moves to its URL.
    form = page(client, url + "/-/edit")
    answer = client.post(url + "/-/edit", data=with_values(form_data(form), code="summer"))
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    assert answer.headers["Location"].endswith("/m/coupons/summer")
    assert stored(engine, "SELECT code, percent FROM coupons") == [("summer", 15)]
    # A create, then a delete, by the stored key.
    new = with_values(form_data(page(client, "/m/coupons/-/new")), code="autumn", percent="5")
    assert client.post("/m/coupons/-/new", data=new).status_code == 302
    assert sorted(stored(engine, "SELECT code FROM coupons")) == [("autumn",), ("summer",)]
    delete = page(client, "/m/coupons/summer/-/delete")
    answer = client.post("/m/coupons/summer/-/delete", data=form_data(delete, "confirm"))
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    assert stored(engine, "SELECT code FROM coupons") == [("autumn",)]


# --- inheritance ----------------------------------------------------------------------------------


def test_each_subclass_is_listed_with_its_own_columns(world: tuple[Flask, Engine]) -> None:
    app, _ = world
    client = app.test_client()
    cars = page(client, "/m/Car")
    assert "doors" in cars.list_columns() and "payload_kg" not in cars.list_columns()
    assert [r.cells["name"].text() for r in cars.list_rows()] == ["Beetle"]
    trucks = page(client, "/m/Truck")
    assert "payload_kg" in trucks.list_columns() and "doors" not in trucks.list_columns()
    assert [r.cells["name"].text() for r in trucks.list_rows()] == ["Actros"]
    vehicles = page(client, "/m/vehicles")
    assert [r.cells["name"].text() for r in vehicles.list_rows()] == ["Beetle", "Actros"]
    invoices = page(client, "/m/invoices")
    assert {"title", "amount"} <= set(invoices.list_columns())


@pytest.mark.parametrize(
    ("entity", "values", "check"),
    [
        ("Car", {"name": "Mini", "doors": "3"}, "SELECT kind FROM vehicles WHERE id > 2"),
        ("Truck", {"name": "Unimog", "payload_kg": "9"}, "SELECT kind FROM vehicles WHERE id > 2"),
        (
            "invoices",
            {"title": "April", "amount": "100"},
            "SELECT type FROM documents WHERE id > 1",
        ),
    ],
)
def test_a_create_through_a_subclass_stores_its_identity(
    world: tuple[Flask, Engine], entity: str, values: dict[str, str], check: str
) -> None:
    app, engine = world
    client = app.test_client()
    form = page(client, f"/m/{entity}/-/new")
    names = [n.attrs["data-name"] for n in form.find_all("div", "field")]
    assert "kind" not in names and "type" not in names  # set from the class
    answer = client.post(f"/m/{entity}/-/new", data=with_values(form_data(form), **values))
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    identity = {"Car": "car", "Truck": "truck", "invoices": "invoice"}[entity]
    assert stored(engine, check) == [(identity,)]


# --- in a real browser ---------------------------------------------------------------------------


@pytest.mark.browser
def test_the_row_page_and_form_in_chromium(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The row page (derived values, a proxied list, labels) and the edit form (label, help,
    enum choices, the decorated values as stored), photographed at 1200 and 390 px wide into
    /tmp/modellogic-*.png."""
    directory = tmp_path_factory.mktemp("model-logic-browser")
    url = f"sqlite:///{directory / 'models.sqlite'}"
    with pytest.MonkeyPatch.context() as monkeypatch:
        for app, _engine in _world(url, directory, monkeypatch):
            with serving(app) as base:
                for width in (1200, 390):
                    context = browser.new_context(viewport={"width": width, "height": 900})
                    page = context.new_page()
                    problems: list[str] = []
                    page.on("pageerror", lambda exc, seen=problems: seen.append(str(exc)))
                    try:
                        page.goto(f"{base}/m/accounts/1")
                        record = page.inner_text("table.record")
                        assert "E-mail address" in record and "AL" in record
                        assert "A-1" in page.inner_text("tr.derived ul.proxied")
                        assert "password_hash" not in page.content()
                        page.screenshot(path=f"/tmp/modellogic-row-{width}.png", full_page=True)
                        page.goto(f"{base}/m/accounts/1/-/edit")
                        assert page.input_value("input[name=balance]") == "1250"
                        email = page.locator("[data-name=email]")
                        assert "Receipts are sent here." in email.inner_text()
                        page.screenshot(path=f"/tmp/modellogic-edit-{width}.png", full_page=True)
                    finally:
                        context.close()
                    assert problems == []
