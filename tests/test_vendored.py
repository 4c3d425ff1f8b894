"""Integration: the vendored Linux 6.1 tree and its index (`make index`).

Every expected path and line is computed from the vendored files themselves.
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from conftest import VENDORED_INDEX, VENDORED_KERNEL, VENDORED_LOCK, VENDORED_TREE, requires_vendored

pytestmark = [pytest.mark.vendored, requires_vendored]


@pytest.fixture(scope="module")
def index():  # type: ignore[no-untyped-def]
    from explorer.store import Index

    with Index(VENDORED_INDEX) as idx:
        yield idx


def find_line(rel: str, pattern: str) -> int:
    """The 1-based line of the only line in the vendored file matching `pattern` (a regex)."""
    rx = re.compile(pattern)
    text = (VENDORED_TREE / rel).read_bytes().decode("utf-8", "replace")
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if rx.search(line)]
    assert len(hits) == 1, f"{pattern!r} in {rel}: {hits}"
    return hits[0]


def test_inet_listen(index) -> None:  # type: ignore[no-untyped-def]
    line = find_line("net/ipv4/af_inet.c", r"^int inet_listen\(struct socket \*sock, int backlog\)$")
    found = index.lookup("inet_listen", "function")
    assert [(s.path, s.line) for s in found] == [("net/ipv4/af_inet.c", line)]
    sym = found[0]
    assert sym.scope == "global"
    assert sym.signature == "int inet_listen(struct socket *sock, int backlog)"
    text = (VENDORED_TREE / sym.path).read_text(errors="replace").splitlines()
    assert text[sym.end_line - 1] == "}"
    assert all(text[n] != "}" for n in range(sym.line, sym.end_line - 1))


def test_sys_listen(index) -> None:  # type: ignore[no-untyped-def]
    line = find_line("net/socket.c", r"^SYSCALL_DEFINE2\(listen,")
    found = index.lookup("sys_listen", "function")
    assert [(s.path, s.line) for s in found] == [("net/socket.c", line)]


def struct_definitions(name: str) -> set[tuple[str, int]]:
    """Where `struct NAME {` opens a definition, in any vendored header."""
    rx = re.compile(rf"^struct {re.escape(name)} {{")
    out = set()
    for path in sorted(VENDORED_TREE.joinpath("include").rglob("*.h")):
        for number, line in enumerate(path.read_bytes().decode("utf-8", "replace").splitlines(), start=1):
            if rx.match(line):
                out.add((path.relative_to(VENDORED_TREE).as_posix(), number))
    return out


@pytest.mark.parametrize("name", ["socket", "sock", "sk_buff", "tcp_sock", "net", "proto_ops", "inet_connection_sock"])
def test_core_structs_resolve_to_their_definitions(index, name: str) -> None:  # type: ignore[no-untyped-def]
    expected = struct_definitions(name)
    assert expected, f"struct {name} is not in the vendored headers: is include/linux pruned too hard?"
    found = {(s.path, s.line) for s in index.lookup(name, "struct")}
    assert found == expected
    # and a plain lookup puts a struct definition first
    assert index.lookup(name)[0].kind == "struct"


def test_inet_connection_sock_members(index) -> None:  # type: ignore[no-untyped-def]
    rel = "include/net/inet_connection_sock.h"
    queue = index.lookup("inet_connection_sock.icsk_accept_queue")
    assert [(s.kind, s.path, s.line) for s in queue] == [
        ("member", rel, find_line(rel, r"^\s+struct request_sock_queue\s+icsk_accept_queue;"))
    ]
    ack = index.lookup("inet_connection_sock.icsk_ack")
    assert [(s.kind, s.path) for s in ack] == [("member", rel)]
    pending = index.lookup("inet_connection_sock.icsk_ack.pending")
    assert len(pending) == 1
    assert pending[0].kind == "member" and pending[0].scope == "inet_connection_sock"
    # `pending` is the first field named so after `struct {` that ends in `} icsk_ack;`
    lines = (VENDORED_TREE / rel).read_text().splitlines()
    end = ack[0].line
    start = max(n for n in range(end) if lines[n - 1].strip() == "struct {")
    assert start < pending[0].line < end
    assert re.search(r"\bpending;", lines[pending[0].line - 1])


def test_export_symbol_lines_never_yield_a_definition(index) -> None:  # type: ignore[no-untyped-def]
    rx = re.compile(r"^\s*EXPORT_(?:PER_CPU_)?SYMBOL\w*\(")
    checked = 0
    by_file: dict[str, set[int]] = {}
    for sym in index.dump():
        by_file.setdefault(sym.path, set()).add(sym.line)
    for sub in ("net/ipv4", "net/core"):
        for path in sorted((VENDORED_TREE / sub).glob("*.c")):
            rel = path.relative_to(VENDORED_TREE).as_posix()
            lines = path.read_bytes().decode("utf-8", "replace").splitlines()
            export_lines = {n for n, line in enumerate(lines, start=1) if rx.match(line)}
            checked += len(export_lines)
            assert not export_lines & by_file.get(rel, set()), rel
    assert checked > 1000
    assert not [s for s in index.search("EXPORT_SYMBOL", limit=50) if s.name.startswith("EXPORT_SYMBOL") and s.kind != "macro"]


READ_MOSTLY = re.compile(r"^(?:static\s+)?(?:const\s+)?(?:unsigned\s+)?(?:struct\s+)?\w+\s+\**(\w+)(?:\[[^\]]*\])?\s+__read_mostly\b")


def test_read_mostly_variables_are_found_by_their_real_names(index) -> None:  # type: ignore[no-untyped-def]
    cases = []
    for path in sorted((VENDORED_TREE / "net/ipv4").glob("*.c")):
        rel = path.relative_to(VENDORED_TREE).as_posix()
        for number, line in enumerate(path.read_bytes().decode("utf-8", "replace").splitlines(), start=1):
            m = READ_MOSTLY.match(line)
            if m:
                cases.append((m.group(1), rel, number))
    assert len(cases) >= 10
    missing = [c for c in cases if (c[1], c[2]) not in {(s.path, s.line) for s in index.lookup(c[0], "variable")}]
    assert missing == []
    # the annotation is never taken for a variable; its own #define is a macro
    assert {s.kind for s in index.lookup("__read_mostly")} <= {"macro"}


def test_lock_matches_the_vendored_files() -> None:
    lock = json.loads(VENDORED_LOCK.read_text())
    assert lock["kernel"] == VENDORED_KERNEL
    on_disk = {
        p.relative_to(VENDORED_TREE).as_posix()
        for p in VENDORED_TREE.rglob("*")
        if p.is_file() and not p.is_symlink()
    }
    assert set(lock["files"]) == on_disk
    for rel, digest in lock["files"].items():
        assert hashlib.sha256((VENDORED_TREE / rel).read_bytes()).hexdigest() == digest, rel


def test_the_index_covers_every_vendored_source_file(index) -> None:  # type: ignore[no-untyped-def]
    # C, assembly (not linker scripts, *.lds.S) and the system call tables
    sources = {
        p.relative_to(VENDORED_TREE).as_posix() for p in VENDORED_TREE.rglob("*")
        if p.is_file() and (p.suffix in (".c", ".h") or (p.suffix == ".S" and not p.name.endswith(".lds.S"))
                            or (p.suffix == ".tbl" and p.name.startswith("syscall_")))
    }
    assert index.file_count() == len(sources)
    assert index.meta()["kernel"] == VENDORED_KERNEL


def test_cli_lookup_on_the_vendored_index(capsys) -> None:  # type: ignore[no-untyped-def]
    from explorer.cli import main

    line = find_line("net/ipv4/af_inet.c", r"^int inet_listen\(struct socket \*sock, int backlog\)$")
    assert main(["lookup", "inet_listen", "--kind", "function", "--json"]) == 0
    assert [(o["path"], o["line"]) for o in json.loads(capsys.readouterr().out)] == [("net/ipv4/af_inet.c", line)]


# Functions written the kernel way: the name's line starts at column 0 and the
# body's `{` stands alone on a line.  The pattern finds the name's line.
_FUNCTION_START = re.compile(r"^(?!(?:if|for|while|switch|return|do|else|typedef)\b)[A-Za-z_][\w \t\*]*?\b([A-Za-z_]\w*)\(")


def column_zero_functions(rel: str) -> list[tuple[str, int]]:
    lines = (VENDORED_TREE / rel).read_bytes().decode("utf-8", "replace").split("\n")
    out = []
    for i, line in enumerate(lines):
        if line != "{":
            continue
        j = i - 1
        while j >= 0 and j > i - 8 and lines[j][:1] in ("\t", " "):
            j -= 1
        if j < 0 or lines[j].startswith(("#", "/", "*", "}")) or "=" in lines[j] or ";" in lines[j]:
            continue
        m = _FUNCTION_START.match(lines[j])
        if m is None or re.match(r"(?:COMPAT_)?SYSCALL_DEFINE|BPF_CALL_|[A-Z_0-9]+$", m.group(1)):
            continue
        out.append((m.group(1), j + 1))
    return out


def test_column_zero_functions_are_all_indexed(index) -> None:  # type: ignore[no-untyped-def]
    indexed = {(s.path, s.name, s.line) for s in index.dump() if s.kind == "function"}
    missing = []
    total = 0
    for sub in ("net/ipv4", "net/core"):
        for path in sorted((VENDORED_TREE / sub).glob("*.c")):
            rel = path.relative_to(VENDORED_TREE).as_posix()
            for name, line in column_zero_functions(rel):
                total += 1
                if (rel, name, line) not in indexed:
                    missing.append(f"{rel}:{line} {name}")
    assert total > 4000
    assert missing == []
