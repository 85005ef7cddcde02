"""Running a select of plain columns (no ORM objects) on a request's session."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, Executable
from sqlalchemy.orm import Session


def read(
    session: Session, stmt: Executable, params: dict[str, Any] | None = None
) -> CursorResult[Any]:
    """Execute ``stmt`` on the session's connection (in its transaction).

    ``Session.execute`` passes every result through the ORM's loading layer, which a select of
    columns does not need: about 25 µs a statement, a tenth of a row page's time. The statement
    still compiles with the ORM's rules (``with_parent``, inheritance criteria), once, into the
    compiled cache. Sessions here never autoflush, so nothing is skipped.
    """
    return session.connection().execute(stmt, params)
