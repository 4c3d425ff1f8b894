"""Members declared through macros (issue 11, item 5): DECLARE_BITMAP, DEFINE_SNMP_STAT and
its kin, DECLARE_FLEX_ARRAY, __bpf_md_ptr, NET_DEV_STAT, struct_group and its kin.

The C here is written for these tests; lines and columns are found in it by text.  The
last tests pin real resolutions in the vendored tree, lines computed from its files.
"""

from __future__ import annotations

import json

import pytest
from conftest import VENDORED_INDEX, VENDORED_TREE, by_name, make_project, requires_vendored

from explorer.cparse import make_parser, parse_definitions, prepare_source

DEVCONF_H = b"""\
#ifndef _WIDGET_H
#define _WIDGET_H
#define DECLARE_BITMAP(name, bits) unsigned long name[BITS_TO_LONGS(bits)]
#define DEFINE_SNMP_STAT(type, name)	\\
	__typeof__(type) __percpu *name
struct widget_stats { unsigned long in, out; };
struct widget_conf {
	void	*sysctl;
	DECLARE_BITMAP(state, WIDGET_CONF_MAX + 1);
	int	data[WIDGET_CONF_MAX];
};
struct widget_mib {
	DEFINE_SNMP_STAT(struct widget_stats, wd_statistics);
	DEFINE_SNMP_STAT_ATOMIC(struct widget_stats, wd_atomic);
};
struct widget_addr {
	unsigned short family;
	union {
		char data_min[14];
		DECLARE_FLEX_ARRAY(char, wa_data);
	};
};
struct widget_iter {
	__bpf_md_ptr(struct widget_conf __rcu *, conf);
};
struct widget_dev_stats {
	NET_DEV_STAT(rx_packets);
	NET_DEV_STAT(tx_dropped);
};
struct widget_buff {
	int len;
	struct_group_tagged(widget_headers, headers,
		int	prio;
		struct widget_conf *hconf;
	);
	struct_group(addrs, /* a comment (with parens, and a comma) */
		unsigned int saddr;
		unsigned int daddr;
	);
	__struct_group(/* no tag */, pair, __packed, int first; int second;);
};
struct widget_common { unsigned short wc_hashes[2]; int wc_family; };
struct widget_sock { struct widget_common ws_common; char ws_pad[8]; };
#define ws_hash ws_common.wc_hashes[1]
#define ws_zero ws_pad /* the BSD name */
#define ws_nowhere ws_missing
#endif
"""

USE_C = b"""\
#include <net/widget.h>
struct widget_conf widget_default;
static DECLARE_BITMAP(widget_mask, 64);
void widget_touch(struct widget_conf *cnf, struct widget_mib *mib, struct widget_iter *it,
		struct widget_buff *wb, struct widget_dev_stats *st, struct widget_addr *wa,
		struct widget_sock *ws)
{
	ws->ws_hash = 1;
	ws->ws_zero[0] = 0;
	ws->ws_nowhere = 0;
	set_bit(3, cnf->state);
	mib->wd_statistics->in = 1;
	it->conf->sysctl = 0;
	wb->headers.hconf->sysctl = 0;
	wb->hconf->data[0] = 1;
	wb->addrs.saddr = 2;
	wb->daddr = 3;
	wb->pair.second = 4;
	st->tx_dropped++;
	wa->wa_data[0] = 0;
}

int widget_name(struct widget_sock *ws, struct widget_addr *uaddr)
{
	struct widget_common *wc = &ws->ws_common;
	DECLARE_SOCKADDR(struct widget_addr *, wsa, uaddr);

	wsa->family = wc->wc_family;
	return 0;
}
"""


def position(src: bytes, needle: bytes, word: bytes) -> tuple[int, int]:
    """(line, col) of `word` inside the first occurrence of `needle`."""
    offset = src.index(needle) + needle.index(word)
    return src.count(b"\n", 0, offset) + 1, offset - (src.rfind(b"\n", 0, offset) + 1)


@pytest.fixture(scope="module")
def header_defs() -> list:  # type: ignore[type-arg]
    return parse_definitions(make_parser(), DEVCONF_H, "include/net/widget.h").definitions


@pytest.mark.parametrize(
    ("member", "type_", "needle", "word"),
    [
        ("widget_conf.state", "unsigned long", b"DECLARE_BITMAP(state", b"state"),
        ("widget_mib.wd_statistics", "widget_stats", b"wd_statistics)", b"wd_statistics"),
        ("widget_mib.wd_atomic", "widget_stats", b"wd_atomic)", b"wd_atomic"),
        ("widget_addr.wa_data", "char", b"wa_data)", b"wa_data"),
        ("widget_iter.conf", "widget_conf", b"conf);", b"conf"),
        ("widget_dev_stats.rx_packets", "ulong", b"rx_packets", b"rx_packets"),
        ("widget_buff.headers", "widget_headers", b", headers,", b"headers"),
        ("widget_buff.prio", "int", b"prio;", b"prio"),
        ("widget_headers.prio", "int", b"prio;", b"prio"),
        ("widget_headers.hconf", "widget_conf", b"*hconf", b"hconf"),
        ("widget_buff.addrs", "widget_buff.addrs", b"struct_group(addrs", b"addrs"),
        ("widget_buff.addrs.saddr", "unsigned int", b"saddr;", b"saddr"),
        ("widget_buff.saddr", "unsigned int", b"saddr;", b"saddr"),
        ("widget_buff.pair", "widget_buff.pair", b"pair,", b"pair"),
        ("widget_buff.pair.second", "int", b"int second", b"second"),
        ("widget_buff.second", "int", b"int second", b"second"),
    ],
)
def test_macro_declared_member_has_its_name_type_and_place(header_defs, member, type_, needle, word) -> None:  # type: ignore[no-untyped-def]
    rows = by_name(header_defs, member, "member")
    assert len(rows) == 1, member
    assert rows[0].type == type_
    assert (rows[0].line, rows[0].col) == position(DEVCONF_H, needle, word)


def test_member_macro_signature_is_the_call_as_written(header_defs) -> None:  # type: ignore[no-untyped-def]
    (state,) = by_name(header_defs, "widget_conf.state", "member")
    assert state.signature == "DECLARE_BITMAP(state, WIDGET_CONF_MAX + 1);"
    (stat,) = by_name(header_defs, "widget_mib.wd_statistics", "member")
    assert stat.signature == "DEFINE_SNMP_STAT(struct widget_stats, wd_statistics);"
    (headers,) = by_name(header_defs, "widget_buff.headers", "member")
    assert headers.signature.startswith("struct_group_tagged(widget_headers, headers")


def test_struct_group_tag_is_a_struct_and_no_member_is_doubled(header_defs) -> None:  # type: ignore[no-untyped-def]
    assert [d.line for d in by_name(header_defs, "widget_headers", "struct")] == [position(DEVCONF_H, b"widget_headers,", b"widget_headers")[0]]
    names = [d.name for d in header_defs if d.kind == "member"]
    assert len(names) == len(set(names))
    assert not by_name(header_defs, "widget_buff.pair.first", "struct")


def test_macros_parse_without_error_regions() -> None:
    assert parse_definitions(make_parser(), DEVCONF_H, "include/net/widget.h").error_nodes == 0
    assert parse_definitions(make_parser(), USE_C, "net/ipv4/widget.c").error_nodes == 0


def test_rewriting_keeps_every_offset_and_leaves_definitions_and_comments_of_the_macros() -> None:
    text = prepare_source(DEVCONF_H).text
    assert len(text) == len(DEVCONF_H)
    assert [i for i, c in enumerate(text) if c == 0x0A] == [i for i, c in enumerate(DEVCONF_H) if c == 0x0A]
    # a #define of the macro, its continuation line: untouched (but for its typeof, named: cparse._name_typeof)
    for line in (b"#define DECLARE_BITMAP(name, bits) unsigned long name[BITS_TO_LONGS(bits)]",
                 b"\t__typeof__" + b"_" * len(b"(type)") + b" __percpu *name"):
        assert line in text
    assert b"unsigned long  state[ WIDGET_CONF_MAX + 1];" in text


@pytest.mark.parametrize(
    "src",
    [
        b"struct a {\n\tDECLARE_BITMAP(state, N;\n};\n",  # never closed
        b"struct a {\n\tDECLARE_BITMAP(state);\n};\n",  # one argument too few
        b"struct a {\n\tstruct_group(;\n\tint x;\n};\n",  # no name, never closed
        b"/* DECLARE_BITMAP( */ int x;\n",
        b"struct a { xDECLARE_BITMAP(s, 1); };\n",
    ],
)
def test_malformed_calls_are_left_as_written(src: bytes) -> None:
    text = prepare_source(src).text
    assert len(text) == len(src)
    assert text == src


def test_a_call_that_never_closes_is_scanned_a_bounded_length() -> None:
    src = b"struct a {\n\tstruct_group(g, " + b"(" * 200_000 + b"\n};\n"
    assert prepare_source(src).text == src


@pytest.fixture(scope="module")
def widget_index(tmp_path_factory):  # type: ignore[no-untyped-def]
    from explorer.indexer import build_index
    from explorer.store import Index

    project = make_project(tmp_path_factory.mktemp("members") / "kernel-snippets",
                           {"include/net/widget.h": DEVCONF_H, "net/ipv4/widget.c": USE_C})
    build_index(project, jobs=1)
    index = Index(project.index_path("linux-test"))
    yield index
    index.close()


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ("widget_conf.state", b"cnf->state"),
        ("widget_mib.wd_statistics", b"mib->wd_statistics"),
        ("widget_stats.in", b"mib->wd_statistics->in"),
        ("widget_iter.conf", b"it->conf->sysctl"),
        ("widget_conf.sysctl", b"it->conf->sysctl"),
        ("widget_buff.headers", b"wb->headers.hconf"),
        ("widget_headers.hconf", b"wb->headers.hconf"),
        ("widget_buff.hconf", b"wb->hconf->data"),
        ("widget_buff.addrs.saddr", b"wb->addrs.saddr"),
        ("widget_buff.daddr", b"wb->daddr"),
        ("widget_buff.pair.second", b"wb->pair.second"),
        ("widget_dev_stats.tx_dropped", b"st->tx_dropped"),
        ("widget_addr.wa_data", b"wa->wa_data"),
        ("widget_common.wc_hashes", b"ws->ws_hash"),  # a field macro with a subscript
        ("widget_sock.ws_pad", b"ws->ws_zero"),  # a field macro naming one member
        ("widget_addr.family", b"wsa->family"),  # a local declared by DECLARE_SOCKADDR
    ],
)
def test_accesses_through_macro_declared_members_resolve(widget_index, target, needle) -> None:  # type: ignore[no-untyped-def]
    line = USE_C.count(b"\n", 0, USE_C.index(needle)) + 1
    assert ("net/ipv4/widget.c", line) in {(r.path, r.line) for r in widget_index.refs(target)}


def test_a_field_macro_naming_no_member_of_the_type_stays_unresolved(widget_index) -> None:  # type: ignore[no-untyped-def]
    (key, target, reason), = widget_index.db.execute("SELECT key, target, reason FROM access WHERE key LIKE '%|ws_nowhere'")
    assert target is None and reason == "no member ws_nowhere in widget_sock", key


def test_a_bitmap_outside_a_struct_is_a_variable(widget_index) -> None:  # type: ignore[no-untyped-def]
    rows = [s for s in widget_index.lookup("widget_mask") if s.kind == "variable"]
    assert [(s.path, s.line) for s in rows] == [("net/ipv4/widget.c", position(USE_C, b"widget_mask", b"widget_mask")[0])]


# ---------------------------------------------------------------- the vendored kernel


@pytest.fixture(scope="module")
def kernel():  # type: ignore[no-untyped-def]
    from explorer.store import Index

    index = Index(VENDORED_INDEX)
    yield index
    index.close()


def vendored_lines(rel: str, needle: str) -> set[int]:
    text = (VENDORED_TREE / rel).read_text(errors="replace").splitlines()
    return {i + 1 for i, line in enumerate(text) if needle in line}


@requires_vendored
@pytest.mark.vendored
@pytest.mark.parametrize(
    ("target", "rel", "needle"),
    [
        ("ipv4_devconf.state", "net/ipv4/devinet.c", "set_bit(i, cnf->state)"),
        ("netns_mib.ip_statistics", "net/ipv4/af_inet.c", "net->mib.ip_statistics = alloc_percpu"),
        ("netns_mib.icmpmsg_statistics", "net/ipv4/proc.c", "net->mib.icmpmsg_statistics->mibs"),
        ("icmpmsg_mib.mibs", "net/ipv4/proc.c", "net->mib.icmpmsg_statistics->mibs"),
        ("sk_msg_sg.copy", "net/core/filter.c", "sg.copy"),
    ],
)
def test_vendored_macro_declared_members_resolve(kernel, target, rel, needle) -> None:  # type: ignore[no-untyped-def]
    expected = vendored_lines(rel, needle)
    assert expected, f"{needle!r} not in {rel}"
    found = {r.line for r in kernel.refs(target) if r.path == rel}
    assert expected & found, (target, sorted(expected), sorted(found))


VARIABLES_C = b"""\
DECLARE_PER_CPU(struct widget_conf, widget_percpu_decl);
DEFINE_PER_CPU_ALIGNED(struct widget_conf, widget_percpu);
static DEFINE_MUTEX(widget_mutex);
static DEFINE_SPINLOCK(widget_lock);
DEFINE_STATIC_KEY_FALSE(widget_key);
DEFINE_RATELIMIT_STATE(widget_ratelimit, 5 * HZ, 10);
void widget_poke(void)
{
	widget_percpu.sysctl = 0;
	widget_ratelimit.burst = 1;
}
"""


@pytest.mark.parametrize(
    ("name", "type_", "scope", "call"),
    [
        ("widget_percpu", "widget_conf", "global", b"DEFINE_PER_CPU_ALIGNED(struct widget_conf, widget_percpu);"),
        ("widget_mutex", "mutex", "file", b"static DEFINE_MUTEX(widget_mutex);"),
        ("widget_lock", "spinlock_t", "file", b"static DEFINE_SPINLOCK(widget_lock);"),
        ("widget_key", "static_key_false", "global", b"DEFINE_STATIC_KEY_FALSE(widget_key);"),
        ("widget_ratelimit", "ratelimit_state", "global", b"DEFINE_RATELIMIT_STATE(widget_ratelimit, 5 * HZ, 10);"),
    ],
)
def test_variable_defining_macros_give_typed_variables_spanning_the_call(name, type_, scope, call) -> None:  # type: ignore[no-untyped-def]
    (row,) = by_name(parse_definitions(make_parser(), VARIABLES_C, "net/ipv4/widget_vars.c").definitions, name)
    assert (row.kind, row.type, row.scope) == ("variable", type_, scope)
    assert (row.line, row.col) == position(VARIABLES_C, call, name.encode())
    assert VARIABLES_C[row.start_byte : row.end_byte] == call.rstrip(b";") or VARIABLES_C[row.start_byte : row.end_byte] == call
    assert row.signature == call.decode().rstrip(";")


def test_a_per_cpu_declaration_defines_nothing() -> None:
    assert not by_name(parse_definitions(make_parser(), VARIABLES_C, "net/ipv4/widget_vars.c").definitions, "widget_percpu_decl")


def test_members_of_macro_defined_globals_resolve(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from explorer.indexer import build_index
    from explorer.store import Index

    project = make_project(tmp_path / "kernel-snippets", {"include/net/widget.h": DEVCONF_H, "net/ipv4/widget_vars.c": VARIABLES_C})
    build_index(project, jobs=1)
    index = Index(project.index_path("linux-test"))
    try:
        line = VARIABLES_C.count(b"\n", 0, VARIABLES_C.index(b"widget_percpu.sysctl")) + 1
        assert ("net/ipv4/widget_vars.c", line) in {(r.path, r.line) for r in index.refs("widget_conf.sysctl")}
    finally:
        index.close()


DECLARING = b"""\
static LIST_HEAD(pebble_list);
LIST_HEAD(pebble_global);
static HLIST_HEAD(pebble_chain);
static DEFINE_HASHTABLE(pebble_table, 8);
static DEFINE_RWLOCK(pebble_lock);
static DECLARE_WAIT_QUEUE_HEAD(pebble_wait);
static DECLARE_WORK(pebble_work, pebble_worker);
static SIMPLE_DEV_PM_OPS(pebble_pm_ops, pebble_suspend, pebble_resume);
struct pebble {
\tDECLARE_HASHTABLE(buckets, 4);
};
void pebble_walk(void)
{
\tLIST_HEAD(todo);

\tif (todo.next)
\t\tpebble_note(&todo);
}
"""


def test_declaring_macros_measured_on_the_core_tree_declare_their_variable() -> None:
    result = parse_definitions(make_parser(), DECLARING, "net/core/pebble_lists.c")
    assert result.error_nodes == 0
    got = {(d.name, d.kind, d.scope, d.type) for d in result.definitions}
    assert {("pebble_list", "variable", "file", "list_head"), ("pebble_global", "variable", "global", "list_head"),
            ("pebble_chain", "variable", "file", "hlist_head"), ("pebble_table", "variable", "file", "hlist_head"),
            ("pebble_lock", "variable", "file", "rwlock_t"), ("pebble_wait", "variable", "file", "wait_queue_head_t"),
            ("pebble_work", "variable", "file", "work_struct"), ("pebble_pm_ops", "variable", "file", "dev_pm_ops"),
            ("pebble.buckets", "member", "pebble", "hlist_head")} <= got
    (lst,) = [d for d in result.definitions if d.name == "pebble_list"]
    assert lst.signature == "static LIST_HEAD(pebble_list)"
    lines = DECLARING.split(b"\n")
    # each call of a macro is a use of it, at its name; the functions a work or the PM ops name are read
    calls = {(r.name, r.line, r.col, r.func) for r in result.refs if r.role == "call"}
    todo = lines.index(b"\tLIST_HEAD(todo);") + 1
    assert ("LIST_HEAD", 1, lines[0].index(b"LIST_HEAD"), None) in calls and ("LIST_HEAD", todo, 1, "pebble_walk") in calls
    assert {"HLIST_HEAD", "DEFINE_HASHTABLE", "DEFINE_RWLOCK", "DECLARE_WAIT_QUEUE_HEAD", "DECLARE_WORK",
            "SIMPLE_DEV_PM_OPS", "DECLARE_HASHTABLE"} <= {name for name, *_ in calls}
    reads = {r.name for r in result.refs if r.role == "read"}
    assert {"pebble_worker", "pebble_suspend", "pebble_resume"} <= reads
    # no type use where the file has the macro's name (the type is the rewriting's)
    assert not {r.name for r in result.refs if r.role == "type"} & {"list_head", "hlist_head", "rwlock_t", "work_struct"}
    # a local list: its member accesses have its type
    (use,) = [r for r in result.refs if r.name == "next"]
    assert use.key == "t:list_head||next"


@requires_vendored
@pytest.mark.vendored
def test_vendored_net_namespace_list_is_a_variable(capsys) -> None:  # type: ignore[no-untyped-def]
    from explorer.cli import main

    rel = "net/core/net_namespace.c"
    text = (VENDORED_TREE / rel).read_text(encoding="utf-8").splitlines()
    (line,) = [i + 1 for i, t in enumerate(text) if t.startswith("LIST_HEAD(net_namespace_list);")]
    assert main(["lookup", "net_namespace_list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["path"], r["line"]) for r in rows] == [("variable", rel, line)]
    assert main(["refs", "LIST_HEAD", "--json"]) == 0
    assert (rel, line, "macro") in {(r["path"], r["line"], r["role"]) for r in json.loads(capsys.readouterr().out)}  # a macro's use
