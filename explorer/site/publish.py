"""What a published site needs besides its pages: each page's description for search engines and
link previews, the sitemap and robots.txt (the archive of the built site is `archive.py`).

No MkDocs here: the plugin hands over names, paths and URLs.  Every text is kept raw (as the kernel,
the index or the commentary spell it) and escaped where it is written: `html_attr` in the plugin,
Jinja's ``|e`` in the template, XML escaping in the sitemap.
"""

from __future__ import annotations

import gzip
import io
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_escape

# the sitemap protocol's limit per file (sitemaps.org); more URLs go into several files and an index
SITEMAP_LIMIT = 50_000
DESCRIPTION_LIMIT = 200  # characters: what search engines show of a description
# what a URL may hold without escaping (RFC 3986's unreserved, reserved and the percent sign): a
# site_url with anything else (quotes, spaces, angle brackets) is refused rather than escaped in
# every page
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+")
# `[[target]]`, `[[target|words]]` and `[[source:name]]` of the commentary, `[text](url)` of Markdown
_SYMBOL_LINK = re.compile(r"\[\[(?:source:)?([^\]|]+)(?:\|([^\]]*))?\]\]")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"`+|\*\*|__|<[^>]*>")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[`\"'])")


class SiteUrlError(ValueError):
    """site_url is not a plain absolute http(s) URL of a folder."""


@dataclass(frozen=True)
class PageMeta:
    """What a page says about itself in its head: raw text, escaped where it is written."""

    title: str
    description: str
    kind: str = "website"  # og:type


def check_site_url(site_url: str) -> str:
    """`site_url` as the base of every canonical link; a one-line `SiteUrlError` when it cannot be."""
    parts = urlsplit(site_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SiteUrlError(f"site_url {site_url!r} must be an absolute http:// or https:// URL "
                           "(set KEXPLORE_SITE_URL, for example https://USER.github.io/kernel-explorer/)")
    if not _URL_CHARS.fullmatch(site_url) or parts.query or parts.fragment:
        raise SiteUrlError(f"site_url {site_url!r} must be a plain URL: no spaces, quotes, query or fragment "
                           "(percent-encode other characters)")
    return site_url if site_url.endswith("/") else site_url + "/"


# ---------------------------------------------------------------------------- descriptions


def plain_text(markdown: str) -> str:
    """Commentary Markdown as one line of text: links give their words, code spans their code."""
    text = _SYMBOL_LINK.sub(lambda m: m.group(2) or m.group(1), markdown)
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = _MARKUP.sub("", text)
    return " ".join(text.split())


def first_sentence(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """The first sentence of a paragraph of text, at most `limit` characters (cut at a word, with …)."""
    text = " ".join(text.split())
    m = _SENTENCE_END.search(text)
    if m:
        text = text[: m.start()]
    if text.endswith(":"):  # a sentence that leads into a list or a code block
        text = text[:-1].rstrip() + "…"
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def first_paragraph(markdown: str) -> str:
    """The first paragraph of Markdown (below any front matter and headings), as plain text."""
    para: list[str] = []
    lines = markdown.splitlines()
    if lines and lines[0].strip() == "---":  # front matter
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), 0)
        lines = lines[end + 1:]
    fence = False
    for raw in lines:
        line = raw.strip()
        if line.startswith(("```", "~~~")):
            fence = not fence
            if para:
                break
            continue
        if fence or line.startswith(("<!--", "|", "!!!", "???")):
            if para:
                break
            continue
        if not line:
            if para:
                break
            continue
        if line.startswith("#") or line.startswith("[[source:"):
            if para:
                break
            continue
        para.append(line.lstrip(">-*+ ").strip())
    return plain_text(" ".join(para))


def symbol_meta(name: str, kind: str, path: str, line: int, kernel_title: str, *,
                kerneldoc: str | None = None, annotation: str | None = None) -> PageMeta:
    """A symbol page: what the symbol is and where, then the first sentence of its kernel-doc (the
    kernel's own words about it) or, without one, of the project's annotation."""
    summary = first_sentence(first_paragraph(kerneldoc or annotation or ""))
    lead = f"{name}: {_article(kind)} {kind} in {path}, line {line}, {kernel_title}."
    return PageMeta(f"{name} ({kind}, {kernel_title})", f"{lead} {summary}".strip() if summary else lead)


def source_meta(path: str, kernel_title: str) -> PageMeta:
    """A source page names the file and the kernel."""
    return PageMeta(f"{path} ({kernel_title})",
                    f"The source of {path} in {kernel_title}, every identifier linked to its definition "
                    "and its references.")


def folder_meta(folder: str, kernel_title: str) -> PageMeta:
    where = f"the folder {folder}/" if folder else "the source tree"
    return PageMeta(f"{folder or 'Source'}/ ({kernel_title})" if folder else f"Source ({kernel_title})",
                    f"The files of {where} in {kernel_title}, cross-referenced.")


def symbol_list_meta(kernel_title: str) -> PageMeta:
    return PageMeta(f"Symbols ({kernel_title})", f"The symbols of {kernel_title} that have a page of their own.")


def commentary_meta(title: str, description: str | None, markdown: str, site_description: str) -> PageMeta:
    """A hand-written page: its front matter's description, else its first sentence, else the site's."""
    text = description or first_sentence(first_paragraph(markdown)) or site_description
    return PageMeta(title, text, "article")


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def html_title_text(title_html: str) -> str:
    """The text of a title MkDocs and material write as HTML (a page's title, `page.meta.title`)."""
    parser = _TextOf()
    parser.feed(title_html)
    parser.close()
    return " ".join("".join(parser.parts).split())


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


# ---------------------------------------------------------------------------- sitemap and robots.txt


def sitemap_files(site_url: str, urls: Iterable[str], limit: int = SITEMAP_LIMIT) -> list[tuple[str, bytes]]:
    """The sitemap of `urls` (absolute, sorted here, duplicates dropped): ``sitemap.xml`` holds them
    all, or, past `limit`, is an index of ``sitemap-1.xml``, ``sitemap-2.xml`` … of `limit` each."""
    ordered = sorted(set(urls))
    chunks = [ordered[i: i + limit] for i in range(0, len(ordered), limit)] or [[]]
    if len(chunks) == 1:
        return [("sitemap.xml", _urlset(chunks[0]))]
    files = [(f"sitemap-{n}.xml", _urlset(chunk)) for n, chunk in enumerate(chunks, 1)]
    index = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    index += [f"<sitemap><loc>{xml_escape(site_url + name)}</loc></sitemap>" for name, _ in files]
    index.append("</sitemapindex>")
    return [("sitemap.xml", ("\n".join(index) + "\n").encode()), *files]


def _urlset(urls: Sequence[str]) -> bytes:
    out = io.StringIO()
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n')
    for url in urls:
        out.write(f"<url><loc>{xml_escape(url)}</loc></url>\n")
    out.write("</urlset>\n")
    return out.getvalue().encode()


def write_sitemap(site_dir: Path, site_url: str, urls: Iterable[str], mtime: int) -> list[str]:
    """Write the sitemap files (and ``sitemap.xml.gz``, as MkDocs does) into `site_dir`; their names."""
    names = []
    for name, data in sitemap_files(site_url, urls):
        (site_dir / name).write_bytes(data)
        names.append(name)
        if name == "sitemap.xml":
            with open(site_dir / "sitemap.xml.gz", "wb") as raw, \
                    gzip.GzipFile(filename="sitemap.xml", fileobj=raw, mode="wb", mtime=mtime) as gz:
                gz.write(data)
    return names


def robots_txt(site_url: str) -> str:
    """Every crawler welcome, pointed at the sitemap.

    Crawlers read robots.txt only at the root of a host: for a site under a sub-path (a GitHub project
    page) this one is not read, and the sitemap is submitted to the search engines instead."""
    return f"User-agent: *\nAllow: /\n\nSitemap: {site_url}sitemap.xml\n"


def page_url_of(site_url: str, dest_path: str) -> str:
    """The absolute URL of a page written at `dest_path` (directory URLs: ``a/b/index.html`` is ``a/b/``)."""
    from urllib.parse import quote

    if dest_path == "index.html":
        rel = ""
    elif dest_path.endswith("/index.html"):
        rel = dest_path[: -len("index.html")]
    else:
        rel = dest_path
    return site_url + quote(rel)


def source_date_epoch(default: int = 0) -> int:
    """The build's timestamp for reproducible output: $SOURCE_DATE_EPOCH (the convention MkDocs reads too)."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(value) if value.isdigit() else default
