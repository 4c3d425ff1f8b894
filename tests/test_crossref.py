"""Cross-references: roles, type-aware member resolution, field macros, ops-table calls, #if.

The fixture (tests/fixtures/xref/) is a made-up subsystem written for these tests; the
expected lines are found in it by text, never written down as numbers.  The last
part pins real resolutions in the vendored Linux tree the same way.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, VENDORED_INDEX, VENDORED_TREE, requires_vendored, write_kernels_toml

XREF = FIXTURES / "xref"
C_FILE = "net/ipv4/gadget.c"
H_FILE = "include/net/gadget.h"


def line_of(tree: Path, rel: str, needle: str, nth: int = 0) -> int:
    hits = [i + 1 for i, text in enumerate((tree / rel).read_text().splitlines()) if needle in text]
    assert len(hits) > nth, f"{needle!r} not in {rel}"
    return hits[nth]


@pytest.fixture(scope="module")
def gadget(tmp_path_factory):  # type: ignore[no-untyped-def]
    from explorer.config import Project
    from explorer.indexer import build_index
    from explorer.store import Index

    snippets = tmp_path_factory.mktemp("xref") / "kernel-snippets"
    write_kernels_toml(snippets)
    tree = snippets / "linux-test"
    shutil.copytree(XREF, tree)
    project = Project.load(snippets)
    build_index(project, jobs=1)
    index = Index(project.index_path("linux-test"))
    yield project, index, tree
    index.close()


def sites(refs) -> set[tuple[str, int, str]]:  # type: ignore[no-untyped-def]
    return {(r.path, r.line, r.role) for r in refs}


def test_member_through_local_of_known_type(gadget) -> None:  # type: ignore[no-untyped-def]
    _, index, tree = gadget
    line = line_of(tree, C_FILE, "WRITE_ONCE(g->gd_max_backlog")
    assert (C_FILE, line, "write") in sites(index.refs("gadget.gd_max_backlog"))


def test_field_macro_resolves_to_the_real_member_and_records_the_macro(gadget) -> None:  # type: ignore[no-untyped-def]
    _, index, tree = gadget
    written = line_of(tree, C_FILE, "g->gd_state = 10")
    read = line_of(tree, C_FILE, "if (g->gd_state != 10)")
    real = sites(index.refs("gadget_common.gc_state"))
    assert {(C_FILE, written, "write"), (C_FILE, read, "read")} <= real
    macro_uses = index.refs("gd_state")
    assert {(r.path, r.line) for r in macro_uses} >= {(C_FILE, written), (C_FILE, read)}
    assert {r.role for r in macro_uses} == {"macro"}


def test_anonymous_union_and_nested_anonymous_struct_members(gadget) -> None:  # type: ignore[no-untyped-def]
    _, index, tree = gadget
    assert (C_FILE, line_of(tree, C_FILE, "g->gd_flags |= 2"), "write") in sites(index.refs("gadget.gd_flags"))
    assert (C_FILE, line_of(tree, C_FILE, "g->gd_ack.pending = 1"), "write") in sites(index.refs("gadget.gd_ack.pending"))
    assert (C_FILE, line_of(tree, C_FILE, "g->gd_ack.pending = 1"), "read") in sites(index.refs("gadget.gd_ack"))


def test_chains_through_helper_return_types_container_of_and_typedef_casts(gadget) -> None:  # type: ignore[no-untyped-def]
    _, index, tree = gadget
    assert (C_FILE, line_of(tree, C_FILE, "fast" "q.max_qlen = 16"), "write") in sites(
        index.refs("gadget_queue.fastq.max_qlen")
    )
    qlen = sites(index.refs("gadget_queue.qlen"))
    assert (C_FILE, line_of(tree, C_FILE, "fg->fg_queue.qlen = 0"), "write") in qlen  # a local
    assert (C_FILE, line_of(tree, C_FILE, "fancy_gd_macro(gs->g)"), "write") in qlen  # container_of macro
    backlog = sites(index.refs("gadget.gd_backlog"))
    assert (C_FILE, line_of(tree, C_FILE, "((gadget_t *)g)->gd_backlog"), "read") in backlog  # typedef cast
    assert (C_FILE, line_of(tree, C_FILE, "the_gadget.gd_backlog = 0"), "write") in backlog  # a global
    assert (C_FILE, line_of(tree, C_FILE, "g->gd_backlog++"), "write") in backlog  # ++
    assert (C_FILE, line_of(tree, C_FILE, "READ_ONCE(g->gd_backlog)"), "read") in backlog


def test_unknown_base_is_recorded_unresolved_not_guessed(gadget) -> None:  # type: ignore[no-untyped-def]
    _, index, tree = gadget
    line = line_of(tree, C_FILE, "mystery()->gd_backlog")
    assert all(r.line != line for r in index.refs("gadget.gd_backlog"))
    row = index.db.execute(
        "SELECT a.target, a.reason FROM refs r JOIN access a ON a.id = r.access_id JOIN files f ON f.id = r.file_id"
        " WHERE f.path = ? AND r.line = ? AND r.name = 'gd_backlog'",
        (C_FILE, line),
    ).fetchone()
    assert row is not None and row[0] is None and row[1]


def test_roles_call_addr_type(gadget) -> None:  # type: ignore[no-untyped-def]
    _, index, tree = gadget
    assert (C_FILE, line_of(tree, C_FILE, "return gadget_listen_start(g);"), "call") in sites(index.refs("gadget_listen_start"))
    assert (C_FILE, line_of(tree, C_FILE, ".listen\t\t= gadget_listen"), "addr") in sites(index.refs("gadget_listen"))
    assert (C_FILE, line_of(tree, C_FILE, "static struct gadget the_gadget"), "type") in sites(index.refs("gadget"))


def test_calls_through_ops_tables(gadget) -> None:  # type: ignore[no-untyped-def]
    _, index, tree = gadget
    callees = {(e.name, e.line, e.via) for e in index.callees("__sys_gadget_listen")}
    assert ("gadget_listen", line_of(tree, C_FILE, "gs->ops->listen(gs, backlog)"), "gadget_ops.listen") in callees
    # through a field macro (gd_prot) and READ_ONCE
    assert ("gadget_accept", line_of(tree, C_FILE, "->accept(gs->g)"), "gadget_proto.accept") in callees
    callers = {(e.name, e.via) for e in index.callers("gadget_listen")}
    assert ("__sys_gadget_listen", "gadget_ops.listen") in callers
    chain = index.call_path("sys_gadget_listen", "gadget_listen_start")
    assert [e.name for e in chain] == ["__sys_gadget_listen", "gadget_listen", "gadget_listen_start"]
    assert [e.via for e in chain] == [None, "gadget_ops.listen", None]


def test_references_record_their_preprocessor_condition(gadget) -> None:  # type: ignore[no-untyped-def]
    _, index, tree = gadget
    (ref,) = index.refs("gadget_fastopen")
    assert ref.line == line_of(tree, C_FILE, "gadget_fastopen(g);")
    assert ref.cond == "CONFIG_GADGET_FASTOPEN"
    assert ref.function == "gadget_listen"


def test_struct_members_nested_and_embedding_chain(gadget) -> None:  # type: ignore[no-untyped-def]
    _, index, tree = gadget
    info = index.struct("fancy_gadget")
    assert info["embedding"] == ["fancy_gadget", "gadget", "gadget_common"]
    gadget_info = index.struct("gadget")
    names = [f["name"] for f in gadget_info["fields"]]
    assert names == ["__gd_common", "gd_backlog", "gd_max_backlog", "gd_flags", "gd_raw", "gd_ack"]
    ack = gadget_info["fields"][-1]
    assert [f["name"] for f in ack["fields"]] == ["pending", "quick"]
    assert ack["fields"][0]["line"] == line_of(tree, H_FILE, "unsigned char\tpending;")


def test_cli_json_shapes(gadget, capsys) -> None:  # type: ignore[no-untyped-def]
    from explorer.cli import main

    project, _, tree = gadget
    base = ["--snippets", str(project.snippets), "--json"]
    assert main(["refs", "gadget.gd_backlog", *base]) == 0
    refs = json.loads(capsys.readouterr().out)
    assert refs and set(refs[0]) >= {"path", "line", "col", "function", "role"}
    assert main(["callers", "gadget_listen", *base]) == 0
    callers = json.loads(capsys.readouterr().out)
    listen_def = (C_FILE, line_of(tree, C_FILE, "gadget_listen(struct gadget_sock"))
    rows = [{k: row[k] for k in ("name", "path", "line", "via", "def_path", "def_line")} for row in callers["children"]]
    assert {"name": "__sys_gadget_listen", "path": C_FILE, "line": line_of(tree, C_FILE, "gs->ops->listen(gs, backlog)"),
            "via": "gadget_ops.listen", "def_path": listen_def[0], "def_line": listen_def[1]} in rows
    assert callers["definitions"] == [{"path": listen_def[0], "line": listen_def[1]}]
    assert main(["callees", "gadget_listen", "--depth", "2", *base]) == 0
    tree_json = json.loads(capsys.readouterr().out)
    start = next(n for n in tree_json["children"] if n["name"] == "gadget_listen_start")
    assert {c["name"] for c in start["children"]} >= {"fancy_gd"}
    assert main(["struct", "gadget", *base]) == 0
    info = json.loads(capsys.readouterr().out)
    assert set(info) >= {"name", "path", "line", "fields"} and info["path"] == H_FILE
    assert main(["refs", "gadget.gd_backlog", "--role", "write", *base]) == 0
    assert {r["role"] for r in json.loads(capsys.readouterr().out)} == {"write"}
    assert main(["path", "sys_gadget_listen", "gadget_listen_start", *base]) == 0
    assert [s["name"] for s in json.loads(capsys.readouterr().out)][-1] == "gadget_listen_start"
    assert main(["refs", "gadget_listn", *base]) == 1
    assert "did you mean: gadget_listen" in capsys.readouterr().err


def test_changed_header_re_resolves_unchanged_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from explorer.config import Project
    from explorer.indexer import build_index
    from explorer.store import Index

    snippets = tmp_path / "kernel-snippets"
    write_kernels_toml(snippets)
    tree = snippets / "linux-test"
    shutil.copytree(XREF, tree)
    project = Project.load(snippets)
    build_index(project, jobs=1)
    with Index(project.index_path("linux-test")) as index:
        assert index.refs("gadget_queue.qlen")
    header = tree / H_FILE
    header.write_text(header.read_text().replace("int\t\t\tqlen;", "int\t\t\tlength;"))
    result = build_index(project, jobs=1)
    assert result.changed == [H_FILE]  # the .c file is not parsed again...
    with Index(project.index_path("linux-test")) as index:
        assert index.refs("gadget_queue.qlen") == []  # ...but its accesses are resolved again
        assert index.lookup("gadget_queue.length")


SELF_NAMING_MACRO_C = """\
struct loop_box {
	struct loop_box *b;
	int real;
};
#define looped b.looped
#define looped_twice b.looped_back
#define looped_back b.looped_twice

int loop_user(struct loop_box *x)
{
	return x->looped + x->looped_twice + x->real;
}
"""


def test_a_field_macro_that_names_itself_is_left_unresolved(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`#define looped b.looped` made resolution recurse without end and the whole index fail."""
    from conftest import make_project

    from explorer.indexer import build_index
    from explorer.store import Index

    project = make_project(tmp_path / "snippets", {C_FILE: SELF_NAMING_MACRO_C})
    build_index(project, jobs=1)
    with Index(project.index_path("linux-test")) as index:
        assert sites(index.refs("loop_box.real")) == {(C_FILE, line_of(project.tree("linux-test"), C_FILE, "x->real"), "read")}
        assert index.refs("loop_box.looped") == [] and index.refs("loop_box.looped_twice") == []


# ---------------------------------------------------------------- the vendored kernel



@pytest.fixture(scope="module")
def kernel():  # type: ignore[no-untyped-def]
    from explorer.store import Index

    index = Index(VENDORED_INDEX)
    yield index
    index.close()


def vline(rel: str, needle: str, within: tuple[int, int] | None = None) -> int:
    for i, text in enumerate((VENDORED_TREE / rel).read_text(errors="replace").splitlines()):
        if needle in text and (within is None or within[0] <= i + 1 <= within[1]):
            return i + 1
    raise AssertionError(f"{needle!r} not in {rel}")


def body_of(index, name: str) -> tuple[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    sym = next(s for s in index.lookup(name) if s.kind == "function")
    return sym.path, (sym.line, sym.end_line)


@requires_vendored
@pytest.mark.vendored
def test_vendored_sk_state_is_skc_state_through_the_macro(kernel) -> None:  # type: ignore[no-untyped-def]
    path, span = body_of(kernel, "inet_listen")
    line = vline(path, "sk->sk_state", span)
    assert (path, line) in {(r.path, r.line) for r in kernel.refs("sock_common.skc_state")}
    assert (path, line, "macro") in sites(kernel.refs("sk_state"))


@requires_vendored
@pytest.mark.vendored
def test_vendored_ops_listen_reaches_inet_listen(kernel) -> None:  # type: ignore[no-untyped-def]
    path, span = body_of(kernel, "__sys_listen")
    line = vline(path, "sock->ops->listen(", span)
    assert ("inet_listen", path, line, "proto_ops.listen") in {(e.name, e.path, e.line, e.via) for e in kernel.callees("__sys_listen")}


@requires_vendored
@pytest.mark.vendored
@pytest.mark.parametrize(
    "start, goal, through",
    [
        ("sys_listen", "reqsk_queue_alloc", ["__sys_listen", "inet_listen", "inet_csk_listen_start"]),
        ("sys_listen", "inet_csk_get_port", ["inet_listen", "inet_csk_listen_start"]),
        ("inet_stream_connect", "tcp_connect", ["__inet_stream_connect", "tcp_v4_connect"]),
        ("tcp_v4_rcv", "tcp_conn_request", ["tcp_v4_conn_request"]),
        ("tcp_check_req", "inet_csk_reqsk_queue_add", ["inet_csk_complete_hashdance"]),
        ("inet_accept", "reqsk_queue_remove", ["inet_csk_accept"]),
    ],
)
def test_vendored_connection_paths_are_connected(kernel, start: str, goal: str, through: list[str]) -> None:  # type: ignore[no-untyped-def]
    chain = kernel.call_path(start, goal)
    assert chain is not None, f"no chain {start} → {goal}"
    names = [e.name for e in chain]
    assert names[-1] == goal
    # the chain goes through each named function, or an equally short alternative (on the whole
    # tree, sys_listen reaches inet_csk_listen_start through proto_ops.listen of TCP or of DCCP)
    for name in through:
        assert name in names or (kernel.call_path(start, name) is not None and kernel.call_path(name, goal) is not None), (name, names)


@requires_vendored
@pytest.mark.vendored
def test_vendored_accept_queue_chain_through_inet_csk(kernel) -> None:  # type: ignore[no-untyped-def]
    refs = kernel.refs("inet_connection_sock.icsk_accept_queue")
    sites_ = {(r.path, r.line) for r in refs}
    text = (VENDORED_TREE / "net/ipv4/inet_connection_sock.c").read_text().splitlines()
    expected = [i + 1 for i, t in enumerate(text) if "inet_csk(sk)->icsk_accept_queue" in t]
    assert expected and all(("net/ipv4/inet_connection_sock.c", n) in sites_ for n in expected)


@requires_vendored
@pytest.mark.vendored
def test_vendored_member_resolution_rate(kernel) -> None:  # type: ignore[no-untyped-def]
    total, resolved = kernel.db.execute(
        "SELECT count(*), count(a.target) FROM refs r JOIN access a ON a.id = r.access_id JOIN files f ON f.id = r.file_id"
        " WHERE f.path LIKE 'net/ipv4/%' OR f.path LIKE 'net/core/%'"
    ).fetchone()
    assert total > 10000
    assert resolved / total >= 0.95


@requires_vendored
@pytest.mark.vendored
def test_vendored_struct_embedding(kernel) -> None:  # type: ignore[no-untyped-def]
    assert kernel.struct("tcp_sock")["embedding"] == ["tcp_sock", "inet_connection_sock", "inet_sock", "sock", "sock_common"]
