"""The site's lab pages: rendered Markdown, markers, the docs/labs/ pages, and a real MkDocs build."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest

from explorer.labs import LABS
from explorer.labs.accept_queue import accept_queue_lab
from explorer.labs.render import MARKER, expand_lab_markers, render_lab_markdown

REPO = Path(__file__).resolve().parents[2]

DOCS_LABS = REPO / "docs" / "labs"


@pytest.fixture
def recorded(code) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return {
        "lab": "accept-queue",
        "recorded_at": "2025-01-01T00:00:00Z",
        "kernel": "6.1.0-test",
        "root": False,
        "skipped": None,
        "runs": [{"title": "backlog 2", "command": "kexplore lab accept-queue --backlog 2 --clients 5", "result": accept_queue_lab(2, 5, code=code)}],
    }


def test_render_shows_results_command_and_live_code(project, recorded, vendored_index) -> None:  # type: ignore[no-untyped-def]
    text = render_lab_markdown(project, "accept-queue", recorded)
    assert "kexplore lab accept-queue --backlog 2 --clients 5" in text
    assert recorded["runs"][0]["result"]["kernel"] in text
    assert "| in the accept queue (`ss -lnt` Recv-Q) | 3 | 3 |" in text
    # the excerpt is the vendored definition, at the path the index gives
    sym = vendored_index.lookup("sk_acceptq_is_full")[0]
    assert f"`{sym.path}:{sym.line}`" in text
    assert "```c\nstatic inline bool sk_acceptq_is_full(const struct sock *sk)" in text


def test_render_says_when_the_kernels_differ(project, recorded) -> None:  # type: ignore[no-untyped-def]
    from explorer.labs.code import same_series

    text = render_lab_markdown(project, "accept-queue", recorded)
    running = recorded["runs"][0]["result"]["kernel"]
    vendored = recorded["runs"][0]["result"]["vendored_kernel"]
    if vendored and not same_series(running, vendored.get("version")):
        assert "differs from the vendored one" in text
    else:
        assert "same series" in text or vendored is None


def test_render_without_results_or_skipped(project) -> None:  # type: ignore[no-untyped-def]
    assert "No results were recorded" in render_lab_markdown(project, "syn-queue", None)
    skipped = {"lab": "syn-queue", "recorded_at": "2025-01-01T00:00:00Z", "kernel": "6.1.0-x", "skipped": "recorded without root", "runs": []}
    text = render_lab_markdown(project, "syn-queue", skipped)
    assert "recorded without root" in text and "sudo kexplore lab syn-queue" in text


def test_link_callback_makes_links(project, recorded) -> None:  # type: ignore[no-untyped-def]
    text = render_lab_markdown(project, "accept-queue", recorded, link=lambda ref: f"../code/{ref.symbol}.md")
    assert "[`sk_acceptq_is_full`](../code/sk_acceptq_is_full.md)" in text


def test_site_syntax_emits_the_sites_links_and_embeds(project, recorded) -> None:  # type: ignore[no-untyped-def]
    text = render_lab_markdown(project, "accept-queue", recorded, site_syntax=True)
    assert "[[sk_acceptq_is_full]]" in text and "[[source:sk_acceptq_is_full]]" in text
    assert "```c" not in text


def test_markers_expand_from_a_results_folder(project, recorded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "accept-queue.json").write_text(json.dumps(recorded))
    page = "# Title\n\n<!-- kexplore-lab: accept-queue -->\n\nafter\n<!-- kexplore-lab: no-such-lab -->\n"
    out = expand_lab_markers(page, project, tmp_path)
    assert "## Results recorded when this site was built" in out and "after" in out
    assert "no lab named `no-such-lab`" in out
    assert expand_lab_markers("plain", project, tmp_path) == "plain"


def test_docs_pages_exist_and_link_only_to_pages_that_exist() -> None:
    pages = {p.name for p in DOCS_LABS.glob("*.md")}
    assert {"index.md", *(f"{lab.name}.md" for lab in LABS)} <= pages
    for lab in LABS:
        text = (DOCS_LABS / f"{lab.name}.md").read_text()
        assert MARKER.search(text) and MARKER.search(text).group(1) == lab.name
        for symbol in lab.symbols[:3]:
            assert symbol in text, (lab.name, symbol)
    for page in DOCS_LABS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            assert "://" not in target and (DOCS_LABS / target).is_file(), (page.name, target)


def test_mkdocs_builds_the_lab_pages(project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A tiny site holding docs/labs/, with a hook that expands the markers as the site plugin will."""
    mkdocs_config = pytest.importorskip("mkdocs.config")
    from mkdocs.commands.build import build

    docs = tmp_path / "docs"
    shutil.copytree(DOCS_LABS, docs / "labs")
    (docs / "index.md").write_text("# Home\n\nSee [the labs](labs/index.md).\n")
    results = tmp_path / "results"
    from explorer.labs.record import record_labs

    record_labs(project, results)
    (tmp_path / "hooks.py").write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            from explorer.config import Project
            from explorer.labs.render import expand_lab_markers

            def on_page_markdown(markdown, page, config, files):
                return expand_lab_markers(markdown, Project.load({str(project.snippets)!r}), Path({str(results)!r}))
            """
        )
    )
    (tmp_path / "mkdocs.yml").write_text(
        textwrap.dedent(
            """
            site_name: labs test
            docs_dir: docs
            site_dir: site
            hooks: [hooks.py]
            markdown_extensions: [tables, fenced_code]
            nav:
              - index.md
              - Labs: [labs/index.md, labs/accept-queue.md, labs/syn-queue.md]
            """
        )
    )
    cfg = mkdocs_config.load_config(str(tmp_path / "mkdocs.yml"), strict=True)
    build(cfg)
    html = (tmp_path / "site" / "labs" / "accept-queue" / "index.html").read_text()
    assert "Results recorded when this site was built" in html
    assert "sk_acceptq_is_full" in html and "<table>" in html
    assert (tmp_path / "site" / "labs" / "syn-queue" / "index.html").is_file()
