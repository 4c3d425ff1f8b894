"""Fixtures for the site's tests (helpers in sitekit.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from explorer.config import PACKAGE_ROOT

from .sitekit import (
    CHROMIUM,
    CHROMIUM_ARGS,
    INDEX_MD,
    MKDOCS_YML,
    DemoProject,
    build_site,
    environment,
    make_demo_kernel,
    real_index_missing,
    serve_folder,
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


@dataclass(frozen=True)
class PublishedSite:
    """The project's real site as it is published: `folder` served at `url`, a sub-path of the host."""

    folder: Path
    url: str  # ends with /kernel-explorer/; also the site_url it was built for


@pytest.fixture(scope="session")
def published_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PublishedSite]:
    """The project's mkdocs.yml built once per session, strictly, with KEXPLORE_SITE_URL naming a
    sub-path of a server on 127.0.0.1 (started first, so the URL holds its port), and served there."""
    missing = real_index_missing()
    if missing is not None:
        pytest.skip(missing)
    root = tmp_path_factory.mktemp("published")
    folder = root / SUB_PATH.rstrip("/")
    try:
        with serve_folder(root) as host:
            url = host + SUB_PATH
            with environment(KEXPLORE_SITE_URL=url):
                build_site(PACKAGE_ROOT / "mkdocs.yml", strict=True, site_dir=folder)
            yield PublishedSite(folder, url)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def real_site(published_site: PublishedSite) -> str:
    """The URL of the project's site (under a sub-path of the host)."""
    return published_site.url


@pytest.fixture
def page(real_site: str) -> Iterator[object]:
    """A Chromium page that fails the test on a request to another host, a console error or a script error."""
    from playwright.sync_api import sync_playwright

    allowed = urlsplit(real_site).netloc
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()

        def guard(route) -> None:  # type: ignore[no-untyped-def]
            host = urlsplit(route.request.url).netloc
            if host != allowed:
                problems.append(f"request to another host: {route.request.url}")
                route.abort()
            else:
                route.continue_()

        context.route("**/*", guard)
        pg = context.new_page()
        pg.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
        pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        try:
            yield pg
        finally:
            browser.close()
    assert problems == []
