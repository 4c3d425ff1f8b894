"""The site across kernels: the version switch, diffs of a symbol between kernels, the "What
changed" page, the review state of an annotation in each kernel.  No MkDocs here.

Diffs come from `explorer.history` (what `kexplore diff` prints); everything from the kernel
tree or the annotations (paths, code, names) is escaped by context with `explorer.escaping`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..annotations import Annotation, body_hash, definition_lines
from ..escaping import html_attr, html_text
from ..history import DiffPart, definitions, diff_parts, find
from ..store import SourceChanged
from ..urls import relative_href, source_url, symbol_url
from .links import SiteIndex

DIFF_ANCHOR = "kx-diff"


def short_name(kernel: str) -> str:
    """linux-6.12 → 6.12 (the page titles say "What changed in 6.12")."""
    return kernel.removeprefix("linux-")


# ------------------------------------------------------------------ the version switch


def _switch(items: list[str]) -> str:
    return ('<nav class="kx-versions" aria-label="kernel versions" data-search-exclude>'
            '<span class="kx-meta">Kernel:</span> ' + " ".join(items) + "</nav>")


def source_switch(sites: Sequence[SiteIndex], kernel: str, path: str, page_url: str) -> str:
    """The version switch of a source page: the same file in each other kernel, or why not."""
    items = []
    for site in sites:
        name = html_text(site.kernel)
        if site.kernel == kernel:
            items.append(f'<strong class="kx-version-here">{name}</strong>')
        elif site.has_page(path):
            href = relative_href(page_url, source_url(site.kernel, path))
            items.append(f'<a class="kx-version" href="{html_attr(href)}">{name}</a>')
        elif path in site.files:
            items.append(f'<span class="kx-version-absent">{name}: this file is there, without a page of its own</span>')
        else:
            items.append(f'<span class="kx-version-absent">{name}: no such file</span>')
    return _switch(items)


def symbol_switch(sites: Sequence[SiteIndex], kernel: str, name: str, page_url: str,
                  symbol_pages: Mapping[str, frozenset[str]]) -> str:
    """The version switch of a symbol page: the same symbol's page in each other kernel, or why not."""
    items = []
    for site in sites:
        label = html_text(site.kernel)
        if site.kernel == kernel:
            items.append(f'<strong class="kx-version-here">{label}</strong>')
        elif name in symbol_pages.get(site.kernel, frozenset()):
            href = relative_href(page_url, symbol_url(site.kernel, name))
            items.append(f'<a class="kx-version" href="{html_attr(href)}">{label}</a>')
        else:
            items.append(f'<span class="kx-version-absent">{label}: {html_text(name)} is not defined there</span>')
    return _switch(items)


# ------------------------------------------------------------------ diffs


@dataclass(frozen=True)
class SymbolDiff:
    """A symbol between two kernels: its status and each definition's diff with its counterpart."""

    name: str
    older: str  # kernel names
    newer: str
    status: str  # unchanged, changed, added, removed, absent, unreadable
    parts: tuple[DiffPart, ...] = ()
    problem: str = ""  # unreadable: why


def symbol_diff(older: SiteIndex, newer: SiteIndex, name: str) -> SymbolDiff:
    """`name` from kernel `older` to `newer`, as `kexplore diff` compares it."""
    sides = []
    try:
        for site in (older, newer):
            index = site.index()
            sides.append(definitions(site.kernel, index, site.tree, name, symbols=find(index, name)))
    except SourceChanged as exc:
        return SymbolDiff(name, older.kernel, newer.kernel, "unreadable", problem=str(exc))
    a, b = sides
    if not a and not b:
        return SymbolDiff(name, older.kernel, newer.kernel, "absent")
    parts = tuple(diff_parts(a, b, older.kernel, newer.kernel))
    status = "added" if not a else "removed" if not b else "changed" if any(p.changed for p in parts) else "unchanged"
    return SymbolDiff(name, older.kernel, newer.kernel, status, parts)


def diff_html(diff: str) -> str:
    """A unified diff as escaped HTML, each line marked as added, removed, hunk or file header."""
    out = []
    for line in diff.splitlines():
        css = ("kx-diff-file" if line.startswith(("+++", "---")) else "kx-diff-hunk" if line.startswith("@@")
               else "kx-diff-add" if line.startswith("+") else "kx-diff-del" if line.startswith("-") else "")
        text = html.escape(line, quote=False)
        out.append(f'<span class="{css}">{text}\n</span>' if css else f"<span>{text}\n</span>")
    return '<pre class="kx-diff" data-search-exclude><code>' + "".join(out) + "</code></pre>"


def _where(kernel: str, path: str, line: int, page_url: str, site: SiteIndex, name: str) -> str:
    text = html_text(f"{path}:{line}")
    if site.has_page(path):
        href = relative_href(page_url, source_url(kernel, path), f"L{line}")
        return f'<a href="{html_attr(href)}"><code>{text}</code></a>'
    return f"<code>{text}</code>"


def status_sentence(d: SymbolDiff) -> str:
    older, newer = html_text(d.older), html_text(d.newer)
    return {
        "unchanged": f"Unchanged from {older} to {newer}.",
        "changed": f"Changed from {older} to {newer}:",
        "added": f"Not in {older}; added in {newer}:",
        "removed": f"Removed in {newer}: only {older} has it.",
        "absent": f"Defined in neither {older} nor {newer}.",
        "unreadable": f"Not compared: {html_text(d.problem)}.",
    }[d.status]


def diff_block(d: SymbolDiff, sites: Mapping[str, SiteIndex], page_url: str) -> str:
    """The diffs of a symbol page (or of one entry of the "What changed" page), escaped."""
    out = [f'<p class="kx-diff-status kx-{d.status}">{status_sentence(d)}</p>']
    for part in d.parts:
        if not part.changed:
            continue
        sides = []
        for dd, kernel in ((part.older, d.older), (part.newer, d.newer)):
            if dd is not None:
                sides.append(f"{html_text(kernel)} {_where(kernel, dd.sym.path, dd.sym.line, page_url, sites[kernel], d.name)}")
        out.append(f'<p class="kx-meta">{html_text(part.newer.sym.kind if part.newer else part.older.sym.kind if part.older else "")}'
                   f" · {' → '.join(sides)}</p>")
        out.append(diff_html(part.diff))
    return f'<div id="{DIFF_ANCHOR}" class="kx-diffs">' + "".join(out) + "</div>"


# ------------------------------------------------------------------ annotations in each kernel


def review_note(note: Annotation, site: SiteIndex, diff: SymbolDiff | None) -> str:
    """What a symbol page of `site`'s kernel says about the annotation's review there ('' when it was
    reviewed against this kernel's definition as it is)."""
    kernel = site.kernel
    reviewed = sorted(k for k, v in note.reviewed.items() if v)
    mark = note.reviewed.get(kernel)
    link = f' <a href="#{DIFF_ANCHOR}">See how the definition changed.</a>' if diff is not None and diff.status in ("changed", "added", "removed") else ""
    if mark is None:
        where = ", ".join(reviewed) or "no kernel"
        same = " The definition is the same in both." if diff is not None and diff.status == "unchanged" else ""
        return (f'<p class="kx-review kx-review-other">This annotation was reviewed against {html_text(where)} only, '
                f"not against {html_text(kernel)}.{same}{link}</p>")
    found = [s for s in site.index().lookup(note.symbol)]
    if not found:
        return f'<p class="kx-review kx-review-other">{html_text(note.symbol)} is not defined in {html_text(kernel)}.</p>'
    try:
        now = body_hash(definition_lines(site.index(), site.tree, found[0]))
    except SourceChanged:
        return ""
    if now != mark:
        return (f'<p class="kx-review kx-review-stale">The definition changed in {html_text(kernel)} since this annotation '
                f"was reviewed against it.{link}</p>")
    return ""


# ------------------------------------------------------------------ the "What changed" page


def changes_page(older: SiteIndex, newer: SiteIndex, names: Sequence[str], diffs: Mapping[str, SymbolDiff],
                 sites: Mapping[str, SiteIndex], symbol_pages: Mapping[str, frozenset[str]], page_url: str,
                 blocks: dict[str, str]) -> str:
    """Markdown of "What changed in NEWER": each symbol of `names` (the connection-establishment path
    and the annotated symbols), changed or unchanged, with its diff.  The HTML goes into `blocks`
    (``[[source:@KEY]]`` in the Markdown), so that Markdown never parses code."""
    title = f"What changed in {short_name(newer.kernel)}"
    counts: dict[str, int] = {}
    for name in names:
        counts[diffs[name].status] = counts.get(diffs[name].status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    blocks["intro"] = (
        f"<p>The symbols of the connection-establishment path (listen, connect, the handshake, accept) and every "
        f"annotated symbol, from {html_text(older.kernel)} to {html_text(newer.kernel)}: {html_text(summary)}. "
        "Definitions are compared as <code>kexplore diff</code> compares them.</p>")
    rows = []
    for name in names:
        d = diffs[name]
        rows.append(f'<tr><td><a href="#{html_attr(_anchor(name))}"><code>{html_text(name)}</code></a></td>'
                    f'<td class="kx-{d.status}">{html_text(d.status)}</td></tr>')
    blocks["table"] = ('<table class="kx-changes"><thead><tr><th>symbol</th><th>status</th></tr></thead><tbody>'
                       + "".join(rows) + "</tbody></table>")
    out = ["---", f"title: {json.dumps(html_text(title))}", "search:", "  exclude: true", "---", "",
           f"# {html_text(title)}", "", "[[source:@intro]]", "", "[[source:@table]]", ""]
    for i, name in enumerate(names):
        d = diffs[name]
        links = []
        for site in (older, newer):
            if name in symbol_pages.get(site.kernel, frozenset()):
                href = relative_href(page_url, symbol_url(site.kernel, name))
                links.append(f'<a href="{html_attr(href)}">{html_text(site.kernel)}</a>')
        pages = f' <span class="kx-meta">({" · ".join(links)})</span>' if links else ""
        body = diff_block(d, sites, page_url).replace(f'id="{DIFF_ANCHOR}" ', "", 1)
        if d.status == "changed":
            body = f"<details><summary>the diff</summary>{body}</details>"
        blocks[f"sym-{i}"] = (f'<section class="kx-change" id="{html_attr(_anchor(name))}">'
                              f"<h2><code>{html_text(name)}</code>{pages}</h2>{body}</section>")
        out += [f"[[source:@sym-{i}]]", ""]
    return "\n".join(out) + "\n"


def _anchor(name: str) -> str:
    return "sym-" + name
