"""The MkDocs plugin `kernel-explorer`: the index as cross-linked source, symbol and folder pages,
for each kernel of the option `kernels` (the first the default the commentary links into), with
a version switch, diffs between the kernels (`versions`) and "defined elsewhere" pages for the
definitions in files without a page (`selection.source_files` decides which files have one).

Hooks only: each checks `enabled`, then hands off to objects that know nothing of MkDocs:
`selection` (which pages), `renderpool` (source pages highlighted in worker processes while
MkDocs reads the hand-written pages), `pagelinks` (where `[[...]]` links go), `pages` (what a
page holds), `sitedata` (the JSON the pages load) and, under `mkdocs serve`, `servecache`
(the last build's pages reused) or, under `mkdocs build`, `buildcache` (the pages of earlier
builds whose inputs are unchanged, a cache per kernel).  Generated pages are virtual (`File.generated`), out of the
navigation (mkdocs-material repeats the navigation in every page), and source pages are out
of the search index.  The index, the rendered pages and the caches live on the plugin
instance, which `mkdocs serve` keeps across rebuilds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import jinja2
from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, CombinedEvent, event_priority
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.nav import Link, Navigation
from mkdocs.structure.pages import Page
from mkdocs.utils.templates import TemplateContext

from ..annotations import Annotation
from ..config import ConfigError, Project
from ..escaping import html_attr, script_json
from ..urls import changes_uri, changes_url, elsewhere_key, relative, source_url, symbol_uri, symbol_url
from .buildcache import BuildCache, page_key, take_back, tree_digest
from .i18n import DEFAULT_CJK_FONT, CjkCharacters
from .links import SiteIndex
from .markdown import CommentaryLinkResolver, SymbolLinkExtension
from .pagelinks import EmbedKey, LinkTargets, PageLinkResolver
from .publish import (
    PageMeta,
    SiteUrlError,
    check_site_url,
    commentary_meta,
    folder_meta,
    html_title_text,
    page_url_of,
    robots_txt,
    source_date_epoch,
    source_meta,
    symbol_list_meta,
    symbol_meta,
    write_sitemap,
)
from .pages import REF_SHARDS, LinkContext, elsewhere_page, refs_html, symbol_page
from .renderpool import RenderJob, RenderPool
from .selection import CommentaryPage, PlannedPage, SymbolSelection, planned_pages, select_symbols, source_files
from .servecache import MemoryBytecodeCache, ServeCache, dest_of
from .sitedata import DataWriter, SiteData, data_paths, name_shards, names_files, names_key, refs_files, remap_refs
from .sourcepage import SourcePage
from .translation import Translation
from .versions import SymbolDiff, changes_page, short_name, diff_block, review_note, source_switch, symbol_diff, symbol_switch

log = logging.getLogger("mkdocs.plugins.kernel_explorer")

ASSETS = "assets/kernel-explorer"


class PluginConfig(base.Config):
    enabled = c.Type(bool, default=True)
    """Turn the plugin off (for example to preview prose quickly)."""
    snippets = c.Optional(c.Dir(exists=True))
    """The folder holding kernels.toml, the kernel trees and their indexes; default: kernel-snippets/ beside mkdocs.yml."""
    lab_results = c.Optional(c.Dir(exists=True))
    """The folder of results recorded by `kexplore lab record`; default: build/labs/ beside mkdocs.yml."""
    kernel = c.Optional(c.Type(str))
    """Which kernel of kernels.toml, for a site of one kernel; default: its `default`."""
    kernels = c.ListOfItems(c.Type(str), default=[])
    """The kernels of the site (each gets source and symbol pages and a version switch); the first
    is the one the commentary links into.  Default: [kernel]."""
    source_pages = c.Type(bool, default=True)
    """Generate source pages (for the files `source_paths` chooses)."""
    source_paths = c.ListOfItems(c.Type(str), default=[])
    """The folders and files whose files get source pages; empty: every indexed file."""
    source_includes = c.Type(bool, default=True)
    """With source_paths: also the files those files include."""
    source_defining_headers = c.Type(bool, default=True)
    """With source_paths: also the headers holding the definitions those files link to."""
    symbols = c.ListOfItems(c.Type(str), default=[])
    """Symbols that get a page, besides those the commentary links to."""
    jobs = c.Type(int, default=0)
    """Worker processes rendering source pages; 0 means one per core."""
    mermaid = c.Type(bool, default=True)
    """Bundle mermaid (from the npm registry, cached) for diagrams."""
    mermaid_version = c.Type(str, default="11.17.2")
    """The exact mermaid version bundled."""
    site_meta = c.Type(bool, default=True)
    """Describe every page (description, OpenGraph, canonical: needs `site_url`), write the sitemap of every page and robots.txt."""
    translation = c.Optional(c.Type(str))
    """A translation's language code ("zh"): its pages live in docs/CODE/, its navigation is the nav's section of them."""
    cjk_font = c.Type(str, default=DEFAULT_CJK_FONT)
    """The font whose glyphs for the CJK characters the pages use are bundled (assets/kernel-explorer/cjk.woff2)."""
    cache = c.Type(bool, default=True)
    """Under `mkdocs build`, reuse the generated pages of earlier builds whose inputs are unchanged."""
    cache_dir = c.Optional(c.Type(str))
    """Where that cache lives (a folder per kernel); default: $KEXPLORE_SITE_CACHE, else build/site-cache/ beside mkdocs.yml."""


@dataclass
class KernelSite:
    """One kernel of the site: its index, its render workers and data, kept across `mkdocs serve` rebuilds."""

    site: SiteIndex
    pool: RenderPool = field(default_factory=RenderPool)
    data: DataWriter = field(default_factory=DataWriter)
    embeds: dict[EmbedKey, str] = field(default_factory=dict)
    build_cache: BuildCache | None = None  # under `mkdocs build`: the pages of earlier builds (this build's)
    previous: Path | None = None  # the last build's folder of the kernel, moved aside (with the build cache)


@dataclass
class BuildState:
    """What one build decided in `on_files` for one kernel, for the hooks after it."""

    selection: SymbolSelection
    notes: dict[str, Annotation]
    targets: LinkTargets
    elsewhere: set[str] = field(default_factory=set)  # names the "defined elsewhere" pages list
    shards: tuple[str, ...] = ()  # the names shards of the data
    source_pages: dict[str, str] = field(default_factory=dict)  # src_uri → path, built in this build
    symbol_pages: dict[str, str] = field(default_factory=dict)  # src_uri → name, built in this build
    other_pages: dict[str, tuple[str, str]] = field(default_factory=dict)  # src_uri → (kind, subject): elsewhere, changes
    generated: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # src_uri → (kind, kernel, subject), every generated page
    keys: dict[str, str] = field(default_factory=dict)  # data part → key (with the build cache)
    page_elsewhere: dict[str, list[str]] = field(default_factory=dict)  # dest → names its links sent to "defined elsewhere" pages
    page_cjk: dict[str, str] = field(default_factory=dict)  # dest → the CJK characters of a generated page built now


@contextmanager
def index_errors(index_path: Path) -> Iterator[None]:
    """A damaged index, met at any hook, as one line naming the rebuild command."""
    from ..store import IndexDamaged, IndexMissing

    try:
        yield
    except IndexMissing:
        raise PluginError(
            f"kernel-explorer: no index at {index_path}: run `kexplore vendor` and `kexplore index` (or `make index`)"
        ) from None
    except IndexDamaged as exc:
        raise PluginError(f"kernel-explorer: {exc}") from None
    except sqlite3.DatabaseError as exc:  # a file that opened but breaks in a later query (truncated)
        raise PluginError(
            f"kernel-explorer: the index {index_path} is damaged ({exc}): rebuild it with `kexplore index --force`"
        ) from None


class KernelExplorerPlugin(BasePlugin[PluginConfig]):
    supports_multiple_instances = False

    def __init__(self) -> None:
        self.project: Project | None = None
        self.kernels: dict[str, KernelSite] = {}  # the site's kernels in order, the first the default
        self.builds: dict[str, BuildState] = {}
        self.page_kernel: dict[str, str] = {}  # generated page src_uri → its kernel, this build
        self.diffs: dict[str, SymbolDiff] = {}  # "older\0newer\0name" → the symbol's diff, this build
        self.serve_cache: ServeCache | None = None
        self.bytecode_cache: MemoryBytecodeCache | None = None
        self.resolver: CommentaryLinkResolver | None = None  # the current page's
        self.lab_results: Path | None = None
        self.timings: dict[str, float] = {}  # this build's own figures (under serve, the plugin outlives builds)
        self.page_urls: list[str] = []  # this build's pages, for the sitemap
        self.translation: Translation | None = None
        self.cjk = CjkCharacters()  # kept across `mkdocs serve` rebuilds: pages reused from the cache are not scanned
        self._t0 = 0.0
        self._started: set[str] = set()  # kernels whose render pool has started in this build
        self._command = ""
        self._cache_root: Path | None = None  # with the build cache
        self._common = ""  # what every generated page depends on (with the build cache)
        self._memo_page: tuple[Page, str, int, object] | None = None  # the page the search plugin is reading
        self._searched: list[str] = []  # dests of the generated pages, in the order of MkDocs' files (for the search index)
        self._digests: dict[str, str] = {}  # kernel → a digest of its files with pages, this build
        self._collect: tuple[str, str, set[str]] | None = None  # (kernel, dest, the names set aside) of the page being converted

    @property
    def site(self) -> SiteIndex | None:
        """The default kernel's index (the one the commentary links into)."""
        return next(iter(self.kernels.values())).site if self.kernels else None

    @property
    def build_cache(self) -> BuildCache | None:
        """The default kernel's build cache (under `mkdocs build` with `cache`), this build's."""
        return next(iter(self.kernels.values())).build_cache if self.kernels else None

    @property
    def build(self) -> BuildState | None:
        return self.builds.get(next(iter(self.kernels))) if self.kernels else None

    # ------------------------------------------------------------------ hooks

    def on_startup(self, *, command: str, dirty: bool) -> None:
        # MkDocs keeps a plugin with on_startup for the whole process: a build after a serve starts clean
        self._command = command
        self.serve_cache = ServeCache() if command == "serve" else None
        self.bytecode_cache = MemoryBytecodeCache() if command == "serve" else None

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig | None:
        if not self.config.enabled:
            return None
        started = time.perf_counter()
        self.timings = {}
        # both folders belong to the site (relative to its mkdocs.yml), never to this package's checkout
        base_dir = Path(config.config_file_path or ".").resolve().parent
        snippets = Path(self.config.snippets) if self.config.snippets else base_dir / "kernel-snippets"
        self.lab_results = Path(self.config.lab_results) if self.config.lab_results else base_dir / "build" / "labs"
        if not (snippets / "kernels.toml").is_file():
            raise PluginError(f"kernel-explorer: no kernels.toml in {snippets}: set the plugin's `snippets` option "
                              "to the folder holding kernels.toml and the indexes")
        try:
            project = Project.load(snippets)
            names: list[str | None] = list(self.config.kernels) or [self.config.kernel]
            specs = [project.kernel(name) for name in names]
            self.project = project
        except ConfigError as exc:
            raise PluginError(f"kernel-explorer: {exc}") from None
        if len({spec.name for spec in specs}) != len(specs):
            raise PluginError(f"kernel-explorer: `kernels` names a kernel twice: {', '.join(map(str, names))}")
        kept = self.kernels
        self.kernels = {}
        for spec in specs:
            index_path = project.index_path(spec.name)
            old = kept.get(spec.name)
            if old is None or old.site.index_path != index_path or not old.site.is_current():
                with index_errors(index_path):
                    site = SiteIndex.load(spec.name, index_path, project.tree(spec.name))
                if old is not None:
                    old.pool.close()
                old = KernelSite(site)
            self.kernels[spec.name] = old
        self._cache_root = None
        for ks in self.kernels.values():
            ks.build_cache = None
        if self._command == "build" and self.config.cache:
            root = Path(self.config.cache_dir or os.environ.get("KEXPLORE_SITE_CACHE") or base_dir / "build" / "site-cache")
            self._cache_root = root
            for kernel, ks in self.kernels.items():
                ks.build_cache = BuildCache.open(root / kernel)
        config.markdown_extensions.append(SymbolLinkExtension(self._current_resolver))
        if self.config.site_meta:
            _publishing_config(config)
        config.extra_css.append(f"{ASSETS}/explorer.css")
        for script in ("config.js", "explorer.js", "locals.js"):
            config.extra_javascript.append(f"{ASSETS}/{script}")
        # the translated edition and the bundled CJK font (explorer/site/translation.py); the characters
        # of the pages are kept across `mkdocs serve` rebuilds (reused pages are not scanned again)
        if self.serve_cache is None:
            self.cjk = CjkCharacters()
        self.translation = Translation.configure(config, self.config.translation, Path(self.config.cjk_font), ASSETS)
        self.timings["config"] = time.perf_counter() - started
        return config

    def on_files(self, files: Files, config: MkDocsConfig) -> Files | None:
        if not self.config.enabled or not self.kernels:
            return None
        self._plan(files, config)
        if self.config.site_meta:
            _publishing_files(files, config)
        return files

    def on_nav(self, nav: Navigation, *, config: MkDocsConfig, files: Files) -> Navigation | None:
        if not self.config.enabled or not self.builds:
            return None
        for kernel, build in self.builds.items():
            site = self.kernels[kernel].site
            for uri, path in build.source_pages.items():
                file = files.get_file_from_path(uri)
                if file is not None:
                    SourcePage(file, config, path, site.files.get(path, 0))
        for kernel in list(self.builds)[1:]:  # "What changed in 6.12", last in the navigation
            nav.items.append(Link(f"What changed in {short_name(kernel)}", changes_url(kernel)))
        if self.translation is not None:
            self.translation.on_nav(nav, files)
        return nav

    def on_env(self, env: jinja2.Environment, *, config: MkDocsConfig, files: Files) -> jinja2.Environment | None:
        if not self.config.enabled:
            return None
        templates = Path(__file__).parent / "templates"
        assert env.loader is not None
        env.loader = jinja2.ChoiceLoader([env.loader, jinja2.FileSystemLoader(str(templates))])
        if self._cache_root is not None:
            # compiling material's templates costs about a second each build: keep them compiled
            folder = self._cache_root / "jinja"
            folder.mkdir(parents=True, exist_ok=True)
            env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(folder))
        elif self.bytecode_cache is not None:
            # MkDocs makes a new template environment for every rebuild; keep the compiled
            # templates (about 0.7 s of material's) between rebuilds
            env.bytecode_cache = self.bytecode_cache
        # the pages of this build, for the sitemap (their canonical URLs are known once the navigation is)
        self.page_urls = [f.page.canonical_url for f in files.documentation_pages()
                          if f.page is not None and f.page.canonical_url]
        return env

    def on_pre_build(self, *, config: MkDocsConfig) -> None:
        if not self.config.enabled:
            return
        # MkDocs is about to empty the site folder: move each kernel's folder aside instead (a
        # rename), to take its reused pages back after the build
        for kernel, ks in self.kernels.items():
            ks.previous = None
            if ks.build_cache is None:
                continue
            folder = Path(config.site_dir) / kernel
            aside = ks.build_cache.folder / "previous-site"
            if aside.exists():
                shutil.rmtree(aside, ignore_errors=True)
            if folder.is_dir() and not folder.is_symlink():
                try:
                    aside.parent.mkdir(parents=True, exist_ok=True)
                    os.rename(folder, aside)
                    ks.previous = aside
                except OSError:  # another file system: MkDocs removes it
                    pass

    def on_page_markdown(self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str | None:
        if not self.config.enabled or not self.builds:
            return None
        kernel = self.page_kernel.get(page.file.src_uri, next(iter(self.kernels)))
        uri = page.file.src_uri
        if uri in self.page_kernel and self.kernels[kernel].build_cache is not None and uri not in self.builds[kernel].other_pages:
            # the names this page sends to "defined elsewhere" pages, kept with it in the cache (a build
            # that reuses it gives them to those pages without converting it)
            ctx = self.builds[kernel].targets.link_context
            self._collect = (kernel, page.file.dest_uri, ctx.elsewhere)
            ctx.elsewhere = set()
        with index_errors(self.kernels[kernel].site.index_path):
            return self._page_markdown(markdown, page, config, kernel)

    def on_page_content(self, html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str | None:
        if not self.config.enabled or not self.kernels:
            return None
        self.resolver = None
        if self._collect is not None:
            kernel, dest, kept = self._collect
            self._collect = None
            ctx = self.builds[kernel].targets.link_context
            added, ctx.elsewhere = ctx.elsewhere, kept
            kept.update(added)
            if added:
                self.builds[kernel].page_elsewhere[dest] = sorted(added)
        return None

    # before the search plugin's: a hand-written page it indexed the same way last time is not indexed again
    @event_priority(60)
    def _on_page_context_before_search(self, context: TemplateContext, *, page: Page, config: MkDocsConfig,
                                       nav: Navigation) -> TemplateContext | None:
        if self.config.enabled and self._cache_root is not None and page.file.generated_by is None:
            self._search_memo(page, config)
        return None

    # after every plugin's: the page's meta as it was, before the template reads it
    @event_priority(-60)
    def _on_page_context_after_all(self, context: TemplateContext, *, page: Page, config: MkDocsConfig,
                                   nav: Navigation) -> TemplateContext | None:
        if self.config.enabled:
            self._search_memo_done(page, config)
        return None

    def _on_page_context(self, context: TemplateContext, *, page: Page, config: MkDocsConfig,
                         nav: Navigation) -> TemplateContext | None:
        if not self.config.enabled or not self.builds:
            return None
        if self.translation is not None and not page.file.generated_by:
            self.translation.on_page_context(context, page, config)
        uri = page.file.src_uri
        kernel = self.page_kernel.get(uri)
        path = self.builds[kernel].source_pages.get(uri) if kernel is not None else None
        if kernel is not None and path is not None:
            ks = self.kernels[kernel]
            with index_errors(ks.site.index_path):
                try:
                    rendered = self._pool(kernel).result(path).html
                except LookupError as exc:
                    raise PluginError(f"kernel-explorer: {exc}") from None
            switch = ""
            if len(self.kernels) > 1:
                switch = source_switch([k.site for k in self.kernels.values()], kernel, path, source_url(kernel, path))
            page.content = switch + rendered
            if self.serve_cache is None:
                ks.pool.release(path)  # written once: keep only its references
            context["page"] = page
        if self.config.site_meta:
            # a key of the template's own, read by kernel-explorer/meta.html (TemplateContext lists MkDocs' keys)
            cast("dict[str, object]", context)["kx_meta"] = self._page_meta(page, config)
        return context

    on_page_context = CombinedEvent(_on_page_context_before_search, _on_page_context, _on_page_context_after_all)

    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str | None:
        if not self.config.enabled or not self.builds:
            return None
        uri = page.file.src_uri
        kernel = self.page_kernel.get(uri)
        if kernel is not None and self.kernels[kernel].build_cache is not None:
            chars = CjkCharacters()  # kept with the page in the cache: the font of a build that reuses it has them
            chars.add(output)
            if chars.chars:
                self.builds[kernel].page_cjk[page.file.dest_uri] = chars.text()
                self.cjk.chars.update(chars.chars)
        else:
            self.cjk.add(output)
        if self.translation is not None:
            self.translation.after_page(config)
        if kernel is None:
            return None
        if self.serve_cache is not None and uri != f"{kernel}/source/index.md":
            self.serve_cache.page_built(page.file.dest_uri)
        if uri in self.builds[kernel].source_pages:
            page.content = ""  # written: MkDocs would keep every source page's HTML until the build ends
        # the theme's indentation is a third of a small page: 2,000 generated pages carry it
        return _squeeze(output)

    @event_priority(50)  # before the search plugin writes its index: reused pages' entries go in first
    def on_post_build(self, config: MkDocsConfig) -> None:
        if not self.config.enabled or not self.builds:
            return
        search = self._splice_search(config) if self._cache_root is not None else {}
        for kernel in self.builds:
            with index_errors(self.kernels[kernel].site.index_path):
                if self.kernels[kernel].build_cache is not None:
                    self._end_cached_build(Path(config.site_dir), kernel, search)
                else:
                    self._write_back_and_data(Path(config.site_dir), kernel)
        if self.config.site_meta and config.site_url:
            self._write_sitemap(Path(config.site_dir), config.site_url)
        if self.translation is not None:
            started = time.perf_counter()
            size = self.translation.write_font(self.cjk, Path(config.site_dir))
            self.timings["cjk font"] = time.perf_counter() - started
            log.info(f"kernel-explorer: CJK font subset: {len(self.cjk.chars)} characters, {size:,} bytes, "
                     f"{self.timings['cjk font']:.2f} s")
        log.info("kernel-explorer timings (s): %s", {k: round(v, 2) for k, v in self.timings.items()})

    def on_shutdown(self) -> None:
        for ks in self.kernels.values():
            ks.pool.close()
            ks.site.close()
        if self.serve_cache is not None:
            self.serve_cache.remove()

    def on_build_error(self, *, error: Exception) -> None:
        for ks in self.kernels.values():
            ks.pool.close()
            ks.site.close()

    # ------------------------------------------------------------------ the steps the hooks hand off to

    def _current_resolver(self) -> CommentaryLinkResolver:
        if self.resolver is None:  # Markdown converted outside a page (another plugin): no page to name
            raise PluginError("kernel-explorer: [[...]] used outside a page")
        return self.resolver

    def _plan(self, files: Files, config: MkDocsConfig) -> None:
        """Decide the generated pages of every kernel, add them (and the assets) to `files`, start rendering."""
        started = time.perf_counter()
        from ..annotations import by_symbol

        # annotations (pages with `annotations: true`) show on symbol pages and in hover cards
        notes = by_symbol(Path(config.docs_dir))
        commentary = [CommentaryPage(f.src_uri, f.content_string) for f in files.documentation_pages() if not f.generated_by]
        cache = self.serve_cache
        if cache is not None:
            cache.begin_build()
        self.builds = {}
        self.page_kernel = {}
        self.diffs = {}
        self._searched = []
        self._digests = {}

        def add(src_uri: str, content: str | bytes, page: bool = True) -> None:
            files.append(File.generated(config, src_uri, content=content,
                                        inclusion=InclusionLevel.NOT_IN_NAV if page else InclusionLevel.UNDEFINED))

        kernel_data: dict[str, dict[str, object]] = {}
        for kernel, ks in self.kernels.items():  # first what every kernel's pages depend on
            site = ks.site
            with index_errors(site.index_path):
                site.pages = (source_files(site, self.config.source_paths, self.config.source_includes,
                                           self.config.source_defining_headers) if self.config.source_pages else frozenset())
                selection = select_symbols(site, self.config.symbols, notes, commentary)
                if selection.unknown and kernel == next(iter(self.kernels)):
                    log.warning(f"kernel-explorer: mkdocs.yml lists symbols the index does not know: {', '.join(selection.unknown)}")
                link_context = LinkContext(kernel, selection.names, site.pages)
                self.builds[kernel] = BuildState(selection, notes, LinkTargets(site, link_context, ks.embeds))
        if self._cache_root is not None:
            self._common = self._common_key(config)
        for kernel, ks in self.kernels.items():
            site = ks.site
            build = self.builds[kernel]
            selection = build.selection
            with index_errors(site.index_path):
                build.elsewhere, build.shards = self._elsewhere_and_shards(kernel)
                reuse = self._cache_plan(kernel, notes, commentary)
                for planned in planned_pages(site, selection, self.config.source_pages):
                    self.page_kernel[planned.src_uri] = kernel
                    build.generated[planned.src_uri] = (planned.kind, kernel, planned.subject)
                    self._searched.append(dest_of(planned.src_uri))
                    if cache is not None and cache.reuse_page(planned, selection.inputs_of(planned.subject, notes)):
                        continue
                    if reuse is not None and reuse(planned):
                        continue
                    if planned.kind == "source":
                        build.source_pages[planned.src_uri] = planned.subject
                    elif planned.kind == "symbol":
                        build.symbol_pages[planned.src_uri] = planned.subject
                    elif planned.kind == "elsewhere":
                        build.other_pages[planned.src_uri] = ("elsewhere", planned.subject)
                    add(planned.src_uri, planned.markdown)
            kernel_data[kernel] = {"data": f"{kernel}/_kx/", "source": f"{kernel}/source/", "symbol": f"{kernel}/symbol/",
                                   "elsewhere": f"{kernel}/elsewhere/", "shards": list(build.shards),
                                   "pages": None if site.pages is None else len(site.pages)}
        first = next(iter(self.kernels))
        for kernel in list(self.kernels)[1:]:  # "What changed in 6.12": the default kernel against each other one
            uri = changes_uri(kernel)
            self.page_kernel[uri] = kernel
            self.builds[kernel].other_pages[uri] = ("changes", first)
            self.builds[kernel].generated[uri] = ("changes", kernel, first)
            self._searched.append(dest_of(uri))
            add(uri, "")

        here = Path(__file__).parent / "assets"
        for name in ("explorer.css", "explorer.js", "locals.js"):
            files.append(File.generated(config, f"{ASSETS}/{name}", abs_src_path=str(here / name)))
        add(f"{ASSETS}/config.js", _config_js(first, kernel_data, self.config.mermaid), page=False)
        if self.config.mermaid:
            from .mermaid import MermaidError, ensure_mermaid

            try:
                mermaid = ensure_mermaid(self.config.mermaid_version)
            except MermaidError as exc:
                raise PluginError(f"kernel-explorer: {exc}") from None
            files.append(File.generated(config, f"{ASSETS}/mermaid.min.js", abs_src_path=str(mermaid)))

        # the default kernel's source pages render now, while MkDocs reads the hand-written pages; the
        # next kernel's when its first page is written (`_pool`): one kernel's pages in memory at a time
        self._started = set()
        self._pool(first)
        self.timings["files"] = time.perf_counter() - started
        self._t0 = time.perf_counter()

    def _pages_digest(self, kernel: str) -> str:
        """A digest of which files of `kernel` have source pages (this build)."""
        found = self._digests.get(kernel)
        if found is None:
            pages = self.kernels[kernel].site.pages
            found = "all" if pages is None else hashlib.sha256("\n".join(sorted(pages)).encode()).hexdigest()
            self._digests[kernel] = found
        return found

    def _elsewhere_and_shards(self, kernel: str) -> tuple[set[str], tuple[str, ...]]:
        """The names the "defined elsewhere" pages list (from the index) and the names shards of the data;
        with the build cache, those of the last build when the index and the files with pages are the same."""
        ks = self.kernels[kernel]
        site, cache = ks.site, ks.build_cache
        key = page_key(self._common, list(site.stamp), self._pages_digest(kernel))  # (the code reading them too)
        if cache is not None:
            got = cache.extra.get("elsewhere")
            if isinstance(got, dict) and got.get("key") == key:
                cache.extra_now["elsewhere"] = got
                return set(got["names"]), tuple(got["shards"])
        elsewhere = site.elsewhere_names()
        shards = tuple(name_shards(site.page_names() | elsewhere))
        if cache is not None:
            cache.extra_now["elsewhere"] = {"key": key, "names": sorted(elsewhere), "shards": list(shards)}
        return elsewhere, shards

    def _cache_plan(self, kernel: str, notes: dict[str, Annotation],
                    commentary: list[CommentaryPage]) -> Callable[[PlannedPage], bool] | None:
        """With the build cache: a function telling whether a planned page of `kernel` is reused (and left out)."""
        ks = self.kernels[kernel]
        site, cache, build = ks.site, ks.build_cache, self.builds[kernel]
        if cache is None:
            return None
        cache.reused, cache.built = [], {}
        selection = build.selection
        common = self._common
        # a page of one kernel shows the others too (version switch, diffs): every kernel's index and pages
        kernels = [(k, list(o.site.stamp), self._pages_digest(k)) for k, o in self.kernels.items()]
        refs_key = page_key(common, list(site.stamp), self._pages_digest(kernel), "refs")
        build.keys = {"refs": refs_key}
        # the source pages' links and the references data come from the same renders
        sources_ok = cache.data_current("refs", refs_key)
        source_base = page_key(common, kernels)
        # a source page links the name at a definition to its symbol page: the files defining (or
        # using) a name that gained or lost a page are built again
        affected: set[str] = set()
        if sources_ok:
            for name in sorted(cache.names ^ selection.names):
                affected.update(d.path for d in site.lookup(name))
                affected.update(path for path, _line, _role in site.uses(name))
        nav = page_key(sorted((p.src_uri, _title_lines(p.markdown)) for p in commentary))
        pages_key = page_key(common, nav, kernels, [(k, sorted(b.selection.names)) for k, b in self.builds.items()])
        tree = site.tree
        ctx = build.targets.link_context

        def reused(dest: str, key: str) -> bool:
            if not cache.reuse(dest, key):
                return False
            names, chars = cache.page_extra(dest)
            ctx.elsewhere.update(names)
            self.cjk.chars.update(chars)
            return True

        def reuse(planned: PlannedPage) -> bool:
            dest = dest_of(planned.src_uri)
            if planned.kind == "source":
                path = planned.subject
                try:
                    st = (tree / path).stat()
                except OSError:
                    return False
                key = page_key(source_base, site.hashes.get(path), st.st_size, st.st_mtime_ns)
                if not sources_ok or path in affected:
                    cache.built[dest] = key
                    return False
                return reused(dest, key)
            if planned.kind == "folder" and planned.subject:  # the top folder: hand-written pages may link it
                return reused(dest, page_key(common, nav, kernels, planned.markdown))
            if planned.kind == "symbol":
                name = planned.subject
                note = notes.get(name)
                return reused(dest, page_key(pages_key, name, selection.mentions.get(name, []),
                                             [note.text, note.reviewed] if note is not None else None))
            return False

        return reuse

    def _common_key(self, config: MkDocsConfig) -> str:
        """What every generated page depends on: this package's code, templates and assets, the
        versions of what renders, mkdocs.yml and the theme's own templates."""
        from importlib.metadata import PackageNotFoundError, version

        versions: list[tuple[str, str | None]] = []
        for dist in ("mkdocs", "mkdocs-material", "pygments", "markdown", "pymdown-extensions", "jinja2"):
            try:
                versions.append((dist, version(dist)))
            except PackageNotFoundError:
                versions.append((dist, None))
        custom = [Path(d) for d in config.theme.dirs if "site-packages" not in Path(d).parts]
        yml = Path(config.config_file_path).read_bytes() if config.config_file_path else b""
        return page_key(versions, tree_digest([Path(__file__).resolve().parent.parent, *custom]),
                        yml.decode("utf-8", "replace"), list(self.kernels), config.site_url, config.use_directory_urls)

    def _pool(self, kernel: str) -> RenderPool:
        """The render pool of `kernel`, started on first use (the other kernels' pools closed: their
        pages are written, MkDocs writes the kernels' pages one kernel after the other)."""
        ks = self.kernels[kernel]
        if kernel not in self._started:
            for other in self._started:
                self.kernels[other].pool.close()
            self._started.add(kernel)
            build = self.builds[kernel]
            ks.pool.start(RenderJob(ks.site, build.targets.link_context, tuple(build.source_pages.values()), self.config.jobs))
        return ks.pool

    def _diff(self, name: str, kernel: str) -> SymbolDiff | None:
        """`name` from the default kernel to `kernel` (or, on a page of the default kernel, to the next one)."""
        order = list(self.kernels)
        if len(order) < 2:
            return None
        older, newer = (order[0], kernel) if kernel != order[0] else (order[0], order[1])
        key = f"{older}\0{newer}\0{name}"
        found = self.diffs.get(key)
        if found is None:
            found = self.diffs[key] = symbol_diff(self.kernels[older].site, self.kernels[newer].site, name)
        return found

    def _page_markdown(self, markdown: str, page: Page, config: MkDocsConfig, kernel: str) -> str | None:
        build = self.builds[kernel]
        site = self.kernels[kernel].site
        uri = page.file.src_uri
        blocks: dict[str, str] = {}
        first = next(iter(self.builds))
        self.resolver = PageLinkResolver(build.targets, uri, page.url, blocks,
                                         self.builds[first].targets if kernel != first else None)
        if uri in build.source_pages:
            return ""
        name = build.symbol_pages.get(uri)
        if name is not None:
            return self._symbol_page(name, kernel, blocks, config)
        other = build.other_pages.get(uri)
        if other is not None:
            kind, subject = other
            if kind == "elsewhere":
                names = [n for n in build.elsewhere | build.targets.link_context.elsewhere if elsewhere_key(n) == subject]
                return elsewhere_page(site, subject, site.elsewhere_definitions(names), blocks)
            return self._changes_page(subject, kernel, blocks)
        if "<!-- kexplore-lab:" in markdown:
            # the labs' pages: results recorded by `kexplore lab record`, with live code excerpts
            from ..labs.render import expand_lab_markers

            assert self.project is not None
            edition = self.translation.edition if self.translation is not None else None
            language = edition.language_of(uri).code if edition is not None else "en"  # the tables in the page's language
            return expand_lab_markers(markdown, self.project, results_dir=self.lab_results, site_syntax=True,
                                      kernel=site.kernel, language=language)
        return None

    def _symbol_page(self, name: str, kernel: str, blocks: dict[str, str], config: MkDocsConfig) -> str:
        build = self.builds[kernel]
        site = self.kernels[kernel].site
        uri = symbol_uri(kernel, name)
        started = time.perf_counter()
        self.timings.setdefault("first symbol page", started - self._t0)
        mentions = [(title, posixpath.relpath(src, posixpath.dirname(uri))) for title, src in build.selection.mentions.get(name, [])]
        if self.translation is not None:  # pages of the translation say which language they are in
            mentions = [(self.translation.mention_title(title, src), href)
                        for (title, href), (_, src) in zip(mentions, build.selection.mentions.get(name, []), strict=True)]
        text = symbol_page(site, build.targets.link_context, name, mentions, blocks, build.notes, site.embedding(name),
                           Path(config.docs_dir))
        page_url = symbol_url(kernel, name)
        if len(self.kernels) > 1:
            diff = self._diff(name, kernel)
            pages = {k: b.selection.names for k, b in self.builds.items()}
            blocks["versions"] = symbol_switch([k.site for k in self.kernels.values()], kernel, name, page_url, pages)
            head, sep, rest = text.partition("\n\n")
            text = f"{head}{sep}[[source:@versions]]\n\n{rest}"
            note = build.notes.get(name)
            if note is not None:
                review = review_note(note, site, diff)
                if review:
                    blocks["review"] = review
                    text = text.replace("## Annotation\n\n", "## Annotation\n\n[[source:@review]]\n\n", 1)
            if diff is not None:
                blocks["diff"] = diff_block(diff, {k: ks.site for k, ks in self.kernels.items()}, page_url)
                text += f"\n## Changes from {diff.older} to {diff.newer}\n\n[[source:@diff]]\n"
        blocks["refs"] = refs_html(site, site.uses(name), page_url)
        text += "\n## References\n\n[[source:@refs]]\n"
        self.timings["symbol pages"] = self.timings.get("symbol pages", 0.0) + time.perf_counter() - started
        return text

    def _changes_page(self, older: str, kernel: str, blocks: dict[str, str]) -> str:
        """"What changed in KERNEL": the configured symbols (the connection-establishment path) and the annotated ones."""
        build = self.builds[kernel]
        names = list(dict.fromkeys([*self.config.symbols, *sorted(build.notes)]))
        diffs = {}
        for name in names:
            d = self._diff(name, kernel)
            assert d is not None
            diffs[name] = d
        names = [n for n in names if diffs[n].status != "absent"]
        sites = {k: ks.site for k, ks in self.kernels.items()}
        pages = {k: b.selection.names for k, b in self.builds.items()}
        return changes_page(sites[older], sites[kernel], names, diffs, sites, pages, changes_url(kernel), blocks)

    def _page_meta(self, page: Page, config: MkDocsConfig) -> PageMeta:
        """What the page says about itself (description, OpenGraph); material writes `page.meta.description`
        into the page as HTML, so it is set here, escaped for its attribute."""
        assert self.project is not None
        uri = page.file.src_uri
        kernel = self.page_kernel.get(uri)
        generated = self.builds[kernel].generated.get(uri) if kernel in self.builds else None
        if generated is None:
            title = config.site_name if page.is_homepage else html_title_text(str(page.meta.get("title") or page.title or config.site_name))
            described = page.meta.get("description")
            meta = commentary_meta(title, str(described) if described else None, page.markdown or "",
                                   config.site_description or "")
        else:
            kind, kernel, subject = generated
            kernel_title = self.project.kernel(kernel).title or kernel
            site = self.kernels[kernel].site
            if kind == "source":
                meta = source_meta(subject, kernel_title)
            elif kind == "folder":
                meta = folder_meta(subject, kernel_title)
            elif kind == "symbol":
                d = site.definition(subject)
                note = self.builds[kernel].notes.get(subject)
                meta = (symbol_meta(subject, d.kind, d.path, d.line, kernel_title, kerneldoc=self._kerneldoc(site, subject),
                                    annotation=note.text if note is not None else None)
                        if d is not None else PageMeta(subject, config.site_description or ""))
            elif kind == "elsewhere":
                meta = PageMeta(f"Defined elsewhere: {subject} ({kernel_title})",
                                f"Where the {kernel_title} names starting with {subject!r} that the site links to are defined,"
                                " in files without a page of their own: kind, file, line and signature.")
            elif kind == "changes":
                older = self.project.kernel(subject).title or subject
                meta = PageMeta(f"What changed in {kernel_title}",
                                f"The functions and structs of the TCP connection path, changed or unchanged from {older}"
                                f" to {kernel_title}, each with its diff.")
            else:
                meta = symbol_list_meta(kernel_title)
        page.meta["description"] = html_attr(meta.description)
        return meta

    @staticmethod
    def _kerneldoc(site: SiteIndex, name: str) -> str | None:
        """The summary of `name`'s kernel-doc comment, for its page's description (preferred to the annotation)."""
        for doc in site.kernel_docs(name).values():
            if doc.summary:
                return doc.summary
        return None

    def _write_sitemap(self, site_dir: Path, site_url: str) -> None:
        """The sitemap of every page: those MkDocs built and every generated page the plan holds, also
        those a cache (`mkdocs serve`) put back instead of building them."""
        urls = set(self.page_urls)
        for build in self.builds.values():
            urls.update(page_url_of(site_url, dest_of(uri)) for uri in build.generated)
        write_sitemap(site_dir, site_url, urls, source_date_epoch())

    def _end_cached_build(self, site_dir: Path, kernel: str, search: dict[str, list[dict[str, object]]]) -> None:
        """With the build cache: the reused pages and data of `kernel` into the site, this build's into the cache."""
        ks, build = self.kernels[kernel], self.builds[kernel]
        site, cache = ks.site, ks.build_cache
        assert cache is not None
        started = time.perf_counter()
        self.timings.setdefault("pages (from on_files to on_post_build)", started - self._t0)
        out = site_dir / kernel / "_kx"
        elsewhere = frozenset(build.elsewhere | build.targets.link_context.elsewhere)
        data = SiteData(site, build.selection.names, build.notes, elsewhere, build.shards)
        build.keys["names"] = page_key(self._common, list(site.stamp), self._pages_digest(kernel), names_key(data))
        current = {part: cache.data_current(part, key) for part, key in build.keys.items()}
        if ks.previous is not None:
            prefix = kernel + "/"
            keep = {d[len(prefix):] for d in cache.reused if d.startswith(prefix)}
            keep.update(f"_kx/{rel}" for part, ok in current.items() if ok for rel in cache.data_files(part))
            take_back(ks.previous, site_dir / kernel, keep)
            ks.previous = None
        if not all(current.values()):
            defs = site.data_definitions(elsewhere)
            paths = data_paths(site, defs)
            if not current["refs"]:  # every source page was built
                cache.store_data("refs", refs_files(paths, self._pool(kernel).refs()))
            else:
                cached = cache.read_data("refs")
                if json.loads(cached["files.json"]) != paths:
                    cache.store_data("refs", remap_refs(cached, paths))
            if not current["names"]:
                cache.store_data("names", names_files(data, defs, {p: i for i, p in enumerate(paths)}))
        for part in ("refs", "names"):
            cache.restore_data(part, out)
        ks.pool.close()
        cache.end_build(site_dir, build.selection.names, build.keys, search, build.page_elsewhere, build.page_cjk)
        built = sum(1 for uri in build.generated if uri in build.source_pages or uri in build.symbol_pages)
        log.info(f"kernel-explorer: {kernel}: built {built} generated pages, reused {len(cache.reused)} from the cache {cache.folder}")
        self.timings[f"waiting for renders ({kernel})"] = ks.pool.waited
        self.timings[f"cache and data ({kernel})"] = time.perf_counter() - started

    def _memo_cache(self) -> BuildCache | None:
        """The cache that keeps the search entries of hand-written pages (the default kernel's)."""
        return next(iter(self.kernels.values())).build_cache if self.kernels else None

    @staticmethod
    def _search_index(config: MkDocsConfig):  # type: ignore[no-untyped-def]
        """The search plugin's index (material's or MkDocs' own: a list `entries`), or None."""
        for plugin in config.plugins.values():
            index = getattr(plugin, "search_index", None)
            if isinstance(getattr(index, "entries", None), list):
                return index
        return None

    def _search_memo(self, page: Page, config: MkDocsConfig) -> None:
        """Before the search plugin reads a hand-written page: its entries of the last build when
        what the plugin reads (content, table of contents, URL, title, meta) is the same, and the
        plugin told to leave the page out (restored in `_search_memo_done`); else a mark, to keep
        what it adds."""
        memo = self._memo_cache()
        index = self._search_index(config)
        search_meta = page.meta.get("search") or {}
        if memo is None or index is None or not isinstance(search_meta, dict) or search_meta.get("exclude"):
            return
        key = page_key(self._common, page.url, page.content, str(page.title), str(page.toc),
                       {k: str(v) for k, v in page.meta.items()})
        cached = memo.memo.get(key)
        if cached is not None:
            index.entries.extend(cached)
            memo.memo_now[key] = cached
            self._memo_page = (page, key, -1, page.meta.get("search"))
            page.meta["search"] = {**search_meta, "exclude": True}
        else:
            self._memo_page = (page, key, len(index.entries), page.meta.get("search"))

    def _search_memo_done(self, page: Page, config: MkDocsConfig) -> None:
        pending = self._memo_page
        memo = self._memo_cache()
        if pending is None or pending[0] is not page or memo is None:
            return
        self._memo_page = None
        _page, key, mark, original = pending
        if mark < 0:
            if original is None:
                page.meta.pop("search", None)
            else:
                page.meta["search"] = original
            return
        index = self._search_index(config)
        if index is not None:
            memo.memo_now[key] = list(index.entries[mark:])

    def _splice_search(self, config: MkDocsConfig) -> dict[str, list[dict[str, object]]]:
        """Put the search entries of reused generated pages into the search plugin's index, in the
        order of a build without the cache; returns those of the pages built in this build."""
        index = self._search_index(config)
        if index is None:
            return {}
        order = self._searched
        urls = {dest[: -len("index.html")] if dest.endswith("index.html") else dest: dest for dest in order}
        caches = {k: ks.build_cache for k, ks in self.kernels.items() if ks.build_cache is not None}
        reused = {dest for cache in caches.values() for dest in cache.reused}
        fresh: dict[str, list[dict[str, object]]] = {}
        rest = []
        for entry in index.entries:
            dest = urls.get(str(entry.get("location", "")).split("#", 1)[0])
            if dest is None:
                rest.append(entry)
            else:
                fresh.setdefault(dest, []).append(entry)
        for dest in order:
            cache = caches.get(dest.split("/", 1)[0])
            rest.extend(cache.search_entries(dest) if dest in reused and cache is not None else fresh.get(dest, []))
        index.entries = rest
        return fresh

    def _write_back_and_data(self, site_dir: Path, kernel: str) -> None:
        build = self.builds[kernel]
        ks = self.kernels[kernel]
        site = ks.site
        started = time.perf_counter()
        cache = self.serve_cache
        if cache is not None and kernel == next(iter(self.builds)):
            cache.end_build(site_dir)
            if cache.reused:
                self.timings["pages written back"] = time.perf_counter() - started
                built = sum(len(b.symbol_pages) + len(b.source_pages) for b in self.builds.values())
                log.info(f"kernel-explorer: rebuilt {built} generated pages, reused {len(cache.reused)} from the last build")
        self.timings.setdefault("pages (from on_files to on_post_build)", started - self._t0)
        out = site_dir / kernel / "_kx"
        # under serve the data lives in the cache folder, written when it changes, linked each build
        home = cache.data_folder(kernel) if cache is not None else out
        elsewhere = frozenset(build.elsewhere | build.targets.link_context.elsewhere)
        ks.data.write(SiteData(site, build.selection.names, build.notes, elsewhere, build.shards), self._pool(kernel).refs, home)
        ks.pool.close()
        if home != out and not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            out.symlink_to(home, target_is_directory=True)
        self.timings[f"waiting for renders ({kernel})"] = ks.pool.waited
        self.timings[f"data ({kernel})"] = time.perf_counter() - started


def _title_lines(markdown: str) -> str:
    """What a hand-written page's title in the navigation comes from: its front matter and first
    level-1 heading (all of it when it has no such heading)."""
    head = ""
    if markdown.startswith("---"):
        end = markdown.find("\n---", 3)
        head = markdown[: end + 4] if end >= 0 else markdown
    m = re.search(r"^#[ \t].*$", markdown, re.M)
    return head + "\n" + (m.group(0) if m else markdown)


_PRE_RX = re.compile(r"(<pre\b.*?</pre>)", re.DOTALL)
_INDENT_RX = re.compile(r"\n\s+")


def _squeeze(html: str) -> str:
    """Drop the template's indentation and blank lines, outside <pre> (where the code is)."""
    parts = _PRE_RX.split(html)
    for i in range(0, len(parts), 2):
        parts[i] = _INDENT_RX.sub("\n", parts[i])
    return "".join(parts)


def _publishing_config(config: MkDocsConfig) -> None:
    """site_url checked; the plugin's theme folder (main.html: the page metadata) between a custom_dir and
    the theme; the plugin's sitemap instead of MkDocs' (which misses the pages `mkdocs serve` reuses,
    holds at most 50,000 URLs, and dates every page with the build)."""
    if config.site_url:
        try:
            config.site_url = check_site_url(config.site_url)
        except SiteUrlError as exc:
            raise PluginError(f"kernel-explorer: {exc}") from None
    else:  # not a warning: a site for a local preview need not have one
        log.info("kernel-explorer: no site_url in mkdocs.yml: no canonical links, no sitemap.xml, no robots.txt")
    theme_dir = str(Path(__file__).parent / "templates" / "theme")
    if theme_dir not in config.theme.dirs:
        config.theme.dirs.insert(1 if config.theme.custom_dir else 0, theme_dir)
    config.theme.static_templates.discard("sitemap.xml")


def _publishing_files(files: Files, config: MkDocsConfig) -> None:
    """No copy of MkDocs' sitemap template (no longer a template, it would be copied as a file); robots.txt
    unless docs/ has one."""
    theme_sitemap = files.get_file_from_path("sitemap.xml")
    docs = Path(config.docs_dir).resolve()
    if theme_sitemap is not None and theme_sitemap.abs_src_path and not Path(theme_sitemap.abs_src_path).resolve().is_relative_to(docs):
        files.remove(theme_sitemap)
    if config.site_url and files.get_file_from_path("robots.txt") is None:
        files.append(File.generated(config, "robots.txt", content=robots_txt(config.site_url)))


def _config_js(default: str, kernels: dict[str, dict[str, object]], mermaid: bool) -> str:
    """What the pages' script knows: each kernel's data, the default kernel's at the top level (a page
    of another kernel takes that kernel's, found by its URL)."""
    data: dict[str, object] = {
        "mermaid": f"{ASSETS}/mermaid.min.js" if mermaid else None,
        "kernel": default, **kernels[default], "kernels": kernels, "refShards": REF_SHARDS,
    }
    return "window.kernelExplorer = " + script_json(data) + ";\n"


__all__ = ["KernelExplorerPlugin", "PluginConfig", "relative", "source_url", "symbol_url"]
