"""Assembly files and the system call tables: explorer/asmparse.py, explorer/syscalls.py and what they add
to the index, the call graph and the CLI.

The fixtures in tests/fixtures/asm/ are written for these tests, in the kernel's style, with invented
names; every line number is computed from the fixture files.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from conftest import FIXTURES, KERNEL, write_kernels_toml, write_tree

from explorer.asmparse import parse_asm
from explorer.syscalls import dispatch_sites, parse_table

ASM = FIXTURES / "asm"
ENTRY = "arch/x86/entry/demo_entry.S"


def fixture(name: str) -> bytes:
    return (ASM / name).read_bytes()


def line_of(name: str, pattern: str, nth: int = 0) -> int:
    """The 1-based line of the nth line of fixture `name` matching the regex `pattern`."""
    rx = re.compile(pattern)
    hits = [n for n, text in enumerate(fixture(name).decode("utf-8", "replace").splitlines(), 1) if rx.search(text)]
    assert hits, pattern
    return hits[nth]


def demo_files() -> dict[str, bytes | str]:
    return {
        ENTRY: fixture("demo_entry.S"),
        "arch/x86/entry/broken.S": fixture("broken.S"),
        "arch/x86/entry/binary.S": fixture("binary.S"),
        "arch/x86/entry/syscalls/syscall_64.tbl": fixture("syscall_64.tbl"),
        "arch/x86/entry/syscalls/syscall_32.tbl": fixture("syscall_32.tbl"),
        "arch/x86/entry/syscall_64.c": fixture("syscall_64.c"),
        "arch/x86/entry/syscall_32.c": fixture("syscall_32.c"),
        "arch/x86/entry/common.c": fixture("common.c"),
        "net/demo_socket.c": fixture("demo_socket.c"),
        "arch/x86/kernel/demo.lds.S": "ENTRY(demo_linker_entry)\nSECTIONS { }\n",
        "arch/x86/entry/syscalls/notes.tbl": "1 common not_a_syscall_table sys_nothing\n",
    }


def make_demo(snippets: Path):  # type: ignore[no-untyped-def]
    from explorer.config import Project
    from explorer.indexer import build_index

    write_kernels_toml(snippets, paths=("arch/x86", "net"))
    with (snippets / "kernels.toml").open("a", encoding="utf-8") as fh:
        fh.write('xref_paths = ["arch/x86", "net"]\n')
    write_tree(snippets / KERNEL, demo_files())
    project = Project.load(snippets)
    build_index(project, jobs=1)
    return project


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return make_demo(tmp_path_factory.mktemp("asm") / "snippets")


@pytest.fixture
def index(demo):  # type: ignore[no-untyped-def]
    from explorer.store import Index

    with Index(demo.index_path(KERNEL)) as idx:
        yield idx


# ---------------------------------------------------------------- the scanner, on the fixture


@pytest.fixture(scope="module")
def parsed():  # type: ignore[no-untyped-def]
    return parse_asm(fixture("demo_entry.S"), ENTRY)


def _defs(parsed) -> dict[str, tuple[str, int, int, str]]:  # type: ignore[no-untyped-def]
    return {d.name: (d.kind, d.line, d.end_line, d.scope) for d in parsed.definitions}


@pytest.mark.parametrize(
    ("name", "kind", "start", "end", "scope"),
    [
        ("demo_entry_syscall", "asm code", r"^SYM_CODE_START\(demo_entry_syscall\)", r"^SYM_CODE_END\(demo_entry_syscall\)", "global"),
        ("demo_restore_regs", "asm code", r"^SYM_CODE_START_LOCAL\(demo_restore_regs", r"^SYM_CODE_END\(demo_restore_regs", "file"),
        ("demo_slow_path", "asm code", r"^SYM_CODE_START_NOALIGN\(demo_slow_path", r"^SYM_CODE_END\(demo_slow_path", "global"),
        ("__demo_memfill", "asm function", r"^SYM_FUNC_START\(__demo_memfill", r"^SYM_FUNC_END\(__demo_memfill", "global"),
        ("demo_fill_fast", "asm function", r"^SYM_FUNC_START_LOCAL\(demo_fill_fast", r"^SYM_FUNC_END\(demo_fill_fast", "file"),
        ("demo_noalign", "asm function", r"^SYM_FUNC_START_NOALIGN\(demo_noalign", r"^SYM_FUNC_END\(demo_noalign", "global"),
        ("demo_weak", "asm function", r"^SYM_FUNC_START_WEAK\(demo_weak", r"^SYM_FUNC_END\(demo_weak", "global"),
        ("demo_typed", "asm function", r"^SYM_TYPED_FUNC_START\(demo_typed", r"^SYM_FUNC_END\(demo_typed", "global"),
        ("demo_old_style", "asm function", r"^ENTRY\(demo_old_style", r"^ENDPROC\(demo_old_style", "global"),
        ("demo_old_code", "asm function", r"^ENTRY\(demo_old_code", r"^END\(demo_old_code", "global"),
        ("demo_memfill", "asm function", r"^SYM_FUNC_ALIAS_WEAK\(demo_memfill,", r"^SYM_FUNC_ALIAS_WEAK\(demo_memfill,", "global"),
        ("demo_memfill_alias", "asm function", r"^SYM_FUNC_ALIAS\(demo_memfill_alias", r"^SYM_FUNC_ALIAS\(demo_memfill_alias", "global"),
        # an inner label runs to the end of the definition it sits in
        ("demo_entry_after_hwframe", "asm label", r"^SYM_INNER_LABEL\(demo_entry_after_hwframe", r"^SYM_CODE_END\(demo_entry_syscall\)", "global"),
        ("demo_restore_tail", "asm label", r"^SYM_INNER_LABEL_ALIGN\(demo_restore_tail", r"^SYM_CODE_END\(demo_restore_regs", "file"),
        ("demo_global_label", "asm label", r"^demo_global_label:", r"^demo_global_label:", "global"),
        ("demo_handlers", "asm data", r"^SYM_DATA_START\(demo_handlers", r"^SYM_DATA_END\(demo_handlers", "global"),
        ("demo_counter", "asm data", r"^SYM_DATA\(demo_counter", r"^SYM_DATA\(demo_counter", "global"),
        ("DEMO_PUSH_REGS", "asm macro", r"^\.macro DEMO_PUSH_REGS", r"^\.endm", "file"),
        ("DEMO_STACK_OFFSET", "macro", r"^#define DEMO_STACK_OFFSET", r"^#define DEMO_STACK_OFFSET", "file"),
        ("DEMO_SAVE", "macro", r"^#define DEMO_SAVE\(reg\)", r"^#define DEMO_SAVE\(reg\)", "file"),
    ],
)
def test_every_definition_form(parsed, name: str, kind: str, start: str, end: str, scope: str) -> None:  # type: ignore[no-untyped-def]
    assert _defs(parsed)[name] == (kind, line_of("demo_entry.S", start), line_of("demo_entry.S", end), scope)


def test_definitions_carry_their_if_condition(parsed) -> None:  # type: ignore[no-untyped-def]
    conds = {d.name: d.cond for d in parsed.definitions}
    assert conds["demo_old_style"] == "CONFIG_DEMO_OLD"
    assert conds["demo_old_code"] == "!CONFIG_DEMO_OLD"
    assert conds["demo_entry_syscall"] is None


def test_a_definition_spans_its_bytes(parsed) -> None:  # type: ignore[no-untyped-def]
    src = fixture("demo_entry.S")
    d = next(d for d in parsed.definitions if d.name == "demo_weak")
    text = src[d.start_byte : d.end_byte].decode()
    assert text.startswith("SYM_FUNC_START_WEAK(demo_weak)") and text.endswith("SYM_FUNC_END(demo_weak)")
    assert src.splitlines()[d.line - 1][d.col :].startswith(b"demo_weak")


def _refs(parsed) -> set[tuple[str, str, str | None, int]]:  # type: ignore[no-untyped-def]
    return {(r.name, r.role, r.func, r.line) for r in parsed.refs}


@pytest.mark.parametrize(
    ("name", "role", "func", "pattern"),
    [
        ("demo_do_syscall", "call", "demo_entry_syscall", r"call\tdemo_do_syscall\t"),
        ("demo_restore_regs", "jump", "demo_entry_syscall", r"^\tALTERNATIVE \"\", \"jmp\tdemo_restore_regs"),  # in the string
        ("demo_restore_regs", "jump", "demo_entry_syscall", r"^\tjne\tdemo_restore_regs"),  # a conditional jump
        ("demo_slow_path", "jump", "demo_entry_syscall", r"jz demo_slow_path"),  # after a `;`
        ("demo_slow_a", "call", "demo_slow_path", r"ALTERNATIVE_2"),
        ("demo_slow_b", "call", "demo_slow_path", r"ALTERNATIVE_2"),
        ("__x86_indirect_thunk_rbx", "call", "demo_slow_path", r"CALL_NOSPEC rbx"),
        ("__x86_indirect_thunk_rcx", "jump", "demo_slow_path", r"JMP_NOSPEC %rcx"),
        ("demo_handlers", "read", "demo_slow_path", r"call\t\*demo_handlers"),  # an indirect call reads the table
        ("demo_fill_fast", "jump", "__demo_memfill", r"ja\tdemo_fill_fast"),
        ("__demo_memfill", "jump", "demo_memfill", r"^SYM_FUNC_ALIAS_WEAK"),  # an alias goes to its target
        ("demo_memfill", "call", "demo_noalign", r"call\tdemo_memfill"),
        ("demo_weak", "read", None, r"\.quad\tdemo_weak"),  # data: a read, outside any function
        ("demo_save_hook", "call", "DEMO_PUSH_REGS", r"call\tdemo_save_hook"),  # a .macro body
        ("DEMO_PUSH_REGS", "call", "demo_entry_syscall", r"^\tDEMO_PUSH_REGS save=0"),  # the file's own .macro
        ("UNWIND_HINT_DEMO", "macro", "demo_entry_syscall", r"UNWIND_HINT_DEMO"),  # an upper-case word
        ("demo_scratch", "read", "demo_entry_syscall", r"PER_CPU_VAR\(demo_scratch"),
        ("DEMO_STACK_OFFSET", "read", "demo_entry_syscall", r"demo_scratch \+ DEMO_STACK_OFFSET"),
        ("X86_FEATURE_DEMO", "read", "demo_entry_syscall", r"X86_FEATURE_DEMO"),
        ("demo_entry_syscall", "jump", "demo_old_code", r"jmp\tdemo_entry_syscall"),
    ],
)
def test_references(parsed, name: str, role: str, func: str | None, pattern: str) -> None:  # type: ignore[no-untyped-def]
    assert (name, role, func, line_of("demo_entry.S", pattern)) in _refs(parsed)


def test_what_is_not_a_reference(parsed) -> None:  # type: ignore[no-untyped-def]
    names = {r.name for r in parsed.refs}
    assert not names & {"not_a_call_in_a_comment", "not_a_call_after_hash"}  # comments
    assert not names & {"rsp", "rdi", "rcx", "r11", "rax", "eax", "r9"}  # registers
    assert not any(n.startswith(".L") or n.startswith("Ldemo") for n in names)  # local labels
    assert "save" not in names  # a macro's keyword argument
    assert "swapgs" not in names and "sysretq" not in names  # instructions


def test_reference_columns_point_at_the_name(parsed) -> None:  # type: ignore[no-untyped-def]
    lines = fixture("demo_entry.S").decode().splitlines()
    for r in parsed.refs:
        if not r.name.startswith("__x86_indirect_thunk_"):
            assert lines[r.line - 1][r.col : r.end_col] == r.name, r


def test_a_damaged_file_is_indexed_around_its_problems() -> None:
    result = parse_asm(fixture("broken.S"), "arch/x86/entry/broken.S")
    names = {d.name for d in result.definitions}
    assert {"demo_unclosed", "demo_after_problems"} <= names
    assert not any("<" in n or ">" in n for n in names)  # a name that is not one is never a definition
    assert result.error_nodes >= 3  # an end without a start, a start without a name, .endm without .macro
    refs = {r.name: r.func for r in result.refs}
    assert refs["demo_target_one"] == "demo_unclosed" and refs["demo_target_three"] == "demo_after_problems"
    assert "param" not in refs and "demo_hidden" not in refs
    unclosed = next(d for d in result.definitions if d.name == "demo_unclosed")
    assert unclosed.end_line < line_of("broken.S", r"^SYM_CODE_START\(demo_after_problems")  # closed by the next start


def test_bytes_that_are_not_text_do_not_stop_the_scan() -> None:
    result = parse_asm(fixture("binary.S"), "binary.S")
    assert [d.name for d in result.definitions] == ["demo_binary"]
    assert [(r.name, r.role) for r in result.refs] == [("demo_bin_target", "call")]


def test_deep_if_nesting_marks_the_file_partial() -> None:
    src = b"#ifdef A\n" * 150 + b"SYM_FUNC_START(demo_deep)\n\tcall demo_x\nSYM_FUNC_END(demo_deep)\n" + b"#endif\n" * 150
    result = parse_asm(src, "deep.S")
    assert result.partial and [d.name for d in result.definitions] == ["demo_deep"]


# ---------------------------------------------------------------- the tables


def test_table_rows() -> None:
    rows, bad = parse_table(fixture("syscall_64.tbl"))
    by_number = {r.number: r for r in rows}
    assert by_number[7].entry == "sys_demo_listen" and by_number[7].abi == "common"
    assert by_number[7].line == line_of("syscall_64.tbl", r"^7\t")
    assert by_number[8].abi == "64"
    assert by_number[9].compat is None  # "-" is no compat entry
    assert by_number[10].entry is None  # a reserved number
    assert by_number[11].abi == "x32"
    assert bad == 1  # "this line is not a row"
    rows32, _ = parse_table(fixture("syscall_32.tbl"))
    assert {r.number: r.compat for r in rows32}[40] == "compat_sys_demo_listen"


def test_table_rows_with_hostile_names_are_skipped() -> None:
    rows, bad = parse_table(b"1 common ok sys_ok\n2 common bad sys_<script>\n3 common x sys_x;rm\n99999999 common big sys_big\n")
    assert [r.name for r in rows] == ["ok"] and bad == 3


def test_dispatch_sites_read_the_prefix_from_the_source() -> None:
    src = fixture("syscall_64.c")
    from explorer.cparse import make_parser, parse_definitions

    result = parse_definitions(make_parser(), src, "arch/x86/entry/syscall_64.c")
    sites = dispatch_sites(src, [(d.name, d.kind, d.start_byte, d.end_byte) for d in result.definitions])
    include = r"^\s*#include <asm/syscalls_64.h>"
    assert [(s.definition, s.kind, s.prefix, s.line) for s in sites] == [
        ("sys_call_table", "variable", "__x64_", line_of("syscall_64.c", include, 1)),
        ("x64_sys_call", "function", "__x64_", line_of("syscall_64.c", include, 2)),
    ]  # the first include, among the declarations, is no dispatch


# ---------------------------------------------------------------- in the index


def test_file_selection(index) -> None:  # type: ignore[no-untyped-def]
    paths = {row[0] for row in index.db.execute("SELECT path FROM files")}
    assert ENTRY in paths and "arch/x86/entry/syscalls/syscall_64.tbl" in paths
    assert "arch/x86/kernel/demo.lds.S" not in paths  # a linker script
    assert "arch/x86/entry/syscalls/notes.tbl" not in paths  # not a system call table
    assert index.lookup("demo_linker_entry") == []


def test_lookup_of_assembly(index) -> None:  # type: ignore[no-untyped-def]
    found = index.lookup("demo_entry_syscall")
    assert [(s.kind, s.path, s.line) for s in found] == [
        ("asm code", ENTRY, line_of("demo_entry.S", r"^SYM_CODE_START\(demo_entry_syscall"))]


def test_refs_of_an_assembly_label_and_a_c_function(index) -> None:  # type: ignore[no-untyped-def]
    jumps = index.refs("demo_restore_regs", "jump")
    assert {(r.path, r.line) for r in jumps} == {
        (ENTRY, line_of("demo_entry.S", r"ALTERNATIVE \"\", \"jmp")), (ENTRY, line_of("demo_entry.S", r"^\tjne\tdemo_restore_regs"))}
    calls = index.refs("demo_do_syscall", "call")
    assert (ENTRY, line_of("demo_entry.S", r"call\tdemo_do_syscall\t"), "demo_entry_syscall") in {
        (r.path, r.line, r.function) for r in calls}


def test_the_wrapper_is_defined_where_syscall_define_is(index) -> None:  # type: ignore[no-untyped-def]
    line = line_of("demo_socket.c", r"^SYSCALL_DEFINE2\(demo_listen")
    for name in ("sys_demo_listen", "__x64_sys_demo_listen", "__ia32_sys_demo_listen"):
        assert [(s.kind, s.path, s.line) for s in index.lookup(name)] == [("function", "net/demo_socket.c", line)], name
    compat = line_of("demo_socket.c", r"^COMPAT_SYSCALL_DEFINE2\(demo_listen")
    assert [(s.path, s.line) for s in index.lookup("__ia32_compat_sys_demo_listen")] == [("net/demo_socket.c", compat)]


def test_syscall_numbers_come_from_the_tables(index) -> None:  # type: ignore[no-untyped-def]
    rows64, _ = parse_table(fixture("syscall_64.tbl"))
    rows32, _ = parse_table(fixture("syscall_32.tbl"))
    n64 = next(r.number for r in rows64 if r.name == "demo_listen")
    n32 = next(r.number for r in rows32 if r.name == "demo_listen")
    got = [(c.table, c.number) for c in index.syscalls("sys_demo_listen")]
    assert got == [("64", n64), ("32", n32)]
    assert [(c.table, c.number) for c in index.syscalls("__x64_sys_demo_listen")] == [("64", n64)]
    assert index.syscalls("demo_listen_start") == []


def test_the_table_dispatch_is_a_call_edge(index) -> None:  # type: ignore[no-untyped-def]
    edges = {(e.name, e.via, e.path, e.line) for e in index.callees("x64_sys_call")}
    site = line_of("syscall_64.c", r"^\s*#include <asm/syscalls_64.h>", 2)
    assert ("__x64_sys_demo_listen", "syscall_64.tbl #7", "arch/x86/entry/syscall_64.c", site) in edges
    assert ("__x64_sys_demo_only64", "syscall_64.tbl #8", "arch/x86/entry/syscall_64.c", site) in edges
    assert not any(name.endswith("x32only") for name, *_ in edges)  # the x32 ABI is another dispatch
    # the older form: the functions of the folder that index the table dispatch through it
    int80 = line_of("common.c", r"ia32_sys_call_table\[nr\]")
    old = {(e.name, e.via, e.line) for e in index.callers("__ia32_sys_demo_read")}
    assert old == {("demo_do_int80", "syscall_32.tbl #3", int80)}
    both = {e.name for e in index.callees("demo_do_int80")}
    assert {"__ia32_sys_demo_listen", "__ia32_compat_sys_demo_listen"} <= both  # native and compat entries


def test_the_path_from_the_entry_code_to_the_listen_code(index) -> None:  # type: ignore[no-untyped-def]
    chain = index.call_path("demo_entry_syscall", "demo_listen_start")
    assert chain is not None
    assert [(e.caller, e.name, e.via) for e in chain] == [
        ("demo_entry_syscall", "demo_do_syscall", None),
        ("demo_do_syscall", "demo_do_syscall_x64", None),
        ("demo_do_syscall_x64", "x64_sys_call", None),
        ("x64_sys_call", "__x64_sys_demo_listen", "syscall_64.tbl #7"),
        ("__x64_sys_demo_listen", "sys_demo_listen", "SYSCALL_DEFINE2"),
        ("sys_demo_listen", "__sys_demo_listen", None),
        ("__sys_demo_listen", "demo_listen_start", None),
    ]
    assert chain[0].path == ENTRY and chain[0].line == line_of("demo_entry.S", r"call\tdemo_do_syscall\t")


def test_an_assembly_alias_is_followed(index) -> None:  # type: ignore[no-untyped-def]
    chain = index.call_path("demo_noalign", "demo_fill_fast")
    assert chain is not None and [e.name for e in chain] == ["demo_memfill", "__demo_memfill", "demo_fill_fast"]


def test_reindexing_keeps_one_copy_of_the_derived_rows(tmp_path: Path) -> None:
    from explorer.config import Project
    from explorer.indexer import build_index
    from explorer.store import Index

    project = make_demo(tmp_path)
    tree = tmp_path / KERNEL
    socket = tree / "net/demo_socket.c"
    socket.write_bytes(socket.read_bytes() + b"\nint demo_extra(void)\n{\n\treturn 0;\n}\n")
    build_index(project, jobs=1)  # the file holding the wrappers' definitions is parsed again
    with Index(project.index_path(KERNEL)) as idx:
        assert len(idx.lookup("__x64_sys_demo_listen")) == 1
        assert len([e for e in idx.callers("sys_demo_listen") if e.name == "__x64_sys_demo_listen"]) == 1
    (tree / "arch/x86/entry/syscalls/syscall_64.tbl").unlink()
    build_index(Project.load(tmp_path), jobs=1)
    with Index(project.index_path(KERNEL)) as idx:
        assert idx.lookup("__x64_sys_demo_listen") == []  # no table, no wrapper, no edge
        assert not [e for e in idx.callees("x64_sys_call") if e.via]
        assert [c.table for c in idx.syscalls("sys_demo_listen")] == ["32"]
    db = sqlite3.connect(project.index_path(KERNEL))
    try:
        orphans = db.execute("SELECT count(*) FROM derived_symbols d LEFT JOIN symbols s ON s.id = d.symbol_id"
                             " WHERE s.id IS NULL").fetchone()[0]
    finally:
        db.close()
    assert orphans == 0


# ---------------------------------------------------------------- the CLI


def _cli(demo, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    from explorer.cli import main

    code = main([*argv, "--snippets", str(demo.snippets)])
    return code, capsys.readouterr().out


def test_cli_lookup_shows_the_syscall_number(demo, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    code, out = _cli(demo, capsys, "lookup", "sys_demo_listen", "--json")
    assert code == 0
    rows = json.loads(out)
    assert rows[0]["syscall"] == {"table": "64", "number": 7, "abi": "common"}
    assert {(s["table"], s["number"]) for s in rows[0]["syscalls"]} == {("64", 7), ("32", 40)}
    code, out = _cli(demo, capsys, "lookup", "sys_demo_listen")
    assert "system call 7 of the 64-bit table (syscall_64.tbl, abi common)" in out
    assert "system call 40 of the 32-bit table (syscall_32.tbl, abi i386)" in out
    code, out = _cli(demo, capsys, "lookup", "demo_listen_start", "--json")
    assert json.loads(out)[0]["syscall"] is None


def test_cli_path_and_refs_role_jump(demo, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    code, out = _cli(demo, capsys, "path", "demo_entry_syscall", "demo_listen_start")
    assert code == 0
    assert "__x64_sys_demo_listen (via syscall_64.tbl #7)" in out
    code, out = _cli(demo, capsys, "refs", "demo_restore_regs", "--role", "jump", "--json")
    assert code == 0 and {r["role"] for r in json.loads(out)} == {"jump"}
    code, out = _cli(demo, capsys, "lookup", "demo_entry_syscall", "--kind", "asm code")
    assert code == 0 and "asm code" in out


def test_the_assembly_kinds_are_kinds_of_the_index(parsed) -> None:  # type: ignore[no-untyped-def]
    from explorer.asmparse import ASM_KINDS
    from explorer.store import KINDS

    assert set(ASM_KINDS) <= set(KINDS)
    assert {d.kind for d in parsed.definitions} == {*ASM_KINDS, "macro"}  # the fixture has every one


def test_cli_show_highlights_assembly(demo, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    code, out = _cli(demo, capsys, "show", "demo_weak", "--color", "always")
    assert code == 0
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert "SYM_FUNC_START_WEAK(demo_weak)" in plain and "SYM_FUNC_END(demo_weak)" in plain
    assert "\x1b[" in out and "\x1b[" not in plain
    code, out = _cli(demo, capsys, "show", "demo_weak")
    assert "\x1b[" not in out and out.startswith(f"// {ENTRY}:")


def test_an_unclosed_macro_call_stops_at_its_line() -> None:
    src = b"SYM_FUNC_START(demo_open\n\tcall demo_x\nSYM_FUNC_START(demo_next)\n\tcall demo_y\nSYM_FUNC_END(demo_next)\n" * 3
    result = parse_asm(src, "many.S")
    assert result.error_nodes == 3
    assert [d.name for d in result.definitions] == ["demo_next"] * 3  # `)` three lines down is not demo_open's
    assert [(r.name, r.func) for r in result.refs][:2] == [("demo_x", None), ("demo_y", "demo_next")]
