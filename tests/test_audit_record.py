"""The audit log records every write the forms make: one entry per row, with the exact values
before and after, typed (big integers, Decimals with their trailing zeros, float bits, time
zones, binary as size and SHA-256, long text cut with its length and hash), the cascades of a
delete, who, from where and under which request id. A save that changes nothing records
nothing, and a refused save never leaves a committed entry.

Runs on SQLite, PostgreSQL and MariaDB as target databases with the state database on SQLite,
and once with MariaDB as target and the state database on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from audit_record_support import (
    COMBINATIONS,
    Audited,
    assert_matches_row,
    audited_app,
    entries,
    only_entry,
    page_at,
    post_form,
    stored,
)
from conftest import Page
from flask import Flask
from flask.testing import FlaskClient
from hostile_corpus import NASTY_TEXT
from signin_accounts_support import add_user, cheap_hashing, signed_in, signin_app  # noqa: F401
from sqlalchemy import Engine, update
from test_edit_support import form_data, kinds, with_values

from rowboat.audit.values import TEXT_KEPT
from rowboat.auth import tokens


@pytest.fixture(scope="module", params=COMBINATIONS, ids=lambda c: f"{c[0]}-state_{c[1]}")
def audited(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Audited]:
    with audited_app(*request.param, "rowboat_audit_rec", tmp_path_factory) as made:
        yield made


@pytest.fixture
def aud(audited: Audited) -> Audited:
    audited.reset()
    return audited


@pytest.fixture
def client(aud: Audited) -> FlaskClient:
    return aud.app.test_client()


def _edit(client: FlaskClient, key: str, nulls: tuple[str, ...] = (), **values: Any) -> Any:
    """Post kinds/<key>'s edit form as a browser would, with ``values`` typed in and the
    ``nulls`` columns' NULL boxes ticked (a typed value unticks its box)."""
    data = with_values(form_data(page_at(client, f"/w/kinds/{key}/-/edit")), **values)
    data.setlist("_null", [n for n in data.getlist("_null") if n not in values] + list(nulls))
    return post_form(client, f"/w/kinds/{key}/-/edit", data)


def _t(kind: str, value: Any) -> dict[str, Any]:
    return {"t": kind, "v": value}


def _bool(aud: Audited, value: bool) -> dict[str, Any]:
    """A boolean as the row holds it: MariaDB's BOOLEAN is TINYINT(1), read as 0 and 1."""
    return _t("int", str(int(value))) if aud.engine_name == "mariadb" else _t("bool", value)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- create ------------------------------------------------------------------------------------


def test_create_records_every_column_once(aud: Audited, client: FlaskClient) -> None:
    aware = aud.engine_name == "postgresql"
    data = with_values(
        form_data(page_at(client, "/w/kinds/-/new")),
        small="-32768",
        big="9007199254740993",  # 2^53 + 1: a float would lose the last digit
        amount="1.500",  # trailing zeros kept
        ratio="0.1",
        code="x1",
        label="",  # the empty string, not NULL
        body="two\nlines ü ☃ 😀",
        flag="true",
        maybe="false",
        day="2024-02-29",
        at_time="23:59:58",
        at="2024-03-01 12:00:01",
        at_tz="2024-03-01 12:00:00+02:00" if aware else "2024-03-01 12:00:00",
        doc='{"b": [1, 2.5, null], "c": "ü"}',
        status="",  # the server default fills it
        qty="",  # and this one
        parent_id="2",
    )
    data.setlist("_null", [n for n in data.getlist("_null") if n not in ("label", "status", "qty")])
    data["blob"] = (io.BytesIO(b"\x00\xffdata\x00"), "x.bin")
    response = post_form(client, "/w/kinds/-/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    entry = only_entry(aud.state)
    assert (entry["action"], entry["outcome"], entry["table"], entry["database"]) == (
        "create",
        "committed",
        "kinds",
        "w",
    )
    assert response.headers["Location"] == f"/w/kinds/{entry['row_key']}"
    changes = entry["changes"]
    assert set(changes) == {c.name for c in kinds.columns}  # every column, "after" only
    assert all(set(c) == {"after"} for c in changes.values())
    after = {k: c["after"] for k, c in changes.items()}
    assert after["id"] == _t("int", entry["row_key"])
    assert after["small"] == _t("int", "-32768")
    assert after["big"] == _t("int", "9007199254740993")
    assert after["amount"] == _t("decimal", "1.500")
    assert after["ratio"] == _t("float", "0.1")
    assert after["label"] == _t("text", "")
    assert after["body"] == _t("text", "two\nlines ü ☃ 😀")
    assert after["flag"] == _bool(aud, True) and after["maybe"] == _bool(aud, False)
    assert after["day"] == _t("date", "2024-02-29")
    assert after["at"] == _t("datetime", "2024-03-01T12:00:01")
    if aware:  # the instant the row holds, as PostgreSQL gives it back
        moment = dt.datetime.fromisoformat(after["at_tz"]["v"])
        assert moment == dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    # MariaDB's TIME is read as its own text (a duration), its JSON is LONGTEXT.
    mariadb = aud.engine_name == "mariadb"
    assert after["at_time"] == _t("text" if mariadb else "time", "23:59:58")
    if not mariadb:
        assert after["doc"] == _t("json", {"b": [1, 2.5, None], "c": "ü"})
    assert after["blob"] == {"t": "binary", "size": 7, "sha256": _sha(b"\x00\xffdata\x00")}
    assert after["status"] == _t("text", "new")  # the server's defaults, read back
    assert after["qty"] == _t("int", "0")
    assert after["mood"] is None and after["uid"] is None  # NULL
    assert_matches_row(aud.app, entry)


# --- edit --------------------------------------------------------------------------------------


def test_edit_records_only_the_changed_columns_before_and_after(
    aud: Audited, client: FlaskClient
) -> None:
    # MariaDB's FLOAT is single precision: 1e-300 would be stored (and recorded) as 0.0.
    ratio = "0.1" if aud.engine_name == "mariadb" else "1e-300"
    response = _edit(
        client,
        "1",
        nulls=("body",),
        big=str(2**63 - 1),
        amount="0.100",
        ratio=ratio,
        label="",
        flag="false",
        maybe="true",
        day="1999-12-31",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    entry = only_entry(aud.state)
    assert (entry["action"], entry["outcome"], entry["row_key"]) == ("update", "committed", "1")
    assert entry["cascade"] is None
    assert entry["changes"] == {
        "big": {"before": _t("int", "9000000000"), "after": _t("int", "9223372036854775807")},
        "amount": {"before": _t("decimal", "12.345"), "after": _t("decimal", "0.100")},
        "ratio": {"before": _t("float", "0.5"), "after": _t("float", ratio)},
        "label": {"before": _t("text", "first"), "after": _t("text", "")},
        "body": {"before": _t("text", "Some long text"), "after": None},  # NULL
        "flag": {"before": _bool(aud, True), "after": _bool(aud, False)},
        "maybe": {"before": None, "after": _bool(aud, True)},
        "day": {"before": _t("date", "2024-02-29"), "after": _t("date", "1999-12-31")},
    }
    assert_matches_row(aud.app, entry)

    # NULL to the empty string and back are changes too; a time zone and a time.
    aware = aud.engine_name == "postgresql"
    response = _edit(
        client,
        "2",
        label="",
        at_tz="2030-06-01 00:00:00-05:00" if aware else "2030-06-01 00:00:00",
        at_time="00:00:01",
    )
    assert response.status_code == 302
    second = entries(aud.state)[-1]
    assert second["changes"]["label"] == {"before": None, "after": _t("text", "")}
    assert second["changes"]["at_tz"]["before"] is None
    if aware:
        moment = dt.datetime.fromisoformat(second["changes"]["at_tz"]["after"]["v"])
        assert moment == dt.datetime(2030, 6, 1, 5, tzinfo=dt.UTC)
    assert_matches_row(aud.app, second)


def test_unchanged_save_leaves_no_entry(aud: Audited, client: FlaskClient) -> None:
    for key in ("1", "2"):
        data = form_data(page_at(client, f"/w/kinds/{key}/-/edit"))
        assert post_form(client, f"/w/kinds/{key}/-/edit", data).status_code == 302
    # A pair row (composite key), and an edit form posted with an empty file part.
    page = page_at(client, "/w/pair/2,x~2Cy/-/edit")
    assert post_form(client, "/w/pair/2,x~2Cy/-/edit", form_data(page)).status_code == 302
    assert entries(aud.state) == []


def test_long_text_is_cut_with_its_length_and_hash(aud: Audited, client: FlaskClient) -> None:
    text = ("ü😀\nline " * 1000)[:5000]
    assert _edit(client, "1", body=text).status_code == 302
    after = only_entry(aud.state)["changes"]["body"]["after"]
    assert after == {
        "t": "text",
        "v": text[:TEXT_KEPT],
        "cut": True,
        "length": 5000,
        "sha256": _sha(text.encode()),
    }
    exact = "x" * TEXT_KEPT  # at the limit: kept whole
    assert _edit(client, "1", body=exact).status_code == 302
    last = entries(aud.state)[-1]["changes"]["body"]
    assert last == {"before": after, "after": _t("text", exact)}


def test_hostile_text_is_recorded_as_stored(aud: Audited, client: FlaskClient) -> None:
    """Each awkward text through the edit form: the entry holds exactly what the row holds
    (whatever the browser and the database made of it), before and after."""
    previous = _t("text", "Some long text")
    for text in NASTY_TEXT:
        count = len(entries(aud.state))
        response = _edit(client, "1", body=text)
        assert response.status_code == 302, text
        found = entries(aud.state)
        if len(found) == count:  # the form made it the value already there: no change
            continue
        entry = found[-1]
        assert len(found) == count + 1 and entry["outcome"] == "committed"
        assert set(entry["changes"]) == {"body"}
        assert entry["changes"]["body"]["before"] == previous
        assert_matches_row(aud.app, entry)
        previous = entry["changes"]["body"]["after"]


def test_binary_upload_records_size_and_digest(aud: Audited, client: FlaskClient) -> None:
    data = form_data(page_at(client, "/w/kinds/1/-/edit"))
    new = bytes(range(256)) * 200  # 51,200 bytes (a BLOB holds 64 KiB on MariaDB)
    data["blob"] = (io.BytesIO(new), "new.bin")
    assert post_form(client, "/w/kinds/1/-/edit", data).status_code == 302
    entry = only_entry(aud.state)
    old = b"\x00\x01binary"
    assert entry["changes"] == {
        "blob": {
            "before": {"t": "binary", "size": len(old), "sha256": _sha(old)},
            "after": {"t": "binary", "size": len(new), "sha256": _sha(new)},
        }
    }
    assert_matches_row(aud.app, entry)


# --- delete ------------------------------------------------------------------------------------


def test_delete_records_the_whole_row_and_its_cascades(aud: Audited, client: FlaskClient) -> None:
    page = page_at(client, "/w/kinds/1/-/delete")
    assert client.post("/w/kinds/1/-/delete", data=form_data(page, "confirm")).status_code == 302
    entry = only_entry(aud.state)
    assert (entry["action"], entry["outcome"], entry["row_key"]) == ("delete", "committed", "1")
    before = {k: c["before"] for k, c in entry["changes"].items()}
    assert all(set(c) == {"before"} for c in entry["changes"].values())
    assert set(before) == {c.name for c in kinds.columns}
    assert before["big"] == _t("int", "9000000000")
    assert before["amount"] == _t("decimal", "12.345")
    assert before["blob"] == {"t": "binary", "size": 8, "sha256": _sha(b"\x00\x01binary")}
    if aud.engine_name != "sqlite":  # MariaDB 10.7+ has a UUID type too
        assert before["uid"] == _t("uuid", "12345678-1234-5678-1234-567812345678")
    else:  # SQLAlchemy's Uuid is CHAR(32) there: reflected, it is text
        assert before["uid"] == _t("text", "12345678123456781234567812345678")
    assert before["maybe"] is None and before["flag"] == _bool(aud, True)
    assert entry["cascade"] is None or set(entry["cascade"].values()) <= {0}
    assert stored(aud.app, "kinds", "1") is None

    page = page_at(client, "/w/parent/1/-/delete")
    assert client.post("/w/parent/1/-/delete", data=form_data(page, "confirm")).status_code == 302
    parent_entry = entries(aud.state)[-1]
    assert parent_entry["changes"] == {
        "id": {"before": _t("int", "1")},
        "name": {"before": _t("text", "alpha")},
    }
    assert parent_entry["cascade"] == {
        "child_cascade (deleted)": 2,
        "grandchild (deleted)": 3,
        "child_setnull (set to NULL)": 1,
        "parent_tag (deleted)": 2,
    }


def test_bulk_delete_records_one_entry_per_row_in_one_batch(
    aud: Audited, client: FlaskClient
) -> None:
    data = with_values(form_data(page_at(client, "/w/pair"), "bulk-delete"), _key=None)
    data.setlist("_key", ["1,a", "2,x~2Cy", "1,a"])  # a key twice: one row, one entry
    page = Page(client.post("/w/pair/-/delete", data=data).get_data(as_text=True))
    assert client.post("/w/pair/-/delete", data=form_data(page, "confirm")).status_code == 302
    found = entries(aud.state)
    assert [(e["action"], e["row_key"], e["outcome"]) for e in found] == [
        ("delete", "1,a", "committed"),
        ("delete", "2,x~2Cy", "committed"),
    ]
    assert found[0]["batch"] == found[1]["batch"] is not None
    assert found[1]["changes"] == {
        "a": {"before": _t("int", "2")},
        "b": {"before": _t("text", "x,y")},
        "note": {"before": None},
    }


# --- refused saves -----------------------------------------------------------------------------


def _no_committed(state: Engine) -> list[dict[str, Any]]:
    found = entries(state)
    assert all(e["outcome"] == "failed" for e in found), found
    return found


def test_refused_saves_leave_no_committed_entry(aud: Audited, client: FlaskClient) -> None:
    assert _edit(client, "1", code="k2").status_code in (400, 409)  # unique
    assert _edit(client, "1", qty="-1").status_code in (400, 409)  # check constraint
    assert _edit(client, "1", parent_id="99").status_code in (400, 409)  # foreign key
    data = with_values(form_data(page_at(client, "/w/kinds/-/new")), code="k1", status="s")
    assert post_form(client, "/w/kinds/-/new", data).status_code in (400, 409)  # unique, on create
    page = page_at(client, "/w/parent/2/-/delete")  # child_restrict refers to it
    assert client.post("/w/parent/2/-/delete", data=form_data(page, "confirm")).status_code == 409
    _no_committed(aud.state)
    assert stored(aud.app, "parent", "2") is not None


def test_a_lost_update_conflict_leaves_no_entry(aud: Audited, client: FlaskClient) -> None:
    page = page_at(client, "/w/kinds/1/-/edit")
    with aud.engine.begin() as connection:  # someone else saves meanwhile (not through Rowboat)
        connection.execute(update(kinds).where(kinds.c.id == 1).values(label="theirs"))
    data = with_values(form_data(page), label="mine")
    assert post_form(client, "/w/kinds/1/-/edit", data).status_code == 409
    delete_page = page_at(client, "/w/kinds/2/-/delete")
    with aud.engine.begin() as connection:
        connection.execute(update(kinds).where(kinds.c.id == 2).values(label="changed"))
    assert (
        client.post("/w/kinds/2/-/delete", data=form_data(delete_page, "confirm")).status_code
        == 409
    )
    _no_committed(aud.state)
    assert stored(aud.app, "kinds", "1")["label"] == "theirs"  # type: ignore[index]
    assert stored(aud.app, "kinds", "2") is not None


# --- who, from where -----------------------------------------------------------------------------


def test_request_id_and_client_address(aud: Audited, client: FlaskClient) -> None:
    address = {"REMOTE_ADDR": "192.0.2.7"}
    headers = {"X-Request-ID": "req-42.a:b_c"}
    data = form_data(page_at(client, "/w/kinds/1/-/edit"))
    response = post_form(
        client,
        "/w/kinds/1/-/edit",
        with_values(data, label="a"),
        headers=headers,
        environ_base=address,
    )
    assert response.status_code == 302
    entry = only_entry(aud.state)
    assert (entry["request_id"], entry["address"]) == ("req-42.a:b_c", "192.0.2.7")
    assert entry["user_name"] is None and entry["token_name"] is None  # sign-in is off
    for insane in ("two words", "x" * 65, "<script>", "ü"):
        data = form_data(page_at(client, "/w/kinds/1/-/edit"))
        response = post_form(
            client,
            "/w/kinds/1/-/edit",
            with_values(data, label=insane[:30]),
            headers={"X-Request-ID": insane},
        )
        assert response.status_code == 302
        given = entries(aud.state)[-1]["request_id"]
        assert given != insane and len(given) == 32 and int(given, 16) >= 0  # a new one
    ids = [e["request_id"] for e in entries(aud.state)]
    assert len(set(ids)) == len(ids)


# --- sign-in on: user and token ------------------------------------------------------------------


@pytest.fixture(scope="module")
def signin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, Path]]:
    folder = tmp_path_factory.mktemp("audit_signin")
    path = folder / "data.sqlite"
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, born DATE);"
        "INSERT INTO people VALUES (1, 'ann', '1990-01-01'), (2, 'bob', NULL);"
    )
    connection.commit()
    connection.close()
    with signin_app(folder, f"sqlite:///{path}", PROXIES=1) as app:
        add_user(app, "ed", "editor", h="write")
        yield app, folder


def test_user_token_and_forwarded_address_are_recorded(signin: tuple[Flask, Path]) -> None:
    app, _folder = signin
    state = app.extensions["rowboat.state"]
    editor = signed_in(app, "ed")
    page = Page(editor.get("/h/people/1/-/edit").get_data(as_text=True))
    data = with_values(form_data(page), name="ann by session")
    response = editor.post(
        "/h/people/1/-/edit",
        data=data,
        headers={"X-Forwarded-For": "203.0.113.9", "X-Request-ID": "from-the-proxy"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    by_session = entries(state)[-1]
    assert (by_session["user_name"], by_session["token_name"]) == ("ed", None)
    assert by_session["address"] == "203.0.113.9"  # PROXIES=1: the proxy's client
    assert by_session["request_id"] == "from-the-proxy"

    from rowboat.auth import accounts

    user_id = next(a.id for a in accounts.accounts(state) if a.name == "ed")
    token = tokens.create(state, user_id, "nightly sync", read_only=False, expires_at=None)
    bearer = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    page = Page(client.get("/h/people/2/-/edit", headers=bearer).get_data(as_text=True))
    data = with_values(form_data(page), name="bob by token", csrf_token=None)
    response = client.post(
        "/h/people/2/-/edit", data=data, headers=bearer, content_type="multipart/form-data"
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    by_token = entries(state)[-1]
    assert (by_token["user_name"], by_token["token_name"]) == ("ed", "nightly sync")
    assert by_token["changes"] == {
        "name": {"before": _t("text", "bob"), "after": _t("text", "bob by token")}
    }
    assert by_token["outcome"] == "committed"
    assert by_token["address"] == "127.0.0.1"
