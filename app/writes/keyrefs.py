"""What changing a row's primary key does to the rows that point at it, for the edit form.

A key column can be editable; changing it rewrites the row's identity. Every foreign key of
the reflected catalog that references the column is listed with its ON UPDATE rule: CASCADE
(the referencing rows follow the new key), SET NULL or SET DEFAULT, or anything else (the
database refuses the change while rows point at the old key). SQLite's reflection drops the
rules; ``fkrules`` reads its own ``PRAGMA foreign_key_list``, as for the delete preview.
Nothing is counted: the form stays as cheap to show as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..catalog.model import Catalog, Entity, core_columns
from . import fkrules
from .preview import _all_tables, _tables_of

FOLLOW = {
    "CASCADE": "follow",
    "SET NULL": "set to NULL",
    "SET DEFAULT": "set to their default",
}


@dataclass
class KeyReference:
    """A foreign key that points at a key column: who points and what an update does to them."""

    table: str  # the referencing table's name
    entity: Entity | None  # its entity, to link to
    columns: list[str]  # the referencing columns
    rule: str  # the ON UPDATE rule: CASCADE, SET NULL, SET DEFAULT, RESTRICT or NO ACTION

    @property
    def action(self) -> str:
        """ "follow", "set to NULL", "set to their default" or "refuse"."""
        return FOLLOW.get(self.rule, "refuse")


def key_references(
    session: Session, catalog: Catalog, entity: Entity
) -> dict[str, list[KeyReference]]:
    """For each primary-key column of ``entity`` (by key), the foreign keys that reference it."""
    mine = _tables_of(entity)
    by_column = {
        key: {id(c) for c in core_columns(entity.columns[key])} for key in entity.primary_key
    }
    found: dict[str, list[KeyReference]] = {key: [] for key in entity.primary_key}
    sqlite_rules: dict[int, fkrules.Rules] = {}
    for table, owner in sorted(_all_tables(catalog), key=lambda t: t[0].name):
        for constraint in sorted(
            table.foreign_key_constraints, key=lambda c: [col.name for col in c.columns]
        ):
            if constraint.referred_table not in mine:
                continue
            referred = {id(element.column) for element in constraint.elements}
            rule = fkrules.rule(session, constraint, "update", sqlite_rules)
            for key, columns in by_column.items():
                if referred & columns:
                    found[key].append(
                        KeyReference(
                            table=owner.name if owner.selectable is table else table.name,
                            entity=owner if owner.selectable is table else None,
                            columns=[c.name for c in constraint.columns],
                            rule=rule,
                        )
                    )
    return found
