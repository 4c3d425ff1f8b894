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


def test_released_pages_keep_their_references(demo_snippets: Path) -> None:
    """A build that is not served drops each page once written and folds its references into arrays:
    the references data is the same as when every page is kept."""
    from explorer.site.pages import LinkContext
    from explorer.site.renderpool import RenderJob, RenderPool

    site = _site(demo_snippets)
    job = RenderJob(site, LinkContext("demo-1.0"), tuple(sorted(site.files)), jobs=1)
    kept, released = RenderPool(), RenderPool()
    kept.start(job)
    released.start(job)
    for path in job.paths:
        assert kept.result(path).html
        released.result(path)
        released.release(path)
        assert released.result(path).html == ""
    expect = {name: {p: list(lines) for p, lines in by.items()} for name, by in kept.refs().items()}
    got = {name: {p: list(lines) for p, lines in by.items()} for name, by in released.refs().items()}
    assert got == expect
    assert expect  # the demo kernel has uses to link
    assert any(len(lines) > 1 for by in expect.values() for lines in by.values())


def test_source_files_rule_prefixes_then_included_files_then_defining_headers(two_kernel_snippets: Path) -> None:
    """The files that get pages: those under the prefixes, the files they include, the headers with what they use."""
    from explorer.site.selection import source_files

    project = Project.load(two_kernel_snippets)
    site = SiteIndex.load("demo-1.0", project.index_path("demo-1.0"), project.tree("demo-1.0"))
    assert source_files(site, []) is None  # every indexed file
    bare = source_files(site, ["net/demo"], includes=False, defining_headers=False)
    assert bare == {p for p in site.files if p.startswith("net/demo/")}
    with_includes = source_files(site, ["net/demo"], includes=True, defining_headers=False)
    assert with_includes == bare | {"include/net/demo_sock.h"}
    # demo_hash is defined in lib/demo_lib.c, a .c file: never added as a defining header
    assert source_files(site, ["net/demo/"], includes=False, defining_headers=True) == with_includes
    assert "lib/demo_lib.c" in site.files
