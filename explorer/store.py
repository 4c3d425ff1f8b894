"""The index store: one SQLite database per kernel.

Readers (the CLI, the site) use only this module and the standard library: no
tree-sitter, no Pygments, no MkDocs.  The indexer writes a new database beside the
old one and renames it into place, so a reader never sees half an index.

A lookup imports this module and nothing else of the project's readers, so it imports neither
dataclasses nor typing (each costs more than a lookup's query: benchmarks/lookup_time.py,
tests/test_lookup_imports.py): what a lookup returns (`Symbol`, `KernelDoc`, `Export`, `Syscall`)
are named tuples of collections, whose annotations are for mypy; the other readers' records are
in explorer/storerecords.py, imported where they are built.
"""

from __future__ import annotations

import json
import sqlite3
from collections import deque, namedtuple
from collections.abc import Callable, Collection, Hashable, Iterator, Sequence
from pathlib import Path

from .symbolcodes import KIND_CODES, KINDS, REF_FILE_SHIFT, REF_PER_FILE, signature_sql, stored_signature_sql

TYPE_CHECKING = False  # True for mypy, which reads this name as typing.TYPE_CHECKING; no import of typing at run time
if TYPE_CHECKING:
    from typing import TypeVar

    from .opsgroups import OpsContext, OpsGroups
    from .storerecords import (
        CallEdge,
        CallNode,
        CallPath,
        CallTree,
        Change,
        LocalRef,
        Ref,
        StructField,
        StructInfo,
        _Call,
        _Def,
    )

    T = TypeVar("T")
    # A state of a path search: a definition, and what the chain to it learned of its ops tables.
    _PathState = tuple["CallNodeKey", OpsContext]

# The records moved to explorer/storerecords.py, still found here by `from explorer.store import ...`.
_MOVED = frozenset({"CallEdge", "CallNode", "CallPath", "CallTree", "Change", "LocalRef", "Ref", "StructField", "StructInfo"})


def __getattr__(name: str) -> object:
    if name in _MOVED:
        from . import storerecords

        return getattr(storerecords, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

SCHEMA_VERSION = 11

# The `ref` table: what its integer roles mean, and how its rowid holds the file (file_id << REF_FILE_SHIFT | n).
REF_ROLES = ("read", "call", "type", "write", "addr", "jump", "macro")
PAGE_SIZE = 16384  # fewer, fuller pages than SQLite's 4096: about 4% smaller on the core tree

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,          -- relative to the kernel root, POSIX
    sha256 TEXT NOT NULL,               -- content hash: unchanged files are not parsed again
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    error_nodes INTEGER NOT NULL,       -- tree-sitter ERROR regions walked around
    partial INTEGER NOT NULL DEFAULT 0  -- 1: nested deeper than the walkers follow, the deepest parts left out
);
CREATE TABLE IF NOT EXISTS symbol (    -- definitions; read them through the view `symbols`, which spells every column out
    id INTEGER PRIMARY KEY,
    name INTEGER NOT NULL,              -- names.id: STRUCT.FIELD for members
    kind INTEGER NOT NULL,              -- index into KINDS: function prototype struct union enum enumerator member macro ...
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    line INTEGER NOT NULL,              -- 1-based line of the name
    col INTEGER NOT NULL,               -- 0-based byte column of the name
    end_line INTEGER,                   -- NULL: `line`
    scope INTEGER NOT NULL,             -- names.id: global, file, the owning struct, or "enum NAME"
    signature TEXT,                     -- the name as char(1), a leading `#define ` as char(2) (a BLOB: the text as is); NULL: the name
    cond INTEGER,                       -- names.id: the #if condition it sits under, if any
    type INTEGER,                       -- names.id: members/variables: their type; functions: return type; typedefs: aliased type
    start_line INTEGER,                 -- 1-based line where the whole definition starts (a return type above the name); NULL: `line`
    start_byte INTEGER NOT NULL,        -- the whole definition: function with its return type, the whole #define,
    size INTEGER NOT NULL,              -- a member's field declaration: end_byte - start_byte
    digest INTEGER NOT NULL             -- 48-bit hash of those bytes: definitions compared across kernels without their texts
);
CREATE TABLE IF NOT EXISTS access (    -- one row per distinct member-access key (see explorer/xref.py)
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    target TEXT,                        -- STRUCT.FIELD, or NULL when unresolved
    macro TEXT,                         -- the field macro gone through (sk_state), if any
    reason TEXT,                        -- why it is unresolved
    state INTEGER NOT NULL DEFAULT 0    -- 0: not resolved yet
);
CREATE TABLE IF NOT EXISTS names (    -- every name and #if condition `ref` and `symbol` hold, once (ids are this index's own)
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS ref (       -- identifier uses, locals and parameters left out; read them through the view `refs`
    -- rowid: file_id << 20 | n (REF_FILE_SHIFT), the file's n-th use: a file's uses are one rowid range, no file_id index
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,               -- 0-based byte columns
    name INTEGER NOT NULL,              -- names.id: the identifier as written
    role INTEGER NOT NULL,              -- index into REF_ROLES: 0 read, 1 call, 2 type, 3 write, 4 addr, 5 jump, 6 macro
    func INTEGER,                       -- names.id: the enclosing function
    cond INTEGER,                       -- names.id: the #if condition
    access_id INTEGER REFERENCES access(id)  -- member accesses: how to resolve them
);
CREATE TABLE IF NOT EXISTS ref_span (  -- the few uses whose end is not col + the name's length (`CALL_NOSPEC rbx` calls a thunk)
    id INTEGER PRIMARY KEY,             -- ref.rowid
    end_col INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS assign (    -- a function stored in a member: `.listen = inet_listen`, `x->f = fn`; read through `fnassign`
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    line INTEGER NOT NULL,
    access_id INTEGER NOT NULL REFERENCES access(id),
    function INTEGER NOT NULL,          -- names.id
    tbl INTEGER                         -- names.id: the variable whose initializer stores it (inet_stream_ops), NULL in code
);
CREATE TABLE IF NOT EXISTS tableaddr ( -- addresses an element of a top-level initializer takes (`.ops = &inet_stream_ops`)
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    line INTEGER NOT NULL,              -- the element's first line
    holder TEXT NOT NULL,               -- the variable initialized (inetsw_array)
    name TEXT NOT NULL                  -- the variable whose address is taken (or the holder, an ops table itself)
);
CREATE TABLE IF NOT EXISTS local (     -- the locals and parameters of one function definition and their uses (xref.LocalUses)
    -- rowid: file_id << 20 | line, the function's name line (its symbols row); read through the view `locals`
    data TEXT NOT NULL                  -- NAME:K:L.C.R,...;... (K p/l, L relative to `line`, C byte column, R d/r/w/a)
);
CREATE TABLE IF NOT EXISTS typehints ( -- types of names without a definition of their own (explorer/resolve.py)
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    name TEXT NOT NULL,                 -- a local a macro's body declares (nh), or a global declared only extern
    type TEXT NOT NULL,
    origin TEXT NOT NULL                -- the macro's name, or "extern"
);
CREATE INDEX IF NOT EXISTS typehints_file ON typehints(file_id);
CREATE TABLE IF NOT EXISTS opsgroup (  -- ops tables used together, from tableaddr (explorer/opsgroups.py)
    grp INTEGER NOT NULL,               -- one per initializer element naming ops tables of two or more types
    tbl TEXT NOT NULL,                  -- an ops table of the group
    type TEXT NOT NULL,                 -- its ops type (proto_ops, proto)
    file_id INTEGER NOT NULL,           -- where the element is
    line INTEGER NOT NULL,
    holder TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS include (   -- a file's #include lines, as the tree paths they may name; read through `includes`
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    path INTEGER NOT NULL               -- names.id
);
CREATE TABLE IF NOT EXISTS docs (      -- kernel-doc comments on what they document (explorer/kerneldoc.py)
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    name TEXT NOT NULL,                 -- the definition documented (STRUCT.FIELD for members)
    def_line INTEGER NOT NULL,          -- its line: (file, name, def_line) is its symbols row
    line INTEGER NOT NULL,              -- the comment's line that names it (a member's `@name:` line)
    summary TEXT NOT NULL,
    params TEXT,                        -- JSON object, name → text, in the comment's order; NULL: a member's own line
    returns TEXT,                       -- the Return: section
    context TEXT,                       -- the Context: section
    text TEXT                           -- the whole comment without its margins; NULL: a member's line (its summary)
);
CREATE TABLE IF NOT EXISTS exports (   -- EXPORT_SYMBOL(name) lines (explorer/exports.py)
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,               -- 0-based byte columns of the name
    end_col INTEGER NOT NULL,
    name TEXT NOT NULL,
    macro TEXT NOT NULL,                -- EXPORT_SYMBOL, EXPORT_SYMBOL_GPL, EXPORT_SYMBOL_NS_GPL, ...
    namespace TEXT,                     -- the namespaced forms' NS
    cond TEXT
);
CREATE TABLE IF NOT EXISTS syscall_table (  -- the rows of a system call table (arch/x86/entry/syscalls/*.tbl)
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    line INTEGER NOT NULL,
    number INTEGER NOT NULL,
    abi TEXT NOT NULL,                  -- common, 64, x32, i386
    name TEXT NOT NULL,                 -- listen
    entry TEXT,                         -- sys_listen (NULL: reserved number)
    compat TEXT                         -- compat_sys_..., for 32-bit tasks on a 64-bit kernel
);
CREATE TABLE IF NOT EXISTS syscall_dispatch (  -- `#include <asm/syscalls_64.h>` in C: the generated dispatch
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    header TEXT NOT NULL,               -- syscalls_64, syscalls_x32, syscalls_32
    prefix TEXT NOT NULL,               -- what __SYSCALL pastes before each entry: __x64_
    definition TEXT NOT NULL,           -- the function holding the include (x64_sys_call) or the table variable
    kind TEXT NOT NULL
);
-- Derived from the two above by explorer/syscalls.py on every indexing run that changed something:
CREATE TABLE IF NOT EXISTS table_calls (   -- calls no line of C spells out: dispatch through a table, SYSCALL_DEFINEn's wrapper
    file_id INTEGER NOT NULL,           -- the call site
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    func TEXT NOT NULL,                 -- the caller
    name TEXT NOT NULL,                 -- the callee, as a name (resolved like a direct call)
    via TEXT NOT NULL                   -- "syscall_64.tbl #50", "SYSCALL_DEFINE2"
);
CREATE TABLE IF NOT EXISTS syscall_entries (  -- which names enter which system call: sys_listen, __x64_sys_listen
    name TEXT NOT NULL,
    tbl TEXT NOT NULL,                  -- 64, x32, 32
    number INTEGER NOT NULL,
    abi TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS derived_symbols (symbol_id INTEGER PRIMARY KEY);  -- wrapper definitions (__x64_sys_listen)
"""
# `ref` as the rows it stands for: the columns the table `refs` had before names were interned, and `id`, the
# rowid (a file's uses: `id BETWEEN file_id << 20 AND (file_id << 20) + REF_PER_FILE - 1`, see ref_range).
REF_ROLE_SQL = "CASE r.role " + " ".join(f"WHEN {i} THEN '{role}'" for i, role in enumerate(REF_ROLES)) + " END"
# The views (and the triggers of `symbols`) are made again by every create_schema: an index written by an
# earlier build of this schema gets today's definitions.
VIEWS = f"""CREATE VIEW refs AS SELECT r.rowid AS id, r.rowid >> {REF_FILE_SHIFT} AS file_id, r.line AS line,
    r.col AS col, coalesce((SELECT s.end_col FROM ref_span s WHERE s.id = r.rowid), r.col + length(CAST(n.name AS BLOB))) AS end_col,
    n.name AS name, {REF_ROLE_SQL} AS role, fn.name AS func, c.name AS cond, r.access_id AS access_id
    FROM ref r JOIN names n ON n.id = r.name LEFT JOIN names fn ON fn.id = r.func LEFT JOIN names c ON c.id = r.cond;
"""
VIEWS += f"""CREATE VIEW fnassign AS SELECT x.file_id AS file_id, x.line AS line, x.access_id AS access_id,
    f.name AS function, t.name AS tbl FROM assign x JOIN names f ON f.id = x.function LEFT JOIN names t ON t.id = x.tbl;
CREATE VIEW locals AS SELECT l.rowid AS id, l.rowid >> {REF_FILE_SHIFT} AS file_id, l.rowid & {REF_PER_FILE - 1} AS line,
    l.data AS data FROM local l;
CREATE VIEW includes AS SELECT i.file_id AS file_id, p.name AS path FROM include i JOIN names p ON p.id = i.path;
"""


def ref_range(file_id: int) -> tuple[int, int]:
    """The rowids of `ref` (and ids of the view `refs`) that one file's uses may have, first and last."""
    return file_id << REF_FILE_SHIFT, (file_id << REF_FILE_SHIFT) + REF_PER_FILE - 1


def role_code(role: str) -> int:
    """`ref.role` of a role name (ValueError for a name not in REF_ROLES)."""
    return REF_ROLES.index(role)

# Built after a cold bulk load (cheaper than during it, and packed: about 90 MB less on the core tree).
INDEXES = """
CREATE INDEX IF NOT EXISTS ref_name ON ref(name) WHERE access_id IS NULL;      -- member accesses go by access_id
CREATE INDEX IF NOT EXISTS ref_access ON ref(access_id) WHERE access_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS ref_func ON ref(func) WHERE role IN (1, 5);           -- callees: calls and jumps only
CREATE INDEX IF NOT EXISTS access_target ON access(target);
CREATE INDEX IF NOT EXISTS access_macro ON access(macro) WHERE macro IS NOT NULL;  -- a few hundred keys
CREATE INDEX IF NOT EXISTS assign_access ON assign(access_id);
CREATE INDEX IF NOT EXISTS assign_function ON assign(function);
CREATE INDEX IF NOT EXISTS assign_file ON assign(file_id);
CREATE INDEX IF NOT EXISTS include_file ON include(file_id);
CREATE INDEX IF NOT EXISTS docs_name ON docs(name);
CREATE INDEX IF NOT EXISTS docs_file ON docs(file_id);
CREATE INDEX IF NOT EXISTS exports_name ON exports(name);
CREATE INDEX IF NOT EXISTS exports_file ON exports(file_id);
CREATE INDEX IF NOT EXISTS tableaddr_file ON tableaddr(file_id);
CREATE INDEX IF NOT EXISTS assign_tbl ON assign(tbl) WHERE tbl IS NOT NULL;
CREATE INDEX IF NOT EXISTS symbol_name ON symbol(name);
CREATE INDEX IF NOT EXISTS symbol_file ON symbol(file_id);
CREATE INDEX IF NOT EXISTS table_calls_func ON table_calls(func);
CREATE INDEX IF NOT EXISTS table_calls_name ON table_calls(name);
CREATE INDEX IF NOT EXISTS syscall_entries_name ON syscall_entries(name);
"""

CALL_TREE_LIMIT = 2000  # nodes a call tree lists by default

def symbol_kind_sql(kind: str) -> str:
    """SQL for `symbol.kind` of the kind name `kind` (an SQL expression); NULL for a kind not in KINDS."""
    return f"CASE {kind} " + " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(KINDS)) + " END"


KIND_SQL = "CASE s.kind " + " ".join(f"WHEN {i} THEN '{kind}'" for i, kind in enumerate(KINDS)) + " END"
# `symbol` as the rows it stands for (the columns the table `symbols` had before its strings were interned); the
# triggers let the few writers that add or remove single definitions (explorer/syscalls.py) write the view.
VIEWS += f"""CREATE VIEW symbols AS SELECT s.id AS id, n.name AS name, {KIND_SQL} AS kind, s.file_id AS file_id,
    s.line AS line, s.col AS col, coalesce(s.end_line, s.line) AS end_line, sc.name AS scope, {signature_sql('s.signature', 'n.name')} AS signature,
    c.name AS cond, t.name AS type, coalesce(s.start_line, s.line) AS start_line, s.start_byte AS start_byte,
    s.start_byte + s.size AS end_byte, s.digest AS digest
    FROM symbol s JOIN names n ON n.id = s.name LEFT JOIN names sc ON sc.id = s.scope LEFT JOIN names c ON c.id = s.cond
    LEFT JOIN names t ON t.id = s.type;
CREATE TRIGGER symbols_insert INSTEAD OF INSERT ON symbols BEGIN
    INSERT OR IGNORE INTO names (name) SELECT value FROM json_each(json_array(NEW.name, NEW.scope, NEW.cond, NEW.type))
        WHERE value IS NOT NULL;
    INSERT INTO symbol (id, name, kind, file_id, line, col, end_line, scope, signature, cond, type, start_line, start_byte, size, digest)
    VALUES (NEW.id, (SELECT id FROM names WHERE name = NEW.name), {symbol_kind_sql('NEW.kind')}, NEW.file_id, NEW.line, NEW.col, nullif(NEW.end_line, NEW.line),
        (SELECT id FROM names WHERE name = NEW.scope), {stored_signature_sql('NEW.signature', 'NEW.name')},
        (SELECT id FROM names WHERE name = NEW.cond),
        (SELECT id FROM names WHERE name = NEW.type), nullif(NEW.start_line, NEW.line), NEW.start_byte, NEW.end_byte - NEW.start_byte,
        NEW.digest);
END;
CREATE TRIGGER symbols_delete INSTEAD OF DELETE ON symbols BEGIN
    DELETE FROM symbol WHERE id = OLD.id;
END;
"""

VIEW_NAMES = ("refs", "fnassign", "locals", "includes", "symbols")

# The kinds a call can reach (call-graph nodes besides macros), and the macro kinds.
CALLABLE_KINDS = ("function", "asm function", "asm code", "asm label")
MACRO_KINDS = ("macro", "asm macro")
_CALLABLE_SQL = ", ".join(f"'{k}'" for k in CALLABLE_KINDS)
_MACRO_SQL = ", ".join(f"'{k}'" for k in MACRO_KINDS)

# Where several definitions share a name, show the real thing before its declarations.
_KIND_RANK = "CASE s.kind WHEN 'function' THEN 0 WHEN 'asm function' THEN 0 WHEN 'asm code' THEN 0 WHEN 'struct' THEN 1 WHEN 'union' THEN 1 WHEN 'enum' THEN 1 " \
    "WHEN 'typedef' THEN 2 WHEN 'variable' THEN 3 WHEN 'macro' THEN 4 WHEN 'member' THEN 5 " \
    "WHEN 'enumerator' THEN 6 WHEN 'asm label' THEN 3 WHEN 'asm data' THEN 3 WHEN 'asm macro' THEN 4 ELSE 7 END"
# .c files before headers, headers under include/net before the rest
_PATH_RANK = "CASE WHEN f.path LIKE '%.c' THEN 0 WHEN f.path LIKE 'include/net/%' THEN 1 ELSE 2 END"


def _like_escape(text: str) -> str:
    """`text` as a literal inside a LIKE pattern with ESCAPE '\\'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Whether a query failed because the file is not a sound index (rather than, say, a query too complex)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_IOERR")):
        return True
    return type(exc) is sqlite3.DatabaseError or str(exc).startswith(("no such table", "no such column"))


class IndexMissing(Exception):
    """No index exists yet for the kernel."""


class IndexDamaged(Exception):
    """The index file exists but is not a readable kernel-explorer index; the message says how to rebuild it."""

    def __init__(self, path: Path, why: str) -> None:
        why = " ".join(why.replace("*", " ").split())  # one line, whatever SQLite said
        super().__init__(f"the index {path} is damaged ({why}): rebuild it with `kexplore index --force`")
        self.path = path


class Symbol(namedtuple("Symbol", "name kind path line end_line scope signature cond col start_line start_byte end_byte",
                        defaults=(None, 0, 0, 0, 0))):
    """A definition, as `_SELECT` reads it.  The defaults are the named tuple's, the annotations for mypy."""

    __slots__ = ()
    name: str
    kind: str
    path: str
    line: int
    end_line: int
    scope: str
    signature: str
    cond: str | None  # default None
    col: int  # default 0, as the three below
    start_line: int  # where the whole definition starts: a return type on the line above the name
    start_byte: int  # the whole definition's bytes in the file (end exclusive), as indexed
    end_byte: int

    def as_dict(self) -> dict[str, object]:
        return self._asdict()


class KernelDoc(namedtuple("KernelDoc", "path line summary params returns context text member", defaults=(False,))):
    """A definition's kernel-doc, as `kexplore doc` and `lookup --json` give it (explorer/kerneldoc.py finds them)."""

    __slots__ = ()
    path: str
    line: int
    summary: str
    params: dict[str, str]
    returns: str | None
    context: str | None
    text: str
    member: bool  # documented by an `@member:` line of its container's comment (default False)

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "summary": self.summary, "params": self.params,
                "returns": self.returns, "context": self.context, "text": self.text}

    @classmethod
    def from_row(cls, path: str, line: int, summary: str, params: str | None, returns: str | None,
                 context: str | None, text: str | None) -> KernelDoc:
        try:
            loaded = json.loads(params) if params else None
        except ValueError:  # a damaged row: the rest of the doc is still worth showing
            loaded = None
        return cls(path, line, summary, loaded if isinstance(loaded, dict) else {}, returns, context,
                   summary if text is None else text, member=params is None)


_SELECT = (
    "SELECT s.name, s.kind, f.path, s.line, s.end_line, s.scope, s.signature, s.cond, s.col,"
    " s.start_line, s.start_byte, s.end_byte FROM symbols s JOIN files f ON f.id = s.file_id"
)


class SourceChanged(Exception):
    """The file on disk is not the one the index was built from (or is gone): its offsets would be wrong."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"{path} {why} since it was indexed: run `kexplore index` to see its definitions again")
        self.path = path


class Index:
    """Read access to one kernel's index."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise IndexMissing(str(path))
        self.path = path
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise IndexDamaged(path, str(exc)) from None
        if row is None or row[0] != str(SCHEMA_VERSION):
            self.db.close()
            found = "no schema version" if row is None else f"schema version {row[0]}, expected {SCHEMA_VERSION}"
            raise IndexDamaged(path, found)
        self._graph: _Resolver | None = None  # what the call graph has read so far (see _Resolver)
        self._ops_groups: OpsGroups | None = None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        """Closes the index; a query that found the file damaged becomes `IndexDamaged`."""
        self.close()
        if isinstance(exc, sqlite3.DatabaseError) and is_damage(exc):
            raise IndexDamaged(self.path, str(exc)) from None

    def verify(self) -> None:
        """Raise `IndexDamaged` unless SQLite's quick check finds the whole file sound (reads all of it)."""
        try:
            problems = [row[0] for row in self.db.execute("PRAGMA quick_check(1)")]
        except sqlite3.DatabaseError as exc:
            raise IndexDamaged(self.path, str(exc)) from None
        if problems != ["ok"]:
            raise IndexDamaged(self.path, "; ".join(problems))

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    def lookup(self, name: str, kind: str | None = None) -> list[Symbol]:
        sql = f"{_SELECT} WHERE s.name = ?"
        args: list[object] = [name]
        if kind:
            sql += " AND s.kind = ?"
            args.append(kind)
        sql += f" ORDER BY {_KIND_RANK}, {_PATH_RANK}, f.path, s.line"
        return [Symbol(*row) for row in self.db.execute(sql, args)]

    def search(self, query: str, kind: str | None = None, limit: int = 50) -> list[Symbol]:
        """Exact name first, then prefix, then substring; shorter names first within each."""
        q = query.lower()
        escaped = _like_escape(q)
        sql = (
            # LIKE ignores ASCII case already: lower() on every name would triple the scan's cost
            # the names matched first (a scan of `names`), then their definitions through symbol_name
            f"{_SELECT} WHERE s.name IN (SELECT name FROM names WHERE name LIKE ? ESCAPE '\\')"
            + (" AND s.kind = ?" if kind else "")
            + " ORDER BY CASE WHEN lower(s.name) = ? THEN 0 WHEN lower(s.name) LIKE ? ESCAPE '\\' THEN 1 ELSE 2 END,"
            + f" length(s.name), s.name, {_KIND_RANK}, f.path, s.line LIMIT ?"
        )
        args: list[object] = [f"%{escaped}%"]
        if kind:
            args.append(kind)
        args += [q, f"{escaped}%", limit]
        return [Symbol(*row) for row in self.db.execute(sql, args)]

    def members_named(self, field: str) -> list[Symbol]:
        """The members called `field` in any struct (`sk_state` → sock.sk_state, ...)."""
        escaped = _like_escape(field)
        return [
            Symbol(*row)
            for row in self.db.execute(
                f"{_SELECT} WHERE s.kind = 'member' AND s.name LIKE ? ESCAPE '\\' ORDER BY s.name, f.path, s.line",
                (f"%.{escaped}",),
            )
        ]

    def suggest(self, name: str, limit: int = 5) -> list[str]:
        """Names close to `name`, for "did you mean"."""
        import difflib

        q = name.lower()
        candidates = {
            row[0]
            for row in self.db.execute(
                "SELECT DISTINCT name FROM symbols WHERE name IN (SELECT name FROM names WHERE name LIKE ? OR name LIKE ?) LIMIT 2000",
                (f"%{q[:4]}%", f"%{q[-4:]}%"),
            )
        }
        close = difflib.get_close_matches(name, sorted(candidates), n=limit, cutoff=0.6)
        if len(close) < limit:
            for row in self.search(name, limit=limit):
                if row.name not in close:
                    close.append(row.name)
                if len(close) >= limit:
                    break
        return close[:limit]

    def definition_range(self, sym: Symbol) -> tuple[int, int]:
        """First and last line of a definition's whole text (a return type above the name included)."""
        return sym.start_line, max(sym.end_line, sym.start_line)

    def definition_text(self, sym: Symbol, tree: Path, whole_lines: bool = False) -> str:
        """The definition's text from the vendored tree at `tree`: exactly the indexed byte
        range, or with `whole_lines` the lines it spans (first-line indentation kept).

        Raises SourceChanged when the file is gone or differs from the one indexed (then
        the stored offsets would cut the wrong text)."""
        data = self._indexed_source(sym.path, tree)
        start, end = sym.start_byte, sym.end_byte
        if whole_lines:
            start = data.rfind(b"\n", 0, start) + 1
            line_end = data.find(b"\n", end)
            end = len(data) if line_end < 0 else line_end
            if end > start and data[end - 1 : end] == b"\r":
                end -= 1
        return data[start:end].decode("utf-8", "replace")

    def _indexed_source(self, path: str, tree: Path) -> bytes:
        row = self.db.execute("SELECT sha256, size FROM files WHERE path = ?", (path,)).fetchone()
        if row is None:
            raise SourceChanged(path, "is not in the index")
        try:
            data = (tree / path).read_bytes()
        except OSError as exc:
            raise SourceChanged(path, f"cannot be read ({exc.strerror or exc})") from None
        import hashlib  # here: lookups that never read a definition's text need no hashing

        if len(data) != row[1] or hashlib.sha256(data).hexdigest() != row[0]:
            raise SourceChanged(path, "changed")
        return data

    def dump(self) -> Iterator[Symbol]:
        yield from (Symbol(*row) for row in self.db.execute(f"{_SELECT} ORDER BY f.path, s.line, s.col"))

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT kind, count(*) FROM symbols GROUP BY kind ORDER BY kind"))

    def syscalls(self, name: str) -> list[Syscall]:
        """The system calls `name` is the entry point of (sys_listen, __x64_sys_listen): table, number, ABI;
        the 64-bit table first."""
        return [Syscall(*row) for row in self.db.execute(
            "SELECT DISTINCT tbl, number, abi FROM syscall_entries WHERE name = ?"
            " ORDER BY CASE tbl WHEN '64' THEN 0 WHEN 'x32' THEN 1 ELSE 2 END, number", (name,))]

    def file_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM files").fetchone()[0])

    def refs(self, name: str, role: str | None = None) -> list[Ref]:
        from .storerecords import Ref

        out: list[Ref] = []
        if "." in name:
            rows = self.db.execute(
                "SELECT f.path, r.line, r.col, r.func, r.role, r.name, r.cond, a.macro FROM refs r"
                " JOIN access a ON a.id = r.access_id JOIN files f ON f.id = r.file_id WHERE a.target = ?",
                (name,),
            )
            out = [Ref(*row) for row in rows]
        else:
            kinds = _kinds_of(self.db, name)
            is_macro = bool(kinds & set(MACRO_KINDS)) and not kinds & {*CALLABLE_KINDS, "variable", "enumerator", "asm data"}
            is_function = bool(kinds & {*CALLABLE_KINDS, "prototype"})
            for path, line, col, func, r_role, written, cond in self.db.execute(
                "SELECT f.path, r.line, r.col, r.func, r.role, r.name, r.cond FROM refs r"
                " JOIN files f ON f.id = r.file_id WHERE r.name = ? AND r.access_id IS NULL",
                (name,),
            ):
                if is_macro:
                    r_role = "macro"
                elif is_function and r_role == "read":
                    r_role = "addr"  # a function named without a call: its address is taken
                out.append(Ref(path, line, col, func, r_role, written, cond))
            for row in self.db.execute(
                "SELECT f.path, r.line, r.col, r.func, 'macro', r.name, r.cond, a.macro FROM refs r"
                " JOIN access a ON a.id = r.access_id JOIN files f ON f.id = r.file_id WHERE a.macro = ?",
                (name,),
            ):
                out.append(Ref(*row))
            for row in self.db.execute(
                "SELECT f.path, e.line, e.col, NULL, 'export', e.name, e.cond, e.macro FROM exports e"
                " JOIN files f ON f.id = e.file_id WHERE e.name = ?",
                (name,),
            ):
                out.append(Ref(*row))
        if role:
            out = [r for r in out if r.role == role]
        out.sort(key=lambda r: (r.path, r.line, r.col))
        return out

    # ------------------------------------------------------------ kernel-doc and exports

    def docs(self, symbols: Sequence[Symbol]) -> list[KernelDoc | None]:
        """The kernel-doc of each definition: the comment attached to it, else, for a global function,
        prototype, variable or macro, the one attached to another global definition of the name (a
        function documented where its prototype is declared, a prototype whose function is documented)."""
        names = sorted({s.name for s in symbols})
        if not names:
            return []
        own: dict[tuple[str, str, int], KernelDoc] = {}
        shared: dict[str, KernelDoc] = {}
        for name, def_line, path, kind, scope, *doc in self.db.execute(
            "SELECT d.name, d.def_line, f.path, s.kind, s.scope, d.line, d.summary, d.params, d.returns, d.context, d.text"
            " FROM docs d JOIN files f ON f.id = d.file_id"
            " JOIN symbols s ON s.file_id = d.file_id AND s.name = d.name AND s.line = d.def_line"
            f" WHERE d.name IN (SELECT value FROM json_each(?)) ORDER BY {_KIND_RANK}, {_PATH_RANK}, f.path, d.line",
            (json.dumps(names),),
        ):
            found = KernelDoc.from_row(path, *doc)
            own.setdefault((name, path, def_line), found)
            if kind in _SHARED_DOC_KINDS and (scope == "global" or kind == "prototype"):
                shared.setdefault(name, found)
        out: list[KernelDoc | None] = []
        for sym in symbols:
            found_doc = own.get((sym.name, sym.path, sym.line))
            if found_doc is None and sym.kind in _SHARED_DOC_KINDS and (sym.scope == "global" or sym.kind == "prototype"):
                found_doc = shared.get(sym.name)
            out.append(found_doc)
        return out

    def member_docs(self, owner: str, path: str) -> dict[str, KernelDoc]:
        """The kernel-doc of the members (`OWNER.*`) defined in `path`, by member name."""
        return {name: KernelDoc.from_row(path, *doc) for name, *doc in self.db.execute(
            "SELECT d.name, d.line, d.summary, d.params, d.returns, d.context, d.text FROM docs d"
            " JOIN files f ON f.id = d.file_id WHERE d.name > ? AND d.name < ? AND f.path = ? ORDER BY d.def_line",
            (owner + ".", owner + "/", path),  # '/' follows '.': every name that starts with OWNER.
        )}

    def doc_summaries(self) -> Iterator[tuple[str, str, int, str]]:
        """(name, path, definition line, summary) of every definition with kernel-doc, streamed."""
        yield from self.db.execute(
            "SELECT d.name, f.path, d.def_line, d.summary FROM docs d JOIN files f ON f.id = d.file_id")

    def exports(self, symbols: Sequence[Symbol]) -> list[Export | None]:
        """How each definition is exported to modules: by an export line of its own file; a prototype by
        any export of its name; a global definition without one by an export in a file that does not define
        the name itself (an export beside another definition is that one's); None if it is not exported."""
        names = sorted({s.name for s in symbols if "." not in s.name})
        by_path: dict[tuple[str, str], Export] = {}
        elsewhere: dict[str, Export] = {}  # exports of a name defined somewhere else (an assembly function's)
        anywhere: dict[str, Export] = {}  # what a prototype declares: the definition exported
        if names:
            for name, path, line, macro, namespace, defines in self.db.execute(
                "SELECT e.name, f.path, e.line, e.macro, e.namespace, EXISTS (SELECT 1 FROM symbols s WHERE"
                " s.file_id = e.file_id AND s.name = e.name AND s.kind != 'prototype') FROM exports e"
                " JOIN files f ON f.id = e.file_id WHERE e.name IN (SELECT value FROM json_each(?)) ORDER BY f.path, e.line",
                (json.dumps(names),),
            ):
                export = Export(path, line, macro, namespace)
                by_path.setdefault((name, path), export)
                anywhere.setdefault(name, export)
                if not defines:
                    elsewhere.setdefault(name, export)
        out: list[Export | None] = []
        for sym in symbols:
            found = by_path.get((sym.name, sym.path))
            if found is None and sym.kind == "prototype":
                found = anywhere.get(sym.name)
            elif found is None and sym.kind in _SHARED_DOC_KINDS and sym.scope == "global":
                found = elsewhere.get(sym.name)
            out.append(found)
        return out

    def has_refs(self, name: str) -> bool:
        """Whether anything uses `name` itself, not as a member (a builtin or a symbol defined outside the tree
        has uses and no definition)."""
        return any(self.db.execute(
            "SELECT 1 FROM refs WHERE name = ? AND access_id IS NULL UNION ALL SELECT 1 FROM exports WHERE name = ? LIMIT 1", (name, name)))

    # ------------------------------------------------------------ locals and parameters (the `locals` table)

    def local_refs(self, function: str, name: str | None = None) -> list[LocalRef]:
        """The uses of the locals and parameters of each definition of `function` (or of its local
        `name` alone), the declaration first, then in file order."""
        from .storerecords import LocalRef

        out: list[LocalRef] = []
        for path, line, data in self.db.execute(
            f"SELECT f.path, s.line, l.data FROM symbols s JOIN files f ON f.id = s.file_id"
            f" JOIN local l ON l.rowid = (s.file_id << {REF_FILE_SHIFT}) + s.line"
            f" WHERE s.name = ? AND s.kind = 'function' ORDER BY f.path, s.line", (function,)):
            for local, kind, uses in unpack_locals(data, line):
                if name is None or local == name:
                    out.extend(LocalRef(path, use_line, col, function, _LOCAL_ROLE_NAMES[role], local, kind)
                               for use_line, col, role in uses)
        return out

    def locals_of(self, function: str) -> list[str]:
        """The names of the locals and parameters of `function` (every definition), in order of declaration."""
        names: dict[str, None] = {}
        for (data,) in self.db.execute(
            f"SELECT l.data FROM symbols s JOIN local l ON l.rowid = (s.file_id << {REF_FILE_SHIFT}) + s.line"
            f" WHERE s.name = ? AND s.kind = 'function'", (function,)):
            names.update(dict.fromkeys(local for local, _, _ in unpack_locals(data, 0)))
        return list(names)

    def locals_in_file(self, path: str) -> list[tuple[int, str, str, list[tuple[int, int, str]]]]:
        """Each function of `path` that has locals: (its name line, local, kind, uses as (line, byte
        column, role letter)), for the site's source pages."""
        out = []
        row = self.db.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        if row is None:
            return []
        for line, data in self.db.execute(
            "SELECT l.line, l.data FROM locals l WHERE l.id BETWEEN ? AND ? ORDER BY l.id", ref_range(row[0])):
            for local, kind, uses in unpack_locals(data, line):
                out.append((line, local, kind, uses))
        return out

    # ------------------------------------------------------------ the call graph: a node per definition

    def definitions_of(self, name: str, path: str | None = None) -> list[CallNodeKey]:
        """The call-graph nodes `name` stands for: each file that defines it as a function, in path
        order, then each other file that defines it as a macro (calls from the files that see the
        macro reach it: udelay's driver callers), or `path`'s alone.  A name without a definition
        (only declared, or unknown) is one node without a path."""
        resolver = self._resolver()
        resolver.load([name])
        defs = resolver.defs.get(name, [])
        ordered = [d for d in defs if d.kind == "function"] + [d for d in defs if d.kind != "function"]
        nodes: list[CallNodeKey] = [(name, p) for p in dict.fromkeys(d.path for d in ordered)]
        if path is not None:
            return [n for n in nodes if n[1] == path]
        return nodes or [(name, None)]

    def _resolver(self) -> _Resolver:
        if self._graph is None:
            self._graph = _Resolver(self.db)
        return self._graph

    def _calls(self, callers: Collection[str] | None = None, callees: Collection[str] | None = None) -> tuple[list[_Call], _Resolver]:
        """Calls from any function named in `callers` and/or to any named in `callees` (all with
        neither), each resolved to definitions (a call that may reach several global definitions is
        a call of each): direct ones first, then those through ops members, by call site.  One
        query for the edges, then at most one for the definitions of names not met before and one
        for the #include lists that decide between candidates."""
        from .storerecords import _Call

        direct, through, table = "", "", ""
        args: list[str] = []
        for names, direct_col, through_col, table_col in ((callers, "fn.name", "fn.name", "t.func"),
                                                           (callees, "n.name", "fx.name", "t.name")):
            if names is not None:
                direct += f" AND {direct_col} IN (SELECT value FROM json_each(?))"
                # by caller: through ref_func (whose condition this repeats); by callee: through the member's assignments
                through += f"{' AND r.role IN (1, 5)' if names is callers else ''} AND {through_col} IN (SELECT value FROM json_each(?))"
                table += f" AND {table_col} IN (SELECT value FROM json_each(?))"
                args.append(json.dumps(sorted(names)))
        rows = self.db.execute(
            f"{_DIRECT_CALLS.format(direct)} UNION ALL {_OPS_CALLS.format(through)}"
            f" UNION ALL {_TABLE_CALLS.format(table)}", args + args + args
        ).fetchall()
        rows.sort(key=lambda r: (r[6] is not None, r[4], r[5], r[7], r[2]))
        resolver = self._resolver()
        resolver.load({r[2] for r in rows})
        resolver.prepare({(r[2], r[3]) for r in rows})
        out: list[_Call] = []
        seen: dict[tuple[CallNodeKey, CallNodeKey, str, int, int, str | None], int] = {}
        tables: dict[int, list[str]] = {}  # an ops call's place in `out` → the tables storing its function
        for func, func_file, name, from_file, path, line, via, col, what, table in rows:
            caller = (func, path)
            resolver.note(caller, func_file, what)
            for callee in resolver.callees(name, from_file):
                if table is not None:  # an ops call (a table call's `via` is its table row): one edge per reachable
                    # definition, naming every table that stores it
                    key = (caller, callee, path, line, col, via)
                    at = seen.get(key)
                    if at is not None:
                        if table not in tables[at]:
                            tables[at].append(table)
                        continue
                    seen[key] = len(out)
                    tables[len(out)] = [table]
                out.append(_Call(caller, callee, path, line, col, via))
        for at, names in tables.items():
            out[at] = out[at]._replace(tables=tuple(sorted(names)))
        return out, resolver

    @staticmethod
    def _edge(resolver: _Resolver, about: CallNodeKey, other: CallNodeKey, caller: str, via: str | None,
              path: str, line: int) -> CallEdge:
        """The row about definition `about` naming `other`, for a call by `caller` at path:line."""
        from .storerecords import CallEdge

        return CallEdge(other[0], path, line, via, caller, other[1], resolver.line(other), about[1], resolver.line(about))

    def callees_of_nodes(self, nodes: Collection[CallNodeKey], limit: int | None = None,
                         ops: OpsContext | None = None) -> dict[CallNodeKey, list[CallEdge]]:
        """What each definition calls: a call of a function-like macro is a call, `via` the macro, of
        each function its body calls (macros calling macros followed up to _MACRO_LEVELS deep, each
        function once per call site); names known only as macros are left out, unknown names stay
        (kmalloc).  One query, plus one per level of macro bodies not read before.  With `limit`,
        see _edges."""
        out: dict[CallNodeKey, list[_Row]] = {n: [] for n in nodes}
        calls, resolver = self._calls(callers={n[0] for n in nodes})
        sites: list[tuple[CallNodeKey, CallNodeKey, str, int]] = []  # (asking definition, macro, site path, line)
        for call in calls:
            if call.caller not in out:
                continue
            if resolver.kind(call.callee) == "macro":
                sites.append((call.caller, call.callee, call.path, call.line))
            else:
                out[call.caller].append((call.callee, call.caller[0], call.via, call.path, call.line, call.tables))
        self._read_macro_bodies({m for _, m, _, _ in sites})
        flat: dict[CallNodeKey, list[CallNodeKey]] = {}
        for about, macro, path, line in sites:
            callees = flat.get(macro)
            if callees is None:
                callees = flat[macro] = _macro_callees(resolver, macro)
            for callee in callees:
                out[about].append((callee, about[0], macro[0], path, line, ()))
        return _edges(resolver, self._narrowed(out, ops), limit)

    def _read_macro_bodies(self, macros: Collection[CallNodeKey]) -> None:
        """The calls in the bodies of `macros` and of the macros they call, _MACRO_LEVELS deep, into
        the resolver's cache: a query per level, for the bodies not read before."""
        resolver = self._resolver()
        pending = {m for m in macros if m not in resolver.macro_bodies}
        for _ in range(_MACRO_LEVELS):
            if not pending:
                break
            bodies: dict[CallNodeKey, list[CallNodeKey]] = {m: [] for m in pending}
            calls, _ = self._calls(callers={m[0] for m in pending})
            for call in calls:
                body = bodies.get(call.caller)
                if body is not None:
                    body.append(call.callee)
            resolver.macro_bodies.update(bodies)
            pending = {c for body in bodies.values() for c in body
                       if resolver.kind(c) == "macro" and c not in resolver.macro_bodies}

    def callers_of_nodes(self, nodes: Collection[CallNodeKey], limit: int | None = None,
                         ops: OpsContext | None = None) -> dict[CallNodeKey, list[CallEdge]]:
        """Who calls each definition (each edge names the caller); a caller that is a function-like
        macro gives way to the call sites of the macro, `via` it (macros in macros followed).  With
        `limit`, see _edges."""
        out: dict[CallNodeKey, list[_Row]] = {n: [] for n in nodes}
        targets: dict[CallNodeKey, list[CallNodeKey]] = {n: [n] for n in nodes}  # callee → the definitions asked about
        vias: dict[CallNodeKey, str | None] = dict.fromkeys(nodes)  # the macro a callee stands for, if any
        done: set[CallNodeKey] = set(nodes)
        for _ in range(_MACRO_LEVELS):
            if not targets:
                break
            calls, resolver = self._calls(callees={n[0] for n in targets})
            following: dict[CallNodeKey, list[CallNodeKey]] = {}
            following_via: dict[CallNodeKey, str | None] = {}
            for call in calls:
                for about in targets.get(call.callee, ()):
                    via = vias[call.callee] or call.via
                    if resolver.kind(call.caller) == "macro":
                        if call.caller not in done:
                            done.add(call.caller)
                            following.setdefault(call.caller, []).append(about)
                            following_via[call.caller] = call.caller[0]
                        elif call.caller in following and about not in following[call.caller]:
                            following[call.caller].append(about)
                        continue
                    out[about].append((call.caller, call.caller[0], via, call.path, call.line,
                                       call.tables if via == call.via else ()))
            targets, vias = following, following_via
        return _edges(resolver, self._narrowed(out, ops, callers=True), limit)

    # ------------------------------------------------------------ which ops tables go together (explorer/opsgroups.py)

    def ops_groups(self) -> OpsGroups:
        """Every group of ops tables the initializers of the index make (read once)."""
        from .opsgroups import OpsGroup, OpsGroups

        if self._ops_groups is None:
            groups: dict[int, list[tuple[str, str, str, int, str]]] = {}
            for grp, tbl, type_, path, line, holder in self.db.execute(
                "SELECT g.grp, g.tbl, g.type, f.path, g.line, g.holder FROM opsgroup g JOIN files f ON f.id = g.file_id"
                " ORDER BY g.grp, g.rowid"
            ):
                groups.setdefault(grp, []).append((tbl, type_, path, line, holder))
            self._ops_groups = OpsGroups(
                OpsGroup(rows[0][2], rows[0][3], rows[0][4], tuple((t, ty) for t, ty, _, _, _ in rows)) for rows in groups.values())
        return self._ops_groups

    def ops_table_type(self, table: str) -> str | None:
        """The ops type of an ops table (proto_ops for inet_stream_ops), None if `table` stores no function."""
        from .opsgroups import ops_type

        row = self.db.execute(
            "SELECT a.target FROM fnassign fa JOIN access a ON a.id = fa.access_id WHERE fa.tbl = ? AND a.target IS NOT NULL"
            " AND EXISTS (SELECT 1 FROM symbols s WHERE s.name = fa.function AND s.kind = 'function')"
            " ORDER BY a.target LIMIT 1", (table,)).fetchone()
        return ops_type(row[0]) if row is not None else None

    def ops_tables_like(self, text: str, limit: int = 5) -> list[str]:
        """Ops tables whose names contain `text` (shortest first), for suggestions."""
        return [row[0] for row in self.db.execute(
            "SELECT DISTINCT fa.tbl FROM fnassign fa WHERE fa.tbl LIKE ? ESCAPE '\\'"
            " AND EXISTS (SELECT 1 FROM symbols s WHERE s.name = fa.function AND s.kind = 'function')"
            " ORDER BY length(fa.tbl), fa.tbl LIMIT ?",
            (f"%{_like_escape(text)}%", limit))]

    def ops_context(self, table: str) -> OpsContext | None:
        """The context of a chain known to go through `table` (--ops TABLE), None if it is no ops table."""
        from .opsgroups import OpsContext

        type_ = self.ops_table_type(table)
        if type_ is None:
            return None
        return OpsContext().through(self.ops_groups(), type_, [table])

    def _stored_in(self, functions: Collection[str]) -> dict[str, list[tuple[str, str]]]:
        """function → the (table, ops member) pairs whose initializers store it."""
        out: dict[str, list[tuple[str, str]]] = {}
        for function, table, member in self.db.execute(
            "SELECT DISTINCT fx.name, ft.name, a.target FROM names fx JOIN assign fa ON fa.function = fx.id"
            " JOIN names ft ON ft.id = fa.tbl JOIN access a ON a.id = fa.access_id"
            " WHERE fx.name IN (SELECT value FROM json_each(?)) AND a.target IS NOT NULL",
            (json.dumps(sorted(functions)),)):
            out.setdefault(function, []).append((table, member))
        return out

    def _narrowed(self, rows: dict[CallNodeKey, list[_Row]], ops: OpsContext | None,
                  callers: bool = False) -> dict[CallNodeKey, list[_Row]]:
        """With an ops context, calls through ops members keep only the tables it allows (a call none
        of whose tables fits is left out); direct calls and calls through macros stay.  For callers,
        a caller that tables store is kept only if one of them fits (wisp_dgram_connect, stored only
        in the datagram table, is no caller on a stream socket)."""
        from .opsgroups import ops_type

        if ops is None:
            return rows
        groups = self.ops_groups()
        stored = self._stored_in({row[0][0] for got in rows.values() for row in got}) if callers else {}
        out: dict[CallNodeKey, list[_Row]] = {}
        for about, got in rows.items():
            kept: list[_Row] = []
            for row in got:
                homes = stored.get(row[0][0])
                if homes and all(ops.through(groups, ops_type(member), [table]) is None for table, member in homes):
                    continue
                via, tables = row[2], row[5]
                if via is None or not tables or "." not in via:
                    kept.append(row)
                    continue
                after = ops.through(groups, ops_type(via), tables)
                if after is not None:
                    kept.append((*row[:5], after.narrow(via, tables)))
            out[about] = kept
        return out

    def callees_of(self, names: Collection[str]) -> dict[str, list[CallEdge]]:
        """What each of `names` calls (all its definitions), in one query a level of macros."""
        nodes = {name: self.definitions_of(name) for name in names}
        found = self.callees_of_nodes([n for ns in nodes.values() for n in ns])
        return {name: [e for n in ns for e in found[n]] for name, ns in nodes.items()}

    def callers_of(self, names: Collection[str]) -> dict[str, list[CallEdge]]:
        """Who calls each of `names` (any of its definitions)."""
        nodes = {name: self.definitions_of(name) for name in names}
        found = self.callers_of_nodes([n for ns in nodes.values() for n in ns])
        return {name: [e for n in ns for e in found[n]] for name, ns in nodes.items()}

    def callees(self, name: str, path: str | None = None) -> list[CallEdge]:
        """What `name` calls (its definition in `path`, or all of them); names known only as macros
        are left out (unknown names stay: kmalloc), the functions their bodies call come `via` them."""
        nodes = self.definitions_of(name, path)
        found = self.callees_of_nodes(nodes)
        return [e for n in nodes for e in found[n]]

    def callers(self, name: str, path: str | None = None) -> list[CallEdge]:
        nodes = self.definitions_of(name, path)
        found = self.callers_of_nodes(nodes)
        return [e for n in nodes for e in found[n]]

    def call_tree(self, name: str, direction: str, depth: int, limit: int = CALL_TREE_LIMIT,
                  path: str | None = None, ops: OpsContext | None = None) -> CallTree:
        """`name`'s callers or callees, `depth` levels deep, breadth first with one query per level.

        Nodes are definitions: a name defined in several files has a root for each (or `path`'s
        alone).  Each definition is expanded once, at the shallowest level it appears on (a repeat
        is marked `seen`); at most `limit` nodes are listed, and the nodes the limit left unlisted
        are marked `cut`.  No recursion: any depth is bounded by the number of definitions and `limit`.
        """
        from .storerecords import CallNode, CallTree

        fetch = self.callers_of_nodes if direction == "callers" else self.callees_of_nodes
        roots = self.definitions_of(name, path)
        resolver = self._resolver()
        tree = CallTree(name, direction, depth, limit, [],
                        definitions=[(p, resolver.line((name, p))) for _, p in roots if p is not None])
        expanded: set[CallNodeKey] = set(roots)
        frontier: list[tuple[CallNodeKey, list[CallNode], CallNode | None]] = [(r, tree.children, None) for r in roots]
        level = 1
        while frontier and level <= depth:
            edges = fetch(dict.fromkeys(n for n, _, _ in frontier), limit - tree.nodes, ops)
            following: list[tuple[CallNodeKey, list[CallNode], CallNode | None]] = []
            for i, (caller, children, parent) in enumerate(frontier):
                for edge in edges[caller]:
                    if tree.nodes >= limit:
                        tree.cut = True
                        if parent is not None:
                            parent.cut = True
                        for later_node, _, later in frontier[i + 1 :]:
                            if later is not None and edges[later_node]:
                                later.children, later.cut = None, True
                        for _, _, later in following:  # expanded, but their level was never fetched
                            if later is not None:
                                later.children, later.cut = None, True
                        return tree
                    node = CallNode(edge)
                    tree.nodes += 1
                    children.append(node)
                    key = edge.node
                    if key in expanded:
                        node.seen = True
                    elif level < depth:
                        expanded.add(key)
                        node.children = []
                        following.append((key, node.children, node))
            frontier = following
            level += 1
        return tree

    def call_graph(self) -> dict[CallNodeKey, list[CallEdge]]:
        """caller definition → its callees over the whole index (functions only), for path searches."""
        calls, resolver = self._calls()
        functions = _function_names(self.db)
        graph: dict[CallNodeKey, list[CallEdge]] = {}
        for call in calls:
            if call.callee[0] in functions and resolver.kind(call.callee) != "macro" and resolver.kind(call.caller) != "macro":
                graph.setdefault(call.caller, []).append(
                    self._edge(resolver, call.caller, call.callee, call.caller[0], call.via, call.path, call.line)._replace(tables=call.tables))
        return graph

    def call_path(self, start: str, goal: str, max_depth: int = 12, start_path: str | None = None,
                  goal_path: str | None = None) -> list[CallEdge] | None:
        """The chain of find_path (consistent ops tables preferred), or None."""
        found = self.find_path(start, goal, max_depth, start_path, goal_path)
        return None if found is None else found.edges

    def find_path(self, start: str, goal: str, max_depth: int = 12, start_path: str | None = None,
                  goal_path: str | None = None, ops: OpsContext | None = None) -> CallPath | None:
        """A shortest call chain from a definition of start to one of goal through functions whose
        ops tables are consistent (see explorer/opsgroups.py: one socket, each ops type served by
        one table, tables of different types paired where the registrations pair them), else the
        shortest chain of the wide reading (every function any table stores in a member), marked
        not consistent; None if there is neither within max_depth calls."""
        from .opsgroups import OpsContext

        starts, goals = self.definitions_of(start, start_path), self.definitions_of(goal, goal_path)
        if start == goal or not starts or not goals or not self._functions([goal]):
            return None
        groups = self.ops_groups()
        found = self._search_path(starts, goals, max_depth, groups, ops or OpsContext())
        if found is not None:
            return found
        wide = self._search_path(starts, goals, max_depth, None, OpsContext())
        return None if wide is None else wide._replace(consistent=False)

    def _search_path(self, starts: list[CallNodeKey], goals: list[CallNodeKey], max_depth: int,
                     groups: OpsGroups | None, ops: OpsContext) -> CallPath | None:
        """Breadth first from both ends at once (callees of the start side, callers of the goal side,
        whichever frontier is smaller), one query per level: the graph is never loaded whole.  A state
        is a definition and what the chain has learned of its ops tables (at most _PATH_CONTEXTS per
        definition); without `groups`, every chain is consistent (the wide reading)."""
        from .opsgroups import ops_type
        from .storerecords import CallEdge, CallPath

        ahead: dict[_PathState, tuple[int, CallEdge | None, _PathState | None]] = {(s, ops): (0, None, None) for s in starts}
        behind: dict[_PathState, tuple[int, CallEdge | None, _PathState | None]] = {(g, ops): (0, None, None) for g in goals}
        contexts: dict[tuple[bool, CallNodeKey], list[OpsContext]] = {}
        for side, states in ((True, ahead), (False, behind)):
            for node, ctx in states:
                contexts.setdefault((side, node), []).append(ctx)
        forward, backward = list(ahead), list(behind)

        def step(ctx: OpsContext, edge: CallEdge) -> OpsContext | None:
            if groups is None or edge.via is None or "." not in edge.via or not edge.tables:
                return ctx
            return ctx.through(groups, ops_type(edge.via), edge.tables)

        def add(side: bool, table: dict[_PathState, tuple[int, CallEdge | None, _PathState | None]], node: CallNodeKey,
                ctx: OpsContext, dist: int, edge: CallEdge, prev: _PathState, meets: list[tuple[_PathState, _PathState, OpsContext]],
                nxt: list[_PathState]) -> None:
            known = contexts.setdefault((side, node), [])
            if ctx in known or len(known) >= _PATH_CONTEXTS:
                return
            known.append(ctx)
            table[(node, ctx)] = (dist, edge, prev)
            nxt.append((node, ctx))
            for other in contexts.get((not side, node), ()):
                merged = ctx if groups is None else ctx.merge(groups, other)
                if merged is not None:
                    meets.append(((node, ctx), (node, other), merged) if side else ((node, other), (node, ctx), merged))

        for _ in range(max_depth):
            if not forward or not backward:
                return None
            meets: list[tuple[_PathState, _PathState, OpsContext]] = []
            nxt: list[_PathState] = []
            if len(forward) <= len(backward):
                found = self.callees_of_nodes(dict.fromkeys(n for n, _ in forward))
                functions = self._functions({e.name for n, _ in forward for e in found[n]})
                for state in forward:
                    node, ctx = state
                    for e in found[node]:
                        if e.name not in functions:
                            continue
                        after = step(ctx, e)
                        if after is not None:
                            add(True, ahead, e.node, after, ahead[state][0] + 1, e, state, meets, nxt)
                forward = nxt
            else:
                found = self.callers_of_nodes(dict.fromkeys(n for n, _ in backward))
                for state in backward:
                    node, ctx = state
                    for e in found[node]:  # e.name is the caller; as a chain link it goes caller → node
                        link = CallEdge(node[0], e.path, e.line, e.via, e.name, node[1], e.def_line, e.name_path,
                                        e.name_line, e.tables)
                        after = step(ctx, link)
                        if after is not None:
                            add(False, behind, link.from_node, after, behind[state][0] + 1, link, state, meets, nxt)
                backward = nxt
            if meets:
                best = min(meets, key=lambda m: ahead[m[0]][0] + behind[m[1]][0])
                if ahead[best[0]][0] + behind[best[1]][0] > max_depth:
                    return None
                chain = self._chain(ahead, behind, best[0], best[1])
                merged = best[2]
                return CallPath([e._replace(tables=merged.narrow(e.via, e.tables)) for e in chain], True, merged)
        return None

    @staticmethod
    def _chain(ahead: dict[_PathState, tuple[int, CallEdge | None, _PathState | None]],
               behind: dict[_PathState, tuple[int, CallEdge | None, _PathState | None]],
               meet_ahead: _PathState, meet_behind: _PathState) -> list[CallEdge]:
        chain: list[CallEdge] = []
        _, edge, prev = ahead[meet_ahead]
        while edge is not None and prev is not None:
            chain.append(edge)
            _, edge, prev = ahead[prev]
        chain.reverse()
        _, edge, prev = behind[meet_behind]
        while edge is not None and prev is not None:
            chain.append(edge)
            _, edge, prev = behind[prev]
        return chain

    def _functions(self, names: Collection[str]) -> set[str]:
        """Which of `names` are functions (defined or declared)."""
        return {
            row[0]
            for row in self.db.execute(
                "SELECT DISTINCT name FROM symbols WHERE name IN (SELECT value FROM json_each(?))"
                f" AND kind IN ({_CALLABLE_SQL}, 'prototype')",
                (json.dumps(sorted(names)),),
            )
        }

    def struct(self, name: str) -> StructInfo | None:
        """Members in order (nested members under their parent) and the first-member embedding chain."""
        found = [s for s in self.lookup(name) if s.kind in ("struct", "union")] or [
            s for s in self.lookup(name) if s.kind == "typedef"
        ]
        if not found:
            return None
        head = found[0]
        rows = self.db.execute(
            "SELECT s.name, s.signature, s.type, s.line, s.cond FROM symbols s JOIN files f ON f.id = s.file_id"
            " WHERE s.kind = 'member' AND s.scope = ? AND f.path = ? AND s.line BETWEEN ? AND ?"
            " ORDER BY s.line, s.col",
            (head.name, head.path, head.line, head.end_line),
        ).fetchall()
        entries: list[tuple[str, StructField]] = []
        prefix = head.name + "."
        for full, signature, _type, line, cond in rows:
            rel = full[len(prefix):]
            short = rel.rsplit(".", 1)[-1]
            decl_type = signature[: -len(short)].rstrip() if signature.endswith(short) else signature
            entry: StructField = {"name": short, "member": full, "type": decl_type, "line": line}
            if cond:
                entry["cond"] = cond
            entries.append((rel, entry))
        # a member of an anonymous struct type is declared before its parent's name: nest afterwards
        by_name = dict(entries)
        fields: list[StructField] = []
        for rel, entry in sorted(entries, key=lambda e: (by_name[e[0].split(".")[0]]["line"], e[0].count("."), e[1]["line"])):
            parent = rel.rsplit(".", 1)[0] if "." in rel else None
            if parent and parent in by_name:
                by_name[parent].setdefault("fields", []).append(entry)
            else:
                fields.append(entry)
        return {
            "name": head.name,
            "kind": head.kind,
            "path": head.path,
            "line": head.line,
            "end_line": head.end_line,
            "fields": fields,
            "embedding": self.embedding_chain(head.name),
        }

    def embedding_chain(self, name: str, limit: int = 12) -> list[str]:
        """tcp_sock → inet_connection_sock → inet_sock → sock → sock_common: each struct's first member, embedded."""
        chain = [name]
        for _ in range(limit):
            row = self.db.execute(
                "SELECT s.type, s.signature FROM symbols s JOIN symbols t ON t.file_id = s.file_id"
                " WHERE t.name = ? AND t.kind IN ('struct', 'union') AND s.kind = 'member' AND s.scope = ?"
                " AND s.line BETWEEN t.line AND t.end_line AND s.name NOT LIKE ? ORDER BY s.line, s.col LIMIT 1",
                (chain[-1], chain[-1], chain[-1] + ".%.%"),
            ).fetchone()
            if row is None or not row[0] or "*" in row[1] or row[0] in chain:
                break
            if not _kinds_of(self.db, row[0]) & {"struct", "union"}:
                break
            chain.append(row[0])
        return chain

    def ops_targets(self, members: Collection[str] | None = None) -> dict[str, list[tuple[str, str]]]:
        """STRUCT.FIELD → the functions stored in it (ops tables, assignments), each with the file that
        stores it (whose own static of that name, if any, is the one stored): what a call through it may
        reach; of every member, or of `members` only."""
        out: dict[str, dict[tuple[str, str], None]] = {}
        only = "" if members is None else " AND a.target IN (SELECT value FROM json_each(?))"
        for member, function, path in self.db.execute(
            "SELECT a.target, fa.function, min(f.path) FROM fnassign fa JOIN access a ON a.id = fa.access_id"
            " JOIN files f ON f.id = fa.file_id"
            " WHERE a.target IS NOT NULL AND fa.function IN (SELECT name FROM symbols WHERE kind = 'function')"
            + only + " GROUP BY a.target, fa.function, fa.file_id ORDER BY a.target, fa.function",
            () if members is None else (json.dumps(sorted(members)),),
        ):
            out.setdefault(member, {})[(function, path)] = None
        return {member: list(found) for member, found in out.items()}

    def refs_in_file(self, path: str) -> list[tuple[int, int, int, str, str, str | None]]:
        """Link spans of one file: (line, col, end_col, name, role, target); byte columns.

        target is the STRUCT.FIELD of a resolved member access, the name itself for
        other identifiers, or None for a member access that could not be resolved.
        """
        row = self.db.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        if row is None:
            return []
        return [
            (line, col, end_col, name, role, target if access_id is not None else name)
            for line, col, end_col, name, role, access_id, target in self.db.execute(
                "SELECT r.line, r.col, r.end_col, r.name, r.role, r.access_id, a.target FROM refs r"
                " LEFT JOIN access a ON a.id = r.access_id WHERE r.id BETWEEN ? AND ?"
                " UNION ALL SELECT e.line, e.col, e.end_col, e.name, 'export', NULL, NULL FROM exports e"
                " WHERE e.file_id = ? ORDER BY 1, 2",
                (*ref_range(row[0]), row[0]),
            )
        ]


    # ------------------------------------------------------------ for the site (explorer/site/)

    def included_files(self, path: str) -> frozenset[str]:
        """The indexed files that `path`'s #include lines name."""
        return frozenset(row[0] for row in self.db.execute(
            "SELECT DISTINCT h.path FROM includes i JOIN files f ON f.id = i.file_id JOIN files h ON h.path = i.path"
            " WHERE f.path = ?", (path,)))

    def including_files(self, path: str) -> frozenset[str]:
        """The indexed files whose #include lines name `path`."""
        return frozenset(row[0] for row in self.db.execute(
            "SELECT DISTINCT f.path FROM include i JOIN files f ON f.id = i.file_id"
            " WHERE i.path = (SELECT id FROM names WHERE name = ?)", (path,)))

    def file_lines(self) -> dict[str, int]:
        """path → number of lines, of every indexed file, by path."""
        return {path: int(lines) for path, lines in self.db.execute("SELECT path, lines FROM files ORDER BY path")}

    def definitions_named(self, names: Collection[str]) -> Iterator[Symbol]:
        """Every definition of each of `names` (through symbol_name, a thousand names a query)."""
        ordered = sorted(names)
        for i in range(0, len(ordered), 1000):
            yield from (Symbol(*row) for row in self.db.execute(
                f"{_SELECT} WHERE s.name IN (SELECT value FROM json_each(?))", (json.dumps(ordered[i:i + 1000]),)))

    def file_definitions(self, path: str) -> list[Symbol]:
        """The definitions of one file, in order (through symbol_file)."""
        return [Symbol(*row) for row in self.db.execute(
            f"{_SELECT} WHERE s.file_id = (SELECT id FROM files WHERE path = ?) ORDER BY s.line, s.col", (path,))]

    def _file_ids(self, paths: Collection[str]) -> list[int]:
        return [row[0] for row in self.db.execute(
            "SELECT id FROM files WHERE path IN (SELECT value FROM json_each(?))", (json.dumps(sorted(paths)),))]

    def included_by(self, paths: Collection[str]) -> set[str]:
        """The indexed files that the files `paths` include (#include lines that name a file of the tree)."""
        ids = self._file_ids(paths)
        return {row[0] for row in self.db.execute(
            "SELECT DISTINCT i.path FROM includes i JOIN files f ON f.path = i.path"
            " WHERE i.file_id IN (SELECT value FROM json_each(?))", (json.dumps(ids),))}

    def link_targets_in(self, paths: Collection[str]) -> set[str]:
        """The names the uses in the files `paths` link to: STRUCT.FIELD for a resolved member access,
        else the name as written (unresolved member accesses left out), and the names of their
        EXPORT_SYMBOL lines, as `refs_in_file` gives them."""
        ids = self._file_ids(paths)
        ranges = json.dumps([ref_range(i) for i in ids])
        return {row[0] for row in self.db.execute(
            "SELECT DISTINCT CASE WHEN r.access_id IS NULL THEN n.name ELSE a.target END FROM json_each(?) j"
            " CROSS JOIN ref r ON r.rowid BETWEEN j.value ->> 0 AND j.value ->> 1 JOIN names n ON n.id = r.name"
            " LEFT JOIN access a ON a.id = r.access_id"
            " UNION SELECT e.name FROM exports e WHERE e.file_id IN (SELECT value FROM json_each(?))",
            (ranges, json.dumps(ids))) if row[0]}

    def names_defined_in(self, paths: Collection[str]) -> set[str]:
        """The names of the definitions of the files `paths`."""
        return {row[0] for row in self.db.execute(
            "SELECT DISTINCT name FROM symbols WHERE file_id IN (SELECT value FROM json_each(?))",
            (json.dumps(self._file_ids(paths)),))}

    def names_defined_outside(self, names: Collection[str], paths: Collection[str]) -> set[str]:
        """Which of `names` have a definition in a file other than `paths`."""
        ids = json.dumps(self._file_ids(paths))
        ordered = sorted(names)
        out: set[str] = set()
        for i in range(0, len(ordered), 5000):
            out.update(row[0] for row in self.db.execute(
                "SELECT DISTINCT name FROM symbols WHERE name IN (SELECT value FROM json_each(?))"
                " AND file_id NOT IN (SELECT value FROM json_each(?))", (json.dumps(ordered[i:i + 5000]), ids)))
        return out

    def definitions_in(self, paths: Collection[str]) -> Iterator[Symbol]:
        """Every definition of the files `paths`, file by file (through symbol_file)."""
        for file_id in self._file_ids(paths):
            yield from (Symbol(*row) for row in self.db.execute(f"{_SELECT} WHERE s.file_id = ?", (file_id,)))
    def file_hashes(self) -> dict[str, str]:
        """path → sha256 of the indexed bytes, of every indexed file."""
        return {path: sha for path, sha in self.db.execute("SELECT path, sha256 FROM files")}

    # ------------------------------------------------------------ across kernels (history, diff, changes)

    def digest(self, sym: Symbol) -> int | None:
        """The stored digest of `sym`'s definition bytes (see indexer.definition_digest), None if it is not indexed."""
        row = self.db.execute(
            "SELECT s.digest FROM symbols s JOIN files f ON f.id = s.file_id"
            " WHERE f.path = ? AND s.name = ? AND s.kind = ? AND s.start_byte = ? AND s.end_byte = ? LIMIT 1",
            (sym.path, sym.name, sym.kind, sym.start_byte, sym.end_byte),
        ).fetchone()
        return None if row is None else int(row[0])

    def changes(self, newer: Index, path_prefix: str | None = None, kind: str | None = None) -> list[Change]:
        """Definitions added, removed and changed from this kernel's index to `newer`'s, by name.

        A file with the same path and content in both kernels has the same definitions (both
        indexes are current, so built by the same indexer): only the definitions of the other
        files are compared, as multisets of (name, kind, path, digest) counted in SQL; each name's
        leftovers are then paired with `counterparts` (same path first, then the same kind)."""
        from .storerecords import Change, _Def

        where, args = "", []
        if kind:
            where += " AND s.kind = ?"
            args.append(kind)
        if path_prefix:
            prefix = path_prefix.rstrip("/")
            where += " AND (f.path = ? OR f.path LIKE ? ESCAPE '\\')"
            args += [prefix, _like_escape(prefix) + "/%"]
        # The files of one side whose path and content the other side does not have (a short list, then the
        # symbols by file through symbol_file), and of their definitions the (name, kind, path, digest)
        # groups whose counts differ between the sides: the rest is the same text in the same file.
        side = ("SELECT s.name, s.kind, f.path, s.digest, {2} AS side FROM {0}.files f JOIN {0}.symbols s"
                " ON s.file_id = f.id WHERE f.id IN (SELECT d.id FROM {0}.files d WHERE NOT EXISTS"
                " (SELECT 1 FROM {1}.files g WHERE g.path = d.path AND g.sha256 = d.sha256))" + where)
        sql = (f"SELECT name, kind, path, digest, sum(side = 0), sum(side = 1) FROM ({side.format('main', 'newer', 0)}"
               f" UNION ALL {side.format('newer', 'main', 1)}) GROUP BY name, kind, path, digest"
               " HAVING sum(side = 0) != sum(side = 1)")
        from urllib.parse import quote

        self.db.execute("ATTACH DATABASE ? AS newer", (f"file:{quote(str(newer.path.resolve()))}?mode=ro",))
        try:
            rows = self.db.execute(sql, args + args).fetchall()
        finally:
            self.db.execute("DETACH DATABASE newer")
        old_by_name: dict[str, list[_Def]] = {}
        new_by_name: dict[str, list[_Def]] = {}
        for name, k, path, digest, before, after in rows:
            if before > after:
                old_by_name.setdefault(name, []).extend([_Def(name, k, path, digest)] * (before - after))
            else:
                new_by_name.setdefault(name, []).extend([_Def(name, k, path, digest)] * (after - before))
        out: list[Change] = []
        for name in sorted(old_by_name.keys() | new_by_name.keys()):
            pairs, gone, new = counterparts(old_by_name.get(name, []), new_by_name.get(name, []),
                                            lambda d: (d.path, d.kind), lambda d: d.digest)
            for a, b in pairs:
                if a.digest != b.digest or a.path != b.path:
                    out.append(Change(name, b.kind, b.path, "changed", a.path))
            out += [Change(name, d.kind, d.path, "removed") for d in gone]
            out += [Change(name, d.kind, d.path, "added") for d in new]
        out.sort(key=lambda c: (c.path, c.name, c.kind, c.status))
        return out


class Syscall(namedtuple("Syscall", "table number abi")):
    """A system call a name enters: `table` is 64 (syscall_64.tbl, the x86-64 ABI), x32 (the same table's
    x32 ABI) or 32 (syscall_32.tbl, i386 and 32-bit tasks on a 64-bit kernel)."""

    __slots__ = ()
    table: str
    number: int
    abi: str

    def as_dict(self) -> dict[str, object]:
        return self._asdict()


def find(index: Index, name: str, kind: str | None = None) -> list[Symbol]:
    """The definitions of `name` (a bare field name: the members of every struct that has it)."""
    found = index.lookup(name, kind)
    if not found and "." not in name:
        found = [s for s in index.members_named(name) if kind in (None, "member")]
    return found


def counterparts(older: Sequence[T], newer: Sequence[T], where: Callable[[T], tuple[str, str]],
                 text: Callable[[T], Hashable]) -> tuple[list[tuple[T, T]], list[T], list[T]]:
    """Pair each definition of a name in an older kernel with its counterpart in a newer one.

    `where` gives a definition's (path, kind), `text` what decides whether two are the same
    (the text, or its digest).  Tried in turn, each older definition taking the first newer one
    left that fits: same path and kind (the same text first), same path, then the same kind
    elsewhere (the same text first: a definition moved to another file).  Returns the pairs, the
    older definitions left over (removed) and the newer ones left over (added).  Each pass is one
    dictionary of the newer ones left: a macro defined in a thousand files costs no more."""
    passes: list[Callable[[T], Hashable]] = [
        lambda d: (*where(d), text(d)),
        where,
        lambda d: where(d)[0],
        lambda d: (where(d)[1], text(d)),
        lambda d: where(d)[1],
    ]
    old_left, new_left = list(range(len(older))), list(range(len(newer)))
    partner: dict[int, int] = {}
    for key in passes:
        if not old_left or not new_left:
            break
        waiting: dict[Hashable, deque[int]] = {}
        for j in new_left:
            waiting.setdefault(key(newer[j]), deque()).append(j)
        unpaired = []
        for i in old_left:
            queue = waiting.get(key(older[i]))
            if queue:
                partner[i] = queue.popleft()
            else:
                unpaired.append(i)
        old_left = unpaired
        taken = set(partner.values())
        new_left = [j for j in new_left if j not in taken]
    pairs = [(older[i], newer[partner[i]]) for i in sorted(partner)]
    return pairs, [older[i] for i in old_left], [newer[j] for j in new_left]


def create_schema(db: sqlite3.Connection, indexes: bool = True, views: bool = True) -> None:
    """Tables, and their indexes unless a bulk load will create them afterwards; the views made again
    unless `views` is false (while another connection reads through them: a dropped view is no table)."""
    db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # takes effect only on a new, empty database
    db.executescript(SCHEMA)
    if indexes:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'ref_name'").fetchone() is None:  # after a bulk load:
            # the unique indexes filled in random order during it are rebuilt full, into pages INDEXES then reuses
            db.execute("REINDEX sqlite_autoindex_names_1")
            db.execute("REINDEX sqlite_autoindex_access_1")
        db.executescript(INDEXES)
    if views:
        for view in VIEW_NAMES:
            db.execute(f"DROP VIEW IF EXISTS {view}")  # its triggers go with it
        db.executescript(VIEWS)
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


# ---------------------------------------------------------------- cross-references


class Export(namedtuple("Export", "path line macro namespace", defaults=(None,))):
    """An export of a definition to modules: the EXPORT_SYMBOL line and its macro."""

    __slots__ = ()
    path: str
    line: int
    macro: str  # EXPORT_SYMBOL, EXPORT_SYMBOL_GPL, EXPORT_SYMBOL_NS_GPL, ...
    namespace: str | None  # default None


# Definitions that share a kernel-doc comment and an export with the other global definitions of their name.
_SHARED_DOC_KINDS = frozenset({"function", "prototype", "variable", "macro"})
_LOCAL_ROLE_NAMES = {"d": "decl", "r": "read", "w": "write", "a": "addr"}
_LOCAL_KINDS = {"p": "parameter", "l": "local"}


def unpack_locals(data: str, base_line: int) -> Iterator[tuple[str, str, list[tuple[int, int, str]]]]:
    """The `locals` table's text (see xref.LocalUses) as (name, kind, [(line, byte column, role letter)])."""
    for entry in data.split(";"):
        try:
            name, kind, uses_text = entry.split(":", 2)
            uses = []
            for use in uses_text.split(","):
                if use:
                    line_text, rest = use.split(".", 1)
                    uses.append((base_line + int(line_text), int(rest[:-1]), rest[-1]))
        except ValueError:  # a damaged row: what can be read of the others is still given
            continue
        yield name, _LOCAL_KINDS.get(kind, "local"), uses


# A node of the call graph: a name and the file of its definition (None: no definition indexed,
# a function only declared or unknown).  Two static functions of one name are two nodes.
CallNodeKey = tuple[str, str | None]


_PATH_CONTEXTS = 8  # contexts kept per definition and side


class _Definition(namedtuple("_Definition", "path file_id line kind scope")):
    __slots__ = ()
    path: str
    file_id: int
    line: int
    kind: str  # function or macro
    scope: str  # file (static) or global


# How many levels of macros calling macros callers/callees follow.
_MACRO_LEVELS = 8


class _Resolver:
    """Which definitions a name called from a file stands for, and what is known of each definition.

    The definition in that file, else one in a file it includes (a header, or a .c file that
    another .c file includes: jazzsonic.c's `#include "sonic.c"`), else every global (non-static)
    definition (the alternatives kernel configurations choose between: kfree in mm/slab.c, slob.c
    and slub.c), else the static ones of the files that include the calling file (a template such
    as kvm's paging_tmpl.h, included into mmu.c, calls mmu.c's statics; each includer's gets the
    call), else one in any header (path order breaks ties), else none: a static function of
    another .c file that neither includes the other is never a candidate.  Functions and macros
    are ranked apart and the better-placed answer wins, a function on a tie: a macro is never
    global, so `udelay` called from a driver is the macro of asm-generic/delay.h, not the static
    function of the same name in arch/x86/realmode/rm/wakemain.c (which nothing outside it sees).

    One resolver serves every query of an Index: definitions by name, #include lists by file and
    the calls in macro bodies are loaded as calls need them, once (so once per call tree, not per
    level or per edge)."""

    def __init__(self, db: sqlite3.Connection, names: Collection[str] = ()) -> None:
        self.db = db
        self.defs: dict[str, list[_Definition]] = {}
        self._nodes: dict[CallNodeKey, _Definition] = {}  # a file's function, else its macro
        self._includes: dict[int, frozenset[int]] = {}
        self._includers: dict[int, frozenset[int]] = {}
        self._resolved: dict[tuple[str, int], tuple[CallNodeKey, ...]] = {}
        self._shapes: dict[str, tuple[frozenset[int], bool]] = {}  # name → (its candidates' files, whether #includes matter)
        self.macro_bodies: dict[CallNodeKey, list[CallNodeKey]] = {}  # a macro → what its body calls, in order
        self.load(names)

    def load(self, names: Collection[str]) -> None:
        """Read the definitions of those of `names` not read yet, in one query."""
        missing = [n for n in names if n not in self.defs]
        if not missing:
            return
        for name in missing:
            self.defs[name] = []
        for name, path, file_id, line, kind, scope in self.db.execute(
            "SELECT s.name, f.path, s.file_id, min(s.line), s.kind, max(s.scope) FROM symbols s"
            " JOIN files f ON f.id = s.file_id WHERE s.name IN (SELECT value FROM json_each(?))"
            f" AND s.kind IN ({_CALLABLE_SQL}, {_MACRO_SQL}) GROUP BY s.name, s.file_id, s.kind ORDER BY f.path",
            (json.dumps(missing),),
        ):
            # an assembly entry point or label is a function to the graph, a .macro a macro
            d = _Definition(path, file_id, line, "macro" if kind in MACRO_KINDS else "function", scope)
            self.defs[name].append(d)
            known = self._nodes.get((name, path))
            if known is None or (known.kind != "function" and d.kind == "function"):
                self._nodes[(name, path)] = d

    def note(self, node: CallNodeKey, file_id: int, what: int | None) -> None:
        """What a calling definition is, as _CALLER gives it (None: no definition in its file)."""
        if what is not None and node not in self._nodes:
            macro = what >= _MACRO_MARK
            self._nodes[node] = _Definition(node[1] or "", file_id, what - _MACRO_MARK if macro else what,
                                            "macro" if macro else "function", "")

    def prepare(self, calls: Collection[tuple[str, int]]) -> None:
        """Read, in one query, the #include lists that resolving these (name, calling file) pairs needs."""
        files = {f for name, f in calls if (name, f) not in self._resolved and f not in self._includes
                 and self._needs_includes(name, f)}
        if not files:
            return
        got: dict[int, set[int]] = {f: set() for f in files}
        for file_id, header in self.db.execute(
            "SELECT i.file_id, f.id FROM includes i JOIN files f ON f.path = i.path"
            " WHERE i.file_id IN (SELECT value FROM json_each(?))", (json.dumps(sorted(files)),)
        ):
            got[file_id].add(header)
        self._includes.update((f, frozenset(h)) for f, h in got.items())

    def includes(self, file_id: int) -> frozenset[int]:
        got = self._includes.get(file_id)
        if got is None:
            got = frozenset(row[0] for row in self.db.execute(
                "SELECT f.id FROM includes i JOIN files f ON f.path = i.path WHERE i.file_id = ?", (file_id,)))
            self._includes[file_id] = got
        return got

    def includers(self, file_id: int) -> frozenset[int]:
        """The files whose #include lines name file `file_id` (read once per file)."""
        got = self._includers.get(file_id)
        if got is None:
            got = self._includers[file_id] = frozenset(row[0] for row in self.db.execute(
                "SELECT i.file_id FROM include i WHERE i.path = (SELECT n.id FROM files f JOIN names n ON n.name = f.path"
                " WHERE f.id = ?)", (file_id,)))
        return got

    def _tiers(self, name: str) -> list[list[_Definition]]:
        """`name`'s functions, then its macros (each kind present)."""
        defs = self.defs.get(name, [])
        return [tier for tier in ([d for d in defs if d.kind == "function"], [d for d in defs if d.kind != "function"]) if tier]

    @staticmethod
    def _includable(tier: list[_Definition]) -> list[_Definition]:
        """The definitions a calling file sees only by including their file: a header's, or a static one of a .c file."""
        return [d for d in tier if d.path.endswith(".h") or d.scope != "global"]

    @staticmethod
    def _global(tier: list[_Definition]) -> list[_Definition]:
        """The definitions every file links against: global functions (a macro never is)."""
        return [d for d in tier if d.kind == "function" and d.scope == "global"]

    def _includes_decide(self, tiers: list[list[_Definition]]) -> bool:
        """Whether the calling file's #include list can change the answer (not only its label)."""
        if len(tiers) > 1:
            return any(self._includable(tier) for tier in tiers)
        includable = self._includable(tiers[0]) if tiers else []
        return len(includable) > 1 or any(not d.path.endswith(".h") for d in includable) or (
            bool(includable) and bool(self._global(tiers[0])))

    def _needs_includes(self, name: str, file_id: int) -> bool:
        """The #include list decides only when a file that must be included holds a candidate and
        something else competes (and the calling file has no definition of its own)."""
        shape = self._shapes.get(name)
        if shape is None:
            tiers = self._tiers(name)
            shape = self._shapes[name] = (frozenset(d.file_id for tier in tiers for d in tier), self._includes_decide(tiers))
        return shape[1] and file_id not in shape[0]

    def _rank(self, tier: list[_Definition], file_id: int, decide: bool) -> tuple[int, list[_Definition]]:
        """How well-placed a call from `file_id` finds one kind of definition (VISIBILITY's index) and which."""
        own = [d for d in tier if d.file_id == file_id]
        if own:
            return 0, own[:1]
        includable = self._includable(tier)
        if includable and decide:
            included = self.includes(file_id)
            seen = [d for d in includable if d.file_id in included]
            if seen:
                return 1, seen[:1]
        glob = self._global(tier)
        if glob:
            return 2, glob
        local = [d for d in tier if d.scope != "global" and not d.path.endswith(".h")]
        if local:
            # a file included into others (fs/nfs/nfs42xdr.c into nfs4xdr.c, kvm's paging_tmpl.h into
            # mmu.c): the statics of the files that include it are in its translation unit
            includers = self.includers(file_id)
            seen = [d for d in local if d.file_id in includers]
            if seen:
                return 3, seen
        headers = [d for d in tier if d.path.endswith(".h")]
        if headers:
            return 4, headers[:1]
        return 5, []

    def callees(self, name: str, file_id: int) -> tuple[CallNodeKey, ...]:
        """The definitions a call of `name` from file `file_id` may reach (a node without a path if none)."""
        key = (name, file_id)
        nodes = self._resolved.get(key)
        if nodes is None:
            _, found = self.visible(name, file_id)
            nodes = tuple(dict.fromkeys((name, d.path) for d in found)) or ((name, None),)
            self._resolved[key] = nodes
        return nodes

    def visible(self, name: str, file_id: int) -> tuple[str, list[_Definition]]:
        """How a call of `name` from file `file_id` resolves (VISIBILITY's label) and to what."""
        tiers = self._tiers(name)
        decide = self._includes_decide(tiers)
        best: tuple[int, list[_Definition]] = (len(VISIBILITY) - 1, [])
        for tier in tiers:
            ranked = self._rank(tier, file_id, decide)
            if ranked[0] < best[0]:
                best = ranked
        return VISIBILITY[best[0]], best[1]

    def kind(self, node: CallNodeKey) -> str | None:
        d = self._nodes.get(node)
        return d.kind if d is not None else None

    def line(self, node: CallNodeKey) -> int | None:
        d = self._nodes.get(node)
        return d.line if d is not None else None


# How a call resolves, in the order the resolver tries (benchmarks/call_edges.py counts them).
VISIBILITY = ("same file", "included file", "global", "including file", "a header", "none visible")


ROLES = ("call", "jump", "read", "write", "addr", "type", "macro", "export")  # jump: jmp and the conditional jumps in assembly
LOCAL_ROLES = ("decl", "read", "write", "addr")

# Call edges: direct calls by name, and calls through a member (`sock->ops->listen(...)`) to
# every function stored in that member by an ops table or an assignment.  `{0}` takes the
# conditions of each arm, so that SQLite uses the indexes ref_func and ref_name.  The `ref` table is
# read directly (not through the view `refs`): `fn.name`/`n.name` are the calling function and the
# name called, `r.role IN (1, 5)` (call, jump) is the condition of the partial index ref_func and
# `r.access_id IS NULL` that of ref_name (SQLite uses a partial index only where the query repeats it).
# The last column says what the calling definition is (see _CALLER): the calls' own row gives it,
# cheaper than reading every definition of every calling name (`probe`, `init`: thousands).


_CALLABLE_CODES = ", ".join(str(KIND_CODES[k]) for k in CALLABLE_KINDS)
_MACRO_CODES = ", ".join(str(KIND_CODES[k]) for k in MACRO_KINDS)


def _caller(name_id: str, file_id: str) -> str:
    """The calling definition's line (see _CALLER) from `symbol` itself: name_id is the caller's names.id."""
    return (f"(SELECT min((s.kind IN ({_MACRO_CODES})) * 1000000000 + s.line) FROM symbol s WHERE s.name = {name_id}"
            f" AND +s.file_id = {file_id} AND s.kind IN ({_CALLABLE_CODES}, {_MACRO_CODES}))")


_REF_FILE = f"(r.rowid >> {REF_FILE_SHIFT})"
_CALLER = _caller("r.func", _REF_FILE)
_MACRO_MARK = 1_000_000_000  # _CALLER: a macro's line plus this (a function of that file comes first)
_DIRECT_CALLS = (
    f"SELECT fn.name, {_REF_FILE}, n.name, {_REF_FILE}, f.path, r.line, NULL, r.col, {_CALLER}, NULL FROM ref r"
    f" JOIN names fn ON fn.id = r.func JOIN names n ON n.id = r.name JOIN files f ON f.id = {_REF_FILE}"
    " WHERE r.role IN (1, 5) AND r.access_id IS NULL{0}"
)
# Calls the index derives (explorer/syscalls.py): the system call table's dispatch and the wrappers
# SYSCALL_DEFINEn generates; `via` names the table and number, or the macro.
_TABLE_CALLS = (
    f"SELECT t.func, t.file_id, t.name, t.file_id, f.path, t.line, t.via, t.col,"
    f" {_caller('(SELECT id FROM names WHERE name = t.func)', 't.file_id')}, NULL"
    " FROM table_calls t JOIN files f ON f.id = t.file_id WHERE 1{0}"
)
_OPS_CALLS = (  # `assign` itself too (the view fnassign, joined here, would not be flattened into the query)
    f"SELECT DISTINCT fn.name, {_REF_FILE}, fx.name, fa.file_id, f.path, r.line, a.target, r.col, {_CALLER}, coalesce(ft.name, '')"
    f" FROM ref r JOIN names fn ON fn.id = r.func JOIN access a ON a.id = r.access_id JOIN access a2 ON a2.target = a.target"
    f" JOIN assign fa ON fa.access_id = a2.id JOIN names fx ON fx.id = fa.function LEFT JOIN names ft ON ft.id = fa.tbl"
    f" JOIN files f ON f.id = {_REF_FILE}"
    " WHERE r.role = 1 AND a.target IS NOT NULL"
    f" AND EXISTS (SELECT 1 FROM symbol s WHERE s.name = fa.function AND s.kind = {KIND_CODES['function']}){{0}}"
)


# An edge before it is built: (the other definition, the calling function's name, via, site path, line).
_Row = tuple[CallNodeKey, str, "str | None", str, int, tuple[str, ...]]


def _edges(resolver: _Resolver, rows: dict[CallNodeKey, list[_Row]], limit: int | None) -> dict[CallNodeKey, list[CallEdge]]:
    """Each definition's rows as edges, in _call_order.  With `limit`, what a call tree with that
    many nodes left can list: edges for the definitions in their order, `limit` of them, and one
    more (the first edge the tree cannot list, which tells it that it is cut there); each
    definition after that keeps only its first edge (enough to tell that it had some)."""
    from .storerecords import CallEdge

    out: dict[CallNodeKey, list[CallEdge]] = {}
    built = 0
    for about, got in rows.items():
        got.sort(key=_row_order)
        if limit is not None:
            got = got[: max(limit - built, 0) + 1]
        about_line = resolver.line(about)
        out[about] = [CallEdge(other[0], path, line, via, caller, other[1], resolver.line(other), about[1], about_line, tables)
                      for other, caller, via, path, line, tables in got]
        built += len(got)
    return out


def _row_order(row: _Row) -> tuple[bool, str, int]:
    """_call_order for a row."""
    via = row[2]
    return (via is not None and "." in via, row[3], row[4])


def _macro_callees(resolver: _Resolver, macro: CallNodeKey) -> list[CallNodeKey]:
    """The functions (and unknown names) the body of `macro` calls, through the macros it calls
    (each expanded once, _MACRO_LEVELS deep at most), in body order, each once.  An explicit stack:
    no recursion on input depth."""
    out: dict[CallNodeKey, None] = {}
    expanded = {macro}
    stack = [(c, 1) for c in reversed(resolver.macro_bodies.get(macro, []))]
    while stack:
        node, depth = stack.pop()
        if resolver.kind(node) != "macro":
            out.setdefault(node, None)
        elif node not in expanded and depth < _MACRO_LEVELS:
            expanded.add(node)
            stack.extend((c, depth + 1) for c in reversed(resolver.macro_bodies.get(node, [])))
    return list(out)


def _kinds_of(db: sqlite3.Connection, name: str) -> set[str]:
    return {row[0] for row in db.execute("SELECT DISTINCT kind FROM symbols WHERE name = ?", (name,))}

def _function_names(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute(f"SELECT DISTINCT name FROM symbols WHERE kind IN ({_CALLABLE_SQL}, 'prototype')")}
