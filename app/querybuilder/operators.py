"""The query builder's operators: the list page's table plus "between" and "not in".

The list page's operators (``app.core.filters``) are reused as they are; the two additions are
``Operator`` entries of the same shape, so one ``Filter`` object builds, converts and describes
every condition whichever table the operator came from.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_
from sqlalchemy.sql.elements import ColumnElement

from ..catalog.model import Column
from ..catalog.types import ORDERABLE
from ..core.filters import (
    OPERATORS,
    OPERATORS_BY_KEY,
    Filter,
    FilterError,
    Operator,
    check_comparable,
    make_filter,
    refuse_operator,
    split_list,
)
from ..core.values import from_text

_COMPARABLE = frozenset(ORDERABLE - {"boolean", "binary"})


def _between(expr: Any, values: list[Any]) -> ColumnElement[bool]:
    return expr.between(values[0], values[1])


def _not_in(expr: Any, values: list[Any]) -> ColumnElement[bool]:
    # Like the list page's "≠": rows whose value is NULL are not in the list either.
    return or_(expr.not_in(values), expr.is_(None))


BETWEEN = Operator("between", "between", "{column} between {value}", _COMPARABLE, "two", _between)
NOT_IN = Operator(
    "notin", "not in list", "{column} not in {value}", OPERATORS_BY_KEY["in"].kinds, "list", _not_in
)


def _ordered() -> tuple[Any, ...]:
    result: list[Any] = []
    for op in OPERATORS:
        result.append(op)
        if op.key == "gte":
            result.append(BETWEEN)
        elif op.key == "in":
            result.append(NOT_IN)
    return tuple(result)


QUERY_OPERATORS = _ordered()
QUERY_OPERATORS_BY_KEY = {op.key: op for op in QUERY_OPERATORS}
# Operators that make sense on an aggregate's value (HAVING).
HAVING_KEYS = ("exact", "not", "lt", "lte", "gt", "gte", "between", "in", "notin")


def operators_for(column: Column) -> list[Any]:
    return [op for op in QUERY_OPERATORS if op.applies_to(column)]


def make_condition(column: Column, op_key: str, raw: str) -> Filter:
    """Check and convert one condition; FilterError with a message for the user otherwise."""
    if op_key not in (BETWEEN.key, NOT_IN.key):
        return make_filter(column, op_key, raw)
    operator = QUERY_OPERATORS_BY_KEY[op_key]
    if not operator.applies_to(column):
        raise refuse_operator(column, operator)
    items = split_list(raw)
    if op_key == BETWEEN.key and len(items) != 2:
        raise FilterError(f"'between' on {column.name!r} needs two values: low, high")
    if not items:
        raise FilterError(f"the 'not in list' filter on {column.name!r} needs values")
    try:
        value = [from_text(item, column) for item in items]
    except ValueError as exc:
        raise FilterError(str(exc)) from exc
    if op_key == BETWEEN.key:
        check_comparable(column, value)
    return Filter(column=column, operator=operator, raw=raw, value=value)
