"""Every answer carries the security headers, pages included that fail or stream.

The browser tests (``test_browser.py``, ``test_edit_browser.py``, ``test_query_browser.py``,
``test_schema_browser.py``) fail on any console error, so a script or style the policy
refuses would fail them too; this module checks the headers themselves on each kind of answer.
"""

from __future__ import annotations

from typing import Any

import pytest

from rowboat.web.headers import HEADERS

PATHS = [
    ("/", 200),
    ("/edge", 200),
    ("/edge/tag", 200),
    ("/edge/tag/-/new", 200),
    ("/edge/-/schema", 200),
    ("/edge/-/query", 200),
    ("/edge/-/export/tag.csv", 200),
    ("/healthz", 200),
    ("/static/rowboat.css", 200),
    ("/edge/no_such_table", 404),
    ("/nowhere", 404),
    ("/edge/tag?_sort=no_such_column", 400),
]


@pytest.mark.parametrize(("path", "status"), PATHS)
def test_security_headers_on_every_kind_of_answer(client: Any, path: str, status: int) -> None:
    with client.get(path) as response:
        assert response.status_code == status, path
        for name, value in HEADERS.items():
            assert response.headers.get(name) == value, (path, name)


def test_the_policy_allows_nothing_inline_or_from_elsewhere() -> None:
    policy = dict(part.split(" ", 1) for part in HEADERS["Content-Security-Policy"].split("; "))
    assert policy["script-src"] == "'self'" and "unsafe" not in HEADERS["Content-Security-Policy"]
    assert policy["frame-ancestors"] == "'none'"
    assert policy["style-src"] == "'self'"
