"""kernel-doc on the site: symbol pages, struct member tables and hover-card data, apart from the
project's own commentary and escaped, from a real `mkdocs build` of the gadget fixture kernel
(tests/fixtures/kdoc, written for this project) plus one file of hostile comments."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from explorer.config import Project
from explorer.indexer import build_index

from .sitekit import build_site, line_of

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "kdoc"
KERNEL = "gadget-1.0"
HOSTILE_C = """\
// SPDX-License-Identifier: GPL-2.0
#include <net/gadget.h>

/**
 * gadget_evil - <script>alert("kdoc")</script> & <b>bold</b>
 * @g: <img src=x onerror=alert(1)>
 *
 * Return: "</pre><script>alert(2)</script>
 */
int gadget_evil(struct gadget *g)
{
	return gadget_spin(g, 1);
}

int gadget_evil_caller(struct gadget *g)
{
	return gadget_evil(g);
}
"""
MKDOCS = """\
site_name: gadget explorer
docs_dir: docs
site_dir: site
theme:
  name: material
  font: false
plugins:
  - search
  - kernel-explorer:
      snippets: kernel-snippets
      kernel: gadget-1.0
      mermaid: false
      symbols:
        - gadget
        - gadget_spin
        - gadget_evil
"""
ANNOTATIONS = """\
---
annotations: true
---
# Gadget notes

## `gadget_spin`
The project's own words about the spin.
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kdoc-site")
    snippets = root / "kernel-snippets"
    tree = snippets / KERNEL
    for rel in ("net/gadget/gadget.c", "include/net/gadget.h"):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes((FIXTURE / rel).read_bytes())
    (tree / "net/gadget/hostile.c").write_text(HOSTILE_C, encoding="utf-8")
    (snippets / "kernels.toml").write_text(
        f'default = "{KERNEL}"\n\n[kernels."{KERNEL}"]\ntitle = "Gadget"\npaths = ["net/gadget", "include/net"]\n',
        encoding="utf-8")
    build_index(Project.load(snippets), KERNEL, jobs=1)
    (root / "docs").mkdir()
    (root / "docs" / "index.md").write_text("# Gadgets\n\nSee [[gadget_spin]] and [[gadget]].\n", encoding="utf-8")
    (root / "docs" / "notes.md").write_text(ANNOTATIONS, encoding="utf-8")
    (root / "mkdocs.yml").write_text(MKDOCS, encoding="utf-8")
    return build_site(root / "mkdocs.yml")


def _page(built: Path, name: str) -> str:
    return (built / KERNEL / "symbol" / name / "index.html").read_text(encoding="utf-8")


def _section(page: str) -> str:
    m = re.search(r'<section class="kx-kdoc">.*?</section>', page, re.DOTALL)
    assert m, "no kernel-doc section"
    return m.group(0)


def test_symbol_page_shows_the_kernel_doc_apart_from_the_annotation(built: Path) -> None:
    page = _page(built, "gadget_spin")
    src = (FIXTURE / "net/gadget/gadget.c").read_text(encoding="utf-8")
    kdoc = _section(page)
    assert "turn a gadget by some steps" in kdoc
    assert "<dt><code>@steps</code></dt><dd>how many steps; a negative count turns it backwards</dd>" in kdoc
    assert "<strong>Return:</strong> the new position" in kdoc
    assert "<strong>Context:</strong> process context" in kdoc
    line = line_of(src, " * gadget_spin - turn a gadget")
    assert f"#L{line}" in kdoc and f"net/gadget/gadget.c:{line}" in kdoc
    # the project's annotation is its own section, after the kernel's words, and not inside them
    assert "The project's own words about the spin." not in kdoc
    assert page.index('id="kernel-doc"') < page.index('id="annotation"') < page.index("own words about the spin")


def test_member_table_has_a_kernel_doc_column(built: Path) -> None:
    page = _page(built, "gadget")
    table = re.search(r'<table class="kx-members">.*?</table>', page, re.DOTALL)
    assert table
    rows = {m.group(1): m.group(2) for m in re.finditer(r'<tr id="(gadget\.[\w.]+)">(.*?)</tr>', table.group(0))}
    assert '<span class="kx-kdoc-cell">where it is</span>' in rows["gadget.pos"]
    assert '<span class="kx-kdoc-cell">how many teeth the wheel has</span>' in rows["gadget.wheel.teeth"]
    assert '<span class="kx-kdoc-cell">an inline member comment</span>' in rows["gadget.spare"]
    assert "kx-kdoc-cell" not in rows["gadget.wheel.size"]
    assert ">kernel-doc</th>" in table.group(0) and ">commentary</th>" in table.group(0)
    assert "One per device." in _section(page)  # the struct's own comment on its page


def test_hover_data_carries_the_kernel_doc_summary(built: Path) -> None:
    data = built / KERNEL / "_kx"
    files = json.loads((data / "files.json").read_text())
    names = json.loads((data / "names/ga.json").read_text())
    spin = next(e for e in names if e[0] == "gadget_spin" and e[1] == "function")
    assert files[spin[2]] == "net/gadget/gadget.c"
    assert spin[7] == "The project's own words about the spin."  # the annotation, where it always was
    assert spin[9] == "turn a gadget by some steps"  # the kernel-doc, in its own slot
    pos = next(e for e in json.loads((data / "names/po.json").read_text()) if e[0] == "gadget.pos")  # sharded by "pos"
    assert pos[7] == "" and pos[9] == "where it is"
    renamed = next(e for e in names if e[0] == "gadget_renamed")
    assert len(renamed) == 7  # no kernel-doc, no annotation: the short row


def test_hostile_kernel_doc_is_escaped(built: Path) -> None:
    page = _page(built, "gadget_evil")
    kdoc = _section(page)
    assert "<script>" not in kdoc and "<img" not in kdoc and "<b>bold" not in kdoc
    assert "&lt;script&gt;alert(" in kdoc and "&lt;img src=x onerror=alert(1)&gt;" in kdoc
    assert "&lt;/pre&gt;&lt;script&gt;alert(2)" in kdoc
    assert page.count("<script>alert") == 0


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing: `make setup` installs Debian's chromium")
def test_hover_cards_in_chromium_show_kernel_doc_as_text(built: Path) -> None:
    from playwright.sync_api import sync_playwright

    from .sitekit import serve_folder

    problems: list[str] = []
    with serve_folder(built) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
        try:
            page = browser.new_page()
            page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.goto(f"{url}{KERNEL}/source/net/gadget/hostile.c/")
            spin = line_of(HOSTILE_C, "return gadget_spin(g, 1);")
            page.locator(f"#L{spin} a", has_text="gadget_spin").first.hover()
            card = page.locator(".kx-card")
            card.wait_for(state="visible")
            kdoc = card.locator(".kx-kdoc-card")
            assert kdoc.inner_text() == "kernel-doc turn a gadget by some steps"
            assert card.locator(".kx-note").inner_text() == "The project's own words about the spin."
            page.mouse.move(0, 0)
            evil = line_of(HOSTILE_C, "return gadget_evil(g);")
            page.locator(f"#L{evil} a", has_text="gadget_evil").first.hover()
            page.wait_for_function("document.querySelector('.kx-card') && "
                                   "document.querySelector('.kx-card').textContent.includes('gadget_evil')")
            card = page.locator(".kx-card")
            assert card.locator(".kx-kdoc-card").inner_text() == 'kernel-doc <script>alert("kdoc")</script> & <b>bold</b>'
            assert card.locator("script, b, img").count() == 0
            page.wait_for_timeout(100)
        finally:
            browser.close()
    assert problems == []
