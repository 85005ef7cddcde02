"""Creating, editing and deleting rows through the test client, on SQLite, PostgreSQL and
MariaDB: every value is read back through a separate connection, every constraint error must
land on its field, and a conflicting or refused write must change nothing."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from conftest import Page
from flask import Flask
from sqlalchemy import Engine, update
from test_edit_support import (  # noqa: F401
    KINDS,
    child_cascade,
    child_restrict,
    child_setnull,
    count,
    db_engine,
    edit_app,
    edit_url,
    engine_of,
    fetch,
    form_data,
    grandchild,
    kinds,
    make_edit_app,
    my_extras,
    pair,
    parent,
    parent_tag,
    pg_extras,
    refill,
    snapshot,
    wclient,
    with_values,
)

from rowboat import writes
from rowboat.db.engines import databases_of, session_for

Read = Callable[[Any], Page]


def field_box(page: Page, name: str) -> Any:
    """The rendered field whose input is named ``name``."""
    return page.one("div", "field", **{"data-name": name})


def all_problems(page: Page) -> dict[str, str]:
    """Every field's messages, by field name (for assertion messages)."""
    return {
        box.attrs["data-name"]: " ".join(p.text() for p in box.find_all("p", "problem-msg"))
        for box in page.find_all("div", "field")
        if box.find("p", "problem-msg") is not None
    }


def field_problems(page: Page, name: str) -> str:
    return " ".join(p.text() for p in field_box(page, name).find_all("p", "problem-msg"))


def new_kind(client: Any, read: Read, **changes: Any) -> Any:
    page = read(client.get("/w/kinds/-/new"))
    data = with_values(form_data(page), **{"code": "new1", **changes})
    return client.post("/w/kinds/-/new", data=data, content_type="multipart/form-data")


# --- round trips ---------------------------------------------------------------------------------


def test_create_round_trip_every_type(
    wclient: Any,  # noqa: F811
    read: Read,
    db_engine: Engine,  # noqa: F811
    edit_url: str,  # noqa: F811
) -> None:
    engine = engine_of(edit_url)
    page = read(wclient.get("/w/kinds/-/new"))
    aware = engine == "postgresql"  # only PostgreSQL keeps a time zone
    uid = uuid.UUID("123e4567-e89b-12d3-a456-426614174000")
    data = with_values(
        form_data(page),
        small="-32768",
        big="9223372036854775807",
        amount="1234567.891",
        ratio="2.5",
        code="x1",
        label="",  # the empty string, not NULL
        body="line one\nline two <b>&amp;</b> ü",
        flag="true",
        maybe="false",
        day="2024-02-29",
        at_time="23:59:58",
        at="2024-03-01 12:00:01",
        at_tz="2024-03-01 12:00:00+02:00" if aware else "2024-03-01 12:00:00",
        mood="sad",
        doc='{"b": [1, 2.5, null], "c": "ü"}',
        uid=uid.hex,
        status="",  # the server default fills it
        qty="5",
        parent_id="2",
    )
    data.setlist("_null", [n for n in data.getlist("_null") if n != "label"])
    data["blob"] = (io.BytesIO(b"\x00\xffdata\x00"), "x.bin")
    response = wclient.post("/w/kinds/-/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, all_problems(read(response))
    row = fetch(db_engine, kinds, code="x1")
    assert row is not None
    assert response.headers["Location"] == f"/w/kinds/{row['id']}"
    assert row["small"] == -32768
    assert row["big"] == 9223372036854775807
    assert row["amount"] == Decimal("1234567.891")
    assert row["ratio"] == 2.5
    assert row["label"] == ""
    assert row["body"] == "line one\nline two <b>&amp;</b> ü"
    assert row["flag"] is True
    assert row["maybe"] is False
    assert row["day"] == dt.date(2024, 2, 29)
    assert row["at_time"] == dt.time(23, 59, 58)
    assert row["at"] == dt.datetime(2024, 3, 1, 12, 0, 1)
    if aware:
        assert row["at_tz"] == dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.UTC)
    else:
        assert row["at_tz"] == dt.datetime(2024, 3, 1, 12, 0)
    assert row["mood"] == "sad"
    doc = json.loads(row["doc"]) if isinstance(row["doc"], str) else row["doc"]
    assert doc == {"b": [1, 2.5, None], "c": "ü"}
    assert row["uid"] == uid
    assert row["blob"] == b"\x00\xffdata\x00"
    assert row["status"] == "new"
    assert row["qty"] == 5
    assert row["parent_id"] == 2


def test_null_and_empty_string_are_distinct(wclient: Any, read: Read, db_engine: Engine) -> None:  # noqa: F811
    page = read(wclient.get("/w/kinds/1/-/edit"))
    data = with_values(form_data(page), label="", body="")
    data.add("_null", "body")
    response = wclient.post("/w/kinds/1/-/edit", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, read(response).html[:2000]
    row = fetch(db_engine, kinds, id=1)
    assert row is not None and row["label"] == "" and row["body"] is None
    # And back: the form shows NULL ticked for body and an empty, unticked label.
    page = read(wclient.get("/w/kinds/1/-/edit"))
    ticked = {
        i.attrs["value"] for i in page.find_all("input", name="_null") if "checked" in i.attrs
    }
    assert "body" in ticked and "label" not in ticked


def test_null_box_and_text_follow_what_changed(wclient: Any, read: Read, db_engine: Engine) -> None:  # noqa: F811
    # Ticking NULL over old text (no JavaScript to clear it) means NULL ...
    data = with_values(form_data(read(wclient.get("/w/kinds/1/-/edit"))))
    data.add("_null", "label")
    assert wclient.post("/w/kinds/1/-/edit", data=data).status_code == 302
    assert fetch(db_engine, kinds, id=1)["label"] is None  # type: ignore[index]
    # ... and typing into a field shown as NULL (box still ticked) means the typed value.
    page = read(wclient.get("/w/kinds/1/-/edit"))
    assert "label" in form_data(page).getlist("_null")
    response = wclient.post("/w/kinds/1/-/edit", data=with_values(form_data(page), label="typed"))
    assert response.status_code == 302
    assert fetch(db_engine, kinds, id=1)["label"] == "typed"  # type: ignore[index]


def test_edit_keeps_binary_without_new_file(wclient: Any, read: Read, db_engine: Engine) -> None:  # noqa: F811
    page = read(wclient.get("/w/kinds/1/-/edit"))
    data = with_values(form_data(page), label="changed", amount="0.001")
    response = wclient.post("/w/kinds/1/-/edit", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    assert response.headers["Location"] == "/w/kinds/1"
    row = fetch(db_engine, kinds, id=1)
    assert row is not None
    assert row["blob"] == KINDS[0]["blob"]
    assert row["label"] == "changed" and row["amount"] == Decimal("0.001")
    # Every other value is as it was: the untouched form round-trips.
    for key in ("small", "big", "ratio", "body", "flag", "maybe", "day", "at_time", "at"):
        assert row[key] == KINDS[0][key], key
    assert row["uid"] == KINDS[0]["uid"]
    # The flash message and the download link on the row page.
    row_page = read(wclient.get("/w/kinds/1"))
    assert "Saved." in row_page.one("div", "flash").text()
    download = row_page.one("a", "download")
    blob = wclient.get(download.href)
    assert blob.status_code == 200 and blob.data == KINDS[0]["blob"]
    assert blob.headers["Content-Disposition"].startswith("attachment;")


def test_untouched_edit_form_changes_nothing(wclient: Any, read: Read, db_engine: Engine) -> None:  # noqa: F811
    before = snapshot(db_engine)
    for path in ("/w/kinds/1/-/edit", "/w/kinds/2/-/edit", "/w/pair/2,x~2Cy/-/edit"):
        data = form_data(read(wclient.get(path)))
        response = wclient.post(path, data=data, content_type="multipart/form-data")
        assert response.status_code == 302, (path, read(response).html[:2000])
    assert snapshot(db_engine) == before


def test_engine_specific_types(wclient: Any, read: Read, db_engine: Engine, edit_url: str) -> None:  # noqa: F811
    engine = engine_of(edit_url)
    if engine == "postgresql":
        page = read(wclient.get("/w/pg_extras/1/-/edit"))
        # PostgreSQL's own text (a timedelta cannot hold months apart from days).
        assert field_box(page, "span").one("input", type="text").attrs["value"] == "1 day 02:00:00"
        data = with_values(
            form_data(page),
            span="-1 day, 23:00:00.5",
            nums="[3, 1, 2]",
            words='["a", "b c", null]',
            uid="123e4567-e89b-12d3-a456-426614174000",
            doc='{"k": true}',
        )
        response = wclient.post("/w/pg_extras/1/-/edit", data=data)
        assert response.status_code == 302, all_problems(read(response))
        row = fetch(db_engine, pg_extras, id=1)
        assert row is not None
        assert row["span"] == dt.timedelta(hours=-1, microseconds=500000)
        assert row["nums"] == [3, 1, 2] and row["words"] == ["a", "b c", None]
        assert row["uid"] == uuid.UUID("123e4567-e89b-12d3-a456-426614174000")
        assert row["doc"] == {"k": True}
        bad = wclient.post("/w/pg_extras/1/-/edit", data=with_values(data, nums='["x"]'))
        assert bad.status_code == 400
    elif engine == "mariadb":
        page = read(wclient.get("/w/my_extras/1/-/edit"))
        boxes = field_box(page, "flags").find_all("input", type="checkbox", name="flags")
        assert [b.attrs["value"] for b in boxes] == ["red", "green", "blue"]
        data = with_values(form_data(page), flags=None, yr="2024")
        data.add("flags", "red")
        data.add("flags", "blue")
        response = wclient.post("/w/my_extras/1/-/edit", data=data)
        assert response.status_code == 302, read(response).html[:2000]
        row = fetch(db_engine, my_extras, id=1)
        assert row is not None and row["flags"] == {"red", "blue"} and row["yr"] == 2024
        bad = wclient.post("/w/my_extras/1/-/edit", data=with_values(data, yr="1800"))
        assert bad.status_code == 400
    else:
        pytest.skip("SQLite has no interval, array, SET or YEAR types")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("small", "40000", "between"),
        ("amount", "1.2345", "decimal point"),
        ("amount", "12345678", "before the decimal point"),
        ("ratio", "1e999", "finite"),  # NaN is a value PostgreSQL stores; an overflow is not
        ("day", "2024-02-30", "YYYY-MM-DD"),
        ("at", "yesterday", "YYYY-MM-DD"),
        ("doc", "{bad json", "not valid JSON"),
        ("uid", "not-a-uuid" * 4, ""),
        ("label", "x" * 31, "At most 30"),
        ("flag", None, ""),
    ],
)
def test_invalid_input_comes_back_with_400(
    wclient: Any,  # noqa: F811
    read: Read,
    db_engine: Engine,  # noqa: F811
    edit_url: str,  # noqa: F811
    field: str,
    value: str | None,
    message: str,
) -> None:
    if field == "small" and engine_of(edit_url) == "sqlite":
        value = "99999999999999999999"  # SQLite integers hold 64 bits
    if field == "doc" and engine_of(edit_url) == "mariadb":
        message = "check constraint"  # LONGTEXT CHECK (json_valid(doc)), which reflection drops
    if field == "uid" and engine_of(edit_url) == "sqlite":
        message = "At most 32"  # reflected as CHAR(32) text
    before = snapshot(db_engine)
    page = read(wclient.get("/w/kinds/1/-/edit"))
    data = with_values(form_data(page), **{field: value})
    if field == "flag":
        data.poplist("_bool")
        data["flag"] = "true"
        data["code"] = ""
        data.add("_null", "code")
        field, message = "code", "cannot be NULL"
    response = wclient.post("/w/kinds/1/-/edit", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    result = read(response)
    assert message in field_problems(result, field)
    # The user's input is kept.
    if value is not None and field not in ("doc",):
        shown = field_box(result, field).find("input") or field_box(result, field).find("textarea")
        assert shown is not None
    assert snapshot(db_engine) == before


# --- database errors, each on its field ---------------------------------------------------------


def test_unique_violation_names_constraint_and_links_the_row(
    wclient: Any,  # noqa: F811
    read: Read,
    db_engine: Engine,  # noqa: F811
) -> None:
    before = count(db_engine, kinds)
    response = new_kind(wclient, read, code="k1")
    assert response.status_code == 409
    page = read(response)
    problems = field_problems(page, "code")
    assert "uq_kinds_code" in problems and "Another row already has" in problems
    assert field_box(page, "code").one("a", "conflict-link").href == "/w/kinds/1"
    assert field_box(page, "code").one("input", name="code").attrs["value"] == "k1"  # input kept
    assert count(db_engine, kinds) == before


def test_foreign_key_violation_on_its_field(wclient: Any, read: Read, db_engine: Engine) -> None:  # noqa: F811
    before = count(db_engine, kinds)
    response = new_kind(wclient, read, parent_id="999")
    assert response.status_code == 409
    problems = field_problems(read(response), "parent_id")
    assert "No row in parent has id = 999" in problems
    assert count(db_engine, kinds) == before


def test_check_violation_on_its_field(wclient: Any, read: Read, db_engine: Engine) -> None:  # noqa: F811
    response = new_kind(wclient, read, qty="-1")
    assert response.status_code == 400
    assert "ck_kinds_qty" in field_problems(read(response), "qty")
    assert fetch(db_engine, kinds, code="new1") is None


def _service_error(app: Flask, values: dict[str, Any]) -> writes.WriteFailed:
    """Send values straight to the write service (past the form's own checks)."""
    with app.test_request_context():
        database = databases_of(app)["w"]
        entity = database.catalog.entities["kinds"]
        with pytest.raises(writes.WriteFailed) as caught:
            writes.create(session_for(database), database.catalog, entity, values)
        return caught.value


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"code": "k1", "flag": True}, "code", "Another row"),
        ({"code": None, "flag": True}, "code", "NOT NULL"),
        ({"code": "z", "flag": True, "qty": -5}, "qty", "ck_kinds_qty"),
        ({"code": "z", "flag": True, "parent_id": 77}, "parent_id", "No row in parent"),
        ({"code": "z", "flag": True, "label": "y" * 40}, "label", "Too long"),
        ({"code": "z", "flag": True, "small": 70000}, "small", "Out of range"),
        ({"code": "z", "flag": True, "amount": Decimal("123456789")}, "amount", "Out of range"),
    ],
)
def test_database_errors_map_to_fields(
    edit_app: Flask,  # noqa: F811
    db_engine: Engine,  # noqa: F811
    edit_url: str,  # noqa: F811
    values: dict[str, Any],
    field: str,
    words: str,
) -> None:
    engine = engine_of(edit_url)
    if engine == "sqlite" and field in ("label", "small", "amount"):
        pytest.skip("SQLite does not enforce lengths, ranges or precision")
    before = snapshot(db_engine)
    failure = _service_error(edit_app, values)
    assert field in failure.fields, (failure.message, failure.fields)
    assert words in failure.fields[field][0].message
    assert snapshot(db_engine) == before


# --- concurrent edits ----------------------------------------------------------------------------


def test_concurrent_edit_is_refused_then_reapplied(
    wclient: Any,  # noqa: F811
    read: Read,
    db_engine: Engine,  # noqa: F811
) -> None:
    page = read(wclient.get("/w/kinds/1/-/edit"))  # tab one loads the form
    with db_engine.begin() as connection:  # someone else saves meanwhile
        connection.execute(update(kinds).where(kinds.c.id == 1).values(label="theirs"))
    data = with_values(form_data(page), label="mine")
    response = wclient.post("/w/kinds/1/-/edit", data=data, content_type="multipart/form-data")
    assert response.status_code == 409
    conflict = read(response)
    assert "changed this row" in conflict.one("div", "form-problems").text()
    box = field_box(conflict, "label")
    assert box.one("input", name="label").attrs["value"] == "mine"  # their values beside mine
    assert "theirs" in box.one("p", "now-in-db").text()
    assert fetch(db_engine, kinds, id=1)["label"] == "theirs"  # type: ignore[index]
    # Saving the conflict page applies mine, deliberately.
    again = wclient.post(
        "/w/kinds/1/-/edit", data=form_data(conflict), content_type="multipart/form-data"
    )
    assert again.status_code == 302
    assert fetch(db_engine, kinds, id=1)["label"] == "mine"  # type: ignore[index]


def test_edit_of_a_deleted_row_is_reported(wclient: Any, read: Read, db_engine: Engine) -> None:  # noqa: F811
    page = read(wclient.get("/w/pair/1,a/-/edit"))
    with db_engine.begin() as connection:
        connection.execute(pair.delete().where(pair.c.a == 1, pair.c.b == "a"))
    response = wclient.post("/w/pair/1,a/-/edit", data=form_data(page))
    assert response.status_code == 409
    assert "deleted" in read(response).one("div", "form-problems").text()
    assert fetch(db_engine, pair, a=1, b="a") is None


def test_delete_of_a_changed_or_vanished_row_is_reported(
    wclient: Any,  # noqa: F811
    read: Read,
    db_engine: Engine,  # noqa: F811
) -> None:
    page = read(wclient.get("/w/pair/1,b/-/delete"))
    data = form_data(page, "confirm")
    with db_engine.begin() as connection:
        connection.execute(
            update(pair).where(pair.c.a == 1, pair.c.b == "b").values(note="changed")
        )
    response = wclient.post("/w/pair/1,b/-/delete", data=data)
    assert response.status_code == 409
    assert "changed this row" in read(response).one("div", "form-problems").text()
    assert fetch(db_engine, pair, a=1, b="b") is not None
    with db_engine.begin() as connection:
        connection.execute(pair.delete().where(pair.c.a == 1, pair.c.b == "b"))
    gone = wclient.post("/w/pair/1,b/-/delete", data=data)
    assert gone.status_code == 409
    assert "already been deleted" in read(gone).one("div", "form-problems").text()


# --- composite keys ----------------------------------------------------------------------------


def test_composite_keys_create_edit_and_change_key(
    wclient: Any,  # noqa: F811
    read: Read,
    db_engine: Engine,  # noqa: F811
) -> None:
    page = read(wclient.get("/w/pair/-/new"))
    response = wclient.post(
        "/w/pair/-/new", data=with_values(form_data(page), a="3", b="a/b,c", note="n")
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/w/pair/3,a~2Fb~2Cc"
    assert fetch(db_engine, pair, a=3, b="a/b,c") is not None
    # Change part of the key: the row moves, the redirect follows it.
    page = read(wclient.get("/w/pair/1,a/-/edit"))
    response = wclient.post("/w/pair/1,a/-/edit", data=with_values(form_data(page), b="-"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/w/pair/1,-"
    assert fetch(db_engine, pair, a=1, b="a") is None
    assert fetch(db_engine, pair, a=1, b="-")["note"] == "one a"  # type: ignore[index]
    assert wclient.get("/w/pair/1,-").status_code == 200  # a key of "-" is still a row
    # Taking another row's key is a unique violation on both key fields, linked.
    page = read(wclient.get("/w/pair/1,-/-/edit"))
    response = wclient.post("/w/pair/1,-/-/edit", data=with_values(form_data(page), b="b"))
    assert response.status_code == 409
    result = read(response)
    assert "Another row" in field_problems(result, "a")
    assert field_box(result, "b").one("a", "conflict-link").href == "/w/pair/1,b"


# --- delete and its preview ----------------------------------------------------------------------


def _effects(page: Page) -> list[str]:
    return [li.text() for li in page.find_all("li", "effect")]


def test_delete_preview_counts(wclient: Any, read: Read) -> None:  # noqa: F811
    page = read(wclient.get("/w/parent/1/-/delete"))
    effects = " | ".join(_effects(page))
    assert "2 rows in child_cascade will be deleted too" in effects
    assert "3 rows in grandchild will be deleted too" in effects
    assert "1 row in child_setnull will have parent_id set to NULL" in effects
    assert "2 rows in parent_tag will be deleted too" in effects
    assert "child_restrict" not in effects and "kinds" not in effects  # nothing refers there
    assert page.find("p", "blocked") is None
    blocked = read(wclient.get("/w/parent/2/-/delete"))
    assert "1 row in child_restrict refer to it" in " ".join(_effects(blocked))
    three = " | ".join(_effects(read(wclient.get("/w/parent/3/-/delete"))))
    assert "1 row in kinds refer to it" in three
    assert "1 row in child_cascade will be deleted too" in three
    assert blocked.one("p", "blocked") is not None
    assert "disabled" in blocked.one("button", "danger").attrs
    quiet = read(wclient.get("/w/tag/3/-/delete"))
    assert quiet.one("p", "preview-none")


def test_delete_cascades_as_previewed(wclient: Any, read: Read, db_engine: Engine) -> None:  # noqa: F811
    page = read(wclient.get("/w/parent/1/-/delete"))
    response = wclient.post("/w/parent/1/-/delete", data=form_data(page, "confirm"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/w/parent"
    assert fetch(db_engine, parent, id=1) is None
    assert count(db_engine, child_cascade) == 1
    assert count(db_engine, grandchild) == 0
    assert fetch(db_engine, child_setnull, id=1)["parent_id"] is None  # type: ignore[index]
    assert count(db_engine, parent_tag) == 0
    assert "Deleted" in read(wclient.get("/w/parent")).one("div", "flash").text()


def test_refused_delete_changes_nothing(wclient: Any, read: Read, db_engine: Engine) -> None:  # noqa: F811
    before = snapshot(db_engine)
    page = read(wclient.get("/w/parent/2/-/delete"))
    response = wclient.post("/w/parent/2/-/delete", data=form_data(page, "confirm"))
    assert response.status_code == 409
    assert (
        "1 row in child_restrict still refer" in read(response).one("div", "form-problems").text()
    )
    assert snapshot(db_engine) == before


def test_bulk_delete(wclient: Any, read: Read, db_engine: Engine) -> None:  # noqa: F811
    listing = read(wclient.get("/w/pair"))
    boxes = listing.find_all("input", name="_key")
    assert [b.attrs["value"] for b in boxes] == ["1,a", "1,b", "2,x~2Cy"]
    token_form = form_data(listing, "bulk-delete")
    data = with_values(token_form, _key=None)
    data.add("_key", "1,a")
    data.add("_key", "2,x~2Cy")
    confirm = wclient.post("/w/pair/-/delete", data=data)
    assert confirm.status_code == 200
    page = read(confirm)
    assert page.one("h1").text() == "Delete 2 rows from pair?"
    assert count(db_engine, pair) == 3  # nothing yet
    response = wclient.post("/w/pair/-/delete", data=form_data(page, "confirm"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/w/pair"
    assert count(db_engine, pair) == 1
    assert "Deleted 2 rows" in read(wclient.get("/w/pair")).one("div", "flash").text()


def test_bulk_delete_is_all_or_nothing(wclient: Any, read: Read, db_engine: Engine) -> None:  # noqa: F811
    before = snapshot(db_engine)
    data = with_values(form_data(read(wclient.get("/w/parent")), "bulk-delete"), _key=None)
    data.add("_key", "1")
    data.add("_key", "2")  # child_restrict refers to parent 2
    page = read(wclient.post("/w/parent/-/delete", data=data))
    assert page.one("p", "blocked")
    response = wclient.post("/w/parent/-/delete", data=form_data(page, "confirm"))
    assert response.status_code == 409
    assert snapshot(db_engine) == before
    # A row that vanished between the confirmation and the delete: nothing is deleted.
    data = with_values(data, _key=None)
    data.add("_key", "3")
    data.add("_key", "77")
    data["_confirm"] = "1"
    response = wclient.post("/w/parent/-/delete", data=data)
    assert response.status_code == 409
    assert "no longer exist" in read(response).one("div", "form-problems").text()
    assert snapshot(db_engine) == before
    assert wclient.post("/w/parent/-/delete", data={}).status_code == 400


# --- relations -----------------------------------------------------------------------------------


def test_foreign_key_select_and_search(
    wclient: Any,  # noqa: F811
    read: Read,
    monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    page = read(wclient.get("/w/kinds/1/-/edit"))
    select_ = field_box(page, "parent_id").one("select", "fk-select")
    options = [(o.attrs["value"], o.text()) for o in select_.find_all("option")]
    assert options == [
        ("", "NULL (none)"),
        ("1", "alpha (1)"),
        ("2", "beta (2)"),
        ("3", "gamma (3)"),
    ]
    assert select_.one("option", selected="").attrs["value"] == "3"
    # A large target gets a search box instead, with the current row's label.
    monkeypatch.setattr("rowboat.writes.choices.SMALL_TARGET", 2)
    page = read(wclient.get("/w/kinds/1/-/edit"))
    box = field_box(page, "parent_id").one("div", "fk-search")
    assert box.one("input", "fk-value").attrs["value"] == "3"
    assert box.one("span", "fk-label").text() == "gamma"
    found = wclient.get(box.attrs["data-lookup"] + "&q=ET").get_json()
    assert found == {"results": [{"value": "2", "label": "beta", "key": "2"}], "more": False}
    by_key = wclient.get("/w/parent/-/lookup.json?q=3").get_json()
    assert by_key["results"] == [{"value": "3", "label": "gamma", "key": "3"}]
    assert wclient.get("/w/parent/-/lookup.json?_column=nope").status_code == 400


def test_many_to_many_through_the_link_table(wclient: Any, read: Read, db_engine: Engine) -> None:  # noqa: F811
    page = read(wclient.get("/w/parent/1/-/edit"))
    # The linked rows as ticked boxes, the target's other rows to choose from below them.
    box = page.one("div", "related-search")
    linked = box.one("ul", "related-chosen").find_all("input", type="checkbox")
    assert {i.attrs["value"] for i in linked if "checked" in i.attrs} == {"1", "2"}
    others = box.one("ul", "related-others").find_all("input", type="checkbox")
    assert [(i.attrs["value"], "checked" in i.attrs) for i in others] == [("3", False)]
    name = box.attrs["data-name"]
    assert {i.attrs["name"] for i in linked + others} == {name}
    # Untick 1, tick 3: what a browser posts.
    data = with_values(form_data(page), **{name: None})
    data.add(name, "3")
    data.add(name, "2")
    response = wclient.post("/w/parent/1/-/edit", data=data)
    assert response.status_code == 302, read(response).html[:2000]
    with db_engine.connect() as connection:
        links = sorted(tuple(r) for r in connection.execute(parent_tag.select()))
    assert links == [(1, 2), (1, 3)]
    # An identity that is no row is refused on the field, and nothing changes.
    before = snapshot(db_engine)
    response = wclient.post("/w/parent/1/-/edit", data=with_values(data, **{name: "99"}))
    assert response.status_code == 409
    assert "No row '99' in tag" in field_problems(read(response), name)
    assert snapshot(db_engine) == before


def test_add_related_row_fills_the_foreign_key(wclient: Any, read: Read) -> None:  # noqa: F811
    page = read(wclient.get("/w/parent/3"))
    links = {a.href for a in page.find_all("a", "add-related-row")}
    assert "/w/child_cascade/-/new?parent_id=3" in links
    form = read(wclient.get("/w/child_cascade/-/new?parent_id=3"))
    assert field_box(form, "parent_id").one("option", selected="").attrs["value"] == "3"


# --- protection ----------------------------------------------------------------------------------


def test_csrf_token_is_required(edit_app: Flask, read: Read, db_engine: Engine) -> None:  # noqa: F811
    edit_app.config["WTF_CSRF_ENABLED"] = True
    client = edit_app.test_client()
    before = snapshot(db_engine)
    page = read(client.get("/w/pair/-/new"))
    data = with_values(form_data(page), a="9", b="q")
    assert data["csrf_token"]
    for path, payload in (
        ("/w/pair/-/new", with_values(data, csrf_token=None)),
        ("/w/pair/-/new", with_values(data, csrf_token="forged")),
        ("/w/pair/1,a/-/delete", {}),
        ("/w/pair/-/delete", {"_key": "1,a", "_confirm": "1"}),
        ("/w/pair/1,a/-/edit", {"note": "x"}),
    ):
        response = client.post(path, data=payload)
        assert response.status_code == 400, path
    assert snapshot(db_engine) == before
    assert client.post("/w/pair/-/new", data=data).status_code == 302


def test_read_only_database_refuses_every_write(
    edit_url: str,  # noqa: F811
    tmp_path: Any,
    read: Read,
    db_engine: Engine,  # noqa: F811
) -> None:
    refill(edit_url)
    app = make_edit_app(edit_url, tmp_path, read_only=True)
    client = app.test_client()
    try:
        before = snapshot(db_engine)
        for path in ("/w/pair/-/new", "/w/pair/1,a/-/edit", "/w/pair/1,a/-/delete"):
            assert client.get(path).status_code == 403, path
            assert client.post(path, data={"a": "5", "b": "z"}).status_code == 403, path
        assert client.post("/w/pair/-/delete", data={"_key": "1,a"}).status_code == 403
        assert snapshot(db_engine) == before
        row_page = read(client.get("/w/pair/1,a"))
        assert row_page.find("a", "edit-row") is None and row_page.find("a", "delete-row") is None
        listing = read(client.get("/w/pair"))
        assert listing.find("a", "new-row") is None
        assert listing.find("input", name="_key") is None
        assert listing.find("form", "bulk-delete") is None
        assert client.get("/w/parent/-/lookup.json?q=a").status_code == 200  # reading is fine
    finally:
        for database in app.extensions["rowboat.databases"].values():
            database.engine.dispose()


def test_table_without_key_is_read_only(wclient: Any, read: Read) -> None:  # noqa: F811
    assert wclient.get("/w/loose/-/new").status_code == 403
    assert "primary key" in read(wclient.get("/w/loose/-/new")).html
    assert read(wclient.get("/w/loose")).find("a", "new-row") is None
    assert wclient.post("/w/loose/-/delete", data={"_key": "1"}).status_code == 403


def test_unknown_rows_and_tables(wclient: Any) -> None:  # noqa: F811
    assert wclient.get("/w/pair/9,zz/-/edit").status_code == 404
    assert wclient.get("/w/nope/-/new").status_code == 404
    assert wclient.get("/w/pair/1/-/edit").status_code == 404  # one value for a two-part key
    assert wclient.post("/w/pair/-/delete", data={"_key": "1"}).status_code == 400
    assert wclient.get("/w/kinds/1/-/download/label").status_code == 404
    assert wclient.get("/w/kinds/2/-/download/blob").status_code == 404  # NULL
    assert wclient.get("/w/pair/-/new").status_code == 200  # "-" never reads as a row key


@pytest.mark.parametrize(
    ("back", "expected"),
    [
        ("/w/pair?_size=20", "/w/pair?_size=20"),
        ("//evil.example", "/w/pair"),
        ("/\\evil", "/w/pair"),
    ],
)
def test_bulk_delete_goes_back_only_to_this_site(
    wclient: Any,  # noqa: F811
    back: str,
    expected: str,
) -> None:
    data = {"_key": "1,a", "_confirm": "1", "_back": back}
    response = wclient.post("/w/pair/-/delete", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == expected
