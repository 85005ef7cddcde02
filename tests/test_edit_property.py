"""Arbitrary form data posted to the create and edit endpoints: never a 500, and never a change
to a row the request did not address."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, update
from test_edit_support import (  # noqa: F401
    db_engine,
    edit_app,
    edit_url,
    form_data,
    kinds,
    snapshot,
    wclient,
)
from werkzeug.datastructures import MultiDict

FIELDS = [c.name for c in kinds.columns] + ["_null", "_bool", "_was_null", "_fingerprint", "zz"]
AWKWARD = [
    "",
    " ",
    "0",
    "-1",
    "40000",
    "9223372036854775808",
    "1e309",
    "NaN",
    "-0.0005",
    "2024-02-30",
    "2024-02-29 25:00",
    "0000-00-00",
    "9999-12-31 23:59:59+14:00",
    "null",
    "{}",
    '{"a": [1, {"b": null}]}',
    "[" * 50,
    "true",
    "P1D",
    "1 day, 2:00:00",
    "k1",
    "k2",
    "happy",
    "a\x00b",
    "<script>alert(1)</script>",
    "x" * 300,
    "ü" * 31,
    "1",
    "2",
    "999",
]
values = st.one_of(
    st.sampled_from(AWKWARD),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
)
posts = st.lists(st.tuples(st.sampled_from(FIELDS), values), max_size=12)

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _others(engine: Engine, keep_id: int | None) -> dict[str, Any]:
    """Every row except the one an edit addresses (and except new kinds rows)."""
    rows = snapshot(engine)
    rows["kinds"] = [r for r in rows["kinds"] if r[0] in (1, 2) and r[0] != keep_id]
    return rows


@SETTINGS
@given(pairs=posts)
def test_arbitrary_create_posts(wclient: Any, db_engine: Engine, pairs: list[Any]) -> None:  # noqa: F811
    before = _others(db_engine, None)
    response = wclient.post(
        "/w/kinds/-/new", data=MultiDict(pairs), content_type="multipart/form-data"
    )
    assert response.status_code in (302, 400, 409), response.status_code
    assert _others(db_engine, None) == before


@SETTINGS
@given(pairs=posts, keep_fingerprint=st.booleans())
def test_arbitrary_edit_posts(
    wclient: Any,  # noqa: F811
    read: Any,
    db_engine: Engine,  # noqa: F811
    pairs: list[Any],
    keep_fingerprint: bool,  # noqa: F811
) -> None:
    page = read(wclient.get("/w/kinds/1/-/edit"))
    data = form_data(page)
    fingerprint = data["_fingerprint"]
    for key, value in pairs:
        data.setlist(key, [value])
    if keep_fingerprint:
        data["_fingerprint"] = fingerprint
    before = _others(db_engine, 1)
    response = wclient.post("/w/kinds/1/-/edit", data=data, content_type="multipart/form-data")
    assert response.status_code in (302, 400, 409), response.status_code
    assert _others(db_engine, 1) == before
    if response.status_code == 302:
        location = response.headers["Location"]
        assert location.startswith("/w/kinds/")
        moved_to = int(location.removeprefix("/w/kinds/").split("?")[0])
        if moved_to != 1:  # the post changed the key: put row 1 back for the next example
            with db_engine.begin() as connection:
                connection.execute(update(kinds).where(kinds.c.id == moved_to).values(id=1))
