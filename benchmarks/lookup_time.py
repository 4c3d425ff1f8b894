"""Lookup latency: `kexplore lookup kmalloc --json` against the interpreter's own floor.

The floor is `python -c "import sqlite3, json"` with the same interpreter (.venv/bin/python):
what any Python CLI that reads SQLite and prints JSON pays before doing anything.  Both
commands run under hyperfine (-N, no shell; 3 warm-up runs, then 20 each), or a
perf_counter loop when hyperfine is missing.  Target: lookup ≤ 2x the floor.

The lookup measured is this checkout's: `.venv/bin/kexplore` when the venv's package is this
checkout (an editable install of it), else `python -m explorer` run from the checkout (a git
worktree beside the one the venv installs).  The warm-up runs leave explorer/startcache.py's
cache warm (kernels.toml's data, which pages annotate what), as every lookup after the first
finds it; the same lookup with that cache off (KEXPLORE_NO_STARTUP_CACHE=1, through `env`) is
timed too, for what the cache saves.

The package is byte-compiled first (`compileall`), as an installed package is: under
PYTHONDONTWRITEBYTECODE a lookup would otherwise compile every module it imports on every run,
while the floor's standard library is compiled.

When valgrind is installed, both commands are also counted in instructions (callgrind, one run
each, the start-up cache warm): a figure the machine's load does not move, for comparing changes
when the wall times are noisy.

The lookup must not import tree-sitter, Pygments, MkDocs or rich, nor the standard modules
whose import costs more than its query (dataclasses, typing, tomllib, difflib, html, ...:
tests/test_lookup_imports.py fails if it does); `-X importtime` tells which modules it does
import and the slowest of them, so a regression is easy to find.

Run alone: ``.venv/bin/python benchmarks/lookup_time.py``.
"""

from __future__ import annotations

import json
import os
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
COSTLY = ("dataclasses", "inspect", "typing", "tomllib", "difflib", "html", "explorer.history", "explorer.kerneldoc",
          "explorer.opsgroups", "explorer.storerecords", "explorer.annotations")


def python() -> Path:
    """The venv's interpreter: this checkout's .venv, else the one running this (a worktree has no venv)."""
    return PYTHON if PYTHON.exists() else Path(sys.executable)


def lookup_command(interpreter: Path) -> list[str]:
    """`kexplore lookup` when the venv's kexplore imports this checkout, else `python -m explorer lookup`."""
    if KEXPLORE.exists():
        where = subprocess.run([str(interpreter), "-c", "import explorer; print(explorer.__file__)"],
                               capture_output=True, text=True, cwd="/")
        if where.returncode == 0 and Path(where.stdout.strip()).resolve().parent == (ROOT / "explorer").resolve():
            return [str(KEXPLORE), "lookup", SYMBOL, "--json"]
    return [str(interpreter), "-m", "explorer", "lookup", SYMBOL, "--json"]


def import_profile(interpreter: Path) -> dict[str, object]:
    """Modules the lookup imports (python -X importtime), the slowest first, and any heavy or costly ones."""
    argv = [str(interpreter), "-X", "importtime", "-m", "explorer", "lookup", SYMBOL, "--json"]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    modules = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            modules.append((m.group(4), int(m.group(1)), int(m.group(2)), len(m.group(3))))
    top_level = sorted((m for m in modules if m[3] <= 1), key=lambda m: -m[2])
    heavy = sorted({name for name, *_ in modules if name.split(".")[0] in HEAVY})
    costly = sorted({name for name, *_ in modules if name in COSTLY})
    return {
        "command": shown(argv),
        "modules": len(modules),
        "slowest_top_level_us": [(name, cumulative) for name, _, cumulative, _ in top_level[:8]],
        "heavy_imports": heavy,
        "costly_imports": costly,
    }


def instructions(argv: list[str]) -> int | None:
    """Instructions executed by `argv` (valgrind's callgrind), or None without valgrind."""
    if not tool("valgrind"):
        return None
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
                          capture_output=True, text=True, cwd=ROOT)
    m = re.search(r"Collected\s*:\s*(\d+)", proc.stderr)
    if proc.returncode != 0 or m is None:
        raise BenchmarkError(f"callgrind of `{shown(argv)}` failed: {proc.stderr.strip()[-500:]}")
    return int(m.group(1))


def run() -> Result:
    interpreter = python()
    require(INDEX, interpreter)
    result = Result(NAME)
    lookup = lookup_command(interpreter)
    floor = [str(interpreter), "-c", "import sqlite3, json"]
    uncached = ["env", "KEXPLORE_NO_STARTUP_CACHE=1", *lookup]
    log(f"== lookup time ({'hyperfine -N' if tool('hyperfine') else 'perf_counter'}, {WARMUP} warm-up + {RUNS} runs each)")
    log(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    subprocess.run([str(interpreter), "-m", "compileall", "-q", str(ROOT / "explorer")], check=True)
    check = subprocess.run(lookup, capture_output=True, text=True, cwd=ROOT)
    if check.returncode != 0:
        raise BenchmarkError(f"`{shown(lookup)}` exited {check.returncode}: {check.stderr.strip()}")
    found = json.loads(check.stdout)
    where = ", ".join(f"{d['kind']} {d['path']}:{d['line']}" for d in found[:3])

    t_lookup, t_floor, t_uncached = time_commands([lookup, floor, uncached], runs=RUNS, warmup=WARMUP, cwd=ROOT)
    load_after = os.getloadavg()
    ratio = t_lookup.median / t_floor.median
    profile = import_profile(interpreter)
    i_lookup, i_floor = instructions(lookup), instructions(floor)
    log(f"`{shown(lookup)}`: median {t_lookup.median * 1000:.1f} ms (min {min(t_lookup.times) * 1000:.1f}) -> {where}")
    log(f"`{shown(floor)}`: median {t_floor.median * 1000:.1f} ms (min {min(t_floor.times) * 1000:.1f})")
    log(f"ratio: {ratio:.2f}x  (min/min {min(t_lookup.times) / min(t_floor.times):.2f}x)")
    log(f"without the start-up cache: median {t_uncached.median * 1000:.1f} ms ({t_uncached.median / t_floor.median:.2f}x; "
        "`env` adds one exec)")
    log(f"load average after: {' '.join(f'{x:.2f}' for x in load_after)}")
    if i_lookup is not None and i_floor is not None:
        log(f"instructions (callgrind): lookup {i_lookup / 1e6:.1f} M, floor {i_floor / 1e6:.1f} M ({i_lookup / i_floor:.2f}x)")
    log(f"lookup imports {profile['modules']} modules; heavy ones: {', '.join(profile['heavy_imports']) or 'none'}; "
        f"costly ones: {', '.join(profile['costly_imports']) or 'none'}")
    log("slowest top-level imports (cumulative µs): "
        + ", ".join(f"{n} {us}" for n, us in profile["slowest_top_level_us"]))

    result.commands = [
        f"hyperfine -N --warmup {WARMUP} --runs {RUNS} '{shown(lookup)}' '{shown(floor)}' '{shown(uncached)}'",
        profile["command"],
    ]
    result.figures = {
        "lookup": t_lookup.as_dict(),
        "floor": t_floor.as_dict(),
        "lookup_without_startup_cache": t_uncached.as_dict(),
        "load_average_after": [round(x, 2) for x in load_after],
        "ratio_median": round(ratio, 3),
        "ratio_min": round(min(t_lookup.times) / min(t_floor.times), 3),
        "instructions": {"lookup": i_lookup, "floor": i_floor,
                         "ratio": round(i_lookup / i_floor, 3) if i_lookup and i_floor else None},
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
