"""The system call tables: from the dispatch code to each `SYSCALL_DEFINEn` body.

x86 numbers its system calls in arch/x86/entry/syscalls/syscall_64.tbl and syscall_32.tbl.
The build turns each table into a header (asm/syscalls_64.h, syscalls_x32.h, syscalls_32.h:
one `__SYSCALL(nr, entry)` line per row) that the dispatch code includes after defining
`__SYSCALL` to make a switch case (`x64_sys_call`, 6.1.x stable and 6.12) or an array entry
(`sys_call_table[]`, older kernels).  Those headers are generated, so no C in the tree spells the
calls out.  This module reads them from the sources instead:

- `parse_table` reads a `.tbl` file's rows (number, ABI, name, entry point, compat entry point);
- `dispatch_sites` finds, in a C file, each `#include <asm/syscalls_*.h>` line, the definition it
  sits in (the function with the switch, or the table variable) and the prefix the `__SYSCALL`
  defined just before pastes onto each entry (`__x64_##sym`);
- `derive` (run by the indexer after every change) makes each row a call edge from the dispatching
  function to `PREFIX + entry` (`via` `syscall_64.tbl #50`), defines `__x64_sys_listen` where
  `SYSCALL_DEFINE2(listen, ...)` defines `sys_listen` (the wrapper the macro generates), with an
  edge from the wrapper to the body, and records which names are the entry of which number.

Which header comes from which table and ABIs is the rule of arch/x86/entry/syscalls/Makefile;
the numbers and names always come from the `.tbl` files, so the same code reads 6.1 and 6.12.
"""

from __future__ import annotations

import posixpath
import re
import sqlite3
from typing import NamedTuple

# generated header -> (its table, the ABIs of the table it keeps, the table's name in results)
HEADERS = {
    "syscalls_64": ("syscall_64.tbl", ("common", "64"), "64"),
    "syscalls_x32": ("syscall_64.tbl", ("common", "x32"), "x32"),
    "syscalls_32": ("syscall_32.tbl", ("i386",), "32"),
}

_NAME_RX = re.compile(r"[A-Za-z_]\w{0,200}\Z")
_ABI_RX = re.compile(r"\w{1,40}\Z")
_INCLUDE_RX = re.compile(rb"^[ \t]*#[ \t]*include[ \t]*<asm/(syscalls_\w+)\.h>", re.MULTILINE)
_SYSCALL_DEFINE_RX = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+__SYSCALL[ \t]*\([ \t]*\w+[ \t]*,[ \t]*(\w+)[ \t]*\)([^\n]*)",
                                re.MULTILINE)


def is_table(path: str) -> bool:
    """Whether an indexed path is a system call table (`syscall_*.tbl`)."""
    base = posixpath.basename(path)
    return base.startswith("syscall") and base.endswith(".tbl")


class TableRow(NamedTuple):
    line: int
    number: int
    abi: str
    name: str
    entry: str | None  # None: the number is reserved, no entry point
    compat: str | None


class DispatchSite(NamedTuple):
    line: int
    col: int
    header: str  # syscalls_64
    prefix: str  # __x64_
    definition: str  # the function (or table variable) holding the #include
    kind: str  # function or variable


def parse_table(src: bytes) -> tuple[list[TableRow], int]:
    """The rows of a `.tbl` file and how many lines were not rows (skipped; comments and blanks do not count)."""
    rows: list[TableRow] = []
    bad = 0
    for line_no, raw in enumerate(src.decode("utf-8", "replace").splitlines(), 1):
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) < 3 or not fields[0].isdigit() or len(fields[0]) > 6:
            bad += 1
            continue
        names = [f if f != "-" else None for f in fields[2:5]]
        if any(n is not None and not _NAME_RX.match(n) for n in names) or not _ABI_RX.match(fields[1]):
            bad += 1
            continue
        entry = names[1] if len(names) > 1 else None
        compat = names[2] if len(names) > 2 else None
        rows.append(TableRow(line_no, int(fields[0]), fields[1], fields[2], entry, compat))
    return rows, bad


def dispatch_sites(src: bytes, definitions: list[tuple[str, str, int, int]]) -> list[DispatchSite]:
    """The `#include <asm/syscalls_*.h>` lines of a C file, with the definition each sits in.

    `definitions` are (name, kind, start_byte, end_byte) of the file's functions and variables."""
    if b"syscalls_" not in src:
        return []
    out: list[DispatchSite] = []
    defines = [(m.start(), m.group(1), m.group(2)) for m in _SYSCALL_DEFINE_RX.finditer(src)]
    for m in _INCLUDE_RX.finditer(src):
        header = m.group(1).decode("latin-1")
        if header not in HEADERS:
            continue
        at = m.start()
        holder = [d for d in definitions if d[2] <= at < d[3] and d[1] in ("function", "variable")]
        if not holder:
            continue  # the declarations at the top of the file: no dispatch
        before = [d for d in defines if d[0] < at]
        if not before:
            continue
        _, param, body = before[-1]
        paste = re.search(rb"(\w*)[ \t]*##[ \t]*" + re.escape(param) + rb"\b", body)
        if paste is not None:
            prefix = paste.group(1).decode("latin-1")
        elif re.search(rb"\b" + re.escape(param) + rb"\b", body):
            prefix = ""
        else:
            continue
        line = src.count(b"\n", 0, at) + 1
        col = at - (src.rfind(b"\n", 0, at) + 1)
        name, kind = holder[-1][0], holder[-1][1]
        out.append(DispatchSite(line, col, header, prefix, name, kind))
    return out


_WRAPPER_DEFINERS = ("SYSCALL_DEFINE", "COMPAT_SYSCALL_DEFINE")


def clear_derived(db: sqlite3.Connection) -> None:
    """Remove what `derive` made (before the rows it was made from change)."""
    db.execute("DELETE FROM symbols WHERE id IN (SELECT symbol_id FROM derived_symbols)")
    db.execute("DELETE FROM derived_symbols")
    db.execute("DELETE FROM table_calls")
    db.execute("DELETE FROM syscall_entries")


def derive(db: sqlite3.Connection) -> int:
    """Rebuild the derived rows (call edges, wrapper definitions, entry numbers) from the tables and
    dispatch sites in the index; returns the number of edges.  A few thousand rows: done whole on
    every run that changed something."""
    clear_derived(db)
    tables: dict[str, list[tuple[int, int, int, str, str | None, str | None, str]]] = {}
    for file_id, path, line, number, abi, entry, compat in db.execute(
        "SELECT t.file_id, f.path, t.line, t.number, t.abi, t.entry, t.compat FROM syscall_table t"
        " JOIN files f ON f.id = t.file_id ORDER BY f.path, t.line"
    ):
        tables.setdefault(posixpath.basename(path), []).append((file_id, line, number, abi, entry, compat, path))
    sites = db.execute(
        "SELECT d.file_id, f.path, d.line, d.col, d.header, d.prefix, d.definition, d.kind FROM syscall_dispatch d"
        " JOIN files f ON f.id = d.file_id ORDER BY f.path, d.line"
    ).fetchall()
    edges: list[tuple[int, int, int, str, str, str]] = []
    entries: set[tuple[str, str, int, str]] = set()
    wrappers: dict[str, str] = {}  # __x64_sys_listen -> sys_listen
    for file_id, path, line, col, header, prefix, definition, kind in sites:
        table, abis, table_name = HEADERS[header]
        callers = [(definition, file_id, line, col)]
        if kind != "function":  # a table variable: the functions of its folder that read it dispatch through it
            folder = posixpath.dirname(path)
            callers = db.execute(
                "SELECT DISTINCT r.func, r.file_id, r.line, r.col FROM refs r JOIN files f ON f.id = r.file_id"
                " WHERE r.name = ? AND r.func IS NOT NULL AND r.access_id IS NULL AND f.path LIKE ? ESCAPE '\\'"
                " AND EXISTS (SELECT 1 FROM symbols s WHERE s.name = r.func AND s.file_id = r.file_id AND s.kind = 'function')",
                (definition, _like_prefix(folder)),
            ).fetchall()
        for _, _line, number, abi, entry, compat, _ in tables.get(table, []):
            if abi not in abis or entry is None:
                continue
            via = f"{table} #{number}"
            for target in dict.fromkeys(n for n in (entry, compat) if n):
                callee = prefix + target
                for func, c_file, c_line, c_col in callers:
                    edges.append((c_file, c_line, c_col, func, callee, via))
                entries.add((callee, table_name, number, abi))
                entries.add((target, table_name, number, abi))
                if prefix:
                    wrappers[callee] = target
    db.executemany("INSERT INTO table_calls (file_id, line, col, func, name, via) VALUES (?, ?, ?, ?, ?, ?)", edges)
    db.executemany("INSERT INTO syscall_entries (name, tbl, number, abi) VALUES (?, ?, ?, ?)", sorted(entries))
    _define_wrappers(db, wrappers)
    return len(edges)


def _define_wrappers(db: sqlite3.Connection, wrappers: dict[str, str]) -> None:
    """`__x64_sys_listen` defined where `SYSCALL_DEFINE2(listen, ...)` defines `sys_listen` (the macro
    generates both), and a call edge from it to the body, `via` the macro.  Names the tree defines
    as functions itself are left alone."""
    if not wrappers:
        return
    import json

    defined = {row[0] for row in db.execute(
        "SELECT DISTINCT name FROM symbols WHERE kind = 'function' AND name IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(wrappers)),))}
    bodies: dict[str, list[tuple[object, ...]]] = {}
    for row in db.execute(
        "SELECT id, name, file_id, line, col, end_line, cond, start_line, start_byte, end_byte, digest, signature"
        " FROM symbols WHERE kind = 'function' AND name IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(set(wrappers.values()))),),
    ):
        if str(row[11]).startswith(_WRAPPER_DEFINERS):
            bodies.setdefault(str(row[1]), []).append(row)
    edges = []
    for wrapper, target in sorted(wrappers.items()):
        if wrapper in defined:
            continue
        for _, _, file_id, line, col, end_line, cond, start_line, start_byte, end_byte, digest, signature in bodies.get(target, []):
            # the view `symbols` (explorer/store.py) is written through a trigger: the new id is chosen here
            symbol_id = int(db.execute("SELECT coalesce(max(id), 0) + 1 FROM symbol").fetchone()[0])
            db.execute(
                "INSERT INTO symbols (id, name, kind, file_id, line, col, end_line, scope, signature, cond, type, start_line,"
                " start_byte, end_byte, digest) VALUES (?, ?, 'function', ?, ?, ?, ?, 'global', ?, ?, 'long', ?, ?, ?, ?)",
                (symbol_id, wrapper, file_id, line, col, end_line, f"long {wrapper}(const struct pt_regs *regs)", cond,
                 start_line, start_byte, end_byte, digest),
            )
            db.execute("INSERT INTO derived_symbols (symbol_id) VALUES (?)", (symbol_id,))
            macro = str(signature).split("(", 1)[0].strip()
            edges.append((file_id, line, col, wrapper, target, macro))
    db.executemany("INSERT INTO table_calls (file_id, line, col, func, name, via) VALUES (?, ?, ?, ?, ?, ?)", edges)


def _like_prefix(folder: str) -> str:
    escaped = folder.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "/%"
