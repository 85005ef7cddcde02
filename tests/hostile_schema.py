"""Objects real databases hold that must not take the dashboard down, created with plain DDL.

Beside ``plain``, an ordinary table that must keep working whatever else is there, each object
stands for one thing a tester met on real data:

* ``odd``: columns named like Python and ORM attributes (``__init__``, ``_private``,
  ``metadata``...), and names with spaces, quotes, a backtick, unicode and a reserved word;
* tables whose own names hold a reserved word, quotes, a backtick, spaces and unicode;
* ``dangling`` (SQLite, MariaDB): a foreign key to a table that does not exist;
* ``intpk`` (SQLite): ``id INT PRIMARY KEY``, which is not a rowid alias, holding a NULL key;
* ``stale`` (PostgreSQL): a materialized view created ``WITH NO DATA``, never refreshed.

The DDL is written by hand (quoted by the engine's own preparer) because SQLAlchemy's
``create_all`` cannot declare most of these.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

ODD_COLUMNS = [
    "__init__",
    "_sa_x",
    "_private",
    "metadata",
    "registry",
    "__table__",
    "query",
    "classes",
    "with space",
    'we"ird',
    "we`ird",
    "ünï",
    "select",
]
# Row 1 holds "<column> 1" in every odd column, row 2 "<column> 2".
ODD_ROWS = [{"id": i, **{c: f"{c} {i}" for c in ODD_COLUMNS}} for i in (1, 2)]

ODD_TABLES = ["select", 'tà"ble `with` spaces']

PLAIN_ROWS = [(1, "one"), (2, "two")]
INTPK_ROWS = [(None, "no key"), (2, "two")]
STALE_VIEW = "stale"


def create_hostile_schema(engine: Engine) -> None:
    q = engine.dialect.identifier_preparer.quote
    dialect = engine.dialect.name
    with engine.begin() as connection:

        def run(sql: str, params: dict[str, object] | None = None) -> None:
            connection.execute(text(sql), params or {})

        run("CREATE TABLE plain (id INTEGER PRIMARY KEY, name VARCHAR(40))")
        for row in PLAIN_ROWS:
            run("INSERT INTO plain (id, name) VALUES (:id, :name)", dict(zip(("id", "name"), row)))

        columns = ", ".join(f"{q(c)} VARCHAR(40)" for c in ODD_COLUMNS)
        run(f"CREATE TABLE odd (id INTEGER PRIMARY KEY, {columns})")
        names = ", ".join(q(c) for c in ["id", *ODD_COLUMNS])
        binds = ", ".join(f":p{i}" for i in range(len(ODD_COLUMNS) + 1))
        for row in ODD_ROWS:
            values = [row["id"], *(row[c] for c in ODD_COLUMNS)]
            run(
                f"INSERT INTO odd ({names}) VALUES ({binds})",
                {f"p{i}": v for i, v in enumerate(values)},
            )

        for name in ODD_TABLES:
            run(f"CREATE TABLE {q(name)} (id INTEGER PRIMARY KEY, {q('from')} VARCHAR(40))")
            run(f"INSERT INTO {q(name)} (id, {q('from')}) VALUES (1, :v)", {"v": f"in {name}"})

        if dialect in ("sqlite", "mysql"):
            if dialect == "mysql":
                run("SET foreign_key_checks = 0")  # MariaDB then takes a key to a missing table
            run(
                "CREATE TABLE dangling (id INTEGER PRIMARY KEY, name VARCHAR(40), "
                "ghost_id INTEGER, plain_id INTEGER, "
                "FOREIGN KEY (ghost_id) REFERENCES ghost (id), "
                "FOREIGN KEY (plain_id) REFERENCES plain (id))"
            )
            run("INSERT INTO dangling VALUES (1, 'haunted', 7, 2)")
            if dialect == "mysql":
                run("SET foreign_key_checks = 1")

        if dialect == "sqlite":
            # INT (not INTEGER) PRIMARY KEY is an ordinary column: it takes NULL, even twice.
            run("CREATE TABLE intpk (id INT PRIMARY KEY, name VARCHAR(40))")
            for key, name in INTPK_ROWS:
                run("INSERT INTO intpk (id, name) VALUES (:id, :name)", {"id": key, "name": name})
            # The other SQLite quirk: INTEGER PRIMARY KEY DESC is not a rowid alias either.
            run("CREATE TABLE descpk (id INTEGER PRIMARY KEY DESC, name VARCHAR(40))")

        if dialect == "postgresql":
            run(f"CREATE MATERIALIZED VIEW {STALE_VIEW} AS SELECT id, name FROM plain WITH NO DATA")
