"""How much of a kernel has kernel-doc, and how it is exported (issue 14 items 1 and 2).

Counts, from an index, the functions, prototypes, structs, unions, enums, typedefs, macros,
members and enumerators whose definition carries a kernel-doc comment (its own, as `kexplore
doc` shows it), the share of struct members documented, the exports by macro, and what the new
tables cost (their pages in the database).  With `--scan`, it also reads every source file of
the tree to count the kernel-doc comments that name a symbol and how many of them the index
attached (the others name something that does not follow them: a renamed function, a comment
above a declaration the indexer does not read as a definition).

Run alone: ``.venv/bin/python benchmarks/kerneldoc.py [--index FILE] [--tree DIR] [--scan]``;
against the whole core tree: ``--index /path/to/linux-6.1.sqlite --tree /path/to/linux-6.1``.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import INDEX, TREE, Result, log, require, run_alone

NAME = "kerneldoc"
KINDS = ("function", "prototype", "struct", "union", "enum", "typedef", "macro", "variable", "member", "enumerator")


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def run(index: Path = INDEX, tree: Path = TREE, scan: bool = False) -> Result:
    require(index)
    result = Result(NAME)
    started = time.perf_counter()
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        kinds: dict[str, dict[str, int]] = {}
        for kind, total, documented in db.execute(
            "SELECT s.kind, count(*), sum(EXISTS (SELECT 1 FROM docs d WHERE d.file_id = s.file_id AND d.name = s.name"
            " AND d.def_line = s.line)) FROM symbols s GROUP BY s.kind"
        ):
            kinds[kind] = {"definitions": int(total), "with_kernel_doc": int(documented or 0)}
        distinct_functions = db.execute(
            "SELECT count(DISTINCT name) FROM symbols WHERE kind = 'function'").fetchone()[0]
        documented_function_names = db.execute(  # a function documented at its definition or its prototype
            "SELECT count(DISTINCT s.name) FROM symbols s JOIN docs d ON d.file_id = s.file_id AND d.name = s.name"
            " AND d.def_line = s.line WHERE s.kind IN ('function', 'prototype')").fetchone()[0]
        # members of documented structs and unions: read once each, in Python (a correlated subquery per member
        # would read the docs table once per member)
        documented_types = set(db.execute(
            "SELECT d.file_id, d.name FROM docs d JOIN symbols s ON s.file_id = d.file_id AND s.name = d.name"
            " AND s.line = d.def_line WHERE s.kind IN ('struct', 'union')"))
        documented_members = set(db.execute("SELECT file_id, name, def_line FROM docs WHERE params IS NULL"))
        in_documented_structs = [0, 0]
        for file_id, scope, name, line in db.execute("SELECT file_id, scope, name, line FROM symbols WHERE kind = 'member'"):
            if (file_id, scope) in documented_types:
                in_documented_structs[0] += 1
                in_documented_structs[1] += (file_id, name, line) in documented_members
        comments_attached = db.execute(
            "SELECT count(*) FROM (SELECT DISTINCT file_id, line FROM docs WHERE params IS NOT NULL)").fetchone()[0]
        exports = dict(db.execute("SELECT macro, count(*) FROM exports GROUP BY macro ORDER BY count(*) DESC"))
        exported_functions = db.execute(
            "SELECT count(*) FROM symbols s WHERE s.kind = 'function' AND EXISTS (SELECT 1 FROM exports e"
            " WHERE e.file_id = s.file_id AND e.name = s.name)").fetchone()[0]
        exports_without_definition = db.execute(
            "SELECT count(*) FROM exports e WHERE NOT EXISTS (SELECT 1 FROM symbols s WHERE s.name = e.name)").fetchone()[0]
        try:
            pages = dict(db.execute(
                "SELECT name, sum(pgsize) FROM dbstat WHERE name IN ('docs', 'docs_name', 'docs_file', 'exports',"
                " 'exports_name', 'exports_file', 'refs') GROUP BY name"))
        except sqlite3.DatabaseError:  # SQLite built without dbstat
            pages = {}
    finally:
        db.close()
    query_seconds = time.perf_counter() - started
    figures: dict[str, object] = {"index": str(index), "index_bytes": index.stat().st_size, "kinds": kinds,
                                  "distinct_function_names": distinct_functions,
                                  "documented_function_names": documented_function_names,
                                  "members_of_documented_structs": {"members": int(in_documented_structs[0] or 0),
                                                                    "documented": int(in_documented_structs[1] or 0)},
                                  "kernel_doc_comments_attached": comments_attached,
                                  "exports": exports, "exported_functions": exported_functions,
                                  "exports_of_names_without_a_definition": exports_without_definition,
                                  "table_bytes": pages, "query_seconds": round(query_seconds, 2)}
    log(f"kernel-doc in {index} ({index.stat().st_size / 1e6:.0f} MB), counted in {query_seconds:.1f} s")
    log(f"{'kind':<12} {'definitions':>12} {'with kernel-doc':>16} {'share':>7}")
    for kind in KINDS:
        k = kinds.get(kind)
        if k:
            log(f"{kind:<12} {k['definitions']:>12,} {k['with_kernel_doc']:>16,} {_pct(k['with_kernel_doc'], k['definitions']):>6.1f}%")
    members = figures["members_of_documented_structs"]
    assert isinstance(members, dict)
    log(f"members of structs/unions that have kernel-doc: {members['documented']:,} of {members['members']:,} documented "
        f"({_pct(members['documented'], members['members']):.1f}%)")
    log(f"function names documented (at a definition or a prototype): {documented_function_names:,} of {distinct_functions:,}")
    log(f"kernel-doc comments attached to a definition: {comments_attached:,}")
    log(f"exports: {sum(exports.values()):,} ({', '.join(f'{m} {n:,}' for m, n in exports.items())}); "
        f"{exported_functions:,} functions exported from their own file; "
        f"{exports_without_definition:,} exports of names the index does not define")
    if pages:
        log("table sizes: " + ", ".join(f"{n} {b / 1e6:.1f} MB" for n, b in sorted(pages.items())))
    if scan:
        figures["scan"] = _scan(tree, comments_attached)
    result.figures = figures
    return result


def _scan(tree: Path, attached: int) -> dict[str, object]:
    """Every source file of the tree read once: kernel-doc comments that name a symbol, and inline member ones."""
    require(tree)
    from explorer.indexer import source_files
    from explorer.kerneldoc import comments

    started = time.perf_counter()
    named = inline = 0
    for rel in source_files(tree):
        try:
            data = (tree / rel).read_bytes()
        except OSError:
            continue
        for _, _, doc in comments(data):
            if doc.name is None:
                inline += 1
            else:
                named += 1
    seconds = time.perf_counter() - started
    log(f"scan of {tree}: {named:,} kernel-doc comments name a symbol ({attached:,} attached, "
        f"{_pct(attached, named):.1f}%), {inline:,} inline member comments; {seconds:.1f} s")
    return {"named_comments": named, "inline_member_comments": inline, "attached_share": _pct(attached, named),
            "seconds": round(seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=INDEX, help=f"the index (default {INDEX})")
    parser.add_argument("--tree", type=Path, default=TREE, help=f"the kernel tree, for --scan (default {TREE})")
    parser.add_argument("--scan", action="store_true", help="also count the kernel-doc comments of the tree's files")
    args = parser.parse_args(argv)
    return run_alone(NAME, lambda: run(args.index, args.tree, args.scan))


if __name__ == "__main__":
    sys.exit(main())
