"""What one signed-in caller may do: plain data and rules, no Flask and no database.

A role caps what grants can give: a viewer reads at most, an editor may also write where
granted, an admin may do everything everywhere. Grants name a database, optionally one of its
schemas, optionally one table; the most specific grant that matches a table decides its level,
and a table no grant matches is ``none``. A read-only API token caps everything at ``read``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

ROLES = ("viewer", "editor", "admin")
LEVELS = ("none", "read", "write")
RANK = {level: rank for rank, level in enumerate(LEVELS)}
ROLE_CAP = {"viewer": "read", "editor": "write", "admin": "write"}


@dataclass(frozen=True)
class GrantRule:
    database: str
    schema: str | None  # None: every schema (with table None) or the default one (with a table)
    table: str | None  # None: every table of the database or schema
    level: str

    @property
    def scope(self) -> str:
        """The rule's target as people write it: ``db``, ``db/schema.*``, ``db/table``."""
        if self.table is None:
            return self.database if self.schema is None else f"{self.database}/{self.schema}.*"
        name = f"{self.schema}.{self.table}" if self.schema else self.table
        return f"{self.database}/{name}"


@dataclass(frozen=True)
class Access:
    """A caller's role and grants, and the columns nobody is shown."""

    user: str | None  # None when sign-in is off: the dashboard is open to whoever reaches it
    role: str
    grants: tuple[GrantRule, ...] = ()
    read_only: bool = False  # a read-only API token
    # database -> entity name -> database column names hidden from every page
    hidden: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    token: str | None = None  # the API token's name, when the caller used one

    @property
    def is_admin(self) -> bool:
        return self.role == "admin" and not self.read_only

    def level(self, database: str, schema: str | None, table: str) -> str:
        """``none``, ``read`` or ``write`` on one table (``schema`` None: the default one)."""
        if self.role == "admin":
            found = "write"
        else:
            found = "none"
            best = -1
            for rule in self.grants:
                if rule.database != database:
                    continue
                if rule.table is not None:
                    specificity = 2 if rule.table == table and rule.schema == schema else -1
                elif rule.schema is not None:
                    specificity = 1 if rule.schema == schema else -1
                else:
                    specificity = 0
                if specificity > best:
                    best, found = specificity, rule.level
        cap = "read" if self.read_only else ROLE_CAP.get(self.role, "none")
        return found if RANK[found] <= RANK[cap] else cap

    def may(self, needed: str, database: str, schema: str | None, table: str) -> bool:
        return RANK[self.level(database, schema, table)] >= RANK[needed]

    def sees_database(self, database: str) -> bool:
        """Whether anything in ``database`` may be read (so it is listed and can be opened)."""
        if self.role == "admin":
            return True
        return any(r.database == database and r.level != "none" for r in self.grants)

    def reads_whole(self, database: str) -> bool:
        """Whether every table of ``database`` may be read: the schema pages (which show the
        whole structure, every table and key) need this."""
        if self.role == "admin":
            return True
        rules = [r for r in self.grants if r.database == database]
        return any(r.schema is None and r.table is None and r.level != "none" for r in rules) and (
            all(r.level != "none" for r in rules)
        )

    def hidden_in(self, database: str) -> Mapping[str, frozenset[str]]:
        return self.hidden.get(database, {})


def hidden_map(rows: Iterable[tuple[str, str, str, str]]) -> dict[str, dict[str, frozenset[str]]]:
    """(database, schema, table, column) rows, schema "" for the default one, as the nested
    mapping ``Access.hidden`` holds (entity names as the catalog writes them)."""
    collected: dict[str, dict[str, set[str]]] = {}
    for database, schema, table, column in rows:
        entity = f"{schema}.{table}" if schema else table
        collected.setdefault(database, {}).setdefault(entity, set()).add(column)
    return {
        db: {entity: frozenset(columns) for entity, columns in tables.items()}
        for db, tables in collected.items()
    }


OPEN = Access(user=None, role="admin")  # sign-in switched off
