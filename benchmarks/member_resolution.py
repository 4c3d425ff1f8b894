"""Member accesses resolved in net/ipv4 and net/core, the rest listed by cause; files with ERROR regions.

The figure of issue 11 (goal: 99.5 %).  An access is one `a->b` / `a.b` use whose key
the resolver turned into STRUCT.FIELD (tests/test_crossref.py's
test_vendored_member_resolution_rate counts the same rows).  Unresolved ones are sorted
by the reason the resolver stored and, for missing types, by whether the index knows the
type at all (a type defined outside the vendored slice cannot be resolved in it).

Run alone: ``.venv/bin/python benchmarks/member_resolution.py [--index FILE] [--samples N]``.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import INDEX, Result, Target, log, require, run_alone, shown

NAME = "member_resolution"
TARGET = 99.5
_WHERE = "(f.path LIKE 'net/ipv4/%' OR f.path LIKE 'net/core/%')"
_TYPE_RX = re.compile(r"^type (\S+) is not a known struct$")

CAUSES = {
    "outside": "the base's type is defined outside the vendored slice",
    "not-struct": "the base's type is known but is no struct (a scalar typedef, an enum)",
    "current": "`current` (arch/x86's get_current, not vendored)",
    "config": "an #ifdef inside an initializer, misread as CONFIG_X.member",
    "macro-local": "a name known neither as a local nor as a global: globals whose names macros paste together (dev_attr_##name, whose prefix two macros give two types), members named like globals inside offsetof-like macros (skc_v6_daddr), locals of a macro the function does not name",
    "base": "base expression not understood (a cast of a call, a subscript of a call, ...)",
    "return": "the return type of the call is unknown (a macro or function outside the slice)",
    "no-member": "no member of that name in the type (#if'd members, asn.1 unions, members of types outside)",
    "other": "another reason",
}


def cause_of(key: str, reason: str, known_types: set[str]) -> str:
    root = key.split("|", 1)[0]
    m = _TYPE_RX.match(reason)
    if m:
        return "outside" if m.group(1) not in known_types else "not-struct"
    if reason.startswith("not a local"):
        name = root[2:]
        return "current" if name == "current" else "config" if name.startswith("CONFIG_") else "macro-local"
    for prefix, cause in (("base expression", "base"), ("return type", "return"), ("no member", "no-member")):
        if reason.startswith(prefix):
            return cause
    return "other"


def run(index: Path = INDEX, samples: int = 3) -> Result:
    require(index)
    result = Result(NAME)
    result.commands = [f"SQLite: {shown([str(index)])}"]
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        total, resolved = db.execute(
            f"SELECT count(*), count(a.target) FROM refs r JOIN access a ON a.id = r.access_id JOIN files f ON f.id = r.file_id WHERE {_WHERE}"
        ).fetchone()
        known = {row[0] for row in db.execute("SELECT name FROM symbols WHERE kind IN ('struct', 'union', 'typedef', 'enum')")}
        rows = db.execute(
            "SELECT a.key, a.reason, count(*), min(f.path || ':' || r.line) FROM refs r JOIN access a ON a.id = r.access_id"
            f" JOIN files f ON f.id = r.file_id WHERE {_WHERE} AND a.target IS NULL GROUP BY a.key"
        ).fetchall()
        files, with_errors = db.execute("SELECT count(*), count(CASE WHEN error_nodes > 0 THEN 1 END) FROM files").fetchone()
    finally:
        db.close()
    by_cause: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for key, reason, n, where in sorted(rows, key=lambda r: -r[2]):
        cause = cause_of(key, reason or "", known)
        by_cause[cause] += n
        examples.setdefault(cause, [])
        if len(examples[cause]) < samples:
            examples[cause].append(f"{where} {key} ({reason})")
    rate = 100.0 * resolved / total if total else 0.0
    outside = by_cause["outside"] + by_cause["current"]
    log(f"== member accesses in net/ipv4 + net/core: {resolved} of {total} resolved ({rate:.2f} %); {total - resolved} unresolved")
    for cause, n in by_cause.most_common():
        log(f"  {n:6d}  {cause}: {CAUSES[cause]}")
        for example in examples[cause]:
            log(f"            {example}")
    log(f"files with tree-sitter ERROR regions: {with_errors} of {files}")
    result.figures = {
        "accesses": total,
        "resolved": resolved,
        "rate_percent": round(rate, 2),
        "rate_without_types_outside_the_slice_percent": round(100.0 * resolved / (total - outside), 2) if total > outside else None,
        "unresolved_by_cause": dict(by_cause.most_common()),
        "examples": examples,
        "files": files,
        "files_with_error_regions": with_errors,
    }
    result.targets = [Target("member accesses resolved (net/ipv4, net/core)", rate, "%", TARGET, higher_is_better=True)]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=INDEX, help=f"the index (default {INDEX})")
    parser.add_argument("--samples", type=int, default=3, help="examples printed per cause (default 3)")
    args = parser.parse_args(argv)
    return run_alone(NAME, lambda: run(args.index, args.samples))


if __name__ == "__main__":
    sys.exit(main())
