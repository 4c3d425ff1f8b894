"""A definition is a node of the call graph, and calls inside macro bodies are calls (issue 11, items 1 and 3).

Fixtures written for this project: two static functions of one name in two files (one stored in an
ops table), static inlines of one name in two headers told apart by #include, and macros calling
functions.  Lines are computed from the fixture text, never written in.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import VENDORED_TREE, indexed_snippets, requires_vendored
from conftest import json_children as rows
from conftest import run_cli as run

from explorer.cli import main

FILES = {
    "include/net/relay.h": """\
struct relay_proto {
\tint (*handler)(int pkt);
};

#define relay_wait(pkt, cond)\t\t\\
\t({ int __rc;\t\t\t\\
\t\trelay_unlock(pkt);\t\t\\
\t\t__rc = (cond);\t\t\t\\
\t\trelay_lock(pkt);\t\t\\
\t\t__rc; })

#define relay_wait_twice(pkt, cond) (relay_wait(pkt, cond) + relay_wait(pkt, cond))
""",
    "include/net/twin_a.h": "static inline int twin(int x)\n{\n\treturn twin_a_work(x);\n}\n",
    "include/net/twin_b.h": "static inline int twin(int x)\n{\n\treturn twin_b_work(x);\n}\n",
    "net/ipv4/relay_demux.c": """\
#include <net/relay.h>

static struct relay_proto *relay_protos[4];

static int dup_rcv(int pkt)
{
\tstruct relay_proto *p = relay_protos[0];

\tdemux_only(pkt);
\treturn p->handler(pkt);
}

int demux_entry(int pkt)
{
\treturn dup_rcv(pkt);
}
""",
    "net/ipv4/relay_ip.c": """\
#include <net/relay.h>

static int dup_rcv(int pkt)
{
\tip_only(pkt);
\treturn 0;
}

static const struct relay_proto ip_relay = {
\t.handler = dup_rcv,
};

int ip_entry(int pkt)
{
\treturn dup_rcv(pkt);
}
""",
    "net/ipv4/relay_lock.c": """\
void demux_only(int pkt)
{
}

void ip_only(int pkt)
{
}

void relay_unlock(int pkt)
{
}

void relay_lock(int pkt)
{
}

int relay_waiter(int pkt)
{
\treturn relay_wait(pkt, pkt > 1);
}

int relay_waiter_twice(int pkt)
{
\treturn relay_wait_twice(pkt, pkt > 2);
}
""",
    # two global dup_free, the alternatives a configuration chooses between, a caller that sees
    # neither, and a file with a static dup_free of its own (and a static that only it sees)
    "net/core/free_a.c": "#ifdef CONFIG_FREE_A\nvoid dup_free(void *p)\n{\n\tfree_a_work(p);\n}\n#endif\n",
    "net/core/free_b.c": "#ifdef CONFIG_FREE_B\nvoid dup_free(void *p)\n{\n\tfree_b_work(p);\n}\n#endif\n",
    "net/core/free_user.c": "void free_user(void *p)\n{\n\tdup_free(p);\n\town_only(p);\n}\n",
    "net/core/free_own.c": ("static void dup_free(void *p)\n{\n}\n\nstatic void own_only(void *p)\n{\n}\n\n"
                            "void free_own(void *p)\n{\n\tdup_free(p);\n\town_only(p);\n}\n"),
    # a .c file that another includes (jazzsonic.c's #include "sonic.c"): its statics are the includer's
    "drivers/net/board_core.c": "static int core_close(int x)\n{\n\treturn core_work(x);\n}\n",
    "drivers/net/board_jazz.c": ('#include "board_core.c"\n\nint jazz_close(int x)\n{\n\treturn core_close(x);\n}\n'),
    "drivers/net/board_other.c": "int other_close(int x)\n{\n\treturn core_close(x);\n}\n",
    # a template included into two .c files (kvm's paging_tmpl.h, trace_probe_tmpl.h): it calls the
    # statics of each file that includes it, and a third file's static stays out
    "kernel/trace/fetch_tmpl.h": "static int fetch_one(int x)\n{\n\treturn fetch_read(x);\n}\n",
    "kernel/trace/fetch_k.c": ('static int fetch_read(int x)\n{\n\treturn fetch_k_work(x);\n}\n\n'
                               '#include "fetch_tmpl.h"\n'),
    "kernel/trace/fetch_u.c": ('static int fetch_read(int x)\n{\n\treturn fetch_u_work(x);\n}\n\n'
                               '#include "fetch_tmpl.h"\n'),
    "kernel/trace/fetch_alone.c": "static int fetch_read(int x)\n{\n\treturn x;\n}\n",
    # a macro in a header and a static function of the same name in one .c file (udelay's shape): the
    # drivers reach the macro, only the .c file its own function
    "include/asm-generic/wait_us.h": "#define wait_us(n) __wait_us(n)\n",
    "arch/x86/boot/wait_boot.c": ("static void wait_us(int n)\n{\n\tboot_spin(n);\n}\n\n"
                                  "void boot_main(void)\n{\n\twait_us(5);\n}\n"),
    "drivers/net/wait_driver.c": "void driver_reset(void)\n{\n\twait_us(10);\n}\n",
    # a global function, and a file that defines a macro of the same name: its calls are the macro's
    "net/core/put_glob.c": "void glob_put(void *p)\n{\n\tglob_work(p);\n}\n",
    "net/core/put_user.c": "void put_user_one(void *p)\n{\n\tglob_put(p);\n}\n",
    "net/core/put_macro.c": ("#define glob_put(p) local_put(p)\n\n"
                             "void put_macro_one(void *p)\n{\n\tglob_put(p);\n}\n"),
    "net/ipv4/twin_one.c": "#include <net/twin_a.h>\n\nint twin_one(int x)\n{\n\treturn twin(x);\n}\n",
    "net/ipv4/twin_two.c": "#include <net/twin_b.h>\n\nint twin_two(int x)\n{\n\treturn twin(x);\n}\n",
}

DEMUX, IP, LOCK = "net/ipv4/relay_demux.c", "net/ipv4/relay_ip.c", "net/ipv4/relay_lock.c"


def line_in(rel: str, needle: str, nth: int = 0) -> int:
    lines = [i + 1 for i, text in enumerate(FILES[rel].splitlines()) if needle in text]
    return lines[nth]


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return indexed_snippets(tmp_path_factory, "identity", FILES)


def test_callees_of_one_static_definition_leave_the_other_out(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    demux = rows(capsys, snippets, "callees", "dup_rcv", "--file", DEMUX)
    assert {r["name"] for r in demux} == {"demux_only", "dup_rcv"}  # ip_only is the other dup_rcv's
    assert all((r["def_path"], r["def_line"]) == (DEMUX, line_in(DEMUX, "static int dup_rcv")) for r in demux)
    # the call through the ops member reaches the dup_rcv stored in the table, in relay_ip.c: no call to itself
    (through,) = [r for r in demux if r["via"]]
    assert (through["name"], through["via"], through["line"]) == ("dup_rcv", "relay_proto.handler", line_in(DEMUX, "p->handler"))
    assert (through["name_path"], through["name_line"]) == (IP, line_in(IP, "static int dup_rcv"))
    ip = rows(capsys, snippets, "callees", "dup_rcv", "--file", IP)
    assert [(r["name"], r["def_path"]) for r in ip] == [("ip_only", IP)]


def test_callers_are_grouped_by_definition(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    every = rows(capsys, snippets, "callers", "dup_rcv")
    by_def = {(r["name"], r["line"], r["def_path"]) for r in every}
    assert by_def == {
        ("demux_entry", line_in(DEMUX, "return dup_rcv(pkt)"), DEMUX),
        ("ip_entry", line_in(IP, "return dup_rcv(pkt)"), IP),
        ("dup_rcv", line_in(DEMUX, "p->handler"), IP),  # the demux dup_rcv calls the ip one through the table
    }
    code, out, _ = run(capsys, snippets, "callers", "dup_rcv")
    assert code == 0
    heads = [line for line in out.splitlines() if line.startswith("dup_rcv")]
    assert heads == [f"dup_rcv  (defined at {DEMUX}:{line_in(DEMUX, 'static int dup_rcv')})",
                     f"dup_rcv  (defined at {IP}:{line_in(IP, 'static int dup_rcv')})"]
    demux_part, ip_part = out.split("\n\n")
    assert "demux_entry" in demux_part and "ip_entry" not in demux_part
    assert "ip_entry" in ip_part and "demux_entry" not in ip_part


def test_file_names_a_definition_or_fails_in_one_line(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, snippets, "callees", "dup_rcv", "--file", LOCK)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and f"dup_rcv is not defined in {LOCK}" in err and DEMUX in err and IP in err


def test_a_path_never_jumps_between_two_statics_of_one_name(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    # ip_entry → dup_rcv (relay_ip.c) calls ip_only only; demux_only belongs to the other dup_rcv
    code, _, err = run(capsys, snippets, "path", "ip_entry", "demux_only")
    assert code == 1 and "no call chain" in err
    code, out, _ = run(capsys, snippets, "path", "demux_entry", "ip_only", "--json")
    assert code == 0
    chain = json.loads(out)
    assert [(s["caller"], s["name"], s["name_path"]) for s in chain] == [
        ("demux_entry", "dup_rcv", DEMUX), ("dup_rcv", "dup_rcv", IP), ("dup_rcv", "ip_only", LOCK)]


def test_a_static_inline_resolves_through_the_header_the_file_includes(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    for header, caller, work in (("include/net/twin_a.h", "twin_one", "twin_a_work"),
                                 ("include/net/twin_b.h", "twin_two", "twin_b_work")):
        callers = rows(capsys, snippets, "callers", "twin", "--file", header)
        assert [(r["name"], r["def_path"]) for r in callers] == [(caller, header)]
        callees = rows(capsys, snippets, "callees", caller, "--depth", "2")
        (twin,) = callees
        assert twin["name_path"] == header
        assert [c["name"] for c in twin["children"]] == [work]  # type: ignore[attr-defined]


FREE_A, FREE_B, FREE_USER, FREE_OWN = "net/core/free_a.c", "net/core/free_b.c", "net/core/free_user.c", "net/core/free_own.c"


def test_a_call_that_sees_no_definition_of_its_own_reaches_every_global_one(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    site = (FREE_USER, line_in(FREE_USER, "dup_free(p)"))
    for rel in (FREE_A, FREE_B):
        callers = rows(capsys, snippets, "callers", "dup_free", "--file", rel)
        assert [(r["name"], r["path"], r["line"], r["def_path"], r["def_line"]) for r in callers] == [
            ("free_user", *site, rel, line_in(rel, "void dup_free"))]
    callees = rows(capsys, snippets, "callees", "free_user", "--depth", "2")
    found = [(r["name"], r["name_path"], r["name_line"], [c["name"] for c in r["children"]])  # type: ignore[attr-defined]
             for r in callees if r["name"] == "dup_free"]
    assert found == [("dup_free", FREE_A, line_in(FREE_A, "void dup_free"), ["free_a_work"]),
                     ("dup_free", FREE_B, line_in(FREE_B, "void dup_free"), ["free_b_work"])]
    code, out, _ = run(capsys, snippets, "path", "free_user", "dup_free", "--to-file", FREE_B, "--json")
    assert code == 0 and [(s["caller"], s["name_path"]) for s in json.loads(out)] == [("free_user", FREE_B)]


def test_a_static_of_the_callers_file_wins_and_other_files_statics_are_never_reached(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    own = rows(capsys, snippets, "callers", "dup_free", "--file", FREE_OWN)
    assert [(r["name"], r["line"]) for r in own] == [("free_own", line_in(FREE_OWN, "\tdup_free(p)"))]
    every = rows(capsys, snippets, "callers", "dup_free")
    assert {(r["name"], r["def_path"]) for r in every} == {("free_user", FREE_A), ("free_user", FREE_B), ("free_own", FREE_OWN)}
    # own_only is static in free_own.c: free_user's call of it reaches no indexed definition
    (only,) = [r for r in rows(capsys, snippets, "callees", "free_user") if r["name"] == "own_only"]
    assert only["name_path"] is None
    assert [r["name"] for r in rows(capsys, snippets, "callers", "own_only")] == ["free_own"]
    code, out, _ = run(capsys, snippets, "callers", "dup_free")
    assert code == 0 and "no callers" not in out
    parts = {part.splitlines()[0]: part for part in out.split("\n\n")}
    for rel in (FREE_A, FREE_B):
        part = parts[f"dup_free  (defined at {rel}:{line_in(rel, 'void dup_free')})"]
        assert "free_user" in part and "free_own" not in part


def test_a_static_of_an_included_c_file_is_the_includers(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    core, jazz = "drivers/net/board_core.c", "drivers/net/board_jazz.c"
    callers = rows(capsys, snippets, "callers", "core_close")
    assert [(r["name"], r["path"], r["line"], r["def_path"], r["def_line"]) for r in callers] == [
        ("jazz_close", jazz, line_in(jazz, "return core_close"), core, line_in(core, "static int core_close"))]
    # board_other.c includes nothing: the static stays out of its reach
    (call,) = rows(capsys, snippets, "callees", "other_close")
    assert (call["name"], call["name_path"]) == ("core_close", None)
    (call,) = rows(capsys, snippets, "callees", "jazz_close", "--depth", "2")
    assert call["name_path"] == core and [c["name"] for c in call["children"]] == ["core_work"]  # type: ignore[attr-defined]


def test_a_file_included_into_others_calls_the_statics_of_each_includer(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    tmpl, k, u = "kernel/trace/fetch_tmpl.h", "kernel/trace/fetch_k.c", "kernel/trace/fetch_u.c"
    calls = rows(capsys, snippets, "callees", "fetch_one", "--depth", "2")
    assert [(c["name"], c["line"], c["name_path"], [g["name"] for g in c["children"]]) for c in calls] == [  # type: ignore[attr-defined]
        ("fetch_read", line_in(tmpl, "fetch_read(x)"), k, ["fetch_k_work"]),
        ("fetch_read", line_in(tmpl, "fetch_read(x)"), u, ["fetch_u_work"])]
    assert rows(capsys, snippets, "callers", "fetch_read", "--file", "kernel/trace/fetch_alone.c") == []


def test_a_header_macro_wins_over_another_files_static_function(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    header, boot, driver = "include/asm-generic/wait_us.h", "arch/x86/boot/wait_boot.c", "drivers/net/wait_driver.c"
    every = rows(capsys, snippets, "callers", "wait_us")
    assert {(r["name"], r["path"], r["line"], r["def_path"]) for r in every} == {
        ("boot_main", boot, line_in(boot, "wait_us(5)"), boot), ("driver_reset", driver, line_in(driver, "wait_us(10)"), header)}
    (call,) = rows(capsys, snippets, "callees", "driver_reset")
    assert (call["name"], call["via"]) == ("__wait_us", "wait_us")  # through the macro's body
    code, out, _ = run(capsys, snippets, "callers", "wait_us")
    heads = [line for line in out.splitlines() if line.startswith("wait_us")]
    assert code == 0 and heads == [f"wait_us  (defined at {boot}:{line_in(boot, 'static void wait_us')})",
                                   f"wait_us  (defined at {header}:1)"]


def test_a_macro_of_the_callers_file_wins_over_a_global_function(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    glob, user, macro = "net/core/put_glob.c", "net/core/put_user.c", "net/core/put_macro.c"
    callers = rows(capsys, snippets, "callers", "glob_put", "--file", glob)
    assert [(r["name"], r["path"]) for r in callers] == [("put_user_one", user)]
    in_macro = rows(capsys, snippets, "callers", "glob_put", "--file", macro)
    assert [(r["name"], r["line"]) for r in in_macro] == [("put_macro_one", line_in(macro, "\tglob_put(p)"))]
    assert [(r["name"], r["via"]) for r in rows(capsys, snippets, "callees", "put_macro_one")] == [("local_put", "glob_put")]


def test_a_macro_body_calls_and_its_call_sites_call_via_it(capsys, snippets: Path) -> None:  # type: ignore[no-untyped-def]
    header = "include/net/relay.h"
    macro = rows(capsys, snippets, "callees", "relay_wait")
    assert [(r["name"], r["path"], r["line"]) for r in macro] == [
        ("relay_unlock", header, line_in(header, "relay_unlock(pkt)")), ("relay_lock", header, line_in(header, "relay_lock(pkt)"))]
    site = line_in(LOCK, "return relay_wait(pkt, pkt > 1)")
    callers = rows(capsys, snippets, "callers", "relay_unlock")
    assert {"name": "relay_waiter", "path": LOCK, "line": site, "via": "relay_wait"}.items() <= callers[0].items()
    # a macro calling a macro: the site names the macro it calls
    twice = line_in(LOCK, "relay_wait_twice(pkt")
    assert any((r["name"], r["line"], r["via"]) == ("relay_waiter_twice", twice, "relay_wait_twice") for r in callers)
    assert all(r["name"] != "relay_wait" for r in callers)  # the macro gives way to its call sites
    callees = rows(capsys, snippets, "callees", "relay_waiter")
    assert [(r["name"], r["line"], r["via"]) for r in callees] == [("relay_unlock", site, "relay_wait"), ("relay_lock", site, "relay_wait")]
    code, out, _ = run(capsys, snippets, "path", "relay_waiter_twice", "relay_lock")
    assert code == 0 and "relay_lock (via relay_wait_twice)" in out


def test_macro_body_references_keep_their_offsets(snippets: Path) -> None:
    from explorer.config import Project
    from explorer.store import Index

    header = "include/net/relay.h"
    text = FILES[header].splitlines()
    with Index(Project.load(snippets).index_path("linux-test")) as index:
        spans = [r for r in index.refs_in_file(header) if r[3] in ("relay_unlock", "relay_lock", "relay_wait")]
    assert {(line, name) for line, _, _, name, _, _ in spans} == {
        (line_in(header, "relay_unlock(pkt)"), "relay_unlock"), (line_in(header, "relay_lock(pkt)"), "relay_lock"),
        (line_in(header, "relay_wait_twice("), "relay_wait")}
    for line, col, end_col, name, _, _ in spans:
        assert text[line - 1].encode()[col:end_col] == name.encode()


# ---------------------------------------------------------------- the vendored tree


def vline(rel: str, needle: str, after: int = 0) -> int:
    for i, text in enumerate((VENDORED_TREE / rel).read_text(errors="replace").splitlines()):
        if needle in text and i + 1 > after:
            return i + 1
    raise AssertionError(f"{needle!r} not in {rel}")


@requires_vendored
@pytest.mark.vendored
def test_vendored_release_sock_is_called_by_sk_stream_wait_connect_via_sk_wait_event(capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["callers", "release_sock", "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    rel = "net/core/stream.c"
    line = vline(rel, "sk_wait_event(", vline(rel, "int sk_stream_wait_connect("))
    found = [r for r in json.loads(out)["children"] if r["name"] == "sk_stream_wait_connect"]
    assert [(r["path"], r["line"], r["via"]) for r in found] == [(rel, line, "sk_wait_event")]


@requires_vendored
@pytest.mark.vendored
def test_vendored_gre_rcv_definitions_are_two_nodes(capsys) -> None:  # type: ignore[no-untyped-def]
    demux, ip = "net/ipv4/gre_demux.c", "net/ipv4/ip_gre.c"
    assert main(["callees", "gre_rcv", "--file", demux, "--json"]) == 0
    tree = json.loads(capsys.readouterr().out)
    assert tree["definitions"] == [{"path": demux, "line": vline(demux, "static int gre_rcv(")}]
    assert {r["path"] for r in tree["children"]} == {demux}
    through = [r for r in tree["children"] if r["name"] == "gre_rcv"]
    assert through and all(r["via"] == "gre_protocol.handler" and r["name_path"] != demux for r in through)
    assert ip in {r["name_path"] for r in through}
    assert main(["callees", "gre_rcv", "--file", ip, "--json"]) == 0
    assert {r["path"] for r in json.loads(capsys.readouterr().out)["children"]} == {ip}


@requires_vendored
@pytest.mark.vendored
def test_vendored_compute_score_callers_stay_in_their_file(capsys) -> None:  # type: ignore[no-untyped-def]
    for rel in ("net/ipv4/inet_hashtables.c", "net/ipv4/udp.c"):
        assert main(["callers", "compute_score", "--file", rel, "--json"]) == 0
        found = json.loads(capsys.readouterr().out)["children"]
        assert found and {(r["path"], r["def_path"], r["def_line"]) for r in found} == {
            (rel, rel, vline(rel, " compute_score(struct sock *sk"))}


# ---------------------------------------------------------------- the site's symbol pages


def test_symbol_page_lists_calls_by_definition_and_draws_each_as_a_node(snippets: Path) -> None:
    import re

    from explorer.config import Project
    from explorer.site.links import SiteIndex
    from explorer.site.pages import LinkContext, symbol_page
    from explorer.urls import relative_href, source_url, symbol_url

    project = Project.load(snippets)
    site = SiteIndex.load("linux-test", project.index_path("linux-test"), project.tree("linux-test"))
    blocks: dict[str, str] = {}
    symbol_page(site, LinkContext("linux-test", frozenset({"dup_rcv"})), "dup_rcv", [], blocks)
    page = symbol_url("linux-test", "dup_rcv")
    demux_def, ip_def = line_in(DEMUX, "static int dup_rcv"), line_in(IP, "static int dup_rcv")
    callers_html = blocks["callers"]
    # one list under each definition, the demux caller under the demux definition
    assert callers_html.index(f"{DEMUX}:{demux_def}") < callers_html.index("demux_entry") < callers_html.index(f"{IP}:{ip_def}")
    assert callers_html.index(f"{IP}:{ip_def}") < callers_html.index("ip_entry")
    callees_html = blocks["callees"]
    # the dup_rcv the demux one reaches through the table links to its own line in relay_ip.c
    hrefs = re.findall(r'href="([^"]+)"', callees_html)

    assert relative_href(page, source_url("linux-test", IP), f"L{ip_def}") in hrefs
    graph = blocks["graph"]
    assert graph.count(":::kxSelf") == 2
    from explorer.escaping import html_text, mermaid_label

    assert all(html_text(mermaid_label(f"dup_rcv ({Path(rel).name})")) in graph for rel in (DEMUX, IP))


def test_include_lines_name_tree_paths_and_never_leave_the_tree() -> None:
    from explorer.includes import include_paths

    src = (b'#include <net/sock.h>\n#  include "local.h"\n#include "../../../../etc/passwd"\n'
           b"#include </etc/shadow>\n/* #include <not/this.h> */\nint x;\n")
    assert include_paths(src, "net/ipv4/a.c") == [
        "include/net/sock.h", "include/uapi/net/sock.h", "net/ipv4/local.h", "include/local.h", "include/uapi/local.h",
        "include/etc/shadow", "include/uapi/etc/shadow"]  # the climb out of the tree is dropped
    assert all(not p.startswith(("/", "..")) for p in include_paths(src, "a.c"))


def test_links_and_hover_cards_follow_the_definition_visible_from_the_file(snippets: Path) -> None:
    """A source page links each use to the definition the call graph resolves it to (the hover card
    shows the definition its link goes to): a header's static inline through #include, the file's own
    static, never another file's static; an ops member's card offers the function its table's file sees."""
    from explorer.config import Project
    from explorer.site.links import SiteIndex
    from explorer.site.pages import names_data

    project = Project.load(snippets)
    site = SiteIndex.load("linux-test", project.index_path("linux-test"), project.tree("linux-test"))

    def link_of(rel: str, name: str) -> tuple[str, int] | None:
        data = (project.tree("linux-test") / rel).read_bytes()
        found = [(lk.path, lk.target_line) for lk in site.file_links(rel, data) if lk.target == name and not lk.definition]
        return found[0] if found else None

    assert link_of("net/ipv4/twin_one.c", "twin") == ("include/net/twin_a.h", 1)
    assert link_of("net/ipv4/twin_two.c", "twin") == ("include/net/twin_b.h", 1)
    assert link_of(DEMUX, "dup_rcv") == (DEMUX, line_in(DEMUX, "static int dup_rcv"))
    assert link_of(IP, "dup_rcv") == (IP, line_in(IP, "static int dup_rcv"))
    assert link_of(FREE_USER, "own_only") is None  # a static of free_own.c: no definition is visible
    core = "drivers/net/board_core.c"
    assert link_of("drivers/net/board_jazz.c", "core_close") == (core, line_in(core, "static int core_close"))
    assert link_of("drivers/net/board_other.c", "core_close") is None
    assert link_of("kernel/trace/fetch_tmpl.h", "fetch_read") in {(rel, 1) for rel in ("kernel/trace/fetch_k.c", "kernel/trace/fetch_u.c")}
    assert link_of("drivers/net/wait_driver.c", "wait_us") == ("include/asm-generic/wait_us.h", 1)
    file_ids = {p: i for i, p in enumerate(sorted(site.files))}
    with site.open() as index:
        shards = names_data(site, site.data_definitions(()), file_ids, frozenset(), {}, index.ops_targets())
    rows = [row for data in shards.values() for row in json.loads(data) if row[0] == "relay_proto.handler"]
    assert [t for row in rows for t in row[8]] == [["dup_rcv", file_ids[IP], line_in(IP, "static int dup_rcv")]]


@requires_vendored
@pytest.mark.vendored
def test_vendored_calls_reach_an_included_c_files_static_and_a_header_macro(capsys) -> None:  # type: ignore[no-untyped-def]
    # jazzsonic.c includes sonic.c, whose static sonic_close it calls
    jazz, sonic = "drivers/net/ethernet/natsemi/jazzsonic.c", "drivers/net/ethernet/natsemi/sonic.c"
    assert main(["callers", "sonic_close", "--json"]) == 0
    found = {(r["name"], r["path"], r["line"], r["def_path"]) for r in json.loads(capsys.readouterr().out)["children"]}
    assert ("jazzsonic_close", jazz, vline(jazz, "sonic_close(dev)"), sonic) in found
    # udelay is a macro of asm-generic/delay.h for a driver, not the static udelay of the real-mode wakeup code
    e100, delay = "drivers/net/ethernet/intel/e100.c", "include/asm-generic/delay.h"
    assert main(["callers", "udelay", "--file", delay, "--limit", "100000", "--json"]) == 0
    found = {(r["path"], r["line"]) for r in json.loads(capsys.readouterr().out)["children"]}
    assert (e100, vline(e100, "udelay(", vline(e100, " mdio_ctrl_hw(struct nic"))) in found
    # nfs42xdr.c is included by nfs4xdr.c and calls its static decode_compound_hdr
    xdr42, xdr4 = "fs/nfs/nfs42xdr.c", "fs/nfs/nfs4xdr.c"
    assert main(["callers", "decode_compound_hdr", "--json"]) == 0
    found = {(r["path"], r["line"], r["def_path"]) for r in json.loads(capsys.readouterr().out)["children"]}
    first = vline(xdr42, "decode_compound_hdr(")
    assert (xdr42, first, xdr4) in found
