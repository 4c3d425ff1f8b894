"""The link checker over the whole real site (every source, symbol and folder page), as CI runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from explorer.config import PACKAGE_ROOT, Project
from explorer.store import Index

from .conftest import PublishedSite
from .site_linkcheck import check_site
from .sitekit import real_index_missing


@pytest.mark.vendored
@pytest.mark.skipif(real_index_missing() is not None, reason=real_index_missing() or "")
def test_the_whole_real_site_has_no_broken_link_or_anchor_and_loads_nothing_from_another_host(published_site: PublishedSite) -> None:
    site = published_site.folder  # the project's site as published (built once per session, strictly)
    script = (site / "assets" / "kernel-explorer" / "config.js").read_text(encoding="utf-8")
    kernels = json.loads(script[script.index("=") + 1: script.rindex(";")])["kernels"]
    assert "linux-6.1" in kernels
    pages = sorted(p for p in site.rglob("*.html") if p.name != "404.html")
    for kernel, data in kernels.items():
        # every file with a page (files.json lists them first, then the files "defined elsewhere"
        # entries are in) has its page, and every source page is checked, not a sample
        listed = json.loads((site / kernel / "_kx" / "files.json").read_text(encoding="utf-8"))
        with_pages = listed if data["pages"] is None else listed[: data["pages"]]
        sources = {p.parent.relative_to(site / kernel / "source").as_posix() for p in pages  # a file's page, not a folder's
                   if p.is_relative_to(site / kernel / "source") and b' data-kx-path="' in p.read_bytes()}
        assert sources == set(with_pages), kernel
        with Index(Project.load(PACKAGE_ROOT / "kernel-snippets").index_path(kernel)) as index:
            assert set(with_pages) <= set(index.file_lines())
    broken, external = check_site(site, pages)
    assert broken == []
    assert external == []


def test_the_link_checker_finds_missing_pages_anchors_and_other_hosts(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text(
        '<p id="here">x</p><a href="../b/#L2">ok</a> <a href="../b/#L9">no anchor</a> <a href="../c/">no page</a>'
        '<a href="#here">self</a><a href="#gone">self, gone</a><img src="https://example.org/x.png">'
        '<script>var s = \'<a href="../nowhere/">\';</script><!-- <a href="../ignored/"> -->', encoding="utf-8")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "index.html").write_text('<span id="L1">1</span><span id="L2">2</span>', encoding="utf-8")
    broken, external = check_site(tmp_path)
    assert sorted(b.split(": ", 1)[1].split(" ")[0] for b in broken) == ["#gone", "../b/#L9", "../c/"]
    assert external == ["a/index.html: img.src=https://example.org/x.png"]
