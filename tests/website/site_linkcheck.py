"""A link checker over a built site: every relative href/src resolves to a file, every #anchor to an id."""

from __future__ import annotations

import html.parser
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Collector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []  # (attribute, url)
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if value is None:
                continue
            if key == "id" or (tag == "a" and key == "name"):
                self.ids.add(value)
            if tag == "link" and key == "href" and ("rel", "canonical") in attrs:
                continue  # names the page's public address (site_url), loads nothing
            if key in ("href", "src") and not (tag == "a" and key == "src"):
                self.links.append((f"{tag}.{key}", value))


def _page_for(site: Path, target: Path) -> Path | None:
    if target.is_dir():
        target = target / "index.html"
    return target if target.is_file() else None


def check_site(site: Path, pages: list[Path] | None = None) -> tuple[list[str], list[str]]:
    """(broken links, links to other hosts) over the HTML pages of `site`."""
    ids_cache: dict[Path, set[str]] = {}

    def ids_of(page: Path) -> set[str]:
        if page not in ids_cache:
            c = _Collector()
            c.feed(page.read_text(encoding="utf-8"))
            ids_cache[page] = c.ids
        return ids_cache[page]

    broken: list[str] = []
    external: list[str] = []
    # 404.html is served at any path, so MkDocs writes it with site-absolute links
    for page in pages or sorted(p for p in site.rglob("*.html") if p.name != "404.html"):
        c = _Collector()
        c.feed(page.read_text(encoding="utf-8"))
        ids_cache[page] = c.ids
        rel_page = page.relative_to(site).as_posix()
        for attr, url in c.links:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") or url.startswith("//"):
                # a plain link for a reader to follow is fine; anything the page loads is not
                if attr not in ("a.href",):
                    external.append(f"{rel_page}: {attr}={url}")
                continue
            if parts.scheme or url.startswith(("javascript:", "mailto:", "data:")):
                continue
            if url.startswith("/"):
                broken.append(f"{rel_page}: absolute link {url}")
                continue
            if parts.path:
                target = (page.parent / unquote(parts.path)).resolve()
                found = _page_for(site, target)
                if found is None:
                    broken.append(f"{rel_page}: {url} → missing {posixpath.normpath(str(target))}")
                    continue
            else:
                found = page
            if parts.fragment and found.suffix == ".html" and unquote(parts.fragment) not in ids_of(found):
                broken.append(f"{rel_page}: {url} → no anchor #{parts.fragment}")
    return broken, external
