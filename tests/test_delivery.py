"""How pages and files are delivered: static files under versioned URLs, cached for a year, and
the demo database built by ``./rowboat serve``'s start check, before any worker, with a word on
the console."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ENV_TO_CLEAR, dispose_app
from flask import Flask

from rowboat import create_app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The dashboard on its demo database."""
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    made = create_app({"DEMO_PATH": str(tmp_path / "demo.sqlite")})
    yield made
    dispose_app(made)


def test_static_files_have_versioned_urls_cached_for_a_year(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    linked = re.findall(r'"(/static/[^"?]+)\?v=([0-9a-f]{12})"', page)
    assert {path for path, _ in linked} >= {"/static/rowboat.css", "/static/rowboat.js"}
    for path, version in linked:
        with client.get(f"{path}?v={version}") as answer:
            assert answer.status_code == 200, path
            assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        # Without the file's current version (an old page, a typed address): revalidated.
        for stale in (path, f"{path}?v=000000000000"):
            with client.get(stale) as answer:
                assert answer.headers["Cache-Control"] == "no-cache", stale


def test_a_changed_file_gets_a_new_url(app: Flask, tmp_path: Path) -> None:
    from rowboat.web import statics

    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "x.css").write_text("a {}")
    app.static_folder = str(folder)
    with app.test_request_context("/"):
        first = statics.version("x.css")
        (folder / "x.css").write_text("a { color: red }")
        assert statics.version("x.css") != first
        assert statics.version("missing.css") is None


def test_the_start_check_builds_the_demo_database_and_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROWBOAT_")}
    env.pop("DATABASE_URL", None)
    env["ROWBOAT_DEMO_PATH"] = str(tmp_path / "demo.sqlite")
    run = subprocess.run(
        [sys.executable, "-m", "rowboat.startcheck"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "rowboat: building the demo database at" in run.stderr
    assert "rowboat: the demo database is ready" in run.stderr
    assert (tmp_path / "demo.sqlite").stat().st_size > 100_000
    again = subprocess.run(
        [sys.executable, "-m", "rowboat.startcheck"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0 and again.stderr == ""  # built once: nothing to say
