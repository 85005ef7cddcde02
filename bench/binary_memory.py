"""Measure a worker's memory while a 50 MB file goes in, its pages are shown and it comes out.

Usage (from the repository root):

    .venv/bin/python bench/binary_memory.py [sqlite|postgresql|mariadb ...] [--mb 50]
        [--mariadb-packet BYTES]

For each engine it creates a table ``files`` (a ``bytea`` / ``LONGBLOB`` / ``BLOB`` column; the
servers in a dedicated ``rowboat_binary_bench`` database, dropped afterwards), starts the
dashboard in a separate, single-threaded process and, through HTTP, uploads a file of random
bytes through the edit form, then GETs the edit page and the delete page and downloads the
value. The same four steps are then done the old way, in a second fresh process of the same
app: extra routes (``/_old/…``, defined below, only in this script) that do what Rowboat did
before binary values were streamed (read the upload whole and assign it to the object; load
the object with its bytes and hash them for the fingerprint; select the value and answer with
its bytes).

Before each step the process's peak RSS is reset (``/proc/<pid>/clear_refs``, root on Linux),
so each figure is that step's own peak growth over the RSS it started from.

MariaDB refuses any value larger than ``max_allowed_packet`` (16 MB here), even one built by
appends: ``--mariadb-packet 134217728`` raises the server's global value for the run (and puts
it back afterwards) so the 50 MB file and the old way's single statements fit. Without it the
MariaDB run uses a file just under the packet. Figures, not assertions: not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import servers
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, create_engine
from sqlalchemy.dialects import mysql

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "rowboat_binary_bench"
URLS = {name: servers.database_url(name, BENCH_DB) for name in servers.ADMIN}
MB = 1024 * 1024

metadata = MetaData()
files = Table(
    "files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(40), nullable=False),
    Column("data", LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"), nullable=True),
)

SERVER = """
import hashlib, sys
from flask import Response, request
from sqlalchemy import select
from werkzeug.serving import make_server
from rowboat import create_app
from rowboat.db.engines import session_for

app = create_app({"DATABASES": {"bench": sys.argv[1]}, "DEMO_PATH": sys.argv[3],
                  "WTF_CSRF_ENABLED": False, "STATEMENT_TIMEOUT": 600.0})

def _old():
    database = app.extensions["rowboat.databases"]["bench"]
    entity = database.catalog.entities["files"]
    return session_for(database), entity.mapped_class

@app.post("/_old/upload/<int:row>")
def old_upload(row):  # the old FileField: upload.read(); the old update: assign the bytes
    session, cls = _old()
    data = request.files["data"].read()
    obj = session.get(cls, row)
    obj.data = data
    session.commit()
    return "ok"

@app.get("/_old/page/<int:row>")
def old_page(row):  # the old edit and delete pages: the object with its bytes, hashed
    session, cls = _old()
    obj = session.get(cls, row, populate_existing=True)
    fingerprint = hashlib.sha256(bytes(obj.data)).hexdigest()
    return f"{len(obj.data)} bytes, {fingerprint}"

@app.get("/_old/download/<int:row>")
def old_download(row):  # the old download: select the value, answer with its bytes
    session, cls = _old()
    value = session.execute(select(cls.data).where(cls.id == row)).scalar()
    return Response(bytes(value), mimetype="application/octet-stream")

make_server("127.0.0.1", int(sys.argv[2]), app, threaded=False).serve_forever()
"""


def memory(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of a process, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, amount, _unit = line.split()
            values[key] = int(amount) / 1024
    return values["VmRSS:"], values["VmHWM:"]


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _multipart(fields: dict[str, str], file_field: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    head = (
        "".join(parts).encode()
        + (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
            'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
    )
    body = head + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(NoRedirect)


def fetch(url: str, body: bytes | None = None, content_type: str | None = None) -> tuple[int, int]:
    """(status, bytes received), the body read and discarded 64 KB at a time."""
    request = urllib.request.Request(url, data=body)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        response = _opener.open(request, timeout=900)
    except urllib.error.HTTPError as exc:
        response = exc
    size = 0
    with response:
        while chunk := response.read(1 << 16):
            size += len(chunk)
    return response.status, size


def start(url: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ROWBOAT_DATABASES")}
    env["PYTHONPATH"] = str(ROOT)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, url, str(port), str(folder / "demo.sqlite")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            fetch(f"{base}/bench/files")  # also reads the catalog, before any figure
            break
        except OSError:
            time.sleep(0.1)
    return server, base


def run_steps(url: str, folder: Path, content: bytes, old: bool) -> list[tuple[str, float, float]]:
    """[(step, peak growth MB, seconds)] for the four steps, in a fresh server process."""
    server, base = start(url, folder)
    results = []
    try:
        if old:
            body, kind = _multipart({}, "data", content)
            steps = [
                ("upload", f"{base}/_old/upload/1", body, kind),
                ("edit page", f"{base}/_old/page/1", None, None),
                ("delete page", f"{base}/_old/page/1", None, None),
                ("download", f"{base}/_old/download/1", None, None),
            ]
        else:
            page = urllib.request.urlopen(f"{base}/bench/files/1/-/edit", timeout=60).read()
            match = re.search(rb'name="_fingerprint" value="([^"]*)"', page)
            assert match is not None, "no fingerprint on the edit form"
            fields = {"name": "bench", "_fingerprint": match.group(1).decode()}
            body, kind = _multipart(fields, "data", content)
            steps = [
                ("upload", f"{base}/bench/files/1/-/edit", body, kind),
                ("edit page", f"{base}/bench/files/1/-/edit", None, None),
                ("delete page", f"{base}/bench/files/1/-/delete", None, None),
                ("download", f"{base}/bench/files/1/-/download/data", None, None),
            ]
        for name, step_url, step_body, step_kind in steps:
            before, _ = memory(server.pid)
            reset_peak(server.pid)
            started = time.monotonic()
            status, size = fetch(step_url, step_body, step_kind)
            seconds = time.monotonic() - started
            _, peak = memory(server.pid)
            if status >= 400 or (name == "download" and size != len(content)):
                raise SystemExit(f"{name}: HTTP {status}, {size} bytes")
            results.append((name, peak - before, seconds))
        return results
    finally:
        server.terminate()
        server.wait(timeout=10)


def bench(engine_name: str, size_mb: float, packet: int | None) -> None:
    folder = Path(tempfile.mkdtemp(prefix="rowboat-binary-bench-"))
    restore = None
    if engine_name == "sqlite":
        url = f"sqlite:///{folder / 'bench.sqlite'}"
    else:
        servers.admin(engine_name, f"DROP DATABASE IF EXISTS {BENCH_DB}")
        servers.admin(engine_name, f"CREATE DATABASE {BENCH_DB}")
        url = URLS[engine_name]
    try:
        size = int(size_mb * MB)
        if engine_name == "mariadb":
            current = int(str(servers.admin("mariadb", "SELECT @@global.max_allowed_packet")))
            if packet is not None and packet > current:
                servers.admin("mariadb", f"SET GLOBAL max_allowed_packet = {packet}")
                restore = current
            else:
                packet = current
            if size > packet - MB:
                size = packet - MB
                print(
                    f"(MariaDB's max_allowed_packet is {packet // MB} MB: a {size // MB} MB file)"
                )
        engine = create_engine(url)
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(files.insert(), [{"id": 1, "name": "bench", "data": b"x"}])
        engine.dispose()
        content = os.urandom(size)
        print(
            f"\n== {engine_name}: a {size / MB:.0f} MB file, peak RSS growth per step", flush=True
        )
        new = run_steps(url, folder, content, old=False)
        old = run_steps(url, folder, content, old=True)
        print(f"{'step':<14}{'streamed':>12}{'old way':>12}{'streamed s':>12}{'old s':>8}")
        for (name, growth, seconds), (_, old_growth, old_seconds) in zip(new, old):
            print(
                f"{name:<14}{growth:>9.1f} MB{old_growth:>9.1f} MB"
                f"{seconds:>11.2f}s{old_seconds:>7.2f}s",
                flush=True,
            )
    finally:
        if restore is not None:
            servers.admin("mariadb", f"SET GLOBAL max_allowed_packet = {restore}")
        if engine_name != "sqlite":
            servers.admin(engine_name, f"DROP DATABASE IF EXISTS {BENCH_DB}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("engines", nargs="*", default=["postgresql", "mariadb"])
    parser.add_argument("--mb", type=float, default=50.0, help="size of the file (MB)")
    parser.add_argument(
        "--mariadb-packet",
        type=int,
        default=None,
        help="raise MariaDB's global max_allowed_packet to this many bytes for the run",
    )
    args = parser.parse_args()
    for engine_name in args.engines:
        bench(engine_name, args.mb, args.mariadb_packet)


if __name__ == "__main__":
    main()
