"""A list page says which rows it shows ("Rows 21–40 of 5,000 rows"): keyset paging does not
know a page's position, so the pager's links carry it (``_at``); a page reached otherwise (a
hand-typed cursor) simply does not say."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ENV_TO_CLEAR, dispose_app
from flask import Flask
from flask.testing import FlaskClient

from rowboat import create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    folder: Path = tmp_path_factory.mktemp("rows-shown")
    with pytest.MonkeyPatch.context() as patch:
        for name in ENV_TO_CLEAR:
            patch.delenv(name, raising=False)
        app: Flask = create_app({"DEMO_PATH": str(folder / "demo.sqlite")})
    yield app.test_client()
    dispose_app(app)


def _page(client: FlaskClient, url: str) -> tuple[str, dict[str, str]]:
    """The count line and the pager's links (by class) of a list page."""
    answer = client.get(url)
    assert answer.status_code == 200, url
    text = answer.get_data(as_text=True)
    counted = re.search(r'<div class="counted">(.*?)</div>', text, re.S)
    assert counted is not None
    count = re.search(r"(.*)", " ".join(re.sub(r"<[^>]+>", " ", counted.group(1)).split()))
    assert count is not None
    found = {}
    for name, pattern in (
        ("prev", r'class="prev" href="([^"]+)"'),
        ("next", r'class="next" href="([^"]+)"'),
        ("last", r'href="([^"]+)" class="last"'),
    ):
        link = re.search(pattern, text)
        if link:
            found[name] = html.unescape(link.group(1))
    return count.group(1), found


def test_each_page_says_which_rows_it_shows(client: FlaskClient) -> None:
    first, links = _page(client, "/demo/books?_size=20")
    assert first == "Rows 1–20 of 5,000 rows"
    assert "_at=21" in links["next"]
    second, links = _page(client, links["next"])
    assert second == "Rows 21–40 of 5,000 rows"
    third, links = _page(client, links["next"])
    assert third == "Rows 41–60 of 5,000 rows"
    back, _ = _page(client, links["prev"])
    assert back == "Rows 21–40 of 5,000 rows"
    last, links = _page(
        client, links["last"] if "last" in links else "/demo/books?_size=20&_last=1"
    )
    assert last == "Rows 4,981–5,000 of 5,000 rows"


def test_a_page_reached_without_the_pager_does_not_guess(client: FlaskClient) -> None:
    _, links = _page(client, "/demo/books?_size=20")
    hand_typed = re.sub(r"&_at=\d+", "", links["next"])
    count, _ = _page(client, hand_typed)
    assert count == "5,000 rows"
    # One page of rows only: no range to speak of.
    small, _ = _page(client, "/demo/tags")
    assert not small.startswith("Rows")


@pytest.mark.parametrize("bad", ["abc", "0", "-3", "1e3", "9" * 16])
def test_a_bad_row_number_is_a_clear_400(client: FlaskClient, bad: str) -> None:
    answer = client.get(f"/demo/books?_at={bad}")
    assert answer.status_code == 400
    assert "is not a row number" in answer.get_data(as_text=True)


def test_sorting_or_filtering_starts_over(client: FlaskClient) -> None:
    answer = client.get("/demo/books?_size=20&_at=21&_next=WyIyMCJd")
    text = html.unescape(answer.get_data(as_text=True))
    sort_links = re.findall(r'class="sort[^"]*" href="([^"]+)"', text)
    assert sort_links and all("_at=" not in link for link in sort_links)
