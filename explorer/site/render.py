"""Highlighted, linked kernel source as HTML.

Links are decided before rendering, from the index, as character spans per line
(`LinkSpan`); the formatter cuts Pygments tokens at those spans.  Nothing here edits
finished HTML.

The markup is kept small, because the work set is half a million lines:

- one ``<span id="L123">`` per line, holding the line's text and its newline (the line
  numbers are a CSS counter, so they are neither in the HTML nor in a copy);
- on source pages (`chunk` lines), the lines in groups of `CHUNK`:
  ``<span class="kx-chunk" style="counter-reset: kxl 199; contain-intrinsic-size: auto 140em">``,
  which the stylesheet lays out only when seen (``content-visibility: auto``): a browser
  styles and lays out the hundred lines on screen, not the 12,000 of filter.c, while
  anchors (``#L123``), find-in-page and reading without JavaScript work as before (Chromium
  and Firefox reveal such content for a fragment or a search); the height of a group is
  known beforehand (a line is 1.4em high and never wraps);
- a token gets a ``<span class>`` only when it is coloured: names, punctuation,
  operators and white space are bare text;
- a link is ``<a href>``, with ``class="d"`` on the name at its own definition;
- a local or parameter is ``<a data-l=N>`` without href (N numbers the locals of the file, so
  it is scoped to its function), ``class=ld`` at its declaration: explorer/site/assets/locals.js
  highlights the declaration and the uses of the one hovered or clicked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from pygments.formatters.html import HtmlFormatter
from pygments.token import Comment, Name, Token, _TokenType

from ..escaping import HTML_TEXT, html_attr
from .lexer import KernelCLexer, lex_for

_ESCAPE = HTML_TEXT  # the code is element text: html_text's table, for str.translate in the loop below

# Token types shown without colour: no <span> is written for them.
_BARE = (Token.Text, Name, Token.Punctuation, Token.Operator, Token.Error)
# Name subtypes that are coloured anyway.
_COLOURED_NAMES = (Name.Function, Name.Class, Name.Builtin, Name.Label, Name.Constant, Name.Variable, Name.Attribute)  # the last two: assembly registers and directives


CHUNK = 100  # lines per group of a source page (see the module's docstring)
LINE_EM = 1.4  # the height of a line of code, in em (explorer.css says the same)


class LinkSpan(NamedTuple):
    """A link over characters [start, end) of a 1-based line."""

    line: int
    start: int
    end: int
    href: str  # a URL (percent-encoded, as `urls.relative_href` gives it); attribute-escaped when written
    definition: bool = False  # the name at its own definition
    local: int = -1  # a local or parameter: its number in the file (href is not used)


def make_lexer() -> KernelCLexer:
    # stripnl=False: leading blank lines stay, so line numbers stay those of the file.
    return KernelCLexer(stripnl=False, ensurenl=True)


def tokens(text: str, path: str | None = None) -> list[tuple[_TokenType, str]]:
    """Pygments tokens of `text`, ending in a newline; straight from the lexer (no re-filtering).  `path`
    chooses the lexer: .S files are assembly, .tbl files system call tables, the rest C."""
    if not text.endswith("\n"):
        text += "\n"
    return lex_for(path)(text)


class SourceFormatter(HtmlFormatter):
    """An HtmlFormatter that writes one anchored span per line and links at `spans`.

    `_format_lines` is the hook Pygments documents for this; it is private API, so
    the Pygments version is pinned in pyproject.toml and a golden test watches it.
    """

    def __init__(self, spans: Iterable[LinkSpan] = (), *, first_line: int = 1, line_ids: bool = True,
                 chunk_lines: int = 0, **options: object) -> None:
        options.setdefault("cssclass", "highlight kx-code")
        options.setdefault("wrapcode", True)
        super().__init__(**options)
        self.first_line = first_line
        self.line_ids = line_ids
        self.chunk_lines = chunk_lines  # with line ids: the total number of lines, grouped by CHUNK; 0: no groups
        by_line: dict[int, list[tuple[int, int, str]]] = {}
        for span in spans:
            if span.local >= 0:
                tag = f"<a class=ld data-l={span.local}>" if span.definition else f"<a data-l={span.local}>"
                by_line.setdefault(span.line, []).append((span.start, span.end, tag))
                continue
            href = html_attr(span.href)
            tag = f'<a class="d" href="{href}">' if span.definition else f'<a href="{href}">'
            by_line.setdefault(span.line, []).append((span.start, span.end, tag))
        for items in by_line.values():
            items.sort()
        self.spans_by_line = by_line
        self._openers: dict[_TokenType, str] = {}

    def _opener(self, ttype: _TokenType) -> str:
        try:
            return self._openers[ttype]
        except KeyError:
            pass
        plain_name = ttype in Name and ttype not in _COLOURED_NAMES and ttype is not Name.Function
        plain_other = ttype not in Name and any(ttype in bare for bare in _BARE)
        if plain_name or plain_other:
            opener = ""
        else:
            css = self._get_css_classes(ttype)
            opener = f'<span class="{css}">' if css else ""
        if ttype in Comment.Preproc and ttype is not Comment.PreprocFile:
            opener = '<span class="cp">'
        self._openers[ttype] = opener
        return opener

    def _format_lines(self, tokensource: Iterable[tuple[_TokenType, str]]) -> Iterator[tuple[int, str]]:
        lines = self._lines(tokensource)
        total = self.chunk_lines
        if not total or not self.line_ids:
            yield from lines
            return
        first = self.first_line
        n = 0
        for kind, html in lines:
            if n % CHUNK == 0:
                size = min(CHUNK, max(total - n, 1))
                html = (f'<span class="kx-chunk" style="counter-reset: kxl {first + n - 1}; '
                        f'contain-intrinsic-size: auto {size * LINE_EM:g}em">' + html)
            n += 1
            if n % CHUNK == 0 or n == total:
                html += "</span>"
            yield kind, html
        if n % CHUNK and n != total:
            yield 0, "</span>"

    def _lines(self, tokensource: Iterable[tuple[_TokenType, str]]) -> Iterator[tuple[int, str]]:
        spans_by_line = self.spans_by_line
        lineno = self.first_line
        line_ids = self.line_ids
        out: list[str] = []
        append = out.append
        col = 0
        line_spans: Sequence[tuple[int, int, str]] = spans_by_line.get(lineno, ())
        si = 0
        open_end = -1  # end column of the link being written, or -1

        openers = self._openers
        opener_of = self._opener
        for ttype, value in tokensource:
            opener = openers.get(ttype)
            if opener is None:
                opener = opener_of(ttype)
            if "\n" not in value:
                # the common case: a token inside one line
                if not line_spans:
                    text = value.translate(_ESCAPE)
                    append(opener + text + "</span>" if opener else text)
                    col += len(value)
                    continue
                pieces = (value,)
            else:
                pieces = value.split("\n")  # type: ignore[assignment]
            closer = "</span>" if opener else ""
            for k, piece in enumerate(pieces):
                if k:
                    if open_end >= 0:
                        append("</a>")
                        open_end = -1
                    head = f'<span id="L{lineno}">' if line_ids else "<span>"
                    yield 1, head + "".join(out) + "\n</span>"
                    out.clear()
                    lineno += 1
                    col = 0
                    line_spans = spans_by_line.get(lineno, ())
                    si = 0
                if not piece:
                    continue
                end = col + len(piece)
                if not line_spans:
                    append(opener + piece.translate(_ESCAPE) + closer if opener else piece.translate(_ESCAPE))
                    col = end
                    continue
                pos = col
                n = len(line_spans)
                while pos < end:
                    if open_end >= 0:
                        cut = min(end, open_end)
                        text = piece[pos - col:cut - col].translate(_ESCAPE)
                        append(opener + text + closer if opener else text)
                        pos = cut
                        if pos == open_end:
                            append("</a>")
                            open_end = -1
                        continue
                    while si < n and line_spans[si][1] <= pos:
                        si += 1
                    if si < n and line_spans[si][0] <= pos:
                        append(line_spans[si][2])
                        open_end = line_spans[si][1]
                        si += 1
                        continue
                    cut = min(end, line_spans[si][0]) if si < n else end
                    text = piece[pos - col:cut - col].translate(_ESCAPE)
                    append(opener + text + closer if opener else text)
                    pos = cut
                col = end
        if open_end >= 0:
            append("</a>")
        if out:
            head = f'<span id="L{lineno}">' if line_ids else "<span>"
            yield 1, head + "".join(out) + "\n</span>"


def render(text: str, spans: Iterable[LinkSpan] = (), *, first_line: int = 1, line_ids: bool = True,
           toks: list[tuple[_TokenType, str]] | None = None, chunks: bool = False) -> str:
    """`text` (whole lines, starting at `first_line`) as highlighted, linked HTML; `chunks`: the
    lines in groups laid out only when seen (source pages)."""
    total = text.count("\n") + (0 if text.endswith("\n") else 1) if chunks else 0
    formatter = SourceFormatter(spans, first_line=first_line, line_ids=line_ids, chunk_lines=total)
    from io import StringIO

    buf = StringIO()
    formatter.format(toks if toks is not None else tokens(text), buf)
    return buf.getvalue()


def char_column(line: bytes, byte_col: int) -> int:
    """The character column of byte offset `byte_col` in `line`, as `decode` counts characters.

    Offsets from the index sit at identifier boundaries (ASCII bytes), where decoding the
    prefix gives the same characters as decoding the whole line.
    """
    if byte_col <= 0:
        return 0
    if line.isascii():
        return byte_col
    return len(line[:byte_col].decode("utf-8", errors="replace"))


def decode(data: bytes) -> str:
    """A file's text as the pages show it: UTF-8, with U+FFFD for bytes that are not."""
    return data.decode("utf-8", errors="replace")


__all__ = ["LinkSpan", "SourceFormatter", "char_column", "decode", "render", "tokens"]
