"""Hostile command-line names: each is a one-line argparse error and exit 2, never a SQLite error or a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, fixture_bytes, indexed_widget_project, make_project

from explorer.cli import main

# every command that takes a name, with the name last; `path` takes two
NAMED = [["lookup"], ["show"], ["refs"], ["callers"], ["callees"], ["struct"], ["path", "widget_attach"], ["search"]]

BAD = {
    "empty": "",
    "huge": "a" * 60_000,  # past SQLite's LIKE pattern limit (50,000 bytes)
    "huge-member": "widget_queue." + "w" * 60_000,
    "control": "widget\x1b[2Jattach",
    "newline": "widget_attach\nrm",
    "undecodable": "widget_\udcff\udcfeattach",  # how Python passes non-UTF-8 argv bytes
    "non-ascii": "caf\u00e9",
    "space": "widget attach",
    "wildcard": "widget%",
    "empty-field": "widget_queue.",
}


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("input") / "kernel-snippets"
    indexed_widget_project(folder)
    return folder


CASES = [
    pytest.param(command, bad, id=f"{command[0]}-{bad}")
    for command in NAMED
    for bad in BAD
    if not (command == ["search"] and bad == "empty-field")  # a piece of a name may end in a dot
]


@pytest.mark.parametrize(("command", "bad"), CASES)
def test_a_bad_name_is_a_usage_error(capsys, snippets: Path, command: list[str], bad: str) -> None:  # type: ignore[no-untyped-def]
    name = BAD[bad]
    with pytest.raises(SystemExit) as info:
        main([*command, name, "--snippets", str(snippets)])
    out, err = capsys.readouterr()
    assert info.value.code == 2 and out == ""
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith(f"kexplore {command[0]}: error: argument ")
    assert len(err) < 2_000  # the huge name is not echoed back
    assert err.isascii() and "\x1b" not in err  # nothing raw reaches the terminal
    assert ("empty" in last) if not name else ("characters" in last or " is not a " in last)


def test_the_empty_name_no_longer_lists_anonymous_members(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as info:
        main(["lookup", "", "--snippets", str(snippets)])
    assert info.value.code == 2
    assert "an empty kernel name" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["widget_attach", "widget_queue.wq_ack.pending", "sys_frob", "_x9", "A" * 256])
def test_good_names_pass(capsys, snippets: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    code = main(["lookup", name, "--snippets", str(snippets)])  # no SystemExit: the name is accepted
    err = capsys.readouterr().err
    if name[0].islower() and name != "_x9":
        assert code == 0
    else:
        assert code == 1 and "no definition named" in err


def test_search_takes_a_piece_of_a_name(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    main(["search", "9", "--snippets", str(snippets)])  # a digit may start a piece: no SystemExit
    assert "error" not in capsys.readouterr().err
    assert main(["search", "_attach", "--snippets", str(snippets)]) == 0
    assert "widget_attach" in capsys.readouterr().out


def _run_bytes(*argv: bytes, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable.encode(), b"-m", b"explorer", *argv], capture_output=True, cwd=REPO, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


@pytest.mark.parametrize("raw", [b"widget_\xff\xfeattach", b"caf\xe9", b"\x1b]0;pwned\x07", b"a" * 60_000])
def test_raw_bytes_in_argv_through_a_real_process(snippets: Path, raw: bytes) -> None:
    for command in ([b"lookup", raw], [b"search", raw], [b"callees", raw, b"--depth", b"3"]):
        proc = _run_bytes(*command, b"--snippets", str(snippets).encode())
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == b""
        assert b"Traceback" not in proc.stderr and b"error: argument" in proc.stderr
        assert proc.stderr.isascii() and b"\x1b" not in proc.stderr and len(proc.stderr) < 2_000


def test_kernel_text_on_an_ascii_terminal(snippets: Path, tmp_path: Path) -> None:
    """Latin-1 bytes in the source reach a terminal that only takes ASCII: escaped, not a UnicodeEncodeError."""
    from explorer.indexer import build_index

    folder = tmp_path / "kernel-snippets"
    build_index(make_project(folder, {"net/ipv4/latin1.c": fixture_bytes("latin1.c")}), jobs=1)
    for command in ([b"show", b"doodad_sign"], [b"show", b"DOODAD_GREETING"], [b"show", b"doodad_sign", b"--json"]):
        proc = _run_bytes(*command, b"--snippets", str(folder).encode(), env={"PYTHONIOENCODING": "ascii"})
        assert proc.returncode == 0, proc.stderr
        assert b"Traceback" not in proc.stderr
        assert b"\\ufffd" in proc.stdout  # the undecodable byte, shown as U+FFFD, escaped
