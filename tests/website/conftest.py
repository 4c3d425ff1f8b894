"""Fixtures for the site's tests (helpers in sitekit.py)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from explorer.config import PACKAGE_ROOT, Project

from .sitekit import (
    INDEX_MD,
    MKDOCS_YML,
    DemoProject,
    build_site,
    environment,
    guarded_page,
    make_demo_kernel,
    make_two_demo_kernels,
    real_index_missing,
    serve_folder,
    write_two_kernel_project,
)

SUB_PATH = "kernel-explorer/"  # where a GitHub project page puts the site: https://USER.github.io/kernel-explorer/


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


@contextmanager
def real_config() -> Iterator[Path]:
    """The project's mkdocs.yml, its `kernels:` cut to the kernels indexed here (a checkout that has
    indexed only the default kernel builds the site of that one; `make test` indexes both)."""
    config = PACKAGE_ROOT / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    project = Project.load(PACKAGE_ROOT / "kernel-snippets")
    m = re.search(r"^(\s*kernels: )\[(.*)\]$", text, re.M)
    wanted = [k.strip() for k in m.group(2).split(",")] if m else []
    indexed = [k for k in wanted if k in project.kernels and project.index_path(k).is_file()]
    if m is None or indexed == wanted:
        yield config
        return
    cut = PACKAGE_ROOT / f".mkdocs-test-{os.getpid()}.yml"  # beside mkdocs.yml: its relative folders stay right
    cut.write_text(text[:m.start()] + m.group(1) + "[" + ", ".join(indexed) + "]" + text[m.end():], encoding="utf-8")
    try:
        yield cut
    finally:
        cut.unlink()


@dataclass(frozen=True)
class PublishedSite:
    """The project's real site as it is published: `folder` served at `url`, a sub-path of the host."""

    folder: Path
    url: str  # ends with /kernel-explorer/; also the site_url it was built for
    labs: Path  # the lab results it shows, recorded for it (`kexplore lab record`)


@pytest.fixture(scope="session")
def published_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PublishedSite]:
    """The project's mkdocs.yml built once per session, strictly, with KEXPLORE_SITE_URL naming a
    sub-path of a server on 127.0.0.1 (started first, so the URL holds its port), and served there.
    The labs are recorded for it first, for real (as root; without root, those that need it are
    recorded as skipped), so that its lab pages show result tables in both languages."""
    missing = real_index_missing()
    if missing is not None:
        pytest.skip(missing)
    from explorer.labs.record import record_labs

    labs = tmp_path_factory.mktemp("labs")
    record_labs(Project.load(PACKAGE_ROOT / "kernel-snippets"), labs)
    root = tmp_path_factory.mktemp("published")
    folder = root / SUB_PATH.rstrip("/")
    try:
        with serve_folder(root) as host:
            url = host + SUB_PATH
            with environment(KEXPLORE_SITE_URL=url, KEXPLORE_LAB_RESULTS=str(labs)), real_config() as config:
                build_site(config, strict=True, site_dir=folder)
            yield PublishedSite(folder, url, labs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def real_site(published_site: PublishedSite) -> str:
    """The URL of the project's site (under a sub-path of the host)."""
    return published_site.url


@pytest.fixture
def page(real_site: str) -> Iterator[object]:
    """A Chromium page that fails the test on a request to another host, a console error or a script error."""
    with guarded_page(real_site) as pg:
        yield pg
