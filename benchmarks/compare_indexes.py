"""Whether two indexes of one kernel hold the same content, table by table, row by row.

For checking a change to the indexer's transport (how rows go from the workers into the index):
the new build must hold what the old one held.  Every table is read through the views that
resolve interned ids (`symbols`, `refs`, `fnassign`, `includes`, `locals`), member-access ids
as their keys, so that two indexes whose `names` or `access` ids differ (another interning
order) still compare equal when their content is; ids that do not depend on interning (file
ids, ref rowids, symbol ids) are compared as they are.  The rows are streamed in a fixed order
and compared one by one; a difference is reported with the table, the row's position and both
rows.  It also says whether the raw `names` and `access` tables (ids included) are identical,
and whether the two files are byte-identical apart from their first two pages (the header,
the schema's order and `meta`, which holds the build's time).

    .venv/bin/python benchmarks/compare_indexes.py OLD.sqlite NEW.sqlite

Exit status 0 when the contents are equal, 1 when they differ.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Iterator
from itertools import zip_longest
from pathlib import Path

# table → a query of its content, ids of interned strings resolved, in an order both indexes share
QUERIES = {
    "files": "SELECT id, path, sha256, size, lines, error_nodes, partial FROM files ORDER BY id",
    "symbols": "SELECT id, name, kind, file_id, line, col, end_line, scope, signature, cond, type, start_line,"
               " start_byte, end_byte, digest FROM symbols ORDER BY id",
    "refs": "SELECT r.id, r.line, r.col, r.end_col, r.name, r.role, r.func, r.cond, a.key FROM refs r"
            " LEFT JOIN access a ON a.id = r.access_id ORDER BY r.id",
    "access": "SELECT key, target, macro, reason, state FROM access ORDER BY key",
    "names": "SELECT name FROM names ORDER BY name",
    # fnassign and includes as their views spell them, from their tables (a view has no rowid: the rows' order)
    "fnassign": "SELECT x.file_id, x.line, a.key, fn.name, t.name FROM assign x JOIN access a ON a.id = x.access_id"
                " JOIN names fn ON fn.id = x.function LEFT JOIN names t ON t.id = x.tbl ORDER BY x.file_id, x.rowid",
    "tableaddr": "SELECT file_id, line, holder, name FROM tableaddr ORDER BY file_id, rowid",
    "locals": "SELECT id, data FROM locals ORDER BY id",
    "typehints": "SELECT file_id, name, type, origin FROM typehints ORDER BY file_id, rowid",
    "includes": "SELECT i.file_id, p.name FROM include i JOIN names p ON p.id = i.path ORDER BY i.file_id, i.rowid",
    "docs": "SELECT file_id, name, def_line, line, summary, params, returns, context, text FROM docs ORDER BY file_id, rowid",
    "exports": "SELECT file_id, line, col, end_col, name, macro, namespace, cond FROM exports ORDER BY file_id, rowid",
    "syscall_table": "SELECT file_id, line, number, abi, name, entry, compat FROM syscall_table ORDER BY file_id, rowid",
    "syscall_dispatch": "SELECT file_id, line, col, header, prefix, definition, kind FROM syscall_dispatch ORDER BY file_id, rowid",
    "table_calls": "SELECT file_id, line, col, func, name, via FROM table_calls ORDER BY file_id, line, col, func, name, via",
    "syscall_entries": "SELECT name, tbl, number, abi FROM syscall_entries ORDER BY name, tbl, number, abi",
    "derived_symbols": "SELECT symbol_id FROM derived_symbols ORDER BY symbol_id",
    "opsgroup": "SELECT grp, tbl, type, file_id, line, holder FROM opsgroup ORDER BY grp, tbl, type, file_id, line, holder",
    "meta": "SELECT key, value FROM meta WHERE key NOT IN ('indexed_at', 'indexer_version') ORDER BY key",
}
def _rows(db: sqlite3.Connection, table: str) -> Iterator[tuple[object, ...]]:
    return iter(db.execute(QUERIES[table]))


def _same_raw(a: sqlite3.Connection, b: sqlite3.Connection, table: str, column: str) -> bool:
    sql = f"SELECT id, {column} FROM {table} ORDER BY id"
    return all(x == y for x, y in zip_longest(a.execute(sql), b.execute(sql)))


def _same_bytes_after_two_pages(old: Path, new: Path) -> bool:
    page = 16384
    with old.open("rb") as f, new.open("rb") as g:
        f.seek(2 * page)
        g.seek(2 * page)
        while True:
            x, y = f.read(1 << 20), g.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def compare(old: Path, new: Path) -> list[str]:
    """The differences (empty: the same content), one line each, at most one per table."""
    a = sqlite3.connect(f"file:{old}?mode=ro", uri=True)
    b = sqlite3.connect(f"file:{new}?mode=ro", uri=True)
    problems = []
    for table in QUERIES:
        count = 0
        for count, (x, y) in enumerate(zip_longest(_rows(a, table), _rows(b, table)), 1):
            if x != y:
                problems.append(f"{table}: row {count} differs: {x!r} != {y!r}")
                break
        else:
            print(f"{table:18s} {count:>9} rows equal", flush=True)
    for table, column in (("names", "name"), ("access", "key")):
        print(f"raw {table} (ids included): {'identical' if _same_raw(a, b, table, column) else 'ids differ'}")
    same_size = old.stat().st_size == new.stat().st_size
    print(f"sizes: {old.stat().st_size:,} and {new.stat().st_size:,} bytes; byte-identical after the first two pages:"
          f" {same_size and _same_bytes_after_two_pages(old, new)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    args = ap.parse_args(argv)
    problems = compare(args.old, args.new)
    for line in problems:
        print(line)
    print("same content" if not problems else f"{len(problems)} tables differ")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
