"""What `kexplore lookup` imports: a test of imports, not of time (issue 10's lookup figure is
benchmarks/lookup_time.py's).

Each command runs as a program (`python -X importtime -m explorer ...`, from the checkout) on a real
index, twice: the first run derives kernels.toml's data and the map of annotated symbols, the second
finds them in the start-up cache (explorer/startcache.py), as every lookup after the first does.  A
lookup must not import the heavy modules (tree-sitter, Pygments, MkDocs, rich), nor those whose
import costs more than its query: dataclasses (with inspect, ast and dis), typing, tomllib, difflib
(only when a name is not found and suggestions are made), html, nor the project's modules that only
other commands need (explorer.history, explorer.opsgroups, explorer.kerneldoc, explorer.storerecords,
and explorer.annotations unless a page annotates the symbol).  argparse stays (with gettext, locale
and shutil, which its formatter imports).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, fixture_bytes, make_project

HEAVY = {"tree_sitter", "tree_sitter_c", "pygments", "mkdocs", "material", "rich", "markdown", "jinja2", "yaml"}
COSTLY = {"dataclasses", "inspect", "ast", "dis", "typing", "tomllib", "difflib", "html", "html.entities", "hashlib",
          "explorer.annotations", "explorer.history", "explorer.opsgroups", "explorer.kerneldoc", "explorer.storerecords",
          "explorer.indexer", "explorer.cparse", "explorer.xref", "explorer.vendor", "explorer.site", "explorer.labs"}
# What a lookup may import beyond what `python -c "import sqlite3, json"` imports, besides the project's modules:
# `-m` (runpy), argparse and what it imports as it builds a parser (gettext with locale, shutil with its compressors).
ARGPARSE = {"runpy", "argparse", "gettext", "locale", "_locale", "shutil", "fnmatch", "zlib", "bz2", "_bz2", "lzma", "_lzma",
            "_compression"}
OURS = {"explorer", "explorer.cli", "explorer.config", "explorer.console", "explorer.escaping", "explorer.safepath",
        "explorer.startcache", "explorer.store", "explorer.symbolcodes", "explorer.urls"}

PAGE = """---
annotations: true
---

# Widgets

## `widget_attach`

Attaching takes the queue's lock first.
"""

MODULE_RX = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from explorer.indexer import build_index

    root = tmp_path_factory.mktemp("imports")
    folder = root / "kernel-snippets"
    project = make_project(folder, {"net/ipv4/widget.c": fixture_bytes("widget.c"),
                                    "include/net/widget.h": fixture_bytes("widget.h")})
    build_index(project, jobs=1)
    page = root / "docs" / "annotations" / "widgets.md"
    page.parent.mkdir(parents=True)
    page.write_text(PAGE, encoding="utf-8")
    old = time.time() - 60  # settled: explorer.startcache does not cache files modified in the last seconds
    for path in (folder / "kernels.toml", page):
        os.utime(path, (old, old))
    return folder


def run(snippets: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "KEXPLORE_CACHE": str(snippets.parent / "cache")}
    env.pop("KEXPLORE_NO_STARTUP_CACHE", None)
    env.pop("KEXPLORE_DOCS", None)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "explorer", *args, "--snippets", str(snippets)],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    modules = set(MODULE_RX.findall(proc.stderr))
    assert "explorer.cli" in modules  # the profile was read
    return proc, modules


def floor() -> set[str]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import sqlite3, json"], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    return set(MODULE_RX.findall(proc.stderr))


def check_modules(modules: set[str], allowed: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    top = {m.split(".")[0] for m in modules}
    assert not top & HEAVY, sorted(top & HEAVY)
    assert not modules & (COSTLY - allowed), sorted(modules & (COSTLY - allowed))
    ours = {m for m in modules if m.split(".")[0] == "explorer"}
    assert ours <= OURS | allowed, sorted(ours - OURS - allowed)
    beyond = {m for m in modules - floor() if m.split(".")[0] != "explorer"}
    assert beyond <= ARGPARSE | allowed, sorted(beyond - ARGPARSE - allowed)


@pytest.mark.parametrize("args", [
    ("lookup", "widget_detach", "--json"),
    ("lookup", "widget_detach"),
    ("lookup", "wq_poke", "--json"),  # a bare member name: the members of every struct that has it
    ("doc", "widget_queue", "--json"),
    ("search", "widget", "--json"),
])
def test_a_lookup_imports_only_what_it_needs(snippets: Path, args: tuple[str, ...]) -> None:
    first, _ = run(snippets, *args)  # may derive and cache kernels.toml's data and the annotated symbols
    again, modules = run(snippets, *args)
    assert again.returncode == first.returncode == 0 and again.stdout == first.stdout and again.stdout
    check_modules(modules, {"explorer.annotations"} if args[0] == "search" else set())  # search finds widget_attach too


def test_an_annotated_lookup_reads_its_annotation(snippets: Path) -> None:
    run(snippets, "lookup", "widget_attach", "--json")
    proc, modules = run(snippets, "lookup", "widget_attach", "--json")
    assert json.loads(proc.stdout)[0]["annotation"] == "Attaching takes the queue's lock first."
    check_modules(modules, {"explorer.annotations"})  # the one page that annotates it is parsed
    proc, modules = run(snippets, "lookup", "widget_detach", "--json")
    assert json.loads(proc.stdout)[0]["annotation"] is None
    assert "explorer.annotations" not in modules  # no page annotates it: none is read


def test_an_unknown_name_gets_suggestions(snippets: Path) -> None:
    proc, modules = run(snippets, "lookup", "widget_atach", "--json")
    assert proc.returncode == 1 and proc.stdout == ""
    said = [line for line in proc.stderr.splitlines() if not line.startswith("import time:")]
    assert said == ["kexplore: no definition named 'widget_atach' in linux-test",
                    "did you mean: widget_attach, widget_detach, widget_ops.attach, widget_ops.detach, widget_table"]
    check_modules(modules, {"difflib", "heapq", "_heapq"})  # suggestions are difflib's, imported for them alone


def test_other_commands_import_the_records_they_build(snippets: Path) -> None:
    proc, modules = run(snippets, "refs", "widget_attach", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)
    assert {"explorer.storerecords", "dataclasses"} <= modules


def test_the_named_tuples_annotations_name_their_fields() -> None:
    """mypy reads a record's fields from its annotations, the program from the named tuple: the two must agree."""
    from explorer.annotations import Anchor, Finding
    from explorer.config import KernelSpec, Project
    from explorer.store import Export, KernelDoc, Symbol, Syscall, _Definition

    for record in (KernelSpec, Project, Export, KernelDoc, Symbol, Syscall, _Definition, Anchor, Finding):
        assert record._fields == tuple(record.__annotations__), record.__name__
        assert record.__slots__ == ()  # no __dict__: an attribute misspelt in an assignment fails
    sym = Symbol("a", "function", "x.c", 3, 4, "global", "int a(void)")
    assert sym.as_dict() == {"name": "a", "kind": "function", "path": "x.c", "line": 3, "end_line": 4, "scope": "global",
                             "signature": "int a(void)", "cond": None, "col": 0, "start_line": 0, "start_byte": 0,
                             "end_byte": 0}
    assert KernelDoc.from_row("x.c", 2, "sum", None, None, None, None).member
