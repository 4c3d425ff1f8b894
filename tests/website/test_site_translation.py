"""The translated edition on the demo site: own URLs, `<html lang>`, a language switch leading to the
same page in the other language, a navigation per language, and the bundled CJK font subset."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from explorer.config import PACKAGE_ROOT
from explorer.site.i18n import CjkCharacters, Edition, FontError, language_switch, write_cjk_font

from .conftest import PublishedSite
from .sitekit import MKDOCS_YML, DemoProject, build_site, real_index_missing

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
    demo_project.write_doc("zh/guide.md", "# 指南\n\n半连接队列与\n全连接队列，见 [[demo_listen_start]]。\n")
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
    assert "半连接队列与全连接队列" in zh_guide  # the source's line break inside the sentence is no space
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


def _render(text: str) -> str:
    import markdown

    from explorer.site.markdown import CommentaryLinkResolver, SymbolLinkExtension

    return markdown.markdown(text, extensions=["tables", "pymdownx.superfences", SymbolLinkExtension(CommentaryLinkResolver)])


def test_a_line_break_between_chinese_characters_is_dropped_and_no_other() -> None:
    html = _render("全连接队列\n满了，`code` 之后\n还是中文。English\n中文 **加粗**\n接着，又一个\n**加粗**。见\n"
                   "[链接](x.md)\n和 `a`\n以及\n\n- 列表项\n  继续\n    - 嵌套\n      项\n")
    assert "<p>全连接队列满了，<code>code</code> 之后还是中文。English\n中文 <strong>加粗</strong>接着，" in html
    assert "又一个<strong>加粗</strong>。见<a href=\"x.md\">链接</a>和 <code>a</code>\n以及</p>" in html
    assert "<li>列表项继续" in html and "<li>嵌套项</li>" in html
    # code keeps its lines, as do code blocks and the lines of a diagram (its syntax)
    assert _render("`中文\n代码`") == "<p><code>中文\n代码</code></p>"
    fenced = _render("```\n中文\n代码\n```\n")
    assert "中文\n代码" in fenced
    english = "The accept queue\n(全连接队列)\nis full.\n\n第一段\n\n第二段"
    assert _render(english) == "<p>The accept queue\n(全连接队列)\nis full.</p>\n<p>第一段</p>\n<p>第二段</p>"


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


# ---------------------------------------------------------------- the project's own Chinese edition

DOCS = PACKAGE_ROOT / "docs"
ZH = "zh/"


def _nav_pages(item: object) -> list[str]:
    """The src_uris of a nav entry (a page, a titled page, a section), in order."""
    stack, pages = [item], []
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            pages.append(node)
        elif isinstance(node, dict):
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return pages


def _project_nav() -> tuple[list[str], list[str]]:
    """(the main language's pages, the translation's pages) of the project's mkdocs.yml nav, in order:
    the translation's section is the top-level section whose pages all live in zh/ (as the plugin has it)."""
    from mkdocs.utils.yaml import yaml_load

    with (PACKAGE_ROOT / "mkdocs.yml").open("rb") as stream:
        config = yaml_load(stream)
    main: list[str] = []
    other: list[str] = []
    for item in config["nav"]:
        pages = _nav_pages(item)
        translated = isinstance(item, dict) and bool(pages) and all(p.startswith(ZH) for p in pages)
        (other if translated else main).extend(pages)
    return main, other


def _docs(folder: Path) -> list[str]:
    return sorted(p.relative_to(DOCS).as_posix() for p in folder.rglob("*.md"))


def test_every_chinese_page_is_in_the_chinese_navigation_in_the_english_order() -> None:
    main, zh = _project_nav()
    assert len(zh) == len(set(zh))
    assert sorted(zh) == _docs(DOCS / "zh")  # every Chinese page is listed, and only those
    assert not [p for p in main if p.startswith(ZH)]
    english = [p.removeprefix(ZH) for p in zh]
    assert [p for p in english if not (DOCS / p).is_file()] == []  # each translates an English page
    assert english == [p for p in main if ZH + p in zh]  # in the English navigation's order


def test_every_walkthrough_and_lab_page_has_a_chinese_edition() -> None:
    main, _ = _project_nav()
    english = ["index.md"] + _docs(DOCS / "walkthrough") + _docs(DOCS / "labs")
    assert [p for p in english if p not in main] == []  # the English navigation lists them all
    missing = [p for p in english if not (DOCS / ZH / p).is_file()]
    assert missing == []
    assert len(english) >= 15  # the walkthrough's pages and the labs at least


_MD_LINK = re.compile(r"\]\(([^)\s]+)\)")
_CODE = re.compile(r"^```.*?^```|`[^`\n]*`", re.S | re.M)
_HEADING_ID = re.compile(r"^#{1,6} .*\{#([^}\s]+)\}\s*$", re.M)


def test_chinese_pages_link_to_chinese_pages() -> None:
    """A link from a Chinese page goes to the Chinese edition of a page that has one; to the English
    page only for a section the Chinese page does not have."""
    import posixpath

    wrong = []
    for src in _docs(DOCS / "zh"):
        text = _CODE.sub("", (DOCS / src).read_text(encoding="utf-8"))
        for target in _MD_LINK.findall(text):
            if "://" in target or target.startswith(("#", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(src), path))
            if not (DOCS / resolved).is_file():
                continue  # a generated page (source, symbol): one for both languages
            chinese = DOCS / ZH / resolved
            if resolved.startswith(ZH) or not chinese.is_file() or (resolved == src.removeprefix(ZH) and not anchor):
                continue  # a Chinese page, an English page without one, or this page's own English original
            if not anchor or anchor in _HEADING_ID.findall(chinese.read_text(encoding="utf-8")):
                wrong.append(f"{src}: {target} (the Chinese page is {ZH}{resolved})")
    assert wrong == []


def _heading_ids(text: str) -> list[str]:
    """The ids of a page's h2 to h6 headings, in order, as the site's Markdown gives them: the toc
    extension's slugs, or the `{#id}` of attr_list."""
    import markdown

    md = markdown.Markdown(extensions=["toc", "attr_list", "fenced_code"])
    md.convert(text)
    ids: list[str] = []
    stack = list(reversed(md.toc_tokens))
    while stack:
        token = stack.pop()
        if token["level"] >= 2:
            ids.append(token["id"])
        stack.extend(reversed(token["children"]))
    return ids


def test_heading_ids_are_the_slugs_and_explicit_ids_of_the_site() -> None:
    text = "# Title\n\n## The backlog, and why it is backlog + 1\n\n```sh\n# not a heading\n```\n\n### 上限 {#the-limits}\n"
    assert _heading_ids(text) == ["the-backlog-and-why-it-is-backlog-1", "the-limits"]


def test_every_chinese_page_has_its_english_pages_sections_in_the_same_order() -> None:
    """Every pair of pages in docs/ and docs/zh/: the Chinese page's headings carry the English
    page's anchors, each of them and no other, in the English order."""
    pairs = [p for p in _docs(DOCS / ZH) if (DOCS / p.removeprefix(ZH)).is_file()]
    assert len(pairs) == len(_docs(DOCS / ZH)) >= 15
    different = {}
    for src in pairs:
        chinese = _heading_ids((DOCS / src).read_text(encoding="utf-8"))
        english = _heading_ids((DOCS / src.removeprefix(ZH)).read_text(encoding="utf-8"))
        if chinese != english:
            different[src] = {"missing": [a for a in english if a not in chinese],
                              "extra": [a for a in chinese if a not in english], "order": chinese}
    assert different == {}


def _page_url(src: str) -> str:
    """The URL (from the site's root) of a documentation page, as MkDocs' directory URLs have it."""
    stem = src.removesuffix(".md")
    if stem == "index" or stem.endswith("/index"):
        return stem.removesuffix("index")
    return stem + "/"


def _follow(page_url: str, href: str) -> str:
    """A relative href of the page at `page_url`, as a URL from the site's root."""
    import posixpath

    joined = posixpath.normpath(posixpath.join(page_url or ".", href.split("#")[0]))
    return "" if joined == "." else joined + "/"


@pytest.mark.vendored
@pytest.mark.skipif(real_index_missing() is not None, reason=real_index_missing() or "")
def test_the_project_sites_chinese_pages_are_zh_and_switch_to_their_english_pages_and_back(published_site: PublishedSite) -> None:
    site = published_site.folder
    _, zh = _project_nav()
    for src in zh:
        url, english = _page_url(src), _page_url(src.removeprefix(ZH))
        html, english_html = _html(site, url), _html(site, english)
        assert '<html lang="zh"' in html, src
        assert '<html lang="en"' in english_html, src
        assert _follow(url, _switch(html)["en"]) == english, src
        assert _follow(english, _switch(english_html)["zh"]) == url, src
        # no line break between two Chinese characters of the prose (a browser draws it as a space)
        prose = re.sub(r"<(pre|code|script|style)\b.*?</\1>", "x", html, flags=re.S)  # code: not Chinese
        assert not re.search("[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]\\s*\n\\s*[\u4e00-\u9fff]", prose), src
    # previous and next lead through the Chinese navigation, in its order
    for before, after in itertools.pairwise(zh):
        nxt = re.search(r'<link rel="next" href="([^"]*)"', _html(site, _page_url(before)))
        prev = re.search(r'<link rel="prev" href="([^"]*)"', _html(site, _page_url(after)))
        assert nxt is not None and _follow(_page_url(before), nxt.group(1)) == _page_url(after), before
        assert prev is not None and _follow(_page_url(after), prev.group(1)) == _page_url(before), after


@pytest.mark.vendored
@pytest.mark.skipif(real_index_missing() is not None, reason=real_index_missing() or "")
def test_the_project_sites_font_subset_covers_every_cjk_character_of_the_chinese_pages(published_site: PublishedSite) -> None:
    from fontTools.ttLib import TTFont

    site = published_site.folder
    written = CjkCharacters()
    for src in _docs(DOCS / "zh"):
        written.add((DOCS / src).read_text(encoding="utf-8"))
    shown = CjkCharacters()
    for page in site.rglob("*.html"):
        shown.add(page.read_text(encoding="utf-8"))
    with TTFont(str(site / "assets" / "kernel-explorer" / "cjk.woff2")) as font:
        covered = {chr(cp) for cp in font.getBestCmap()}
    assert len(written.chars) > 500  # the Chinese edition, not a page or two
    assert written.chars <= shown.chars  # every character of the Chinese pages' Markdown is on the site
    assert sorted(shown.chars - covered) == []  # and the bundled subset has a glyph for each


@pytest.mark.vendored
@pytest.mark.skipif(real_index_missing() is not None, reason=real_index_missing() or "")
def test_the_project_sites_search_index_holds_the_chinese_pages_cut_into_words(published_site: PublishedSite) -> None:
    """Every Chinese page is in the search index with its text cut into words (U+200B between them,
    where the configured separator splits), and each term the site teaches jieba is a whole word on
    every page that uses it (or part of a longer such term): 全连接队列 is found inside a sentence."""
    import json

    from explorer.site.translation import SEARCH_TERMS

    index = json.loads((published_site.folder / "search" / "search_index.json").read_text(encoding="utf-8"))
    separator = re.compile(index["config"]["separator"])
    words: dict[str, set[str]] = {}
    for doc in index["docs"]:
        text = re.sub(r"<[^>]+>", " ", f"{doc['title']} {doc['text']}")
        words.setdefault(doc["location"].split("#")[0], set()).update(separator.split(text))
    terms = SEARCH_TERMS["zh"]
    _, zh = _project_nav()
    for src in zh:
        url = _page_url(src)
        assert url in words, f"{src} is not in the search index"
        chinese = {w for w in words[url] if len(w) > 1 and all("\u4e00" <= ch <= "\u9fff" for ch in w)}
        assert len(chinese) > 20, src  # words, not whole sentences as one run of characters
        prose = _CODE.sub("", (DOCS / src).read_text(encoding="utf-8"))
        for term in terms:
            if term in prose:
                assert any(t in words[url] for t in terms if term in t), (src, term)
