"""The index store: one SQLite database per kernel.

Readers (the CLI, the site) use only this module and the standard library: no
tree-sitter, no Pygments, no MkDocs.  The indexer writes a new database beside the
old one and renames it into place, so a reader never sees half an index.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,          -- relative to the kernel root, POSIX
    sha256 TEXT NOT NULL,               -- content hash: unchanged files are not parsed again
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    error_nodes INTEGER NOT NULL        -- tree-sitter ERROR regions walked around
);
CREATE TABLE IF NOT EXISTS symbols (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,                 -- STRUCT.FIELD for members
    kind TEXT NOT NULL,                 -- function prototype struct union enum enumerator member macro typedef variable
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    line INTEGER NOT NULL,              -- 1-based line of the name
    col INTEGER NOT NULL,               -- 0-based byte column of the name
    end_line INTEGER NOT NULL,
    scope TEXT NOT NULL,                -- global, file, the owning struct, or "enum NAME"
    signature TEXT NOT NULL,
    cond TEXT,                          -- the #if condition it sits under, if any
    type TEXT                           -- members/variables: their type; functions: return type; typedefs: aliased type
);
CREATE TABLE IF NOT EXISTS access (    -- one row per distinct member-access key (see explorer/xref.py)
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    target TEXT,                        -- STRUCT.FIELD, or NULL when unresolved
    macro TEXT,                         -- the field macro gone through (sk_state), if any
    reason TEXT,                        -- why it is unresolved
    state INTEGER NOT NULL DEFAULT 0    -- 0: not resolved yet
);
CREATE TABLE IF NOT EXISTS refs (      -- identifier uses, locals and parameters left out
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,               -- 0-based byte columns
    end_col INTEGER NOT NULL,
    name TEXT NOT NULL,                 -- the identifier as written
    role TEXT NOT NULL,                 -- call read write addr type
    func TEXT,                          -- the enclosing function
    cond TEXT,
    access_id INTEGER REFERENCES access(id)  -- member accesses: how to resolve them
);
CREATE TABLE IF NOT EXISTS fnassign (  -- a function stored in a member: `.listen = inet_listen`, `x->f = fn`
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    line INTEGER NOT NULL,
    access_id INTEGER NOT NULL REFERENCES access(id),
    function TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS refs_name ON refs(name);
CREATE INDEX IF NOT EXISTS refs_func ON refs(func);
CREATE INDEX IF NOT EXISTS refs_access ON refs(access_id);
CREATE INDEX IF NOT EXISTS refs_file ON refs(file_id);
CREATE INDEX IF NOT EXISTS access_target ON access(target);
CREATE INDEX IF NOT EXISTS access_macro ON access(macro);
CREATE INDEX IF NOT EXISTS fnassign_access ON fnassign(access_id);
CREATE INDEX IF NOT EXISTS fnassign_function ON fnassign(function);
CREATE INDEX IF NOT EXISTS fnassign_file ON fnassign(file_id);
"""

INDEXES = """
CREATE INDEX IF NOT EXISTS symbols_name ON symbols(name);
CREATE INDEX IF NOT EXISTS symbols_file ON symbols(file_id);
"""

KINDS = (
    "function",
    "prototype",
    "struct",
    "union",
    "enum",
    "enumerator",
    "member",
    "macro",
    "typedef",
    "variable",
)

# Where several definitions share a name, show the real thing before its declarations.
_KIND_RANK = "CASE s.kind WHEN 'function' THEN 0 WHEN 'struct' THEN 1 WHEN 'union' THEN 1 WHEN 'enum' THEN 1 " \
    "WHEN 'typedef' THEN 2 WHEN 'variable' THEN 3 WHEN 'macro' THEN 4 WHEN 'member' THEN 5 " \
    "WHEN 'enumerator' THEN 6 ELSE 7 END"
# .c files before headers, headers under include/net before the rest
_PATH_RANK = "CASE WHEN f.path LIKE '%.c' THEN 0 WHEN f.path LIKE 'include/net/%' THEN 1 ELSE 2 END"


class IndexMissing(Exception):
    """No index exists yet for the kernel."""


@dataclass(frozen=True)
class Symbol:
    name: str
    kind: str
    path: str
    line: int
    end_line: int
    scope: str
    signature: str
    cond: str | None = None
    col: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


_SELECT = "SELECT s.name, s.kind, f.path, s.line, s.end_line, s.scope, s.signature, s.cond, s.col FROM symbols s JOIN files f ON f.id = s.file_id"


class Index:
    """Read access to one kernel's index."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise IndexMissing(str(path))
        self.path = path
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        sql = (
            f"{_SELECT} WHERE lower(s.name) LIKE ? ESCAPE '\\'"
            + (" AND s.kind = ?" if kind else "")
            + " ORDER BY CASE WHEN lower(s.name) = ? THEN 0 WHEN lower(s.name) LIKE ? ESCAPE '\\' THEN 1 ELSE 2 END,"
            + f" length(s.name), s.name, {_KIND_RANK}, f.path, s.line LIMIT ?"
        )
        args: list[object] = [f"%{escaped}%"]
        if kind:
            args.append(kind)
        args += [q, f"{escaped}%", limit]
        return [Symbol(*row) for row in self.db.execute(sql, args)]

    def suggest(self, name: str, limit: int = 5) -> list[str]:
        """Names close to `name`, for "did you mean"."""
        import difflib

        q = name.lower()
        candidates = {
            row[0]
            for row in self.db.execute(
                "SELECT DISTINCT name FROM symbols WHERE lower(name) LIKE ? OR lower(name) LIKE ? LIMIT 2000",
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

    def dump(self):  # type: ignore[no-untyped-def]
        yield from (Symbol(*row) for row in self.db.execute(f"{_SELECT} ORDER BY f.path, s.line, s.col"))

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT kind, count(*) FROM symbols GROUP BY kind ORDER BY kind"))

    def file_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM files").fetchone()[0])


def create_schema(db: sqlite3.Connection, indexes: bool = True) -> None:
    """Tables, and their indexes unless a bulk load will create them afterwards."""
    db.executescript(SCHEMA)
    if indexes:
        db.executescript(INDEXES)
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
