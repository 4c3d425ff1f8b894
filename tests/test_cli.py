"""`kexplore`, in-process with capsys, on an index built from the project's own fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import KERNEL, REPO, fixture_bytes, line_of, make_project, symbols_of, write_kernels_toml

from explorer.cli import main

RANKING_C = b"""\
struct cog {
\tint c_teeth;
};

int cog_wheel;
int big_cog_ring;
#define COG_MAX 8

static int cog_wheel_spin(int turns)
{
\treturn turns;
}

int precog_hint;
"""

SPEC_KEYS = {"name", "kind", "path", "line", "end_line", "scope", "signature"}


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from explorer.indexer import build_index

    folder = tmp_path_factory.mktemp("cli") / "kernel-snippets"
    project = make_project(
        folder,
        {
            "net/ipv4/widget.c": fixture_bytes("widget.c"),
            "include/net/widget.h": fixture_bytes("widget.h"),
            "net/core/cog.c": RANKING_C,
            "net/ipv4/latin1.c": fixture_bytes("latin1.c"),
        },
    )
    build_index(project, jobs=1)
    return folder


def run(capsys: pytest.CaptureFixture[str], snippets: Path, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--snippets", str(snippets)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


WIDGET_C = fixture_bytes("widget.c")
WIDGET_H = fixture_bytes("widget.h")


# ---------------------------------------------------------------- lookup


def test_lookup_text(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, snippets, "lookup", "widget_attach")
    assert code == 0 and err == ""
    start = line_of(WIDGET_C, "int widget_attach(struct widget_queue *wq)")
    end = line_of(WIDGET_C, "}", start=start)
    header_line = line_of(WIDGET_H, "int widget_attach(struct widget_queue *wq);")
    lines = out.splitlines()
    # the definition first, then the prototype
    assert lines[0].split() == ["widget_attach", "function", f"net/ipv4/widget.c:{start}-{end}", "(global)"]
    assert lines[1].strip() == "int widget_attach(struct widget_queue *wq)"
    export_line = line_of(WIDGET_C, "EXPORT_SYMBOL(widget_attach);")
    # each exported definition says so under it (the prototype declares the exported function)
    assert lines[2].split() == ["exported:", "EXPORT_SYMBOL", f"net/ipv4/widget.c:{export_line}"]
    assert lines[3].split() == ["widget_attach", "prototype", f"include/net/widget.h:{header_line}", "(global)"]
    assert lines[5] == lines[2]


def test_lookup_json(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "lookup", "widget_attach", "--json")
    assert code == 0
    found = json.loads(out)
    assert isinstance(found, list) and len(found) == 2
    for obj in found:
        assert set(obj) >= SPEC_KEYS
    first = found[0]
    start = line_of(WIDGET_C, "int widget_attach(struct widget_queue *wq)")
    assert (first["name"], first["kind"], first["path"], first["line"]) == ("widget_attach", "function", "net/ipv4/widget.c", start)
    assert first["end_line"] == line_of(WIDGET_C, "}", start=start)
    assert first["scope"] == "global"
    assert first["signature"] == "int widget_attach(struct widget_queue *wq)"
    assert [o["kind"] for o in found] == ["function", "prototype"]


def test_lookup_kind_filter(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "lookup", "widget_attach", "--kind", "prototype", "--json")
    assert code == 0
    assert [(o["kind"], o["path"]) for o in json.loads(out)] == [("prototype", "include/net/widget.h")]


@pytest.mark.parametrize(
    ("name", "kind", "needle"),
    [
        ("sys_frob", "function", "SYSCALL_DEFINE2(frob,"),
        ("widget_queue.wq_ack.pending", "member", "pending;"),
        ("widget_queue.wq_cookie", "member", "*wq_cookie;"),
        ("sysctl_widget_limit", "variable", "int sysctl_widget_limit __read_mostly"),
    ],
)
def test_lookup_idioms(capsys, snippets: Path, name: str, kind: str, needle: str) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "lookup", name, "--json")
    assert code == 0
    obj = json.loads(out)[0]
    source = WIDGET_C if obj["path"].endswith(".c") else WIDGET_H
    assert (obj["name"], obj["kind"], obj["line"]) == (name, kind, line_of(source, needle))


def test_lookup_bare_field_name_finds_the_members(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "lookup", "wq_depth", "--json")
    assert code == 0
    assert [o["name"] for o in json.loads(out)] == ["widget_queue.wq_depth"]


def test_unknown_name_exits_1_with_suggestions(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, snippets, "lookup", "widget_atach")
    assert code == 1
    assert out == ""
    assert "widget_atach" in err
    assert "did you mean" in err and "widget_attach" in err


def test_unknown_name_with_json_keeps_stdout_clean(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, snippets, "lookup", "no_such_symbol_anywhere", "--json")
    assert code == 1 and out == "" and "no definition" in err


# ---------------------------------------------------------------- search


def test_search_ranks_exact_then_prefix_then_substring(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "search", "cog", "--json")
    assert code == 0
    names = [o["name"] for o in json.loads(out)]
    assert names[0] == "cog"
    prefix = ["cog_wheel", "cog.c_teeth", "COG_MAX", "cog_wheel_spin"]
    substring = ["precog_hint", "big_cog_ring"]
    assert set(names) == {"cog", *prefix, *substring}
    assert {*names[1:5]} == set(prefix)
    assert set(names[5:]) == set(substring)
    # shorter names first within a rank
    assert [len(n) for n in names[1:5]] == sorted(len(n) for n in prefix)
    assert [len(n) for n in names[5:]] == sorted(len(n) for n in substring)


def test_search_text_and_limit(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "search", "cog", "--limit", "2")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[:2] == ["cog", "struct"]
    assert lines[0].split()[2] == f"net/core/cog.c:{line_of(RANKING_C, b'struct cog {')}"


def test_search_kind(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "search", "cog", "--kind", "variable", "--json")
    assert code == 0
    assert {o["name"] for o in json.loads(out)} == {"cog_wheel", "big_cog_ring", "precog_hint"}


def test_search_underscore_and_percent_are_literal(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "search", "g_w", "--json")
    assert code == 0
    assert {o["name"] for o in json.loads(out)} == {"cog_wheel", "cog_wheel_spin"}
    with pytest.raises(SystemExit) as info:  # a LIKE wildcard is no part of a kernel name
        main(["search", "%", "--snippets", str(snippets)])
    assert info.value.code == 2 and "not a search query" in capsys.readouterr().err


def test_search_nothing_exits_1(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, snippets, "search", "zzzqqq")
    assert code == 1 and out == "" and "nothing matches" in err


# ---------------------------------------------------------------- show


def test_show_is_plain_when_not_a_terminal(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "show", "widget_attach")
    assert code == 0
    assert "\x1b[" not in out
    start = line_of(WIDGET_C, "int widget_attach(struct widget_queue *wq)")
    end = line_of(WIDGET_C, "}", start=start)
    lines = out.splitlines()
    assert lines[0].startswith(f"// net/ipv4/widget.c:{start}")
    body = WIDGET_C.decode().splitlines()[start - 1 : end]
    assert lines[1:] == body


def test_show_includes_a_return_type_on_the_line_above(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "show", "widget_poke_default")
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == "static int"
    assert lines[2].startswith("widget_poke_default(")
    assert lines[-1] == "}"


def test_show_struct(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "show", "widget_queue", "--kind", "struct")
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == "struct widget_queue {"
    assert lines[-1] == "};"
    assert "\t} wq_ack;" in lines


def test_show_color_always_highlights(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "show", "widget_attach", "--color", "always")
    assert code == 0 and "\x1b[" in out and "widget_attach" in out


def test_show_json_has_the_source(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "show", "widget_attach", "--all", "--json")
    assert code == 0
    found = json.loads(out)
    assert [o["kind"] for o in found] == ["function", "prototype"]
    assert found[0]["source"].startswith("int widget_attach(struct widget_queue *wq)\n{")
    assert found[1]["source"] == "int widget_attach(struct widget_queue *wq);"


def test_show_non_utf8_source(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "show", "doodad", "--kind", "struct")
    assert code == 0 and "dd_size" in out


def test_show_when_the_tree_changed_since_indexing(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from explorer.indexer import build_index

    project = make_project(tmp_path, {"net/ipv4/gone.c": "int gone_soon;\n"})
    build_index(project, jobs=1)
    (project.tree(KERNEL) / "net/ipv4/gone.c").unlink()
    code, _, err = run(capsys, tmp_path, "show", "gone_soon")
    assert code == 1 and "kexplore index" in err


def test_show_unknown_name(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, snippets, "show", "widget_atach")
    assert code == 1 and "did you mean" in err


# ---------------------------------------------------------------- dump and versions


def test_dump_json_is_json_lines(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "dump", "--json")
    assert code == 0
    lines = out.splitlines()
    objects = [json.loads(line) for line in lines]
    assert len(objects) == len(symbols_of(snippets / "index" / f"{KERNEL}.sqlite"))
    for obj in objects:
        assert set(obj) >= SPEC_KEYS
    assert {(o["name"], o["kind"], o["path"], o["line"]) for o in objects} == symbols_of(snippets / "index" / f"{KERNEL}.sqlite")
    order = [(o["path"], o["line"]) for o in objects]
    assert order == sorted(order)


def test_dump_text_and_kind(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "dump", "--kind", "struct")
    assert code == 0
    rows = [line.split("\t") for line in out.splitlines()]
    assert {r[0] for r in rows} == {"widget_queue", "widget_stamp", "widget_ops", "cog", "doodad"}
    assert all(r[1] == "struct" for r in rows)


def test_versions_json(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "versions", "--json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 1
    row = rows[0]
    assert row["kernel"] == KERNEL and row["default"] is True
    assert row["vendored"] is True and row["indexed"] is True
    assert row["files"] == 4
    assert row["symbols"] == len(symbols_of(snippets / "index" / f"{KERNEL}.sqlite"))


def test_versions_text(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "versions")
    assert code == 0
    assert out.startswith(f"{KERNEL} (default)") and "indexed" in out and "4 files" in out


def test_versions_without_an_index(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_kernels_toml(tmp_path)
    code, out, _ = run(capsys, tmp_path, "versions", "--json")
    assert code == 0
    row = json.loads(out)[0]
    assert (row["vendored"], row["indexed"], row["symbols"]) == (False, False, None)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "argv",
    [
        ["lookup"],
        ["frobnicate"],
        ["search", "x", "--limit", "0"],
        ["search", "x", "--limit", "many"],
        ["lookup", "x", "--kind", "class"],
        ["index", "--jobs", "-1"],
        ["show", "x", "--color", "sometimes"],
        ["lookup", "x", "--no-such-flag"],
    ],
)
def test_bad_arguments_exit_2(capsys, argv: list[str]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main([]) == 2
    assert "usage:" in capsys.readouterr().err


def test_version_flag(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("kexplore ")


def test_unknown_kernel_exits_2(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, snippets, "lookup", "widget_attach", "--kernel", "linux-0.01")
    assert code == 2 and "linux-0.01" in err and KERNEL in err


def test_missing_kernels_toml_exits_2(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, tmp_path / "nowhere", "lookup", "x")
    assert code == 2 and "kernels.toml" in err


@pytest.mark.parametrize("command", [["lookup", "x"], ["search", "x"], ["show", "x"], ["dump"]])
def test_no_index_yet_names_the_command_that_builds_it(capsys, tmp_path: Path, command: list[str]) -> None:  # type: ignore[no-untyped-def]
    make_project(tmp_path, {"net/ipv4/a.c": "int a;\n"})
    code, out, err = run(capsys, tmp_path, *command)
    assert code == 1 and out == ""
    assert "kexplore index" in err and "kexplore vendor" not in err


def test_no_tree_and_no_index_names_vendor_then_index(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_kernels_toml(tmp_path)
    code, _, err = run(capsys, tmp_path, "lookup", "x")
    assert code == 1 and "kexplore vendor" in err and "kexplore index" in err


def test_snippets_from_the_environment(capsys, snippets: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KEXPLORE_SNIPPETS", str(snippets))
    assert main(["lookup", "sys_frob", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == "sys_frob"


# ---------------------------------------------------------------- index through the CLI


def test_index_command(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_project(tmp_path, {"net/ipv4/widget.c": fixture_bytes("widget.c")})
    code, out, err = run(capsys, tmp_path, "index")
    assert code == 0 and "parsed 1 of 1 files" in out
    assert err == ""  # no progress bar when not on a terminal
    code, out, _ = run(capsys, tmp_path, "index")
    assert code == 0 and "up to date" in out
    code, out, _ = run(capsys, tmp_path, "index", "--force", "--json")
    assert code == 0
    result = json.loads(out)
    assert (result["kernel"], result["files"], result["parsed"]) == (KERNEL, 1, 1)


def test_index_without_a_tree_exits_1(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_kernels_toml(tmp_path)
    code, _, err = run(capsys, tmp_path, "index")
    assert code == 1 and "kexplore vendor" in err


# ---------------------------------------------------------------- as a program


def python(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=60)


def test_lookups_import_nothing_heavy(snippets: Path) -> None:
    heavy = {"tree_sitter", "tree_sitter_c", "pygments", "mkdocs", "material", "rich"}
    code = (
        "import sys\n"
        "from explorer.cli import main\n"
        f"for argv in (['lookup', 'widget_attach'], ['search', 'widget'], ['dump', '--json'], ['versions'], ['show', 'widget_attach']):\n"
        f"    assert main(argv + ['--snippets', {str(snippets)!r}]) == 0, argv\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(heavy)!r}))\n"
    )
    proc = python("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]"


def test_python_dash_m_explorer(snippets: Path) -> None:
    proc = python("-m", "explorer", "lookup", "sys_frob", "--json", "--snippets", str(snippets))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["name"] == "sys_frob"
    proc = python("-m", "explorer", "lookup", "sys_frb", "--snippets", str(snippets))
    assert proc.returncode == 1 and "did you mean" in proc.stderr
    proc = python("-m", "explorer", "bogus-command")
    assert proc.returncode == 2


def test_dump_into_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    from explorer.indexer import build_index

    src = "".join(f"int pipe_fn_{i}(void)\n{{\n\treturn {i};\n}}\n" for i in range(5000))
    project = make_project(tmp_path, {"net/ipv4/pipe.c": src})
    build_index(project, jobs=1)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        f"'{sys.executable}' -m explorer dump --json --snippets '{tmp_path}' | head -n 1; exit ${{PIPESTATUS[0]}}",
        shell=True, executable="/bin/bash", capture_output=True, text=True, cwd=REPO, env=env, timeout=60,
    )
    assert json.loads(proc.stdout)["name"].startswith("pipe_fn_")
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0
