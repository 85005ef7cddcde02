"""Values whose Python type says little about how the database writes them, as text and back.

Shared by table cells and form fields, so the two always agree: a float that is not a number
is ``NaN`` / ``Infinity`` as PostgreSQL spells them (Python prints ``nan`` / ``inf``), bytes in
a column of no known binary type are a SQLite blob literal ``x'DEADBEEF'``, an hstore is
PostgreSQL's ``"key"=>"value"`` text, and a value of a SQLite column with no declared type (or
of a type the catalog does not know) is read back into the storage class its text names.
"""

from __future__ import annotations

import math
import re
from typing import Any

# The float texts each database can store, beyond finite numbers.
NON_FINITE_BY_DIALECT = {
    "postgresql": {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf},
    "sqlite": {"infinity": math.inf, "-infinity": -math.inf},
}
_NON_FINITE_SPELLINGS = {
    "inf": "infinity",
    "+inf": "infinity",
    "+infinity": "infinity",
    "-inf": "-infinity",
}


def float_text(value: float) -> str:
    """A float as text that reads back exactly (``repr``), non-finite ones in SQL's words."""
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def non_finite(text: str, dialect: str) -> float | None:
    """The NaN or infinity that ``text`` names, if this database can store it."""
    word = text.strip().lower()
    word = _NON_FINITE_SPELLINGS.get(word, word)
    return NON_FINITE_BY_DIALECT.get(dialect, {}).get(word)


def blob_text(value: bytes | bytearray | memoryview) -> str:
    return "x'" + bytes(value).hex().upper() + "'"


_BLOB = re.compile(r"^[xX]'((?:[0-9a-fA-F]{2})*)'$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_REAL = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


def untyped_value(text: str) -> Any:
    """Read text typed for a column of no declared type: a number as a number, ``x'..'`` as
    bytes, anything else as text (what SQLite's own literals mean)."""
    blob = _BLOB.match(text)
    if blob:
        return bytes.fromhex(blob.group(1))
    if _INTEGER.match(text):
        value = int(text)
        if -(2**63) <= value < 2**63:
            return value
        return text
    if _REAL.match(text):
        return float(text)
    return text


def untyped_text(value: Any) -> str:
    """The text ``untyped_value`` reads back as ``value``."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return blob_text(value)
    if isinstance(value, float):
        return float_text(value)
    return str(value)


def _hstore_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def hstore_text(value: dict[str, str | None]) -> str:
    """An hstore in PostgreSQL's own output: pairs ordered as it orders keys (by length, then
    bytes), NULL values unquoted."""
    keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
    return ", ".join(
        f"{_hstore_quote(k)}=>{'NULL' if value[k] is None else _hstore_quote(value[k])}"  # type: ignore[arg-type]
        for k in keys
    )
