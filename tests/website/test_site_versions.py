"""The site of two kernels (demo-1.0 and demo-2.0), built for real: pages of both, the version
switch, diffs on symbol pages, the "What changed" page, "defined elsewhere" pages for files
without pages, and the review state of an annotation in each kernel."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .site_linkcheck import check_site
from .sitekit import DEMO_KERNELS, DEMO_LIB, REPO, DemoProject, build_site, line_of


@pytest.fixture
def built(two_kernel_project: DemoProject) -> Path:
    return build_site(two_kernel_project.root / "mkdocs.yml")


def _page(site: Path, rel: str) -> str:
    return (site / rel / "index.html").read_text(encoding="utf-8")


def _cli_diff(snippets: Path, name: str) -> dict[str, object]:
    """What `kexplore diff NAME --json` says (the CLI the site's diffs must agree with)."""
    out = subprocess.run([sys.executable, "-m", "explorer", "diff", name, "--json", "--snippets", str(snippets)],
                         cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_both_kernels_have_source_and_symbol_pages(built: Path) -> None:
    for kernel in DEMO_KERNELS:
        assert (built / f"{kernel}/source/net/demo/demo_core.c/index.html").is_file()
        assert (built / f"{kernel}/source/include/net/demo_sock.h/index.html").is_file()  # included by net/demo
        assert (built / f"{kernel}/symbol/demo_listen_start/index.html").is_file()
        # lib/ is indexed but outside source_paths and not included: no page
        assert not (built / f"{kernel}/source/lib/demo_lib.c").exists()
    assert (built / "demo-2.0/source/net/demo/demo_fast.c/index.html").is_file()
    assert not (built / "demo-1.0/source/net/demo/demo_fast.c").exists()
    # a symbol gone in demo-2.0 has no page there
    assert (built / "demo-1.0/symbol/demo_queue_full/index.html").is_file()
    assert not (built / "demo-2.0/symbol/demo_queue_full").exists()


def test_no_broken_links_or_anchors_and_nothing_from_other_hosts(built: Path) -> None:
    broken, external = check_site(built)
    assert broken == []
    assert external == []


def _switch(html: str) -> str:
    m = re.search(r'<nav class="kx-versions".*?</nav>', html, re.S)
    assert m, "no version switch"
    return m.group(0)


def test_version_switch_on_source_pages(built: Path) -> None:
    switch = _switch(_page(built, "demo-1.0/source/net/demo/demo_core.c"))
    assert '<strong class="kx-version-here">demo-1.0</strong>' in switch
    assert 'href="../../../../../demo-2.0/source/net/demo/demo_core.c/"' in switch
    back = _switch(_page(built, "demo-2.0/source/net/demo/demo_core.c"))
    assert 'href="../../../../../demo-1.0/source/net/demo/demo_core.c/"' in back
    # a file demo-1.0 does not have: said plainly, not linked
    new = _switch(_page(built, "demo-2.0/source/net/demo/demo_fast.c"))
    assert "demo-1.0: no such file" in new
    assert "demo-1.0/source" not in new


def test_version_switch_on_symbol_pages(built: Path) -> None:
    switch = _switch(_page(built, "demo-1.0/symbol/demo_listen_start"))
    assert 'href="../../../demo-2.0/symbol/demo_listen_start/"' in switch
    gone = _switch(_page(built, "demo-1.0/symbol/demo_queue_full"))
    assert "demo-2.0: demo_queue_full is not defined there" in gone
    assert "demo-2.0/symbol" not in gone


def test_changed_symbol_pages_show_the_diff_escaped(built: Path, two_kernel_snippets: Path) -> None:
    cli = _cli_diff(two_kernel_snippets, "demo_listen_start")
    assert cli["changed"] is True
    for kernel in DEMO_KERNELS:
        html = _page(built, f"{kernel}/symbol/demo_listen_start")
        m = re.search(r'<div id="kx-diff" class="kx-diffs">(.*?)</div>', html, re.S)
        assert m, kernel
        block = m.group(1)
        assert "Changed from demo-1.0 to demo-2.0" in block
        # every line of the CLI's diff is on the page, as text
        text = re.sub(r"<[^>]+>", "", block).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
        for line in str(cli["diff"]).splitlines():
            assert line in text, line
        assert "&lt;b&gt;2.0&lt;/b&gt; &amp;" in block
        assert "<b>2.0</b>" not in html
    unchanged = _page(built, "demo-1.0/symbol/demo_sys_listen")
    assert _cli_diff(two_kernel_snippets, "demo_sys_listen")["changed"] is False
    assert "Unchanged from demo-1.0 to demo-2.0." in unchanged
    assert "kx-diff-add" not in unchanged


def test_what_changed_page_lists_the_path_with_each_status(built: Path, two_kernel_snippets: Path) -> None:
    html = _page(built, "demo-2.0/changes")
    assert "What changed in demo-2.0" in html
    statuses = dict(re.findall(r'<tr><td><a href="#sym-([\w.]+)"><code>[\w.]+</code></a></td><td class="kx-\w+">(\w+)</td></tr>', html))
    assert set(statuses) >= {"demo_sys_listen", "demo_listen_start", "demo_queue_full", "demo_listen", "demo_sock"}
    for name, status in statuses.items():
        cli = _cli_diff(two_kernel_snippets, name)
        if cli["from"]["path"] is None:  # type: ignore[index]
            assert status == "added", name
        elif cli["to"]["path"] is None:  # type: ignore[index]
            assert status == "removed", name
        else:
            assert status == ("changed" if cli["changed"] else "unchanged"), name
    assert statuses["demo_queue_full"] == "removed"
    assert statuses["demo_listen_start"] == "changed"
    assert statuses["demo_sys_listen"] == "unchanged"
    assert "kx-diff-add" in html  # the diffs are on the page


def test_identifier_outside_the_pages_links_to_defined_elsewhere(built: Path) -> None:
    line = line_of(DEMO_KERNELS["demo-1.0"]["net/demo/demo_core.c"], "demo_hash(0)")
    page = _page(built, "demo-1.0/source/net/demo/demo_core.c")
    m = re.search(rf'<span id="L{line}">(.*?)\n</span>', page, re.S)
    assert m
    assert '<a href="../../../../elsewhere/d/#demo_hash">demo_hash</a>' in m.group(1)
    elsewhere = _page(built, "demo-1.0/elsewhere/d")
    entry = re.search(r'<div class="kx-elsewhere" id="demo_hash">(.*?)</div>', elsewhere, re.S)
    assert entry
    assert f"lib/demo_lib.c:{line_of(DEMO_LIB, 'unsigned int demo_hash(')}" in entry.group(1)
    assert "unsigned int demo_hash(unsigned int key)" in entry.group(1)
    # the commentary's [[src:demo_hash]] and its embed lead there too
    home = (built / "index.html").read_text(encoding="utf-8")
    assert 'href="demo-1.0/elsewhere/d/#demo_hash"' in home


def test_annotation_reviewed_for_one_kernel_says_so_on_the_other(built: Path) -> None:
    other = _page(built, "demo-2.0/symbol/demo_listen_start")
    note = re.search(r'<p class="kx-review[^"]*">(.*?)</p>', other, re.S)
    assert note, "no review note on the demo-2.0 page"
    assert "reviewed against demo-1.0 only" in note.group(1)
    assert 'href="#kx-diff"' in note.group(1)
    assert 'class="kx-review' not in _page(built, "demo-1.0/symbol/demo_listen_start")


def test_one_kernel_option_still_builds_one_kernel(demo_project: DemoProject) -> None:
    site = build_site(demo_project.root / "mkdocs.yml")
    assert (site / "demo-1.0/source/net/demo/demo_core.c/index.html").is_file()
    assert "kx-versions" not in _page(site, "demo-1.0/source/net/demo/demo_core.c")
    assert not (site / "demo-1.0/elsewhere").exists()  # every file has a page
