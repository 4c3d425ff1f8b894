"""The MkDocs plugin `kernel-explorer`: the index as cross-linked source, symbol and folder pages,
for each kernel of the option `kernels` (the first the default the commentary links into), with
a version switch, diffs between the kernels (`versions`) and "defined elsewhere" pages for the
definitions in files without a page (`selection.source_files` decides which files have one).

Hooks only: each checks `enabled`, then hands off to objects that know nothing of MkDocs:
`selection` (which pages), `renderpool` (source pages highlighted in worker processes while
MkDocs reads the hand-written pages), `pagelinks` (where `[[...]]` links go), `pages` (what a
page holds), `sitedata` (the JSON the pages load) and, under `mkdocs serve`, `servecache`
(the last build's pages reused).  Generated pages are virtual (`File.generated`), out of the
navigation (mkdocs-material repeats the navigation in every page), and source pages are out
of the search index.  The index, the rendered pages and the caches live on the plugin
instance, which `mkdocs serve` keeps across rebuilds.
"""

from __future__ import annotations

import logging
import posixpath
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import jinja2
from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.nav import Link, Navigation
from mkdocs.structure.pages import Page
from mkdocs.utils.templates import TemplateContext

from ..annotations import Annotation
from ..config import ConfigError, Project
from ..escaping import html_attr, script_json
from ..urls import changes_uri, changes_url, elsewhere_key, relative, source_url, symbol_uri, symbol_url
from .links import SiteIndex
from .i18n import DEFAULT_CJK_FONT, CjkCharacters
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
from .selection import CommentaryPage, SymbolSelection, planned_pages, select_symbols, source_files
from .servecache import MemoryBytecodeCache, ServeCache, dest_of
from .sitedata import DataWriter, SiteData, name_shards
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


@dataclass
class KernelSite:
    """One kernel of the site: its index, its render workers and data, kept across `mkdocs serve` rebuilds."""

    site: SiteIndex
    pool: RenderPool = field(default_factory=RenderPool)
    data: DataWriter = field(default_factory=DataWriter)
    embeds: dict[EmbedKey, str] = field(default_factory=dict)


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

    @property
    def site(self) -> SiteIndex | None:
        """The default kernel's index (the one the commentary links into)."""
        return next(iter(self.kernels.values())).site if self.kernels else None

    @property
    def build(self) -> BuildState | None:
        return self.builds.get(next(iter(self.kernels))) if self.kernels else None

    # ------------------------------------------------------------------ hooks

    def on_startup(self, *, command: str, dirty: bool) -> None:
        # MkDocs keeps a plugin with on_startup for the whole process: a build after a serve starts clean
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
        if self.bytecode_cache is not None:
            # MkDocs makes a new template environment for every rebuild; keep the compiled
            # templates (about 0.7 s of material's) between rebuilds
            env.bytecode_cache = self.bytecode_cache
        # the pages of this build, for the sitemap (their canonical URLs are known once the navigation is)
        self.page_urls = [f.page.canonical_url for f in files.documentation_pages()
                          if f.page is not None and f.page.canonical_url]
        return env

    def on_page_markdown(self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str | None:
        if not self.config.enabled or not self.builds:
            return None
        kernel = self.page_kernel.get(page.file.src_uri, next(iter(self.kernels)))
        with index_errors(self.kernels[kernel].site.index_path):
            return self._page_markdown(markdown, page, config, kernel)

    def on_page_content(self, html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str | None:
        if not self.config.enabled or not self.kernels:
            return None
        self.resolver = None
        return None

    def on_page_context(self, context: TemplateContext, *, page: Page, config: MkDocsConfig,
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

    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str | None:
        if not self.config.enabled or not self.builds:
            return None
        self.cjk.add(output)
        if self.translation is not None:
            self.translation.after_page(config)
        uri = page.file.src_uri
        kernel = self.page_kernel.get(uri)
        if kernel is None:
            return None
        if self.serve_cache is not None and uri != f"{kernel}/source/index.md":
            self.serve_cache.page_built(page.file.dest_uri)
        if uri in self.builds[kernel].source_pages:
            page.content = ""  # written: MkDocs would keep every source page's HTML until the build ends
        # the theme's indentation is a third of a small page: 2,000 generated pages carry it
        return _squeeze(output)

    def on_post_build(self, config: MkDocsConfig) -> None:
        if not self.config.enabled or not self.builds:
            return
        for kernel in self.builds:
            with index_errors(self.kernels[kernel].site.index_path):
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
        if self.serve_cache is not None:
            self.serve_cache.remove()

    def on_build_error(self, *, error: Exception) -> None:
        for ks in self.kernels.values():
            ks.pool.close()

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

        def add(src_uri: str, content: str | bytes, page: bool = True) -> None:
            files.append(File.generated(config, src_uri, content=content,
                                        inclusion=InclusionLevel.NOT_IN_NAV if page else InclusionLevel.UNDEFINED))

        kernel_data: dict[str, dict[str, object]] = {}
        for kernel, ks in self.kernels.items():
            site = ks.site
            with index_errors(site.index_path):
                site.pages = (source_files(site, self.config.source_paths, self.config.source_includes,
                                           self.config.source_defining_headers) if self.config.source_pages else frozenset())
                selection = select_symbols(site, self.config.symbols, notes, commentary)
                if selection.unknown and kernel == next(iter(self.kernels)):
                    log.warning(f"kernel-explorer: mkdocs.yml lists symbols the index does not know: {', '.join(selection.unknown)}")
                link_context = LinkContext(kernel, selection.names, site.pages)
                build = self.builds[kernel] = BuildState(selection, notes, LinkTargets(site, link_context, ks.embeds))
                build.elsewhere = site.elsewhere_names()
                build.shards = tuple(name_shards(site.page_names() | build.elsewhere))
                for planned in planned_pages(site, selection, self.config.source_pages):
                    self.page_kernel[planned.src_uri] = kernel
                    build.generated[planned.src_uri] = (planned.kind, kernel, planned.subject)
                    if cache is not None and cache.reuse_page(planned, selection.inputs_of(planned.subject, notes)):
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
            return expand_lab_markers(markdown, self.project, results_dir=self.lab_results, site_syntax=True,
                                      kernel=site.kernel)
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
