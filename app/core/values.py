"""Convert values between text (URLs, form fields) and the Python type a column holds.

One function each way, keyed on the column's kind, shared by row keys, filters and cursors.
A value that does not fit raises ValueError with a message fit to show the user.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import uuid
from typing import Any

from ..catalog.model import Column
from ..catalog.readtypes import as_text, beyond_python
from ..catalog.types import unwrap

_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


def check_text(text: str) -> str:
    """Refuse NUL characters: PostgreSQL cannot store them and SQLite cuts patterns at them."""
    if "\x00" in text:
        raise ValueError("text values cannot contain NUL (\\x00) characters")
    return text


def from_text(text: str, column: Column) -> Any:
    """Parse ``text`` as a value of ``column``; raise ValueError naming the column otherwise."""
    check_text(text)
    if as_text(column.type):
        return text  # the database parses its own text (an interval of '1 mon', say)
    try:
        value = _PARSERS.get(column.kind, str)(text)
    except (ValueError, ArithmeticError, TypeError) as exc:
        words = beyond_python(column.type)
        if words is not None and words.match(text):
            return text  # 'infinity', a BC date: the database reads it
        raise ValueError(
            f"{text!r} is not a valid {column.kind} value for {column.name!r}"
        ) from exc
    if column.kind == "integer":
        check_integer_range(value, column)
    return value


def to_text(value: Any, column: Column | None = None) -> str:
    """Render a value so that ``from_text`` gives it back."""
    if type(value) is int or type(value) is str:  # most keys: skip the isinstance chain below
        return str(value)
    if isinstance(value, bytes):
        return base64.urlsafe_b64encode(value).decode("ascii")
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        # Whole microseconds through Decimal: a float of seconds loses them on long spans.
        return str(decimal.Decimal(value // dt.timedelta(microseconds=1)).scaleb(-6))
    return str(value)


def json_item(value: Any) -> Any:
    """A value json cannot write itself, inside a JSON list (an array cell, the array field):
    a decimal exactly, anything else as ``to_text`` writes it."""
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return to_text(value)


def parse_boolean(text: str) -> bool:
    """Read yes/no text the way URLs and forms write it (true/false, yes/no, 1/0, on/off)."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("Choose yes or no.")


# No supported database stores a wider integer; a larger one cannot even be bound.
_INT64 = range(-(2**63), 2**63)
_UINT64 = range(0, 2**64)  # MySQL/MariaDB's BIGINT UNSIGNED


def _integer(text: str) -> int:
    return int(text.strip())  # the range depends on the column: check_integer_range


def check_integer_range(value: int, column: Column) -> None:
    """Refuse an integer no column of this signedness can hold: 64 bits, unsigned or not."""
    span = _UINT64 if getattr(unwrap(column.type), "unsigned", False) else _INT64
    if value not in span:
        raise ValueError(
            f"{value} is out of range for {column.name!r} ({span.start:,} to {span.stop - 1:,})"
        )


def _numeric(text: str) -> decimal.Decimal:
    value = decimal.Decimal(text.strip())
    if not value.is_finite():
        raise ValueError(text)
    return value


def _float(text: str) -> float:
    # NaN and ±Infinity as pages show them (PostgreSQL and SQLite store them); Python's other
    # spellings ('inf', 'nan') are refused, as a typo is likelier than a wish for them.
    if text.strip().lower() in ("nan", "infinity", "-infinity"):
        return float(text.strip().lower().replace("infinity", "inf"))
    value = float(text.strip())
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


def _datetime(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.strip())


def _interval(text: str) -> dt.timedelta:
    return dt.timedelta(microseconds=int(decimal.Decimal(text.strip()).scaleb(6)))


def _binary(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii"))


_PARSERS: dict[str, Any] = {
    "integer": _integer,
    "numeric": _numeric,
    "float": _float,
    "boolean": parse_boolean,
    "date": lambda t: dt.date.fromisoformat(t.strip()),
    "datetime": _datetime,
    "time": lambda t: dt.time.fromisoformat(t.strip()),
    "interval": _interval,
    "uuid": lambda t: uuid.UUID(t.strip()),
    "binary": _binary,
}
