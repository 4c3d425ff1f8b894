"""`kexplore`: symbol lookup in a terminal, and the commands that vendor and index kernels.

Lookups (lookup, search, show, dump, versions) read SQLite only: this module imports
the standard library and the project's light modules at the top, and anything heavy
(tree-sitter, Pygments, rich) inside the one command that needs it.  A lookup's start-up is
issue 10's figure (benchmarks/lookup_time.py): the top imports no module whose import costs more
than the lookup's query either (tests/test_lookup_imports.py): neither dataclasses nor typing
(`TYPE_CHECKING` below is mypy's only), difflib only where names are suggested, explorer.history
in the commands that compare kernels, explorer.annotations only for a symbol a page annotates.

Exit codes: 0 success, 1 nothing found or the work failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .config import ConfigError, Project
from .console import EXIT_FAIL, EXIT_OK, EXIT_USAGE, emit_json, err
from .store import (
    CALL_TREE_LIMIT,
    CALLABLE_KINDS,
    KINDS,
    LOCAL_ROLES,
    ROLES,
    Index,
    IndexDamaged,
    IndexMissing,
    SourceChanged,
    Symbol,
    Syscall,
    find,
    is_damage,
)

TYPE_CHECKING = False  # True for mypy, which reads this name as typing.TYPE_CHECKING; no import of typing at run time
if TYPE_CHECKING:
    from typing import Any

    from .annotations import Annotation
    from .history import Definition, DiffPart, HistoryRow
    from .indexer import IndexResult
    from .opsgroups import OpsContext
    from .storerecords import CallNode, CallTree, StructField


def _common(json_help: str = "print JSON instead of text") -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help=json_help)
    common.add_argument("--kernel", metavar="NAME", help="which kernel of kernels.toml (default: its `default`)")
    common.add_argument(
        "--snippets",
        metavar="DIR",
        type=Path,
        help="the folder with kernels.toml, trees and indexes (default: the checkout's kernel-snippets/, or $KEXPLORE_SNIPPETS)",
    )
    return common


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


# A kernel identifier, or STRUCT.FIELD (nested: STRUCT.FIELD.FIELD); a search query is a piece of one.
_NAME_RX = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_QUERY_RX = re.compile(r"[A-Za-z0-9_.]+")
MAX_NAME = 256  # the longest name in the core tree of 6.1 has 104 characters (a nested member)


def _quoted(text: str, limit: int = 40) -> str:
    """`text` for an error line: ASCII only, control characters and undecodable bytes escaped, cut short."""
    return ascii(text[:limit]) + ("..." if len(text) > limit else "")


def _checked(text: str, rx: re.Pattern[str], what: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError(f"an empty {what}")
    if len(text) > MAX_NAME:
        raise argparse.ArgumentTypeError(f"a {what} of {len(text)} characters (at most {MAX_NAME}): {_quoted(text)}")
    if not rx.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{_quoted(text)} is not a {what} (ASCII letters, digits and _, as in inet_listen or sock.sk_state)"
        )
    return text


def symbol_name(text: str) -> str:
    """argparse type: a kernel identifier, optionally STRUCT.FIELD."""
    return _checked(text, _NAME_RX, "kernel name")


def search_query(text: str) -> str:
    """argparse type: a piece of a kernel name."""
    return _checked(text, _QUERY_RX, "search query")


COMMANDS = ("vendor", "index", "lookup", "doc", "search", "show", "dump", "refs", "callers", "callees", "struct", "path",
            "check", "versions", "lab", "history", "diff", "changes")


class _Skipped:
    """Stands in for the subparsers of commands not being run: argparse is slow to build them all."""

    def __getattr__(self, name: str) -> Callable[..., _Skipped]:
        return lambda *args, **kwargs: self


class _OnlyOne:
    def __init__(self, sub: argparse._SubParsersAction[argparse.ArgumentParser], only: str | None) -> None:
        self.sub = sub
        self.only = only

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser | _Skipped:
        if self.only is None or name == self.only:
            return self.sub.add_parser(name, **kwargs)
        return _Skipped()


def get_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (`only`) just the subcommand about to run, which is faster to build."""
    parser = argparse.ArgumentParser(
        prog="kexplore",
        description="Look up Linux kernel symbols in an annotated, cross-referenced index of real kernel source.",
        epilog="Start with `kexplore vendor` then `kexplore index`; `make serve` does both. "
        "Every command takes --json.",
    )
    parser.add_argument("--version", action="version", version=f"kexplore {__version__}")
    sub = _OnlyOne(parser.add_subparsers(dest="command", metavar="COMMAND"), only)
    common = _common()

    p = sub.add_parser("vendor", parents=[common], help="fetch and extract a kernel's sources (verified against the lock file)",
                       description="Extract the kernel work set into kernel-snippets/NAME/ and pin it in NAME.lock.json. "
                       "A second run verifies the tree and does nothing.")
    p.add_argument("--from", dest="from_path", metavar="PATH", type=Path,
                   help="a kernel tarball (.tar.xz/.tar.gz/.tar), a .deb, or an unpacked source tree, instead of Debian's package")
    p.add_argument("--update", action="store_true", help="accept a new source version and rewrite the lock file")
    p.add_argument("--force", action="store_true", help="extract again even if the tree verifies")
    p.add_argument("--all", action="store_true", help="every kernel of kernels.toml, one after the other")
    p.set_defaults(func=cmd_vendor)

    p = sub.add_parser("index", parents=[common], help="build or refresh the symbol index (incremental)",
                       description="Parse the vendored tree with tree-sitter-c into SQLite. Only files whose content changed are parsed again.")
    p.add_argument("--force", action="store_true", help="rebuild from scratch")
    p.add_argument("--jobs", type=_positive, metavar="N", help="worker processes (default: the number of CPUs)")
    p.add_argument("--all", action="store_true",
                   help="every kernel of kernels.toml, in its order (a file unchanged since an earlier kernel is copied, not parsed)")
    p.add_argument("--no-share", action="store_true",
                   help="parse every file, even one that another kernel's index holds with the same content")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("lookup", parents=[common], help="where a symbol is defined",
                       description="Definitions named NAME: functions, prototypes, structs, members (STRUCT.FIELD), macros, ...")
    p.add_argument("name", type=symbol_name, help="a symbol, e.g. inet_listen or inet_connection_sock.icsk_accept_queue")
    p.add_argument("--kind", choices=KINDS, help="only definitions of this kind")
    p.set_defaults(func=cmd_lookup)

    p = sub.add_parser("doc", parents=[common], help="the kernel-doc comment of a symbol, as the kernel's authors wrote it",
                       description="The kernel-doc comment (/** NAME - summary ... */) attached to each definition of NAME: "
                       "functions (a prototype's comment serves its function and back), structs, unions, enums, typedefs, "
                       "macros, and members (STRUCT.FIELD) through the @FIELD: lines of their struct's comment.",
                       epilog="--json: a list with one object per definition: name, kind, path, line and doc "
                       "({path, line, summary, params, returns, context, text} or null). "
                       "Exits 1 when no definition of NAME has kernel-doc.")
    p.add_argument("name", type=symbol_name, help="e.g. sk_alloc, sock_common, sock_common.skc_state")
    p.add_argument("--kind", choices=KINDS, help="only definitions of this kind")
    p.set_defaults(func=cmd_doc)

    p = sub.add_parser("search", parents=[common], help="find symbols by prefix or substring, ranked",
                       description="Exact matches first, then prefixes, then substrings; shorter names first.")
    p.add_argument("query", type=search_query, help="a name or a piece of one")
    p.add_argument("--kind", choices=KINDS, help="only symbols of this kind")
    p.add_argument("--limit", type=_positive, default=30, metavar="N", help="at most N results (default 30)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("show", parents=[common], help="print a definition's source (highlighted on a terminal)")
    p.add_argument("name", type=symbol_name)
    p.add_argument("--kind", choices=KINDS, help="only definitions of this kind")
    p.add_argument("--all", action="store_true", help="every definition of NAME, not just the first")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="highlighting (default: auto, on a terminal)")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("dump", parents=[_common("JSON Lines: one object per definition")], help="every definition in the index")
    p.add_argument("--kind", choices=KINDS, help="only definitions of this kind")
    p.set_defaults(func=cmd_dump)

    p = sub.add_parser("refs", parents=[common], help="where a symbol is used: calls, reads, writes, address taken, type, macro and export uses",
                       description="Uses of a function, macro, type, global, or STRUCT.FIELD (resolved by type, not by name). "
                       "EXPORT_SYMBOL lines are uses with the role export. A name without an indexed definition (a builtin, a symbol "
                       "defined outside the tree) still has its uses listed. With --in FUNCTION, the uses of a local or parameter "
                       "of that function (roles decl, read, write, addr).")
    p.add_argument("name", type=symbol_name, help="e.g. inet_csk_listen_start, sk_acceptq_is_full, sock_common.skc_state, sk_state; "
                   "with --in, a local or parameter (err)")
    p.add_argument("--role", choices=tuple(dict.fromkeys(ROLES + LOCAL_ROLES)), help="only uses in this role")
    p.add_argument("--in", dest="within", metavar="FUNCTION", type=symbol_name,
                   help="NAME is a local or parameter of FUNCTION (every definition of it): its declaration and uses")
    p.set_defaults(func=cmd_refs)

    for which, text in (("callers", "who calls a function (direct calls and calls through ops tables)"),
                        ("callees", "what a function calls (direct calls and calls through ops tables)")):
        p = sub.add_parser(which, parents=[common], help=text, description=text[0].upper() + text[1:] + ". "
                           "An indirect call names the ops member it goes through (via).")
        p.add_argument("name", type=symbol_name)
        p.add_argument("--depth", type=_positive, default=1, metavar="N", help="follow N levels (default 1); a tree on a terminal")
        p.add_argument("--limit", type=_positive, default=CALL_TREE_LIMIT, metavar="N",
                       help=f"list at most N calls (default {CALL_TREE_LIMIT}); each definition is expanded once")
        p.add_argument("--file", metavar="PATH", help="the definition in this file, when several files define the name "
                       "(default: each of them, one after the other)")
        p.add_argument("--ops", metavar="TABLE", type=symbol_name,
                       help="calls through ops members only through TABLE and the tables registrations pair with it "
                       "(e.g. inet_stream_ops, tcp_prot); direct calls stay")
        p.set_defaults(func=cmd_calls, direction=which)

    p = sub.add_parser("struct", parents=[common], help="a struct's members in order, and its first-member embedding chain")
    p.add_argument("name", type=symbol_name, help="e.g. inet_connection_sock")
    p.set_defaults(func=cmd_struct)

    p = sub.add_parser("path", parents=[common], help="a call chain from one function to another",
                       description="A shortest call chain from FROM to TO. Calls through ops members prefer chains whose "
                       "ops tables are consistent: one socket, each ops type served by one table, and tables paired "
                       "where registrations pair them (an inetsw_array entry pairs tcp_prot with inet_stream_ops). "
                       "When only the wide reading (any function any table stores in the member) connects them, "
                       "the chain is marked so.")
    p.add_argument("start", metavar="FROM", type=symbol_name)
    p.add_argument("goal", metavar="TO", type=symbol_name)
    p.add_argument("--max-depth", type=_positive, default=12, metavar="N", help="give up beyond N calls (default 12)")
    p.add_argument("--from-file", metavar="PATH", help="start at FROM's definition in this file (default: any of them)")
    p.add_argument("--to-file", metavar="PATH", help="end at TO's definition in this file (default: any of them)")
    p.add_argument("--ops", metavar="TABLE", type=symbol_name,
                   help="a chain through TABLE's socket: only ops tables consistent with it (e.g. inet_dgram_ops)")
    p.set_defaults(func=cmd_path)

    p = sub.add_parser("check", parents=[common], help="verify that annotations resolve and have not drifted from the code",
                       description="Every annotation page of docs/ (front matter `annotations: true`) against every indexed kernel "
                       "(or --kernel K), per kernel: symbols resolve, anchored line texts are still in the definitions, "
                       "definitions unchanged since they were reviewed for that kernel (`<!-- reviewed: KERNEL:HASH -->`, "
                       "one per kernel under the heading). Exits 1 when anything is found.",
                       epilog="--json: a list of rows with kernel, file, line, symbol, finding (missing, anchor-gone, changed, "
                       "unreviewed, source-changed, heading; and repeats-kernel-doc, a warning that does not change the exit code: "
                       "an annotation that only repeats the symbol's kernel-doc comment) and message.")
    p.add_argument("--accept", action="store_true",
                   help="after reviewing, record the current definition hashes in the annotations' `reviewed` comments, "
                   "for the kernels checked (the other kernels' marks are kept)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("versions", parents=[common], help="the kernels declared, vendored and indexed")
    p.set_defaults(func=cmd_versions)

    _add_history_parsers(sub)  # history, diff, changes

    if only in (None, "lab"):
        from .labs.cli import add_lab_parser

        add_lab_parser(sub.sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    command = words[0] if words and words[0] in COMMANDS else None
    parser = get_parser(command)
    _tolerant_stdout()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        project = Project.load(args.snippets)
        return int(args.func(project, args))
    except ConfigError as exc:
        err(str(exc))
        return EXIT_USAGE
    except (_NoIndex, IndexDamaged) as exc:
        err(str(exc))
        return EXIT_FAIL
    except BrokenPipeError:
        sys.stderr.close()  # `kexplore dump | head`: not an error
        return EXIT_OK
    except KeyboardInterrupt:
        err("interrupted")
        return 130


def _tolerant_stdout() -> None:
    """Kernel text that the terminal's encoding cannot show is escaped, not a UnicodeEncodeError."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="backslashreplace")


# ---------------------------------------------------------------- index readers


class _NoIndex(Exception):
    """The kernel has no index yet; the message says which command builds it."""


def _open_index(project: Project, args: argparse.Namespace) -> Index:
    spec = project.kernel(args.kernel)
    try:
        return Index(project.index_path(spec.name))
    except IndexMissing:
        tree = project.tree(spec.name)
        step = "kexplore index" if tree.is_dir() else "kexplore vendor && kexplore index"
        flag = f" --kernel {spec.name}" if args.kernel else ""
        raise _NoIndex(f"no index for {spec.name} yet: run `{step}{flag}` (or `make index`)") from None


def _symbol_line(sym: Symbol) -> str:
    where = f"{sym.path}:{sym.line}" + (f"-{sym.end_line}" if sym.end_line > sym.line else "")
    cond = f"  [#if {sym.cond}]" if sym.cond else ""
    return f"{sym.name}  {sym.kind}  {where}  ({sym.scope}){cond}\n    {sym.signature}"


def _not_found(index: Index, name: str, kernel: str) -> int:
    err(f"no definition named {name!r} in {kernel}")
    suggestions = index.suggest(name)
    if suggestions:
        print(f"did you mean: {', '.join(suggestions)}", file=sys.stderr)
    return EXIT_FAIL


def _find(index: Index, name: str, kind: str | None) -> list[Symbol]:
    return find(index, name, kind)  # a bare field name: the members of every struct that has it


def cmd_lookup(project: Project, args: argparse.Namespace) -> int:
    with _open_index(project, args) as index:
        found = _find(index, args.name, args.kind)
        if not found:
            return _not_found(index, args.name, project.kernel(args.kernel).name)
        notes = _annotations(project, {s.name for s in found})
        docs = index.docs(found)
        exports = index.exports(found)
        if args.json:
            from .urls import definition_url

            kernel = project.kernel(args.kernel).name
            calls = {name: index.syscalls(name) for name in {s.name for s in found}}
            emit_json([
                {**s.as_dict(), "url": definition_url(kernel, s.path, s.line), "annotation": _note_text(notes, s.name),
                 "exported": e.macro if e is not None else None, "export_namespace": e.namespace if e is not None else None,
                 "doc": d.as_dict() if d is not None else None,
                 **_syscall_fields(calls[s.name] if s.kind in CALLABLE_KINDS else [])}
                for s, d, e in zip(found, docs, exports, strict=True)
            ])
        else:
            for s, d, e in zip(found, docs, exports, strict=True):
                print(_symbol_line(s))
                if e is not None:
                    ns = f" (namespace {e.namespace})" if e.namespace else ""
                    print(f"    exported: {e.macro}{ns}  {e.path}:{e.line}")
                if d is not None:
                    print(f"    kernel-doc: {_one_line_text(d.summary) or '(no summary)'}  ({d.path}:{d.line})")
            for name in dict.fromkeys(s.name for s in found if s.kind in CALLABLE_KINDS):
                for call in index.syscalls(name):
                    print(f"  {name}: {_syscall_text(call)}")
            for name in dict.fromkeys(s.name for s in found):
                note = notes.get(name)
                if note is not None:
                    print(f"\n  {note.summary()}\n  ({note.path.name}:{note.line})")
    return EXIT_OK


def _one_line_text(text: str, limit: int = 160) -> str:
    """Kernel text on one terminal line: whitespace and control characters folded, cut at `limit`."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _printable(text: str) -> str:
    """A comment's text for a terminal: its lines kept, control characters (escapes) shown as `?`."""
    return "\n".join("".join(c if c.isprintable() or c == "\t" else "?" for c in line) for line in text.split("\n"))


def cmd_doc(project: Project, args: argparse.Namespace) -> int:
    kernel = project.kernel(args.kernel).name
    with _open_index(project, args) as index:
        found = _find(index, args.name, args.kind)
        if not found:
            return _not_found(index, args.name, kernel)
        docs = index.docs(found)
    if args.json:
        emit_json([{"name": s.name, "kind": s.kind, "path": s.path, "line": s.line,
                    "doc": d.as_dict() if d is not None else None} for s, d in zip(found, docs, strict=True)])
    else:
        groups: dict[tuple[str, int, str], list[Symbol]] = {}  # one comment, every definition it documents
        for s, d in zip(found, docs, strict=True):
            if d is not None:
                groups.setdefault((d.path, d.line, d.text), []).append(s)
        for n, ((path, line, text), syms) in enumerate(groups.items()):
            if n:
                print()
            for s in syms:
                print(f"{s.name}  {s.kind}  {s.path}:{s.line}")
            print(f"kernel-doc at {path}:{line}:")
            print("\n".join(f"    {t}".rstrip() for t in _printable(text).split("\n")))
    if not any(d is not None for d in docs):
        err(f"no kernel-doc for {args.name!r} in {kernel} ({len(found)} definition{'s' if len(found) != 1 else ''}, none documented)")
        return EXIT_FAIL
    return EXIT_OK


_SYSCALL_TABLES = {"64": ("the 64-bit table", "syscall_64.tbl"), "x32": ("the x32 ABI", "syscall_64.tbl"),
                   "32": ("the 32-bit table", "syscall_32.tbl")}


def _syscall_text(call: Syscall) -> str:
    what, table = _SYSCALL_TABLES.get(call.table, (f"table {call.table}", f"syscall_{call.table}.tbl"))
    return f"system call {call.number} of {what} ({table}, abi {call.abi})"


def _syscall_fields(calls: list[Syscall]) -> dict[str, object]:
    """`lookup --json`'s `syscall` (the first, the 64-bit table's when there is one, or null) and `syscalls` (all)."""
    rows = [{"table": c.table, "number": c.number, "abi": c.abi} for c in calls]
    return {"syscall": rows[0] if rows else None, "syscalls": rows}


def _annotations(project: Project, names: set[str] | None = None) -> dict[str, Annotation]:
    """The annotations of `names` (None: of every symbol), as `annotations.by_symbol` finds them.  With
    `names`, only the pages annotating one of them are read, and explorer.annotations is not imported
    when none is annotated: which page annotates which symbol is kept in explorer.startcache."""
    docs = project.docs
    if names is None:
        from .annotations import by_symbol

        return by_symbol(docs)
    from .startcache import annotated

    pages = annotated(docs)
    wanted = {name for name in names if name in pages}
    if not wanted:
        return {}
    from .annotations import by_symbol, parse_file

    out: dict[str, Annotation] = {}
    try:
        for page in sorted({pages[name] for name in wanted}):
            for a in parse_file(docs / page, docs.parent)[0]:
                if a.symbol in wanted and pages[a.symbol] == page:
                    out.setdefault(a.symbol, a)
    except (OSError, UnicodeDecodeError):
        pass  # a page removed or rewritten since: read them all, below
    return out if set(out) == wanted else by_symbol(docs, names)


def _note_text(notes: dict[str, Annotation], name: str) -> str | None:
    note = notes.get(name)
    return note.text if note is not None else None


def cmd_search(project: Project, args: argparse.Namespace) -> int:
    with _open_index(project, args) as index:
        found = index.search(args.query, args.kind, args.limit)
        if args.json:
            emit_json([s.as_dict() for s in found])
        elif found:
            width = max(len(s.name) for s in found)
            for s in found:
                print(f"{s.name:<{width}}  {s.kind:<10} {s.path}:{s.line}")
        if not found:
            err(f"nothing matches {args.query!r}")
            return EXIT_FAIL
    return EXIT_OK


def cmd_show(project: Project, args: argparse.Namespace) -> int:
    spec = project.kernel(args.kernel)
    tree = project.tree(spec.name)
    excerpts = []
    with _open_index(project, args) as index:
        found = _find(index, args.name, args.kind)
        if not found:
            return _not_found(index, args.name, spec.name)
        for sym in found if args.all else found[:1]:
            try:
                excerpts.append((sym, index.definition_text(sym, tree, whole_lines=True)))
            except SourceChanged as exc:
                err(f"{exc}; if the tree itself is damaged, run `kexplore vendor` first")
                return EXIT_FAIL
    if args.json:
        emit_json([{**sym.as_dict(), "source": text} for sym, text in excerpts])
        return EXIT_OK
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    for sym, text in excerpts:
        header = f"// {sym.path}:{sym.line}  ({sym.kind} {sym.name}, {spec.name})"
        if color:
            from pygments import highlight
            from pygments.formatters import TerminalFormatter
            from pygments.lexer import Lexer
            from pygments.lexers import CLexer

            lexer: Lexer = CLexer()
            if sym.path.endswith(".S"):
                from .site.lexer import KernelAsmLexer

                lexer = KernelAsmLexer()
            sys.stdout.write(highlight(f"{header}\n{text}\n", lexer, TerminalFormatter()))
        else:
            print(f"{header}\n{text}")
    return EXIT_OK


def cmd_dump(project: Project, args: argparse.Namespace) -> int:
    out = sys.stdout
    with _open_index(project, args) as index:
        for sym in index.dump():
            if args.kind and sym.kind != args.kind:
                continue
            if args.json:
                out.write(json.dumps(sym.as_dict(), ensure_ascii=False) + "\n")
            else:
                out.write(f"{sym.name}\t{sym.kind}\t{sym.path}\t{sym.line}\t{sym.end_line}\t{sym.scope}\t{sym.signature}\n")
    return EXIT_OK


def cmd_versions(project: Project, args: argparse.Namespace) -> int:
    from .lockfile import LockError, read_lock

    rows = []
    damaged = False  # a damaged lock file is reported, and the other kernels are still listed
    for name, spec in project.kernels.items():
        if args.kernel and name != args.kernel:
            continue
        try:
            lock = read_lock(project.lock_path(name))
        except LockError as exc:
            err(str(exc))
            damaged = True
            lock = None
        row: dict[str, object] = {
            "kernel": name,
            "title": spec.title,
            "default": name == project.default,
            "debian_package": spec.debian_package,
            "locked_source": lock.source if lock else None,
            "locked_files": len(lock.files) if lock else 0,
            "vendored": project.tree(name).is_dir(),
            "indexed": project.index_path(name).is_file(),
            "files": None,
            "symbols": None,
            "indexed_at": None,
        }
        if row["indexed"]:
            with Index(project.index_path(name)) as index:
                row["files"] = index.file_count()
                row["symbols"] = sum(index.counts().values())
                row["indexed_at"] = index.meta().get("indexed_at")
        rows.append(row)
    if args.json:
        emit_json(rows)
        return EXIT_FAIL if damaged else EXIT_OK
    for row in rows:
        src = row["locked_source"] if isinstance(row["locked_source"], dict) else {}
        version = src.get("version") or src.get("name") or "not pinned"
        state = "indexed" if row["indexed"] else ("vendored, not indexed" if row["vendored"] else "not vendored")
        extra = f", {row['files']} files, {row['symbols']} definitions" if row["indexed"] else ""
        mark = " (default)" if row["default"] else ""
        print(f"{row['kernel']}{mark}: {row['title']}, source {version}: {state}{extra}")
    return EXIT_FAIL if damaged else EXIT_OK


def cmd_local_refs(project: Project, args: argparse.Namespace) -> int:
    """refs NAME --in FUNCTION."""
    with _open_index(project, args) as index:
        if not any(s.kind == "function" for s in index.lookup(args.within)):
            close = [n for n in index.suggest(args.within) if n != args.within]
            err(f"no function {args.within} in {project.kernel(args.kernel).name}"
                + (f"; did you mean {', '.join(close)}?" if close else ""))
            return EXIT_FAIL
        found = index.local_refs(args.within, args.name)
        if not found:
            names = index.locals_of(args.within)
            import difflib

            close = difflib.get_close_matches(args.name, names, n=5, cutoff=0.5)
            what = f"did you mean {', '.join(close)}?" if close else (f"its locals and parameters: {', '.join(names[:12])}"
                                                                       + (" …" if len(names) > 12 else "") if names else "it has none")
            err(f"{args.within} has no local or parameter {args.name}; {what}")
            return EXIT_FAIL
    if args.role:
        found = [r for r in found if r.role == args.role]
    if args.json:
        emit_json([r.as_dict() for r in found])
        return EXIT_OK
    for r in found:
        print(f"{r.path}:{r.line}:{r.col + 1}  {r.role:<5}  {r.function}  {r.kind} {r.name}")
    print(f"{len(found)} uses", file=sys.stderr)
    return EXIT_OK


def cmd_refs(project: Project, args: argparse.Namespace) -> int:
    if args.within is not None:
        return cmd_local_refs(project, args)
    with _open_index(project, args) as index:
        names = [args.name]
        if not index.lookup(args.name):
            members = _find(index, args.name, "member") if "." not in args.name else []
            # a builtin, or a symbol defined outside the indexed tree: its uses are recorded by name all the same
            undefined = "." not in args.name and index.has_refs(args.name)
            if not members and not undefined:
                return _not_found(index, args.name, project.kernel(args.kernel).name)
            names = sorted({m.name for m in members})  # a bare field name: that field of every struct
            if undefined:
                print(f"no definition of {args.name} is indexed in {project.kernel(args.kernel).name}: "
                      "its uses by name follow", file=sys.stderr)
                names.insert(0, args.name)
            if members:
                print(f"{args.name} is a member of: {', '.join(names[1:] if undefined else names)}", file=sys.stderr)
        found = sorted(
            (r for name in names for r in index.refs(name, args.role)), key=lambda r: (r.path, r.line, r.col)
        )
    if args.json:
        emit_json([r.as_dict() for r in found])
        return EXIT_OK
    if not found:
        print(f"no uses of {args.name}" + (f" in role {args.role}" if args.role else ""), file=sys.stderr)
        return EXIT_OK
    for r in found:
        via = f" via {r.via}" if r.via and r.via != r.name else ""
        cond = f"  [#if {r.cond}]" if r.cond else ""
        print(f"{r.path}:{r.line}:{r.col + 1}  {r.role:<5}  {r.function or '(file scope)'}{via}{cond}")
    print(f"{len(found)} uses", file=sys.stderr)
    return EXIT_OK


def _tree_json(tree: CallTree) -> dict[str, object]:
    """The tree as nested JSON objects, built with an explicit stack (a tree may be thousands of levels deep)."""
    top: list[dict[str, object]] = []
    stack: list[tuple[list[CallNode], list[dict[str, object]]]] = [(tree.children, top)]
    while stack:
        nodes, out = stack.pop()
        for node in nodes:
            item: dict[str, object] = node.edge.as_dict()
            if node.seen:
                item["seen"] = True
            if node.children is not None:
                below: list[dict[str, object]] = []
                item["children"] = below
                stack.append((node.children, below))
            if node.cut:
                item["cut"] = True
            out.append(item)
    return {"name": tree.name, "direction": tree.direction, "depth": tree.depth, "limit": tree.limit,
            "nodes": tree.nodes, "cut": tree.cut,
            "definitions": [{"path": path, "line": line} for path, line in tree.definitions], "children": top}


def _print_tree(tree: CallTree) -> None:
    """A tree drawn with box characters; a repeat points to where its function is expanded.  A name
    defined in several files gets a tree for each definition, under a line naming it."""
    if len(tree.definitions) < 2:
        path, line = tree.definitions[0] if tree.definitions else (None, None)
        _print_one_tree(tree, tree.children, tree.name, (tree.name, path))
        return
    for n, (path, line) in enumerate(tree.definitions):
        rows = [c for c in tree.children if (c.edge.def_path, c.edge.def_line) == (path, line)]
        if n:
            print()
        _print_one_tree(tree, rows, f"{tree.name}  (defined at {path}:{line})" + ("" if rows else f"  no {tree.direction}"),
                        (tree.name, path))
    if tree.cut:
        print(f"… cut at {tree.limit} nodes (--limit N to list more; … marks what is left out)")


def _print_one_tree(tree: CallTree, children: list[CallNode], head: str, root: tuple[str, str | None]) -> None:
    lines: list[tuple[str, CallNode]] = []  # in print order
    stack: list[tuple[list[CallNode], int, str]] = [(children, 0, "")]
    while stack:
        nodes, i, indent = stack.pop()
        if i >= len(nodes):
            continue
        stack.append((nodes, i + 1, indent))
        node, last = nodes[i], i == len(nodes) - 1
        lines.append((f"{indent}{'└─' if last else '├─'} ", node))
        if node.children:
            stack.append((node.children, 0, indent + ("   " if last else "│  ")))
    where: dict[tuple[str, str | None], int] = {root: -1}  # each definition's one occurrence that is not a repeat
    for n, (_, node) in enumerate(lines):
        if not node.seen:
            where.setdefault(node.edge.node, n)
    out = [head]
    for n, (lead, node) in enumerate(lines):
        edge = node.edge
        via = f"  via {edge.via_text()}" if edge.via else ""
        if not node.seen:
            note = ""
        elif edge.node not in where:  # another root of the same name: say which definition it is
            note = f"  (the one defined at {edge.name_path}:{edge.name_line})"
        else:
            note = "  (see above)" if where[edge.node] < n else "  (see below)"
        more = "  …" if node.cut else ""
        out.append(f"{lead}{edge.name}  {edge.path}:{edge.line}{via}{note}{more}")
    if tree.cut and len(tree.definitions) < 2:
        out.append(f"… cut at {tree.limit} nodes (--limit N to list more; … marks what is left out)")
    print("\n".join(out))


def _ops_context(index: Index, table: str | None) -> OpsContext | int | None:
    """--ops TABLE as a context, or an exit code after a one-line error naming tables like it."""
    if table is None:
        return None
    ctx = index.ops_context(table)
    if ctx is not None:
        return ctx
    like = index.ops_tables_like(table)
    for part in sorted({p for p in table.split("_") if len(p) >= 3}, key=len, reverse=True):
        like = like or index.ops_tables_like(part)
    err(f"{table} is not an ops table (no initializer stores a function in it)"
        + (f"; did you mean {', '.join(like)}?" if like else ""))
    return EXIT_FAIL


def cmd_calls(project: Project, args: argparse.Namespace) -> int:
    with _open_index(project, args) as index:
        if not index.lookup(args.name):
            return _not_found(index, args.name, project.kernel(args.kernel).name)
        if args.file is not None and not index.definitions_of(args.name, args.file):
            return _no_definition_in(index, args.name, args.file)
        ops = _ops_context(index, args.ops)
        if isinstance(ops, int):
            return ops
        tree = index.call_tree(args.name, args.direction, args.depth, args.limit, args.file, ops)
    if args.json:
        emit_json(_tree_json(tree))
    else:
        _print_tree(tree)
    return EXIT_OK


def _no_definition_in(index: Index, name: str, path: str) -> int:
    where = [p for _, p in index.definitions_of(name) if p is not None]
    err(f"{name} is not defined in {path}" + (f"; it is defined in {', '.join(where)}" if where else ""))
    return EXIT_FAIL


def cmd_struct(project: Project, args: argparse.Namespace) -> int:
    with _open_index(project, args) as index:
        info = index.struct(args.name)
        if info is None:
            return _not_found(index, args.name, project.kernel(args.kernel).name)
        member_docs = index.member_docs(info["name"], info["path"])
    notes = _annotations(project)
    info["annotation"] = _note_text(notes, info["name"])
    rows: list[tuple[str, StructField]] = []  # in print order, with their indent: a stack, not recursion
    stack = [("", info["fields"][::-1])]
    while stack:
        indent, pending = stack[-1]
        if not pending:
            stack.pop()
            continue
        f = pending.pop()
        f["annotation"] = _note_text(notes, f["member"])
        member_doc = member_docs.get(f["member"])
        f["doc"] = member_doc.summary if member_doc is not None else None
        rows.append((indent, f))
        if f.get("fields"):
            stack.append((indent + "    ", f.get("fields", [])[::-1]))
    if args.json:
        emit_json(info)
        return EXIT_OK
    print(f"{info['kind']} {info['name']}  {info['path']}:{info['line']}-{info['end_line']}")
    if len(info["embedding"]) > 1:
        print("embeds (first member): " + " → ".join(info["embedding"]))
    for indent, f in rows:
        cond = f"  [#if {f['cond']}]" if f.get("cond") else ""
        print(f"{indent}{f['line']:>6}  {f['type']} {f['name']}{cond}")
        if f.get("doc"):
            print(f"{indent}        kernel-doc: {_one_line_text(f.get('doc') or '')}")
        note = notes.get(f["member"])
        if note is not None:
            print(f"{indent}        {note.summary(160)}")
    return EXIT_OK


def cmd_path(project: Project, args: argparse.Namespace) -> int:
    with _open_index(project, args) as index:
        for name in (args.start, args.goal):
            if not index.lookup(name):
                return _not_found(index, name, project.kernel(args.kernel).name)
        for name, path in ((args.start, args.from_file), (args.goal, args.to_file)):
            if path is not None and not index.definitions_of(name, path):
                return _no_definition_in(index, name, path)
        ops = _ops_context(index, args.ops)
        if isinstance(ops, int):
            return ops
        found = index.find_path(args.start, args.goal, args.max_depth, args.from_file, args.to_file, ops)
    if found is None:
        err(f"no call chain from {args.start} to {args.goal} within {args.max_depth} calls")
        if args.json:
            emit_json([])
        return EXIT_FAIL
    if args.json:
        emit_json([{**e.as_dict(), "caller": e.caller, "consistent": found.consistent} for e in found.edges])
        return EXIT_OK
    print(args.start)
    for e in found.edges:
        via = f" (via {e.via_text()})" if e.via else ""
        print(f"  → {e.name}{via}   called at {e.path}:{e.line}")
    if not found.consistent:
        print("note: no chain with consistent ops tables (one socket, tables paired as registered) was found; "
              "this one is of the wide reading: a call through an ops member may reach any function a table stores in it")
    return EXIT_OK


def cmd_check(project: Project, args: argparse.Namespace) -> int:
    from .annotations import WARNINGS, accept, check, load, repeats_kernel_doc

    annotations, findings = load(project.docs)
    kernels: dict[str, tuple[Index, Path]] = {}
    names = [args.kernel] if args.kernel else list(project.kernels)
    try:
        for name in names:
            spec = project.kernel(name)
            try:
                kernels[spec.name] = (Index(project.index_path(spec.name)), project.tree(spec.name))
            except IndexMissing:
                if args.kernel or name == project.default:
                    err(f"no index for {spec.name} yet: run `kexplore index --kernel {spec.name}` (or `make index`)")
                    return EXIT_FAIL
                print(f"kexplore: {spec.name} is not indexed: not checked", file=sys.stderr)
        if args.accept:
            changed = accept(annotations, kernels)
            print(f"recorded review hashes in {changed} file(s)", file=sys.stderr)
            annotations, findings = load(project.docs)
        findings += check(annotations, kernels, project.docs.parent)
        if kernels:  # against the first kernel checked: the comments rarely change between kernels
            first = next(iter(kernels))
            findings += repeats_kernel_doc(annotations, kernels[first][0], first, project.docs.parent)
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc) or not kernels:
            raise
        for index, _ in kernels.values():
            index.verify()  # names the damaged one
        raise IndexDamaged(next(iter(kernels.values()))[0].path, str(exc)) from None
    finally:
        for index, _ in kernels.values():
            index.close()
    order = {name: n for n, name in enumerate(kernels)}  # per kernel, in kernels.toml order
    findings.sort(key=lambda f: (-1 if f.kernel is None else order.get(f.kernel, len(order)), f.path, f.line))
    if args.json:
        emit_json([f.as_dict() for f in findings])
    else:
        for f in findings:
            print(f"warning: {f}" if f.finding in WARNINGS else f)
        problems = [f for f in findings if f.finding not in WARNINGS]
        per_kernel = ", ".join(f"{name} {sum(1 for f in problems if f.kernel == name)}" for name in kernels)
        warned = len(findings) - len(problems)
        print(f"{len(annotations)} annotations checked against {', '.join(kernels) or 'no kernel'}: "
              f"{len(problems)} finding(s)" + (f" ({per_kernel})" if len(kernels) > 1 else "")
              + (f", {warned} warning(s)" if warned else ""), file=sys.stderr)
    return EXIT_FAIL if any(f.finding not in WARNINGS for f in findings) else EXIT_OK


# ---------------------------------------------------------------- across kernels: history, diff, changes


def _path_prefix(text: str) -> str:
    """argparse type: a plain relative path inside a tree (a trailing / is allowed)."""
    from .safepath import is_clean

    prefix = text.rstrip("/")
    if len(text) > 4 * MAX_NAME or not is_clean(prefix):
        raise argparse.ArgumentTypeError(f"{_quoted(text)} is not a plain relative path inside the tree (as in net/ipv4)")
    return prefix


def _add_history_parsers(sub: _OnlyOne) -> None:
    if sub.only not in (None, "history", "diff", "changes"):
        return  # their shared parents are not worth building for another command
    across = argparse.ArgumentParser(add_help=False)
    across.add_argument("--json", action="store_true", help="print JSON instead of text")
    across.add_argument("--snippets", metavar="DIR", type=Path,
                        help="the folder with kernels.toml, trees and indexes (default: the checkout's kernel-snippets/, "
                        "or $KEXPLORE_SNIPPETS)")
    pair = argparse.ArgumentParser(add_help=False)
    pair.add_argument("--from", dest="from_kernel", metavar="K1",
                      help="the older kernel (default: the first indexed kernel of kernels.toml)")
    pair.add_argument("--to", dest="to_kernel", metavar="K2",
                      help="the newer kernel (default: the last indexed kernel of kernels.toml)")

    p = sub.add_parser(
        "history", parents=[across], help="where a symbol is defined in each kernel, and whether it changed",
        description="For each kernel of kernels.toml, in its order: where NAME is defined (path, lines, signature) or that "
        "it is absent, and whether each definition's text differs from its counterpart in the previous indexed kernel "
        "(same path first, then the same kind). Kernels without an index are listed as such.",
        epilog="--json: a list of objects with kernel, kind, path, line, end_line, signature, changed (null with nothing "
        "to compare), status (present, unchanged, changed, added, removed, absent, not indexed) and from_path.")
    p.add_argument("name", type=symbol_name, help="a symbol, e.g. inet_csk_accept or sock.sk_state")
    p.add_argument("--kind", choices=KINDS, help="only definitions of this kind")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser(
        "diff", parents=[across, pair], help="a unified diff of a symbol's definition between two kernels",
        description="The definition of NAME in K1 against K2, as a unified diff with the files' own line numbers. "
        "A name defined in several places diffs each definition with its counterpart (same path first, then the same "
        "kind); one with no counterpart is diffed against nothing.",
        epilog="--json: an object with name, from and to (each {kernel, path, line, end_line}, of the first definition), "
        "changed (whether any definition's text differs), diff (the unified diff text, empty when unchanged) and "
        "definitions (the same fields for each pair of counterparts).")
    p.add_argument("name", type=symbol_name, help="a symbol, e.g. inet_csk_accept")
    p.add_argument("--kind", choices=KINDS, help="only definitions of this kind")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour the diff (default: auto, on a terminal)")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser(
        "changes", parents=[across, pair], help="definitions added, removed and changed between two kernels",
        description="Every definition added, removed or changed from K1 to K2, with counts. Definitions are compared by "
        "a digest of their text stored at index time; a definition moved to another file counts as changed (from_path "
        "says where it was).",
        epilog="--json: a list of rows with name, kind, path, status (added, removed, changed) and from_path.")
    p.add_argument("--path", dest="path_prefix", type=_path_prefix, metavar="PREFIX",
                   help="only definitions in files under PREFIX (net/ipv4, or one file)")
    p.add_argument("--kind", choices=KINDS, help="only definitions of this kind")
    p.set_defaults(func=cmd_changes)


def _indexed(project: Project) -> list[str]:
    """The kernels of kernels.toml that have an index, in its order."""
    return [name for name in project.kernels if project.index_path(name).is_file()]


def _open_kernel(project: Project, name: str) -> Index:
    spec = project.kernel(name)
    try:
        return Index(project.index_path(spec.name))
    except IndexMissing:
        step = "kexplore index" if project.tree(spec.name).is_dir() else "kexplore vendor && kexplore index"
        raise _NoIndex(f"no index for {spec.name} yet: run `{step} --kernel {spec.name}`") from None


def _two_kernels(project: Project, args: argparse.Namespace) -> tuple[str, str]:
    """--from and --to, checked against kernels.toml, or the oldest and newest indexed kernels.

    With a single kernel indexed, the defaults compare it with itself (said on stderr by `_said_alone`)."""
    for given in (args.from_kernel, args.to_kernel):
        if given is not None:
            project.kernel(given)  # a one-line ConfigError naming the declared kernels
    indexed = _indexed(project)
    if not indexed and (args.from_kernel is None or args.to_kernel is None):
        raise _NoIndex("no kernel is indexed yet: run `kexplore index --kernel NAME` (or `make index`)")
    return args.from_kernel or indexed[0], args.to_kernel or indexed[-1]


def _said_alone(args: argparse.Namespace, older: str, newer: str) -> None:
    """After the answer (an error before it stays the only line): a default that compared a kernel with itself."""
    if older == newer and (args.from_kernel is None or args.to_kernel is None):
        print(f"kexplore: only {older} is indexed here: it was compared with itself", file=sys.stderr)


def _definitions(project: Project, kernel: str, index: Index, name: str, kind: str | None) -> list[Definition]:
    """The definitions of `name` in one kernel, with their texts; SourceChanged if a tree differs from its index."""
    from .history import definitions

    return definitions(kernel, index, project.tree(kernel), name, kind)


def _history_rows(kernel: str, found: list[Definition], previous: list[Definition] | None) -> list[HistoryRow]:
    from .history import HistoryRow, pair

    def row(d: Definition, changed: bool | None, status: str, before: Definition | None = None) -> HistoryRow:
        s = d.sym
        return HistoryRow(kernel, s.kind, s.path, s.line, s.end_line, s.signature, changed, status,
                          before.sym.path if before is not None else None)

    if previous is None:
        if not found:
            return [HistoryRow(kernel, None, None, None, None, None, None, "absent")]
        return [row(d, None, "present") for d in found]
    pairs, gone, _ = pair(previous, found)
    paired = {id(b): a for a, b in pairs}
    rows = []
    for d in found:
        before = paired.get(id(d))
        if before is None:
            rows.append(row(d, True, "added"))
        else:
            differs = before.text != d.text
            rows.append(row(d, differs, "changed" if differs else "unchanged", before))
    for d in gone:
        rows.append(HistoryRow(kernel, d.sym.kind, None, None, None, None, True, "removed", d.sym.path))
    if not rows:
        rows.append(HistoryRow(kernel, None, None, None, None, None, False, "absent"))
    return rows


def cmd_history(project: Project, args: argparse.Namespace) -> int:
    from .history import HistoryRow

    rows: list[HistoryRow] = []
    previous: list[Definition] | None = None
    suggestions: list[str] | None = None
    anywhere = False
    if not project.kernels:
        raise ConfigError("kernels.toml declares no kernel")
    for kernel in project.kernels:
        if not project.index_path(kernel).is_file():
            rows.append(HistoryRow(kernel, None, None, None, None, None, None, "not indexed"))
            continue
        with _open_kernel(project, kernel) as index:
            try:
                found = _definitions(project, kernel, index, args.name, args.kind)
            except SourceChanged as exc:
                err(f"{kernel}: {exc}")
                return EXIT_FAIL
            if not found and suggestions is None:
                suggestions = index.suggest(args.name)
        anywhere = anywhere or bool(found)
        rows += _history_rows(kernel, found, previous)
        previous = found
    if previous is None:
        raise _NoIndex("no kernel is indexed yet: run `kexplore index --kernel NAME` (or `make index`)")
    if not anywhere:
        err(f"no definition named {args.name!r} in any indexed kernel ({', '.join(_indexed(project))})")
        if suggestions:
            print(f"did you mean: {', '.join(suggestions)}", file=sys.stderr)
        if args.json:
            emit_json([r.as_dict() for r in rows])
        return EXIT_FAIL
    if args.json:
        emit_json([r.as_dict() for r in rows])
        return EXIT_OK
    width = max(len(r.kernel) for r in rows)
    print(args.name)
    for r in rows:
        head = f"  {r.kernel:<{width}}  "
        if r.status in ("absent", "not indexed"):
            print(f"{head}{r.status}")
        elif r.status == "removed":
            print(f"{head}removed: the {r.kind} of {r.from_path} is gone")
        else:
            where = f"{r.path}:{r.line}" + (f"-{r.end_line}" if r.end_line and r.line and r.end_line > r.line else "")
            moved = f", moved from {r.from_path}" if r.from_path and r.from_path != r.path else ""
            print(f"{head}{r.kind}  {where}  [{r.status}{moved}]\n  {'':<{width}}    {r.signature}")
    return EXIT_OK


def _side(kernel: str, d: Definition | None) -> dict[str, object]:
    if d is None:
        return {"kernel": kernel, "path": None, "line": None, "end_line": None}
    return {"kernel": kernel, "path": d.sym.path, "line": d.sym.line, "end_line": d.sym.end_line}


def _colored(diff: str) -> str:
    colors = (("+++", "\x1b[1m"), ("---", "\x1b[1m"), ("@@", "\x1b[36m"), ("+", "\x1b[32m"), ("-", "\x1b[31m"))
    out = []
    for line in diff.splitlines():
        code = next((c for lead, c in colors if line.startswith(lead)), None)
        out.append(f"{code}{line}\x1b[0m" if code else line)
    return "".join(line + "\n" for line in out)


def cmd_diff(project: Project, args: argparse.Namespace) -> int:
    k1, k2 = _two_kernels(project, args)
    sides: list[list[Definition]] = []
    suggestions: list[str] = []
    for kernel in (k1, k2):
        with _open_kernel(project, kernel) as index:
            try:
                sides.append(_definitions(project, kernel, index, args.name, args.kind))
            except SourceChanged as exc:
                err(f"{kernel}: {exc}")
                return EXIT_FAIL
            if not sides[-1] and not suggestions:
                suggestions = index.suggest(args.name)
    older, newer = sides
    if not older and not newer:
        err(f"no definition named {args.name!r} in {k1} or {k2}")
        if suggestions:
            print(f"did you mean: {', '.join(suggestions)}", file=sys.stderr)
        return EXIT_FAIL
    from .history import diff_parts

    parts = diff_parts(older, newer, k1, k2)
    if args.json:
        def part_json(p: DiffPart) -> dict[str, object]:
            return {"name": args.name, "from": _side(k1, p.older), "to": _side(k2, p.newer), "changed": p.changed,
                    "diff": p.diff}

        head = part_json(parts[0])
        head["changed"] = any(p.changed for p in parts)
        head["diff"] = "".join(p.diff for p in parts)
        head["definitions"] = [part_json(p) for p in parts]
        emit_json(head)
        _said_alone(args, k1, k2)
        return EXIT_OK
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    for p in parts:
        if p.changed:
            sys.stdout.write(_colored(p.diff) if color else p.diff)
        elif p.older is not None and p.newer is not None:
            print(f"{args.name} ({p.older.sym.kind}): unchanged from {k1} ({p.older.sym.path}:{p.older.sym.line}) "
                  f"to {k2} ({p.newer.sym.path}:{p.newer.sym.line})")
    _said_alone(args, k1, k2)
    return EXIT_OK


def cmd_changes(project: Project, args: argparse.Namespace) -> int:
    k1, k2 = _two_kernels(project, args)
    with _open_kernel(project, k1) as older, _open_kernel(project, k2) as newer:
        try:
            found = older.changes(newer, args.path_prefix, args.kind)
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            older.verify()
            newer.verify()  # each names itself when it is the damaged one
            raise IndexDamaged(newer.path, str(exc)) from None
    if args.json:
        emit_json([c.as_dict() for c in found])
        _said_alone(args, k1, k2)
        return EXIT_OK
    counts = {status: sum(1 for c in found if c.status == status) for status in ("added", "removed", "changed")}
    width = max((len(c.name) for c in found), default=0)
    for c in found:
        moved = f"  (moved from {c.from_path})" if c.from_path and c.from_path != c.path else ""
        print(f"{c.status:<8} {c.kind:<10} {c.name:<{width}}  {c.path}{moved}")
    scope = "".join(f" {what} {value}" for what, value in (("under", args.path_prefix), ("of kind", args.kind)) if value)
    print(f"{k1} → {k2}{scope}: {counts['added']} added, {counts['removed']} removed, {counts['changed']} changed")
    _said_alone(args, k1, k2)
    return EXIT_OK


# ---------------------------------------------------------------- vendor and index


def _kernels_of(project: Project, args: argparse.Namespace) -> list[str | None]:
    """The kernels a vendor or index run covers: every declared kernel with --all, else --kernel or the default."""
    if getattr(args, "all", False):
        if args.kernel:
            raise ConfigError("--all and --kernel exclude each other")
        return list(project.kernels)
    return [args.kernel]


def cmd_vendor(project: Project, args: argparse.Namespace) -> int:
    from .vendor import VendorError, vendor

    kernels = _kernels_of(project, args)
    if args.from_path is not None and len(kernels) > 1:
        raise ConfigError("--from names one source: use it with --kernel, not --all")
    results = []
    status = EXIT_OK
    for kernel in kernels:
        try:
            result = vendor(project, kernel, from_path=args.from_path, update=args.update, force=args.force)
        except VendorError as exc:
            err(str(exc))
            status = EXIT_FAIL
            continue
        results.append(result)
        if not args.json:
            version = result.source.get("version") or result.source.get("name", "")
            verb = {"verified": "verified, nothing to do", "extracted": "extracted", "updated": "extracted and re-pinned"}[result.action]
            print(f"{result.kernel} ({version}): {result.files} files {verb} in {result.tree}")
    if args.json and results:
        emit_json([r.as_dict() for r in results] if len(kernels) > 1 else results[0].as_dict())
    return status


def cmd_index(project: Project, args: argparse.Namespace) -> int:
    from .indexer import IndexBuildError, build_index

    kernels = _kernels_of(project, args)
    results = []
    status = EXIT_OK
    for kernel in kernels:  # in kernels.toml's order: a later kernel shares the files an earlier one parsed
        try:
            result = build_index(project, kernel, force=args.force, jobs=args.jobs, share=not args.no_share)
        except IndexBuildError as exc:
            err(str(exc))
            status = EXIT_FAIL
            continue
        results.append(result)
        if not args.json:
            _print_index_result(result)
        for failure in result.failed:
            err(f"{failure.path}: not indexed ({failure.reason})")
    if args.json and results:
        emit_json([r.as_dict() for r in results] if len(kernels) > 1 else results[0].as_dict())
    return status


def _print_index_result(result: IndexResult) -> None:
    if result.parsed == 0 and result.removed == 0:
        print(f"{result.kernel}: index up to date ({result.files} files, {result.symbols} definitions)")
    else:
        shared = (f" and copied {result.shared} unchanged since {' and '.join(result.shared_from)}"
                  if result.shared else "")
        print(
            f"{result.kernel}: parsed {result.parsed - result.shared} of {result.files} files{shared} in {result.seconds:.2f} s"
            f" ({result.symbols} definitions; {result.error_files} files had tree-sitter ERROR regions, indexed around)"
        )
    for path in result.partial:
        print(f"{path}: partly indexed (nested too deep; the deepest parts are left out)")
