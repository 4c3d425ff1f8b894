"""The MkDocs plugin `kernel-explorer`: the index as cross-linked source, symbol and folder pages.

A thin layer over `links` (what links where), `pages` (what a page holds) and `render`
(HTML): each hook checks `enabled`, then hands off.  Generated pages are virtual
(`File.generated`), out of the navigation (mkdocs-material repeats the navigation in every
page), and source pages are out of the search index.  Source files are highlighted in
worker processes while MkDocs reads the hand-written pages; the results, and the index,
are kept on the plugin instance, which `mkdocs serve` keeps across rebuilds.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import posixpath
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import get_toc

from ..config import ConfigError, Project
from ..store import Index, IndexMissing
from .links import SiteDefinition, SiteIndex
from .markdown import Resolved, CommentaryLinkResolver, SymbolLinkExtension, linked_names
from .pages import (
    REF_SHARDS,
    LinkContext,
    RenderedSource,
    embed_html,
    folder_page,
    folders,
    names_data,
    refs_data,
    refs_html,
    render_source_page,
    shard_of_name,
    symbol_page,
)
from ..urls import relative, source_uri, source_url, symbol_uri, symbol_url

log = logging.getLogger("mkdocs.plugins.kernel_explorer")

ASSETS = "assets/kernel-explorer"
_FILE_TARGET = re.compile(r"^(?P<path>[\w./+-]+\.[ch])(?:(?:#L|:)(?P<line>\d+))?$")
_EMBED_AT = re.compile(r"^(?P<path>[\w./+-]+\.[ch]):(?P<line>\d+):(?P<name>[\w.]+)$")


class PluginConfig(base.Config):
    enabled = c.Type(bool, default=True)
    """Turn the plugin off (for example to preview prose quickly)."""
    snippets = c.Optional(c.Type(str))
    """The folder holding kernels.toml and the indexes; relative to mkdocs.yml. Default: the project's."""
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


# Worker state, inherited through fork() by the rendering pool (set just before the fork).
_WORKER: tuple[SiteIndex, LinkContext] | None = None


def _render_worker(path: str) -> RenderedSource:
    assert _WORKER is not None
    site, ctx = _WORKER
    return render_source_page(site, ctx, path)


class _LineAnchors:
    """The anchors #L1 … #Ln of a source page, for MkDocs' anchor validation, without a set of n strings."""

    def __init__(self, lines: int, extra: set[str] | None = None) -> None:
        self.lines = lines
        self.extra = extra or set()

    def __contains__(self, anchor: object) -> bool:
        if isinstance(anchor, str) and anchor[:1] == "L" and anchor[1:].isdigit():
            return 1 <= int(anchor[1:]) <= self.lines
        return anchor in self.extra

    def __or__(self, other: set[str]) -> _LineAnchors:
        return _LineAnchors(self.lines, self.extra | other)


class SourcePage(Page):
    """A generated source page: there is no Markdown to read or convert (MkDocs would build a
    Markdown converter for each of the 1,569 pages for nothing); the highlighted code is
    put in as the page's content in `on_page_context`, while the pages are written."""

    def __init__(self, file: File, config: MkDocsConfig, path: str, lines: int) -> None:
        super().__init__(None, file, config)
        self.kx_path = path
        self.kx_lines = lines

    def read_source(self, config: MkDocsConfig) -> None:
        self.markdown = ""
        self.meta = {
            "title": self.kx_path,
            "template": "kernel-explorer/source.html",
            "search": {"exclude": True},
            "hide": ["navigation", "toc"],
        }

    def render(self, config: MkDocsConfig, files: Files) -> None:
        self.content = ""
        self.toc = get_toc([])
        self.present_anchor_ids = _LineAnchors(self.kx_lines)  # type: ignore[assignment]
        self.links_to_anchors = {}


class _PageResolver(CommentaryLinkResolver):
    def __init__(self, plugin: KernelExplorerPlugin, page: Page) -> None:
        self.plugin = plugin
        self.page = page

    def _md_href(self, target_uri: str, fragment: str = "") -> str:
        """A relative URL to a generated page (checked by the resolver, not by MkDocs: under
        `mkdocs serve` the generated pages of the first build are reused, not rebuilt)."""
        target_url = target_uri[: -len(".md")] + "/" if target_uri.endswith(".md") else target_uri
        if target_url.endswith("/index/"):
            target_url = target_url[: -len("index/")]
        return relative(self.page.url, target_url) + (f"#{fragment}" if fragment else "")

    def link(self, target: str) -> Resolved | None:
        plugin = self.plugin
        site = plugin.site
        assert site is not None
        m = _FILE_TARGET.match(target)
        if m:
            path, line = m.group("path"), m.group("line")
            if path not in site.files or (line and not 1 <= int(line) <= max(site.files[path], 1)):
                return None
            frag = f"L{line}" if line else ""
            return Resolved(self._md_href(source_uri(site.kernel, path), frag), target, f"{site.kernel}: {target}", "kx-file")
        to_source = target.startswith("src:")
        name = target[4:].strip() if to_source else target
        d = plugin.definition(name)
        if d is None:
            return None
        title = f"{d.kind} {name} — {d.path}:{d.line}"
        if name in plugin.symbol_names and not to_source:
            return Resolved(self._md_href(symbol_uri(site.kernel, name)), name, title)
        return Resolved(self._md_href(source_uri(site.kernel, d.path), f"L{d.line}"), name, title)

    def embed(self, target: str) -> str | None:
        plugin = self.plugin
        site = plugin.site
        assert site is not None
        if target.startswith("@"):  # a generated page's own HTML block
            return plugin._page_blocks.get(target[1:])
        m = _EMBED_AT.match(target)
        if m:
            d = next((x for x in site.lookup(m.group("name")) if x.path == m.group("path") and x.line == int(m.group("line"))), None)
        else:
            d = plugin.definition(target)
        if d is None:
            return None
        key = (d.path, d.line, d.name, self.page.url, plugin.link_context.symbol_pages, site.stamp)
        html = plugin._embeds.get(key)
        if html is None:  # kept across `mkdocs serve` rebuilds: the code does not change with the prose
            html = plugin._embeds[key] = embed_html(site, plugin.link_context, d, self.page.url)
        return html

    def missing(self, target: str) -> None:
        self.plugin.report_missing(self.page, target)


class KernelExplorerPlugin(BasePlugin[PluginConfig]):
    supports_multiple_instances = False

    def __init__(self) -> None:
        self.serving = False
        self.dirty = False
        self._written: dict[str, bytes] = {}  # data files written by the last build (kept by --dirty)
        self.project: Project | None = None
        self.site: SiteIndex | None = None
        self.symbol_names: frozenset[str] = frozenset()
        self.link_context = LinkContext("")
        self._resolver: CommentaryLinkResolver | None = None
        self._source_pages: dict[str, str] = {}  # src_uri → path
        self._symbol_pages: dict[str, str] = {}  # src_uri → name
        self._mentions: dict[str, list[tuple[str, str]]] = {}
        self._rendered: dict[str, tuple[tuple[object, ...], RenderedSource]] = {}
        self._pending: Iterator[RenderedSource] | None = None
        self._pool: Any = None
        self._refs: dict[str, dict[str, list[int]]] | None = None
        self._missing: list[tuple[str, str]] = []
        self._timings: dict[str, float] = {}
        self._todo: set[str] = set()
        self._name_shards: list[str] = []
        self._t0 = 0.0
        self._page_blocks: dict[str, str] = {}
        self._notes: dict[str, Any] = {}  # symbol → Annotation, from the annotation pages
        # Under `mkdocs serve`: the HTML of every generated page of the last full build, and what
        # each symbol page was made from, so that a rebuild after an edit to the commentary only
        # builds the pages the edit can change (the rest is written back from memory).
        self._serve_cache: Path | None = None  # hard links to the generated pages of the last build
        self._built: list[str] = []  # dest paths of generated pages built in this build
        self._symbol_inputs: dict[str, tuple[object, ...]] = {}
        self._reused: list[str] = []  # dest paths written back in this build
        self._data_cache: tuple[object, dict[str, bytes]] | None = None
        self._names_cache: tuple[object, dict[str, bytes]] | None = None
        self._embeds: dict[tuple[object, ...], str] = {}
        self._bytecode_cache: Any = None

    # ------------------------------------------------------------------ hooks

    def on_startup(self, *, command: str, dirty: bool) -> None:
        self.serving = command == "serve"
        self.dirty = dirty
        if self.serving:
            import tempfile

            self._serve_cache = Path(tempfile.mkdtemp(prefix="kernel-explorer-serve-"))
            self._bytecode_cache = _MemoryBytecodeCache()

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig | None:
        if not self.config.enabled:
            return None
        started = time.perf_counter()
        self._timings = {}  # this build's own figures (under serve, the plugin outlives builds)
        base_dir = Path(config.config_file_path or ".").resolve().parent
        snippets = Path(self.config.snippets) if self.config.snippets else None
        if snippets is not None and not snippets.is_absolute():
            snippets = base_dir / snippets
        try:
            project = Project.load(snippets)
            spec = project.kernel(self.config.kernel)
            self.project = project
        except ConfigError as exc:
            raise PluginError(f"kernel-explorer: {exc}") from None
        index_path = project.index_path(spec.name)
        if self.site is None or self.site.index_path != index_path or self.site.kernel != spec.name or not self.site.is_current():
            try:
                self.site = SiteIndex.load(spec.name, index_path, project.tree(spec.name))
            except IndexMissing:
                raise PluginError(
                    f"kernel-explorer: no index for {spec.name} at {index_path}: run `kexplore vendor` and `kexplore index` (or `make index`)"
                ) from None
            self._rendered.clear()
        config.markdown_extensions.append(SymbolLinkExtension(self._current_resolver))  # type: ignore[arg-type]
        config.extra_css.append(f"{ASSETS}/explorer.css")
        for script in ("config.js", "explorer.js"):
            config.extra_javascript.append(f"{ASSETS}/{script}")  # type: ignore[arg-type]
        self._timings["config"] = time.perf_counter() - started
        return config

    def on_files(self, files: Files, config: MkDocsConfig) -> Files | None:
        if not self.config.enabled or self.site is None:
            return None
        started = time.perf_counter()
        site = self.site
        kernel = site.kernel

        # annotations (pages with `annotations: true`) show on symbol pages and in hover cards
        from ..annotations import by_symbol

        self._notes = by_symbol(Path(config.docs_dir))
        # which symbols get pages: the configured ones, the annotated ones, and those the commentary links to
        wanted = set(self.config.symbols) | {n for n in self._notes if site.lookup(n)}
        self._mentions = defaultdict(list)
        for file in files.documentation_pages():
            if file.generated_by:
                continue
            text = file.content_string
            title = _first_heading(text) or posixpath.splitext(posixpath.basename(file.src_uri))[0]
            for name in linked_names(text):
                if site.lookup(name):
                    wanted.add(name)
                    self._mentions[name].append((title, file.src_uri))
        unknown = sorted(n for n in set(self.config.symbols) if not site.lookup(n))
        if unknown:
            log.warning(f"kernel-explorer: mkdocs.yml lists symbols the index does not know: {', '.join(unknown)}")
        self.symbol_names = frozenset(n for n in wanted if site.lookup(n))
        self.link_context = LinkContext(kernel, self.symbol_names)
        self._missing = []
        self._refs = None

        def add(src_uri: str, content: str | bytes, page: bool = True) -> None:
            files.append(File.generated(config, src_uri, content=content,
                                        inclusion=InclusionLevel.NOT_IN_NAV if page else InclusionLevel.UNDEFINED))

        self._source_pages = {}
        self._reused = []
        self._built = []
        reuse = self._serve_cache is not None
        if self.config.source_pages:
            for path in site.files:
                uri = source_uri(kernel, path)
                if reuse and self._reuse(_dest_of(uri)):
                    continue
                self._source_pages[uri] = path
                add(uri, "")
            for folder, (names, subs) in folders(site.files).items():
                uri = f"{kernel}/source/{folder}/index.md" if folder else f"{kernel}/source/index.md"
                if folder and reuse and self._reuse(_dest_of(uri)):
                    continue  # the top folder page is always built: hand-written pages may link it
                add(uri, folder_page(site, folder, names, subs))
        self._symbol_pages = {}
        for name in sorted(self.symbol_names):
            uri = symbol_uri(kernel, name)
            inputs = self._inputs_of(name)
            if reuse and self._symbol_inputs.get(name) == inputs and self._reuse(_dest_of(uri)):
                continue
            self._symbol_inputs[name] = inputs
            self._symbol_pages[uri] = name
            add(uri, _front_matter(name))
        add(f"{kernel}/symbol/index.md", self._symbol_index())

        # assets
        here = Path(__file__).parent / "assets"
        for name in ("explorer.css", "explorer.js"):
            files.append(File.generated(config, f"{ASSETS}/{name}", abs_src_path=str(here / name)))
        self._name_shards = sorted({shard_of_name(n) for n in site.defs})
        add(f"{ASSETS}/config.js", _config_js(kernel, self._name_shards, self.config.mermaid), page=False)
        if self.config.mermaid:
            from .mermaid import MermaidError, ensure_mermaid

            try:
                mermaid = ensure_mermaid(self.config.mermaid_version)
            except MermaidError as exc:
                raise PluginError(f"kernel-explorer: {exc}") from None
            files.append(File.generated(config, f"{ASSETS}/mermaid.min.js", abs_src_path=str(mermaid)))

        self._start_rendering()
        self._timings["files"] = time.perf_counter() - started
        self._t0 = time.perf_counter()
        return files

    def on_nav(self, nav: Any, *, config: MkDocsConfig, files: Files) -> Any:
        if not self.config.enabled or self.site is None:
            return None
        for uri, path in self._source_pages.items():
            file = files.get_file_from_path(uri)
            if file is not None:
                SourcePage(file, config, path, self.site.files.get(path, 0))
        return nav

    def on_env(self, env: Any, *, config: MkDocsConfig, files: Files) -> Any:
        if not self.config.enabled:
            return None
        import jinja2

        templates = Path(__file__).parent / "templates"
        env.loader = jinja2.ChoiceLoader([env.loader, jinja2.FileSystemLoader(str(templates))])
        if self._serve_cache is not None:
            # MkDocs makes a new template environment for every rebuild; keep the compiled
            # templates (about 0.7 s of material's) between rebuilds
            env.bytecode_cache = self._bytecode_cache
        return env

    def on_page_markdown(self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str | None:
        if not self.config.enabled or self.site is None:
            return None
        self._resolver = _PageResolver(self, page)
        self._page_blocks = {}
        uri = page.file.src_uri
        if uri in self._source_pages:
            return ""
        name = self._symbol_pages.get(uri)
        if name is not None:
            started = time.perf_counter()
            self._timings.setdefault("first symbol page", started - self._t0)
            mentions = [(title, posixpath.relpath(src, posixpath.dirname(uri))) for title, src in self._mentions.get(name, [])]
            blocks = self._page_blocks = {}
            text = symbol_page(self.site, self.link_context, name, mentions, blocks, self._notes, self._embedding(name),
                               Path(config.docs_dir))
            blocks["refs"] = refs_html(self.site, self._symbol_refs(name), page.url)
            text += "\n## References\n\n[[source:@refs]]\n"
            self._timings["symbol pages"] = self._timings.get("symbol pages", 0.0) + time.perf_counter() - started
            return text
        if "<!-- kexplore-lab:" in markdown:
            # the labs' pages: results recorded by `kexplore lab record`, with live code excerpts
            from ..labs.render import expand_lab_markers

            return expand_lab_markers(markdown, self.project, results_dir=None, site_syntax=True, kernel=self.site.kernel)
        return None

    def on_page_content(self, html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str | None:
        if not self.config.enabled or self.site is None:
            return None
        self._resolver = None
        return None

    def on_page_context(self, context: dict[str, Any], *, page: Page, config: MkDocsConfig, nav: Any) -> dict[str, Any] | None:
        if not self.config.enabled:
            return None
        path = self._source_pages.get(page.file.src_uri)
        if path is not None:
            page.content = self._result(path).html
            context["page"] = page
        return context

    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str | None:
        if not self.config.enabled or self.site is None:
            return None
        uri = page.file.src_uri
        generated = uri in self._source_pages or uri in self._symbol_pages or uri.startswith(f"{self.site.kernel}/source/")
        if not generated:
            return None
        if self._serve_cache is not None and uri != f"{self.site.kernel}/source/index.md":
            self._built.append(page.file.dest_uri)
        # the theme's indentation is a third of a small page: 2,000 generated pages carry it
        return _squeeze(output)

    def on_post_build(self, config: MkDocsConfig) -> None:
        if not self.config.enabled or self.site is None:
            return
        started = time.perf_counter()
        if self._serve_cache is not None:
            site_dir = Path(config.site_dir)
            for dest in self._built:  # keep this build's pages (a hard link costs no copy)
                _link(site_dir / dest, self._serve_cache / dest)
            self._restore(site_dir)
        if self._reused:
            self._timings["pages written back"] = time.perf_counter() - started
            log.info(f"kernel-explorer: rebuilt {len(self._symbol_pages) + len(self._source_pages)} generated pages, "
                     f"reused {len(self._reused)} from the last build")
        self._timings["pages (from on_files to on_post_build)"] = started - self._t0
        site = self.site
        out = Path(config.site_dir) / site.kernel / "_kx"
        paths = list(site.files)
        file_ids = {p: i for i, p in enumerate(paths)}
        # the references depend on the index only; the names also on the annotations and symbol pages
        if self._data_cache is None or self._data_cache[0] != site.stamp:
            refs = self._all_refs()
            data = {"files.json": json.dumps(paths, separators=(",", ":")).encode()}
            ref_shards = refs_data(refs, file_ids)
            for shard in range(REF_SHARDS):
                data[f"refs/{shard}.json"] = ref_shards.get(shard, b"{}")
            self._data_cache = (site.stamp, data)
        key = (self.symbol_names, tuple(sorted((n, a.summary(300)) for n, a in self._notes.items())))
        if self._names_cache is None or self._names_cache[0] != key:
            with site.open() as index:
                ops_targets = index.ops_targets()
            shards = names_data(site, file_ids, self.symbol_names, self._notes, ops_targets)
            self._names_cache = (key, {f"names/{k}.json": shards.get(k, b"[]") for k in self._name_shards})
        self._close_pool()
        # under serve the data lives in the cache folder, written when it changes, linked each build
        home = self._serve_cache / site.kernel / "_kx" if self._serve_cache is not None else out
        (home / "names").mkdir(parents=True, exist_ok=True)
        (home / "refs").mkdir(parents=True, exist_ok=True)
        for rel, blob in {**self._data_cache[1], **self._names_cache[1]}.items():
            if self._written.get(rel) is blob and (home / rel).exists():
                continue  # unchanged since the last build
            (home / rel).write_bytes(blob)
            self._written[rel] = blob
        if home != out and not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(home, out, target_is_directory=True)
        self._timings["data"] = time.perf_counter() - started
        log.info("kernel-explorer timings (s): %s", {k: round(v, 2) for k, v in self._timings.items()})

    def on_shutdown(self) -> None:
        self._close_pool()
        if self._serve_cache is not None:
            import shutil

            shutil.rmtree(self._serve_cache, ignore_errors=True)

    def on_build_error(self, *, error: Exception) -> None:
        self._close_pool()

    # ------------------------------------------------------------------ services for the resolver

    def _current_resolver(self) -> CommentaryLinkResolver:
        if self._resolver is None:  # Markdown converted outside a page (another plugin): no page to name
            raise PluginError("kernel-explorer: [[...]] used outside a page")
        return self._resolver

    def _restore(self, site_dir: Path) -> None:
        """Put the reused pages of the last build into the (cleaned) site folder.

        Whole folders become symbolic links into the cache where nothing in them was rebuilt
        (the source tree's top folders, each symbol page's folder); single files are hard links."""
        assert self._serve_cache is not None
        reused = set(self._reused)
        built = set(self._built)
        done: set[str] = set()
        if reused:
            # the largest folders first: every page under them is reused and none was built
            folders_: dict[str, list[str]] = defaultdict(list)
            for dest in reused:
                parts = dest.split("/")
                top = "/".join(parts[:3]) if len(parts) > 3 and parts[1] == "source" else posixpath.dirname(dest)
                folders_[top].append(dest)
            for folder, members in folders_.items():
                if folder.endswith("/source") or any(b.startswith(folder + "/") for b in built):
                    continue
                target = site_dir / folder
                if target.exists() or target.is_symlink():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(self._serve_cache / folder, target, target_is_directory=True)
                done.update(members)
        made: set[Path] = set()
        for dest in reused - done:
            target = site_dir / dest
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            if not target.exists():
                _link(self._serve_cache / dest, target, mkdir=False)

    def _reuse(self, dest: str) -> bool:
        """Link the page back from the last build instead of building it (under serve)."""
        if self._serve_cache is not None and (self._serve_cache / dest).is_file():
            self._reused.append(dest)
            return True
        return False

    def _inputs_of(self, name: str) -> tuple[object, ...]:
        """What a symbol page is made from besides the index: commentary mentions, its annotation."""
        note = self._notes.get(name)
        return (tuple(self._mentions.get(name, ())), note.text if note is not None else None, self.symbol_names)

    def _embedding(self, name: str) -> list[str]:
        """The first-member embedding chain of a struct (just [name] for anything else)."""
        assert self.site is not None
        if not any(d.kind in ("struct", "union") for d in self.site.lookup(name)):
            return [name]
        with Index(self.site.index_path) as index:
            return index.embedding_chain(name)

    def definition(self, name: str) -> SiteDefinition | None:
        assert self.site is not None
        found = self.site.lookup(name)
        real = [d for d in found if d.kind != "prototype"]
        return (real or found or [None])[0]

    def report_missing(self, page: Page, target: str) -> None:
        self._missing.append((page.file.src_uri, target))
        hint = ""
        if self.site is not None:
            with self.site.open() as index:
                close = index.suggest(target.split("#")[0].removeprefix("src:"), limit=3)
            if close:
                hint = f" (did you mean: {', '.join(close)}?)"
        log.warning(f"kernel-explorer: page '{page.file.src_uri}' links to '{target}', which is not in the {self.site.kernel if self.site else ''} index{hint}")

    # ------------------------------------------------------------------ rendering

    def _key(self, path: str) -> tuple[object, ...]:
        assert self.site is not None
        st = (self.site.tree / path).stat()
        return (st.st_mtime_ns, st.st_size, self.site.stamp, self.symbol_names)

    def _start_rendering(self) -> None:
        global _WORKER
        assert self.site is not None
        self._close_pool()
        todo = []
        for path in self._source_pages.values():
            cached = self._rendered.get(path)
            if cached is None or cached[0] != self._key(path):
                todo.append(path)
        self._todo = set(todo)
        if not todo:
            self._pending = None
            return
        jobs = self.config.jobs or os.cpu_count() or 1
        if jobs <= 1 or len(todo) < 40:
            self._pending = (render_source_page(self.site, self.link_context, p) for p in todo)
            return
        _WORKER = (self.site, self.link_context)
        ctx = multiprocessing.get_context("fork")
        self._pool = ctx.Pool(jobs)
        _WORKER = None
        self._pending = self._pool.imap(_render_worker, todo, chunksize=4)

    def _result(self, path: str) -> RenderedSource:
        started = time.perf_counter()
        try:
            return self._wait_for(path)
        finally:
            self._timings["waiting for renders"] = self._timings.get("waiting for renders", 0.0) + time.perf_counter() - started

    def _wait_for(self, path: str) -> RenderedSource:
        cached = self._rendered.get(path)
        if cached is not None and path not in self._todo:
            return cached[1]
        while self._pending is not None:
            try:
                done = next(self._pending)
            except StopIteration:
                self._pending = None
                break
            self._rendered[done.path] = (self._key(done.path), done)
            self._todo.discard(done.path)
            if done.path == path:
                return done
        cached = self._rendered.get(path)
        if cached is None:
            raise PluginError(f"kernel-explorer: {path} was not rendered")
        return cached[1]

    def _all_refs(self) -> dict[str, dict[str, list[int]]]:
        """name → path → lines of its uses, over every source page (waits for the renders)."""
        if self._refs is None:
            refs: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
            for path in self._source_pages.values():
                for target, line in self._result(path).refs:
                    refs[target][path].append(line)
            self._refs = refs
            self._close_pool()
        return self._refs

    def _symbol_refs(self, name: str) -> list[tuple[str, int, str]]:
        """(path, line, role) of the uses of `name`, from the index's refs."""
        assert self.site is not None
        with self.site.open() as index:
            return [(r.path, r.line, r.role) for r in index.refs(name)]

    def _close_pool(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def _symbol_index(self) -> str:
        assert self.site is not None
        lines = ["---", "title: Symbols", "---", "", f"# Symbols of {self.site.kernel}", "",
                 "Every symbol of the index is found by the search box (type a name: definitions come first).",
                 "These have pages of their own:", ""]
        for name in sorted(self.symbol_names):
            d = self.definition(name)
            kind = d.kind if d else ""
            lines.append(f"- [[{name}]] <span class=\"kx-kind\">{kind}</span>")
        return "\n".join(lines) + "\n"


class _MemoryBytecodeCache(jinja2.BytecodeCache):
    """Jinja's compiled templates, kept in memory between `mkdocs serve` rebuilds."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:  # type: ignore[no-untyped-def]
        data = self.store.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket) -> None:  # type: ignore[no-untyped-def]
        self.store[bucket.key] = bucket.bytecode_to_string()


_PRE_RX = re.compile(r"(<pre\b.*?</pre>)", re.DOTALL)
_INDENT_RX = re.compile(r"\n\s+")


def _squeeze(html: str) -> str:
    """Drop the template's indentation and blank lines, outside <pre> (where the code is)."""
    parts = _PRE_RX.split(html)
    for i in range(0, len(parts), 2):
        parts[i] = _INDENT_RX.sub("\n", parts[i])
    return "".join(parts)


def _link(source: Path, target: Path, mkdir: bool = True) -> None:
    if mkdir:
        target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system: copy
        import shutil

        shutil.copyfile(source, target)


def _dest_of(src_uri: str) -> str:
    """Where MkDocs writes a generated Markdown page (directory URLs)."""
    stem = src_uri[: -len(".md")]
    if stem == "index" or stem.endswith("/index"):
        return stem + ".html"
    return stem + "/index.html"


def _front_matter(title: str) -> str:
    return f"---\ntitle: {json.dumps(title)}\n---\n"


def _first_heading(markdown: str) -> str | None:
    m = re.search(r"^#\s+(.+?)\s*#*\s*$", markdown, re.M)
    return m.group(1) if m else None


def _config_js(kernel: str, shards: list[str], mermaid: bool) -> str:
    data = {
        "mermaid": f"{ASSETS}/mermaid.min.js" if mermaid else None,
        "kernel": kernel, "data": f"{kernel}/_kx/", "source": f"{kernel}/source/", "symbol": f"{kernel}/symbol/",
        "shards": shards, "refShards": REF_SHARDS,
    }
    return "window.kernelExplorer = " + json.dumps(data) + ";\n"


__all__ = ["KernelExplorerPlugin", "PluginConfig", "relative", "source_url", "symbol_url"]
