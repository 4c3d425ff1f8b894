"""Would compiling the extraction bring a cold index within issue 10's 1.5x?  The extraction compiled by mypyc.

mypyc (part of mypy, already a test dependency) compiles explorer/xref.py and explorer/cparse.py, the walks
that turn a tree into rows, in a temporary copy of the package: the same source, the same rows, C instead of
bytecode.  The pure and the compiled modules then each extract every N-th .c/.h file of 6.1 in a process of
their own (`indexer._parse_one`, a worker's whole work on a file: the parse, the walks, the digests),
alternated, and this reports the CPU seconds of each (medians) and checks that the rows are the same (a sha256
of every file's rows, pickled).  With --callgrind, valgrind also counts each one's instructions once: a figure
that the machine's changing speed does not move (slow: about 50x; use --every 80 or more).

Not part of `make bench`: it sets no target; it measures whether this way is worth taking.  Needs a C compiler
and Python's headers (`gcc` and `python3-dev`).  Nothing is written outside a temporary folder.

    .venv/bin/python benchmarks/compiled_extract.py [--every N] [--runs R] [--callgrind]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PYTHON, ROOT, TREE, VENV_BIN, BenchmarkError, Result, log, median, require, run_alone, tool

NAME = "compiled_extract"
COMPILED = ("explorer/xref.py", "explorer/cparse.py")

# Runs in a fresh interpreter with the package at ROOT first on sys.path (bare_parse.source_files: the files the
# index covers, in its order); prints files, CPU seconds, the rows' digest and the extraction modules' files.
CHILD = r"""
import hashlib, json, pickle, sys, time
from pathlib import Path
root, benchmarks, tree, every = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
sys.path[:0] = [root, benchmarks]
import explorer.cparse, explorer.xref
from bare_parse import source_files
from explorer.indexer import Job, _parse_one
files = source_files(tree)[::every]
digest = hashlib.sha256()
started = time.process_time()
for path in files:
    rel = path.relative_to(tree).as_posix()
    digest.update(rel.encode() + pickle.dumps(tuple(_parse_one(Job(rel, str(path), True, 1, "", 0, 0))), protocol=5))
spent = time.process_time() - started
print(json.dumps({"files": len(files), "cpu_s": spent, "digest": digest.hexdigest(),
                  "modules": [explorer.xref.__file__, explorer.cparse.__file__]}))
"""


class Extraction(NamedTuple):
    files: int
    cpu_s: float
    digest: str
    modules: list[str]
    instructions: int | None  # with --callgrind only


def _compile(scratch: Path) -> None:
    """The package copied into scratch, its extraction modules compiled there by mypyc (their .so beside the .py)."""
    mypyc = VENV_BIN / "mypyc"
    if not mypyc.exists():
        raise BenchmarkError(f"{mypyc} is missing: run `make setup` (mypy, which has mypyc, is a test dependency)")
    if not (tool("gcc") or tool("cc")):
        raise BenchmarkError("no C compiler: install Debian's gcc (and python3-dev) to compile with mypyc")
    shutil.copytree(ROOT / "explorer", scratch / "explorer", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    proc = subprocess.run([str(mypyc), *COMPILED], cwd=scratch, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchmarkError(f"mypyc failed: {(proc.stdout + proc.stderr).strip()[-600:]}")


def _child(root: Path, every: int, wrap: list[str] | None = None) -> Extraction:
    argv = [*(wrap or []), str(PYTHON), "-c", CHILD, str(root), str(Path(__file__).resolve().parent), str(TREE), str(every)]
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    if proc.returncode != 0:
        raise BenchmarkError(f"the extraction under {root} failed: {proc.stderr.strip()[-600:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    found = re.search(r"Collected : (\d+)", proc.stderr) if wrap else None
    return Extraction(int(out["files"]), float(out["cpu_s"]), str(out["digest"]), [str(m) for m in out["modules"]],
                      int(found.group(1)) if found else None)


def run(every: int = 20, runs: int = 3, callgrind: bool = False) -> Result:
    require(TREE, PYTHON)
    result = Result(NAME)
    log(f"== the extraction (every {every}th .c/.h file of {TREE.name}), pure Python against compiled by mypyc")
    with tempfile.TemporaryDirectory(prefix="kexplore-bench-mypyc-") as tmp:
        scratch = Path(tmp)
        _compile(scratch)
        pure: list[Extraction] = []
        compiled: list[Extraction] = []
        for _ in range(runs):  # alternated: a change in the machine's speed hits both alike
            pure.append(_child(ROOT, every))
            compiled.append(_child(scratch, every))
        if not all(m.endswith(".so") for m in compiled[0].modules):
            raise BenchmarkError(f"the compiled modules were not the ones imported: {compiled[0].modules}")
        digests = {r.digest for r in pure + compiled}
        if len(digests) != 1:
            raise BenchmarkError(f"the compiled extraction's rows differ from the pure one's: {sorted(digests)}")
        pure_cpu = median([r.cpu_s for r in pure])
        compiled_cpu = median([r.cpu_s for r in compiled])
        log(f"{pure[0].files} files, the same rows: pure {pure_cpu:.2f} s CPU, compiled {compiled_cpu:.2f} s CPU"
            f" (medians of {runs}): {compiled_cpu / pure_cpu:.3f}x")
        figures: dict[str, object] = {
            "files": pure[0].files, "every": every, "runs": runs, "pure_cpu_s": round(pure_cpu, 3),
            "compiled_cpu_s": round(compiled_cpu, 3), "compiled_over_pure_cpu": round(compiled_cpu / pure_cpu, 3),
            "pure_cpu_all": [r.cpu_s for r in pure], "compiled_cpu_all": [r.cpu_s for r in compiled],
        }
        if callgrind:
            valgrind = tool("valgrind")
            if valgrind is None:
                raise BenchmarkError("--callgrind needs Debian's valgrind")
            wrap = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null"]
            pure_i = _child(ROOT, every, wrap).instructions
            compiled_i = _child(scratch, every, wrap).instructions
            if isinstance(pure_i, int) and isinstance(compiled_i, int):
                log(f"instructions (callgrind, the whole process): pure {pure_i:,}, compiled {compiled_i:,}: {compiled_i / pure_i:.3f}x")
                figures.update(pure_instructions=pure_i, compiled_instructions=compiled_i,
                               compiled_over_pure_instructions=round(compiled_i / pure_i, 3))
    result.commands = [f"mypyc {' '.join(COMPILED)}   (in a temporary copy of the package)",
                       f"indexer._parse_one of every {every}th .c/.h file of {TREE.name}, pure and compiled, {runs} runs each"]
    result.figures = figures
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=20, help="every N-th file (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="alternated runs of each (default 3)")
    parser.add_argument("--callgrind", action="store_true", help="also count instructions with valgrind (slow)")
    args = parser.parse_args(argv)
    if args.every < 1 or args.runs < 1:
        parser.error("--every and --runs take a whole number from 1")
    return run_alone(NAME, lambda: run(args.every, args.runs, args.callgrind))


if __name__ == "__main__":
    sys.exit(main())
