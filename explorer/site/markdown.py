"""The commentary syntax: symbol links and live source embeds in Markdown.

``[[inet_listen]]``
    a link to the symbol: its symbol page if it has one, else its definition in the
    source pages.  ``[[sock_common.skc_state]]`` for a member, ``[[inet_listen|the
    listen handler]]`` for other words, ``[[net/ipv4/af_inet.c]]`` or
    ``[[net/ipv4/af_inet.c#L193]]`` for a file or a line, ``[[src:inet_listen]]`` to
    the definition in the source even when a symbol page exists.

``[[source:inet_listen]]`` alone in a paragraph
    the live source of the definition (function, struct, macro, ...) from the vendored
    tree, highlighted and linked, with line numbers that lead to the source page.

Inside code spans and code blocks nothing is replaced.  A name the index does not
know is reported (page and name) as a warning, so ``mkdocs build --strict`` fails.

A line break between two Chinese characters is dropped (`_CjkLineJoin`): browsers draw it as a
space (Chromium does, between ideographs and after full-width punctuation alike), which Chinese
prose has none of, so the Chinese pages can wrap their source lines like the English ones.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from collections.abc import Callable
from dataclasses import dataclass

from markdown import Markdown
from markdown.blockparser import BlockParser
from markdown.blockprocessors import BlockProcessor
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.treeprocessors import Treeprocessor

from .i18n import CJK_RANGES

LINK_RE = r"\[\[(?P<target>[^\[\]|\n]+?)(?:\|(?P<text>[^\[\]\n]+?))?\]\]"
_EMBED_RE = re.compile(r"^\s*\[\[source:(?P<target>[^\[\]|\n]+?)\]\]\s*$")


@dataclass(frozen=True)
class Resolved:
    href: str  # relative to the page (a .md path with #fragment is fine: MkDocs rewrites it)
    text: str  # default link text
    title: str  # tooltip
    css: str = "kx-sym"


class CommentaryLinkResolver:
    """What the extension asks of the plugin; the plugin sets `page` before each page."""

    def link(self, target: str) -> Resolved | None:  # pragma: no cover - interface
        raise NotImplementedError

    def embed(self, target: str) -> str | None:  # pragma: no cover - interface
        raise NotImplementedError

    def missing(self, target: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class _SymbolLinkProcessor(InlineProcessor):
    def __init__(self, pattern: str, md: Markdown, resolver: Callable[[], CommentaryLinkResolver]) -> None:
        super().__init__(pattern, md)
        self.resolver = resolver

    def handleMatch(self, m: re.Match[str], data: str) -> tuple[etree.Element, int, int]:
        target = m.group("target").strip()
        resolver = self.resolver()
        if target.startswith("source:"):
            target = target[len("source:"):].strip()
        found = resolver.link(target)
        if found is None:
            resolver.missing(target)
            el = etree.Element("code")
            el.set("class", "kx-missing")
            el.text = target
            return el, m.start(0), m.end(0)
        el = etree.Element("a")
        el.set("href", found.href)
        el.set("class", found.css)
        if found.title:
            el.set("title", found.title)
        text = m.group("text")
        if text:
            el.text = text.strip()
        else:
            code = etree.SubElement(el, "code")
            code.text = found.text
        return el, m.start(0), m.end(0)


class _EmbedProcessor(BlockProcessor):
    def __init__(self, parser: BlockParser, resolver: Callable[[], CommentaryLinkResolver]) -> None:
        super().__init__(parser)
        self.resolver = resolver

    def test(self, parent: etree.Element, block: str) -> bool:
        return bool(_EMBED_RE.match(block))

    def run(self, parent: etree.Element, blocks: list[str]) -> None:
        block = blocks.pop(0)
        m = _EMBED_RE.match(block)
        assert m
        target = m.group("target").strip()
        resolver = self.resolver()
        html = resolver.embed(target)
        if html is None:
            resolver.missing(target)
            p = etree.SubElement(parent, "p")
            code = etree.SubElement(p, "code")
            code.set("class", "kx-missing")
            code.text = f"source:{target}"
            return
        placeholder = self.parser.md.htmlStash.store(html)
        p = etree.SubElement(parent, "p")
        p.text = placeholder


_CJK_CHAR = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in CJK_RANGES) + "]")
_LINE_BREAK = re.compile(r"[ \t]*\n[ \t]*")
_VERBATIM = frozenset({"pre", "code", "kbd", "samp", "script", "style", "textarea"})
# where prose is: the line breaks inside one of these (and its inline elements) are looked at
_PROSE = frozenset({"p", "li", "td", "th", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "figcaption", "summary"})
_NOT_INLINE = _PROSE | {"ul", "ol", "dl", "table", "div", "blockquote", "details", "figure", "hr", "br"}


class _CjkLineJoin(Treeprocessor):
    """Joins the source lines of Chinese prose: a line break between two CJK characters goes, also
    where an inline element (**bold**, a link) starts or ends at the break."""

    def run(self, root: etree.Element) -> None:
        for block in root.iter():  # ElementTree's own iteration: no Python recursion
            if block.tag in _PROSE:
                self._join(block)

    @staticmethod
    def _slots(block: etree.Element) -> list[tuple[etree.Element, str] | str]:
        """The texts of a prose block in document order: (element, "text" or "tail") for the ones
        that may change, a plain string for what may not (code, a nested list: a boundary)."""
        slots: list[tuple[etree.Element, str] | str] = []
        stack: list[tuple[str, etree.Element]] = [("el", block)]
        while stack:  # an explicit stack: the tree is as deep as the Markdown's nesting
            what, el = stack.pop()
            if what == "tail":
                slots.append((el, "tail"))
                continue
            if el is not block and (el.tag in _VERBATIM or el.tag in _NOT_INLINE):
                slots.append("".join(el.itertext()) if el.tag in _VERBATIM else "\n")
                continue
            slots.append((el, "text"))
            for child in reversed(el):
                stack.append(("tail", child))
                stack.append(("el", child))
        return slots

    def _join(self, block: etree.Element) -> None:
        slots = self._slots(block)
        texts = [s if isinstance(s, str) else (getattr(s[0], s[1]) or "") for s in slots]
        for i, slot in enumerate(slots):
            text = texts[i]
            if isinstance(slot, str) or "\n" not in text:
                continue

            def around(m: re.Match[str], i: int = i, text: str = text) -> str:
                # the nearest character on each side, across empty texts, without copying the list
                before = text[m.start() - 1] if m.start() else next((texts[j][-1] for j in range(i - 1, -1, -1) if texts[j]), "")
                after = text[m.end()] if m.end() < len(text) else next((texts[j][0] for j in range(i + 1, len(texts)) if texts[j]), "")
                return "" if _CJK_CHAR.match(before) and _CJK_CHAR.match(after) else m.group(0)

            setattr(slot[0], slot[1], _LINE_BREAK.sub(around, text))


class SymbolLinkExtension(Extension):
    """Registers `[[...]]` links and `[[source:...]]` embeds; `resolver()` gives the current page's resolver."""

    def __init__(self, resolver: Callable[[], CommentaryLinkResolver], **kwargs: object) -> None:
        self.resolver = resolver
        super().__init__(**kwargs)

    def extendMarkdown(self, md: Markdown) -> None:
        # before links (160) and after backticks (190), so code spans stay literal
        md.inlinePatterns.register(_SymbolLinkProcessor(LINK_RE, md, self.resolver), "kx-symbol-link", 175)
        # before paragraphs (10), after code blocks (80)
        md.parser.blockprocessors.register(_EmbedProcessor(md.parser, self.resolver), "kx-source-embed", 75)
        # after the inline patterns (20), which make the text nodes final; code blocks and diagrams
        # are stashed by then (a diagram's line breaks are its syntax), and code spans are skipped
        md.treeprocessors.register(_CjkLineJoin(md), "kx-cjk-line-join", 15)


def linked_names(markdown_text: str) -> set[str]:
    """The symbol names a page's Markdown links to (files and code blocks aside, roughly)."""
    text = re.sub(r"^(```|~~~).*?^\1", "", markdown_text, flags=re.S | re.M)
    text = re.sub(r"`[^`\n]*`", "", text)
    out = set()
    for m in re.finditer(LINK_RE, text):
        target = m.group("target").strip()
        for prefix in ("source:", "src:"):
            if target.startswith(prefix):
                target = target[len(prefix):].strip()
        if "/" not in target and not target.endswith((".c", ".h")):
            out.add(target)
    return out
