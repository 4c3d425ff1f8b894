"""The link checker over the whole real site (every source, symbol and folder page), as CI runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.config import PACKAGE_ROOT
from explorer.store import Index

from .site_linkcheck import check_site
from .sitekit import REAL_INDEX, build_site, real_index_missing


@pytest.mark.vendored
@pytest.mark.skipif(real_index_missing() is not None, reason=real_index_missing() or "")
def test_the_whole_real_site_has_no_broken_link_or_anchor_and_loads_nothing_from_another_host(tmp_path: Path) -> None:
    site = build_site(PACKAGE_ROOT / "mkdocs.yml", strict=True, site_dir=tmp_path / "site")
    with Index(REAL_INDEX) as index:
        files = index.file_lines()
    pages = sorted(p for p in site.rglob("*.html") if p.name != "404.html")
    sources = [p for p in pages if "/source/" in p.as_posix() and p.parent.name.endswith((".c", ".h"))]
    assert len(sources) == len(files)  # every source page is checked, not a sample
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
