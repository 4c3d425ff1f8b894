"""kernel-doc comments and EXPORT_SYMBOL lines: the forms the kernel uses, on the gadget fixture
(tests/fixtures/kdoc, written for this project), through the parser, the index and the CLI.
Every line number is found in the fixture's text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES, line_of, make_project

from explorer.cli import main
from explorer.kerneldoc import attach, parse_comment

KDOC = FIXTURES / "kdoc"
GADGET_C = "net/gadget/gadget.c"
GADGET_H = "include/net/gadget.h"


def _text(rel: str) -> bytes:
    return (KDOC / rel).read_bytes()


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from explorer.indexer import build_index

    folder = tmp_path_factory.mktemp("kdoc") / "kernel-snippets"
    project = make_project(folder, {GADGET_C: _text(GADGET_C), GADGET_H: _text(GADGET_H)})
    build_index(project, jobs=1)
    return folder


def _run(capsys: pytest.CaptureFixture[str], snippets: Path, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--snippets", str(snippets)])
    out, errors = capsys.readouterr()
    return code, out, errors


def _doc_json(capsys: pytest.CaptureFixture[str], snippets: Path, name: str) -> list[dict[str, object]]:
    code, out, _ = _run(capsys, snippets, "lookup", name, "--json")
    assert code == 0
    rows = json.loads(out)
    assert isinstance(rows, list)
    return rows


def _doc_of(capsys: pytest.CaptureFixture[str], snippets: Path, name: str, kind: str | None = None) -> dict[str, object]:
    rows = [r for r in _doc_json(capsys, snippets, name) if kind is None or r["kind"] == kind]
    assert rows, name
    doc = rows[0]["doc"]
    assert isinstance(doc, dict), (name, rows[0])
    return doc


# ---------------------------------------------------------------- the forms of the naming line


def test_name_dash_summary_with_params_context_and_return(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    src = _text(GADGET_C)
    doc = _doc_of(capsys, snippets, "gadget_spin", "function")
    assert doc["path"] == GADGET_C
    assert doc["line"] == line_of(src, " * gadget_spin - turn a gadget")
    assert doc["summary"] == "turn a gadget by some steps"
    # a parameter's description goes on over its continuation line
    assert doc["params"] == {"g": "the gadget to turn", "steps": "how many steps; a negative count turns it backwards"}
    assert doc["returns"] == "the new position, or a negative error code when the gadget is stuck."
    assert doc["context"] == "process context, takes the gadget lock."
    assert "Turns the wheel of @g one step at a time" in str(doc["text"])


def test_name_with_parentheses(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    doc = _doc_of(capsys, snippets, "gadget_stop", "function")
    assert doc["line"] == line_of(_text(GADGET_C), " * gadget_stop() - stop")
    assert doc["summary"] == "stop a gadget at once"
    assert doc["params"] == {"g": "which one"}


def test_name_colon_summary_and_returns_section(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    doc = _doc_of(capsys, snippets, "gadget_colour")
    assert doc["line"] == line_of(_text(GADGET_C), " * gadget_colour: the colour")
    assert doc["summary"] == "the colour a gadget shows"
    assert doc["returns"] == "a colour number."


def test_name_on_the_line_of_the_opening(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    """`/** name - summary` on one line, and a return type on its own line above the function's name."""
    src = _text(GADGET_C)
    rows = _doc_json(capsys, snippets, "gadget_wobble")
    assert rows[0]["line"] == line_of(src, "gadget_wobble(struct gadget *g)")
    assert rows[0]["start_line"] == line_of(src, "static unsigned long", whole=True)
    doc = rows[0]["doc"]
    assert isinstance(doc, dict)
    assert doc["line"] == line_of(src, "/** gadget_wobble - a one-line opening")
    assert doc["summary"] == "a one-line opening"


def test_uppercase_return_type(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    doc = _doc_of(capsys, snippets, "gadget_checksum", "function")
    assert doc["line"] == line_of(_text(GADGET_C), " * gadget_checksum - fold")
    assert doc["summary"] == "fold a gadget into a number"


def test_a_comment_naming_another_symbol_is_not_attached(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    rows = _doc_json(capsys, snippets, "gadget_renamed")
    assert [r["doc"] for r in rows] == [None]
    code, _, errors = _run(capsys, snippets, "doc", "gadget_renamed")
    assert code == 1 and "no kernel-doc" in errors
    # the DOC: section documents nothing either, so the function after it has no kernel-doc
    assert [r["doc"] for r in _doc_json(capsys, snippets, "gadget_after_doc")] == [None]


def test_function_in_one_branch_macro_in_the_other(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    src = _text(GADGET_C)
    rows = _doc_json(capsys, snippets, "gadget_trace")
    assert sorted(r["kind"] for r in rows) == ["function", "macro"]
    for r in rows:
        doc = r["doc"]
        assert isinstance(doc, dict), r["kind"]
        assert doc["line"] == line_of(src, " * gadget_trace - note a turn")
        assert doc["summary"] == "note a turn"


def test_prototype_documented_where_it_is_declared(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    doc = _doc_of(capsys, snippets, "gadget_attach", "prototype")
    assert doc["path"] == GADGET_H
    assert doc["line"] == line_of(_text(GADGET_H), " * gadget_attach - bind")
    assert doc["returns"] == "0 or a negative error."


def test_an_undocumented_prototype_shares_its_functions_comment(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    doc = _doc_of(capsys, snippets, "gadget_spin", "prototype")
    assert doc["path"] == GADGET_C  # the comment is where the function is defined
    assert doc["line"] == line_of(_text(GADGET_C), " * gadget_spin - turn a gadget")


# ---------------------------------------------------------------- types, macros and members


@pytest.mark.parametrize(("name", "kind", "needle", "summary"), [
    ("gadget_ops", "struct", " * struct gadget_ops - ", "what a gadget can do"),
    ("gadget_word", "union", " * union gadget_word - ", "one word, two views"),
    ("gadget_state", "enum", " * enum gadget_state - ", "where a gadget is"),
    ("gadget_cb_t", "typedef", " * typedef gadget_cb_t - ", "called when a gadget stops"),
    ("GADGET_MAX_STEPS", "macro", " * GADGET_MAX_STEPS - ", "the most steps one call may take"),
    ("gadget_pos_add", "macro", " * gadget_pos_add - ", "move a position by some steps"),
])
def test_types_and_macros(capsys, snippets: Path, name: str, kind: str, needle: str, summary: str) -> None:  # type: ignore[no-untyped-def]
    doc = _doc_of(capsys, snippets, name, kind)
    assert doc["line"] == line_of(_text(GADGET_C), needle)
    assert doc["summary"] == summary


@pytest.mark.parametrize(("member", "needle", "text"), [
    ("gadget.pos", " * @pos: ", "where it is"),
    ("gadget.wheel", " * @wheel: ", "the wheel"),
    ("gadget.wheel.teeth", " * @wheel.teeth: ", "how many teeth the wheel has"),  # a member of an anonymous struct member
    ("gadget.flags", " * @flags: ", "what it may do"),  # a member of an anonymous union: the struct's own
    ("gadget.spare", "/** @spare: ", "an inline member comment"),  # inline, on one line
    ("gadget.last", " * @last: ", "an inline comment on two lines"),  # inline, over two lines
])
def test_members_documented_by_at_lines(capsys, snippets: Path, member: str, needle: str, text: str) -> None:  # type: ignore[no-untyped-def]
    doc = _doc_of(capsys, snippets, member, "member")
    assert doc["path"] == GADGET_H
    assert doc["line"] == line_of(_text(GADGET_H), needle)
    assert doc["summary"] == text
    assert doc["params"] == {}


def test_undocumented_members_and_enumerators(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    assert _doc_json(capsys, snippets, "gadget.wheel.size")[0]["doc"] is None
    assert _doc_json(capsys, snippets, "gadget_ops.undocumented")[0]["doc"] is None
    doc = _doc_of(capsys, snippets, "gadget_ops.reset")
    assert doc["summary"] == "put it back"
    doc = _doc_of(capsys, snippets, "GADGET_BUSY", "enumerator")
    assert doc["line"] == line_of(_text(GADGET_C), " * @GADGET_BUSY: turning")


def test_struct_command_and_site_read_the_same_member_docs(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    from explorer.store import Index

    with Index(snippets / "index" / "linux-test.sqlite") as index:
        members = index.lookup("gadget.lock") + index.lookup("gadget.bits")
        docs = index.docs(members)
    assert docs[0] is not None and docs[0].summary == "guards @pos" and docs[0].member
    assert docs[1] is None


# ---------------------------------------------------------------- kexplore doc


def test_doc_text_prints_the_comment(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = _run(capsys, snippets, "doc", "gadget_spin")
    assert code == 0
    src = _text(GADGET_C)
    assert f"gadget_spin  function  {GADGET_C}:{line_of(src, 'int gadget_spin(struct gadget *g, int steps)')}" in out
    assert f"gadget_spin  prototype  {GADGET_H}:" in out
    assert out.count("kernel-doc at") == 1  # one comment, both definitions
    assert "    @steps: how many steps; a negative count" in out
    assert "    Return: the new position" in out


def test_doc_json_and_members(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = _run(capsys, snippets, "doc", "gadget.wheel.teeth", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["name"], r["kind"]) for r in rows] == [("gadget.wheel.teeth", "member")]
    assert rows[0]["doc"]["summary"] == "how many teeth the wheel has"
    assert set(rows[0]["doc"]) == {"path", "line", "summary", "params", "returns", "context", "text"}


def test_doc_unknown_name_suggests(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, errors = _run(capsys, snippets, "doc", "gadget_spni")
    assert code == 1 and out == ""
    assert "no definition named 'gadget_spni'" in errors and "gadget_spin" in errors


def test_doc_bad_name_is_a_usage_error(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main(["doc", "no;such", "--snippets", str(snippets)])
    assert exc.value.code == 2


def test_lookup_text_shows_kernel_doc_and_export(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = _run(capsys, snippets, "lookup", "gadget_checksum")
    assert code == 0
    src = _text(GADGET_C)
    assert f"exported: EXPORT_SYMBOL_NS_GPL (namespace GADGET_CORE)  {GADGET_C}:{line_of(src, 'EXPORT_SYMBOL_NS_GPL(gadget_checksum')}" in out
    assert f"kernel-doc: fold a gadget into a number  ({GADGET_C}:{line_of(src, ' * gadget_checksum - fold')})" in out


# ---------------------------------------------------------------- exports


@pytest.mark.parametrize(("name", "kind", "exported"), [
    ("gadget_spin", "function", "EXPORT_SYMBOL"),
    ("gadget_spin", "prototype", "EXPORT_SYMBOL"),  # the header's declaration of an exported function
    ("gadget_stop", "function", "EXPORT_SYMBOL_GPL"),
    ("gadget_checksum", "function", "EXPORT_SYMBOL_NS_GPL"),
    ("gadget_colour", "function", None),
    ("gadget_attach", "prototype", None),
])
def test_lookup_json_says_how_a_definition_is_exported(capsys, snippets: Path, name: str, kind: str, exported: str | None) -> None:  # type: ignore[no-untyped-def]
    rows = [r for r in _doc_json(capsys, snippets, name) if r["kind"] == kind]
    assert [r["exported"] for r in rows] == [exported]


def test_refs_role_export(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = _run(capsys, snippets, "refs", "gadget_stop", "--role", "export", "--json")
    assert code == 0
    src = _text(GADGET_C)
    line = line_of(src, "EXPORT_SYMBOL_GPL(gadget_stop);")
    assert json.loads(out) == [{"path": GADGET_C, "line": line, "col": len("EXPORT_SYMBOL_GPL("), "function": None,
                                "role": "export", "name": "gadget_stop", "cond": None, "via": "EXPORT_SYMBOL_GPL"}]
    code, out, _ = _run(capsys, snippets, "refs", "gadget_stop")
    assert f"{GADGET_C}:{line}:{len('EXPORT_SYMBOL_GPL(') + 1}  export" in out


def test_exports_of_names_without_a_definition(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    """An export of a name the tree does not define (per-CPU, namespaced) is still a use of the name."""
    code, out, errors = _run(capsys, snippets, "refs", "gadget_counter")
    assert code == 0
    assert "no definition of gadget_counter is indexed" in errors
    assert f"{GADGET_C}:{line_of(_text(GADGET_C), 'EXPORT_PER_CPU_SYMBOL_GPL(gadget_counter)')}:" in out
    code, out, _ = _run(capsys, snippets, "refs", "gadget_stop_ns", "--json")
    assert [r["via"] for r in json.loads(out)] == ["EXPORT_SYMBOL_NS"]


def test_refs_of_a_name_without_a_definition(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    """GADGET_U32 is used and defined; `g->pos` reads a member; `__builtin_nothing` below is unknown."""
    code, _, errors = _run(capsys, snippets, "refs", "no_such_name_at_all")
    assert code == 1 and "no definition named" in errors


# ---------------------------------------------------------------- the parser on its own


def test_export_lines_in_macro_bodies_and_pasted_names_are_left_out() -> None:
    from explorer.exports import find_exports

    src = (b"#define EXPORT_IT(x) \\\n\tEXPORT_SYMBOL(x)\n"
           b"EXPORT_SYMBOL(name##_ops);\n"
           b"  EXPORT_SYMBOL_GPL( spaced_out );\n"
           b"EXPORT_SYMBOL_FOR_MODULES(for_some, \"kvm\");\n"
           b"EXPORT_SYMBOL_IF_KUNIT(for_tests);\nEXPORT_EARLY_PER_CPU_SYMBOL(early_map);\n")
    found = find_exports(src)
    assert [(e.name, e.macro, e.line) for e in found] == [
        ("spaced_out", "EXPORT_SYMBOL_GPL", 4), ("for_some", "EXPORT_SYMBOL_FOR_MODULES", 5),
        ("for_tests", "EXPORT_SYMBOL_IF_KUNIT", 6), ("early_map", "EXPORT_EARLY_PER_CPU_SYMBOL", 7)]
    assert found[0].col == src.split(b"\n")[3].index(b"spaced_out")


def test_export_under_an_ifdef_keeps_its_condition(parse) -> None:  # type: ignore[no-untyped-def]
    from explorer.cparse import make_parser, parse_definitions

    src = b"int widget_x(void) { return 0; }\n#ifdef CONFIG_WIDGET\nEXPORT_SYMBOL(widget_x);\n#endif\n"
    result = parse_definitions(make_parser(), src, "net/fixture.c")
    assert [(e.name, e.cond) for e in result.exports] == [("widget_x", "CONFIG_WIDGET")]


def test_parse_comment_sections() -> None:
    doc = parse_comment(b"\n * frob - frob a thing\n * over two lines\n * @a: first\n *\n * Body.\n * RETURNS:\n * zero\n *\n * or one\n ", 7)
    assert doc is not None
    assert (doc.name, doc.line, doc.summary) == ("frob", 8, "frob a thing over two lines")
    assert doc.params == {"a": "first"}
    assert doc.returns == "zero\n\nor one"  # a section runs to the next one, its paragraphs kept
    assert parse_comment(b"\n * DOC: Overview\n * text\n", 1) is None
    assert parse_comment(b"\n * This is prose, not kernel-doc.\n", 1) is None


def test_hostile_comments_stay_text_and_never_recurse() -> None:
    """Comment text is kept as written (escaping is the reader's job); a huge comment is left out."""
    from explorer.cparse import make_parser, parse_definitions

    src = (b"/**\n * evil - <script>alert(1)</script> & \x1b[31m\n * @x: \"quoted\" <b>\n */\n"
           b"int evil(int x) { return x; }\n"
           b"/**\n * huge - " + b"a" * (70 * 1024) + b"\n */\nint huge(void) { return 0; }\n")
    result = parse_definitions(make_parser(), src, "net/fixture.c")
    docs = {d.name: d for d in result.docs}
    assert docs["evil"].summary == "<script>alert(1)</script> & \x1b[31m"
    assert json.loads(docs["evil"].params or "{}") == {"x": "\"quoted\" <b>"}
    assert "huge" not in docs


def test_attach_is_linear_in_definitions() -> None:
    """Many documented functions in one file: each comment looks at the next item only."""
    from explorer.cparse import make_parser, parse_definitions

    parts = [f"/**\n * fn_{i} - number {i}\n * @a: an argument\n */\nint fn_{i}(int a) {{ return a; }}\n" for i in range(3000)]
    src = "".join(parts).encode()
    result = parse_definitions(make_parser(), src, "net/fixture.c")
    assert len(result.docs) == 3000
    assert all(d.line == line_of(src, f" * fn_{i} - number {i}") for i, d in enumerate(result.docs[:5]))
    assert attach(b"no comments here", result.definitions) == []


def test_a_define_between_comment_and_definition_is_passed_over(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    src = _text(GADGET_C)
    doc = _doc_of(capsys, snippets, "gadget_window", "struct")
    assert doc["line"] == line_of(src, " * struct gadget_window - ")
    assert _doc_of(capsys, snippets, "gadget_window.base")["summary"] == "where it starts"
    assert [r["doc"] for r in _doc_json(capsys, snippets, "GADGET_WINDOW_MASK")] == [None]
    # anything but a #define in between: the comment documents what follows it, which is another name
    assert [r["doc"] for r in _doc_json(capsys, snippets, "gadget_far")] == [None]
    assert [r["doc"] for r in _doc_json(capsys, snippets, "gadget_between")] == [None]


def test_check_warns_about_an_annotation_that_repeats_the_kernel_doc(capsys, snippets: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text(
        "---\nannotations: true\n---\n# Notes\n\n"
        "## `gadget_spin`\nTurns a gadget by some steps, one step at a time, waiting for each to settle; "
        "a negative count turns it backwards.\n\n"
        "## `gadget_stop`\nCalled from the reset path after a jam: the position is lost, so callers must spin "
        "the wheel home again before trusting it.\n", encoding="utf-8")
    monkeypatch.setenv("KEXPLORE_DOCS", str(docs))
    code, out, errors = _run(capsys, snippets, "check", "--json")
    rows = json.loads(out)
    repeats = [r for r in rows if r["finding"] == "repeats-kernel-doc"]
    assert [(r["symbol"], r["line"]) for r in repeats] == [("gadget_spin", line_of((docs / "notes.md").read_text(), "## `gadget_spin`"))]
    assert f"{GADGET_C}:{line_of(_text(GADGET_C), ' * gadget_spin - turn')}" in repeats[0]["message"]
    assert code == 1  # the annotations are unreviewed: those are findings; the repeat alone is a warning
    code, out, errors = _run(capsys, snippets, "check")
    assert "warning: docs/notes.md:" in out and "1 warning(s)" in errors
    _run(capsys, snippets, "check", "--accept")  # reviewed: what is left is the warning, and check succeeds
    code, out, errors = _run(capsys, snippets, "check")
    assert code == 0 and out.startswith("warning: docs/notes.md:") and "0 finding(s), 1 warning(s)" in errors


def test_comment_scan_is_linear_on_unclosed_and_nested_openers() -> None:
    """`/**` openers without a close, and a `/**` inside another comment, are no kernel-doc."""
    from explorer.kerneldoc import comments

    # no `*/` anywhere: a scan that looked for the close from every opener would not finish
    assert comments(b"/** a - b\n" * 200_000) == []
    # a naming line with a long run of blanks before what breaks it: no backtracking either
    assert comments(b"/**\n * name" + b" \t" * 30_000 + b"( x\n */\n") == []
    nested = b"/* outer /** inner - not kernel-doc */\n/**\n * real - kernel-doc\n */\n"
    assert [(doc.name, doc.line) for _, _, doc in comments(nested)] == [("real", 3)]


def test_struct_command_shows_member_kernel_doc(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = _run(capsys, snippets, "struct", "gadget", "--json")
    assert code == 0
    info = json.loads(out)
    fields = {f["member"]: f for f in info["fields"]}
    assert fields["gadget.pos"]["doc"] == "where it is"
    assert fields["gadget.spare"]["doc"] == "an inline member comment"
    wheel = {f["member"]: f for f in fields["gadget.wheel"]["fields"]}
    assert wheel["gadget.wheel.teeth"]["doc"] == "how many teeth the wheel has"
    assert wheel["gadget.wheel.size"]["doc"] is None
    code, out, _ = _run(capsys, snippets, "struct", "gadget")
    lines = out.splitlines()
    pos = next(i for i, text in enumerate(lines) if text.split()[-1:] == ["pos"])
    assert lines[pos + 1].strip() == "kernel-doc: where it is"
