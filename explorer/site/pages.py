"""The generated pages' content: source files, folders, symbols, embeds, and the JSON data.

Everything here is plain functions over a `SiteIndex`; the plugin decides when to call
them.  Names, paths and code come from the kernel tree and are untrusted: every piece of
HTML here escapes by context with `explorer.escaping` (`html_text` for element text,
`html_attr` for attributes, URLs from `urls.relative_href`), and text from the index never
reaches Markdown except as a code span (`markdown_code`) or inside an HTML block.

Source files are rendered in worker processes (`render_source_page`), forked after the
index is loaded, so the workers share it without pickling.
"""

from __future__ import annotations

import functools
import json
import posixpath
import re
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..annotations import Annotation
from ..escaping import html_attr, html_text, markdown_code, mermaid_label, url_path
from ..store import KernelDoc
from ..storerecords import CallEdge
from ..urls import elsewhere_url, relative_href, source_url, symbol_uri, symbol_url
from .links import Link, SiteDefinition, SiteIndex, callees, callers
from .render import LinkSpan, decode, render, tokens

REF_SHARDS = 64
SIGNATURE_MAX = 100


@dataclass
class LinkContext:
    """Where links from one page go: source pages, symbol pages for the names that have one, and
    the "defined elsewhere" pages for definitions in files without a page."""

    kernel: str
    symbol_pages: frozenset[str] = frozenset()
    pages: frozenset[str] | None = None  # the files with a source page (None: every indexed file)
    elsewhere: set[str] = field(default_factory=set)  # names linked to a "defined elsewhere" page (this process)

    def has_page(self, path: str) -> bool:
        return self.pages is None or path in self.pages

    def definition_target(self, name: str, path: str, line: int) -> tuple[str, str]:
        """(page URL, fragment) of a definition: its line in its source page, else its entry on the
        "defined elsewhere" page (never a page that does not exist)."""
        if self.has_page(path):
            return source_url(self.kernel, path), f"L{line}"
        self.elsewhere.add(name)
        return elsewhere_url(self.kernel, name), name

    def definition_href(self, page_url: str, name: str, path: str, line: int) -> str:
        base, frag = self.definition_target(name, path, line)
        return relative_href(page_url, base, frag)

    def target(self, link: Link) -> tuple[str, str]:
        """(page URL, fragment) a link goes to: a symbol page, or a line of a source page."""
        if link.definition and link.target in self.symbol_pages:
            return symbol_url(self.kernel, link.target), ""
        return self.definition_target(link.target, link.path, link.target_line)


def _spans(links: Iterable[Link], page_url: str, ctx: LinkContext, path: str | None) -> list[LinkSpan]:
    spans = []
    cache: dict[str, str] = {}  # page URL → its relative href (encoded once per page linked)
    for lk in links:
        if lk.definition and lk.target not in ctx.symbol_pages:
            if path == lk.path:
                spans.append(LinkSpan(lk.line, lk.start, lk.end, f"#L{lk.line}", True))
                continue
            base, frag = ctx.definition_target(lk.target, lk.path, lk.line)
        elif lk.path == path and not lk.definition:
            spans.append(LinkSpan(lk.line, lk.start, lk.end, f"#L{lk.target_line}", False))
            continue
        else:
            base, frag = ctx.target(lk)
        rel = cache.get(base)
        if rel is None:
            rel = cache[base] = relative_href(page_url, base)
        spans.append(LinkSpan(lk.line, lk.start, lk.end, rel + "#" + url_path(frag) if frag else rel, lk.definition))
    return spans


# ------------------------------------------------------------------ source pages


@dataclass
class RenderedSource:
    path: str
    html: str
    refs: list[tuple[str, int]] = field(default_factory=list)  # (target symbol, line) of each use


# What the outline of a source page lists, in the file's order (members and enumerators are
# inside these; prototypes are declarations of what is defined elsewhere).
OUTLINE_KINDS = frozenset({"function", "struct", "union", "enum", "typedef", "macro", "variable"})


def render_source_page(site: SiteIndex, ctx: LinkContext, path: str) -> RenderedSource:
    """A source page's content.  Its structure, for the stylesheet, the script and other additions:

    ```html
    <div class="kx-source">
      <div class="kx-file-head" data-kx-path="net/ipv4/af_inet.c">   the path (untrusted: escaped)
        <h1><span class="kx-crumbs">…links to the folders…</span></h1><span class="kx-meta">N lines · kernel</span>
      </div>
      <aside class="kx-side" data-search-exclude>                     beside the code (above it on narrow screens)
        <details class="kx-tree" open><summary>Files</summary>       the kernel's folders: filled by explorer.js
          <div data-kx-tree><a href="../">the folder</a></div>          from _kx/files.json; the link is for readers without script
        </details>
        <details class="kx-outline" open><summary>Outline <span class="kx-meta">N</span></summary>
          <ol><li data-kind="function"><a href="#L193">inet_listen</a></li>…</ol>   the file's definitions, in order
        </details>                                                   (explorer.js adds a filter box above the list)
      </aside>
      <div class="highlight kx-code"><pre><span></span><code>          the code (render.py: lines in groups of 100)
        <span class="kx-chunk" style="…"><span id="L1">…</span>…</span>…
      </code></pre></div>
    </div>
    ```
    """
    data = (site.tree / path).read_bytes()
    text = decode(data)
    toks = tokens(text, path)
    links = site.file_links(path, data)
    page_url = source_url(site.kernel, path)
    code = render(text, _with_locals(_spans(links, page_url, ctx, path), site.local_spans(path, data)), toks=toks, chunks=True)
    lines = site.files.get(path, text.count("\n"))
    crumbs = _breadcrumbs(site.kernel, path, page_url)
    header = (
        f'<div class="kx-file-head" data-kx-path="{html_attr(path)}"><h1>{crumbs}</h1>'
        f'<span class="kx-meta">{lines} lines · {html_text(site.kernel)}</span></div>'
    )
    refs = [(lk.target, lk.line) for lk in links if not lk.definition]
    side = f'<aside class="kx-side" data-search-exclude>{_tree_box(path)}{outline_html(site, path)}</aside>'
    return RenderedSource(path, f'<div class="kx-source">{header}{side}{code}</div>', refs)


def _tree_box(path: str) -> str:
    folder = posixpath.dirname(path)
    name = folder or "the kernel's folders"
    return (f'<details class="kx-tree" open><summary>Files</summary><div data-kx-tree>'
            f'<a href="../">{html_text(name)}/</a></div></details>')


def outline_html(site: SiteIndex, path: str) -> str:
    """The outline of a file: its definitions in order, each a link to its line (empty without any)."""
    items = []
    seen: set[tuple[str, int]] = set()
    for d in site.file_definitions(path):
        if d.kind not in OUTLINE_KINDS or (d.name, d.line) in seen:
            continue
        seen.add((d.name, d.line))
        items.append(f'<li data-kind="{html_attr(d.kind)}"><a href="#L{d.line}" title="{html_attr(d.kind)}">{html_text(d.name)}</a></li>')
    if not items:
        return ""
    return (f'<details class="kx-outline" open><summary>Outline <span class="kx-meta">{len(items)}</span></summary>'
            f'<ol>{"".join(items)}</ol></details>')


def _with_locals(spans: list[LinkSpan], locals_: list[tuple[int, int, int, int, bool]]) -> list[LinkSpan]:
    """The link spans and the spans of locals and parameters, sorted, a local that would overlap a link left out."""
    if not locals_:
        return spans
    taken: dict[int, list[tuple[int, int]]] = {}
    for span in spans:
        taken.setdefault(span.line, []).append((span.start, span.end))
    out = list(spans)
    for line, start, end, number, decl in locals_:
        if any(s < end and start < e for s, e in taken.get(line, ())):
            continue
        out.append(LinkSpan(line, start, end, "", decl, number))
    out.sort(key=lambda s: (s.line, s.start))
    return out


def _breadcrumbs(kernel: str, path: str, page_url: str) -> str:
    parts = path.split("/")
    out = [f'<a href="{html_attr(relative_href(page_url, f"{kernel}/source/"))}">{html_text(kernel)}</a>']
    for i in range(len(parts) - 1):
        folder = "/".join(parts[: i + 1])
        href = relative_href(page_url, f"{kernel}/source/{folder}/")
        out.append(f'<a href="{html_attr(href)}">{html_text(parts[i])}</a>')
    out.append(f"<strong>{html_text(parts[-1])}</strong>")
    return '<span class="kx-crumbs">' + " / ".join(out) + "</span>"


def _block_text(text: str) -> str:
    """`html_text` for HTML inside Markdown: a line break in a name cannot end the HTML block."""
    return html_text(text).replace("\r", "&#13;").replace("\n", "&#10;")


def folder_page(site: SiteIndex, folder: str, entries: list[str], subfolders: list[str]) -> str:
    """Markdown of a folder listing (`folder` is '' for the kernel's root).

    Everything below the front matter is HTML (names are not Markdown); the title is HTML too,
    as mkdocs-material writes `page.meta.title` into the page unescaped."""
    title = f"{site.kernel}/{folder}" if folder else site.kernel
    lines = ["---", f"title: {json.dumps(html_text(title))}", "search:", "  exclude: true", "---", "",
             f"<h1>{_block_text(title)}</h1>", ""]
    if folder:
        parent = posixpath.dirname(folder)
        up = f"{site.kernel}/{parent}" if parent else "up"
        lines += [f'<p><a href="../">← {_block_text(up)}</a></p>', ""]
    lines.append('<ul class="kx-listing">')
    for sub in subfolders:
        lines.append(f'<li class="kx-dir"><a href="{html_attr(url_path(sub))}/">{_block_text(sub)}/</a></li>')
    for name in entries:
        full = f"{folder}/{name}" if folder else name
        n = site.files.get(full, 0)
        lines.append(f'<li><a href="{html_attr(url_path(name))}/">{_block_text(name)}</a> <span class="kx-meta">{n} lines</span></li>')
    lines.append("</ul>")
    return "\n".join(lines) + "\n"


def folders(paths: Iterable[str]) -> dict[str, tuple[list[str], list[str]]]:
    """folder → (files, subfolders), for every folder holding indexed files ('' is the root)."""
    tree: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for path in sorted(paths):
        folder, name = posixpath.split(path)
        tree[folder][0].append(name)
        while folder:
            parent, sub = posixpath.split(folder)
            subs = tree[parent][1]
            if sub in subs:
                break
            subs.append(sub)
            folder = parent
    for _files, subs in tree.values():
        subs.sort()
    return dict(tree)


# ------------------------------------------------------------------ embeds and symbol pages


def definition_range(d: SiteDefinition, lines: list[str]) -> tuple[int, int]:
    """First and last line of a definition's text, as the index stores them."""
    return d.start_line, min(max(d.end_line, d.start_line), len(lines))


def embed_html(site: SiteIndex, ctx: LinkContext, d: SiteDefinition, page_url: str) -> str:
    """The live source of a definition, linked, for a page served at `page_url`."""
    data = (site.tree / d.path).read_bytes()
    text = decode(data)
    all_lines = text.split("\n")
    first, last = definition_range(d, all_lines)
    excerpt = "\n".join(all_lines[first - 1:last]) + "\n"
    toks = tokens(excerpt, d.path)
    links = site.file_links(d.path, data, first, last)
    spans = _spans(links, page_url, ctx, None)
    code = render(excerpt, spans, first_line=first, line_ids=False, toks=toks)
    where = f"{d.path}:{d.line}" if first == last else f"{d.path}:{first}-{last}"
    if ctx.has_page(d.path):
        src = html_attr(relative_href(page_url, source_url(site.kernel, d.path), f"L{first}"))
        data_src = f' data-kx-src="{src}"'
    else:  # its file has no page: the head leads to where the definition is described, line numbers lead nowhere
        src, data_src = html_attr(ctx.definition_href(page_url, d.name, d.path, d.line)), ""
    head = (
        f'<div class="kx-embed-head"><a href="{src}">{html_text(where)}</a>'
        f'<span class="kx-meta">{html_text(d.kind)} · {html_text(site.kernel)}</span></div>'
    )
    # a <figure>: material's search indexer drops a data-search-exclude element only if no
    # element of the same tag sits inside it
    return f'<figure class="kx-embed" data-search-exclude{data_src} style="--kx-start: {first - 1}">{head}{code}</figure>'


def symbol_page(site: SiteIndex, ctx: LinkContext, name: str, mentions: list[tuple[str, str]],
                blocks: dict[str, str], notes: dict[str, Annotation] | None = None,
                embedding: list[str] | None = None, docs_dir: Path | None = None) -> str:
    """Markdown of a symbol page: definitions, members, commentary that mentions it, calls.

    Generated HTML goes into `blocks` and the Markdown holds ``[[source:@KEY]]`` in its
    place, so that Markdown never parses it (the resolver hands it back as is).  What comes
    from the kernel tree (paths, ``#if`` conditions, code) is only in those blocks."""
    defs = [d for d in site.lookup(name) if d.kind != "prototype"] or site.lookup(name)
    d0 = defs[0]
    page_url = symbol_url(site.kernel, name)
    out = [
        f'# {markdown_code(name)} <span class="kx-kind">{html_text(d0.kind)}</span>',
        "",
    ]
    for i, d in enumerate(defs[:4]):
        cond = f" (under <code>{html_text(d.cond)}</code>)" if d.cond else ""
        blocks[f"definition-{i}"] = (f"<p>Defined in {_file_link(site, ctx, d, page_url)}{cond}.</p>\n"
                                     + embed_html(site, ctx, d, page_url))
        out += [f"[[source:@definition-{i}]]", ""]
    if len(defs) > 4:
        more = ", ".join(_file_link(site, ctx, d, page_url) for d in defs[4:])
        blocks["more-definitions"] = f"<p>And {len(defs) - 4} more definitions: {more}</p>"
        out += ["[[source:@more-definitions]]", ""]
    docs = site.kernel_docs(name)
    doc = next((docs[(d.path, d.line)] for d in defs if (d.path, d.line) in docs), None)
    if doc is not None:
        blocks["kernel-doc"] = kernel_doc_html(ctx, doc, page_url)
        out += ["## Kernel-doc", "", "[[source:@kernel-doc]]", ""]
    notes = notes or {}
    note = notes.get(name)
    if note is not None:
        note_src_uri = note.path.name
        if docs_dir is not None:
            try:
                note_src_uri = note.path.resolve().relative_to(docs_dir.resolve()).as_posix()
            except ValueError:
                pass
        # the annotation, anchored to this symbol: Markdown with [[links]], rendered with the page
        text = _rebase_links(_demote_headings(note.text), note_src_uri, symbol_uri(site.kernel, name))
        out += ["## Annotation", "", text, "",
                f'<p class="kx-meta">From {_block_text(note.path.name)}, reviewed against the code it annotates.</p>', ""]
    if embedding and len(embedding) > 1:
        blocks["embedding"] = _embedding_mermaid(embedding, _node_href(site, ctx, page_url, name))
        out += ["## Embedding", "", "Each struct begins with the next one, so a pointer to one is a pointer to all:", "",
                "[[source:@embedding]]", ""]
    if d0.kind in ("struct", "union"):
        table = member_table(site, d0, notes)
        if table:
            blocks["members"] = table
            out += ["## Members", "", "[[source:@members]]", ""]
    if mentions:
        out += ["## Commentary", ""]
        out += [f"- [{html_text(title)}]({url_path(href)})" for title, href in mentions]
        out.append("")
    calls_in = callers(site, name)
    calls_out = callees(site, name)
    if calls_in or calls_out:
        blocks["graph"] = _mermaid(name, calls_in, calls_out, _node_href(site, ctx, page_url, name))
        out += ["## Call graph", "", "[[source:@graph]]", ""]
        for title, rows in (("Callers", calls_in), ("Callees", calls_out)):
            if rows:
                key = title.lower()
                blocks[key] = call_list(site, ctx, rows, page_url)
                out += [f"### {title}", "", f"[[source:@{key}]]", ""]
    return "\n".join(out) + "\n"


def kernel_doc_html(ctx: LinkContext, doc: KernelDoc, page_url: str) -> str:
    """A definition's kernel-doc comment as HTML, marked as the kernel authors' words (not the project's
    commentary); every piece of it is kernel text, escaped."""
    out = ['<section class="kx-kdoc">',
           f'<p class="kx-kdoc-from">From the kernel\'s own kernel-doc comment at {_line_link(ctx, page_url, doc.path, doc.line)},'
           " as its authors wrote it.</p>"]
    if doc.summary:
        out.append(f'<p class="kx-kdoc-summary">{html_text(doc.summary)}</p>')
    if doc.params:
        out.append('<dl class="kx-kdoc-params">')
        out += [f"<dt><code>@{html_text(n)}</code></dt><dd>{html_text(t)}</dd>" for n, t in doc.params.items()]
        out.append("</dl>")
    for title, text in (("Context", doc.context), ("Return", doc.returns)):
        if text:
            out.append(f'<p class="kx-kdoc-section"><strong>{title}:</strong> {html_text(text)}</p>')
    if not doc.member:
        out.append(f'<details class="kx-kdoc-text"><summary>The whole comment</summary><pre>{html_text(doc.text)}</pre></details>')
    out.append("</section>")
    return "\n".join(out)


def _file_link(site: SiteIndex, ctx: LinkContext, d: SiteDefinition, page_url: str) -> str:
    """A link to a definition's line in its source page, written as its path and line."""
    target = f"{d.path}#L{d.line}"
    href = ctx.definition_href(page_url, d.name, d.path, d.line)
    return (f'<a class="kx-file" href="{html_attr(href)}" title="{html_attr(f"{site.kernel}: {target}")}">'
            f"<code>{html_text(target)}</code></a>")


def _line_link(ctx: LinkContext, page_url: str, path: str, line: int) -> str:
    """`path:line` linked to its source page, or as text when the file has no page."""
    text = html_text(f"{path}:{line}")
    if not ctx.has_page(path):
        return f'<span class="kx-meta">{text}</span>'
    return f'<a href="{html_attr(relative_href(page_url, source_url(ctx.kernel, path), f"L{line}"))}">{text}</a>'


def call_list(site: SiteIndex, ctx: LinkContext, rows: list[CallEdge], page_url: str, limit: int = 300) -> str:
    """Call edges (name, path, line, via) as an HTML list for a page at `page_url`.

    Each name links to the definition the call resolves to: its symbol page when that is the
    definition the page leads with, else its source line (a static function of the same name
    elsewhere is another node).  Rows about several definitions of the page's name (two static
    functions of one name) are listed under each definition."""
    groups: dict[tuple[str | None, int | None], list[str]] = {}
    for row in rows[:limit]:
        other = row.name
        d = site.best(other)
        if row.name_path is not None and row.name_line is not None and (d is None or d.path != row.name_path):
            href = ctx.definition_href(page_url, other, row.name_path, row.name_line)
            who = f'<a href="{html_attr(href)}"><code>{html_text(other)}</code></a>'
        elif other in ctx.symbol_pages:
            href = relative_href(page_url, symbol_url(site.kernel, other))
            who = f'<a href="{html_attr(href)}"><code>{html_text(other)}</code></a>'
        elif d is not None:
            href = ctx.definition_href(page_url, other, d.path, d.line)
            who = f'<a href="{html_attr(href)}"><code>{html_text(other)}</code></a>'
        else:
            who = f"<code>{html_text(other)}</code>"
        site_link = _line_link(ctx, page_url, row.path, row.line)
        through = ""
        if row.via:
            through = f" through <code>.{html_text(row.via)}</code>" if "." in row.via else f" in the macro <code>{html_text(row.via)}</code>"
            tables = [t for t in row.tables if t]
            if tables:
                through += " of " + ", ".join(f"<code>{html_text(t)}</code>" for t in tables[:4]) + (" …" if len(tables) > 4 else "")
        groups.setdefault((row.def_path, row.def_line), []).append(f"<li>{who} at {site_link}{through}</li>")
    more = f'<p class="kx-meta">… and {len(rows) - limit} more.</p>' if len(rows) > limit else ""
    if len(groups) < 2:
        items = [item for group in groups.values() for item in group]
        return '<nav class="kx-calls" data-search-exclude><ul>' + "".join(items) + "</ul>" + more + "</nav>"
    parts = []
    for (path, line), items in groups.items():
        if path is not None:
            parts.append(f'<p class="kx-meta">The definition in {_line_link(ctx, page_url, path, line or 0)}:</p>')
        parts.append("<ul>" + "".join(items) + "</ul>")
    return '<nav class="kx-calls" data-search-exclude>' + "".join(parts) + more + "</nav>"


_MD_LINK_RX = re.compile(r"(\]\()([^()\s]+)(\))")


def _rebase_links(markdown: str, from_uri: str, to_uri: str) -> str:
    """Relative Markdown links of text moved from page `from_uri` to page `to_uri` (both docs-relative)."""

    def fix(m: re.Match[str]) -> str:
        target = m.group(2)
        if target.startswith(("#", "/")) or "://" in target or target.startswith("mailto:"):
            return m.group(0)
        path, sep, frag = target.partition("#")
        absolute = posixpath.normpath(posixpath.join(posixpath.dirname(from_uri), path))
        moved = posixpath.relpath(absolute, posixpath.dirname(to_uri) or ".")
        return f"{m.group(1)}{moved}{sep}{frag}{m.group(3)}"

    return _MD_LINK_RX.sub(fix, markdown)


def _demote_headings(markdown: str) -> str:
    """Line-anchor headings (### `code`) sit under the page's own level-2 heading."""
    return "\n".join("#" + line if line.startswith("###") else line for line in markdown.splitlines())


def _embedding_mermaid(chain: list[str], href: NodeHref | None = None) -> str:
    lines = ["flowchart LR"]
    lines += [f'  s{i}["struct {mermaid_label(name)}"]' for i, name in enumerate(chain)]
    lines += [f"  s{i} -->|first member| s{i + 1}" for i in range(len(chain) - 1)]
    links = {}
    for i, name in enumerate(chain):
        target = href(name, None, None) if href is not None else None
        if target:
            links[f"s{i}"] = target
    return _mermaid_block(lines, links)


def _mermaid_block(lines: list[str], links: dict[str, str] | None = None) -> str:
    """A mermaid diagram as the pages' script expects it (drawn in the browser, not searched);
    `links`: {node id: URL} of the boxes that link somewhere."""
    attr = f' data-kx-links="{html_attr(json.dumps(links, sort_keys=True))}"' if links else ""
    return f'<pre class="kx-mermaid" data-search-exclude{attr}><code>' + html_text("\n".join(lines)) + "</code></pre>"


def member_table(site: SiteIndex, struct: SiteDefinition, notes: dict[str, Annotation] | None = None) -> str:
    """An HTML table of a struct's members (nested ones included), linked to their lines."""
    page_url = symbol_url(site.kernel, struct.name)
    base = html_attr(relative_href(page_url, source_url(site.kernel, struct.path)))
    members = [m for m in site.file_definitions(struct.path) if m.kind == "member"
               and m.name.startswith(struct.name + ".") and struct.line <= m.line <= struct.end_line]
    if not members:
        return ""
    docs = site.member_docs(struct)
    rows = []
    for m in members:
        field_name = m.name.split(".", 1)[1]
        cond = f'<br><span class="kx-meta">{html_text(m.cond)}</span>' if m.cond else ""
        note = (notes or {}).get(m.name)
        comment = html_text(note.summary(200)) if note is not None else ""
        linked = (f'<a href="{base}#L{m.line}"><code>{html_text(field_name)}</code></a>' if site.has_page(struct.path)
                  else f"<code>{html_text(field_name)}</code>")
        doc = docs.get(m.name)
        kdoc = f'<span class="kx-kdoc-cell">{html_text(_cut(doc.summary, 300))}</span>' if doc is not None else ""
        rows.append(
            f'<tr id="{html_attr(m.name)}"><td>{linked}</td>'
            f"<td><code>{html_text(m.signature)}</code>{cond}</td><td>{m.line}</td><td>{kdoc}</td><td>{comment}</td></tr>"
        )
    return (
        '<table class="kx-members"><thead><tr><th>member</th><th>declaration</th>'
        '<th>line</th><th title="the kernel\'s own kernel-doc">kernel-doc</th><th title="this project\'s annotations">commentary</th>'
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


NodeHref = Callable[[str, "str | None", "int | None"], "str | None"]


def _node_href(site: SiteIndex, ctx: LinkContext, page_url: str, page_name: str) -> NodeHref:
    """Where the box of (name, path of its definition) of a call graph links, from the page at `page_url`:
    as `call_list` links the name (the symbol page of the definition it leads with, else the source line,
    or its entry on a "defined elsewhere" page for a file without a page)."""

    def href(name: str, path: str | None, line: int | None) -> str | None:
        d = site.best(name)
        if path is not None and line is not None and (d is None or d.path != path):
            return ctx.definition_href(page_url, name, path, line)
        if name == page_name:
            return None  # the page itself
        if name in ctx.symbol_pages:
            return relative_href(page_url, symbol_url(site.kernel, name))
        if d is not None:
            return ctx.definition_href(page_url, name, d.path, d.line)
        return None

    return href


def _mermaid(name: str, calls_in: list[CallEdge], calls_out: list[CallEdge],
             href: NodeHref | None = None, limit: int = 12) -> str:
    """The page's function in the middle, callers on the left, callees on the right.  A node is a
    definition: two static functions of one name are two boxes, each labelled with its file.

    `href(name, path, line)` says where a box links (None: nowhere); the links go into the
    block's ``data-kx-links`` ({mermaid node id: URL}), which explorer.js turns into SVG links
    once mermaid has drawn the diagram."""
    rows = calls_in[:limit] + calls_out[:limit]
    paths: dict[str, set[str | None]] = {}
    for row in rows:
        paths.setdefault(row.name, set()).add(row.name_path)
        paths.setdefault(name, set()).add(row.def_path)

    def node(n: str, path: str | None) -> str:
        return "n" + format(zlib.crc32(f"{n}\0{path or ''}".encode()), "x")

    def box(n: str, path: str | None) -> str:
        label = n if len(paths.get(n, ())) < 2 or path is None else f"{n} ({posixpath.basename(path)})"
        return f'{node(n, path)}["{mermaid_label(label)}"]'

    lines = ["flowchart LR"]
    links: dict[str, str] = {}
    for path in sorted(paths.get(name) or {None}, key=lambda p: p or ""):
        lines.append(f"  {box(name, path)}:::kxSelf")
    seen = set()
    for direction, part in (("in", calls_in[:limit]), ("out", calls_out[:limit])):
        for row in part:
            key = (direction, row.name, row.name_path, row.def_path)
            if key in seen:
                continue
            seen.add(key)
            target = href(row.name, row.name_path, row.name_line) if href is not None else None
            if target:
                links.setdefault(node(row.name, row.name_path), target)
            arrow = f'-.->|"{mermaid_label(row.via)}"|' if row.via else "-->"
            me, other = node(name, row.def_path), box(row.name, row.name_path)
            lines.append(f"  {other} {arrow} {me}" if direction == "in" else f"  {me} {arrow} {other}")
    lines.append("  classDef kxSelf stroke-width:3px")
    return _mermaid_block(lines, links)


def refs_html(site: SiteIndex, refs: list[tuple[str, int, str]], page_url: str, limit: int = 300) -> str:
    """References (path, line, role) grouped by file, as HTML for a page at `page_url`."""
    if not refs:
        return '<p class="kx-meta">No references found in the work set.</p>'
    by_file: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path, line, role in refs:
        by_file[path][line].add(role)
    roles = sorted({r for _, _, r in refs if r})
    summary = f"{len(refs)} references in {len(by_file)} files"
    if roles:
        counts = {r: sum(1 for x in refs if x[2] == r) for r in roles}
        summary += " (" + ", ".join(f"{counts[r]} {r}" for r in roles) + ")"
    out = [f'<p class="kx-meta">{html_text(summary)}.</p>', '<nav class="kx-refs" data-search-exclude>']
    for shown, path in enumerate(sorted(by_file, key=lambda p: (not site.has_page(p), not p.endswith(".c"), p))):
        if shown >= limit:
            out.append(f'<p class="kx-meta">… and {len(by_file) - shown} more files.</p>')
            break
        base = html_attr(relative_href(page_url, source_url(site.kernel, path)))
        lines = sorted(by_file[path])
        if not site.has_page(path):  # no page of its own: the lines as text
            shown_lines = " ".join(str(ln) for ln in lines[:60])
            more = f" … {len(lines) - 60} more" if len(lines) > 60 else ""
            out.append(f'<div class="kx-ref-file"><code>{html_text(path)}</code> <span class="kx-meta">{shown_lines}{more}'
                       "</span></div>")
            continue
        items = " ".join(
            f'<a href="{base}#L{ln}" title="{html_attr(" ".join(sorted(r for r in by_file[path][ln] if r)))}">{ln}</a>'
            for ln in lines[:60]
        )
        more = f" … {len(lines) - 60} more" if len(lines) > 60 else ""
        out.append(f'<div class="kx-ref-file"><code>{html_text(path)}</code> {items}{more}</div>')
    out.append("</nav>")
    return "\n".join(out)


# ------------------------------------------------------------------ JSON for the pages' scripts


@functools.cache
def shard_of_name(name: str) -> str:
    """Names shards are keyed by the first two letters of the last component, lower case."""
    last = name.rsplit(".", 1)[-1].lstrip("_").lower()
    key = (last[:2] or "_").ljust(2, "_")
    return "".join(c if c.isalnum() else "_" for c in key)


def ref_shard(name: str) -> int:
    return zlib.crc32(name.encode()) % REF_SHARDS


def names_data(site: SiteIndex, defs: dict[str, list[SiteDefinition]], file_ids: dict[str, int],
               symbol_pages: frozenset[str], notes: dict[str, Annotation] | None = None,
               ops_targets: dict[str, list[tuple[str, str]]] | None = None,
               kernel_docs: dict[tuple[str, str, int], str] | None = None) -> dict[str, bytes]:
    """shard → JSON: [[name, kind, file id, line, signature, cond, has page, commentary?, targets?, kernel-doc?], ...].

    targets, for a member that holds function pointers: [[function, file id, line], ...], the
    functions a call through it may reach (from ops tables and assignments).  `defs`: the definitions
    the data holds (those of the files with pages and those the "defined elsewhere" pages list);
    a target defined in none of them is left out.  kernel-doc: the summary of the definition's
    kernel-doc comment (`kernel_docs`, by (name, path, line))."""
    notes = notes or {}
    ops_targets = ops_targets or {}
    kernel_docs = kernel_docs or {}
    shards: dict[str, list[list[object]]] = defaultdict(list)
    wanted = {f for d_list in defs.values() for d in d_list if d.kind == "member" for f, _ in ops_targets.get(d.name, ())}
    site.prefetch(wanted)
    for name, found in defs.items():
        key = shard_of_name(name)
        real = any(d.kind != "prototype" for d in found)
        for d in found:
            if d.kind == "prototype" and real:
                continue
            sig = d.signature if len(d.signature) <= SIGNATURE_MAX else d.signature[:SIGNATURE_MAX] + "…"
            row: list[object] = [name, d.kind, file_ids[d.path], d.line, sig, d.cond or "", 1 if name in symbol_pages else 0]
            note = notes.get(name)
            targets: list[list[object]] = []
            for function, stored_in in ops_targets.get(name, ()) if d.kind == "member" else ():
                fd = site.best(function, stored_in)  # the definition the storing file sees
                if (fd is not None and fd.path in file_ids and (site.has_page(fd.path) or fd in defs.get(fd.name, ()))
                        and [function, file_ids[fd.path], fd.line] not in targets):
                    targets.append([function, file_ids[fd.path], fd.line])
            kdoc = kernel_docs.get((name, d.path, d.line))
            if note is not None or targets or kdoc:
                row.append(note.summary(300) if note is not None else "")
            if targets or kdoc:
                row.append(targets)
            if kdoc:
                row.append(_cut(kdoc, 300))
            shards[key].append(row)
    return {k: json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode() for k, v in shards.items()}


def refs_data(refs: Mapping[str, Mapping[str, Iterable[int]]], file_ids: dict[str, int]) -> dict[int, bytes]:
    """shard → JSON: {name: {file id: [lines]}}."""
    shards: dict[int, dict[str, dict[int, list[int]]]] = defaultdict(dict)
    for name, by_file in refs.items():
        shards[ref_shard(name)][name] = {file_ids[p]: sorted(set(ls)) for p, ls in by_file.items()}
    return {k: json.dumps(v, separators=(",", ":")).encode() for k, v in shards.items()}


# ------------------------------------------------------------------ "defined elsewhere" pages


def elsewhere_page(site: SiteIndex, key: str, defs: dict[str, list[SiteDefinition]], blocks: dict[str, str]) -> str:
    """Markdown of the page listing, for the names under `key` that the site links to, their
    definitions in files without a page of their own: kind, file:line, signature, #if condition.
    Each name is an anchor (the links say ``#NAME``).  The HTML goes into `blocks`."""
    title = f"Defined elsewhere in {site.kernel}: {key}"
    items = []
    for name in sorted(defs):
        rows = []
        for d in defs[name]:
            cond = f' <span class="kx-meta">under <code>{html_text(d.cond)}</code></span>' if d.cond else ""
            rows.append(f'<li><span class="kx-kind">{html_text(d.kind)}</span> <code>{html_text(f"{d.path}:{d.line}")}</code>'
                        f"{cond}<br><code>{html_text(d.signature)}</code></li>")
        items.append(f'<div class="kx-elsewhere" id="{html_attr(name)}"><h2><code>{html_text(name)}</code></h2>'
                     f'<ul>{"".join(rows)}</ul></div>')
    intro = (f"<p>Definitions of {html_text(site.kernel)} in files of the index that have no page of their own on this "
             "site, for the names the pages link to: each with its kind, file and line, and signature.</p>")
    blocks["elsewhere"] = intro + ("".join(items) if items else
                                   '<p class="kx-meta">No name under this letter is linked to from this site.</p>')
    return (f"---\ntitle: {json.dumps(html_text(title))}\nsearch:\n  exclude: true\n---\n\n"
            f"# {html_text(title)}\n\n[[source:@elsewhere]]\n")
