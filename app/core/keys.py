"""Reversible, URL-safe names for tables and rows.

Path segments cannot carry a raw ``/`` (servers decode ``%2F`` before routing), so names and
primary-key values are "tilde-encoded": letters, digits, ``_`` and ``-`` stand for themselves
and every other byte of the UTF-8 text becomes ``~XX``. The result survives any proxy, reads
well for ordinary names (``album``, ``42``) and decodes to exactly the original text. A row's
identity joins its key values with ``,`` so composite keys fit in one segment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..catalog.model import Column
from .values import from_text, to_text

_SAFE = re.compile(r"[A-Za-z0-9_-]")
_ENCODED = re.compile(r"^(?:[A-Za-z0-9_-]|~[0-9A-F]{2})*$")


class MalformedKey(ValueError):
    """A name or key in a URL that does not decode; the caller answers 404."""


_ALL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def encode(text: str) -> str:
    if _ALL_SAFE.fullmatch(text):  # the common case (``42``, ``album``): one regex call
        return text
    out = []
    for char in text:
        if _SAFE.fullmatch(char):
            out.append(char)
        else:
            out.extend(f"~{byte:02X}" for byte in char.encode("utf-8"))
    return out and "".join(out) or "~"


def decode(text: str) -> str:
    if text == "~":
        return ""
    if not _ENCODED.fullmatch(text):
        raise MalformedKey(f"{text!r} is not a valid encoded name")
    raw = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "~":
            raw.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(text[i].encode("ascii"))
            i += 1
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedKey(f"{text!r} does not decode to text") from exc
    if "\x00" in decoded:
        raise MalformedKey(f"{text!r} holds a NUL character, which no key can")
    return decoded


def encode_identity(values: Sequence[Any], columns: Sequence[Column]) -> str:
    """Encode a row's primary-key values (in key-column order) as one path segment."""
    return ",".join(encode(to_text(value, column)) for value, column in zip(values, columns))


def row_identity(values: Sequence[Any], columns: Sequence[Column]) -> str | None:
    """``encode_identity``, or None when a key value is NULL.

    SQLite lets a primary key that is not the rowid hold NULL. Such a row cannot be addressed
    (``= NULL`` matches nothing, and the text "None" is a valid key of a text column), so it
    gets no link, never a URL ending in ``/None``.
    """
    if any(value is None for value in values):
        return None
    return encode_identity(values, columns)


def decode_identity(text: str, columns: Sequence[Column]) -> tuple[Any, ...]:
    """Decode a path segment back to typed key values; MalformedKey if it cannot be."""
    parts = text.split(",")
    if len(parts) != len(columns):
        raise MalformedKey(f"expected {len(columns)} key value(s), got {len(parts)}")
    try:
        return tuple(from_text(decode(part), column) for part, column in zip(parts, columns))
    except ValueError as exc:
        raise MalformedKey(str(exc)) from exc


def entity_segment(schema: str | None, table: str) -> str:
    """The URL segment of a table: ``table`` or ``schema.table``, each part tilde-encoded."""
    return f"{encode(schema)}.{encode(table)}" if schema else encode(table)


def parse_entity_segment(segment: str) -> tuple[str | None, str]:
    parts = segment.split(".")
    if len(parts) == 1:
        return None, decode(parts[0])
    if len(parts) == 2:
        return decode(parts[0]), decode(parts[1])
    raise MalformedKey(f"{segment!r} is not a table name")


def identity_of(entity: Any, values: dict[str, Any]) -> str | None:
    """The encoded identity of a row given its column values; None without a primary key or
    with a NULL in it (``row_identity``)."""
    if not entity.primary_key:
        return None
    return row_identity(
        [values[k] for k in entity.primary_key], [entity.columns[k] for k in entity.primary_key]
    )
