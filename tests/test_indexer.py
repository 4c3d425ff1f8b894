"""The index: incremental by content, rebuilt on --force, swapped in atomically."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import KERNEL, fixture_bytes, leftovers, make_project, symbols_of

from explorer import indexer
from explorer.indexer import IndexBuildError, build_index

GIZMO_C = "int gizmo_one(void)\n{\n\treturn 1;\n}\n"


@pytest.fixture
def project(tmp_path: Path):  # type: ignore[no-untyped-def]
    return make_project(
        tmp_path / "snippets",
        {
            "net/ipv4/widget.c": fixture_bytes("widget.c"),
            "net/ipv4/recovery.c": fixture_bytes("recovery.c"),
            "net/ipv4/gizmo.c": GIZMO_C,
            "include/net/widget.h": fixture_bytes("widget.h"),
            "include/linux/latin1.h": fixture_bytes("latin1.c"),
            "net/ipv4/Makefile": "obj-y += widget.o\n",  # not C: not indexed
            "net/ipv4/notes.txt": "int not_c_at_all;\n",
        },
    )


def db_of(project) -> Path:  # type: ignore[no-untyped-def]
    return project.index_path(KERNEL)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bump_mtime(path: Path, seconds: int = 10) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


def test_first_build_indexes_every_c_and_h_file(project) -> None:  # type: ignore[no-untyped-def]
    result = build_index(project, jobs=1)
    assert (result.files, result.parsed, result.removed) == (5, 5, 0)
    rows = symbols_of(db_of(project))
    assert result.symbols == len(rows)
    paths = {r[2] for r in rows}
    assert paths == {"net/ipv4/widget.c", "net/ipv4/recovery.c", "net/ipv4/gizmo.c", "include/net/widget.h", "include/linux/latin1.h"}
    assert ("gizmo_one", "function", "net/ipv4/gizmo.c", 1) in rows
    assert ("sys_frob", "function") in {r[:2] for r in rows}
    assert result.error_files >= 1  # recovery.c


def test_files_table_records_hash_size_and_lines(project) -> None:  # type: ignore[no-untyped-def]
    build_index(project, jobs=1)
    db = sqlite3.connect(db_of(project))
    row = db.execute("SELECT sha256, size, lines FROM files WHERE path = 'net/ipv4/gizmo.c'").fetchone()
    db.close()
    gizmo = project.tree(KERNEL) / "net/ipv4/gizmo.c"
    assert row == (sha(gizmo), gizmo.stat().st_size, GIZMO_C.count("\n"))


def test_second_build_parses_nothing_and_writes_nothing(project) -> None:  # type: ignore[no-untyped-def]
    build_index(project, jobs=1)
    before = db_of(project).stat()
    result = build_index(project, jobs=1)
    assert (result.parsed, result.removed, result.files) == (0, 0, 5)
    after = db_of(project).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert result.symbols == len(symbols_of(db_of(project)))


def test_changed_content_reparses_only_that_file(project) -> None:  # type: ignore[no-untyped-def]
    build_index(project, jobs=1)
    gizmo = project.tree(KERNEL) / "net/ipv4/gizmo.c"
    gizmo.write_text("int gizmo_two(void)\n{\n\treturn 2;\n}\n\nint gizmo_three;\n")
    bump_mtime(gizmo)
    result = build_index(project, jobs=1)
    assert result.parsed == 1
    assert result.changed == ["net/ipv4/gizmo.c"]
    rows = symbols_of(db_of(project))
    gizmo_rows = {r for r in rows if r[2] == "net/ipv4/gizmo.c"}
    assert gizmo_rows == {("gizmo_two", "function", "net/ipv4/gizmo.c", 1), ("gizmo_three", "variable", "net/ipv4/gizmo.c", 6)}
    assert ("widget_attach", "function", "net/ipv4/widget.c") in {r[:3] for r in rows}


def test_same_content_with_a_new_mtime_is_not_reparsed(project, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    build_index(project, jobs=1)
    gizmo = project.tree(KERNEL) / "net/ipv4/gizmo.c"
    bump_mtime(gizmo)
    parsed: list[str] = []
    real = indexer._parse_one

    def spy(job):  # type: ignore[no-untyped-def]
        parsed.append(job[0])
        return real(job)

    monkeypatch.setattr(indexer, "_parse_one", spy)
    result = build_index(project, jobs=1)
    assert result.parsed == 0 and parsed == []
    # the new mtime is recorded, so the next run does not even hash the file
    db = sqlite3.connect(db_of(project))
    (mtime,) = db.execute("SELECT mtime_ns FROM files WHERE path = 'net/ipv4/gizmo.c'").fetchone()
    db.close()
    assert mtime == gizmo.stat().st_mtime_ns
    hashed: list[Path] = []
    real_read = Path.read_bytes

    def read_spy(self: Path) -> bytes:
        hashed.append(self)
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_spy)
    assert build_index(project, jobs=1).parsed == 0
    tree = project.tree(KERNEL)
    assert [p for p in hashed if tree in p.parents] == []


def test_force_rebuilds_everything(project) -> None:  # type: ignore[no-untyped-def]
    first = build_index(project, jobs=1)
    rows = symbols_of(db_of(project))
    result = build_index(project, force=True, jobs=1)
    assert result.parsed == result.files == 5
    assert result.symbols == first.symbols
    assert symbols_of(db_of(project)) == rows


def test_removed_files_lose_their_symbols(project) -> None:  # type: ignore[no-untyped-def]
    build_index(project, jobs=1)
    (project.tree(KERNEL) / "net/ipv4/gizmo.c").unlink()
    result = build_index(project, jobs=1)
    assert (result.removed, result.parsed, result.files) == (1, 0, 4)
    rows = symbols_of(db_of(project))
    assert not [r for r in rows if r[2] == "net/ipv4/gizmo.c"]
    db = sqlite3.connect(db_of(project))
    assert db.execute("SELECT count(*) FROM files WHERE path = 'net/ipv4/gizmo.c'").fetchone() == (0,)
    db.close()


def test_new_files_are_added(project) -> None:  # type: ignore[no-untyped-def]
    build_index(project, jobs=1)
    (project.tree(KERNEL) / "net/core").mkdir(parents=True)
    (project.tree(KERNEL) / "net/core/sprocket.c").write_text("struct sprocket { int sp_teeth; };\n")
    result = build_index(project, jobs=1)
    assert (result.parsed, result.files) == (1, 6)
    assert ("sprocket.sp_teeth", "member", "net/core/sprocket.c", 1) in symbols_of(db_of(project))


def test_a_reader_opened_before_a_rebuild_keeps_reading_the_old_index(project) -> None:  # type: ignore[no-untyped-def]
    from explorer.store import Index

    build_index(project, jobs=1)
    reader = Index(db_of(project))
    try:
        assert [s.name for s in reader.lookup("gizmo_one")] == ["gizmo_one"]
        gizmo = project.tree(KERNEL) / "net/ipv4/gizmo.c"
        gizmo.write_text("int gizmo_renamed(void)\n{\n\treturn 1;\n}\n")
        bump_mtime(gizmo)
        assert build_index(project, jobs=1).parsed == 1
        # the old reader sees the old index, whole
        assert [s.name for s in reader.lookup("gizmo_one")] == ["gizmo_one"]
        assert reader.lookup("gizmo_renamed") == []
        assert reader.lookup("widget_attach")
    finally:
        reader.close()
    with Index(db_of(project)) as fresh:
        assert fresh.lookup("gizmo_one") == []
        assert [s.name for s in fresh.lookup("gizmo_renamed")] == ["gizmo_renamed"]
    assert leftovers(db_of(project).parent) == []


@pytest.mark.parametrize("fail_at", [1, 3])
def test_a_failure_mid_build_leaves_the_old_index_untouched(project, monkeypatch: pytest.MonkeyPatch, fail_at: int) -> None:  # type: ignore[no-untyped-def]
    build_index(project, jobs=1)
    for rel in ("net/ipv4/gizmo.c", "net/ipv4/widget.c", "include/net/widget.h"):
        path = project.tree(KERNEL) / rel
        path.write_bytes(path.read_bytes() + b"\nint appended_later;\n")
        bump_mtime(path)
    old_bytes = db_of(project).read_bytes()
    calls = 0
    real = indexer._parse_one

    def flaky(job):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == fail_at:
            # one file's own failure is reported and skipped (test_deep_nesting); what stops
            # a run mid-build is an interruption
            raise KeyboardInterrupt("interrupted mid-build")
        return real(job)

    monkeypatch.setattr(indexer, "_parse_one", flaky)
    with pytest.raises(KeyboardInterrupt, match="interrupted mid-build"):
        build_index(project, jobs=1)
    assert db_of(project).read_bytes() == old_bytes
    assert leftovers(db_of(project).parent) == []
    # and the next run, without the failure, does the work
    monkeypatch.setattr(indexer, "_parse_one", real)
    assert build_index(project, jobs=1).parsed == 3
    assert ("appended_later", "variable") in {r[:2] for r in symbols_of(db_of(project))}


def test_a_failed_first_build_leaves_no_index(project, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    def broken(job):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(indexer, "_parse_one", broken)
    with pytest.raises(KeyboardInterrupt):
        build_index(project, jobs=1)
    assert not db_of(project).exists()
    assert leftovers(db_of(project).parent) == []


def test_stale_temporary_file_from_a_crashed_run_is_ignored(project) -> None:  # type: ignore[no-untyped-def]
    db_of(project).parent.mkdir(parents=True, exist_ok=True)
    stale = db_of(project).with_name(f".{db_of(project).name}.tmp-{os.getpid()}")
    stale.write_bytes(b"half an index")
    result = build_index(project, jobs=1)
    assert result.parsed == 5
    assert ("gizmo_one", "function", "net/ipv4/gizmo.c", 1) in symbols_of(db_of(project))
    assert leftovers(db_of(project).parent) == []


def test_a_corrupt_index_is_rebuilt_from_scratch(project) -> None:  # type: ignore[no-untyped-def]
    build_index(project, jobs=1)
    db_of(project).write_bytes(b"this is not SQLite at all" * 100)
    result = build_index(project, jobs=1)
    assert result.parsed == 5
    assert ("gizmo_one", "function", "net/ipv4/gizmo.c", 1) in symbols_of(db_of(project))


def test_an_index_without_version_information_is_rebuilt(project) -> None:  # type: ignore[no-untyped-def]
    build_index(project, jobs=1)
    db = sqlite3.connect(db_of(project))
    db.execute("DELETE FROM meta")  # no record of the schema or indexer that wrote it
    db.commit()
    db.close()
    assert build_index(project, jobs=1).parsed == 5


def test_no_tree_says_to_vendor(tmp_path: Path) -> None:
    from conftest import write_kernels_toml

    from explorer.config import Project

    write_kernels_toml(tmp_path)
    with pytest.raises(IndexBuildError, match="kexplore vendor"):
        build_index(Project.load(tmp_path))
    assert not (tmp_path / "index" / f"{KERNEL}.sqlite").exists()


def test_worker_processes_give_the_same_index_as_one_process(tmp_path: Path) -> None:
    files = {f"net/ipv4/part_{i:02d}.c": f"int part_{i}_value;\n\nint part_{i}_fn(int a)\n{{\n\treturn a + {i};\n}}\n" for i in range(indexer._SERIAL_BELOW + 5)}
    files["include/net/widget.h"] = fixture_bytes("widget.h")  # type: ignore[assignment]
    serial = make_project(tmp_path / "serial", files)
    parallel = make_project(tmp_path / "parallel", files)
    one = build_index(serial, jobs=1)
    two = build_index(parallel, jobs=2)
    assert one.parsed == two.parsed == len(files)
    assert symbols_of(serial.index_path(KERNEL)) == symbols_of(parallel.index_path(KERNEL))


def test_large_generated_file_through_the_indexer(tmp_path: Path) -> None:
    count = 10_000
    src = "".join(f"int blob_fn_{i}(int v)\n{{\n\treturn v + {i};\n}}\n\n" for i in range(count))
    project = make_project(tmp_path, {"net/ipv4/blob.c": src})
    result = build_index(project, jobs=1)
    assert result.symbols == count
    db = sqlite3.connect(project.index_path(KERNEL))
    assert db.execute("SELECT kind, count(*) FROM symbols GROUP BY kind").fetchall() == [("function", count)]
    assert db.execute("SELECT lines FROM files").fetchone() == (5 * count,)
    assert db.execute("SELECT line FROM symbols WHERE name = ?", (f"blob_fn_{count - 1}",)).fetchone() == (5 * (count - 1) + 1,)
    db.close()


def test_empty_and_non_utf8_files_are_indexed(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"net/ipv4/empty.c": b"", "net/ipv4/latin1.c": fixture_bytes("latin1.c")})
    result = build_index(project, jobs=1)
    assert (result.files, result.parsed) == (2, 2)
    rows = symbols_of(project.index_path(KERNEL))
    assert ("doodad_size", "function") in {r[:2] for r in rows}
    db = sqlite3.connect(project.index_path(KERNEL))
    assert db.execute("SELECT lines FROM files WHERE path = 'net/ipv4/empty.c'").fetchone() == (0,)
    db.close()


def _generated_files(count: int, functions: int) -> dict[str, bytes | str]:
    body = "".join(f"static int gen_fn_{{i}}_{j}(int v)\n{{{{\n\treturn v + {j};\n}}}}\n\n" for j in range(functions))
    return {f"net/ipv4/gen_{i:03d}.c": body.format(i=i) for i in range(count)}


def _children(pid: int) -> list[int]:
    """The processes whose parent is pid, from /proc."""
    out = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat_file.parent.name))
    return out


def _has_files(index_dir: Path) -> bool:
    """Whether a temporary index in index_dir holds the rows of a file (merged from a worker's chunk)."""
    for tmp in index_dir.glob(".*.tmp-*"):
        try:
            db = sqlite3.connect(f"file:{tmp}?mode=ro", uri=True)
            try:
                return bool(db.execute("SELECT count(*) FROM files").fetchone()[0])
            finally:
                db.close()
        except sqlite3.Error:  # not made yet, or mid-write
            continue
    return False


def _running(pid: int) -> bool:
    """Whether pid is a live process (a zombie waiting for whoever reaps orphans is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_a_killed_index_run_leaves_nothing_after_the_next_run(tmp_path: Path) -> None:
    project = make_project(tmp_path / "snippets", _generated_files(400, 250))
    index_dir = project.index_path(KERNEL).parent
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    run = subprocess.Popen(
        [sys.executable, "-m", "explorer", "index", "--snippets", str(project.snippets), "--jobs", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    deadline = time.monotonic() + 120
    # killed once the first chunks' rows are in the temporary index (the workers parse on meanwhile)
    while run.poll() is None and time.monotonic() < deadline and not _has_files(index_dir):
        time.sleep(0.01)
    workers = _children(run.pid)
    run.send_signal(signal.SIGKILL)
    assert run.wait() == -signal.SIGKILL  # killed mid-run, not finished
    assert workers, "the run had started its worker processes"
    gone_by = time.monotonic() + 2  # at once; without PR_SET_PDEATHSIG they parse the queued chunks for seconds
    while any(_running(pid) for pid in workers) and time.monotonic() < gone_by:
        time.sleep(0.05)
    assert not [pid for pid in workers if _running(pid)], "orphaned workers go on parsing"
    assert list(index_dir.glob(f".{project.index_path(KERNEL).name}.tmp-*")), "the killed run left its temporary index"
    assert not project.index_path(KERNEL).exists()
    result = build_index(project, jobs=2)
    assert result.parsed == 400
    assert [p.name for p in index_dir.iterdir()] == [project.index_path(KERNEL).name]


def test_chunk_folders_of_a_live_run_are_kept(project) -> None:  # type: ignore[no-untyped-def]
    index_dir = db_of(project).parent
    index_dir.mkdir(parents=True)
    alive = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        live = index_dir / f".chunks-{KERNEL}-pid{alive.pid}-abcdefgh"
        other_kernel = index_dir / ".chunks-linux-other-pid1-abcdefgh"
        older = index_dir / ".chunks-k2j4h5g6"  # from before chunk folders carried a pid
        for folder in (live, other_kernel, older):
            folder.mkdir()
        build_index(project, jobs=1)
        assert live.is_dir() and other_kernel.is_dir()
        assert not older.exists()
    finally:
        alive.communicate(b"")


def _index_with(package_root: Path, snippets: Path) -> dict[str, int]:
    """`kexplore index --json` run by the explorer package found in package_root (a real process)."""
    proc = subprocess.run(
        [sys.executable, "-m", "explorer", "index", "--snippets", str(snippets), "--jobs", "1", "--json"],
        capture_output=True, text=True, cwd=package_root, env=dict(os.environ, PYTHONPATH=str(package_root)), timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, int] = json.loads(proc.stdout)
    return result


def test_a_change_to_the_resolver_rebuilds_and_re_resolves(project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "pkg"
    shutil.copytree(Path(indexer.__file__).parent, copy / "explorer", ignore=shutil.ignore_patterns("__pycache__"))
    assert _index_with(copy, project.snippets)["parsed"] == 5
    assert _index_with(copy, project.snippets)["parsed"] == 0
    db = sqlite3.connect(db_of(project))
    db.execute("UPDATE access SET reason = 'from the old resolver'")  # what the old resolver decided, marked done
    db.commit()
    db.close()
    with (copy / "explorer/resolve.py").open("a") as fh:
        fh.write("\n# the resolver changed\n")
    assert _index_with(copy, project.snippets)["parsed"] == 5
    db = sqlite3.connect(db_of(project))
    assert db.execute("SELECT count(*) FROM access WHERE reason = 'from the old resolver'").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM access").fetchone()[0] > 0
    db.close()


def test_the_indexer_version_follows_the_code_that_makes_rows_and_only_it(tmp_path: Path) -> None:
    copy = tmp_path / "pkg"
    shutil.copytree(Path(indexer.__file__).parent, copy / "explorer", ignore=shutil.ignore_patterns("__pycache__"))
    script = "from explorer.indexer import indexer_version, row_code_files; print(indexer_version(), [p.name for p in row_code_files()])"

    def version() -> tuple[str, str]:
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=copy, check=True,
                             env=dict(os.environ, PYTHONPATH=str(copy))).stdout.split(" ", 1)
        return out[0], out[1]

    first, files = version()
    for name in ("resolve.py", "cparse.py", "xref.py", "indexer.py"):
        assert name in files
    (copy / "explorer/cli.py").write_text((copy / "explorer/cli.py").read_text() + "\n# a reader changed\n")
    assert version()[0] == first  # readers do not force a rebuild
    # a helper module that the parser starts to use is followed through its import
    (copy / "explorer/cparse_helper.py").write_text("HELPER = 1\n")
    (copy / "explorer/xref.py").write_text((copy / "explorer/xref.py").read_text() + "\nfrom .cparse_helper import HELPER  # noqa\n")
    second, files = version()
    assert second != first and "cparse_helper.py" in files
    (copy / "explorer/cparse_helper.py").write_text("HELPER = 2\n")
    assert version()[0] != second



def test_the_parsers_versions_are_read_as_importlib_metadata_reads_them_without_importing_it() -> None:
    from importlib.metadata import version

    for dist in ("tree-sitter", "tree-sitter-c", "tree_sitter_c", "Pygments"):
        assert indexer.installed_version(dist) == version(dist)
    assert indexer.installed_version("no-such-distribution-of-kernel-explorer") is None
    # the warm index run reads them without the import (about 0.04 s of it)
    script = ("import sys; from explorer.indexer import indexer_version; indexer_version(); "
              "print('importlib.metadata' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

LIMITED_KEXPLORE = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv.pop(1))
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from explorer.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_full_disk_while_indexing_is_one_line_and_keeps_the_index(project) -> None:  # type: ignore[no-untyped-def]
    """Files may not grow past a limit (EFBIG, like ENOSPC on a full disk; root ignores permission bits, not this)."""
    build_index(project, jobs=1)
    old_bytes = db_of(project).read_bytes()
    big = project.tree(KERNEL) / "net/ipv4/big.c"
    big.write_text("".join(f"int big_fn_{i}(int v)\n{{\n\treturn v + {i};\n}}\n" for i in range(20_000)))
    proc = subprocess.run(
        [sys.executable, "-c", LIMITED_KEXPLORE, str(len(old_bytes) + 64 * 1024), "index", "--snippets", str(project.snippets), "--jobs", "1"],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent), PYTHONDONTWRITEBYTECODE="1"),
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"kexplore: indexing {KERNEL} failed: ")
    assert any(what in lines[0] for what in ("SQLITE_IOERR_WRITE", "SQLITE_FULL", "File too large")), lines[0]
    assert db_of(project).read_bytes() == old_bytes
    assert [p.name for p in db_of(project).parent.iterdir()] == [db_of(project).name]


def test_a_file_where_the_index_folder_must_go_is_one_line(project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from explorer.cli import main

    db_of(project).parent.write_text("not a folder")
    assert main(["index", "--snippets", str(project.snippets), "--jobs", "1"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "File exists" in lines[0] and str(db_of(project).parent) in lines[0]
    assert db_of(project).parent.read_text() == "not a folder"


def test_the_index_is_one_file_after_the_resolver_read_beside_the_index_builds(project) -> None:  # type: ignore[no-untyped-def]
    """The indexes are built in WAL mode (the resolver reads beside them): the finished index is back in
    rollback mode, with no -wal or -shm file, and holds every access resolved as a serial resolve would."""
    from explorer.resolve import resolve_accesses

    build_index(project, jobs=1)
    path = db_of(project)
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name)) == [path.name]
    assert path.read_bytes()[18:20] == b"\x01\x01"  # file format 1: not WAL
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
        built = db.execute("SELECT key, target, macro, reason FROM access ORDER BY key").fetchall()
        assert built and any(target for _, target, _, _ in built)
        db.execute("DELETE FROM meta WHERE key = 'type_fingerprint'")
        db.execute("UPDATE access SET target = NULL, macro = NULL, reason = NULL, state = 0")
        resolve_accesses(db)
        assert db.execute("SELECT key, target, macro, reason FROM access ORDER BY key").fetchall() == built
    finally:
        db.rollback()
        db.close()


def test_a_failure_of_the_resolver_thread_stops_the_run_and_keeps_the_old_index(project, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    build_index(project, jobs=1)
    before = sha(db_of(project))

    def broken(self) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("resolver broke")

    monkeypatch.setattr(indexer.PendingResolution, "compute", broken)
    with pytest.raises(RuntimeError, match="resolver broke"):
        build_index(project, force=True, jobs=1)
    assert sha(db_of(project)) == before
    assert leftovers(db_of(project).parent) == []
