"""Property-based: random and mutated C never crashes the parser or the indexer.

Mutations start from the project's own fixtures; every result must still be a list of
well-formed definitions (a known kind, a name, lines inside the file).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import fixture_bytes, make_project, symbols_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.cparse import make_parser, parse_definitions
from explorer.store import KINDS

SEEDS = [fixture_bytes(name) for name in ("widget.h", "widget.c", "recovery.c", "latin1.c")]
# Pieces of C that tend to confuse a parser when dropped anywhere.
TOKENS = [
    b"{", b"}", b"(", b")", b";", b"#if X\n", b"#endif\n", b"#else\n", b"#define M(a) \\\n", b"\\\n",
    b"/*", b"*/", b"//", b'"', b"'", b"struct ", b"union {", b"enum ", b"typedef ", b"SYSCALL_DEFINE2(",
    b"BPF_CALL_1(", b"__read_mostly", b"__init", b"EXPORT_SYMBOL(", b"\x00", b"\xff\xfe", b"\n", b"label:\n",
]

PARSER = make_parser()
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def parse_definitions_or_reject(src: bytes, path: str):  # type: ignore[no-untyped-def]
    return parse_definitions(PARSER, src, path)


def check_well_formed(src: bytes, path: str) -> None:
    result = parse_definitions_or_reject(src, path)
    lines = src.count(b"\n") + 1
    assert result.error_nodes >= 0
    assert result.lines <= lines
    for d in result.definitions:
        assert d.kind in KINDS, d
        assert isinstance(d.name, str) and d.name, d
        assert 1 <= d.line <= d.end_line <= lines, d
        assert d.col >= 0, d
        assert isinstance(d.signature, str), d
        assert d.cond is None or isinstance(d.cond, str), d
        d.name.encode("utf-8")
        d.signature.encode("utf-8")


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "token", "splice"]))
        at = draw(st.integers(min_value=0, max_value=len(data)))
        if op == "delete":
            del data[at : at + draw(st.integers(min_value=1, max_value=40))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "replace" and at < len(data):
            data[at] = draw(st.integers(min_value=0, max_value=255))
        elif op == "token":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif op == "splice":
            other = draw(st.sampled_from(SEEDS))
            start = draw(st.integers(min_value=0, max_value=len(other)))
            data[at:at] = other[start : start + draw(st.integers(min_value=1, max_value=200))]
    return bytes(data)


@PROPERTY_SETTINGS
@given(src=mutated(), header=st.booleans())
def test_mutated_fixtures_parse_into_well_formed_definitions(src: bytes, header: bool) -> None:
    check_well_formed(src, "include/net/m.h" if header else "net/ipv4/m.c")


@PROPERTY_SETTINGS
@given(src=st.binary(max_size=2000))
def test_random_bytes_never_crash(src: bytes) -> None:
    check_well_formed(src, "net/ipv4/random.c")


@PROPERTY_SETTINGS
@given(src=st.lists(st.sampled_from(TOKENS + [b"int ", b"x", b" ", b"=", b"1", b",", b"*", b"[", b"]"]), max_size=120).map(b"".join))
def test_random_token_soup_never_crashes(src: bytes) -> None:
    check_well_formed(src, "net/ipv4/soup.c")


@PROPERTY_SETTINGS
@given(text=st.text(max_size=500))
def test_random_text_never_crashes(text: str) -> None:
    check_well_formed(text.encode("utf-8", "surrogatepass"), "include/net/text.h")


@pytest.fixture(scope="module")
def scratch_project():  # type: ignore[no-untyped-def]
    folder = Path(tempfile.mkdtemp(prefix="kexplore-props-"))
    try:
        yield make_project(folder, {"net/ipv4/widget.c": fixture_bytes("widget.c")})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(src=mutated())
def test_the_indexer_takes_any_mutated_file(scratch_project, src: bytes) -> None:  # type: ignore[no-untyped-def]
    from explorer.indexer import build_index

    target = scratch_project.tree("linux-test") / "net/ipv4/mutant.c"
    before = target.stat().st_mtime_ns if target.exists() else 0
    target.write_bytes(src)
    # a new mtime for certain: the indexer trusts an unchanged (size, mtime) pair
    os.utime(target, ns=(before + 1_000_000_000, before + 1_000_000_000))
    expected = {(d.name, d.kind, "net/ipv4/mutant.c", d.line) for d in parse_definitions_or_reject(src, "net/ipv4/mutant.c").definitions}
    build_index(scratch_project, jobs=1)
    rows = symbols_of(scratch_project.index_path("linux-test"))
    assert {r for r in rows if r[2] == "net/ipv4/mutant.c"} == expected
    assert ("widget_attach", "function", "net/ipv4/widget.c") in {r[:3] for r in rows}
