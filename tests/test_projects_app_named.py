"""A project whose package is called ``app`` (``from app.extensions import db``), served as
``./rowboat serve`` serves it: the checkout first on PYTHONPATH and the working folder, the
project after it. Rowboat's own code is in the checkout's app/ folder but is ``rowboat``; the
user's ``app`` must be the one imported. Run in processes of their own, so this test process
never holds an ``app`` module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import fresh_database

CHECKOUT = Path(__file__).resolve().parent.parent
PROJECT = CHECKOUT / "tests" / "projects" / "app_named"

# Run in the checkout as wsgi.py would be: Rowboat first, then the user's models by reference.
SCRIPT = """
import json, re, sys
from sqlalchemy import create_engine, text
from rowboat import create_app
from rowboat.catalog import sources

url, demo = sys.argv[1], sys.argv[2]
metadata = sources.load("app.models:db", "library").metadata
engine = create_engine(url)
metadata.create_all(engine)
with engine.begin() as connection:
    connection.execute(text("INSERT INTO authors (name) VALUES ('Ursula'), ('Italo')"))
    connection.execute(text(
        "INSERT INTO books (title, year, author_id) VALUES ('Earthsea', 1968, 1), "
        "('The Dispossessed', 1974, 1), ('Invisible Cities', 1972, 2)"
    ))
app = create_app({
    "DATABASES": {"library": {"url": url, "models": "app.models:db"}},
    "DEMO_PATH": demo, "SECRET_KEY": "app-named", "AUTH": False,
})
app.config["WTF_CSRF_ENABLED"] = False
client = app.test_client()
seen = {}
def status(name, response):
    seen[name] = response.status_code
    return response
import app as users_app
seen["app_module"] = users_app.__file__
status("home", client.get("/library"))
listed = status("list", client.get("/library/books")).text
seen["books_listed"] = len(set(re.findall(r'href="/library/books/(\\d+)"', listed)))
status("row", client.get("/library/books/2"))
status("authors", client.get("/library/authors/1"))
status("edit_form", client.get("/library/books/2/-/edit"))
created = status("create", client.post(
    "/library/books/-/new", data={"title": "Cosmicomics", "year": "1965", "author_id": "2"}
))
seen["created_at"] = created.headers.get("Location")
status("delete_form", client.get("/library/books/3/-/delete"))
status("delete", client.post("/library/books/3/-/delete", data={}))
status("query", client.get("/library/-/query/export.json?table=books&col=title"))
status("drift", client.get("/library/-/drift"))
with engine.connect() as connection:
    seen["rows"] = sorted(map(list, connection.execute(text("SELECT title, year FROM books"))))
engine.dispose()
for database in app.extensions["rowboat.databases"].values():
    database.engine.dispose()
print(json.dumps(seen))
"""


def run(command: list[str], pythonpath: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    for name in ("DATABASE_URL", "ROWBOAT_DATABASES", "ROWBOAT_MODELS"):
        env.pop(name, None)
    return subprocess.run(
        command, cwd=CHECKOUT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("engine_name", ("sqlite", "postgresql"))
def test_a_package_named_app(
    engine_name: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    # As ./rowboat serve sets it: the checkout (which holds app/) first.
    pythonpath = os.pathsep.join([str(CHECKOUT), str(PROJECT)])
    with fresh_database(engine_name, "rowboat_pj_app_named", tmp_path_factory) as url:
        demo = str(tmp_path / "demo.sqlite")
        result = run([sys.executable, "-c", SCRIPT, url, demo], pythonpath)
        assert result.returncode == 0, result.stderr
        seen = json.loads(result.stdout.strip().splitlines()[-1])
        assert seen.pop("app_module") == str(PROJECT / "app" / "__init__.py")
        assert seen.pop("created_at") == "/library/books/4"
        assert seen.pop("rows") == [
            ["Cosmicomics", 1965],
            ["Earthsea", 1968],
            ["The Dispossessed", 1974],
        ]
        assert seen == {
            "home": 200,
            "list": 200,
            "books_listed": 3,
            "row": 200,
            "authors": 200,
            "edit_form": 200,
            "create": 302,
            "delete_form": 200,
            "delete": 302,
            "query": 200,
            "drift": 200,
        }
        # The start-up check passes: the models import and match the database.
        env_databases = {"ROWBOAT_DATABASES": f"library={url}", "ROWBOAT_MODELS": "app.models:db"}
        check = subprocess.run(
            [sys.executable, "-m", "rowboat.startcheck"],
            cwd=CHECKOUT,
            env={**os.environ, "PYTHONPATH": pythonpath, **env_databases},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert (check.returncode, check.stderr) == (0, "")
