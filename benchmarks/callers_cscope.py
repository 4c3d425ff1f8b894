"""Callers against cscope, over the listen, connect, handshake and accept paths.

cscope 15.9 builds a database over exactly the files the index covers (``cscope -b -q -k``,
``-k`` so that /usr/include stays out), and ``cscope -d -L -3 NAME`` gives, for each
function of ``FUNCTIONS``, the call sites it knows: path, calling function, line.  They are
compared, as sites (path, line), with the index's *direct* callers (``Index.callers``, the
edges whose ``via`` is None); the calling function's name is compared on the sites both
have.  The index's indirect callers (through ops tables: ``sock->ops->listen(...)`` gets
``inet_listen`` via ``proto_ops.listen``) are counted on their own: cscope cannot find them.

Every disagreement gets a class, found automatically, and each class a verdict:

* ``ours``: a bug of the index (the samples give path:line and the source line);
* ``cscope``: a cscope limitation (it lists what is no call, or loses track of functions);
* ``scope``: outside what the index records by design (include/linux, #define bodies).

Run alone: ``.venv/bin/python benchmarks/callers_cscope.py [--samples N]``.
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import INDEX, KERNEL, SNIPPETS, TREE, BenchmarkError, Result, Target, log, require, run_alone, shown, tool
from recall import Sources, _first_error

from explorer.store import REF_FILE_SHIFT, REF_PER_FILE, Index

# refs r of file f: its rowid range (explorer/store.py, ref_range)
_IN_FILE = f"r.id BETWEEN f.id << {REF_FILE_SHIFT} AND (f.id << {REF_FILE_SHIFT}) + {REF_PER_FILE - 1}"

NAME = "callers_cscope"
SEED = 61  # for --wide N: which functions are drawn

# The functions compared, by path (each is checked to be a function of the index).
FUNCTIONS: dict[str, list[str]] = {
    "listen": [
        "__sys_listen", "inet_listen", "inet_csk_listen_start", "reqsk_queue_alloc", "inet_csk_get_port",
        "inet_hash", "__inet_hash",
    ],
    "connect": [
        "__sys_connect", "__sys_connect_file", "inet_stream_connect", "__inet_stream_connect", "tcp_v4_connect",
        "inet_hash_connect", "inet_ehash_nolisten", "tcp_connect", "tcp_transmit_skb", "__tcp_transmit_skb",
        "inet_wait_for_connect", "tcp_rcv_synsent_state_process", "tcp_finish_connect", "tcp_fastopen_defer_connect",
        "tcp_set_state",
    ],
    "handshake": [
        "tcp_v4_rcv", "tcp_v4_do_rcv", "tcp_rcv_state_process", "tcp_v4_conn_request", "tcp_conn_request",
        "tcp_parse_options", "tcp_syn_flood_action", "inet_reqsk_alloc", "inet_csk_reqsk_queue_hash_add",
        "tcp_v4_send_synack", "tcp_make_synack", "inet_csk_route_req", "tcp_try_fastopen", "cookie_v4_check",
        "tcp_check_req", "tcp_v4_syn_recv_sock", "tcp_create_openreq_child", "inet_csk_clone_lock",
        "inet_csk_complete_hashdance", "inet_csk_reqsk_queue_add", "inet_csk_reqsk_queue_drop", "tcp_child_process",
    ],
    "accept": [
        "__sys_accept4", "do_accept", "inet_accept", "inet_csk_accept", "reqsk_queue_remove", "sk_acceptq_is_full",
        "sk_acceptq_added", "sk_acceptq_removed", "inet_csk_reqsk_queue_is_full", "inet_csk_reqsk_queue_len",
        "sock_graft", "reqsk_put", "reqsk_free",
    ],
    # helpers every one of those paths goes through; they have hundreds of callers
    "helpers": ["inet_csk", "inet_sk", "sock_net", "sock_hold", "sock_put", "sk_reset_timer", "tcp_done", "inet_csk_destroy_sock"],
}

VERDICTS = {
    "ours": "a bug of the index",
    "cscope": "a cscope limitation: the index is right",
    "scope": "outside what the index records, by design",
}

# class -> (verdict, meaning); "only-cscope" classes first, then "only-index", then caller names
CLASSES: dict[str, tuple[str, str]] = {
    # sites only cscope lists
    "declaration": ("cscope", "a prototype, not a call: cscope's inverted index (-q) lists some prototypes as calls, from a caller "
                    "`unknown` (in one `-l` process: the caller of the previous answer)"),
    "comment-or-string": ("cscope", "the name appears only in a comment or a string"),
    "outside-xref-paths": ("scope", "a call in a file whose references the index does not record (xref_paths in kernels.toml)"),
    "macro-body": ("scope", "a call inside a #define body: cscope names the macro as the caller; the index gives the macro's call sites instead (via the macro)"),
    "member-call": ("cscope", "a call through a struct member of the same name, not of the function"),
    "local-pointer": ("cscope", "a call through a local variable or parameter of the same name (`int (*lookup)(...)`), not of the function"),
    "not-a-call": ("cscope", "the name is used, not called (a function-pointer value)"),
    "call-outside-function": ("ours", "the index records the call but no enclosing function"),
    "wrong-role": ("ours", "the index records the name at that site with a role other than call"),
    "statement-as-declaration": ("ours", "tree-sitter reads the statement as a declaration (`for_each_possible_cpu(i) res += f(x);` "
                                 "as type `for_each_possible_cpu(i)`): the call becomes a declarator and is recorded as nothing"),
    "recovered-no-refs": ("ours", "in a function the indexer recovered from a tree-sitter ERROR region: its definition is indexed, "
                          "none of its body's references are"),
    "misparsed": ("ours", "inside a tree-sitter ERROR region: the index has no reference there"),
    "not-recorded": ("ours", "no reference in the index, the code parses cleanly"),
    # sites only the index lists
    "indirect-call-macro": ("cscope", "an argument of INDIRECT_CALL_*(f, f2, f1, ...): expands to a direct call of f1/f2; cscope does not expand macros"),
    "cscope-lost-function": ("cscope", "cscope lists the site as <global> (it lost track of the enclosing function) and -3 leaves such sites out"),
    "cscope-other-function": ("cscope", "cscope -0 attributes the site to another function, and -3 does not list it"),
    "cscope-missing": ("cscope", "cscope does not list the site even with -0"),
    "assembly": ("cscope", "a `call`/`jmp` (or a SYM_FUNC_ALIAS) in an assembly file: the index reads .S files (explorer/asmparse.py), "
                 "cscope's database here has only the .c/.h files"),
    "index-not-a-call": ("ours", "the index records a call where the source has no call of the name"),
    # sites both list, under another caller name
    "macro-wrapper": ("cscope", "cscope names the wrapper macro (SYSCALL_DEFINEn, BPF_CALL_n) instead of the function it defines"),
    "declarator-word": ("cscope", "cscope takes another word of the function's header for its name: an annotation after it (`__acquires(x)`), "
                        "the type of a function-pointer parameter (`bool (*loop_end)(...)` -> bool), `typeof(...)`"),
    "other-name": ("ours", "the caller's name differs and the index's function ranges disagree with the index's own caller"),
    "other-name-cscope": ("cscope", "the caller's name differs; the index's function ranges agree with the index"),
}

_WRAPPER_RX = re.compile(r"^(?:(?:COMPAT_)?SYSCALL_DEFINE\d|BPF_CALL_\d)$")
_INDIRECT_CALL_RX = re.compile(r"^INDIRECT_CALL_(?:\d|INET(?:_1)?)$")


@dataclass
class Site:
    """One disagreement: a call site of `function` one side lists and the other does not (or names differently)."""

    function: str
    path: str
    line: int
    side: str  # only-cscope, only-index, name
    cscope_caller: str = ""
    index_caller: str = ""
    cls: str = ""
    detail: str = ""
    source: str = ""

    @property
    def verdict(self) -> str:
        return CLASSES[self.cls][0]

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def as_dict(self) -> dict[str, object]:
        return {
            "function": self.function, "where": self.where, "side": self.side, "class": self.cls,
            "verdict": self.verdict, "cscope_caller": self.cscope_caller, "index_caller": self.index_caller,
            "detail": self.detail, "source": self.source,
        }


# ---------------------------------------------------------------- cscope


class Cscope:
    """A cscope database over a file list, queried line by line (`-d -L`)."""

    def __init__(self, tree: Path, files: list[str], folder: Path) -> None:
        self.tree = tree
        self.db = folder / "cscope.out"
        filelist = folder / "files"
        filelist.write_text("".join(f + "\n" for f in files), encoding="utf-8")
        self.build_argv = ["cscope", "-b", "-q", "-k", "-i", str(filelist), "-f", str(self.db)]
        t0 = time.perf_counter()
        proc = subprocess.run(self.build_argv, cwd=tree, capture_output=True, text=True)
        self.build_seconds = time.perf_counter() - t0
        if proc.returncode != 0 or not self.db.is_file():
            raise BenchmarkError(f"cscope could not build its database: {proc.stderr.strip()[-500:]}")
        self.queries = 0
        self._cache: dict[tuple[int, str], list[tuple[str, str, int, str]]] = {}

    def batch(self, field: int, names: list[str]) -> None:
        """Run many queries in one cscope process (line-oriented mode, `-l`) and cache them."""
        todo = [n for n in dict.fromkeys(names) if (field, n) not in self._cache and n and "\n" not in n]
        if not todo:
            return
        proc = subprocess.run(
            ["cscope", "-d", "-l", "-f", str(self.db)], cwd=self.tree, capture_output=True, text=True,
            input="".join(f"{field}{n}\n" for n in todo), errors="replace",
        )
        lines = proc.stdout.split("\n")
        i = 0
        answers: list[list[tuple[str, str, int, str]]] = []
        while i < len(lines) and len(answers) < len(todo):
            head = lines[i]
            i += 1
            m = re.match(r"^>> cscope: (\d+) lines?$", head)
            if m:
                rows = [_cscope_row(raw) for raw in lines[i : i + int(m.group(1))]]
                i += int(m.group(1))
                answers.append([r for r in rows if r is not None])
            elif head.startswith(">> "):  # ">> Unable to search database": no match
                answers.append([])
        if len(answers) != len(todo):  # not understood: fall back to one process per query
            return
        self.queries += 1
        for name, rows in zip(todo, answers, strict=True):
            self._cache[(field, name)] = rows

    def query(self, field: int, name: str) -> list[tuple[str, str, int, str]]:
        """(path, function, line, text) for `cscope -d -L -<field> NAME`."""
        key = (field, name)
        if key not in self._cache:
            self.queries += 1
            proc = subprocess.run(
                ["cscope", "-d", "-L", f"-{field}", name, "-f", str(self.db)], cwd=self.tree, capture_output=True, text=True
            )
            self._cache[key] = [r for r in map(_cscope_row, proc.stdout.splitlines()) if r is not None]
        return self._cache[key]


def _cscope_row(raw: str) -> tuple[str, str, int, str] | None:
    """`path function line text` → a tuple, or None."""
    parts = raw.split(" ", 3)
    if len(parts) >= 3 and parts[2].isdigit():
        return (parts[0], parts[1], int(parts[2]), parts[3] if len(parts) > 3 else "")
    return None


# ---------------------------------------------------------------- the index side


class IndexView:
    """What the classification reads from the index's SQLite file."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self.files = [p for (p,) in self.db.execute("SELECT path FROM files ORDER BY path")]

    def close(self) -> None:
        self.db.close()

    def symbols_at(self, path: str, line: int, name: str) -> set[str]:
        return {
            k for (k,) in self.db.execute(
                "SELECT s.kind FROM symbols s JOIN files f ON f.id = s.file_id WHERE f.path = ? AND s.line = ? AND s.name = ?",
                (path, line, name),
            )
        }

    def refs_at(self, path: str, line: int, name: str) -> list[tuple[str, str | None, int | None]]:
        """(role, enclosing function, access id) of every reference to `name` on that line."""
        return list(self.db.execute(
            f"SELECT r.role, r.func, r.access_id FROM files f JOIN refs r ON {_IN_FILE}"
            " WHERE f.path = ? AND r.line = ? AND r.name = ?",
            (path, line, name),
        ))

    def enclosing_function(self, path: str, line: int) -> tuple[str, int] | None:
        """The innermost function definition of the index spanning that line: (name, line)."""
        row = self.db.execute(
            "SELECT s.name, s.line FROM symbols s JOIN files f ON f.id = s.file_id WHERE f.path = ? AND s.kind = 'function'"
            " AND s.line <= ? AND s.end_line >= ? ORDER BY s.line DESC LIMIT 1",
            (path, line, line),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def refs_in_function(self, path: str, name: str) -> int:
        return int(self.db.execute(
            f"SELECT count(*) FROM files f JOIN refs r ON {_IN_FILE} WHERE f.path = ? AND r.func = ?", (path, name)
        ).fetchone()[0])

    def bodies_without_refs(self, records_refs, min_lines: int = 4) -> list[tuple[str, int, int, str]]:  # type: ignore[no-untyped-def]
        """(path, line, end line, name) of functions in xref_paths, of min_lines or more, with no reference at all."""
        # (file, function) of every use, from one pass over `ref` (no index covers every use's function)
        with_refs = set(self.db.execute(
            f"SELECT DISTINCT r.rowid >> {REF_FILE_SHIFT}, n.name FROM ref r JOIN names n ON n.id = r.func"))
        rows = self.db.execute(
            "SELECT f.path, s.line, s.end_line, s.name, s.file_id FROM symbols s JOIN files f ON f.id = s.file_id"
            " WHERE s.kind = 'function' AND s.end_line - s.line + 1 >= ?"
            " ORDER BY s.line - s.end_line, f.path",
            (min_lines,),
        )
        return [(path, line, end, name) for path, line, end, name, file_id in rows
                if (file_id, name) not in with_refs and records_refs(path)]

    def function_line(self, path: str, name: str) -> int | None:
        row = self.db.execute(
            "SELECT s.line FROM symbols s JOIN files f ON f.id = s.file_id WHERE f.path = ? AND s.kind = 'function' AND s.name = ?",
            (path, name),
        ).fetchone()
        return row[0] if row else None


# ---------------------------------------------------------------- classification


class Classifier:
    def __init__(self, cscope: Cscope, view: IndexView, index: Index, sources: Sources, records_refs) -> None:  # type: ignore[no-untyped-def]
        self.cscope = cscope
        self.view = view
        self.index = index
        self.sources = sources
        self.records_refs = records_refs
        self._define_braces: dict[str, list[tuple[int, int]]] = {}

    # -------------------------------------------------------------- tree-sitter at a site
    def occurrences(self, path: str, line: int, name: str) -> list:  # type: ignore[type-arg]
        """The tree-sitter nodes of every whole-word occurrence of `name` on the line."""
        lines = self.sources.lines(path)
        if not 0 < line <= len(lines):
            return []
        _, tree = self.sources.parsed(path)
        rx = re.compile(rb"(?<![A-Za-z0-9_])" + re.escape(name.encode()) + rb"(?![A-Za-z0-9_])")
        nodes = []
        for m in rx.finditer(lines[line - 1]):
            node = tree.root_node.descendant_for_point_range((line - 1, m.start()), (line - 1, m.end()))
            if node is not None:
                nodes.append(node)
        return nodes

    @staticmethod
    def ancestor(node, types: tuple[str, ...]):  # type: ignore[no-untyped-def]
        while node is not None:
            if node.type in types:
                return node
            node = node.parent
        return None

    @staticmethod
    def is_called(node) -> bool:  # type: ignore[no-untyped-def]
        """`node(...)` (possibly parenthesized): the node is the function of a call expression."""
        cur = node
        while cur.parent is not None and cur.parent.type == "parenthesized_expression":
            cur = cur.parent
        parent = cur.parent
        if parent is not None and parent.type == "call_expression" and parent.child_by_field_name("function") == cur:
            return True
        # `endfor_nexthops(fi) fib_rebalance(fi);`: a statement behind a brace-less macro, which
        # tree-sitter reads as a declaration of a function; the indexer takes it for the call it is
        if parent is not None and parent.type == "function_declarator" and parent.child_by_field_name("declarator") == cur:
            from explorer.xref import _statement_in_disguise

            decl = parent.parent
            return decl is not None and decl.type == "declaration" and _statement_in_disguise(decl)
        return False

    @staticmethod
    def in_indirect_call(node) -> bool:  # type: ignore[no-untyped-def]
        parent = node.parent
        if parent is None or parent.type != "argument_list" or parent.parent is None:
            return False
        fn = parent.parent.child_by_field_name("function")
        return fn is not None and bool(_INDIRECT_CALL_RX.match(fn.text.decode()))

    @staticmethod
    def chain(node, depth: int = 6) -> str:  # type: ignore[no-untyped-def]
        out = []
        while node is not None and len(out) < depth:
            out.append(node.type)
            node = node.parent
        return " < ".join(out)

    def region(self, path: str, error) -> str:  # type: ignore[no-untyped-def]
        start, end = error.start_point[0] + 1, error.end_point[0] + 1
        text = f"ERROR region {path}:{start}-{end}"
        first = _first_error(error)
        if first is not None and first is not error:
            what = "missing " + first.type if first.is_missing else "ERROR"
            text += f"; first {what} at line {first.start_point[0] + 1}: `{self.sources.line(path, first.start_point[0] + 1).strip()[:70]}`"
        return text

    # -------------------------------------------------------------- only cscope
    def only_cscope(self, site: Site, name: str) -> None:
        path, line = site.path, site.line
        if self.view.symbols_at(path, line, name) & {"function", "prototype"}:
            site.cls, site.detail = "declaration", f"the index has the {'/'.join(sorted(self.view.symbols_at(path, line, name)))} here"
            return
        nodes = self.occurrences(path, line, name)
        code = [n for n in nodes if self.ancestor(n, ("comment", "string_literal", "char_literal", "system_lib_string")) is None]
        if nodes and not code:
            site.cls = "comment-or-string"
            return
        declarator = next((n for n in code if n.parent is not None and n.parent.type == "function_declarator"), None)
        if declarator is not None:
            decl = self.ancestor(declarator, ("declaration", "field_declaration", "parameter_declaration"))
            in_body = self.ancestor(declarator, ("compound_statement",)) is not None
            type_node = decl.child_by_field_name("type") if decl is not None else None
            if in_body and decl is not None and (decl.has_error or (type_node is not None and type_node.type == "macro_type_specifier")):
                site.cls = "statement-as-declaration"
                site.detail = f"the declaration at line {decl.start_point[0] + 1} starts " \
                              f"`{decl.text.decode('utf-8', 'replace').split(chr(10))[0].strip()[:50]}`; tree-sitter: {self.chain(declarator, 4)}"
            else:
                site.cls, site.detail = "declaration", "a function declarator"
            return
        if not self.records_refs(path):
            site.cls = "outside-xref-paths"
            return
        macro = next((self.ancestor(n, ("preproc_def", "preproc_function_def")) for n in code
                      if self.ancestor(n, ("preproc_def", "preproc_function_def")) is not None), None)
        if macro is not None or (not code and self._in_define(path, line)):
            site.cls = "macro-body"
            if macro is not None:
                mname = macro.child_by_field_name("name")
                site.detail = f"#define {mname.text.decode() if mname is not None else '?'} at line {macro.start_point[0] + 1}"
            return
        refs = self.view.refs_at(path, line, name)
        if any(role == "call" and access is not None for role, _, access in refs):
            site.cls = "member-call"
            return
        if any(role == "call" and func is None for role, func, access in refs):
            site.cls = "call-outside-function"
            return
        if refs:
            roles = ",".join(sorted({r for r, _, _ in refs}))
            site.cls = "wrong-role" if any(self.is_called(n) for n in code) else "not-a-call"
            site.detail = f"index roles: {roles}"
            return
        local = self.local_pointer(path, line, name)
        if local:
            site.cls, site.detail = "local-pointer", local
            return
        error = next((self.ancestor(n, ("ERROR",)) for n in code if self.ancestor(n, ("ERROR",)) is not None), None)
        if error is not None:
            enclosing = self.view.enclosing_function(path, line)
            site.cls = "recovered-no-refs" if enclosing and not self.view.refs_in_function(path, enclosing[0]) else "misparsed"
            has = f"the index has `{enclosing[0]}` (line {enclosing[1]}) around it" if enclosing else "the index has no function around it"
            site.detail = f"{self.region(path, error)}; {has}"
            return
        site.cls = "not-recorded"
        site.detail = "tree-sitter: " + (self.chain(code[0]) if code else "name not found on the line")

    def local_pointer(self, path: str, line: int, name: str) -> str:
        """Where the enclosing function declares `name` as a function pointer or a function-typed parameter, or ''."""
        enclosing = self.view.enclosing_function(path, line)
        if enclosing is None:
            return ""
        fname, fn_line = enclosing
        word = re.escape(name.encode())
        header = self.header(path, fn_line)
        params = header[header.find(fname.encode()) + len(fname):] if fname.encode() in header else header
        if re.search(rb"(?<![A-Za-z0-9_])" + word + rb"\s*\(", params) or re.search(rb"\(\s*\*\s*" + word + rb"\s*\)", params):
            return f"a parameter of {fname} ({path}:{fn_line})"
        for i, raw in enumerate(self.sources.lines(path)[fn_line : line - 1], start=fn_line + 1):
            if re.search(rb"\(\s*\*\s*" + word + rb"\s*\)\s*\(", raw):
                return f"declared in {fname} at line {i}: `{raw.decode('utf-8', 'replace').strip()[:60]}`"
        # a pointer of a typedef'd function type (`smp_call_func_t func`), which no pattern above sees: the index
        # itself has the name as a local or parameter of the function, used on that line
        kind = next((use.kind for use in self.index.local_refs(fname, name) if use.path == path and use.line == line), None)
        if kind is not None:
            return f"a {kind} of {fname} ({path}:{fn_line}) in the index, used on this line"
        return ""

    def _in_define(self, path: str, line: int) -> bool:
        lines = self.sources.lines(path)
        i = line - 1
        while i > 0 and lines[i - 1].rstrip().endswith(b"\\"):
            i -= 1
        return 0 <= i < len(lines) and lines[i].lstrip().startswith(b"#") and b"define" in lines[i]

    # -------------------------------------------------------------- only the index
    def only_index(self, site: Site, name: str) -> None:
        path, line = site.path, site.line
        if path.endswith(".S"):
            site.cls = "assembly"
            return
        nodes = self.occurrences(path, line, name)
        if any(self.in_indirect_call(n) for n in nodes):
            site.cls = "indirect-call-macro"
            return
        if nodes and not any(self.is_called(n) for n in nodes):
            site.cls, site.detail = "index-not-a-call", "tree-sitter: " + self.chain(nodes[0])
            return
        everywhere = [row for row in self.cscope.query(0, name) if row[0] == path and row[2] == line]
        if any(fn == "<global>" for _, fn, _, _ in everywhere):
            site.cls = "cscope-lost-function"
            site.detail = self.lost_function_cause(path, line, site.index_caller)
        elif everywhere:
            site.cls, site.detail = "cscope-other-function", f"cscope -0 says {everywhere[0][1]}"
        else:
            site.cls = "cscope-missing"

    def lost_function_cause(self, path: str, line: int, caller: str) -> str:
        """Why cscope lost the enclosing function: a guess from the source, checked in order."""
        fn_line = self.view.function_line(path, caller)
        known = fn_line is not None and any(p == path and ln == fn_line for p, _, ln, _ in self.cscope.query(1, caller))
        parts = []
        if fn_line is not None and self._function_typed_parameter(path, fn_line):
            parts.append("a parameter of function type in the header (`int getfrag(void *from, ...)`)")
        unbalanced = [(ln, d) for ln, d in self.define_braces(path) if ln < line]
        net = sum(d for _, d in unbalanced)
        if net > 0:
            where = ", ".join(f"{ln} ({d:+d})" for ln, d in unbalanced[:6])
            parts.append(f"{net} unclosed `{{` left by #define bodies above (lines {where}; "
                         f"`{self.sources.line(path, unbalanced[0][0]).strip()[:40]}`)")
        if not parts:
            parts.append("cause not found")
        parts.append(f"cscope {'knows' if known else 'does not know'} the definition of {caller}"
                     + (f" ({path}:{fn_line})" if fn_line else ""))
        return "; ".join(parts)

    def header(self, path: str, fn_line: int) -> bytes:
        """A function's header: from the line of its name up to its `{` (at most 20 lines)."""
        text = b""
        for raw in self.sources.lines(path)[fn_line - 1 : fn_line + 20]:
            text += raw + b"\n"
            if b"{" in raw:
                break
        return text.split(b"{", 1)[0]

    def _function_typed_parameter(self, path: str, fn_line: int) -> bool:
        text = self.header(path, fn_line)
        start = text.find(b"(")
        if start < 0:
            return False
        params = text[start + 1 : text.rfind(b")")]
        return bool(re.search(rb"[A-Za-z_]\w*\s*\(", params) or re.search(rb"\(\s*\*", params))

    def define_braces(self, path: str) -> list[tuple[int, int]]:
        """(line, net braces) of every #define whose body opens more `{` than it closes, or the reverse."""
        if path not in self._define_braces:
            out = []
            lines = self.sources.lines(path)
            i = 0
            while i < len(lines):
                raw = lines[i]
                if re.match(rb"^\s*#\s*define\b", raw):
                    start = i
                    body = raw
                    while body.rstrip().endswith(b"\\") and i + 1 < len(lines):
                        i += 1
                        body += b"\n" + lines[i]
                    body = re.sub(rb'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|/\*.*?\*/', b"", body, flags=re.S)
                    delta = body.count(b"{") - body.count(b"}")
                    if delta:
                        out.append((start + 1, delta))
                i += 1
            self._define_braces[path] = out
        return self._define_braces[path]

    # -------------------------------------------------------------- caller names
    def name(self, site: Site) -> None:
        if _WRAPPER_RX.match(site.cscope_caller):
            site.cls = "macro-wrapper"
            return
        fn_line = self.view.function_line(site.path, site.index_caller)
        if fn_line is not None and re.search(
            rb"(?<![A-Za-z0-9_])" + re.escape(site.cscope_caller.encode()) + rb"(?![A-Za-z0-9_])", self.header(site.path, fn_line)
        ):
            site.cls, site.detail = "declarator-word", f"`{site.cscope_caller}` is in the header of {site.index_caller} ({site.path}:{fn_line})"
            return
        enclosing = self.view.enclosing_function(site.path, site.line)
        if enclosing is not None and enclosing[0] == site.index_caller:
            site.cls, site.detail = "other-name-cscope", f"`{site.index_caller}` spans the line in the index"
        else:
            site.cls = "other-name"
            site.detail = f"the index's function around the line: {enclosing[0] if enclosing else 'none'}"


# ---------------------------------------------------------------- the benchmark


def run(samples: int = 30, wide: int | None = None) -> Result:
    """The paths, then every function defined in xref_paths (`wide`: that many drawn at random; 0: none)."""
    require(TREE, INDEX)
    if not tool("cscope"):
        raise BenchmarkError("cscope is not installed (Debian: cscope)")
    from explorer.config import Project

    spec = Project.load(SNIPPETS).kernel(KERNEL)
    result = Result(NAME)
    view = IndexView(INDEX)
    index = Index(INDEX)
    sources = Sources(TREE)
    files = [p for p in view.files if p.endswith((".c", ".h"))]
    paths = [(group, name) for group, names in FUNCTIONS.items() for name in names]
    with tempfile.TemporaryDirectory(prefix="kexplore-bench-cscope-") as tmp:
        cscope = Cscope(TREE, files, Path(tmp))
        result.commands = [
            f"(cd {shown([str(TREE)])} && cscope -b -q -k -i FILES -f DB)   # FILES: the {len(files)} .c/.h files of the index",
            "(cd TREE && cscope -d -L -3 NAME -f DB)   # and -0 NAME, -1 CALLER to classify",
            f"SQLite: {shown([str(INDEX)])} (Index.callers)",
        ]
        log("== callers_cscope: direct callers vs `cscope -d -L -3 NAME`")
        log(f"cscope database: {len(files)} files (exactly those of the index), built in {cscope.build_seconds:.1f} s")
        classifier = Classifier(cscope, view, index, sources, spec.records_refs)
        try:
            log()
            log(f"---- the listen, connect, handshake and accept paths: {len(paths)} functions")
            on_paths = _compare(index, cscope, classifier, paths, samples, table=True)
            others: dict[str, object] = {}
            if wide != 0:
                names = _wide_sample(view, spec.records_refs, {n for _, n in paths}, wide)
                log()
                log(f"---- every other function defined in xref_paths: {len(names)}" if wide is None else
                    f"---- {len(names)} other functions defined in xref_paths, drawn at random (seed {SEED})")
                others = _compare(index, cscope, classifier, [("other", n) for n in names], min(samples, 20), table=False)
            empty = [row for row in view.bodies_without_refs(spec.records_refs) if _body_calls(sources, *row[:3])]
            log()
            log(f"---- functions in xref_paths whose body calls something, with no reference recorded in it: {len(empty)}"
                " (where recovered-no-refs or statement-as-declaration strike, whether or not cscope saw the call)")
            for path, line, end_line, fname in empty[:12]:
                log(f"  {path}:{line}-{end_line} {fname} ({end_line - line + 1} lines)")
        finally:
            index.close()
            view.close()
        build_s, queries = cscope.build_seconds, cscope.queries
    result.figures = {
        "paths": on_paths, "others": others, "cscope_build_s": round(build_s, 2), "cscope_queries": queries,
        "cscope_version": (subprocess.run(["cscope", "-V"], capture_output=True, text=True).stderr.strip()
                           or "?").removeprefix("cscope: "),
        "bodies_without_refs": [{"where": f"{p}:{a}-{b}", "function": n} for p, a, b, n in empty],
    }
    result.targets = [
        Target("callers on the paths: unexplained disagreements", on_paths["unexplained"], "", 0),  # type: ignore[arg-type]
        Target("callers on the paths: index bugs", on_paths["bugs_of_ours"], "", 0),  # type: ignore[arg-type]
    ]
    if others:
        result.targets.append(
            Target(f"callers, {others['functions']} {'other' if wide is None else 'random'} functions: index bugs",
                   others["bugs_of_ours"], "", 0)  # type: ignore[arg-type]
        )
    return result


_NOT_CALLS = frozenset(b"if for while switch return sizeof typeof __typeof__ defined __attribute__ alignof _Alignof".split())


def _body_calls(sources: Sources, path: str, line: int, end_line: int) -> bool:
    """Whether the body (after the header's line) has `name(` outside comments and strings."""
    text = b"\n".join(sources.lines(path)[line : end_line])
    text = text.split(b"{", 1)[1] if b"{" in text else text
    text = re.sub(rb'/\*.*?\*/|//[^\n]*|"(?:[^"\\\n]|\\.)*"', b"", text, flags=re.S)
    text = re.sub(rb"^\s*#.*$", b"", text, flags=re.M)
    return any(m.group(1) not in _NOT_CALLS for m in re.finditer(rb"(?<![A-Za-z0-9_])([A-Za-z_]\w*)\s*\(", text))


def _wide_sample(view: IndexView, records_refs, exclude: set[str], k: int | None) -> list[str]:  # type: ignore[no-untyped-def]
    names = sorted({
        name for name, path in view.db.execute(
            "SELECT DISTINCT s.name, f.path FROM symbols s JOIN files f ON f.id = s.file_id WHERE s.kind = 'function'"
        ) if records_refs(path) and name not in exclude
    })
    if k is None or k >= len(names):
        return names
    return sorted(random.Random(SEED).sample(names, k))


def _compare(index, cscope: Cscope, classifier: Classifier, functions: list[tuple[str, str]], samples: int,  # type: ignore[no-untyped-def]
             table: bool) -> dict[str, object]:
    per_function = []
    disagreements: list[Site] = []
    missing: list[str] = []
    indirect_edges: list[dict[str, object]] = []
    totals: Counter[str] = Counter()
    cscope.batch(3, [name for _, name in functions])
    compared = []  # first pass: the two sets of sites per function
    for group, name in functions:
        if not any(s.kind == "function" for s in index.lookup(name)):
            missing.append(name)
            continue
        cs: dict[tuple[str, int], str] = {}
        for path, fn, line, _ in cscope.query(3, name):
            cs.setdefault((path, line), fn)
        ours: dict[tuple[str, int], str] = {}
        indirect = []
        for edge in index.callers(name):
            if edge.via is None:
                ours.setdefault((edge.path, edge.line), edge.name)
            elif "." in edge.via:  # through an ops member (a call site of a macro has the macro as via)
                indirect.append(edge)
        compared.append((group, name, cs, ours, indirect))
    cscope.batch(0, [name for _, name, cs, ours, _ in compared if ours.keys() - cs.keys()])
    for group, name, cs, ours, indirect in compared:  # second pass: classify
        both = cs.keys() & ours.keys()
        only_cs = sorted(cs.keys() - ours.keys())
        only_ix = sorted(ours.keys() - cs.keys())
        names_differ = sorted(k for k in both if cs[k] != ours[k])
        for path, line in only_cs:
            site = Site(name, path, line, "only-cscope", cscope_caller=cs[(path, line)])
            classifier.only_cscope(site, name)
            disagreements.append(site)
        for path, line in only_ix:
            site = Site(name, path, line, "only-index", index_caller=ours[(path, line)])
            classifier.only_index(site, name)
            disagreements.append(site)
        for path, line in names_differ:
            site = Site(name, path, line, "name", cscope_caller=cs[(path, line)], index_caller=ours[(path, line)])
            classifier.name(site)
            disagreements.append(site)
        for edge in indirect:
            indirect_edges.append({"function": name, "caller": edge.name, "where": f"{edge.path}:{edge.line}", "via": edge.via})
        row = {
            "group": group, "function": name, "cscope": len(cs), "index_direct": len(ours), "agree": len(both),
            "only_cscope": len(only_cs), "only_index": len(only_ix), "names_differ": len(names_differ),
            "index_indirect": len(indirect),
        }
        per_function.append(row)
        for key in ("cscope", "index_direct", "agree", "only_cscope", "only_index", "names_differ", "index_indirect"):
            totals[key] += row[key]  # type: ignore[operator]
    for site in disagreements:
        site.source = classifier.sources.line(site.path, site.line).strip()

    # ------------------------------------------------------------ figures
    site_verdicts = Counter((s.side, s.verdict) for s in disagreements)
    raw_precision = 100.0 * totals["agree"] / totals["index_direct"] if totals["index_direct"] else 0.0
    raw_recall = 100.0 * totals["agree"] / totals["cscope"] if totals["cscope"] else 0.0
    # in scope: cscope's non-calls and what the index leaves out by design are not owed;
    # cscope's misses that the index rightly lists count as found
    ix_right = site_verdicts[("only-index", "cscope")]
    ix_wrong = site_verdicts[("only-index", "ours")]
    we_miss = site_verdicts[("only-cscope", "ours")]
    precision = 100.0 * (totals["index_direct"] - ix_wrong) / totals["index_direct"] if totals["index_direct"] else 0.0
    truth = totals["agree"] + ix_right + we_miss
    recall = 100.0 * (totals["agree"] + ix_right) / truth if truth else 0.0
    by_class: dict[str, list[Site]] = defaultdict(list)
    for site in disagreements:
        by_class[site.cls].append(site)
    bugs = [s for s in disagreements if s.verdict == "ours"]
    unexplained = [s for s in disagreements if not s.cls]
    no_cscope_caller = sorted({e["function"] for e in indirect_edges} - {r["function"] for r in per_function if r["cscope"]})  # type: ignore[misc]
    via_counts = Counter(str(e["via"]) for e in indirect_edges)

    # ------------------------------------------------------------ report
    log()
    if missing:
        log(f"not functions of the index (left out): {', '.join(missing)}")
    if table:
        log(f"{'group':<10} {'function':<32} {'cscope':>6} {'index':>6} {'agree':>6} {'only cs':>7} {'only ix':>7} {'names':>6} {'indirect':>8}")
    for r in per_function if table else ():
        log(f"{r['group']:<10} {r['function']:<32} {r['cscope']:>6} {r['index_direct']:>6} {r['agree']:>6} "
            f"{r['only_cscope']:>7} {r['only_index']:>7} {r['names_differ']:>6} {r['index_indirect']:>8}")
    log(f"{'total':<10} {str(len(per_function)) + ' functions':<32} {totals['cscope']:>6} {totals['index_direct']:>6} "
        f"{totals['agree']:>6} {totals['only_cscope']:>7} {totals['only_index']:>7} {totals['names_differ']:>6} "
        f"{totals['index_indirect']:>8}")
    log()
    log(f"direct call sites, index vs cscope -3 (raw):  precision {raw_precision:.2f}%  recall {raw_recall:.2f}%"
        f"  ({totals['agree']} agree, {totals['only_index']} only in the index, {totals['only_cscope']} only in cscope)")
    log("after classification (cscope's non-calls and what the index leaves out by design not owed; "
        "cscope's misses the index rightly has count as found):")
    log(f"  precision {precision:.2f}%  recall {recall:.2f}%  ({ix_wrong} wrong sites of ours, {we_miss} sites we miss)")
    log(f"caller named differently on a shared site: {totals['names_differ']}")
    log()
    log(f"indirect callers (through ops tables; cscope finds none of them): {len(indirect_edges)} edges "
        f"to {len({e['function'] for e in indirect_edges})} functions, "
        f"{len({(e['caller'], e['where']) for e in indirect_edges})} distinct call sites")
    log(f"  via: {', '.join(f'{v} {n}' for v, n in via_counts.most_common())}")
    if no_cscope_caller:
        log(f"  functions cscope finds no caller for, that the index reaches through ops tables ({len(no_cscope_caller)}): "
            f"{', '.join(no_cscope_caller)}")
    log()
    log(f"disagreements by class ({len(disagreements)}):")
    for side in ("only-cscope", "only-index", "name"):
        group = [s for s in disagreements if s.side == side]
        if not group:
            continue
        log(f"  {side} ({len(group)})")
        for cls, n in Counter(s.cls for s in group).most_common():
            verdict, meaning = CLASSES[cls]
            files = Counter(s.path for s in by_class[cls] if s.side == side)
            log(f"    {n:5d}  {cls:<22} [{verdict}] {meaning}")
            log(f"           files: {', '.join(f'{p} {k}' for p, k in files.most_common(4))}{' ...' if len(files) > 4 else ''}")
    details = Counter(
        f"{s.path}: {s.detail.rsplit('; cscope ', 1)[0]}" if s.cls == "cscope-lost-function" else s.detail.split("; the index has")[0]
        for s in disagreements if s.cls in ("misparsed", "recovered-no-refs", "cscope-lost-function")
    )
    if details:
        log("  where: misparsed regions (ours), why cscope lost functions (cscope); most sites first:")
        for text, n in details.most_common(10):
            log(f"    {n:5d}  {text}")
    picked = _pick(by_class, samples)
    log()
    log(f"{len(picked)} samples (round-robin over classes, bugs of ours first):")
    for s in picked:
        who = f"cscope: {s.cscope_caller or '-'}, index: {s.index_caller or '-'}"
        log(f"  [{s.verdict}] {s.cls:<22} {s.function:<24} {s.where}  ({who})")
        if s.detail:
            log(f"  {'':<6}{s.detail}")
        log(f"  {'':<6}| {s.source[:110]}")
    if bugs:
        groups: dict[tuple[str, str], list[Site]] = defaultdict(list)
        for site in bugs:
            key = site.detail.split("; the index has")[0] if site.cls in ("misparsed", "recovered-no-refs") else ""
            groups[(site.cls, key)].append(site)
        log()
        log(f"bugs of ours ({len(bugs)} sites in {len(groups)} groups), a reproduction for each (all sites in the JSON):")
        for (cls, key), sites in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            log(f"  {len(sites):4d}  {cls}: {key or CLASSES[cls][1]}")
            for site in sites[:3] if key else sites:
                log(f"        {site.function} called at {site.where}  | {site.source[:90]}")
                if not key and site.detail:
                    log(f"          {site.detail[:150]}")
            if key and len(sites) > 3:
                log(f"        ... and {len(sites) - 3} more: {', '.join(sorted({x.function for x in sites[3:]}))[:150]}")

    return {
        "functions": len(per_function),
        "groups": dict(Counter(g for g, _ in functions)),
        "not_functions": missing,
        "sites": dict(totals),
        "raw_precision_percent": round(raw_precision, 3),
        "raw_recall_percent": round(raw_recall, 3),
        "precision_percent": round(precision, 3),
        "recall_percent": round(recall, 3),
        "unexplained": len(unexplained),
        "bugs_of_ours": len(bugs),
        "verdicts": {f"{side}/{verdict}": n for (side, verdict), n in sorted(site_verdicts.items())},
        "classes": {
            cls: {"count": len(sites), "verdict": CLASSES[cls][0], "meaning": CLASSES[cls][1]}
            for cls, sites in sorted(by_class.items(), key=lambda kv: -len(kv[1]))
        },
        "indirect": {
            "edges": len(indirect_edges),
            "functions": len({e["function"] for e in indirect_edges}),
            "via": dict(via_counts.most_common()),
            "functions_without_cscope_caller": no_cscope_caller,
            "edges_list": indirect_edges,
        },
        "per_function": per_function,
        "disagreements": [s.as_dict() for s in disagreements],
    }


def _pick(by_class: dict[str, list[Site]], n: int) -> list[Site]:
    """Up to n samples, round-robin over classes (bugs of ours first), a new file each time where possible."""
    order = sorted(by_class, key=lambda c: (CLASSES[c][0] != "ours", -len(by_class[c])))
    queues = {}
    for cls in order:
        seen: set[str] = set()
        first, rest = [], []
        for site in sorted(by_class[cls], key=lambda s: (s.path, s.line)):
            (rest if site.path in seen else first).append(site)
            seen.add(site.path)
        queues[cls] = first + rest
    picked: list[Site] = []
    while len(picked) < n and any(queues.values()):
        for cls in order:
            if queues[cls] and len(picked) < n:
                picked.append(queues[cls].pop(0))
    return picked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=30, help="sample disagreements to print (default 30)")
    parser.add_argument("--wide", type=int, default=None, metavar="N",
                        help="after the paths, check N functions of xref_paths drawn at random (default: all of them; 0: none)")
    args = parser.parse_args(argv)
    return run_alone(NAME, lambda: run(args.samples, args.wide))


if __name__ == "__main__":
    sys.exit(main())
