"""PostgreSQL values that Python's types cannot hold, read as PostgreSQL's own text.

psycopg2 turns dates before year 1 or after 9999 into an error that fails the whole page, turns
'infinity' into date.max (so a save would write 9999-12-31), '24:00:00' into midnight, and an
interval of '1 mon' into 30 days. Each connection gets typecasters that hand those values back
as the server's text (``StoredText``) instead, and everything else exactly as psycopg2 would.
Intervals are always read as the server's text: no Python type holds months and days apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..catalog.readtypes import StoredText

# Text psycopg2 would misread rather than reject.
_BEYOND_PYTHON = re.compile(r"infinity|BC$|^\d{5,}-|^24:", re.IGNORECASE)

# (type oid, array oid, psycopg2's own caster name)
_DATE_TIME_TYPES = (
    (1082, 1182, "PYDATE"),  # date
    (1114, 1115, "PYDATETIME"),  # timestamp
    (1184, 1185, "PYDATETIMETZ"),  # timestamptz
    (1083, 1183, "PYTIME"),  # time
    (1266, 1270, "PYTIME"),  # timetz
)
_INTERVAL = (1186, 1187)

_casters: list[Any] | None = None


def _guarded(default: Any) -> Callable[[str | None, Any], Any]:
    def cast(value: str | None, cursor: Any) -> Any:
        if value is None:
            return None
        if _BEYOND_PYTHON.search(value):
            return StoredText(value)
        try:
            return default(value, cursor)
        except (ValueError, OverflowError):
            return StoredText(value)

    return cast


def _as_text(value: str | None, _cursor: Any) -> Any:
    return None if value is None else StoredText(value)


def _build() -> list[Any]:
    import psycopg2.extensions as ext

    # The stubs type a caster's value as str | bytes | None, but on Python 3 psycopg2 always
    # hands it the decoded str (or None), which is what the casters here take.
    casters = []
    for oid, array_oid, name in _DATE_TIME_TYPES:
        base = ext.new_type((oid,), f"ROWBOAT_{oid}", _guarded(getattr(ext, name)))  # type: ignore[arg-type]
        casters += [base, ext.new_array_type((array_oid,), f"ROWBOAT_{array_oid}[]", base)]
    interval = ext.new_type((_INTERVAL[0],), "ROWBOAT_INTERVAL", _as_text)  # type: ignore[arg-type]
    casters += [interval, ext.new_array_type((_INTERVAL[1],), "ROWBOAT_INTERVAL[]", interval)]
    return casters


def register(dbapi_connection: Any) -> None:
    """Install the typecasters on one psycopg2 connection."""
    global _casters
    import psycopg2.extensions as ext

    if _casters is None:
        _casters = _build()
    for caster in _casters:
        ext.register_type(caster, dbapi_connection)
