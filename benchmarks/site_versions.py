"""The site of two kernels (the project's mkdocs.yml: linux-6.1 and linux-6.12), cold.

One `mkdocs build --strict` into a temporary folder, timed and with its memory measured as
benchmarks/memory.py measures the indexer (GNU time's largest single process, and the sum
over the process tree sampled from /proc: the build forks render workers), then the size
(`du -s`) and the number of files of the site.  Budgets (issue 12, item 4): at most 60 s, at
most 250 MB, at most 20,000 files.  Also the CPU time, since wall time on a shared machine
says as much about the other jobs as about this one.

Needs both kernels indexed in the snippets folder: `--snippets DIR` or $KEXPLORE_SNIPPETS
(default: the checkout's kernel-snippets/).  Run alone:
``.venv/bin/python benchmarks/site_versions.py [--snippets DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory import measure

ROOT = Path(__file__).resolve().parent.parent
BUDGET = {"seconds": 60.0, "mb": 250.0, "files": 20_000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snippets", type=Path, help="the folder with kernels.toml and both kernels' indexes")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="copy the built site to DIR (for a link check)")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.snippets:
        env["KEXPLORE_SNIPPETS"] = str(args.snippets.resolve())
    with tempfile.TemporaryDirectory(prefix="kexplore-site2-") as tmp:
        site = Path(tmp) / "site"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        os.environ.update(env)
        mem = measure([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(ROOT / "mkdocs.yml"),
                       "-d", str(site)])
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        du_kb = int(subprocess.run(["du", "-s", "--block-size=1K", str(site)], capture_output=True, text=True,
                                   check=True).stdout.split()[0])
        files = sum(1 for p in site.rglob("*") if p.is_file())
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            shutil.copytree(site, args.keep, symlinks=True)
        per_kernel = {}
        for kernel_dir in sorted(p for p in site.iterdir() if (p / "source").is_dir()):
            per_kernel[kernel_dir.name] = {
                "source_pages": sum(1 for _ in (kernel_dir / "source").rglob("index.html")),
                "kb": int(subprocess.run(["du", "-s", "--block-size=1K", str(kernel_dir)], capture_output=True,
                                         text=True, check=True).stdout.split()[0]),
            }
    result = {"wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "du_kb": du_kb,
              "mb": round(du_kb / 1024, 1), "files": files, "kernels": per_kernel, "memory": mem,
              "load_average": os.getloadavg(), "budget": BUDGET,
              "within_budget": wall <= BUDGET["seconds"] and du_kb / 1024 <= BUDGET["mb"] and files <= BUDGET["files"]}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
