"""Peak memory of a full cold index: `/usr/bin/time -v kexplore index --force`.

GNU time reports the "Maximum resident set size" that wait4() returns, and on Linux that
is the largest peak of any *single* process among the command and the descendants it
waited for — not their sum.  The indexer forks a pool of workers, so this benchmark also
samples /proc every 20 ms while the index runs and records the peak of the sum over the
whole process tree, both as RSS (counts pages shared after fork() once per process: an
upper bound) and as PSS (shared pages split between the processes sharing them: the
honest total).  `--jobs 1` (no pool) is measured as well.

Target: ≤ 400 MB, checked against the time -v figure and against the summed RSS.
Runs on a scratch copy of kernel-snippets.

Run alone: ``.venv/bin/python benchmarks/memory.py``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import KEXPLORE, TREE, BenchmarkError, Result, ScratchSnippets, Target, log, require, run_alone

NAME = "memory"
LIMIT_MB = 400.0
GNU_TIME = "/usr/bin/time"
INTERVAL = 0.02


@dataclass
class Peak:
    sum_rss_kb: int = 0
    sum_pss_kb: int = 0
    max_single_rss_kb: int = 0
    max_processes: int = 0
    samples: int = 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                out.extend(int(p) for p in (task / "children").read_text().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        cur = todo.pop()
        pids.append(cur)
        todo.extend(_children(cur))
    return pids


def _field_kb(path: str, key: str) -> int:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class Sampler(threading.Thread):
    """Polls the process tree under `root` (the time process: its descendants are sampled)."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak = Peak()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            pids = [p for p in _tree(self.root) if p != self.root]
            rss = [_field_kb(f"/proc/{p}/status", "VmRSS:") for p in pids]
            pss = [_field_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids]
            peak = self.peak
            peak.samples += 1
            peak.sum_rss_kb = max(peak.sum_rss_kb, sum(rss))
            peak.sum_pss_kb = max(peak.sum_pss_kb, sum(pss))
            peak.max_single_rss_kb = max([peak.max_single_rss_kb, *rss])
            peak.max_processes = max(peak.max_processes, len([r for r in rss if r]))
            self.stop.wait(INTERVAL)


def measure(argv: list[str]) -> dict[str, object]:
    with tempfile.NamedTemporaryFile("r", prefix="kexplore-bench-time-", suffix=".txt") as report:
        proc = subprocess.Popen([GNU_TIME, "-v", "-o", report.name, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        sampler = Sampler(proc.pid)
        sampler.start()
        _, err = proc.communicate()
        sampler.stop.set()
        sampler.join()
        text = Path(report.name).read_text()
    if proc.returncode != 0:
        raise BenchmarkError(f"`{' '.join(argv)}` exited {proc.returncode}: {err.decode(errors='replace')[-500:]}")
    maxrss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    peak = sampler.peak
    return {
        "time_v_max_rss_mb": round(int(maxrss.group(1)) / 1024, 1) if maxrss else None,
        "elapsed": wall.group(1) if wall else None,
        "sampled_sum_rss_mb": round(peak.sum_rss_kb / 1024, 1),
        "sampled_sum_pss_mb": round(peak.sum_pss_kb / 1024, 1),
        "sampled_max_single_rss_mb": round(peak.max_single_rss_kb / 1024, 1),
        "sampled_max_processes": peak.max_processes,
        "samples": peak.samples,
    }


def run() -> Result:
    require(TREE, KEXPLORE)
    if not Path(GNU_TIME).exists():
        raise BenchmarkError(f"{GNU_TIME} is missing (Debian: time; `make setup` installs it as root)")
    result = Result(NAME)
    log("== memory of a cold index (/usr/bin/time -v, plus /proc sampling of parent + workers)")
    with ScratchSnippets() as scratch:
        pooled = measure(scratch.kexplore("index", "--force"))
        single = measure(scratch.kexplore("index", "--force", "--jobs", "1"))
    for label, m in (("default jobs", pooled), ("--jobs 1", single)):
        log(f"{label:<13} time -v max RSS {m['time_v_max_rss_mb']} MB; sampled peaks: sum RSS {m['sampled_sum_rss_mb']} MB,"
            f" sum PSS {m['sampled_sum_pss_mb']} MB, largest process {m['sampled_max_single_rss_mb']} MB,"
            f" {m['sampled_max_processes']} processes; {m['elapsed']} wall")
    log("(time -v gives the largest single process among the command and its reaped children, not their sum;"
        " compare it with 'largest process')")
    result.commands = [
        "/usr/bin/time -v kexplore index --force --snippets SCRATCH   (+ /proc sampling every 20 ms)",
        "/usr/bin/time -v kexplore index --force --jobs 1 --snippets SCRATCH",
    ]
    result.figures = {"default_jobs": pooled, "jobs_1": single}
    result.targets = [
        Target("peak RSS, /usr/bin/time -v", pooled["time_v_max_rss_mb"], "MB", LIMIT_MB,  # type: ignore[arg-type]
               note=f"--jobs 1: {single['time_v_max_rss_mb']} MB"),
        Target("peak RSS summed over parent + workers", pooled["sampled_sum_rss_mb"], "MB", LIMIT_MB,  # type: ignore[arg-type]
               note=f"summed PSS {pooled['sampled_sum_pss_mb']} MB"),
    ]
    return result


def main() -> int:
    return run_alone(NAME, run)


if __name__ == "__main__":
    sys.exit(main())
