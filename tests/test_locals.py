"""Locals and parameters (issue 11, item 4): `kexplore refs NAME --in FUNCTION` and the source pages' marks.

A fixture written for this project; every expected line and column is computed from its text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import VENDORED_INDEX, VENDORED_TREE, indexed_snippets, requires_vendored
from conftest import run_cli as run

from explorer.cli import main

SOURCE = """\
struct pebble {
\tint weight;
\tstruct pebble *next;
};

#define DECLARE_SOCKADDR(type, dst, src) type dst = (type)(src)

int pebble_weigh(struct pebble *p, int scale)
{
\tint err = 0;
\tint total;

\ttotal = p->weight * scale;
\tif (total > 10) {
\t\tint spare = total;

\t\terr = pebble_store(&spare);
\t}
\tscale++;
\tpebble_note(&total, err);
\treturn err ? err : total;
}

int pebble_other(int err)
{
\treturn err + 1;
}

int pebble_sock(void *addr)
{
\tDECLARE_SOCKADDR(struct pebble *, pb, addr);

\treturn pb->weight;
}

SYSCALL_DEFINE2(pebble, int, fd, int, flags)
{
\treturn pebble_other(fd + flags);
}
"""
PATH = "net/ipv4/pebble.c"


def lines_with(pattern: str) -> list[int]:
    rx = re.compile(pattern)
    return [i + 1 for i, text in enumerate(SOURCE.splitlines()) if rx.search(text)]


def col_of(line: int, word: str, nth: int = 0) -> int:
    text = SOURCE.splitlines()[line - 1]
    return [m.start() for m in re.finditer(rf"\b{word}\b", text)][nth]


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return indexed_snippets(tmp_path_factory, "locals", {PATH: SOURCE})


def uses(capsys, snippets: Path, *argv: str) -> list[tuple[int, int, str]]:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "refs", *argv, "--json")
    assert code == 0
    return [(r["line"], r["col"], r["role"]) for r in json.loads(out)]


def test_a_local_has_its_declaration_and_each_use_with_its_role(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    (decl,) = lines_with(r"int err = 0;")
    (write,) = lines_with(r"err = pebble_store")
    (note,) = lines_with(r"pebble_note")
    (ret,) = lines_with(r"return err \?")
    assert uses(capsys, snippets, "err", "--in", "pebble_weigh") == [
        (decl, col_of(decl, "err"), "decl"), (write, col_of(write, "err"), "write"), (note, col_of(note, "err"), "read"),
        (ret, col_of(ret, "err", 0), "read"), (ret, col_of(ret, "err", 1), "read")]
    # the address taken, and a local of an inner block
    (spare_decl,) = lines_with(r"int spare = total;")
    assert uses(capsys, snippets, "spare", "--in", "pebble_weigh") == [
        (spare_decl, col_of(spare_decl, "spare"), "decl"), (write, col_of(write, "spare"), "addr")]
    assert ("addr" in {r for _, _, r in uses(capsys, snippets, "total", "--in", "pebble_weigh")})
    # a parameter: declared in the parameter list, read, and written by ++
    (head,) = lines_with(r"^int pebble_weigh")
    (bump,) = lines_with(r"scale\+\+")
    assert uses(capsys, snippets, "scale", "--in", "pebble_weigh", "--role", "write") == [(bump, col_of(bump, "scale"), "write")]
    assert uses(capsys, snippets, "scale", "--in", "pebble_weigh")[0] == (head, col_of(head, "scale"), "decl")


def test_a_local_belongs_to_its_function(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    (head,) = lines_with(r"^int pebble_other")
    (body,) = lines_with(r"return err \+ 1")
    assert uses(capsys, snippets, "err", "--in", "pebble_other") == [(head, col_of(head, "err"), "decl"),
                                                                    (body, col_of(body, "err"), "read")]
    code, out, _ = run(capsys, snippets, "refs", "err", "--in", "pebble_other", "--json")
    assert code == 0
    row = json.loads(out)[0]
    assert (row["path"], row["function"], row["kind"], row["name"]) == (PATH, "pebble_other", "parameter", "err")


def test_macro_declared_locals_and_syscall_parameters(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    (decl,) = lines_with(r"DECLARE_SOCKADDR\(struct")
    (use,) = lines_with(r"return pb->weight")
    assert uses(capsys, snippets, "pb", "--in", "pebble_sock") == [(decl, col_of(decl, "pb"), "decl"), (use, col_of(use, "pb"), "read")]
    (head,) = lines_with(r"^SYSCALL_DEFINE2")
    (body,) = lines_with(r"fd \+ flags")
    assert uses(capsys, snippets, "flags", "--in", "sys_pebble") == [(head, col_of(head, "flags"), "decl"),
                                                                     (body, col_of(body, "flags"), "read")]


def test_unknown_function_or_local_is_a_one_line_error_with_suggestions(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, snippets, "refs", "err", "--in", "pebble_weight")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "no function pebble_weight" in err and "pebble_weigh" in err
    code, out, err = run(capsys, snippets, "refs", "erro", "--in", "pebble_weigh")
    assert code == 1 and out == "" and err.count("\n") == 1 and "did you mean err" in err
    code, _, err = run(capsys, snippets, "refs", "zzz", "--in", "pebble_weigh")
    assert code == 1 and "its locals and parameters: p, scale, err, total, spare" in err


def test_source_page_marks_each_local_once_per_function(snippets: Path) -> None:
    from explorer.config import Project
    from explorer.site.links import SiteIndex
    from explorer.site.pages import LinkContext, render_source_page

    project = Project.load(snippets)
    site = SiteIndex.load("linux-test", project.index_path("linux-test"), project.tree("linux-test"))
    html = render_source_page(site, LinkContext("linux-test"), PATH).html
    marks = re.findall(r"<a (class=ld )?data-l=(\d+)>(\w+)</a>", html)
    by_number: dict[str, set[str]] = {}
    for _, number, name in marks:
        by_number.setdefault(number, set()).add(name)
    assert all(len(names) == 1 for names in by_number.values())
    err_numbers = {n for n, names in by_number.items() if names == {"err"}}
    assert len(err_numbers) == 2  # pebble_weigh's and pebble_other's
    declared = [name for decl, _, name in marks if decl]
    assert sorted(declared) == sorted(["p", "scale", "err", "total", "spare", "err", "addr", "pb", "fd", "flags"])
    # a mark never hides a link: the calls and the member stay links
    assert re.search(r'<a href="#L\d+">pebble_other</a>\(<a data-l=\d+>fd</a>', html)
    assert re.search(r'<a data-l=\d+>p</a>-&gt;<a href="#L\d+">weight</a>', html)


@requires_vendored
@pytest.mark.vendored
def test_vendored_err_of_inet_csk_listen_start(capsys) -> None:  # type: ignore[no-untyped-def]
    from explorer.store import Index

    with Index(VENDORED_INDEX) as index:
        (fn,) = [s for s in index.lookup("inet_csk_listen_start") if s.kind == "function"]
    text = (VENDORED_TREE / fn.path).read_text(encoding="utf-8", errors="replace").splitlines()
    body = range(fn.line, fn.end_line + 1)
    want = []
    for n in body:
        for m in re.finditer(r"\berr\b", text[n - 1]):
            after = text[n - 1][m.end():]
            role = "decl" if text[n - 1].strip() == "int err;" else "write" if re.match(r"\s*=[^=]", after) else "read"
            want.append((n, m.start(), role))
    assert main(["refs", "err", "--in", "inet_csk_listen_start", "--json"]) == 0
    got = [(r["line"], r["col"], r["role"]) for r in json.loads(capsys.readouterr().out)]
    assert got == want and len(want) > 4
