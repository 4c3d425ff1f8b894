"""Under `mkdocs build`: the generated pages of earlier builds, reused when their inputs are unchanged.

No MkDocs here.  The cache is a folder per kernel (``build/site-cache/<kernel>/`` beside
mkdocs.yml by default; `make clean` removes it) holding

- ``pages/<dest>``: the HTML of each generated page as an earlier build wrote it,
- ``data/``: the JSON data of ``<kernel>/_kx/`` (references, names),
- ``manifest.json``: for each page its key (a digest of everything the page is made
  from, computed by the plugin), the size and mtime of the cached file (a file changed in
  place since is not trusted), a page's search entries, the names its links sent to
  "defined elsewhere" pages and the CJK characters it holds (for the font subset); the
  symbol-page names the last build linked to; the keys of the data; what the plugin keeps
  besides (`extra`: results read from the index, under a key of their own).

A page is reused when its key is the one stored: the plugin then leaves it out of MkDocs'
files altogether (no Markdown, no template), and `end_build` hard-links it from the cache
into the site folder (MkDocs empties that folder first, so a page written later never
writes through a link into the cache).  Pages built in this build are linked into the cache.

Keys (`page_key`) are digests of strings the plugin gives; the cache only compares them.
A source page's key leaves out the set of symbol pages (each of the 1,600 pages would
change with every new symbol page): instead `affected_by_names` names the files whose links
change when names gain or lose a page, from the index.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "manifest.json"
VERSION = 2

SearchEntry = dict[str, object]


def page_key(*parts: object) -> str:
    """A digest of `parts` (strings, numbers, tuples and lists of them)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()


def tree_digest(paths: Iterable[Path]) -> str:
    """A digest of the files under `paths` (names and bytes), in a stable order."""
    h = hashlib.sha256()
    for root in paths:
        if root.is_file():
            files = [root]
        elif root.is_dir():
            files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        else:
            continue
        for p in files:
            h.update(str(p.relative_to(root.parent)).encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


@dataclass
class _Entry:
    key: str
    size: int
    mtime_ns: int
    search: list[SearchEntry] | None = None
    elsewhere: list[str] | None = None
    cjk: str = ""


@dataclass
class BuildCache:
    """The generated pages of earlier builds of one kernel, in `folder`."""

    folder: Path
    entries: dict[str, _Entry] = field(default_factory=dict)  # dest → what the cached file was made from
    names: frozenset[str] = frozenset()  # the symbol pages the cached pages link to
    data: dict[str, str] = field(default_factory=dict)  # data part ("refs", "names") → key
    reused: list[str] = field(default_factory=list)  # dests taken from the cache in this build
    built: dict[str, str] = field(default_factory=dict)  # dest → key, built in this build
    search: dict[str, list[SearchEntry]] = field(default_factory=dict)  # dest → its search entries, this build
    # the search entries of hand-written pages, by a digest of what the search plugin reads of them
    memo: dict[str, list[SearchEntry]] = field(default_factory=dict)  # from the last build
    memo_now: dict[str, list[SearchEntry]] = field(default_factory=dict)  # used or made in this build
    extra: dict[str, object] = field(default_factory=dict)  # the plugin's own, from the last build
    extra_now: dict[str, object] = field(default_factory=dict)  # used or made in this build

    @classmethod
    def open(cls, folder: Path) -> BuildCache:
        """The cache in `folder` (empty when there is none or it cannot be read)."""
        cache = cls(folder)
        try:
            raw = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            if raw.get("version") != VERSION:
                return cache
            cache.entries = {dest: _Entry(e["key"], e["size"], e["mtime_ns"], e.get("search"), e.get("elsewhere"), e.get("cjk", ""))
                             for dest, e in raw["pages"].items()}
            cache.names = frozenset(raw["names"])
            cache.data = dict(raw["data"])
            cache.memo = dict(raw.get("memo", {}))
            cache.extra = dict(raw.get("extra", {}))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls(folder)
        return cache

    # ------------------------------------------------------------ during the build

    def reuse(self, dest: str, key: str) -> bool:
        """Whether the page at `dest` is taken from the cache (its key is `key`); else it is
        to be built, with `key` (pass it to `page_built`)."""
        entry = self.entries.get(dest)
        if entry is not None and entry.key == key:
            try:
                st = (self.folder / "pages" / dest).stat()
            except OSError:
                st = None
            if st is not None and st.st_size == entry.size and st.st_mtime_ns == entry.mtime_ns:
                self.reused.append(dest)
                return True
        self.built[dest] = key
        return False

    def search_entries(self, dest: str) -> list[SearchEntry]:
        """The search entries a reused page had."""
        entry = self.entries.get(dest)
        return list(entry.search or []) if entry is not None else []

    def page_extra(self, dest: str) -> tuple[list[str], str]:
        """The "defined elsewhere" names and the CJK characters of a reused page."""
        entry = self.entries.get(dest)
        return (list(entry.elsewhere or []), entry.cjk) if entry is not None else ([], "")

    def data_current(self, part: str, key: str) -> bool:
        return self.data.get(part) == key and (self.folder / "data" / part).is_dir()

    # ------------------------------------------------------------ after the build

    def end_build(self, site_dir: Path, names: frozenset[str], data: dict[str, str],
                  search: dict[str, list[SearchEntry]], elsewhere: dict[str, list[str]] | None = None,
                  cjk: dict[str, str] | None = None) -> None:
        """Keep the pages built in this build, put the reused ones into `site_dir`, write the manifest.

        `search`: the search entries of the pages built in this build; `elsewhere` and `cjk`: what
        `page_extra` gives back for them."""
        pages = self.folder / "pages"
        # first forget what is about to be replaced: a build stopped half way leaves no stale key
        kept = {d: self.entries[d] for d in self.reused if d in self.entries}
        self._write_manifest(kept, self.names, {})
        for dest, key in self.built.items():
            built = site_dir / dest
            if not built.is_file():
                continue
            target = pages / dest
            _link(built, target)
            st = target.stat()
            kept[dest] = _Entry(key, st.st_size, st.st_mtime_ns, search.get(dest), (elsewhere or {}).get(dest),
                                (cjk or {}).get(dest, ""))
        made: set[Path] = set()
        for dest in self.reused:
            target = site_dir / dest
            source = pages / dest
            if _same_file(source, target):
                continue  # already there (the folder of the last build, taken back)
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            _link(source, target, mkdir=False)
        self.entries = kept
        self.names = names
        self.data = data
        self._write_manifest(kept, names, data)

    def data_folder(self, part: str) -> Path:
        return self.folder / "data" / part

    def store_data(self, part: str, files: dict[str, bytes]) -> None:
        """Write the data files of `part` (relative path → bytes) into the cache."""
        target = self.data_folder(part)
        shutil.rmtree(target, ignore_errors=True)
        for rel, blob in files.items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(blob)

    def read_data(self, part: str) -> dict[str, bytes]:
        """The cached data files of `part` (relative path → bytes)."""
        source = self.data_folder(part)
        return {p.relative_to(source).as_posix(): p.read_bytes() for p in source.rglob("*") if p.is_file()}

    def data_files(self, part: str) -> list[str]:
        """The cached data files of `part`, relative to the data folder of the site."""
        source = self.data_folder(part)
        return [p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()]

    def restore_data(self, part: str, site_folder: Path) -> None:
        """Put the cached data files of `part` into `site_folder`."""
        source = self.data_folder(part)
        for src in source.rglob("*"):
            if src.is_file():
                target = site_folder / src.relative_to(source)
                if not _same_file(src, target):
                    _link(src, target)

    def _write_manifest(self, entries: dict[str, _Entry], names: frozenset[str], data: dict[str, str]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        raw = {
            "version": VERSION,
            "names": sorted(names),
            "data": data,
            "memo": self.memo_now,
            "extra": self.extra_now,
            "pages": {d: {"key": e.key, "size": e.size, "mtime_ns": e.mtime_ns, **({"search": e.search} if e.search else {}),
                          **({"elsewhere": e.elsewhere} if e.elsewhere else {}), **({"cjk": e.cjk} if e.cjk else {})}
                      for d, e in sorted(entries.items())},
        }
        partial = self.folder / (MANIFEST + ".part")
        partial.write_text(json.dumps(raw, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")
        partial.replace(self.folder / MANIFEST)


def take_back(previous: Path, fresh: Path, keep: set[str]) -> None:
    """Make `fresh` (a kernel's folder of the site, as this build wrote it) the folder of the last
    build, `previous`, updated: the files written in this build move into it, its files that are
    not in `keep` (paths relative to it) nor written now are removed, and it takes `fresh`'s place.

    MkDocs empties the site folder before each build; removing the 2,000 folders of a kernel's
    pages costs seconds on some disks, so the plugin moves them aside first and takes them back."""
    written: set[str] = set()
    prev, new = str(previous), str(fresh)
    if fresh.is_dir():
        cut = len(new) + 1
        for folder, _dirs, names in os.walk(new):
            made = False
            for name in names:
                src = os.path.join(folder, name)
                rel = src[cut:]
                target = os.path.join(prev, rel)
                if not made:
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    made = True
                if os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target)
                os.replace(src, target)
                written.add(rel)
        shutil.rmtree(new)
    cut = len(prev) + 1
    for folder, _dirs, names in os.walk(prev, topdown=False):
        removed = 0
        for name in names:
            path = os.path.join(folder, name)
            rel = path[cut:]
            if rel not in written and rel not in keep:
                os.unlink(path)
                removed += 1
        if folder != prev and (removed or not names) and not os.listdir(folder):
            os.rmdir(folder)
    fresh.parent.mkdir(parents=True, exist_ok=True)
    os.replace(prev, new)


def _same_file(a: Path, b: Path) -> bool:
    try:
        sa, sb = a.stat(), b.stat()
    except OSError:
        return False
    return (sa.st_ino, sa.st_dev) == (sb.st_ino, sb.st_dev)


def _link(source: Path, target: Path, mkdir: bool = True) -> None:
    if mkdir:
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        target.unlink()
    except FileNotFoundError:
        pass
    try:
        os.link(source, target)
    except OSError:  # another file system: copy
        shutil.copy2(source, target)


__all__ = ["BuildCache", "page_key", "take_back", "tree_digest"]
