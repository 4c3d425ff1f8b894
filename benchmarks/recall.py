"""Definition recall against Universal Ctags, on the files the index covers.

Universal Ctags reads the same tree (``--langmap=C:.c.h --kinds-C=defgmstuv``). A ctags
tag is *found* when the index has a definition with the same name (for members: the same
field name, the last part of ``STRUCT.FIELD``) at the same path and line.  The kind is not
required to agree; disagreements are counted separately.

Tags the index does not have are sorted in two:

* ctags' own misreadings, left out of the recall and counted per rule: anonymous names
  (``__anon…``), kernel attribute macros read as names (``} __packed;`` as a variable
  ``__packed``), and macro wrappers read as functions (``SYSCALL_DEFINE3``, ``BPF_CALL_2``,
  ``DEFINE_…``, any macro invoked at file scope);
* real misses, classified by a cause found automatically (see ``CAUSES``), with samples
  (path:line and the source line) for whoever fixes the indexer.

Run alone: ``.venv/bin/python benchmarks/recall.py [--samples N] [--tree DIR --index FILE]``
(another tree and its index, e.g. the whole core tree vendored into a folder of its own).
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import INDEX, TREE, BenchmarkError, Result, Target, log, require, run_alone, shown, tool

NAME = "recall"
TARGET = 99.0
CTAGS_KINDS = "defgmstuv"
# ctags' one-letter C kinds and the index's words for them
KIND_MAP = {
    "d": "macro",
    "e": "enumerator",
    "f": "function",
    "g": "enum",
    "m": "member",
    "s": "struct",
    "t": "typedef",
    "u": "union",
    "v": "variable",
}

# Misreadings: ctags names a macro wrapper as the function it defines.
_WRAPPER_RX = re.compile(r"^(?:(?:COMPAT_)?SYSCALL_DEFINE\d|BPF_CALL_\d|DEFINE_\w+|DECLARE_\w+)$")

CAUSES = {
    "not-indexed": "the file is not in the index",
    "local": "local to a function body (a type or variable declared inside a function)",
    "blanked": "the name is an annotation word blanked before parsing (its own #define)",
    "define-in-body": "#define inside a struct/union/enum body",
    "anonymous-owner": "member of an anonymous struct/union with no name to own it (`static struct { ... } table[]`)",
    "swallowed": "tree-sitter reads the line as part of an earlier #define (its name blanked, or a bad continuation)",
    "misparsed": "inside a region tree-sitter misparsed (ERROR, or a top-level item with errors)",
    "primitive": "tree-sitter-c reads the name as a primitive type (size_t, int8_t, bool ...)",
    "renamed": "the index has a definition on that line under another name",
    "other-line": "the index has the name in the same file, on another line",
    "other": "none of the above (see the tree-sitter node type)",
}


@dataclass
class Tag:
    name: str
    kind: str
    path: str
    line: int
    scope: str = ""
    scope_kind: str = ""

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class Miss:
    tag: Tag
    cause: str
    detail: str = ""
    region: str = ""  # for misparsed: which region
    source: str = ""


@dataclass
class Ours:
    """The index, as the comparison needs it."""

    files: set[str] = field(default_factory=set)
    at: dict[tuple[str, int], list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    keys: set[tuple[str, str, int]] = field(default_factory=set)
    lines_of: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    containers: dict[str, list[tuple[int, int, str, str]]] = field(default_factory=lambda: defaultdict(list))
    macros: set[str] = field(default_factory=set)
    functions: list[tuple[str, str, int, int]] = field(default_factory=list)

    @staticmethod
    def short(name: str, kind: str) -> str:
        return name.rsplit(".", 1)[-1] if kind == "member" else name


def load_index(path: Path) -> Ours:
    ours = Ours()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        ours.files = {p for (p,) in db.execute("SELECT path FROM files")}
        rows = db.execute(
            "SELECT s.name, s.kind, f.path, s.line, s.end_line FROM symbols s JOIN files f ON f.id = s.file_id"
        )
        for name, kind, fpath, line, end_line in rows:
            short = Ours.short(name, kind)
            ours.at[(fpath, line)].append((name, kind))
            ours.keys.add((short, fpath, line))
            ours.lines_of[(fpath, short)].append(line)
            if kind in ("struct", "union", "enum"):
                ours.containers[fpath].append((line, end_line, kind, name))
            elif kind == "macro":
                ours.macros.add(name)
            elif kind == "function":
                ours.functions.append((name, fpath, line, end_line))
    finally:
        db.close()
    return ours


def ctags_command() -> list[str]:
    return [
        "ctags", "--langmap=C:.c.h", "--languages=C", f"--kinds-C={CTAGS_KINDS}",
        "--output-format=json", "--fields=+n", "-R", "-f", "-", ".",
    ]


def run_ctags(tree: Path) -> list[Tag]:
    proc = subprocess.run(ctags_command(), cwd=tree, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchmarkError(f"ctags failed: {proc.stderr.strip()[:500]}")
    tags = []
    for raw in proc.stdout.splitlines():
        obj = json.loads(raw)
        if obj.get("_type") != "tag":
            continue
        path = obj["path"][2:] if obj["path"].startswith("./") else obj["path"]
        kind = obj.get("kind", "")
        kind = KIND_MAP.get(kind, kind)  # long names already, unless --fields changed them
        tags.append(Tag(obj["name"], kind, path, int(obj["line"]), obj.get("scope", ""), obj.get("scopeKind", "")))
    return tags


# ---------------------------------------------------------------- source access and tree-sitter


class Sources:
    """File lines, and a tree-sitter parse of what the indexer parses (annotations blanked)."""

    def __init__(self, tree: Path) -> None:
        self.tree = tree
        self._lines: dict[str, list[bytes]] = {}
        self._parsed: dict[str, tuple[bytes, object]] = {}
        self._parser = None

    def lines(self, path: str) -> list[bytes]:
        if path not in self._lines:
            try:
                self._lines[path] = (self.tree / path).read_bytes().split(b"\n")
            except OSError:
                self._lines[path] = []
        return self._lines[path]

    def line(self, path: str, line: int) -> str:
        lines = self.lines(path)
        return lines[line - 1].decode("utf-8", "replace") if 0 < line <= len(lines) else ""

    def parsed(self, path: str):  # type: ignore[no-untyped-def]
        """(blanked source, tree) as the indexer sees the file."""
        if path not in self._parsed:
            import tree_sitter_c
            from tree_sitter import Language, Parser

            if self._parser is None:
                self._parser = Parser(Language(tree_sitter_c.language()))
            src = (self.tree / path).read_bytes()
            try:  # the indexer's own text and tree, the second parse of files with ERROR regions included
                from explorer.cparse import parse_source
            except ImportError:  # an older indexer: the plain parse
                self._parsed[path] = (src, self._parser.parse(src))
            else:
                prepared, tree, _ = parse_source(self._parser, src)
                self._parsed[path] = (prepared.text, tree)
        return self._parsed[path]

    def name_point(self, tag: Tag) -> tuple[int, int] | None:
        """(row, byte column) of the tag's name on its line."""
        lines = self.lines(tag.path)
        if not 0 < tag.line <= len(lines):
            return None
        text = lines[tag.line - 1]
        start = text.find(b"define") + 6 if tag.kind == "macro" and b"define" in text else 0
        m = re.compile(rb"(?<![A-Za-z0-9_])" + re.escape(tag.name.encode()) + rb"(?![A-Za-z0-9_])").search(text, max(start, 0))
        return (tag.line - 1, m.start()) if m else None


# ---------------------------------------------------------------- classification


def misreading(tag: Tag, sources: Sources, macros: set[str], annotation_words: frozenset[str]) -> str | None:
    """Why ctags' tag is not a definition at all, or None when it is one."""
    if tag.name.startswith("__anon"):
        return "anonymous"
    invoked = re.match(rf"^\s*{re.escape(tag.name)}\s*\(", sources.line(tag.path, tag.line)) is not None
    if tag.kind in ("function", "variable", "prototype") and (
        _WRAPPER_RX.match(tag.name) or (invoked and tag.name in macros)
    ):
        return "macro-wrapper"
    if tag.kind != "macro" and (
        tag.name in annotation_words or (tag.name.startswith("__") and tag.name in macros and not invoked)
    ):
        return "attribute-macro"
    return None


MISREADINGS = {
    "anonymous": "anonymous struct/union/enum names made up by ctags (__anon…)",
    "attribute-macro": "kernel attribute macros read as names (`} __packed;`, `x __read_mostly`)",
    "macro-wrapper": "macro invocations read as functions (SYSCALL_DEFINEn, BPF_CALL_n, DEFINE_*, PAGEFLAG, ...)",
}


class Classifier:
    def __init__(self, ours: Ours, sources: Sources, function_names: dict[str, set[str]]) -> None:
        self.ours = ours
        self.sources = sources
        self.function_names = function_names  # path -> ctags function names (for ctags scopes)
        self._regions: dict[tuple[str, int], str] = {}

    def classify(self, tag: Tag) -> Miss:
        miss = Miss(tag, "other", source=self.sources.line(tag.path, tag.line).strip())
        if tag.path not in self.ours.files:
            miss.cause = "not-indexed"
            return miss
        # ctags scopes a local type by its function: `fn` for the type, `fn::type` for its fields
        scope_head = tag.scope.split("::", 1)[0] if tag.scope else ""
        nested = "::" in tag.scope or tag.kind not in ("member", "enumerator")
        if tag.scope_kind == "function" or (nested and scope_head in self.function_names.get(tag.path, ())):
            miss.cause, miss.detail = "local", f"in {scope_head}()"
            return miss

        node = None
        point = self.sources.name_point(tag)
        src = tree = None
        try:
            src, tree = self.sources.parsed(tag.path)
        except OSError:
            pass
        if point is not None and src is not None:
            row, col = point
            raw = self.sources.lines(tag.path)[row][col : col + len(tag.name)]
            offset = _offset(self.sources.lines(tag.path), row, col)
            if src[offset : offset + len(raw)] != raw:
                miss.cause = "blanked"
                return miss
            node = tree.root_node.descendant_for_point_range((row, col), (row, col + len(tag.name)))

        if tag.kind == "macro" and (self._in_container(tag) or _has_ancestor(node, ("field_declaration_list", "enumerator_list"))):
            miss.cause = "define-in-body"
            container = self._in_container(tag)
            parsed_as = _ancestor(node, ("preproc_call", "preproc_def", "preproc_function_def", "ERROR"))
            miss.detail = "; ".join(filter(None, [
                f"in {container}" if container else "",
                f"tree-sitter: {parsed_as.type}" if parsed_as is not None else "",
            ]))
            return miss

        if tag.kind == "member" and tag.scope.startswith("__anon") and "::" not in tag.scope:
            miss.cause = "anonymous-owner"
            return miss

        define = _ancestor(node, ("preproc_def", "preproc_function_def"))
        if define is not None and define.start_point[0] + 1 < tag.line:
            first = define.start_point[0] + 1
            miss.cause = "swallowed"
            miss.detail = f"part of the #define at line {first}: `{self.sources.line(tag.path, first).strip()[:60]}`"
            return miss

        if node is not None:
            region = self._misparsed_region(tag.path, node, src)
            if region:
                miss.cause, miss.region = "misparsed", region
                return miss
            if node.type == "primitive_type":
                miss.cause = "primitive"
                return miss

        names = self.ours.at.get((tag.path, tag.line))
        if names:
            miss.cause = "renamed"
            miss.detail = "index has " + ", ".join(f"{n} ({k})" for n, k in names[:3])
            return miss
        lines = self.ours.lines_of.get((tag.path, tag.name))
        if lines:
            nearest = min(lines, key=lambda n: abs(n - tag.line))
            miss.cause, miss.detail = "other-line", f"index has it at line {nearest}"
            return miss
        if node is not None:
            chain = []
            cur = node
            while cur is not None and len(chain) < 4:
                chain.append(cur.type)
                cur = cur.parent
            miss.detail = "node " + " < ".join(chain)
        return miss

    def _in_container(self, tag: Tag) -> str:
        for line, end_line, kind, name in self.ours.containers.get(tag.path, ()):
            if line < tag.line < end_line:
                return f"{kind} {name}"
        return ""

    def _misparsed_region(self, path: str, node, src: bytes) -> str:  # type: ignore[no-untyped-def]
        """A description of the misparsed region around `node`, or ''."""
        chain = []  # node, its parent, ... up to the root (an ERROR when the whole file failed)
        cur = node
        while cur is not None:
            chain.append(cur)
            cur = cur.parent
        outer_error = next((n for n in reversed(chain) if n.type == "ERROR"), None)
        # the top-level item: the outermost node that is not the root or a (top-level) #if block
        item = next((n for n in reversed(chain[:-1]) if n.type not in _TOP_BLOCKS), None)
        bad = outer_error or (item if item is not None and item.has_error else None)
        if bad is None:
            return ""
        key = (path, bad.start_byte)
        if key not in self._regions:
            self._regions[key] = self._describe_region(path, bad)
        return self._regions[key]

    def _describe_region(self, path: str, bad) -> str:  # type: ignore[no-untyped-def]
        start, end = bad.start_point[0] + 1, bad.end_point[0] + 1
        parts = [f"{path}:{start}-{end} ({bad.type})"]
        first = _first_error(bad)
        if first is not None:
            what = "missing " + first.type if first.is_missing else "ERROR"
            parts.append(f"first {what} at line {first.start_point[0] + 1}: "
                         f"`{self.sources.line(path, first.start_point[0] + 1).strip()[:70]}`")
        prev = _prev_define(bad)
        if prev is not None and prev.type != "preproc_call":
            last_row = prev.end_point[0] - (1 if prev.end_point[1] == 0 else 0)
            if self.sources.line(path, last_row + 1).rstrip().endswith("\\"):
                parts.append(
                    f"hint: the #define at line {prev.start_point[0] + 1} goes on past line {last_row + 1} "
                    "(a `\\` continuation after a comment), tree-sitter ended it there"
                )
        elif first is not None and first.type == "ERROR":
            before = _prev_define(first)
            if before is not None and _has_ancestor(first, ("enumerator_list", "field_declaration_list")):
                parts.append(f"hint: right after the #define at line {before.start_point[0] + 1} inside the body")
        return "; ".join(parts)


_TOP_BLOCKS = {"preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "preproc_elifdef", "linkage_specification", "declaration_list"}


def _prev_define(node):  # type: ignore[no-untyped-def]
    prev = node.prev_named_sibling
    while prev is not None and prev.type == "comment":
        prev = prev.prev_named_sibling
    if prev is not None and prev.type == "preproc_call":  # how tree-sitter-c reads a #define inside a body
        directive = prev.child_by_field_name("directive")
        return prev if directive is not None and directive.text == b"#define" else None
    return prev if prev is not None and prev.type in ("preproc_def", "preproc_function_def") else None


def _offset(lines: list[bytes], row: int, col: int) -> int:
    return sum(len(line) + 1 for line in lines[:row]) + col


def _ancestor(node, types: tuple[str, ...]):  # type: ignore[no-untyped-def]
    while node is not None:
        if node.type in types:
            return node
        node = node.parent
    return None


def _has_ancestor(node, types: tuple[str, ...]) -> bool:  # type: ignore[no-untyped-def]
    return _ancestor(node, types) is not None


def _first_error(node):  # type: ignore[no-untyped-def]
    """The first ERROR or MISSING node under `node`, in source order (skipping clean subtrees)."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if cur is not node and (cur.type == "ERROR" or cur.is_missing):
            return cur
        if cur.has_error or cur.is_missing:
            stack.extend(reversed(cur.children))
    return node if node.type == "ERROR" else None


# ---------------------------------------------------------------- the benchmark


def run(samples: int = 30, tree: Path = TREE, index: Path = INDEX) -> Result:
    require(tree, index)
    if not tool("ctags"):
        raise BenchmarkError("Universal Ctags is not installed (Debian: universal-ctags; `make setup` installs it as root)")
    try:
        from explorer.cparse import ANNOTATION_WORDS as annotation_words
    except ImportError:
        annotation_words = frozenset()

    result = Result(NAME)
    result.commands = [f"(cd {shown([str(tree)])} && {shown(ctags_command())})", f"SQLite: {shown([str(index)])}"]
    log(f"== recall: index vs Universal Ctags ({shown(ctags_command())})")

    tags = run_ctags(tree)
    ours = load_index(index)
    sources = Sources(tree)
    ctags_macros = {t.name for t in tags if t.kind == "macro"}
    macros = ctags_macros | ours.macros
    function_names: dict[str, set[str]] = defaultdict(set)
    for t in tags:
        if t.kind == "function":
            function_names[t.path].add(t.name)

    found_by_kind: Counter[str] = Counter()
    total_by_kind: Counter[str] = Counter()
    excluded: Counter[str] = Counter()
    excluded_samples: dict[str, list[Tag]] = defaultdict(list)
    wrapper_named_by_us = 0
    kind_disagree: Counter[tuple[str, str]] = Counter()
    kind_disagree_samples: dict[tuple[str, str], Tag] = {}
    misses: list[Miss] = []
    classifier = Classifier(ours, sources, function_names)
    ctags_keys = set()

    for tag in tags:
        ctags_keys.add((tag.name, tag.path, tag.line))
        key = (tag.name, tag.path, tag.line)
        if key in ours.keys:
            total_by_kind[tag.kind] += 1
            found_by_kind[tag.kind] += 1
            kinds = {k for n, k in ours.at[(tag.path, tag.line)] if Ours.short(n, k) == tag.name}
            if tag.kind not in kinds:
                pair = (tag.kind, "/".join(sorted(kinds)))
                kind_disagree[pair] += 1
                kind_disagree_samples.setdefault(pair, tag)
            continue
        why = misreading(tag, sources, macros, annotation_words)
        if why:
            excluded[why] += 1
            if len(excluded_samples[why]) < 3 and tag.name not in {s.name for s in excluded_samples[why]}:
                excluded_samples[why].append(tag)
            if why == "macro-wrapper" and any(k == "function" for _, k in ours.at.get((tag.path, tag.line), ())):
                wrapper_named_by_us += 1
            continue
        total_by_kind[tag.kind] += 1
        misses.append(classifier.classify(tag))

    found = sum(found_by_kind.values())
    considered = sum(total_by_kind.values())
    recall = 100.0 * found / considered if considered else 0.0

    # definitions only the index has (functions only: the kind where a false positive hurts most)
    # (not counting those on a macro-wrapper line: SYSCALL_DEFINE2(listen, ...) is sys_listen)
    wrapper_lines = {(t.path, t.line) for t in tags if t.kind == "function"}
    extra_functions = [
        (name, path, line, end_line)
        for name, path, line, end_line in ours.functions
        if (name, path, line) not in ctags_keys and (path, line) not in wrapper_lines
    ]

    # ------------------------------------------------------------ report
    log(f"ctags tags: {len(tags)}; index definitions: {sum(len(v) for v in ours.at.values())} in {len(ours.files)} files")
    tag_files = {t.path for t in tags}
    log(f"files with ctags tags: {len(tag_files)}; of those not in the index: {len(tag_files - ours.files)}")
    log()
    log("ctags misreadings left out (tags the index rightly does not have):")
    for why, n in excluded.most_common():
        ex = ", ".join(f"{t.name} ({t.where})" for t in excluded_samples[why][:3])
        log(f"  {n:6d}  {MISREADINGS[why]}")
        log(f"          e.g. {ex}")
    if excluded.get("macro-wrapper"):
        log(f"          ({wrapper_named_by_us} of the wrapper lines carry the index's own function there, e.g. sys_listen)")
    log()
    log(f"recall: {found} of {considered} = {recall:.2f}%  (target ≥ {TARGET}%)")
    log(f"  {'kind':<11} {'found':>7} {'of':>7} {'recall':>8} {'missed':>7}")
    for kind in sorted(total_by_kind, key=lambda k: -total_by_kind[k]):
        n, f = total_by_kind[kind], found_by_kind[kind]
        log(f"  {kind:<11} {f:7d} {n:7d} {100.0 * f / n:7.2f}% {n - f:7d}")
    if kind_disagree:
        log()
        log(f"found, but the index gives another kind ({sum(kind_disagree.values())}):")
        for (ck, ok), n in kind_disagree.most_common(8):
            t = kind_disagree_samples[(ck, ok)]
            log(f"  {n:6d}  ctags {ck} -> index {ok or '?'}   e.g. {t.name} ({t.where})")

    by_cause: dict[str, list[Miss]] = defaultdict(list)
    for miss in misses:
        by_cause[miss.cause].append(miss)
    causes = sorted(by_cause, key=lambda c: -len(by_cause[c]))
    log()
    log(f"misses by cause ({len(misses)}):")
    for cause in causes:
        group = by_cause[cause]
        kinds = Counter(m.tag.kind for m in group)
        files = Counter(m.tag.path for m in group)
        log(f"  {len(group):6d}  {cause}: {CAUSES[cause]}")
        log(f"          kinds: {', '.join(f'{k} {n}' for k, n in kinds.most_common())}")
        log(f"          files: {', '.join(f'{p} {n}' for p, n in files.most_common(5))}{' ...' if len(files) > 5 else ''}")
        if cause == "define-in-body":
            parsed = Counter(m.detail.split("tree-sitter: ", 1)[1].split(" ", 1)[0] if "tree-sitter: " in m.detail else "?" for m in group)
            log(f"          tree-sitter parses them as: {', '.join(f'{k} {n}' for k, n in parsed.most_common())}"
                " (preproc_call: directive `#define`, the name first in preproc_arg)")
        if cause == "misparsed":
            regions = Counter(m.region for m in group)
            log(f"          regions ({len(regions)}), most misses first:")
            for region, n in regions.most_common(12):
                log(f"            {n:5d}  {region}")
            if len(regions) > 12:
                log(f"            ... and {len(regions) - 12} more regions (results JSON)")
    # functions, macros and types: the names a reader follows (a missed member or local named `dev` is not one)
    well_known = _most_used(index, [m for m in misses if m.tag.kind in ("function", "macro", "struct", "union", "typedef", "enum")
                                    and m.cause != "local"])
    if well_known:
        log()
        log("the most used names among the misses (well-known symbols the index has no definition of at that line):")
        for name, uses, miss in well_known[:15]:
            log(f"  {uses:7d} uses  {name:<28} {miss.tag.where}  {miss.cause}")
    picked = _pick_samples(by_cause, causes, samples)
    log()
    log(f"{len(picked)} sample misses (round-robin over causes):")
    for miss in picked:
        detail = f"  [{miss.detail}]" if miss.detail else ""
        log(f"  {miss.cause:<15} {miss.tag.kind:<10} {miss.tag.name:<28} {miss.tag.where}{detail}")
        log(f"  {'':<15} | {miss.source[:110]}")
    if extra_functions:
        log()
        longest = sorted(extra_functions, key=lambda f: -(f[3] - f[2]))[:5]
        log(f"functions only the index has (no ctags function at that path:line): {len(extra_functions)}; the longest:")
        for name, path, line, end_line in longest:
            log(f"  {name} {path}:{line}-{end_line} ({end_line - line + 1} lines) | {sources.line(path, line).strip()[:80]}")

    result.figures = {
        "recall_percent": round(recall, 3),
        "found": found,
        "considered": considered,
        "ctags_tags": len(tags),
        "index_definitions": sum(len(v) for v in ours.at.values()),
        "index_files": len(ours.files),
        "per_kind": {
            k: {"found": found_by_kind[k], "of": total_by_kind[k], "recall_percent": round(100.0 * found_by_kind[k] / total_by_kind[k], 3)}
            for k in sorted(total_by_kind)
        },
        "excluded_misreadings": {
            why: {"count": n, "rule": MISREADINGS[why], "samples": [t.where + " " + t.name for t in excluded_samples[why]]}
            for why, n in excluded.items()
        },
        "macro_wrapper_lines_with_our_function": wrapper_named_by_us,
        "kind_disagreements": {f"{a}->{b}": n for (a, b), n in kind_disagree.most_common()},
        "misses_by_cause": {c: {"count": len(by_cause[c]), "meaning": CAUSES[c]} for c in causes},
        "misparsed_regions": dict(Counter(m.region for m in by_cause.get("misparsed", [])).most_common()),
        "misses": [
            {"cause": m.cause, "kind": m.tag.kind, "name": m.tag.name, "where": m.tag.where,
             "scope": m.tag.scope, "detail": m.detail, "region": m.region, "source": m.source}
            for m in misses
        ],
        "most_used_misses": [{"name": n, "uses": u, "where": m.tag.where, "cause": m.cause} for n, u, m in well_known[:30]],
        "extra_functions": len(extra_functions),
        "extra_functions_longest": [
            {"name": n, "where": f"{p}:{a}-{b}"} for n, p, a, b in sorted(extra_functions, key=lambda f: -(f[3] - f[2]))[:20]
        ],
    }
    result.targets = [Target("definition recall vs ctags", recall, "%", TARGET, higher_is_better=True)]
    return result


def _most_used(index: Path, misses: list[Miss]) -> list[tuple[str, int, Miss]]:
    """Missed names ranked by how often the index records a use of them: the well-known misses first."""
    by_name: dict[str, Miss] = {}
    for miss in misses:
        by_name.setdefault(miss.tag.name, miss)
    if not by_name:
        return []
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        db.execute("CREATE TEMP TABLE missed (name TEXT PRIMARY KEY)")
        db.executemany("INSERT INTO missed VALUES (?)", [(n,) for n in by_name])
        rows = db.execute("SELECT m.name, (SELECT count(*) FROM refs r WHERE r.name = m.name AND r.access_id IS NULL) AS uses FROM missed m"
                          " ORDER BY uses DESC, m.name LIMIT 50").fetchall()
    finally:
        db.close()
    return [(name, uses, by_name[name]) for name, uses in rows if uses]


def _pick_samples(by_cause: dict[str, list[Miss]], causes: list[str], n: int) -> list[Miss]:
    """Up to n misses, round-robin over causes, preferring a new file or region each time."""
    queues = {}
    for cause in causes:
        seen: set[str] = set()
        first, rest = [], []
        for miss in sorted(by_cause[cause], key=lambda m: (m.tag.path, m.tag.line)):
            key = miss.region or miss.tag.path
            (rest if key in seen else first).append(miss)
            seen.add(key)
        queues[cause] = first + rest
    picked: list[Miss] = []
    while len(picked) < n and any(queues.values()):
        for cause in causes:
            if queues[cause] and len(picked) < n:
                picked.append(queues[cause].pop(0))
    return picked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=30, help="sample misses to print (default 30)")
    parser.add_argument("--tree", type=Path, default=TREE, help=f"the kernel tree (default {TREE})")
    parser.add_argument("--index", type=Path, default=INDEX, help=f"its index (default {INDEX})")
    args = parser.parse_args(argv)
    return run_alone(NAME, lambda: run(args.samples, args.tree, args.index))


if __name__ == "__main__":
    sys.exit(main())
