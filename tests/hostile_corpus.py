"""A hostile schema, per engine: every column type the engine offers, with values at its edges,
and names of every awkward shape.

Created with the engines' own SQL (most of these types have no SQLAlchemy spelling), so the
dashboard meets them exactly as it would meet them in a user's database. The fidelity tests
(``test_fidelity.py``) load it on SQLite, PostgreSQL and MariaDB, then open and re-save every
row of every table and check that the database's bytes did not change.

Text values carry the characters browsers rewrite: ``\\n``, ``\\r\\n``, a lone ``\\r``, a
leading newline (which an HTML parser drops after ``<textarea>``), trailing spaces and tabs.
"""

from __future__ import annotations

from sqlalchemy import Engine

# Text that a browser round trip is most likely to alter.
NASTY_TEXT = [
    "plain",
    "",
    "two\nlines",
    "crlf\r\nlines",
    "lone\rcarriage",
    "\nleading newline",
    "trailing newline\n",
    "  spaced  \t",
    "quote ' \" ` \\ backslash",
    "<b>html</b> &amp;",
    "naïve ☃ 𝄞 emoji 😀",
    "x" * 300,
]


def _sql_text(value: str, engine_name: str) -> str:
    """A SQL string literal for ``value`` (test data only: written by this module)."""
    escaped = value.replace("'", "''")
    if engine_name == "mariadb":
        escaped = escaped.replace("\\", "\\\\")
    if engine_name == "postgresql" and ("\r" in value or "\n" in value or "\t" in value):
        escaped = escaped.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
        escaped = escaped.replace("\t", "\\t")
        return f"E'{escaped}'"
    return f"'{escaped}'"


def _texts(engine_name: str, table: str, columns: str, extra: str = "") -> list[str]:
    rows = []
    for n, value in enumerate(NASTY_TEXT, start=1):
        literal = _sql_text(value, engine_name)
        rows.append(f"INSERT INTO {table} ({columns}) VALUES ({n}, {literal}, {literal}{extra})")
    return rows


# --- SQLite -------------------------------------------------------------------------------------

SQLITE = [
    # Columns with no declared type, ANY and NUMERIC affinity hold any storage class.
    "CREATE TABLE untyped (id INTEGER PRIMARY KEY, v, a ANY, n NUMERIC, r REAL, i INT, t TEXT)",
    "INSERT INTO untyped VALUES (1, 42, 42, 42, 1.5, 7, 'text')",
    "INSERT INTO untyped VALUES (2, 2.5, 2.5, 2.5, 1e308, -9223372036854775808, '42')",
    "INSERT INTO untyped VALUES (3, '42', '42', 'abc', 'not a real', 'not an int', '')",
    "INSERT INTO untyped VALUES (4, x'deadbeef', x'00ff', x'0102', 9e999, 9223372036854775807, "
    "x'c3a9')",
    "INSERT INTO untyped VALUES (5, NULL, NULL, NULL, -9e999, NULL, NULL)",
    "INSERT INTO untyped VALUES (6, 'line\nbreak', '', 0.1, 0.1, 3, 'line\r\nbreak')",
    # Dates and times kept as text in any format, including text that is no date at all.
    "CREATE TABLE stamps (id INTEGER PRIMARY KEY, d DATE, dt DATETIME, t TIME, ts TIMESTAMP)",
    "INSERT INTO stamps VALUES (1, '2024-02-29', '2024-02-29 23:59:59', '23:59:59', "
    "'2024-01-01 00:00:00.000000')",
    "INSERT INTO stamps VALUES (2, 'not a date', '31/12/2009', 'noon', '2024-01-01T10:00:00')",
    "INSERT INTO stamps VALUES (3, 20240101, 1700000000, 12, '')",
    "INSERT INTO stamps VALUES (4, NULL, NULL, NULL, NULL)",
    "CREATE TABLE texts (id INTEGER PRIMARY KEY, short VARCHAR(400), body TEXT)",
    *_texts("sqlite", "texts", "id, short, body"),
    "CREATE TABLE flags (id INTEGER PRIMARY KEY, b BOOLEAN, nb BOOLEAN NOT NULL DEFAULT 0)",
    "INSERT INTO flags VALUES (1, 1, 1), (2, 0, 0), (3, NULL, 1), (4, 2, 0), (5, 'yes', 1)",
    "CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB, note TEXT)",
    "INSERT INTO blobs VALUES (1, x'', 'empty'), (2, x'00', 'nul'), (3, NULL, 'null'), "
    "(4, 'text in a blob', 'text')",
    'CREATE TABLE "select" ("from" INTEGER PRIMARY KEY, "group" TEXT, "we""ird" TEXT, '
    '"with space" TEXT, "naïve ☃" TEXT)',
    "INSERT INTO \"select\" VALUES (1, 'g', 'q', 's', 'u')",
    "CREATE TABLE numbers (id INTEGER PRIMARY KEY, f FLOAT, d DOUBLE, n DECIMAL(10, 2), "
    "big BIGINT)",
    "INSERT INTO numbers VALUES (1, 0.1, 2.718281828459045, 12.5, 9223372036854775807)",
    "INSERT INTO numbers VALUES (2, 1e-300, -0.0, 0.01, -9223372036854775808)",
    "INSERT INTO numbers VALUES (3, 9e999, 1.7976931348623157e308, 'abc', 1)",
    "CREATE TABLE jsons (id INTEGER PRIMARY KEY, doc JSON)",
    "INSERT INTO jsons VALUES (1, '{\"a\": 1}'), (2, 'null'), (3, NULL), (4, '[1, 2.50, \"x\"]'), "
    "(5, '{ \"spaced\" : true }'), (6, 'not json')",
]


# --- PostgreSQL ---------------------------------------------------------------------------------

POSTGRESQL = [
    "CREATE EXTENSION IF NOT EXISTS hstore",
    "CREATE TYPE mood AS ENUM ('', 'happy', 'sad face')",
    "CREATE TYPE pair AS (a integer, b text)",
    "CREATE DOMAIN posint AS integer CHECK (VALUE > 0)",
    """CREATE TABLE numbers (
        id serial PRIMARY KEY, s smallint, i integer, b bigint, n numeric, n2 numeric(8, 3),
        r real, d double precision, m money)""",
    "INSERT INTO numbers (s, i, b, n, n2, r, d, m) VALUES "
    "(-32768, -2147483648, -9223372036854775808, 'NaN', 99999.999, 'NaN', 'NaN', "
    "-92233720368547758.08),"
    "(32767, 2147483647, 9223372036854775807, 1e300, -0.001, 'Infinity', '-Infinity', 0),"
    "(0, 0, 0, 0.000000000000000000001, 0, 0.1, 0.1, 1.5),"
    "(1, 1, 1, 123456789012345678901234567890.123456789, 1.5, 3.4e38, 1.7976931348623157e308, "
    "NULL),"
    "(NULL, NULL, NULL, 'Infinity', NULL, -0.0, 5e-324, NULL)",
    """CREATE TABLE stamps (
        id serial PRIMARY KEY, d date, ts timestamp, tz timestamptz, t time, ttz timetz,
        iv interval)""",
    "INSERT INTO stamps (d, ts, tz, t, ttz, iv) VALUES "
    "('infinity', 'infinity', '-infinity', '24:00:00', '24:00:00+00', '1 mon 2 days 03:04:05'),"
    "('4713-01-01 BC', '0001-01-01 00:00:00 BC', '0044-03-15 12:00:00+00 BC', '00:00:00', "
    "'12:00:00+05:30', '-1 year -2 mons'),"
    "('10000-01-01', '12345-06-07 08:09:10', '294276-12-31 23:59:59+00', '23:59:59.999999', "
    "'23:59:59.999999-12', '178000000 years'),"
    "('0001-01-01', '2024-02-29 23:59:59.123456', '2024-06-01 12:00:00+02', '12:34:56.5', "
    "'01:02:03+00', '0'),"
    "('-infinity', '-infinity', 'infinity', NULL, NULL, '1 day -00:00:01')",
    """CREATE TABLE texts (
        id integer PRIMARY KEY, short varchar(400), body text, fixed char(5))""",
    *_texts("postgresql", "texts", "id, short, body, fixed", ", 'ab'"),
    """CREATE TABLE odd (
        id serial PRIMARY KEY, h hstore, ip inet, net cidr, mac macaddr, pt point, bx box,
        x xml, tv tsvector, bits bit(3), vb varbit, rg int4range, arr integer[], tarr text[],
        j json, jb jsonb, u uuid, mo mood, pr pair, dom posint, flag boolean, bin bytea)""",
    "INSERT INTO odd (h, ip, net, mac, pt, bx, x, tv, bits, vb, rg, arr, tarr, j, jb, u, mo, "
    "pr, dom, flag, bin) VALUES "
    "('a=>1, \"b c\"=>NULL, \"\"=>\"\"', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', "
    "'(1.5,-2)', '((0,0),(1,1))', '<a>x</a>', 'fat:1 rat:2', B'101', B'', '[1,5)', "
    '\'{1,NULL,3}\', \'{"a b",NULL,"","q\\""}\', \'{"k": [1, 2.50]}\', \'{"k": 1}\', '
    "'123e4567-e89b-12d3-a456-426614174000', '', '(1,\"x y\")', 5, true, '\\x00ff'),"
    "(NULL, '::1', '::/0', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'empty', '{}', '{}', "
    "'null', 'null', NULL, 'sad face', '(,)', NULL, NULL, ''),"
    "('', '2001:db8::ff00:42:8329', NULL, NULL, '(0,0)', NULL, '', '', B'000', B'1', NULL, "
    "NULL, NULL, '  {\"spaced\" :  true }', '[]', NULL, 'happy', NULL, 2147483647, false, NULL)",
    # A domain column and a trigger that records every UPDATE: an unchanged save must not fire it.
    """CREATE TABLE audited (
        id serial PRIMARY KEY, qty posint NOT NULL, note text,
        last_update timestamp NOT NULL DEFAULT '2000-01-01')""",
    """CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.last_update := now(); RETURN NEW; END $$""",
    "CREATE TRIGGER audited_bump BEFORE UPDATE ON audited FOR EACH ROW EXECUTE FUNCTION bump()",
    "INSERT INTO audited (qty, note) VALUES (1, 'one'), (7, E'multi\\nline'), (3, NULL)",
    'CREATE TABLE "select" ("from" integer PRIMARY KEY, "group" text, "we""ird" text, '
    '"with space" text, "naïve ☃" text, "MixedCase" text)',
    "INSERT INTO \"select\" VALUES (1, 'g', 'q', 's', 'u', 'M')",
]


# --- MariaDB ------------------------------------------------------------------------------------

MARIADB = [
    # Zero dates are allowed by the server's default mode; make sure of it for the inserts.
    "SET SESSION sql_mode = 'STRICT_TRANS_TABLES'",
    """CREATE TABLE numbers (
        id INT AUTO_INCREMENT PRIMARY KEY, f FLOAT, d DOUBLE, dec65 DECIMAL(65, 30),
        ti TINYINT, tu TINYINT UNSIGNED, bu BIGINT UNSIGNED, b BIGINT, mi MEDIUMINT,
        yr YEAR, b1 BIT(1), b8 BIT(8))""",
    "INSERT INTO numbers (f, d, dec65, ti, tu, bu, b, mi, yr, b1, b8) VALUES "
    "(0.1, 2.718281828459045, 12345678901234567890123456789012345.123456789012345678901234567890,"
    " -128, 255, 18446744073709551615, -9223372036854775808, -8388608, 2155, b'1', b'11111111'),"
    "(1.7, 0.1, -0.000000000000000000000000000001, 127, 0, 9223372036854775808, "
    "9223372036854775807, 8388607, 1901, b'0', b'0'),"
    "(3.4e38, 1.7976931348623157e308, 0, 0, 1, 0, 0, 0, 0, NULL, b'10'),"
    "(NULL, -0.0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    """CREATE TABLE stamps (
        id INT AUTO_INCREMENT PRIMARY KEY, d DATE, dt DATETIME, dt6 DATETIME(6), t TIME,
        t6 TIME(6), ts TIMESTAMP NULL)""",
    "INSERT INTO stamps (d, dt, dt6, t, t6, ts) VALUES "
    "('0000-00-00', '0000-00-00 00:00:00', '2024-00-00 00:00:00', '838:59:59', '-838:59:59', "
    "'1970-01-01 00:00:01'),"
    "('2024-00-00', '2024-02-00 00:00:00', '9999-12-31 23:59:59.999999', '-12:00:00', "
    "'24:00:00.5', '2038-01-19 03:14:07'),"
    "('1000-01-01', '1000-01-01 00:00:00', '2024-02-29 12:00:00.000001', '00:00:00', "
    "'-00:00:01.5', NULL),"
    "('9999-12-31', '9999-12-31 23:59:59', NULL, '100:00:00', NULL, NULL)",
    """CREATE TABLE texts (
        id INT PRIMARY KEY, short VARCHAR(400), body LONGTEXT, fixed CHAR(5))
        CHARACTER SET utf8mb4""",
    *_texts("mariadb", "texts", "id, short, body, fixed", ", 'ab'"),
    """CREATE TABLE odd (
        id INT AUTO_INCREMENT PRIMARY KEY, e ENUM('', 'a', 'b c') NULL,
        en ENUM('x', 'y') NOT NULL, s SET('a', 'b', 'c d'), j JSON, bl BLOB, vb VARBINARY(16),
        pt POINT NULL, g GEOMETRY NULL, i4 INET4, i6 INET6, u UUID, legacy VARCHAR(20)
        CHARACTER SET utf8mb3)""",
    "INSERT INTO odd (e, en, s, j, bl, vb, pt, g, i4, i6, u, legacy) VALUES "
    "('', 'x', '', '{\"k\": [1, 2.50]}', x'00ff', x'', ST_GeomFromText('POINT(1.5 -2)'), "
    "ST_GeomFromText('LINESTRING(0 0, 1 1)'), '192.168.0.1', '::ffff:1.2.3.4', "
    "'123e4567-e89b-12d3-a456-426614174000', 'ascii'),"
    "(NULL, 'y', 'a,c d', 'null', NULL, NULL, NULL, NULL, '0.0.0.0', '::1', NULL, NULL),"
    "('b c', 'x', 'a,b,c d', '  {\"spaced\" :  true }', '', 'text', NULL, NULL, NULL, NULL, "
    "NULL, '')",
    'CREATE TABLE `select` (`from` INT PRIMARY KEY, `group` TEXT, `we"ird` TEXT, '
    "`with space` TEXT, `naïve ☃` TEXT, `MixedCase` TEXT)",
    "INSERT INTO `select` VALUES (1, 'g', 'q', 's', 'u', 'M')",
]

STATEMENTS = {"sqlite": SQLITE, "postgresql": POSTGRESQL, "mariadb": MARIADB}


def create_hostile_corpus(engine: Engine, engine_name: str) -> None:
    """Create every table of the corpus and fill it, in one connection."""
    with engine.begin() as connection:
        for statement in STATEMENTS[engine_name]:
            connection.exec_driver_sql(statement)
