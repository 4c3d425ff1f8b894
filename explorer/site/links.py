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
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..store import Index, KernelDoc, Symbol
from ..storerecords import CallEdge
from .render import char_column

_IDENT = re.compile(r"[A-Za-z_]\w*")
# Where several definitions share a name, the first of these kinds is the one linked.
_KIND_ORDER = {k: i for i, k in enumerate(
    ("function", "struct", "union", "enum", "typedef", "variable", "macro", "enumerator", "member", "prototype")
)}


# What `static` hides from other files (a type defined in a .c file is linked by name from anywhere).
_STATIC_KINDS = frozenset({"function", "variable", "prototype"})


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
    scope: str = "global"  # file: static, seen only in its own file (a .c file's never reaches another)

    @classmethod
    def of(cls, s: Symbol) -> SiteDefinition:
        return cls(s.name, s.kind, s.path, s.line, s.col, s.end_line, s.signature, s.cond, s.start_line, s.scope)


class Link(NamedTuple):
    """An identifier use (or a definition's own name) and where it goes."""

    line: int
    start: int  # character columns
    end: int
    target: str  # symbol name
    path: str  # where the target is defined
    target_line: int
    definition: bool = False


def rank(d: SiteDefinition) -> tuple[int, int, str, int]:
    path_rank = 0 if d.path.endswith(".c") else 1 if d.path.startswith("include/net/") else 2
    return (_KIND_ORDER.get(d.kind, 9), path_rank, d.path, d.line)


@dataclass
class SiteIndex:
    """What the site reads from one kernel's index (kept under `mkdocs serve`).

    Only the file list is loaded whole; definitions are read when asked for, a batch of names
    or one file at a time, and kept in a bounded cache: a whole-tree index holds over a
    million definitions, and a site needs the few thousand its pages link to.  Each process
    (the render workers are forked) opens its own connection."""

    kernel: str
    index_path: Path
    tree: Path
    files: dict[str, int] = field(default_factory=dict)  # path → lines, of every indexed file
    hashes: dict[str, str] = field(default_factory=dict)  # path → sha256 of the indexed bytes (build cache keys)
    stamp: tuple[int, int] = (0, 0)
    pages: frozenset[str] | None = None  # the files with a source page (None: every indexed file)
    _defs: dict[str, list[SiteDefinition]] = field(default_factory=dict, repr=False)  # name → definitions, ranked
    _index: tuple[int, Index] | None = field(default=None, repr=False)  # (pid, connection)
    _refs_cache: dict[str, list[tuple[int, int, int, str, str, str | None]]] = field(default_factory=dict, repr=False)  # embeds of one file, page after page
    _includes: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)  # a file → the indexed files it #includes
    _includers: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)  # a file → the files that #include it
    _file_defs: tuple[str, list[SiteDefinition]] | None = field(default=None, repr=False)  # the last file_definitions

    CACHE_NAMES = 20_000  # names whose definitions are kept

    @classmethod
    def load(cls, kernel: str, index_path: Path, tree: Path) -> SiteIndex:
        """Read the file list of an index; raises the store's IndexMissing or IndexDamaged
        (and sqlite3.DatabaseError for a file that breaks after it opened)."""
        with Index(index_path) as index:
            st = index_path.stat()
            site = cls(kernel, index_path, tree, stamp=(st.st_mtime_ns, st.st_size))
            site.files = index.file_lines()
            site.hashes = index.file_hashes()
        return site

    def close(self) -> None:
        """Close this process's connection (a forked worker's stays its own)."""
        if self._index is not None and self._index[0] == os.getpid():
            self._index[1].close()
        self._index = None

    def is_current(self) -> bool:
        try:
            st = self.index_path.stat()
        except FileNotFoundError:
            return False
        return (st.st_mtime_ns, st.st_size) == self.stamp

    def open(self) -> Index:
        return Index(self.index_path)

    def index(self) -> Index:
        """This process's connection (kept open; a forked worker opens its own)."""
        pid = os.getpid()
        if self._index is None or self._index[0] != pid:
            self._index = (pid, Index(self.index_path))
        return self._index[1]

    def has_page(self, path: str) -> bool:
        """Whether `path` has a source page of its own."""
        return path in self.files if self.pages is None else path in self.pages

    # ------------------------------------------------------------ lookups

    def prefetch(self, names: Iterable[str]) -> None:
        """Read the definitions of `names` not read yet, in batches."""
        missing = {n for n in names if n not in self._defs}
        if not missing:
            return
        if len(self._defs) + len(missing) > self.CACHE_NAMES:
            self._defs.clear()
        found: dict[str, list[SiteDefinition]] = {n: [] for n in missing}
        for symbol in self.index().definitions_named(missing):
            found[symbol.name].append(SiteDefinition.of(symbol))
        for items in found.values():
            items.sort(key=rank)
        self._defs.update(found)

    def lookup(self, name: str) -> list[SiteDefinition]:
        found = self._defs.get(name)
        if found is None:
            self.prefetch((name,))
            found = self._defs.get(name, [])
        return found

    def definition(self, name: str) -> SiteDefinition | None:
        """The definition a page about `name` shows first: a real one before prototypes."""
        found = self.lookup(name)
        real = [d for d in found if d.kind != "prototype"]
        return real[0] if real else found[0] if found else None

    def best(self, name: str, from_path: str | None = None) -> SiteDefinition | None:
        """The definition a use of `name` in `from_path` goes to, as the call graph resolves it: the
        file's own, else one in a header it includes, else a global one by rank, never a static
        function or variable of another .c file unless one of the two includes the other (jazzsonic.c
        includes sonic.c; nfs42xdr.c is included by nfs4xdr.c, whose statics it uses, when no global
        definition competes); None if there is nothing else.  Without `from_path`, by rank."""
        found = self.lookup(name)
        if not found:
            return None
        if from_path is None:
            return found[0]
        for d in found:
            if d.path == from_path and d.kind != "prototype":
                return d
        statics = [d for d in found if d.scope == "file" and d.path.endswith(".c") and d.kind in _STATIC_KINDS]
        if statics:
            included = self.includes_of(from_path)
            for d in statics:
                if d.path in included:
                    return d
        visible = [d for d in found if d not in statics]
        if statics and not any(d.scope == "global" and d.kind != "prototype" for d in visible):
            includers = self.includers_of(from_path)
            for d in statics:
                if d.path in includers and d.kind != "prototype":
                    return d
        if not visible:
            return None  # only other files' statics: the use reaches none of them (as in the call graph)
        top = rank(visible[0])[0]
        if any(d.path.endswith(".h") for d in visible):
            included = self.includes_of(from_path)
            for d in visible:
                if d.path in included and rank(d)[0] == top:
                    return d
        return visible[0]

    def includes_of(self, path: str) -> frozenset[str]:
        """The indexed files `path` #includes (read once per file)."""
        got = self._includes.get(path)
        if got is None:
            with self.open() as index:
                got = self._includes[path] = index.included_files(path)
        return got

    def includers_of(self, path: str) -> frozenset[str]:
        """The indexed files whose #include lines name `path` (read once per file)."""
        got = self._includers.get(path)
        if got is None:
            with self.open() as index:
                got = self._includers[path] = index.including_files(path)
        return got

    def file_definitions(self, path: str) -> list[SiteDefinition]:
        """The definitions of one file, in order (the last file's kept: a source page reads them for
        its links and its outline)."""
        if self._file_defs is None or self._file_defs[0] != path:
            self._file_defs = (path, [SiteDefinition.of(s) for s in self.index().file_definitions(path)])
        return self._file_defs[1]

    def page_names(self) -> set[str]:
        """The names defined in the files with pages."""
        return self.index().names_defined_in(self.page_paths())

    def page_paths(self) -> Collection[str]:
        return self.files if self.pages is None else self.pages

    def elsewhere_names(self) -> set[str]:
        """The names the files with pages link to that have a definition in a file without one (what
        the "defined elsewhere" pages must list, and a few more: one defined in the linking file itself)."""
        if self.pages is None:
            return set()
        index = self.index()
        return index.names_defined_outside(index.link_targets_in(self.pages), self.pages)

    def elsewhere_definitions(self, names: Collection[str]) -> dict[str, list[SiteDefinition]]:
        """name → its definitions in files without a page, ranked."""
        out: dict[str, list[SiteDefinition]] = {}
        for s in self.index().definitions_named(names):
            if not self.has_page(s.path):
                out.setdefault(s.name, []).append(SiteDefinition.of(s))
        for items in out.values():
            items.sort(key=rank)
        return out

    def data_definitions(self, elsewhere: Collection[str]) -> dict[str, list[SiteDefinition]]:
        """The definitions the pages' scripts know (hover cards, search): those of the files with pages,
        and those outside them of the `elsewhere` names (the ones the "defined elsewhere" pages list)."""
        out: dict[str, list[SiteDefinition]] = {}
        for s in self.index().definitions_in(self.page_paths()):
            out.setdefault(s.name, []).append(SiteDefinition.of(s))
        for name, found in self.elsewhere_definitions(elsewhere).items():
            out.setdefault(name, []).extend(found)
        for items in out.values():
            items.sort(key=rank)
        return out

    def embedding(self, name: str) -> list[str]:
        """The first-member embedding chain of a struct (just [name] for anything else)."""
        if not any(d.kind in ("struct", "union") for d in self.lookup(name)):
            return [name]
        return self.index().embedding_chain(name)

    def kernel_docs(self, name: str) -> dict[tuple[str, int], KernelDoc]:
        """The kernel-doc of each definition of `name`, by (path, line); a prototype's comment serves
        its function too (see Index.docs)."""
        with self.open() as index:
            found = index.lookup(name)
            return {(s.path, s.line): d for s, d in zip(found, index.docs(found), strict=True) if d is not None}

    def member_docs(self, struct: SiteDefinition) -> dict[str, KernelDoc]:
        """The kernel-doc of a struct's members (its comment's `@member:` lines, inline member comments)."""
        with self.open() as index:
            return index.member_docs(struct.name, struct.path)

    def uses(self, name: str) -> list[tuple[str, int, str]]:
        """(path, line, role) of the uses of `name`, from the index's refs."""
        return [(r.path, r.line, r.role) for r in self.index().refs(name)]

    # ------------------------------------------------------------ links of one file

    def file_links(self, path: str, data: bytes, first_line: int = 1, last_line: int | None = None) -> list[Link]:
        """Every link of `path` (whose whole text is `data`) between `first_line` and `last_line`,
        sorted, without overlaps."""
        lines = data.split(b"\n")
        last = last_line or len(lines)
        links: list[Link] = []
        for d in self.file_definitions(path):
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

    def local_spans(self, path: str, data: bytes) -> list[tuple[int, int, int, int, bool]]:
        """The locals and parameters of `path`: (line, start, end, number, at its declaration) in
        characters, one number per local of each function."""
        lines = data.split(b"\n")
        with self.open() as index:
            found = index.locals_in_file(path)
        out = []
        for number, (_, name, _kind, uses) in enumerate(found):
            width = len(name)
            for line, col, role in uses:
                if not 1 <= line <= len(lines):
                    continue
                raw = lines[line - 1]
                if raw[col : col + width] != name.encode():
                    continue  # the file is not the one indexed: no span rather than a wrong one
                start = char_column(raw, col)
                out.append((line, start, start + width, number, role == "d"))
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
            rows = self.index().refs_in_file(path)
            if len(self._refs_cache) > 64:
                self._refs_cache.clear()
            self._refs_cache[path] = rows
        self.prefetch({target for line, _c, _e, _n, _r, target in rows if target and first <= line <= last})
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
    return site.index().callers(name)


def callees(site: SiteIndex, name: str) -> list[CallEdge]:
    return site.index().callees(name)


def row_field(row: CallEdge, name: str, index: int) -> object:
    """A field of a call edge by name (`index`, its position, is kept for the pages' call sites)."""
    return getattr(row, name)


__all__ = ["Link", "SiteDefinition", "SiteIndex", "callees", "callers", "rank", "row_field"]
