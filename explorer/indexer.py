"""Build a kernel's index: tree-sitter over the vendored tree, into SQLite.

Incremental by content: a file whose size and mtime are unchanged is trusted, any
other file is hashed, and only files whose sha256 changed are parsed again.  A
run that changes nothing writes nothing and never imports tree-sitter.

The new index is written to a temporary file beside the old one (a copy of it, when
updating) and renamed into place, so readers see the old index or the new one,
never half of either.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import Project
from .progress import progress
from .store import SCHEMA_VERSION, create_schema

SOURCE_SUFFIXES = (".c", ".h")
_SERIAL_BELOW = 40  # fewer changed files than this are parsed in-process


class IndexError_(Exception):
    """The index could not be built; the message says why and what to do."""


@dataclass
class IndexResult:
    kernel: str
    path: str
    files: int
    parsed: int
    removed: int
    symbols: int
    error_files: int
    seconds: float
    changed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "kernel": self.kernel,
            "index": self.path,
            "files": self.files,
            "parsed": self.parsed,
            "removed": self.removed,
            "symbols": self.symbols,
            "files_with_errors": self.error_files,
            "seconds": round(self.seconds, 3),
        }


def source_files(tree: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames.sort()
        for name in filenames:
            if name.endswith(SOURCE_SUFFIXES):
                out.append(Path(dirpath, name).relative_to(tree).as_posix())
    out.sort()
    return out


# ---------------------------------------------------------------- worker side

_parser = None


def _parse_one(job: tuple[str, str]) -> tuple[str, int, int, list[tuple]]:
    """(path, lines, error_nodes, definitions) for one file; runs in a worker."""
    global _parser
    from .cparse import make_parser, parse_definitions

    if _parser is None:
        _parser = make_parser()
    rel, full = job
    src = Path(full).read_bytes()
    result = parse_definitions(_parser, src, rel)
    return rel, result.lines, result.error_nodes, [tuple(d) for d in result.definitions]


# ---------------------------------------------------------------- main side


def _existing(db_path: Path) -> dict[str, tuple[str, int, int]]:
    """path → (sha256, size, mtime_ns) of the current index, or {} if it cannot be reused."""
    if not db_path.is_file():
        return {}
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if not version or int(version[0]) != SCHEMA_VERSION:
                return {}
            return {p: (s, z, m) for p, s, z, m in db.execute("SELECT path, sha256, size, mtime_ns FROM files")}
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return {}


def build_index(project: Project, kernel: str | None = None, force: bool = False, jobs: int | None = None) -> IndexResult:
    started = time.perf_counter()
    spec = project.kernel(kernel)
    tree = project.tree(spec.name)
    if not tree.is_dir():
        raise IndexError_(f"no vendored tree at {tree}: run `kexplore vendor` first")
    db_path = project.index_path(spec.name)
    db_path.parent.mkdir(parents=True, exist_ok=True)

    files = source_files(tree)
    old = {} if force else _existing(db_path)
    current: dict[str, tuple[str, int, int]] = {}
    to_parse: list[str] = []
    touched: list[str] = []  # same content, new mtime: metadata only
    for rel in files:
        st = (tree / rel).stat()
        prev = old.get(rel)
        if prev and prev[1] == st.st_size and prev[2] == st.st_mtime_ns:
            current[rel] = prev
            continue
        sha = hashlib.sha256((tree / rel).read_bytes()).hexdigest()
        current[rel] = (sha, st.st_size, st.st_mtime_ns)
        if prev and prev[0] == sha:
            touched.append(rel)
        else:
            to_parse.append(rel)
    removed = sorted(old.keys() - current.keys())

    if old and not to_parse and not removed and not touched:
        return IndexResult(spec.name, str(db_path), len(files), 0, 0, _symbol_count(db_path), _error_files(db_path), time.perf_counter() - started)

    tmp = db_path.with_name(f".{db_path.name}.tmp-{os.getpid()}")
    try:
        if old:
            shutil.copyfile(db_path, tmp)
        elif tmp.exists():
            tmp.unlink()
        db = sqlite3.connect(tmp)
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        create_schema(db)
        _write(db, tree, spec.name, to_parse, touched, removed, current, jobs)
        _write_meta(db, project, spec.name)
        db.commit()
        symbols = int(db.execute("SELECT count(*) FROM symbols").fetchone()[0])
        errors = int(db.execute("SELECT count(*) FROM files WHERE error_nodes > 0").fetchone()[0])
        db.close()
        os.replace(tmp, db_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return IndexResult(
        spec.name, str(db_path), len(files), len(to_parse), len(removed), symbols, errors,
        time.perf_counter() - started, changed=to_parse,
    )


def _write(db: sqlite3.Connection, tree: Path, kernel: str, to_parse: list[str], touched: list[str], removed: list[str], current: dict[str, tuple[str, int, int]], jobs: int | None) -> None:
    for rel in removed + to_parse:
        db.execute("DELETE FROM symbols WHERE file_id IN (SELECT id FROM files WHERE path = ?)", (rel,))
        db.execute("DELETE FROM files WHERE path = ?", (rel,))
    for rel in touched:
        sha, size, mtime = current[rel]
        db.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime, rel))

    jobs_list = [(rel, str(tree / rel)) for rel in to_parse]
    with progress(f"indexing {kernel}", len(jobs_list)) as bar:
        for rel, lines, errors, defs in _run_parsers(jobs_list, jobs):
            sha, size, mtime = current[rel]
            cur = db.execute(
                "INSERT INTO files (path, sha256, size, mtime_ns, lines, error_nodes) VALUES (?, ?, ?, ?, ?, ?)",
                (rel, sha, size, mtime, lines, errors),
            )
            file_id = cur.lastrowid
            db.executemany(
                "INSERT INTO symbols (name, kind, line, col, end_line, scope, signature, cond, file_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [d + (file_id,) for d in defs],
            )
            bar.advance()


def _run_parsers(jobs_list: list[tuple[str, str]], jobs: int | None):  # type: ignore[no-untyped-def]
    workers = jobs or os.cpu_count() or 1
    if workers <= 1 or len(jobs_list) < _SERIAL_BELOW:
        for job in jobs_list:
            yield _parse_one(job)
        return
    import multiprocessing

    # biggest files first, so no worker is left with a large file at the end
    jobs_list = sorted(jobs_list, key=lambda j: -os.path.getsize(j[1]))
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        yield from pool.imap_unordered(_parse_one, jobs_list, chunksize=4)


def _write_meta(db: sqlite3.Connection, project: Project, kernel: str) -> None:
    import tree_sitter
    import tree_sitter_c

    lock_source = {}
    lock_path = project.lock_path(kernel)
    if lock_path.is_file():
        try:
            lock_source = json.loads(lock_path.read_text(encoding="utf-8")).get("source", {})
        except json.JSONDecodeError:
            lock_source = {}
    from importlib.metadata import version

    meta = {
        "kernel": kernel,
        "source": json.dumps(lock_source, sort_keys=True),
        "indexed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tree_sitter": version("tree-sitter"),
        "tree_sitter_c": version("tree-sitter-c"),
    }
    del tree_sitter, tree_sitter_c
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())


def _symbol_count(db_path: Path) -> int:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM symbols").fetchone()[0])
    finally:
        db.close()


def _error_files(db_path: Path) -> int:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM files WHERE error_nodes > 0").fetchone()[0])
    finally:
        db.close()
