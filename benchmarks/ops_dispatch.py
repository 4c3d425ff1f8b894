"""Calls through ops members before and after the protocol pairing, on the listen, connect and accept paths.

The figure of issue 11 item 2.  For each path (`kexplore path sys_listen inet_csk_listen_start`,
...), the chain is found as `path` finds it (consistent ops tables preferred), and for each
function on it, its calls through ops members are counted twice: read wide (every function any
table stores in the member) and read with what the chain says of its socket (the tables the
registrations pair, see explorer/opsgroups.py).  Also: whether the chain was consistent, which
tables it went through, and how long `path` took on an index opened afresh.

Reported, never asserted.  Run alone: ``.venv/bin/python benchmarks/ops_dispatch.py [--index FILE]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import INDEX, Result, log, require, run_alone, shown

NAME = "ops_dispatch"
PATHS = (("listen", "sys_listen", "inet_csk_listen_start"),
         ("connect", "sys_connect", "tcp_connect"),
         ("accept", "sys_accept4", "inet_csk_accept"))


def _ops(edges: list) -> list:  # type: ignore[type-arg]
    return [e for e in edges if e.via is not None and "." in e.via]


def run(index: Path = INDEX) -> Result:
    from explorer.store import Index

    require(index)
    result = Result(NAME)
    result.commands = [f"in-process: Index({shown([str(index)])}).find_path(FROM, TO), callees_of_nodes(..., ops=chain context)"]
    figures: dict[str, object] = {}
    total_before = total_after = 0
    for label, start, goal in PATHS:
        with Index(index) as kx:
            began = time.perf_counter()
            found = kx.find_path(start, goal)
            seconds = time.perf_counter() - began
            if found is None:
                log(f"== {label}: no chain {start} → {goal}")
                figures[label] = {"chain": None}
                continue
            callers = list(dict.fromkeys(e.from_node for e in found.edges))
            wide = kx.callees_of_nodes(callers)
            narrow = kx.callees_of_nodes(callers, ops=found.ops)
            sites = []
            for node in callers:
                before, after = _ops(wide[node]), _ops(narrow[node])
                if before:
                    sites.append({"function": node[0], "before": len(before), "after": len(after),
                                  "kept": sorted({f"{e.name} ({e.via_text()})" for e in after})})
            before_n = sum(s["before"] for s in sites)  # type: ignore[misc]
            after_n = sum(s["after"] for s in sites)  # type: ignore[misc]
            total_before += before_n
            total_after += after_n
            chain = " → ".join([start] + [e.name + (f" [{e.via_text()}]" if e.via else "") for e in found.edges])
            log(f"== {label}: {chain}")
            log(f"   consistent: {found.consistent}; path took {seconds * 1000:.0f} ms")
            for s in sites:
                log(f"   {s['function']}: {s['before']} ops-member call edges → {s['after']}: {', '.join(s['kept'])}")  # type: ignore[arg-type]
            figures[label] = {"chain": [e.as_dict() for e in found.edges], "consistent": found.consistent,
                              "path_ms": round(seconds * 1000, 1), "ops_edges_before": before_n,
                              "ops_edges_after": after_n, "sites": sites}
    log(f"ops-member call edges on the three paths' functions: {total_before} → {total_after}")
    figures["ops_edges_before"] = total_before
    figures["ops_edges_after"] = total_after
    result.figures = figures
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=INDEX, help=f"the index (default {INDEX})")
    args = parser.parse_args(argv)
    return run_alone(NAME, lambda: run(args.index))


if __name__ == "__main__":
    sys.exit(main())
