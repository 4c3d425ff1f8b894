"""The Chinese edition of the project's real site (built once per session, strictly, with lab results
recorded for it): every Chinese page in Chinese with a switch both ways and the English page's
heading anchors (every page pair), the lab result tables in the page's language with the same
numbers, a font subset covering every character, and search that finds a word of a new page."""

from __future__ import annotations

import html
import json
import posixpath
import re
from pathlib import Path

import pytest

from explorer.config import PACKAGE_ROOT
from explorer.labs import LABS
from explorer.labs.i18n import ZH
from explorer.labs.record import load_results
from explorer.site.i18n import CjkCharacters

from .conftest import PublishedSite
from .sitekit import real_index_missing

pytestmark = [pytest.mark.vendored, pytest.mark.skipif(real_index_missing() is not None, reason=real_index_missing() or "")]

DOCS = PACKAGE_ROOT / "docs"
# translated with the English page's every section: their headings must keep its anchors
WHOLE = ("walkthrough/syscall.md", "walkthrough/ipv6.md", "walkthrough/client.md", "labs/final-ack.md", "labs/reuseport.md")
_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def _url(src: str) -> str:
    """The folder URL MkDocs gives a page (use_directory_urls)."""
    stem = src[: -len(".md")]
    return "" if stem == "index" else (stem[: -len("/index")] if stem.endswith("/index") else stem) + "/"


def _html(site: Path, src: str) -> str:
    return (site / _url(src) / "index.html").read_text(encoding="utf-8")


def _switch(page: str) -> dict[str, str]:
    nav = re.search(r'<nav class="kx-lang"[^>]*>(.*?)</nav>', page, re.S)
    assert nav is not None, "no language switch"
    return {lang: href for href, lang in re.findall(r'<a class="kx-lang__link" href="([^"]*)" hreflang="([^"]*)"', nav.group(1))}


def _resolve(src: str, href: str) -> str:
    """The URL (from the site's root) that the relative `href` of page `src` leads to."""
    joined = posixpath.normpath(posixpath.join(_url(src) or ".", href.split("#", 1)[0]))
    return "" if joined == "." else joined + "/"


def _anchors(page: str) -> set[str]:
    return set(re.findall(r'<h[2-6] id="([^"]*)"', page))


def _article(page: str) -> str:
    return page.split('class="md-content"', 1)[1].split("</article>", 1)[0]


def test_every_chinese_page_is_chinese_and_switches_to_its_english_page_and_back(published_site: PublishedSite) -> None:
    site = published_site.folder
    sources = sorted(p.relative_to(DOCS / "zh").as_posix() for p in (DOCS / "zh").rglob("*.md"))
    assert set(WHOLE) <= set(sources)
    for src in sources:
        zh, en = _html(site, f"zh/{src}"), _html(site, src)
        assert '<html lang="zh"' in zh and '<html lang="en"' in en, src
        assert _resolve(f"zh/{src}", _switch(zh)["en"]) == _url(src), src
        assert _resolve(src, _switch(en)["zh"]) == _url(f"zh/{src}"), src
        assert len(_CJK.findall(_article(zh))) > 50, f"zh/{src} should be Chinese"
    for src in sources:  # every page pair, computed from docs/zh: the built headings keep the English anchors
        assert _anchors(_html(site, f"zh/{src}")) == _anchors(_html(site, src)), src


def test_the_chinese_navigation_lists_the_new_pages_in_the_english_order(published_site: PublishedSite) -> None:
    site = published_site.folder

    def order(src: str, prefix: str) -> list[str]:
        nav = _html(site, src).split("md-nav--primary", 1)[1].split('class="md-content"', 1)[0]
        urls = (_resolve(src, h) for h in re.findall(r'<a href="([^"]*)" class="md-nav__link', nav))
        return [u for u in dict.fromkeys(urls) if u.startswith(prefix)]

    en = order("walkthrough/index.md", "walkthrough/")
    zh = [u.removeprefix("zh/") for u in order("zh/walkthrough/index.md", "zh/walkthrough/")]
    new = [_url(s) for s in WHOLE if s.startswith("walkthrough/")]
    assert set(new) <= set(zh)
    assert [u for u in en if u in zh] == zh, "the Chinese chapters keep the English order"
    zh_labs = _html(site, "zh/labs/index.md")
    for src in WHOLE:
        if src.startswith("labs/"):
            assert f'href="{Path(src).stem}/"' in zh_labs, src  # linked from the Chinese labs index
    index = _html(site, "zh/walkthrough/index.md")
    assert all(f'href="{Path(s).stem}/"' in index for s in WHOLE if s.startswith("walkthrough/"))


def _tables(page: str) -> list[list[list[str]]]:
    """The generated part's tables (after the results heading): rows of cell texts."""
    part = page.split('id="results-recorded-when-this-site-was-built"', 1)[1]
    tables = []
    for table in re.findall(r"<table>(.*?)</table>", part, re.S):
        rows = []
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
            cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
            rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
        tables.append(rows)
    return tables


def test_lab_results_are_chinese_on_chinese_pages_and_english_on_english_ones(published_site: PublishedSite) -> None:
    site = published_site.folder
    english_words = [key for key in ZH if re.fullmatch(r"[A-Za-z][A-Za-z ()'-]*[A-Za-z)]", key) and " " in key]
    assert "late clients still ESTABLISHED" in english_words and "clients connecting" in english_words
    for lab in LABS:
        record = load_results(published_site.labs, lab.name)
        assert record is not None
        en, zh = _html(site, f"labs/{lab.name}.md"), _html(site, f"zh/labs/{lab.name}.md")
        en_part = en.split('id="results-recorded-when-this-site-was-built"', 1)[1]
        zh_part = zh.split('id="results-recorded-when-this-site-was-built"', 1)[1]
        assert "构建本站时记录的结果" in zh and "实验所验证的代码" in zh and "自己动手运行" in zh
        assert "Results recorded when this site was built" in en and not _CJK.search(en_part.split("</article>", 1)[0])
        if record.skipped:  # without root: the labs that need it say so, in the page's language
            assert "未在 Linux" in zh_part and "Not recorded on Linux" in en_part
            continue
        assert "记录于 Linux" in zh_part and "代码：" in zh_part and "Code:" not in zh_part.split("实验所验证的代码", 1)[0]
        results = zh_part.split("实验所验证的代码", 1)[0]  # the code excerpts after it are C, in any language
        for word in english_words:
            assert html.escape(word) not in results, (lab.name, word)
        en_tables, zh_tables = _tables(en), _tables(zh)
        assert len(en_tables) == len(zh_tables) >= len(record.runs), lab.name  # a run may show a second table
        for en_rows, zh_rows in zip(en_tables, zh_tables, strict=True):
            assert en_rows[0][0] in ("observation", "listener (in the order they listened)", "ICMP destination unreachable")
            assert _CJK.search(" ".join(zh_rows[0])) and not _CJK.search(" ".join(en_rows[0]))
            assert len(en_rows) == len(zh_rows)
            for en_row, zh_row in zip(en_rows[1:], zh_rows[1:], strict=True):
                # the same numbers in both languages; only the words around them change
                assert [re.findall(r"\d+", c) for c in en_row[1:]] == [re.findall(r"\d+", c) for c in zh_row[1:]], (lab.name, en_row, zh_row)
                assert _CJK.search(zh_row[0]) or zh_row[0] == en_row[0], zh_row  # a label, or a name kept as it is
        # every explanation is there in both, the Chinese one written from the same numbers
        explained = sum(len(run.result.explanations) for run in record.runs)
        assert en_part.count("Code:") == zh_part.count("代码：") == explained, lab.name


def test_the_bundled_font_covers_every_cjk_character_of_the_real_site(published_site: PublishedSite) -> None:
    from fontTools.ttLib import TTFont

    site = published_site.folder
    used = CjkCharacters()
    for page in site.rglob("*.html"):
        used.add(page.read_text(encoding="utf-8"))
    for src in WHOLE:  # the new pages' own characters are among them
        assert set(_CJK.findall(_article(_html(site, f"zh/{src}")))) <= used.chars
    with TTFont(str(site / "assets" / "kernel-explorer" / "cjk.woff2")) as font:
        covered = {chr(cp) for cp in font.getBestCmap()}
    assert used.chars <= covered, sorted(used.chars - covered)[:20]


def test_search_segments_the_new_pages_so_a_word_inside_a_sentence_is_a_term(published_site: PublishedSite) -> None:
    index = json.loads((published_site.folder / "search" / "search_index.json").read_text(encoding="utf-8"))
    separator = re.compile(index["config"]["separator"])
    for page, word in (("zh/walkthrough/client/", "临时端口"), ("zh/walkthrough/syscall/", "系统调用号"),
                       ("zh/labs/reuseport/", "监听套接字")):
        texts = [d["text"] for d in index["docs"] if d["location"].startswith(page)]
        assert texts, page
        sentences = [t for t in texts if word in re.sub(r"<[^>]+>|\u200b", "", t)]
        assert sentences, (page, word)
        # the word stands as one search term, between other words of its sentence
        terms = [separator.split(re.sub(r"<[^>]+>", " ", t)) for t in sentences]
        assert any(word in ts and len(ts) > 10 for ts in terms), (page, word)
