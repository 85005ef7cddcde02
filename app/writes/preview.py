"""What else a delete would do, counted in the database before anyone confirms it.

For every foreign key that points at the rows to delete, the rows that reference them are
counted, and the key's ON DELETE rule says what happens to them: deleted along (CASCADE, and
then what references *those*, a few levels deep), set to NULL or to their default, or the
whole delete refused (RESTRICT / NO ACTION). Each count is one ``SELECT count(*)`` under the
statement time limit; the preview as a whole stops after a time budget and says which counts
it could not make.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    ForeignKeyConstraint,
    Table,
    and_,
    exists,
    func,
    inspect,
    not_,
    or_,
    select,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapper, Session

from ..catalog.model import Catalog, Entity
from ..core.values import to_text
from ..db import timeouts
from . import fkrules

MAX_DEPTH = 3  # cascades followed this many tables deep
MAX_COUNTS = 40  # and at most this many counting queries per preview

ACTIONS = {
    "CASCADE": "deleted",
    "SET NULL": "set to NULL",
    "SET DEFAULT": "set to their default",
    "RESTRICT": "blocking",
    "NO ACTION": "blocking",
}


@dataclass
class Effect:
    table: str  # the referencing table's name
    entity: Entity | None  # its entity, to link to
    columns: list[str]  # the referencing columns
    constraint: str | None
    rule: str  # CASCADE, SET NULL, SET DEFAULT, RESTRICT or NO ACTION
    count: int | None  # None: could not be counted in time
    depth: int  # 0: points at the rows being deleted; 1+: reached through a cascade
    via: str  # the table it points at
    list_args: list[tuple[str, str]] = field(default_factory=list)

    @property
    def action(self) -> str:
        return ACTIONS.get(self.rule, "blocking")

    @property
    def blocks(self) -> bool:
        return self.action == "blocking" and self.count != 0


@dataclass
class Preview:
    rows: int  # how many rows the delete is about
    effects: list[Effect]
    incomplete: bool = False  # the time budget or the query budget ran out

    @property
    def blocked(self) -> bool:
        return any(e.blocks and e.count for e in self.effects)

    @property
    def visible(self) -> list[Effect]:
        """The effects worth showing: those that touch at least one row (or are unknown)."""
        return [e for e in self.effects if e.count != 0]


def _tables_of(entity: Entity) -> list[Table]:
    if entity.mapped_class is not None:
        mapper: Mapper[Any] = inspect(entity.mapped_class)
        tables: list[Table] = []
        for m in mapper.self_and_descendants:
            # Typed as TableClause, but a mapper of reflected tables maps Table objects only.
            m_tables = cast("Sequence[Table]", m.tables)
            tables.extend(t for t in m_tables if t not in tables)
        return tables
    return [entity.selectable] if isinstance(entity.selectable, Table) else []


def _all_tables(catalog: Catalog) -> list[tuple[Table, Entity]]:
    seen: dict[int, tuple[Table, Entity]] = {}
    for entity in catalog.entities.values():
        if entity.kind != "table":
            continue
        for table in _tables_of(entity):
            if id(table) not in seen or entity.selectable is table:
                seen[id(table)] = (table, entity)
    return list(seen.values())


def _root_condition(
    entity: Entity, table: Table, identities: list[tuple[Any, ...]]
) -> ColumnElement[bool] | None:
    """The rows of ``table`` that deleting these identities removes (None if unrelated)."""
    if entity.mapped_class is None:
        return None
    mapper: Mapper[Any] = inspect(entity.mapped_class)
    positions = []
    for column in table.primary_key.columns:
        try:
            key = mapper.get_property_by_column(column).key
        except Exception:  # noqa: BLE001 - a subclass table's column the base does not map
            return None
        if key not in entity.primary_key:
            return None
        positions.append(entity.primary_key.index(key))
    columns = list(table.primary_key.columns)
    return or_(
        *[and_(*[c == ident[p] for c, p in zip(columns, positions)]) for ident in identities]
    )


def delete_preview(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    identities: list[tuple[Any, ...]],
    budget: float,
) -> Preview:
    """Count, per referencing table, the rows a delete of ``identities`` would affect."""
    deadline = time.monotonic() + budget
    own = _tables_of(entity)
    own_ids = {id(t) for t in own}
    frontier: list[tuple[Table, ColumnElement[bool], int]] = []
    for table in own:
        root_condition = _root_condition(entity, table, identities)
        if root_condition is not None:
            frontier.append((table, root_condition, 0))
    preview = Preview(rows=len(identities), effects=[])
    everything = _all_tables(catalog)
    rules_cache: dict[int, fkrules.Rules] = {}
    queries = 0
    while frontier:
        parent, parent_condition, depth = frontier.pop(0)
        for child, child_entity in everything:
            for constraint in child.foreign_key_constraints:
                if constraint.referred_table is not parent:
                    continue
                if depth == 0 and id(child) in own_ids and child is not parent:
                    continue  # an inheritance link: those rows go with the row itself
                rule = fkrules.rule(session, constraint, "delete", rules_cache)
                link = and_(*[fk.parent == fk.column for fk in constraint.elements])
                condition: ColumnElement[bool] = exists(
                    select(1).select_from(parent).where(link, parent_condition)
                )
                if child is parent and depth == 0:
                    condition = and_(condition, not_(parent_condition))  # deleted anyway
                count: int | None = None
                if time.monotonic() < deadline and queries < MAX_COUNTS:
                    queries += 1
                    count = _count(session, child, condition)
                if count is None:
                    preview.incomplete = True
                effect = Effect(
                    table=child.name if child.schema is None else f"{child.schema}.{child.name}",
                    entity=child_entity if child_entity.selectable is child else None,
                    columns=[c.name for c in constraint.columns],
                    # Typed to allow the _NONE_NAME sentinel, which only the CHECK constraints
                    # of Enum and Boolean types get; a foreign key's name is a str or None.
                    constraint=cast("str | None", constraint.name),
                    rule=rule,
                    count=count,
                    depth=depth,
                    via=parent.name,
                )
                effect.list_args = _list_args(effect, constraint, entity, identities, depth)
                preview.effects.append(effect)
                if rule == "CASCADE" and count and depth + 1 < MAX_DEPTH:
                    frontier.append((child, condition, depth + 1))
    return preview


def _count(session: Session, table: Table, condition: ColumnElement[bool]) -> int | None:
    try:
        return int(
            session.execute(select(func.count()).select_from(table).where(condition)).scalar_one()
        )
    except DBAPIError as exc:
        if not timeouts.is_timeout(exc):
            raise
        session.rollback()  # PostgreSQL aborts the transaction on a cancelled statement
        return None


def _list_args(
    effect: Effect,
    constraint: ForeignKeyConstraint,
    entity: Entity,
    identities: list[tuple[Any, ...]],
    depth: int,
) -> list[tuple[str, str]]:
    """Filter arguments for the referencing table's list page (direct, one-row, one-column)."""
    if effect.entity is None or depth != 0 or len(identities) != 1:
        return []
    if len(constraint.elements) != 1:
        return []
    element = constraint.elements[0]
    referenced = element.column
    for key in entity.primary_key:
        column = entity.columns[key]
        if getattr(column.expression, "name", None) == referenced.name or column.name == (
            referenced.name
        ):
            value = identities[0][entity.primary_key.index(key)]
            child_key = next(
                (c.key for c in effect.entity.columns.values() if c.name == element.parent.name),
                None,
            )
            if child_key is not None:
                return [(f"{child_key}__exact", to_text(value))]
    return []
