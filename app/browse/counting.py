"""Row counts that stay cheap on huge tables: exact up to a cap, otherwise an estimate.

Counting every row of a 5-million-row table on each page view is what makes other admin tools
slow, so a count here reads at most ``cap + 1`` rows, and the home page first asks the
database's statistics (PostgreSQL ``pg_class.reltuples``, MySQL ``information_schema``) and
counts exactly only the tables those say are small.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import Select, func, literal, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..catalog.model import Catalog, Entity
from ..db import timeouts
from ..db.engines import EstimateMemo
from ..querybuilder.compile import Explain


@dataclass(frozen=True)
class Count:
    value: int | None  # None: unknown (it took too long)
    exact: bool  # False: ``value`` is a lower bound (capped) or an estimate
    estimated: bool = False

    def __str__(self) -> str:
        if self.value is None:
            return "?"
        if self.exact:
            return f"{self.value:,}"
        if self.estimated:
            return f"≈{self.value:,}"
        return f"{self.value:,}+"


def capped_count(session: Session, stmt: Select, cap: int) -> Count:
    """Count the rows of ``stmt`` (a select with its WHERE clause), reading at most cap + 1."""
    limited = stmt.with_only_columns(literal(1)).order_by(None).limit(cap + 1).subquery()
    try:
        n = session.execute(select(func.count()).select_from(limited)).scalar_one()
    except DBAPIError as exc:
        if not timeouts.is_timeout(exc):
            raise
        session.rollback()  # PostgreSQL aborts the transaction on a cancelled statement
        return Count(None, exact=False)
    return Count(cap, exact=False) if n > cap else Count(n, exact=True)


_PLAN_ROWS = re.compile(r"\brows=(\d+)")


def planner_estimate(session: Session, stmt: Select) -> int | None:
    """PostgreSQL's estimate of the rows ``stmt`` returns (its plan's top line); None elsewhere.

    It costs a plan, not a scan, and comes from the column statistics, so for a filter or a
    search it is usually close (493,584 for 500,000 matches of a search on 5M rows). MySQL's
    EXPLAIN gives rows examined rather than returned, and SQLite's none: they count instead.
    """
    if session.get_bind().dialect.name != "postgresql":
        return None
    top = session.execute(Explain(stmt)).scalar()
    match = _PLAN_ROWS.search(top or "")
    return int(match.group(1)) if match else None


def table_estimates(session: Session, catalog: Catalog) -> dict[str, int]:
    """The database's own row estimates per entity name, where it keeps any (cheap: 1 query)."""
    dialect = catalog.dialect
    if dialect == "postgresql":
        rows = session.execute(
            text(
                "SELECT n.nspname, c.relname, c.reltuples::bigint FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm', 'p')"
            )
        )
    elif dialect in ("mysql", "mariadb"):
        rows = session.execute(
            text(
                "SELECT table_schema, table_name, table_rows FROM information_schema.tables "
                "WHERE table_schema = DATABASE()"
            )
        )
    else:
        return {}
    by_table = {(schema, name): n for schema, name, n in rows}
    result = {}
    for entity in catalog.entities.values():
        schema = entity.schema or catalog.default_schema
        n = by_table.get((schema, entity.table_name))
        if n is not None and n >= 0:
            result[entity.name] = int(n)
    return result


def table_estimate(session: Session, catalog: Catalog, entity: Entity) -> int | None:
    """The database's own row estimate for one entity (one indexed catalog lookup), if any."""
    dialect = catalog.dialect
    if dialect == "postgresql":
        sql = (
            "SELECT c.reltuples::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relname = :name AND c.relkind IN ('r', 'm', 'p')"
        )
    elif dialect in ("mysql", "mariadb"):
        sql = (
            "SELECT table_rows FROM information_schema.tables "
            "WHERE table_schema = :schema AND table_name = :name"
        )
    else:
        return None
    schema = entity.schema or catalog.default_schema
    n = session.execute(text(sql), {"schema": schema, "name": entity.table_name}).scalar()
    return int(n) if n is not None and n >= 0 else None


# How long a table's row estimate is reused before it is read again, in seconds.
ESTIMATE_MAX_AGE = 60.0


def cached_table_estimate(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    memo: EstimateMemo,
    now: float | None = None,
) -> int | None:
    """``table_estimate``, read at most once every ``ESTIMATE_MAX_AGE`` seconds per table.

    A list page of a big table shows the estimate rather than a count, so without this every
    page view pays a catalog round trip for a figure the database itself only refreshes when
    it analyses the table: a minute-old estimate shows the same thing.
    """
    now = time.monotonic() if now is None else now
    remembered = memo.get(entity.name)
    if remembered is not None and now - remembered[0] < ESTIMATE_MAX_AGE:
        return remembered[1]
    estimate = table_estimate(session, catalog, entity)
    memo[entity.name] = (now, estimate)
    return estimate


def entity_count(session: Session, entity: Entity, estimate: int | None, cap: int) -> Count:
    """Exact when small, else the estimate (or "cap+" when the database keeps none)."""
    if estimate is not None and estimate > cap * 2:
        return Count(estimate, exact=False, estimated=True)
    stmt = select(literal(1)).select_from(
        entity.mapped_class if entity.mapped_class is not None else entity.selectable
    )
    count = capped_count(session, stmt, cap)
    if not count.exact and estimate is not None and estimate > cap:
        return Count(estimate, exact=False, estimated=True)
    return count
