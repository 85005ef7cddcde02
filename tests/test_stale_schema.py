"""A table dropped after the catalog was read answers 404 with a hint, never a 500."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, text


def test_dropped_table_is_a_404_with_a_refresh_hint(app: Flask, edge_url: str) -> None:
    engine = create_engine(edge_url)
    metadata = MetaData()
    doomed = Table(
        "doomed", metadata, Column("id", Integer, primary_key=True), Column("gone_soon", String(20))
    )
    metadata.create_all(engine)
    try:
        with engine.begin() as connection:
            connection.execute(doomed.insert(), [{"id": 1, "gone_soon": "x"}])
        client = app.test_client()
        assert client.get("/edge/doomed").status_code == 200  # the catalog now knows it
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE doomed DROP COLUMN gone_soon"))
        changed = client.get("/edge/doomed")
        assert changed.status_code == 409
        assert "Refresh schema" in changed.get_data(as_text=True)
        metadata.drop_all(engine)
        for url in ("/edge/doomed", "/edge/doomed/1"):
            response = client.get(url)
            assert response.status_code == 404, url
            assert "no longer exists" in response.get_data(as_text=True)
    finally:
        metadata.drop_all(engine)
        engine.dispose()
