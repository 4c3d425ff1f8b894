"""Which pages the site generates: a page per indexed file and folder, and symbol pages for the
configured symbols, the annotated ones and those the commentary links to.  No MkDocs here.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from ..annotations import Annotation
from ..escaping import html_text
from ..urls import ELSEWHERE_KEYS, elsewhere_uri, source_uri, symbol_uri
from .links import SiteDefinition, SiteIndex, rank
from .markdown import linked_names
from .pages import folder_page, folders


@dataclass(frozen=True)
class CommentaryPage:
    """A hand-written page: where it is and its Markdown."""

    src_uri: str
    markdown: str


@dataclass(frozen=True)
class SymbolSelection:
    """The symbols that get pages, and the commentary pages that mention each."""

    names: frozenset[str]
    mentions: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # name → [(page title, src_uri)]
    unknown: tuple[str, ...] = ()  # configured names the index does not know

    def inputs_of(self, name: str, notes: Mapping[str, Annotation]) -> tuple[object, ...]:
        """What a symbol page is made from besides the index: commentary mentions, its annotation."""
        note = notes.get(name)
        return (tuple(self.mentions.get(name, ())), note.text if note is not None else None, self.names)


def select_symbols(site: SiteIndex, configured: Iterable[str], notes: Mapping[str, Annotation],
                   pages: Iterable[CommentaryPage]) -> SymbolSelection:
    configured = set(configured)
    wanted = {n for n in configured if site.lookup(n)} | {n for n in notes if site.lookup(n)}
    mentions: dict[str, list[tuple[str, str]]] = {}
    for page in pages:
        title = _first_heading(page.markdown) or posixpath.splitext(posixpath.basename(page.src_uri))[0]
        for name in linked_names(page.markdown):
            if site.lookup(name):
                wanted.add(name)
                mentions.setdefault(name, []).append((title, page.src_uri))
    unknown = tuple(sorted(n for n in configured if not site.lookup(n)))
    return SymbolSelection(frozenset(wanted), mentions, unknown)


@dataclass(frozen=True)
class PlannedPage:
    """A generated page: its src_uri, what it shows, its Markdown (empty for source pages)."""

    src_uri: str
    kind: str  # "source", "folder", "symbol", "symbols" (the list of symbol pages), "elsewhere", "changes"
    subject: str  # the file, the folder or the symbol
    markdown: str


def source_files(site: SiteIndex, prefixes: Iterable[str], includes: bool = True,
                 defining_headers: bool = True) -> frozenset[str] | None:
    """The files that get source pages: those under `prefixes` (a folder or a file), with
    `includes` the files they include, and with `defining_headers` the headers that hold the
    definitions their uses link to (as `SiteIndex.best` picks them).  No prefixes: every
    indexed file (None).  Read from the index in a few queries, never the whole of it."""
    wanted = [p.strip("/") for p in prefixes if p.strip("/")]
    if not wanted:
        return None
    chosen = {p for p in site.files if any(p == w or p.startswith(w + "/") for w in wanted)}
    index = site.index()
    if includes and chosen:
        chosen |= index.included_by(chosen)
    if defining_headers and chosen:
        first: dict[str, SiteDefinition] = {}
        for symbol in index.definitions_named(index.link_targets_in(chosen)):
            d = SiteDefinition.of(symbol)
            if d.name not in first or rank(d) < rank(first[d.name]):
                first[d.name] = d
        chosen |= {d.path for d in first.values() if d.path.endswith(".h")}
    return frozenset(chosen)


def planned_pages(site: SiteIndex, selection: SymbolSelection, source_pages: bool) -> Iterator[PlannedPage]:
    """Every generated page, in a stable order: source files, folders, symbols, the symbol list, the
    "defined elsewhere" pages (when not every file has a page)."""
    kernel = site.kernel
    if source_pages:
        paths = sorted(site.page_paths())
        for path in paths:
            yield PlannedPage(source_uri(kernel, path), "source", path, "")
        for folder, (names, subs) in folders(paths).items():
            uri = f"{kernel}/source/{folder}/index.md" if folder else f"{kernel}/source/index.md"
            yield PlannedPage(uri, "folder", folder, folder_page(site, folder, names, subs))
    for name in sorted(selection.names):
        yield PlannedPage(symbol_uri(kernel, name), "symbol", name, f"---\ntitle: {json.dumps(html_text(name))}\n---\n")  # material writes the title as HTML
    yield PlannedPage(f"{kernel}/symbol/index.md", "symbols", "", symbol_index(site, selection.names))
    if site.pages is not None or not source_pages:
        for key in ELSEWHERE_KEYS:
            yield PlannedPage(elsewhere_uri(kernel, key), "elsewhere", key,
                              f"---\ntitle: {json.dumps(f'Defined elsewhere in {kernel}: {key}')}\nsearch:\n  exclude: true\n---\n")


def symbol_index(site: SiteIndex, names: Iterable[str]) -> str:
    """Markdown of the list of symbol pages."""
    lines = ["---", "title: Symbols", "---", "", f"# Symbols of {site.kernel}", "",
             "Every symbol of the index is found by the search box (type a name: definitions come first).",
             "These have pages of their own:", ""]
    for name in sorted(names):
        d = site.definition(name)
        kind = d.kind if d else ""
        lines.append(f"- [[{name}]] <span class=\"kx-kind\">{kind}</span>")
    return "\n".join(lines) + "\n"


def _first_heading(markdown: str) -> str | None:
    m = re.search(r"^#\s+(.+?)\s*#*\s*$", markdown, re.M)
    return m.group(1) if m else None
