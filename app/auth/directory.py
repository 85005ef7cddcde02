"""Who is who, read from the state database at most twice a second per process.

Every request needs its caller's account, grants and the hidden columns; reading them from
the state database each time would cost more than some pages. Each answer is kept for
``TTL`` seconds, so a change made on another instance (a user disabled, a grant revoked) takes
effect here within that time, and a change made through this process takes effect at once
(``forget``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine

from . import accounts, tokens
from .accounts import Account
from .tokens import TokenOwner

TTL = 0.5  # seconds; the issue asks revocations to reach every instance within one
_MAX_ENTRIES = 10_000

T = TypeVar("T")


class Directory:
    def __init__(self, engine: Engine, ttl: float = TTL) -> None:
        self.engine = engine
        self.ttl = ttl
        self._entries: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: Any, load: Callable[[], T]) -> T:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]
        value = load()
        with self._lock:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (now, value)
        return value

    def account(self, user_id: int) -> Account | None:
        return self._cached(
            ("user", user_id), lambda: accounts.account(self.engine, user_id=user_id)
        )

    def account_named(self, name: str) -> Account | None:
        return self._cached(("name", name), lambda: accounts.account(self.engine, name=name))

    def hidden(self) -> dict[str, dict[str, frozenset[str]]]:
        return self._cached("hidden", lambda: accounts.hidden(self.engine))

    def token_owner(self, token: str) -> TokenOwner | None:
        return self._cached(
            ("token", tokens.digest(token)), lambda: tokens.owner(self.engine, token)
        )

    def forget(self) -> None:
        """Drop every cached answer (after a change made through this process)."""
        with self._lock:
            self._entries.clear()
