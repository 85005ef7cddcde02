"""QuerySpec: the builder's whole state as plain data, and its text forms (URL and JSON).

The query string is the canonical form, so any query can be bookmarked, shared and reloaded,
and the back button walks through its edits. One parameter per part, in a fixed order::

    table=InvoiceLine
    join=Track.Genre              join=left:Invoice.Customer   (inner unless it says left)
    col=Track.Genre.Name          a column: relationship path, then the column key
    agg=sum:UnitPrice             agg=count:*   agg=count_distinct:Invoice.CustomerId
    wg.0=or                       the root WHERE group's kind (and unless it says or)
    where=Invoice.Total:gt:10     a condition of the root group: field:operator:value
    wg.1=or:0  where.1=...        group 1 (OR, inside group 0) and a condition in it
    group=Track.Genre.Name
    hg.N / having[.N]=sum:UnitPrice:gt:50   the same for HAVING, on aggregates
    order=sum:UnitPrice:desc      order=Name  (ascending unless it says desc)
    limit=100   run=1

Inside a reference, ``~``, ``.`` and ``:`` in a name are written ``~7E``, ``~2E`` and ``~3A``,
so every column and relationship name fits. The JSON form uses the same reference strings.
This module only checks shape; ``validate`` checks the names against the catalog.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..db.errors import BadRequest

AGGREGATES = ("count", "count_distinct", "sum", "avg", "min", "max")
JOIN_KINDS = ("inner", "left")
GROUP_KINDS = ("and", "or")

MAX_JOINS = 12
MAX_PATH = 6
MAX_CONDITIONS = 100
MAX_DEPTH = 8
MAX_TERMS = 100
MAX_GROUPS = 100  # nested WHERE/HAVING groups, empty or not
# How deep a JSON spec may nest: the spec, its where group, and two levels (an object and its
# items list) per nested group. Deeper JSON is refused before it is decoded: Python's decoder
# raised RecursionError (a 500) on a spec nested 1,300 levels deep.
MAX_JSON_DEPTH = 2 * MAX_DEPTH + 6


class QueryError(BadRequest):
    """A query spec that cannot be read or does not fit the database: answered with 400."""

    title = "Invalid query"


# --- references -------------------------------------------------------------------------------

_ESCAPES = {"~": "~7E", ".": "~2E", ":": "~3A"}
_ESCAPED = re.compile(r"~(7E|2E|3A)", re.IGNORECASE)


def escape_name(name: str) -> str:
    return "".join(_ESCAPES.get(char, char) for char in name)


def unescape_name(text: str) -> str:
    if "~" in _ESCAPED.sub("", text):
        raise QueryError(f"{text!r}: '~' in a name must be followed by 7E, 2E or 3A")
    return _ESCAPED.sub(lambda m: {"7E": "~", "2E": ".", "3A": ":"}[m.group(1).upper()], text)


@dataclass(frozen=True)
class FieldRef:
    """A column of the base table (empty path) or of a table reached through relationships."""

    path: tuple[str, ...]
    column: str

    def text(self) -> str:
        return ".".join(escape_name(part) for part in (*self.path, self.column))


@dataclass(frozen=True)
class AggregateRef:
    func: str
    field: FieldRef | None  # None: count(*)

    def text(self) -> str:
        return f"{self.func}:{self.field.text() if self.field else '*'}"


Term = FieldRef | AggregateRef


@dataclass(frozen=True)
class JoinSpec:
    path: tuple[str, ...]
    kind: str = "inner"

    @property
    def path_text(self) -> str:
        return ".".join(escape_name(part) for part in self.path)

    def text(self) -> str:
        return f"left:{self.path_text}" if self.kind == "left" else self.path_text


@dataclass
class ConditionSpec:
    term: Term
    op: str
    value: str = ""

    def text(self) -> str:
        return f"{self.term.text()}:{self.op}:{self.value}"


@dataclass
class GroupSpec:
    kind: str = "and"
    items: list[ConditionSpec | GroupSpec] = field(default_factory=list)

    def conditions(self) -> Iterable[ConditionSpec]:
        for item in self.items:
            if isinstance(item, GroupSpec):
                yield from item.conditions()
            else:
                yield item

    def is_empty(self) -> bool:
        return not any(True for _ in self.conditions())


@dataclass(frozen=True)
class OrderSpec:
    term: Term
    descending: bool = False

    def text(self) -> str:
        return f"{self.term.text()}:desc" if self.descending else self.term.text()


@dataclass
class QuerySpec:
    table: str = ""
    joins: list[JoinSpec] = field(default_factory=list)
    columns: list[FieldRef] = field(default_factory=list)
    aggregates: list[AggregateRef] = field(default_factory=list)
    where: GroupSpec = field(default_factory=GroupSpec)
    group_by: list[FieldRef] = field(default_factory=list)
    having: GroupSpec = field(default_factory=GroupSpec)
    order: list[OrderSpec] = field(default_factory=list)
    limit: int | None = None
    run: bool = False


def parse_path(text: str) -> tuple[str, ...]:
    if text == "":
        return ()
    parts = tuple(unescape_name(part) for part in text.split("."))
    if any(part == "" for part in parts):
        raise QueryError(f"{text!r} is not a relationship path (empty name)")
    if len(parts) > MAX_PATH:
        raise QueryError(f"{text!r}: a path may follow at most {MAX_PATH} relationships")
    return parts


def parse_field(text: str) -> FieldRef:
    text = text.strip()
    if not text:
        raise QueryError("a column reference is empty")
    head, _, column = text.rpartition(".")
    name = unescape_name(column)
    if not name:
        raise QueryError(f"{text!r} does not name a column")
    return FieldRef(parse_path(head), name)


def parse_aggregate(text: str) -> AggregateRef:
    func, sep, rest = text.strip().partition(":")
    if not sep:
        raise QueryError(f"aggregate {text!r} must be function:column, e.g. sum:total")
    if func not in AGGREGATES:
        raise QueryError(f"unknown aggregate {func!r} (use one of {', '.join(AGGREGATES)})")
    if rest == "*":
        if func != "count":
            raise QueryError(f"{func}(*) is not an aggregate: only count takes '*'")
        return AggregateRef(func, None)
    return AggregateRef(func, parse_field(rest))


def parse_join(text: str) -> JoinSpec:
    kind, sep, path = text.strip().partition(":")
    if not sep:
        kind, path = "inner", text.strip()
    if kind not in JOIN_KINDS:
        raise QueryError(f"join {text!r}: the kind must be inner or left, not {kind!r}")
    parts = parse_path(path)
    if not parts:
        raise QueryError("a join needs a relationship path")
    return JoinSpec(parts, kind)


def parse_term(text: str) -> Term:
    """A column reference, or ``function:column`` for an aggregate."""
    if ":" in text:
        return parse_aggregate(text)
    return parse_field(text)


def parse_order(text: str) -> OrderSpec:
    body, descending = text.strip(), False
    for suffix, desc in ((":desc", True), (":asc", False)):
        if body.endswith(suffix):
            body, descending = body[: -len(suffix)], desc
            break
    return OrderSpec(parse_term(body), descending)


def parse_condition(text: str, aggregate: bool) -> ConditionSpec:
    parts = text.split(":", 3 if aggregate else 2)
    if len(parts) < (3 if aggregate else 2):
        shape = "function:column:operator:value" if aggregate else "column:operator:value"
        raise QueryError(f"condition {text!r} must be {shape}")
    if aggregate:
        term: Term = parse_aggregate(f"{parts[0]}:{parts[1]}")
        op, value = parts[2], parts[3] if len(parts) > 3 else ""
    else:
        term = parse_field(parts[0])
        op, value = parts[1], parts[2] if len(parts) > 2 else ""
    if not op:
        raise QueryError(f"condition {text!r} has no operator")
    return ConditionSpec(term, op, value)


def _parse_limit(raw: str) -> int | None:
    raw = raw.strip()
    if raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise QueryError(f"limit must be a whole number, not {raw!r}") from None


# --- the query string -------------------------------------------------------------------------


class _TreeBuilder:
    """Collects ``where[.N]`` conditions and ``wg.N`` group definitions into a tree."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.groups: dict[int, tuple[str, int | None]] = {}
        self.events: list[tuple[int, Any]] = []  # (group id, condition) or (parent, group id)

    @staticmethod
    def _group_id(text: str, label: str) -> int:
        if not text.isdigit() or len(text) > 4:
            raise QueryError(f"{label} group {text!r} must be a small whole number")
        return int(text)

    def define(self, suffix: str, raw: str) -> None:
        gid = self._group_id(suffix, self.label)
        kind, sep, parent_text = raw.strip().partition(":")
        if kind not in GROUP_KINDS:
            raise QueryError(f"{self.label} group {gid} must be 'and' or 'or', not {kind!r}")
        if gid in self.groups:
            raise QueryError(f"{self.label} group {gid} is defined twice")
        if len(self.groups) >= MAX_GROUPS:
            raise QueryError(f"a query may have at most {MAX_GROUPS} {self.label} groups")
        parent = self._group_id(parent_text, self.label) if sep else None
        if gid == 0 and parent is not None:
            raise QueryError(f"the root {self.label} group 0 has no parent")
        self.groups[gid] = (kind, 0 if gid != 0 and parent is None else parent)
        if gid != 0:
            self.events.append((-1, gid))

    def add(self, suffix: str | None, condition: ConditionSpec) -> None:
        gid = 0 if suffix is None else self._group_id(suffix, self.label)
        self.events.append((gid, condition))

    def build(self) -> GroupSpec:
        nodes = {0: GroupSpec(self.groups.get(0, ("and", None))[0])}
        for gid, (kind, _parent) in self.groups.items():
            if gid != 0:
                nodes[gid] = GroupSpec(kind)
        for gid, (_kind, parent) in self.groups.items():
            seen = {gid}
            while parent is not None and parent != 0:
                if parent not in self.groups:
                    raise QueryError(f"{self.label} group {parent} is used but never defined")
                if parent in seen:
                    raise QueryError(f"{self.label} groups {sorted(seen)} contain each other")
                seen.add(parent)
                if len(seen) > MAX_DEPTH:  # stop here: each walk costs at most MAX_DEPTH steps
                    raise QueryError(f"{self.label} groups nest at most {MAX_DEPTH} deep")
                parent = self.groups[parent][1]
        for gid, item in self.events:
            if gid == -1:
                nodes[self.groups[item][1] or 0].items.append(nodes[item])
            else:
                if gid not in nodes:
                    raise QueryError(f"{self.label}.{gid}: group {gid} is never defined")
                nodes[gid].items.append(item)
        return nodes[0]


def parse_args(args: Iterable[tuple[str, str]]) -> QuerySpec:
    """Read the canonical query string; QueryError names the first malformed part."""
    spec = QuerySpec()
    where, having = _TreeBuilder("where"), _TreeBuilder("having")
    table_seen = False
    for name, raw in args:
        base, _, suffix = name.partition(".")
        if name == "table":
            if table_seen:
                raise QueryError("give one table")
            spec.table, table_seen = raw.strip(), True
        elif name == "join":
            spec.joins.append(parse_join(raw))
        elif name == "col":
            spec.columns.append(parse_field(raw))
        elif name == "agg":
            spec.aggregates.append(parse_aggregate(raw))
        elif name == "group":
            spec.group_by.append(parse_field(raw))
        elif name == "order":
            spec.order.append(parse_order(raw))
        elif name == "limit":
            spec.limit = _parse_limit(raw)
        elif name == "run":
            spec.run = raw not in ("", "0")
        elif base in ("where", "having"):
            tree = where if base == "where" else having
            tree.add(suffix if "." in name else None, parse_condition(raw, base == "having"))
        elif base in ("wg", "hg") and "." in name:
            (where if base == "wg" else having).define(suffix, raw)
        else:
            raise QueryError(f"unknown parameter {name!r}")
    spec.where, spec.having = where.build(), having.build()
    check_size(spec)
    return spec


def check_size(spec: QuerySpec) -> None:
    if len(spec.joins) > MAX_JOINS:
        raise QueryError(f"a query may have at most {MAX_JOINS} joins")
    n = sum(1 for _ in spec.where.conditions()) + sum(1 for _ in spec.having.conditions())
    if n > MAX_CONDITIONS:
        raise QueryError(f"a query may have at most {MAX_CONDITIONS} conditions")
    terms = len(spec.columns) + len(spec.aggregates) + len(spec.group_by) + len(spec.order)
    if terms > MAX_TERMS:
        raise QueryError(f"a query may name at most {MAX_TERMS} columns, aggregates and sorts")


def _tree_args(group: GroupSpec, cond_name: str, group_name: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if group.kind != "and" and not group.is_empty():
        out.append((f"{group_name}.0", group.kind))
    counter = 0

    def walk(node: GroupSpec, gid: int) -> None:
        nonlocal counter
        for item in node.items:
            if isinstance(item, GroupSpec):
                if item.is_empty():
                    continue
                counter += 1
                child = counter
                out.append(
                    (f"{group_name}.{child}", item.kind if gid == 0 else f"{item.kind}:{gid}")
                )
                walk(item, child)
            else:
                out.append((cond_name if gid == 0 else f"{cond_name}.{gid}", item.text()))

    walk(group, 0)
    return out


def to_args(spec: QuerySpec, run: bool | None = None) -> list[tuple[str, str]]:
    """The canonical query string of ``spec`` (``run`` overrides the spec's own flag)."""
    args: list[tuple[str, str]] = [("table", spec.table)]
    args += [("join", j.text()) for j in spec.joins]
    args += [("col", c.text()) for c in spec.columns]
    args += [("agg", a.text()) for a in spec.aggregates]
    args += _tree_args(spec.where, "where", "wg")
    args += [("group", g.text()) for g in spec.group_by]
    args += _tree_args(spec.having, "having", "hg")
    args += [("order", o.text()) for o in spec.order]
    if spec.limit is not None:
        args.append(("limit", str(spec.limit)))
    if spec.run if run is None else run:
        args.append(("run", "1"))
    return args


# --- JSON -------------------------------------------------------------------------------------


def _group_json(group: GroupSpec) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for item in group.items:
        if isinstance(item, GroupSpec):
            if not item.is_empty():
                items.append(_group_json(item))
        else:
            key = "aggregate" if isinstance(item.term, AggregateRef) else "field"
            items.append({key: item.term.text(), "op": item.op, "value": item.value})
    return {"kind": group.kind, "items": items}


def to_json(spec: QuerySpec) -> dict[str, Any]:
    """The spec as JSON-ready data, to save; ``from_json`` reads it back."""
    return {
        "table": spec.table,
        "joins": [{"path": j.path_text, "kind": j.kind} for j in spec.joins],
        "columns": [c.text() for c in spec.columns],
        "aggregates": [a.text() for a in spec.aggregates],
        "where": _group_json(spec.where),
        "group_by": [g.text() for g in spec.group_by],
        "having": _group_json(spec.having),
        "order": [{"term": o.term.text(), "descending": o.descending} for o in spec.order],
        "limit": spec.limit,
    }


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise QueryError(f"{what} must be a string")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise QueryError(f"{what} must be a list")
    return value


def _value_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, (int, float, str)) for v in value):
        return "\n".join(str(v) for v in value)
    raise QueryError("a condition's value must be a string, a number or a list of them")


def _group_from_json(data: Any, aggregate: bool, depth: int = 0) -> GroupSpec:
    label = "having" if aggregate else "where"
    if data is None:
        return GroupSpec()
    if not isinstance(data, dict):
        raise QueryError(f"{label} must be an object with kind and items")
    if depth > MAX_DEPTH:
        raise QueryError(f"{label} groups nest at most {MAX_DEPTH} deep")
    kind = data.get("kind", "and")
    if kind not in GROUP_KINDS:
        raise QueryError(f"a {label} group's kind must be 'and' or 'or', not {kind!r}")
    group = GroupSpec(kind)
    for item in _list(data.get("items"), f"{label} items"):
        if not isinstance(item, dict):
            raise QueryError(f"each {label} item must be an object")
        if "items" in item:
            group.items.append(_group_from_json(item, aggregate, depth + 1))
            continue
        op = _str(item.get("op"), f"a {label} condition's op")
        value = _value_text(item.get("value"))
        if aggregate:
            term: Term = parse_aggregate(_str(item.get("aggregate"), "a having aggregate"))
        else:
            term = parse_field(_str(item.get("field"), "a where field"))
        group.items.append(ConditionSpec(term, op, value))
    return group


def from_json(data: Any) -> QuerySpec:
    """Read a spec saved by ``to_json``; QueryError names the first malformed part."""
    if not isinstance(data, dict):
        raise QueryError("a query spec must be a JSON object")
    known = {"table", "joins", "columns", "aggregates", "where", "group_by", "having", "order"}
    unknown = set(data) - known - {"limit", "run"}
    if unknown:
        raise QueryError(f"unknown key(s) in the spec: {', '.join(sorted(map(str, unknown)))}")
    spec = QuerySpec(table=_str(data.get("table", ""), "table"))
    for join in _list(data.get("joins"), "joins"):
        if isinstance(join, str):
            spec.joins.append(parse_join(join))
        elif isinstance(join, dict):
            kind = join.get("kind", "inner")
            path = _str(join.get("path"), "a join's path")
            spec.joins.append(parse_join(f"{_str(kind, 'a join kind')}:{path}"))
        else:
            raise QueryError("each join must be a path or {path, kind}")
    spec.columns = [parse_field(_str(c, "a column")) for c in _list(data.get("columns"), "columns")]
    spec.aggregates = [
        parse_aggregate(_str(a, "an aggregate")) for a in _list(data.get("aggregates"), "aggs")
    ]
    spec.group_by = [
        parse_field(_str(g, "a group-by column")) for g in _list(data.get("group_by"), "group_by")
    ]
    spec.where = _group_from_json(data.get("where"), aggregate=False)
    spec.having = _group_from_json(data.get("having"), aggregate=True)
    for order in _list(data.get("order"), "order"):
        if isinstance(order, str):
            spec.order.append(parse_order(order))
        elif isinstance(order, dict):
            term = parse_term(_str(order.get("term"), "an order term"))
            spec.order.append(OrderSpec(term, bool(order.get("descending", False))))
        else:
            raise QueryError("each order item must be a term or {term, descending}")
    limit = data.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
        raise QueryError("limit must be a whole number")
    spec.limit = limit
    spec.run = bool(data.get("run", False))
    check_size(spec)
    return spec


def from_json_text(text: str) -> QuerySpec:
    check_json_depth(text, MAX_JSON_DEPTH)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise QueryError(f"the spec is not valid JSON: {exc}") from None
    return from_json(data)


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def check_json_depth(text: str, limit: int) -> None:
    """Refuse JSON nested deeper than ``limit`` arrays and objects, in one pass over the text
    (strings skipped), before a decoder recurses into it."""
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                raise QueryError(
                    f"the spec nests deeper than {limit} levels: where and having groups "
                    f"nest at most {MAX_DEPTH} deep"
                )
        elif token in ("]", "}"):
            depth -= 1


# --- the builder form -------------------------------------------------------------------------

# The HTML form posts these (it works without JavaScript); the view redirects to to_args().
FORM_FIELDS = {
    "_spec",
    "_jp",
    "_jk",
    "_jadd",
    "_jaddk",
    "_af",
    "_ar",
    "_gid",
    "_gparent",
    "_gkind",
    "_wg",
    "_wf",
    "_wo",
    "_wv",
    "_hkind",
    "_hf",
    "_hr",
    "_ho",
    "_hv",
    "_of",
    "_or",
    "_od",
    "_update",
}


def is_form(args: Sequence[tuple[str, str]]) -> bool:
    return any(name in FORM_FIELDS for name, _ in args)


def _values(args: Sequence[tuple[str, str]], name: str) -> list[str]:
    return [v for n, v in args if n == name]


def _zip(args: Sequence[tuple[str, str]], *names: str) -> list[tuple[str, ...]]:
    columns = [_values(args, n) for n in names]
    if len({len(c) for c in columns}) > 1:
        raise QueryError(f"the form sent incomplete rows ({', '.join(names)})")
    return list(zip(*columns))


def from_form(args: Sequence[tuple[str, str]]) -> QuerySpec:
    """Read the builder form's fields (rows of selects and boxes) into a spec."""
    spec_text = _values(args, "_spec")
    if spec_text and spec_text[0].strip():
        return from_json_text(spec_text[0])
    spec = QuerySpec(table=(_values(args, "table") or [""])[0].strip())
    for path, kind in _zip(args, "_jp", "_jk"):
        spec.joins.append(parse_join(f"{kind}:{path}"))
    for path, kind in _zip(args, "_jadd", "_jaddk"):
        if path:
            spec.joins.append(parse_join(f"{kind}:{path}"))
    spec.columns = [parse_field(v) for v in _values(args, "col") if v]
    for func, ref in _zip(args, "_af", "_ar"):
        if func and ref:
            spec.aggregates.append(parse_aggregate(f"{func}:{ref}"))
    # WHERE: groups (_gid, _gparent, _gkind) and rows (_wg, _wf, _wo, _wv), read in document
    # order so conditions and nested groups keep their places.
    tree = _TreeBuilder("where")
    pending: dict[str, str] = {}
    for name, value in args:
        if name in ("_gid", "_wg"):
            pending = {name: value}
        elif name in ("_gparent", "_wf", "_wo"):
            pending[name] = value
        elif name == "_gkind":
            gid, parent = pending.get("_gid"), pending.get("_gparent") or "0"
            if gid is None:
                raise QueryError("the form sent a filter group without its id")
            tree.define(gid, value if gid == "0" else f"{value}:{parent}")
        elif name == "_wv":
            gid, field_ref, op = pending.get("_wg"), pending.get("_wf"), pending.get("_wo")
            if gid is None or op is None or field_ref is None:
                raise QueryError("the form sent an incomplete filter")
            if field_ref:
                condition = ConditionSpec(parse_field(field_ref), op, value)
                tree.add(None if gid in ("", "0") else gid, condition)
    spec.where = tree.build()
    spec.group_by = [parse_field(v) for v in _values(args, "group") if v]
    spec.having = GroupSpec((_values(args, "_hkind") or ["and"])[0])
    if spec.having.kind not in GROUP_KINDS:
        raise QueryError("the having group must be 'and' or 'or'")
    for func, ref, op, value in _zip(args, "_hf", "_hr", "_ho", "_hv"):
        if func and ref:
            spec.having.items.append(ConditionSpec(parse_aggregate(f"{func}:{ref}"), op, value))
    for func, ref, direction in _zip(args, "_of", "_or", "_od"):
        if ref:
            term: Term = parse_aggregate(f"{func}:{ref}") if func else parse_field(ref)
            spec.order.append(OrderSpec(term, direction == "desc"))
    spec.limit = _parse_limit((_values(args, "limit") or [""])[0])
    spec.run = any(v not in ("", "0") for v in _values(args, "run"))
    check_size(spec)
    return spec


# --- edits the page links to ------------------------------------------------------------------


def _under(path: tuple[str, ...], prefix: tuple[str, ...]) -> bool:
    return path[: len(prefix)] == prefix


def _term_under(term: Term, prefix: tuple[str, ...]) -> bool:
    ref = term.field if isinstance(term, AggregateRef) else term
    return ref is not None and _under(ref.path, prefix)


def _prune(group: GroupSpec, prefix: tuple[str, ...]) -> GroupSpec:
    items: list[ConditionSpec | GroupSpec] = []
    for item in group.items:
        if isinstance(item, GroupSpec):
            items.append(_prune(item, prefix))
        elif not _term_under(item.term, prefix):
            items.append(item)
    return GroupSpec(group.kind, items)


def without_join(spec: QuerySpec, path: tuple[str, ...]) -> QuerySpec:
    """The spec with a join removed, and with it everything that reaches through it."""
    return replace(
        spec,
        joins=[j for j in spec.joins if not _under(j.path, path)],
        columns=[c for c in spec.columns if not _under(c.path, path)],
        aggregates=[a for a in spec.aggregates if not _term_under(a, path)],
        where=_prune(spec.where, path),
        group_by=[g for g in spec.group_by if not _under(g.path, path)],
        having=_prune(spec.having, path),
        order=[o for o in spec.order if not _term_under(o.term, path)],
    )
