"""One idea of where a definition starts: the range stored in the index, used by every reader.

The fixture is written for this test; lines are found in the text, never written in.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import KERNEL, VENDORED_INDEX, VENDORED_TREE, by_name, line_of, make_project, requires_vendored

from explorer.indexer import build_index
from explorer.store import Index, SourceChanged

RANGES_C = """\
/* A comment above the function: not part of its definition. */
static int
widget_split(struct widget *w,
             int flags)
{
	return flags;
}

static inline __attribute__((always_inline)) int __init widget_fast(void)
{
	return 1;
}

SYSCALL_DEFINE2(widget, int, fd, int, how)
{
	return fd;
}

#define WIDGET_SET(w, v)	\\
	do {			\\
		(w)->v = (v);	\\
	} while (0)

struct widget_box {
	int plain;
	unsigned int first:4,
		second:4;
	struct {
		int inner;
	} nested;
};

static const char *
widget_name;
"""

# (name, kind) -> (text of the first line of the definition, text of its last line)
EXPECTED = {
    ("widget_split", "function"): ("static int", "}"),
    ("widget_fast", "function"): ("static inline __attribute__", "}"),
    ("sys_widget", "function"): ("SYSCALL_DEFINE2(widget", "}"),
    ("WIDGET_SET", "macro"): ("#define WIDGET_SET", "} while (0)"),
    ("widget_box", "struct"): ("struct widget_box {", "};"),
    ("widget_box.plain", "member"): ("int plain;", "int plain;"),
    ("widget_box.second", "member"): ("unsigned int first:4,", "second:4;"),
    ("widget_box.nested", "member"): ("struct {", "} nested;"),
    ("widget_name", "variable"): ("static const char *", "widget_name;"),
}


def _line(text: str, number: int) -> str:
    return text.split("\n")[number - 1].strip()


def test_parser_gives_the_whole_definition(parse) -> None:  # type: ignore[no-untyped-def]
    src = RANGES_C.encode()
    defs = parse(src)
    for (name, kind), (first, last) in EXPECTED.items():
        [d] = by_name(defs, name, kind)
        text = src[d.start_byte : d.end_byte].decode()
        assert text.startswith(first.split(" (")[0]), (name, text)
        assert text.rstrip().endswith(last.rstrip(";")) or text.endswith(last), (name, text)
        assert d.start_line == src.count(b"\n", 0, d.start_byte) + 1
        assert _line(RANGES_C, d.start_line).startswith(first), name
        assert d.start_line <= d.line <= d.end_line
    [split] = by_name(defs, "widget_split", "function")
    assert split.start_line == line_of(RANGES_C, "static int", whole=True) == split.line - 1
    assert "comment above" not in src[split.start_byte : split.end_byte].decode()
    [macro] = by_name(defs, "WIDGET_SET", "macro")
    assert src[macro.start_byte : macro.end_byte].decode().count("\n") == 3  # the continuation lines


@pytest.fixture
def indexed(tmp_path: Path):  # type: ignore[no-untyped-def]
    project = make_project(tmp_path / "snippets", {"net/ipv4/ranges.c": RANGES_C})
    build_index(project, jobs=1)
    return project


def test_index_stores_the_range_and_returns_the_text(indexed) -> None:  # type: ignore[no-untyped-def]
    tree = indexed.tree(KERNEL)
    with Index(indexed.index_path(KERNEL)) as index:
        for (name, kind), (first, last) in EXPECTED.items():
            [sym] = index.lookup(name, kind)
            start, end = index.definition_range(sym)
            assert _line(RANGES_C, start).startswith(first), name
            assert _line(RANGES_C, end).endswith(last.strip()), name
            text = index.definition_text(sym, tree)
            assert text == RANGES_C.encode()[sym.start_byte : sym.end_byte].decode()
            lines = index.definition_text(sym, tree, whole_lines=True).split("\n")
            assert lines == RANGES_C.split("\n")[start - 1 : end]


def test_definition_text_says_when_the_file_changed(indexed) -> None:  # type: ignore[no-untyped-def]
    tree = indexed.tree(KERNEL)
    path = tree / "net/ipv4/ranges.c"
    with Index(indexed.index_path(KERNEL)) as index:
        [sym] = index.lookup("widget_split", "function")
        path.write_text("/* one more line */\n" + RANGES_C, encoding="utf-8")
        with pytest.raises(SourceChanged, match="changed since it was indexed"):
            index.definition_text(sym, tree)
        path.write_text(RANGES_C.replace("return 1;", "return 2;"), encoding="utf-8")  # same size, other bytes
        with pytest.raises(SourceChanged, match="changed"):
            index.definition_text(sym, tree)
        path.unlink()
        with pytest.raises(SourceChanged, match="cannot be read"):
            index.definition_text(sym, tree)


def test_show_prints_the_stored_range(indexed, capsys) -> None:  # type: ignore[no-untyped-def]
    from explorer.cli import main

    snippets = str(indexed.snippets)
    assert main(["show", "--snippets", snippets, "widget_split"]) == 0
    out = capsys.readouterr().out
    assert "static int\nwidget_split(" in out
    (indexed.tree(KERNEL) / "net/ipv4/ranges.c").write_text("int x;\n", encoding="utf-8")
    assert main(["show", "--snippets", snippets, "widget_split"]) == 1
    err = capsys.readouterr().err
    assert "changed since it was indexed" in err and len(err.strip().splitlines()) == 1


@requires_vendored
def test_vendored_ranges_start_at_the_return_type() -> None:
    """Functions of the vendored tree whose return type is on the line above the name."""
    db = sqlite3.connect(f"file:{VENDORED_INDEX}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT s.name, f.path, s.line, s.start_line, s.end_line, s.start_byte, s.end_byte FROM symbols s"
        " JOIN files f ON f.id = s.file_id WHERE s.kind = 'function' AND f.path = 'net/ipv4/tcp_input.c'"
    ).fetchall()
    db.close()
    assert rows
    data = (VENDORED_TREE / "net/ipv4/tcp_input.c").read_bytes()
    lines = data.decode("utf-8", "replace").split("\n")
    above = 0
    for name, _path, line, start_line, end_line, start_byte, end_byte in rows:
        text = data[start_byte:end_byte].decode("utf-8", "replace")
        assert text.endswith("}"), name
        assert name in text.split("(", 1)[0] or "SYSCALL" in text or "BPF_CALL" in text, name
        assert start_line == data.count(b"\n", 0, start_byte) + 1
        assert start_line <= line <= end_line
        if start_line < line:
            above += 1
            # the name's line starts with the name: the line(s) above hold the return type
            assert lines[line - 1].lstrip().startswith(name), name
            assert not lines[start_line - 1].lstrip().startswith(("/*", "*", "//", "#"))
    assert above > 0
