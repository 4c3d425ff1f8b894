"""Build a kernel's index: tree-sitter over the vendored tree, into SQLite.

Incremental by content: a file whose size and mtime are unchanged is trusted, any
other file is hashed, and only files whose sha256 changed are parsed again.  A
run that changes nothing writes nothing and never imports tree-sitter.

The new index is written to a temporary file beside the old one (a copy of it, when
updating) and renamed into place, so readers see the old index or the new one,
never half of either.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import itertools
import json
import operator
import os
import pickle
import re
import shutil
import signal
import sqlite3
import sys
import threading
import time
from array import array
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .config import KernelSpec, Project
from .lockfile import Lock, LockError, read_lock
from .opsgroups import group_ops_tables
from .progress import progress
from .resolve import PendingResolution
from .runlock import RunLockBusy, disk_error, kernel_run_lock, owner_gone, pid_tag
from .store import REF_ROLES, SCHEMA_VERSION, create_schema, ref_range
from .symbolcodes import KIND_CODES, REF_FILE_SHIFT, REF_PER_FILE, stored_signature_sql
from .syscalls import clear_derived, is_table
from .syscalls import derive as derive_syscalls

if TYPE_CHECKING:  # the parser (and tree-sitter) is imported only when a file is parsed
    from .cparse import DefinitionRow, ExportRow
    from .kerneldoc import DocRow
    from .syscalls import DispatchSite, TableRow
    from .xref import FnAssign, LocalUses, RefRow, TableAddress, TypeHint

SOURCE_SUFFIXES = (".c", ".h", ".S", ".tbl")
# Linker scripts go through the C preprocessor as .lds.S files but are not assembly: ENTRY(x) there names the entry point.
_SKIPPED_SUFFIXES = (".lds.S",)
_SERIAL_BELOW = 40  # fewer changed files than this are parsed in-process


class IndexBuildError(Exception):
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
    failed: list[ParseFailure] = field(default_factory=list)  # files skipped, with the reason
    partial: list[str] = field(default_factory=list)  # files indexed except what nests too deep
    shared: int = 0  # of `parsed`: files whose rows were copied from another kernel's index (same path, same content)
    shared_from: list[str] = field(default_factory=list)  # the kernels they were copied from

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
            "failed": [f._asdict() for f in self.failed],
            "partial": self.partial,
            "shared": self.shared,
            "shared_from": self.shared_from,
        }


def source_files(tree: Path) -> list[str]:
    """The .c/.h/.S files (linker scripts left out) and the system call tables below tree, as sorted POSIX
    paths relative to it."""
    out: list[str] = []
    stack = [(str(tree), "")]
    while stack:
        folder, rel = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                name = rel + entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, name + "/"))
                elif (entry.name.endswith(SOURCE_SUFFIXES) and not entry.name.endswith(_SKIPPED_SUFFIXES)
                      and (not entry.name.endswith(".tbl") or is_table(entry.name)) and entry.is_file(follow_symlinks=False)):
                    out.append(name)
    out.sort()
    return out


# ---------------------------------------------------------------- worker side

_parser = None

# A chunk's rows cross from the worker to the main process through the pool's pipe, pickled, as columns (integer
# columns as arrays: a pickled array is its bytes).  Every string a table interns (a name of `names`, a key of
# `access`) crosses once with a chunk-local id, and the rows carry those ids: the main process looks each distinct
# string of the chunk up once, maps the ids with a list (C code, no Python per row) and inserts the rows 64 a
# statement (_merge_chunk).  Nothing is written to disk between the parse and the index.
_CHUNK_FILES = 24
_CHUNKS_AHEAD = 2  # chunks asked of each worker ahead of the merge: bounds the rows held in the main process


class Job(NamedTuple):
    rel: str
    full: str
    refs: bool
    file_id: int
    sha256: str
    size: int
    mtime_ns: int


class ParsedFile(NamedTuple):
    lines: int
    error_nodes: int
    partial: bool  # nested deeper than the walkers follow: the deepest parts are left out
    definitions: list[DefinitionRow]
    digests: list[int]  # definition_digest of each definition's bytes, in the same order
    refs: list[RefRow]
    assigns: list[FnAssign]
    includes: list[str]  # tree paths the file's #include lines may name
    docs: list[DocRow]  # kernel-doc comments on the definitions they document
    exports: list[ExportRow]  # EXPORT_SYMBOL lines
    tables: list[TableAddress]  # ops table addresses of initializer elements
    locals: list[LocalUses]  # each function's locals and parameters with their uses
    type_hints: list[TypeHint]  # types of macro-declared locals and extern-only globals
    table: tuple[TableRow, ...] | list[TableRow] = ()  # a system call table's rows
    dispatch: tuple[DispatchSite, ...] | list[DispatchSite] = ()  # where a C file includes a generated system call header


class ParseFailure(NamedTuple):
    """A file that could not be indexed (it is skipped, the run goes on) and why, in one line."""

    path: str
    reason: str


def _parse_one(job: Job) -> ParsedFile:
    """Definitions, refs and function assignments of one file."""
    global _parser
    from .cparse import make_parser, parse_definitions
    from .includes import include_paths

    src = Path(job.full).read_bytes()
    if job.rel.endswith(".tbl"):
        from .syscalls import parse_table

        rows, bad = parse_table(src)
        lines = src.count(b"\n") + (1 if src and not src.endswith(b"\n") else 0)
        return ParsedFile(lines, bad, False, [], [], [], [], [], [], [], [], [], [], table=rows)
    if job.rel.endswith(".S"):
        from .asmparse import parse_asm

        result = parse_asm(src, job.rel, refs=job.refs)
    else:
        if _parser is None:
            _parser = make_parser()
        result = parse_definitions(_parser, src, job.rel, refs=job.refs)
    digests = [definition_digest(src[d.start_byte : d.end_byte]) for d in result.definitions]
    dispatch = []
    if job.rel.endswith(".c") and b"syscalls_" in src:
        from .syscalls import dispatch_sites

        dispatch = dispatch_sites(src, [(d.name, d.kind, d.start_byte, d.end_byte) for d in result.definitions])
    return ParsedFile(result.lines, result.error_nodes, result.partial, result.definitions, digests, result.refs,
                      result.assigns, include_paths(src, job.rel), result.docs, result.exports, result.tables,
                      result.locals, result.type_hints, dispatch=dispatch)


def definition_digest(text: bytes) -> int:
    """The symbols table's `digest`: a signed 48-bit hash of a definition's exact bytes (equal texts, equal
    digests), so that `kexplore changes` compares two kernels' definitions in SQL without reading a file.
    48 bits is SQLite's 6-byte integer (2 bytes a definition less than 64); two different texts of one
    name in two kernels compare equal with a chance of 1 in 2**48."""
    return int.from_bytes(hashlib.blake2b(text, digest_size=6).digest(), "big", signed=True)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no message"
    return f"{type(exc).__name__}: {text[:200]}"


class ChunkRows(NamedTuple):
    """One chunk's rows, as a worker hands them to the main process.

    `names` and `keys` list the chunk's distinct strings; the columns named `... id` hold their positions there
    (chunk-local ids), 0 standing for NULL (both lists start with None)."""

    files: list[tuple[int, str, str, int, int, int, int, int]]
    names: list[str | None]  # the strings the `names` table interns: symbol name/scope/cond/type, ref name/func/cond, ...
    keys: list[str | None]  # member-access keys (the `access` table)
    symbols: tuple[Sequence[Any], ...]  # name id, kind code, file_id, line, col, end_line, scope id, signature, cond id,
    # type id, start_line, start_byte, end_byte, digest
    refs: tuple[array[int], ...]  # rowid (file_id << REF_FILE_SHIFT | n), line, col, name id, role code, func id, cond id, key id
    ref_spans: list[tuple[int, int]]  # (rowid, end_col) of the uses whose end is not col + the name's length in bytes
    assigns: tuple[array[int], ...]  # file_id, line, key id, function id, tbl id
    includes: tuple[array[int], ...]  # file_id, path id
    tables: list[tuple[object, ...]]  # the small tables' rows, file_id first
    locals: list[tuple[int, str]]  # (rowid, data), sorted by rowid, the first of one rowid kept
    type_hints: list[tuple[object, ...]]
    docs: list[tuple[object, ...]]
    exports: list[tuple[object, ...]]
    syscall_table: list[tuple[object, ...]]
    syscall_dispatch: list[tuple[object, ...]]


class _Interner:
    """Chunk-local ids of strings, 0 for None; `ids(column)` maps a column without a Python call per value."""

    def __init__(self) -> None:
        self.table: defaultdict[str | None, int] = defaultdict(itertools.count(1).__next__)
        self.table[None] = 0

    def ids(self, column: Iterable[str | None]) -> map[int]:
        return map(self.table.__getitem__, column)

    def strings(self) -> list[str | None]:
        return list(self.table)  # in id order: a dict keeps its insertion order


_ROLE_CODES = {role: i for i, role in enumerate(REF_ROLES)}


def _parse_chunk(jobs: list[Job]) -> tuple[ChunkRows, int, list[ParseFailure]]:
    """Parse some files into one chunk's rows; runs in a worker (or in-process).

    A file that fails (unreadable, or a bug the parser meets on strange input) is left out
    and returned among the failures, with its reason: one file never stops the run."""
    names, keys = _Interner(), _Interner()
    files: list[tuple[int, str, str, int, int, int, int, int]] = []
    # the integer columns as arrays (8 bytes a value, pickled as their bytes, no Python object each); kind and
    # signature (columns 1 and 7, a code that may be NULL and a text) as lists
    symbols: tuple[Any, ...] = tuple([] if n in (1, 7) else array("q") for n in range(14))
    refs = tuple(array("q") for _ in range(8))
    ref_spans: list[tuple[int, int]] = []
    assigns = tuple(array("q") for _ in range(5))
    includes = (array("q"), array("q"))
    tables: list[tuple[object, ...]] = []
    locals_: list[tuple[int, str]] = []
    type_hints: list[tuple[object, ...]] = []
    docs: list[tuple[object, ...]] = []
    exports: list[tuple[object, ...]] = []
    syscall_table: list[tuple[object, ...]] = []
    syscall_dispatch: list[tuple[object, ...]] = []
    failures: list[ParseFailure] = []
    for job in jobs:
        try:
            parsed = _parse_one(job)
        except Exception as exc:  # any failure on one strange file: report it, index the rest
            failures.append(ParseFailure(job.rel, _one_line(exc)))
            continue
        file_id = int(job.file_id)
        fid = (file_id,)
        files.append((file_id, job.rel, job.sha256, job.size, job.mtime_ns, parsed.lines, parsed.error_nodes, int(parsed.partial)))
        if parsed.definitions:
            (name, kind, line, col, end_line, scope, signature, cond, type_, start_line, start_byte,
             end_byte) = zip(*parsed.definitions, strict=True)
            # symbol.kind by KIND_CODES (a kind not there: NULL, which the table refuses)
            for column, values in zip(symbols, (
                    names.ids(name), map(KIND_CODES.get, kind), itertools.repeat(file_id, len(name)), line, col, end_line, names.ids(scope),
                    signature, names.ids(cond), names.ids(type_), start_line, start_byte, end_byte, parsed.digests), strict=True):
                column.extend(values)
        # a file's uses past REF_PER_FILE (a million; the largest file of the core tree has 19,000) are left out
        kept = parsed.refs if len(parsed.refs) <= REF_PER_FILE else parsed.refs[:REF_PER_FILE]  # no copy of a list that fits
        if kept:
            line, col, end_col, name, role, func, cond, key = zip(*kept, strict=True)
            first = file_id << REF_FILE_SHIFT
            rowids = range(first, first + len(kept))
            byte_ends = map(operator.add, col, map(len, map(str.encode, name)))
            ref_spans += itertools.compress(zip(rowids, end_col, strict=True), map(operator.ne, end_col, byte_ends))
            ref_columns: tuple[Iterable[Any], ...] = (rowids, line, col, names.ids(name), map(_ROLE_CODES.__getitem__, role),
                                                      names.ids(func), names.ids(cond), keys.ids(key))
            for n, ref_values in enumerate(ref_columns):
                refs[n].extend(ref_values)
        if parsed.assigns:
            line, key, function, tbl = zip(*parsed.assigns, strict=True)
            assign_columns: tuple[Iterable[Any], ...] = (itertools.repeat(file_id, len(line)), line, keys.ids(key),
                                                         names.ids(function), names.ids(tbl))
            for n, assign_values in enumerate(assign_columns):
                assigns[n].extend(assign_values)
        includes[0].extend(itertools.repeat(file_id, len(parsed.includes)))
        includes[1].extend(names.ids(parsed.includes))
        tables += [fid + t for t in parsed.tables]
        # one function per name line (the first, as the index has always kept): rowid file_id << REF_FILE_SHIFT | line
        first_of_line: dict[int, str] = {}
        for use in parsed.locals:
            first_of_line.setdefault(use.line, use.data)
        locals_ += sorted(((file_id << REF_FILE_SHIFT) + line, data) for line, data in first_of_line.items())
        type_hints += [fid + h for h in parsed.type_hints]
        docs += [fid + d for d in parsed.docs]
        exports += [fid + e for e in parsed.exports]
        syscall_table += [fid + r for r in parsed.table]
        syscall_dispatch += [fid + d for d in parsed.dispatch]
    rows = ChunkRows(files, names.strings(), keys.strings(), symbols, refs, ref_spans, assigns, includes, tables, locals_,
                     type_hints, docs, exports, syscall_table, syscall_dispatch)
    return rows, len(jobs), failures


_ROWS_PER_STATEMENT = 64  # rows one INSERT ... VALUES binds: a quarter less CPU than a statement a row
_ROWS_PER_SLICE = 64 * _ROWS_PER_STATEMENT  # rows made Python objects at a time (a chunk of large files has 400,000 refs)


class _BulkInsert:
    """An INSERT of rows given as columns, _ROWS_PER_STATEMENT rows a statement (the rest one a statement).

    `values` is one row's VALUES tuple with its parameters written {1} .. {width} (an SQL expression may use
    one twice)."""

    def __init__(self, head: str, values: str, width: int) -> None:
        def row(first: int) -> str:
            return values.format("", *(f"?{first + i}" for i in range(width)))

        self.width = width
        self.single = f"{head} VALUES {row(1)}"
        self.multi = f"{head} VALUES " + ", ".join(row(1 + n * width) for n in range(_ROWS_PER_STATEMENT))

    def run(self, db: sqlite3.Connection, columns: Sequence[Iterable[object]], count: int) -> None:
        width = self.width
        sources = [iter(column) for column in columns]
        for start in range(0, count, _ROWS_PER_SLICE):
            rows = min(_ROWS_PER_SLICE, count - start)
            flat: list[object] = [None] * (width * rows)
            for i, source in enumerate(sources):  # a slice of the rows side by side in one list: no tuple a row
                flat[i::width] = itertools.islice(source, rows)  # (made a list first)
            values = iter(flat)
            whole = rows // _ROWS_PER_STATEMENT * _ROWS_PER_STATEMENT * width
            db.executemany(self.multi, zip(*[itertools.islice(values, whole)] * (width * _ROWS_PER_STATEMENT), strict=False))
            db.executemany(self.single, zip(*[values] * width, strict=False))


_SYMBOL_INSERT = _BulkInsert(
    "INSERT INTO symbol (name, kind, file_id, line, col, end_line, scope, signature, cond, type, start_line, start_byte, size, digest)",
    f"({{1}}, {{2}}, {{3}}, {{4}}, {{5}}, nullif({{6}}, {{4}}), {{7}}, {stored_signature_sql('{8}', '{15}')}, {{9}}, {{10}},"
    f" nullif({{11}}, {{4}}), {{12}}, {{13}} - {{12}}, {{14}})", 15)
_REF_INSERT = _BulkInsert("INSERT INTO ref (rowid, line, col, name, role, func, cond, access_id)",
                          "({1}, {2}, {3}, {4}, {5}, {6}, {7}, {8})", 8)
_INTERNED_INSERT = {table: _BulkInsert(f"INSERT INTO {table} ({column})", "({1})", 1) for table, column in (("names", "name"), ("access", "key"))}
# The small tables' rows, inserted as the worker made them, in this order: each table's pages are allocated as they
# always were (in the order of the statements that merged a chunk database into the index before).
_SMALL_INSERTS = (
    ("tables", "INSERT INTO tableaddr (file_id, line, holder, name) VALUES (?, ?, ?, ?)"),
    ("locals", "INSERT OR IGNORE INTO local (rowid, data) VALUES (?, ?)"),
    ("type_hints", "INSERT INTO typehints (file_id, name, type, origin) VALUES (?, ?, ?, ?)"),
)
_LATE_INSERTS = (
    ("docs", "INSERT INTO docs (file_id, name, def_line, line, summary, params, returns, context, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
    ("exports", "INSERT INTO exports (file_id, line, col, end_col, name, macro, namespace, cond) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
    ("syscall_table", "INSERT INTO syscall_table (file_id, line, number, abi, name, entry, compat) VALUES (?, ?, ?, ?, ?, ?, ?)"),
    ("syscall_dispatch", "INSERT INTO syscall_dispatch (file_id, line, col, header, prefix, definition, kind) VALUES (?, ?, ?, ?, ?, ?, ?)"),
)


def _index_ids(db: sqlite3.Connection, strings: list[str | None], table: str, column: str) -> list[int | None]:
    """The index's ids of a chunk's strings (position 0, None, stays None); the new ones are appended to `table` in
    sorted order (its ids follow the order of the chunks and, within a chunk, of the strings)."""
    # JSON text ends a string at a NUL (it would match the name before it): such a string goes as null, asked alone below
    asked = [None if s is None or "\0" in s else s for s in strings[1:]]
    found = db.execute(f"SELECT t.id FROM json_each(?) j LEFT JOIN {table} t ON t.{column} = j.value ORDER BY j.key",
                       (json.dumps(asked),)).fetchall()
    ids: list[int | None] = [None, *map(operator.itemgetter(0), found)]
    missing = list(map(operator.is_, ids, itertools.repeat(None)))  # [0], NULL, aside
    new: list[tuple[str, int]] = sorted(zip(itertools.compress(strings[1:], missing[1:]),  # type: ignore[arg-type]
                                            itertools.compress(range(1, len(ids)), missing[1:]), strict=True))
    for s, pos in [item for item in new if "\0" in item[0]]:  # asked on its own (above)
        row = db.execute(f"SELECT id FROM {table} WHERE {column} = ?", (s,)).fetchone()
        if row is not None:
            ids[pos] = row[0]
            new.remove((s, pos))
    if new:
        last = int(db.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0])
        _INTERNED_INSERT[table].run(db, [[s for s, _ in new]], len(new))
        if int(db.execute(f"SELECT max(id) FROM {table}").fetchone()[0]) != last + len(new):  # ids not max + 1: ask
            for s, pos in new:
                ids[pos] = db.execute(f"SELECT id FROM {table} WHERE {column} = ?", (s,)).fetchone()[0]
        else:
            for n, (_, pos) in enumerate(new, last + 1):
                ids[pos] = n
    return ids


def _merge_chunk(db: sqlite3.Connection, rows: ChunkRows) -> None:
    """Insert one chunk's rows (ChunkRows) into the index, its strings interned."""
    db.executemany("INSERT INTO files (id, path, sha256, size, mtime_ns, lines, error_nodes, partial) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   rows.files)
    names = _index_ids(db, rows.names, "names", "name")
    name_id = names.__getitem__
    s = rows.symbols
    _SYMBOL_INSERT.run(db, (map(name_id, s[0]), s[1], s[2], s[3], s[4], s[5], map(name_id, s[6]), s[7], map(name_id, s[8]),
                            map(name_id, s[9]), s[10], s[11], s[12], s[13], map(rows.names.__getitem__, s[0])), len(s[0]))
    key_id = _index_ids(db, rows.keys, "access", "key").__getitem__
    r = rows.refs
    _REF_INSERT.run(db, (r[0], r[1], r[2], map(name_id, r[3]), r[4], map(name_id, r[5]), map(name_id, r[6]), map(key_id, r[7])),
                    len(r[0]))
    db.executemany("INSERT INTO ref_span (id, end_col) VALUES (?, ?)", rows.ref_spans)
    a = rows.assigns
    db.executemany("INSERT INTO assign (file_id, line, access_id, function, tbl) VALUES (?, ?, ?, ?, ?)",
                   zip(a[0], a[1], map(key_id, a[2]), map(name_id, a[3]), map(name_id, a[4]), strict=True))
    for attr, sql in _SMALL_INSERTS:
        db.executemany(sql, getattr(rows, attr))
    db.executemany("INSERT INTO include (file_id, path) VALUES (?, ?)", zip(rows.includes[0], map(name_id, rows.includes[1]), strict=True))
    for attr, sql in _LATE_INSERTS:
        db.executemany(sql, getattr(rows, attr))


# ---------------------------------------------------------------- main side


# The modules that turn C into rows, and (found by following their relative imports)
# every module of the package they use; the indexer's own file holds the chunk schema.
_ROW_CODE_ROOTS = ("cparse", "xref", "resolve", "asmparse", "syscalls", "opsgroups")
_RELATIVE_IMPORT = re.compile(r"^[ \t]*from[ \t]+(\.+)([\w.]*)[ \t]+import[ \t]+\(?([\w, \t]+)", re.MULTILINE)


def _module_files(package: Path, folder: Path, dotted: str) -> list[Path]:
    """The .py files of module `dotted` below `folder` (one file, or every file of a subpackage)."""
    target = folder.joinpath(*dotted.split(".")) if dotted else folder
    if target.with_suffix(".py").is_file():
        found = [target.with_suffix(".py")]
    elif target.is_dir() and target != package:
        found = sorted(target.rglob("*.py"))
    else:
        return []
    return [f for f in found if package in f.resolve().parents]


def row_code_files() -> list[Path]:
    """The source files whose change changes what the index holds, sorted; the walk is iterative."""
    package = Path(__file__).resolve().parent
    seen: set[Path] = {package / "indexer.py"}
    todo = [f for root in _ROW_CODE_ROOTS for f in _module_files(package, package, root)]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for dots, dotted, names in _RELATIVE_IMPORT.findall(path.read_text(encoding="utf-8")):
            folder = path.parent
            for _ in range(len(dots) - 1):
                folder = folder.parent
            if dotted:
                todo.extend(_module_files(package, folder, dotted))
            else:  # from . import a, b
                for name in re.findall(r"\w+", names):
                    todo.extend(_module_files(package, folder, name))
    queries = package / "queries"
    if queries.is_dir():
        seen.update(queries.rglob("*.scm"))
    return sorted(seen)


@functools.cache
def _dist_info_folders() -> list[str]:
    """The names of the `*.dist-info` folders on sys.path, in its order (each folder listed once a process)."""
    out: list[str] = []
    for entry in sys.path:
        try:
            out.extend(name for name in os.listdir(entry or ".") if name.endswith(".dist-info"))
        except OSError:
            continue
    return out


def installed_version(dist: str) -> str | None:
    """The installed version of distribution `dist`, or None.

    Read from the name of its `NAME-VERSION.dist-info` folder on sys.path, which is what
    `importlib.metadata.version` finds too, without importing importlib.metadata and the email parser it
    reads METADATA with (about 0.04 s of every warm `kexplore index`); importlib.metadata answers where no
    such folder is found (an egg, a zip)."""
    prefix = re.sub(r"[-_.]+", "_", dist).lower() + "-"
    for name in _dist_info_folders():
        if name.lower().startswith(prefix):
            return name[len(prefix) : -len(".dist-info")]
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def indexer_version() -> str:
    """Changes whenever what turns C into rows changes (code, schema, tree-sitter): then every file is parsed again.

    A change to the resolver is such a change too: the new index then resolves every
    member access again instead of trusting the keys marked done.
    """
    digest = hashlib.sha256(f"schema {SCHEMA_VERSION}\n".encode())
    for dist in ("tree-sitter", "tree-sitter-c"):
        digest.update(f"{dist} {installed_version(dist) or 'none'}\n".encode())
    package = Path(__file__).resolve().parent
    for path in row_code_files():
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _existing(db_path: Path) -> dict[str, tuple[str, int, int]]:
    """path → (sha256, size, mtime_ns) of the current index, or {} if it cannot be reused."""
    if not db_path.is_file():
        return {}
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            version = db.execute("SELECT value FROM meta WHERE key='indexer_version'").fetchone()
            if not version or version[0] != indexer_version():
                return {}
            return {p: (s, z, m) for p, s, z, m in db.execute("SELECT path, sha256, size, mtime_ns FROM files")}
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return {}


def build_index(project: Project, kernel: str | None = None, force: bool = False, jobs: int | None = None,
                share: bool = True) -> IndexResult:
    """Index one kernel.  share: copy the rows of a file that another kernel's index holds with the same
    path and content (and the same indexer) instead of parsing it again."""
    spec = project.kernel(kernel)
    try:
        with kernel_run_lock(project.snippets, spec.name, "index"):
            return _build_locked(project, spec, force, jobs, share)
    except RunLockBusy as exc:
        raise IndexBuildError(str(exc)) from None
    except OSError as exc:  # a read-only or full disk, a file where the index folder must go
        raise IndexBuildError(f"indexing {spec.name} failed: {disk_error(exc)}; the previous index is kept") from None
    except sqlite3.OperationalError as exc:  # "database or disk is full", "attempt to write a readonly database"
        name = getattr(exc, "sqlite_errorname", None)
        detail = f"{exc} ({name})" if name else str(exc)  # SQLite names a write error, not its cause
        raise IndexBuildError(f"indexing {spec.name} failed: {detail}; the previous index is kept") from None


def _build_locked(project: Project, spec: KernelSpec, force: bool, jobs: int | None, share: bool) -> IndexResult:
    started = time.perf_counter()
    tree = project.tree(spec.name)
    if not tree.is_dir():
        raise IndexBuildError(f"no vendored tree at {tree}: run `kexplore vendor` first")
    db_path = project.index_path(spec.name)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(db_path, spec.name)

    files = source_files(tree)
    old = {} if force else _existing(db_path)
    current: dict[str, tuple[str, int, int]] = {}
    to_parse: list[str] = []
    touched: list[str] = []  # same content, new mtime: metadata only
    root = str(tree) + os.sep
    for rel in files:
        st = os.stat(root + rel)
        prev = old.get(rel)
        if prev and prev[1] == st.st_size and prev[2] == st.st_mtime_ns:
            current[rel] = prev
            continue
        with open(root + rel, "rb") as fh:
            sha = hashlib.sha256(fh.read()).hexdigest()
        current[rel] = (sha, st.st_size, st.st_mtime_ns)
        if prev and prev[0] == sha:
            touched.append(rel)
        else:
            to_parse.append(rel)
    removed = sorted(old.keys() - current.keys())

    if old and not to_parse and not removed and not touched:
        symbols, error_files = _counts(db_path)
        return IndexResult(spec.name, str(db_path), len(files), 0, 0, symbols, error_files, time.perf_counter() - started)
    # what only a run that writes needs (an index with nothing to do answers without them: the warm run's time)
    try:
        lock = read_lock(project.lock_path(spec.name))  # recorded in the index's meta
    except LockError as exc:
        raise IndexBuildError(str(exc)) from None
    donors = _donors(project, spec) if share else []

    tmp = db_path.with_name(f".{db_path.name}.tmp-{pid_tag()}")
    db: sqlite3.Connection | None = None
    try:
        if old:
            shutil.copyfile(db_path, tmp)
        elif tmp.exists():
            tmp.unlink()
        db = sqlite3.connect(tmp)
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        create_schema(db, indexes=bool(old))
        failed, shared = _write(db, tree, spec, to_parse, touched, removed, current, jobs, donors)
        pending = _resolve_beside_indexes(db, tmp)
        pending.finish(db)
        derive_syscalls(db)
        group_ops_tables(db)
        _write_meta(db, lock, spec.name)
        db.commit()
        symbols, errors = _counts_in(db)
        partial = [row[0] for row in db.execute("SELECT path FROM files WHERE partial ORDER BY path")]
        db.close()
        db = None
        os.replace(tmp, db_path)
    except BaseException:
        if db is not None:
            with suppress(sqlite3.Error):
                db.close()
        with suppress(OSError):  # a failing cleanup must not hide the error that stopped the run
            tmp.unlink(missing_ok=True)
            for suffix in ("-wal", "-shm"):  # left by a run stopped while the indexes were built
                tmp.with_name(tmp.name + suffix).unlink(missing_ok=True)
        raise
    return IndexResult(
        spec.name, str(db_path), len(files), len(to_parse), len(removed), symbols, errors,
        time.perf_counter() - started, changed=to_parse, failed=sorted(failed), partial=partial,
        shared=sum(shared.values()), shared_from=sorted(k for k, n in shared.items() if n),
    )


def _resolve_beside_indexes(db: sqlite3.Connection, path: Path) -> PendingResolution:
    """Build the indexes (after a bulk load they are cheaper than during it) while the resolver reads the
    type tables and resolves the member accesses on the other core, not after: SQLite builds an index with
    the GIL released, and in WAL mode a reader (the resolver's own connection) reads the rows beside the
    writer.  The keys that need a query of refs are left to PendingResolution.finish, once the indexes exist."""
    db.commit()
    if db.execute("PRAGMA journal_mode=WAL").fetchone()[0] != "wal":  # no WAL here (no shared memory): read first
        early = PendingResolution(db)
        _beside(early.compute, lambda: create_schema(db))
        return early
    done: list[PendingResolution] = []

    def resolve() -> None:
        reader = sqlite3.connect(path, timeout=60)
        try:
            pending = PendingResolution(reader)
        finally:
            reader.close()
        pending.compute()
        done.append(pending)

    try:  # the views stay as they are (made before the bulk load): the resolver's connection reads through them
        _beside(resolve, lambda: create_schema(db, views=False))
    finally:
        db.commit()
        db.execute("PRAGMA journal_mode=OFF")  # back to one file (the -wal and -shm files go)
    return done[0]


def _beside(background: Callable[[], None], foreground: Callable[[], None]) -> None:
    """Run background in a thread while foreground runs here; an exception of either is raised here."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            background()
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="kexplore-background", daemon=True)
    thread.start()
    try:
        foreground()
    finally:
        thread.join()
    if failure:
        raise failure[0]


def _write(db: sqlite3.Connection, tree: Path, spec: KernelSpec, to_parse: list[str], touched: list[str], removed: list[str],
           current: dict[str, tuple[str, int, int]], jobs: int | None,
           donors: list[Donor]) -> tuple[list[ParseFailure], dict[str, int]]:
    clear_derived(db)  # before any file's rows go: derived rows point into them
    for rel in removed + to_parse:
        row = db.execute("SELECT id FROM files WHERE path = ?", (rel,)).fetchone()
        if row is None:
            continue
        for table in _PER_FILE_TABLES:
            db.execute(f"DELETE FROM {table} WHERE file_id = ?", row)
        for table, key in FILE_RANGE_TABLES.items():
            db.execute(f"DELETE FROM {table} WHERE {key} BETWEEN ? AND ?", ref_range(row[0]))
        db.execute("DELETE FROM files WHERE id = ?", row)
    for rel in touched:
        _, size, mtime = current[rel]
        db.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime, rel))

    shared: dict[str, int] = {}
    for donor in donors:
        if not to_parse:
            break
        copied = _copy_from(db, donor, spec, to_parse, current)
        shared[donor.kernel] = len(copied)
        if copied:
            to_parse = [rel for rel in to_parse if rel not in copied]
    first_id = int(db.execute("SELECT coalesce(max(id), 0) FROM files").fetchone()[0]) + 1
    # biggest files first, so no worker is left with a large file at the end
    ordered = sorted(to_parse, key=lambda rel: -current[rel][1])
    work = [
        Job(rel, str(tree / rel), spec.records_refs(rel), first_id + i, *current[rel])
        for i, rel in enumerate(ordered)
    ]
    chunks = [work[i : i + _CHUNK_FILES] for i in range(0, len(work), _CHUNK_FILES)]
    failed: list[ParseFailure] = []
    with progress(f"indexing {spec.name}", len(work)) as bar:
        for rows, count, failures in _run_chunks(chunks, jobs):
            failed += failures
            _merge_chunk(db, rows)
            db.commit()
            bar.advance(count)
    _trim_heap()
    return failed, shared


# ---------------------------------------------------------------- sharing between kernels


class Donor(NamedTuple):
    """Another kernel's index, built by the same indexer, whose rows a file of the same content may reuse."""

    kernel: str
    path: Path
    spec: KernelSpec


# The tables holding one file's rows (`file_id`), and which of their columns are ids of the
# `access` table (keys re-interned in the receiving index, whose resolver resolves them afresh).
_PER_FILE_TABLES: dict[str, dict[str, str]] = {
    "symbol": {"name": "names", "scope": "names", "cond": "names", "type": "names"},
    "assign": {"access_id": "access", "function": "names", "tbl": "names"}, "include": {"path": "names"},
    "docs": {}, "exports": {}, "syscall_table": {}, "syscall_dispatch": {}, "tableaddr": {}, "typehints": {},
}
# The tables interned columns point into, and the column their ids stand for.
_INTERNED = {"access": "key", "names": "name"}
# The tables whose rows are a file's by their rowid (explorer/store.py, ref_range), and that rowid's column.
FILE_RANGE_TABLES: dict[str, str] = {"ref": "rowid", "ref_span": "id", "local": "rowid"}
# Rows made from the others after every run (explorer/syscalls.py, explorer/opsgroups.py): never copied, derived again.
DERIVED_TABLES = frozenset({"table_calls", "derived_symbols", "syscall_entries", "opsgroup"})
_SHARE_BATCH = 2000  # files per copy: bounds the temporary mapping table


def _donors(project: Project, spec: KernelSpec) -> list[Donor]:
    """The other kernels' indexes that this indexer built (a different indexer's rows would differ)."""
    version = indexer_version()
    out: list[Donor] = []
    for name, other in sorted(project.kernels.items()):
        path = project.index_path(name)
        if name == spec.name or not path.is_file():
            continue
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                row = db.execute("SELECT value FROM meta WHERE key='indexer_version'").fetchone()
            finally:
                db.close()
        except sqlite3.DatabaseError:
            continue  # a damaged index is no donor; its own kernel's commands report it
        if row and row[0] == version:
            out.append(Donor(name, path, other))
    return out


def _copy_from(db: sqlite3.Connection, donor: Donor, spec: KernelSpec, to_parse: list[str],
               current: dict[str, tuple[str, int, int]]) -> set[str]:
    """Copy the rows of every file in to_parse that the donor holds with the same path and sha256 (and the
    same choice of recording references); the set of those paths.  Nothing is parsed."""
    db.execute("ATTACH DATABASE ? AS donor", (str(donor.path),))  # read only: nothing here writes to it
    copied: set[str] = set()
    try:
        db.execute("CREATE TEMP TABLE IF NOT EXISTS share_want (path TEXT PRIMARY KEY, sha256 TEXT, mtime_ns INTEGER)")
        db.execute("CREATE TEMP TABLE IF NOT EXISTS share_map (donor_id INTEGER PRIMARY KEY, new_id INTEGER, mtime_ns INTEGER)")
        wanted = [rel for rel in to_parse if spec.records_refs(rel) == donor.spec.records_refs(rel)]
        columns = {t: [r[1] for r in db.execute(f"PRAGMA main.table_info({t})")] for t in _PER_FILE_TABLES}
        donor_columns = {t: {r[1] for r in db.execute(f"PRAGMA donor.table_info({t})")} for t in _PER_FILE_TABLES}
        if any(set(columns[t]) - {"id"} - donor_columns[t] for t in _PER_FILE_TABLES):
            return copied  # another schema: nothing to share
        without_rowid = {name for name, sql in db.execute("SELECT name, sql FROM donor.sqlite_master WHERE type = 'table'")
                         if sql and "WITHOUT ROWID" in sql.upper()}
        with progress(f"copying unchanged files from {donor.kernel}", len(wanted)) as bar:
            for start in range(0, len(wanted), _SHARE_BATCH):
                batch = wanted[start : start + _SHARE_BATCH]
                db.execute("DELETE FROM share_want")
                db.execute("DELETE FROM share_map")
                db.executemany("INSERT INTO share_want VALUES (?, ?, ?)", [(rel, current[rel][0], current[rel][2]) for rel in batch])
                first_id = int(db.execute("SELECT coalesce(max(id), 0) FROM files").fetchone()[0]) + 1
                db.execute(
                    "INSERT INTO share_map SELECT f.id, ? + row_number() OVER (ORDER BY f.id) - 1, w.mtime_ns"
                    " FROM donor.files f JOIN share_want w ON w.path = f.path AND w.sha256 = f.sha256",
                    (first_id,),
                )
                db.execute(
                    "INSERT INTO files (id, path, sha256, size, mtime_ns, lines, error_nodes, partial)"
                    " SELECT m.new_id, f.path, f.sha256, f.size, m.mtime_ns, f.lines, f.error_nodes, f.partial"
                    " FROM share_map m JOIN donor.files f ON f.id = m.donor_id"
                )
                db.execute(
                    f"INSERT OR IGNORE INTO access (key) SELECT a.key FROM share_map m"
                    f" JOIN donor.ref r ON {_DONOR_RANGE.format('r.rowid')} JOIN donor.access a ON a.id = r.access_id"
                    f" UNION SELECT a.key FROM share_map m"
                    f" JOIN donor.assign x ON x.file_id = m.donor_id JOIN donor.access a ON a.id = x.access_id"
                )
                _copy_refs(db)
                for table, interned in _PER_FILE_TABLES.items():
                    cols = [c for c in columns[table] if c != "id"]
                    picks, joins = [], []
                    for col in cols:
                        if col == "file_id":
                            picks.append("m.new_id")
                        elif col in interned:
                            into, key = interned[col], _INTERNED[interned[col]]
                            if into == "names":  # access keys are in already (above)
                                db.execute(f"INSERT OR IGNORE INTO main.names (name) SELECT d.name FROM share_map m"
                                           f" JOIN donor.{table} t ON t.file_id = m.donor_id JOIN donor.names d ON d.id = t.{col}")
                            joins.append(f" LEFT JOIN donor.{into} d_{col} ON d_{col}.id = t.{col}"
                                         f" LEFT JOIN main.{into} n_{col} ON n_{col}.{key} = d_{col}.{key}")
                            picks.append(f"n_{col}.id")
                        else:
                            picks.append(f"t.{col}")
                    # the donor's derived wrapper definitions are its own; this index derives its own
                    derived = " WHERE t.id NOT IN (SELECT symbol_id FROM donor.derived_symbols)" if table == "symbol" else ""
                    order = "" if table in without_rowid else " ORDER BY t.rowid"  # rows in the donor's order
                    db.execute(
                        f"INSERT INTO main.{table} ({', '.join(cols)}) SELECT {', '.join(picks)}"
                        f" FROM share_map m JOIN donor.{table} t ON t.file_id = m.donor_id{''.join(joins)}{derived}{order}"
                    )
                copied.update(row[0] for row in db.execute(
                    "SELECT f.path FROM share_map m JOIN donor.files f ON f.id = m.donor_id"))
                db.commit()
                bar.advance(len(batch))
    finally:
        db.commit()
        db.execute("DETACH DATABASE donor")
    return copied


# A donor file's rowids in a table of FILE_RANGE_TABLES; {0}: the rowid column.
_DONOR_RANGE = f"{{0}} BETWEEN m.donor_id << {REF_FILE_SHIFT} AND (m.donor_id << {REF_FILE_SHIFT}) + {REF_PER_FILE - 1}"


def _copy_refs(db: sqlite3.Connection) -> None:
    """The `ref`, `ref_span` and `local` rows of the files of share_map, with the donor's names interned here and its
    access keys given this index's ids; each use keeps its place in its file."""
    moved = f"(m.new_id << {REF_FILE_SHIFT}) + {{0}} - (m.donor_id << {REF_FILE_SHIFT})"
    in_range = _DONOR_RANGE.format("t.rowid")
    db.execute(
        f"INSERT OR IGNORE INTO main.names (name) SELECT d.name FROM share_map m JOIN donor.ref t ON {in_range}"
        f" JOIN donor.names d ON d.id = t.name UNION SELECT d.name FROM share_map m JOIN donor.ref t ON {in_range}"
        f" JOIN donor.names d ON d.id = t.func UNION SELECT d.name FROM share_map m JOIN donor.ref t ON {in_range}"
        f" JOIN donor.names d ON d.id = t.cond"
    )
    db.execute(
        f"INSERT INTO main.ref (rowid, line, col, name, role, func, cond, access_id)"
        f" SELECT {moved.format('t.rowid')}, t.line, t.col, nn.id, t.role, nf.id, nc.id, na.id"
        f" FROM share_map m JOIN donor.ref t ON {in_range}"
        f" JOIN donor.names dn ON dn.id = t.name JOIN main.names nn ON nn.name = dn.name"
        f" LEFT JOIN donor.names df ON df.id = t.func LEFT JOIN main.names nf ON nf.name = df.name"
        f" LEFT JOIN donor.names dc ON dc.id = t.cond LEFT JOIN main.names nc ON nc.name = dc.name"
        f" LEFT JOIN donor.access da ON da.id = t.access_id LEFT JOIN main.access na ON na.key = da.key"
        f" ORDER BY m.donor_id, t.rowid"
    )
    db.execute(
        f"INSERT INTO main.ref_span (id, end_col) SELECT {moved.format('t.id')}, t.end_col"
        f" FROM share_map m JOIN donor.ref_span t ON {_DONOR_RANGE.format('t.id')}"
    )
    db.execute(
        f"INSERT INTO main.local (rowid, data) SELECT {moved.format('t.rowid')}, t.data"
        f" FROM share_map m JOIN donor.local t ON {in_range} ORDER BY m.donor_id, t.rowid"
    )


def _trim_heap() -> None:
    """Give the C heap's free pages back to the system (glibc's malloc_trim; elsewhere nothing): the chunks'
    arrays are freed but their pages stay the process's otherwise, and the index build after the merge needs
    its own (the main process's peak memory is in that build)."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        return


def _die_with_parent(parent: int) -> None:
    """In a worker: be killed when the indexing process dies, even by SIGKILL, instead of parsing on for nobody.

    Linux's PR_SET_PDEATHSIG; elsewhere a worker finishes its chunk and exits on its own.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _run_chunks(chunks: list[list[Job]], jobs: int | None) -> Iterator[tuple[ChunkRows, int, list[ParseFailure]]]:
    workers = jobs or os.cpu_count() or 1
    files = sum(len(c) for c in chunks)
    if workers <= 1 or files < _SERIAL_BELOW:
        for chunk in chunks:
            yield _parse_chunk(chunk)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
        # in submission order: each chunk's rows (and the names it interns first) land after the previous
        # chunk's, so the tables grow at their end (full pages) and the same tree gives the same index; at most
        # _CHUNKS_AHEAD chunks a worker are asked for before the main process takes their rows
        todo = iter(chunks)
        pending = deque(pool.apply_async(_parse_chunk_pickled, (chunk,)) for chunk in itertools.islice(todo, workers * _CHUNKS_AHEAD))
        while pending:
            data, count, failures = pending.popleft().get()
            for chunk in itertools.islice(todo, 1):
                pending.append(pool.apply_async(_parse_chunk_pickled, (chunk,)))
            rows = pickle.loads(data)
            del data
            yield rows, count, failures


def _parse_chunk_pickled(jobs: list[Job]) -> tuple[bytes, int, list[ParseFailure]]:
    """_parse_chunk in a worker, its rows pickled here: the chunks that wait for the merge wait as bytes in the
    main process (its pool thread would make them Python objects as they come), and only the chunk merged is
    made objects again."""
    rows, count, failures = _parse_chunk(jobs)
    return pickle.dumps(rows, pickle.HIGHEST_PROTOCOL), count, failures


def _write_meta(db: sqlite3.Connection, lock: Lock | None, kernel: str) -> None:
    from importlib.metadata import version

    meta = {
        "kernel": kernel,
        "indexer_version": indexer_version(),
        "source": json.dumps(lock.source if lock else {}, sort_keys=True),
        "indexed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tree_sitter": version("tree-sitter"),
        "tree_sitter_c": version("tree-sitter-c"),
    }
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())


def _remove_stale_temporaries(db_path: Path, kernel: str) -> None:
    """Temporary indexes and chunk folders of runs whose process is gone (killed, crashed) are removed."""
    folder = db_path.parent
    tmp_prefix = f".{db_path.name}.tmp-"
    for stale in folder.glob(f"{glob.escape(tmp_prefix)}*"):
        if owner_gone(stale.name, tmp_prefix):
            stale.unlink(missing_ok=True)
    chunk_prefix = f".chunks-{kernel}-"
    for stale in folder.glob(".chunks-*"):
        # .chunks-KERNEL-pidN-random, or .chunks-random from before chunk folders carried a pid
        if owner_gone(stale.name, chunk_prefix) or owner_gone(stale.name, ".chunks-"):
            shutil.rmtree(stale, ignore_errors=True)


def _counts(db_path: Path) -> tuple[int, int]:
    """(definitions, files with ERROR regions) of an index."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return _counts_in(db)
    finally:
        db.close()


def _counts_in(db: sqlite3.Connection) -> tuple[int, int]:
    symbols = db.execute("SELECT count(*) FROM symbol").fetchone()[0]
    errors = db.execute("SELECT count(*) FROM files WHERE error_nodes > 0").fetchone()[0]
    return int(symbols), int(errors)
