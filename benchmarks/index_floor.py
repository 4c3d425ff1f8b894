"""The least a cold index of 6.1 can cost with the parts it is built from, against issue 10's 1.5x target.

`index_time.py` compares a cold `kexplore index --force` with a bare parse-and-visit (`bare_parse.py`).
This benchmark asks what is left for the indexer's own logic once the unavoidable parts are paid, each
measured alone, in CPU seconds of one process (`time.process_time`), file by file side by side (on a
shared machine the speed varies from minute to minute; parts measured together share it):

* **parse**: tree-sitter-c parses every .c/.h file of the tree, as the bare floor does (the indexer
  parses a little more: blanked text, a second parse of some files, macro bodies);
* **visit**: bare_parse.py's TreeCursor visit of each tree; parse + visit is the bare parse-and-visit;
* **capture**: one tree-sitter query captures every `identifier`, `field_identifier` and `type_identifier`
  (the C engine walks the tree) and Python touches each capture only for what a ref row needs, its
  start point and its text: no role, no scope, no definition, no local;
* **rows**: the index's own rows (every table of `kernel-snippets/index/linux-6.1.sqlite`, read from it
  beforehand, untimed) inserted through Python's sqlite3 into a new database with the same tables and
  page size, `executemany` one row a statement, rowids kept;
* **indexes**: the index's own `CREATE INDEX` statements on that database.

On two cores the workers can share parse and capture, and the main process inserts beside them (one
writer), then builds the indexes alone:

    floor wall = max((parse + capture + rows) / 2, rows) + indexes

The target allows `1.5 x bare` seconds of wall clock (the bare parse is one process: its CPU seconds are
its wall clock on an idle machine), so about `2 x (1.5 x bare - indexes)` CPU seconds for parse, capture,
rows and everything else; what is left after the first three is the budget for all the indexer's logic
(roles, scopes, locals, definitions and their signatures, member-access keys, `#if` conditions, macro
bodies, kernel-doc, exports, digests, moving rows between processes, the resolver).

When `results/index_time.json` exists (`index_time.py` has run; `make bench` runs it first), its cold index
is compared with that budget: its CPU seconds over its bare parse's (medians of alternated runs, one state
of the machine for both), times the bare parse measured here.

    .venv/bin/python benchmarks/index_floor.py [--every N]   # N > 1: every N-th file (scaled by N)

It writes nothing into kernel-snippets/ (the new database is in a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import INDEX, PYTHON, RESULTS, TREE, Result, Target, log, require, run_alone

NAME = "index_floor"
COLD_RATIO = 1.5
QUERY = "[(identifier) (field_identifier) (type_identifier)] @name"
SLICE = 50_000  # rows read from the index at a time


def parse_and_capture(tree: Path, every: int) -> dict[str, float]:
    """CPU seconds of parsing every `every`-th .c/.h file and of capturing its identifiers (measured apart)."""
    import tree_sitter_c
    from bare_parse import source_files, visit
    from tree_sitter import Language, Parser, Query, QueryCursor

    language = Language(tree_sitter_c.language())
    parser, query = Parser(language), Query(language, QUERY)
    parse = visited = capture = 0.0
    files = source_files(tree)[::every]
    identifiers = 0
    for path in files:  # the three measured file by file, side by side: one state of the machine for all three
        src = path.read_bytes()
        t0 = time.process_time()
        parsed = parser.parse(src)
        t1 = time.process_time()
        visit(parsed)
        t2 = time.process_time()
        for node in QueryCursor(query).captures(parsed.root_node).get("name", ()):
            node.start_point  # noqa: B018 (touched as a ref row needs it)
            node.text  # noqa: B018
            identifiers += 1
        capture += time.process_time() - t2
        visited += t2 - t1
        parse += t1 - t0
    return {"files": len(files), "identifiers": identifiers, "parse_cpu_s": parse, "visit_cpu_s": visited, "capture_cpu_s": capture}


def rows_and_indexes(index: Path, scratch: Path) -> dict[str, object]:
    """CPU seconds of inserting the index's rows into a new database, and of building its indexes there."""
    src = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    out = sqlite3.connect(scratch)
    out.execute(f"PRAGMA page_size = {int(src.execute('PRAGMA page_size').fetchone()[0])}")
    out.execute("PRAGMA journal_mode=OFF")
    out.execute("PRAGMA synchronous=OFF")
    tables = src.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT IN ('meta') "
                         "AND name NOT LIKE 'sqlite_%' ORDER BY rootpage").fetchall()
    per_table: dict[str, dict[str, float]] = {}
    insert = 0.0
    for name, sql in tables:
        out.execute(sql)
        info = src.execute(f'PRAGMA table_info("{name}")').fetchall()
        columns = [row[1] for row in info]
        keyed = any(row[5] and row[2].upper() == "INTEGER" for row in info)  # INTEGER PRIMARY KEY: the rowid
        names = ", ".join(f'"{c}"' for c in columns) if keyed else ", ".join(["rowid", *(f'"{c}"' for c in columns)])
        width = len(columns) + (0 if keyed else 1)
        statement = f'INSERT INTO "{name}" ({names}) VALUES ({", ".join("?" * width)})'
        cursor = src.execute(f'SELECT {names} FROM "{name}" ORDER BY rowid')
        count, spent = 0, 0.0
        while batch := cursor.fetchmany(SLICE):
            t0 = time.process_time()
            out.executemany(statement, batch)
            spent += time.process_time() - t0
            count += len(batch)
        t0 = time.process_time()
        out.commit()
        spent += time.process_time() - t0
        per_table[name] = {"rows": count, "cpu_s": round(spent, 3)}
        insert += spent
    indexes = src.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall()
    t0 = time.process_time()
    for (sql,) in indexes:
        out.execute(sql)
    out.commit()
    build = time.process_time() - t0
    src.close()
    out.close()
    return {"rows_cpu_s": insert, "indexes_cpu_s": build, "index_count": len(indexes), "tables": per_table,
            "rows": sum(int(t["rows"]) for t in per_table.values())}


def _index_time_figures() -> tuple[float, float] | None:
    """(cold index CPU seconds, bare parse CPU seconds), medians of index_time.py's alternated runs, if it has run."""
    try:
        figures = json.loads((RESULTS / "index_time.json").read_text(encoding="utf-8"))["figures"]
        return float(figures["cold_cpu_s"]), float(figures["floor_cpu_s"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run(every: int = 1) -> Result:
    require(TREE, INDEX, PYTHON)
    result = Result(NAME)
    log(f"== the floor of a cold index of {TREE.name}: its unavoidable parts, each alone (CPU seconds, one process)")
    pc = parse_and_capture(TREE, every)
    parse, capture = pc["parse_cpu_s"] * every, pc["capture_cpu_s"] * every
    bare = parse + pc["visit_cpu_s"] * every  # bare_parse.py's work, measured beside the parts
    scale = f" (every {every}th file, x{every})" if every > 1 else ""
    log(f"parse:   {parse:6.2f} s  tree-sitter-c, {pc['files']} files{scale}")
    log(f"visit:   {pc['visit_cpu_s'] * every:6.2f} s  bare_parse.py's TreeCursor visit: parse + visit = the bare parse-and-visit, {bare:.2f} s")
    log(f"capture: {capture:6.2f} s  one query, {pc['identifiers'] * every:.0f} identifiers touched (start point and text)")
    with tempfile.TemporaryDirectory(prefix="kexplore-floor-") as tmp:
        ri = rows_and_indexes(INDEX, Path(tmp) / "floor.sqlite")
    rows, build = float(ri["rows_cpu_s"]), float(ri["indexes_cpu_s"])  # type: ignore[arg-type]
    log(f"rows:    {rows:6.2f} s  the index's {ri['rows']} rows through sqlite3 executemany")
    log(f"indexes: {build:6.2f} s  its {ri['index_count']} CREATE INDEX statements")
    floor_cpu = parse + capture + rows + build
    floor_wall = max((parse + capture + rows) / 2, rows) + build
    target_wall = COLD_RATIO * bare
    budget_cpu = 2 * (target_wall - build) - (parse + capture + rows)
    log(f"floor on 2 cores: {floor_wall:.2f} s wall ({floor_cpu:.2f} s CPU) = {floor_wall / bare:.2f}x the bare parse;"
        f" the target, {COLD_RATIO}x, is {target_wall:.2f} s")
    log(f"CPU seconds the target leaves for all the indexer's logic beyond these parts: {budget_cpu:.1f} s")
    figures: dict[str, object] = {
        "every": every, "bare_cpu_s": round(bare, 3), "visit_cpu_s": round(pc["visit_cpu_s"] * every, 3),
        "parse_cpu_s": round(parse, 3), "capture_cpu_s": round(capture, 3), "identifiers": pc["identifiers"] * every,
        "rows_cpu_s": round(rows, 3), "indexes_cpu_s": round(build, 3), "rows": ri["rows"], "tables": ri["tables"],
        "floor_cpu_s": round(floor_cpu, 3), "floor_wall_s": round(floor_wall, 3), "target_wall_s": round(target_wall, 3),
        "logic_budget_cpu_s": round(budget_cpu, 3),
    }
    targets = [Target("floor of a cold index / bare parse-and-visit", floor_wall / bare, "x", COLD_RATIO,
                      note=f"{floor_wall:.1f} s vs {bare:.1f} s")]
    measured = _index_time_figures()
    if measured is not None:
        # index_time.py's cold index against its bare parse (alternated runs, one state of the machine), brought to
        # this run's state of the machine through the bare parse measured here
        cold_cpu = measured[0] / measured[1] * bare
        logic = cold_cpu - floor_cpu
        figures["index_time_cold_cpu_s"], figures["index_time_bare_cpu_s"] = measured
        figures["cold_cpu_s"], figures["logic_cpu_s"] = round(cold_cpu, 3), round(logic, 3)
        left = f", {logic / budget_cpu:.1f}x what the target leaves" if budget_cpu > 0 else ", and the target leaves nothing"
        log(f"the cold index (results/index_time.json: {measured[0]:.1f} s CPU, {measured[0] / measured[1]:.2f}x its bare parse's"
            f" {measured[1]:.1f} s): {cold_cpu:.1f} s CPU at this run's speed, so its logic costs about {logic:.1f} s beyond"
            f" the floor's parts{left}")
        targets.append(Target("the index's logic / what the target leaves for it", logic / budget_cpu if budget_cpu > 0 else None,
                              "x", 1.0, note=f"{logic:.1f} s vs {budget_cpu:.1f} s of CPU"))
    result.figures = figures
    result.targets = targets
    result.commands = [".venv/bin/python benchmarks/index_time.py (cold index and bare parse, medians), else"
                       " .venv/bin/python benchmarks/bare_parse.py kernel-snippets/linux-6.1",
                       f"tree-sitter Query {QUERY!r}, captures touched (start_point, text)",
                       "every table of kernel-snippets/index/linux-6.1.sqlite: executemany into a new database, then its CREATE INDEX"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=1, metavar="N", help="parse and capture every N-th file only, scaled by N (default 1: all)")
    args = parser.parse_args()
    if args.every < 1:
        parser.error("--every must be at least 1")
    return run_alone(NAME, lambda: run(every=args.every))


if __name__ == "__main__":
    sys.exit(main())
