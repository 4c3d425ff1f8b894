"""The site of a kernel with hostile file names, in Debian's Chromium: no injected script runs, on
the pages or in what explorer.js builds (hover card, references panel, symbol search), the names
show as text and the links to the files land on them.

Every payload in the fixture calls ``alert`` or sets ``window.kxPwned``; a dialog fails the test.
Handlers injected into attributes (``onmouseover``) are fired by dispatching the event to every
link the scripts build."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest

from .hostilekit import (
    APOS_FILE,
    HANDLER_FILE,
    KERNEL,
    QUOTE_FILE,
    SCHEME_FILE,
    TAG_FOLDER,
    URL_FILE,
    line_in,
    make_hostile_kernel,
    make_hostile_project,
)
from .sitekit import build_site, serve_folder

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing: `make setup` installs Debian's chromium")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The hostile kernel's site (built without --strict, so that every page exists to be opened)."""
    root = tmp_path_factory.mktemp("hostile-browser")
    make_hostile_kernel(root / "snippets")
    project = make_hostile_project(root / "project", root / "snippets")
    site = build_site(project.config_file, strict=False)
    with serve_folder(site) as url:
        yield url


class Browser:
    """A page in Chromium that records every dialog, script error and request to another host."""

    def __init__(self, page, base: str) -> None:  # type: ignore[no-untyped-def]
        self.page = page
        self.base = base
        self.problems: list[str] = []

    def open(self, site_path: str, fragment: str = "") -> None:
        """Open the page at plain site path `site_path` (encoded here, as a link would be)."""
        self.page.goto(self.base + quote(site_path) + (f"#{fragment}" if fragment else ""))
        self.page.wait_for_load_state("load")
        self.check()

    def check(self) -> None:
        """No payload ran: no dialog so far, window.kxPwned unset."""
        self.page.wait_for_timeout(50)  # let handlers fired by the last action run
        assert self.page.evaluate("typeof window.kxPwned") == "undefined", "an injected script ran"
        assert self.problems == []

    def here(self) -> tuple[str, str]:
        """(plain site path, fragment) of the page shown."""
        url = urlsplit(self.page.url)
        assert url.netloc == urlsplit(self.base).netloc, self.page.url
        return unquote(url.path).lstrip("/"), unquote(url.fragment)

    def fire_handlers(self, selector: str) -> int:
        """Dispatch the events a reader causes to every element matching `selector`; how many there were."""
        links = self.page.locator(selector)
        n = links.count()
        for i in range(n):
            for event in ("mouseover", "focus"):
                links.nth(i).dispatch_event(event)
        self.check()
        return n


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def browser(chromium, served: str) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    context = chromium.new_context()  # a fresh one per test: no cache, no state
    allowed = urlsplit(served).netloc
    out = Browser(context.new_page(), served)

    def guard(route) -> None:  # type: ignore[no-untyped-def]
        if urlsplit(route.request.url).netloc != allowed:
            out.problems.append(f"request to another host: {route.request.url}")
            route.abort()
        else:
            route.continue_()

    def dialog(d) -> None:  # type: ignore[no-untyped-def]
        out.problems.append(f"a {d.type} dialog opened: {d.message!r}")
        d.dismiss()

    context.route("**/*", guard)
    out.page.on("dialog", dialog)
    out.page.on("pageerror", lambda exc: out.problems.append(f"page error: {exc}"))
    try:
        yield out
        out.check()
    finally:
        context.close()


def source_url(path: str) -> str:
    return f"{KERNEL}/source/{path}/"


def test_source_page_shows_the_name_as_text(browser: Browser) -> None:
    browser.open(source_url(QUOTE_FILE))
    page = browser.page
    assert page.title() == f"{QUOTE_FILE} - hostile explorer"
    assert page.locator(".kx-crumbs strong").inner_text() == posixpath.basename(QUOTE_FILE)
    assert page.locator(".kx-file-head").get_attribute("data-kx-path") == QUOTE_FILE
    assert page.locator("img[src=x]").count() == 0
    # the crumb of the folder leads to the folder page
    page.locator(".kx-crumbs a").get_by_text("evil", exact=True).click()
    page.wait_for_load_state("load")
    assert browser.here() == (source_url(posixpath.dirname(QUOTE_FILE)), "")


@pytest.mark.parametrize("path", [QUOTE_FILE, APOS_FILE, URL_FILE, HANDLER_FILE])
def test_folder_page_links_land_on_the_files(browser: Browser, path: str) -> None:
    folder = posixpath.dirname(path)
    browser.open(source_url(folder))
    page = browser.page
    name = posixpath.basename(path)
    link = page.locator(".kx-listing a").filter(has_text=name)
    assert [t for t in link.all_inner_texts() if t == name] == [name]
    browser.fire_handlers(".kx-listing a")
    page.locator(".kx-listing a").get_by_text(name, exact=True).click()
    page.wait_for_load_state("load")
    browser.check()
    assert browser.here() == (source_url(path), "")
    assert page.locator(".kx-file-head").get_attribute("data-kx-path") == path


def test_a_name_that_looks_like_a_scheme_is_a_file_link(browser: Browser) -> None:
    browser.open(source_url(TAG_FOLDER))
    page = browser.page
    assert page.title() == f"{KERNEL}/{TAG_FOLDER} - hostile explorer"
    page.locator(".kx-listing a").get_by_text(posixpath.basename(SCHEME_FILE), exact=True).click()
    page.wait_for_load_state("load")
    browser.check()
    assert browser.here() == (source_url(SCHEME_FILE), "")


def test_symbol_page_leads_to_the_definition(browser: Browser) -> None:
    browser.open(f"{KERNEL}/symbol/evil_open/")
    page = browser.page
    line = line_in(QUOTE_FILE, "int evil_open(")
    link = page.locator("a.kx-file").first
    assert link.inner_text() == f"{QUOTE_FILE}#L{line}"
    browser.fire_handlers("a")
    link.click()
    page.wait_for_url("**#L*")
    browser.check()
    assert browser.here() == (source_url(QUOTE_FILE), f"L{line}")
    assert "kx-hl" in (page.locator(f"#L{line}").get_attribute("class") or "")


def test_hover_card_of_a_call_through_an_ops_member(browser: Browser) -> None:
    call = line_in(APOS_FILE, "ops->open(es)")
    browser.open(source_url(APOS_FILE), f"L{call}")
    page = browser.page
    page.locator(f"#L{call} a", has_text="open").first.hover()
    card = page.locator(".kx-card")
    card.wait_for(state="visible")
    text = card.inner_text()
    assert "calls through it may reach" in text
    targets = card.locator(".kx-targets a")
    found = {}
    for i in range(targets.count()):
        found[targets.nth(i).inner_text()] = targets.nth(i).evaluate("a => a.href")
    browser.fire_handlers(".kx-card a")
    expected = {"evil_open": QUOTE_FILE, "handler_open": HANDLER_FILE}
    assert set(found) == set(expected)
    for name, path in expected.items():
        url = urlsplit(found[name])
        assert (unquote(url.path).lstrip("/"), url.fragment) == (source_url(path), f"L{line_in(path, f'int {name}(')}")


def test_hover_card_shows_a_signature_with_markup_as_text(browser: Browser) -> None:
    call = line_in(APOS_FILE, "return evil_open(es)")
    browser.open(source_url(APOS_FILE), f"L{call}")
    page = browser.page
    page.locator(f"#L{call} a", has_text="evil_open").first.hover()
    card = page.locator(".kx-card")
    card.wait_for(state="visible")
    assert "'><img src=x onerror=alert(12)>" in card.inner_text()
    assert f"{QUOTE_FILE}:{line_in(QUOTE_FILE, 'int evil_open(')}" in card.inner_text()
    assert card.locator("img").count() == 0


def test_references_panel_lists_hostile_files_and_leads_to_them(browser: Browser) -> None:
    line = line_in(APOS_FILE, "int quote_helper(")
    browser.open(source_url(APOS_FILE), f"L{line}")
    page = browser.page
    page.locator(f"#L{line} a.d", has_text="quote_helper").first.click()
    panel = page.locator(".kx-panel")
    panel.locator("h3").wait_for(state="visible")
    files = panel.locator("li code").all_inner_texts()
    for path in (QUOTE_FILE, HANDLER_FILE, URL_FILE, SCHEME_FILE):
        assert path in files
    assert browser.fire_handlers(".kx-panel a") >= 5
    item = panel.locator("li").filter(has=page.locator("code").get_by_text(HANDLER_FILE, exact=True))
    call = line_in(HANDLER_FILE, "quote_helper(")
    item.locator("a", has_text=str(call)).click()
    page.wait_for_load_state("load")
    browser.check()
    assert browser.here() == (source_url(HANDLER_FILE), f"L{call}")
    assert page.locator(".kx-file-head").get_attribute("data-kx-path") == HANDLER_FILE


def test_symbol_search_leads_to_a_definition_in_a_hostile_file(browser: Browser) -> None:
    browser.open(source_url(QUOTE_FILE))
    page = browser.page
    search = page.locator(".md-search__input")
    search.click()
    search.press_sequentially("handler_open", delay=10)
    first = page.locator(".kx-symbol-results a").filter(has=page.locator("code").get_by_text("handler_open", exact=True))
    first.wait_for(state="visible")  # (the results of the first letters typed come and go before)
    assert f"{HANDLER_FILE}:{line_in(HANDLER_FILE, 'int handler_open(')}" in first.inner_text()
    browser.fire_handlers(".kx-symbol-results a")
    first.click()
    page.wait_for_load_state("load")
    browser.check()
    assert browser.here() == (source_url(HANDLER_FILE), f"L{line_in(HANDLER_FILE, 'int handler_open(')}")
