"""`kexplore history`, `diff` and `changes` across the two fixture kernels of history_kernels.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import line_of, write_tree
from history_kernels import BETA, NEW_ALPHA, OLD_ALPHA, build_two_kernels

from explorer.cli import main


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_two_kernels(tmp_path_factory.mktemp("history") / "kernel-snippets")


def run(capsys: pytest.CaptureFixture[str], snippets: Path, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--snippets", str(snippets)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], snippets: Path, *args: str) -> object:
    code, out, err = run(capsys, snippets, *args, "--json")
    assert code == 0, err
    return json.loads(out)


# ---------------------------------------------------------------- changes


def test_changes_lists_what_was_added_removed_and_changed(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    rows = run_json(capsys, snippets, "changes", "--from", "linux-old", "--to", "linux-new")
    assert isinstance(rows, list)
    got = {(r["name"], r["kind"], r["path"], r["status"], r["from_path"]) for r in rows}
    assert got == {
        ("helper", "function", "net/core/alpha.c", "changed", "net/core/alpha.c"),  # beta.c's helper did not change
        ("grows", "function", "net/core/alpha.c", "changed", "net/core/alpha.c"),
        ("wanders", "function", "net/ipv4/gamma.c", "changed", "net/core/alpha.c"),  # moved, same text
        ("goes_away", "function", "net/core/alpha.c", "removed", None),
        ("arrives", "function", "net/core/alpha.c", "added", None),
    }


def test_changes_defaults_to_the_oldest_and_newest_indexed_kernels(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    explicit = run_json(capsys, snippets, "changes", "--from", "linux-old", "--to", "linux-new")
    assert run_json(capsys, snippets, "changes") == explicit


def test_changes_text_has_counts(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    code, out, _ = run(capsys, snippets, "changes")
    assert code == 0
    assert out.splitlines()[-1] == "linux-old → linux-new: 1 added, 1 removed, 3 changed"
    assert "(moved from net/core/alpha.c)" in next(line for line in out.splitlines() if "wanders" in line)


def test_changes_backwards_swaps_added_and_removed(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    rows = run_json(capsys, snippets, "changes", "--from", "linux-new", "--to", "linux-old")
    assert isinstance(rows, list)
    status = {r["name"]: r["status"] for r in rows}
    assert status == {"helper": "changed", "grows": "changed", "wanders": "changed", "goes_away": "added",
                      "arrives": "removed"}


def test_changes_under_a_path_and_of_a_kind(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    rows = run_json(capsys, snippets, "changes", "--path", "net/ipv4/")
    assert isinstance(rows, list)
    # the old wanders lies outside the prefix: inside it, the moved definition is new
    assert [(r["name"], r["status"]) for r in rows] == [("wanders", "added")]
    assert run_json(capsys, snippets, "changes", "--path", "net/core/beta.c") == []
    assert run_json(capsys, snippets, "changes", "--kind", "macro") == []
    # a prefix matches whole path components: net/co is not net/core
    assert run_json(capsys, snippets, "changes", "--path", "net/co") == []


@pytest.mark.parametrize("prefix", ["../net", "/net", "net/../../x", ""])
def test_changes_refuses_a_path_outside_the_tree(capsys: pytest.CaptureFixture[str], snippets: Path, prefix: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["changes", "--path", prefix, "--snippets", str(snippets)])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "plain relative path" in captured.err


def test_the_stored_digest_follows_the_text_not_the_place(snippets: Path) -> None:
    from explorer.store import Index

    old = Index(snippets / "index" / "linux-old.sqlite")
    new = Index(snippets / "index" / "linux-new.sqlite")
    try:
        def digest(index: Index, name: str) -> int | None:
            return index.digest(index.lookup(name)[0])

        assert new.lookup("stays_same")[0].line != old.lookup("stays_same")[0].line
        assert digest(old, "stays_same") == digest(new, "stays_same")
        assert digest(old, "wanders") == digest(new, "wanders")
        assert digest(old, "grows") != digest(new, "grows")
    finally:
        old.close()
        new.close()


# ---------------------------------------------------------------- history


def test_history_per_kernel_in_kernels_toml_order(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    rows = run_json(capsys, snippets, "history", "helper")
    assert isinstance(rows, list)
    old_line = line_of(OLD_ALPHA, "static int helper")
    new_line = line_of(NEW_ALPHA, "static int helper")
    beta_line = line_of(BETA, "static int helper")
    assert [(r["kernel"], r["path"], r["line"], r["status"], r["changed"]) for r in rows] == [
        ("linux-old", "net/core/alpha.c", old_line, "present", None),
        ("linux-old", "net/core/beta.c", beta_line, "present", None),
        ("linux-gap", None, None, "not indexed", None),
        ("linux-new", "net/core/alpha.c", new_line, "changed", True),
        ("linux-new", "net/core/beta.c", beta_line, "unchanged", False),
    ]
    first = rows[0]
    assert first["signature"] == "static int helper(int x)"
    assert first["end_line"] == line_of(OLD_ALPHA, "}", start=old_line)
    assert set(first) >= {"kernel", "path", "line", "end_line", "signature", "changed"}


def test_history_of_a_moved_definition(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    rows = run_json(capsys, snippets, "history", "wanders")
    assert isinstance(rows, list)
    last = rows[-1]
    assert (last["kernel"], last["path"], last["from_path"], last["changed"], last["status"]) == (
        "linux-new", "net/ipv4/gamma.c", "net/core/alpha.c", False, "unchanged")


def test_history_of_a_line_shift_is_unchanged(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    rows = run_json(capsys, snippets, "history", "stays_same")
    assert isinstance(rows, list)
    assert [(r["line"], r["changed"]) for r in rows if r["kernel"] != "linux-gap"] == [
        (line_of(OLD_ALPHA, "int stays_same"), None), (line_of(NEW_ALPHA, "int stays_same"), False)]


def test_history_of_removed_and_added_names(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    gone = run_json(capsys, snippets, "history", "goes_away")
    assert isinstance(gone, list)
    assert (gone[-1]["kernel"], gone[-1]["status"], gone[-1]["path"], gone[-1]["from_path"], gone[-1]["changed"]) == (
        "linux-new", "removed", None, "net/core/alpha.c", True)
    new = run_json(capsys, snippets, "history", "arrives")
    assert isinstance(new, list)
    assert [(r["kernel"], r["status"], r["changed"]) for r in new] == [
        ("linux-old", "absent", None), ("linux-gap", "not indexed", None), ("linux-new", "added", True)]


def test_history_text(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    code, out, _ = run(capsys, snippets, "history", "wanders")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "wanders"
    assert any("linux-gap" in line and "not indexed" in line for line in lines)
    assert any("net/ipv4/gamma.c" in line and "moved from net/core/alpha.c" in line for line in lines)


def test_history_of_an_unknown_name_suggests(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    code, out, err = run(capsys, snippets, "history", "grow")
    assert code == 1
    assert out == ""
    assert "no definition named 'grow'" in err
    assert "did you mean: " in err and "grows" in err


# ---------------------------------------------------------------- diff


def test_diff_json_of_a_changed_function(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    data = run_json(capsys, snippets, "diff", "grows")
    assert isinstance(data, dict)
    old_line, new_line = line_of(OLD_ALPHA, "int grows"), line_of(NEW_ALPHA, "int grows")
    assert data["name"] == "grows"
    assert data["from"] == {"kernel": "linux-old", "path": "net/core/alpha.c", "line": old_line,
                            "end_line": line_of(OLD_ALPHA, "}", start=old_line)}
    assert data["to"] == {"kernel": "linux-new", "path": "net/core/alpha.c", "line": new_line,
                          "end_line": line_of(NEW_ALPHA, "}", start=new_line)}
    assert data["changed"] is True
    diff = data["diff"].splitlines()
    assert diff[:2] == ["--- linux-old/net/core/alpha.c", "+++ linux-new/net/core/alpha.c"]
    # hunks are numbered as the files' own lines
    assert diff[2].startswith(f"@@ -{old_line},") and f" +{new_line}," in diff[2]
    assert "-\treturn a;" in diff and "+\treturn b + 3;" in diff and "+\tint b = a;" in diff


def test_diff_of_an_unchanged_function(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    data = run_json(capsys, snippets, "diff", "stays_same")
    assert isinstance(data, dict)
    assert (data["changed"], data["diff"]) == (False, "")
    code, out, _ = run(capsys, snippets, "diff", "stays_same")
    assert code == 0
    assert "unchanged" in out


def test_diff_pairs_each_definition_with_its_counterpart(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    data = run_json(capsys, snippets, "diff", "helper")
    assert isinstance(data, dict)
    parts = [(d["from"]["path"], d["to"]["path"], d["changed"]) for d in data["definitions"]]
    assert parts == [("net/core/alpha.c", "net/core/alpha.c", True), ("net/core/beta.c", "net/core/beta.c", False)]
    assert data["changed"] is True
    assert "-\treturn x + 1;" in data["diff"] and "x - 1" not in data["diff"]


def test_diff_follows_a_move_and_an_absence(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    moved = run_json(capsys, snippets, "diff", "wanders")
    assert isinstance(moved, dict)
    assert (moved["from"]["path"], moved["to"]["path"], moved["changed"]) == ("net/core/alpha.c", "net/ipv4/gamma.c", False)
    gone = run_json(capsys, snippets, "diff", "goes_away")
    assert isinstance(gone, dict)
    assert gone["to"] == {"kernel": "linux-new", "path": None, "line": None, "end_line": None}
    assert gone["changed"] is True
    assert "-int goes_away(void)" in gone["diff"].splitlines()


def test_diff_colour(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    _, coloured, _ = run(capsys, snippets, "diff", "grows", "--color", "always")
    assert "\x1b[32m+\treturn b + 3;\x1b[0m" in coloured
    _, plain, _ = run(capsys, snippets, "diff", "grows")  # captured: not a terminal
    assert "\x1b" not in plain
    assert "+\treturn b + 3;" in plain.splitlines()


def test_diff_of_an_unknown_name_suggests(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    code, out, err = run(capsys, snippets, "diff", "stays_sam")
    assert code == 1
    assert out == ""
    assert "stays_same" in err


@pytest.mark.parametrize("command", [["diff", "grows"], ["changes"]])
@pytest.mark.parametrize("flag", ["--from", "--to"])
def test_a_bad_kernel_name_names_the_declared_ones(capsys: pytest.CaptureFixture[str], snippets: Path,
                                                   command: list[str], flag: str) -> None:
    code, out, err = run(capsys, snippets, *command, flag, "linux-9.9")
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "linux-9.9" in err and "linux-old" in err and "linux-new" in err and "linux-gap" in err


def test_diff_from_a_declared_kernel_without_an_index(capsys: pytest.CaptureFixture[str], snippets: Path) -> None:
    code, out, err = run(capsys, snippets, "diff", "grows", "--from", "linux-gap")
    assert code == 1
    assert out == ""
    assert "no index for linux-gap" in err


@pytest.mark.parametrize("command", ["history", "diff", "changes"])
def test_help_says_what_the_json_holds(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--json" in out and "changed" in out


def test_changes_counts_repeated_identical_definitions(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The same text twice in one file (both arms of an #ifdef) is two definitions: losing one is a removal."""
    from explorer.config import Project
    from explorer.indexer import build_index

    folder = tmp_path / "kernel-snippets"
    folder.mkdir()
    (folder / "kernels.toml").write_text('[kernels."a"]\npaths = ["net"]\n\n[kernels."b"]\npaths = ["net"]\n',
                                         encoding="utf-8")
    twice = "#ifdef CONFIG_TWICE\nint twice(void);\n#else\nint twice(void);\n#endif\n"
    write_tree(folder / "a", {"net/twice.h": twice, "net/other.c": "int other(void)\n{\n\treturn 0;\n}\n"})
    write_tree(folder / "b", {"net/twice.h": "int twice(void);\n", "net/other.c": "int other(void)\n{\n\treturn 1;\n}\n"})
    project = Project.load(folder)
    for name in ("a", "b"):
        build_index(project, name, jobs=1)
    rows = run_json(capsys, folder, "changes")
    assert isinstance(rows, list)
    assert [(r["name"], r["kind"], r["status"]) for r in rows] == [("other", "function", "changed"),
                                                                   ("twice", "prototype", "removed")]


def test_counterparts_same_path_first_then_same_kind_same_text_first() -> None:
    from explorer.store import counterparts

    Row = tuple[str, str, str]  # path, kind, text

    def pair(older: list[Row], newer: list[Row]) -> tuple[list[tuple[Row, Row]], list[Row], list[Row]]:
        return counterparts(older, newer, lambda d: (d[0], d[1]), lambda d: d[2])

    # moved definitions find the one with their own text, whatever the order
    pairs, gone, new = pair([("a.c", "function", "one"), ("b.c", "function", "two")],
                            [("c.c", "function", "two"), ("d.c", "function", "one")])
    assert pairs == [(("a.c", "function", "one"), ("d.c", "function", "one")),
                     (("b.c", "function", "two"), ("c.c", "function", "two"))]
    assert (gone, new) == ([], [])
    # the same path wins over the same text elsewhere; a kind that has no counterpart is left over
    pairs, gone, new = pair([("a.c", "function", "one"), ("h.h", "macro", "m")],
                            [("b.c", "function", "one"), ("a.c", "function", "one, edited")])
    assert pairs == [(("a.c", "function", "one"), ("a.c", "function", "one, edited"))]
    assert gone == [("h.h", "macro", "m")]
    assert new == [("b.c", "function", "one")]
    # a name defined in many files pairs each with its own file
    older = [(f"f{n}.c", "macro", f"v{n}") for n in range(2000)]
    newer = [(f"f{n}.c", "macro", f"v{n + 1}") for n in reversed(range(2000))]
    pairs, gone, new = pair(older, newer)
    assert all(a[0] == b[0] for a, b in pairs) and len(pairs) == 2000 and not gone and not new
