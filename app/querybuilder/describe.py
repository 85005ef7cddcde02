"""The one-line human description of a query, shown above its SQL.

"InvoiceLine with Track.Genre where Invoice.InvoiceDate ≥ '2024-01-01', grouped by
Track.Genre.Name, showing sum(UnitPrice), having sum(UnitPrice) > 50, sorted by
sum(UnitPrice) descending, first 100 rows" reads as what the SQL does, without the SQL.
"""

from __future__ import annotations

from ..core.filters import Filter, split_list
from .validate import AggregateTerm, ConditionGroup, Plan

_NUMBERS = {"integer", "numeric", "float"}


def _value(condition: Filter) -> str:
    if condition.operator.arity == "none":
        return ""
    show = str if condition.column.kind in _NUMBERS else repr
    if condition.operator.arity in ("list", "two"):
        items = [show(item) for item in split_list(condition.raw)]
        return " and ".join(items) if condition.operator.arity == "two" else f"({', '.join(items)})"
    return show(condition.raw.strip() if show is str else condition.raw)


def describe_condition(plan: Plan, condition: Filter) -> str:
    name = plan.term_of(condition).title
    return condition.operator.describe.format(column=name, value=_value(condition)).strip()


def describe_group(plan: Plan, group: ConditionGroup, nested: bool = False) -> str:
    parts = []
    for item in group.items:
        if isinstance(item, ConditionGroup):
            if item.items:
                parts.append(describe_group(plan, item, nested=True))
        else:
            parts.append(describe_condition(plan, item))
    text = f" {group.kind} ".join(parts)
    return f"({text})" if nested and len(parts) > 1 else text


def describe(plan: Plan, shown_limit: int | None = None) -> str:
    """Say in one line what the query does."""
    pieces = [plan.base.entity.name]
    joined = plan.sources[1:]
    if joined:
        names = ", ".join(
            f"{s.label} ({'left join' if s.kind == 'left' else s.relation.direction})"
            if s.relation is not None
            else s.label
            for s in joined
        )
        pieces.append(f"with {names}")
    where = describe_group(plan, plan.where)
    if where:
        pieces.append(f"where {where}")
    text = " ".join(pieces)
    clauses = []
    if plan.group_by:
        clauses.append("grouped by " + ", ".join(t.title for t in plan.group_by))
    aggregates = [t.title for t in plan.outputs if isinstance(t, AggregateTerm)]
    if aggregates:
        clauses.append("showing " + ", ".join(aggregates))
    having = describe_group(plan, plan.having)
    if having:
        clauses.append(f"having {having}")
    if plan.order:
        clauses.append(
            "sorted by "
            + ", ".join(f"{t.title}{' descending' if desc else ''}" for t, desc in plan.order)
        )
    limit = plan.limit if plan.limit is not None else shown_limit
    if limit is not None:
        clauses.append(f"first {limit:,} row{'' if limit == 1 else 's'}")
    return ", ".join([text, *clauses])
