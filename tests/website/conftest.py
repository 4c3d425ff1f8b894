"""Fixtures for the site's tests (helpers in sitekit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .sitekit import (
    INDEX_MD,
    MKDOCS_YML,
    DemoProject,
    make_demo_kernel,
    make_two_demo_kernels,
    write_two_kernel_project,
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
    return write_two_kernel_project(tmp_path, two_kernel_snippets)
