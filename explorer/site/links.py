"""Which identifiers of a file link where: read from the index, before any HTML is written.

The links of a file (`SiteIndex.file_links`) come from the index's ``refs`` table
(cross-references with roles and type-aware member resolution, through
``Index.refs_in_file``), and the name at each definition (from the ``symbols`` table) is
marked as a definition.  Columns from the index are byte offsets; spans are in characters.
All SQL lives in `explorer.store`; this module only reads through `Index` methods.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..store import CallEdge, Index, Symbol
from .render import char_column

_IDENT = re.compile(r"[A-Za-z_]\w*")
# Where several definitions share a name, the first of these kinds is the one linked.
_KIND_ORDER = {k: i for i, k in enumerate(
    ("function", "struct", "union", "enum", "typedef", "variable", "macro", "enumerator", "member", "prototype")
)}


class SiteDefinition(NamedTuple):
    """A definition as the site's pages use it (from the index's symbols)."""

    name: str
    kind: str
    path: str
    line: int
    col: int  # byte column of the name
    end_line: int
    signature: str
    cond: str | None
    start_line: int  # where the whole definition starts (the index's start_line)

    @classmethod
    def of(cls, s: Symbol) -> SiteDefinition:
        return cls(s.name, s.kind, s.path, s.line, s.col, s.end_line, s.signature, s.cond, s.start_line)


class Link(NamedTuple):
    """An identifier use (or a definition's own name) and where it goes."""

    line: int
    start: int  # character columns
    end: int
    target: str  # symbol name
    path: str  # where the target is defined
    target_line: int
    definition: bool = False


def _rank(d: SiteDefinition) -> tuple[int, int, str, int]:
    path_rank = 0 if d.path.endswith(".c") else 1 if d.path.startswith("include/net/") else 2
    return (_KIND_ORDER.get(d.kind, 9), path_rank, d.path, d.line)


@dataclass
class SiteIndex:
    """What the site reads from one kernel's index (kept under `mkdocs serve`).

    The files are read at once; the definitions lazily: `lookup` and `in_file` ask SQLite for
    one name or one file (a build that reuses its pages asks for a few hundred) until something
    needs them all (`defs`, `by_file`, `load_all`: rendering source pages, the names data), which
    reads every definition once."""

    kernel: str
    index_path: Path
    tree: Path
    _defs: dict[str, list[SiteDefinition]] = field(default_factory=dict, repr=False)
    _by_file: dict[str, list[SiteDefinition]] = field(default_factory=dict, repr=False)
    _all: bool = False  # every definition is in _defs and _by_file
    _reader: tuple[int, Index] | None = field(default=None, repr=False)  # (pid, connection) for lazy lookups
    files: dict[str, int] = field(default_factory=dict)  # path → lines
    hashes: dict[str, str] = field(default_factory=dict)  # path → sha256 of the indexed bytes
    stamp: tuple[int, int] = (0, 0)
    _refs_cache: dict[str, list[tuple[int, int, int, str, str, str | None]]] = field(default_factory=dict, repr=False)  # embeds of one file, page after page

    @classmethod
    def load(cls, kernel: str, index_path: Path, tree: Path) -> SiteIndex:
        """Read the files and definitions of an index; raises the store's IndexMissing or IndexDamaged
        (and sqlite3.DatabaseError for a file that breaks after it opened)."""
        with Index(index_path) as index:
            st = index_path.stat()
            site = cls(kernel, index_path, tree, stamp=(st.st_mtime_ns, st.st_size))
            site.files = index.file_lines()
            site.hashes = index.file_hashes()
        return site

    def _lazy(self) -> Index:
        """One connection for the lazy lookups (a forked process opens its own)."""
        if self._reader is None or self._reader[0] != os.getpid():
            self._reader = (os.getpid(), Index(self.index_path))
        return self._reader[1]

    def close(self) -> None:
        if self._reader is not None and self._reader[0] == os.getpid():
            self._reader[1].close()
        self._reader = None

    def load_all(self) -> None:
        """Read every definition (once): before forking the workers that render source pages."""
        if self._all:
            return
        self.close()
        defs: dict[str, list[SiteDefinition]] = {}
        by_file: dict[str, list[SiteDefinition]] = {}
        with self.open() as index:
            for symbol in index.dump():
                d = SiteDefinition.of(symbol)
                defs.setdefault(d.name, []).append(d)
                by_file.setdefault(d.path, []).append(d)
        for items in defs.values():
            items.sort(key=_rank)
        for items in by_file.values():
            items.sort(key=lambda d: (d.line, d.col))
        self._defs, self._by_file, self._all = defs, by_file, True

    @property
    def defs(self) -> dict[str, list[SiteDefinition]]:
        """name → its definitions, ranked (every name: reads them all)."""
        self.load_all()
        return self._defs

    @property
    def by_file(self) -> dict[str, list[SiteDefinition]]:
        """path → its definitions in order (every file: reads them all)."""
        self.load_all()
        return self._by_file

    def in_file(self, path: str) -> list[SiteDefinition]:
        """The definitions of one file, in order."""
        found = self._by_file.get(path)
        if found is None and not self._all:
            found = sorted((SiteDefinition.of(s) for s in self._lazy().symbols_in_file(path)), key=lambda d: (d.line, d.col))
            self._by_file[path] = found
        return found or []

    def is_current(self) -> bool:
        try:
            st = self.index_path.stat()
        except FileNotFoundError:
            return False
        return (st.st_mtime_ns, st.st_size) == self.stamp

    def open(self) -> Index:
        return Index(self.index_path)

    # ------------------------------------------------------------ lookups

    def lookup(self, name: str) -> list[SiteDefinition]:
        found = self._defs.get(name)
        if found is None and not self._all:
            found = sorted((SiteDefinition.of(s) for s in self._lazy().lookup(name)), key=_rank)
            self._defs[name] = found
        return found or []

    def definition(self, name: str) -> SiteDefinition | None:
        """The definition a page about `name` shows first: a real one before prototypes."""
        found = self.lookup(name)
        real = [d for d in found if d.kind != "prototype"]
        return real[0] if real else found[0] if found else None

    def best(self, name: str, from_path: str | None = None) -> SiteDefinition | None:
        """The definition a use of `name` goes to: one in the same file first, then by rank."""
        found = self.lookup(name)
        if not found:
            return None
        if from_path is not None:
            for d in found:
                if d.path == from_path and d.kind != "prototype":
                    return d
        return found[0]

    def embedding(self, name: str) -> list[str]:
        """The first-member embedding chain of a struct (just [name] for anything else)."""
        if not any(d.kind in ("struct", "union") for d in self.lookup(name)):
            return [name]
        with self.open() as index:
            return index.embedding_chain(name)

    def uses(self, name: str) -> list[tuple[str, int, str]]:
        """(path, line, role) of the uses of `name`, from the index's refs."""
        with self.open() as index:
            return [(r.path, r.line, r.role) for r in index.refs(name)]

    # ------------------------------------------------------------ links of one file

    def file_links(self, path: str, data: bytes, first_line: int = 1, last_line: int | None = None) -> list[Link]:
        """Every link of `path` (whose whole text is `data`) between `first_line` and `last_line`,
        sorted, without overlaps."""
        lines = data.split(b"\n")
        last = last_line or len(lines)
        links: list[Link] = []
        for d in self.in_file(path):
            if first_line <= d.line <= last:
                link = self._definition_link(d, lines)
                if link:
                    links.append(link)
        links.extend(self._ref_links(path, lines, first_line, last))
        links.sort()
        out: list[Link] = []
        end_line, end_col = 0, -1
        for lk in links:
            if lk.line == end_line and lk.start < end_col:
                continue  # overlaps the previous link
            out.append(lk)
            end_line, end_col = lk.line, lk.end
        return out

    def _definition_link(self, d: SiteDefinition, lines: list[bytes]) -> Link | None:
        if d.line - 1 >= len(lines):
            return None
        raw = lines[d.line - 1]
        start = char_column(raw, d.col)
        text = raw.decode("utf-8", errors="replace")
        m = _IDENT.match(text, start)
        if not m:
            return None
        return Link(d.line, start, m.end(), d.name, d.path, d.line, True)

    def _ref_links(self, path: str, lines: list[bytes], first: int, last: int) -> list[Link]:
        out = []
        rows = self._refs_cache.get(path)
        if rows is None:
            with self.open() as index:
                rows = index.refs_in_file(path)
            if len(self._refs_cache) > 64:
                self._refs_cache.clear()
            self._refs_cache[path] = rows
        for line, col, end_col, _name, _role, target in rows:
            if not first <= line <= last or line - 1 >= len(lines):
                continue
            if not target:
                continue
            d = self.best(target, path)
            if d is None:
                continue
            raw = lines[line - 1]
            out.append(Link(line, char_column(raw, col), char_column(raw, end_col), d.name, d.path, d.line))
        return out


def callers(site: SiteIndex, name: str) -> list[CallEdge]:
    with site.open() as index:
        return index.callers(name)


def callees(site: SiteIndex, name: str) -> list[CallEdge]:
    with site.open() as index:
        return index.callees(name)


def row_field(row: CallEdge, name: str, index: int) -> object:
    """A field of a call edge by name (`index`, its position, is kept for the pages' call sites)."""
    return getattr(row, name)


__all__ = ["Link", "SiteDefinition", "SiteIndex", "callees", "callers", "row_field"]
