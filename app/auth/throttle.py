"""Failed sign-ins, limited per account and per client address.

Built on ``limits`` (the windows and storages Flask-Limiter is made of) rather than a request
decorator: it is failures that are counted, so a user who signs in correctly is never slowed
down, while guessing at one account (from many addresses) or at many accounts (from one
address) is stopped. (A try is counted against its account name before the password is
checked, and the count is cleared when the password was right: see ``begin``.) The counts
live in memory, or in Redis when ``ROWBOAT_REDIS_URL`` is set, so that every instance behind
a load balancer shares them.

An account name that does not exist is counted exactly like one that does: the answer never
tells which names exist.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class LoginThrottle:
    """``begin`` before a password is checked, then ``failed`` or ``succeeded``."""

    def __init__(self, storage_url: str, per_account: str, per_address: str) -> None:
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_url))
        self.per_account = parse(per_account)
        self.per_address = parse(per_address)

    def _account(self, name: str) -> tuple[str, str, str]:
        return ("rowboat-login", "account", name.casefold())

    def _address(self, address: str) -> tuple[str, str, str]:
        return ("rowboat-login", "address", address)

    def _wait(self, item: RateLimitItem, key: tuple[str, str, str]) -> int:
        stats = self.limiter.get_window_stats(item, *key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def begin(self, name: str, address: str) -> int:
        """Seconds until this name may be tried again from this address (0: try now).

        The try is counted against the account here, before its password is checked, in one
        atomic step (Redis runs it as one script): checking the count first and adding to it
        after a failure let every request in flight at once pass the check, so a burst sent
        to several instances got as many guesses as they had threads, not the limit.
        ``succeeded`` clears the account's count. The address is still checked first and
        counted on failure only (a right password must not count against everyone behind the
        same address, and nothing but its owner's password may clear it): a burst can pass
        that limit by the requests in flight at once.
        """
        address_key = self._address(address)
        if not self.limiter.test(self.per_address, *address_key):
            return self._wait(self.per_address, address_key)
        account_key = self._account(name)
        if not self.limiter.hit(self.per_account, *account_key):
            return self._wait(self.per_account, account_key)
        return 0

    def failed(self, name: str, address: str) -> None:
        """A wrong password (or no such user) after ``begin``: count it against the address."""
        self.limiter.hit(self.per_address, *self._address(address))

    def succeeded(self, name: str) -> None:
        """The right password: the account's failed tries are forgotten (only its owner can
        do this), so the user who signs in correctly is never slowed down."""
        self.limiter.clear(self.per_account, *self._account(name))
