"""The form core without a web app: converters found through the type hierarchy, what each
field makes of what is typed, and form classes built once per table."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Enum,
    Integer,
    Interval,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    create_engine,
)
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.types import NullType
from werkzeug.datastructures import MultiDict

from rowboat.catalog.discovery import discover
from rowboat.config import DatabaseConfig
from rowboat.forms import UNSET, convert, form_spec
from rowboat.forms.converters import integer_range, parse_interval


class Lowercase(TypeDecorator[str]):
    impl = String(20)
    cache_ok = True


class Colour(enum.Enum):
    RED = "r"
    GREEN = "g"


@pytest.mark.parametrize(
    ("type_", "field", "input_type"),
    [
        (Integer(), "ValueField", "number"),
        (postgresql.INTEGER(), "ValueField", "number"),
        (Numeric(8, 2), "ValueField", "text"),
        (mysql.DOUBLE(), "ValueField", "text"),
        (String(5), "TextField", "text"),
        (mysql.LONGTEXT(), "TextAreaField", "text"),
        (Lowercase(), "TextField", "text"),  # through the TypeDecorator to String
        (Boolean(), "BooleanField", "text"),
        (mysql.TINYINT(display_width=1), "BooleanField", "text"),
        (mysql.TINYINT(), "ValueField", "number"),
        (Enum("a", "b", name="e"), "ChoiceField", "text"),
        (postgresql.ENUM("a", "b", name="e2"), "ChoiceField", "text"),
        (mysql.SET("x", "y"), "SetField", "text"),
        (mysql.YEAR(), "ValueField", "number"),
        (Interval(), "ValueField", "text"),
        (postgresql.INTERVAL(), "ValueField", "text"),  # found by its kind
        (JSON(), "JSONField", "text"),
        (postgresql.JSONB(), "JSONField", "text"),
        (postgresql.ARRAY(Integer), "JSONField", "text"),
        (LargeBinary(), "FileField", "text"),
        (mysql.VARBINARY(10), "FileField", "text"),  # found by its kind
        (postgresql.INET(), "TextField", "text"),  # unknown: the database checks it
        (NullType(), "TextField", "text"),
    ],
)
def test_converter_found_through_the_type_hierarchy(
    type_: Any, field: str, input_type: str
) -> None:
    conversion = convert(type_, "postgresql")
    assert conversion.field == field
    assert conversion.input_type == input_type


def test_integer_ranges_follow_type_and_dialect() -> None:
    assert integer_range(SmallInteger(), "postgresql") == (-32768, 32767)
    assert integer_range(BigInteger(), "mysql") == (-(2**63), 2**63 - 1)
    assert integer_range(mysql.INTEGER(unsigned=True), "mysql") == (0, 2**32 - 1)
    assert integer_range(Integer(), "sqlite") == (-(2**63), 2**63 - 1)  # SQLite: always 64 bits
    parse = convert(SmallInteger(), "postgresql").parse
    assert parse(" 42 ") == 42
    for bad in ("40000", "1.5", "1e3", "", "x"):
        with pytest.raises(ValueError):
            parse(bad)


def test_numeric_keeps_its_scale() -> None:
    parse = convert(Numeric(6, 2), "postgresql").parse
    assert parse("1234.5") == Decimal("1234.5")
    assert parse("-0.01") == Decimal("-0.01")
    assert parse("NaN").is_nan()  # PostgreSQL's numeric(p, s) holds NaN, not infinity
    for bad in ("1.234", "12345", "Infinity", "1,5"):
        with pytest.raises(ValueError):
            parse(bad)
    assert convert(Numeric(), "postgresql").parse("-Infinity") == "-Infinity"
    with pytest.raises(ValueError):
        convert(Numeric(6, 2), "mysql").parse("NaN")


def test_enum_with_python_class_gives_members() -> None:
    conversion = convert(Enum(Colour, values_callable=lambda m: [x.value for x in m]), "sqlite")
    assert conversion.choices == (("r", "r"), ("g", "g"))
    assert conversion.parse("g") is Colour.GREEN
    assert conversion.format(Colour.RED) == "r"
    with pytest.raises(ValueError):
        conversion.parse("GREEN")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 day, 2:03:04", dt.timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("-1 day, 23:00:00", dt.timedelta(hours=-1)),
        ("02:30", dt.timedelta(hours=2, minutes=30)),
        ("-00:00:01.5", dt.timedelta(seconds=-1.5)),
        ("P1DT2H", dt.timedelta(days=1, hours=2)),
        ("PT0.25S", dt.timedelta(seconds=0.25)),
        ("90", dt.timedelta(seconds=90)),
        ("3 days, 0:00:00", dt.timedelta(days=3)),
    ],
)
def test_interval_texts(text: str, expected: dt.timedelta) -> None:
    assert parse_interval(text) == expected
    assert parse_interval(str(expected)) == expected  # what the form shows reads back


def test_datetime_time_zones() -> None:
    aware = convert(postgresql.TIMESTAMP(timezone=True), "postgresql").parse
    assert aware("2024-01-01 12:00+02:00") == dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC)
    assert aware("2024-01-01 12:00").tzinfo is dt.UTC
    naive = convert(postgresql.TIMESTAMP(), "postgresql").parse
    assert naive("2024-01-01T12:00:01.5") == dt.datetime(2024, 1, 1, 12, 0, 1, 500000)
    with pytest.raises(ValueError, match="no time zone"):
        naive("2024-01-01 12:00+02:00")


def test_postgresql_text_refuses_nul() -> None:
    with pytest.raises(ValueError, match="NUL"):
        convert(String(), "postgresql").parse("a\x00b")
    assert convert(String(), "sqlite").parse("a\x00b") == "a\x00b"


# --- forms built from a catalog ------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path: Path = tmp_path_factory.mktemp("forms") / "forms.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    metadata = MetaData()
    Table(
        "thing",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(10), nullable=False),
        Column("note", Text, nullable=True, comment="Anything"),
        Column("status", String(8), nullable=False, server_default="new"),
        Column("data", Integer, nullable=True),  # a column named like a Form attribute
        Column("_hidden", Integer, nullable=True),
        Column("done", Boolean, nullable=False),
    )
    metadata.create_all(engine)
    try:
        return discover(DatabaseConfig(name="f", url=str(engine.url)), engine)
    finally:
        engine.dispose()


def test_form_class_is_built_once(catalog: Any) -> None:
    entity = catalog.entities["thing"]
    first = form_spec(entity, catalog, "edit")
    assert form_spec(entity, catalog, "edit") is first
    assert form_spec(entity, catalog, "create") is not first
    with pytest.raises(ValueError):
        form_spec(entity, catalog, "bogus")


def test_generic_field_parts(catalog: Any) -> None:
    entity = catalog.entities["thing"]
    create = {c.key: c for c in form_spec(entity, catalog, "create").columns}
    assert not create["id"].required and "database assigns it" in create["id"].help
    assert create["name"].required
    assert not create["status"].required and "'new'" in create["status"].help
    assert create["note"].nullable and not create["note"].required  # (SQLite keeps no comments)
    # Reflection maps a column named "_hidden" under the key "c_hidden" (a "_" name is not an
    # attribute the ORM or a URL filter takes); the form shows its real name.
    assert create["c_hidden"].html_name == "c_hidden" and create["c_hidden"].name == "_hidden"
    edit = {c.key: c for c in form_spec(entity, catalog, "edit").columns}
    assert edit["status"].required  # on edit a NOT NULL column needs a value


def submit(catalog: Any, mode: str, **fields: Any) -> tuple[Any, Any]:
    entity = catalog.entities["thing"]
    spec = form_spec(entity, catalog, mode)
    data: MultiDict[str, Any] = MultiDict()
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            data.add(key, item)
    form = spec.make(formdata=data)
    return spec, form


def test_submitted_values(catalog: Any) -> None:
    spec, form = submit(
        catalog,
        "create",
        id="",
        name="",
        note="text",
        status="",
        data="5",
        c_hidden="7",
        **{"_bool": "done", "_null": ["note"]},
    )
    assert form.validate(), form.errors
    # id and status are left to the database; the ticked NULL gives way to the typed note on a
    # new row; name is the empty string; the unticked checkbox is False.
    assert spec.values(form) == {
        "name": "",
        "note": "text",
        "data": 5,
        "c_hidden": 7,
        "done": False,
    }


def test_edit_leaves_absent_fields_alone(catalog: Any) -> None:
    spec, form = submit(catalog, "edit", note="", **{"_null": ["note"]})
    assert form.validate(), form.errors
    assert spec.values(form) == {"note": None}
    assert spec.field(form, "status").data is UNSET


def test_errors_stay_on_their_fields(catalog: Any) -> None:
    spec, form = submit(catalog, "edit", data="x", name="y" * 11, **{"_null": ["status"]})
    assert not form.validate()
    assert "whole number" in spec.field(form, "data").errors[0]
    assert "At most 10" in spec.field(form, "name").errors[0]
    assert "cannot be NULL" in spec.field(form, "status").errors[0]
    assert spec.field(form, "data").text == "x"  # what was typed comes back
