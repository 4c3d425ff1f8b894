"""explorer/console.py: its JSON writer matches the standard library's, at any depth."""

from __future__ import annotations

import json

import pytest

from explorer.console import dumps

SAMPLES = [
    [],
    {},
    0,
    "caf\u00e9 \u2192 \"q\" \\\\ \n\t",
    None,
    [1, 2.5, True, False, None, "x"],
    {"name": "tcp_v4_rcv", "children": [], "seen": True, "nested": {"a": [{"b": {}}, [[], [1]]]}},
    {1: "int key", 2.5: "float key", False: "bool key", None: "none key"},
    [{"name": f"f{i}", "via": None if i % 2 else "proto_ops.listen", "line": i} for i in range(5)],
    (1, (2, 3)),
    [-7, 10**30, 1e300, float("nan"), float("-inf"), "\u2028 \x00 \ud800"],
]


@pytest.mark.parametrize("data", SAMPLES)
def test_the_same_text_as_json_dumps(data: object) -> None:
    assert dumps(data) == json.dumps(data, ensure_ascii=False, indent=1)
    assert dumps(data, indent=3) == json.dumps(data, ensure_ascii=False, indent=3)


def test_deeper_than_the_recursion_limit() -> None:
    import sys

    depth = sys.getrecursionlimit() * 5
    data: dict[str, object] = {"name": "leaf", "children": []}
    for i in range(depth):
        data = {"name": f"f{i}", "children": [data]}
    with pytest.raises(RecursionError):
        json.dumps(data, indent=1)
    text = dumps(data)
    assert text.count('"children"') == depth + 1
    assert text.rstrip().endswith("}") and '"name": "leaf"' in text
