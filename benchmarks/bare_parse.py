"""The floor for an indexer in Python: parse every file the index covers and visit every node once.

One process, no annotation blanking, no SQLite: read each .c/.h file of the tree, parse
it with tree-sitter-c and walk the whole tree with a TreeCursor.  `index_time.py` runs
this in a subprocess (so the interpreter's start-up and the tree-sitter import count, as
they do for `kexplore index`).

    .venv/bin/python benchmarks/bare_parse.py [TREE]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import tree_sitter_c
from tree_sitter import Language, Parser


def source_files(tree: Path) -> list[Path]:
    """The files `kexplore index` covers: every .c and .h under the tree."""
    out = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames.sort()
        out.extend(Path(dirpath, name) for name in sorted(filenames) if name.endswith((".c", ".h")))
    return out


def visit(tree) -> int:  # type: ignore[no-untyped-def]
    """Every node once, depth first, with a TreeCursor; returns how many."""
    cursor = tree.walk()
    count = 1
    while True:
        if cursor.goto_first_child() or cursor.goto_next_sibling():
            count += 1
            continue
        while True:
            if not cursor.goto_parent():
                return count
            if cursor.goto_next_sibling():
                count += 1
                break


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    tree = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "kernel-snippets" / "linux-6.1"
    started = time.perf_counter()
    parser = Parser(Language(tree_sitter_c.language()))
    files = source_files(tree)
    nodes = size = 0
    for path in files:
        src = path.read_bytes()
        size += len(src)
        nodes += visit(parser.parse(src))
    print(f"{len(files)} files, {size / 1e6:.1f} MB, {nodes} nodes in {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
