"""GNU C's typeof (and sizeof, alignof) is an operator: never a call, never a type use, and a declaration
through it declares what follows its operand.  Attribute words and _Static_assert are no calls either.

tree-sitter-c knows no typeof and reads `typeof(x)` in four shapes (a call, a macro type, the type name
`typeof` with the operand as a parenthesized declarator, an assignment to a call with the declared name in
an ERROR); each is in the fixture below, written for this project, with every expected line and column
computed from its text.  The vendored part checks the whole 6.1 index and real declarations of the tree.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from conftest import VENDORED_INDEX, VENDORED_TREE, indexed_snippets, requires_vendored
from conftest import run_cli as run

from explorer.cli import main
from explorer.cparse import make_parser, parse_definitions, prepare_source
from explorer.xref import TYPE_OPERATORS

SOURCE = """\
struct pebble {
\tint weight;
\tstruct pebble *next;
};

#define pebble_first(p) ({ typeof(*(p)) *__q = (p); pebble_check(__q); __q; })

int pebble_hook;

int pebble_typed(struct pebble *p, int *ptr)
{
\ttypeof(*ptr) res, var = pebble_read(*ptr);
\ttypeof(p->weight) w = pebble_weight(p);
\ttypeof(p->next) n;
\ttypeof(pebble_hook) hook;
\tconst typeof(*ptr) *q = ptr;
\tstruct pebble *f = container_of(ptr, typeof(*p), weight);

\tn = (typeof(p->next))pebble_first(p);
\thook = res + var + w + *q;
\treturn hook + (f != n);
}
"""
PATH = "net/ipv4/pebble_typeof.c"


def line_of(pattern: str) -> int:
    (n,) = [i + 1 for i, text in enumerate(SOURCE.splitlines()) if re.search(pattern, text)]
    return n


def col_of(line: int, word: str, nth: int = 0) -> int:
    return [m.start() for m in re.finditer(rf"\b{word}\b", SOURCE.splitlines()[line - 1])][nth]


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return indexed_snippets(tmp_path_factory, "typeof", {PATH: SOURCE})


def uses(capsys, snippets: Path, name: str) -> list[tuple[int, int, str]]:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "refs", name, "--in", "pebble_typed", "--json")
    assert code == 0, name
    return [(r["line"], r["col"], r["role"]) for r in json.loads(out)]


def test_typeof_is_no_callee_of_a_function_or_a_macro(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    for fn in ("pebble_typed", "pebble_first"):
        code, out, _ = run(capsys, snippets, "callees", fn, "--json")
        assert code == 0
        called = {row["name"] for row in json.loads(out)["children"]}
        assert called, fn
        assert not called & TYPE_OPERATORS, fn
    code, out, _ = run(capsys, snippets, "callees", "pebble_typed", "--json")
    called = {row["name"] for row in json.loads(out)["children"]}
    assert {"pebble_read", "pebble_weight"} <= called
    # the macro's own call, reached through the macro's call site
    assert "pebble_check" in called


def test_each_typeof_declaration_declares_the_names_after_its_operand(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    decls = {
        "res": line_of(r"typeof\(\*ptr\) res"), "var": line_of(r"typeof\(\*ptr\) res"),
        "w": line_of(r"typeof\(p->weight\) w"), "n": line_of(r"typeof\(p->next\) n;"),
        "hook": line_of(r"typeof\(pebble_hook\) hook"), "q": line_of(r"const typeof"),
    }
    for name, line in decls.items():
        found = uses(capsys, snippets, name)
        assert found[0] == (line, col_of(line, name), "decl"), name
        assert len(found) >= 2, name  # each is used after its declaration, as a local
    (sum_line,) = [line_of(r"hook = res \+ var")]
    assert (sum_line, col_of(sum_line, "hook"), "write") in uses(capsys, snippets, "hook")


def test_the_operand_is_read_not_declared(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    head = line_of(r"^int pebble_typed")
    want = [(head, col_of(head, "ptr"), "decl")]
    for pattern, nth in ((r"typeof\(\*ptr\) res", 0), (r"typeof\(\*ptr\) res", 1), (r"const typeof", 0),
                         (r"const typeof", 1), (r"container_of", 0)):
        line = line_of(pattern)
        want.append((line, col_of(line, "ptr", nth), "read"))
    assert uses(capsys, snippets, "ptr") == sorted(want)
    # a global named in an operand is a read of it, not a type
    code, out, _ = run(capsys, snippets, "refs", "pebble_hook", "--json")
    assert code == 0
    line = line_of(r"typeof\(pebble_hook\)")
    assert (line, "read") in {(r["line"], r["role"]) for r in json.loads(out)}


def test_no_reference_is_named_an_operator(snippets: Path) -> None:
    db = sqlite3.connect(snippets / "index" / "linux-test.sqlite")
    try:
        names = {row[0] for row in db.execute("SELECT DISTINCT name FROM refs")}
    finally:
        db.close()
    assert {"pebble_read", "pebble_hook", "pebble_check"} <= names
    assert not names & TYPE_OPERATORS
    # `typeof(*(p)) *__q = (p)` in the macro declares __q (no product of typeof and an assignment to __q)
    assert "__q" not in names


ATTRIBUTES = b"""\
#define pebble_assert(c, msg) do { extern void pebble_fail(void) __attribute__((__error__(msg))); } while (0)
#define pebble_static(x) _Static_assert(x, "pebble")
char pebble_buf[4] __attribute__((aligned(PEBBLE_ALIGN)));
void pebble_attr(void)
{
\tstruct pebble slots __attribute__((aligned(PEBBLE_SLOTS), __unused__));

\tpebble_static(sizeof(slots) > 1);
\tpebble_assert(1, "x");
}
"""


def test_attribute_words_and_static_assert_are_no_calls() -> None:
    refs = parse_definitions(make_parser(), ATTRIBUTES, "net/ipv4/pebble_attr.c").refs
    calls = {r.name for r in refs if r.role == "call"}
    assert calls == {"pebble_static", "pebble_assert"}
    names = {r.name for r in refs}
    assert not names & {"aligned", "__error__", "__unused__", "_Static_assert"}
    lines = ATTRIBUTES.decode().splitlines()
    (line,) = [i + 1 for i, t in enumerate(lines) if "PEBBLE_SLOTS" in t]  # an attribute's arguments are read
    assert [(r.line, r.col, r.role) for r in refs if r.name == "PEBBLE_SLOTS"] == [(line, lines[line - 1].index("PEBBLE_SLOTS"), "read")]


def test_naming_keeps_every_offset_and_names_only_what_closes_on_its_line() -> None:
    src = (b"#define typeof(x) __typeof__(x)\n"  # defines the word: the name stays (its value is named)
           b"int a = sizeof(typeof(typeof(b)));\n"  # the outer one named, the inner goes with its operand
           b"typeof(c +\n d) e;\n"  # over two lines: left as it is
           b"typeof(( f) g; typeof(h) i;\n")  # not closed on its line: the rest of the line is left
    prepared = prepare_source(src)
    assert len(prepared.text) == len(src)
    assert [i for i, c in enumerate(prepared.text) if c == 0x0A] == [i for i, c in enumerate(src) if c == 0x0A]
    lines = prepared.text.split(b"\n")
    assert lines[0] == b"#define typeof(x) __typeof__" + b"_" * len(b"(x)")
    assert lines[1] == b"int a = sizeof(typeof" + b"_" * len(b"(typeof(b))") + b");"
    assert lines[2:4] == src.split(b"\n")[2:4]
    assert lines[4] == src.split(b"\n")[4]
    assert sorted((o.line, o.col, o.operand) for o in prepared.typeof_operands.values()) == [
        (1, src.split(b"\n")[0].rindex(b"(x)") + 1, b"x"), (2, src.split(b"\n")[1].index(b"typeof(") + len(b"typeof("), b"typeof(b)")]


@pytest.mark.parametrize("src", [
    b"int x = typeof(" * 20000 + b"\n",  # never closed
    b"int y = " + b"typeof(" * 20000 + b"x" + b")" * 20000 + b";\n",  # nested deeper than any walk follows
    b"void f(int *p) {\n" + b"\ttypeof(*p) v;\n" * 5000 + b"\treturn;\n}\n",  # many, one a line
    b"void f(int *p) {" + b"typeof(*p) v; " * 5000 + b"}\n",  # many on one line
])
def test_hostile_typeof_is_indexed_around(src: bytes) -> None:
    prepared = prepare_source(src)
    assert len(prepared.text) == len(src)
    result = parse_definitions(make_parser(), src, "net/ipv4/hostile.c")
    assert not {r.name for r in result.refs} & TYPE_OPERATORS
    if b"void f" in src:  # each typeof's operand is a use of p, at its own place
        (row,) = result.locals
        uses = dict(part.split(":", 1) for part in row.data.split(";"))
        assert uses["p"].startswith("p:") and uses["p"].count("r") == 5000
        assert {r.name for r in result.refs} <= {"v"} and [d.name for d in result.definitions] == ["f"]


@requires_vendored
@pytest.mark.vendored
def test_vendored_index_has_no_call_or_type_use_of_an_operator() -> None:
    db = sqlite3.connect(f"file:{VENDORED_INDEX}?mode=ro", uri=True)
    try:
        marks = ",".join("?" * len(TYPE_OPERATORS))
        bad = db.execute(f"SELECT name, role, count(*) FROM refs WHERE name IN ({marks}) AND role IN ('call', 'type') GROUP BY 1, 2",
                         sorted(TYPE_OPERATORS)).fetchall()
        files = db.execute("SELECT count(*) FROM files").fetchone()[0]
    finally:
        db.close()
    assert files > 10000  # the whole core tree
    assert bad == []


@requires_vendored
@pytest.mark.vendored
@pytest.mark.parametrize(("rel", "function", "declaration", "local"), [
    ("net/netfilter/nf_conntrack_ftp.c", "help", r"^\s*typeof\(nf_nat_ftp_hook\) nf_nat_ftp;", "nf_nat_ftp"),
    ("arch/x86/kernel/sys_ia32.c", "cp_stat64", r"^\s*typeof\(ubuf->st_uid\) uid = 0;", "uid"),
])
def test_vendored_typeof_declarations_declare_their_local(capsys, rel: str, function: str, declaration: str,  # type: ignore[no-untyped-def]
                                                           local: str) -> None:
    text = (VENDORED_TREE / rel).read_text(encoding="utf-8", errors="replace").splitlines()
    (line,) = [i + 1 for i, t in enumerate(text) if re.search(declaration, t)]
    uses_after = sum(len(re.findall(rf"\b{local}\b", t)) for t in text[line:line + 40])
    assert main(["refs", local, "--in", function, "--json"]) == 0
    got = [(r["line"], r["col"], r["role"]) for r in json.loads(capsys.readouterr().out) if r["path"] == rel]
    match = re.search(rf"\b{local}\b", text[line - 1])
    assert match is not None and uses_after > 0
    assert got[0] == (line, match.start(), "decl")
    assert len(got) > 1
