"""Assembly and the system call tables: what they add to an index, and what they cost.

    python benchmarks/asm.py [--snippets DIR] [--kernel NAME]

Prints (and writes to benchmarks/results/asm.json): how long scanning every .S file of the
vendored tree takes (median of three runs, one process), the definitions by kind and references
by role found there, and from the kernel's index the rows the .S files and the tables hold, the
derived call edges, and an estimate of the bytes they take (each table's size from SQLite's
dbstat, in proportion to its rows from assembly).  Needs a tree with arch/x86 (the whole core
tree); figures are reported, never asserted.
"""

from __future__ import annotations

import argparse
import collections
import json
import sqlite3
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def scan(tree: Path) -> dict[str, object]:
    from explorer.asmparse import parse_asm
    from explorer.indexer import source_files

    files = [rel for rel in source_files(tree) if rel.endswith(".S")]
    texts = [(rel, (tree / rel).read_bytes()) for rel in files]
    runs = []
    kinds: collections.Counter[str] = collections.Counter()
    roles: collections.Counter[str] = collections.Counter()
    errors = 0
    for attempt in range(3):
        started = time.perf_counter()
        results = [parse_asm(src, rel) for rel, src in texts]
        runs.append(time.perf_counter() - started)
        if attempt == 0:
            for r in results:
                kinds.update(d.kind for d in r.definitions)
                roles.update(x.role for x in r.refs)
                errors += r.error_nodes
    return {"files": len(files), "lines": sum(src.count(b"\n") for _, src in texts), "seconds": round(statistics.median(runs), 3),
            "definitions": dict(kinds.most_common()), "refs": dict(roles.most_common()), "skipped_statements": errors}


def from_index(db_path: Path) -> dict[str, object]:
    from explorer.store import REF_FILE_SHIFT, REF_PER_FILE, role_code

    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        q = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
        asm_files = "(SELECT id FROM files WHERE path LIKE '%.S')"
        # the uses of the assembly files: each file's rowid range of `ref` (explorer/store.py, ref_range)
        asm_refs_sql = (f"SELECT count(*) FROM files f JOIN ref r ON r.rowid BETWEEN f.id << {REF_FILE_SHIFT}"
                        f" AND (f.id << {REF_FILE_SHIFT}) + {REF_PER_FILE - 1} WHERE f.path LIKE '%.S'")
        out: dict[str, object] = {
            "asm_symbols": q(f"SELECT count(*) FROM symbols WHERE file_id IN {asm_files}"),
            "asm_refs": q(asm_refs_sql),
            "asm_call_edges": q(f"{asm_refs_sql} AND r.role IN ({role_code('call')}, {role_code('jump')})"),
            "table_rows": q("SELECT count(*) FROM syscall_table"),
            "dispatch_sites": q("SELECT count(*) FROM syscall_dispatch"),
            "table_edges": q("SELECT count(*) FROM table_calls"),
            "wrapper_definitions": q("SELECT count(*) FROM derived_symbols"),
            "index_bytes": db_path.stat().st_size,
        }
        try:
            sizes = dict(db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
        except sqlite3.DatabaseError:
            sizes = {}
        if sizes:
            total_refs = q("SELECT count(*) FROM ref") or 1
            total_symbols = q("SELECT count(*) FROM symbols") or 1
            refs_bytes = sum(v for k, v in sizes.items() if k in ("ref", "names") or k.startswith("ref_"))
            symbol_bytes = sum(v for k, v in sizes.items() if k == "symbols" or k.startswith("symbols_"))
            own = sum(v for k, v in sizes.items() if k.startswith(("syscall_", "table_calls", "derived_symbols")))
            asm_refs, asm_symbols = q(asm_refs_sql), q(
                f"SELECT count(*) FROM symbols WHERE file_id IN {asm_files}")
            out["estimated_bytes"] = int(refs_bytes * asm_refs / total_refs + symbol_bytes * asm_symbols / total_symbols + own)
        return out
    finally:
        db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snippets", type=Path, default=ROOT / "kernel-snippets")
    parser.add_argument("--kernel", default=None)
    args = parser.parse_args()
    from explorer.config import Project

    project = Project.load(args.snippets)
    kernel = project.kernel(args.kernel).name
    result = {"kernel": kernel, "scan": scan(project.tree(kernel))}
    index = project.index_path(kernel)
    if index.is_file():
        result["index"] = from_index(index)
    print(json.dumps(result, indent=2))
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "asm.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
