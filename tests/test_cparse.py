"""Definitions out of small C fixtures written for these tests: one test per kernel idiom.

Expected lines are found in the fixture text (`line_of`), never counted by hand.
"""

from __future__ import annotations

import pytest
from conftest import by_name, fixture_bytes, line_of

from explorer.asmparse import ASM_KINDS
from explorer.store import KINDS

WIDGET_H = fixture_bytes("widget.h")
WIDGET_C = fixture_bytes("widget.c")


@pytest.fixture
def header(parse):  # type: ignore[no-untyped-def]
    return parse(WIDGET_H, "include/net/widget.h")


@pytest.fixture
def source(parse):  # type: ignore[no-untyped-def]
    return parse(WIDGET_C, "net/ipv4/widget.c")


def one(definitions: list, name: str, kind: str | None = None):  # type: ignore[no-untyped-def]
    found = by_name(definitions, name, kind)
    assert len(found) == 1, f"{name} ({kind}): {found}"
    return found[0]


# ---------------------------------------------------------------- kernel idioms


def test_syscall_define_defines_sys_name(source: list) -> None:
    sym = one(source, "sys_frob")
    assert sym.kind == "function"
    assert sym.scope == "global"
    assert sym.line == line_of(WIDGET_C, "SYSCALL_DEFINE2(frob,")
    assert sym.end_line == line_of(WIDGET_C, "}", start=sym.line)
    assert sym.signature.startswith("SYSCALL_DEFINE2(frob")
    # the wrapper is not a definition of its own, nor is the bare syscall name
    assert not by_name(source, "SYSCALL_DEFINE2")
    assert not by_name(source, "frob")


def test_syscall_define_listen(parse) -> None:  # type: ignore[no-untyped-def]
    src = "SYSCALL_DEFINE2(listen, int, fd, int, backlog)\n{\n\treturn do_listen_somehow(fd, backlog);\n}\n"
    defs = parse(src, "net/socket_like.c")
    assert [(d.name, d.kind, d.line, d.end_line) for d in defs] == [("sys_listen", "function", 1, 4)]


def test_compat_syscall_define(parse) -> None:  # type: ignore[no-untyped-def]
    src = "COMPAT_SYSCALL_DEFINE3(gadgetctl, int, fd, u32, cmd, compat_uptr_t, arg)\n{\n\treturn 0;\n}\n"
    sym = one(parse(src), "compat_sys_gadgetctl")
    assert (sym.kind, sym.line) == ("function", 1)


def test_bpf_call_defines_its_name(source: list) -> None:
    sym = one(source, "bpf_widget_poke")
    assert sym.kind == "function"
    assert sym.line == line_of(WIDGET_C, "BPF_CALL_2(bpf_widget_poke")
    assert sym.end_line == line_of(WIDGET_C, "}", start=sym.line)
    assert not by_name(source, "BPF_CALL_2")


def test_syscall_define_mentioned_in_a_comment_is_not_a_definition(parse) -> None:  # type: ignore[no-untyped-def]
    src = "/*\n * see SYSCALL_DEFINE2(frob, ...) for the caller\n */\nint gadget_only;\n"
    assert [d.name for d in parse(src)] == ["gadget_only"]


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("sysctl_widget_limit", "int sysctl_widget_limit __read_mostly = 64;"),
        ("widget_seed", "static unsigned int widget_seed __read_mostly;"),
        ("widget_table", "long widget_table[8] __ro_after_init"),
    ],
)
def test_annotated_variable_is_named_by_its_real_name(source: list, name: str, needle: str) -> None:
    sym = one(source, name, "variable")
    assert sym.line == line_of(WIDGET_C, needle)
    assert sym.col == line_of_text(WIDGET_C, sym.line).index(name.encode())
    assert "__read_mostly" not in sym.signature


def test_annotation_words_are_never_names(source: list, header: list) -> None:
    names = {d.name for d in source + header}
    assert not names & {"__read_mostly", "__ro_after_init", "__init", "__exit"}


def test_read_mostly_inline(parse) -> None:  # type: ignore[no-untyped-def]
    defs = parse("int x __read_mostly = 1;\n")
    assert [(d.name, d.kind, d.line, d.col) for d in defs] == [("x", "variable", 1, 4)]


def test_export_symbol_lines_are_not_definitions(source: list, parse) -> None:  # type: ignore[no-untyped-def]
    export_lines = {
        line_of(WIDGET_C, "EXPORT_SYMBOL(widget_attach);"),
        line_of(WIDGET_C, "EXPORT_SYMBOL_GPL(widget_detach);"),
    }
    assert not [d for d in source if d.line in export_lines]
    assert not [d for d in source if d.name.startswith("EXPORT_SYMBOL")]
    # the exported functions are defined once each, at their definitions
    assert one(source, "widget_attach").line == line_of(WIDGET_C, "int widget_attach(struct widget_queue *wq)")
    only_exports = "EXPORT_SYMBOL(foo);\nEXPORT_SYMBOL_GPL(bar);\nEXPORT_SYMBOL_NS_GPL(baz, WIDGETS);\nEXPORT_PER_CPU_SYMBOL(qux);\n"
    assert parse(only_exports) == []


def test_module_init_lines_are_not_definitions(source: list) -> None:
    lines = {line_of(WIDGET_C, "module_init(widget_init);"), line_of(WIDGET_C, "module_exit(widget_exit);")}
    assert not [d for d in source if d.line in lines]


def test_static_init_function(source: list) -> None:
    init = one(source, "widget_init")
    assert (init.kind, init.scope) == ("function", "file")
    assert init.line == line_of(WIDGET_C, "static int __init widget_init(void)")
    assert init.end_line == line_of(WIDGET_C, "}", start=init.line)
    exit_ = one(source, "widget_exit")
    assert exit_.line == line_of(WIDGET_C, "static void __exit widget_exit(void)")


def test_return_type_on_its_own_line(source: list) -> None:
    sym = one(source, "widget_poke_default")
    assert sym.line == line_of(WIDGET_C, "widget_poke_default(struct widget_queue *wq, int how)")
    assert sym.signature.startswith("static int widget_poke_default(")


# ---------------------------------------------------------------- members


def test_members_are_named_struct_dot_field(header: list) -> None:
    sym = one(header, "widget_queue.wq_depth")
    assert (sym.kind, sym.scope, sym.line) == ("member", "widget_queue", line_of(WIDGET_H, "wq_depth;"))
    assert one(header, "widget_queue.wq_ops").line == line_of(WIDGET_H, "*wq_ops;")
    assert one(header, "widget_queue.wq_poke").line == line_of(WIDGET_H, "(*wq_poke)")
    assert one(header, "widget_addr.wa_v6").kind == "member"


@pytest.mark.parametrize(("field", "needle"), [("wq_flags", "wq_flags;"), ("wq_cookie", "*wq_cookie;"), ("wq_hot", "wq_hot;"), ("wq_cold", "wq_cold;")])
def test_anonymous_struct_and_union_members_belong_to_the_enclosing_struct(header: list, field: str, needle: str) -> None:
    sym = one(header, f"widget_queue.{field}")
    assert (sym.kind, sym.scope) == ("member", "widget_queue")
    assert sym.line == line_of(WIDGET_H, needle)
    assert not by_name(header, field)


def test_nested_unnamed_struct_member_is_owner_dot_member_dot_field(header: list) -> None:
    ack = one(header, "widget_queue.wq_ack")
    assert ack.kind == "member"
    assert ack.line == line_of(WIDGET_H, "} wq_ack;")
    for field in ("pending", "quick", "ato"):
        sym = one(header, f"widget_queue.wq_ack.{field}")
        assert (sym.kind, sym.scope) == ("member", "widget_queue")
        assert sym.line == line_of(WIDGET_H, f"{field};")


def test_nested_named_struct_is_a_struct_of_its_own(header: list) -> None:
    stamp = one(header, "widget_stamp", "struct")
    assert stamp.line == line_of(WIDGET_H, "struct widget_stamp {")
    assert one(header, "widget_stamp.ws_when").kind == "member"
    assert one(header, "widget_queue.wq_stamp").kind == "member"


def test_members_of_a_typedefd_anonymous_struct_take_the_typedef_name(header: list) -> None:
    assert one(header, "widget_counter_t.wc_count").kind == "member"


def test_forward_declaration_is_not_a_struct_definition(header: list) -> None:
    ops = by_name(header, "widget_ops", "struct")
    assert [d.line for d in ops] == [line_of(WIDGET_H, "struct widget_ops {")]


# ---------------------------------------------------------------- every kind


def test_every_kind_word(header: list, source: list) -> None:
    expected = {
        ("widget_attach", "function"),
        ("widget_attach", "prototype"),
        ("widget_queue", "struct"),
        ("widget_addr", "union"),
        ("widget_state", "enum"),
        ("WIDGET_BUSY", "enumerator"),
        ("widget_queue.wq_depth", "member"),
        ("WIDGET_MAX_DEPTH", "macro"),
        ("widget_depth", "macro"),
        ("widget_id_t", "typedef"),
        ("sysctl_widget_limit", "variable"),
    }
    found = {(d.name, d.kind) for d in header + source}
    assert expected <= found
    assert {kind for _, kind in expected} == set(KINDS) - set(ASM_KINDS)  # the assembly kinds: tests/test_asm.py
    assert {d.kind for d in header + source} <= set(KINDS)


def test_enumerators_are_scoped_to_their_enum(header: list) -> None:
    for name in ("WIDGET_IDLE", "WIDGET_BUSY", "WIDGET_DEAD"):
        sym = one(header, name)
        assert (sym.kind, sym.scope) == ("enumerator", "enum widget_state")
        assert sym.line == line_of(WIDGET_H, f"\t{name}")


def test_extern_declaration_is_not_a_variable_definition(header: list, source: list) -> None:
    assert by_name(header, "sysctl_widget_limit") == []
    assert [d.kind for d in by_name(source, "sysctl_widget_limit")] == ["variable"]


def test_scopes(header: list, source: list) -> None:
    assert one(source, "widget_attach").scope == "global"
    assert one(source, "widget_poke_default").scope == "file"
    assert one(source, "widget_seed").scope == "file"
    assert one(source, "WIDGET_HASH_BITS").scope == "file"
    assert one(header, "WIDGET_MAX_DEPTH").scope == "global"
    assert one(header, "widget_queue").scope == "global"


def test_definition_spans(header: list) -> None:
    queue = one(header, "widget_queue", "struct")
    assert queue.line == line_of(WIDGET_H, "struct widget_queue {")
    assert queue.end_line == line_of(WIDGET_H, "};", start=queue.line, whole=True)
    for d in header:
        assert 1 <= d.line <= d.end_line


def test_macro_signature_is_its_first_line(header: list) -> None:
    assert one(header, "widget_depth").signature == "#define widget_depth(wq) ((wq)->wq_depth)"


# ---------------------------------------------------------------- conditions


def test_ifdef_condition_recorded(header: list) -> None:
    assert one(header, "widget_queue.wq_drops").cond == "CONFIG_WIDGET_STATS"


def test_if_else_conditions(header: list) -> None:
    proto = one(header, "widget_dump", "prototype")
    stub = one(header, "widget_dump", "function")
    assert proto.cond == "IS_ENABLED(CONFIG_WIDGET_DEBUG)"
    assert stub.cond is not None and stub.cond != proto.cond
    assert "CONFIG_WIDGET_DEBUG" in stub.cond and stub.cond.startswith("!")


def test_header_guard_is_not_a_condition(header: list) -> None:
    assert one(header, "widget_queue", "struct").cond is None
    assert one(header, "widget_attach", "prototype").cond is None
    assert one(header, "_NET_WIDGET_H", "macro").cond is None


CONDITIONS_C = b"""\
#ifdef CONFIG_GADGET_A
int gadget_a_only;
#elif defined(CONFIG_GADGET_B)
int gadget_b_only;
#else
int gadget_neither;
#endif

#ifndef CONFIG_GADGET_C
static void gadget_no_c(void)
{
}
#endif

#if defined(CONFIG_GADGET_A) && CONFIG_GADGET_LEVEL > 2
#ifdef CONFIG_GADGET_D
int gadget_nested;
#endif
#endif

int gadget_always;
"""


def test_conditions_nest_and_alternatives_negate(parse) -> None:  # type: ignore[no-untyped-def]
    defs = parse(CONDITIONS_C)
    cond = {d.name: d.cond for d in defs}
    assert cond["gadget_a_only"] == "CONFIG_GADGET_A"
    assert "!CONFIG_GADGET_A" in cond["gadget_b_only"] and "defined(CONFIG_GADGET_B)" in cond["gadget_b_only"]
    assert "!CONFIG_GADGET_A" in cond["gadget_neither"] and "!(defined(CONFIG_GADGET_B))" in cond["gadget_neither"]
    assert cond["gadget_no_c"] == "!CONFIG_GADGET_C"
    assert "CONFIG_GADGET_LEVEL > 2" in cond["gadget_nested"] and "CONFIG_GADGET_D" in cond["gadget_nested"]
    assert cond["gadget_always"] is None


def test_uses_in_a_function_under_else_and_elif_get_the_negated_condition() -> None:
    from explorer.cparse import make_parser, parse_definitions

    src = (b"int gadget_pick(struct gadget *g)\n{\n#if IS_ENABLED(CONFIG_GADGET_A)\n\tgadget_a(g);\n"
           b"#elif defined(CONFIG_GADGET_B)\n\tgadget_b(g);\n#else\n\tgadget_c(g);\n#endif\n"
           b"#ifndef CONFIG_GADGET_D\n\tgadget_no_d(g);\n#else\n\tgadget_d(g);\n#endif\n\treturn gadget_e(g);\n}\n")
    result = parse_definitions(make_parser(), src, "net/ipv4/gadget.c")
    cond = {r.name: r.cond for r in result.refs if r.role == "call"}
    assert cond == {
        "gadget_a": "IS_ENABLED(CONFIG_GADGET_A)",
        "gadget_b": "!(IS_ENABLED(CONFIG_GADGET_A)) && defined(CONFIG_GADGET_B)",
        "gadget_c": "!(IS_ENABLED(CONFIG_GADGET_A)) && !(defined(CONFIG_GADGET_B))",
        "gadget_no_d": "!CONFIG_GADGET_D", "gadget_d": "CONFIG_GADGET_D", "gadget_e": None}


def test_ifdef_block_in_a_c_file_is_a_condition(parse) -> None:  # type: ignore[no-untyped-def]
    defs = parse("#ifdef CONFIG_GADGET\nint gadget_on;\n#endif\n", "net/ipv4/gadget.c")
    assert one(defs, "gadget_on").cond == "CONFIG_GADGET"


def test_default_value_ifndef_is_not_a_header_guard(parse) -> None:  # type: ignore[no-untyped-def]
    src = "int gadget_first;\n#ifndef GADGET_BUFSZ\n#define GADGET_BUFSZ 512\nstatic int gadget_buf[GADGET_BUFSZ];\n#endif\n"
    defs = parse(src, "net/ipv4/gadget.c")
    assert one(defs, "GADGET_BUFSZ").cond == "!GADGET_BUFSZ"
    assert one(defs, "gadget_buf").cond == "!GADGET_BUFSZ"


def test_syscall_define_under_ifdef_records_its_condition(parse) -> None:  # type: ignore[no-untyped-def]
    src = b"#ifdef CONFIG_GADGET_SYSCALLS\nSYSCALL_DEFINE1(zap, int, fd)\n{\n\treturn 0;\n}\n#endif\n"
    assert one(parse(src), "sys_zap").cond == "CONFIG_GADGET_SYSCALLS"


# ---------------------------------------------------------------- hard inputs


RECOVERY_C = fixture_bytes("recovery.c")


def test_error_recovery_keeps_definitions_before_and_after(parse) -> None:  # type: ignore[no-untyped-def]
    from explorer.cparse import make_parser, parse_definitions

    result = parse_definitions(make_parser(), RECOVERY_C, "net/ipv4/recovery.c")
    assert result.error_nodes > 0
    found = {(d.name, d.kind, d.line) for d in result.definitions}
    for name, kind, needle in [
        ("gizmo_before", "function", "static int gizmo_before(int x)"),
        ("gizmo_early", "struct", "struct gizmo_early {"),
        ("gizmo_early.ge_count", "member", "int ge_count;"),
        ("gizmo_after", "function", "static int gizmo_after(int y)"),
        ("gizmo_late", "struct", "struct gizmo_late {"),
        ("gizmo_late.gl_count", "member", "int gl_count;"),
        ("GIZMO_LATE_MAX", "macro", "#define GIZMO_LATE_MAX"),
    ]:
        assert (name, kind, line_of(RECOVERY_C, needle)) in found


def test_unparsable_function_body_does_not_hide_the_function(parse) -> None:  # type: ignore[no-untyped-def]
    src = b"int gizmo_broken(void)\n{\n\treturn @@ ;\n}\n\nint gizmo_fine(void)\n{\n\treturn 0;\n}\n"
    names = [d.name for d in parse(src)]
    assert names == ["gizmo_broken", "gizmo_fine"]


# A #define whose continuation lines carry /* comments */ before the backslash.
# tree-sitter-c alone ends the macro at the first such comment, and what follows
# becomes a K&R-style function swallowing the rest of the file (net/core/pktgen.c).
COMMENTED_CONTINUATION_C = b"""\
#define GADGET_FLAGS\t\t\t\t\\
\tgf(FLAG0)\t\t/* flag number 0 */\t\t\\
\tgf(FLAG1)\t\t/* flag number 1 */\t\t\\
\tgf(FLAG2)\t\t/* flag number 2 */\t\t\\
\tgf(FLAG3)\t\t/* flag number 3 */\t\t\\

#define gf(flag)\t\tflag##_SHIFT,
enum gadget_flags {
\tGADGET_FLAGS
};
#undef gf

struct gadget_box {
\tint gb_len;
};

static int gadget_box_len(struct gadget_box *b)
{
\treturn b->gb_len;
}
"""


def test_macro_with_commented_continuation_lines_hides_nothing(parse) -> None:  # type: ignore[no-untyped-def]
    defs = parse(COMMENTED_CONTINUATION_C)
    found = {(d.name, d.kind, d.line) for d in defs}
    src = COMMENTED_CONTINUATION_C
    assert {
        ("gadget_flags", "enum", line_of(src, "enum gadget_flags {")),
        ("gadget_box", "struct", line_of(src, "struct gadget_box {")),
        ("gadget_box.gb_len", "member", line_of(src, "int gb_len;")),
        ("gadget_box_len", "function", line_of(src, "static int gadget_box_len(")),
    } <= found
    flags = one(defs, "GADGET_FLAGS", "macro")
    assert flags.line == 1 and flags.end_line >= line_of(src, "gf(FLAG3)")


# Error-unwinding labels at the end of #if blocks: `label:` directly before `#endif`.
LABEL_BEFORE_ENDIF_C = b"""\
static int __init gadget_init(void)
{
\tint err;

\terr = gadget_register_core();
\tif (err < 0)
\t\tgoto core_failed;
#if IS_ENABLED(CONFIG_GADGET_EXTRA)
\terr = gadget_register_extra();
\tif (err < 0)
\t\tgoto extra_failed;
#if IS_ENABLED(CONFIG_GADGET_MORE)
\terr = gadget_register_more();
\tif (err < 0)
\t\tgoto more_failed;
#endif
#endif
\treturn 0;

#if IS_ENABLED(CONFIG_GADGET_EXTRA)
#if IS_ENABLED(CONFIG_GADGET_MORE)
\tgadget_unregister_more();
more_failed:
#endif
\tgadget_unregister_extra();
extra_failed:
#endif
\tgadget_unregister_core();
core_failed:
\treturn err;
}

static void __exit gadget_exit(void)
{
#if IS_ENABLED(CONFIG_GADGET_EXTRA)
\tgadget_unregister_extra();
#endif
\tgadget_unregister_core();
}

module_init(gadget_init);
module_exit(gadget_exit);
"""


def test_label_before_endif_keeps_the_function_and_hides_its_locals(parse) -> None:  # type: ignore[no-untyped-def]
    defs = parse(LABEL_BEFORE_ENDIF_C)
    assert [d.name for d in defs if d.kind == "variable"] == []
    assert {(d.name, d.kind) for d in defs} >= {("gadget_init", "function"), ("gadget_exit", "function")}


def test_non_utf8_bytes(parse) -> None:  # type: ignore[no-untyped-def]
    src = fixture_bytes("latin1.c")
    with pytest.raises(UnicodeDecodeError):
        src.decode("utf-8")
    defs = parse(src, "net/ipv4/latin1.c")
    found = {(d.name, d.kind, d.line) for d in defs}
    assert ("doodad", "struct", line_of(src, b"struct doodad {")) in found
    assert ("doodad.dd_size", "member", line_of(src, b"dd_size;")) in found
    assert ("doodad_sign", "variable", line_of(src, b"doodad_sign[]")) in found
    assert ("doodad_size", "function", line_of(src, b"int doodad_size(")) in found
    greeting = one(defs, "DOODAD_GREETING")
    assert greeting.signature.startswith("#define DOODAD_GREETING")
    for d in defs:
        d.signature.encode("utf-8")  # always valid text, whatever the bytes


def test_non_utf8_byte_beside_a_sized_type_in_a_struct(parse) -> None:  # type: ignore[no-untyped-def]
    defs = parse(b"struct gadget {_\x80\n\tunsigned int g_depth;\n};\n")
    assert ("gadget", "struct") in {(d.name, d.kind) for d in defs}


def test_columns_are_byte_offsets_after_non_ascii(parse) -> None:  # type: ignore[no-untyped-def]
    src = "/* é */ int gadget_after_accent;\n".encode()
    sym = one(parse(src), "gadget_after_accent")
    assert src.split(b"\n")[0][sym.col :].startswith(b"gadget_after_accent")


@pytest.mark.parametrize("src", [b"", b"\n", b"\n\n\n", b"   \t  ", b"/* only a comment */\n", b"\x00\x00\x00"])
def test_empty_and_blank_files(src: bytes) -> None:
    from explorer.cparse import make_parser, parse_definitions

    result = parse_definitions(make_parser(), src, "net/ipv4/empty.c")
    assert result.definitions == []
    assert result.lines == src.count(b"\n") + (1 if src and not src.endswith(b"\n") else 0)


def test_crlf_line_endings(parse) -> None:  # type: ignore[no-untyped-def]
    src = b"struct gadget_crlf {\r\n\tint gc_a;\r\n};\r\n\r\nint gadget_crlf_fn(void)\r\n{\r\n\treturn 0;\r\n}\r\n"
    found = {(d.name, d.line) for d in parse(src)}
    assert {("gadget_crlf", 1), ("gadget_crlf.gc_a", 2), ("gadget_crlf_fn", 5)} <= found


def test_large_generated_file() -> None:
    from explorer.cparse import make_parser, parse_definitions

    count = 20_000
    parts = ["// generated for the tests\n", "struct blob_state {\n"]
    parts += [f"\tint bs_field_{i};\n" for i in range(500)]
    parts.append("};\n\n")
    for i in range(count):
        parts.append(f"static int blob_fn_{i}(struct blob_state *s, int v)\n{{\n\treturn s->bs_field_{i % 500} + v * {i};\n}}\n\n")
        if i % 1000 == 0:
            parts.append(f"#define BLOB_MARK_{i} {i}\n")
    src = "".join(parts).encode()
    result = parse_definitions(make_parser(), src, "net/ipv4/blob.c")
    kinds: dict[str, int] = {}
    for d in result.definitions:
        kinds[d.kind] = kinds.get(d.kind, 0) + 1
    assert kinds == {"struct": 1, "member": 500, "function": count, "macro": count // 1000}
    assert result.error_nodes == 0
    assert result.lines == src.count(b"\n")
    last = one(result.definitions, f"blob_fn_{count - 1}")
    assert last.line == line_of(src, f"blob_fn_{count - 1}(")
    assert last.end_line == last.line + 3


def line_of_text(text: bytes, number: int) -> bytes:
    return text.split(b"\n")[number - 1]
