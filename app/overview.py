"""What the home page shows of each database: its tables and views with their row counts."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from .catalog.model import Catalog, Entity
from .counting import Count, entity_count, table_estimates
from .engines import Database, session_for


@dataclass
class Overview:
    db: Database
    catalog: Catalog | None
    counts: dict[str, Count] = field(default_factory=dict)
    error: str | None = None

    @property
    def entities(self) -> list[Entity]:
        return list(self.catalog.entities.values()) if self.catalog else []


def database_overview(db: Database) -> Overview:
    """Discover the database (once) and count its tables; an unreachable one reports why."""
    try:
        catalog = db.catalog
        session = session_for(db)
        estimates = table_estimates(session, catalog)
        cap = db.settings["COUNT_CAP"]
        counts = {
            name: entity_count(session, entity, estimates.get(name), cap)
            for name, entity in catalog.entities.items()
        }
    except SQLAlchemyError as exc:
        return Overview(db=db, catalog=None, error=str(getattr(exc, "orig", exc)))
    return Overview(db=db, catalog=catalog, counts=counts)
