"""The filter operators: one declarative table, compiled with SQLAlchemy operators only.

A filter in a URL is ``column__op=value``. Each operator says which column kinds it fits, how
many values it takes and how to build the condition; values are converted to the column's type
first and always bound. ``contains``/``startswith``/``endswith`` escape ``%`` and ``_`` so they
are matched literally.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import String, and_, cast, false, literal, or_, true, type_coerce
from sqlalchemy import types as sat
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement

from ..catalog.model import Column
from ..catalog.types import ORDERABLE, TEXT_LIKE, unwrap
from .values import check_text, from_text

_ALL = None  # applies to every kind
_COMPARABLE = ORDERABLE - {"boolean", "binary"}
_EQUATABLE = _COMPARABLE | {"boolean", "other", "unknown"}
_NO_EQUALITY = {"json", "array", "binary"}


@dataclass(frozen=True)
class Operator:
    key: str
    label: str  # shown in the operator picker
    describe: str  # "{column} is {value}"-style, for the human description of a filter
    kinds: frozenset[str] | None  # None: every kind
    arity: str  # "one", "list" or "none"
    build: Callable[[Any, Any], ColumnElement[bool]]

    def fits(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds

    def applies_to(self, column: Column) -> bool:
        """Whether this operator works on this column: its kind, and for a column whose type
        has no usable "=" (``Column.equatable``), only the null tests, which fit every kind."""
        return self.fits(column.kind) and (column.equatable or self.kinds is None)


def _in(expr: Any, values: list[Any]) -> ColumnElement[bool]:
    return expr.in_(values)


def _kinds(*names: str | set[str]) -> frozenset[str]:
    result: set[str] = set()
    for name in names:
        result |= {name} if isinstance(name, str) else set(name)
    return frozenset(result)


OPERATORS: tuple[Operator, ...] = (
    Operator(
        "exact",
        "=",
        "{column} = {value}",
        _kinds(_EQUATABLE - {"boolean"}),
        "one",
        lambda e, v: e == v,
    ),
    Operator(
        "not",
        "≠",
        "{column} ≠ {value}",
        _kinds(_EQUATABLE - {"boolean"}),
        "one",
        lambda e, v: or_(e != v, e.is_(None)),
    ),
    Operator("lt", "<", "{column} < {value}", _kinds(_COMPARABLE), "one", lambda e, v: e < v),
    Operator("lte", "≤", "{column} ≤ {value}", _kinds(_COMPARABLE), "one", lambda e, v: e <= v),
    Operator("gt", ">", "{column} > {value}", _kinds(_COMPARABLE), "one", lambda e, v: e > v),
    Operator("gte", "≥", "{column} ≥ {value}", _kinds(_COMPARABLE), "one", lambda e, v: e >= v),
    Operator(
        "contains",
        "contains",
        "{column} contains {value}",
        _kinds(TEXT_LIKE),
        "one",
        lambda e, v: e.contains(v, autoescape=True),
    ),
    Operator(
        "startswith",
        "starts with",
        "{column} starts with {value}",
        _kinds(TEXT_LIKE),
        "one",
        lambda e, v: e.startswith(v, autoescape=True),
    ),
    Operator(
        "endswith",
        "ends with",
        "{column} ends with {value}",
        _kinds(TEXT_LIKE),
        "one",
        lambda e, v: e.endswith(v, autoescape=True),
    ),
    Operator("in", "in list", "{column} in {value}", _kinds(_EQUATABLE - {"boolean"}), "list", _in),
    Operator("isnull", "is null", "{column} is null", _ALL, "none", lambda e, v: e.is_(None)),
    Operator(
        "notnull", "is not null", "{column} is not null", _ALL, "none", lambda e, v: e.is_not(None)
    ),
    Operator(
        "istrue", "is true", "{column} is true", _kinds("boolean"), "none", lambda e, v: e == true()
    ),
    Operator(
        "isfalse",
        "is false",
        "{column} is false",
        _kinds("boolean"),
        "none",
        lambda e, v: e == false(),
    ),
)
OPERATORS_BY_KEY = {op.key: op for op in OPERATORS}


class FilterError(ValueError):
    """A filter that names an unknown operator or carries a value of the wrong type."""


@dataclass(frozen=True)
class Filter:
    column: Column
    operator: Operator
    raw: str  # the text from the URL, kept to re-render the filter form
    value: Any  # the converted value (a list for "in", None for no-value operators)

    def condition(self) -> ColumnElement[bool]:
        value = self.value
        holds = text_holds(self.column)
        if holds is not None and value is not None:
            # A MariaDB/MySQL column whose character set has no such character (an emoji in a
            # utf8mb3 column) holds no value equal to (or containing) it: the database would
            # refuse the comparison (1267, "Illegal mix of collations"), the answer is known.
            if isinstance(value, list):
                kept = [v for v in value if not isinstance(v, str) or holds(v)]
                if not kept:
                    return true() if self.operator.key in _MATCH_ALL else false()
                value = kept
            elif isinstance(value, str) and not holds(value):
                if self.operator.key in _MATCH_ALL:
                    return true()
                if self.operator.key in _MATCH_NONE:
                    return false()
        if self.operator.key in _PATTERN_OPERATORS:
            return self.operator.build(pattern_operand(self.column), value)
        return self.operator.build(
            compared_expression(self.column), compared_value(self.column, value)
        )

    def description(self, labels: Mapping[Any, str] | None = None) -> str:
        """The filter in words; ``labels`` maps a value to how to show it instead (a foreign
        key's value as "Rock (1)")."""
        values = self.value if isinstance(self.value, list) else [self.raw]
        converted = self.value if isinstance(self.value, list) else [self.value]
        quote = self.column.kind in TEXT_LIKE or self.operator.key in _PATTERN_OPERATORS
        texts = [repr(str(v)) if quote else str(v) for v in values]
        if labels:
            texts = [
                labels[c] if _hashable(c) and c in labels else text
                for text, c in zip(texts, converted)
            ]
        shown = ", ".join(texts)
        return self.operator.describe.format(column=self.column.name, value=shown)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def operators_for(column: Column) -> list[Operator]:
    return [op for op in OPERATORS if op.applies_to(column)]


@cache  # one entry per kind of column: a handful
def operator_keys(kind: str, equatable: bool = True) -> str:
    """The keys of the operators that fit a kind of column, space-separated (for the page's
    script, which offers only those); worked out once per kind, not per column per page."""
    return " ".join(op.key for op in OPERATORS if op.fits(kind) and (equatable or op.kinds is None))


def refuse_operator(column: Column, operator: Operator) -> FilterError:
    """The error for an operator that does not apply to ``column``."""
    if not column.equatable:
        return FilterError(
            f"{column.name!r} cannot be compared with a value: the database has no "
            f"{operator.label!r} for its type that a typed-in value can use "
            "(only 'is null' and 'is not null' apply)"
        )
    return FilterError(
        f"operator {operator.label!r} does not apply to {column.name!r} ({column.kind})"
    )


def split_list(raw: str) -> list[str]:
    """Split an "in" value: one item per line, or comma-separated when on one line."""
    items = raw.splitlines() if "\n" in raw else raw.split(",")
    return [item.strip() for item in items if item.strip() != ""]


def make_filter(column: Column, operator_key: str, raw: str) -> Filter:
    """Check and convert one filter; FilterError with a message for the user otherwise."""
    operator = OPERATORS_BY_KEY.get(operator_key)
    if operator is None:
        raise FilterError(f"unknown filter operator {operator_key!r}")
    if not operator.applies_to(column):
        raise refuse_operator(column, operator)
    value: Any = None
    try:
        if operator.arity == "one":
            value = (
                check_text(raw) if operator.key in _PATTERN_OPERATORS else from_text(raw, column)
            )
        elif operator.arity == "list":
            items = split_list(raw)
            if not items:
                raise FilterError(f"the 'in list' filter on {column.name!r} needs values")
            value = [from_text(item, column) for item in items]
    except ValueError as exc:
        if isinstance(exc, FilterError):
            raise
        raise FilterError(str(exc)) from exc
    if operator.key in _ORDERING:
        check_comparable(column, value)
    return Filter(column=column, operator=operator, raw=raw, value=value)


# What a condition on a value the column cannot hold comes to: every row (≠, not in), or none.
_MATCH_ALL = {"not", "notin"}
_MATCH_NONE = {"exact", "in", "contains", "startswith", "endswith"}
_ORDERING = {"lt", "lte", "gt", "gte", "between"}


def check_comparable(column: Column, value: Any) -> None:
    """Refuse to order a text column against characters its character set does not have:
    unlike equality, "<" has no answer that is known without the database (which refuses)."""
    holds = text_holds(column)
    if holds is None:
        return
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str) and not holds(item):
            bad = next(ch for ch in item if not holds(ch))
            raise FilterError(
                f"{column.name!r} holds {column_charset(column)} text, which has no character "
                f"{bad!r} (U+{ord(bad):04X}): it cannot be ordered against {item!r}"
            )


# --- MariaDB/MySQL character sets ------------------------------------------------------------

# MySQL's latin1 is Windows-1252 with its five undefined bytes kept as the C1 controls.
_LATIN1_EXTRA = {"\x81", "\x8d", "\x8f", "\x90", "\x9d"}


def _bmp(text: str) -> bool:
    return all(ord(ch) <= 0xFFFF for ch in text)


def _latin1(text: str) -> bool:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return all(ch in _LATIN1_EXTRA or ch.encode("cp1252", "ignore") for ch in text)
    return True


# The character sets whose repertoire is known exactly here (others: the database decides).
_REPERTOIRES: dict[str, Callable[[str], bool]] = {
    "utf8mb3": _bmp,
    "utf8": _bmp,  # utf8mb3 on MariaDB and MySQL
    "ucs2": _bmp,
    "ascii": str.isascii,
    "latin1": _latin1,
}


def column_charset(column: Column) -> str | None:
    """The character set of a MariaDB/MySQL text column, when discovery saw one: the column's
    own, else its table's default. None for other databases and for declared models."""
    type_ = unwrap(column.type)
    if not type(type_).__module__.startswith("sqlalchemy.dialects.mysql"):
        return None
    charset = getattr(type_, "charset", None)
    if charset is None and isinstance(type_, (String, sat.Enum)):
        charset = _table_charset(column.expression)
    return charset.lower() if isinstance(charset, str) else None


def _table_charset(expression: Any) -> str | None:
    prop = getattr(expression, "property", None)  # an ORM attribute: its table column
    columns = getattr(prop, "columns", None)
    core = columns[0] if columns else expression
    table = getattr(core, "table", None)
    table = getattr(table, "element", table)  # an alias (the query builder's joins)
    options = getattr(table, "dialect_options", None)
    if options is None:
        return None
    try:
        mysql = options["mysql"]
    except KeyError:
        return None
    charset = mysql.get("default charset") or mysql.get("charset")
    return charset if isinstance(charset, str) else None


def text_holds(column: Column) -> Callable[[str], bool] | None:
    """A test of whether ``column`` can hold a text, when its character set cannot hold every
    character (utf8mb3: none beyond U+FFFF, such as emoji); None when it can, or is unknown."""
    if column.kind not in TEXT_LIKE:
        return None
    charset = column_charset(column)
    return _REPERTOIRES.get(charset) if charset is not None else None


def combine(filters: list[Filter]) -> ColumnElement[bool]:
    """AND the filters together (true when there are none)."""
    return and_(true(), *[f.condition() for f in filters])


_PATTERN_OPERATORS = {"contains", "startswith", "endswith"}


def pattern_operand(column: Column) -> Any:
    """The expression LIKE patterns apply to: enums are cast to text (PostgreSQL needs it)."""
    if column.kind == "enum":
        return cast(column.expression, String)
    return column.expression


def compared_expression(column: Column) -> Any:
    """The column as a condition compares it: a PostgreSQL domain as its base type.

    SQLAlchemy's ``DOMAIN`` has no comparison operators of its own (2.1 warns that comparing
    one is deprecated); the database compares a domain's values as its base type's anyway.
    """
    type_ = unwrap(column.type)
    if isinstance(type_, postgresql.DOMAIN):
        return type_coerce(column.expression, type_.data_type)
    return column.expression


def compared_value(column: Column, value: Any) -> Any:
    """The value (or list of values) a condition compares ``column`` with.

    A single-precision column (PostgreSQL's ``real``, MariaDB's ``FLOAT``) holds the nearest
    float32 of what it was given: 0.1 is kept as 0.100000001..., shown as 0.1, and compared
    with a bound 0.1 (a double) it is not equal. Cast to the column's own precision, the value
    the user typed from the page is the stored one again.
    """
    single = _single_precision(column)
    if single is None or value is None:
        return value
    if isinstance(value, list):
        return [cast(literal(v), single) for v in value]
    return cast(literal(value), single)


def _single_precision(column: Column) -> Any:
    """A plain single-precision type of the column's dialect, when the column is one."""
    if column.kind != "float":
        return None
    type_ = unwrap(column.type)
    # REAL is PostgreSQL's float4 (and SQLite's only float, harmless to cast to); FLOAT is
    # MariaDB's single precision (SQLite's FLOAT is a double, again harmless). A generic
    # ``Float`` (an aggregate's result type) is neither: it is left alone.
    if isinstance(type_, (sat.REAL, sat.FLOAT)):
        return type(type_)()  # without precision or scale: CAST(... AS FLOAT(10, 2)) fails
    return None


def search_condition(columns: list[Column], text: str) -> ColumnElement[bool]:
    """Case-insensitive "contains" across the given text columns, ``%`` and ``_`` literal.

    A column whose character set cannot hold the text (``text_holds``) cannot contain it.
    """
    return or_(
        false(),
        *[
            pattern_operand(c).icontains(text, autoescape=True)
            for c in columns
            if (holds := text_holds(c)) is None or holds(text)
        ],
    )
