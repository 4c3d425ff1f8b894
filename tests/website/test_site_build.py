"""A real `mkdocs build --strict` of a small site over the demo kernel."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import damaged_after_open
from mkdocs.exceptions import Abort

from .site_linkcheck import check_site
from .sitekit import DEMO_CORE, INDEX_MD, MKDOCS_YML, REPO, DemoProject, build_site, line_of

START = line_of(DEMO_CORE, "int demo_listen_start(")
ALLOC = line_of(DEMO_CORE, "static int demo_alloc_queue(")


@pytest.fixture
def built(demo_project: DemoProject) -> Path:
    return build_site(demo_project.root / "mkdocs.yml")


def _line(html: str, n: int) -> str:
    m = re.search(rf'<span id="L{n}">(.*?)\n</span>', html, re.S)
    assert m, f"no line {n}"
    return m.group(1)


def test_strict_build_makes_source_symbol_and_folder_pages(built: Path) -> None:
    assert (built / "demo-1.0/source/net/demo/demo_core.c/index.html").is_file()
    assert (built / "demo-1.0/source/include/net/demo_sock.h/index.html").is_file()
    assert (built / "demo-1.0/source/net/demo/index.html").is_file()
    assert (built / "demo-1.0/source/index.html").is_file()
    # configured symbols and those the commentary links to
    for name in ("demo_sock", "demo_sys_listen", "demo_listen", "demo_listen_start", "demo_common.dc_state"):
        assert (built / f"demo-1.0/symbol/{name}/index.html").is_file(), name


def test_no_broken_links_or_anchors_and_nothing_from_other_hosts(built: Path) -> None:
    broken, external = check_site(built)
    assert broken == []
    assert external == []


def test_source_page_links_calls_to_definitions(built: Path) -> None:
    page = (built / "demo-1.0/source/net/demo/demo_core.c/index.html").read_text(encoding="utf-8")
    # `return demo_listen_start(ds);` inside demo_listen → its definition
    call = line_of(DEMO_CORE, "return demo_listen_start(ds);")
    assert f'<a href="#L{START}">demo_listen_start</a>' in _line(page, call)
    # the header's inline function, in another file
    assert '<a href="../../../include/net/demo_sock.h/#L' in _line(page, line_of(DEMO_CORE, "demo_queue_full(ds)"))
    # a definition's own name is marked
    assert 'class="d"' in _line(page, START)


def test_columns_after_non_ascii_text(built: Path) -> None:
    page = (built / "demo-1.0/source/net/demo/demo_core.c/index.html").read_text(encoding="utf-8")
    line = _line(page, line_of(DEMO_CORE, "naïve café"))  # /* naïve café */ err = demo_alloc_queue(ds);
    assert "naïve café" in line
    # the call's link, and the locals around it, at the right characters after the non-ASCII comment
    assert re.search(rf'</span> <a data-l=(\d+)>err</a> = <a href="#L{ALLOC}">demo_alloc_queue</a>\(<a data-l=(\d+)>ds</a>\);', line)


def test_source_is_escaped(built: Path) -> None:
    page = (built / "demo-1.0/source/net/demo/demo_core.c/index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(\"owned\")&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "<script>alert" not in page
    assert "<b>bold" not in page


def test_commentary_links_and_embed(built: Path) -> None:
    page = (built / "index.html").read_text(encoding="utf-8")
    assert 'href="demo-1.0/symbol/demo_listen/"' in page
    assert re.search(r'href="demo-1\.0/symbol/demo_listen_start/"[^>]*>the second half</a>', page)
    assert 'href="demo-1.0/source/net/demo/demo_core.c/#L13"' in page  # as written in INDEX_MD
    assert 'href="demo-1.0/source/net/demo/demo_core.c/#L25"' in page
    assert "<code>[[not_a_symbol]]</code>" in page
    assert "a &lt; b &amp;&amp; c &gt; d" in page
    # the live source of demo_listen_start, linked, with its first line number
    embed = re.search(r'<figure class="kx-embed".*?</figure>', page, re.S)
    assert embed and f"--kx-start: {START - 1}" in embed.group(0)
    assert "demo_alloc_queue</a>" in embed.group(0)
    assert "struct demo_sock {" not in embed.group(0)
    assert page.count('class="kx-embed"') == 2


def test_symbol_page_for_a_struct_lists_members(built: Path) -> None:
    page = (built / "demo-1.0/symbol/demo_sock/index.html").read_text(encoding="utf-8")
    for member in ("__dc_common", "ds_backlog", "ds_ops"):
        assert f"<code>{member}</code>" in page
    assert "Demo commentary" in page  # the commentary that mentions it


def test_source_pages_stay_out_of_search_and_nav(built: Path) -> None:
    index = json.loads((built / "search/search_index.json").read_text(encoding="utf-8"))
    locations = {doc["location"].split("#")[0] for doc in index["docs"]}
    assert not any("/source/" in loc for loc in locations)
    assert "demo-1.0/symbol/demo_sock/" in locations
    home = (built / "index.html").read_text(encoding="utf-8")
    nav = home[home.index('class="md-nav md-nav--primary"'):]
    assert "demo_core.c" not in nav.split("</nav>")[0]


def test_data_for_hover_and_references(built: Path) -> None:
    data = built / "demo-1.0/_kx"
    files = json.loads((data / "files.json").read_text())
    assert "net/demo/demo_core.c" in files
    config = (built / "assets/kernel-explorer/config.js").read_text()
    shards = json.loads(config.split("=", 1)[1].rstrip().rstrip(";"))["shards"]
    assert "de" in shards
    names = json.loads((data / "names/de.json").read_text())
    entry = next(e for e in names if e[0] == "demo_listen_start" and e[1] == "function")
    assert files[entry[2]] == "net/demo/demo_core.c" and entry[3] == START


def test_missing_symbol_fails_strict_build_naming_page_and_symbol(
    demo_project: DemoProject, caplog: pytest.LogCaptureFixture
) -> None:
    demo_project.write_doc("broken.md", "# Broken\n\nSee [[demo_no_such_function]].\n")
    with caplog.at_level(logging.WARNING, logger="mkdocs"), pytest.raises(Abort):
        build_site(demo_project.root / "mkdocs.yml")
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("broken.md" in m and "demo_no_such_function" in m for m in messages), messages


def test_missing_embed_fails_strict_build(demo_project: DemoProject, caplog: pytest.LogCaptureFixture) -> None:
    demo_project.write_doc("embed.md", "# Embed\n\n[[source:demo_gone]]\n")
    with caplog.at_level(logging.WARNING, logger="mkdocs"), pytest.raises(Abort):
        build_site(demo_project.root / "mkdocs.yml")
    assert any("embed.md" in r.getMessage() and "demo_gone" in r.getMessage() for r in caplog.records)


def test_commentary_is_escaped(demo_project: DemoProject) -> None:
    demo_project.write_doc("esc.md", "# Esc\n\nText with `<script>alert(1)</script>` & [[demo_listen|a <b> link]].\n")
    site = build_site(demo_project.root / "mkdocs.yml")
    page = (site / "esc/index.html").read_text(encoding="utf-8")
    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in page
    assert "<script>alert(1)" not in page


def _generated_pages(site: Path) -> dict[str, bytes]:
    """Every generated page's HTML by path (the folders reused under serve are symbolic links)."""
    pages = {}
    for folder, _dirs, names in os.walk(site / "demo-1.0", followlinks=True):
        for name in names:
            if name.endswith(".html"):
                path = Path(folder) / name
                pages[path.relative_to(site).as_posix()] = path.read_bytes()
    return pages


def test_a_rebuild_under_serve_reuses_the_generated_pages(demo_project: DemoProject, caplog: pytest.LogCaptureFixture) -> None:
    """Under `mkdocs serve` an edit to the prose rebuilds no generated page, and the site is whole."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    config_file = str(demo_project.root / "mkdocs.yml")
    config = load_config(config_file)
    config.plugins.on_startup(command="serve", dirty=False)
    try:
        build(config)
        site = Path(config.site_dir)
        first = _generated_pages(site)
        demo_project.write_doc("index.md", (demo_project.docs / "index.md").read_text(encoding="utf-8") + "\nAn edit.\n")
        config = load_config(config_file)
        with caplog.at_level(logging.INFO, logger="mkdocs.plugins.kernel_explorer"):
            build(config)
        messages = [r.getMessage() for r in caplog.records]
        assert any(m.startswith("kernel-explorer: rebuilt 0 generated pages, reused") for m in messages), messages
        assert _generated_pages(site) == first  # (the reused folders link into the cache, gone after shutdown)
        assert "An edit." in (site / "index.html").read_text(encoding="utf-8")
        broken, _ = check_site(site)
        assert broken == []
    finally:
        config.plugins.on_shutdown()


def _damage(kind: str, index: Path, good: bytes) -> None:
    index.parent.mkdir(parents=True, exist_ok=True)
    if kind == "empty":
        index.write_bytes(b"")
    elif kind == "garbage":
        index.write_bytes(b"not an index\n" * 512)
    elif kind == "truncated":
        index.write_bytes(good[: len(good) // 2])
    elif kind == "garbled pages":  # opens (its meta page is intact) but a later query fails
        index.write_bytes(damaged_after_open(good, index.with_name("probe.sqlite")))
    elif kind == "other schema":
        db = sqlite3.connect(index)
        db.execute("CREATE TABLE notes (text TEXT)")
        db.commit()
        db.close()


@pytest.mark.parametrize("kind", ["missing", "empty", "garbage", "truncated", "garbled pages", "other schema"])
def test_a_damaged_index_fails_the_build_in_one_line(kind: str, tmp_path: Path, demo_snippets: Path) -> None:
    """A real `mkdocs build` over a missing or damaged index: one line naming `kexplore index` and the path."""
    snippets = tmp_path / "kernel-snippets"
    snippets.mkdir()
    shutil.copy(demo_snippets / "kernels.toml", snippets / "kernels.toml")
    (snippets / "demo-1.0").symlink_to(demo_snippets / "demo-1.0")
    index = snippets / "index" / "demo-1.0.sqlite"
    if kind != "missing":
        _damage(kind, index, (demo_snippets / "index" / "demo-1.0.sqlite").read_bytes())
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text(INDEX_MD, encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text(MKDOCS_YML.format(site_dir="site"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if str(index) in line]
    assert len(errors) == 1, output
    assert "kexplore index" in errors[0], output
    assert not (tmp_path / "site" / "index.html").exists()


def test_lab_pages_read_results_beside_mkdocs_yml(demo_project: DemoProject) -> None:
    """Recorded lab results come from build/labs/ beside the site's mkdocs.yml (the plugin's
    `lab_results` default), not from the package's checkout."""
    results = demo_project.root / "build" / "labs"
    results.mkdir(parents=True)
    reason = "skipped for a reason only this test writes"
    (results / "syn-queue.json").write_text(json.dumps({
        "lab": "syn-queue", "recorded_at": "2026-01-01T00:00:00Z", "kernel": "6.1-demo", "root": False,
        "skipped": reason, "runs": [],
    }), encoding="utf-8")
    demo_project.write_doc("lab.md", "# A lab\n\n<!-- kexplore-lab: syn-queue -->\n")
    site = build_site(demo_project.root / "mkdocs.yml", strict=False)
    assert reason in (site / "lab/index.html").read_text(encoding="utf-8")


def test_call_graph_boxes_carry_links_that_resolve(built: Path) -> None:
    """The boxes of a symbol page's diagrams link (data-kx-links, made into SVG links by explorer.js)
    to pages of the site; the page's own box links nowhere."""
    import html as html_module

    page = built / "demo-1.0/symbol/demo_listen/index.html"
    text = page.read_text(encoding="utf-8")
    blocks = re.findall(r'<pre class="kx-mermaid" data-search-exclude data-kx-links="([^"]*)"><code>(.*?)</code>', text, re.S)
    assert blocks
    for raw, diagram in blocks:
        links = json.loads(html_module.unescape(raw))
        assert links
        for node, href in links.items():
            assert re.search(rf"\b{node}\[", html_module.unescape(diagram)), node  # a box of this diagram
            path, _, frag = href.partition("#")
            target = (page.parent / path).resolve()
            target = target / "index.html" if target.is_dir() else target
            assert target.is_file(), href
            if frag:
                assert f'id="{frag}"' in target.read_text(encoding="utf-8"), href
            assert target != page.resolve()
