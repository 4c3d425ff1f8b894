"""Every `kexplore` command that reads an index reports a damaged one in one line (exit 1), never a traceback."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import KERNEL, damaged_after_open, indexed_widget_project, make_project, widget_files

from explorer.cli import main

READERS = [
    ["lookup", "widget_attach"],
    ["search", "widget"],
    ["show", "widget_attach"],
    ["dump"],
    ["dump", "--json"],
    ["refs", "widget_attach"],
    ["callers", "widget_attach"],
    ["callees", "widget_attach", "--depth", "3"],
    ["struct", "widget_queue"],
    ["path", "widget_attach", "widget_attach"],
    ["check"],
    ["versions"],
    ["history", "widget_attach"],
    ["diff", "widget_attach"],
    ["changes"],
]


@pytest.fixture(scope="module")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a small real index, built from the project's fixtures."""
    project = indexed_widget_project(tmp_path_factory.mktemp("damaged") / "kernel-snippets")
    return project.index_path(KERNEL).read_bytes()


def _other_schema(tmp_path: Path) -> bytes:
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    db.execute("INSERT INTO notes (body) VALUES ('not an index')")
    db.commit()
    db.close()
    return path.read_bytes()


def _variant(kind: str, good: bytes, tmp_path: Path) -> bytes:
    if kind == "empty":
        return b""
    if kind == "garbage":
        return bytes(range(256)) * 64
    if kind == "half":
        return good[: len(good) // 2]
    if kind == "other-schema":
        return _other_schema(tmp_path)
    return damaged_after_open(good, tmp_path / "probe.sqlite")


DAMAGES = ["empty", "garbage", "half", "other-schema", "fails-after-opening"]


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("argv", READERS, ids=lambda a: " ".join(a))
def test_a_damaged_index_is_one_line_and_exit_1(capsys, tmp_path: Path, real_index: bytes, damage: str, argv: list[str]) -> None:  # type: ignore[no-untyped-def]
    snippets = tmp_path / "kernel-snippets"
    project = make_project(
        snippets, widget_files()
    )
    docs = tmp_path / "docs"  # an annotation page, so that `check` has something to look up
    docs.mkdir()
    (docs / "notes.md").write_text("---\nannotations: true\n---\n\n## `widget_attach`\nAttaches.\n", encoding="utf-8")
    index = project.index_path(KERNEL)
    index.parent.mkdir(parents=True, exist_ok=True)
    data = _variant(damage, real_index, tmp_path)
    index.write_bytes(data)
    code = main([*argv, "--snippets", str(snippets)])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kexplore: the index ") and str(index) in lines[0]
    assert "damaged" in lines[0] and "kexplore index --force" in lines[0]
    assert index.read_bytes() == data  # a reader never rewrites the index


def test_the_after_opening_variant_really_opens(tmp_path: Path, real_index: bytes) -> None:
    """The last damage above must get past `Index()` (the schema check) and fail in a later query."""
    from explorer.store import Index, IndexDamaged

    path = tmp_path / "x.sqlite"
    path.write_bytes(damaged_after_open(real_index, tmp_path / "probe.sqlite"))
    index = Index(path)
    with pytest.raises(IndexDamaged, match="malformed"), index:
        index.lookup("widget_attach")
    shutil.copy(path, tmp_path / "y.sqlite")
    with pytest.raises(IndexDamaged):
        Index(tmp_path / "y.sqlite").verify()
