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
from ..urls import source_uri, symbol_uri
from .links import SiteIndex
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
    kind: str  # "source", "folder", "symbol" or "symbols" (the list of symbol pages)
    subject: str  # the file, the folder or the symbol
    markdown: str


def planned_pages(site: SiteIndex, selection: SymbolSelection, source_pages: bool) -> Iterator[PlannedPage]:
    """Every generated page, in a stable order: source files, folders, symbols, the symbol list."""
    kernel = site.kernel
    if source_pages:
        for path in site.files:
            yield PlannedPage(source_uri(kernel, path), "source", path, "")
        for folder, (names, subs) in folders(site.files).items():
            uri = f"{kernel}/source/{folder}/index.md" if folder else f"{kernel}/source/index.md"
            yield PlannedPage(uri, "folder", folder, folder_page(site, folder, names, subs))
    for name in sorted(selection.names):
        yield PlannedPage(symbol_uri(kernel, name), "symbol", name, f"---\ntitle: {json.dumps(html_text(name))}\n---\n")  # material writes the title as HTML
    yield PlannedPage(f"{kernel}/symbol/index.md", "symbols", "", symbol_index(site, selection.names))


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
