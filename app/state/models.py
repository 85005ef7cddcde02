"""The state database's tables, as SQLAlchemy models with a DeclarativeBase of their own.

Types are portable (SQLite, PostgreSQL, MariaDB): strings have lengths, times carry their
zone, and the enumerations are CHECK constraints rather than native ENUM types. A change here
needs a migration in ``migrations/versions`` (the tests compare the two).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Alembic's version table in the state database: named for Rowboat, so a state database that
# shares a database with another application's Alembic history does not collide with it.
VERSION_TABLE = "rowboat_state_version"
ROLES = ("viewer", "editor", "admin")
LEVELS = ("none", "read", "write")

# Constraint names fixed by convention, so migrations can name what they drop or alter.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Part of the session's user id: raising it (new password, removal) ends every session.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Grant(Base):
    """A user's access to a database, one of its schemas, or one table (NULL: all of them)."""

    __tablename__ = "grants"
    __table_args__ = (
        CheckConstraint(_one_of("level", LEVELS), name="level"),
        UniqueConstraint("user_id", "database", "schema", "table"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"))
    database: Mapped[str] = mapped_column(String(100))
    schema: Mapped[str | None] = mapped_column(String(255))
    table: Mapped[str | None] = mapped_column(String(255))
    level: Mapped[str] = mapped_column(String(8))


class ApiToken(Base):
    """A token for the API; only its hash is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    read_only: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HiddenColumn(Base):
    """A column no page, form, export, lookup, filter or query shows (a password hash, say).

    ``schema`` is "" for the database's default schema, so the unique constraint holds (NULLs
    would all be distinct).
    """

    __tablename__ = "hidden_columns"
    __table_args__ = (UniqueConstraint("database", "schema", "table", "column"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    database: Mapped[str] = mapped_column(String(100))
    schema: Mapped[str] = mapped_column(String(255), default="")
    table: Mapped[str] = mapped_column(String(255))
    column: Mapped[str] = mapped_column(String(255))


class Setting(Base):
    """Values every instance sharing the state database must agree on (the session key)."""

    __tablename__ = "settings"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(1000))


AUDIT_ACTIONS = ("create", "update", "delete")
OUTCOMES = ("pending", "committed", "failed", "unknown")


class AuditEntry(Base):
    """One row changed by Rowboat: who, when, where, and the values before and after.

    ``changes`` is JSON: ``{column: {"before": v, "after": v}}`` with typed values
    (``app/audit/values.py``); a create has only "after"s and a delete only "before"s (every
    column, so the row can be put back). ``outcome`` is "pending" from just before the target
    database commits until just after; one left pending (a crash in between) is settled when
    Rowboat next starts, by reading the row. ``row_hash`` indexes a row's history (the key
    itself can be longer than an index allows).
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        CheckConstraint(_one_of("action", AUDIT_ACTIONS), name="action"),
        CheckConstraint(_one_of("outcome", OUTCOMES), name="outcome"),
        Index("ix_audit_entries_row_hash_id", "row_hash", "id"),
        Index("ix_audit_entries_at", "at"),
        Index("ix_audit_entries_batch", "batch"),
        Index("ix_audit_entries_outcome", "outcome"),
        Index("ix_audit_entries_user_name_id", "user_name", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    user_name: Mapped[str | None] = mapped_column(String(150))
    token_name: Mapped[str | None] = mapped_column(String(100))
    database: Mapped[str] = mapped_column(String(100))
    schema: Mapped[str] = mapped_column(String(255), default="")
    table: Mapped[str] = mapped_column(String(255))
    row_key: Mapped[str] = mapped_column(Text)
    row_hash: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    changes: Mapped[str] = mapped_column(Text)
    cascade: Mapped[str | None] = mapped_column(Text)
    batch: Mapped[str | None] = mapped_column(String(36))
    revert_of: Mapped[int | None] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="pending")
