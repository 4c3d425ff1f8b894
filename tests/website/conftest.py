"""Fixtures for the site's tests (helpers in sitekit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .sitekit import (
    INDEX_MD,
    MKDOCS_YML,
    TWO_KERNELS_INDEX_MD,
    TWO_KERNELS_YML,
    DemoProject,
    make_demo_kernel,
    make_two_demo_kernels,
)


@pytest.fixture(scope="session")
def demo_snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    snippets = tmp_path_factory.mktemp("demo") / "kernel-snippets"
    make_demo_kernel(snippets)
    return snippets


@pytest.fixture
def demo_project(tmp_path: Path, demo_snippets: Path) -> DemoProject:
    (tmp_path / "kernel-snippets").symlink_to(demo_snippets)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text(INDEX_MD, encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text(MKDOCS_YML.format(site_dir="site"), encoding="utf-8")
    return DemoProject(tmp_path)




@pytest.fixture(scope="session")
def two_kernel_snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    snippets = tmp_path_factory.mktemp("demo2") / "kernel-snippets"
    make_two_demo_kernels(snippets)
    return snippets


@pytest.fixture
def two_kernel_project(tmp_path: Path, two_kernel_snippets: Path) -> DemoProject:
    """A site of demo-1.0 and demo-2.0, with an annotation of demo_listen_start reviewed for demo-1.0 only."""
    from explorer.annotations import body_hash, definition_lines
    from explorer.config import Project
    from explorer.store import Index

    (tmp_path / "kernel-snippets").symlink_to(two_kernel_snippets)
    (tmp_path / "docs" / "annotations").mkdir(parents=True)
    (tmp_path / "docs" / "index.md").write_text(TWO_KERNELS_INDEX_MD, encoding="utf-8")
    project = Project.load(two_kernel_snippets)
    with Index(project.index_path("demo-1.0")) as index:
        sym = index.lookup("demo_listen_start", "function")[0]
        digest = body_hash(definition_lines(index, project.tree("demo-1.0"), sym))
    (tmp_path / "docs" / "annotations" / "core.md").write_text(
        "---\nannotations: true\n---\n\n# Notes\n\n## `demo_listen_start`\n"
        f"<!-- reviewed: demo-1.0:{digest} -->\nStarts listening; see [[demo_listen]].\n", encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text(TWO_KERNELS_YML.format(site_dir="site"), encoding="utf-8")
    return DemoProject(tmp_path)
