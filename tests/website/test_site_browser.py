"""The real site in Debian's Chromium, driven by Playwright: links land on definitions, search works,
nothing is loaded from another host and no console error occurs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from explorer.config import PACKAGE_ROOT
from explorer.store import Index

from .sitekit import REAL_INDEX, REAL_TREE, build_site, real_index_missing, serve_folder

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

pytestmark = [
    pytest.mark.vendored,
    pytest.mark.skipif(real_index_missing() is not None, reason=real_index_missing() or ""),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing: `make setup` installs Debian's chromium"),
]


@pytest.fixture(scope="module")
def real_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The project's site, built into a temporary folder and served on 127.0.0.1."""
    site = build_site(PACKAGE_ROOT / "mkdocs.yml", strict=True, site_dir=tmp_path_factory.mktemp("real") / "site")
    try:
        with serve_folder(site) as url:
            yield url
    finally:
        shutil.rmtree(site, ignore_errors=True)


@pytest.fixture
def page(real_site: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    allowed = urlsplit(real_site).netloc
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()

        def guard(route) -> None:  # type: ignore[no-untyped-def]
            host = urlsplit(route.request.url).netloc
            if host != allowed:
                problems.append(f"request to another host: {route.request.url}")
                route.abort()
            else:
                route.continue_()

        context.route("**/*", guard)
        pg = context.new_page()
        pg.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
        pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        try:
            yield pg
        finally:
            browser.close()
    assert problems == []


def _definition(name: str) -> tuple[str, int, int]:
    with Index(REAL_INDEX) as index:
        sym = next(s for s in index.lookup(name) if s.kind == "function")
    return sym.path, sym.line, sym.end_line


def test_click_a_call_inside_inet_listen_lands_on_its_definition(real_site: str, page) -> None:  # type: ignore[no-untyped-def]
    path, first, last = _definition("inet_listen")
    target_path, target_line, _ = _definition("inet_csk_listen_start")
    page.goto(f"{real_site}linux-6.1/source/{path}/#L{first}")
    link = None
    for n in range(first, last + 1):
        candidate = page.locator(f"#L{n} a", has_text="inet_csk_listen_start")
        if candidate.count():
            link = candidate.first
            break
    assert link is not None, f"no link to inet_csk_listen_start in {path}:{first}-{last}"
    link.click()
    page.wait_for_url(f"**/linux-6.1/source/{target_path}/#L{target_line}")
    line = page.locator(f"#L{target_line}")
    assert "inet_csk_listen_start" in line.inner_text()
    assert "kx-hl" in (line.get_attribute("class") or "")
    assert line.is_visible()
    box = line.bounding_box()
    assert box is not None and 0 <= box["y"] < page.viewport_size["height"]


def test_search_jumps_to_a_symbol_and_finds_commentary(real_site: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{real_site}linux-6.1/source/net/ipv4/af_inet.c/")
    search = page.locator(".md-search__input")
    search.click()
    search.press_sequentially("inet_csk_listen_start", delay=10)
    # the box may first show the results of a prefix typed so far (a loaded machine types slowly):
    # wait until the first result is the name typed
    first = page.locator(".kx-symbol-results li:first-child a", has_text="inet_csk_listen_start")
    first.wait_for(state="visible")
    assert "inet_csk_listen_start" in first.inner_text()
    first.click()
    page.wait_for_url("**/linux-6.1/symbol/inet_csk_listen_start/")
    assert "inet_csk_listen_start" in page.locator("h1").first.inner_text()
    # the commentary is full-text searchable through material's own search
    page.locator(".md-search__input").click()
    page.locator(".md-search__input").press_sequentially("commentary syntax", delay=10)  # material reads keystrokes
    page.locator(".md-search-result__item").first.wait_for(state="visible")


def test_definition_name_opens_its_references(real_site: str, page) -> None:  # type: ignore[no-untyped-def]
    path, first, _ = _definition("inet_csk_get_port")
    page.goto(f"{real_site}linux-6.1/source/{path}/#L{first}")
    page.locator(f"#L{first} a.d", has_text="inet_csk_get_port").first.click()
    panel = page.locator(".kx-panel")
    panel.locator("h3").wait_for(state="visible")
    assert "references" in panel.inner_text()


def _line_count(path: str) -> int:
    with Index(REAL_INDEX) as index:
        return index.file_lines()[path]


def test_the_file_tree_shows_the_current_file_and_opens_folders(real_site: str, page) -> None:  # type: ignore[no-untyped-def]
    path, _first, _ = _definition("inet_listen")
    page.goto(f"{real_site}linux-6.1/source/{path}/")
    here = page.locator(".kx-tree a.kx-here")
    here.wait_for(state="attached")
    assert here.inner_text() == path.rsplit("/", 1)[1]
    assert here.get_attribute("aria-current") == "page"
    # the folders holding it are open, the others closed (and their entries not made yet)
    top = path.split("/", 1)[0]
    opened = page.locator(".kx-tree details[open] > summary").all_inner_texts()
    assert opened[0] == top + "/"
    with Index(REAL_INDEX) as index:
        files = list(index.file_lines())
    other = sorted({p.split("/", 1)[0] for p in files if "/" in p and not p.startswith(top + "/")})[0]
    folder = page.locator(".kx-tree-list > li.kx-dir > details", has=page.locator(f"summary:text-is('{other}/')"))
    assert folder.get_attribute("open") is None
    assert folder.locator("li").count() == 0
    folder.locator("summary").click()
    first_entry = folder.locator(":scope > ul > li").first
    first_entry.wait_for(state="visible")
    inside = sorted({p[len(other) + 1:].split("/", 1)[0] for p in files if p.startswith(other + "/")})
    assert folder.locator(":scope > ul > li").count() == len(inside)
    # a neighbouring file opens its page, where it is the one marked
    folder_of = path.rsplit("/", 1)[0]
    sibling = sorted(p for p in files if p.rsplit("/", 1)[0] == folder_of and p != path)[0]
    page.locator(".kx-tree a", has_text=sibling.rsplit("/", 1)[1]).first.click()
    page.wait_for_url(f"**/linux-6.1/source/{sibling}/")
    page.locator(".kx-tree a.kx-here").wait_for(state="attached")
    assert page.locator(".kx-tree a.kx-here").inner_text() == sibling.rsplit("/", 1)[1]


def test_the_outline_lists_definitions_in_order_links_them_and_filters(real_site: str, page) -> None:  # type: ignore[no-untyped-def]
    path, first, _ = _definition("inet_listen")
    page.goto(f"{real_site}linux-6.1/source/{path}/")
    items = page.locator(".kx-outline li a")
    names = items.all_inner_texts()
    with Index(REAL_INDEX) as index:
        defs = [s for s in index.dump() if s.path == path and s.kind in ("function", "struct", "union", "enum", "typedef", "macro", "variable")]
    expected = []
    for s in sorted(defs, key=lambda s: (s.line, s.col)):
        if (s.name, s.line) not in {(n, ln) for n, ln in expected}:
            expected.append((s.name, s.line))
    assert names == [n for n, _ in expected]
    hrefs = [items.nth(i).get_attribute("href") for i in range(min(len(names), 5))]
    assert hrefs == [f"#L{ln}" for _, ln in expected[:5]]
    box = page.locator(".kx-outline input.kx-filter")
    box.press_sequentially("inet_lis", delay=10)
    shown = page.locator(".kx-outline li:not([hidden]) a").all_inner_texts()
    assert shown and "inet_listen" in shown
    assert all("inet_lis" in n.lower() for n in shown)
    assert len(shown) < len(names)
    page.locator(".kx-outline li:not([hidden]) a", has_text="inet_listen").first.click()
    page.wait_for_url(f"**/{path}/#L{first}")
    line = page.locator(f"#L{first}")
    assert "kx-hl" in (line.get_attribute("class") or "")
    viewport = page.viewport_size["height"]
    box_of = line.bounding_box()
    assert box_of is not None and 0 <= box_of["y"] < viewport
    box.fill("")
    box.press_sequentially("zzzz_no_such_name", delay=5)
    assert page.locator(".kx-outline li:not([hidden])").count() == 0


def test_a_box_of_the_call_graph_links_to_its_page(real_site: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{real_site}linux-6.1/symbol/inet_listen/")
    link = page.locator(".kx-diagram a.kx-box-link").first
    link.wait_for(state="attached", timeout=30_000)
    label = link.locator(".nodeLabel").first.inner_text().split(" (")[0].strip()
    href = link.get_attribute("href") or ""
    assert urlsplit(href).netloc == urlsplit(real_site).netloc
    link.click()
    page.wait_for_url(lambda url: "/symbol/inet_listen/" not in url)
    if "/symbol/" in page.url:
        assert label in page.locator("h1").first.inner_text()
    else:
        frag = urlsplit(page.url).fragment
        assert frag.startswith("L")
        assert label in page.locator(f"#{frag}").inner_text()


def test_a_line_deep_in_the_largest_file_is_reached_with_and_without_script(real_site: str, page) -> None:  # type: ignore[no-untyped-def]
    """Lines are laid out a hundred at a time when seen: anchors, ranges and find-in-page still reach them."""
    with Index(REAL_INDEX) as index:
        lines = index.file_lines()
    path = max(lines, key=lambda p: lines[p])
    n = lines[path] * 3 // 4
    page.goto(f"{real_site}linux-6.1/source/{path}/#L{n}-L{n + 3}")
    for k in range(n, n + 4):
        assert "kx-hl" in (page.locator(f"#L{k}").get_attribute("class") or "")
    box = page.locator(f"#L{n}").bounding_box()
    assert box is not None and 0 <= box["y"] < page.viewport_size["height"]
    # the line number is shown (a CSS counter, restarted in each group of lines)
    number = page.evaluate(f"getComputedStyle(document.getElementById('L{n}'), '::before').content")
    assert number not in ("none", "normal", "")
    # find-in-page reaches text in groups never seen (a line near the end, of its own words)
    source = (REAL_TREE / path).read_text(encoding="utf-8", errors="replace").split("\n")
    text = next(t.strip() for t in reversed(source[: lines[path] - 1]) if len(t.strip()) >= 12 and t.isascii())
    page.goto(f"{real_site}linux-6.1/source/{path}/")
    assert page.evaluate("(t) => window.find(t)", text[:40])
    # without JavaScript the fragment still lands on the line
    browser = page.context.browser
    context = browser.new_context(java_script_enabled=False)
    try:
        bare = context.new_page()
        bare.goto(f"{real_site}linux-6.1/source/{path}/#L{n}")
        box = bare.locator(f"#L{n}").bounding_box()
        assert box is not None and 0 <= box["y"] < bare.viewport_size["height"]
    finally:
        context.close()
