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
    Integer,
    MetaData,
    String,
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
