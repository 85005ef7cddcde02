"""Unit tests for the tilde encoding of table names and row keys in URLs.

Every table name and primary-key value ends up in a path segment, so the encoding must be
reversible for any text, must only ever produce characters that survive proxies untouched, and
must refuse (as MalformedKey, which the views answer with 404) anything it did not produce.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Date, Integer, Numeric, String, Uuid, column
from sqlalchemy.types import TypeEngine

from rowboat.catalog.model import Column
from rowboat.catalog.types import kind_of
from rowboat.core import keys

SHORT = settings(max_examples=100, deadline=None)

# Characters that need care in a path segment, mixed into generated text so they come up often.
# Lone surrogates are left out: they are not text any database driver can hand back.
TRICKY = st.sampled_from(["/", "%", "~", ",", ".", " ", "?", "#", "\n", "é", "日", "😀"])
# Any text a database can hold: no lone surrogates, and no NUL (PostgreSQL refuses it).
TEXT = st.lists(
    st.one_of(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), TRICKY),
    max_size=20,
).map("".join)


def col(name: str, type_: TypeEngine[Any]) -> Column:
    return Column(
        key=name,
        name=name,
        kind=kind_of(type_),
        type=type_,
        expression=column(name, type_),
        primary_key=True,
        nullable=False,
    )


# --- encode / decode ---------------------------------------------------------------------------


@SHORT
@given(TEXT)
def test_encode_decode_round_trip(text: str) -> None:
    assert keys.decode(keys.encode(text)) == text


def test_decode_refuses_a_nul_character() -> None:
    with pytest.raises(keys.MalformedKey):
        keys.decode(keys.encode("a\x00b"))


@SHORT
@given(TEXT)
def test_encoded_text_only_holds_url_safe_characters(text: str) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_~-]+", keys.encode(text))


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("album", "album"),
        ("42", "42"),
        ("snake_case-name", "snake_case-name"),
        ("", "~"),
        ("~", "~7E"),
        ("a/b", "a~2Fb"),
        ("50%", "50~25"),
        ("a,b", "a~2Cb"),
        ("a.b", "a~2Eb"),
        ("a b", "a~20b"),
        ("é", "~C3~A9"),
    ],
)
def test_encode_examples(text: str, encoded: str) -> None:
    assert keys.encode(text) == encoded
    assert keys.decode(encoded) == text


@pytest.mark.parametrize(
    "bad",
    [
        "~Z1",  # not hex
        "~4",  # truncated escape
        "abc~",  # escape with nothing after it
        "~7e",  # lower-case hex is never produced
        "%41",  # percent-encoding is not tilde-encoding
        "a/b",  # a raw slash
        "a b",
        "a.b",  # a dot separates schema and table; never inside an encoded name
        "a,b",
        "é",  # raw non-ASCII
        "~FF",  # a byte that is not UTF-8
        "~C3",  # a truncated UTF-8 sequence
        "~C3~28",  # an invalid continuation byte
        "abc\n",  # a trailing newline must not slip past the pattern
    ],
)
def test_decode_rejects_malformed_input(bad: str) -> None:
    with pytest.raises(keys.MalformedKey):
        keys.decode(bad)


def test_malformed_key_is_a_value_error() -> None:
    assert issubclass(keys.MalformedKey, ValueError)


# --- identities ------------------------------------------------------------------------------

KEY_COLUMNS = {
    "integer": (col("id", Integer()), st.integers(-(2**63), 2**63 - 1)),
    "text": (col("code", String()), TEXT),
    "date": (col("day", Date()), st.dates()),
    "uuid": (col("guid", Uuid()), st.uuids()),
    "numeric": (
        col("amount", Numeric(20, 6)),
        st.decimals(allow_nan=False, allow_infinity=False),
    ),
}


def test_key_columns_have_the_expected_kinds() -> None:
    assert {kind: c.kind for kind, (c, _) in KEY_COLUMNS.items()} == {
        kind: kind for kind in KEY_COLUMNS
    }


@st.composite
def composite_keys(draw: st.DrawFn) -> tuple[list[Any], list[Column]]:
    kinds = draw(st.lists(st.sampled_from(sorted(KEY_COLUMNS)), min_size=1, max_size=4))
    columns = [KEY_COLUMNS[kind][0] for kind in kinds]
    values = [draw(KEY_COLUMNS[kind][1]) for kind in kinds]
    return values, columns


@SHORT
@given(composite_keys())
def test_identity_round_trip(key: tuple[list[Any], list[Column]]) -> None:
    values, columns = key
    encoded = keys.encode_identity(values, columns)
    assert re.fullmatch(r"[A-Za-z0-9_~,-]+", encoded)
    assert encoded.count(",") == len(columns) - 1
    decoded = keys.decode_identity(encoded, columns)
    assert decoded == tuple(values)
    assert [type(v) for v in decoded] == [type(v) for v in values]
    # Decimal equality ignores trailing zeros; the key must keep them (1.50 is not 1.5).
    assert [str(v) for v in decoded] == [str(v) for v in values]


def test_identity_examples() -> None:
    columns = [
        KEY_COLUMNS["integer"][0],
        KEY_COLUMNS["text"][0],
        KEY_COLUMNS["date"][0],
        KEY_COLUMNS["uuid"][0],
        KEY_COLUMNS["numeric"][0],
    ]
    guid = uuid.UUID("12345678-1234-5678-1234-567812345678")
    values = [7, "a,b/c", dt.date(2024, 2, 29), guid, decimal.Decimal("1.50")]
    encoded = keys.encode_identity(values, columns)
    assert encoded == "7,a~2Cb~2Fc,2024-02-29,12345678-1234-5678-1234-567812345678,1~2E50"
    assert keys.decode_identity(encoded, columns) == tuple(values)


def test_identity_with_an_empty_text_value() -> None:
    columns = [KEY_COLUMNS["text"][0], KEY_COLUMNS["integer"][0]]
    encoded = keys.encode_identity(["", 1], columns)
    assert encoded == "~,1"
    assert keys.decode_identity(encoded, columns) == ("", 1)


@pytest.mark.parametrize(
    ("text", "n_columns"),
    [("1,2", 1), ("1", 2), ("1,2,3", 2), ("1,,2", 2)],
)
def test_identity_with_the_wrong_number_of_parts(text: str, n_columns: int) -> None:
    columns = [KEY_COLUMNS["integer"][0]] * n_columns
    with pytest.raises(keys.MalformedKey, match="key value"):
        keys.decode_identity(text, columns)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("abc", "integer"),
        ("1~2E5", "integer"),
        ("2024-13-01", "date"),
        ("not-a-uuid", "uuid"),
        ("one", "numeric"),
        ("~FF", "text"),
        ("a/b", "text"),
    ],
)
def test_identity_with_a_value_that_does_not_fit(text: str, kind: str) -> None:
    with pytest.raises(keys.MalformedKey):
        keys.decode_identity(text, [KEY_COLUMNS[kind][0]])


def test_identity_error_names_the_column() -> None:
    with pytest.raises(keys.MalformedKey, match="'id'"):
        keys.decode_identity("abc", [KEY_COLUMNS["integer"][0]])


# --- table segments -----------------------------------------------------------------------------


@SHORT
@given(st.one_of(st.none(), TEXT.filter(bool)), TEXT)
def test_entity_segment_round_trip(schema: str | None, table: str) -> None:
    segment = keys.entity_segment(schema, table)
    assert re.fullmatch(r"[A-Za-z0-9_~.-]+", segment)
    assert segment.count(".") == (0 if schema is None else 1)
    assert keys.parse_entity_segment(segment) == (schema, table)


@pytest.mark.parametrize(
    ("schema", "table", "segment"),
    [
        (None, "album", "album"),
        ("public", "album", "public.album"),
        (None, "v1.2", "v1~2E2"),
        ("my.schema", "a.b", "my~2Eschema.a~2Eb"),
        (None, "a/b", "a~2Fb"),
    ],
)
def test_entity_segment_examples(schema: str | None, table: str, segment: str) -> None:
    assert keys.entity_segment(schema, table) == segment
    assert keys.parse_entity_segment(segment) == (schema, table)


@pytest.mark.parametrize("segment", ["a.b.c", "a..b", "a/b", "a.~Z1", "~FF.a"])
def test_parse_entity_segment_rejects_malformed_segments(segment: str) -> None:
    with pytest.raises(keys.MalformedKey):
        keys.parse_entity_segment(segment)
