"""SQLite keeps dates as text in the writer's format; filters and page cursors must still match.

Chinook's SQLite file, like many written by other tools, stores '2024-01-01 00:00:00' with no
fraction, while SQLAlchemy would bind '2024-01-01 00:00:00.000000' (which sorts after it as
text). Discovery makes the column bind the stored format.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, text

from rowboat import create_app


@pytest.fixture
def client(tmp_path, monkeypatch):
    for name in ("DATABASE_URL", "ROWBOAT_DATABASES", "ROWBOAT_MODELS"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'times.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE ev (id INTEGER PRIMARY KEY, at DATETIME NOT NULL, t TIME)")
        )
        rows = [(i, f"2024-01-0{1 + i // 4} 00:00:00", "12:00:00") for i in range(1, 21)]
        connection.execute(
            text("INSERT INTO ev VALUES (:i, :at, :t)"),
            [{"i": i, "at": at, "t": t} for i, at, t in rows],
        )
    engine.dispose()
    app = create_app({"DATABASES": {"db": url}, "DEMO_PATH": str(tmp_path / "demo.sqlite")})
    yield app.test_client()
    app.extensions["rowboat.databases"]["db"].engine.dispose()


def _ids(html: str) -> list[str]:
    return re.findall(r'href="/db/ev/(\d+)"', html)


def test_filters_match_values_stored_without_a_fraction(client) -> None:
    html = client.get("/db/ev?at__gte=2024-01-02T00:00:00&at__lte=2024-01-02T00:00:00").text
    assert _ids(html) == ["4", "5", "6", "7"]  # midnight rows, equal to the bound
    assert _ids(client.get("/db/ev?t__exact=12:00:00&_size=50").text) == [
        str(i) for i in range(1, 21)
    ]


def test_keyset_pages_through_equal_timestamps(client) -> None:
    seen: list[str] = []
    url: str | None = "/db/ev?_sort=at&_size=3"
    while url:
        html = client.get(url).text
        seen += _ids(html)
        found = re.search(r'rel="next" class="next" href="([^"]+)"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == [str(i) for i in range(1, 21)]
