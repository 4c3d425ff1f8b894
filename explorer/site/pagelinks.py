"""Where the commentary's `[[...]]` links and `[[source:...]]` embeds go, page by page.

No MkDocs here: the plugin makes one `LinkTargets` per build and one `PageLinkResolver` per
page (with the page's URL and its own HTML blocks).  Links to generated pages are relative
URLs checked here, not by MkDocs: under `mkdocs serve` the generated pages of the last build
are reused, not rebuilt.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from ..urls import relative_href, source_uri, symbol_uri
from .links import SiteDefinition, SiteIndex
from .markdown import CommentaryLinkResolver, Resolved
from .pages import LinkContext, embed_html

log = logging.getLogger("mkdocs.plugins.kernel_explorer")

_FILE_TARGET = re.compile(r"^(?P<path>[\w./+-]+\.(?:[ch]|S|tbl))(?:(?:#L|:)(?P<line>\d+))?$")
_EMBED_AT = re.compile(r"^(?P<path>[\w./+-]+\.(?:[ch]|S)):(?P<line>\d+):(?P<name>[\w.]+)$")

EmbedKey = tuple[str, int, str, str, frozenset[str], tuple[int, int]]


@dataclass
class LinkTargets:
    """What links resolve against during one build, and what they found missing."""

    site: SiteIndex
    link_context: LinkContext
    # live source embeds by (definition, page, symbol pages, index stamp): kept across `mkdocs
    # serve` rebuilds, since the code does not change with the prose
    embeds: dict[EmbedKey, str] = field(default_factory=dict)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (page src_uri, target)

    def report_missing(self, page_src_uri: str, target: str) -> None:
        self.missing.append((page_src_uri, target))
        with self.site.open() as index:
            close = index.suggest(target.split("#")[0].removeprefix("src:"), limit=3)
        hint = f" (did you mean: {', '.join(close)}?)" if close else ""
        log.warning(f"kernel-explorer: page '{page_src_uri}' links to '{target}', which is not in the {self.site.kernel} index{hint}")


class PageLinkResolver(CommentaryLinkResolver):
    """Resolves the links of one page served at `page_url`; `blocks` are the page's own HTML blocks
    (``[[source:@KEY]]``), for generated pages."""

    def __init__(self, targets: LinkTargets, page_src_uri: str, page_url: str, blocks: dict[str, str] | None = None,
                 fallback: LinkTargets | None = None) -> None:
        self.targets = targets
        self.page_src_uri = page_src_uri
        self.page_url = page_url
        self.blocks = blocks if blocks is not None else {}
        # the commentary is written against the default kernel: on another kernel's page, a name
        # that kernel does not have links into the default kernel's pages
        self.fallback = fallback

    def link(self, target: str) -> Resolved | None:
        found = self._link(target)
        if found is None and self.fallback is not None:
            return PageLinkResolver(self.fallback, self.page_src_uri, self.page_url, self.blocks).link(target)
        return found

    def embed(self, target: str) -> str | None:
        found = self._embed(target)
        if found is None and self.fallback is not None and not target.startswith("@"):
            return PageLinkResolver(self.fallback, self.page_src_uri, self.page_url, self.blocks).embed(target)
        return found

    def _md_href(self, target_uri: str, fragment: str = "") -> str:
        """A relative URL to a generated page."""
        target_url = target_uri[: -len(".md")] + "/" if target_uri.endswith(".md") else target_uri
        if target_url.endswith("/index/"):
            target_url = target_url[: -len("index/")]
        return relative_href(unquote(self.page_url), target_url, fragment)

    def _link(self, target: str) -> Resolved | None:
        site = self.targets.site
        m = _FILE_TARGET.match(target)
        if m:
            path, line = m.group("path"), m.group("line")
            if path not in site.files or (line and not 1 <= int(line) <= max(site.files[path], 1)):
                return None
            if not site.has_page(path):
                log.warning(f"kernel-explorer: page '{self.page_src_uri}' links to the file {target}, which has no page "
                            "(see the plugin's source_paths): link a symbol of it instead")
                return None
            frag = f"L{line}" if line else ""
            return Resolved(self._md_href(source_uri(site.kernel, path), frag), target, f"{site.kernel}: {target}", "kx-file")
        to_source = target.startswith("src:")
        name = target[4:].strip() if to_source else target
        d = site.definition(name)
        if d is None:
            return None
        title = f"{d.kind} {name} — {d.path}:{d.line}"
        if name in self.targets.link_context.symbol_pages and not to_source:
            return Resolved(self._md_href(symbol_uri(site.kernel, name)), name, title)
        base, frag = self.targets.link_context.definition_target(d.name, d.path, d.line)
        return Resolved(relative_href(unquote(self.page_url), base, frag), name, title)

    def _embed(self, target: str) -> str | None:
        site = self.targets.site
        if target.startswith("@"):  # a generated page's own HTML block
            return self.blocks.get(target[1:])
        m = _EMBED_AT.match(target)
        d: SiteDefinition | None
        if m:
            d = next((x for x in site.lookup(m.group("name")) if x.path == m.group("path") and x.line == int(m.group("line"))), None)
        else:
            d = site.definition(target)
        if d is None:
            return None
        ctx = self.targets.link_context
        key = (d.path, d.line, d.name, self.page_url, ctx.symbol_pages, site.stamp)
        html = self.targets.embeds.get(key)
        if html is None:
            html = self.targets.embeds[key] = embed_html(site, ctx, d, unquote(self.page_url))
        return html

    def missing(self, target: str) -> None:
        self.targets.report_missing(self.page_src_uri, target)
