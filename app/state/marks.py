"""Marks in the state database that tell every instance something changed: a schema refresh.

A refresh on one instance writes a new mark for the database; the others notice it on their
next request (they look at most twice a second) and drop their copy of the schema too.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from .models import Setting

PREFIX = "refreshed:"


def mark_refreshed(engine: Engine, database: str) -> str:
    """Write a new mark for ``database``; returns it.

    The row is updated in place, and inserted only the first time. Deleting it and inserting
    it again, as this did, raced when two instances refreshed at once: on PostgreSQL the
    second delete waits for the first transaction, then finds nothing to delete, and its
    insert breaks the primary key (a 500 for that refresh)."""
    mark = secrets.token_hex(8)
    name = PREFIX + database
    change = update(Setting).where(Setting.name == name).values(value=mark)
    with engine.begin() as connection:
        if connection.execute(change).rowcount:
            return mark
    try:
        with engine.begin() as connection:
            connection.execute(insert(Setting).values(name=name, value=mark))
    except IntegrityError:  # another instance inserted it a moment ago: ours goes over it
        with engine.begin() as connection:
            connection.execute(change)
    return mark


def refresh_marks(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(Setting.name, Setting.value).where(Setting.name.startswith(PREFIX))
        ).all()
    return {name[len(PREFIX) :]: value for name, value in rows}
