"""Two kernels: indexing Linux 6.12 after 6.1 (sharing the unchanged files) against indexing it alone,
and the database's size against cscope's on the same files.

* sharing: on scratch copies (hard links of the vendored trees, the real lock files), a cold
  `kexplore index --kernel linux-6.12` beside a copy of the real 6.1 index, against the same run
  with `--no-share`.  Both runs rebuild 6.12 from nothing; the first copies the rows of every file
  that 6.1's index holds with the same path and sha256.  The target is the issue's: "parsed once,
  not twice", read as shared ≤ 0.75x alone (about half the files are the same).
* size: `cscope -b -q -k` over the files the 6.1 index holds (cscope.out, cscope.in.out and
  cscope.po.out together) against the size of kernel-snippets/index/linux-6.1.sqlite.  Target:
  the index at most cscope's size.

Run alone: ``.venv/bin/python benchmarks/kernels.py``.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import INDEX, KEXPLORE, SNIPPETS, TREE, BenchmarkError, Result, Target, log, require, run_alone, shown, tool

NAME = "kernels"
SECOND = "linux-6.12"
SHARED_RATIO = 0.75


def _scratch(folder: Path, with_first_index: bool) -> Path:
    """kernels.toml, both lock files and hard-linked trees in folder; 6.1's index copied if asked."""
    snippets = folder / "kernel-snippets"
    snippets.mkdir(parents=True)
    shutil.copy2(SNIPPETS / "kernels.toml", snippets)
    for lock in SNIPPETS.glob("*.lock.json"):
        shutil.copy2(lock, snippets)
    for name in (TREE.name, SECOND):
        subprocess.run(["cp", "-al", str(SNIPPETS / name), str(snippets / name)], check=True)
    if with_first_index:
        (snippets / "index").mkdir()
        shutil.copy2(INDEX, snippets / "index" / INDEX.name)
    return snippets


def _index(snippets: Path, *extra: str) -> tuple[float, dict[str, object]]:
    argv = [str(KEXPLORE), "index", "--kernel", SECOND, "--json", "--snippets", str(snippets), *extra]
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise BenchmarkError(f"`{shown(argv)}` exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
    return seconds, json.loads(proc.stdout)


def table_bytes(index: Path) -> dict[str, int]:
    """Bytes of each table of an index with its indexes (SQLite's dbstat), largest first."""
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d"
                          " LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1 ORDER BY 2 DESC").fetchall()
    except sqlite3.DatabaseError:  # an SQLite built without dbstat
        return {}
    finally:
        db.close()
    return {str(table): int(size) for table, size in rows}


def _cscope_bytes(files: list[str], workdir: Path) -> tuple[int, float]:
    cscope = tool("cscope")
    if cscope is None:
        raise BenchmarkError("cscope is not installed (make setup installs it)")
    listing = workdir / "cscope.files"
    listing.write_text("".join(f"{TREE / f}\n" for f in files), encoding="utf-8")
    started = time.perf_counter()
    subprocess.run([cscope, "-b", "-q", "-k", "-i", str(listing)], cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    return sum(p.stat().st_size for p in workdir.glob("cscope*.out")), seconds


def run() -> Result:
    require(KEXPLORE, TREE, INDEX, SNIPPETS / SECOND)
    result = Result(NAME)
    scratch = SNIPPETS.parent / "build"  # beside the trees: hard links need the same file system
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kexplore-kernels-", dir=scratch) as tmp:
        log(f"{NAME}: indexing {SECOND} from nothing beside 6.1's index (shared), then alone (--no-share)")
        shared_s, shared = _index(_scratch(Path(tmp, "shared"), True), "--force")
        alone_s, alone = _index(_scratch(Path(tmp, "alone"), False), "--force", "--no-share")
        log(f"  shared: {shared_s:.1f} s ({shared['shared']} of {shared['files']} files copied); alone: {alone_s:.1f} s")
        db = sqlite3.connect(f"file:{INDEX}?mode=ro", uri=True)
        try:
            files = [row[0] for row in db.execute("SELECT path FROM files ORDER BY path")]
        finally:
            db.close()
        log(f"{NAME}: cscope -b -q -k over the {len(files)} files of the 6.1 index")
        workdir = Path(tmp, "cscope")
        workdir.mkdir()
        cscope_bytes, cscope_s = _cscope_bytes(files, workdir)
    index_bytes = INDEX.stat().st_size
    tables = table_bytes(INDEX)
    log("  6.1 index by table (with its indexes): " + ", ".join(f"{t} {b / 1e6:.0f} MB" for t, b in tables.items() if b >= 1e6))
    result.figures = {
        "second_kernel": SECOND,
        "shared": {"seconds": round(shared_s, 2), "files": shared["files"], "copied": shared["shared"]},
        "alone": {"seconds": round(alone_s, 2), "files": alone["files"]},
        "index_bytes": index_bytes,
        "index_tables": tables,
        "cscope_bytes": cscope_bytes,
        "cscope_seconds": round(cscope_s, 2),
        "files": len(files),
    }
    result.targets = [
        Target(f"index {SECOND} after 6.1 / alone", shared_s / alone_s, "x", SHARED_RATIO,
               note=f"{shared_s:.1f} s vs {alone_s:.1f} s, {shared['shared']} files copied"),
        Target("6.1 index size / cscope -b -q -k", index_bytes / cscope_bytes, "x", 1.0,
               note=f"{index_bytes / 1e6:.0f} MB vs {cscope_bytes / 1e6:.0f} MB"),
    ]
    result.commands = [
        f"kexplore index --kernel {SECOND} --force (beside 6.1's index) and --no-share, on scratch copies",
        "cscope -b -q -k -i cscope.files (the files of the 6.1 index)",
    ]
    return result


if __name__ == "__main__":
    sys.exit(run_alone(NAME, run))
