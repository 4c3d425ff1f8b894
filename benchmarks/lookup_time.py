"""Lookup latency: `kexplore lookup kmalloc --json` against the interpreter's own floor.

The floor is `python -c "import sqlite3, json"` with the same interpreter (.venv/bin/python):
what any Python CLI that reads SQLite and prints JSON pays before doing anything.  Both
commands run under hyperfine (-N, no shell; 3 warm-up runs, then 20 each), or a
perf_counter loop when hyperfine is missing.  Target: lookup ≤ 2x the floor.

The package is byte-compiled first (`compileall`), as an installed package is: under
PYTHONDONTWRITEBYTECODE a lookup would otherwise compile every module it imports on every run,
while the floor's standard library is compiled.

The lookup must not import tree-sitter, Pygments, MkDocs or rich; `-X importtime`
tells which modules it does import and the slowest of them, so a regression is easy to
find.

Run alone: ``.venv/bin/python benchmarks/lookup_time.py``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    INDEX,
    KEXPLORE,
    PYTHON,
    ROOT,
    BenchmarkError,
    Result,
    Target,
    log,
    require,
    run_alone,
    shown,
    time_commands,
    tool,
)

NAME = "lookup_time"
SYMBOL = "kmalloc"  # the example: several definitions across the whole tree
RUNS, WARMUP = 20, 3
RATIO = 2.0
HEAVY = ("tree_sitter", "pygments", "mkdocs", "rich", "material")


def import_profile() -> dict[str, object]:
    """Modules the lookup imports (python -X importtime), the slowest first, and any heavy ones."""
    argv = [str(PYTHON), "-X", "importtime", "-m", "explorer", "lookup", SYMBOL, "--json"]
    proc = subprocess.run(argv, capture_output=True, text=True)
    modules = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            modules.append((m.group(4), int(m.group(1)), int(m.group(2)), len(m.group(3))))
    top_level = sorted((m for m in modules if m[3] <= 1), key=lambda m: -m[2])
    heavy = sorted({name for name, *_ in modules if name.split(".")[0] in HEAVY})
    return {
        "command": shown(argv),
        "modules": len(modules),
        "slowest_top_level_us": [(name, cumulative) for name, _, cumulative, _ in top_level[:8]],
        "heavy_imports": heavy,
    }


def run() -> Result:
    require(INDEX, KEXPLORE, PYTHON)
    result = Result(NAME)
    lookup = [str(KEXPLORE), "lookup", SYMBOL, "--json"]
    floor = [str(PYTHON), "-c", "import sqlite3, json"]
    log(f"== lookup time ({'hyperfine -N' if tool('hyperfine') else 'perf_counter'}, {WARMUP} warm-up + {RUNS} runs each)")

    subprocess.run([str(PYTHON), "-m", "compileall", "-q", str(ROOT / "explorer")], check=True)
    check = subprocess.run(lookup, capture_output=True, text=True)
    if check.returncode != 0:
        raise BenchmarkError(f"`{shown(lookup)}` exited {check.returncode}: {check.stderr.strip()}")
    found = json.loads(check.stdout)
    where = ", ".join(f"{d['kind']} {d['path']}:{d['line']}" for d in found[:3])

    t_lookup, t_floor = time_commands([lookup, floor], runs=RUNS, warmup=WARMUP)
    ratio = t_lookup.median / t_floor.median
    profile = import_profile()
    log(f"`{shown(lookup)}`: median {t_lookup.median * 1000:.1f} ms (min {min(t_lookup.times) * 1000:.1f}) -> {where}")
    log(f"`{shown(floor)}`: median {t_floor.median * 1000:.1f} ms (min {min(t_floor.times) * 1000:.1f})")
    log(f"ratio: {ratio:.2f}x  (min/min {min(t_lookup.times) / min(t_floor.times):.2f}x)")
    log(f"lookup imports {profile['modules']} modules; heavy ones: {', '.join(profile['heavy_imports']) or 'none'}")
    log("slowest top-level imports (cumulative µs): "
        + ", ".join(f"{n} {us}" for n, us in profile["slowest_top_level_us"]))

    result.commands = [
        f"hyperfine -N --warmup {WARMUP} --runs {RUNS} '{shown(lookup)}' '{shown(floor)}'",
        profile["command"],
    ]
    result.figures = {
        "lookup": t_lookup.as_dict(),
        "floor": t_floor.as_dict(),
        "ratio_median": round(ratio, 3),
        "ratio_min": round(min(t_lookup.times) / min(t_floor.times), 3),
        "definitions_found": found,
        "imports": profile,
    }
    result.targets = [
        Target("lookup --json / python 'import sqlite3, json'", ratio, "x", RATIO,
               note=f"{t_lookup.median * 1000:.0f} ms vs {t_floor.median * 1000:.0f} ms"),
    ]
    if profile["heavy_imports"]:
        result.targets.append(Target("heavy modules imported by lookup", float(len(profile["heavy_imports"])), "", 0,
                                     note=", ".join(profile["heavy_imports"])))
    return result


def main() -> int:
    return run_alone(NAME, run)


if __name__ == "__main__":
    sys.exit(main())
