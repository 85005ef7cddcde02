"""Read every stored value, even one that its column's declared type cannot convert.

A column's type promises a Python value, but the database may hold something else: SQLite keeps
'31/12/2009' in a DATETIME column and 'abc' in a NUMERIC one, a JSON column may hold text that
is not JSON. SQLAlchemy's result processor then raises while the row is fetched, and the whole
page fails for one value. Reflected columns get a tolerant copy of their type instead: the same
type (same class family, same compile, same bind processing), whose result processor hands
back the value as the driver gave it when the conversion fails. A value read that way shows as
the database's own text, and an edit form posts it back unchanged.

A few types Python reads wrongly rather than not at all, so their values are read as the
database's text from the start (``as_text`` types): MariaDB's TIME (a duration up to 838 hours,
which the driver's conversion folds into a time of day), MariaDB's SET (a Python set loses the
order and the empty member) and PostgreSQL's INTERVAL (months and days, which no Python type
holds apart; ``pgvalues`` reads it as text). Values of these are written and filtered as text
too, and the database parses them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import func
from sqlalchemy import types as sat
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine


class StoredText(str):
    """Text the database holds where its type promised something else (kept as it was read)."""

    __slots__ = ()


_SUBCLASSES: dict[type, type] = {}


def _tolerant_class(cls: type) -> type:
    """A subclass of a dialect's type class whose result processor never raises."""
    found = _SUBCLASSES.get(cls)
    if found is not None:
        return found

    def result_processor(self: Any, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        inner = super(subclass, self).result_processor(dialect, coltype)
        if inner is None:
            return None

        def process(value: Any) -> Any:
            try:
                return inner(value)
            except Exception:  # noqa: BLE001 - any value the type cannot take is shown as stored
                return StoredText(value) if isinstance(value, str) else value

        return process

    subclass: type[Any] = type(cls.__name__, (cls,), {"result_processor": result_processor})
    subclass.__module__ = cls.__module__
    _SUBCLASSES[cls] = subclass
    return subclass


def tolerant(type_: TypeEngine[Any], dialect: Dialect) -> TypeEngine[Any]:
    """``type_`` as ``dialect`` uses it, reading values it cannot convert as they are stored.

    The copy is an instance of (a subclass of) the dialect's own implementation class, so
    SQLAlchemy adapts it to itself and keeps its result processor.
    """
    impl = type_.dialect_impl(dialect)
    try:
        if impl.result_processor(dialect, None) is None:
            return type_  # nothing is converted, nothing can fail
    except Exception:  # noqa: BLE001 - a type that cannot say: leave it as it is
        return type_
    copied = copy.copy(impl)
    copied.__class__ = _tolerant_class(type(impl))
    return copied


def as_text(type_: TypeEngine[Any]) -> bool:
    """Whether values of this type are read, written and filtered as the database's text."""
    return bool(getattr(type_, "as_text", False))


def _named_as_base(cls: type) -> type:
    """Keep the database type's name: pages name a column's type after its class."""
    cls.__name__ = cls.__qualname__ = cls.__mro__[1].__name__
    return cls


@_named_as_base
class MySQLTimeText(mysql.TIME):
    """MariaDB/MySQL TIME read as the server's own text (``-838:59:59`` to ``838:59:59``)."""

    as_text = True
    text_hint = "a duration, -838:59:59 to 838:59:59"

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any]:
        places = self.fsp or 0

        def process(value: Any) -> Any:
            if value is None or isinstance(value, str):
                return value if value is None else StoredText(value)
            micros = value.days * 86_400_000_000 + value.seconds * 1_000_000 + value.microseconds
            sign, micros = ("-", -micros) if micros < 0 else ("", micros)
            seconds, fraction = divmod(micros, 1_000_000)
            text = f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            if places:
                text += "." + f"{fraction:06d}"[:places]
            return StoredText(text)

        return process


@_named_as_base
class MySQLSetText(mysql.SET):
    """MariaDB/MySQL SET read as the server's text: its members, comma-separated, in order."""

    as_text = True

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any]:
        order = {value: n for n, value in enumerate(self.values)}

        def process(value: Any) -> Any:
            if value is None:
                return None
            if isinstance(value, (set, frozenset)):
                value = ",".join(sorted(value, key=lambda v: order.get(v, len(order))))
            elif isinstance(value, bytes):
                value = value.decode()
            return StoredText(value)

        return process


@_named_as_base
class PGIntervalText(postgresql.INTERVAL):
    """PostgreSQL INTERVAL as the server's text (``pgvalues`` has psycopg2 read it so)."""

    as_text = True
    text_hint = "a PostgreSQL interval, e.g. 1 mon 2 days 03:04:05"


# PostgreSQL's dates and times that no Python value holds (see pgvalues): typed into a form or
# a filter, they go to the server as text.
PG_BEYOND_PYTHON = re.compile(
    r"^\s*([+-]?infinity|.*\sBC|\d{5,}-.*|24:00(:00(\.0*)?)?([+-][\d:]+)?)\s*$", re.IGNORECASE
)
_WITH_WORDS: dict[type, type] = {}


def beyond_python(type_: TypeEngine[Any]) -> re.Pattern[str] | None:
    """The texts this column's database takes that Python's parsing of its kind refuses."""
    return getattr(type_, "beyond_python", None)


def _with_postgresql_words(type_: TypeEngine[Any]) -> None:
    cls = type(type_)
    if cls not in _WITH_WORDS:
        _WITH_WORDS[cls] = type(cls.__name__, (cls,), {"beyond_python": PG_BEYOND_PYTHON})
        _WITH_WORDS[cls].__module__ = cls.__module__
    type_.__class__ = _WITH_WORDS[cls]


class MySQLGeometryText(sat.UserDefinedType[str]):
    """A MariaDB/MySQL spatial column as well-known text (``POINT(1.5 -2)``).

    SQLAlchemy reflects these as NullType, which reads the server's internal binary form. The
    select asks for ``ST_AsText`` and a write sends ``ST_GeomFromText``, so the page shows
    and the form edits the text (with SRID 0 on a write: well-known text carries none).
    """

    cache_ok = True
    as_text = True
    text_hint = "well-known text, e.g. POINT(1 2) or LINESTRING(0 0, 1 1)"

    def __init__(self, name: str = "GEOMETRY") -> None:
        self.name = name.upper()

    def get_col_spec(self, **_kw: Any) -> str:
        return self.name

    def column_expression(self, column: Any) -> Any:
        return func.ST_AsText(column, type_=sat.String())

    def bind_expression(self, value: Any) -> Any:
        return func.ST_GeomFromText(value, type_=self)

    def __repr__(self) -> str:
        return self.name


MYSQL_SPATIAL = frozenset(
    {
        "geometry",
        "point",
        "linestring",
        "polygon",
        "multipoint",
        "multilinestring",
        "multipolygon",
        "geometrycollection",
        "geomcollection",
    }
)


def for_reading(type_: TypeEngine[Any], dialect: Dialect) -> TypeEngine[Any]:
    """The type a reflected column is read with: every value readable, none misread."""
    if dialect.name == "mysql":
        if isinstance(type_, sat.Float):
            # Reflection makes DOUBLE a Decimal rounded to 10 places; the server's value is a
            # binary float, which a Python float holds exactly.
            type_.asdecimal = False
        if type(type_) is mysql.TIME:
            type_ = MySQLTimeText(fsp=type_.fsp)
        elif type(type_) is mysql.SET:
            type_.__class__ = MySQLSetText
    elif dialect.name == "postgresql" and type(type_) is postgresql.INTERVAL:
        type_.__class__ = PGIntervalText
    elif dialect.name == "postgresql" and isinstance(type_, (sat.Date, sat.DateTime, sat.Time)):
        _with_postgresql_words(type_)
    return tolerant(type_, dialect)
