"""The site's parts that know nothing of MkDocs, with explicit inputs: page selection, the serve cache."""

from __future__ import annotations

from pathlib import Path

from explorer.config import Project
from explorer.site.links import SiteIndex
from explorer.site.selection import CommentaryPage, planned_pages, select_symbols
from explorer.site.servecache import ServeCache, dest_of


def _site(snippets: Path) -> SiteIndex:
    project = Project.load(snippets)
    return SiteIndex.load("demo-1.0", project.index_path("demo-1.0"), project.tree("demo-1.0"))


def test_symbols_selected_from_configuration_and_commentary(demo_snippets: Path) -> None:
    site = _site(demo_snippets)
    pages = [CommentaryPage("walk/one.md", "# One\n\nSee [[demo_listen]] and `[[demo_alloc_queue]]`.\n"),
             CommentaryPage("two.md", "No heading: [[demo_listen]], [[net/demo/demo_core.c]], [[demo_nowhere]].\n")]
    selection = select_symbols(site, ["demo_sock", "demo_not_indexed"], {}, pages)
    assert selection.names == {"demo_sock", "demo_listen"}  # code spans, files and unknown names left out
    assert selection.mentions["demo_listen"] == [("One", "walk/one.md"), ("two", "two.md")]
    assert selection.unknown == ("demo_not_indexed",)


def test_planned_pages_cover_every_file_folder_and_selected_symbol(demo_snippets: Path) -> None:
    site = _site(demo_snippets)
    selection = select_symbols(site, ["demo_sock"], {}, [])
    planned = list(planned_pages(site, selection, source_pages=True))
    assert {p.subject for p in planned if p.kind == "source"} == set(site.files)
    folders = {p.subject for p in planned if p.kind == "folder"}
    for path in site.files:
        parts = path.split("/")
        assert {"/".join(parts[:i]) for i in range(len(parts))} <= folders
    assert [p.subject for p in planned if p.kind == "symbol"] == ["demo_sock"]
    assert [p.kind for p in planned][-1] == "symbols"
    assert not [p for p in planned_pages(site, selection, source_pages=False) if p.kind in ("source", "folder")]


def test_serve_cache_reuses_pages_it_kept_and_symbol_pages_with_the_same_inputs(demo_snippets: Path) -> None:
    site = _site(demo_snippets)
    selection = select_symbols(site, ["demo_sock"], {}, [])
    planned = {p.kind: p for p in planned_pages(site, selection, source_pages=True) if p.subject or p.kind == "symbols"}
    cache = ServeCache()
    try:
        for page in planned.values():  # nothing kept yet: everything is built
            assert not cache.reuse_page(page, ("inputs", 1))
        for page in planned.values():  # as if the last build wrote them
            kept = cache.folder / dest_of(page.src_uri)
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text("<html></html>", encoding="utf-8")
        cache.begin_build()
        assert cache.reuse_page(planned["source"], ())
        assert cache.reuse_page(planned["folder"], ())
        assert cache.reuse_page(planned["symbol"], ("inputs", 1))
        assert not cache.reuse_page(planned["symbols"], ("inputs", 1))  # the list of symbols is always built
        cache.begin_build()
        assert not cache.reuse_page(planned["symbol"], ("inputs", 2))  # the commentary changed
    finally:
        cache.remove()
    assert not cache.folder.exists()
