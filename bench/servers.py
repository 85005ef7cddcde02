"""The database servers the bench scripts run on, and the administrative statements they send.

Each script keeps a database of its own (its ``BENCH_DB``); this module knows where the servers
are and how to create or drop such a database, so that no script carries its own copy.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text

ADMIN = {
    "postgresql": "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/mysql",
}


def database_url(engine_name: str, database: str) -> str:
    """The URL of ``database`` on the server of ``engine_name``."""
    return ADMIN[engine_name].rsplit("/", 1)[0] + "/" + database


def admin(engine_name: str, statement: str) -> object:
    """Run one statement on the server outside any transaction; its first value, if any."""
    engine = create_engine(ADMIN[engine_name], isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            result = connection.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()
