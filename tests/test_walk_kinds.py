"""The walkers' shortcuts give what the plain forms give.

explorer/xref.py and explorer/cparse.py compare node kinds as ints (`kinds()`), ask for fields by
id (F_*), and find some blanking candidates with cheaper regexes than the ones that define them.
Each shortcut is checked here against its plain form on real trees (the fixtures' C files) and on
made-up text written to hit the edges.  benchmarks/extract_equal.py checks the rows of whole kernels.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import FIXTURES

from explorer import cparse, xref
from explorer.cparse import make_parser, parse_definitions, prepare_source

C_FILES = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".c", ".h"))
FIELDS = {name[2:].lower(): getattr(xref, name) for name in dir(xref) if name.startswith("F_")}


def _nodes(src: bytes) -> list:  # type: ignore[type-arg]
    tree = make_parser().parse(prepare_source(src).text)
    out, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children)
    return out


def test_there_are_fixture_files() -> None:
    assert len(C_FILES) >= 5


@pytest.mark.parametrize("path", C_FILES, ids=lambda p: p.name)
def test_kind_ids_name_the_node_type(path: Path) -> None:
    nodes = _nodes(path.read_bytes())
    assert nodes
    for node in nodes:
        assert node.kind_id in xref.kinds(node.type)
        assert xref._KIND_NAMES[node.kind_id] == node.type


@pytest.mark.parametrize("path", C_FILES, ids=lambda p: p.name)
def test_fields_by_id_are_fields_by_name(path: Path) -> None:
    assert {"declarator", "type", "body", "name", "value", "argument", "field"} <= FIELDS.keys()
    found = 0
    for node in _nodes(path.read_bytes()):
        for name, fid in FIELDS.items():
            by_id = node.child_by_field_id(fid)
            assert by_id == node.child_by_field_name(name)
            assert node.children_by_field_id(fid) == node.children_by_field_name(name)
            found += by_id is not None
    assert found > 0


def test_kinds_knows_errors_and_rejects_unknown_names() -> None:
    tree = make_parser().parse(b"int f( { x = ; }}}")
    errors = [n for n in _nodes(b"int f( { x = ; }}}") if n.type == "ERROR"]
    assert tree.root_node.has_error and errors
    assert all(n.kind_id in xref.kinds("ERROR") for n in errors)
    with pytest.raises(LookupError):
        xref.kinds("no_such_node_kind")


def test_nothing_kinds_are_the_ones_visit_nothing_gets() -> None:
    names = {xref._KIND_NAMES[k] for k in xref._K_NOTHING}
    assert {"number_literal", "string_literal", "comment", "field_identifier"} <= names
    assert "identifier" not in names and "call_expression" not in names


TOP_LEVEL = (
    b"PAGEFLAG(Young, young, PF_ANY)\n"
    b"int x;\n"
    b"  indented(1)\n"
    b"DEFINE_FREE(fput, struct file *, x)\r\n"
    b"\n"
    b"last_line_call (a)"
)


@pytest.mark.parametrize("src", [TOP_LEVEL, TOP_LEVEL[8:], b"\n\n", b"", b"f(", b"\nf(\ng("])
def test_top_level_calls_are_the_multiline_regex(src: bytes) -> None:
    expected = [(m.group("name"), m.start(), m.end()) for m in cparse._TOP_LEVEL_CALL_RX.finditer(src)]
    got = [(m.group("name"), m.start("name"), m.end()) for m in cparse._top_level_calls(src)]
    assert got == expected


TYPE_ARGUMENTS = (
    b"container_of(p, struct sock, sk_node); f(union u, x); g(a, enum e);\n"
    b"h(struct enum_x, y); k(xunion a, b); m(struct foounion bar, c); n(struct\tt)\n"
    b"alloc_percpu(struct foo); (struct cast) {0}; q(enum  spaced  , union\tu)"
)


def test_type_argument_searches_are_the_alternation() -> None:
    matches = [m for rx in cparse._TYPE_ARGUMENT_RXS for m in rx.finditer(TYPE_ARGUMENTS)]
    matches.sort(key=lambda m: m.start())
    expected = [(m.span(), m.span("kw")) for m in cparse._TYPE_ARGUMENT_RX.finditer(TYPE_ARGUMENTS)]
    assert len(expected) >= 6
    assert [(m.span(), m.span("kw")) for m in matches] == expected


@pytest.mark.parametrize("word", ["noinline", "notrace", "asmlinkage", "INDIRECT_CALLABLE_SCOPE", "noinstr", "noinline_for_stack",
                                  "nokprobe_inline"])
def test_plain_annotations_are_still_blanked(word: str) -> None:
    src = f"static {word} int f(void)\n{{\n\treturn 0;\n}}\nint {word}_count;\n".encode()
    text = cparse.blank_annotations(src)
    assert len(text) == len(src)
    assert text.count(word.encode()) == 1  # the annotation went, the longer name stayed
    assert re.search(rb"static +int f", text)


@pytest.mark.parametrize("src", [b"static noinline_for_stack int f(void)\n{\n\treturn 0;\n}\n",
                                 b"static nokprobe_inline int f(void)\n{\n\treturn 0;\n}\n",
                                 b"static void __head f(void)\n{\n}\n",
                                 b"static struct ghcb g __bss_decrypted __aligned(4096);\nvoid f(void)\n{\n}\n"])
def test_annotations_measured_on_the_core_tree_leave_no_error(src: bytes) -> None:
    result = parse_definitions(make_parser(), src, "arch/x86/kernel/x.c")
    assert result.error_nodes == 0
    assert "f" in {d.name for d in result.definitions if d.kind == "function"}


def test_xfs_static_is_the_storage_class() -> None:
    src = b"#define STATIC static noinline\nSTATIC struct xfs_buf *\nxfs_get(int n)\n{\n\treturn NULL;\n}\nint STATIC_COUNT;\n"
    text = cparse.blank_annotations(src)
    assert text.count(b"STATIC") == 2 and text.count(b"\nstatic struct xfs_buf") == 1  # the #define and the longer name stay
    result = parse_definitions(make_parser(), src, "fs/xfs/xfs_get.c")
    assert result.error_nodes == 0
    assert [(d.name, d.kind, d.scope) for d in result.definitions if d.kind != "macro"] == [
        ("xfs_get", "function", "file"), ("STATIC_COUNT", "variable", "global")]


def test_case_ranges_parse_and_read_both_ends() -> None:
    src = b"int f(int x)\n{\n\tswitch (x) {\n\tcase LOW ... HIGH:\n\t\treturn g(x);\n\tcase 'a'...'z':\n\t\tbreak;\n\t}\n\treturn 0; /* case 1 ... 2 */\n}\n"
    assert len(cparse.blank_annotations(src)) == len(src)
    result = parse_definitions(make_parser(), src, "net/core/range.c")
    assert result.error_nodes == 0
    line = src.split(b"\n").index(b"\tcase LOW ... HIGH:") + 1
    text = src.split(b"\n")[line - 1]
    assert {(r.name, r.line, r.col, r.role) for r in result.refs if r.name in ("LOW", "HIGH")} == {
        ("LOW", line, text.index(b"LOW"), "read"), ("HIGH", line, text.index(b"HIGH"), "read")}


def test_skb_walks_are_loop_macros() -> None:
    src = (b"void f(struct sk_buff_head *q)\n{\n\tstruct sk_buff *skb, *tmp;\n\n\tskb_queue_walk(q, skb) {\n\t\tskb_use(skb);\n\t}\n"
           b"\tskb_queue_walk_safe(q, skb, tmp)\n\t\tkfree_skb(skb);\n\trhashtable_walk_stop(q);\n}\n")
    result = parse_definitions(make_parser(), src, "net/core/walk.c")
    assert result.error_nodes == 0
    lines = src.split(b"\n")
    calls = {(r.name, r.line) for r in result.refs if r.role == "call"}
    for name in (b"skb_queue_walk(", b"skb_use(", b"skb_queue_walk_safe(", b"kfree_skb(", b"rhashtable_walk_stop("):
        (line,) = [i + 1 for i, t in enumerate(lines) if t.lstrip().startswith(name)]
        assert (name[:-1].decode(), line) in calls


def test_special_calls_keep_their_roles() -> None:
    src = (b"void f(struct sock *sk, int v)\n{\n"
           b"\tINDIRECT_CALL_2(sk->cb, tcp_cb, udp_cb, sk);\n"
           b"\tWRITE_ONCE(glob, v);\n"
           b"\tstruct foo *x = container_of(sk, struct foo, member);\n"
           b"\tplain(glob2, other);\n}\n")
    refs = parse_definitions(make_parser(), src, "t.c").refs
    roles = {r.name: r.role for r in refs if r.key is None}
    assert roles["INDIRECT_CALL_2"] == "call"
    assert roles["tcp_cb"] == "call" and roles["udp_cb"] == "call"
    assert roles["glob"] == "write" and roles["WRITE_ONCE"] == "call"
    assert roles["foo"] == "type" and "member" not in roles
    assert roles["plain"] == "call" and roles["glob2"] == "read" and roles["other"] == "read"
    lines = src.splitlines()
    for r in refs:
        assert lines[r.line - 1][r.col : r.end_col].decode() == r.name


@pytest.mark.parametrize("src", [
    b"#include <a.h>\n  #  include \"b.h\"\nx #include <c.h>\n\t#include <d.h>\n",
    b"/* #include <e.h> */\n#include <f.h\n#include <g.h>",
    b"#define X 1\n#if X\n# include <h.h>\n#endif\nint include;\n",
    b"no directives at all",
    b"",
])
def test_include_search_is_the_multiline_regex(src: bytes) -> None:
    from explorer import includes

    expected = [m.group(1, 2) for m in includes._INCLUDE_RX.finditer(src)]
    assert [m.group(1, 2) for m in includes._includes(src)] == expected
