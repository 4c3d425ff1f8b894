"""The translated edition on the demo site: own URLs, `<html lang>`, a language switch leading to the
same page in the other language, a navigation per language, and the bundled CJK font subset."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from explorer.site.i18n import CjkCharacters, Edition, FontError, language_switch, write_cjk_font

from .sitekit import MKDOCS_YML, DemoProject, build_site

TRANSLATED_YML = MKDOCS_YML.replace("      mermaid: false\n", "      mermaid: false\n      translation: zh\n") + """\
nav:
  - Home: index.md
  - Guide: guide.md
  - Only English: only-en.md
  - 中文:
      - 首页: zh/index.md
      - 指南: zh/guide.md
"""


def _translated(demo_project: DemoProject) -> Path:
    root = demo_project.root
    (root / "mkdocs.yml").write_text(TRANSLATED_YML.format(site_dir="site"), encoding="utf-8")
    (demo_project.docs / "zh").mkdir()
    demo_project.write_doc("guide.md", "# Guide\n\nThe accept queue, [[demo_listen]].\n")
    demo_project.write_doc("only-en.md", "# Only English\n\nNo translation.\n")
    demo_project.write_doc("zh/index.md", "# 演示\n\n监听函数是 [[demo_listen]]，全连接队列在这里。\n")
    demo_project.write_doc("zh/guide.md", "# 指南\n\n半连接队列与全连接队列，见 [[demo_listen_start]]。\n")
    return build_site(root / "mkdocs.yml")


def _html(site: Path, url: str) -> str:
    return (site / url / "index.html").read_text(encoding="utf-8")


def _switch(html: str) -> dict[str, str]:
    nav = re.search(r'<nav class="kx-lang"[^>]*>(.*?)</nav>', html, re.S)
    assert nav is not None, "no language switch"
    return dict((lang, href) for href, lang in re.findall(r'<a class="kx-lang__link" href="([^"]*)" hreflang="([^"]*)"', nav.group(1)))


def test_pages_of_the_translation_have_their_urls_lang_and_a_switch_to_the_same_page(demo_project: DemoProject) -> None:
    site = _translated(demo_project)
    zh_guide = _html(site, "zh/guide")
    assert '<html lang="zh"' in zh_guide
    assert '<html lang="en"' in _html(site, "guide")
    assert _switch(zh_guide) == {"en": "../../guide/"}
    assert _switch(_html(site, "guide")) == {"zh": "../zh/guide/"}
    assert _switch(_html(site, "")) == {"zh": "zh/"}
    assert _switch(_html(site, "zh")) == {"en": "../"}
    # a page without a translation leads to the other language's home page, and says so
    only = _html(site, "only-en")
    assert _switch(only) == {"zh": "../zh/"}
    assert 'title="本页尚无中文版' in only
    # the links of the translated pages resolve like any other, and the symbol pages (one for both
    # languages) list the pages of each language that mention them, saying which is which
    assert re.search(r'href="\.\./\.\./demo-1\.0/(symbol|source)/[^"]*"', zh_guide)
    symbol = _html(site, "demo-1.0/symbol/demo_listen")
    assert "演示 (中文)" in symbol and ">Guide<" in symbol
    assert not (site / "zh" / "demo-1.0").exists()
    assert 'class="kx-lang"' not in symbol and '<html lang="en"' in symbol  # generated pages: one, language-neutral


def test_each_language_has_its_navigation_and_its_previous_and_next_pages(demo_project: DemoProject) -> None:
    site = _translated(demo_project)
    zh_guide = _html(site, "zh/guide")
    en_guide = _html(site, "guide")

    def sidebar(html: str) -> str:  # the primary navigation, which comes before the content
        return html.split("md-nav--primary", 1)[1].split('class="md-content"', 1)[0]

    assert "首页" in sidebar(zh_guide) and "指南" in sidebar(zh_guide)
    assert "Only English" not in sidebar(zh_guide) and "中文" not in sidebar(zh_guide)
    assert "Only English" in sidebar(en_guide) and "指南" not in sidebar(en_guide) and "中文" not in sidebar(en_guide)
    # previous/next stay inside a language: zh/guide follows zh/index, guide has Only English next
    assert re.search(r'<link rel="prev" href="\.\./"', zh_guide)
    assert not re.search(r'<link rel="next"', zh_guide)
    assert re.search(r'<link rel="next" href="\.\./only-en/"', en_guide)
    assert not re.search(r'<link rel="next"', _html(site, "only-en"))


def test_the_site_bundles_a_font_subset_with_exactly_the_cjk_characters_its_pages_use(demo_project: DemoProject) -> None:
    from fontTools.ttLib import TTFont

    site = _translated(demo_project)
    assets = site / "assets" / "kernel-explorer"
    css = (assets / "cjk.css").read_text(encoding="utf-8")
    assert '@font-face' in css and 'url("cjk.woff2") format("woff2")' in css and "unicode-range" in css
    used = CjkCharacters()
    for page in site.rglob("*.html"):
        used.add(page.read_text(encoding="utf-8"))
    assert {"全", "连", "接", "队", "列", "半", "演"} <= used.chars
    with TTFont(str(assets / "cjk.woff2")) as font:
        assert font.flavor == "woff2"
        covered = {chr(cp) for cp in font.getBestCmap()}
    assert used.chars <= covered
    assert len(covered - used.chars) < 20  # a subset: nothing much beyond what the pages use
    for page in site.rglob("*.html"):
        assert 'rel="stylesheet" href="' in page.read_text(encoding="utf-8")


def test_a_site_without_cjk_characters_ships_no_font(demo_project: DemoProject) -> None:
    site = build_site(demo_project.root / "mkdocs.yml")
    assets = site / "assets" / "kernel-explorer"
    assert not (assets / "cjk.woff2").exists()
    assert "@font-face" not in (assets / "cjk.css").read_text(encoding="utf-8")


def test_language_switch_and_counterparts() -> None:
    edition = Edition.of("en", "zh")
    urls = {"index.md": "", "a/b.md": "a/b/", "zh/index.md": "zh/", "zh/a/b.md": "zh/a/b/", "c.md": "c/"}
    assert edition.counterpart("a/b.md") == "zh/a/b.md" and edition.counterpart("zh/a/b.md") == "a/b.md"
    assert [(s.lang, s.url, s.same_page) for s in language_switch(edition, "zh/a/b.md", urls)] == [
        ("en", "a/b/", True), ("zh", "zh/a/b/", True)]
    assert [(s.lang, s.url, s.same_page) for s in language_switch(edition, "c.md", urls)] == [
        ("en", "c/", True), ("zh", "zh/", False)]


def test_cjk_characters_are_collected_from_html_and_ascii_pages_cost_nothing() -> None:
    chars = CjkCharacters()
    chars.add("<p>plain ASCII, <code>sk_ack_backlog</code></p>")
    assert chars.chars == set()
    chars.add("<p>全连接队列（accept queue）满了。Ünïcode</p>")
    assert chars.chars == set("全连接队列（）满了。")


def test_a_missing_or_damaged_font_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FontError, match="fonts-droid-fallback"):
        write_cjk_font(tmp_path / "missing.ttf", "全", tmp_path / "out.woff2")
    bad = tmp_path / "bad.ttf"
    bad.write_bytes(b"not a font at all")
    with pytest.raises(FontError, match="cannot subset"):
        write_cjk_font(bad, "全", tmp_path / "out.woff2")


def test_a_translation_code_must_be_another_language(demo_project: DemoProject, caplog: pytest.LogCaptureFixture) -> None:
    from mkdocs.exceptions import Abort

    root = demo_project.root
    (root / "mkdocs.yml").write_text(TRANSLATED_YML.replace("translation: zh", "translation: en").format(site_dir="site"),
                                     encoding="utf-8")
    with pytest.raises(Abort):
        build_site(root / "mkdocs.yml")
    assert "translation 'en' must be a language code other than 'en'" in caplog.text


def test_the_subset_is_cached_and_the_cache_keeps_only_the_newest(tmp_path: Path) -> None:
    from explorer.site.i18n import DEFAULT_CJK_FONT

    cache = tmp_path / "cache"
    sizes = [write_cjk_font(Path(DEFAULT_CJK_FONT), "全连接队列" + chr(0x4E00 + i), tmp_path / f"out{i}.woff2", cache)
             for i in range(9)]
    assert all(size > 0 for size in sizes)
    assert len(list(cache.glob("cjk-*.woff2"))) == 8
    # a cached subset is the same bytes as a fresh one
    again = write_cjk_font(Path(DEFAULT_CJK_FONT), "全连接队列" + chr(0x4E08), tmp_path / "again.woff2", cache)
    assert (tmp_path / "again.woff2").read_bytes() == (tmp_path / "out8.woff2").read_bytes() and again == sizes[8]
