"""Index sharing: a file that another kernel's index holds with the same path and content is copied, not parsed.

The receiving index must hold exactly what parsing would have given it: every test here compares a
shared build with a build of the same tree that parses everything.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from conftest import widget_files, write_tree

from explorer.cli import main
from explorer.config import Project
from explorer.indexer import IndexResult, build_index

CHANGED_OLD = """\
#include <net/widget.h>

static int only_here(struct widget_queue *w)
{
\treturn w->wq_depth + 1;
}
"""

CHANGED_NEW = """\
#include <net/widget.h>

/* another driver's struct of the same name as dup_a.c's, whose member q has another type */
struct dup {
\tlong\t\tq;
\tlong\t\tpadding_to_make_this_file_the_bigger_one[4];
};

static long through_dup(struct dup *d)
{
\treturn d->q->wq_depth;
}

static int only_here(struct widget_queue *w)
{
\tw->wq_depth = 0;
\treturn 2;
}

int arrives_later(void)
{
\treturn only_here(0);
}
"""


DUP_A = """\
#include <net/widget.h>

struct dup {
\tstruct widget_queue\t*q;
};

/**
 * dup_depth - how deep a dup's queue is
 * @d: the dup
 *
 * Return: the depth, or 0 without a queue.
 */
unsigned int dup_depth(struct dup *d)
{
\treturn d->q ? d->q->wq_depth : 0;
}
EXPORT_SYMBOL_GPL(dup_depth);
"""


def two_kernels(folder: Path, second_tree: dict[str, bytes | str] | None = None) -> Project:
    """kernels.toml declaring linux-a then linux-b; widget.c and widget.h are the same in both, change.c differs."""
    folder.mkdir(parents=True, exist_ok=True)
    toml = ['default = "linux-a"']
    for name in ("linux-a", "linux-b"):
        toml += ["", f'[kernels."{name}"]', 'paths = ["net", "include"]']
    (folder / "kernels.toml").write_text("\n".join(toml) + "\n", encoding="utf-8")
    write_tree(folder / "linux-a", {**widget_files(), "net/core/dup_a.c": DUP_A, "net/core/change.c": CHANGED_OLD})
    write_tree(folder / "linux-b", second_tree or {**widget_files(), "net/core/dup_a.c": DUP_A, "net/core/change.c": CHANGED_NEW})
    return Project.load(folder)


def contents(index: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of an index with ids replaced by what they stand for (a path, an access key), sorted."""
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        q = {
            "files": "SELECT path, sha256, size, lines, error_nodes, partial FROM files",
            "symbols": "SELECT f.path, s.name, s.kind, s.line, s.col, s.end_line, s.scope, s.signature, s.cond, s.type,"
                       " s.start_line, s.start_byte, s.end_byte, s.digest FROM symbols s JOIN files f ON f.id = s.file_id",
            "refs": "SELECT f.path, r.line, r.col, r.end_col, r.name, r.role, r.func, r.cond, a.key, a.target, a.macro, a.reason,"
                    " r.id - (r.file_id << 20) FROM refs r JOIN files f ON f.id = r.file_id LEFT JOIN access a ON a.id = r.access_id",
            "fnassign": "SELECT f.path, x.line, a.key, a.target, x.function FROM fnassign x JOIN files f ON f.id = x.file_id"
                        " JOIN access a ON a.id = x.access_id",
            "includes": "SELECT f.path, i.path FROM includes i JOIN files f ON f.id = i.file_id",
            "locals": "SELECT f.path, l.line, l.data FROM locals l JOIN files f ON f.id = l.file_id",
            "access": "SELECT key, target, macro, reason, state FROM access",
            "docs": "SELECT f.path, d.name, d.def_line, d.line, d.summary, d.params, d.returns, d.context, d.text"
                    " FROM docs d JOIN files f ON f.id = d.file_id",
            "exports": "SELECT f.path, e.line, e.col, e.end_col, e.name, e.macro, e.namespace, e.cond"
                       " FROM exports e JOIN files f ON f.id = e.file_id",
        }
        return {table: sorted(db.execute(sql).fetchall(), key=repr) for table, sql in q.items()}
    finally:
        db.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, IndexResult, IndexResult]:
    project = two_kernels(tmp_path_factory.mktemp("share") / "kernel-snippets")
    first = build_index(project, "linux-a", jobs=1)
    second = build_index(project, "linux-b", jobs=1)
    return project, first, second


def test_the_second_kernel_copies_the_unchanged_files_and_parses_the_rest(built: tuple[Project, IndexResult, IndexResult]) -> None:
    _, first, second = built
    assert (first.parsed, first.shared) == (4, 0)
    assert (second.parsed, second.shared, second.shared_from) == (4, 3, ["linux-a"])
    assert second.changed and "net/core/change.c" in second.changed


def test_a_shared_index_holds_what_parsing_everything_gives(built: tuple[Project, IndexResult, IndexResult], tmp_path: Path) -> None:
    project, _, _ = built
    alone = two_kernels(tmp_path / "kernel-snippets")
    result = build_index(alone, "linux-b", jobs=1)  # no linux-a index beside it: every file is parsed
    assert result.shared == 0
    shared, parsed = contents(project.index_path("linux-b")), contents(alone.index_path("linux-b"))
    for table in parsed:
        assert shared[table] == parsed[table], table
    assert "dup_depth" in {row[1] for row in shared["docs"]} and "dup_depth" in {row[4] for row in shared["exports"]}
    # member accesses of the copied file are resolved in the receiving index, against its own types
    assert any(row[9] and row[9].startswith("widget_queue.") for row in shared["refs"] if row[0] == "net/ipv4/widget.c")
    assert any(row[9] == "widget_queue.wq_depth" for row in shared["refs"] if row[0] == "net/core/change.c")
    # dup.q has two definitions (change.c's long, dup_a.c's pointer): the first in path order wins in
    # both builds, though the shared one inserted dup_a.c's rows first and the other change.c's
    dup_rows = {row[8]: row for row in shared["refs"] if row[0] == "net/core/change.c" and row[8]}
    assert dup_rows["t:dup||q"][9] == "dup.q"
    assert dup_rows["t:dup|q|wq_depth"][9] is None and "long" in dup_rows["t:dup|q|wq_depth"][11]


def test_no_share_parses_every_file(tmp_path: Path) -> None:
    project = two_kernels(tmp_path / "kernel-snippets")
    build_index(project, "linux-a", jobs=1)
    result = build_index(project, "linux-b", jobs=1, share=False)
    assert (result.parsed, result.shared) == (4, 0)


def test_a_file_changed_later_is_parsed_and_the_rest_stays(tmp_path: Path) -> None:
    project = two_kernels(tmp_path / "kernel-snippets")
    build_index(project, "linux-a", jobs=1)
    build_index(project, "linux-b", jobs=1)
    header = project.tree("linux-b") / "include/net/widget.h"
    header.write_bytes(header.read_bytes() + b"\n/* a new last line */\n")
    again = build_index(project, "linux-b", jobs=1)
    assert (again.parsed, again.shared, again.changed) == (1, 0, ["include/net/widget.h"])


def test_same_content_with_another_mtime_is_shared_and_keeps_its_own_mtime(tmp_path: Path) -> None:
    project = two_kernels(tmp_path / "kernel-snippets")
    source = project.tree("linux-b") / "net/ipv4/widget.c"
    os.utime(source, ns=(1_000_000_000, 1_000_000_000))
    build_index(project, "linux-a", jobs=1)
    result = build_index(project, "linux-b", jobs=1)
    assert result.shared == 3
    db = sqlite3.connect(project.index_path("linux-b"))
    try:
        (mtime,) = db.execute("SELECT mtime_ns FROM files WHERE path = 'net/ipv4/widget.c'").fetchone()
    finally:
        db.close()
    assert mtime == 1_000_000_000
    assert build_index(project, "linux-b", jobs=1).parsed == 0  # and the next run trusts it


def test_an_index_built_by_another_indexer_is_no_donor(tmp_path: Path) -> None:
    project = two_kernels(tmp_path / "kernel-snippets")
    build_index(project, "linux-a", jobs=1)
    db = sqlite3.connect(project.index_path("linux-a"))
    db.execute("UPDATE meta SET value = 'another' WHERE key = 'indexer_version'")
    db.commit()
    db.close()
    assert build_index(project, "linux-b", jobs=1).shared == 0


def test_a_damaged_donor_is_skipped(tmp_path: Path) -> None:
    project = two_kernels(tmp_path / "kernel-snippets")
    donor = project.index_path("linux-a")
    donor.parent.mkdir(parents=True, exist_ok=True)
    donor.write_bytes(b"not a database at all" * 100)
    result = build_index(project, "linux-b", jobs=1)
    assert (result.parsed, result.shared) == (4, 0)
    assert donor.read_bytes().startswith(b"not a database")  # left as it was


def test_a_same_path_with_other_content_is_parsed(tmp_path: Path) -> None:
    other = {**widget_files(), "net/core/dup_a.c": DUP_A, "net/core/change.c": CHANGED_NEW}
    other["include/net/widget.h"] = other["include/net/widget.h"] + (b"\n" if isinstance(other["include/net/widget.h"], bytes) else "\n")
    project = two_kernels(tmp_path / "kernel-snippets", other)
    build_index(project, "linux-a", jobs=1)
    result = build_index(project, "linux-b", jobs=1)
    assert result.shared == 2  # widget.c and dup_a.c


def test_index_all_indexes_every_kernel_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = two_kernels(tmp_path / "kernel-snippets")
    assert main(["index", "--all", "--jobs", "1", "--snippets", str(project.snippets)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("linux-a: parsed 4 of 4 files")
    assert out[1].startswith("linux-b: parsed 1 of 4 files and copied 3 unchanged since linux-a")
    build_index(project, "linux-b", jobs=1, force=True)
    assert main(["index", "--all", "--json", "--snippets", str(project.snippets)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["kernel"], r["parsed"]) for r in rows] == [("linux-a", 0), ("linux-b", 0)]


def test_index_all_and_kernel_exclude_each_other(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = two_kernels(tmp_path / "kernel-snippets")
    assert main(["index", "--all", "--kernel", "linux-a", "--snippets", str(project.snippets)]) == 2
    assert "exclude each other" in capsys.readouterr().err


def test_every_table_of_file_rows_is_shared() -> None:
    """A new table of per-file rows must be copied too, or a shared index would lack its rows."""
    from explorer.indexer import _PER_FILE_TABLES, DERIVED_TABLES, FILE_RANGE_TABLES
    from explorer.store import create_schema

    db = sqlite3.connect(":memory:")
    create_schema(db)
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    with_file_rows = {t for t in tables if t != "files" and "file_id" in {c[1] for c in db.execute(f"PRAGMA table_info({t})")}}
    assert with_file_rows - DERIVED_TABLES == set(_PER_FILE_TABLES)
    # the rest hold no file's rows, or hold them by rowid ranges (copied by _copy_refs)
    assert set(tables) - with_file_rows | DERIVED_TABLES == {"meta", "files", "access", "names", *FILE_RANGE_TABLES, *DERIVED_TABLES}


def test_assembly_and_system_call_tables_share_and_derive_their_own_rows(tmp_path: Path) -> None:
    """The tables and dispatch sites are copied; the wrapper definitions and table calls derived from
    them are derived again in the receiving index, never copied (no duplicates)."""
    from test_asm import demo_files

    folder = tmp_path / "kernel-snippets"
    folder.mkdir()
    toml = ['default = "linux-a"']
    for name in ("linux-a", "linux-b"):
        toml += ["", f'[kernels."{name}"]', 'paths = ["arch/x86", "net"]']
    (folder / "kernels.toml").write_text("\n".join(toml) + "\n", encoding="utf-8")
    files = demo_files()
    write_tree(folder / "linux-a", files)
    changed = dict(files)
    changed["net/demo_socket.c"] = files["net/demo_socket.c"] + (b"\n" if isinstance(files["net/demo_socket.c"], bytes) else "\n")
    write_tree(folder / "linux-b", changed)
    project = Project.load(folder)
    build_index(project, "linux-a", jobs=1)
    result = build_index(project, "linux-b", jobs=1)
    assert result.shared == result.files - 1 > 5  # every indexed file but the changed one
    alone_folder = tmp_path / "alone"
    alone_folder.mkdir()
    (alone_folder / "kernels.toml").write_text("\n".join(toml) + "\n", encoding="utf-8")
    write_tree(alone_folder / "linux-b", changed)
    alone = Project.load(alone_folder)
    build_index(alone, "linux-b", jobs=1)
    shared, parsed = contents(project.index_path("linux-b")), contents(alone.index_path("linux-b"))
    for table in parsed:
        assert shared[table] == parsed[table], table
    db = sqlite3.connect(project.index_path("linux-b"))
    try:
        derived = db.execute("SELECT count(*) FROM derived_symbols").fetchone()[0]
        calls = sorted(db.execute("SELECT name, via FROM table_calls").fetchall())
    finally:
        db.close()
    db = sqlite3.connect(alone.index_path("linux-b"))
    try:
        assert derived == db.execute("SELECT count(*) FROM derived_symbols").fetchone()[0] > 0
        assert calls == sorted(db.execute("SELECT name, via FROM table_calls").fetchall()) != []
    finally:
        db.close()


def test_the_resolver_reads_symbols_and_refs_with_the_stores_codes_and_is_versioned_by_them() -> None:
    """explorer/resolve.py reads `symbol.kind`, `symbol.signature` and the rowid layout of `ref` through
    explorer/symbolcodes.py, the store's own definitions (it must not import the store), and that module is part of
    the indexer's version."""
    import inspect

    from explorer import indexer, resolve, store, symbolcodes

    assert resolve.KINDS is store.KINDS is symbolcodes.KINDS
    assert resolve.signature_sql is store.signature_sql
    assert resolve.REF_FILE_SHIFT == store.REF_FILE_SHIFT == symbolcodes.REF_FILE_SHIFT
    assert "REF_FILE_SHIFT =" not in inspect.getsource(resolve) and "REF_FILE_SHIFT =" not in inspect.getsource(store)
    assert "symbolcodes.py" in [p.name for p in indexer.row_code_files()]
    assert "store.py" not in [p.name for p in indexer.row_code_files()]
