"""Unit tests for converting values between URL text and the Python type of a column.

``to_text`` and ``from_text`` carry row keys, filter values and page cursors, so for every
kind ``from_text(to_text(v)) == v`` must hold exactly, and text that does not fit must raise a
ValueError whose message names the column (it is shown to the user).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import math
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    Interval,
    LargeBinary,
    Numeric,
    String,
    Time,
    Uuid,
    column,
)
from sqlalchemy.types import TypeEngine

from rowboat.catalog.model import Column
from rowboat.catalog.types import kind_of
from rowboat.core.values import from_text, to_text

SHORT = settings(max_examples=100, deadline=None)


class Mood(enum.Enum):
    happy = "Happy :)"
    sad = "Sad :("


def col(name: str, type_: TypeEngine[Any]) -> Column:
    return Column(
        key=name, name=name, kind=kind_of(type_), type=type_, expression=column(name, type_)
    )


COLUMNS = {
    "integer": col("qty", Integer()),
    "numeric": col("price", Numeric(30, 10)),
    "float": col("ratio", Float()),
    "boolean": col("flag", Boolean()),
    "date": col("born", Date()),
    "datetime": col("seen_at", DateTime()),
    "time": col("opens", Time()),
    "uuid": col("guid", Uuid()),
    "interval": col("took", Interval()),
    "binary": col("blob", LargeBinary()),
    "enum": col("mood", Enum(Mood)),
    "text": col("name", String()),
}

FIXED_OFFSETS = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)

STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "integer": st.integers(-(2**63), 2**63 - 1),  # the widest integer any database stores
    "numeric": st.decimals(allow_nan=False, allow_infinity=False),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "boolean": st.booleans(),
    "date": st.dates(),
    "datetime": st.datetimes() | st.datetimes(timezones=FIXED_OFFSETS),
    "time": st.times() | st.times(timezones=FIXED_OFFSETS),
    "uuid": st.uuids(),
    # Up to about 135 years either way; see test_interval_keeps_microseconds_of_long_spans.
    "interval": st.timedeltas(
        min_value=dt.timedelta(days=-50_000), max_value=dt.timedelta(days=50_000)
    ),
    "binary": st.binary(max_size=64),
    "text": st.text(alphabet=st.characters(exclude_characters="\x00")),
}


def test_columns_have_the_kinds_they_stand_for() -> None:
    assert {kind: c.kind for kind, c in COLUMNS.items()} == {kind: kind for kind in COLUMNS}


@SHORT
@given(st.data())
@pytest.mark.parametrize("kind", sorted(STRATEGIES))
def test_round_trip(kind: str, data: st.DataObject) -> None:
    value = data.draw(STRATEGIES[kind])
    column = COLUMNS[kind]
    text = to_text(value, column)
    assert isinstance(text, str)
    back = from_text(text, column)
    assert back == value
    assert type(back) is type(value)
    if kind in ("datetime", "time"):
        assert back.utcoffset() == value.utcoffset()


@SHORT
@given(st.binary(max_size=64))
def test_binary_text_is_url_safe(value: bytes) -> None:
    text = to_text(value, COLUMNS["binary"])
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


# --- per kind -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["3.14159265358979323846264338327950288", "1.50", "-0.000001", "1E+3", "123456789012345678901"],
)
def test_numeric_keeps_precision(text: str) -> None:
    value = from_text(text, COLUMNS["numeric"])
    assert value == decimal.Decimal(text)
    assert str(value) == text
    assert to_text(value, COLUMNS["numeric"]) == text


def test_numeric_strips_whitespace() -> None:
    assert from_text(" 2.5 ", COLUMNS["numeric"]) == decimal.Decimal("2.5")


def test_integer_parses_whole_numbers() -> None:
    assert from_text(" 42 ", COLUMNS["integer"]) == 42
    assert from_text("-7", COLUMNS["integer"]) == -7
    assert from_text(str(2**63 - 1), COLUMNS["integer"]) == 2**63 - 1
    with pytest.raises(ValueError, match="'qty'"):
        from_text(str(2**63), COLUMNS["integer"])


def test_text_refuses_nul_characters() -> None:
    with pytest.raises(ValueError, match="NUL"):
        from_text("a\x00b", COLUMNS["text"])


@pytest.mark.parametrize("text", ["inf", "-inf", "+nan", "1e999", "-1e999"])
def test_float_rejects_python_spellings_of_nan_and_infinity(text: str) -> None:
    with pytest.raises(ValueError, match="'ratio'"):
        from_text(text, COLUMNS["float"])


def test_float_takes_nan_and_infinity_as_pages_show_them() -> None:
    # PostgreSQL and SQLite store them, and pages show them in SQL's words: a filter by what
    # is shown must work.
    assert math.isnan(from_text("NaN", COLUMNS["float"]))
    assert from_text("Infinity", COLUMNS["float"]) == math.inf
    assert from_text("-infinity", COLUMNS["float"]) == -math.inf


def test_float_round_trips_exactly() -> None:
    for value in (0.1, -0.0, 1e-300, 1.7976931348623157e308, math.pi):
        assert from_text(to_text(value), COLUMNS["float"]) == value
    assert math.copysign(1, from_text(to_text(-0.0), COLUMNS["float"])) == -1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *[(t, True) for t in ("1", "true", "t", "yes", "y", "on", "TRUE", " Yes ", "On")],
        *[(t, False) for t in ("0", "false", "f", "no", "n", "off", "FALSE", " No ", "Off")],
    ],
)
def test_boolean_spellings(text: str, expected: bool) -> None:
    assert from_text(text, COLUMNS["boolean"]) is expected


def test_boolean_to_text() -> None:
    assert to_text(True) == "true"
    assert to_text(False) == "false"


def test_datetime_with_and_without_time_zone() -> None:
    naive = dt.datetime(2024, 2, 29, 13, 45, 6, 789)
    assert to_text(naive) == "2024-02-29T13:45:06.000789"
    assert from_text("2024-02-29T13:45:06.000789", COLUMNS["datetime"]) == naive
    assert from_text("2024-02-29 13:45:06.000789", COLUMNS["datetime"]) == naive

    india = dt.timezone(dt.timedelta(hours=5, minutes=30))
    aware = dt.datetime(2024, 2, 29, 13, 45, tzinfo=india)
    assert to_text(aware) == "2024-02-29T13:45:00+05:30"
    back = from_text("2024-02-29T13:45:00+05:30", COLUMNS["datetime"])
    assert back == aware
    assert back.utcoffset() == dt.timedelta(hours=5, minutes=30)
    utc = from_text("2024-02-29T08:15:00Z", COLUMNS["datetime"])
    assert utc == aware  # the same instant


def test_date_and_time() -> None:
    assert from_text("2024-02-29", COLUMNS["date"]) == dt.date(2024, 2, 29)
    assert to_text(dt.date(5, 1, 2)) == "0005-01-02"
    assert from_text("0005-01-02", COLUMNS["date"]) == dt.date(5, 1, 2)
    assert from_text("08:30", COLUMNS["time"]) == dt.time(8, 30)
    assert to_text(dt.time(8, 30, 0, 5)) == "08:30:00.000005"


def test_uuid_accepts_the_usual_spellings() -> None:
    guid = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert to_text(guid) == "12345678-1234-5678-1234-567812345678"
    for text in (
        "12345678-1234-5678-1234-567812345678",
        "12345678123456781234567812345678",
        "{12345678-1234-5678-1234-567812345678}",
        "12345678-1234-5678-1234-567812345678".upper(),
    ):
        assert from_text(text, COLUMNS["uuid"]) == guid


def test_interval_is_seconds() -> None:
    took = dt.timedelta(days=1, seconds=2, microseconds=3)
    assert to_text(took) == "86402.000003"
    assert from_text("86402.000003", COLUMNS["interval"]) == took
    assert from_text("-1.5", COLUMNS["interval"]) == dt.timedelta(seconds=-1.5)


@pytest.mark.parametrize(
    "took",
    [
        dt.timedelta(days=99_421, microseconds=1),
        dt.timedelta(days=200_000, microseconds=1),
        dt.timedelta(days=-200_000, microseconds=1),
        dt.timedelta.max,
        dt.timedelta.min,
    ],
)
def test_interval_keeps_microseconds_of_long_spans(took: dt.timedelta) -> None:
    # PostgreSQL intervals reach far beyond the 2**53 microseconds a float holds exactly.
    assert from_text(to_text(took), COLUMNS["interval"]) == took


def test_binary_is_url_safe_base64() -> None:
    assert to_text(b"\xfb\xff\x00") == "-_8A"
    assert from_text("-_8A", COLUMNS["binary"]) == b"\xfb\xff\x00"


def test_enum_members_become_their_names() -> None:
    assert to_text(Mood.happy, COLUMNS["enum"]) == "happy"
    # The name is what SQLAlchemy's Enum binds and compares; it stays a string.
    assert from_text("happy", COLUMNS["enum"]) == "happy"
    assert from_text(to_text(Mood.sad), COLUMNS["enum"]) == "sad"


def test_text_is_kept_as_is() -> None:
    for text in ("", "  padded  ", "a,b", "日本", "0"):
        assert from_text(text, COLUMNS["text"]) == text
        assert to_text(text) == text


def test_other_values_use_str() -> None:
    assert to_text(42) == "42"
    assert to_text(decimal.Decimal("1.10")) == "1.10"


# --- bad values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("integer", "abc"),
        ("integer", "1.5"),
        ("integer", ""),
        ("numeric", "abc"),
        ("numeric", "NaN"),
        ("numeric", "Infinity"),
        ("numeric", "sNaN"),
        ("numeric", ""),
        ("float", "abc"),
        ("float", ""),
        ("boolean", "maybe"),
        ("boolean", "2"),
        ("boolean", ""),
        ("date", "2024-02-30"),
        ("date", "yesterday"),
        ("datetime", "2024-02-29T25:00"),
        ("datetime", "now"),
        ("time", "24:00"),
        ("time", "noon"),
        ("uuid", "not-a-uuid"),
        ("uuid", "1234"),
        ("interval", "a day"),
        ("interval", "1e400"),
        ("binary", "abc"),
        ("binary", "é"),
    ],
)
def test_bad_values_raise_value_error_naming_the_column(kind: str, text: str) -> None:
    column = COLUMNS[kind]
    with pytest.raises(ValueError, match=f"'{column.name}'") as info:
        from_text(text, column)
    assert kind in str(info.value)
