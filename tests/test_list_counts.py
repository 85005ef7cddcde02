"""The row count above a list, on every engine: exact when cheap, capped or estimated when not.

A table of 300 rows with small caps stands in for a big one: the whole table is counted up to
COUNT_CAP (50), a filtered list up to FILTER_COUNT_CAP (20), and on PostgreSQL a filter the
planner expects to match over twice that shows the planner's estimate instead of counting.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ENGINES, engine_of, fresh_database
from flask import Flask
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, text

from rowboat import create_app

ROWS = 300
metadata = MetaData()
probe = Table(
    "count_probe",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("n", Integer, nullable=False),
    Column("word", String(20), nullable=False),
)


@pytest.fixture(scope="module", params=ENGINES)
def probe_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with fresh_database(request.param, "rowboat_count_test", tmp_path_factory) as url:
        engine = create_engine(url)
        try:
            metadata.create_all(engine)
            with engine.begin() as connection:
                rows = [{"id": i, "n": i, "word": f"w{i % 3}"} for i in range(1, ROWS + 1)]
                connection.execute(insert(probe), rows)
                # Statistics, as a table in use has: the estimates come from them.
                connection.execute(
                    text(
                        "ANALYZE count_probe"
                        if request.param != "mariadb"
                        else "ANALYZE TABLE count_probe"
                    )
                )
        finally:
            engine.dispose()
        yield url


@pytest.fixture
def app(probe_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    for name in ("DATABASE_URL", "ROWBOAT_DATABASES", "ROWBOAT_MODELS"):
        monkeypatch.delenv(name, raising=False)
    application = create_app(
        {
            "DATABASES": {"db": probe_url},
            "DEMO_PATH": str(tmp_path / "demo.sqlite"),
            "COUNT_CAP": 50,
            "FILTER_COUNT_CAP": 20,
        }
    )
    yield application
    application.extensions["rowboat.databases"]["db"].engine.dispose()


def count_line(app: Flask, query: str) -> str:
    response = app.test_client().get(f"/db/count_probe?{query}")
    assert response.status_code == 200
    return re.search(r'<p class="count">(.*?)</p>', response.text).group(1)


def test_a_first_page_holding_every_match_is_exact(app: Flask) -> None:
    assert count_line(app, "n__lte=30&_size=50") == "30 rows"
    assert count_line(app, "n__exact=7") == "1 row"
    assert count_line(app, "n__exact=-1") == "0 rows"


def test_a_filter_with_fewer_matches_than_its_cap_is_counted_exactly(app: Flask) -> None:
    assert count_line(app, "n__lte=15&_size=5") == "15 rows"


def test_a_broad_filter_is_capped_or_estimated(app: Flask, probe_url: str) -> None:
    line = count_line(app, "n__gt=0&_size=10")
    if engine_of(probe_url) == "postgresql":
        # The planner's estimate, from the statistics ANALYZE gathered: all 300 rows.
        assert line == "≈300 rows (estimate)"
    else:
        assert line == "20+ rows (counted up to 20)"
    search = count_line(app, "_search=w1&_size=10")  # 100 matches, over twice the cap
    if engine_of(probe_url) == "postgresql":
        estimate = int(re.fullmatch(r"≈([\d,]+) rows \(estimate\)", search).group(1))
        assert 40 < estimate <= ROWS
    else:
        assert search == "20+ rows (counted up to 20)"


def test_the_whole_table_is_counted_up_to_its_own_cap(app: Flask, probe_url: str) -> None:
    line = count_line(app, "_size=10")
    if engine_of(probe_url) == "sqlite":  # no statistics to estimate from
        assert line == "50+ rows (counted up to 50)"
    else:
        assert re.fullmatch(r"≈[\d,]+ rows \(estimate\)", line), line
