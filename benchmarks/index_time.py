"""Index time: cold, warm, and warm after one changed file, against a bare tree-sitter walk.

All indexing runs on a scratch copy of kernel-snippets (kernels.toml, lock file, tree),
through `kexplore --snippets DIR`; the real kernel-snippets/ is never written.

* cold: `kexplore index --force`, median of 3, alternated with the floor, a bare
  tree-sitter parse-and-visit of the same files in one Python process
  (`benchmarks/bare_parse.py`, median of 3).  Target: cold ≤ 1.5x the floor.
  The indexer uses a worker pool (one per CPU); the floor is one process, as the issue
  sets it.  CPU seconds (user + system, workers included) are reported for both, so
  the ratio can also be read as work done; memory.py times `--jobs 1`.
* warm: `kexplore index` with nothing changed, median of 5.  Target ≤ 0.3 s.
* one file changed: a comment appended to net/ipv4/af_inet.c of the copy before each
  run, median of 5.

Run alone: ``.venv/bin/python benchmarks/index_time.py``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    KEXPLORE,
    PYTHON,
    TREE,
    BenchmarkError,
    Result,
    ScratchSnippets,
    Target,
    log,
    median,
    require,
    run_alone,
    shown,
    time_commands,
)

NAME = "index_time"
BARE = Path(__file__).resolve().parent / "bare_parse.py"
CHANGED_FILE = "net/ipv4/af_inet.c"
COLD_RUNS, WARM_RUNS, CHANGED_RUNS = 3, 5, 5
COLD_RATIO, WARM_LIMIT = 1.5, 0.3


def _timed(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise BenchmarkError(f"`{shown(argv)}` exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def run() -> Result:
    require(TREE, KEXPLORE, PYTHON)
    result = Result(NAME)
    log("== index time (on a scratch copy of kernel-snippets)")
    with ScratchSnippets() as scratch:
        cold_cmd = scratch.kexplore("index", "--force", "--json")
        bare_cmd = [str(PYTHON), str(BARE), str(scratch.tree)]
        cold, cold_cpu, bare, bare_cpu = [], [], [], []
        out = ""
        for _ in range(COLD_RUNS):  # alternated, so that other work on the machine hits both alike
            wall, cpu, out = _timed(cold_cmd)
            cold.append(wall)
            cold_cpu.append(cpu)
            wall, cpu, bare_out = _timed(bare_cmd)
            bare.append(wall)
            bare_cpu.append(cpu)
        index_info = json.loads(out)
        ratio = median(cold) / median(bare)
        log(f"cold  `kexplore index --force`: median {median(cold):.2f} s of {_fmt(cold)}, "
            f"CPU {median(cold_cpu):.2f} s, {scratch_jobs()} workers ({index_info.get('files')} files, {index_info.get('symbols')} definitions)")
        log(f"floor `{shown(bare_cmd[:2])} TREE` (one process): median {median(bare):.2f} s of {_fmt(bare)}, CPU {median(bare_cpu):.2f} s"
            f" ({bare_out.strip()})")
        log(f"cold / floor: {ratio:.2f}x (wall clock);  CPU seconds: {median(cold_cpu) / median(bare_cpu):.2f}x")

        warm_cmd = scratch.kexplore("index")
        warm = time_commands([warm_cmd], runs=WARM_RUNS, warmup=1)[0]
        log(f"warm  `kexplore index` (nothing changed): median {warm.median * 1000:.0f} ms of {_fmt(warm.times)}")

        changed, parsed = [], []
        target = scratch.tree / CHANGED_FILE
        for i in range(CHANGED_RUNS):
            with target.open("a", encoding="utf-8") as fh:
                fh.write(f"/* kexplore benchmark: change {i} */\n")
            wall, _, out = _timed(scratch.kexplore("index", "--json"))
            changed.append(wall)
            parsed.append(json.loads(out).get("parsed"))
        log(f"one file changed ({CHANGED_FILE}): median {median(changed) * 1000:.0f} ms of {_fmt(changed)}; "
            f"files parsed again per run: {sorted(set(parsed))}")

    result.commands = [
        "kexplore index --force --snippets SCRATCH   (cold, median of 3)",
        ".venv/bin/python benchmarks/bare_parse.py SCRATCH/linux-6.1   (floor, median of 3, alternated with cold)",
        "hyperfine -N --warmup 1 --runs 5 'kexplore index --snippets SCRATCH'   (warm)",
        f"echo '/* ... */' >> SCRATCH/linux-6.1/{CHANGED_FILE}; kexplore index --snippets SCRATCH   (5 runs)",
    ]
    result.figures = {
        "files": index_info.get("files"),
        "definitions": index_info.get("symbols"),
        "cold_s": _stats(cold),
        "cold_cpu_s": round(median(cold_cpu), 3),
        "floor_s": _stats(bare),
        "floor_cpu_s": round(median(bare_cpu), 3),
        "floor_output": bare_out.strip(),
        "cold_over_floor": round(ratio, 3),
        "cpu_over_floor_cpu": round(median(cold_cpu) / median(bare_cpu), 3),
        "warm": warm.as_dict(),
        "one_file_changed_s": _stats(changed),
        "one_file_changed_parsed": parsed,
    }
    result.targets = [
        Target("cold index / bare parse-and-visit", ratio, "x", COLD_RATIO,
               note=f"{median(cold):.2f} s vs {median(bare):.2f} s; CPU seconds {median(cold_cpu) / median(bare_cpu):.2f}x"),
        Target("warm index, nothing changed", warm.median, "s", WARM_LIMIT),
    ]
    return result


def scratch_jobs() -> int:
    import os

    return os.cpu_count() or 1


def _fmt(times: list[float]) -> str:
    return "[" + ", ".join(f"{t:.2f}" for t in times) + "]"


def _stats(times: list[float]) -> dict[str, object]:
    return {"median": round(median(times), 4), "times": [round(t, 4) for t in times]}


def main() -> int:
    return run_alone(NAME, run)


if __name__ == "__main__":
    sys.exit(main())
