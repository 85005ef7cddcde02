"""Unit tests for reading settings: defaults, ``ROWBOAT_*`` variables, then overrides.

``load_config`` takes the environment as a plain dict, so none of these tests touch the real
environment; a mistake in a variable must fail at start-up with a ConfigError naming it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from rowboat.config import SETTINGS, ConfigError, DatabaseConfig, load_config


def test_defaults() -> None:
    config = load_config({})
    for setting in SETTINGS:
        assert config[setting.name] == setting.default
    assert config["PAGE_SIZE"] == 50
    assert config["MAX_PAGE_SIZE"] == 500
    assert config["READ_ONLY"] is False
    assert config["DATABASES"] == {}  # the app factory serves the demo then


def test_unrelated_environment_is_ignored() -> None:
    config = load_config({"PATH": "/bin", "PAGE_SIZE": "7", "ROWBOAT_UNKNOWN_THING": "1"})
    assert config["PAGE_SIZE"] == 50


def test_settings_from_the_environment() -> None:
    config = load_config(
        {
            "ROWBOAT_PAGE_SIZE": "25",
            "ROWBOAT_MAX_PAGE_SIZE": "100",
            "ROWBOAT_STATEMENT_TIMEOUT": "2.5",
            "ROWBOAT_READ_ONLY": "yes",
            "ROWBOAT_DEMO_PATH": "/tmp/demo.sqlite",
        }
    )
    assert config["PAGE_SIZE"] == 25
    assert config["MAX_PAGE_SIZE"] == 100
    assert config["STATEMENT_TIMEOUT"] == 2.5
    assert config["READ_ONLY"] is True
    assert config["DEMO_PATH"] == "/tmp/demo.sqlite"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("true", True), (" ON ", True), ("0", False), ("no", False), ("", False)],
)
def test_boolean_settings(text: str, expected: bool) -> None:
    assert load_config({"ROWBOAT_READ_ONLY": text})["READ_ONLY"] is expected


# --- databases ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a=sqlite:///x.db b=postgresql://u@h/db",
        "a=sqlite:///x.db;b=postgresql://u@h/db",
        " a=sqlite:///x.db ; b=postgresql://u@h/db ; ",
        "a=sqlite:///x.db\n\tb=postgresql://u@h/db\n",
    ],
)
def test_rowboat_databases(text: str) -> None:
    databases = load_config({"ROWBOAT_DATABASES": text})["DATABASES"]
    assert list(databases) == ["a", "b"]
    assert databases["a"] == DatabaseConfig(name="a", url="sqlite:///x.db")
    assert databases["b"] == DatabaseConfig(name="b", url="postgresql://u@h/db")
    assert databases["b"].models is None
    assert databases["b"].read_only is False


def test_database_url_may_hold_equals_signs() -> None:
    url = "postgresql://u@h/db?sslmode=require&application_name=rowboat"
    databases = load_config({"ROWBOAT_DATABASES": f"shop={url}"})["DATABASES"]
    assert databases["shop"].url == url


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("postgresql://u@h/shop", "shop"),
        ("postgresql+psycopg2://u:pw@h:5432/shop?sslmode=require", "shop"),
        ("mysql+pymysql://root@127.0.0.1:3306/my-db?charset=utf8mb4", "my-db"),
        ("sqlite:///data/app.db", "app"),
        ("sqlite:////abs/path/chinook.sqlite3", "chinook"),
        ("postgresql://u@h/odd.name", "odd_name"),
    ],
)
def test_database_url_name_is_derived(url: str, name: str) -> None:
    databases = load_config({"DATABASE_URL": url})["DATABASES"]
    assert databases == {name: DatabaseConfig(name=name, url=url)}


def test_database_url_alongside_rowboat_databases() -> None:
    databases = load_config(
        {"ROWBOAT_DATABASES": "a=sqlite:///a.db", "DATABASE_URL": "postgresql://u@h/shop"}
    )["DATABASES"]
    assert {name: db.url for name, db in databases.items()} == {
        "a": "sqlite:///a.db",
        "shop": "postgresql://u@h/shop",
    }


def test_rowboat_databases_wins_over_database_url_with_the_same_name() -> None:
    databases = load_config(
        {"ROWBOAT_DATABASES": "shop=sqlite:///shop.db", "DATABASE_URL": "postgresql://u@h/shop"}
    )["DATABASES"]
    assert {name: db.url for name, db in databases.items()} == {"shop": "sqlite:///shop.db"}


def test_models_for_the_only_database() -> None:
    databases = load_config(
        {"DATABASE_URL": "postgresql://u@h/shop", "ROWBOAT_MODELS": "myapp.models:Base"}
    )["DATABASES"]
    assert databases["shop"].models == "myapp.models:Base"


def test_models_by_name() -> None:
    databases = load_config(
        {
            "ROWBOAT_DATABASES": "a=sqlite:///a.db b=sqlite:///b.db c=sqlite:///c.db",
            "ROWBOAT_MODELS": "a=pkg.a:Base; c=pkg.c:Model",
        }
    )["DATABASES"]
    assert {name: db.models for name, db in databases.items()} == {
        "a": "pkg.a:Base",
        "b": None,
        "c": "pkg.c:Model",
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ROWBOAT_DATABASES": "a.b=sqlite:///x.db"}, "'a.b'"),
        ({"ROWBOAT_DATABASES": "a/b=sqlite:///x.db"}, "'a/b'"),
        ({"ROWBOAT_DATABASES": "=sqlite:///x.db"}, "database name"),
        ({"ROWBOAT_DATABASES": "élan=sqlite:///x.db"}, "'élan'"),
        ({"ROWBOAT_DATABASES": "sqlite:///x.db"}, "name=URL"),
        ({"ROWBOAT_DATABASES": "a="}, "name=URL"),
        ({"ROWBOAT_DATABASES": "a=sqlite:///x.db a=sqlite:///y.db"}, "'a' is defined twice"),
        ({"ROWBOAT_DATABASES": "a=sqlite:///x.db;a=sqlite:///x.db"}, "twice"),
        (
            {"ROWBOAT_DATABASES": "a=sqlite:///a.db b=sqlite:///b.db", "ROWBOAT_MODELS": "m:B"},
            "several databases",
        ),
        ({"DATABASE_URL": "sqlite:///a.db", "ROWBOAT_MODELS": "nope=m:B"}, "'nope'"),
        ({"DATABASE_URL": "sqlite:///a.db", "ROWBOAT_MODELS": "models.Base"}, "module:attribute"),
        ({"ROWBOAT_MODELS": "m:B"}, "ROWBOAT_MODELS"),  # models but no database
    ],
)
def test_database_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(env)


# --- bad settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ROWBOAT_PAGE_SIZE": "abc"}, "ROWBOAT_PAGE_SIZE"),
        ({"ROWBOAT_PAGE_SIZE": "2.5"}, "ROWBOAT_PAGE_SIZE"),
        ({"ROWBOAT_PAGE_SIZE": ""}, "ROWBOAT_PAGE_SIZE"),
        ({"ROWBOAT_STATEMENT_TIMEOUT": "soon"}, "ROWBOAT_STATEMENT_TIMEOUT"),
        ({"ROWBOAT_READ_ONLY": "maybe"}, "ROWBOAT_READ_ONLY"),
        ({"ROWBOAT_PAGE_SIZE": "600"}, "MAX_PAGE_SIZE"),
        ({"ROWBOAT_PAGE_SIZE": "20", "ROWBOAT_MAX_PAGE_SIZE": "10"}, "MAX_PAGE_SIZE"),
        ({"ROWBOAT_PAGE_SIZE": "0"}, "PAGE_SIZE"),
        ({"ROWBOAT_COUNT_CAP": "-1"}, "COUNT_CAP"),
    ],
)
def test_bad_setting_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(env)


# --- overrides ---------------------------------------------------------------------------------


def test_overrides_win_over_the_environment() -> None:
    config = load_config(
        {"ROWBOAT_PAGE_SIZE": "25", "ROWBOAT_DATABASES": "a=sqlite:///a.db"},
        {"PAGE_SIZE": 10, "DATABASES": {"b": "sqlite:///b.db"}, "TESTING": True},
    )
    assert config["PAGE_SIZE"] == 10
    assert list(config["DATABASES"]) == ["b"]
    assert config["TESTING"] is True  # Flask's own upper-case keys pass through


def test_database_overrides_in_every_form() -> None:
    databases = load_config(
        {},
        {
            "DATABASES": {
                "plain": "sqlite:///p.db",
                "edge": {"url": "sqlite:///e.db", "models": None, "read_only": True},
                "made": DatabaseConfig(name="made", url="sqlite:///m.db"),
            }
        },
    )["DATABASES"]
    assert databases == {
        "plain": DatabaseConfig(name="plain", url="sqlite:///p.db"),
        "edge": DatabaseConfig(name="edge", url="sqlite:///e.db", read_only=True),
        "made": DatabaseConfig(name="made", url="sqlite:///m.db"),
    }


@pytest.mark.parametrize("key", ["page_size", "databases", "Page_Size"])
def test_unknown_override_key(key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(repr(key))):
        load_config({}, {key: 1})


@pytest.mark.parametrize(
    "overrides",
    [
        {"PAGE_SIZE": "50"},
        {"PAGE_SIZE": -1},
        {"COUNT_CAP": 1.5},
        {"PAGE_SIZE": 600},
        {"DATABASES": {"bad name": "sqlite://"}},
    ],
)
def test_bad_overrides(overrides: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        load_config({}, overrides)


# --- secret key --------------------------------------------------------------------------------


def test_random_secret_key_when_none_is_given() -> None:
    first = load_config({})["SECRET_KEY"]
    second = load_config({})["SECRET_KEY"]
    assert first != second
    assert re.fullmatch(r"[0-9a-f]{64}", first)


def test_secret_key_from_the_environment() -> None:
    assert load_config({"ROWBOAT_SECRET_KEY": "s3cret"})["SECRET_KEY"] == "s3cret"
    assert load_config({"SECRET_KEY": "plain"})["SECRET_KEY"] == "plain"
    both = {"ROWBOAT_SECRET_KEY": "rowboat", "SECRET_KEY": "plain"}
    assert load_config(both)["SECRET_KEY"] == "rowboat"


def test_empty_secret_key_is_replaced() -> None:
    key = load_config({"ROWBOAT_SECRET_KEY": ""})["SECRET_KEY"]
    assert re.fullmatch(r"[0-9a-f]{64}", key)


def test_secret_key_override() -> None:
    assert load_config({"ROWBOAT_SECRET_KEY": "env"}, {"SECRET_KEY": "o"})["SECRET_KEY"] == "o"
