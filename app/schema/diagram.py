"""Relationship diagrams: tables as boxes of key columns, foreign keys as arrows.

The layout is igraph's layered (Sugiyama) layout: it assigns tables to layers so that every
foreign key points from a lower layer up to the table it references, orders each layer to keep
crossings few, and routes long edges through control points. What is done here is only what a
point layout cannot know: the boxes' sizes in pixels (so neighbours in a layer are spaced by
their real widths) and where along a box's edge each arrow attaches. Tables with no foreign key
either way are set out in rows below the graph instead of widening its first layer.

The result is plain geometry that a template draws as SVG; nothing here knows about Flask.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import igraph

from .structure import ForeignKeyInfo, TableInfo, TableKey

# Whole-database diagrams above this many tables are not drawn: the page offers a picker.
MAX_TABLES = 60

FONT_SIZE = 12
CHAR_WIDTH = 7.3  # a 12px monospace glyph, with a little slack
PAD = 10
TITLE_HEIGHT = 26
ROW_HEIGHT = 18
MIN_WIDTH = 110
MAX_ROWS = 12  # key columns shown per box before "… n more"
H_GAP = 36  # between boxes in a layer
DUMMY_GAP = 14  # room for an edge passing through a layer
V_GAP = 64  # between layers
MARGIN = 20


def text_width(text: str) -> float:
    """Width of ``text`` in the diagram's monospace font; wide (CJK) characters count twice."""
    cells = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return cells * CHAR_WIDTH


@dataclass
class Row:
    name: str
    type: str
    pk: bool
    fk: bool


@dataclass
class Box:
    table: TableInfo
    title: str
    rows: list[Row]
    hidden_rows: int
    href: str
    focus: bool = False
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


@dataclass
class Edge:
    source: Box  # the referencing table (holds the foreign key)
    target: Box  # the referenced table
    fk: ForeignKeyInfo
    path: str = ""  # SVG path data
    self_loop: bool = False

    @property
    def label(self) -> str:
        source = f"{self.source.title}({', '.join(self.fk.columns)})"
        target = f"{self.target.title}({', '.join(self.fk.target_columns)})"
        return f"{source} → {target}"


@dataclass
class Diagram:
    boxes: list[Box]
    edges: list[Edge]
    width: float
    height: float
    layers: int = 0
    notes: list[str] = field(default_factory=list)


def _title(table: TableInfo, default_schema_shown: bool) -> str:
    return f"{table.schema}.{table.name}" if table.schema and default_schema_shown else table.name


def _box(table: TableInfo, href: str, show_schema: bool) -> Box:
    fk = set(table.fk_columns)
    keys = table.key_columns or table.columns[:1]
    rows = [Row(c, table.column_types.get(c, ""), c in table.primary_key, c in fk) for c in keys]
    shown, hidden = rows[:MAX_ROWS], max(0, len(rows) - MAX_ROWS)
    title = _title(table, show_schema)
    widest = max(
        [text_width(title)]
        + [text_width(r.name) + CHAR_WIDTH * 6 for r in shown]
        + ([text_width(f"… {hidden} more")] if hidden else [])
    )
    box = Box(table=table, title=title, rows=shown, hidden_rows=hidden, href=href)
    box.w = max(MIN_WIDTH, widest + 2 * PAD)
    box.h = TITLE_HEIGHT + ROW_HEIGHT * (len(shown) + (1 if hidden else 0)) + 8
    return box


def build(
    tables: Iterable[TableInfo],
    link: Callable[[TableInfo], str],
    focus: TableKey | None = None,
) -> Diagram:
    """Lay out ``tables`` and the foreign keys among them."""
    tables = list(tables)
    show_schema = len({t.schema for t in tables}) > 1
    boxes = {t.key: _box(t, link(t), show_schema) for t in tables}
    if focus in boxes:
        boxes[focus].focus = True
    edges = [
        Edge(boxes[t.key], boxes[fk.target], fk)
        for t in tables
        for fk in t.foreign_keys
        if fk.target in boxes
    ]
    connected = {e.source.table.key for e in edges if not _loop(e)} | {
        e.target.table.key for e in edges if not _loop(e)
    }
    graph_boxes = [b for k, b in boxes.items() if k in connected]
    loose = [b for k, b in boxes.items() if k not in connected]
    width, height, layers = _layered(graph_boxes, [e for e in edges if not _loop(e)])
    width, height = _rows_below(loose, width, height)
    for edge in edges:
        if _loop(edge):
            _route_loop(edge)
    return Diagram(
        boxes=list(boxes.values()),
        edges=edges,
        width=width + MARGIN,
        height=height + MARGIN,
        layers=layers,
    )


def _loop(edge: Edge) -> bool:
    return edge.source is edge.target


def _layered(boxes: list[Box], edges: list[Edge]) -> tuple[float, float, int]:
    """Place connected boxes with igraph's Sugiyama layout; route their edges."""
    if not boxes:
        return 0.0, 0.0, 0
    index = {id(b): i for i, b in enumerate(boxes)}
    # Referenced tables above the tables that reference them: lay out parent -> child.
    pairs = [(index[id(e.target)], index[id(e.source)]) for e in edges]
    coords, routes = _sugiyama(len(boxes), pairs)
    layer_of = [layer for _x, layer in coords]
    n_layers = max(layer_of) + 1
    bends: list[list[list[float]]] = [[list(p) for p in routes[pair]] for pair in pairs]

    # Every layer holds boxes and the points where edges pass through; keep igraph's order and
    # relative positions, spaced by real widths.
    items: dict[int, list[tuple[float, str, object]]] = {}
    for i, box in enumerate(boxes):
        items.setdefault(layer_of[i], []).append((coords[i][0], "box", box))
    for points in bends:
        for point in points:
            items.setdefault(round(point[1]), []).append((point[0], "bend", point))
    # igraph spaces every vertex, edge bends included, one unit apart: a unit narrower than a
    # box keeps bends close together, and the sweep below pushes boxes apart as needed.
    unit = sum(b.w for b in boxes) / len(boxes) * 0.45 + DUMMY_GAP
    for layer in items.values():
        layer.sort(key=lambda item: item[0])
        right = -1e9
        for x, kind, obj in layer:
            width = obj.w if isinstance(obj, Box) else 0.0
            gap = H_GAP if kind == "box" else DUMMY_GAP
            left = max(x * unit - width / 2, right + gap)
            if isinstance(obj, Box):
                obj.x = left
            else:
                obj[0] = left  # type: ignore[index]
            right = left + width
    # Vertical bands: each as tall as its tallest box.
    band_height = [0.0] * n_layers
    for i, box in enumerate(boxes):
        band_height[layer_of[i]] = max(band_height[layer_of[i]], box.h)
    band_top = []
    y = float(MARGIN)
    for h in band_height:
        band_top.append(y)
        y += max(h, ROW_HEIGHT) + V_GAP
    for i, box in enumerate(boxes):
        box.y = band_top[layer_of[i]]
    min_x = min([b.x for b in boxes] + [p[0] for pts in bends for p in pts])
    shift = MARGIN - min_x
    for box in boxes:
        box.x += shift
    for points in bends:
        for point in points:
            point[0] += shift
    _route(edges, bends, band_top, band_height)
    width = max([b.x + b.w for b in boxes] + [p[0] for pts in bends for p in pts])
    return width, y - V_GAP, n_layers


def _sugiyama(
    n: int, pairs: list[tuple[int, int]]
) -> tuple[list[tuple[float, int]], dict[tuple[int, int], list[list[float]]]]:
    """Lay out a directed graph in layers: (x, layer) per vertex and bend points per edge.

    Each weakly connected component is laid out on its own and the components are set side by
    side, left to right. igraph 1.0's Sugiyama layout reads past the end of an array when the
    graph it is given has more than one component and an edge that spans more than one layer
    (so igraph adds a dummy vertex): an invalid read that now and then kills the process with
    a segfault. Given a connected graph, it does not. Loops and repeated edges are left out of
    the layout (a pair of tables gets one route; self-references are drawn apart).
    """
    unique = sorted({pair for pair in pairs if pair[0] != pair[1]})
    graph = igraph.Graph(n=n, edges=unique, directed=True)
    coords: list[tuple[float, int]] = [(0.0, 0)] * n
    routes: dict[tuple[int, int], list[list[float]]] = {pair: [] for pair in pairs}
    left = 0.0
    for members in graph.connected_components(mode="weak"):
        local = {v: i for i, v in enumerate(members)}
        edges = [(local[a], local[b]) for a, b in unique if a in local]
        xs, layers, bends = _sugiyama_connected(len(members), edges)
        all_xs = xs + [x for points in bends.values() for x, _y in points]
        shift = left - min(all_xs)
        for v, i in local.items():
            coords[v] = (xs[i] + shift, layers[i])
        for (a, b), points in bends.items():
            routes[(members[a], members[b])] = [[x + shift, y] for x, y in points]
        left = max(all_xs) + shift + 1
    return coords, routes


def _sugiyama_connected(
    n: int, edges: list[tuple[int, int]]
) -> tuple[list[float], list[int], dict[tuple[int, int], list[list[float]]]]:
    """Lay out one connected graph without loops or parallel edges: x and layer per vertex
    and the bend points of each edge.

    igraph does all the layout work, in two passes. The first assigns layers (cycles broken by
    a feedback arc set, then longest-path layering). The second lays out the graph with every
    edge that crosses layers split by one dummy vertex per layer crossed, with those layers
    given, so igraph orders and places the dummies together with the tables and every edge
    spans one layer. (igraph 1.0's own ``edge_routing`` result is not used: it comes back
    scrambled.) The second graph may fall apart into components (an edge inside one layer is
    left out of it), but igraph adds no dummy vertex to it, so the bug in ``_sugiyama``'s
    docstring cannot occur there either.
    """
    first = igraph.Graph(n=n, edges=edges, directed=True).layout_sugiyama(maxiter=1)
    layer = [round(y) for _x, y in first.coords]
    ext_layers = list(layer)
    ext_edges: list[tuple[int, int]] = []
    chains: dict[tuple[int, int], list[int]] = {}
    for a, b in edges:
        low, high = (a, b) if layer[a] <= layer[b] else (b, a)
        chain: list[int] = []
        previous = low
        for crossed in range(layer[low] + 1, layer[high]):
            ext_layers.append(crossed)
            dummy = len(ext_layers) - 1
            ext_edges.append((previous, dummy))
            chain.append(dummy)
            previous = dummy
        if layer[low] != layer[high]:
            ext_edges.append((previous, high))
        chains[(a, b)] = chain
    second = igraph.Graph(n=len(ext_layers), edges=ext_edges, directed=True).layout_sugiyama(
        layers=ext_layers, maxiter=200
    )
    xs = [x for x, _y in second.coords]
    bends = {pair: [[xs[d], float(ext_layers[d])] for d in chain] for pair, chain in chains.items()}
    return xs[:n], layer, bends


def _route(
    edges: list[Edge],
    bends: list[list[list[float]]],
    band_top: list[float],
    band_height: list[float],
) -> None:
    """Draw each edge from the referencing box to the referenced one through its bends."""
    # Spread the attachment points along each box side, ordered by where the edge heads.
    ends: dict[tuple[int, str], list[tuple[float, int]]] = {}
    plans = []
    for n, (edge, points) in enumerate(zip(edges, bends)):
        src, dst = edge.source, edge.target
        upward = dst.y < src.y  # the usual case: the referenced table is in a higher layer
        mids = sorted(points, key=lambda p: p[1], reverse=upward)
        src_side, dst_side = ("top", "bottom") if upward else ("bottom", "top")
        toward_src = mids[0][0] if mids else dst.cx
        toward_dst = mids[-1][0] if mids else src.cx
        ends.setdefault((id(src), src_side), []).append((toward_src, n))
        ends.setdefault((id(dst), dst_side), []).append((toward_dst, n))
        plans.append((edge, mids, src_side, dst_side))
    attach: dict[tuple[int, str, int], float] = {}
    boxes = {id(e.source): e.source for e in edges} | {id(e.target): e.target for e in edges}
    for (box_id, side), wanted in ends.items():
        box = boxes[box_id]
        wanted.sort()
        for k, (_x, n) in enumerate(wanted):
            attach[(box_id, side, n)] = box.x + box.w * (k + 1) / (len(wanted) + 1)
    for n, (edge, mids, src_side, dst_side) in enumerate(plans):
        src, dst = edge.source, edge.target
        start = (attach[(id(src), src_side, n)], src.y if src_side == "top" else src.y + src.h)
        end = (attach[(id(dst), dst_side, n)], dst.y if dst_side == "top" else dst.y + dst.h)
        waypoints = [start]
        for x, y in mids:
            layer = round(y)
            top, bottom = band_top[layer], band_top[layer] + band_height[layer]
            waypoints += [(x, bottom), (x, top)] if src_side == "top" else [(x, top), (x, bottom)]
        waypoints.append(end)
        edge.path = _smooth(waypoints)


def _smooth(points: list[tuple[float, float]]) -> str:
    """A path through ``points``: straight through layers, S-curves between them."""
    (x0, y0), rest = points[0], points[1:]
    parts = [f"M{x0:.1f},{y0:.1f}"]
    for x1, y1 in rest:
        if abs(x1 - x0) < 0.5:
            parts.append(f"L{x1:.1f},{y1:.1f}")
        else:
            mid = (y0 + y1) / 2
            parts.append(f"C{x0:.1f},{mid:.1f} {x1:.1f},{mid:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return " ".join(parts)


def _route_loop(edge: Edge) -> None:
    box = edge.source
    right = box.x + box.w
    y1, y2 = box.y + TITLE_HEIGHT * 0.6, box.y + min(box.h - 6, TITLE_HEIGHT + ROW_HEIGHT * 1.5)
    edge.self_loop = True
    edge.path = (
        f"M{right:.1f},{y2:.1f} C{right + 34:.1f},{y2:.1f} {right + 34:.1f},{y1:.1f} "
        f"{right:.1f},{y1:.1f}"
    )


def _rows_below(boxes: list[Box], width: float, height: float) -> tuple[float, float]:
    """Set tables without foreign keys out in rows under the graph, as wide as the graph."""
    if not boxes:
        return width, height
    row_width = max(width, 900.0)
    x, y = float(MARGIN), height + (V_GAP if height else MARGIN)
    tallest = 0.0
    for box in sorted(boxes, key=lambda b: b.title.lower()):
        if x > MARGIN and x + box.w > row_width:
            x, y = float(MARGIN), y + tallest + H_GAP
            tallest = 0.0
        box.x, box.y = x, y
        x += box.w + H_GAP
        tallest = max(tallest, box.h)
        width = max(width, box.x + box.w)
    return width, y + tallest
