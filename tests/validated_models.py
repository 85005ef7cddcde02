"""A user's models with validators (``@validates``), for tests/test_validates.py.

Each validator refuses a value the tests can type: ``ValueError`` (with markup in its message,
which must be shown as text), a bare ``assert`` (no message at all), the user's own error
classes (one nested, named ``validated_models:Errors.Invalid``), an error class the settings do
not name (a bug: 500), and a collection validator on a many-to-many relationship.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates


class Base(DeclarativeBase):
    pass


class Invalid(Exception):
    """The user's own "this value is refused" error."""


class Errors:
    class Invalid(Exception):
        """Another, nested in a class (a dotted path after the colon)."""


class Bug(Exception):
    """An error the settings do not name: a validator that is itself broken."""


author_tags = Table(
    "va_author_tags",
    Base.metadata,
    Column("author_id", Integer, ForeignKey("va_author.id"), primary_key=True),
    Column("tag_id", Integer, ForeignKey("va_tag.id"), primary_key=True),
)


class Tag(Base):
    __tablename__ = "va_tag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(40))


class Author(Base):
    __tablename__ = "va_author"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    email: Mapped[str | None] = mapped_column(String(80))
    nickname: Mapped[str | None] = mapped_column(String(40))
    age: Mapped[int | None] = mapped_column(Integer)
    tags: Mapped[list[Tag]] = relationship(secondary=author_tags, order_by=Tag.id)

    @validates("name")
    def check_name(self, key: str, value: Any) -> Any:
        if value is not None and value.startswith("bad"):
            raise ValueError(f"A name may not start with 'bad' <b>{value}</b> & co.")
        return value

    @validates("email")
    def check_email(self, key: str, value: Any) -> Any:
        assert value is None or "@" in value
        return value

    @validates("nickname")
    def check_nickname(self, key: str, value: Any) -> Any:
        if value == "taken":
            raise Errors.Invalid("This nickname is reserved.")
        if value == "crash":
            raise Bug("the validator itself is broken")
        return value

    @validates("age")
    def check_age(self, key: str, value: Any) -> Any:
        if value is not None and value > 150:
            raise Invalid("Nobody is that old.")
        return value

    @validates("tags")
    def check_tag(self, key: str, tag: Tag) -> Tag:
        if tag.name == "forbidden":
            raise ValueError(f"The tag {tag.name!r} may not be given to an author.")
        return tag
