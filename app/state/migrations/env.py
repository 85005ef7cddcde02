"""Alembic's environment for the state database, run by ``rowboat.state.migrate``, which
hands it the models' metadata and the version table's name (this file is loaded by path, so
it imports nothing of Rowboat's).

Online mode only: ``migrate`` opens the connection (and holds the lock on it) and passes it
in ``config.attributes["connection"]``; a URL in ``sqlalchemy.url`` is used otherwise.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
target_metadata = config.attributes["target_metadata"]


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters a table by copying it
        compare_type=True,
        version_table=config.attributes["version_table"],
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    try:
        with engine.connect() as own:
            _run(own)
    finally:
        engine.dispose()
