"""The user's own models, written as real projects write them (tests/projects/), on SQLite and
PostgreSQL: a Flask-SQLAlchemy blog with two binds, an SQLModel app, a classic
``declarative_base()`` shop, an imperatively mapped inventory, both kinds of inheritance and a
plain ``MetaData``.

Each project's tables are created in a fresh database and filled through its own classes; then
every table's list page, every row's page and unchanged save (``walk_unchanged_saves``: nothing
written), a row created through the new-row form, one deleted through its confirmation, the
query builder and the drift page. A table the models declare and the database lacks is said
at start, listed on the drift page, answered with a clear error, and the other tables work.
(The project whose package is called ``app`` runs in a process of its own:
test_projects_app_named.py; the mistakes in ``ROWBOAT_MODELS``: test_projects_startup.py.)
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import ENV_TO_CLEAR, Page, dispose_app, fresh_database
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session
from test_edit_support import form_data, with_values
from test_fidelity import walk_unchanged_saves

from rowboat import create_app, startcheck
from rowboat.catalog import sources
from rowboat.schema.drift import DATABASE_ONLY, MODELS_ONLY

PROJECTS = Path(__file__).parent / "projects"
PROJECT_ENGINES = ("sqlite", "postgresql")
Read = Callable[[Any], Page]
Counting = Any


@dataclass
class Project:
    """One project's models, served as database ``x``; ``engine`` reads back what was written."""

    app: Flask
    client: FlaskClient
    engine: Engine
    module: ModuleType
    url: str

    def sql(self, statement: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as connection:
            return [tuple(r) for r in connection.execute(text(statement), params)]


@contextmanager
def project(
    engine_name: str,
    folder: str,
    reference: str,
    seed: Callable[[ModuleType], list[Any]],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    databases: dict[str, str] | None = None,
    leave_out: tuple[str, ...] = (),
    module_name: str | None = None,
) -> Iterator[Project]:
    """A fresh database holding the project's tables (but ``leave_out``) and the rows ``seed``
    makes with its classes; the dashboard on it as ``x`` (and as each of ``databases``: name
    -> reference, on the same database)."""
    for variable in ENV_TO_CLEAR:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.syspath_prepend(str(PROJECTS / folder))
    metadata = sources.load(reference, "x").metadata
    module = importlib.import_module(module_name or reference.partition(":")[0])
    with fresh_database(engine_name, f"rowboat_pj_{folder}", tmp_path_factory) as url:
        engine = create_engine(url)
        try:
            metadata.create_all(
                engine, [t for t in metadata.sorted_tables if t.name not in leave_out]
            )
            for name, extra in (databases or {}).items():
                sources.load(extra, name).metadata.create_all(engine)
            rows = seed(module)
            if rows:
                with Session(engine) as session:
                    session.add_all(rows)
                    session.commit()
            configured = {
                name: {"url": url, "models": ref} for name, ref in (databases or {}).items()
            }
            app = create_app(
                {
                    "DATABASES": {"x": {"url": url, "models": reference}, **configured},
                    "DEMO_PATH": str(tmp_path_factory.mktemp("demo") / "demo.sqlite"),
                }
            )
            app.config["TESTING"] = True
            app.config["WTF_CSRF_ENABLED"] = False
            try:
                yield Project(app, app.test_client(), engine, module, url)
            finally:
                dispose_app(app)
        finally:
            engine.dispose()


# --- what every project goes through --------------------------------------------------------------


def every_table_lists_its_rows(p: Project, read: Read, expected: dict[str, int]) -> None:
    """Each table's list page answers 200 with its rows (``expected``: table -> rows)."""
    catalog = p.app.extensions["rowboat.databases"]["x"].catalog
    assert set(catalog.entities) == set(expected)
    for name, rows in expected.items():
        response = p.client.get(f"/x/{name}")
        assert response.status_code == 200, (name, response.get_data(as_text=True)[:2000])
        assert len(read(response).list_rows()) == rows, name


def unchanged_saves_write_nothing(p: Project, counting: Counting, at_least: int) -> None:
    checked, failures = walk_unchanged_saves(p.app, "x", counting)
    assert failures == []
    assert checked >= at_least


def create_row(p: Project, read: Read, table: str, **values: Any) -> str:
    """Fill the new-row form of ``table`` with ``values``; return the new row's URL."""
    page = read(p.client.get(f"/x/{table}/-/new"))
    data = with_values(form_data(page), **values)
    response = p.client.post(f"/x/{table}/-/new", data=data)
    problems = read(response).find_all(cls="problem-msg") if response.status_code != 302 else []
    assert response.status_code == 302, [n.text() for n in problems]
    return response.headers["Location"]


def delete_row(p: Project, read: Read, row_url: str) -> None:
    page = read(p.client.get(f"{row_url}/-/delete"))
    response = p.client.post(f"{row_url}/-/delete", data=form_data(page, "confirm"))
    assert response.status_code == 302
    assert p.client.get(row_url).status_code == 404


def query_rows(p: Project, table: str, *columns: str) -> list[dict[str, Any]]:
    """The query builder's rows of ``table`` (its JSON export)."""
    args = [("table", table), *(("col", c) for c in columns)]
    response = p.client.get(f"/x/-/query/export.json?{urlencode(args)}")
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return list(json.loads(response.get_data())["rows"])


def drift_of(p: Project, read: Read, database: str = "x") -> dict[str, list[tuple[str, ...]]]:
    """The drift page's differences: direction -> [(what, table)]."""
    response = p.client.get(f"/{database}/-/drift")
    assert response.status_code == 200
    return {
        table.attrs["data-direction"]: sorted(
            tuple(td.text() for td in tr.find_all("td")[:2])
            for tr in table.one("tbody").find_all("tr")
        )
        for table in read(response).find_all("table", "drift-items")
    }


def no_drift(p: Project, read: Read, database: str = "x") -> None:
    response = p.client.get(f"/{database}/-/drift")
    assert response.status_code == 200
    page = read(response)
    assert page.find(id="in-sync") is not None, [
        t.text() for t in page.find_all("table", "drift-items")
    ]


def key_of(row_url: str) -> str:
    return row_url.rsplit("/", 1)[1]


# --- the projects ---------------------------------------------------------------------------------


def blog_rows(m: ModuleType) -> list[Any]:
    alice = m.User(username="alice", email="alice@example.com")
    bob = m.User(username="bob", email="bob@example.com")
    python, flask = m.Tag(name="python"), m.Tag(name="flask")
    first = m.Post(
        title="Hello",
        body="First post.\nTwo lines.",
        published=True,
        created=dt.datetime(2024, 1, 2, 3, 4, 5),
        author=alice,
        tags=[python, flask],
    )
    second = m.Post(title="Drafts", body="", author=bob, tags=[flask])
    first.comments.append(m.Comment(author_name="bob", text="Nice!"))
    second.comments.append(m.Comment(author_name="alice", text="Soon?"))
    return [alice, bob, first, second, m.PageView(path="/", seen_at=dt.datetime(2024, 1, 1))]


@pytest.mark.parametrize("engine_name", PROJECT_ENGINES)
def test_flask_sqlalchemy_blog(
    engine_name: str,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    read: Read,
    count_statements: Counting,
) -> None:
    with project(
        engine_name,
        "fsqla_blog",
        "blog.models:db",
        blog_rows,
        tmp_path_factory,
        monkeypatch,
        # The db's second bind, as a database of its own (named like the bind).
        databases={"analytics": "blog.models:db.Model"},
    ) as p:
        # The default bind only: the analytics bind's table is not the blog's.
        expected = {"user": 2, "post": 2, "tag": 2, "comment": 2, "post_tags": 3}
        every_table_lists_its_rows(p, read, expected)
        unchanged_saves_write_nothing(p, count_statements, at_least=11)
        analytics = p.app.extensions["rowboat.databases"]["analytics"].catalog
        assert set(analytics.entities) == {"page_view"}
        assert p.client.get("/analytics/page_view").status_code == 200

        # A post with two tags, through the model's many-to-many relationship.
        page = read(p.client.get("/x/post/-/new"))
        tags = page.one("div", "related-search")
        options = {
            label.text(): label.one("input").attrs["value"]
            for label in tags.one("ul", "related-others").find_all("label")
        }
        data = with_values(form_data(page), title="New", body="Text", published="y", author_id="2")
        data.setlist(tags.attrs["data-name"], [options["python"], options["flask"]])
        response = p.client.post("/x/post/-/new", data=data)
        assert response.status_code == 302
        post_id = int(key_of(response.headers["Location"]))
        assert p.sql("SELECT title, published, author_id FROM post WHERE id = :i", i=post_id) == [
            ("New", True, 2)
        ]
        assert p.sql("SELECT count(*) FROM post_tags WHERE post_id = :i", i=post_id) == [(2,)]
        assert p.sql("SELECT created FROM post WHERE id = :i", i=post_id)[0][0] is not None

        # @validates runs: its ValueError is the field's error, its value is what is stored.
        page = read(p.client.get("/x/user/-/new"))
        refused = p.client.post(
            "/x/user/-/new", data=with_values(form_data(page), username="carol", email="nope")
        )
        assert refused.status_code == 400
        assert "an email address needs an @" in refused.get_data(as_text=True)
        carol = create_row(p, read, "user", username="carol", email="Carol@Example.COM")
        assert p.sql('SELECT email FROM "user" WHERE id = :i', i=int(key_of(carol))) == [
            ("carol@example.com",)
        ]

        comment = p.sql("SELECT min(id) FROM comment")[0][0]
        delete_row(p, read, f"/x/comment/{comment}")
        assert p.sql("SELECT count(*) FROM comment") == [(1,)]

        rows = query_rows(p, "post", "id", "title")
        assert {r["title"] for r in rows} == {"Hello", "Drafts", "New"}
        # One database holds both binds' tables: each bind's models leave the other's out.
        assert drift_of(p, read) == {DATABASE_ONLY: [("table", "page_view")]}
        assert drift_of(p, read, "analytics") == {
            DATABASE_ONLY: [("table", t) for t in ("comment", "post", "post_tags", "tag", "user")]
        }


def heroes_rows(m: ModuleType) -> list[Any]:
    preventers = m.Team(name="Preventers", headquarters="Sharp Tower")
    z_force = m.Team(name="Z-Force", headquarters="Sister Margaret's Bar")
    return [
        m.Hero(name="Deadpond", secret_name="Dive Wilson", team=z_force),
        m.Hero(name="Rusty-Man", secret_name="Tommy Sharp", age=48, team=preventers),
        m.Hero(name="Spider-Boy", secret_name="Pedro Parqueador"),
    ]


@pytest.mark.parametrize("engine_name", PROJECT_ENGINES)
def test_sqlmodel_heroes(
    engine_name: str,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    read: Read,
    count_statements: Counting,
) -> None:
    with project(
        engine_name,
        "sqlmodel_heroes",
        "heroes.models:SQLModel",
        heroes_rows,
        tmp_path_factory,
        monkeypatch,
    ) as p:
        every_table_lists_its_rows(p, read, {"team": 2, "hero": 3})
        unchanged_saves_write_nothing(p, count_statements, at_least=5)
        hero = create_row(
            p, read, "hero", name="Tarantula", secret_name="Natalia", age="32", team_id="1"
        )
        assert p.sql("SELECT name, age, team_id FROM hero WHERE id = :i", i=int(key_of(hero))) == [
            ("Tarantula", 32, 1)
        ]
        delete_row(p, read, hero)
        rows = query_rows(p, "hero", "name", "age")
        assert sorted(r["name"] for r in rows) == ["Deadpond", "Rusty-Man", "Spider-Boy"]
        no_drift(p, read)


def shop_rows(m: ModuleType) -> list[Any]:
    ada = m.Customer(name="Ada", email="ada@example.com")
    oars = m.Product(sku="OAR-2", name="Oars", price=Decimal("49.90"), description="A pair.")
    rope = m.Product(sku="ROPE'10", name="Rope, 10 m", price=Decimal("12.00"))
    order = m.Order(customer=ada, placed_at=dt.datetime(2024, 5, 6, 7, 8, 9), status="paid")
    order.lines.append(m.OrderLine(product=oars, quantity=1))
    order.lines.append(m.OrderLine(product=rope, quantity=3))
    return [ada, m.Customer(name="Grace"), order]


@pytest.mark.parametrize("engine_name", PROJECT_ENGINES)
def test_classic_declarative_shop(
    engine_name: str,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    read: Read,
    count_statements: Counting,
) -> None:
    with project(
        engine_name, "classic_shop", "shop.models:Base", shop_rows, tmp_path_factory, monkeypatch
    ) as p:
        every_table_lists_its_rows(
            p, read, {"customers": 2, "products": 2, "orders": 1, "order_lines": 2}
        )
        unchanged_saves_write_nothing(p, count_statements, at_least=7)
        product = create_row(
            p, read, "products", sku="SAIL-1", name="Sail", price="120.50", description=""
        )
        assert key_of(product) == "SAIL-1"
        assert p.sql("SELECT name, price FROM products WHERE sku = 'SAIL-1'") == [
            ("Sail", Decimal("120.50"))
        ]
        create_row(p, read, "order_lines", order_id="1", product_sku="SAIL-1", quantity="2")
        assert p.sql("SELECT quantity FROM order_lines WHERE product_sku = 'SAIL-1'") == [(2,)]
        order = create_row(p, read, "orders", customer_id="2", placed_at="2024-06-01T10:00")
        assert p.sql("SELECT status FROM orders WHERE id = :i", i=int(key_of(order))) == [("new",)]
        delete_row(p, read, "/x/order_lines/1,SAIL-1")
        rows = query_rows(p, "order_lines", "product_sku", "quantity")
        assert sorted((r["product_sku"], r["quantity"]) for r in rows) == [
            ("OAR-2", 1),
            ("ROPE'10", 3),
        ]
        no_drift(p, read)


def inventory_rows(m: ModuleType) -> list[Any]:
    harbour = m.Warehouse(city="Hamburg")
    return [
        harbour,
        m.Warehouse(city="Lisbon"),
        m.Item(name="Life vest", quantity=12, warehouse=harbour),
        m.Item(name="Anchor", quantity=2, warehouse=harbour),
    ]


@pytest.mark.parametrize("engine_name", PROJECT_ENGINES)
def test_imperatively_mapped_inventory(
    engine_name: str,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    read: Read,
    count_statements: Counting,
) -> None:
    with project(
        engine_name,
        "imperative_inventory",
        "inventory.models:mapper_registry",
        inventory_rows,
        tmp_path_factory,
        monkeypatch,
    ) as p:
        every_table_lists_its_rows(p, read, {"warehouse": 2, "item": 2})
        unchanged_saves_write_nothing(p, count_statements, at_least=4)
        # The dataclass's constructor needs name and quantity: the form gives them.
        item = create_row(p, read, "item", name="Rope", quantity="7", warehouse_id="2")
        assert p.sql(
            "SELECT name, quantity, warehouse_id FROM item WHERE id = :i", i=int(key_of(item))
        ) == [("Rope", 7, 2)]
        create_row(p, read, "warehouse", city="Oslo")
        delete_row(p, read, item)
        assert [r["name"] for r in query_rows(p, "item", "name")] == ["Life vest", "Anchor"]
        no_drift(p, read)


def zoo_rows(m: ModuleType) -> list[Any]:
    return [
        m.Animal(name="Generic"),
        m.Dog(name="Rex", breed="Collie"),
        m.Dog(name="Fido"),
        m.Cat(name="Tom", indoor=True),
        m.Car(maker="Fiat", seats=4),
        m.Truck(maker="Volvo", payload_tons=18),
        m.Truck(maker="MAN", payload_tons=26),
    ]


@pytest.mark.parametrize("engine_name", PROJECT_ENGINES)
def test_single_table_and_joined_inheritance(
    engine_name: str,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    read: Read,
    count_statements: Counting,
) -> None:
    with project(
        engine_name, "inheritance", "zoo.models:Base", zoo_rows, tmp_path_factory, monkeypatch
    ) as p:
        # A single-table subclass lists its own rows only.
        every_table_lists_its_rows(
            p, read, {"animals": 4, "Dog": 2, "Cat": 1, "vehicles": 3, "cars": 1, "trucks": 2}
        )
        unchanged_saves_write_nothing(p, count_statements, at_least=7)
        for table, fields in (("Dog", {"breed"}), ("trucks", {"payload_tons"})):
            page = read(p.client.get(f"/x/{table}/-/new"))
            names = {n.attrs["data-name"] for n in page.find_all("div", "field")}
            assert fields <= names and not names & {"kind", "type"}, names
        dog = create_row(p, read, "Dog", name="Lassie", breed="Collie")
        assert p.sql("SELECT name, kind, breed FROM animals WHERE id = :i", i=int(key_of(dog))) == [
            ("Lassie", "dog", "Collie")
        ]
        truck = create_row(p, read, "trucks", maker="Scania", payload_tons="30")
        truck_id = int(key_of(truck))
        assert p.sql("SELECT type FROM vehicles WHERE id = :i", i=truck_id) == [("truck",)]
        assert p.sql("SELECT payload_tons FROM trucks WHERE id = :i", i=truck_id) == [(30,)]
        delete_row(p, read, truck)
        assert p.sql("SELECT count(*) FROM vehicles WHERE id = :i", i=truck_id) == [(0,)]
        cat = p.sql("SELECT id FROM animals WHERE kind = 'cat'")[0][0]
        delete_row(p, read, f"/x/Cat/{cat}")
        assert sorted(r["maker"] for r in query_rows(p, "trucks", "maker")) == ["MAN", "Volvo"]
        no_drift(p, read)


def no_rows(_m: ModuleType) -> list[Any]:
    return []


@pytest.mark.parametrize("engine_name", PROJECT_ENGINES)
def test_plain_metadata_named_by_its_file(
    engine_name: str,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    read: Read,
    count_statements: Counting,
) -> None:
    reference = f"{PROJECTS / 'plain_metadata' / 'reporting' / 'tables.py'}:metadata"
    with project(
        engine_name,
        "plain_metadata",
        reference,
        no_rows,
        tmp_path_factory,
        monkeypatch,
        module_name="reporting.tables",
    ) as p:
        with p.engine.begin() as connection:
            connection.execute(p.module.regions.insert(), [{"code": "N", "name": "North"}])
            connection.execute(
                p.module.sales.insert(),
                [
                    {"region_code": "N", "day": dt.date(2024, 1, 1), "amount": Decimal("10.50")},
                    {"region_code": "N", "day": dt.date(2024, 1, 2), "amount": Decimal("7.25")},
                ],
            )
        every_table_lists_its_rows(p, read, {"regions": 1, "sales": 2})
        unchanged_saves_write_nothing(p, count_statements, at_least=3)
        sale = create_row(p, read, "sales", region_code="N", day="2024-02-03", amount="99.99")
        stored = p.sql("SELECT amount FROM sales WHERE id = :i", i=int(key_of(sale)))
        assert [Decimal(str(a)) for (a,) in stored] == [Decimal("99.99")]
        delete_row(p, read, sale)
        amounts = [Decimal(str(r["amount"])) for r in query_rows(p, "sales", "amount")]
        assert amounts == [Decimal("10.50"), Decimal("7.25")]
        no_drift(p, read)


# --- models the database does not match ----------------------------------------------------------


@pytest.mark.parametrize("engine_name", PROJECT_ENGINES)
def test_a_table_the_database_lacks(
    engine_name: str,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    read: Read,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Said at start, listed on the drift page, a clear error on its own pages; the other
    tables work."""
    with project(
        engine_name,
        "classic_shop",
        "shop.models:Base",
        lambda m: [m.Customer(name="Ada")],
        tmp_path_factory,
        monkeypatch,
        leave_out=("order_lines",),
    ) as p:
        monkeypatch.setenv("ROWBOAT_DATABASES", f"x={p.url}")
        monkeypatch.setenv("ROWBOAT_MODELS", "x=shop.models:Base")
        assert startcheck.main() == 0
        warning = capsys.readouterr().err
        assert "tables missing from the database: order_lines" in warning
        assert "/x/-/drift" in warning

        assert p.client.get("/x").status_code == 200
        assert p.client.get("/x/customers").status_code == 200
        assert p.client.get("/x/customers/1").status_code == 200
        create_row(p, read, "products", sku="A", name="A", price="1", description="")

        assert drift_of(p, read) == {MODELS_ONLY: [("table", "order_lines")]}

        # Its pages say so (the models declare it, the database lacks it) ...
        declared = "The models of database 'x' declare table 'order_lines', which the database"
        for path in (
            "/x/order_lines",
            "/x/order_lines/1,A",
            "/x/order_lines/1,A/-/edit",
            "/x/order_lines/-/new",
            "/x/-/export/order_lines.csv",
            "/x/-/export/order_lines.json",
            "/x/-/query.json?table=order_lines&run=1",
        ):
            response = p.client.get(path)
            assert response.status_code == 404, (path, response.status_code)
            body = response.get_data(as_text=True).replace("&#39;", "'")
            assert declared in body and "/x/-/drift" in body, path
        # ... and what would write into it, or query it, shows the database's refusal.
        new_line = {"order_id": "1", "product_sku": "A", "quantity": "1"}
        for response in (
            p.client.post("/x/order_lines/-/new", data=new_line),
            p.client.get("/x/-/query?table=order_lines&run=1"),
        ):
            assert response.status_code == 400
            said = read(response).root.text()
            assert "no such table: order_lines" in said or '"order_lines" does not exist' in said
