"""A typo in an import: the module cannot be imported at all."""

from sqlalchemy.orm import DeclarativeBase, mapped_colum  # noqa: F401


class Base(DeclarativeBase):
    pass
