"""The MkDocs side of the translated edition and the bundled CJK font (the logic is in `i18n`).

Per page, in `on_page_context` (MkDocs renders one page at a time): the theme's language
(`<html lang>`, material's own labels), the navigation of the page's language, and a language
switch at the top of the page's content (after the search plugin indexed it). After the page the
main language comes back, for the next page and the theme's own templates (404).

Not material's `extra.alternate`: its script fetches `sitemap.xml` beside every alternate link,
expecting each language at a root of its own, which a page-to-page switch is not (404s).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure import StructureItem
from mkdocs.structure.files import Files
from mkdocs.structure.nav import Navigation, Section
from mkdocs.structure.pages import Page
from mkdocs.utils.templates import TemplateContext

from ..config import cache_dir
from .i18n import (
    CSS_FILE,
    FONT_FILE,
    CjkCharacters,
    Edition,
    FontError,
    font_css,
    language_switch,
    relink,
    switch_html,
    write_cjk_font,
)

log = logging.getLogger("mkdocs.plugins.kernel_explorer")

# words jieba does not know as words, which readers search for whole: without them
# 全连接队列 is cut into 全 / 连接 / 队列 and a search for the term finds nothing
SEARCH_TERMS = {
    "zh": (
        "全连接队列", "半连接队列", "半连接", "三次握手", "四次挥手", "请求套接字", "子套接字", "监听套接字",
        "引用计数", "自旋锁", "软中断", "数据竞争", "写屏障", "丢包恢复",  # the chapters on request socks and concurrency
        "传输控制块", "协议族", "操作表", "哈希表", "已建立连接哈希表", "监听哈希表", "网络命名空间",
        "重传定时器", "重传超时", "延迟确认", "快速确认", "零窗口探测", "拥塞控制", "报文段", "同时打开",
        "初始序列号", "洪泛攻击", "快速打开", "延迟接受", "端口复用", "系统调用", "文件描述符", "套接字",
        "临时端口", "源端口", "目的端口", "绑定桶", "双栈", "映射地址", "系统调用号", "系统调用表",
    ),
}


@dataclass
class Translation:
    """The edition (None: one language only) and the font, for one build."""

    edition: Edition | None
    font: Path
    assets: str
    main_language: str
    nav_of: dict[str, Navigation] = field(default_factory=dict)  # language code → its navigation
    urls: dict[str, str] = field(default_factory=dict)  # src_uri → url of every documentation page

    @classmethod
    def configure(cls, config: MkDocsConfig, code: str | None, font: Path, assets: str) -> Translation:
        main = str(config.theme["language"] or "en")
        edition = None
        if code:
            if code == main or "/" in code or not code.replace("-", "").isalnum():
                raise PluginError(f"kernel-explorer: translation {code!r} must be a language code other than {main!r}")
            edition = Edition.of(main, code)
            _add_search_terms(code)
        config.extra_css.append(f"{assets}/{CSS_FILE}")
        return cls(edition, font, assets, main)

    # ------------------------------------------------------------------ navigation

    def on_nav(self, nav: Navigation, files: Files) -> None:
        self.urls = {f.src_uri: f.url for f in files.documentation_pages()}
        edition = self.edition
        if edition is None:
            return
        prefix = edition.other.prefix

        def translated(item: StructureItem) -> bool:
            pages = _pages_under(item)
            return bool(pages) and all(p.file.src_uri.startswith(prefix) for p in pages)

        main_items: list[StructureItem] = []
        other_items: list[StructureItem] = []
        for item in nav.items:
            if isinstance(item, Section) and translated(item):
                other_items.extend(item.children)
            else:
                main_items.append(item)
        main_pages = [p for p in nav.pages if not p.file.src_uri.startswith(prefix)]
        other_pages = [p for p in nav.pages if p.file.src_uri.startswith(prefix)]
        main_nav = Navigation(main_items, main_pages)
        other_nav = Navigation(other_items, other_pages)
        other_nav.homepage = next((p for p in other_pages if p.file.src_uri == edition.home(edition.other)), None)
        self.nav_of = {edition.main.code: main_nav, edition.other.code: other_nav}
        relink(main_pages)
        relink(other_pages)

    # ------------------------------------------------------------------ pages

    def on_page_context(self, context: TemplateContext, page: Page, config: MkDocsConfig) -> None:
        edition = self.edition
        if edition is None:
            return
        language = edition.language_of(page.file.src_uri)
        config.theme["language"] = language.code
        switch = switch_html(language_switch(edition, page.file.src_uri, self.urls), language, page.url)
        page.content = switch + (page.content or "")
        nav = self.nav_of.get(language.code)
        if nav is not None:
            context["nav"] = nav

    def mention_title(self, title: str, src_uri: str) -> str:
        """A page's title in a list of pages of both languages (a symbol page's commentary)."""
        if self.edition is None or self.edition.language_of(src_uri) is self.edition.main:
            return title
        return f"{title} ({self.edition.other.name})"

    def after_page(self, config: MkDocsConfig) -> None:
        if self.edition is None:
            return
        config.theme["language"] = self.main_language

    # ------------------------------------------------------------------ the font

    def write_font(self, chars: CjkCharacters, site_dir: Path) -> int:
        """cjk.css, and cjk.woff2 when the pages use CJK characters; the font's size in bytes."""
        folder = site_dir / self.assets
        folder.mkdir(parents=True, exist_ok=True)
        size = 0
        css = "/* no CJK characters on the site's pages: no font bundled */\n"
        if chars.chars:
            try:
                size = write_cjk_font(self.font, chars.text(), folder / FONT_FILE, cache_dir() / "fonts")
            except FontError as exc:
                raise PluginError(f"kernel-explorer: {exc}") from None
            css = font_css()
        (folder / CSS_FILE).write_text(css, encoding="utf-8")
        return size


def _pages_under(item: StructureItem) -> list[Page]:
    stack = [item]
    pages: list[Page] = []
    while stack:
        node = stack.pop()
        if isinstance(node, Page):
            pages.append(node)
        elif isinstance(node, Section):
            stack.extend(node.children)
    return pages


def _add_search_terms(code: str) -> None:
    """Teach jieba (which material's search plugin segments Chinese with) the site's terms."""
    terms = SEARCH_TERMS.get(code)
    if not terms:
        return
    try:
        import jieba
    except ImportError:
        log.warning("kernel-explorer: jieba is not installed: search cannot find Chinese words inside sentences "
                    "(pip install -e . installs it)")
        return
    jieba.setLogLevel(logging.WARNING)
    for term in terms:
        jieba.add_word(term, freq=10**6)
