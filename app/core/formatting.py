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
from collections.abc import Callable
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
