"""The edge-case schema the database-backed tests browse, identical on every engine.

Each table stands for one thing real schemas do that a reflected dashboard must survive:
composite and text keys with URL-hostile characters, a table without a primary key (holding
fully duplicated rows), a view, a self-reference, a link table beside a direct foreign key
between the same two tables (automap's relationship-name clash), reserved words, mixed case
and spaces in names, NULL beside the empty string, HTML-looking text, long text, binary data
and one table large enough to page through. The rows are module constants so the tests derive
what they expect from the same source the database was filled from.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    insert,
    text,
)

metadata = MetaData()

group = Table(
    "group",  # a reserved word
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
)

person = Table(
    "person",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
    # The direct foreign key to "group" that clashes with the link table's relationships.
    Column("favourite_group_id", Integer, ForeignKey("group.id"), nullable=True),
    Column("mentor_id", Integer, ForeignKey("person.id"), nullable=True),  # self-reference
    Column("notes", String(200), nullable=True),  # NULL and "" side by side
    Column("bio", Text, nullable=True),  # HTML-looking and long text
    Column("photo", LargeBinary, nullable=True),
    Column("active", Boolean, nullable=True),
    Column("born", Date, nullable=True),
    Column("joined", DateTime, nullable=True),
    Column("balance", Numeric(10, 2), nullable=True),
)

membership = Table(
    "membership",  # a pure link table: two foreign keys, composite primary key
    metadata,
    Column("person_id", Integer, ForeignKey("person.id"), primary_key=True),
    Column("group_id", Integer, ForeignKey("group.id"), primary_key=True),
)

tag = Table(
    "tag",  # a text primary key whose values need encoding in URLs
    metadata,
    Column("code", String(40), primary_key=True),
    Column("name", String(100), nullable=False),
)

item = Table(
    "item",  # enough rows to page through, with ties and NULLs in sortable columns
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("label", String(40), nullable=False),
    Column("score", Integer, nullable=True),
    Column("group_id", Integer, ForeignKey("group.id"), nullable=False),
    Column("tag_code", String(40), ForeignKey("tag.code"), nullable=True),
)

grid = Table(
    "grid",  # composite primary key, one part text
    metadata,
    Column("x", Integer, nullable=False),
    Column("y", String(20), nullable=False),
    Column("note", String(50), nullable=True),
    PrimaryKeyConstraint("x", "y"),
)

nokey = Table(
    "nokey",  # no primary key, fully duplicated rows
    metadata,
    Column("a", Integer, nullable=True),
    Column("b", String(20), nullable=True),
)

order = Table(
    "order",  # a reserved word, with a reserved-word column
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("from", String(50), nullable=False),
    Column("person_id", Integer, ForeignKey("person.id"), nullable=True),
)

mixed_case = Table(
    "MixedCase",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("CamelColumn", String(50), nullable=True),
)

spaced = Table(
    "spaced table",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("some value", String(50), nullable=True),
)

VIEW_NAME = "person_view"
TABLE_NAMES = [t.name for t in metadata.sorted_tables]
ALL_NAMES = sorted([*TABLE_NAMES, VIEW_NAME])

# --- the rows -------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
BOLD = "<b>x</b>"
LONG_TEXT = ("long text " * 50)[:500]
PHOTO = bytes(range(256)) * 4 + b"\x00" * 10  # 1034 bytes, shown as "1.0 KB"

GROUPS = [
    {"id": 1, "name": "Admins"},
    {"id": 2, "name": "Editors"},
    {"id": 3, "name": "Readers"},
    {"id": 4, "name": "Nobody's group"},
]

PEOPLE = [
    {
        "id": 1,
        "name": "Ada",
        "favourite_group_id": 1,
        "mentor_id": 2,
        "notes": "",
        "bio": LONG_TEXT,
        "photo": PHOTO,
        "active": True,
        "born": dt.date(1990, 1, 2),
        "joined": dt.datetime(2020, 3, 4, 5, 6, 7),
        "balance": Decimal("12.50"),
    },
    {
        "id": 2,
        "name": SCRIPT,
        "favourite_group_id": 2,
        "mentor_id": None,
        "notes": None,
        "bio": BOLD,
        "photo": b"abc",
        "active": False,
        "born": dt.date(1985, 12, 31),
        "joined": dt.datetime(2021, 1, 1, 0, 0, 0),
        "balance": Decimal("-3.25"),
    },
    {
        "id": 3,
        "name": "Bob & Co",
        "favourite_group_id": None,
        "mentor_id": 1,
        "notes": BOLD,
        "bio": None,
        "photo": None,
        "active": None,
        "born": None,
        "joined": None,
        "balance": None,
    },
    {
        "id": 4,
        "name": "Zoë",
        "favourite_group_id": 1,
        "mentor_id": 1,
        "notes": "plain",
        "bio": "",
        "photo": b"",
        "active": True,
        "born": dt.date(2000, 2, 29),
        "joined": dt.datetime(2022, 6, 7, 8, 9, 10),
        "balance": Decimal("100.00"),
    },
    {
        "id": 5,
        "name": "Eve",
        "favourite_group_id": 3,
        "mentor_id": 4,
        "notes": "100% _real_",
        "bio": "x",
        "photo": b"\x00\x01",
        "active": False,
        "born": dt.date(1970, 1, 1),
        "joined": dt.datetime(2019, 9, 9, 9, 9, 9),
        "balance": Decimal("0.00"),
    },
    {
        "id": 6,
        "name": "Nemo",
        "favourite_group_id": None,
        "mentor_id": None,
        "notes": None,
        "bio": None,
        "photo": None,
        "active": None,
        "born": None,
        "joined": None,
        "balance": None,
    },
]

# Group 1's members (1, 3, 4) differ from the people whose favourite it is (1, 4), so each
# relation's rows can be told apart; group 4 has neither.
MEMBERSHIPS = [(1, 1), (1, 2), (2, 2), (3, 1), (3, 3), (4, 1), (5, 3)]

TEXT_KEYS = [
    "a/b",
    "100%",
    "O'Brien",
    'say "hi"',
    "x,y",
    "~tilde",
    "with space",
    "dot.ted",
    "日本",
    "plain",
]
TAGS = [{"code": code, "name": f"Tag {n}"} for n, code in enumerate(TEXT_KEYS, start=1)]

N_ITEMS = 237


def _item(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "label": f"label {(i * 7) % 40:02d}",  # 40 distinct labels: ties
        "score": None if i % 9 == 0 else (i * 13) % 17,  # 17 distinct values, ties and NULLs
        "group_id": i % 3 + 1,
        "tag_code": None if i % 11 == 0 else TEXT_KEYS[i % len(TEXT_KEYS)],
    }


ITEMS = [_item(i) for i in range(1, N_ITEMS + 1)]

GRID = [
    {"x": 1, "y": "a", "note": "one a"},
    {"x": 1, "y": "b", "note": "one b"},
    {"x": 2, "y": "a", "note": None},
    {"x": 2, "y": "a,b", "note": "comma"},
    {"x": 3, "y": "日本", "note": "unicode"},
    {"x": 10, "y": "a/b", "note": "slash"},
    {"x": 10, "y": "O'Brien", "note": "quote"},
]

NOKEY = [
    *[{"a": 1, "b": "x"}] * 3,
    *[{"a": 2, "b": "y"}] * 2,
    *[{"a": 2, "b": None}] * 3,
    {"a": 3, "b": "z"},
    *[{"a": 4, "b": ""}] * 2,
    *[{"a": 5, "b": "w"}] * 4,
    *[{"a": None, "b": "q"}] * 2,
    *[{"a": None, "b": None}] * 2,
]

ORDERS = [
    {"id": 1, "from": "warehouse", "person_id": 1},
    {"id": 2, "from": "shop", "person_id": 2},
    {"id": 3, "from": "select", "person_id": None},
]

MIXED = [{"id": 1, "CamelColumn": "Alpha"}, {"id": 2, "CamelColumn": None}]
SPACED = [{"id": 1, "some value": "one"}, {"id": 2, "some value": ""}]

ROWS: dict[str, list[dict[str, Any]]] = {
    "group": GROUPS,
    "person": PEOPLE,
    "membership": [{"person_id": p, "group_id": g} for p, g in MEMBERSHIPS],
    "tag": TAGS,
    "item": ITEMS,
    "grid": GRID,
    "nokey": NOKEY,
    "order": ORDERS,
    "MixedCase": MIXED,
    "spaced table": SPACED,
}
# The view has one row per person.
VIEW_ROWS = len(PEOPLE)


def create_edge_schema(engine: Engine) -> None:
    """Create the tables and the view on an empty database and fill them."""
    metadata.create_all(engine)
    quote = engine.dialect.identifier_preparer.quote
    view_sql = (
        f"CREATE VIEW {quote(VIEW_NAME)} AS "
        f"SELECT p.id, p.name, g.name AS group_name "
        f"FROM {quote('person')} p LEFT JOIN {quote('group')} g "
        f"ON g.id = p.favourite_group_id"
    )
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            # Mentors point forwards as well as backwards; MariaDB checks each row's foreign
            # key as it lands, so they are set in a second pass.
            rows = ROWS[table.name]
            if table is person:
                first = [{**row, "mentor_id": None} for row in rows]
                connection.execute(insert(table), first)
                for row in rows:
                    if row["mentor_id"] is not None:
                        connection.execute(
                            table.update()
                            .where(table.c.id == row["id"])
                            .values(mentor_id=row["mentor_id"])
                        )
            else:
                connection.execute(insert(table), rows)
        connection.execute(text(view_sql))
