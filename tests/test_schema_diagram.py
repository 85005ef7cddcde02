"""The diagram's geometry, without a database: boxes never overlap and arrows join them.

The layout itself is igraph's; what is checked here is what this project adds around it:
box sizes, spacing by real widths, edge attachment, self-references and unconnected tables.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import igraph
import pytest

from rowboat.schema.diagram import Box, Diagram, build, text_width
from rowboat.schema.structure import ForeignKeyInfo, TableInfo


def table(name: str, refs: list[str] = (), extra: int = 1) -> TableInfo:  # type: ignore[assignment]
    fks = [ForeignKeyInfo(f"fk_{name}_{r}", [f"{r}_id"], None, r, ["id"]) for r in refs]
    columns = ["id", *[f"{r}_id" for r in refs], *[f"c{n}" for n in range(extra)]]
    return TableInfo(
        schema=None,
        name=name,
        kind="table",
        columns=columns,
        column_types={c: "INTEGER" for c in columns},
        primary_key=["id"],
        foreign_keys=fks,
    )


def link(t: TableInfo) -> str:
    return f"/db/-/schema/{t.name}"


def overlaps(a: Box, b: Box) -> bool:
    return not (a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y)


def endpoints(path: str) -> tuple[tuple[float, float], tuple[float, float]]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]
    return (numbers[0], numbers[1]), (numbers[-2], numbers[-1])


def on_border(point: tuple[float, float], box: Box) -> bool:
    x, y = point
    inside_x = box.x - 0.5 <= x <= box.x + box.w + 0.5
    inside_y = box.y - 0.5 <= y <= box.y + box.h + 0.5
    near_edge = (
        abs(y - box.y) < 0.6
        or abs(y - (box.y + box.h)) < 0.6
        or abs(x - box.x) < 0.6
        or abs(x - (box.x + box.w)) < 0.6
    )
    return inside_x and inside_y and near_edge


def check(diagram: Diagram) -> None:
    boxes = diagram.boxes
    for i, a in enumerate(boxes):
        assert a.x >= 0 and a.y >= 0
        assert a.x + a.w <= diagram.width and a.y + a.h <= diagram.height
        for b in boxes[i + 1 :]:
            assert not overlaps(a, b), (a.title, b.title)
    for edge in diagram.edges:
        start, end = endpoints(edge.path)
        assert on_border(start, edge.source), (edge.label, start)
        assert on_border(end, edge.target), (edge.label, end)


CHINOOK = [
    table("artist"),
    table("album", ["artist"]),
    table("genre"),
    table("media_type"),
    table("track", ["album", "genre", "media_type"], extra=4),
    table("playlist"),
    table("playlist_track", ["playlist", "track"], extra=0),
    table("employee", ["employee"], extra=10),
    table("customer", ["employee"], extra=10),
    table("invoice", ["customer"], extra=6),
    table("invoice_line", ["invoice", "track"], extra=2),
]


def test_chinook_like_schema() -> None:
    diagram = build(CHINOOK, link)
    check(diagram)
    assert len(diagram.boxes) == 11 and len(diagram.edges) == 11
    by_name = {b.title: b for b in diagram.boxes}
    # Referenced tables sit above the tables that reference them.
    for edge in diagram.edges:
        if not edge.self_loop:
            assert edge.target.y + edge.target.h < edge.source.y, edge.label
    assert by_name["track"].href == "/db/-/schema/track"
    loops = [e for e in diagram.edges if e.self_loop]
    assert [e.source.title for e in loops] == ["employee"]
    # Boxes show key columns only: primary key, then foreign keys.
    names = [r.name for r in by_name["track"].rows]
    assert names == ["id", "album_id", "genre_id", "media_type_id"]
    assert [(r.pk, r.fk) for r in by_name["playlist_track"].rows][1:] == [(False, True)] * 2


def test_unconnected_tables_go_below_the_graph() -> None:
    diagram = build([*CHINOOK, table("lonely"), table("settings")], link)
    check(diagram)
    graph_bottom = max(b.y + b.h for b in diagram.boxes if b.title not in ("lonely", "settings"))
    for box in diagram.boxes:
        if box.title in ("lonely", "settings"):
            assert box.y > graph_bottom


def test_focus_and_neighbourhood() -> None:
    diagram = build(CHINOOK[:5], link, focus=(None, "track"))
    assert [b.title for b in diagram.boxes if b.focus] == ["track"]
    check(diagram)


def test_fifty_tables_lay_out_quickly_without_overlap() -> None:
    rng = random.Random(7)
    tables = [table("t00")]
    for n in range(1, 50):
        refs = sorted({f"t{rng.randrange(n):02d}" for _ in range(rng.choice([0, 1, 1, 2, 3]))})
        tables.append(table(f"t{n:02d}", refs, extra=rng.randrange(3)))
    diagram = build(tables, link)  # its speed is measured by bench/, not asserted here
    check(diagram)
    assert len(diagram.edges) == sum(len(t.foreign_keys) for t in tables)


def test_cycles_and_parallel_foreign_keys() -> None:
    a = table("a", ["b"])
    b = table("b", ["a"])
    c = TableInfo(
        None,
        "c",
        "table",
        ["id", "from_id", "to_id"],
        {},
        ["id"],
        [
            ForeignKeyInfo("f1", ["from_id"], None, "a", ["id"]),
            ForeignKeyInfo("f2", ["to_id"], None, "a", ["id"]),
        ],
    )
    diagram = build([a, b, c], link)
    check(diagram)
    assert len(diagram.edges) == 4
    paths = [e.path for e in diagram.edges if e.source.title == "c"]
    assert paths[0] != paths[1]  # two arrows, attached apart


@pytest.mark.parametrize(("text", "cells"), [("abc", 3), ("表", 2), ("Ünï", 3)])
def test_wide_characters_take_two_cells(text: str, cells: int) -> None:
    assert text_width(text) == pytest.approx(cells * text_width("a"))


def test_many_key_columns_are_cut_with_a_count() -> None:
    wide = TableInfo(
        None,
        "wide",
        "table",
        [f"k{n}" for n in range(20)],
        {},
        [f"k{n}" for n in range(20)],
        [],
    )
    box = build([wide], link).boxes[0]
    assert len(box.rows) == 12 and box.hidden_rows == 8


def random_schema(seed: int) -> list[TableInfo]:
    """Tables referencing each other at random: cycles, self-references, two keys to the same
    table, tables with no key either way, and often several unconnected groups."""
    rng = random.Random(seed)
    n = rng.randrange(2, 30)
    tables = []
    for i in range(n):
        refs = [f"r{rng.randrange(n)}" for _ in range(rng.choice([0, 1, 2, 3]))]
        fks = [ForeignKeyInfo(f"fk{k}", [f"c{k}"], None, ref, ["id"]) for k, ref in enumerate(refs)]
        columns = ["id", *[f"c{k}" for k in range(len(refs))]]
        tables.append(TableInfo(None, f"r{i}", "table", columns, {}, ["id"], fks))
    return tables


@pytest.fixture
def connected_only(monkeypatch: pytest.MonkeyPatch) -> list[igraph.Graph]:
    """Fail if igraph's Sugiyama layout is given a graph of more than one component in which
    igraph would add a dummy vertex (no layers given, or an edge spanning several layers).

    igraph 1.0 reads past the end of an array on such graphs, now and then segfaulting; the
    diagram lays out one component at a time instead.
    """
    seen: list[igraph.Graph] = []
    original = igraph.Graph.layout_sugiyama

    def checked(graph: igraph.Graph, *args: object, **kwargs: object) -> igraph.Layout:
        layers = kwargs.get("layers")
        if layers is None:
            assert graph.is_connected(mode="weak"), "automatic layering of a disconnected graph"
        else:
            spans = [abs(layers[a] - layers[b]) for a, b in graph.get_edgelist()]  # type: ignore[index]
            assert graph.is_connected(mode="weak") or max(spans, default=0) <= 1, (
                "a disconnected graph with an edge spanning more than one layer"
            )
        seen.append(graph)
        return original(graph, *args, **kwargs)

    monkeypatch.setattr(igraph.Graph, "layout_sugiyama", checked)
    return seen


def test_unconnected_groups_with_a_long_edge_are_laid_out_apart(
    connected_only: list[igraph.Graph],
) -> None:
    """The smallest shape that made igraph read out of bounds: a triangle whose third edge
    spans two layers, next to another group of tables."""
    tables = [
        table("a"),
        table("b", ["a"]),
        table("c", ["b", "a"]),
        table("d"),
        table("e", ["d"]),
    ]
    diagram = build(tables, link)
    check(diagram)
    assert connected_only, "igraph was not used"
    by_name = {b.title: b for b in diagram.boxes}
    # Both groups start at the top layer, side by side.
    assert by_name["a"].y == by_name["d"].y
    assert by_name["a"].y < by_name["b"].y < by_name["c"].y
    long_edge = next(e for e in diagram.edges if e.label == "c(a_id) → a(id)")
    assert long_edge.path.count("C") + long_edge.path.count("L") >= 3  # bends through b's layer

    def extent(names: str) -> tuple[float, float]:
        return min(by_name[t].x for t in names), max(by_name[t].x + by_name[t].w for t in names)

    (abc_left, abc_right), (de_left, de_right) = extent("abc"), extent("de")
    assert abc_right <= de_left or de_right <= abc_left


def test_random_schemas_with_cycles_and_parallel_keys_stay_well_formed(
    connected_only: list[igraph.Graph],
) -> None:
    for seed in range(150):
        tables = random_schema(seed)
        diagram = build(tables, link)
        check(diagram)
        assert len(diagram.edges) == sum(len(t.foreign_keys) for t in tables)


# Lays out many random graphs, including disconnected ones with long edges, in a child process:
# before the diagram laid out one component at a time, a few hundred of these were nearly
# always enough for igraph to segfault, and a crash there fails this test instead of ending the
# whole test run.
CHILD = """
import random
from rowboat.schema.diagram import _sugiyama

for seed in range(400):
    rng = random.Random(seed)
    n = rng.randrange(1, 81)
    pairs = [(rng.randrange(n), rng.randrange(n)) for _ in range(rng.randrange(3 * n + 1))]
    random.seed(seed)  # igraph draws from Python's random module
    _sugiyama(n, pairs + pairs[: len(pairs) // 10])
print("ok")
"""


def test_many_random_graphs_lay_out_without_crashing_the_process() -> None:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", CHILD],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "ok"
