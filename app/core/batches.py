"""Conditions and statements over many row keys, in batches of bound parameters.

A condition with one ``OR`` per key outgrows SQLite's expression depth limit (1,000: "Expression
tree is too large") and is slow to compile everywhere; an ``IN`` list of bound parameters is
one node however long it is, and batches of ``BATCH`` keep each statement's parameters within
every driver's limits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, tuple_

BATCH = 500


def chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def key_in(columns: Sequence[Any], identities: Sequence[Sequence[Any]]) -> ColumnElement[bool]:
    """Rows whose ``columns`` hold one of ``identities``: ``c IN (...)``, or ``(a, b) IN (...)``
    for a composite key (a row value, which every engine here supports)."""
    if len(columns) == 1:
        return columns[0].in_([identity[0] for identity in identities])
    return tuple_(*columns).in_([tuple(identity) for identity in identities])
