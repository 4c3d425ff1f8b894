"""kernel-doc, exports and uses of undefined names on the vendored Linux 6.1 slice and its index.

Every expected line, parameter and export macro is read from the vendored files with a
regular expression of the test's own, never written down."""

from __future__ import annotations

import json
import re

import pytest
from conftest import REPO, VENDORED_INDEX, VENDORED_TREE, requires_vendored

from explorer.cli import main

pytestmark = [pytest.mark.vendored, requires_vendored]
SNIPPETS = str(REPO / "kernel-snippets")


@pytest.fixture(scope="module")
def index():  # type: ignore[no-untyped-def]
    from explorer.store import Index

    with Index(VENDORED_INDEX) as idx:
        yield idx


def _lines(rel: str) -> list[str]:
    return (VENDORED_TREE / rel).read_bytes().decode("utf-8", "replace").splitlines()


def _comment_above(rel: str, naming: str) -> tuple[int, dict[str, str]]:
    """The line of the kernel-doc line matching `naming` in the file, and the names of the
    `@param:` lines of its comment (as a set of keys, texts of one line each)."""
    lines = _lines(rel)
    rx = re.compile(naming)
    start = next(n for n, line in enumerate(lines, start=1) if rx.search(line))
    params: dict[str, str] = {}
    for line in lines[start:]:
        if "*/" in line:
            break
        m = re.match(r"^\s*\*\s*@(\w+):\s*(.*)$", line)
        if m:
            params[m.group(1)] = m.group(2).strip()
    return start, params


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--snippets", SNIPPETS])
    out, errors = capsys.readouterr()
    return code, out, errors


def test_sk_alloc_kernel_doc_and_export(capsys) -> None:  # type: ignore[no-untyped-def]
    rel = "net/core/sock.c"
    line, params = _comment_above(rel, r"^\s\*\s+sk_alloc - ")
    assert params  # the comment documents its parameters
    code, out, _ = _run(capsys, "lookup", "sk_alloc", "--json")
    assert code == 0
    row = next(r for r in json.loads(out) if r["kind"] == "function")
    assert row["path"] == rel
    doc = row["doc"]
    assert doc["path"] == rel and doc["line"] == line
    assert list(doc["params"]) == list(params)  # every @param, in the comment's order
    for name, first_line in params.items():
        assert doc["params"][name].startswith(first_line)
    macro = next(m.group(1) for text in _lines(rel) if (m := re.match(r"^(EXPORT_SYMBOL\w*)\(sk_alloc\);", text)))
    assert row["exported"] == macro


def test_struct_sock_common_member_docs(capsys) -> None:  # type: ignore[no-untyped-def]
    rel = "include/net/sock.h"
    struct_line, params = _comment_above(rel, r"^\s\*\s+struct sock_common - ")
    assert "skc_state" in params
    code, out, _ = _run(capsys, "doc", "sock_common.skc_state", "--json")
    assert code == 0
    doc = json.loads(out)[0]["doc"]
    member_line = next(n for n, text in enumerate(_lines(rel), start=1)
                       if n > struct_line and re.match(r"^\s*\*\s*@skc_state:", text))
    assert doc["line"] == member_line
    assert doc["summary"] == params["skc_state"]
    code, out, _ = _run(capsys, "doc", "sock_common")
    assert code == 0 and f"kernel-doc at {rel}:{struct_line}:" in out


def test_every_export_line_of_af_inet_is_an_export_reference(index) -> None:  # type: ignore[no-untyped-def]
    rel = "net/ipv4/af_inet.c"
    expected = sorted((n, m.group(2), m.group(1)) for n, text in enumerate(_lines(rel), start=1)
                      if (m := re.match(r"^(EXPORT_SYMBOL(?:_GPL)?)\((\w+)\);", text)))
    assert len(expected) > 20
    found = sorted((r.line, r.name, r.via) for name in {e[1] for e in expected}
                   for r in index.refs(name, "export") if r.path == rel)
    assert found == expected
    # the export line's name links on the source page like any other use
    spans = {(line, name) for line, _, _, name, role, _ in index.refs_in_file(rel) if role == "export"}
    assert spans == {(n, name) for n, name, _ in expected}


def test_refs_role_export_of_inet_listen(capsys) -> None:  # type: ignore[no-untyped-def]
    rel = "net/ipv4/af_inet.c"
    line = next(n for n, text in enumerate(_lines(rel), start=1) if re.match(r"^EXPORT_SYMBOL\(inet_listen\);", text))
    code, out, _ = _run(capsys, "refs", "inet_listen", "--role", "export")
    assert code == 0
    assert out.splitlines() == [f"{rel}:{line}:{len('EXPORT_SYMBOL(') + 1}  export  (file scope) via EXPORT_SYMBOL"]


def test_uses_of_a_builtin_without_a_definition(capsys, index) -> None:  # type: ignore[no-untyped-def]
    name = "__builtin_constant_p"
    assert index.lookup(name) == []
    code, out, errors = _run(capsys, "refs", name)
    assert code == 0
    assert f"no definition of {name} is indexed" in errors
    rows = out.splitlines()
    assert rows
    for row in rows:  # each use is at a line of the vendored file that names the builtin
        path, line, col = row.split()[0].split(":")
        text = _lines(path)[int(line) - 1]
        assert text[int(col) - 1 :].startswith(name), row


def test_a_type_of_the_whole_tree_lists_its_type_uses(capsys, index) -> None:  # type: ignore[no-untyped-def]
    """u32 is defined in headers of the core tree (include/uapi/asm-generic/int-ll64.h among them): its
    uses as a type are listed, in net/ as in the rest, with no "no definition" note."""
    assert index.lookup("u32")
    code, out, errors = _run(capsys, "refs", "u32", "--role", "type", "--json")
    assert code == 0 and "no definition of u32 is indexed" not in errors
    rows = json.loads(out)
    assert any(r["path"] == "net/core/sock.c" for r in rows)
    assert all(r["role"] == "type" and r["name"] == "u32" for r in rows)


def test_doc_of_a_documented_function_in_net_ipv4(capsys) -> None:  # type: ignore[no-untyped-def]
    """Any function of tcp.c documented as `name - summary`: `kexplore doc` finds its comment at that line."""
    rel = "net/ipv4/tcp.c"
    lines = _lines(rel)
    named = [(n, m.group(1)) for n, text in enumerate(lines, start=1)
             if (m := re.match(r"^\s\*\s+(tcp_\w+)\s*(?:\(\))?\s+-\s+\S", text)) and lines[n - 2].strip() == "/**"]
    assert named
    n, name = named[0]
    code, out, _ = _run(capsys, "doc", name, "--json")
    assert code == 0
    assert any(r["doc"] and r["doc"]["path"] == rel and r["doc"]["line"] == n for r in json.loads(out))


