"""The statement time limit, on every engine: a slow page says so (504), never a 500, and the
connection goes back to the pool healthy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from rowboat import create_app

SLOW_VIEWS = {
    # Each takes far longer than the one-second limit the app is given below.
    "sqlite": "CREATE VIEW slow_view AS WITH RECURSIVE c(x) AS "
    "(SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) SELECT x FROM c ORDER BY x DESC",
    "postgresql": "CREATE VIEW slow_view AS SELECT pg_sleep(6)::text AS x",
    "mariadb": "CREATE VIEW slow_view AS SELECT SLEEP(6) AS x",
}


@pytest.fixture
def slow_app(
    edge_url: str, engine_name: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    for name in ("DATABASE_URL", "ROWBOAT_DATABASES", "ROWBOAT_MODELS"):
        monkeypatch.delenv(name, raising=False)
    setup = create_engine(edge_url)
    with setup.begin() as connection:
        connection.execute(text(SLOW_VIEWS[engine_name]))
    app = create_app(
        {
            "DATABASES": {"edge": {"url": edge_url}},
            "DEMO_PATH": str(tmp_path / "demo.sqlite"),
            "STATEMENT_TIMEOUT": 1.0,
        }
    )
    try:
        yield app
    finally:
        app.extensions["rowboat.databases"]["edge"].engine.dispose()
        with setup.begin() as connection:
            connection.execute(text("DROP VIEW slow_view"))
        setup.dispose()


def test_a_page_that_runs_out_of_time_says_so(slow_app: Flask) -> None:
    client = slow_app.test_client()
    response = client.get("/edge/slow_view")
    assert response.status_code == 504
    body = response.get_data(as_text=True)
    assert "time limit" in body and "1 s" in body
    pool = slow_app.extensions["rowboat.databases"]["edge"].engine.pool
    assert pool.checkedout() == 0
    # The same worker and pool serve the next page normally.
    assert client.get("/edge/tag").status_code == 200
    assert pool.checkedout() == 0


def test_a_list_page_out_of_time_names_the_column_without_an_index(slow_app: Flask) -> None:
    # isnull fits a column of any type (SQLite gives the view's column none).
    response = slow_app.test_client().get("/edge/slow_view?x__isnull=")
    assert response.status_code == 504
    body = response.get_data(as_text=True)
    assert "1 s time limit" in body
    assert "No index that the dashboard knows of starts with x" in body


def test_home_page_survives_a_table_too_slow_to_count(slow_app: Flask) -> None:
    response = slow_app.test_client().get("/")
    assert response.status_code == 200
    assert "slow_view" in response.get_data(as_text=True)


def test_json_clients_get_the_timeout_as_json(slow_app: Flask) -> None:
    response = slow_app.test_client().get("/edge/slow_view", headers={"Accept": "application/json"})
    assert response.status_code == 504
    assert response.get_json()["error"] == "Query took too long"
