"""The version switch of the demo site of two kernels in Debian's Chromium: it leads to the same
file or symbol in the other kernel, says plainly when there is none, a link to a definition in a
file without a page lands on its "defined elsewhere" entry; no request to another host, no
console error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .sitekit import CHROMIUM, build_site, guarded_page, make_two_demo_kernels, serve_folder, write_two_kernel_project

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing: `make setup` installs Debian's chromium")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("versions-browser")
    make_two_demo_kernels(root / "snippets")
    project = write_two_kernel_project(root / "project", root / "snippets")
    site = build_site(project.root / "mkdocs.yml")
    with serve_folder(site) as url:
        yield url


@pytest.fixture
def page(served: str) -> Iterator[object]:
    """Chromium on the demo two-kernel site, failing on requests elsewhere and console errors."""
    with guarded_page(served) as pg:
        yield pg


def test_switch_leads_to_the_same_file_in_the_other_kernel_and_back(served: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{served}demo-1.0/source/net/demo/demo_core.c/")
    switch = page.locator(".kx-versions")
    assert "demo-1.0" in switch.locator(".kx-version-here").inner_text()
    switch.locator("a", has_text="demo-2.0").click()
    page.wait_for_url("**/demo-2.0/source/net/demo/demo_core.c/")
    assert "demo_core.c" in page.locator(".kx-file-head").inner_text()
    assert "demo-2.0" in page.locator(".kx-versions .kx-version-here").inner_text()
    page.locator(".kx-versions a", has_text="demo-1.0").click()
    page.wait_for_url("**/demo-1.0/source/net/demo/demo_core.c/")


def test_switch_says_when_the_other_kernel_has_no_such_file_or_symbol(served: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{served}demo-2.0/source/net/demo/demo_fast.c/")
    absent = page.locator(".kx-versions .kx-version-absent")
    assert absent.inner_text() == "demo-1.0: no such file"
    assert absent.is_visible()
    assert page.locator(".kx-versions a").count() == 0
    page.goto(f"{served}demo-1.0/symbol/demo_queue_full/")
    assert "not defined there" in page.locator(".kx-versions .kx-version-absent").inner_text()
    page.goto(f"{served}demo-1.0/symbol/demo_listen_start/")
    page.locator(".kx-versions a", has_text="demo-2.0").click()
    page.wait_for_url("**/demo-2.0/symbol/demo_listen_start/")
    assert page.locator("#kx-diff .kx-diff-add").count() > 0


def test_a_name_defined_outside_the_pages_lands_on_its_entry(served: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{served}demo-2.0/source/net/demo/demo_fast.c/")
    page.locator(".kx-code a", has_text="demo_hash").first.click()
    page.wait_for_url("**/demo-2.0/elsewhere/d/#demo_hash")
    entry = page.locator("#demo_hash")
    assert "lib/demo_lib.c" in entry.inner_text()
    assert entry.is_visible()
