"""Under `mkdocs serve`: the generated pages of the last build, reused by the next one.

MkDocs cleans the site folder and rebuilds every page after each edit.  Most generated
pages (source files, folders, symbol pages whose inputs did not change) are the same as
last time: `ServeCache` keeps hard links to them in a temporary folder and puts them back
into the new site folder (whole folders as symbolic links where nothing in them was
rebuilt), so that a rebuild after an edit to the commentary builds only what the edit can
change.  No MkDocs here; `MemoryBytecodeCache` is Jinja's.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import jinja2

from .selection import PlannedPage


class ServeCache:
    """The pages of the last build, in a temporary folder removed by `remove()`."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="kernel-explorer-serve-"))
        self._symbol_inputs: dict[str, tuple[object, ...]] = {}  # what each symbol page was made from
        self.reused: list[str] = []  # dest paths written back in this build
        self.built: list[str] = []  # dest paths of generated pages built in this build

    def begin_build(self) -> None:
        self.reused = []
        self.built = []

    def reuse(self, dest: str) -> bool:
        """Take the page at `dest` from the last build instead of building it, if it is there."""
        if (self.folder / dest).is_file():
            self.reused.append(dest)
            return True
        return False

    def reuse_page(self, page: PlannedPage, inputs: tuple[object, ...]) -> bool:
        """Whether a generated page is taken from the last build: source pages and folders (but the
        top one, which hand-written pages may link) always, a symbol page if it was made from the
        same `inputs` (else they are remembered for next time), the list of symbols never."""
        dest = dest_of(page.src_uri)
        if page.kind == "source" or (page.kind == "folder" and page.subject):
            return self.reuse(dest)
        if page.kind == "symbol":
            if self._symbol_inputs.get(page.subject) == inputs and self.reuse(dest):
                return True
            self._symbol_inputs[page.subject] = inputs
        return False

    def page_built(self, dest: str) -> None:
        self.built.append(dest)

    def data_folder(self, kernel: str) -> Path:
        """Where the site's JSON data lives under serve (linked into each build's site folder)."""
        return self.folder / kernel / "_kx"

    def end_build(self, site_dir: Path) -> None:
        """Keep this build's pages (a hard link costs no copy) and put the reused ones into `site_dir`."""
        for dest in self.built:
            _link(site_dir / dest, self.folder / dest)
        self._restore(site_dir)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _restore(self, site_dir: Path) -> None:
        """Put the reused pages of the last build into the (cleaned) site folder.

        Whole folders become symbolic links into the cache where nothing in them was rebuilt
        (the source tree's top folders, each symbol page's folder); single files are hard links."""
        reused = set(self.reused)
        built = set(self.built)
        done: set[str] = set()
        if reused:
            # the largest folders first: every page under them is reused and none was built
            by_folder: dict[str, list[str]] = defaultdict(list)
            for dest in reused:
                parts = dest.split("/")
                top = "/".join(parts[:3]) if len(parts) > 3 and parts[1] == "source" else posixpath.dirname(dest)
                by_folder[top].append(dest)
            for folder, members in by_folder.items():
                if folder.endswith("/source") or any(b.startswith(folder + "/") for b in built):
                    continue
                target = site_dir / folder
                if target.exists() or target.is_symlink():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(self.folder / folder, target, target_is_directory=True)
                done.update(members)
        made: set[Path] = set()
        for dest in reused - done:
            target = site_dir / dest
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            if not target.exists():
                _link(self.folder / dest, target, mkdir=False)


class MemoryBytecodeCache(jinja2.BytecodeCache):
    """Jinja's compiled templates, kept in memory between `mkdocs serve` rebuilds."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = self.store.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


def _link(source: Path, target: Path, mkdir: bool = True) -> None:
    if mkdir:
        target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system: copy
        shutil.copyfile(source, target)


def dest_of(src_uri: str) -> str:
    """Where MkDocs writes a generated Markdown page (directory URLs)."""
    stem = src_uri[: -len(".md")]
    if stem == "index" or stem.endswith("/index"):
        return stem + ".html"
    return stem + "/index.html"
