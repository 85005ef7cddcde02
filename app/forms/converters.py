"""One converter per column type: how a value is typed into a form and read back out of it.

A converter is looked up by walking the SQLAlchemy type's MRO (outer ``TypeDecorator`` layers
first, then the types they wrap), so a dialect subtype (PostgreSQL ``TIMESTAMP``, MySQL
``LONGTEXT``) finds the generic converter of its family and a type the registry does not know
falls back on its catalog kind (``catalog.types.kind_of``), and finally on plain text that the
database validates. Converters only parse and format; they never touch the database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import types as sat
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.types import TypeEngine

from ..catalog import modellogic
from ..catalog.readtypes import as_text, beyond_python
from ..catalog.types import kind_of
from ..core import looseval
from ..core.values import json_item, parse_boolean, to_text

Parse = Callable[[str], Any]
Format = Callable[[Any], str]


@dataclass(frozen=True)
class Conversion:
    """What a converter decides for one column: the field class and how values map to text."""

    field: str  # name of the field class in forms.fields (the template dispatches on it)
    parse: Parse = str
    format: Format = to_text
    input_type: str = "text"
    # extra HTML attributes (step, ...)
    attrs: dict[str, str] = dataclasses.field(default_factory=dict)
    choices: tuple[tuple[str, str], ...] = ()  # (stored value, label) for enums and sets
    text_like: bool = False  # an empty input is a value (the empty string), not "nothing"
    hint: str = ""  # how to type a value, shown under the field


# A converter takes the (unwrapped) type and the dialect name and returns a Conversion.
Converter = Callable[[TypeEngine[Any], str], Conversion]

_BY_TYPE: dict[type, Converter] = {}
_BY_KIND: dict[str, Converter] = {}


def register(*types: type, kinds: tuple[str, ...] = ()) -> Callable[[Converter], Converter]:
    """Register a converter for SQLAlchemy type classes (and their subclasses) and kinds."""

    def decorate(converter: Converter) -> Converter:
        for type_ in types:
            _BY_TYPE[type_] = converter
        for kind in kinds:
            _BY_KIND[kind] = converter
        return converter

    return decorate


def convert(type_: TypeEngine[Any], dialect: str) -> Conversion:
    """Find the converter for ``type_`` (MRO, TypeDecorators unwrapped) and apply it."""
    if as_text(type_):
        return _database_text(type_, dialect)
    conversion = _convert(type_, dialect)
    words = beyond_python(type_)
    if words is None:
        return conversion
    parse = conversion.parse

    def parse_or_words(text: str) -> Any:
        try:
            return parse(text)
        except ValueError:
            if words.match(text):
                return text  # 'infinity', a BC date: the database reads its own words
            raise

    return replace(conversion, parse=parse_or_words)


def through_decorator(conversion: Conversion, decorator: Any, dialect: str) -> Conversion:
    """A model's own TypeDecorator typed as its impl stores it: a value is shown as the
    decorator hands it to the impl, and what is typed is given back to Python by the decorator
    (the ORM's write then stores exactly what was typed)."""
    parse, fmt = conversion.parse, conversion.format

    def parse_stored(text: str) -> Any:
        return modellogic.from_stored(decorator, parse(text), dialect)

    def format_stored(value: Any) -> str:
        return fmt(modellogic.to_stored(decorator, value, dialect))

    return replace(conversion, parse=parse_stored, format=format_stored)


def _convert(type_: TypeEngine[Any], dialect: str) -> Conversion:
    layer: TypeEngine[Any] = type_
    while True:
        for cls in type(layer).__mro__:
            converter = _BY_TYPE.get(cls)
            if converter is not None:
                return converter(layer, dialect)
        if not isinstance(layer, sat.TypeDecorator):
            break
        layer = layer.impl_instance
    return _BY_KIND.get(kind_of(type_), _unknown)(layer, dialect)


# --- integers ----------------------------------------------------------------------------------

_INT_BITS: tuple[tuple[type, int], ...] = (
    (mysql.TINYINT, 8),
    (sat.SmallInteger, 16),
    (mysql.MEDIUMINT, 24),
    (sat.BigInteger, 64),
    (sat.Integer, 32),
)


def integer_range(type_: TypeEngine[Any], dialect: str) -> tuple[int, int]:
    """The values an integer column can hold; SQLite stores 64 bits whatever the declaration."""
    bits = 64
    if dialect != "sqlite":
        bits = next((b for cls, b in _INT_BITS if isinstance(type_, cls)), 64)
    if getattr(type_, "unsigned", False):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _integer_parser(low: int, high: int) -> Parse:
    def parse(text: str) -> int:
        stripped = text.strip()
        if not re.fullmatch(r"[+-]?\d+", stripped):
            raise ValueError("Enter a whole number.")
        value = int(stripped)
        if not low <= value <= high:
            raise ValueError(f"Enter a whole number between {low:,} and {high:,}.")
        return value

    return parse


@register(sat.Integer, kinds=("integer",))
def _integer(type_: TypeEngine[Any], dialect: str) -> Conversion:
    low, high = integer_range(type_, dialect)
    return Conversion(
        "ValueField",
        parse=_integer_parser(low, high),
        input_type="number",
        attrs={"step": "1", "min": str(low), "max": str(high)},
    )


@register(mysql.TINYINT)
def _tinyint(type_: TypeEngine[Any], dialect: str) -> Conversion:
    # MySQL and MariaDB have no boolean type: BOOLEAN is TINYINT(1), so that is a yes/no.
    if getattr(type_, "display_width", None) == 1:
        return _boolean(type_, dialect)
    return _integer(type_, dialect)


@register(mysql.YEAR)
def _year(type_: TypeEngine[Any], dialect: str) -> Conversion:
    parse_year = _integer_parser(0, 2155)

    def parse(text: str) -> int:
        value = parse_year(text)
        if value != 0 and not 1901 <= value <= 2155:
            raise ValueError("Enter a year between 1901 and 2155 (or 0).")
        return value

    return Conversion(
        "ValueField",
        parse=parse,
        input_type="number",
        attrs={"step": "1", "min": "1901", "max": "2155"},
    )


# --- numbers -----------------------------------------------------------------------------------


def _decimal_parser(precision: int | None, scale: int | None, dialect: str = "") -> Parse:
    def parse(text: str) -> decimal.Decimal | str:
        try:
            value = decimal.Decimal(text.strip())
        except decimal.InvalidOperation:
            raise ValueError("Enter a number, such as 12.50.") from None
        if not value.is_finite():
            # PostgreSQL's numeric holds NaN and (since 14) ±Infinity; a numeric(p, s) holds NaN.
            if dialect == "postgresql" and value.is_nan() and not value.is_snan():
                return value
            if dialect == "postgresql" and value.is_infinite() and precision is None:
                # Only an unconstrained numeric holds ±Infinity; psycopg2 would send NaN.
                return "-Infinity" if value < 0 else "Infinity"
            raise ValueError("Enter a finite number.")
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        places = max(0, -exponent)
        if scale is not None and places > scale:
            # Rounding silently would store something other than what was typed.
            raise ValueError(f"At most {scale} digit(s) after the decimal point.")
        if precision is not None:
            whole_digits = len(str(abs(int(value)))) if int(value) else 0
            allowed = precision - (scale or 0)
            if whole_digits > allowed:
                raise ValueError(
                    f"At most {allowed} digit(s) before the decimal point "
                    f"(numeric({precision}, {scale or 0}))."
                )
        return value

    return parse


def _float_parser(dialect: str) -> Parse:
    allowed = ", ".join(sorted(looseval.NON_FINITE_BY_DIALECT.get(dialect, {}))) or "none"

    def parse(text: str) -> float:
        special = looseval.non_finite(text, dialect)
        if special is not None:
            return special
        try:
            value = float(text.strip())
        except ValueError:
            raise ValueError("Enter a number, such as 1.5 or 2e-3.") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"Enter a finite number (non-finite values here: {allowed}).")
        return value

    return parse


def _decimal_format(value: Any) -> str:
    return format(value, "f") if isinstance(value, decimal.Decimal) else str(value)


@register(sat.Numeric, kinds=("numeric",))
def _numeric(type_: TypeEngine[Any], dialect: str) -> Conversion:
    precision = getattr(type_, "precision", None)
    scale = getattr(type_, "scale", None)
    parse = _decimal_parser(precision, scale, dialect)
    if not getattr(type_, "asdecimal", True):
        decimal_parse = parse

        def parse(text: str) -> Any:
            return float(decimal_parse(text))

    step = "any" if scale is None else ("1" if scale == 0 else f"0.{'0' * (scale - 1)}1")
    hint = f"numeric({precision}, {scale or 0})" if precision is not None else ""
    return Conversion(
        "ValueField",
        parse=parse,
        format=_decimal_format,
        input_type="text",
        attrs={"inputmode": "decimal", "data-step": step},
        hint=hint,
    )


@register(sat.Float, kinds=("float",))
def _float(type_: TypeEngine[Any], dialect: str) -> Conversion:
    return Conversion(
        "ValueField",
        parse=_float_parser(dialect),
        format=repr_float,
        attrs={"inputmode": "decimal"},
    )


def repr_float(value: Any) -> str:
    return looseval.float_text(value) if isinstance(value, float) else str(value)


# --- booleans ----------------------------------------------------------------------------------


@register(sat.Boolean, kinds=("boolean",))
def _boolean(type_: TypeEngine[Any], dialect: str) -> Conversion:
    return Conversion(
        "BooleanField", parse=parse_boolean, format=lambda v: "true" if v else "false"
    )


# --- text --------------------------------------------------------------------------------------


def _text_parser(dialect: str) -> Parse:
    def parse(text: str) -> str:
        if dialect == "postgresql" and "\x00" in text:
            raise ValueError("PostgreSQL text cannot hold NUL (\\0) characters.")
        return text

    return parse


@register(sat.String, kinds=("text",))
def _string(type_: TypeEngine[Any], dialect: str) -> Conversion:
    length = getattr(type_, "length", None)
    attrs = {"maxlength": str(length)} if length else {}
    return Conversion("TextField", parse=_text_parser(dialect), attrs=attrs, text_like=True)


@register(sat.Text, mysql.TINYTEXT, mysql.MEDIUMTEXT, mysql.LONGTEXT)
def _long_text(type_: TypeEngine[Any], dialect: str) -> Conversion:
    return Conversion("TextAreaField", parse=_text_parser(dialect), text_like=True)


def _unknown(type_: TypeEngine[Any], dialect: str) -> Conversion:
    # A type we know nothing about: the text goes to the database as typed, and the database
    # says whether it fits; bytes (a geometry, say) travel as x'..' and are sent as bytes.
    text_parse = _text_parser(dialect)
    if dialect == "sqlite" and isinstance(type_, sat.NullType):
        # A column with no declared type keeps whatever storage class it is given.
        def parse(text: str) -> Any:
            return looseval.untyped_value(text_parse(text))

        hint = "no declared type: a number is stored as a number, x'0A1B' as bytes, else text"
    else:

        def parse(text: str) -> Any:
            value = looseval.untyped_value(text_parse(text))
            return value if isinstance(value, bytes) else text

        hint = "checked by the database"
    return Conversion(
        "TextField", parse=parse, format=looseval.untyped_text, text_like=True, hint=hint
    )


@register(postgresql.HSTORE)
def _hstore(type_: TypeEngine[Any], dialect: str) -> Conversion:
    return Conversion(
        "TextAreaField",
        parse=_text_parser(dialect),
        format=lambda v: looseval.hstore_text(v) if isinstance(v, dict) else str(v),
        text_like=True,  # empty is the empty hstore; NULL is the box
        hint='hstore pairs, e.g. "a"=>"1", "b"=>NULL; checked by the database',
    )


@register(mysql.BIT)
def _bit(type_: TypeEngine[Any], dialect: str) -> Conversion:
    high = 2 ** (getattr(type_, "length", None) or 1) - 1
    return Conversion(
        "ValueField",
        parse=_integer_parser(0, high),
        input_type="number",
        attrs={"step": "1", "min": "0", "max": str(high)},
        hint=f"bits as a whole number, 0 to {high:,}",
    )


_BY_KIND["other"] = _unknown
_BY_KIND["unknown"] = _unknown


def _database_text(type_: TypeEngine[Any], dialect: str) -> Conversion:
    # Values the database reads and writes as its own text (see catalog.readtypes.as_text).
    if isinstance(type_, mysql.SET):
        return _set(type_, dialect)
    hint = getattr(type_, "text_hint", "")
    text_parse = _text_parser(dialect)
    parse: Parse
    if isinstance(type_, sat.Interval) or "INTERVAL" in type(type_).__name__:

        def parse(text: str) -> Any:
            # '1 day, 2:03:04', 'P1DT2H' or seconds read as before; anything else ('1 mon')
            # is PostgreSQL's to read.
            try:
                return parse_interval(text)
            except ValueError:
                return text_parse(text)

    else:
        parse = text_parse
    return Conversion(
        "TextField",
        parse=parse,
        format=str,
        hint=f"{hint}; checked by the database" if hint else "checked by the database",
    )


# --- enums and sets ----------------------------------------------------------------------------


@register(sat.Enum, kinds=("enum",))
def _enum(type_: TypeEngine[Any], dialect: str) -> Conversion:
    stored: list[str] = list(getattr(type_, "enums", []))
    enum_class = getattr(type_, "enum_class", None)
    parse: Parse
    fmt: Format
    if enum_class is not None:
        # Enum lists the stored strings in the order of the Python members (aliases dropped).
        by_stored = dict(zip(stored, list(enum_class)))
        to_stored = {member: text for text, member in by_stored.items()}

        def parse(text: str) -> Any:
            if text not in by_stored:
                raise ValueError("Choose one of the listed values.")
            return by_stored[text]

        def fmt(value: Any) -> str:
            return to_stored.get(value, str(value))

    else:

        def parse(text: str) -> Any:
            if text not in stored:
                raise ValueError("Choose one of the listed values.")
            return text

        fmt = str
    # An enum that has the empty string among its values tells it from NULL with the NULL box,
    # as text does: the select's own "" option is that value.
    return Conversion(
        "ChoiceField",
        parse=parse,
        format=fmt,
        choices=tuple((s, _choice_label(s, enum_class)) for s in stored),
        text_like="" in stored,
    )


def _choice_label(stored: str, enum_class: Any) -> str:
    """An Enum class member's text value labels its choice (``SUSPENDED`` stored, "Suspended
    for now" shown); otherwise the stored value itself."""
    member = getattr(enum_class, "__members__", {}).get(stored) if enum_class else None
    if member is not None and isinstance(member.value, str) and member.value:
        return member.value
    return stored


@register(mysql.SET)
def _set(type_: TypeEngine[Any], dialect: str) -> Conversion:
    values = [v for v in getattr(type_, "values", ()) if v != ""]
    return Conversion("SetField", choices=tuple((v, v) for v in values))


# --- dates and times ---------------------------------------------------------------------------


def _datetime_parser(aware: bool) -> Parse:
    def parse(text: str) -> dt.datetime:
        stripped = text.strip()
        try:
            value = dt.datetime.fromisoformat(stripped)
        except ValueError:
            raise ValueError("Enter a date and time as YYYY-MM-DD HH:MM:SS.") from None
        if aware and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        if not aware and value.tzinfo is not None:
            raise ValueError("This column stores no time zone: leave out the offset.")
        return value

    return parse


def _datetime_format(value: Any) -> str:
    return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else str(value)


@register(sat.DateTime, kinds=("datetime",))
def _datetime(type_: TypeEngine[Any], dialect: str) -> Conversion:
    aware = bool(getattr(type_, "timezone", False))
    return Conversion(
        "ValueField",
        parse=_datetime_parser(aware),
        format=_datetime_format,
        attrs={"placeholder": "YYYY-MM-DD HH:MM:SS" + ("+HH:MM" if aware else "")},
        hint="with time zone: give an offset such as +02:00 (UTC if none)" if aware else "",
    )


def _date_parse(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError("Enter a date as YYYY-MM-DD.") from None


@register(sat.Date, kinds=("date",))
def _date(type_: TypeEngine[Any], dialect: str) -> Conversion:
    return Conversion("ValueField", parse=_date_parse, input_type="date")


def _time_parser(aware: bool) -> Parse:
    def parse(text: str) -> dt.time:
        try:
            value = dt.time.fromisoformat(text.strip())
        except ValueError:
            raise ValueError("Enter a time as HH:MM or HH:MM:SS.") from None
        if not aware and value.tzinfo is not None:
            raise ValueError("This column stores no time zone: leave out the offset.")
        return value

    return parse


@register(sat.Time, kinds=("time",))
def _time(type_: TypeEngine[Any], dialect: str) -> Conversion:
    aware = bool(getattr(type_, "timezone", False))
    return Conversion("ValueField", parse=_time_parser(aware), attrs={"placeholder": "HH:MM:SS"})


_ISO_DURATION = re.compile(
    r"^(?P<sign>[+-])?P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_CLOCK = re.compile(
    r"^(?:(?P<days>[+-]?\d+) days?,?\s*)?(?P<sign>[+-])?(?P<hours>\d+):(?P<minutes>\d{1,2})"
    r"(?::(?P<seconds>\d{1,2}(?:\.\d{1,6})?))?$"
)


def parse_interval(text: str) -> dt.timedelta:
    """Read ``1 day, 2:03:04``, ``-1 day, 23:00:00``, ``02:30``, ``P1DT2H`` or seconds."""
    stripped = text.strip()
    try:
        match = _CLOCK.match(stripped)
        if match:
            clock = dt.timedelta(
                hours=int(match["hours"]),
                minutes=int(match["minutes"]),
                seconds=float(decimal.Decimal(match["seconds"] or 0)),
            )
            if match["sign"] == "-":
                clock = -clock
            return dt.timedelta(days=int(match["days"] or 0)) + clock
        match = _ISO_DURATION.match(stripped)
        if match and stripped.upper() not in ("P", "PT", "+P", "-P"):
            parts = {k: float(v) for k, v in match.groupdict().items() if v and k != "sign"}
            value = dt.timedelta(**parts)
            return -value if match["sign"] == "-" else value
        if re.fullmatch(r"[+-]?\d+(?:\.\d+)?", stripped):
            micros = decimal.Decimal(stripped).scaleb(6).to_integral_value()
            return dt.timedelta(microseconds=int(micros))
    except (OverflowError, ValueError, decimal.InvalidOperation):
        raise ValueError("That interval is too large.") from None
    raise ValueError("Enter an interval such as '1 day, 2:03:04', '02:30', 'P1DT2H' or seconds.")


@register(sat.Interval, kinds=("interval",))
def _interval(type_: TypeEngine[Any], dialect: str) -> Conversion:
    return Conversion(
        "ValueField",
        parse=parse_interval,
        format=str,
        attrs={"placeholder": "1 day, 02:03:04"},
        hint="days, HH:MM:SS; ISO 8601 (P1DT2H) or seconds also work",
    )


# --- identifiers, documents, arrays, bytes -----------------------------------------------------


@register(sat.Uuid, kinds=("uuid",))
def _uuid(type_: TypeEngine[Any], dialect: str) -> Conversion:
    as_uuid = getattr(type_, "as_uuid", True)

    def parse(text: str) -> Any:
        try:
            value = uuid.UUID(text.strip())
        except ValueError:
            raise ValueError(
                "Enter a UUID, such as 123e4567-e89b-12d3-a456-426614174000."
            ) from None
        return value if as_uuid else str(value)

    return Conversion("ValueField", parse=parse, format=str)


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"This is not valid JSON: {exc}") from None


def format_json(value: Any) -> str:
    if isinstance(value, str):
        try:
            json.loads(value)
            return value  # a driver that hands back the JSON text
        except ValueError:
            pass
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _json_document(text: str) -> Any:
    value = parse_json(text)
    return sat.JSON.NULL if value is None else value  # the JSON null, not SQL NULL


@register(sat.JSON, kinds=("json",))
def _json(type_: TypeEngine[Any], dialect: str) -> Conversion:
    return Conversion(
        "JSONField", parse=_json_document, format=format_json, hint='JSON, e.g. {"a": 1}'
    )


def json_text(dialect: str) -> Conversion:
    """MariaDB's JSON is LONGTEXT with a json_valid() check: checked as JSON, stored as typed."""
    text_parse = _text_parser(dialect)

    def parse(text: str) -> str:
        parse_json(text)
        return text_parse(text)

    return Conversion("JSONField", parse=parse, format=str, hint='JSON, e.g. {"a": 1}')


def _array_item_parser(item_type: TypeEngine[Any], dialect: str) -> Callable[[Any], Any]:
    conversion = convert(item_type, dialect)
    kind = kind_of(item_type)

    def item(value: Any) -> Any:
        if value is None:
            return None
        if kind in ("integer", "numeric", "float") and isinstance(value, (int, float)):
            if isinstance(value, bool):
                raise ValueError("Array items must be numbers.")
            value = repr(value) if isinstance(value, float) else str(value)
        if kind == "boolean" and isinstance(value, bool):
            return value
        if not isinstance(value, str):
            raise ValueError(f"Array item {json.dumps(value)} is not a {kind} value.")
        return conversion.parse(value)

    return item


@register(sat.ARRAY, kinds=("array",))
def _array(type_: TypeEngine[Any], dialect: str) -> Conversion:
    item_type = getattr(type_, "item_type", sat.String())
    item = _array_item_parser(item_type, dialect)

    def parse(text: str) -> list[Any]:
        value = parse_json(text)
        if not isinstance(value, list):
            raise ValueError('Enter a JSON list, such as ["a", "b"] or [1, 2].')

        def walk(items: list[Any]) -> list[Any]:
            return [walk(v) if isinstance(v, list) else item(v) for v in items]

        return walk(value)

    def fmt(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, default=json_item)

    return Conversion("JSONField", parse=parse, format=fmt, hint='a JSON list, e.g. ["a", "b"]')


@register(sat.LargeBinary, kinds=("binary",))
def _binary(type_: TypeEngine[Any], dialect: str) -> Conversion:
    length = getattr(type_, "length", None)
    return Conversion("FileField", attrs={"data-max": str(length)} if length else {})
