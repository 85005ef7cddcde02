"""Turn a checked Plan into a SQLAlchemy ``select()``, and render it as readable SQL.

Only SQLAlchemy constructs are used: tables and columns come from the catalog, every value
stays a bound parameter, and joins follow the catalog's relationships (the ORM relationship
when there is one, else the foreign-key column pairs). Each joined table gets its own alias,
named after the relationship, so a table reached twice (a self-reference, two paths to one
table) is two separate tables in the statement. The ORDER BY always ends on something unique
(the primary keys, or the GROUP BY columns) so a limit cuts the same rows every time.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import sqlparse
from sqlalchemy import Select, and_, distinct, func, or_, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement, ColumnElement

from ..core.filters import Filter
from .spec import FieldRef
from .validate import AggregateTerm, ConditionGroup, FieldTerm, Plan, Source, Term

_LABEL_CHARS = re.compile(r"[^A-Za-z0-9_]+")


class _Scope:
    """The FROM objects of one statement: the base table and an alias per joined table."""

    def __init__(self, plan: Plan) -> None:
        self.targets: dict[int, Any] = {}
        for source in plan.sources:
            entity = source.entity
            if source is plan.base:
                target = entity.mapped_class if entity.mapped_class is not None else None
                self.targets[id(source)] = target if target is not None else entity.selectable
            elif entity.mapped_class is not None:
                self.targets[id(source)] = aliased(entity.mapped_class, name=source.alias)
            else:
                self.targets[id(source)] = entity.selectable.alias(source.alias)
        self.base = plan.base

    def target(self, source: Source) -> Any:
        return self.targets[id(source)]

    def column(self, source: Source, key: str) -> Any:
        column = source.entity.columns[key]
        if source is self.base:
            return column.expression
        target = self.target(source)
        if source.entity.mapped_class is not None:
            return getattr(target, key)
        return target.c[key]

    def field(self, term: FieldTerm) -> Any:
        return self.column(term.source, term.column.key)

    def aggregate(self, term: AggregateTerm) -> Any:
        if term.field is None:
            return func.count()
        expr = self.field(term.field)
        if term.func == "count_distinct":
            return func.count(distinct(expr))
        return getattr(func, term.func)(expr)

    def term(self, term: Term) -> Any:
        return self.field(term) if isinstance(term, FieldTerm) else self.aggregate(term)

    def on(self, source: Source) -> Any:
        """How ``source`` joins its parent: the ORM relationship, or the key pairs."""
        assert source.parent is not None and source.relation is not None
        relation, parent = source.relation, source.parent
        if relation.attribute is not None and parent.entity.mapped_class is not None:
            owner = self.target(parent)
            return getattr(owner, relation.name).of_type(self.target(source))
        pairs = [
            self.column(parent, local) == self.column(source, remote)
            for local, remote in zip(relation.local_keys, relation.target_keys)
        ]
        return and_(*pairs)


def labels_for(plan: Plan) -> list[str]:
    """Short, unique result-column names: ``Name``, ``Genre_Name``, ``sum_UnitPrice``."""
    labels: list[str] = []
    for term in plan.outputs:
        if isinstance(term, FieldTerm):
            parts = [term.source.alias] if term.source.path else []
            raw = "_".join([*parts, term.column.key])
        else:
            inner = term.field.source.alias + "_" if term.field and term.field.source.path else ""
            raw = f"{term.func}_{inner}{term.field.column.key if term.field else 'all'}"
        label = _LABEL_CHARS.sub("_", raw).strip("_")[:50] or "column"
        candidate, n = label, 1
        while candidate.lower() in {x.lower() for x in labels}:
            n += 1
            candidate = f"{label}_{n}"
        labels.append(candidate)
    return labels


def _condition(scope: _Scope, plan: Plan, condition: Filter) -> ColumnElement[bool]:
    term = plan.term_of(condition)
    expr, value = scope.term(term), condition.value
    # SQLite text date formats are matched at discovery (catalog.discovery), not here.
    bound = replace(condition.column, expression=expr)
    return Filter(bound, condition.operator, condition.raw, value).condition()


def _group(scope: _Scope, plan: Plan, group: ConditionGroup) -> ColumnElement[bool] | None:
    parts = []
    for item in group.items:
        if isinstance(item, ConditionGroup):
            inner = _group(scope, plan, item)
            if inner is not None:
                parts.append(inner)
        else:
            parts.append(_condition(scope, plan, item))
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return or_(*parts) if group.kind == "or" else and_(*parts)


def compile_plan(plan: Plan, *, limit: int | None = None, export: bool = False) -> Select[Any]:
    """The plan as a ``select()``; ``limit`` overrides the plan's own (the runner adds one).

    Binary columns are selected as their length for the page; ``export`` selects the bytes.
    """
    scope = _Scope(plan)
    labels = labels_for(plan)
    selected = []
    by_text: dict[str, Any] = {}
    for term, label in zip(plan.outputs, labels):
        expr = scope.term(term)
        if isinstance(term, FieldTerm) and term.kind == "binary" and not export:
            expr = func.length(expr)
        labelled = expr.label(label)
        selected.append(labelled)
        by_text.setdefault(term.text, labelled)
    stmt = select(*selected).select_from(scope.target(plan.base))
    for source in plan.sources[1:]:
        on = scope.on(source)
        if isinstance(on, ColumnElement):
            stmt = stmt.join(scope.target(source), on, isouter=source.kind == "left")
        else:
            stmt = stmt.join(on, isouter=source.kind == "left")
    where = _group(scope, plan, plan.where)
    if where is not None:
        stmt = stmt.where(where)
    if plan.aggregated:
        if plan.group_by:
            stmt = stmt.group_by(*[scope.field(g) for g in plan.group_by])
        having = _group(scope, plan, plan.having)
        if having is not None:
            stmt = stmt.having(having)
    stmt = stmt.order_by(*_ordering(scope, plan, by_text))
    final = plan.limit if limit is None else limit
    if final is not None:
        stmt = stmt.limit(final)
    return stmt


def _ordering(scope: _Scope, plan: Plan, by_text: dict[str, Any]) -> list[Any]:
    clauses = []
    used: set[str] = set()
    for term, descending in plan.order:
        # A selected term is ordered by its label (readable SQL); others by the expression.
        expr = by_text.get(term.text)
        if expr is None or (isinstance(term, FieldTerm) and term.kind == "binary"):
            expr = scope.term(term)
        clauses.append(expr.desc() if descending else expr.asc())
        used.add(term.text)
    # The unique tail: group-by columns, or every table's primary key.
    if plan.aggregated:
        for term in plan.group_by:
            if term.text not in used:
                clauses.append(scope.field(term).asc())
    else:
        for source in plan.sources:
            for key in source.entity.primary_key:
                text = FieldRef(source.path, key).text()
                if text not in used:
                    clauses.append(scope.column(source, key).asc())
    return clauses


# --- showing the SQL --------------------------------------------------------------------------


def render_sql(stmt: ClauseElement, dialect: Dialect) -> str:
    """The statement as this database will see it, values inlined for reading only."""
    try:
        compiled = stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        sql = str(compiled)
        if dialect.paramstyle in ("format", "pyformat"):
            sql = sql.replace("%%", "%")  # the driver's escaping; the reader wants one sign
    except (CompileError, NotImplementedError, TypeError, ValueError):
        compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        sql = f"{compiled}\n-- parameters: {compiled.params!r}"
    return sqlparse.format(sql, reindent=True, keyword_case="upper", wrap_after=100).strip()


class Explain(Executable, ClauseElement):
    """``EXPLAIN <statement>`` (``EXPLAIN QUERY PLAN`` on SQLite), values still bound."""

    inherit_cache = False

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


@compiles(Explain)
def _compile_explain(element: Explain, compiler: Any, **kw: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN " if compiler.dialect.name == "sqlite" else "EXPLAIN "
    sql = prefix + compiler.process(element.statement, **kw)
    # The plan's rows are not the statement's: without this, SQLAlchemy matches the plan's
    # columns to the statement's (by position or name) and feeds the plan text to their types'
    # result processors (Numeric, Date, JSON...), which fail on it. No result map: plain values.
    compiler._result_columns = []
    return sql
