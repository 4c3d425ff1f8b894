"""The MkDocs plugin `kernel-explorer`: the index as cross-linked source, symbol and folder pages.

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

import jinja2
from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, CombinedEvent, event_priority
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.nav import Navigation
from mkdocs.structure.pages import Page
from mkdocs.utils.templates import TemplateContext

from ..annotations import Annotation
from ..config import ConfigError, Project
from ..escaping import script_json
from ..urls import relative, source_url, symbol_url
from .links import SiteIndex
from .markdown import CommentaryLinkResolver, SymbolLinkExtension
from .pagelinks import EmbedKey, LinkTargets, PageLinkResolver
from .pages import REF_SHARDS, LinkContext, refs_html, symbol_page
from .buildcache import BuildCache, page_key, take_back, tree_digest
from .renderpool import RenderJob, RenderPool
from .selection import CommentaryPage, PlannedPage, SymbolSelection, planned_pages, select_symbols
from .servecache import MemoryBytecodeCache, ServeCache, dest_of
from .sitedata import DataWriter, SiteData, name_shards, names_files, names_key, refs_files
from .sourcepage import SourcePage

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
    """Which kernel of kernels.toml; default: its `default`."""
    source_pages = c.Type(bool, default=True)
    """Generate a page for every indexed file."""
    symbols = c.ListOfItems(c.Type(str), default=[])
    """Symbols that get a page, besides those the commentary links to."""
    jobs = c.Type(int, default=0)
    """Worker processes rendering source pages; 0 means one per core."""
    mermaid = c.Type(bool, default=True)
    """Bundle mermaid (from the npm registry, cached) for diagrams."""
    mermaid_version = c.Type(str, default="11.17.2")
    """The exact mermaid version bundled."""
    cache = c.Type(bool, default=True)
    """Under `mkdocs build`, reuse the generated pages of earlier builds whose inputs are unchanged."""
    cache_dir = c.Optional(c.Type(str))
    """Where that cache lives (a folder per kernel); default: $KEXPLORE_SITE_CACHE, else build/site-cache/ beside mkdocs.yml."""


@dataclass
class BuildState:
    """What one build decided in `on_files`, for the hooks after it."""

    selection: SymbolSelection
    notes: dict[str, Annotation]
    targets: LinkTargets
    source_pages: dict[str, str] = field(default_factory=dict)  # src_uri → path, built in this build
    symbol_pages: dict[str, str] = field(default_factory=dict)  # src_uri → name, built in this build
    searched: list[str] = field(default_factory=list)  # dests of the generated pages in the search index, in order
    keys: dict[str, str] = field(default_factory=dict)  # data part → key (with the build cache)


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
        self.site: SiteIndex | None = None
        self.build: BuildState | None = None
        self.pool = RenderPool()
        self.data = DataWriter()
        self.embeds: dict[EmbedKey, str] = {}  # kept across `mkdocs serve` rebuilds
        self.serve_cache: ServeCache | None = None
        self.build_cache: BuildCache | None = None
        self._command = ""
        self._previous: Path | None = None  # the last build's folder of the kernel, moved aside
        self._common = ""  # what every generated page depends on (with the build cache)
        self._memo_page: tuple[Page, str, int, object] | None = None  # the page the search plugin is reading
        self.bytecode_cache: MemoryBytecodeCache | None = None
        self.resolver: CommentaryLinkResolver | None = None  # the current page's
        self.lab_results: Path | None = None
        self.timings: dict[str, float] = {}  # this build's own figures (under serve, the plugin outlives builds)
        self._t0 = 0.0

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
            spec = project.kernel(self.config.kernel)
            self.project = project
        except ConfigError as exc:
            raise PluginError(f"kernel-explorer: {exc}") from None
        index_path = project.index_path(spec.name)
        site = self.site
        if site is None or site.index_path != index_path or site.kernel != spec.name or not site.is_current():
            if site is not None:
                site.close()
            with index_errors(index_path):
                self.site = SiteIndex.load(spec.name, index_path, project.tree(spec.name))
            self.pool.forget()
        self.build_cache = None
        if self._command == "build" and self.config.cache:
            cache_root = Path(self.config.cache_dir or os.environ.get("KEXPLORE_SITE_CACHE") or base_dir / "build" / "site-cache")
            self.build_cache = BuildCache.open(cache_root / spec.name)
        config.markdown_extensions.append(SymbolLinkExtension(self._current_resolver))
        config.extra_css.append(f"{ASSETS}/explorer.css")
        for script in ("config.js", "explorer.js"):
            config.extra_javascript.append(f"{ASSETS}/{script}")
        self.timings["config"] = time.perf_counter() - started
        return config

    def on_files(self, files: Files, config: MkDocsConfig) -> Files | None:
        if not self.config.enabled or self.site is None:
            return None
        with index_errors(self.site.index_path):
            self._plan(files, config)
        return files

    def on_nav(self, nav: Navigation, *, config: MkDocsConfig, files: Files) -> Navigation | None:
        if not self.config.enabled or self.site is None or self.build is None:
            return None
        for uri, path in self.build.source_pages.items():
            file = files.get_file_from_path(uri)
            if file is not None:
                SourcePage(file, config, path, self.site.files.get(path, 0))
        return nav

    def on_env(self, env: jinja2.Environment, *, config: MkDocsConfig, files: Files) -> jinja2.Environment | None:
        if not self.config.enabled:
            return None
        templates = Path(__file__).parent / "templates"
        assert env.loader is not None
        env.loader = jinja2.ChoiceLoader([env.loader, jinja2.FileSystemLoader(str(templates))])
        if self.build_cache is not None:
            # compiling material's templates costs about a second each build: keep them compiled
            env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(self._bytecode_folder()))
        elif self.bytecode_cache is not None:
            # MkDocs makes a new template environment for every rebuild; keep the compiled
            # templates (about 0.7 s of material's) between rebuilds
            env.bytecode_cache = self.bytecode_cache
        return env

    def on_pre_build(self, *, config: MkDocsConfig) -> None:
        if not self.config.enabled or self.site is None or self.build_cache is None:
            return
        # MkDocs is about to empty the site folder: move the kernel's folder aside instead (a
        # rename), to take its reused pages back after the build
        self._previous = None
        folder = Path(config.site_dir) / self.site.kernel
        aside = self.build_cache.folder / "previous-site"
        if aside.exists():
            shutil.rmtree(aside, ignore_errors=True)
        if folder.is_dir() and not folder.is_symlink():
            try:
                aside.parent.mkdir(parents=True, exist_ok=True)
                os.rename(folder, aside)
                self._previous = aside
            except OSError:  # another file system: MkDocs removes it
                pass

    def on_page_markdown(self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str | None:
        if not self.config.enabled or self.site is None or self.build is None:
            return None
        with index_errors(self.site.index_path):
            return self._page_markdown(markdown, page, config)

    def on_page_content(self, html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str | None:
        if not self.config.enabled or self.site is None:
            return None
        self.resolver = None
        return None

    # before the search plugin's: a hand-written page it indexed the same way last time is not indexed again
    @event_priority(60)
    def _on_page_context_before_search(self, context: TemplateContext, *, page: Page, config: MkDocsConfig,
                                       nav: Navigation) -> TemplateContext | None:
        if self.config.enabled and self.build_cache is not None and page.file.generated_by is None:
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
        if not self.config.enabled or self.site is None or self.build is None:
            return None
        path = self.build.source_pages.get(page.file.src_uri)
        if path is not None:
            with index_errors(self.site.index_path):
                try:
                    page.content = self.pool.result(path).html
                except LookupError as exc:
                    raise PluginError(f"kernel-explorer: {exc}") from None
            context["page"] = page
        return context

    on_page_context = CombinedEvent(_on_page_context_before_search, _on_page_context, _on_page_context_after_all)

    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str | None:
        if not self.config.enabled or self.site is None or self.build is None:
            return None
        uri = page.file.src_uri
        kernel = self.site.kernel
        if not (uri in self.build.source_pages or uri in self.build.symbol_pages or uri.startswith(f"{kernel}/source/")):
            return None
        if self.serve_cache is not None and uri != f"{kernel}/source/index.md":
            self.serve_cache.page_built(page.file.dest_uri)
        # the theme's indentation is a third of a small page: 2,000 generated pages carry it
        return _squeeze(output)

    @event_priority(50)  # before the search plugin writes its index: reused symbol pages' entries go in first
    def on_post_build(self, config: MkDocsConfig) -> None:
        if not self.config.enabled or self.site is None or self.build is None:
            return
        with index_errors(self.site.index_path):
            if self.build_cache is not None:
                self._end_cached_build(Path(config.site_dir), config)
            else:
                self._write_back_and_data(Path(config.site_dir))
        self.site.close()

    def on_shutdown(self) -> None:
        self.pool.close()
        if self.site is not None:
            self.site.close()
        if self.serve_cache is not None:
            self.serve_cache.remove()

    def on_build_error(self, *, error: Exception) -> None:
        self.pool.close()
        if self.site is not None:
            self.site.close()

    # ------------------------------------------------------------------ the steps the hooks hand off to

    def _current_resolver(self) -> CommentaryLinkResolver:
        if self.resolver is None:  # Markdown converted outside a page (another plugin): no page to name
            raise PluginError("kernel-explorer: [[...]] used outside a page")
        return self.resolver

    def _plan(self, files: Files, config: MkDocsConfig) -> None:
        """Decide the generated pages, add them (and the assets) to `files`, start rendering."""
        assert self.site is not None
        started = time.perf_counter()
        site = self.site
        kernel = site.kernel
        from ..annotations import by_symbol

        # annotations (pages with `annotations: true`) show on symbol pages and in hover cards
        notes = by_symbol(Path(config.docs_dir))
        commentary = [CommentaryPage(f.src_uri, f.content_string) for f in files.documentation_pages() if not f.generated_by]
        selection = select_symbols(site, self.config.symbols, notes, commentary)
        if selection.unknown:
            log.warning(f"kernel-explorer: mkdocs.yml lists symbols the index does not know: {', '.join(selection.unknown)}")
        link_context = LinkContext(kernel, selection.names)
        build = self.build = BuildState(selection, notes, LinkTargets(site, link_context, self.embeds))
        cache = self.serve_cache
        if cache is not None:
            cache.begin_build()
        reuse = self._cache_plan(site, selection, notes, commentary, config)

        def add(src_uri: str, content: str | bytes, page: bool = True) -> None:
            files.append(File.generated(config, src_uri, content=content,
                                        inclusion=InclusionLevel.NOT_IN_NAV if page else InclusionLevel.UNDEFINED))

        for planned in planned_pages(site, selection, self.config.source_pages):
            if planned.kind in ("symbol", "symbols"):
                build.searched.append(dest_of(planned.src_uri))
            if cache is not None and cache.reuse_page(planned, selection.inputs_of(planned.subject, notes)):
                continue
            if reuse is not None and reuse(planned):
                continue
            if planned.kind == "source":
                build.source_pages[planned.src_uri] = planned.subject
            elif planned.kind == "symbol":
                build.symbol_pages[planned.src_uri] = planned.subject
            add(planned.src_uri, planned.markdown)

        here = Path(__file__).parent / "assets"
        for name in ("explorer.css", "explorer.js"):
            files.append(File.generated(config, f"{ASSETS}/{name}", abs_src_path=str(here / name)))
        shards = None
        if self.build_cache is not None and self.build_cache.data_current("names", build.keys["names"]):
            # the names data is reused: its shards are known without reading every name
            shards = sorted(f[len("names/"):-len(".json")] for f in self.build_cache.data_files("names"))
        add(f"{ASSETS}/config.js", _config_js(kernel, shards if shards is not None else name_shards(site), self.config.mermaid),
            page=False)
        if self.config.mermaid:
            from .mermaid import MermaidError, ensure_mermaid

            try:
                mermaid = ensure_mermaid(self.config.mermaid_version)
            except MermaidError as exc:
                raise PluginError(f"kernel-explorer: {exc}") from None
            files.append(File.generated(config, f"{ASSETS}/mermaid.min.js", abs_src_path=str(mermaid)))

        self.pool.start(RenderJob(site, link_context, tuple(build.source_pages.values()), self.config.jobs))
        self.timings["files"] = time.perf_counter() - started
        self._t0 = time.perf_counter()

    def _cache_plan(self, site: SiteIndex, selection: SymbolSelection, notes: dict[str, Annotation],
                    commentary: list[CommentaryPage], config: MkDocsConfig) -> Callable[[PlannedPage], bool] | None:
        """With the build cache: a function telling whether a planned page is reused (and left out)."""
        cache = self.build_cache
        if cache is None or self.build is None:
            return None
        cache.reused, cache.built = [], {}
        common = self._common = self._common_key(config)
        index_id = list(site.stamp)
        refs_key = page_key(common, index_id, "refs")
        self.build.keys = {"refs": refs_key,
                           "names": page_key(common, index_id, names_key(SiteData(site, selection.names, notes)))}
        # the source pages' links and the references data come from the same renders
        sources_ok = cache.data_current("refs", refs_key)
        source_base = page_key(common, index_id)
        # a source page links the name at a definition to its symbol page: the files defining (or
        # using) a name that gained or lost a page are built again
        changed = cache.names ^ selection.names if sources_ok else frozenset()  # (else every one is built)
        affected: set[str] = set()
        for name in sorted(changed):
            affected.update(d.path for d in site.lookup(name))
            affected.update(path for path, _line, _role in site.uses(name))
        nav = page_key(sorted((p.src_uri, _title_lines(p.markdown)) for p in commentary))
        pages_key = page_key(common, nav, index_id, sorted(selection.names))
        tree = site.tree

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
                return cache.reuse(dest, key)
            if planned.kind == "folder" and planned.subject:  # the top folder: hand-written pages may link it
                return cache.reuse(dest, page_key(common, nav, planned.markdown))
            if planned.kind == "symbol":
                name = planned.subject
                note = notes.get(name)
                return cache.reuse(dest, page_key(pages_key, name, selection.mentions.get(name, []),
                                                  note.text if note is not None else None))
            return False

        return reuse

    def _bytecode_folder(self) -> Path:
        assert self.build_cache is not None
        folder = self.build_cache.folder.parent / "jinja"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

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
                        yml.decode("utf-8", "replace"), self.config.kernel, config.site_url, config.use_directory_urls)

    def _end_cached_build(self, site_dir: Path, config: MkDocsConfig) -> None:
        """With the build cache: the reused pages and data into the site, this build's into the cache."""
        assert self.site is not None and self.build is not None and self.build_cache is not None
        started = time.perf_counter()
        site, build, cache = self.site, self.build, self.build_cache
        search = self._splice_search(config)
        self.timings["pages (from on_files to on_post_build)"] = started - self._t0
        out = site_dir / site.kernel / "_kx"
        if self._previous is not None:
            kernel = site.kernel + "/"
            keep = {d[len(kernel):] for d in cache.reused if d.startswith(kernel)}
            keep.update(f"_kx/{rel}" for part in ("refs", "names") if cache.data_current(part, build.keys[part])
                        for rel in cache.data_files(part))
            take_back(self._previous, site_dir / site.kernel, keep)
            self._previous = None
        data = SiteData(site, build.selection.names, build.notes)
        for part, make in (("refs", lambda: refs_files(site, self.pool.refs())), ("names", lambda: names_files(data))):
            key = build.keys[part]
            if not cache.data_current(part, key):
                cache.store_data(part, make())
            cache.restore_data(part, out)
        self.pool.close()
        cache.end_build(site_dir, build.selection.names, build.keys, search)
        log.info(f"kernel-explorer: built {len(build.symbol_pages) + len(build.source_pages)} generated pages, "
                 f"reused {len(cache.reused)} from the cache {cache.folder}")
        self.timings["waiting for renders"] = self.pool.waited
        self.timings["cache and data"] = time.perf_counter() - started
        log.info("kernel-explorer timings (s): %s", {k: round(v, 2) for k, v in self.timings.items()})

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
        assert self.build_cache is not None
        index = self._search_index(config)
        search_meta = page.meta.get("search") or {}
        if index is None or not isinstance(search_meta, dict) or search_meta.get("exclude"):
            return
        key = page_key(self._common, page.url, page.content, str(page.title), str(page.toc),
                       {k: str(v) for k, v in page.meta.items()})
        cached = self.build_cache.memo.get(key)
        if cached is not None:
            index.entries.extend(cached)
            self.build_cache.memo_now[key] = cached
            self._memo_page = (page, key, -1, page.meta.get("search"))
            page.meta["search"] = {**search_meta, "exclude": True}
        else:
            self._memo_page = (page, key, len(index.entries), page.meta.get("search"))

    def _search_memo_done(self, page: Page, config: MkDocsConfig) -> None:
        memo = self._memo_page
        if memo is None or memo[0] is not page or self.build_cache is None:
            return
        self._memo_page = None
        _page, key, mark, original = memo
        if mark < 0:
            if original is None:
                page.meta.pop("search", None)
            else:
                page.meta["search"] = original
            return
        index = self._search_index(config)
        if index is not None:
            self.build_cache.memo_now[key] = list(index.entries[mark:])

    def _splice_search(self, config: MkDocsConfig) -> dict[str, list[dict[str, object]]]:
        """Put the search entries of reused symbol pages into the search plugin's index, in the
        order of a build without the cache; returns those of the pages built in this build."""
        assert self.build is not None and self.build_cache is not None
        index = self._search_index(config)
        if index is None:
            return {}
        order = self.build.searched
        urls = {dest[: -len("index.html")] if dest.endswith("index.html") else dest: dest for dest in order}
        fresh: dict[str, list[dict[str, object]]] = {}
        rest = []
        for entry in index.entries:
            dest = urls.get(str(entry.get("location", "")).split("#", 1)[0])
            if dest is None:
                rest.append(entry)
            else:
                fresh.setdefault(dest, []).append(entry)
        reused = set(self.build_cache.reused)
        for dest in order:
            rest.extend(self.build_cache.search_entries(dest) if dest in reused else fresh.get(dest, []))
        index.entries = rest
        return fresh

    def _page_markdown(self, markdown: str, page: Page, config: MkDocsConfig) -> str | None:
        assert self.site is not None and self.build is not None
        build = self.build
        uri = page.file.src_uri
        blocks: dict[str, str] = {}
        self.resolver = PageLinkResolver(build.targets, uri, page.url, blocks)
        if uri in build.source_pages:
            return ""
        name = build.symbol_pages.get(uri)
        if name is not None:
            started = time.perf_counter()
            self.timings.setdefault("first symbol page", started - self._t0)
            mentions = [(title, posixpath.relpath(src, posixpath.dirname(uri))) for title, src in build.selection.mentions.get(name, [])]
            site = self.site
            text = symbol_page(site, build.targets.link_context, name, mentions, blocks, build.notes, site.embedding(name),
                               Path(config.docs_dir))
            blocks["refs"] = refs_html(site, site.uses(name), page.url)
            text += "\n## References\n\n[[source:@refs]]\n"
            self.timings["symbol pages"] = self.timings.get("symbol pages", 0.0) + time.perf_counter() - started
            return text
        if "<!-- kexplore-lab:" in markdown:
            # the labs' pages: results recorded by `kexplore lab record`, with live code excerpts
            from ..labs.render import expand_lab_markers

            assert self.project is not None
            return expand_lab_markers(markdown, self.project, results_dir=self.lab_results, site_syntax=True,
                                      kernel=self.site.kernel)
        return None

    def _write_back_and_data(self, site_dir: Path) -> None:
        assert self.site is not None and self.build is not None
        started = time.perf_counter()
        site = self.site
        cache = self.serve_cache
        if cache is not None:
            cache.end_build(site_dir)
            if cache.reused:
                self.timings["pages written back"] = time.perf_counter() - started
                log.info(f"kernel-explorer: rebuilt {len(self.build.symbol_pages) + len(self.build.source_pages)} generated pages, "
                         f"reused {len(cache.reused)} from the last build")
        self.timings["pages (from on_files to on_post_build)"] = started - self._t0
        out = site_dir / site.kernel / "_kx"
        # under serve the data lives in the cache folder, written when it changes, linked each build
        home = cache.data_folder(site.kernel) if cache is not None else out
        self.data.write(SiteData(site, self.build.selection.names, self.build.notes), self.pool.refs, home)
        self.pool.close()
        if home != out and not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            out.symlink_to(home, target_is_directory=True)
        self.timings["waiting for renders"] = self.pool.waited
        self.timings["data"] = time.perf_counter() - started
        log.info("kernel-explorer timings (s): %s", {k: round(v, 2) for k, v in self.timings.items()})


_PRE_RX = re.compile(r"(<pre\b.*?</pre>)", re.DOTALL)
_INDENT_RX = re.compile(r"\n\s+")


def _title_lines(markdown: str) -> str:
    """What a hand-written page's title in the navigation comes from: its front matter and first
    level-1 heading (all of it when it has no such heading)."""
    head = ""
    if markdown.startswith("---"):
        end = markdown.find("\n---", 3)
        head = markdown[: end + 4] if end >= 0 else markdown
    m = re.search(r"^#[ \t].*$", markdown, re.M)
    return head + "\n" + (m.group(0) if m else markdown)


def _squeeze(html: str) -> str:
    """Drop the template's indentation and blank lines, outside <pre> (where the code is)."""
    parts = _PRE_RX.split(html)
    for i in range(0, len(parts), 2):
        parts[i] = _INDENT_RX.sub("\n", parts[i])
    return "".join(parts)


def _config_js(kernel: str, shards: list[str], mermaid: bool) -> str:
    data = {
        "mermaid": f"{ASSETS}/mermaid.min.js" if mermaid else None,
        "kernel": kernel, "data": f"{kernel}/_kx/", "source": f"{kernel}/source/", "symbol": f"{kernel}/symbol/",
        "shards": shards, "refShards": REF_SHARDS,
    }
    return "window.kernelExplorer = " + script_json(data) + ";\n"


__all__ = ["KernelExplorerPlugin", "PluginConfig", "relative", "source_url", "symbol_url"]
