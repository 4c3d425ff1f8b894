"""A real `mkdocs build --strict` of a kernel whose file and folder names, comments and #if
conditions are markup: every page kind keeps them as text, every link to them lands on them."""

from __future__ import annotations

import html.parser
import json
import logging
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit

import pytest

from .hostilekit import (
    APOS_FILE,
    FILES,
    HANDLER_FILE,
    KERNEL,
    QUOTE_FILE,
    SCHEME_FILE,
    SCRIPT_FILE,
    SYMBOLS,
    TAG_FOLDER,
    URL_FILE,
    line_in,
    make_hostile_kernel,
    make_hostile_project,
)
from .site_linkcheck import check_site
from .sitekit import build_site, head_of, html_pages, sitemap_urls

HOSTILE_FILES = [QUOTE_FILE, APOS_FILE, SCHEME_FILE, URL_FILE, SCRIPT_FILE, HANDLER_FILE]


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The site, and the warnings of its build (not strict, so that every page can be looked at)."""
    root = tmp_path_factory.mktemp("hostile")
    make_hostile_kernel(root / "snippets")
    project = make_hostile_project(root / "project", root / "snippets")
    warnings = _Warnings()
    logger = logging.getLogger("mkdocs")
    logger.addHandler(warnings)
    try:
        site = build_site(project.config_file, strict=False)
    finally:
        logger.removeHandler(warnings)
    return site, warnings.messages


@pytest.fixture(scope="module")
def site(built: tuple[Path, list[str]]) -> Path:
    return built[0]


def test_the_build_has_no_warnings(built: tuple[Path, list[str]]) -> None:
    """`mkdocs build --strict` passes: every generated link to a hostile file resolves."""
    assert built[1] == []


@dataclass
class Parsed:
    """What a browser would build from a page: its elements, their attributes, its text."""

    tags: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)  # the content of inline <script> elements
    title: str = ""

    def links(self) -> Iterator[tuple[str, str]]:
        """(href, title) of the links within the site (the theme's own links to other hosts aside)."""
        for tag, attrs in self.tags:
            if tag == "a" and "href" in attrs and not urlsplit(attrs["href"]).netloc:
                yield attrs["href"], attrs.get("title", "")


class _Parser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = Parsed()
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag in ("script", "title"):
            self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if self._in and self._in[-1] == "script":
            self.out.scripts.append(data)
        elif self._in and self._in[-1] == "title":
            self.out.title += data
        else:
            self.out.text.append(data)


def parse(page: Path) -> Parsed:
    parser = _Parser()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    return parser.out


def page_of(site: Path, url: str) -> Path:
    """The file served for site-relative directory URL `url` (as plain text, not encoded)."""
    return site / url / "index.html"


def lands_on(site: Path, page_url: str, href: str) -> tuple[str, str]:
    """(site path, fragment) an href of the page at `page_url` leads to, as a browser resolves it."""
    absolute = urlsplit(urljoin("http://h/" + quote(page_url), href))
    assert absolute.netloc == "h" and absolute.scheme == "http", href
    return unquote(absolute.path).lstrip("/"), unquote(absolute.fragment)


def source_url(path: str) -> str:
    return f"{KERNEL}/source/{path}/"


def all_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if p.name != "404.html")


def test_no_page_holds_markup_from_the_tree(site: Path) -> None:
    pages = all_pages(site)
    assert len(pages) >= len(HOSTILE_FILES) + len(SYMBOLS)
    for page in pages:
        parsed = parse(page)
        for tag, attrs in parsed.tags:
            assert not (tag == "img" and attrs.get("src") == "x"), (page, attrs)
            assert not [k for k in attrs if k.startswith("on")], (page, tag, attrs)
            for key in ("href", "src"):
                if key in attrs:
                    scheme = urlsplit(attrs[key]).scheme
                    assert scheme in ("", "http", "https"), (page, tag, attrs)
        for script in parsed.scripts:
            assert "kxPwned" not in script and "alert(" not in script, page


def test_every_link_resolves_to_a_page_and_an_anchor(site: Path) -> None:
    broken, external = check_site(site)
    assert broken == []
    assert external == []


@pytest.mark.parametrize("path", HOSTILE_FILES)
def test_source_page_shows_the_name_as_text(site: Path, path: str) -> None:
    parsed = parse(page_of(site, source_url(path)))
    assert parsed.title == f"{path} - hostile explorer"
    head = next(attrs for tag, attrs in parsed.tags if tag == "div" and "data-kx-path" in attrs)
    assert head["data-kx-path"] == path
    assert posixpath.basename(path) in parsed.text  # the last crumb, whole
    # the breadcrumbs lead to each folder above the file
    crumbs = [lands_on(site, source_url(path), href)[0] for href, _ in parsed.links()]
    folders = [source_url(posixpath.dirname(path))]
    while folders[-1] != f"{KERNEL}/source/":
        folders.append(posixpath.dirname(folders[-1].rstrip("/")) + "/")
    for folder in folders:
        assert folder in crumbs, (folder, crumbs)
    # the whole file is there as text
    code = "".join(parsed.text)
    for line in FILES[path].splitlines():
        assert line.strip() in code


def test_folder_pages_list_files_and_folders_by_their_names(site: Path) -> None:
    folder = posixpath.dirname(QUOTE_FILE)
    parsed = parse(page_of(site, source_url(folder)))
    assert parsed.title == f"{KERNEL}/{folder} - hostile explorer"
    targets = {lands_on(site, source_url(folder), href)[0]: href for href, _ in parsed.links()}
    for path in (QUOTE_FILE, APOS_FILE, URL_FILE):
        assert source_url(path) in targets, (path, targets)
        assert posixpath.basename(path) in parsed.text
    assert source_url(TAG_FOLDER) in targets
    assert posixpath.basename(TAG_FOLDER) + "/" in parsed.text
    # a folder whose name is markup, holding a file whose name starts like a URL scheme
    inner = parse(page_of(site, source_url(TAG_FOLDER)))
    assert inner.title == f"{KERNEL}/{TAG_FOLDER} - hostile explorer"
    assert f"{KERNEL}/{TAG_FOLDER}" in inner.text  # the heading
    hrefs = {lands_on(site, source_url(TAG_FOLDER), href)[0] for href, _ in inner.links()}
    assert source_url(SCHEME_FILE) in hrefs


def _definition_link(parsed: Parsed, page_url: str, site: Path, path: str) -> tuple[str, str]:
    for href, title in parsed.links():
        if title == f"{KERNEL}: {path}#L{line_in(path, '(')}":
            return lands_on(site, page_url, href)
    raise AssertionError(f"no link to the definition in {path}")


@pytest.mark.parametrize(("name", "path"), [
    ("evil_open", QUOTE_FILE), ("quote_helper", APOS_FILE), ("scheme_entry", SCHEME_FILE),
    ("url_entry", URL_FILE), ("script_entry", SCRIPT_FILE),
])
def test_symbol_page_links_its_definition_in_a_hostile_file(site: Path, name: str, path: str) -> None:
    url = f"{KERNEL}/symbol/{name}/"
    parsed = parse(page_of(site, url))
    assert parsed.title == f"{name} - hostile explorer"
    line = line_in(path, f" {name}(")
    assert f"{path}#L{line}" in parsed.text  # "Defined in …"
    target = next(lands_on(site, url, href) for href, title in parsed.links() if title == f"{KERNEL}: {path}#L{line}")
    assert target == (source_url(path), f"L{line}")
    # the embed's head names the file and leads to its first line
    embed = next(attrs for tag, attrs in parsed.tags if tag == "figure")
    assert lands_on(site, url, embed["data-kx-src"])[0] == source_url(path)


def test_call_lists_and_references_lead_to_the_calls(site: Path) -> None:
    url = f"{KERNEL}/symbol/quote_helper/"
    parsed = parse(page_of(site, url))
    targets = {lands_on(site, url, href) for href, _ in parsed.links()}
    for caller, path in (("evil_open", QUOTE_FILE), ("scheme_entry", SCHEME_FILE),
                         ("url_entry", URL_FILE), ("script_entry", SCRIPT_FILE), ("handler_open", HANDLER_FILE)):
        call = line_in(path, "quote_helper(")
        assert (source_url(path), f"L{call}") in targets, (caller, path)
        assert f"{path}:{call}" in parsed.text  # the call list's "at path:line"
        assert path in parsed.text  # the references, by file
    # the caller with a page is linked to its page
    assert (f"{KERNEL}/symbol/evil_open/", "") in targets


def test_condition_from_the_tree_is_text(site: Path) -> None:
    parsed = parse(page_of(site, f"{KERNEL}/symbol/quote_caller/"))
    cond = next(t for t in parsed.text if "CONFIG_EVIL" in t)
    assert "<img src=x onerror=alert(8)>" in cond


def test_struct_members_link_to_their_lines(site: Path) -> None:
    url = f"{KERNEL}/symbol/evil_sock/"
    parsed = parse(page_of(site, url))
    targets = {lands_on(site, url, href) for href, _ in parsed.links()}
    for member in ("es_state", "es_flags"):
        assert (source_url(QUOTE_FILE), f"L{line_in(QUOTE_FILE, member)}") in targets
        assert member in parsed.text


def test_commentary_links_to_symbols_in_hostile_files(site: Path) -> None:
    parsed = parse(site / "index.html")
    targets = {lands_on(site, "", href) for href, _ in parsed.links()}
    assert (f"{KERNEL}/symbol/evil_open/", "") in targets
    embed = next(attrs for tag, attrs in parsed.tags if tag == "figure")
    assert lands_on(site, "", embed["data-kx-src"]) == (source_url(QUOTE_FILE), f"L{line_in(QUOTE_FILE, 'int evil_open(')}")


def test_data_for_the_scripts_holds_the_names_as_they_are(site: Path) -> None:
    data = site / KERNEL / "_kx"
    files = json.loads((data / "files.json").read_text(encoding="utf-8"))
    for path in HOSTILE_FILES:
        assert path in files
    config = (site / "assets/kernel-explorer/config.js").read_text(encoding="utf-8")
    settings = json.loads(config.split("=", 1)[1].rstrip().rstrip(";"))
    assert settings["kernel"] == KERNEL and settings["source"] == f"{KERNEL}/source/"


SITE_URL = "https://example.org/hostile/"  # hostilekit's mkdocs.yml


@pytest.mark.parametrize("path", HOSTILE_FILES)
def test_page_metadata_names_a_hostile_file_as_text(site: Path, path: str) -> None:
    """The description, OpenGraph tags and canonical link hold the name, escaped for their attribute."""
    head = head_of(page_of(site, source_url(path)))
    assert head.meta["og:title"] == f"{path} (Hostile)"
    assert path in head.meta["description"] and head.meta["og:description"] == head.meta["description"]
    assert head.canonical == [SITE_URL + quote(source_url(path))]
    assert head.meta["og:url"] == head.canonical[0]
    assert unquote(urlsplit(head.canonical[0]).path) == f"/hostile/{source_url(path)}"


@pytest.mark.parametrize("name", SYMBOLS)
def test_symbol_page_description_names_its_hostile_file_as_text(site: Path, name: str) -> None:
    from explorer.store import Index

    with Index(site.parent.parent / "snippets" / "index" / f"{KERNEL}.sqlite") as index:
        defs = [d for d in index.lookup(name) if d.kind != "prototype"]
    head = head_of(page_of(site, f"{KERNEL}/symbol/{name}/"))
    assert any(head.meta["description"].startswith(f"{name}: a{'n' if d.kind[0] in 'aeiou' else ''} {d.kind} in {d.path}, "
                                                   f"line {d.line}, Hostile.") for d in defs), head.meta["description"]
    assert any(head.meta["og:title"] == f"{name} ({d.kind}, Hostile)" for d in defs)


def test_sitemap_lists_every_page_once_with_hostile_names_encoded(site: Path) -> None:
    urls = sitemap_urls(site)
    assert sorted(urls) == sorted(SITE_URL + quote(rel) for rel in html_pages(site))
    for path in HOSTILE_FILES:
        assert SITE_URL + quote(source_url(path)) in urls
