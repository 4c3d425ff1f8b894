"""`kexplore callers/callees --depth N`: each function expanded once, a node limit, no recursion on depth."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pytest
from conftest import make_project

from explorer.cli import main

LAYERS = 12  # layer k has two functions, each calling both of layer k+1: 2**11 paths from the top


def _layered() -> str:
    """lay_0_0 → lay_1_{0,1} → lay_2_{0,1} → ...: the number of call paths doubles with each layer."""
    out = ["void lay_0_0(void)\n{\n\tlay_1_0();\n\tlay_1_1();\n}\n"]
    for k in range(1, LAYERS):
        for j in (0, 1):
            body = "" if k == LAYERS - 1 else f"\tlay_{k + 1}_0();\n\tlay_{k + 1}_1();\n"
            out.append(f"void lay_{k}_{j}(void)\n{{\n{body}}}\n")
    return "".join(out)


CHAIN = 1500  # deeper than Python's recursion limit


def _chain() -> str:
    return "".join(
        f"void link_{i}(void)\n{{\n" + (f"\tlink_{i + 1}();\n" if i < CHAIN - 1 else "") + "}\n" for i in range(CHAIN)
    )


# top → near, far; near → mid → shared; far → shared; shared → top (a cycle), leaf
SHAPES = """\
void leaf(void)
{
}

void top(void);

void shared(void)
{
\ttop();
\tleaf();
}

void mid(void)
{
\tshared();
}

void near(void)
{
\tmid();
}

void far(void)
{
\tshared();
\tshared();
}

void top(void)
{
\tnear();
\tfar();
}
"""


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from explorer.indexer import build_index

    folder = tmp_path_factory.mktemp("calltree") / "kernel-snippets"
    project = make_project(
        folder, {"net/core/layered.c": _layered(), "net/core/chain.c": _chain(), "net/core/shapes.c": SHAPES}
    )
    build_index(project, jobs=1)
    return folder


def calls(capsys, snippets: Path, *argv: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    code = main([*argv, "--snippets", str(snippets)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out


def walk(nodes: list[dict[str, object]]) -> list[tuple[int, dict[str, object]]]:
    """(level, node) for every node, breadth first, without recursion."""
    out, frontier, level = [], nodes, 1
    while frontier:
        out += [(level, n) for n in frontier]
        frontier = [c for n in frontier for c in n.get("children", [])]  # type: ignore[attr-defined]
        level += 1
    return out


def test_each_function_is_expanded_once(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out = calls(capsys, snippets, "callees", "lay_0_0", "--depth", "1000", "--json")
    assert code == 0
    tree = json.loads(out)
    nodes = walk(tree["children"])
    expanded = [n["name"] for _, n in nodes if "children" in n]
    assert sorted(expanded) == sorted(f"lay_{k}_{j}" for k in range(1, LAYERS) for j in (0, 1))
    assert all(not n.get("children") for _, n in nodes if n.get("seen"))
    # two nodes on the first level, then each of the two expanded functions of a layer lists both of the next
    assert len(nodes) == tree["nodes"] == 2 + 4 * (LAYERS - 2)
    assert tree["cut"] is False and not any(n.get("cut") for _, n in nodes)
    assert sum(1 for _, n in nodes if n.get("seen")) == 2 * (LAYERS - 2)


def test_a_function_is_expanded_at_its_shallowest_level(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out = calls(capsys, snippets, "callees", "top", "--depth", "3", "--json")
    assert code == 0
    by_level = {(level, n["name"], bool(n.get("seen"))) for level, n in walk(json.loads(out)["children"])}
    # shared is reached at level 2 through far and at level 3 through near → mid: it is expanded under far
    assert (2, "shared", False) in by_level and (3, "shared", True) in by_level
    assert (3, "top", True) in by_level and (3, "leaf", False) in by_level


def test_text_points_a_repeat_to_where_it_is_expanded(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out = calls(capsys, snippets, "callees", "top", "--depth", "5")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "top"
    text = [line.lstrip("│├└─ ") for line in lines[1:]]
    names = [t.split()[0] for t in text]
    expanded_at = next(i for i, t in enumerate(text) if names[i] == "shared" and "(see" not in t)
    repeats = [i for i, t in enumerate(text) if names[i] == "shared" and "(see" in t]
    assert repeats  # under mid (printed first, deeper) and far's second call
    for i in repeats:
        assert text[i].endswith("(see below)" if i < expanded_at else "(see above)")
    assert any(names[i] == "top" and text[i].endswith("(see above)") for i in range(len(text)))  # the cycle
    assert len(text) == len(set((t, lines[1 + i]) for i, t in enumerate(text)))


def test_depth_one_is_the_direct_calls_only(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out = calls(capsys, snippets, "callees", "far", "--json")
    assert code == 0
    children = json.loads(out)["children"]
    assert [n["name"] for n in children] == ["shared", "shared"]
    assert all("children" not in n and not n.get("seen") for n in children)  # nothing is expanded at depth 1
    code, out = calls(capsys, snippets, "callers", "shared", "--depth", "2", "--json")
    level = {n["name"]: lv for lv, n in walk(json.loads(out)["children"])}
    assert level == {"mid": 1, "far": 1, "near": 2, "top": 2}


def test_the_limit_cuts_the_tree_and_says_so(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    limit = 5
    code, out = calls(capsys, snippets, "callees", "lay_0_0", "--depth", "1000", "--limit", str(limit), "--json")
    assert code == 0
    tree = json.loads(out)
    nodes = walk(tree["children"])
    assert len(nodes) == tree["nodes"] == limit and tree["cut"] is True and tree["limit"] == limit
    assert any(n.get("cut") for _, n in nodes)
    code, out = calls(capsys, snippets, "callees", "lay_0_0", "--depth", "1000", "--limit", str(limit))
    lines = out.splitlines()
    assert len(lines) == 1 + limit + 1 and lines[-1].startswith(f"… cut at {limit} nodes")
    assert any(line.endswith("…") for line in lines[1:-1])


def test_a_limit_above_the_tree_cuts_nothing(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    full = 2 + 4 * (LAYERS - 2)
    code, out = calls(capsys, snippets, "callees", "lay_0_0", "--depth", "1000", "--limit", str(full))
    assert code == 0 and "cut at" not in out and len(out.splitlines()) == 1 + full


def test_a_depth_of_a_million_on_a_chain_deeper_than_the_recursion_limit(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    assert sys.getrecursionlimit() < CHAIN
    code, out = calls(capsys, snippets, "callees", "link_0", "--depth", "1000000")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == CHAIN and lines[-1].lstrip("│├└─ ").startswith(f"link_{CHAIN - 1} ")
    code, out = calls(capsys, snippets, "callers", f"link_{CHAIN - 1}", "--depth", "1000000", "--json")
    assert code == 0
    assert out.count('"children"') == CHAIN and '"name": "link_0"' in out and '"cut": true' not in out


Node = tuple[str, "str | None"]


def _shortest(graph: dict[Node, list[Node]], start: Node, goal: Node) -> int | None:
    """Breadth first over a graph held in memory: the length of the shortest chain."""
    seen, frontier, length = {start}, [start], 0
    while frontier:
        length += 1
        nxt = []
        for name in frontier:
            for callee in graph.get(name, []):
                if callee == goal:
                    return length
                if callee not in seen:
                    seen.add(callee)
                    nxt.append(callee)
        frontier = nxt
    return None


def test_call_path_is_a_shortest_chain_for_every_pair(snippets: Path) -> None:
    """`path` searches from both ends, a level at a time; the answer must be as short as a plain search over the whole graph."""
    from explorer.config import Project
    from explorer.store import Index

    with Index(Project.load(snippets).index_path("linux-test")) as index:
        graph = {caller: [e.node for e in edges] for caller, edges in index.call_graph().items()}
        names = sorted({"top", "near", "far", "mid", "shared", "leaf", "lay_0_0", "lay_5_1", "lay_11_0", "link_0", "link_7"})
        for start in names:
            for goal in names:
                (start_node,), (goal_node,) = index.definitions_of(start), index.definitions_of(goal)
                want = None if start == goal else _shortest(graph, start_node, goal_node)
                chain = index.call_path(start, goal, max_depth=20)
                assert (None if chain is None else len(chain)) == want, (start, goal)
                if chain:
                    assert chain[0].caller == start and chain[-1].name == goal
                    assert all(a.name == b.caller for a, b in itertools.pairwise(chain))
                    if len(chain) > 1:
                        assert index.call_path(start, goal, max_depth=len(chain) - 1) is None


def test_a_cut_tree_is_the_start_of_the_whole_tree_and_marks_each_node_it_shortens(snippets: Path) -> None:
    """Edges are built only up to the limit: at every limit, each listed node has the children it has
    in the uncut tree, unless it is marked cut (then fewer, or none listed: a node of a level that
    was never read is marked cut, whether or not it has children)."""
    from explorer.config import Project
    from explorer.store import CallNode, Index

    def by_position(children: list[CallNode]) -> dict[tuple[tuple[str, str, int], ...], CallNode]:
        out: dict[tuple[tuple[str, str, int], ...], CallNode] = {}
        stack: list[tuple[tuple[tuple[str, str, int], ...], list[CallNode]]] = [((), children)]
        while stack:
            where, nodes = stack.pop()
            for node in nodes:
                key = (*where, (node.edge.name, node.edge.path, node.edge.line))
                out[key] = node
                stack.append((key, node.children or []))
        return out

    with Index(Project.load(snippets).index_path("linux-test")) as index:
        for name, direction in (("lay_0_0", "callees"), ("lay_11_1", "callers"), ("top", "callees")):
            whole = index.call_tree(name, direction, 1000, limit=10_000)
            assert not whole.cut
            full = by_position(whole.children)
            for limit in range(1, whole.nodes):
                cut = index.call_tree(name, direction, 1000, limit=limit)
                listed = by_position(cut.children)
                assert cut.cut and cut.nodes == len(listed) == limit
                assert any(n.cut for n in listed.values())
                for key, node in listed.items():
                    mine, theirs = len(node.children or []), len(full[key].children or [])
                    assert node.seen == full[key].seen
                    if node.cut:
                        assert mine < theirs or node.children is None, (name, limit, key)
                    else:
                        assert mine == theirs, (name, limit, key)
