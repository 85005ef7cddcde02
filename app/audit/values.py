"""Column values as the audit log keeps them: JSON that keeps the type, and gives it back.

Each value becomes ``{"t": type, "v": text-or-JSON}`` (``None`` stays ``null``), so that a
revert writes back exactly what was there: a Decimal keeps its digits, a float its bits
(``repr``), a time its zone, an integer beyond 2^53 every digit. Two kinds are kept only as a
summary, never whole:

- binary values: their size and SHA-256 (``{"t": "binary", "size": …, "sha256": …}``);
- text longer than ``TEXT_KEPT`` characters: its start, length and SHA-256 (``"cut": true``).

Neither can be written back; ``restorable`` says so, and a revert that needs one refuses.

A many-to-many relation a save changed is recorded under its name, as the target rows it
unlinked ("before") and linked ("after"): ``{"t": "unlinked" | "linked", "v": [identities]}``.
Links that stayed are not listed (a row may hold thousands).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import uuid
from typing import Any

from ..db.blobs import StoredBinary

TEXT_KEPT = 4096  # characters of a text value kept whole; longer ones are cut


def encode(value: Any) -> Any:
    """``value`` as typed JSON (see the module's doc)."""
    if value is None:
        return None
    if isinstance(value, StoredBinary):
        return {"t": "binary", "size": int(value), "sha256": value.digest}
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return {"t": "binary", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, enum.Enum):
        return {"t": "enum", "v": value.name, "class": type(value).__qualname__}
    if isinstance(value, int):
        return {"t": "int", "v": str(value)}
    if isinstance(value, float):
        return {"t": "float", "v": repr(value)}
    if isinstance(value, decimal.Decimal):
        return {"t": "decimal", "v": str(value)}
    if isinstance(value, str):
        if len(value) > TEXT_KEPT:
            digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
            return {
                "t": "text",
                "v": value[:TEXT_KEPT],
                "cut": True,
                "length": len(value),
                "sha256": digest,
            }
        return {"t": "text", "v": value}
    if isinstance(value, dt.datetime):
        return {"t": "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {"t": "date", "v": value.isoformat()}
    if isinstance(value, dt.time):
        return {"t": "time", "v": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"t": "interval", "v": str(value // dt.timedelta(microseconds=1))}
    if isinstance(value, uuid.UUID):
        return {"t": "uuid", "v": str(value)}
    if isinstance(value, (set, frozenset)):
        return {"t": "set", "v": sorted(str(item) for item in value)}
    if isinstance(value, (dict, list)):
        return {"t": "json", "v": value}
    return {"t": "other", "v": str(value), "class": type(value).__name__}


def encode_links(links: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The changes of ``writes.links.LinkChange`` values, by relation name."""
    return {
        name: {
            "before": {"t": "unlinked", "v": list(change.unlinked)},
            "after": {"t": "linked", "v": list(change.linked)},
        }
        for name, change in links.items()
        if change
    }


def links_now(
    session: Any, catalog: Any, entity: Any, obj: Any, changes: dict[str, dict[str, Any]]
) -> dict[str, set[str]]:
    """For each recorded many-to-many change, which of the rows it linked or unlinked are
    linked now (read through ``obj``, the row as loaded)."""
    from ..writes.links import linked_now  # the write layer: values stays importable alone

    return {
        name: linked_now(
            session, catalog, entity, obj, name, list(c["after"]["v"]) + list(c["before"]["v"])
        )
        for name, c in changes.items()
    }


def is_links(encoded: Any) -> bool:
    return isinstance(encoded, dict) and encoded.get("t") in ("linked", "unlinked")


class NotRestorable(ValueError):
    """A value the audit log kept only as a summary (binary, cut text)."""


def restorable(encoded: Any) -> bool:
    if encoded is None or not isinstance(encoded, dict):
        return True
    return encoded.get("t") not in ("binary", "other") and not encoded.get("cut")


def decode(encoded: Any, enum_class: type[enum.Enum] | None = None) -> Any:
    """The Python value ``encode`` was given; NotRestorable for a summary."""
    if encoded is None:
        return None
    if not restorable(encoded):
        raise NotRestorable(describe(encoded))
    kind, text = encoded["t"], encoded["v"]
    if kind == "bool":
        return bool(text)
    if kind == "enum":
        return enum_class[text] if enum_class is not None else text
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "decimal":
        return decimal.Decimal(text)
    if kind == "datetime":
        return dt.datetime.fromisoformat(text)
    if kind == "date":
        return dt.date.fromisoformat(text)
    if kind == "time":
        return dt.time.fromisoformat(text)
    if kind == "interval":
        return dt.timedelta(microseconds=int(text))
    if kind == "uuid":
        return uuid.UUID(text)
    if kind == "set":
        return set(text)
    return text  # text, json, and the identities of links


def describe(encoded: Any) -> str:
    """A short human reading of an encoded value, for diffs and messages."""
    if encoded is None:
        return "NULL"
    kind = encoded.get("t")
    if kind == "binary":
        return f"{encoded['size']:,} bytes (SHA-256 {encoded['sha256'][:12]}…)"
    if encoded.get("cut"):
        return f"{encoded['length']:,} characters (SHA-256 {encoded['sha256'][:12]}…)"
    if is_links(encoded):
        rows = encoded.get("v") or []
        if not rows:
            return "no link removed" if kind == "unlinked" else "no link added"
        shown = ", ".join(str(r) for r in rows[:20]) + ("…" if len(rows) > 20 else "")
        return f"{'unlinked' if kind == 'unlinked' else 'linked'} {shown}"
    return str(encoded.get("v"))


def holds(encoded: Any, value: Any) -> bool:
    """Whether the stored ``value`` is the one ``encoded`` records (a revert's guard, and
    ``reconcile``'s reading of a row).

    An entry's "after" values are those the save wrote, which the database may store in
    another spelling: a Decimal with trailing zeros, an integer read back as a Decimal, a
    time with another zone for the same instant, a boolean as 0 or 1. Those count as the
    same; anything else that differs is a change."""
    now = encode(value)
    if now == encoded:
        return True
    if encoded is None or now is None or not restorable(encoded) or not restorable(now):
        return False
    try:
        old, new = decode(encoded), decode(now)
    except (NotRestorable, ValueError, TypeError, KeyError):
        return False
    numbers = (int, float, decimal.Decimal)
    if isinstance(old, numbers) and isinstance(new, numbers):
        if isinstance(old, float) or isinstance(new, float):
            return bool(float(old) == float(new))
        return bool(decimal.Decimal(old) == decimal.Decimal(new))
    if type(old) is type(new):
        try:
            return bool(old == new)  # an aware datetime or time: the same instant
        except TypeError:
            return False
    return False
