"""The real site in Debian's Chromium, driven by Playwright: links land on definitions, search works,
nothing is loaded from another host and no console error occurs, with the site under a sub-path
(/kernel-explorer/) as a GitHub project page has it."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from explorer.config import PACKAGE_ROOT
from explorer.store import Index

from .conftest import PublishedSite
from .sitekit import CHROMIUM, CHROMIUM_ARGS, REAL_INDEX, REAL_TREE, real_index_missing

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
    lines = sorted(int(h.evaluate("e => e.closest('.kx-code span[id^=L]').id.slice(1)")) for h in lit.all())
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


# ---------------------------------------------------------------- the Chinese edition

ZH_PAGE = "zh/walkthrough/queues/"  # long Chinese sentences, tables and a diagram


def _zh_fontconfig(folder: Path) -> dict[str, str]:
    """An environment whose fontconfig knows one Latin font and no CJK font at all."""
    latin = next((p for p in (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
                              Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")) if p.is_file()), None)
    assert latin is not None, "no DejaVu Sans or Liberation Sans: install Debian's fonts-dejavu-core (chromium brings it)"
    (folder / "fonts").mkdir()
    (folder / "fonts" / latin.name).symlink_to(latin)
    (folder / "fonts.conf").write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        f"  <dir>{folder / 'fonts'}</dir>\n  <cachedir>{folder / 'cache'}</cachedir>\n</fontconfig>\n",
        encoding="utf-8")
    import os

    return dict(os.environ, FONTCONFIG_FILE=str(folder / "fonts.conf"))


def _zh_render(real_site: str, env: dict[str, str], block_font: bool) -> dict[str, object]:
    """Open the Chinese page in a Chromium that has no CJK font; what drew its text, and how."""
    from playwright.sync_api import sync_playwright

    allowed = urlsplit(real_site).netloc
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)
        try:
            context = browser.new_context()

            def guard(route) -> None:  # type: ignore[no-untyped-def]
                url = route.request.url
                if urlsplit(url).netloc != allowed:
                    problems.append(f"request to another host: {url}")
                    route.abort()
                elif block_font and url.endswith("/cjk.woff2"):
                    route.abort()
                else:
                    route.continue_()

            context.route("**/*", guard)
            pg = context.new_page()
            if not block_font:
                pg.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
                pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            pg.goto(f"{real_site}{ZH_PAGE}")
            pg.wait_for_load_state("networkidle")
            pg.evaluate("document.fonts.ready.then(() => true)")
            lang = pg.evaluate("document.documentElement.lang")
            faces = pg.evaluate("Array.from(document.fonts).map(f => [f.family.replace(/\"/g, ''), f.status])")
            # the fonts Chromium really drew the first Chinese paragraph with (DevTools protocol)
            cdp = context.new_cdp_session(pg)
            cdp.send("DOM.enable")
            cdp.send("CSS.enable")
            root = cdp.send("DOM.getDocument")["root"]["nodeId"]
            node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "article.md-content__inner > p"})["nodeId"]
            used = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
            text = pg.locator("article.md-content__inner > p").first.inner_text()
            # and a Chinese label of a diagram (mermaid draws it after the page loaded)
            pg.locator(".kx-diagram svg").first.wait_for()
            pg.evaluate("""() => {
                const label = Array.from(document.querySelectorAll(".kx-diagram svg .nodeLabel"))
                    .find(el => /[\u4e00-\u9fff]/.test(el.textContent));
                if (label) label.id = "kx-probe-label";
            }""")
            label = cdp.send("DOM.querySelector", {"nodeId": cdp.send("DOM.getDocument")["root"]["nodeId"],
                                                    "selector": "#kx-probe-label"})["nodeId"]
            diagram = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": label})["fonts"] if label else []
            # each of the paragraph's first distinct ideographs drawn alone, as pixels
            ideographs = list(dict.fromkeys(ch for ch in text if "\u4e00" <= ch <= "\u9fff"))[:4]
            shots = []
            for ch in ideographs:
                pg.evaluate("""(ch) => {
                    const probe = document.createElement("span");
                    probe.id = "kx-probe"; probe.textContent = ch;
                    probe.style.cssText = "font-size:48px;line-height:1;display:inline-block;padding:2px";
                    document.querySelector("article.md-content__inner").prepend(probe);
                }""", ch)
                shots.append(pg.locator("#kx-probe").screenshot())
                pg.evaluate("document.getElementById('kx-probe').remove()")
        finally:
            browser.close()
    return {"lang": lang, "faces": faces, "used": used, "diagram": diagram, "text": text, "ideographs": ideographs, "shots": shots,
            "problems": problems}


def test_chinese_is_drawn_with_the_bundled_font_in_a_browser_without_cjk_fonts(real_site: str, tmp_path: Path) -> None:
    env = _zh_fontconfig(tmp_path)
    seen = _zh_render(real_site, env, block_font=False)
    assert seen["problems"] == []
    assert seen["lang"] == "zh"
    assert ["kx-cjk", "loaded"] in seen["faces"]
    used = {f["familyName"]: f for f in seen["used"]}  # type: ignore[attr-defined]
    cjk = sum(1 for ch in seen["text"] if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef")  # type: ignore[attr-defined]
    assert cjk > 20, "the probed paragraph should be Chinese"
    bundled = [f for f in used.values() if f["isCustomFont"]]
    assert bundled and bundled[0]["familyName"] == "Droid Sans Fallback"
    assert bundled[0]["glyphCount"] >= cjk  # every Chinese character of the paragraph came from the bundled face
    assert any(f["isCustomFont"] and f["familyName"] == "Droid Sans Fallback" for f in seen["diagram"])  # type: ignore[attr-defined]
    shots = seen["shots"]
    assert len(shots) == 4 and len(set(shots)) == 4, "each ideograph must look different (real glyphs)"  # type: ignore[arg-type]

    # the same browser without the bundled font: the characters become identical boxes, which shows
    # that this browser has no CJK font of its own and that the comparison above can fail
    blocked = _zh_render(real_site, env, block_font=True)
    assert blocked["ideographs"] == seen["ideographs"]
    assert len(set(blocked["shots"])) == 1, "without the bundled font every ideograph is the same missing-glyph box"  # type: ignore[arg-type]
    assert not any(f["isCustomFont"] for f in blocked["used"])  # type: ignore[attr-defined]
    assert not any(f["isCustomFont"] for f in blocked["diagram"])  # type: ignore[attr-defined]


# (word, a Chinese page that must be among the results): a term of the original pages, and one that
# only the chapters on request socks and concurrency use, and one of the client chapter (terms the site teaches jieba)
ZH_SEARCHES = [("全连接队列", None), ("引用计数", "zh/walkthrough/request-sock/"), ("临时端口", "zh/walkthrough/client/")]


@pytest.mark.parametrize(("word", "on_page"), ZH_SEARCHES)
def test_search_finds_a_chinese_word_inside_a_sentence(real_site: str, page, word: str, on_page: str | None) -> None:  # type: ignore[no-untyped-def]
    if on_page is not None:  # the word is in a sentence of that page, between other Chinese words
        source = (PACKAGE_ROOT / "docs" / on_page.rstrip("/")).with_suffix(".md").read_text(encoding="utf-8")
        assert re.search(f"[\u4e00-\u9fff]{{2}}{word}|{word}[\u4e00-\u9fff]{{2}}", source), (word, on_page)
    page.goto(f"{real_site}zh/")
    search = page.locator(".md-search__input")
    search.click()
    search.press_sequentially(word, delay=20)  # as an input method commits it: insertText, no key events
    search.press("End")  # material reads the query on keyup
    results = page.locator(".md-search-result__item")
    results.first.wait_for(state="visible")
    marked = page.locator(".md-search-result__item mark")
    marked.first.wait_for(state="visible")
    assert word in [m.inner_text() for m in marked.all()]
    # found in Chinese prose: a result on a zh/ page whose text holds the word between other words
    hits = [(a.get_attribute("href") or "", a.inner_text()) for a in page.locator(".md-search-result__link").all()]
    assert any("/zh/" in f"/{href}" and word in text and len(text) > len(word) + 10 for href, text in hits), hits[:5]
    if on_page is not None:
        assert any(urlsplit(urljoin(page.url, href)).path.endswith(f"/{on_page}") and word in text for href, text in hits), hits[:5]


def _data_files(published_site: PublishedSite, kernel: str = "linux-6.1") -> tuple[list[str], list[str]]:
    """(the files with a source page, the other files) of `kernel` as the built site's data lists them."""
    import json

    paths = json.loads((published_site.folder / kernel / "_kx" / "files.json").read_text(encoding="utf-8"))
    config = (published_site.folder / "assets" / "kernel-explorer" / "config.js").read_text(encoding="utf-8")
    count = json.loads(config[config.index("=") + 1: config.rindex(";")])["kernels"][kernel]["pages"]
    return (paths, []) if count is None else (paths[:count], paths[count:])


def test_the_file_tree_shows_the_current_file_and_opens_folders(published_site: PublishedSite, page) -> None:  # type: ignore[no-untyped-def]
    real_site = published_site.url
    path, _first, _ = _definition("inet_listen")
    files, others = _data_files(published_site)
    assert path in files
    page.goto(f"{real_site}linux-6.1/source/{path}/")
    here = page.locator(".kx-tree a.kx-here")
    here.wait_for(state="attached")
    assert here.inner_text() == path.rsplit("/", 1)[1]
    assert here.get_attribute("aria-current") == "page"
    # the folders holding it are open, the others closed (and their entries not made yet)
    top = path.split("/", 1)[0]
    opened = page.locator(".kx-tree details[open] > summary").all_inner_texts()
    assert opened[0] == top + "/"
    other = sorted({p.split("/", 1)[0] for p in files if "/" in p and not p.startswith(top + "/")})[0]
    folder = page.locator(".kx-tree-list > li.kx-dir > details", has=page.locator(f"summary:text-is('{other}/')"))
    assert folder.get_attribute("open") is None
    assert folder.locator("li").count() == 0
    folder.locator("summary").click()
    first_entry = folder.locator(":scope > ul > li").first
    first_entry.wait_for(state="visible")
    inside = {p[len(other) + 1:].split("/", 1)[0] for p in files if p.startswith(other + "/")}
    inside |= {p[len(other) + 1:].split("/", 1)[0] for p in others if p.startswith(other + "/") and "/" in p[len(other) + 1:]}
    assert folder.locator(":scope > ul > li").count() == len(inside)
    # a neighbouring file opens its page, where it is the one marked
    folder_of = path.rsplit("/", 1)[0]
    sibling = sorted(p for p in files if p.rsplit("/", 1)[0] == folder_of and p != path)[0]
    page.locator(".kx-tree a", has_text=sibling.rsplit("/", 1)[1]).first.click()
    page.wait_for_url(f"**/linux-6.1/source/{sibling}/")
    page.locator(".kx-tree a.kx-here").wait_for(state="attached")
    assert page.locator(".kx-tree a.kx-here").inner_text() == sibling.rsplit("/", 1)[1]
    # a top folder whose files have no page is greyed, without entries (the whole tree is indexed,
    # a part of it has pages)
    bare = sorted({p.split("/", 1)[0] for p in others if "/" in p} - {p.split("/", 1)[0] for p in files})
    if bare:
        grey = page.locator(".kx-tree-list > li.kx-nopage", has_text=f"{bare[0]}/")
        assert grey.count() == 1 and grey.locator("a, details").count() == 0
    # every file in the tree has a page: no link of the tree leads to a missing page
    assert page.locator(".kx-tree a[href]").count() > 0


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
    frag = urlsplit(page.url).fragment
    if "/symbol/" in page.url:
        assert label in page.locator("h1").first.inner_text()
    elif "/elsewhere/" in page.url:  # defined in a file without a page: its entry on the "defined elsewhere" page
        assert frag == label
        assert label in page.locator(f"[id='{frag}']").inner_text()
    else:
        assert frag.startswith("L")
        assert label in page.locator(f"#{frag}").inner_text()


def test_a_line_deep_in_the_largest_file_is_reached_with_and_without_script(published_site: PublishedSite, page) -> None:  # type: ignore[no-untyped-def]
    """Lines are laid out a hundred at a time when seen: anchors, ranges and find-in-page still reach them."""
    real_site = published_site.url
    files, _ = _data_files(published_site)
    with Index(REAL_INDEX) as index:
        lines = index.file_lines()
    path = max(files, key=lambda p: lines[p])  # the largest file with a page
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

