"""The site's translated edition: pages of another language under a folder of their own.

A translation of `walkthrough/listen.md` is `zh/walkthrough/listen.md` (URL
`/zh/walkthrough/listen/`); the navigation's section whose pages all live in that folder is the
translation's navigation. Each translated or translatable page gets a language switch leading
to the same page in the other language (its home page where there is no counterpart),
`<html lang>` of its language, its own navigation and previous/next links within its language.
Generated pages (source, symbols) are language-neutral and exist once.

Chinese also needs glyphs: `CjkCharacters` collects every CJK character the built pages use,
and `write_cjk_font` subsets an installed font (Debian's fonts-droid-fallback) to exactly those,
as WOFF2 with an `@font-face` limited to CJK code points, so that Chinese renders on a machine
without a CJK font and without any request to another host.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# the code points the bundled face serves (the browser asks for it only for these): CJK radicals,
# punctuation, kana, bopomofo, the unified ideographs and their extensions, compatibility
# ideographs, vertical and small forms, full-width forms
CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x2E80, 0x2FDF), (0x3000, 0x303F), (0x3040, 0x30FF), (0x3100, 0x312F), (0x31A0, 0x31BF),
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xFE10, 0xFE1F), (0xFE30, 0xFE4F),
    (0xFF00, 0xFFEF), (0x20000, 0x2FA1F),
)
_CJK_RX = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in CJK_RANGES) + "]")

FONT_FAMILY = "kx-cjk"
FONT_FILE = "cjk.woff2"
CSS_FILE = "cjk.css"
# Debian's fonts-droid-fallback (Apache-2.0): one TrueType file of 4 MB with the CJK ideographs
DEFAULT_CJK_FONT = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"


class FontError(Exception):
    """The CJK font could not be built; the message says what to install."""


@dataclass(frozen=True)
class Language:
    code: str  # the html lang attribute and the theme's language ("en", "zh")
    name: str  # as the language switch shows it
    prefix: str  # the folder of its pages in docs/, "" for the main language


NAMES = {"en": "English", "zh": "中文"}


@dataclass
class Edition:
    """The main language and one translation, and which page is which."""

    main: Language
    other: Language

    @classmethod
    def of(cls, main: str, other: str) -> Edition:
        return cls(Language(main, NAMES.get(main, main), ""), Language(other, NAMES.get(other, other), f"{other}/"))

    def language_of(self, src_uri: str) -> Language:
        return self.other if src_uri.startswith(self.other.prefix) else self.main

    def counterpart(self, src_uri: str) -> str:
        """The same page's src_uri in the other language (it may not exist)."""
        if src_uri.startswith(self.other.prefix):
            return src_uri[len(self.other.prefix):]
        return self.other.prefix + src_uri

    def home(self, language: Language) -> str:
        return language.prefix + "index.md"


@dataclass(frozen=True)
class Switch:
    """One entry of a page's language switch."""

    name: str  # the language's own name
    url: str  # the target page's URL from the site's root
    lang: str
    same_page: bool  # the same page in that language (else that language's home page)


def language_switch(edition: Edition, src_uri: str, urls: dict[str, str]) -> list[Switch]:
    """Both languages, each leading to this page in it (or to its home page where there is none).

    `urls` maps the src_uri of every documentation page to its URL."""
    here = edition.language_of(src_uri)
    entries = []
    for language in (edition.main, edition.other):
        target = src_uri if language == here else edition.counterpart(src_uri)
        same = target in urls
        if not same:
            target = edition.home(language)
        url = urls.get(target)
        if url is not None:
            entries.append(Switch(language.name, url, language.code, same))
    return entries


def _href(page_url: str, target_url: str) -> str:
    """`target_url` relative to the page (the site's root, URL "", as ../ steps)."""
    from ..urls import relative_href

    if target_url:
        return relative_href(page_url, target_url)
    depth = page_url.rstrip("/").count("/") + 1 if page_url else 0
    return "../" * depth or "./"


SWITCH_LABEL = {"en": "Language", "zh": "语言"}
NO_COUNTERPART = {"en": "This page is not translated: the English home page", "zh": "本页尚无中文版：转到中文首页"}


def switch_html(entries: Iterable[Switch], here: Language, page_url: str) -> str:
    """The switch as HTML: the other languages as links (relative to the page), this one as text."""
    from html import escape

    items = []
    for entry in entries:
        name = escape(entry.name)
        if entry.lang == here.code:
            items.append(f'<span class="kx-lang__current" lang="{escape(entry.lang)}">{name}</span>')
            continue
        href = escape(_href(page_url, entry.url), quote=True)
        title = "" if entry.same_page else f' title="{escape(NO_COUNTERPART.get(entry.lang, ""), quote=True)}"'
        items.append(f'<a class="kx-lang__link" href="{href}" hreflang="{escape(entry.lang, quote=True)}" '
                     f'lang="{escape(entry.lang, quote=True)}"{title}>{name}</a>')
    label = escape(SWITCH_LABEL.get(here.code, "Language"), quote=True)
    return f'<nav class="kx-lang" aria-label="{label}">{" · ".join(items)}</nav>\n'


def relink(pages: Iterable[object]) -> None:
    """Previous/next links between consecutive pages of one language, in navigation order."""
    listed = list(pages)
    for i, page in enumerate(listed):
        setattr(page, "previous_page", listed[i - 1] if i > 0 else None)
        setattr(page, "next_page", listed[i + 1] if i + 1 < len(listed) else None)


@dataclass
class CjkCharacters:
    """Every CJK character the site's pages use (kept across `mkdocs serve` rebuilds)."""

    chars: set[str] = field(default_factory=set)

    def add(self, text: str) -> None:
        if not text.isascii():  # most generated source pages: a C-speed test, no regex
            self.chars.update(_CJK_RX.findall(text))

    def text(self) -> str:
        return "".join(sorted(self.chars))


def unicode_range() -> str:
    return ", ".join(f"U+{a:X}-{b:X}" for a, b in CJK_RANGES)


def font_css() -> str:
    """The @font-face of the bundled subset and the font stacks that fall back on it."""
    return (
        "@font-face {\n"
        f'  font-family: "{FONT_FAMILY}";\n'
        f'  src: url("{FONT_FILE}") format("woff2");\n'
        "  font-display: swap;\n"
        f"  unicode-range: {unicode_range()};\n"
        "}\n"
        # material's stacks (set on body) with, before the generic family, the common system CJK
        # fonts and then the bundled subset
        "body {\n"
        '  --md-text-font-family: -apple-system, BlinkMacSystemFont, Helvetica, Arial, "PingFang SC",'
        f' "Microsoft YaHei", "{FONT_FAMILY}", sans-serif;\n'
        '  --md-code-font-family: SFMono-Regular, Consolas, Menlo, monospace, "PingFang SC",'
        f' "Microsoft YaHei", "{FONT_FAMILY}";\n'
        "}\n"
    )


def write_cjk_font(source: Path, chars: str, target: Path, cache: Path | None = None) -> int:
    """Subset `source` to `chars` as WOFF2 at `target`; return its size in bytes.

    A subset already made from the same font for the same characters is copied from `cache`."""
    if not source.is_file():
        raise FontError(f"no CJK font at {source}: install Debian's fonts-droid-fallback (make setup does), "
                        "or set the plugin's `cjk_font` to a TrueType/OpenType font with CJK glyphs")
    stat = source.stat()
    key = hashlib.sha256(f"{source.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0{chars}".encode()).hexdigest()[:20]
    cached = cache / f"cjk-{key}.woff2" if cache is not None else None
    target.parent.mkdir(parents=True, exist_ok=True)
    if cached is not None and cached.is_file():
        data = cached.read_bytes()
    else:
        data = _subset(source, chars)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(".part")
            partial.write_bytes(data)
            partial.replace(cached)
            _prune(cached.parent, keep=8)
    target.write_bytes(data)
    return len(data)


def _prune(cache: Path, keep: int) -> None:
    """Only the newest subsets stay cached (each edit that adds a character makes another)."""
    subsets = sorted(cache.glob("cjk-*.woff2"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in subsets[keep:]:
        old.unlink(missing_ok=True)


def _subset(source: Path, chars: str) -> bytes:
    import io

    try:
        from fontTools import subset
        from fontTools.ttLib import TTFont, TTLibError
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise FontError(f"the CJK font needs fontTools and brotli ({exc}): pip install -e .") from None
    options = subset.Options()
    options.flavor = "woff2"
    options.notdef_outline = True
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]  # names, version, licence (Apache-2.0) and its URL
    options.name_languages = [0x409]
    try:
        with source.open("rb") as stream, TTFont(stream, lazy=True, fontNumber=0) as font:
            subsetter = subset.Subsetter(options)
            subsetter.populate(text=chars)
            subsetter.subset(font)
            font.flavor = "woff2"
            out = io.BytesIO()
            font.save(out)
    except (TTLibError, OSError, AssertionError, KeyError) as exc:
        raise FontError(f"cannot subset the CJK font {source}: {exc}") from None
    except ImportError as exc:  # brotli, imported when saving WOFF2
        raise FontError(f"WOFF2 needs brotli ({exc}): pip install -e .") from None
    return out.getvalue()
