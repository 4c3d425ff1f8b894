"""The real site in Debian's Chromium, driven by Playwright: links land on definitions, search works,
nothing is loaded from another host and no console error occurs, with the site under a sub-path
(/kernel-explorer/) as a GitHub project page has it."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.store import Index

from .sitekit import CHROMIUM, REAL_INDEX, real_index_missing

pytestmark = [
    pytest.mark.vendored,
    pytest.mark.skipif(real_index_missing() is not None, reason=real_index_missing() or ""),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing: `make setup` installs Debian's chromium"),
]

# `real_site` (the project's site, built once per session and served under the sub-path /kernel-explorer/)
# and `page` (Chromium, failing on requests to other hosts and console errors) are in conftest.py


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
    first = page.locator(".kx-symbol-results a").first
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


def test_hovering_a_local_highlights_its_declaration_and_uses_in_its_function_only(real_site: str, page) -> None:  # type: ignore[no-untyped-def]
    """`err` of inet_csk_listen_start: a hover marks its declaration and every use (the lines the index
    gives), a click keeps them marked, and no other function's `err` is touched; no page load."""
    path, first, last = _definition("inet_csk_listen_start")
    with Index(REAL_INDEX) as index:
        uses = index.local_refs("inet_csk_listen_start", "err")
    text = (REAL_INDEX.parent.parent / "linux-6.1" / path).read_text(encoding="utf-8", errors="replace").splitlines()
    decl_line = next(n for n in range(first, last + 1) if "int err;" in text[n - 1])
    assert [u.line for u in uses if u.role == "decl"] == [decl_line]
    want = sorted(u.line for u in uses)
    page.goto(f"{real_site}linux-6.1/source/{path}/#L{first}")
    url = page.url
    decl = page.locator(f"#L{decl_line} a.ld", has_text="err")
    assert decl.count() == 1
    decl.hover()
    lit = page.locator(".kx-code a.kx-lhl")
    lit.first.wait_for(state="attached")
    lines = sorted(int(h.evaluate("e => e.closest('code > span[id]').id.slice(1)")) for h in lit.all())
    assert lines == want
    assert all(h.inner_text() == "err" for h in lit.all())
    assert all(first <= n <= last for n in lines)  # another function's err is a local of its own
    assert page.locator(".kx-code a[data-l]", has_text="err").count() > len(want)
    # a click keeps the marks when the pointer leaves; Escape drops them
    decl.click()
    page.mouse.move(0, 0)
    assert page.locator(".kx-code a.kx-lhl").count() == len(want)
    assert page.url == url and page.locator(".kx-card").count() == 0
    page.keyboard.press("Escape")
    assert page.locator(".kx-code a.kx-lhl").count() == 0
