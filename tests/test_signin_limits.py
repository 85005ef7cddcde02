"""Failed sign-ins are limited per account and per client address (in memory or in Redis)."""

from __future__ import annotations

import os
import random
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from signin_accounts_support import (
    add_user,
    cheap_hashing,  # noqa: F401 (autouse)
    is_signed_in,
    make_data,
    problem,
    sign_in,
    signin_app,
    state_url,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
LIMITS = {"LOGIN_LIMIT_ACCOUNT": "3 per 15 minutes", "LOGIN_LIMIT_ADDRESS": "5 per 15 minutes"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    folder = tmp_path_factory.mktemp("limits")
    with signin_app(folder, make_data(folder / "data.sqlite"), **LIMITS) as application:
        yield application


def _address() -> str:
    """A client address of this test alone (also across runs sharing one Redis)."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def _blocked(response: object) -> None:
    assert response.status_code == 429  # type: ignore[attr-defined]
    retry = int(response.headers["Retry-After"])  # type: ignore[attr-defined]
    assert 1 <= retry <= 15 * 60
    message = problem(response)  # type: ignore[arg-type]
    assert "Too many failed sign-ins" in message and "Try again in" in message


def test_one_account_tried_from_many_addresses_is_blocked(app: Flask) -> None:
    add_user(app, "gus", "viewer")
    add_user(app, "hal", "viewer")
    for _ in range(3):
        answer = sign_in(app.test_client(), "gus", "a-wrong-guess", address=_address())
        assert answer.status_code == 200
    client = app.test_client()
    _blocked(sign_in(client, "gus", "gus-password", address=_address()))  # even the right one
    assert not is_signed_in(client)
    # Another account is not slowed down by gus's failures, from any address.
    assert sign_in(app.test_client(), "hal", "hal-password", address=_address()).status_code == 303


def test_a_name_that_does_not_exist_is_counted_alike(app: Flask) -> None:
    for _ in range(3):
        sign_in(app.test_client(), "nobody-at-all", "a-wrong-guess", address=_address())
    _blocked(sign_in(app.test_client(), "nobody-at-all", "whatever1", address=_address()))


def test_many_names_from_one_address_are_blocked(app: Flask) -> None:
    add_user(app, "ida", "viewer")
    address = _address()
    for number in range(5):
        answer = sign_in(app.test_client(), f"guess{number}", "a-wrong-guess", address=address)
        assert answer.status_code == 200
    client = app.test_client()
    _blocked(sign_in(client, "ida", "ida-password", address=address))
    assert not is_signed_in(client)
    assert sign_in(app.test_client(), "ida", "ida-password", address=_address()).status_code == 303


def test_correct_sign_ins_are_not_counted(app: Flask) -> None:
    add_user(app, "jay", "viewer")
    address = _address()
    for _ in range(7):  # more than either limit
        assert sign_in(app.test_client(), "jay", "jay-password", address=address).status_code == 303


def test_the_address_is_the_proxys_client_only_with_proxies(tmp_path: Path) -> None:
    """Without PROXIES, X-Forwarded-For cannot give each guess a new address."""
    with signin_app(tmp_path, make_data(tmp_path / "data.sqlite"), **LIMITS) as direct:
        for number in range(5):
            sign_in(
                direct.test_client(),
                f"name{number}",
                "a-wrong-guess",
                headers={"X-Forwarded-For": _address()},
            )
        _blocked(
            sign_in(
                direct.test_client(), "name9", "x-guess-1", headers={"X-Forwarded-For": _address()}
            )
        )


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is unreachable: {exc}")
        pytest.skip(f"Redis is unreachable: {exc}")


def test_two_instances_share_the_count_in_redis(tmp_path: Path) -> None:
    _redis_or_skip()
    data = make_data(tmp_path / "data.sqlite")
    name = f"u{secrets.token_hex(6)}"  # unique: the counts outlive the run in Redis
    shared = {**LIMITS, "REDIS_URL": REDIS_URL, "STATE_URL": state_url(tmp_path)}
    with signin_app(tmp_path, data, **shared) as one, signin_app(tmp_path, data, **shared) as two:
        add_user(one, name, "viewer")
        two.extensions["rowboat.directory"].forget()
        sign_in(one.test_client(), name, "a-wrong-guess", address=_address())
        sign_in(two.test_client(), name, "a-wrong-guess", address=_address())
        sign_in(one.test_client(), name, "a-wrong-guess", address=_address())
        _blocked(sign_in(two.test_client(), name, f"{name}-password", address=_address()))
        # The address limit is shared too.
        address = _address()
        for number in range(5):
            instance = one if number % 2 else two
            sign_in(instance.test_client(), f"{name}x{number}", "a-wrong-guess", address=address)
        _blocked(sign_in(one.test_client(), f"{name}y", "a-wrong-guess", address=address))


def test_without_redis_each_instance_counts_its_own(tmp_path: Path) -> None:
    data = make_data(tmp_path / "data.sqlite")
    shared = {**LIMITS, "STATE_URL": state_url(tmp_path)}
    with signin_app(tmp_path, data, **shared) as one, signin_app(tmp_path, data, **shared) as two:
        add_user(one, "kai", "viewer")
        for _ in range(3):
            sign_in(one.test_client(), "kai", "a-wrong-guess", address=_address())
        _blocked(sign_in(one.test_client(), "kai", "kai-password", address=_address()))
        assert (
            sign_in(two.test_client(), "kai", "kai-password", address=_address()).status_code == 303
        )
