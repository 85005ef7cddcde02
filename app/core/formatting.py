"""How a value looks in a table cell: one formatter per column kind.

NULL and the empty string must never look alike, binary values show their size (the list
query selects only their length), and long text is cut with the whole value one click away.
Everything is escaped here, so templates can output the result as-is.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import html
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from markupsafe import Markup

from ..catalog.model import Column
from . import looseval
from .values import json_item

CUT_AT = 80


def _size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


# The formatters return escaped HTML as plain ``str``: ``cell`` wraps it in Markup once, and
# list pages join a whole row before wrapping it (``rowhtml``), since building a Markup object
# per value is a measurable share of a 500-row page.
NULL_HTML = '<span class="null">NULL</span>'


def _text(value: Any) -> str:
    text = str(value)
    if text == "":
        return '<span class="empty" title="empty string">(empty)</span>'
    if len(text) <= CUT_AT and "\n" not in text:
        return html.escape(text)
    head = text.splitlines()[0][:CUT_AT] if text.strip() else text[:CUT_AT]
    return (
        f'<details class="long"><summary>{html.escape(head)}…</summary>'
        f'<div class="full">{html.escape(text)}</div></details>'
    )


def _binary(value: Any) -> str:
    # The list query selects length(column); a row page may hand over the bytes themselves.
    if isinstance(value, str):
        return _text(value)  # SQLite keeps text in a BLOB column as text
    n = len(value) if isinstance(value, (bytes, bytearray, memoryview)) else int(value)
    return f'<span class="binary">&lt;binary, {_size(n)}&gt;</span>'


def _json(value: Any) -> str:
    if isinstance(value, str):
        return _text(value)
    return _text(json.dumps(value, ensure_ascii=False, default=str))


def _boolean(value: Any) -> str:
    return f'<span class="bool">{"true" if value else "false"}</span>'


def _plain(value: Any) -> str:
    # Numbers, dates and times print only digits, signs, letters and ``-:. +``: nothing to
    # escape. ``type() is`` rather than isinstance: a bool or an int-based Enum goes on below.
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is float:
        return looseval.float_text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _binary(value)  # bytes in a column of a type the catalog does not know
    if isinstance(value, dict):
        return _text(looseval.hstore_text(value))
    if isinstance(value, enum.Enum):
        return html.escape(value.name)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return _text(value)


def _array(value: Any) -> str:
    # As the edit form writes it: a JSON list (None as null), not Python's repr.
    if not isinstance(value, list):
        return _text(value)
    return _text(json.dumps(value, ensure_ascii=False, default=json_item))


_FORMATTERS: dict[str, Callable[[Any], str]] = {
    "array": _array,
    "binary": _binary,
    "json": _json,
    "boolean": _boolean,
    "text": _text,
}


def formatter_for(column: Column) -> Callable[[Any], str]:
    """The function that renders a non-NULL value of ``column`` as escaped HTML text."""
    return _FORMATTERS.get(column.kind, _plain)


def cell(value: Any, column: Column) -> Markup:
    """Render one value of ``column`` as safe HTML."""
    if value is None:
        return Markup(NULL_HTML)
    return Markup(formatter_for(column)(value))


# --- reading aids: digit grouping and midnight ------------------------------------------------
#
# The server writes every value exactly as stored; what the browser's locale changes is only
# drawn around it. ``static/values.js`` groups the digits of the cells marked ``GROUPED``
# (11170334 reads 11,170,334 in en-US, 11 170 334 in fr-FR) with separators drawn by CSS, so
# the text of the page, what is copied and what is exported stay 11170334.

GROUPED = "grp"  # the class of a cell whose digits the page groups

# A number that names rather than counts reads wrong grouped: keys, ids, years, codes.
_NAMING_WORDS = frozenset(
    {
        "id",
        "year",
        "yr",
        "code",
        "zip",
        "zipcode",
        "postcode",
        "postal",
        "phone",
        "number",
        "no",
        "nr",
        "num",
        "isbn",
        "ean",
        "upc",
        "pin",
        "ref",
        "version",
        "port",
    }
)
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def groups_digits(column: Column, is_key: bool) -> bool:
    """Whether a page groups the digits of ``column``'s values: a quantity (a price, a size in
    bytes, a count), never a key (primary or foreign, ``is_key``) or a number that names
    something (``…Id``, ``year``, ``zip``, ``phone``…)."""
    if column.kind not in ("integer", "numeric", "float") or is_key or column.primary_key:
        return False
    words = _WORDS.findall(column.name)
    return not words or words[-1].lower() not in _NAMING_WORDS


def is_midnight(value: Any) -> bool:
    """A datetime at exactly midnight, without a time zone that would be part of its value."""
    return (
        isinstance(value, dt.datetime)
        and value.tzinfo is None
        and value.hour == value.minute == value.second == value.microsecond == 0
    )


def all_midnight(values: Iterable[Any]) -> bool:
    """Whether the values (NULLs aside) are datetimes at midnight, at least one of them."""
    seen = False
    for value in values:
        if value is None:
            continue
        if not is_midnight(value):
            return False
        seen = True
    return seen


def midnight_html(value: dt.datetime) -> str:
    """A midnight datetime as its date, the exact value still the text: " 00:00:00" is there
    to be copied and read aloud but takes no room (``span.midnight``, rowboat.css)."""
    text = value.isoformat(sep=" ")  # "YYYY-MM-DD 00:00:00": no fraction, no zone
    return f'{text[:10]}<span class="midnight">{text[10:]}</span>'


def date_formatter(column: Column, values: Iterable[Any]) -> Callable[[Any], str] | None:
    """For a date or datetime column whose values here are all at midnight, the formatter
    that shows their dates; None otherwise (each value shows as stored)."""
    if column.kind not in ("date", "datetime") or not all_midnight(values):
        return None
    return midnight_html  # every value but NULLs (never formatted) is at midnight
