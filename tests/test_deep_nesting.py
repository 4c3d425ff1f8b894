"""Pathological nesting never aborts a file, nor an index run (issue 9, section 1 item 6).

Inputs are generated here; each depth is well past Python's recursion limit (1000).
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest
from conftest import KERNEL, make_project, symbols_of

from explorer.cparse import make_parser, parse_definitions
from explorer.indexer import build_index
from explorer.xref import MAX_NESTING

DEPTHS = (5_000, 10_000)


def _nested_if(n: int) -> str:
    return "".join(f"#if CONFIG_LEVEL_{i}\n" for i in range(n)) + "int deep_value;\n" + "#endif\n" * n


def _nested_ifdef_in_struct(n: int) -> str:
    return "struct deep_box {\n" + "".join(f"#ifdef CONFIG_BOX_{i}\n" for i in range(n)) + "\tint m;\n" + "#endif\n" * n + "};\n"


def _nested_structs(n: int) -> str:
    return "struct outer {\n" + "".join(f"struct level_{i} {{\n" for i in range(n)) + "int x;\n" + "} f;\n" * n + "};\n"


def _nested_anonymous(n: int) -> str:
    return "struct outer {\n" + "struct {\n" * n + "int x;\n" + "} f;\n" * n + "};\n"


def _nested_parens(n: int) -> str:
    return "int deep_parens(void)\n{\n\treturn " + "(" * n + "deep_global" + ")" * n + ";\n}\n"


def _nested_calls(n: int) -> str:
    return "int deep_calls(void)\n{\n\treturn " + "wrap(" * n + "deep_global" + ")" * n + ";\n}\n"


def _long_expression(n: int) -> str:
    return "int deep_sum(void)\n{\n\treturn " + " + ".join(["deep_global"] * n) + ";\n}\n"


def _nested_blocks(n: int) -> str:
    return "int deep_blocks(void)\n{\n" + "{\n" * n + "deep_call();\n" + "}\n" * n + "}\n"


def _nested_statement_expressions(n: int) -> str:
    return "int deep_stmt_expr(void)\n{\n\treturn " + "({ " * n + "deep_global; " + "}); " * n + "\n}\n"


def _nested_initializers(n: int) -> str:
    return "static int deep_table[] = " + "{ " * n + "deep_global" + " }" * n + ";\n"


def _nested_designators(n: int) -> str:
    return "static struct deep_ops deep_ops_table = " + "{ .next = " * n + "deep_fn" + " }" * n + ";\n"


def _elif_chain(n: int) -> str:
    return "#if CONFIG_A0\nint chain_0;\n" + "".join(f"#elif CONFIG_A{i}\nint chain_{i};\n" for i in range(1, n)) + "#endif\n"


CASES = {
    "nested #if": (_nested_if, None),
    "nested #ifdef in a struct": (_nested_ifdef_in_struct, "deep_box"),
    "nested structs": (_nested_structs, "outer"),
    "nested anonymous structs": (_nested_anonymous, "outer"),
    "nested parentheses": (_nested_parens, "deep_parens"),
    "nested calls": (_nested_calls, "deep_calls"),
    "a long expression": (_long_expression, "deep_sum"),
    "nested blocks": (_nested_blocks, "deep_blocks"),
    "nested statement expressions": (_nested_statement_expressions, "deep_stmt_expr"),
    "nested initializers": (_nested_initializers, "deep_table"),
    "nested designated initializers": (_nested_designators, "deep_ops_table"),
}


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("case", list(CASES))
def test_deep_input_parses_without_recursion_error(case: str, depth: int) -> None:
    assert depth > sys.getrecursionlimit()
    make, outer_name = CASES[case]
    src = ("int before_it(void)\n{\n\treturn 0;\n}\n" + make(depth) + "int after_it;\n").encode()
    result = parse_definitions(make_parser(), src, "net/ipv4/deep.c")
    names = {d.name for d in result.definitions}
    assert {"before_it", "after_it"} <= names  # what is around the deep part is indexed
    if outer_name is not None:
        assert outer_name in names


@pytest.mark.parametrize("depth", DEPTHS)
def test_nesting_past_the_bound_is_recorded_as_partial(depth: int) -> None:
    result = parse_definitions(make_parser(), _nested_structs(depth).encode(), "net/ipv4/deep.c")
    assert result.partial
    members = [d for d in result.definitions if d.kind == "member"]
    assert 0 < len(members) <= MAX_NESTING  # the outer levels are there, the deepest left out
    shallow = parse_definitions(make_parser(), _nested_structs(5).encode(), "net/ipv4/shallow.c")
    assert not shallow.partial and len([d for d in shallow.definitions if d.kind == "member"]) == 5 + 1  # f at each level, and x


def test_a_long_elif_chain_is_not_nesting() -> None:
    n = 2_000
    result = parse_definitions(make_parser(), _elif_chain(n).encode(), "net/ipv4/chain.c")
    assert not result.partial
    assert {d.name for d in result.definitions} == {f"chain_{i}" for i in range(n)}


def test_index_run_indexes_the_rest_and_reports_the_deep_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "snippets", {
        "net/ipv4/normal.c": "int normal_one(void)\n{\n\treturn 1;\n}\n",
        "net/ipv4/deep_if.c": _nested_if(5_000) + "int after_deep;\n",
        "net/ipv4/deep_struct.c": _nested_structs(3_000),
        "include/net/normal.h": "struct normal_box {\n\tint field;\n};\n",
    })
    result = build_index(project, jobs=1)
    assert result.failed == []
    assert result.partial == ["net/ipv4/deep_if.c", "net/ipv4/deep_struct.c"]
    rows = {(name, path) for name, _kind, path, _line in symbols_of(project.index_path(KERNEL))}
    assert {("normal_one", "net/ipv4/normal.c"), ("normal_box", "include/net/normal.h"),
            ("after_deep", "net/ipv4/deep_if.c"), ("outer", "net/ipv4/deep_struct.c")} <= rows
    db = sqlite3.connect(project.index_path(KERNEL))
    assert dict(db.execute("SELECT path, partial FROM files")) == {
        "net/ipv4/normal.c": 0, "include/net/normal.h": 0, "net/ipv4/deep_if.c": 1, "net/ipv4/deep_struct.c": 1}
    db.close()

    from explorer.cli import main

    assert main(["index", "--snippets", str(project.snippets), "--force"]) == 0
    out = capsys.readouterr().out
    assert "net/ipv4/deep_if.c: partly indexed" in out and "net/ipv4/deep_struct.c: partly indexed" in out


def test_a_file_that_fails_is_reported_and_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """No real input makes the parser fail any more; a parser bug is stood in for by one
    file whose parse raises, to prove the run survives it and reports it in one line."""
    import explorer.cparse

    real = explorer.cparse.parse_definitions

    def failing_on_one(parser, src, path, refs=True):  # type: ignore[no-untyped-def]
        if path.endswith("broken.c"):
            raise ValueError("a parser bug\nover two lines")
        return real(parser, src, path, refs)

    monkeypatch.setattr(explorer.cparse, "parse_definitions", failing_on_one)
    project = make_project(tmp_path / "snippets", {
        "net/ipv4/normal.c": "int normal_one(void)\n{\n\treturn 1;\n}\n",
        "net/ipv4/broken.c": "int broken_one;\n",
    })
    result = build_index(project, jobs=1)
    assert [(f.path, f.reason) for f in result.failed] == [("net/ipv4/broken.c", "ValueError: a parser bug over two lines")]
    rows = {(name, path) for name, _kind, path, _line in symbols_of(project.index_path(KERNEL))}
    assert rows == {("normal_one", "net/ipv4/normal.c")}

    from explorer.cli import main

    assert main(["index", "--snippets", str(project.snippets), "--force"]) == 0
    err = capsys.readouterr().err
    assert "net/ipv4/broken.c: not indexed (ValueError: a parser bug over two lines)" in err
    # the failed file is not in the files table: the next run parses it again
    monkeypatch.setattr(explorer.cparse, "parse_definitions", real)
    again = build_index(project, jobs=1)
    assert again.failed == [] and again.parsed == 1


def test_conditions_stay_bounded_along_a_long_elif_chain() -> None:
    """Each branch's condition negates every branch before it: 2,000 branches made
    conditions of 30 KB each (quadratic in the file); they are cut at MAX_CONDITION."""
    from explorer.xref import MAX_CONDITION

    n = 2_000
    result = parse_definitions(make_parser(), _elif_chain(n).encode(), "net/ipv4/chain.c")
    conds = {d.name: d.cond or "" for d in result.definitions}
    assert len(conds) == n
    assert max(len(c) for c in conds.values()) <= MAX_CONDITION
    assert conds["chain_0"] == "CONFIG_A0"
    assert conds["chain_2"] == "!CONFIG_A0 && !CONFIG_A1 && CONFIG_A2"
    assert conds[f"chain_{n - 1}"].endswith("…")
    body = "int chain_body(void)\n{\n" + _nested_if(2_000).replace("int deep_value;", "deep_call();") + "\treturn 0;\n}\n"
    refs = parse_definitions(make_parser(), body.encode(), "net/ipv4/body.c").refs
    [call] = [r for r in refs if r.name == "deep_call"]
    assert call.cond is not None and len(call.cond) <= MAX_CONDITION and call.cond.startswith("CONFIG_LEVEL_0 && CONFIG_LEVEL_1")
