"""Integration: the x86 entry code and system call tables of the vendored kernel (the whole core tree).

These tests exist only when kernels.toml vendors arch/x86 with its references (the whole core tree);
on the network slice there is nothing of theirs to test, so they are not collected at all rather
than skipped (a skip fails under CI).  Every line and number is computed from the vendored files.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import SNIPPETS, VENDORED_KERNEL, requires_vendored

from explorer.config import ConfigError, Project


def _vendors_x86(snippets: Path) -> bool:
    try:
        spec = Project.load(snippets).kernel(VENDORED_KERNEL)
    except (ConfigError, OSError, KeyError):
        return False
    entry = "arch/x86/entry/entry_64.S"
    declared = any(entry == p or entry.startswith(p.rstrip("/") + "/") for p in spec.paths)
    return declared and spec.records_refs(entry)


ENTRY = "arch/x86/entry/entry_64.S"
TABLE_64 = "arch/x86/entry/syscalls/syscall_64.tbl"
TABLE_32 = "arch/x86/entry/syscalls/syscall_32.tbl"


def table_number(tree: Path, table: str, name: str) -> tuple[int, int]:
    """(number, line) of the row of system call `name` in a table of the vendored tree."""
    for n, line in enumerate((tree / table).read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 4 and fields[2] == name and fields[1] in ("common", "64", "i386"):
            return int(fields[0]), n
    raise AssertionError(f"{name} not in {table}")


def find_line(tree: Path, rel: str, pattern: str) -> int:
    rx = re.compile(pattern)
    hits = [n for n, text in enumerate((tree / rel).read_text(encoding="utf-8").splitlines(), 1) if rx.search(text)]
    assert len(hits) == 1, f"{pattern!r} in {rel}: {hits}"
    return hits[0]


if _vendors_x86(SNIPPETS):
    pytestmark = [pytest.mark.vendored, requires_vendored]

    @pytest.fixture(scope="module")
    def project() -> Project:
        return Project.load(SNIPPETS)

    @pytest.fixture(scope="module")
    def index(project: Project):  # type: ignore[no-untyped-def]
        from explorer.store import Index

        with Index(project.index_path(VENDORED_KERNEL)) as idx:
            yield idx

    def test_entry_syscall_64_is_asm_code(project: Project, index) -> None:  # type: ignore[no-untyped-def]
        tree = project.tree(VENDORED_KERNEL)
        line = find_line(tree, ENTRY, r"^SYM_CODE_START\(entry_SYSCALL_64\)")
        found = [(s.kind, s.path, s.line) for s in index.lookup("entry_SYSCALL_64")]
        assert ("asm code", ENTRY, line) in found

    def test_sys_listen_has_its_numbers(project: Project, index) -> None:  # type: ignore[no-untyped-def]
        tree = project.tree(VENDORED_KERNEL)
        n64, _ = table_number(tree, TABLE_64, "listen")
        n32, _ = table_number(tree, TABLE_32, "listen")
        got = {(c.table, c.number) for c in index.syscalls("sys_listen")}
        assert {("64", n64), ("32", n32)} <= got

    def test_the_path_from_the_syscall_instruction_to_the_listen_code(project: Project, index) -> None:  # type: ignore[no-untyped-def]
        tree = project.tree(VENDORED_KERNEL)
        chain = index.call_path("entry_SYSCALL_64", "inet_csk_listen_start")
        assert chain is not None
        links = [(e.caller, e.name) for e in chain]
        assert links[0] == ("entry_SYSCALL_64", "do_syscall_64")
        assert chain[0].path == ENTRY and chain[0].line == find_line(tree, ENTRY, r"^\s*call\s+do_syscall_64\b")
        n64, _ = table_number(tree, TABLE_64, "listen")
        table_edge = next(e for e in chain if e.name == "__x64_sys_listen")
        assert table_edge.via == f"syscall_64.tbl #{n64}"
        assert ("__x64_sys_listen", "sys_listen") in links and ("sys_listen", "__sys_listen") in links
        assert links[-1][1] == "inet_csk_listen_start"
        listen = find_line(tree, "net/socket.c", r"^SYSCALL_DEFINE2\(listen,")
        assert [(s.path, s.line) for s in index.lookup("__x64_sys_listen")] == [("net/socket.c", listen)]
