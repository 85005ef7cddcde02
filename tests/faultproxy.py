"""A TCP proxy on 127.0.0.1 that can misbehave on purpose, for the fault-injection tests.

``FaultProxy(port)`` listens on a free port of 127.0.0.1 and forwards every connection to
``127.0.0.1:port``. Its ``mode`` decides what happens to traffic, now and for connections to come:

- ``"pass"``: forwarded as is;
- ``"delay"``: forwarded, each chunk ``delay`` seconds late (a slow network or server);
- ``"blackhole"``: connections are accepted and kept open, but nothing goes through, either
  way (a hung server: the client's kernel sees its packets acknowledged, no answer ever comes);
- ``"refuse"``: new connections are closed at once (a server going down or not accepting).

``cut()`` resets every open connection (a killed backend, a restarted server). Threads only,
no dependencies.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Any

_CHUNK = 65536


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.mode = "pass"
        self.delay = 0.0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self._closed = False
        self.accepted = 0
        self._thread = threading.Thread(target=self._accept, name="faultproxy", daemon=True)
        self._thread.start()

    # --- control ------------------------------------------------------------------------------

    def set(self, mode: str, delay: float = 0.0) -> None:
        assert mode in ("pass", "delay", "blackhole", "refuse"), mode
        self.mode, self.delay = mode, delay

    def cut(self) -> None:
        """Reset every open connection, both ends."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                if sock is not None:
                    _reset(sock)

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    # --- plumbing -----------------------------------------------------------------------------

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            if self.mode == "refuse":
                _reset(client)
                continue
            threading.Thread(target=self._open, args=(client,), daemon=True).start()

    def _open(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        if self.mode != "blackhole":
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                return
        with self._lock:
            self._pairs.append((client, upstream))
        if upstream is None:  # a blackholed connection never reaches the server
            return
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(0.2)
        while not self._closed:
            try:
                data = source.recv(_CHUNK)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            if self.mode == "blackhole":
                continue  # swallowed: the other side waits forever
            if self.mode == "delay" and self.delay > 0:
                time.sleep(self.delay)
            try:
                sink.sendall(data)
            except OSError:
                break
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset rather than an orderly FIN (a killed process, a dropped link)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()
