"""Incremental builds: real `mkdocs build`s of the demo site reusing build/site-cache/ (issue 12, item 1)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from explorer.config import Project

from .site_linkcheck import check_site
from .sitekit import DemoProject, build_config, sitemap_urls

KERNEL = "demo-1.0"


def _build(project: DemoProject):  # type: ignore[no-untyped-def]
    """One `mkdocs build` as the CLI runs it; returns the plugin (its cache says what was built)."""
    return build_config(project.root / "mkdocs.yml").plugins["kernel-explorer"]


def _files(site: Path) -> dict[str, bytes]:
    """Every file of the built site by path."""
    out = {}
    for folder, _dirs, names in os.walk(site):
        for name in names:
            path = Path(folder) / name
            out[path.relative_to(site).as_posix()] = path.read_bytes()
    return out


def test_a_warm_build_reuses_every_generated_page_and_gives_the_same_site_as_a_cold_one(demo_project: DemoProject) -> None:
    site = demo_project.root / "site"
    cache = demo_project.root / "build" / "site-cache"
    plugin = _build(demo_project)
    cold = _files(site)
    first = plugin.build_cache
    assert first.built and not first.reused  # nothing was cached yet
    assert (cache / KERNEL / "manifest.json").is_file()

    plugin = _build(demo_project)
    warm = plugin.build_cache
    generated = {d for d in cold if d.startswith(f"{KERNEL}/") and d.endswith(".html")}
    # every generated page but the two lists hand-written pages may link (the top folder, the symbols)
    assert set(warm.reused) == generated - {f"{KERNEL}/source/index.html", f"{KERNEL}/symbol/index.html"}
    assert not warm.built
    # the hand-written pages were not indexed for search again: their entries came from the cache
    assert warm.memo_now and set(warm.memo_now) <= set(warm.memo)
    assert _files(site) == cold  # byte for byte, the search index and the data included
    broken, external = check_site(site)
    assert broken == [] and external == []

    # `make clean` removes the cache: the next build is cold again, and the same
    shutil.rmtree(cache)
    plugin = _build(demo_project)
    assert not plugin.build_cache.reused
    assert _files(site) == cold


def test_after_a_commentary_edit_only_the_pages_that_depend_on_it_are_built(demo_project: DemoProject) -> None:
    site = demo_project.root / "site"
    demo_project.write_doc("queue.md", "# The queue\n\nAllocation: [[demo_alloc_queue]].\n")
    _build(demo_project)
    before = _files(site)

    # prose that links to nothing new: no generated page is built, only the page itself changes
    demo_project.write_doc("queue.md", "# The queue\n\nAllocation: [[demo_alloc_queue]], still.\n")
    plugin = _build(demo_project)
    assert not plugin.build_cache.built
    after = _files(site)
    assert {p for p in after if after[p] != before.get(p)} == {"queue/index.html", "search/search_index.json"}

    # its title changes: it is in the navigation of every page that shows one (not the source pages)
    demo_project.write_doc("queue.md", "# The queue, renamed\n\nAllocation: [[demo_alloc_queue]], still.\n")
    plugin = _build(demo_project)
    built = set(plugin.build_cache.built)
    assert f"{KERNEL}/symbol/demo_alloc_queue/index.html" in built
    assert not {b for b in built if b.startswith(f"{KERNEL}/source/") and b.endswith((".c/index.html", ".h/index.html"))}
    assert "The queue, renamed" in (site / KERNEL / "symbol" / "demo_alloc_queue" / "index.html").read_text(encoding="utf-8")

    # a link to a symbol without a page: its page is made, and of the source pages only that of the
    # file defining it (whose definition now links to the page) is built again
    assert not (site / KERNEL / "symbol" / "demo_queue_full").exists()
    demo_project.write_doc("queue.md", "# The queue, renamed\n\n[[demo_alloc_queue]] and [[demo_queue_full]].\n")
    plugin = _build(demo_project)
    built = set(plugin.build_cache.built)
    assert f"{KERNEL}/symbol/demo_queue_full/index.html" in built
    sources = {b for b in built if b.startswith(f"{KERNEL}/source/") and b.endswith((".c/index.html", ".h/index.html"))}
    defined_in = "include/net/demo_sock.h"
    uses = {f"{KERNEL}/source/{defined_in}/index.html", f"{KERNEL}/source/net/demo/demo_core.c/index.html"}
    assert f"{KERNEL}/source/{defined_in}/index.html" in sources and sources <= uses
    header = (site / KERNEL / "source" / defined_in / "index.html").read_text(encoding="utf-8")
    assert '/symbol/demo_queue_full/">demo_queue_full</a>' in header
    broken, _ = check_site(site)
    assert broken == []

    # the link goes away again: so does the page (the last build's folder, taken back, keeps no stale page)
    demo_project.write_doc("queue.md", "# The queue, renamed\n\nAllocation: [[demo_alloc_queue]], still.\n")
    _build(demo_project)
    assert not (site / KERNEL / "symbol" / "demo_queue_full").exists()
    assert '/symbol/demo_queue_full/' not in (site / KERNEL / "source" / defined_in / "index.html").read_text(encoding="utf-8")
    broken, _ = check_site(site)
    assert broken == []


def test_a_cached_page_changed_in_place_is_not_trusted(demo_project: DemoProject) -> None:
    site = demo_project.root / "site"
    _build(demo_project)
    page = site / KERNEL / "source" / "net" / "demo" / "demo_core.c" / "index.html"
    good = page.read_bytes()
    with page.open("ab") as f:  # a hard link into the cache: the cached copy changes too
        f.write(b"<!-- edited -->")
    plugin = _build(demo_project)
    assert f"{KERNEL}/source/net/demo/demo_core.c/index.html" in plugin.build_cache.built
    assert page.read_bytes() == good


def test_the_two_kernel_site_is_cached_per_kernel_and_a_warm_build_is_the_cold_one(two_kernel_project: DemoProject) -> None:
    """Both kernels reuse every generated page (version switches, diffs, "defined elsewhere" pages and
    the What-changed page included), each from its own cache; the sitemap lists the reused pages too."""
    root = two_kernel_project.root
    yml = root / "mkdocs.yml"
    yml.write_text("site_url: http://127.0.0.1:8000/demo/\n" + yml.read_text(encoding="utf-8"), encoding="utf-8")
    site = root / "site"
    plugin = _build(two_kernel_project)
    cold = _files(site)
    kernels = list(plugin.kernels)
    assert kernels == ["demo-1.0", "demo-2.0"]
    for kernel in kernels:
        cache = plugin.kernels[kernel].build_cache
        assert cache.folder == root / "build" / "site-cache" / kernel and cache.built and not cache.reused
    cold_urls = sorted(sitemap_urls(site))
    assert any("/demo-2.0/source/net/demo/" in u for u in cold_urls)

    plugin = _build(two_kernel_project)
    for kernel in kernels:
        cache = plugin.kernels[kernel].build_cache
        generated = {d for d in cold if d.startswith(f"{kernel}/") and d.endswith(".html")}
        always = {d for d in generated if d == f"{kernel}/source/index.html" or d.startswith(
            (f"{kernel}/symbol/index.html", f"{kernel}/elsewhere/", f"{kernel}/changes/"))}
        assert cache.reused and set(cache.reused) == generated - always, kernel
        assert not cache.built
    assert _files(site) == cold  # byte for byte: switches, diffs, search index, data, sitemap
    assert sorted(sitemap_urls(site)) == cold_urls
    broken, external = check_site(site)
    assert broken == [] and external == []

    # a page of one kernel shows the other (its version switch): a change of the other kernel's index
    # builds both kernels' pages again
    other = Project.load(root / "kernel-snippets").index_path("demo-2.0")
    os.utime(other, ns=(other.stat().st_atime_ns, other.stat().st_mtime_ns + 1_000_000_000))
    plugin = _build(two_kernel_project)
    assert plugin.kernels["demo-1.0"].build_cache.built and plugin.kernels["demo-2.0"].build_cache.built
    assert _files(site) == cold
