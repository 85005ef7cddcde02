"""Every kind of mistake in ``ROWBOAT_MODELS`` stops ``./rowboat serve`` before gunicorn starts,
with one message that says what is wrong and how to fix it (``python -m rowboat.startcheck``,
exit status 2), run as ``serve`` runs it: a process of its own, the project on PYTHONPATH.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent
PROJECTS = CHECKOUT / "tests" / "projects"
MISTAKES = PROJECTS / "mistakes"


def started(
    models: str, tmp_path: Path, *pythonpath: Path, serve: bool = False
) -> subprocess.Popen[str]:
    """Start the start-up check (or ``./rowboat serve`` itself) for database ``x`` with these
    models, as ``serve`` runs it: a process of its own, the project on PYTHONPATH."""
    env = {
        **os.environ,
        "ROWBOAT_DATABASES": f"x=sqlite:///{tmp_path / 'x.sqlite'}",
        "ROWBOAT_MODELS": models,
        "PYTHONPATH": os.pathsep.join(str(p) for p in pythonpath),
        "ROWBOAT_SECRET_KEY": "startup-test",  # serve would otherwise write instance/secret_key
        "ROWBOAT_BIND": "127.0.0.1:1",  # were gunicorn to start, it could not bind
    }
    env.pop("DATABASE_URL", None)
    if serve:
        command = [str(CHECKOUT / "rowboat"), "serve"]
        env["ROWBOAT_VENV"] = str(Path(sys.executable).parent.parent)
    else:
        command = [sys.executable, "-m", "rowboat.startcheck"]
    return subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finished(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    try:
        stdout, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def said(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one message, no traceback
    return lines[0]


CASES = {
    "no colon": (
        "x=shop.models.Base",
        PROJECTS / "classic_shop",
        "rowboat: ROWBOAT_MODELS: expected module:attribute (e.g. blog.models:db.Model) or "
        "path/to/models.py:attribute, got 'shop.models.Base'",
    ),
    "wrong module": (
        "x=shop.modles:Base",
        PROJECTS / "classic_shop",
        "rowboat: models 'shop.modles:Base': no module named 'shop.modles' on the Python path "
        "(searched: {path}). Put your project's folder on PYTHONPATH "
        "(PYTHONPATH=/path/to/project), or name the file: path/to/models.py:Base.",
    ),
    "project not on the path": (
        "x=shop.models:Base",
        MISTAKES,
        "rowboat: models 'shop.models:Base': no module named 'shop' on the Python path "
        "(searched: {path}). Put your project's folder on PYTHONPATH "
        "(PYTHONPATH=/path/to/project), or name the file: path/to/models.py:Base.",
    ),
    "wrong attribute": (
        "x=shop.models:base",
        PROJECTS / "classic_shop",
        "rowboat: models 'shop.models:base': shop.models has no attribute 'base'. "
        "Models found there: Base.",
    ),
    "wrong dotted path": (
        "x=blog.models:db.model",
        PROJECTS / "fsqla_blog",
        "rowboat: models 'blog.models:db.model': blog.models.db has no attribute 'model'. "
        "Models found there: Model, metadata.",
    ),
    "no such file": (
        f"x={PROJECTS / 'classic_shop' / 'shop' / 'model.py'}:Base",
        MISTAKES,
        f"rowboat: models '{PROJECTS / 'classic_shop' / 'shop' / 'model.py'}:Base': "
        f"there is no file '{PROJECTS / 'classic_shop' / 'shop' / 'model.py'}'.",
    ),
    "import error in the module": (
        "x=broken.import_error:Base",
        MISTAKES,
        "rowboat: models 'broken.import_error:Base': importing it failed "
        f"({MISTAKES / 'broken' / 'import_error.py'}, line 3): ImportError: cannot import name "
        "'mapped_colum' from 'sqlalchemy.orm' ({sqlalchemy}). Fix the error in your module, "
        "then start Rowboat again.",
    ),
    "not models": (
        "x=broken.not_models:config",
        MISTAKES,
        "rowboat: models 'broken.not_models:config' names a dict, not models Rowboat can read. "
        "Name a declarative base (a DeclarativeBase subclass or declarative_base()'s result), "
        "a registry, a Flask-SQLAlchemy db (or db.Model), SQLModel, or a MetaData.",
    ),
    "mappings that cannot be configured": (
        "x=broken.unconfigurable:Base",
        MISTAKES,
        "rowboat: models 'broken.unconfigurable:Base': SQLAlchemy cannot configure the "
        "mappings: InvalidRequestError: When initializing mapper Mapper[Post(posts)], "
        "expression 'Tagg' failed to locate a name ('Tagg'). If this is a class name, "
        "consider adding this relationship() to the <class 'broken.unconfigurable.Post'> "
        "class after both dependent classes have been defined.",
    ),
}


@pytest.fixture(scope="module")
def outcomes(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every case's process, run side by side (each is a second of imports)."""
    processes = {
        case: started(models, tmp_path_factory.mktemp("startup"), project)
        for case, (models, project, _) in CASES.items()
    }
    processes["serve"] = started(
        "x=broken.unconfigurable:Base", tmp_path_factory.mktemp("serve"), MISTAKES, serve=True
    )
    processes["good"] = started(
        "x=heroes.models:SQLModel", tmp_path_factory.mktemp("good"), PROJECTS / "sqlmodel_heroes"
    )
    return {case: finished(process) for case, process in processes.items()}


@pytest.mark.parametrize("case", CASES)
def test_a_mistake_is_said_once_and_nothing_starts(
    case: str, outcomes: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    _, project, expected = CASES[case]
    line = said(outcomes[case])
    pattern = re.escape(expected)
    pattern = pattern.replace(re.escape("{path}"), "[^)]*").replace(
        re.escape("{sqlalchemy}"), "[^)]*"
    )
    assert re.fullmatch(pattern, line), line
    if "{path}" in expected:
        assert str(project) in line  # the path searched names the project's folder


def test_serve_stops_before_gunicorn(outcomes: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = outcomes["serve"]
    assert said(result).startswith(
        "rowboat: models 'broken.unconfigurable:Base': SQLAlchemy cannot configure the mappings"
    )
    assert "Listening" not in result.stderr  # gunicorn's first words


def test_good_models_pass(outcomes: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = outcomes["good"]
    # The database is empty: its tables are missing, which is a warning, not a mistake.
    assert result.returncode == 0, result.stderr
    assert "tables missing from the database: hero, team" in result.stderr
