"""Dispatch that knows the protocol (issue 11, item 2).

A fixture written for this project: an invented socket family "wisp" whose registrations pair
ops tables the way inetsw_array and tcpv6_protosw do (an array of entries, and a single
variable), with a second family that reuses one of the first family's functions in its own
table (as inet6_stream_ops reuses inet_stream_connect).  Lines are computed from the text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import VENDORED_INDEX, VENDORED_TREE, indexed_snippets, requires_vendored
from conftest import json_children as rows
from conftest import run_cli as run

from explorer.cli import main

HEADER = """\
struct wisp_sock;

struct wisp_ops {
\tint (*connect)(struct wisp_sock *ws);
\tint (*listen)(struct wisp_sock *ws);
};

struct wisp_proto {
\tint (*connect)(struct wisp_sock *ws);
};

struct wisp_sk {
\tstruct wisp_proto *sk_prot;
};

struct wisp_sock {
\tconst struct wisp_ops *ops;
\tstruct wisp_sk *sk;
};

struct wisp_entry {
\tint kind;
\tstruct wisp_proto *prot;
\tconst struct wisp_ops *ops;
};

struct wisp_pair_of_same {
\tconst struct wisp_ops *a;
\tconst struct wisp_ops *b;
};

struct wisp_counter {
\tint value;
};
"""

FILES = {
    "include/net/wisp.h": HEADER,
    "net/wisp/af_wisp.c": """\
#include <net/wisp.h>

extern struct wisp_proto reliable_prot;
extern struct wisp_proto quick_prot;

int __wisp_stream_connect(struct wisp_sock *ws)
{
\treturn ws->sk->sk_prot->connect(ws);
}

int wisp_stream_connect(struct wisp_sock *ws)
{
\treturn __wisp_stream_connect(ws);
}

int wisp_dgram_connect(struct wisp_sock *ws)
{
\treturn ws->sk->sk_prot->connect(ws);
}

int wisp_listen(struct wisp_sock *ws)
{
\treturn 0;
}

const struct wisp_ops wisp_stream_ops = {
\t.connect\t= wisp_stream_connect,
\t.listen\t\t= wisp_listen,
};

const struct wisp_ops wisp_dgram_ops = {
\t.connect\t= wisp_dgram_connect,
};

static struct wisp_counter wisp_stats;

static struct wisp_entry wisp_entries[] = {
\t{
\t\t.kind = 1,
\t\t.prot = &reliable_prot,
\t\t.ops = &wisp_stream_ops,
\t},
\t{
\t\t.kind = 2,
\t\t.prot = &quick_prot,
\t\t.ops = &wisp_dgram_ops,
\t},
};

static struct wisp_pair_of_same wisp_same = {
\t.a = &wisp_stream_ops,
\t.b = &wisp_dgram_ops,
};

int wisp_sys_connect(struct wisp_sock *ws)
{
\treturn ws->ops->connect(ws);
}
""",
    "net/wisp/reliable.c": """\
#include <net/wisp.h>

int reliable_connect(struct wisp_sock *ws)
{
\treturn wisp_send_syn(ws);
}

int wisp_send_syn(struct wisp_sock *ws)
{
\treturn 1;
}

struct wisp_proto reliable_prot = {
\t.connect\t= reliable_connect,
};
""",
    "net/wisp/quick.c": """\
#include <net/wisp.h>

int quick_connect(struct wisp_sock *ws)
{
\treturn 0;
}

struct wisp_proto quick_prot = {
\t.connect\t= quick_connect,
};
""",
    # the second family: its own proto, and a table reusing the first family's connect
    "net/wisp6/af_wisp6.c": """\
#include <net/wisp.h>

int reliable6_connect(struct wisp_sock *ws)
{
\treturn 0;
}

struct wisp_proto reliable6_prot = {
\t.connect\t= reliable6_connect,
};

const struct wisp_ops wisp6_stream_ops = {
\t.connect\t= wisp_stream_connect,
};

static struct wisp_entry wisp6_entry = {
\t.kind = 1,
\t.prot = &reliable6_prot,
\t.ops = &wisp6_stream_ops,
};
""",
}

AF, REL, AF6 = "net/wisp/af_wisp.c", "net/wisp/reliable.c", "net/wisp6/af_wisp6.c"


def line_in(rel: str, needle: str, nth: int = 0) -> int:
    return [i + 1 for i, text in enumerate(FILES[rel].splitlines()) if needle in text][nth]


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return indexed_snippets(tmp_path_factory, "dispatch", FILES)


def test_initializers_pairing_tables_of_two_ops_types_make_groups(snippets: Path) -> None:
    from explorer.config import Project
    from explorer.store import Index

    with Index(Project.load(snippets).index_path("linux-test")) as index:
        groups = index.ops_groups()
        found = {(g.path, g.line, g.holder, tuple(sorted(g.tables))) for g in groups.groups}
    assert found == {
        # each entry of the array is a group, at the entry's first line
        (AF, line_in(AF, "\t{", 0), "wisp_entries", (("reliable_prot", "wisp_proto"), ("wisp_stream_ops", "wisp_ops"))),
        (AF, line_in(AF, "\t{", 1), "wisp_entries", (("quick_prot", "wisp_proto"), ("wisp_dgram_ops", "wisp_ops"))),
        # a single variable of the same shape
        (AF6, line_in(AF6, "static struct wisp_entry wisp6_entry"), "wisp6_entry",
         (("reliable6_prot", "wisp_proto"), ("wisp6_stream_ops", "wisp_ops"))),
    }  # wisp_same pairs two tables of one type, and wisp_stats is no ops table: neither makes a group
    assert groups.partners("wisp_stream_ops", "wisp_proto") == {"reliable_prot"}
    assert groups.partners("wisp_dgram_ops", "wisp_proto") == {"quick_prot"}


def test_rows_through_an_ops_member_name_their_tables(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    got = rows(capsys, snippets, "callees", "wisp_sys_connect")
    by_name = {r["name"]: r for r in got}
    assert by_name["wisp_stream_connect"]["tables"] == ["wisp6_stream_ops", "wisp_stream_ops"]
    assert by_name["wisp_stream_connect"]["table"] is None  # two tables store it
    assert by_name["wisp_dgram_connect"]["table"] == "wisp_dgram_ops"
    code, out, _ = run(capsys, snippets, "callees", "wisp_sys_connect")
    assert code == 0 and "via wisp_ops.connect in wisp_dgram_ops" in out
    assert "via wisp_ops.connect in wisp6_stream_ops, wisp_stream_ops" in out


@pytest.mark.parametrize("table, want", [
    ("wisp_stream_ops", {"reliable_connect"}),
    ("reliable_prot", {"reliable_connect"}),
    ("wisp6_stream_ops", {"reliable6_connect"}),
    ("wisp_dgram_ops", {"quick_connect"}),
])
def test_ops_narrows_calls_through_members_to_the_tables_paired_with_it(capsys, snippets: Path, table: str,  # type: ignore[no-untyped-def]
                                                                         want: set[str]) -> None:
    wide = {r["name"] for r in rows(capsys, snippets, "callees", "__wisp_stream_connect")}
    assert wide == {"reliable_connect", "quick_connect", "reliable6_connect"}
    narrowed = rows(capsys, snippets, "callees", "__wisp_stream_connect", "--ops", table)
    assert {r["name"] for r in narrowed} == want
    assert all(r["via"] == "wisp_proto.connect" and r["line"] == line_in(AF, "sk_prot->connect") for r in narrowed)


def test_ops_narrows_callers_and_the_tables_a_row_names(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    (only,) = rows(capsys, snippets, "callees", "wisp_sys_connect", "--ops", "reliable_prot")
    assert (only["name"], only["tables"], only["table"]) == ("wisp_stream_connect", ["wisp_stream_ops"], "wisp_stream_ops")
    callers = rows(capsys, snippets, "callers", "reliable_connect")
    assert {(r["name"], r["line"]) for r in callers} == {
        ("__wisp_stream_connect", line_in(AF, "sk_prot->connect", 0)), ("wisp_dgram_connect", line_in(AF, "sk_prot->connect", 1))}
    assert rows(capsys, snippets, "callers", "reliable_connect", "--ops", "reliable6_prot") == []
    assert rows(capsys, snippets, "callers", "reliable_connect", "--ops", "wisp_dgram_ops") == []  # dgram goes with quick_prot
    # on a stream socket, wisp_dgram_connect (stored only in the datagram table) is no caller
    assert [r["name"] for r in rows(capsys, snippets, "callers", "reliable_connect", "--ops", "wisp_stream_ops")] == [
        "__wisp_stream_connect"]
    # a direct call stays, unless its caller is stored only in tables the socket cannot have
    assert [r["name"] for r in rows(capsys, snippets, "callers", "wisp_send_syn", "--ops", "reliable_prot")] == ["reliable_connect"]
    assert rows(capsys, snippets, "callers", "wisp_send_syn", "--ops", "quick_prot") == []
    assert [r["name"] for r in rows(capsys, snippets, "callees", "wisp_stream_connect", "--ops", "quick_prot")] == [
        "__wisp_stream_connect"]


def test_path_prefers_a_consistent_chain_to_a_shorter_wide_one(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, snippets, "path", "wisp_sys_connect", "wisp_send_syn", "--json")
    assert code == 0
    chain = json.loads(out)
    assert [s["name"] for s in chain] == ["wisp_stream_connect", "__wisp_stream_connect", "reliable_connect", "wisp_send_syn"]
    assert all(s["consistent"] for s in chain)
    assert [s["tables"] for s in chain] == [["wisp_stream_ops"], [], ["reliable_prot"], []]
    code, out, _ = run(capsys, snippets, "path", "wisp_sys_connect", "wisp_send_syn")
    assert "via wisp_ops.connect in wisp_stream_ops" in out and "note:" not in out
    # through the datagram table only the wide reading connects them (quick_prot does not call it): said so
    code, out, _ = run(capsys, snippets, "path", "wisp_sys_connect", "wisp_send_syn", "--ops", "wisp_dgram_ops")
    assert code == 0 and "wisp_dgram_connect" in out and "wide reading" in out
    code, out, _ = run(capsys, snippets, "path", "wisp_sys_connect", "wisp_send_syn", "--ops", "wisp_dgram_ops", "--json")
    assert [s["name"] for s in json.loads(out)] == ["wisp_dgram_connect", "reliable_connect", "wisp_send_syn"]
    assert not any(s["consistent"] for s in json.loads(out))


def test_an_unknown_table_is_a_one_line_error_with_suggestions(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    for argv in (["callees", "wisp_sys_connect"], ["callers", "reliable_connect"], ["path", "wisp_sys_connect", "wisp_send_syn"]):
        code, out, err = run(capsys, snippets, *argv, "--ops", "wisp_streem_ops")
        assert code == 1 and out == "" and err.count("\n") == 1
        assert "wisp_streem_ops is not an ops table" in err and "wisp_stream_ops" in err
    code, _, err = run(capsys, snippets, "callees", "wisp_sys_connect", "--ops", "wisp_stats")
    assert code == 1 and "wisp_stats is not an ops table" in err


@requires_vendored
@pytest.mark.vendored
def test_vendored_connect_goes_through_the_stream_table(capsys) -> None:  # type: ignore[no-untyped-def]
    def lines(rel: str, needle: str) -> list[int]:
        text = (VENDORED_TREE / rel).read_text(encoding="utf-8", errors="replace").splitlines()
        return [i + 1 for i, t in enumerate(text) if needle in t]

    def ask(*argv: str) -> object:
        assert main([*argv, "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    chain = ask("path", "sys_connect", "tcp_connect")
    assert isinstance(chain, list)
    names = [s["name"] for s in chain]
    assert "inet_stream_connect" in names and "inet_dgram_connect" not in names
    assert all(s["consistent"] for s in chain)
    stream = next(s for s in chain if s["name"] == "inet_stream_connect")
    assert stream["table"] == "inet_stream_ops" and stream["via"] == "proto_ops.connect"
    assert stream["line"] in lines("net/socket.c", "sock->ops->connect(")
    tcp = next(s for s in chain if s["name"] == "tcp_v4_connect")
    assert tcp["table"] == "tcp_prot" and tcp["line"] in lines("net/ipv4/af_inet.c", "sk->sk_prot->connect(")
    tree = ask("callees", "__sys_connect_file", "--ops", "tcp_prot")
    assert isinstance(tree, dict)
    through = {c["name"] for c in tree["children"] if c["via"]}
    assert through == {"inet_stream_connect"}
    wide = ask("callees", "__sys_connect_file")
    assert isinstance(wide, dict)
    assert {"inet_stream_connect", "inet_dgram_connect"} <= {c["name"] for c in wide["children"] if c["via"]}


@requires_vendored
@pytest.mark.vendored
def test_vendored_inetsw_entries_pair_each_proto_with_its_ops() -> None:
    from explorer.store import Index

    with Index(VENDORED_INDEX) as kernel:
        groups = [g for g in kernel.ops_groups().groups if g.holder == "inetsw_array"]
    text = (VENDORED_TREE / "net/ipv4/af_inet.c").read_text(encoding="utf-8", errors="replace").splitlines()
    start = next(i + 1 for i, t in enumerate(text) if "inetsw_array[] =" in t)
    pairs = {tuple(sorted(t for t, _ in g.tables)) for g in groups}
    assert ("inet_stream_ops", "tcp_prot") in pairs and ("inet_dgram_ops", "udp_prot") in pairs
    for g in groups:
        prot = next(t for t, ty in g.tables if ty == "proto")
        at = next(i + 1 for i, t in enumerate(text) if f"&{prot}," in t and i + 1 > start)
        assert start < g.line < at and text[g.line - 1].strip() == "{"
