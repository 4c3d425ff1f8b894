"""Fixtures for the labs' tests: the checkout's project, the vendored code read through the index, root.

The labs run for real on loopback (and, as root, in namespaces they create and delete), with
small counts; nothing here asserts how long anything takes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SNIPPETS = REPO / "kernel-snippets"


@pytest.fixture(scope="session")
def project():  # type: ignore[no-untyped-def]
    from explorer.config import Project

    return Project.load(SNIPPETS)


@pytest.fixture(scope="session")
def vendored_index(project):  # type: ignore[no-untyped-def]
    """The vendored kernel's index, or a skip when it has not been built (make index)."""
    from explorer.store import Index, IndexMissing

    spec = project.kernel()
    try:
        index = Index(project.index_path(spec.name))
    except IndexMissing:
        pytest.skip(f"no index for {spec.name}: run `make index`")
    tree = project.tree(spec.name)
    if not tree.is_dir():
        index.close()
        pytest.skip(f"{spec.name} is not vendored: run `make index`")
    if not os.access(tree, os.R_OK | os.X_OK):
        index.close()
        pytest.skip(f"{tree} is not readable by this user")
    yield index
    index.close()


@pytest.fixture(scope="session")
def vendored_source(project, vendored_index):  # type: ignore[no-untyped-def]
    """vendored_source(name) -> the text of NAME's definition, read from the tree at the index's path:line."""
    tree = project.tree(project.kernel().name)

    def read(name: str) -> str:
        found = [s for s in vendored_index.lookup(name) if s.kind == "function"]
        assert found, f"{name} is not in the index"
        sym = found[0]
        lines = (tree / sym.path).read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(lines[sym.line - 1 : sym.end_line])

    return read


@pytest.fixture
def code(project):  # type: ignore[no-untyped-def]
    from explorer.labs.code import KernelCode

    with KernelCode(project) as kernel_code:
        yield kernel_code


def _operator_after(text: str, left: str) -> str:
    match = re.search(re.escape(left) + r"\s*(>=|>)", text)
    assert match, f"no comparison after {left!r} in:\n{text}"
    return match.group(1)


@pytest.fixture(scope="session")
def operator_after():  # type: ignore[no-untyped-def]
    """operator_after(text, left) -> the comparison operator (">" or ">=") following `left` in C text."""
    return _operator_after


def _lab_namespaces(pid: int | None = None) -> list[str]:
    folder = Path("/run/netns")
    if not folder.is_dir():
        return []
    prefix = "kexplore-lab-" + (f"{pid}-" if pid is not None else "")
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(prefix))


@pytest.fixture(scope="session")
def lab_namespaces():  # type: ignore[no-untyped-def]
    """lab_namespaces(pid=None) -> the namespaces the labs made (of one process) that still exist."""
    return _lab_namespaces


@pytest.fixture(scope="session")
def netns_capable() -> None:
    """Skip unless this process can create a network namespace (root, and a kernel/container that allows it).

    Only the environment is probed here: a missing `nft` is not a reason to skip, since the
    Makefile installs nftables; the lab reports it as an error.
    """
    if os.geteuid() != 0:
        pytest.skip("needs root: the labs' private network namespaces")
    from explorer.labs import LabError
    from explorer.labs.netns import PrivateNetns

    try:
        with PrivateNetns() as ns, ns.entered():
            pass
    except (LabError, OSError) as exc:
        pytest.skip(f"cannot create a network namespace here: {exc}")

