"""Rowboat against the floor on a big orders table: list pages, row pages, lookups and exports.

    .venv/bin/python bench/listpages.py postgresql mariadb --orders 5000000

For each engine it builds the dataset in ``rowboat_bench`` (``bench/dataset.py``; kept when it
already holds that many orders, ``--rebuild`` to force), starts Rowboat (``gunicorn wsgi:app``)
and the floor app (``bench/floor_app.py``) with 2 gunicorn workers each on free ports of
127.0.0.1, drives every page of both with ``wrk`` (2 connections, ``--duration`` seconds a
case), streams the CSV export against ``psql \\copy`` (``mysql --quick`` on MariaDB) to
/dev/null while sampling the Rowboat workers' resident memory, times the list template's
render per row in-process against the floor's, and prints one table where every figure has
its ratio to the floor beside it. Needs ``wrk`` (Debian: ``apt-get install wrk``).

Then sign-in's cost: a second Rowboat with sign-in on (``ROWBOAT_AUTH=on``, a state database
of its own) beside the first (``ROWBOAT_AUTH=off``), the list page, the row page and the edit
form asked of both in turn, by a client that holds its session cookie as a browser does: an
editor granted write on the database, signed in through the sign-in form, against the same
client with sign-in off. The two take ``--rounds`` turns (median shown), and beside req/s
each side's CPU per request (its gunicorn workers' user + system time over wrk's requests),
which a busy machine moves far less. ``--auth-only`` runs only that table.

Then the audit log's cost on a save: two Rowboats, ``ROWBOAT_AUDIT=off`` and ``on`` (sign-in off
on both, each with a SQLite state database in a temporary folder), each sent edit-form POSTs
that change ``orders.note`` every time (alternating two values, so every save writes one
column and, with auditing on, records one entry). A Python client (``--connections`` threads,
one row each, a session cookie and CSRF token each) learns both values' fingerprints once, so
the timed loop is POSTs only; the rounds and the CPU per request are as for sign-in.
``--audit-only`` runs only that table.

``--baseline CHECKOUT`` runs only the list pages and the row page of this checkout against
another checkout of Rowboat (a worktree of the last release, with a ``.venv`` of its own), both
with sign-in and auditing off, in turn as above: what a change did to the list pages' speed.
"""

from __future__ import annotations

import argparse
import http.client
import http.cookiejar
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import dataset  # noqa: E402  (bench/dataset.py)
import servers  # noqa: E402  (bench/servers.py)

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SECRET = "bench-only-secret"  # two workers must share it for the edit form's CSRF token
EDITOR, EDITOR_PASSWORD = "bench-editor", "bench-editor-password"
USER_AGENT = "rowboat-bench"  # the same for urllib and wrk: sign-in ties a session to it
STATE = Path(tempfile.mkdtemp(prefix="rowboat-bench-state-"))  # never instance/state.sqlite


# --audit-state postgresql: the audit comparison keeps its state databases on PostgreSQL.
AUDIT_STATE = {"engine": "sqlite"}


def state_url(name: str) -> str:
    if name.startswith("audit-") and AUDIT_STATE["engine"] == "postgresql":
        return servers.database_url("postgresql", "rowboat_bench_" + name.replace("-", "_"))
    return f"sqlite:///{STATE / (name + '.sqlite')}"


def fresh_audit_states(engine_name: str) -> None:
    """Empty PostgreSQL state databases for the audit comparison (--audit-state postgresql)."""
    if AUDIT_STATE["engine"] != "postgresql":
        return
    for side in ("off", "on"):
        database = f"rowboat_bench_audit_{side}_{engine_name}"
        servers.admin("postgresql", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        servers.admin("postgresql", f"CREATE DATABASE {database}")


# --- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def cpu_seconds(self) -> float:
        """User + system CPU its workers have used so far (steadier than req/s on a busy box)."""
        ticks = 0
        for pid in self.workers():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start(name: str, app: str, cwd: Path, env: dict[str, str], venv_bin: Path = VENV_BIN) -> Server:
    port = free_port()
    command = [str(venv_bin / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", app]
    command += ["--timeout", "600", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **env})
    server = Server(name, process, port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(server.base + "/", timeout=2).read()
            return server
        except urllib.error.HTTPError:  # it answers: a 404 will do
            return server
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"{name} exited with status {process.returncode}") from None
            time.sleep(0.2)
    server.stop()
    raise SystemExit(f"{name} did not answer within 30 s")


def get(url: str, timeout: float = 60) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode("utf-8")


# --- load -----------------------------------------------------------------------------------


@dataclass
class Load:
    rps: float
    p50: float  # seconds
    p99: float
    errors: int
    requests: int = 0

    def cells(self) -> tuple[str, str, str]:
        return f"{self.rps:,.1f}", _ms(self.p50), _ms(self.p99)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.1f} s"


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, duration: int, connections: int, headers: dict[str, str] | None = None) -> Load:
    command = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{duration}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command += ["--timeout", "30s", url]
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 60, check=True
    ).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    timeouts = re.search(r"Socket errors: .*timeout (\d+)", output)
    return Load(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        p50=_seconds(percentiles.get("50", "0s")),
        p99=_seconds(percentiles.get("99", "0s")),
        errors=sum(int(m.group(1)) for m in (errors, timeouts) if m),
        requests=int(re.search(r"(\d+) requests in", output).group(1)),
    )


def warm(url: str, budget: float) -> list[float]:
    """A few requests, within ``budget`` seconds: the seconds each took (errors included)."""
    timings: list[float] = []
    deadline = time.monotonic() + budget
    while len(timings) < 4 and time.monotonic() < deadline:
        started = time.monotonic()
        try:
            urllib.request.urlopen(url, timeout=budget).read()
        except OSError:  # an error page or a timeout still warms the worker
            pass
        timings.append(time.monotonic() - started)
    return timings


def wrk_or_timed(
    url: str, duration: int, connections: int, headers: dict[str, str] | None = None
) -> Load:
    """wrk, or, when its requests were too slow for it to record latencies, timed requests."""
    load = wrk(url, duration, connections, headers)
    if load.p50 == 0 or load.p99 < load.p50:  # wrk prints 0 for latencies it did not bin
        timings = sorted(warm(url, duration * 3))
        load.p50, load.p99 = statistics.median(timings), timings[-1]
    return load


# --- export ---------------------------------------------------------------------------------


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) if match else 0


def export_rowboat(server: Server, path: str) -> tuple[int, float, float]:
    """Stream one export to nowhere: (rows, seconds, peak RSS growth of a worker in MB)."""
    workers = server.workers()
    before = {pid: _rss_kb(pid) for pid in workers}
    peak = dict(before)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            for pid in workers:
                peak[pid] = max(peak[pid], _rss_kb(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    lines = 0
    with urllib.request.urlopen(server.base + path, timeout=900) as response:
        while chunk := response.read(1 << 20):
            lines += chunk.count(b"\n")
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    growth = max(peak[pid] - before[pid] for pid in workers) / 1024
    return lines - 1, seconds, growth  # minus the header line


def export_floor(engine_name: str) -> tuple[float, str]:
    """The client tool's own export of the same rows to /dev/null: (seconds, what ran)."""
    query = "SELECT * FROM orders ORDER BY id"
    if engine_name == "postgresql":
        command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", dataset.BENCH_DB, "-c"]
        command.append(f"\\copy ({query}) TO '/dev/null' WITH (FORMAT csv, HEADER)")
        label = "psql \\copy"
    else:
        command = ["mysql", "-h", "127.0.0.1", "-uroot", "--quick", "--batch", dataset.BENCH_DB]
        command += ["-e", query]
        label = "mysql --quick"
    started = time.monotonic()
    with open(os.devnull, "wb") as sink:
        subprocess.run(command, stdout=sink, check=True, timeout=900)
    return time.monotonic() - started, label


# --- render cost ----------------------------------------------------------------------------


def render_per_row(app: object, list_path: str, sizes: tuple[int, int] = (50, 500)) -> float:
    """Seconds of template rendering per row: (render at 500 rows - at 50 rows) / 450, medians."""
    from flask import before_render_template, template_rendered

    timings: list[float] = []
    clock: list[float] = []

    def before(*_args: object, **_kw: object) -> None:
        clock.append(time.perf_counter())

    def after(*_args: object, **_kw: object) -> None:
        timings.append(time.perf_counter() - clock.pop())

    before_render_template.connect(before, app)
    template_rendered.connect(after, app)
    client = app.test_client()
    medians = []
    for size in sizes:
        url = list_path.format(size=size)
        client.get(url)  # warm: catalog, template compilation
        timings.clear()
        deadline = time.monotonic() + 10
        for _ in range(30):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            if time.monotonic() > deadline:
                break
        medians.append(statistics.median(timings))
    before_render_template.disconnect(before, app)
    template_rendered.disconnect(after, app)
    return (medians[1] - medians[0]) / (sizes[1] - sizes[0])


def render_costs(url: str) -> tuple[float, float]:
    """(Rowboat's, the floor's) list-template render seconds per row, in this process."""
    os.environ["FLOOR_DATABASE_URL"] = url
    import floor_app

    from rowboat import create_app

    settings = {"DATABASES": {"bench": url}, "SECRET_KEY": SECRET, "AUTH": False}
    rowboat = create_app({**settings, "STATE_URL": state_url("render")})
    return (
        render_per_row(rowboat, "/bench/orders?_size={size}"),
        render_per_row(floor_app.app, "/orders?limit={size}"),
    )


# --- the run --------------------------------------------------------------------------------


def cases(rowboat: Server, orders: int) -> list[tuple[str, str, str]]:
    """(what, Rowboat path, floor path) for every page measured with wrk."""
    last = get(rowboat.base + "/bench/orders?_last=1")
    prev = re.search(r'rel="prev" class="prev" href="([^"]+)"', last).group(1).replace("&amp;", "&")
    before = orders - 49  # the floor's page before its last: ids below the last 50
    key = orders // 2
    customer = 4242 % max(orders // 25, 10) + 1
    edit = f"/bench/orders/{key}/-/edit"
    has_edit = urllib.request.urlopen(rowboat.base + edit, timeout=60).status == 200
    has_lookup = "lookup.json" in get(rowboat.base + edit)
    return [
        ("list page 1", "/bench/orders", "/orders"),
        ("deep page (prev of last)", prev, f"/orders?before={before}"),
        ("sort, indexed (created_at)", "/bench/orders?_sort=created_at", "/orders?sort=created_at"),
        ("sort, unindexed (amount)", "/bench/orders?_sort=amount", "/orders?sort=amount"),
        (
            "filter, indexed (customer_id)",
            f"/bench/orders?customer_id={customer}",
            f"/orders?customer_id={customer}",
        ),
        (
            "filter, unindexed (amount >)",
            "/bench/orders?amount__gt=99999.9",
            "/orders?amount_gt=99999.9",
        ),
        ("text search (gift)", "/bench/orders?_search=gift", "/orders?q=gift"),
        ("row page", f"/bench/orders/{key}", f"/orders/{key}"),
        ("edit form", edit if has_edit else "", f"/orders/{key}/edit"),
        (
            "FK lookup on customers (kowal)",
            "/bench/customers/-/lookup.json?q=kowal" if has_lookup else "",
            "/customers/lookup.json?q=kowal",
        ),
    ]


def ratio(value: float, floor: float) -> str:
    return f"{value / floor:.2f}×" if floor else "-"


def run_engine(engine_name: str, options: argparse.Namespace) -> list[str]:
    url = dataset.URLS[engine_name]
    if options.rebuild or dataset.existing_orders(engine_name) != options.orders:
        seconds = dataset.create(engine_name, options.orders)
        print(f"{engine_name}: built {options.orders:,} orders in {seconds:.0f} s", flush=True)
    if options.audit_only:
        return run_audit(engine_name, options)
    if options.auth_only:
        return run_auth(engine_name, options)
    if options.baseline:
        return run_baseline(engine_name, options)
    rowboat = start("rowboat", "wsgi:app", ROOT, rowboat_env(url, auth=False))
    try:
        floor = start("floor", "floor_app:app", ROOT / "bench", {"FLOOR_DATABASE_URL": url})
    except BaseException:
        rowboat.stop()
        raise
    lines = [
        f"### {engine_name}: {options.orders:,} orders, {max(options.orders // 25, 10):,} "
        f"customers; wrk -c{options.connections} -d{options.duration}s per case",
        "",
        "| case | Rowboat req/s | p50 | p99 | floor req/s | p50 | p99 "
        "| req/s ratio | p99 ratio | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    try:
        for what, ours, theirs in cases(rowboat, options.orders):
            if not ours:
                lines.append(f"| {what} | n/a (not built yet) | | | | | | | | |")
                continue
            for server, path in ((rowboat, ours), (floor, theirs)):  # warm both workers
                warm(server.base + path, options.duration)
            mine = wrk_or_timed(rowboat.base + ours, options.duration, options.connections)
            base = wrk_or_timed(floor.base + theirs, options.duration, options.connections)
            lines.append(
                f"| {what} | {' | '.join(mine.cells())} | {' | '.join(base.cells())} "
                f"| {ratio(mine.rps, base.rps)} | {ratio(mine.p99, base.p99)} "
                f"| {mine.errors or ''} |"
            )
            print(lines[-1], flush=True)
        if not options.no_export:
            rows, seconds, growth = export_rowboat(rowboat, "/bench/-/export/orders.csv")
            floor_seconds, tool = export_floor(engine_name)
            lines.append(
                f"| CSV export, {rows:,} rows (floor: {tool}) | {rows / seconds:,.0f} rows/s "
                f"| {seconds:.1f} s | peak RSS +{growth:.0f} MB "
                f"| {options.orders / floor_seconds:,.0f} rows/s | {floor_seconds:.1f} s | "
                f"| {ratio(floor_seconds, seconds)} | | |"
            )
            print(lines[-1], flush=True)
    finally:
        rowboat.stop()
        floor.stop()
    ours, theirs = render_costs(url)
    lines.append(
        f"| list template render per row (in-process) | {ours * 1e6:.1f} µs | | "
        f"| {theirs * 1e6:.1f} µs | | | {ratio(ours, theirs)} (time) | | |"
    )
    print(lines[-1], flush=True)
    return lines + [""] + run_auth(engine_name, options) + [""] + run_audit(engine_name, options)


# --- sign-in's cost -------------------------------------------------------------------------


def rowboat_env(
    url: str, auth: bool, audit: bool = True, state: str | None = None
) -> dict[str, str]:
    """Rowboat on the bench database, sign-in on or off, auditing on or off, with a state
    database of its own (named ``state``; by default after sign-in: "on" or "off")."""
    return {
        "ROWBOAT_DATABASES": f"bench={url}",
        "ROWBOAT_SECRET_KEY": SECRET,
        "DATABASE_URL": "",
        "ROWBOAT_AUTH": "on" if auth else "off",
        "ROWBOAT_AUDIT": "on" if audit else "off",
        "ROWBOAT_STATE_URL": state_url(state or ("on" if auth else "off")),
        "ROWBOAT_ADMIN_PASSWORD": "bench-admin-password",
    }


class Visitor:
    """A client that keeps its cookies, as a browser does; its Cookie header goes to wrk."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener.addheaders = [("User-Agent", USER_AGENT)]

    def get(self, path: str) -> tuple[str, str]:
        """(the page, the path it ended on after redirects)."""
        with self.opener.open(self.base + path, timeout=60) as response:
            return response.read().decode("utf-8"), urllib.parse.urlsplit(response.url).path

    def sign_in(self, name: str, password: str) -> None:
        page, _ = self.get("/-/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = {"csrf_token": token, "name": name, "password": password, "next": "/"}
        data = urllib.parse.urlencode(form).encode()
        with self.opener.open(self.base + "/-/login", data=data, timeout=60) as response:
            if urllib.parse.urlsplit(response.url).path != "/":
                raise SystemExit(f"signing in as {name} failed: ended on {response.url}")

    def headers(self) -> dict[str, str]:
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.jar)
        return {"User-Agent": USER_AGENT, **({"Cookie": cookies} if cookies else {})}


def add_editor(url: str) -> None:
    """An editor granted write on the whole bench database (grants are checked, unlike an
    admin's), written straight into the signed-in server's state database."""
    from sqlalchemy import create_engine

    from rowboat.auth import accounts

    engine = create_engine(url)
    try:
        if EDITOR not in {account.name for account in accounts.accounts(engine)}:
            # One state database serves every engine of a run (``STATE``): made once.
            accounts.create_user(engine, EDITOR, "editor", EDITOR_PASSWORD)
        accounts.grant(engine, EDITOR, "bench", "write")
    finally:
        engine.dispose()


def run_auth(engine_name: str, options: argparse.Namespace) -> list[str]:
    url = dataset.URLS[engine_name]
    if dataset.existing_orders(engine_name) is None:
        raise SystemExit(f"{engine_name}: no bench dataset; run without --auth-only first")
    off = start("rowboat, sign-in off", "wsgi:app", ROOT, rowboat_env(url, auth=False))
    try:
        on = start("rowboat, sign-in on", "wsgi:app", ROOT, rowboat_env(url, auth=True))
    except BaseException:
        off.stop()
        raise
    key = options.orders // 2
    paths = [
        ("list page 1", "/bench/orders"),
        ("row page", f"/bench/orders/{key}"),
        ("edit form", f"/bench/orders/{key}/-/edit"),
    ]
    lines = [
        f"### {engine_name}: sign-in on against off, the same pages; "
        f"wrk -c{options.connections} -d{options.duration}s, median of {options.rounds} rounds",
        "",
        "| case | sign-in off req/s | p50 | p99 | CPU/request | signed in req/s | p50 | p99 "
        "| CPU/request | req/s ratio | CPU ratio (off/on) | errors (off / on) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    try:
        add_editor(state_url("on"))
        anonymous, editor = Visitor(off.base), Visitor(on.base)
        editor.sign_in(EDITOR, EDITOR_PASSWORD)
        for visitor in (anonymous, editor):  # the edit form puts a CSRF token in the session
            page, landed = visitor.get(paths[-1][1])
            if landed != paths[-1][1] or 'name="csrf_token"' not in page:
                raise SystemExit(f"{visitor.base}: the edit form did not answer (at {landed})")
        for what, path in paths:
            for visitor in (anonymous, editor):
                _, landed = visitor.get(path)  # a redirect to sign-in would be a fast lie
                if landed != path:
                    raise SystemExit(f"{visitor.base}{path} ended on {landed}")
                for _ in range(4):  # warm the workers, with the cookie
                    visitor.get(path)
            lines.append(f"| {what} | {side_by_side(anonymous, off, editor, on, path, options)} |")
            print(lines[-1], flush=True)
    finally:
        off.stop()
        on.stop()
    return lines


def in_turn(
    sides: list[tuple[Visitor, Server]], path: str, options: argparse.Namespace
) -> list[tuple[Load, float]]:
    """``path`` asked of each side with wrk for ``--rounds`` rounds in turn, the order swapped
    each round: each side's median round by req/s, and its median CPU per request."""
    rounds: list[list[tuple[Load, float]]] = [[] for _ in sides]
    for round_ in range(options.rounds):
        order = list(enumerate(sides))
        for i, (visitor, server) in order if round_ % 2 == 0 else order[::-1]:
            visitor.get(path)  # takes a renewed cookie, as a browser would
            cpu = server.cpu_seconds()
            url, headers = visitor.base + path, visitor.headers()
            load = wrk_or_timed(url, options.duration, options.connections, headers)
            rounds[i].append((load, (server.cpu_seconds() - cpu) / max(load.requests, 1)))
    return [
        (
            sorted((load for load, _ in x), key=lambda load: load.rps)[len(x) // 2],
            statistics.median(cpu for _, cpu in x),
        )
        for x in rounds
    ]


def side_by_side(
    before: Visitor,
    then: Server,
    after: Visitor,
    now: Server,
    path: str,
    options: argparse.Namespace,
) -> str:
    """The cells of one table row: each side's figures, then the ratios and any errors."""
    (mine, mine_cpu), (theirs, their_cpu) = in_turn([(before, then), (after, now)], path, options)
    errors = f"{mine.errors} / {theirs.errors}" if mine.errors or theirs.errors else ""
    return (
        f"{' | '.join(mine.cells())} | {mine_cpu * 1000:.2f} ms "
        f"| {' | '.join(theirs.cells())} | {their_cpu * 1000:.2f} ms "
        f"| {ratio(theirs.rps, mine.rps)} | {ratio(mine_cpu, their_cpu)} | {errors}"
    )


# --- this checkout against another (--baseline) ---------------------------------------------


def run_baseline(engine_name: str, options: argparse.Namespace) -> list[str]:
    """The list pages (and the row page) of this checkout against those of another checkout,
    say a worktree of the last release, with its own ``.venv``: in turn, as for sign-in."""
    checkout = Path(options.baseline).resolve()
    venv_bin = checkout / ".venv" / "bin"
    if not (venv_bin / "gunicorn").exists() or not (checkout / "wsgi.py").exists():
        raise SystemExit(
            f"{checkout}: not a Rowboat checkout with a .venv (./rowboat test makes one)"
        )
    revision = subprocess.run(
        ["git", "-C", str(checkout), "log", "-1", "--format=%h, %cs"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    url = dataset.URLS[engine_name]
    env = rowboat_env(url, auth=False, audit=False, state="baseline")
    then = start("rowboat at the baseline", "wsgi:app", checkout, env, venv_bin)
    try:
        now = start("rowboat", "wsgi:app", ROOT, rowboat_env(url, auth=False, audit=False))
    except BaseException:
        then.stop()
        raise
    lines = [
        f"### {engine_name}: this checkout against {checkout} ({revision or 'not git'}); "
        f"wrk -c{options.connections} -d{options.duration}s, median of {options.rounds} rounds",
        "",
        "| case | baseline req/s | p50 | p99 | CPU/request | this checkout req/s | p50 | p99 "
        "| CPU/request | req/s ratio | CPU ratio (baseline/now) | errors (baseline / now) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    try:
        before, after = Visitor(then.base), Visitor(now.base)
        for what, path, _ in cases(now, options.orders):
            if not path or "lookup" in path or "/-/edit" in path:
                continue  # the list pages and the row page
            for visitor in (before, after):
                for _ in range(4):  # warm the workers
                    visitor.get(path)
            lines.append(f"| {what} | {side_by_side(before, then, after, now, path, options)} |")
            print(lines[-1], flush=True)
    finally:
        then.stop()
        now.stop()
    return lines


# --- the audit log's cost on a save ---------------------------------------------------------

NOTES = ("bench save A", "bench save B")  # a save alternates them: one column written each time


class FormFields(HTMLParser):
    """The name/value pairs the edit form (``form.row-form``) posts, in order, as a browser
    sends them: unchecked boxes left out, a select's chosen option."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: list[tuple[str, str]] = []
        self.inside = False
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = "row-form" in a.get("class", "").split()
        elif not self.inside or not a.get("name") and tag != "option":
            return
        elif tag == "input":
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self.select = a["name"]
        elif tag == "option" and self.select is not None and "selected" in a:
            self.fields.append((self.select, a.get("value", "")))
        elif tag == "textarea":
            self.textarea = a["name"]
            self.fields.append((a["name"], ""))

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            name, text = self.fields[-1]
            self.fields[-1] = (name, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def multipart(fields: list[tuple[str, str]]) -> tuple[bytes, str]:
    """The body and content type of a form posted as ``multipart/form-data`` (the edit form's
    enctype)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields
    ]
    body = "".join(parts) + f"--{boundary}--\r\n"
    return body.encode("utf-8"), f"multipart/form-data; boundary={boundary}"


@dataclass
class SaveRow:
    """One order a client thread saves on both servers, and its fingerprint for each note."""

    key: int
    note: str = ""
    fingerprints: dict[str, str] = field(default_factory=dict)


class Saver:
    """One client thread's session on one server: its cookie, its CSRF token and its row's
    form fields. Once it knows the fingerprints of both notes, saving needs no GET."""

    def __init__(self, server: Server, row: SaveRow) -> None:
        self.server, self.row = server, row
        self.path = f"/bench/orders/{row.key}/-/edit"
        self.cookies: dict[str, str] = {}
        self.fields: list[tuple[str, str]] = []
        self.saved = 0

    def _request(self, method: str, body: bytes | None = None, kind: str = "") -> tuple[int, str]:
        """(status, the page or the redirect's Location)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        headers = {"User-Agent": USER_AGENT}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if kind:
            headers["Content-Type"] = kind
        try:
            connection.request(method, self.path, body=body, headers=headers)
            response = connection.getresponse()
            page = response.read().decode("utf-8")
            if method == "GET":  # a POST's cookie only adds the flash message, never read
                for cookie in response.headers.get_all("Set-Cookie") or []:
                    name, _, value = cookie.split(";", 1)[0].partition("=")
                    self.cookies[name.strip()] = value
            return response.status, response.getheader("Location") or page
        finally:
            connection.close()

    def load(self) -> None:
        """GET the form: the session's CSRF token, the fields, the current note's fingerprint."""
        status, page = self._request("GET")
        if status != 200:
            raise SystemExit(f"{self.server.base}{self.path}: GET answered {status}")
        parser = FormFields()
        parser.feed(page)
        values = dict(parser.fields)
        self.row.note = values["note"]
        self.row.fingerprints[values["note"]] = values["_fingerprint"]
        self.fields = [  # a NULL note's box is left out: the save writes a value
            (name, value)
            for name, value in parser.fields
            if not (name in ("_null", "_was_null") and value == "note")
        ]

    def save(self) -> tuple[bool, float]:
        """POST the form with the other note: (saved, seconds). Only a redirect away from the
        form is a save; a refused one (409, 400) is counted as an error by the caller."""
        note = NOTES[1] if self.row.note == NOTES[0] else NOTES[0]
        replace = {"note": note, "_fingerprint": self.row.fingerprints.get(self.row.note, "")}
        fields = [(name, replace.get(name, value)) for name, value in self.fields]
        body, kind = multipart(fields)
        started = time.perf_counter()
        status, where = self._request("POST", body, kind)
        seconds = time.perf_counter() - started
        if status in (302, 303) and "/-/edit" not in where:
            self.row.note = note
            self.saved += 1
            return True, seconds
        return False, seconds


def save_round(savers: list[Saver], duration: int) -> Load:
    """Every saver in a thread of its own, saving for ``duration`` seconds; POSTs only."""
    timings: list[list[float]] = [[] for _ in savers]
    errors = [0 for _ in savers]
    deadline = time.monotonic() + duration

    def loop(i: int) -> None:
        while time.monotonic() < deadline:
            saved, seconds = savers[i].save()
            timings[i].append(seconds)
            if not saved:
                errors[i] += 1
                savers[i].load()  # take the row as it is now and go on

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(len(savers))]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    every = sorted(t for ts in timings for t in ts)
    return Load(
        rps=len(every) / elapsed,
        p50=statistics.median(every),
        p99=every[min(len(every) - 1, round(0.99 * (len(every) - 1)))],
        errors=sum(errors),
        requests=len(every),
    )


def audit_entries(name: str) -> dict[str, int]:
    """Entries per outcome in the state database ``name``."""
    from sqlalchemy import create_engine, text

    engine = create_engine(state_url(name))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT outcome, count(*) FROM audit_entries GROUP BY outcome")
            )
            return {outcome: count for outcome, count in rows}
    finally:
        engine.dispose()


def run_audit(engine_name: str, options: argparse.Namespace) -> list[str]:
    from sqlalchemy import bindparam, create_engine, text

    url = dataset.URLS[engine_name]
    if dataset.existing_orders(engine_name) is None:
        raise SystemExit(f"{engine_name}: no bench dataset; run without --audit-only first")
    # Rows next to the middle one, one per client thread; their notes are put back at the end.
    rows = [SaveRow(options.orders // 2 + 1 + i) for i in range(options.connections)]
    fresh_audit_states(engine_name)
    target = create_engine(url)
    with target.connect() as connection:
        select = text("SELECT id, note FROM orders WHERE id IN :ids")
        select = select.bindparams(bindparam("ids", expanding=True))
        notes = dict(connection.execute(select, {"ids": [r.key for r in rows]}).all())
    off = start(
        "rowboat, audit off",
        "wsgi:app",
        ROOT,
        rowboat_env(url, False, False, f"audit-off-{engine_name}"),
    )
    try:
        on = start(
            "rowboat, audit on",
            "wsgi:app",
            ROOT,
            rowboat_env(url, False, True, f"audit-on-{engine_name}"),
        )
    except BaseException:
        off.stop()
        raise
    lines = [
        f"### {engine_name}: auditing on against off, edit-form saves (POSTs only, one column "
        f"changed each); {options.connections} client threads, {options.duration} s, "
        f"median of {options.rounds} rounds",
        "",
        "| case | audit off req/s | p50 | p99 | CPU/request | audit on req/s | p50 | p99 "
        "| CPU/request | req/s ratio (on/off) | CPU ratio (off/on) | errors (off / on) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    try:
        savers = {server.name: [Saver(server, row) for row in rows] for server in (off, on)}
        for group in savers.values():
            for saver in group:  # learn both notes' fingerprints, then warm the workers
                saver.load()
                for i in range(8):
                    if not saver.save()[0]:
                        raise SystemExit(f"{saver.server.base}{saver.path}: save {i} failed")
                    if not all(note in saver.row.fingerprints for note in NOTES):
                        saver.load()
        offs: list[tuple[Load, float]] = []
        ons: list[tuple[Load, float]] = []
        for round_ in range(options.rounds):
            sides = [(offs, off), (ons, on)]
            for loads, server in sides if round_ % 2 == 0 else sides[::-1]:
                cpu = server.cpu_seconds()
                load = save_round(savers[server.name], options.duration)
                loads.append((load, (server.cpu_seconds() - cpu) / max(load.requests, 1)))
                print(
                    f"  round {round_ + 1} {server.name}: {load.rps:,.1f} req/s, "
                    f"{loads[-1][1] * 1000:.2f} ms CPU/request, {load.errors} errors",
                    flush=True,
                )
        mine, audited = (
            sorted((load for load, _ in x), key=lambda load: load.rps)[len(x) // 2]
            for x in (offs, ons)
        )
        mine_cpu, audited_cpu = (statistics.median(cpu for _, cpu in x) for x in (offs, ons))
        errors = f"{mine.errors} / {audited.errors}" if mine.errors or audited.errors else ""
        lines.append(
            f"| edit save (POST, one column) | {' | '.join(mine.cells())} "
            f"| {mine_cpu * 1000:.2f} ms | {' | '.join(audited.cells())} "
            f"| {audited_cpu * 1000:.2f} ms | {ratio(audited.rps, mine.rps)} "
            f"| {ratio(mine_cpu, audited_cpu)} | {errors} |"
        )
        print(lines[-1], flush=True)
        saves = {name: sum(s.saved for s in group) for name, group in savers.items()}
        recorded = {
            name: audit_entries(state)
            for name, state in (
                (off.name, f"audit-off-{engine_name}"),
                (on.name, f"audit-on-{engine_name}"),
            )
        }
        lines += [
            "",
            f"Saves: {saves[off.name]:,} with auditing off ({recorded[off.name] or 'no entries'}), "
            f"{saves[on.name]:,} with it on (entries by outcome: {recorded[on.name]}).",
        ]
        print(lines[-1], flush=True)
    finally:
        off.stop()
        on.stop()
        with target.begin() as connection:
            update = text("UPDATE orders SET note = :note WHERE id = :id")
            connection.execute(update, [{"id": k, "note": v} for k, v in notes.items()])
        target.dispose()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("engines", nargs="+", choices=sorted(dataset.URLS))
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per case")
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the dataset anyway")
    parser.add_argument("--no-export", action="store_true", help="skip the export case")
    parser.add_argument(
        "--auth-only", action="store_true", help="only sign-in on against off (no floor)"
    )
    parser.add_argument(
        "--audit-only", action="store_true", help="only auditing on against off, on saves"
    )
    parser.add_argument(
        "--baseline",
        metavar="CHECKOUT",
        help="only the list pages of this checkout against another checkout's (its .venv), in turn",
    )
    parser.add_argument(
        "--audit-state",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="where the audit comparison keeps its state databases (default: SQLite files)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of on against off (sign-in, audit), in turn"
    )
    options = parser.parse_args()
    AUDIT_STATE["engine"] = options.audit_state
    os.chdir(ROOT)
    tables = [run_engine(name, options) for name in options.engines]
    print(f"\n$ {' '.join(shlex.quote(a) for a in sys.argv)}\n")
    for table in tables:
        print("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
