"""User-model mode: ROWBOAT_MODELS makes the dashboard use the code's models, not reflection.

Hybrid properties, relationship names and __str__ labels then come from the code. The demo
models (rowboat.demo) are the example; the same mode is tested on the servers by loading the demo
data there.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from rowboat import create_app
from rowboat.demo import Base, ensure_demo_database
from rowboat.demo.models import Employee


@pytest.fixture
def demo_client(tmp_path, monkeypatch):
    for name in ("DATABASE_URL", "ROWBOAT_DATABASES"):
        monkeypatch.delenv(name, raising=False)
    url = ensure_demo_database(str(tmp_path / "shop.sqlite"))
    monkeypatch.setenv("ROWBOAT_DATABASES", f"shop={url}")
    monkeypatch.setenv("ROWBOAT_MODELS", "shop=rowboat.demo:Base")
    app = create_app({"DEMO_PATH": str(tmp_path / "unused.sqlite")})
    yield app.test_client(), url
    app.extensions["rowboat.databases"]["shop"].engine.dispose()


def test_home_says_models_are_in_use(demo_client) -> None:
    client, _ = demo_client
    html = client.get("/").text
    assert "your models" in html
    for table in ("books", "employees", "staff_manager", "book_tags"):
        assert f'href="/shop/{table}"' in html


def test_hybrid_property_is_a_sortable_column(demo_client) -> None:
    client, url = demo_client
    html = client.get("/shop/employees?_sort=full_name&_size=5").text
    assert "full_name" in html
    engine = create_engine(url)
    with Session(engine) as session:
        first = session.scalars(
            select(Employee).order_by(Employee.full_name, Employee.id).limit(1)
        ).one()
    engine.dispose()
    assert re.search(r'href="/shop/employees/(\d+)"', html).group(1) == str(first.id)
    assert str(first) in html


def test_relationship_names_and_labels_come_from_the_code(demo_client) -> None:
    client, url = demo_client
    engine = create_engine(url)
    with Session(engine) as session:
        boss = session.scalars(select(Employee).where(Employee.reports.any()).limit(1)).one()
        report = boss.reports[0]
        boss_id, boss_label, report_id = boss.id, str(boss), report.id
    engine.dispose()
    boss_page = client.get(f"/shop/employees/{boss_id}").text
    assert 'id="rel-reports"' in boss_page  # the collection's name in the model
    report_page = client.get(f"/shop/employees/{report_id}").text
    assert "manager" in report_page and boss_label in report_page  # __str__ as the label


def test_every_model_is_listed(demo_client) -> None:
    client, _ = demo_client
    html = client.get("/shop").text
    tables = {m.local_table.name for m in Base.registry.mappers}
    for table in tables:
        assert f'href="/shop/{table}"' in html, table
