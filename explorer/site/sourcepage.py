"""The page class of generated source pages (MkDocs' side of them)."""

from __future__ import annotations

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import get_toc

from ..escaping import html_text


class _LineAnchors:
    """The anchors #L1 … #Ln of a source page, for MkDocs' anchor validation, without a set of n strings."""

    def __init__(self, lines: int, extra: set[str] | None = None) -> None:
        self.lines = lines
        self.extra = extra or set()

    def __contains__(self, anchor: object) -> bool:
        if isinstance(anchor, str) and anchor[:1] == "L" and anchor[1:].isdigit():
            return 1 <= int(anchor[1:]) <= self.lines
        return anchor in self.extra

    def __or__(self, other: set[str]) -> _LineAnchors:
        return _LineAnchors(self.lines, self.extra | other)


class SourcePage(Page):
    """A generated source page: there is no Markdown to read or convert (MkDocs would build a
    Markdown converter for each of the 1,569 pages for nothing); the highlighted code is
    put in as the page's content in `on_page_context`, while the pages are written."""

    def __init__(self, file: File, config: MkDocsConfig, path: str, lines: int) -> None:
        super().__init__(None, file, config)
        self.kx_path = path
        self.kx_lines = lines

    def read_source(self, config: MkDocsConfig) -> None:
        self.markdown = ""
        self.meta = {
            "title": html_text(self.kx_path),  # material writes page.meta.title into the page as HTML
            "template": "kernel-explorer/source.html",
            "search": {"exclude": True},
            "hide": ["navigation", "toc"],
        }

    def render(self, config: MkDocsConfig, files: Files) -> None:
        self.content = ""
        self.toc = get_toc([])
        self.present_anchor_ids = _LineAnchors(self.kx_lines)  # type: ignore[assignment]
        self.links_to_anchors = {}
