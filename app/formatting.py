"""How a value looks in a table cell: one formatter per column kind.

NULL and the empty string must never look alike, binary values show their size (the list
query selects only their length), and long text is cut with the whole value one click away.
Everything is escaped here, so templates can output the result as-is.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
from collections.abc import Callable
from typing import Any

from markupsafe import Markup, escape

from .catalog.model import Column

CUT_AT = 80


def _size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def _text(value: Any) -> Markup:
    text = str(value)
    if text == "":
        return Markup('<span class="empty" title="empty string">(empty)</span>')
    if len(text) <= CUT_AT and "\n" not in text:
        return escape(text)
    head = text.splitlines()[0][:CUT_AT] if text.strip() else text[:CUT_AT]
    return Markup(
        '<details class="long"><summary>{}…</summary><div class="full">{}</div></details>'
    ).format(head, text)


def _binary(value: Any) -> Markup:
    # The list query selects length(column); a row page may hand over the bytes themselves.
    n = len(value) if isinstance(value, (bytes, bytearray, memoryview)) else int(value)
    return Markup('<span class="binary">&lt;binary, {}&gt;</span>').format(_size(n))


def _json(value: Any) -> Markup:
    if isinstance(value, str):
        return _text(value)
    return _text(json.dumps(value, ensure_ascii=False, default=str))


def _boolean(value: Any) -> Markup:
    return Markup('<span class="bool">{}</span>').format("true" if value else "false")


def _plain(value: Any) -> Markup:
    if isinstance(value, enum.Enum):
        return escape(value.name)
    if isinstance(value, dt.datetime):
        return escape(value.isoformat(sep=" "))
    if isinstance(value, (dt.date, dt.time)):
        return escape(value.isoformat())
    if isinstance(value, decimal.Decimal):
        return escape(format(value, "f"))
    return _text(value)


_FORMATTERS: dict[str, Callable[[Any], Markup]] = {
    "binary": _binary,
    "json": _json,
    "boolean": _boolean,
    "text": _text,
}


def cell(value: Any, column: Column) -> Markup:
    """Render one value of ``column`` as safe HTML."""
    if value is None:
        return Markup('<span class="null">NULL</span>')
    return _FORMATTERS.get(column.kind, _plain)(value)
