"""Shared helpers: a throwaway kernel-snippets folder, the parser, the vendored tree.

Every C fixture in this suite is written by the project (tests/fixtures/ or inline),
in kernel style, with invented names: no kernel code is copied here.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SNIPPETS = REPO / "kernel-snippets"
VENDORED_KERNEL = "linux-6.1"
VENDORED_TREE = SNIPPETS / VENDORED_KERNEL
VENDORED_INDEX = SNIPPETS / "index" / f"{VENDORED_KERNEL}.sqlite"
VENDORED_LOCK = SNIPPETS / f"{VENDORED_KERNEL}.lock.json"

KERNEL = "linux-test"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def write_kernels_toml(snippets: Path, name: str = KERNEL, paths: Iterable[str] = ("net", "include"), **extra: str) -> None:
    snippets.mkdir(parents=True, exist_ok=True)
    lines = [f'default = "{name}"', "", f'[kernels."{name}"]', f'title = "{name} for tests"']
    lines.append("paths = [" + ", ".join(f'"{p}"' for p in paths) + "]")
    for key, value in extra.items():
        lines.append(f'{key} = "{value}"')
    (snippets / "kernels.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_tree(tree: Path, files: dict[str, bytes | str]) -> None:
    for rel, content in files.items():
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)


def make_project(snippets: Path, files: dict[str, bytes | str], name: str = KERNEL):  # type: ignore[no-untyped-def]
    """A kernel-snippets folder with kernels.toml and an (unindexed) tree NAME/ holding `files`."""
    from explorer.config import Project

    write_kernels_toml(snippets, name)
    write_tree(snippets / name, files)
    return Project.load(snippets)


def widget_files() -> dict[str, bytes | str]:
    """The widget fixture as a two-file kernel: a .c file and its header."""
    return {"net/ipv4/widget.c": fixture_bytes("widget.c"), "include/net/widget.h": fixture_bytes("widget.h")}


def indexed_widget_project(snippets: Path):  # type: ignore[no-untyped-def]
    """A kernel-snippets folder holding the widget kernel and its real index (built with one job)."""
    from explorer.indexer import build_index

    project = make_project(snippets, widget_files())
    build_index(project, jobs=1)
    return project


def indexed_snippets(tmp_path_factory: pytest.TempPathFactory, label: str, files: dict[str, bytes | str]) -> Path:
    """A fresh kernel-snippets folder whose one kernel holds `files`, indexed for real with one job."""
    from explorer.indexer import build_index

    folder = tmp_path_factory.mktemp(label) / "kernel-snippets"
    build_index(make_project(folder, files), jobs=1)
    return folder


def run_cli(capsys: pytest.CaptureFixture[str], snippets: Path, *argv: str) -> tuple[int, str, str]:
    """`kexplore ARGV --snippets SNIPPETS` in this process: exit code, stdout, stderr (never a traceback)."""
    from explorer.cli import main

    code = main([*argv, "--snippets", str(snippets)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def json_children(capsys: pytest.CaptureFixture[str], snippets: Path, *argv: str) -> list[dict[str, object]]:
    """The `children` rows of a call-graph command's `--json` answer (callers, callees)."""
    code, out, _ = run_cli(capsys, snippets, *argv, "--json")
    assert code == 0
    children: list[dict[str, object]] = json.loads(out)["children"]
    return children


def symbols_of(db_path: Path) -> set[tuple[str, str, str, int]]:
    """(name, kind, path, line) of every row of an index, read with plain sqlite3."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return set(
            db.execute("SELECT s.name, s.kind, f.path, s.line FROM symbols s JOIN files f ON f.id = s.file_id")
        )
    finally:
        db.close()


def damaged_after_open(good: bytes, probe: Path) -> bytes:
    """The index `good` with every page but the schema's and the meta table's (and its key's)
    overwritten: it opens (its schema version is readable), then fails in the first query of
    anything else.  `probe` is a scratch file."""
    probe.write_bytes(good)
    db = sqlite3.connect(probe)
    try:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        keep = {row[0] for row in db.execute(
            "SELECT pageno FROM dbstat WHERE name IN ('sqlite_schema', 'meta', 'sqlite_autoindex_meta_1')"
        )}
    finally:
        db.close()
        probe.unlink()
    pages = [good[i : i + page_size] for i in range(0, len(good), page_size)]
    return b"".join(p if n in keep else b"\xa5" * page_size for n, p in enumerate(pages, start=1))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name or p.name.startswith((".tmp", ".old-")))


@pytest.fixture
def parse() -> Callable[..., list]:
    """parse(src, path="net/ipv4/fixture.c") -> list of Definition."""
    from explorer.cparse import make_parser, parse_definitions

    parser = make_parser()

    def run(src: bytes | str, path: str = "net/ipv4/fixture.c") -> list:
        data = src.encode() if isinstance(src, str) else src
        return parse_definitions(parser, data, path).definitions

    return run


def by_name(definitions: list, name: str, kind: str | None = None) -> list:
    return [d for d in definitions if d.name == name and (kind is None or d.kind == kind)]


def line_of(text: bytes | str, needle: bytes | str, start: int = 1, whole: bool = False) -> int:
    """1-based number of the first line, from line `start` on, that contains `needle` (or is it, if `whole`)."""
    data = text.encode() if isinstance(text, str) else text
    want = needle.encode() if isinstance(needle, str) else needle
    for number, line in enumerate(data.split(b"\n"), start=1):
        if number >= start and (line.rstrip(b"\r") == want if whole else want in line):
            return number
    raise AssertionError(f"{needle!r} not found")


requires_vendored = pytest.mark.skipif(
    not VENDORED_INDEX.is_file() or not VENDORED_TREE.is_dir(),
    reason=f"no vendored kernel: {VENDORED_INDEX.relative_to(REPO)} or {VENDORED_TREE.relative_to(REPO)} "
    "is missing (run `make index`)",
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests name their own snippets folder and never touch the user's download cache."""
    monkeypatch.delenv("KEXPLORE_SNIPPETS", raising=False)
    monkeypatch.setenv("KEXPLORE_CACHE", str(tmp_path_factory.mktemp("cache")))


# ---------------------------------------------------------------- no silent skips under CI

_NO_SKIPS = os.environ.get("CI", "").lower() in ("1", "true", "yes") or os.environ.get("KEXPLORE_NO_SKIPS") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Under CI (root, everything installed by `make test`) a skipped test is a failure: whatever it
    needs is missing from the project's own setup.  Elsewhere skips stay skips, listed by `-rs`."""
    outcome = yield
    report = outcome.get_result()
    if _NO_SKIPS and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, where `make test` installs everything a test needs: {reason}"
