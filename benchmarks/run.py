"""`make bench`: run every benchmark, print a summary, write JSON to benchmarks/results/.

    .venv/bin/python benchmarks/run.py [--only recall,callers_cscope,index_time,index_floor,lookup_time,memory,site,source_pages,call_tree,member_resolution,ops_dispatch,kernels] [--samples N]

Each benchmark is a module of this folder with a `run()` that returns a `common.Result`;
each also runs alone (`.venv/bin/python benchmarks/recall.py`).  Targets are reported,
never asserted: the exit code is 1 only when a benchmark could not run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import call_tree
import callers_cscope
import index_floor
import index_time
import kernels
import lookup_time
import member_resolution
import memory
import ops_dispatch
import recall
from common import RESULTS, ROOT, BenchmarkError, Result, environment, log, write_result


def _load(name: str, path: Path):  # type: ignore[no-untyped-def]
    """Import a benchmark by its file: `import site` would give Python's own `site` module."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


site_bench = _load("kexplore_bench_site", Path(__file__).resolve().parent / "site.py")
source_pages_bench = _load("kexplore_bench_source_pages", Path(__file__).resolve().parent / "source_pages.py")

BENCHMARKS = {
    "recall": lambda args: recall.run(samples=args.samples),
    "callers_cscope": lambda args: callers_cscope.run(samples=args.samples),
    "lookup_time": lambda args: lookup_time.run(),
    "index_time": lambda args: index_time.run(),
    "index_floor": lambda args: index_floor.run(),
    "memory": lambda args: memory.run(),
    "site": lambda args: site_bench.run(),
    "source_pages": lambda args: source_pages_bench.run(),
    "call_tree": lambda args: call_tree.run(),
    "member_resolution": lambda args: member_resolution.run(samples=args.samples),
    "ops_dispatch": lambda args: ops_dispatch.run(),
    "kernels": lambda args: kernels.run(),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run kernel-explorer's benchmarks.")
    parser.add_argument("--only", metavar="NAMES", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--samples", type=int, default=30, help="sample misses (recall) and disagreements (callers_cscope) printed (default 30)")
    args = parser.parse_args(argv)
    names = list(BENCHMARKS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in BENCHMARKS]
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")

    env = environment()
    log(f"kernel-explorer benchmarks: {', '.join(names)}")
    log(f"{env['cpus']} CPUs, load average {', '.join(f'{x:.2f}' for x in env['loadavg'])} "  # type: ignore[union-attr]
        "(other work on the machine slows the timings; medians damp it)")
    started = time.perf_counter()
    results: list[Result] = []
    for name in names:
        log()
        t0 = time.perf_counter()
        try:
            result = BENCHMARKS[name](args)
        except BenchmarkError as exc:
            result = Result(name, error=str(exc))
            log(f"{name}: cannot run: {exc}")
        except Exception as exc:
            result = Result(name, error=f"{type(exc).__name__}: {exc}")
            traceback.print_exc()
        result.seconds = time.perf_counter() - t0
        write_result(result)
        results.append(result)

    total = time.perf_counter() - started
    log()
    log("=" * 100)
    log(f"summary ({total:.0f} s; load average now {', '.join(f'{x:.2f}' for x in environment()['loadavg'])})")  # type: ignore[union-attr]
    for result in results:
        if result.error:
            log(f"{result.benchmark:<46} could not run: {result.error}")
        for target in result.targets:
            log(target.line())
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    summary = {"environment": env, "seconds": round(total, 1), "benchmarks": [r.as_dict() for r in results]}
    (RESULTS / "runs").mkdir(parents=True, exist_ok=True)
    text = json.dumps(summary, indent=1, ensure_ascii=False) + "\n"
    (RESULTS / "summary.json").write_text(text, encoding="utf-8")
    (RESULTS / "runs" / f"{stamp}.json").write_text(text, encoding="utf-8")
    log(f"results: {RESULTS.relative_to(ROOT)}/ (summary.json, one JSON per benchmark, runs/{stamp}.json)")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
