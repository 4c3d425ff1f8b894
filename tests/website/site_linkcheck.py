"""A link checker over a built site: every relative href/src resolves to a file, every #anchor to an id."""

from __future__ import annotations

import html
import posixpath
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

# The pages are MkDocs' and the plugin's own HTML: tags and attributes are found with regular
# expressions (html.parser takes minutes over the whole real site), after scripts and comments,
# whose text is not markup, are cut out.
_SKIP = re.compile(r"<script\b[^>]*>.*?</script\s*>|<!--.*?-->", re.S | re.I)
_TAG = re.compile(r"<([a-zA-Z][\w-]*)(\s[^>]*)?>")
_ATTR = re.compile(r"""([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")


class _Collector:
    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []  # (attribute, url)

    def feed(self, text: str) -> None:
        for script in re.finditer(r"<script\b([^>]*)>", text, re.I):  # a script's own src is a link
            self._attrs("script", script.group(1))
        for m in _TAG.finditer(_SKIP.sub("", text)):
            tag = m.group(1).lower()
            if tag != "script" and m.group(2):
                self._attrs(tag, m.group(2))

    def _attrs(self, tag: str, text: str) -> None:
        attrs = []
        for a in _ATTR.finditer(text):
            raw = a.group(2) if a.group(2) is not None else a.group(3) if a.group(3) is not None else a.group(4)
            if raw is not None:
                attrs.append((a.group(1).lower(), html.unescape(raw)))
        for key, value in attrs:
            if key == "id" or (tag == "a" and key == "name"):
                self.ids.add(value)
            if tag == "link" and key == "href" and ("rel", "canonical") in attrs:
                continue  # names the page's public address (site_url), loads nothing
            if key in ("href", "src") and not (tag == "a" and key == "src"):
                self.links.append((f"{tag}.{key}", value))


def check_site(site: Path, pages: list[Path] | None = None) -> tuple[list[str], list[str]]:
    """(broken links, links to other hosts) over the HTML pages of `site`."""
    ids_cache: dict[str, set[str]] = {}
    found_cache: dict[str, str | None] = {}  # a link's target path → the page it is, or None

    def ids_of(page: str) -> set[str]:
        if page not in ids_cache:
            c = _Collector()
            c.feed(Path(page).read_text(encoding="utf-8"))
            ids_cache[page] = c.ids
        return ids_cache[page]

    def page_for(target: str) -> str | None:
        if target not in found_cache:
            path = Path(target)
            if path.is_dir():
                path = path / "index.html"
            found_cache[target] = str(path) if path.is_file() else None
        return found_cache[target]

    root = str(site.resolve())
    broken: list[str] = []
    external: list[str] = []
    # 404.html is served at any path, so MkDocs writes it with site-absolute links
    for page in pages or sorted(p for p in site.rglob("*.html") if p.name != "404.html"):
        c = _Collector()
        c.feed(page.read_text(encoding="utf-8"))
        here = str(page.resolve())
        folder = posixpath.dirname(here)
        rel_page = posixpath.relpath(here, root)
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
                target = posixpath.normpath(posixpath.join(folder, unquote(parts.path)))
                found = page_for(target)
                if found is None:
                    broken.append(f"{rel_page}: {url} → missing {target}")
                    continue
            else:
                found = here
                ids_cache.setdefault(here, c.ids)
            if parts.fragment and found.endswith(".html") and unquote(parts.fragment) not in ids_of(found):
                broken.append(f"{rel_page}: {url} → no anchor #{parts.fragment}")
        ids_cache.setdefault(here, c.ids)
        if len(ids_cache) > 4000:  # bounded memory over a large site
            ids_cache.clear()
    return broken, external
