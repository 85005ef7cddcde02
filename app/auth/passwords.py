"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile).

A memory-hard hash makes a stolen state database slow to crack. ``verify_or_waste`` spends
the same time on a name that has no account as on a wrong password, so the answer's timing
does not tell which it was.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))
MIN_LENGTH = 8


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_or_waste(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash, the same work on a dummy and False."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)


def random_password() -> str:
    """A password to print once: 20 URL-safe characters (120 bits)."""
    return secrets.token_urlsafe(15)


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"A password needs at least {MIN_LENGTH} characters."
    if len(password) > 1024:
        return "A password may have at most 1,024 characters."
    return None
