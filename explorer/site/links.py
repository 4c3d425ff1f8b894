"""Which identifiers of a file link where: read from the index, before any HTML is written.

Two sources of links, behind one function (`SiteIndex.file_links`):

- the index's ``refs`` table (cross-references with roles and type-aware member
  resolution), through ``Index.refs_in_file(path)``, when the index has one;
- until then, a fallback by name: a Pygments ``Name`` token (or an identifier inside a
  preprocessor line) whose text has exactly one definition (or one in the same file)
  links to it.  Members are never linked by name: they need types.

Either way the name at each definition (from the ``symbols`` table) is marked as a
definition.  Columns from the index are byte offsets; spans are in characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from pygments.token import Comment, Name, _TokenType

from ..store import Index
from .render import char_column

_IDENT = re.compile(r"[A-Za-z_]\w*")
_PREPROC_WORDS = frozenset(
    "define undef include if ifdef ifndef elif else endif error warning pragma line defined".split()
)
# Where several definitions share a name, the first of these kinds is the one linked.
_KIND_ORDER = {k: i for i, k in enumerate(
    ("function", "struct", "union", "enum", "typedef", "variable", "macro", "enumerator", "member", "prototype")
)}


class Definition(NamedTuple):
    name: str
    kind: str
    path: str
    line: int
    col: int  # byte column of the name
    end_line: int
    signature: str
    cond: str | None
    start_line: int  # where the whole definition starts (the index's start_line)


class Link(NamedTuple):
    """An identifier use (or a definition's own name) and where it goes."""

    line: int
    start: int  # character columns
    end: int
    target: str  # symbol name
    path: str  # where the target is defined
    target_line: int
    definition: bool = False


def _rank(d: Definition) -> tuple[int, int, str, int]:
    path_rank = 0 if d.path.endswith(".c") else 1 if d.path.startswith("include/net/") else 2
    return (_KIND_ORDER.get(d.kind, 9), path_rank, d.path, d.line)


def _row(row: object, name: str, index: int) -> object:
    try:
        return getattr(row, name)
    except AttributeError:
        pass
    try:
        return row[name]  # type: ignore[index]
    except (TypeError, IndexError, KeyError):
        return row[index]  # type: ignore[index]


@dataclass
class SiteIndex:
    """What the site reads from one kernel's index, loaded once (and kept under `mkdocs serve`)."""

    kernel: str
    index_path: Path
    tree: Path
    defs: dict[str, list[Definition]] = field(default_factory=dict)
    by_file: dict[str, list[Definition]] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)  # path → lines
    has_refs: bool = False
    has_calls: bool = False
    stamp: tuple[int, int] = (0, 0)
    _names_in: dict[str, set[str]] = field(default_factory=dict, repr=False)
    _unique_elsewhere: dict[str, Definition | None] = field(default_factory=dict, repr=False)
    _refs_cache: dict[str, list[object]] = field(default_factory=dict, repr=False)  # embeds of one file, page after page

    @classmethod
    def load(cls, kernel: str, index_path: Path, tree: Path) -> SiteIndex:
        st = index_path.stat()
        site = cls(kernel, index_path, tree, stamp=(st.st_mtime_ns, st.st_size))
        with Index(index_path) as index:
            db = index.db
            site.files = dict(db.execute("SELECT path, lines FROM files ORDER BY path"))
            rows = db.execute(
                "SELECT s.name, s.kind, f.path, s.line, s.col, s.end_line, s.signature, s.cond, s.start_line"
                " FROM symbols s JOIN files f ON f.id = s.file_id"
            )
            for row in rows:
                d = Definition(*row)
                site.defs.setdefault(d.name, []).append(d)
                site.by_file.setdefault(d.path, []).append(d)
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
            site.has_refs = "refs" in tables and hasattr(Index, "refs_in_file")
            site.has_calls = site.has_refs and hasattr(Index, "callers") and hasattr(Index, "callees")
        for items in site.defs.values():
            items.sort(key=_rank)
        for items in site.by_file.values():
            items.sort(key=lambda d: (d.line, d.col))
        return site

    def is_current(self) -> bool:
        try:
            st = self.index_path.stat()
        except FileNotFoundError:
            return False
        return (st.st_mtime_ns, st.st_size) == self.stamp

    def open(self) -> Index:
        return Index(self.index_path)

    # ------------------------------------------------------------ lookups

    def lookup(self, name: str) -> list[Definition]:
        return self.defs.get(name, [])

    def best(self, name: str, from_path: str | None = None) -> Definition | None:
        """The definition a use of `name` goes to: one in the same file first, then by rank."""
        found = self.defs.get(name)
        if not found:
            return None
        if from_path is not None:
            for d in found:
                if d.path == from_path and d.kind != "prototype":
                    return d
        return found[0]

    def unique(self, name: str, from_path: str) -> Definition | None:
        """The definition of a name for the by-name fallback: unambiguous or in the same file."""
        names = self._names_in.get(from_path)
        if names is None:
            names = self._names_in[from_path] = {d.name for d in self.by_file.get(from_path, ())}
        if name not in names:
            try:
                return self._unique_elsewhere[name]
            except KeyError:
                found = self._unique_elsewhere[name] = self._unique(name, "")
                return found
        return self._unique(name, from_path)

    def _unique(self, name: str, from_path: str) -> Definition | None:
        found = self.defs.get(name)
        if not found:
            return None
        real = [d for d in found if d.kind not in ("prototype", "member")]
        if not real:
            return None
        same = [d for d in real if d.path == from_path]
        if same:
            return same[0]
        places = {(d.path, d.line) for d in real}
        if len(places) == 1 or all(d.name == real[0].name and d.kind == "function" and d.path == real[0].path for d in real):
            return real[0]
        # a function defined once among #ifdef stubs in headers: take the .c definition
        funcs = [d for d in real if d.kind == "function" and d.path.endswith(".c")]
        if len(funcs) == 1 and not any(d.kind == "function" and d.path.endswith(".h") and d.path != from_path for d in real):
            return funcs[0]
        return None

    # ------------------------------------------------------------ links of one file

    def file_links(self, path: str, data: bytes, toks: Iterable[tuple[_TokenType, str]] | None,
                   first_line: int = 1, last_line: int | None = None) -> list[Link]:
        """Every link of `path` between `first_line` and `last_line`, sorted, without overlaps.

        `data` is the whole file; `toks` the Pygments tokens of the lines shown (for the
        fallback), starting at `first_line`.
        """
        lines = data.split(b"\n")
        last = last_line or len(lines)
        links: list[Link] = []
        for d in self.by_file.get(path, ()):
            if first_line <= d.line <= last:
                link = self._definition_link(d, lines)
                if link:
                    links.append(link)
        if self.has_refs:
            links.extend(self._ref_links(path, lines, first_line, last))
        elif toks is not None:
            links.extend(self._name_links(path, toks, first_line, {(lk.line, lk.start) for lk in links}))
        links.sort()
        out: list[Link] = []
        end_line, end_col = 0, -1
        for lk in links:
            if lk.line == end_line and lk.start < end_col:
                continue  # overlaps the previous link
            out.append(lk)
            end_line, end_col = lk.line, lk.end
        return out

    def _definition_link(self, d: Definition, lines: list[bytes]) -> Link | None:
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
                rows = index.refs_in_file(path)  # type: ignore[attr-defined]
            if len(self._refs_cache) > 64:
                self._refs_cache.clear()
            self._refs_cache[path] = rows
        for row in rows:
            line = int(_row(row, "line", 0))  # type: ignore[arg-type]
            if not first <= line <= last or line - 1 >= len(lines):
                continue
            target = _row(row, "target", 5)
            if not target:
                continue
            d = self.best(str(target), path)
            if d is None:
                continue
            raw = lines[line - 1]
            col = int(_row(row, "col", 1))  # type: ignore[arg-type]
            end_col = int(_row(row, "end_col", 2))  # type: ignore[arg-type]
            out.append(Link(line, char_column(raw, col), char_column(raw, end_col), d.name, d.path, d.line))
        return out

    def _name_links(self, path: str, toks: Iterable[tuple[_TokenType, str]], first_line: int,
                    taken: set[tuple[int, int]]) -> list[Link]:
        out = []
        line, col = first_line, 0
        unique = self.unique
        cache: dict[str, Definition | None] = {}
        name_types = {t for t, _ in ()}  # filled as token types are met
        for ttype, value in toks:
            if ttype in name_types or (ttype in Name and not name_types.add(ttype)):
                if (line, col) not in taken:
                    if value in cache:
                        d = cache[value]
                    else:
                        d = cache[value] = unique(value, path)
                    if d is not None and not (d.path == path and d.line == line):
                        out.append(Link(line, col, col + len(value), d.name, d.path, d.line))
            elif ttype in Comment.Preproc and ttype is not Comment.PreprocFile:
                if "\n" not in value:
                    for m in _IDENT.finditer(value):
                        word = m.group()
                        if word in _PREPROC_WORDS or (line, col + m.start()) in taken:
                            continue
                        if word in cache:
                            d = cache[word]
                        else:
                            d = cache[word] = unique(word, path)
                        if d is not None and not (d.path == path and d.line == line):
                            out.append(Link(line, col + m.start(), col + m.end(), d.name, d.path, d.line))
            nl = value.count("\n")
            if nl:
                line += nl
                col = len(value) - value.rfind("\n") - 1
            else:
                col += len(value)
        return out


def callers(site: SiteIndex, name: str) -> list[object]:
    if not site.has_calls:
        return []
    with site.open() as index:
        return list(index.callers(name))  # type: ignore[attr-defined]


def callees(site: SiteIndex, name: str) -> list[object]:
    if not site.has_calls:
        return []
    with site.open() as index:
        return list(index.callees(name))  # type: ignore[attr-defined]


def row_field(row: object, name: str, index: int) -> object:
    return _row(row, name, index)


__all__ = ["SiteIndex", "Definition", "Link", "callers", "callees", "row_field"]
