"""Writing through the user's own models (the demo's declarative Base): a many-to-many edited
through the model's relationship, joined-table inheritance, enums and a CHECK constraint."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ENV_TO_CLEAR, Page
from flask import Flask
from test_edit_support import form_data, with_values

from rowboat import create_app


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Flask, Path]]:
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "demo.sqlite"
    app = create_app({"DEMO_PATH": str(path)})
    app.config["WTF_CSRF_ENABLED"] = False
    yield app, path
    for database in app.extensions["rowboat.databases"].values():
        database.engine.dispose()


def sql(path: Path, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute(statement, params).fetchall()
    finally:
        connection.close()


def test_book_with_tags_through_the_relationship(demo: tuple[Flask, Path], read: Any) -> None:
    app, path = demo
    client = app.test_client()
    page = read(client.get("/demo/books/-/new"))
    tags = page.one("div", "related-search")
    chosen = [i.attrs["value"] for i in tags.find_all("input", type="checkbox")[:2]]
    formats = page.one("div", "field", **{"data-name": "format"}).find_all("option")
    assert [o.attrs["value"] for o in formats] == ["", "hardcover", "paperback", "ebook"]
    data = with_values(
        form_data(page),
        title="Rowboat Manual",
        author_id="1",
        price="19.90",
        format="ebook",
        details='{"pages": 120}',
    )
    data.setlist(tags.attrs["data-name"], chosen)
    response = client.post("/demo/books/-/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    book_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert sql(path, "SELECT format, in_print, details FROM books WHERE id = ?", book_id) == [
        ("ebook", 1, '{"pages": 120}')  # the enum's value, the model's default, the JSON
    ]
    linked = sql(path, "SELECT tag_id FROM book_tags WHERE book_id = ? ORDER BY 1", book_id)
    assert [str(t) for (t,) in linked] == sorted(chosen, key=int)
    # Removing every tag empties the link rows.
    page = read(client.get(f"/demo/books/{book_id}/-/edit"))
    data = with_values(form_data(page), **{tags.attrs["data-name"]: None})
    assert client.post(f"/demo/books/{book_id}/-/edit", data=data).status_code == 302
    assert sql(path, "SELECT count(*) FROM book_tags WHERE book_id = ?", book_id) == [(0,)]


def test_check_constraint_and_enum(demo: tuple[Flask, Path], read: Any) -> None:
    app, path = demo
    client = app.test_client()
    page: Page = read(client.get("/demo/employees/1/-/edit"))
    response = client.post(
        "/demo/employees/1/-/edit", data=with_values(form_data(page), salary="-5")
    )
    assert response.status_code == 400
    box = read(response).one("div", "field", **{"data-name": "salary"})
    assert "ck_employees_salary_non_negative" in box.text()
    response = client.post(
        "/demo/employees/1/-/edit", data=with_values(form_data(page), role="nope")
    )
    assert response.status_code == 400


def test_inherited_rows_are_created_and_deleted_whole(demo: tuple[Flask, Path], read: Any) -> None:
    app, path = demo
    client = app.test_client()
    page = read(client.get("/demo/staff_manager/-/new"))
    names = [n.attrs["data-name"] for n in page.find_all("div", "field")]
    assert "kind" not in names  # the discriminator is set from the class
    data = with_values(
        form_data(page),
        name="Mia",
        job_title="Boss",
        hired_on="2024-01-01",
        budget="1000.00",
        reports_count="2",
    )
    response = client.post("/demo/staff_manager/-/new", data=data)
    assert response.status_code == 302
    new_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert sql(path, "SELECT kind FROM person WHERE id = ?", new_id) == [("staff_manager",)]
    page = read(client.get(f"/demo/staff_manager/{new_id}/-/delete"))
    response = client.post(
        f"/demo/staff_manager/{new_id}/-/delete", data=form_data(page, "confirm")
    )
    assert response.status_code == 302
    for table in ("person", "staff_member", "staff_manager"):
        assert sql(path, f"SELECT count(*) FROM {table} WHERE id = ?", new_id) == [(0,)]


def test_book_tags_edited_by_changes_through_the_relationship(
    demo: tuple[Flask, Path], read: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tags as a search-and-add list (a large target): the model's collection is changed by
    the rows added and removed, the other links stay."""
    monkeypatch.setattr("rowboat.writes.choices.SMALL_TARGET", 2)
    app, path = demo
    client = app.test_client()
    book = sql(path, "SELECT book_id FROM book_tags GROUP BY book_id HAVING count(*) >= 2")[0][0]
    before = {t for (t,) in sql(path, "SELECT tag_id FROM book_tags WHERE book_id = ?", book)}
    page = read(client.get(f"/demo/books/{book}/-/edit"))
    box = page.one("div", "related-search")
    removes = box.find_all("input", type="checkbox")
    assert {int(r.attrs["value"]) for r in removes} == before
    data = form_data(page)
    assert client.post(f"/demo/books/{book}/-/edit", data=data).status_code == 302
    gone = int(removes[0].attrs["value"])
    new = min({t for (t,) in sql(path, "SELECT id FROM tags")} - before)
    data.add(removes[0].attrs["name"], str(gone))
    data.add(box.attrs["data-add-name"], str(new))
    assert client.post(f"/demo/books/{book}/-/edit", data=data).status_code == 302
    after = {t for (t,) in sql(path, "SELECT tag_id FROM book_tags WHERE book_id = ?", book)}
    assert after == (before - {gone}) | {new}
