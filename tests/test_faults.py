"""Fault injection: a hung, slow, cut, restarting or locked database never takes the dashboard
down. Its pages answer 503 with Retry-After within a deadline, naming it by its Rowboat name
only; another database of the same app keeps answering; a save the database could not make
comes back with the user's values and says it was not saved.

PostgreSQL and MariaDB are reached through ``faultproxy.FaultProxy`` (a TCP proxy of our own
that can pass, delay, blackhole and cut traffic); a private PostgreSQL cluster on port 5433 is
restarted and killed for real; SQLite is locked by a second connection.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import ENV_TO_CLEAR, Page, _unreachable, fresh_database
from faultproxy import FaultProxy
from flask import Flask
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.engine import make_url
from test_edit_support import form_data, with_values

from rowboat import create_app

STATEMENT = 1.0
CONNECT = 2.0
# What "bounded" means here: the statement limit plus the connect timeout (the watchdog's
# allowance), three times over for a loaded two-core machine.
DEADLINE = 3 * (STATEMENT + CONNECT)
PORTS = {"postgresql": 5432, "mariadb": 3306}

metadata = MetaData()
kind = Table("kind", metadata, Column("id", Integer, primary_key=True), Column("name", String(40)))
item = Table(
    "item",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(40), nullable=False),
    Column("kind_id", Integer, ForeignKey("kind.id")),
)


def _fill(url: str) -> None:
    engine = create_engine(url)
    try:
        metadata.drop_all(engine)
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(kind.insert(), [{"id": 1, "name": "plain"}])
            connection.execute(
                item.insert(), [{"id": i, "name": f"item {i}", "kind_id": 1} for i in (1, 2, 3)]
            )
    finally:
        engine.dispose()


def _name_of(url: str, item_id: int = 1) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(select(item.c.name).where(item.c.id == item_id)).scalar())
    finally:
        engine.dispose()


def _app(databases: dict[str, str], tmp_path: Any, **settings: Any) -> Flask:
    app = create_app(
        {
            "DATABASES": {name: {"url": url} for name, url in databases.items()},
            "DEMO_PATH": str(tmp_path / "demo.sqlite"),
            "STATEMENT_TIMEOUT": STATEMENT,
            "CONNECT_TIMEOUT": CONNECT,
            "DISCOVERY_WAIT": 3.0,
            "HEALTH_TIMEOUT": 1.0,
            "POOL_TIMEOUT": 2.0,
            "WTF_CSRF_ENABLED": False,
            **settings,
        }
    )
    app.config["TESTING"] = True
    return app


def _dispose(app: Flask) -> None:
    for database in app.extensions["rowboat.databases"].values():
        database.engine.dispose()


def _via(url: str, port: int) -> str:
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.monotonic()
    result = call()
    return time.monotonic() - started, result


def _assert_discreet(body: str, url: str, *ports: int) -> None:
    """The page names no host, port or user of the server."""
    parsed = make_url(url)
    for secret in (parsed.host, parsed.username, *[str(p) for p in ports]):
        # Whole words: the user "postgres" may not be shown, the dialect "postgresql" may.
        assert secret and not re.search(rf"\b{re.escape(secret)}\b", body), f"{secret!r} shown"


def _assert_unavailable(response: Any, name: str) -> str:
    assert response.status_code == 503, response.get_data(as_text=True)[:2000]
    assert int(response.headers["Retry-After"]) >= 1
    body = response.get_data(as_text=True)
    assert repr(name) in body or f"&#39;{name}&#39;" in body
    return body


# --- PostgreSQL and MariaDB through the proxy ----------------------------------------------------


@pytest.fixture(scope="module", params=["postgresql", "mariadb"])
def server_url(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[str]:
    with fresh_database(request.param, "rowboat_faults", tmp_path_factory) as url:
        yield url


@pytest.fixture
def proxy(server_url: str) -> Iterator[FaultProxy]:
    _fill(server_url)
    port = make_url(server_url).port or PORTS["mariadb" if "mysql" in server_url else "postgresql"]
    with FaultProxy(port) as running:
        yield running


@pytest.fixture
def two_apps(
    server_url: str, proxy: FaultProxy, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    """One app, two databases: ``flaky`` through the proxy, ``steady`` straight to the server
    (the same database)."""
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    app = _app({"flaky": _via(server_url, proxy.port), "steady": server_url}, tmp_path)
    yield app
    proxy.set("pass")
    proxy.cut()
    _dispose(app)


def _warm(client: Any) -> None:
    for name in ("flaky", "steady"):
        assert client.get(f"/{name}/item").status_code == 200


def test_a_hung_database_answers_503_in_time_and_the_other_keeps_answering(
    two_apps: Flask, proxy: FaultProxy, server_url: str
) -> None:
    client = two_apps.test_client()
    _warm(client)
    proxy.set("blackhole")
    hung: dict[str, Any] = {}

    def ask_hung() -> None:
        hung["seconds"], hung["response"] = _timed(
            lambda: two_apps.test_client().get("/flaky/item")
        )

    thread = threading.Thread(target=ask_hung)
    thread.start()
    time.sleep(0.2)  # the hung request is waiting on its connection now
    seconds, steady = _timed(lambda: client.get("/steady/item"))
    assert steady.status_code == 200
    assert seconds < STATEMENT + CONNECT  # never waits for the hung one
    thread.join(timeout=DEADLINE * 3)
    assert not thread.is_alive()
    assert hung["seconds"] < DEADLINE
    body = _assert_unavailable(hung["response"], "flaky")
    _assert_discreet(body, server_url, proxy.port, make_url(server_url).port or 0)

    # A fresh connection through the blackhole (the pool's was dropped) times out connecting.
    seconds, again = _timed(lambda: client.get("/flaky/item/1"))
    assert seconds < DEADLINE
    _assert_unavailable(again, "flaky")
    assert client.get("/steady/item/1").status_code == 200

    proxy.set("pass")
    assert client.get("/flaky/item").status_code == 200  # recovered, no restart needed


def test_an_app_started_against_a_hung_database_reads_its_tables_in_time(
    server_url: str, proxy: FaultProxy, tmp_path: Any
) -> None:
    proxy.set("blackhole")
    app = _app({"flaky": _via(server_url, proxy.port), "steady": server_url}, tmp_path)
    try:
        client = app.test_client()
        results: list[tuple[float, Any]] = []

        def ask() -> None:
            results.append(_timed(lambda: app.test_client().get("/flaky/item")))

        # Several first requests at once: one discovers, the others wait a bounded time.
        threads = [threading.Thread(target=ask) for _ in range(3)]
        for thread in threads:
            thread.start()
        assert client.get("/steady/item").status_code == 200
        for thread in threads:
            thread.join(timeout=DEADLINE * 3)
        assert len(results) == 3
        for seconds, response in results:
            assert seconds < DEADLINE
            body = _assert_unavailable(response, "flaky")
            _assert_discreet(body, server_url, proxy.port)
        home = client.get("/")
        assert home.status_code == 200
        _assert_discreet(home.get_data(as_text=True), server_url, proxy.port)
    finally:
        proxy.set("pass")
        proxy.cut()
        _dispose(app)


def test_healthz_checks_in_parallel_within_its_timeout_and_names_no_host(
    two_apps: Flask, proxy: FaultProxy, server_url: str
) -> None:
    client = two_apps.test_client()
    _warm(client)
    proxy.set("blackhole")
    time.sleep(1.1)  # idle long enough to be pinged: the ping hangs
    seconds, response = _timed(lambda: client.get("/healthz"))
    assert seconds < 1.0 + 2.0  # HEALTH_TIMEOUT, whatever the hung database does
    assert response.status_code == 503
    payload = response.get_json()
    assert payload["databases"]["steady"]["status"] == "up"
    assert payload["databases"]["flaky"]["status"] == "down"
    assert "size" in payload["databases"]["flaky"]["pool"]
    _assert_discreet(response.get_data(as_text=True), server_url, proxy.port)
    # Polled again at once: the same answer, no new check piling up (a new one would wait the
    # whole HEALTH_TIMEOUT on the hung database).
    seconds, cached = _timed(lambda: client.get("/healthz"))
    assert seconds < 1.0 and cached.get_json() == payload


def test_a_slow_database_still_answers_or_times_out_with_503(
    two_apps: Flask, proxy: FaultProxy
) -> None:
    client = two_apps.test_client()
    _warm(client)
    proxy.set("delay", 0.05)
    assert client.get("/flaky/item").status_code == 200
    proxy.set("delay", 30)
    seconds, response = _timed(lambda: client.get("/flaky/item/2"))
    assert seconds < DEADLINE
    _assert_unavailable(response, "flaky")
    proxy.set("pass")
    proxy.cut()
    assert client.get("/flaky/item/2").status_code == 200


def test_cut_connections_answer_503_then_recover(two_apps: Flask, proxy: FaultProxy) -> None:
    client = two_apps.test_client()
    _warm(client)
    proxy.set("refuse")
    proxy.cut()
    response = client.get("/flaky/item")
    _assert_unavailable(response, "flaky")
    assert client.get("/flaky/item/1").status_code == 503  # and new connections fail too
    proxy.set("pass")
    assert client.get("/flaky/item").status_code == 200
    assert client.get("/steady/item").status_code == 200


def test_a_wrong_login_is_503_without_host_or_user(
    server_url: str, tmp_path: Any, proxy: FaultProxy
) -> None:
    # PostgreSQL trusts local users whatever their password: an unknown role is refused.
    wrong = make_url(server_url).set(username="rowboat_nobody", password="wrong-secret")
    wrong_url = wrong.render_as_string(hide_password=False)
    app = _app({"locked": wrong_url}, tmp_path)
    try:
        client = app.test_client()
        body = _assert_unavailable(client.get("/locked/item"), "locked")
        assert "login" in body
        for path in ("/locked/item", "/locked", "/"):  # the database's own page and home: 200
            body = client.get(path).get_data(as_text=True)
            assert "login" in body
            _assert_discreet(body, wrong_url, make_url(server_url).port or 0)
            assert "wrong-secret" not in body
    finally:
        _dispose(app)


# --- a save the database could not make -----------------------------------------------------------


def test_a_save_on_a_lost_connection_keeps_the_values_and_says_not_saved(
    two_apps: Flask, proxy: FaultProxy, server_url: str, read: Callable[[Any], Page]
) -> None:
    client = two_apps.test_client()
    data = form_data(read(client.get("/flaky/item/1/-/edit")))
    proxy.set("refuse")
    proxy.cut()
    seconds, response = _timed(
        lambda: client.post("/flaky/item/1/-/edit", data=with_values(data, name="typed by me"))
    )
    assert seconds < DEADLINE
    assert response.status_code == 503 and response.headers["Retry-After"]
    body = response.get_data(as_text=True)
    page = read(response)
    assert form_data(page)["name"] == "typed by me"
    assert "Not saved" in body and "rolled back" in body
    _assert_discreet(body, server_url, proxy.port)

    created = client.post(
        "/flaky/item/-/new", data={"id": "9", "name": "new and typed", "kind_id": "1"}
    )
    assert created.status_code == 503
    assert form_data(read(created))["name"] == "new and typed"
    proxy.set("pass")
    assert _name_of(server_url) == "item 1"  # nothing was written
    saved = client.post("/flaky/item/1/-/edit", data=with_values(data, name="typed by me"))
    assert saved.status_code == 302  # the same values save once the database is back
    assert _name_of(server_url) == "typed by me"


def test_a_connection_lost_during_commit_says_the_outcome_is_unknown(
    two_apps: Flask, proxy: FaultProxy, read: Callable[[Any], Page]
) -> None:
    client = two_apps.test_client()
    data = form_data(read(client.get("/flaky/item/2/-/edit")))
    engine = two_apps.extensions["rowboat.databases"]["flaky"].engine

    def cut_before_commit(_conn: Any) -> None:
        proxy.set("refuse")
        proxy.cut()

    event.listen(engine, "commit", cut_before_commit)
    try:
        response = client.post("/flaky/item/2/-/edit", data=with_values(data, name="maybe"))
    finally:
        event.remove(engine, "commit", cut_before_commit)
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "unknown" in body and "cannot tell whether" in body
    assert "Nothing was changed" not in body
    assert form_data(read(response))["name"] == "maybe"


# --- a real restart and kill -9 of a private PostgreSQL cluster ----------------------------------

CLUSTER = ("15", "faults")
CLUSTER_PORT = 5433
CLUSTER_URL = f"postgresql+psycopg2://postgres@127.0.0.1:{CLUSTER_PORT}/postgres"


def _ctl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pg_ctlcluster", *CLUSTER, *args], capture_output=True, text=True, check=check, timeout=60
    )


def _cluster_answers() -> bool:
    engine = create_engine(CLUSTER_URL, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001
        return False
    finally:
        engine.dispose()


def _start_cluster() -> None:
    deadline = time.monotonic() + 30
    while True:  # after kill -9 the old backends may take a moment to go
        result = _ctl("start", check=False)
        if result.returncode == 0 or _cluster_answers():
            break
        if time.monotonic() > deadline:
            raise RuntimeError(result.stderr)
        time.sleep(0.5)
    while not _cluster_answers():
        if time.monotonic() > deadline:
            raise RuntimeError("the private cluster did not come up")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def private_cluster() -> Iterator[str]:
    """PostgreSQL 15 cluster "faults" on port 5433, created if missing (trust on 127.0.0.1),
    started for these tests and stopped after them. The shared servers are never touched."""
    try:
        listed = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True)
        if not any(line.split()[:2] == list(CLUSTER) for line in listed.stdout.splitlines()):
            subprocess.run(
                [
                    "pg_createcluster",
                    *CLUSTER,
                    "--port",
                    str(CLUSTER_PORT),
                    "--start-conf",
                    "manual",
                    "--",
                    "--auth-host=trust",
                    "--auth-local=trust",
                ],
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
        _start_cluster()
    except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
        _unreachable("private PostgreSQL cluster on 5433", exc)
    try:
        yield CLUSTER_URL
    finally:
        _ctl("stop", "-m", "fast", check=False)


def _postmaster_pid() -> int:
    data = subprocess.run(
        ["pg_lsclusters", "-h"], capture_output=True, text=True, check=True
    ).stdout
    for line in data.splitlines():
        fields = line.split()
        if fields[:2] == list(CLUSTER):
            with open(os.path.join(fields[5], "postmaster.pid")) as pid_file:
                return int(pid_file.readline())
    raise RuntimeError("no private cluster")


@pytest.mark.parametrize("how", ["restart", "kill -9"])
def test_a_real_restart_or_crash_answers_503_then_recovers(
    private_cluster: str, how: str, tmp_path: Any, read: Callable[[Any], Page]
) -> None:
    setup = create_engine(private_cluster)
    try:
        metadata.drop_all(setup)
        metadata.create_all(setup)
        with setup.begin() as connection:
            connection.execute(kind.insert(), [{"id": 1, "name": "plain"}])
            connection.execute(item.insert(), [{"id": 1, "name": "before", "kind_id": 1}])
    finally:
        setup.dispose()
    app = _app({"pg": private_cluster}, tmp_path)
    try:
        client = app.test_client()
        data = form_data(read(client.get("/pg/item/1/-/edit")))
        if how == "restart":
            _ctl("stop", "-m", "fast")
        else:
            os.kill(_postmaster_pid(), 9)
            time.sleep(0.5)
        seconds, response = _timed(lambda: client.get("/pg/item"))
        assert seconds < DEADLINE
        _assert_unavailable(response, "pg")
        _assert_discreet(response.get_data(as_text=True), private_cluster, CLUSTER_PORT)
        saved = client.post("/pg/item/1/-/edit", data=with_values(data, name="while down"))
        assert saved.status_code == 503
        assert form_data(read(saved))["name"] == "while down"
        assert client.get("/healthz").status_code == 503
        _start_cluster()
        assert client.get("/pg/item").status_code == 200
        saved = client.post("/pg/item/1/-/edit", data=with_values(data, name="after"))
        assert saved.status_code == 302
    finally:
        _dispose(app)
        if not _cluster_answers():
            _start_cluster()


# --- SQLite: a file another connection holds locked ------------------------------------------


@pytest.fixture
def sqlite_app(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Flask, str]]:
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    path = str(tmp_path / "locked.sqlite")
    url = f"sqlite:///{path}"
    _fill(url)
    app = _app({"file": url}, tmp_path)
    yield app, path
    _dispose(app)


def test_sqlite_locked_by_another_connection_answers_busy_with_the_values_kept(
    sqlite_app: tuple[Flask, str], read: Callable[[Any], Page]
) -> None:
    app, path = sqlite_app
    client = app.test_client()
    data = form_data(read(client.get("/file/item/1/-/edit")))
    other = sqlite3.connect(path, isolation_level=None)
    try:
        # A writer that has not committed yet: reads go on, a save waits, then 503.
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE item SET name = 'theirs' WHERE id = 3")
        assert client.get("/file/item").status_code == 200
        seconds, response = _timed(
            lambda: client.post("/file/item/1/-/edit", data=with_values(data, name="mine"))
        )
        assert seconds < DEADLINE
        assert response.status_code == 503 and response.headers["Retry-After"]
        body = response.get_data(as_text=True)
        assert "busy" in body and "Not saved" in body
        assert form_data(read(response))["name"] == "mine"
        other.execute("ROLLBACK")

        # An exclusive lock keeps readers out as well: a 503, never a 500.
        other.execute("BEGIN EXCLUSIVE")
        seconds, response = _timed(
            lambda: client.post("/file/item/1/-/edit", data=with_values(data, name="mine"))
        )
        assert seconds < DEADLINE
        assert response.status_code == 503
        assert form_data(read(response))["name"] == "mine"
        seconds, listing = _timed(lambda: client.get("/file/item/2"))
        assert seconds < DEADLINE
        _assert_unavailable(listing, "file")
        other.execute("ROLLBACK")
    finally:
        other.close()
    saved = client.post("/file/item/1/-/edit", data=with_values(data, name="mine"))
    assert saved.status_code == 302
    assert _name_of(f"sqlite:///{path}") == "mine"
