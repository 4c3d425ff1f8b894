"""The project's real site as it is published: built for KEXPLORE_SITE_URL under the sub-path
/kernel-explorer/ (as a GitHub project page) and served there. The sitemap lists every built page and
nothing else, every page's canonical link is under site_url, and in Chromium the links, anchors, hover
cards and (with two kernels) the version switch work under the sub-path, with no request to another
host and no console error (the `page` fixture; search and the references panel are in
test_site_browser.py, on the same site)."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import pytest

from explorer.annotations import by_symbol
from explorer.config import PACKAGE_ROOT, Project
from explorer.site.publish import first_paragraph, first_sentence
from explorer.store import Index

from .conftest import SUB_PATH, PublishedSite
from .sitekit import CHROMIUM, REAL_INDEX, head_of, html_pages, real_index_missing, sitemap_urls

pytestmark = [
    pytest.mark.vendored,
    pytest.mark.skipif(real_index_missing() is not None, reason=real_index_missing() or ""),
]
browser = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing: `make setup` installs Debian's chromium")
KERNEL = Project.load(PACKAGE_ROOT / "kernel-snippets").kernel(None).name  # the site's default kernel


def _kernels(site: PublishedSite) -> list[str]:
    """The kernels the site was built with: the top folders holding source pages."""
    return sorted(p.name for p in site.folder.iterdir() if (p / "source" / "index.html").is_file())


def test_the_sitemap_lists_every_built_page_and_each_url_is_served(published_site: PublishedSite) -> None:
    pages = html_pages(published_site.folder)
    urls = sitemap_urls(published_site.folder)  # parsed as XML: well-formed
    assert len(urls) == len(set(urls))
    assert sorted(urls) == sorted(published_site.url + rel for rel in pages)
    kinds = {rel.split("/")[1] for rel in pages if rel.startswith(f"{KERNEL}/")}
    assert {"source", "symbol"} <= kinds and "walkthrough/" in pages
    for url in urls:  # each one is a page under the sub-path
        assert url.startswith(published_site.url)
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10) as response:
            assert response.status == 200, url
    robots = (published_site.folder / "robots.txt").read_text(encoding="utf-8")
    assert f"Sitemap: {published_site.url}sitemap.xml" in robots.splitlines()


def test_every_page_is_canonical_under_site_url_and_describes_itself(published_site: PublishedSite) -> None:
    notes = by_symbol(PACKAGE_ROOT / "docs")
    descriptions = set()
    symbol_pages = 0
    indexes = {}
    with Index(REAL_INDEX) as default_index:
        for rel, page in html_pages(published_site.folder).items():
            kernel = rel.split("/", 1)[0]
            if kernel not in indexes:
                other = REAL_INDEX.with_name(f"{kernel}.sqlite")
                indexes[kernel] = Index(other) if kernel != REAL_INDEX.stem and other.is_file() else default_index
            index = indexes[kernel]  # a page of linux-6.12 describes 6.12's definition
            head = head_of(page)
            assert head.canonical == [published_site.url + rel], rel
            meta = head.meta
            assert meta["og:url"] == published_site.url + rel and meta["og:title"], rel
            assert meta["description"] and meta["og:description"] == meta["description"], rel
            descriptions.add(meta["description"])
            parts = rel.rstrip("/").split("/")
            if len(parts) == 3 and parts[1] == "symbol":
                symbol_pages += 1
                defs = index.lookup(meta["og:title"].split(" ")[0])
                assert defs, rel
                name = defs[0].name
                # "NAME: a KIND in PATH, line N, Linux 6.1." and the annotation's first sentence
                assert any(meta["description"].startswith(f"{name}: a{'n' if d.kind[0] in 'aeiou' else ''} {d.kind} in "
                                                          f"{d.path}, line {d.line}, ") for d in defs), rel
                # then the first sentence of its kernel-doc (the kernel's own words), else of its annotation
                kernel_doc = {first_sentence(first_paragraph(d.summary)) for d in index.docs(defs) if d is not None and d.summary}
                note = notes.get(name)
                if kernel_doc:
                    assert any(sentence in meta["description"] for sentence in kernel_doc), rel
                elif note is not None:
                    assert first_sentence(first_paragraph(note.text)) in meta["description"], rel
            elif len(parts) > 2 and parts[1] == "source" and page.read_text(encoding="utf-8").count('id="L1"'):
                path = "/".join(parts[2:])
                assert path in meta["og:title"] and path in meta["description"], rel
    for index in indexes.values():
        if index is not default_index:
            index.close()
    assert symbol_pages > 20
    assert len(descriptions) > len(html_pages(published_site.folder)) * 0.9  # pages say different things


@browser
def test_commentary_link_to_a_symbol_page_and_on_to_its_line(real_site: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{real_site}walkthrough/listen/")
    link = page.locator(f'article a[href*="{KERNEL}/symbol/inet_listen/"]').first
    link.click()
    page.wait_for_url(f"**/{SUB_PATH}{KERNEL}/symbol/inet_listen/")
    assert "inet_listen" in page.locator("h1").first.inner_text()
    with Index(REAL_INDEX) as index:
        d = next(s for s in index.lookup("inet_listen") if s.kind == "function")
    # "Defined in FILE": the source page, at the definition's line, highlighted and in view
    page.locator(f'article a[href*="source/{d.path}/#L{d.line}"]').first.click()
    page.wait_for_url(f"**/{SUB_PATH}{KERNEL}/source/{d.path}/#L{d.line}")
    line = page.locator(f"#L{d.line}")
    assert "inet_listen" in line.inner_text()
    assert "kx-hl" in (line.get_attribute("class") or "")
    box = line.bounding_box()
    assert box is not None and 0 <= box["y"] < page.viewport_size["height"]
    # every page's own links stay under the sub-path
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
    assert hrefs and all(h.startswith(real_site) for h in hrefs if urlsplit(h).netloc == urlsplit(real_site).netloc)


@browser
def test_hover_card_under_the_sub_path(real_site: str, page) -> None:  # type: ignore[no-untyped-def]
    with Index(REAL_INDEX) as index:
        d = next(s for s in index.lookup("inet_listen") if s.kind == "function")
        target = next(s for s in index.lookup("inet_csk_listen_start") if s.kind == "function")
        source = (PACKAGE_ROOT / "kernel-snippets" / KERNEL / d.path).read_text(encoding="utf-8").splitlines()
    call = next(n for n in range(d.line, d.end_line + 1) if "inet_csk_listen_start(" in source[n - 1])
    page.goto(f"{real_site}{KERNEL}/source/{d.path}/#L{call}")
    page.locator(f"#L{call} a", has_text="inet_csk_listen_start").first.hover()
    card = page.locator(".kx-card")
    card.wait_for(state="visible")
    text = card.inner_text()
    assert "inet_csk_listen_start" in text and target.path in text
    # a call through an ops member: the card offers the functions it may reach, linked under the sub-path
    with Index(REAL_INDEX) as index:
        d = next(s for s in index.lookup("__sys_listen") if s.kind == "function")
        d_listen = next(s for s in index.lookup("inet_listen") if s.kind == "function")
    source = (PACKAGE_ROOT / "kernel-snippets" / KERNEL / d.path).read_text(encoding="utf-8").splitlines()
    call = next(n for n in range(d.line, d.end_line + 1) if "->ops->listen(" in source[n - 1])
    page.goto(f"{real_site}{KERNEL}/source/{d.path}/#L{call}")
    page.locator(f"#L{call} a", has_text="listen").last.hover()
    card.locator(".kx-targets a").first.wait_for(state="visible")
    hrefs = card.locator(".kx-targets a").evaluate_all("els => els.map(a => a.href)")
    assert f"{real_site}{KERNEL}/source/{quote(d_listen.path)}/#L{d_listen.line}" in hrefs  # proto_ops.listen → inet_listen
    for href in hrefs:  # a function in a file with a page links its line, one elsewhere its "defined elsewhere" entry
        assert href.startswith((f"{real_site}{KERNEL}/source/", f"{real_site}{KERNEL}/elsewhere/"))
        with urllib.request.urlopen(urllib.request.Request(href.split("#")[0], method="HEAD"), timeout=10) as response:
            assert response.status == 200


@browser
def test_version_switch_leads_to_the_same_page_of_each_other_kernel(published_site: PublishedSite, page) -> None:  # type: ignore[no-untyped-def]
    """With several kernels built, a symbol page links the same symbol's page of each other kernel
    (the version switch), and following it lands there under the sub-path. With one kernel, no page
    links a kernel the site does not have."""
    kernels = _kernels(published_site)
    assert KERNEL in kernels
    url = published_site.url
    page.goto(f"{url}{KERNEL}/symbol/inet_listen/")
    # (the boxes of a diagram are SVG links: their href is an SVGAnimatedString, resolved here)
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => new URL(a.getAttribute('href'), location.href).href)")
    for other in (k for k in kernels if k != KERNEL):
        wanted = f"{url}{other}/symbol/inet_listen/"
        assert wanted in hrefs, f"no link from {KERNEL}'s page of inet_listen to {other}'s"
        page.locator(f'a[href$="{other}/symbol/inet_listen/"]').first.click()
        page.wait_for_url(wanted)
        assert "inet_listen" in page.locator("h1").first.inner_text()
        page.go_back()
    linked = {urljoin(url, h)[len(url):].split("/")[0] for h in hrefs if h.startswith(url)}
    kernel_like = {k for k in linked if k.startswith("linux-")}
    assert kernel_like <= set(kernels), f"links to kernels the site does not have: {kernel_like - set(kernels)}"
