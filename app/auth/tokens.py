"""API tokens: ``Authorization: Bearer rb_…``, acting with their owner's grants.

A token is 32 random bytes, shown once when made; the state database keeps only its SHA-256
(a fast hash is right here: unlike a password, a token cannot be guessed from a word list).
It may expire, may be revoked, and may be narrowed to read-only; its last use is recorded to
the minute (not on every request: that would be a write per read).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from ..state.models import ApiToken, User
from .accounts import AccountError

PREFIX = "rb_"
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    read_only: bool
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and _aware(self.expires_at) <= datetime.now(UTC):
            return "expired"
        return "active"


@dataclass(frozen=True)
class TokenOwner:
    """What a valid token resolves to."""

    token_id: int
    token_name: str
    user_id: int
    read_only: bool
    last_used_at: datetime | None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone=True columns: they were stored in UTC
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def create(
    engine: Engine, user_id: int, name: str, read_only: bool, expires_at: datetime | None
) -> str:
    """Make a token for ``user_id``; returns it (the only time it can be seen)."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise AccountError("Give the token a name of 1 to 100 characters (what uses it).")
    if expires_at is not None and _aware(expires_at) <= datetime.now(UTC):
        raise AccountError("The expiry date must be in the future.")
    token = PREFIX + secrets.token_urlsafe(32)
    with Session(engine) as session, session.begin():
        session.add(
            ApiToken(
                user_id=user_id,
                name=name,
                token_hash=digest(token),
                read_only=read_only,
                expires_at=expires_at,
            )
        )
    return token


def tokens_of(engine: Engine, user_id: int) -> list[TokenInfo]:
    with Session(engine) as session:
        rows = session.scalars(
            select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
        )
        return [
            TokenInfo(
                t.id, t.name, t.read_only, t.created_at, t.expires_at, t.last_used_at, t.revoked_at
            )
            for t in rows
        ]


def revoke(engine: Engine, user_id: int, token_id: int) -> bool:
    """Revoke one of ``user_id``'s tokens; False when they have no such token."""
    with engine.begin() as connection:
        result = connection.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                ApiToken.user_id == user_id,
                ApiToken.revoked_at.is_(None),
            )
            .values(revoked_at=datetime.now(UTC))
        )
    return bool(result.rowcount)


def owner(engine: Engine, token: str) -> TokenOwner | None:
    """The token's owner, or None for an unknown, revoked or expired token or a disabled
    owner. Callers answer all four the same way (401)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    with engine.connect() as connection:
        row = connection.execute(
            select(
                ApiToken.id,
                ApiToken.name,
                ApiToken.user_id,
                ApiToken.read_only,
                ApiToken.expires_at,
                ApiToken.revoked_at,
                ApiToken.last_used_at,
                User.disabled_at,
            )
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == digest(token))
        ).first()
    if row is None or row.revoked_at is not None or row.disabled_at is not None:
        return None
    if row.expires_at is not None and _aware(row.expires_at) <= datetime.now(UTC):
        return None
    return TokenOwner(row.id, row.name, row.user_id, row.read_only, row.last_used_at)


def touch(engine: Engine, found: TokenOwner) -> None:
    """Record a use, at most once a minute per token."""
    now = datetime.now(UTC)
    if found.last_used_at is not None and now - _aware(found.last_used_at) < TOUCH_EVERY:
        return
    with engine.begin() as connection:
        connection.execute(
            update(ApiToken).where(ApiToken.id == found.token_id).values(last_used_at=now)
        )
