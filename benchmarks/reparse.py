"""The second parse of the files whose initializer directives are blanked: a fresh parse against the incremental one.

`parse_definitions` (explorer/cparse.py) parses a file again when its tree has errors and `#if`
directives sit inside initializer lists (`_initializer_directives`).  This finds those files of a
tree (the .c/.h files `kexplore index` covers), then times, over --passes passes, the CPU of a fresh
parse of each blanked text and of `_reparse_blanked` (edit the first tree, parse incrementally),
and counts the files whose two trees differ (node type, bytes, points, missing, error).

    .venv/bin/python benchmarks/reparse.py [TREE] [--passes N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import TREE

from explorer.cparse import _initializer_directives, _put, _reparse_blanked, make_parser, prepare_source
from explorer.indexer import source_files


def _shape(tree) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    out, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        out.append((node.type, node.start_byte, node.end_byte, node.start_point, node.end_point, node.is_missing,
                    node.has_error))
        stack.extend(reversed(node.children))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree", nargs="?", type=Path, default=TREE)
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args()
    parser = make_parser()
    files = [rel for rel in source_files(args.tree) if rel.endswith((".c", ".h"))]
    jobs = []
    first = 0.0
    for rel in files:
        text = prepare_source((args.tree / rel).read_bytes()).text
        started = time.process_time()
        tree = parser.parse(text)
        first += time.process_time() - started
        if tree.root_node.has_error and b"#" in text:
            spans = [(s, e) for s, e, _, _ in _initializer_directives(tree.root_node, text)]
            if spans:
                jobs.append((rel, text, spans))
    print(f"{len(files)} .c/.h files, first parse {first:.2f} CPU s; {len(jobs)} files take the second parse")
    fresh = incremental = 0.0
    differ = []
    for n in range(args.passes):
        for rel, text, spans in jobs:
            buf = bytearray(text)
            for s, e in spans:
                _put(buf, s, e - s, b"")
            started = time.process_time()
            fresh_tree = parser.parse(bytes(buf))
            fresh += time.process_time() - started
            old = parser.parse(text)
            started = time.process_time()
            _, tree = _reparse_blanked(parser, old, text, spans)
            incremental += time.process_time() - started
            if n == 0 and _shape(tree) != _shape(fresh_tree):
                differ.append(rel)
    print(f"second parse per pass ({args.passes} passes): fresh {fresh / args.passes:.3f} CPU s,"
          f" incremental {incremental / args.passes:.3f} CPU s (the blanking counted in the incremental one only)")
    print(f"{len(differ)} files whose trees differ" + (": " + " ".join(differ[:20]) if differ else ""))
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
