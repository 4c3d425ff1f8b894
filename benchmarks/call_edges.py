"""Call edges of an index: how many, of which kind, and what a definition per node changes.

Prints, for the index named on the command line (`--snippets DIR`, default the checkout's
kernel-snippets/):

- call edges: direct calls by name, calls through ops members (one per reachable definition),
  and, among the direct ones, the calls made inside function-like macro bodies;
- names defined as a function in more than one file (each of them a node of its own), and how
  many call sites of those names resolve to a definition in the calling file, in a header the
  file includes, to a global one or to another;
- rows of `callers` that come through a macro (a call site of the macro, `via` it).

Reported, never asserted.  Run: ``python benchmarks/call_edges.py [--snippets DIR] [--kernel NAME]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> int:
    from explorer.config import Project
    from explorer.store import VISIBILITY, Index, _Resolver

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snippets", type=Path, default=None)
    parser.add_argument("--kernel", default=None)
    args = parser.parse_args()
    project = Project.load(args.snippets) if args.snippets else Project.load()
    spec = project.kernel(args.kernel)
    with Index(project.index_path(spec.name)) as index:
        db = index.db
        start = time.perf_counter()
        calls, resolver = index._calls()
        load_s = time.perf_counter() - start
        direct = [c for c in calls if c.via is None]
        through = [c for c in calls if c.via is not None]
        in_macros = sum(1 for c in direct if resolver.kind(c.caller) == "macro")
        print(f"{spec.name}: {len(calls)} call edges ({len(direct)} direct, of which {in_macros} in macro bodies;"
              f" {len(through)} through ops members), resolved in {load_s:.2f} s")
        several = [row[0] for row in db.execute(
            "SELECT name FROM symbols WHERE kind = 'function' GROUP BY name HAVING count(DISTINCT file_id) > 1")]
        print(f"names defined as a function in more than one file: {len(several)}")
        ranks: Counter[str] = Counter()
        several_defs = 0  # call sites that may reach more than one global definition
        check = _Resolver(db, several)
        for name, file_id in db.execute(
            "SELECT r.name, r.file_id FROM refs r WHERE r.role = 'call' AND r.access_id IS NULL"
            " AND r.name IN (SELECT value FROM json_each(?))", (json.dumps(several),)
        ):
            how, found = check.visible(name, file_id)
            ranks[how] += 1
            several_defs += len(found) > 1
        print("their call sites resolve to: " + ", ".join(f"{ranks[label]} {label}" for label in VISIBILITY)
              + f" ({several_defs} of them reach several global definitions)")
        macros = {c.caller for c in direct if resolver.kind(c.caller) == "macro"}
        print(f"function-like macros with calls in their bodies: {len(macros)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
