"""A list page whose query is slow says so, and names the sort/filter columns with no index."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, create_engine

from rowboat import create_app


def _app(tmp_path, slow_page: float):
    url = f"sqlite:///{tmp_path / 'slow.sqlite'}"
    metadata = MetaData()
    Table(
        "orders",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("amount", Integer),
        Column("status", String(10)),
        Index("ix_orders_status", "status"),
    )
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    return create_app(
        {
            "DATABASES": {"db": url},
            "DEMO_PATH": str(tmp_path / "demo.sqlite"),
            "SLOW_PAGE": slow_page,
        }
    )


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    for name in ("DATABASE_URL", "ROWBOAT_DATABASES", "ROWBOAT_MODELS"):
        monkeypatch.delenv(name, raising=False)


def test_slow_page_names_the_unindexed_columns(tmp_path) -> None:
    client = _app(tmp_path, slow_page=0.0).test_client()  # every page counts as slow
    html = client.get("/db/orders?_sort=amount&status__exact=new").text
    assert 'class="slow"' in html
    assert "index that the dashboard knows of starts with amount:" in html  # not status
    html = client.get("/db/orders?_sort=status").text
    assert 'class="slow"' in html and "knows of starts with" not in html


def test_fast_pages_say_nothing(tmp_path) -> None:
    client = _app(tmp_path, slow_page=60.0).test_client()
    assert 'class="slow"' not in client.get("/db/orders?_sort=amount").text
