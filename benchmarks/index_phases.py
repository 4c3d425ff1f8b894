"""Where a cold index's time goes, phase by phase (issue 10's first figure, for whoever speeds it up).

Runs `build_index(force=True, share=False)` of 6.1 in this process, on a scratch
kernel-snippets folder (kernels.toml, the lock file and a symbolic link to the tree: nothing
writes to the tree), with the indexer's phases timed from outside (their functions wrapped):

* parse: the workers parse and extract (their CPU seconds from `getrusage(RUSAGE_CHILDREN)`);
  the main process meanwhile merges each chunk's rows (`_merge_chunk`) as they arrive ("merge", the CPU of its
  main thread; the pool's result thread, which unpickles the rows, is in the main process's total);
* tail: what runs after the last chunk, one process: the index build (`create_schema`), beside it
  the resolver's read and compute (a thread), then its finish, `derive_syscalls`,
  `group_ops_tables`.

Wall seconds of the phases, CPU seconds of the main process (all its threads) and of the
workers, and the peak RSS of each.  Not part of `make bench` (it measures, it sets no target);
give the load average with its figures.

    .venv/bin/python benchmarks/index_phases.py [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import KERNEL, SNIPPETS, TREE, log, require

from explorer import indexer, resolve
from explorer.config import Project

Phase = list[float]  # wall, main CPU


def _cpu() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _thread_cpu() -> float:
    """CPU seconds of the calling thread (a phase in a thread is not charged for the others')."""
    usage = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
    return usage.ru_utime + usage.ru_stime


def _timed(phases: dict[str, Phase], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0, c0 = time.perf_counter(), _thread_cpu()
        try:
            return fn(*args, **kwargs)
        finally:
            phase = phases.setdefault(name, [0.0, 0.0])
            phase[0] += time.perf_counter() - t0
            phase[1] += _thread_cpu() - c0

    return wrapper


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--jobs", type=int, default=None, help="workers (default: one per CPU)")
    args = ap.parse_args(argv)
    require(TREE)
    phases: dict[str, Phase] = {}
    for name in ("create_schema", "derive_syscalls", "group_ops_tables"):
        setattr(indexer, name, _timed(phases, name, getattr(indexer, name)))
    resolve.PendingResolution.__init__ = _timed(phases, "resolver read (thread)", resolve.PendingResolution.__init__)  # type: ignore[method-assign]
    resolve.PendingResolution.compute = _timed(phases, "resolver compute (thread)", resolve.PendingResolution.compute)  # type: ignore[method-assign]
    resolve.PendingResolution.finish = _timed(phases, "resolver finish", resolve.PendingResolution.finish)  # type: ignore[method-assign]
    run_chunks = indexer._run_chunks
    marks: dict[str, float] = {}

    def timed_chunks(chunks: Any, jobs: Any) -> Iterator[Any]:
        merge, merge_cpu, t = 0.0, 0.0, time.perf_counter()
        marks["parse start"] = t
        for item in run_chunks(chunks, jobs):
            t1, c1 = time.perf_counter(), _thread_cpu()
            yield item  # the caller merges the chunk
            t = time.perf_counter()
            merge += t - t1
            merge_cpu += _thread_cpu() - c1
        marks["parse end"] = t
        marks["merge peak rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        status = Path("/proc/self/status")
        rss = [line.split()[1] for line in status.read_text().splitlines() if line.startswith("VmRSS:")] if status.is_file() else []
        marks["merge end rss"] = int(rss[0]) / 1024 if rss else 0.0
        phases["merge (main, while the workers parse)"] = [merge, merge_cpu]

    indexer._run_chunks = timed_chunks  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="kexplore-phases-") as tmp:
        snippets = Path(tmp)
        shutil.copy2(SNIPPETS / "kernels.toml", snippets / "kernels.toml")
        lock = SNIPPETS / f"{KERNEL}.lock.json"
        if lock.is_file():
            shutil.copy2(lock, snippets / lock.name)
        (snippets / KERNEL).symlink_to(TREE)
        log(f"== cold index of {KERNEL}, phase by phase (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
        t0 = time.perf_counter()
        result = indexer.build_index(Project.load(snippets), KERNEL, force=True, jobs=args.jobs, share=False)
        total = time.perf_counter() - t0
    main_cpu, workers_cpu = _cpu()
    log(f"{result.files} files, {result.symbols} definitions; total {total:.2f} s wall, CPU: main {main_cpu:.2f} s"
        f" (all its threads, start-up included), workers {workers_cpu:.2f} s")
    log(f"parse (first chunk asked for to last chunk merged): {marks['parse end'] - marks['parse start']:.2f} s wall;"
        f" tail after it: {t0 + total - marks['parse end']:.2f} s wall")
    for name, (wall, cpu) in phases.items():
        log(f"  {name:42s} {wall:7.2f} s wall" + (f"  {cpu:7.2f} s CPU of its thread" if cpu else ""))
    log(f"peak RSS: main {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        f" ({marks['merge peak rss']:.0f} MB when the last chunk was merged, {marks['merge end rss']:.0f} MB then in use),"
        f" largest worker {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB"
        f" (load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
