"""What the home page shows of each database: its tables and views with their row counts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ..catalog.model import Catalog, Entity
from ..db.engines import Database, session_for
from ..db.errors import DiscoveryFailed, scrub, unavailable
from ..web.errorpages import disconnected
from .counting import Count, entity_count, table_estimates

log = logging.getLogger(__name__)


@dataclass
class Overview:
    db: Database
    catalog: Catalog | None
    counts: dict[str, Count] = field(default_factory=dict)
    error: str | None = None
    broken: dict[str, str] = field(default_factory=dict)  # entity name -> the database's reason

    @property
    def entities(self) -> list[Entity]:
        return list(self.catalog.entities.values()) if self.catalog else []


def database_overview(db: Database, visible: Callable[[Database], Catalog]) -> Overview:
    """Discover the database (once) and count its tables; an unreachable one reports why.

    A table or view the database refuses to count is marked broken with its reason, alone:
    one odd object (a materialized view never refreshed, say) must not hide the others.
    ``visible`` gives the catalog as the caller may see it (their tables only).
    """
    try:
        catalog = visible(db)
        session = session_for(db)
        estimates = table_estimates(session, catalog)
    except DiscoveryFailed as exc:
        return Overview(db=db, catalog=None, error=f"{exc.reason} {exc.retry_note}")
    except SQLAlchemyError as exc:
        return Overview(db=db, catalog=None, error=_reason(db, exc))
    overview = Overview(db=db, catalog=catalog)
    cap = db.settings["COUNT_CAP"]
    for name, entity in catalog.entities.items():
        try:
            overview.counts[name] = entity_count(session, entity, estimates.get(name), cap)
        except DBAPIError as exc:
            if disconnected(exc):  # the database, not this object: the database's error
                return Overview(db=db, catalog=None, error=_reason(db, exc))
            session.rollback()  # PostgreSQL refuses every later statement of a failed one
            overview.counts[name] = Count(None, exact=False)
            overview.broken[name] = str(exc.orig).strip()
    return overview


def _reason(db: Database, exc: SQLAlchemyError) -> str:
    """Why the database cannot be shown, without the host, port and user the driver names."""
    fault = unavailable(exc, db.name)
    if fault is not None:
        log.warning("database %r unavailable: %s", db.name, getattr(exc, "orig", None) or exc)
        return fault.message
    url = db.engine.url
    return scrub(str(getattr(exc, "orig", None) or exc), url.password, url.username, url.host)
