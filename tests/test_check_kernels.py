"""`kexplore check` per kernel: annotations written once, checked and reviewed against each indexed kernel.

The kernels are the two fixture kernels of history_kernels.py (linux-old, linux-new, and linux-gap declared
without an index); the annotation page is written here, into a docs folder of each test's own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import line_of
from history_kernels import build_two_kernels

from explorer.cli import main

PAGE = """\
---
annotations: true
---
# Notes on the fixture kernels

## `stays_same`
Doubles its argument.

### `return a * 2;`
The doubling itself.

## `grows`
Returns its argument as it is.

### `return a;`
The line that linux-new rewrote.

## `goes_away`
Gone from linux-new.
"""

ROW_KEYS = {"kernel", "file", "line", "symbol", "finding", "message"}


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_two_kernels(tmp_path_factory.mktemp("check") / "kernel-snippets")


@pytest.fixture
def page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    docs = tmp_path / "docs"
    (docs / "annotations").mkdir(parents=True)
    path = docs / "annotations" / "notes.md"
    path.write_text(PAGE, encoding="utf-8")
    monkeypatch.setenv("KEXPLORE_DOCS", str(docs))
    return path


def check(capsys: pytest.CaptureFixture[str], snippets: Path, *args: str) -> tuple[int, list[dict[str, object]], str]:
    code = main(["check", *args, "--json", "--snippets", str(snippets)])
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert isinstance(rows, list)
    assert all(set(row) == ROW_KEYS for row in rows)
    return code, rows, captured.err


def summary(rows: list[dict[str, object]]) -> set[tuple[object, object, object]]:
    return {(r["kernel"], r["symbol"], r["finding"]) for r in rows}


def test_unreviewed_annotations_are_reported_per_kernel(capsys: pytest.CaptureFixture[str], snippets: Path,
                                                         page: Path) -> None:
    code, rows, err = check(capsys, snippets)
    assert code == 1
    assert summary(rows) == {
        ("linux-old", "stays_same", "unreviewed"), ("linux-old", "grows", "unreviewed"),
        ("linux-old", "goes_away", "unreviewed"),
        ("linux-new", "stays_same", "unreviewed"), ("linux-new", "grows", "unreviewed"),
        ("linux-new", "grows", "anchor-gone"), ("linux-new", "goes_away", "missing"),
    }
    assert "linux-gap is not indexed: not checked" in err
    # per kernel, in kernels.toml order
    assert [r["kernel"] for r in rows] == sorted((r["kernel"] for r in rows), key=["linux-old", "linux-new"].index)
    anchor = next(r for r in rows if r["finding"] == "anchor-gone")
    assert (anchor["file"], anchor["line"]) == ("docs/annotations/notes.md", line_of(PAGE, "### `return a;`"))
    missing = next(r for r in rows if r["finding"] == "missing")
    assert missing["line"] == line_of(PAGE, "## `goes_away`")


def test_accept_records_only_the_kernels_checked(capsys: pytest.CaptureFixture[str], snippets: Path,
                                                page: Path) -> None:
    code, _, _ = check(capsys, snippets, "--kernel", "linux-old", "--accept")
    assert code == 0
    text = page.read_text(encoding="utf-8")
    assert "reviewed: linux-new" not in text
    assert len(re.findall(r"^<!-- reviewed: linux-old:[0-9a-f]{12} -->$", text, re.MULTILINE)) == 3
    code, rows, _ = check(capsys, snippets, "--kernel", "linux-old")
    assert (code, rows) == (0, [])
    # linux-new still has its findings: reviewing one kernel says nothing of the other
    code, rows, _ = check(capsys, snippets, "--kernel", "linux-new")
    assert code == 1
    assert ("linux-new", "stays_same", "unreviewed") in summary(rows)


def test_a_mark_per_kernel_beside_the_other(capsys: pytest.CaptureFixture[str], snippets: Path,
                                            page: Path) -> None:
    check(capsys, snippets, "--kernel", "linux-old", "--accept")
    check(capsys, snippets, "--kernel", "linux-new", "--accept")
    text = page.read_text(encoding="utf-8")
    lines = text.splitlines()
    at = lines.index("## `stays_same`")
    assert re.fullmatch(r"<!-- reviewed: linux-old:[0-9a-f]{12} -->", lines[at + 1])
    assert re.fullmatch(r"<!-- reviewed: linux-new:[0-9a-f]{12} -->", lines[at + 2])
    assert lines[at + 3] == "Doubles its argument."
    # stays_same kept its text: the same hash for both kernels, though its lines moved
    assert lines[at + 1].split(":")[2] == lines[at + 2].split(":")[2]
    at = lines.index("## `goes_away`")  # nothing to record for linux-new
    assert re.fullmatch(r"<!-- reviewed: linux-old:[0-9a-f]{12} -->", lines[at + 1]) and lines[at + 2] == "Gone from linux-new."
    code, rows, _ = check(capsys, snippets)
    assert code == 1
    assert summary(rows) == {("linux-new", "grows", "anchor-gone"), ("linux-new", "goes_away", "missing")}
    # accepting again changes nothing: both marks are read back
    main(["check", "--accept", "--snippets", str(snippets)])
    capsys.readouterr()
    assert page.read_text(encoding="utf-8") == text


def test_a_definition_that_changed_since_its_review(capsys: pytest.CaptureFixture[str], snippets: Path,
                                                    page: Path) -> None:
    check(capsys, snippets, "--kernel", "linux-old", "--accept")
    text = page.read_text(encoding="utf-8")
    # someone copies linux-old's mark for grows to linux-new without re-reading: its definition differs there
    lines = text.splitlines(keepends=True)
    at = lines.index("## `grows`\n")
    old_mark = lines[at + 1]
    lines.insert(at + 2, old_mark.replace("linux-old:", "linux-new:"))
    page.write_text("".join(lines), encoding="utf-8")
    code, rows, _ = check(capsys, snippets, "--kernel", "linux-new")
    assert code == 1
    changed = [r for r in rows if r["finding"] == "changed"]
    assert [(r["symbol"], r["line"]) for r in changed] == [("grows", at + 3)]  # the line of linux-new's mark
    assert "changed since the annotation was reviewed" in str(changed[0]["message"])


def test_several_kernels_in_one_comment_are_read(capsys: pytest.CaptureFixture[str], snippets: Path,
                                                 page: Path) -> None:
    check(capsys, snippets, "--accept")
    text = page.read_text(encoding="utf-8")
    at = text.index("## `stays_same`\n") + len("## `stays_same`\n")
    old_line, new_line, rest = text[at:].split("\n", 2)
    merged = old_line.replace(" -->", "") + " " + new_line.removeprefix("<!-- reviewed: ")
    page.write_text(text[:at] + merged + "\n" + rest, encoding="utf-8")
    code, rows, _ = check(capsys, snippets)
    assert ("linux-new", "stays_same", "unreviewed") not in summary(rows)
    assert not any(r["symbol"] == "stays_same" for r in rows)
    assert code == 1  # grows and goes_away still have their linux-new findings


def test_check_of_a_kernel_without_an_index(capsys: pytest.CaptureFixture[str], snippets: Path,
                                            page: Path) -> None:
    code = main(["check", "--kernel", "linux-gap", "--snippets", str(snippets)])
    captured = capsys.readouterr()
    assert code == 1
    assert "no index for linux-gap" in captured.err
    code = main(["check", "--kernel", "linux-9", "--snippets", str(snippets)])
    captured = capsys.readouterr()
    assert code == 2
    assert "linux-9" in captured.err and "linux-old" in captured.err


def test_text_output_counts_per_kernel(capsys: pytest.CaptureFixture[str], snippets: Path,
                                       page: Path) -> None:
    main(["check", "--accept", "--snippets", str(snippets)])
    captured = capsys.readouterr()
    assert "3 annotations checked against linux-old, linux-new: 2 finding(s) (linux-old 0, linux-new 2)" in captured.err
    assert "notes.md" in captured.out and "[linux-new]" in captured.out


def test_marks_on_consecutive_lines_are_all_read(tmp_path: Path) -> None:
    """Each kernel's mark on its own line under the heading: the second is a mark, not the annotation's text."""
    from explorer.annotations import parse_file

    path = tmp_path / "notes.md"
    path.write_text("---\nannotations: true\n---\n\n## `grows`\n<!-- reviewed: linux-old:aaaaaaaaaaaa -->\n"
                    "<!-- reviewed: linux-new:bbbbbbbbbbbb -->\nReturns its argument.\n", encoding="utf-8")
    (note,), problems = parse_file(path)
    assert problems == []
    assert note.reviewed == {"linux-old": "aaaaaaaaaaaa", "linux-new": "bbbbbbbbbbbb"}
    assert note.text == "Returns its argument."
