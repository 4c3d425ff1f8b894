"""Tracepoints: TRACE_EVENT(name, ...) and DEFINE_EVENT(class, name, ...) define trace_NAME, the function the
kernel calls where the event fires, so `kexplore lookup trace_inet_sock_set_state` finds it and `callers` lists
where it fires.

The fixture is written for this project; every expected line is computed from its text.  The vendored part
checks the tracepoints of the connection path in 6.1.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import VENDORED_TREE, indexed_snippets, requires_vendored
from conftest import run_cli as run

from explorer.cli import main

HEADER = """\
/* SPDX-License-Identifier: GPL-2.0 */
#if !defined(_TRACE_PEBBLE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_PEBBLE_H

#include <linux/tracepoint.h>

/*
TRACE_EVENT(pebble_in_a_comment,
	TP_PROTO(int x),
	TP_ARGS(x)
);
*/

#define PEBBLE_EVENTS(name)					\\
DEFINE_EVENT(pebble_class, name,				\\
	TP_PROTO(struct pebble *p), TP_ARGS(p))

DECLARE_EVENT_CLASS(pebble_class,

	TP_PROTO(struct pebble *p),

	TP_ARGS(p),

	TP_STRUCT__entry(
		__field(int, weight)
	),

	TP_fast_assign(
		__entry->weight = p->weight;
	),

	TP_printk("weight=%d", __entry->weight)
);

DEFINE_EVENT(pebble_class, pebble_drop,

	TP_PROTO(struct pebble *p),

	TP_ARGS(p)
);

TRACE_EVENT(pebble_state,

	TP_PROTO(struct pebble *p, int old),

	TP_ARGS(p, old),

	TP_STRUCT__entry(
		__field(int, old)
	),

	TP_fast_assign(
		__entry->old = old;
	),

	TP_printk("old=%d", __entry->old)
);

#endif /* _TRACE_PEBBLE_H */
"""
SOURCE = """\
#include <trace/events/pebble.h>

struct pebble { int weight; };

void pebble_set(struct pebble *p, int state)
{
	trace_pebble_state(p, p->weight);
	p->weight = state;
}

void pebble_lose(struct pebble *p)
{
	trace_pebble_drop(p);
}
"""
H_PATH = "include/trace/events/pebble.h"
C_PATH = "net/ipv4/pebble_trace.c"


def line_in(text: str, pattern: str) -> int:
    (n,) = [i + 1 for i, t in enumerate(text.splitlines()) if re.search(pattern, t)]
    return n


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return indexed_snippets(tmp_path_factory, "tracepoints", {H_PATH: HEADER, C_PATH: SOURCE})


def lookup(capsys, snippets: Path, name: str) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "lookup", name, "--json")
    return json.loads(out) if code == 0 else []


def test_trace_event_and_define_event_define_trace_functions(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    for name, macro_line, signature in (
            ("trace_pebble_state", r"^TRACE_EVENT\(pebble_state,", "TRACE_EVENT(pebble_state, TP_PROTO(struct pebble *p, int old)"),
            ("trace_pebble_drop", r"^DEFINE_EVENT\(pebble_class, pebble_drop,", "DEFINE_EVENT(pebble_class, pebble_drop, TP_PROTO(struct pebble *p)")):
        (row,) = lookup(capsys, snippets, name)
        line = line_in(HEADER, macro_line)
        short = name.removeprefix("trace_")
        assert (row["kind"], row["path"], row["line"]) == ("function", H_PATH, line)
        assert row["col"] == HEADER.splitlines()[line - 1].index(short)
        assert row["signature"] == signature
        # the definition is the whole macro call, to its closing `);`
        end = next(n for n in range(line, len(HEADER.splitlines()) + 1) if HEADER.splitlines()[n - 1] == ");")
        assert row["end_line"] == end


def test_a_class_a_comment_and_a_macro_body_define_no_tracepoint(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    for name in ("trace_pebble_class", "trace_pebble_in_a_comment", "trace_name"):
        code, _, err = run(capsys, snippets, "lookup", name)
        assert code != 0 and "no definition" in err, name


def test_callers_of_a_tracepoint_are_where_it_fires(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    for name, caller, pattern in (("trace_pebble_state", "pebble_set", r"trace_pebble_state\("),
                                  ("trace_pebble_drop", "pebble_lose", r"trace_pebble_drop\(")):
        code, out, _ = run(capsys, snippets, "callers", name, "--json")
        assert code == 0
        rows = [(r["name"], r["path"], r["line"]) for r in json.loads(out)["children"]]
        assert rows == [(caller, C_PATH, line_in(SOURCE, pattern))]


@requires_vendored
@pytest.mark.vendored
@pytest.mark.parametrize(("name", "header", "firing"), [
    ("trace_inet_sock_set_state", "include/trace/events/sock.h", "net/ipv4/af_inet.c"),
    ("trace_tcp_retransmit_synack", "include/trace/events/tcp.h", "net/ipv4/tcp_output.c"),
])
def test_vendored_tracepoints_of_the_connection_path(capsys, name: str, header: str, firing: str) -> None:  # type: ignore[no-untyped-def]
    short = name.removeprefix("trace_")
    text = (VENDORED_TREE / header).read_text(encoding="utf-8").splitlines()
    (line,) = [i + 1 for i, t in enumerate(text) if re.match(rf"^(TRACE_EVENT|DEFINE_EVENT)\((\w+, )?{short},", t)]
    assert main(["lookup", name, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["path"], r["line"]) for r in rows] == [("function", header, line)]
    fires = [i + 1 for i, t in enumerate((VENDORED_TREE / firing).read_text(encoding="utf-8").splitlines()) if f"{name}(" in t]
    assert fires
    assert main(["callers", name, "--json"]) == 0
    sites = {(r["path"], r["line"]) for r in json.loads(capsys.readouterr().out)["children"]}
    assert {(firing, n) for n in fires} <= sites


@pytest.mark.parametrize("src", [
    b"".join(b"DEFINE_EVENT(c, ev%d, TP_PROTO(int x), TP_ARGS(x));\n" % i for i in range(3000)),  # many
    b"TRACE_EVENT(never_closed, TP_PROTO(int x),\n" + b"\tTP_ARGS(x),\n" * 3000,  # never closed: nothing
    b"TRACE_EVENT(\"no name\", TP_PROTO(int x));\nDEFINE_EVENT(only_a_class);\nTRACE_EVENT(" + b"(" * 5000 + b"\n",
])
def test_hostile_tracepoints_are_indexed_around(src: bytes) -> None:
    from explorer.cparse import make_parser, parse_definitions

    result = parse_definitions(make_parser(), src, "include/trace/events/hostile.h")
    traces = [d for d in result.definitions if d.name.startswith("trace_")]
    if src.startswith(b"DEFINE_EVENT(c, ev0"):
        assert [(d.name, d.line, d.start_line) for d in traces] == [(f"trace_ev{i}", i + 1, i + 1) for i in range(3000)]
    else:
        assert traces == []


def test_an_event_body_is_its_probe_and_leaves_no_error_region() -> None:
    from explorer.cparse import make_parser, parse_definitions

    result = parse_definitions(make_parser(), HEADER.encode(), H_PATH)
    assert result.error_nodes == 0
    defs = {d.name: d for d in result.definitions}
    assert "TP_PROTO" not in defs
    for probe, pattern in (("trace_event_raw_event_pebble_class", r"^DECLARE_EVENT_CLASS\(pebble_class,"),
                           ("trace_event_raw_event_pebble_state", r"^TRACE_EVENT\(pebble_state,")):
        assert (defs[probe].kind, defs[probe].line, defs[probe].scope) == ("function", line_in(HEADER, pattern), "file")
    assigns = [r for r in result.refs if r.func == "trace_event_raw_event_pebble_class"]
    assert ("weight", "read", line_in(HEADER, r"__entry->weight = p->weight")) in {(r.name, r.role, r.line) for r in assigns}
    assert not [r for r in result.refs if r.func is None and r.name in ("__entry", "weight", "old")]


# xfs_trace.h ends its events without a `;`; btrfs wraps the assignments and the format in macros of its own
UNTERMINATED = """\
#define TP_fast_assign_pebble(owner, args...) TP_fast_assign(__entry->owner = owner; args)
#define TP_printk_pebble(fmt, args...) TP_printk("%d " fmt, __entry->owner, args)

DECLARE_EVENT_CLASS(pebble_bare_class,
	TP_PROTO(struct pebble *p),
	TP_ARGS(p),
	TP_STRUCT__entry(
		__field(int, weight)
	),
	TP_fast_assign(
		__entry->weight = pebble_weight(p);
	),
	TP_printk("weight=%d", __entry->weight)
)

TRACE_EVENT(pebble_wrapped,
	TP_PROTO(struct pebble *p),
	TP_ARGS(p),
	TP_STRUCT__entry(
		__field(int, owner)
	),
	TP_fast_assign_pebble(pebble_owner(p),
		__entry->weight = pebble_weight(p);
	),
	TP_printk_pebble("w=%d", __entry->weight)
);
"""


def test_an_event_without_its_semicolon_and_a_wrapped_assignment_are_probes_with_their_calls() -> None:
    from explorer.cparse import make_parser, parse_definitions

    result = parse_definitions(make_parser(), UNTERMINATED.encode(), H_PATH, refs=True)
    assert result.error_nodes == 0
    defs = {d.name: d for d in result.definitions}
    calls = {(r.func, r.name, r.line) for r in result.refs if r.role == "call"}
    bare, wrapped = "trace_event_raw_event_pebble_bare_class", "trace_event_raw_event_pebble_wrapped"
    assert defs[bare].line == line_in(UNTERMINATED, r"^DECLARE_EVENT_CLASS\(pebble_bare_class,")
    assert defs[wrapped].line == line_in(UNTERMINATED, r"^TRACE_EVENT\(pebble_wrapped,")
    (first, second) = [i + 1 for i, t in enumerate(UNTERMINATED.splitlines()) if "__entry->weight = pebble_weight(p)" in t]
    assert (bare, "pebble_weight", first) in calls
    assert (wrapped, "pebble_weight", second) in calls
    assert (wrapped, "pebble_owner", line_in(UNTERMINATED, r"TP_fast_assign_pebble\(pebble_owner")) in calls
