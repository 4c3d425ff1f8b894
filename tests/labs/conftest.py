"""Fixtures for the labs' tests: the checkout's project, the vendored code read through the index, root.

The labs run for real on loopback (and, as root, in namespaces they create and delete), with
small counts; nothing here asserts how long anything takes.

A test that needs what this machine lacks (the index, root, network namespaces) is skipped
with the reason, except under CI (CI=true: root, the index and every package installed),
where a missing piece fails the test instead: there, nothing may pass by being skipped.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SNIPPETS = REPO / "kernel-snippets"


def skip_unless_ci(reason: str) -> None:
    """Skip with `reason`; under CI, where everything the labs need is installed, fail instead."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (under CI the labs' tests must run, not skip)")
    pytest.skip(reason)


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
        skip_unless_ci(f"no index for {spec.name}: run `make index`")
    tree = project.tree(spec.name)
    if not tree.is_dir():
        index.close()
        skip_unless_ci(f"{spec.name} is not vendored: run `make index`")
    if not os.access(tree, os.R_OK | os.X_OK):
        index.close()
        skip_unless_ci(f"{tree} is not readable by this user")
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


def _netns_missing() -> str | None:
    """Why this process cannot create a network namespace, or None when it can."""
    if os.geteuid() != 0:
        return "needs root: the labs' private network namespaces"
    from explorer.labs import LabError
    from explorer.labs.netns import PrivateNetns

    try:
        with PrivateNetns() as ns, ns.entered():
            pass
    except (LabError, OSError) as exc:
        return f"cannot create a network namespace here: {exc}"
    return None


@pytest.fixture(scope="session")
def netns_missing() -> str | None:
    """Why the labs' network namespaces cannot be made here (None: they can), for tests of both cases."""
    return _netns_missing()


@pytest.fixture(scope="session")
def netns_capable(netns_missing: str | None) -> None:
    """Skip (fail under CI) unless this process can create a network namespace.

    Only the environment is probed here: a missing `nft` is not a reason to skip, since the
    Makefile installs nftables; the lab reports it as an error.
    """
    if netns_missing is not None:
        skip_unless_ci(netns_missing)


@pytest.fixture(scope="session")
def capacity_extra(vendored_source, operator_after) -> int:  # type: ignore[no-untyped-def]
    """1 when the vendored sk_acceptq_is_full compares with `>` (the accept queue takes backlog + 1), 0 with `>=`."""
    return 1 if operator_after(vendored_source("sk_acceptq_is_full"), "sk->sk_ack_backlog)") == ">" else 0

