"""How a chunk's rows go from a worker into the index (explorer/indexer.py: _parse_chunk, ChunkRows, _merge_chunk)."""

from __future__ import annotations

import pickle
import shutil
import sqlite3
from pathlib import Path

from conftest import KERNEL, fixture_bytes, make_project

from explorer import indexer
from explorer.indexer import Job, build_index
from explorer.store import KINDS, PAGE_SIZE, REF_FILE_SHIFT, REF_ROLES, create_schema

FILES = {
    "net/ipv4/widget.c": fixture_bytes("widget.c"),
    "net/ipv4/recovery.c": fixture_bytes("recovery.c"),
    "include/net/widget.h": fixture_bytes("widget.h"),
    "include/linux/latin1.h": fixture_bytes("latin1.c"),
    "net/ipv4/wide.c": "static int caf\u00e9(int v) { return v; }\nint use(void) { return caf\u00e9(1); }\n",  # bytes > characters
    "arch/x86/entry/demo_entry.S": fixture_bytes("asm/demo_entry.S"),  # CALL_NOSPEC: a use whose end is not col + its length
    "arch/x86/entry/syscalls/syscall_64.tbl": fixture_bytes("asm/syscall_64.tbl"),
}


def _jobs(tree: Path, first_id: int = 7) -> list[Job]:
    return [Job(rel, str(tree / rel), True, first_id + i, f"sha-{i}", i, i) for i, rel in enumerate(FILES)]


def test_a_chunk_names_its_strings_once_and_its_rows_by_chunk_local_ids(tmp_path: Path) -> None:
    project = make_project(tmp_path / "snippets", FILES)
    jobs = _jobs(project.tree(KERNEL))
    rows, count, failures = indexer._parse_chunk(jobs)
    rows = pickle.loads(pickle.dumps(rows))  # as it crosses the pool's pipe
    assert (count, failures) == (len(FILES), [])
    names, keys = rows.names, rows.keys
    assert names[0] is None and keys[0] is None
    assert len(set(names)) == len(names) and len(set(keys)) == len(keys)  # each string once
    parsed = {job.file_id: indexer._parse_one(job) for job in jobs}
    assert [f[:2] for f in rows.files] == [(job.file_id, job.rel) for job in jobs]

    want_refs, want_spans = [], []
    for job in jobs:
        for n, ref in enumerate(parsed[job.file_id].refs):
            rowid = (job.file_id << REF_FILE_SHIFT) + n
            want_refs.append((rowid, ref.line, ref.col, ref.name, ref.role, ref.func, ref.cond, ref.key))
            if ref.end_col != ref.col + len(ref.name.encode()):
                want_spans.append((rowid, ref.end_col))
    r = rows.refs
    got_refs = [(rowid, line, col, names[n], REF_ROLES[role], names[f], names[c], keys[k])
                for rowid, line, col, n, role, f, c, k in zip(*r, strict=True)]
    assert got_refs == want_refs and len(want_refs) > 20
    assert any(ref[7] for ref in want_refs)  # member accesses, with their keys
    assert rows.ref_spans == want_spans and want_spans
    assert rows.syscall_table and all(row[0] == jobs[-1].file_id for row in rows.syscall_table)

    want_symbols = [(d.name, d.kind, job.file_id, d.scope, d.cond, d.type, d.signature, digest)
                    for job in jobs for d, digest in zip(parsed[job.file_id].definitions, parsed[job.file_id].digests, strict=True)]
    s = rows.symbols
    got_symbols = [(names[n], KINDS[k], f, names[sc], names[c], names[t], sig, digest)
                   for n, k, f, sc, c, t, sig, digest in zip(s[0], s[1], s[2], s[6], s[8], s[9], s[7], s[13], strict=True)]
    assert got_symbols == want_symbols
    assert "caf\u00e9" in names

    want_includes = [(job.file_id, path) for job in jobs for path in parsed[job.file_id].includes]
    assert [(f, names[p]) for f, p in zip(*rows.includes, strict=True)] == want_includes and want_includes
    want_assigns = [(job.file_id, a.line, a.key, a.function, a.table) for job in jobs for a in parsed[job.file_id].assigns]
    assert [(f, line, keys[k], names[fn], names[t]) for f, line, k, fn, t in zip(*rows.assigns, strict=True)] == want_assigns
    assert want_assigns
    # every string the chunk lists is one its rows use
    used = {n for col in (r[3], r[5], r[6], s[0], s[6], s[8], s[9], rows.includes[1], rows.assigns[3], rows.assigns[4]) for n in col}
    assert used | {0} == set(range(len(names)))


def test_a_file_that_fails_is_reported_and_the_chunk_keeps_the_others(tmp_path: Path) -> None:
    project = make_project(tmp_path / "snippets", FILES)
    jobs = _jobs(project.tree(KERNEL))
    gone = jobs[1]
    Path(gone.full).unlink()
    rows, count, failures = indexer._parse_chunk(jobs)
    assert count == len(jobs)
    assert [f.path for f in failures] == [gone.rel] and "FileNotFoundError" in failures[0].reason
    assert [f[1] for f in rows.files] == [job.rel for job in jobs if job is not gone]
    assert not any(rowid >> REF_FILE_SHIFT == gone.file_id for rowid in rows.refs[0])


def test_merged_rows_read_back_through_the_views_as_the_parser_made_them(tmp_path: Path) -> None:
    project = make_project(tmp_path / "snippets", FILES)
    jobs = _jobs(project.tree(KERNEL))
    db = sqlite3.connect(":memory:")
    create_schema(db, indexes=False)
    half = len(jobs) // 2
    for part in (jobs[:half], jobs[half:]):  # two chunks: the second finds some of its strings interned already
        indexer._merge_chunk(db, indexer._parse_chunk(part)[0])
    for job in jobs:
        parsed = indexer._parse_one(job)
        refs = db.execute("SELECT line, col, end_col, name, role, func, cond, (SELECT key FROM access WHERE id = access_id)"
                          " FROM refs WHERE file_id = ? ORDER BY id", (job.file_id,)).fetchall()
        assert refs == [tuple(ref) for ref in parsed.refs]
        symbols = db.execute("SELECT name, kind, line, col, end_line, scope, signature, cond, type, start_line, start_byte,"
                             " end_byte FROM symbols WHERE file_id = ? ORDER BY id", (job.file_id,)).fetchall()
        assert symbols == [tuple(d) for d in parsed.definitions]
        includes = [row[0] for row in db.execute("SELECT path FROM includes WHERE file_id = ? ORDER BY rowid", (job.file_id,))]
        assert includes == parsed.includes
    names = [row[0] for row in db.execute("SELECT name FROM names ORDER BY id")]
    assert len(names) == len(set(names))


def test_new_strings_get_the_next_ids_in_sorted_order_and_known_ones_keep_theirs() -> None:
    db = sqlite3.connect(":memory:")
    create_schema(db, indexes=False)
    assert indexer._index_ids(db, [None, "b", "a"], "names", "name") == [None, 2, 1]
    assert indexer._index_ids(db, [None, "c", "a", "0", "\u00e9"], "names", "name") == [None, 4, 1, 3, 5]
    assert db.execute("SELECT group_concat(name, ' ') FROM (SELECT name FROM names ORDER BY id)").fetchone()[0] == "a b 0 c \u00e9"
    assert indexer._index_ids(db, [None, "k.x"], "access", "key") == [None, 1]
    # a NUL in a string (a damaged file's text): found again, not appended twice
    assert indexer._index_ids(db, [None, "n\0ul", "a"], "names", "name") == [None, 6, 1]
    assert indexer._index_ids(db, [None, "z", "n\0ul", "n"], "names", "name") == [None, 8, 6, 7]
    # ... and never taken for the known name before its NUL ("a" is 1): "a\0b" is a name of its own
    assert indexer._index_ids(db, [None, "a\0b", "a"], "names", "name") == [None, 9, 1]
    assert indexer._index_ids(db, [None, "a\0b"], "names", "name") == [None, 9]


def test_a_bulk_insert_takes_every_row_in_order_whatever_their_count() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    insert = indexer._BulkInsert("INSERT INTO t (a, b)", "({1}, {2} || {1})", 2)
    for count in (0, 1, indexer._ROWS_PER_STATEMENT, 2 * indexer._ROWS_PER_STATEMENT + 3):
        db.execute("DELETE FROM t")
        insert.run(db, (range(count), map(str, range(count, 0, -1))), count)
        assert db.execute("SELECT a, b FROM t ORDER BY rowid").fetchall() == [(i, f"{count - i}{i}") for i in range(count)]


def _pages(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return [data[i : i + PAGE_SIZE] for i in range(0, len(data), PAGE_SIZE)]


def test_the_workers_and_one_process_build_the_same_bytes(tmp_path: Path) -> None:
    """Chunks merged in order: a build on two workers writes the file a build in one process writes, page for page
    (the build's time in `meta` aside)."""
    body = "".join(f"static int gen_fn_{{i}}_{j}(struct sock *sk)\n{{{{\n\treturn sk->sk_state + {j} + shared_{j % 7};\n}}}}\n\n"
                   for j in range(30))
    files: dict[str, bytes | str] = {f"net/ipv4/gen_{i:03d}.c": body.format(i=i) for i in range(3 * indexer._CHUNK_FILES)}
    project = make_project(tmp_path / "snippets", {**FILES, **files})
    build_index(project, jobs=1)
    serial = tmp_path / "serial.sqlite"
    shutil.copyfile(project.index_path(KERNEL), serial)
    result = build_index(project, force=True, jobs=2)
    assert result.parsed == len(FILES) + len(files) > indexer._SERIAL_BELOW
    parallel = project.index_path(KERNEL)
    db = sqlite3.connect(parallel)
    meta_pages = {row[0] - 1 for row in db.execute("SELECT rootpage FROM sqlite_master WHERE tbl_name = 'meta'")}
    db.close()
    a, b = _pages(serial), _pages(parallel)
    assert len(a) == len(b) > 10
    differ = {n for n, (x, y) in enumerate(zip(a, b, strict=True)) if x != y}
    assert differ <= {0} | meta_pages, sorted(differ)
