"""Check a QuerySpec against the catalog and resolve it into a Plan the compiler can trust.

Every name in a spec comes from a request, so each is looked up here: the table, each
relationship along a join path, each column, operator and aggregate, and each value is
converted to its column's type. Anything unknown or unfit is a QueryError (400) that names it,
raised before a statement exists, so an invalid spec never reaches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Float, Integer, Numeric
from sqlalchemy.types import TypeEngine

from ..catalog.model import Catalog, Column, Entity, Relation
from ..catalog.types import ORDERABLE
from ..core.filters import Filter, FilterError
from ..core.formatting import groups_digits
from .operators import HAVING_KEYS, make_condition
from .spec import (
    MAX_PATH,
    AggregateRef,
    ConditionSpec,
    FieldRef,
    GroupSpec,
    JoinSpec,
    QueryError,
    QuerySpec,
)

_NUMBERS = {"integer", "numeric", "float"}
_NO_EQUALITY = {"json", "array", "binary"}
_MIN_MAX = ORDERABLE - {"boolean", "binary"}
FUNC_LABELS = {
    "count": "count",
    "count_distinct": "count distinct",
    "sum": "sum",
    "avg": "average",
    "min": "min",
    "max": "max",
}


def joined_titles(titles: tuple[str, ...]) -> str:
    """A join path for people: "Invoices → Invoice lines"."""
    return " → ".join(titles)


def column_title(titles: tuple[str, ...], column: str) -> str:
    """A column reached along a join path, for people: "Invoices → Invoice lines.Quantity"."""
    return f"{joined_titles(titles)}.{column}" if titles else column


@dataclass(eq=False)
class Source:
    """The base table, or a table reached by following relationships from it."""

    path: tuple[str, ...]
    entity: Entity
    relation: Relation | None = None
    parent: Source | None = None
    kind: str = "base"  # "base", "inner" or "left"
    alias: str = ""

    @property
    def titles(self) -> tuple[str, ...]:
        """The relations followed to reach this table, as pages name them ("Invoices", not
        ``Invoice_collection``); the path keeps the names specs and SQL use."""
        if self.parent is None or self.relation is None:
            return ()
        return (*self.parent.titles, self.relation.title)

    @property
    def label(self) -> str:
        return joined_titles(self.titles) if self.path else self.entity.name


@dataclass(eq=False)
class FieldTerm:
    ref: FieldRef
    source: Source
    column: Column

    @property
    def text(self) -> str:
        return self.ref.text()

    @property
    def name(self) -> str:
        """The column's name in exports and JSON: its path of relationship names."""
        return ".".join((*self.ref.path, self.column.name))

    @property
    def title(self) -> str:
        """The column as pages name it: "Invoices.Total"."""
        return column_title(self.source.titles, self.column.name)

    @property
    def grouped(self) -> bool:
        """Whether the page groups its digits: a quantity, not a key or a number naming
        something (``core.formatting.groups_digits``)."""
        keys = {k for relation in self.source.entity.many_to_one for k in relation.local_keys}
        return groups_digits(self.column, self.column.key in keys)

    @property
    def kind(self) -> str:
        return self.column.kind


@dataclass(eq=False)
class AggregateTerm:
    ref: AggregateRef
    field: FieldTerm | None
    column: Column  # a stand-in for the aggregate's value: its kind converts HAVING values

    @property
    def func(self) -> str:
        return self.ref.func

    @property
    def text(self) -> str:
        return self.ref.text()

    @property
    def name(self) -> str:
        return self._called(self.field.name if self.field else "*")

    @property
    def title(self) -> str:
        return self._called(self.field.title if self.field else "*")

    @property
    def grouped(self) -> bool:
        """A count is a quantity; a sum, average, min or max is what its column is (a sum
        of prices is grouped, the highest year or id is not)."""
        if self.func in ("count", "count_distinct"):
            return True
        return self.field is not None and self.field.grouped

    def _called(self, inner: str) -> str:
        if self.func == "count_distinct":
            return f"count(distinct {inner})"
        return f"{self.func}({inner})"

    @property
    def kind(self) -> str:
        return self.column.kind


Term = FieldTerm | AggregateTerm


@dataclass(eq=False)
class ConditionGroup:
    kind: str
    items: list[Filter | ConditionGroup] = field(default_factory=list)


@dataclass(eq=False)
class Plan:
    """A checked query: every name resolved to a catalog object, every value converted."""

    spec: QuerySpec
    base: Source
    sources: list[Source]  # the base first, then each join after the one it hangs from
    outputs: list[Term]
    where: ConditionGroup
    group_by: list[FieldTerm]
    having: ConditionGroup
    order: list[tuple[Term, bool]]
    limit: int | None
    aggregated: bool
    dialect: str = ""
    terms: dict[int, Term] = field(default_factory=dict)  # id(Filter.column) -> its term

    def term_of(self, condition: Filter) -> Term:
        return self.terms[id(condition.column)]


class _Resolver:
    def __init__(self, spec: QuerySpec, catalog: Catalog) -> None:
        entity = catalog.entities.get(spec.table)
        if entity is None:
            if not spec.table:
                raise QueryError("choose a table to query")
            raise QueryError(f"the database has no table or view {spec.table!r}")
        self.catalog = catalog
        self.base = Source((), entity, alias=entity.table_name)
        self.sources: dict[tuple[str, ...], Source] = {(): self.base}
        self.explicit = {j.path: j.kind for j in spec.joins}
        self.terms: dict[int, Term] = {}

    def source(self, path: tuple[str, ...], kind: str | None = None) -> Source:
        found = self.sources.get(path)
        if found is not None:
            return found
        parent = self.source(path[:-1])
        name = path[-1]
        relation = parent.entity.relations.get(name)
        if relation is None:
            known = ", ".join(sorted(parent.entity.relations)) or "none"
            raise QueryError(
                f"{parent.entity.name!r} has no relationship {name!r} (it has: {known})"
            )
        if not joinable(parent.entity, relation):
            raise QueryError(f"relationship {name!r} cannot be joined: it has no join columns")
        target = self.catalog.entities[relation.target]
        source = Source(
            path,
            target,
            relation,
            parent,
            kind or self.explicit.get(path, "inner"),
            self._alias(name),
        )
        self.sources[path] = source
        return source

    def _alias(self, name: str) -> str:
        taken = {s.alias.lower() for s in self.sources.values()}
        candidate, n = name, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{name}_{n}"
        return candidate

    def field(self, ref: FieldRef) -> FieldTerm:
        source = self.source(ref.path)
        column = source.entity.columns.get(ref.column)
        if column is None:
            where = ".".join(ref.path) or source.entity.name
            raise QueryError(f"{where!r} ({source.entity.name}) has no column {ref.column!r}")
        return FieldTerm(ref, source, column)

    def aggregate(self, ref: AggregateRef) -> AggregateTerm:
        term = self.field(ref.field) if ref.field is not None else None
        kind, type_ = _aggregate_kind(ref.func, term)
        stand_in = Column(
            key=ref.text(), name="", kind=kind, type=type_, expression=None, nullable=True
        )
        result = AggregateTerm(ref, term, stand_in)
        stand_in.name = result.name
        return result

    def condition(self, spec: ConditionSpec, aggregate: bool) -> Filter:
        term: Term
        if aggregate:
            assert isinstance(spec.term, AggregateRef)
            term = self.aggregate(spec.term)
            if spec.op not in HAVING_KEYS:
                raise QueryError(
                    f"operator {spec.op!r} cannot filter an aggregate "
                    f"(use one of {', '.join(HAVING_KEYS)})"
                )
        else:
            assert isinstance(spec.term, FieldRef)
            term = self.field(spec.term)
        column = term.column
        if isinstance(term, FieldTerm):
            # A private copy per condition, so the compiler can find the condition's term.
            column = replace(column)
        try:
            condition = make_condition(column, spec.op, spec.value)
        except FilterError as exc:
            raise QueryError(f"{term.name}: {exc}") from None
        self.terms[id(condition.column)] = term
        return condition

    def group(self, spec: GroupSpec, aggregate: bool) -> ConditionGroup:
        result = ConditionGroup(spec.kind)
        for item in spec.items:
            if isinstance(item, GroupSpec):
                if not item.is_empty():
                    result.items.append(self.group(item, aggregate))
            else:
                result.items.append(self.condition(item, aggregate))
        return result


def _equatable(term: FieldTerm) -> bool:
    """Whether the database can tell two of the term's values equal (group, count distinct)."""
    return term.kind not in _NO_EQUALITY and term.column.equatable


def _aggregate_kind(func: str, term: FieldTerm | None) -> tuple[str, TypeEngine[Any]]:
    if func in ("count", "count_distinct"):
        if term is not None and func == "count_distinct" and not _equatable(term):
            raise QueryError(f"count distinct cannot compare {term.kind} values ({term.name})")
        if func == "count_distinct" and term is None:
            raise QueryError("count distinct needs a column")
        return "integer", Integer()
    assert term is not None
    if func in ("sum", "avg"):
        if term.kind not in _NUMBERS:
            raise QueryError(f"{func} needs a number column; {term.name} is {term.kind}")
        if term.kind == "float":
            return "float", Float()
        if func == "sum" and term.kind == "integer":
            return "integer", Integer()
        return "numeric", Numeric()
    if term.kind not in _MIN_MAX:
        raise QueryError(f"{func} cannot order {term.kind} values ({term.name})")
    return term.kind, term.column.type


def validate(spec: QuerySpec, catalog: Catalog, max_limit: int) -> Plan:
    """Resolve ``spec`` against ``catalog``; QueryError names the first thing that is wrong."""
    r = _Resolver(spec, catalog)
    seen_joins: dict[tuple[str, ...], str] = {}
    for join in spec.joins:
        if seen_joins.get(join.path, join.kind) != join.kind:
            raise QueryError(f"{'.'.join(join.path)!r} is joined both inner and left")
        seen_joins[join.path] = join.kind
        r.source(join.path, join.kind)
    columns = _unique_terms([r.field(c) for c in spec.columns])
    aggregates = _unique_terms([r.aggregate(a) for a in spec.aggregates])
    group_by = _unique_terms([r.field(g) for g in spec.group_by])
    for term in group_by:
        if not _equatable(term):
            raise QueryError(f"cannot group by {term.name}: {term.kind} values do not compare")
    where = r.group(spec.where, aggregate=False)
    having = r.group(spec.having, aggregate=True)
    aggregated = bool(aggregates or group_by)
    if having.items and not aggregated:
        raise QueryError("having filters aggregates: add an aggregate or a group-by column")
    grouped = {t.text for t in group_by}
    outputs: list[Term]
    if aggregated:
        for term in columns:
            if term.text not in grouped:
                raise QueryError(
                    f"{term.name} is neither grouped nor aggregated: "
                    "add it to group by, or remove it from the columns"
                )
        shown = {t.text for t in columns}
        outputs = [*columns, *[g for g in group_by if g.text not in shown], *aggregates]
    else:
        outputs = list(columns) or [
            FieldTerm(FieldRef((), key), r.base, column)
            for key, column in r.base.entity.columns.items()
        ]
    order: list[tuple[Term, bool]] = []
    for item in spec.order:
        sort_term: Term
        if isinstance(item.term, AggregateRef):
            if not aggregated:
                raise QueryError(f"cannot sort by {item.term.text()}: the query is not grouped")
            sort_term = r.aggregate(item.term)
        else:
            sort_term = r.field(item.term)
            if sort_term.kind not in ORDERABLE or sort_term.kind == "binary":
                raise QueryError(
                    f"cannot sort by {sort_term.name}: {sort_term.kind} values have no order"
                )
            if aggregated and sort_term.text not in grouped:
                raise QueryError(f"cannot sort by {sort_term.name}: it is not grouped")
        order.append((sort_term, item.descending))
    if spec.limit is not None and not 1 <= spec.limit <= max_limit:
        raise QueryError(f"limit must be between 1 and {max_limit:,}")
    sources = list(r.sources.values())
    return Plan(
        spec=spec,
        base=r.base,
        sources=sources,
        outputs=outputs,
        where=where,
        group_by=group_by,
        having=having,
        order=order,
        limit=spec.limit,
        aggregated=aggregated,
        dialect=catalog.dialect,
        terms=r.terms,
    )


def _unique_terms(terms: list[Any]) -> list[Any]:
    seen: set[str] = set()
    result = []
    for term in terms:
        if term.text not in seen:
            seen.add(term.text)
            result.append(term)
    return result


def reachable(catalog: Catalog, spec: QuerySpec) -> dict[tuple[str, ...], Entity]:
    """The base table and every table its (valid) joins reach, by path; lenient on errors."""
    entity = catalog.entities.get(spec.table)
    if entity is None:
        return {}
    reached: dict[tuple[str, ...], Entity] = {(): entity}
    for join in spec.joins:
        current = entity
        for depth, name in enumerate(join.path, start=1):
            relation = current.relations.get(name)
            if relation is None or relation.target not in catalog.entities:
                break
            current = catalog.entities[relation.target]
            reached.setdefault(join.path[:depth], current)
    return reached


def path_titles(catalog: Catalog, table: str, path: tuple[str, ...]) -> tuple[str, ...]:
    """The titles of the relations along ``path`` from ``table``; a name the catalog does not
    know (a spec that is being refused) stands as itself."""
    titles = []
    current = catalog.entities.get(table)
    for name in path:
        relation = current.relations.get(name) if current is not None else None
        titles.append(relation.title if relation is not None else name)
        current = catalog.entities.get(relation.target) if relation is not None else None
    return tuple(titles)


def joinable(source: Entity, relation: Relation) -> bool:
    if relation.direction == "many-to-many":
        return relation.attribute is not None and source.mapped_class is not None
    return bool(relation.local_keys)


def join_choices(catalog: Catalog, spec: QuerySpec) -> list[tuple[JoinSpec, Relation]]:
    """Relationships one hop beyond the base table or any table already joined."""
    joined = {j.path for j in spec.joins}
    choices = []
    for path, source in reachable(catalog, spec).items():
        if len(path) >= MAX_PATH:
            continue
        for name, relation in source.relations.items():
            if joinable(source, relation) and (*path, name) not in joined:
                choices.append((JoinSpec((*path, name)), relation))
    return choices
