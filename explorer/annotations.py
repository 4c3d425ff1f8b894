"""Commentary anchored to the code, and the drift check (`kexplore check`).

An annotation page is a Markdown page of docs/ whose front matter says
``annotations: true``.  In it:

    ## `inet_connection_sock.icsk_accept_queue`
    <!-- reviewed: linux-6.1:3f2a9c1e0b7d -->
    <!-- reviewed: linux-6.12:8e01b44a93c5 -->
    The accept queue ...

    ### `WRITE_ONCE(sk->sk_max_ack_backlog, backlog);`
    Commentary on that line of the symbol above.

- every level-2 heading is a symbol name in backticks (a function, struct, macro,
  ``STRUCT.FIELD``...): the text under it, up to the next level-2 heading, annotates
  that symbol;
- a level-3 heading in backticks anchors to a line of the symbol's definition by the
  line's text (whitespace is ignored), never by its number, so it survives line shifts;
- the ``reviewed`` comments right under the heading keep, per kernel, a hash of the
  symbol's definition as it was when a person last reviewed the annotation against that
  kernel: one comment per kernel (several ``KERNEL:HASH`` in one comment are read too).

`kexplore check` reports, per kernel and with the annotation's file and line: a symbol
that does not resolve (``missing``), an anchored line no longer in the definition
(``anchor-gone``), a definition that changed since its review (``changed``), and an
annotation never reviewed against the kernel (``unreviewed``).  `kexplore check --accept`
records the current hashes, for the kernels checked, once the annotations have been reviewed.

Standard library only: the CLI's lookups read annotations too.
"""

from __future__ import annotations

import re
from collections import namedtuple
from pathlib import Path

from .store import Index, SourceChanged, Symbol

_FRONT_MATTER_RX = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_ANNOTATIONS_FLAG_RX = re.compile(r"^annotations:\s*(true|yes|on)\s*$", re.MULTILINE | re.IGNORECASE)
_H2_RX = re.compile(r"^##\s+(.*?)\s*#*\s*$")
_H3_RX = re.compile(r"^###\s+(.*?)\s*#*\s*$")
_SYMBOL_HEADING_RX = re.compile(r"^`([A-Za-z_][\w.]*)`$")
_ANCHOR_HEADING_RX = re.compile(r"^`(.+)`$")
_REVIEWED_RX = re.compile(r"^<!--\s*reviewed:(.*?)-->\s*$")
_FENCE_RX = re.compile(r"^\s*(```|~~~)")
HASH_LENGTH = 12
_LINK_RX = re.compile(r"\[\[(?:src:)?([^\[\]|\n]+?)(?:\|([^\[\]\n]+?))?\]\]")  # [[name]] / [[name|text]] as plain text


# The records are not dataclasses: `kexplore lookup` of an annotated symbol reads its annotation, and
# a lookup does not import dataclasses (tests/test_lookup_imports.py).  The named tuples' annotations
# are for mypy.


class Anchor(namedtuple("Anchor", "line text")):
    __slots__ = ()
    line: int  # in the annotation file
    text: str


class Annotation:
    """The commentary under one level-2 heading; `parse_file` fills it in as it reads the lines below."""

    __slots__ = ("anchors", "line", "path", "review_end", "reviewed", "reviewed_line", "reviewed_lines", "symbol", "text")

    def __init__(self, path: Path, line: int, symbol: str, text: str = "") -> None:
        self.path = path
        self.line = line  # of the heading
        self.symbol = symbol
        self.text = text
        self.reviewed: dict[str, str | None] = {}  # kernel → hash of the reviewed definition
        self.reviewed_line: int | None = None  # the first `reviewed` comment
        self.reviewed_lines: dict[str, int] = {}  # kernel → the line of its mark
        self.review_end: int | None = None  # the last `reviewed` comment of the block under the heading
        self.anchors: list[Anchor] = []

    def __repr__(self) -> str:
        return f"Annotation({self.symbol!r}, {self.path.name}:{self.line})"

    def summary(self, limit: int = 240) -> str:
        """The first paragraph, for hovers and terminal output."""
        para: list[str] = []
        for raw in self.text.strip().splitlines():
            if not raw.strip():
                if para:
                    break
                continue
            if raw.startswith("#"):
                break
            para.append(raw.strip())
        out = _LINK_RX.sub(lambda m: m.group(2) or m.group(1), " ".join(para))
        return out if len(out) <= limit else out[: limit - 1] + "…"


FINDINGS = ("missing", "anchor-gone", "changed", "unreviewed", "source-changed", "heading", "repeats-kernel-doc")
WARNINGS = frozenset({"repeats-kernel-doc"})  # reported, but `kexplore check` still succeeds


class Finding(namedtuple("Finding", "path line symbol kernel problem finding", defaults=("heading",))):
    __slots__ = ()
    path: str
    line: int
    symbol: str
    kernel: str | None
    problem: str  # the sentence for a person
    finding: str  # one of FINDINGS, for scripts (default: heading)

    def as_dict(self) -> dict[str, object]:
        """A row of `kexplore check --json`."""
        return {"kernel": self.kernel, "file": self.path, "line": self.line, "symbol": self.symbol,
                "finding": self.finding, "message": self.problem}

    def __str__(self) -> str:
        where = f" [{self.kernel}]" if self.kernel else ""
        return f"{self.path}:{self.line}: {self.symbol}{where}: {self.problem}"


def annotation_files(docs: Path) -> list[tuple[Path, str]]:
    """The annotation pages of docs/ with their text (each file is read once)."""
    if not docs.is_dir():
        return []
    out = []
    for path in sorted(docs.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        m = _FRONT_MATTER_RX.match(text)
        if m and _ANNOTATIONS_FLAG_RX.search(m.group(1)):
            out.append((path, text))
    return out


def parse_file(path: Path, root: Path | None = None, text: str | None = None) -> tuple[list[Annotation], list[Finding]]:
    if text is None:
        text = path.read_text(encoding="utf-8")
    shown = _rel(path, root) if root is not None else str(path)
    lines = text.splitlines()
    start = 0
    m = _FRONT_MATTER_RX.match(text)
    if m:
        start = text[: m.end()].count("\n")
    annotations: list[Annotation] = []
    findings: list[Finding] = []
    current: Annotation | None = None
    body: list[str] = []
    in_fence = False

    def close() -> None:
        if current is not None:
            current.text = "\n".join(body).strip()

    for i in range(start, len(lines)):
        raw = lines[i]
        number = i + 1
        if _FENCE_RX.match(raw):
            in_fence = not in_fence
        if not in_fence:
            h2 = _H2_RX.match(raw) if raw.startswith("## ") else None
            if h2:
                close()
                body = []
                sym = _SYMBOL_HEADING_RX.match(h2.group(1))
                if not sym:
                    findings.append(Finding(shown, number, h2.group(1), None,
                                            "a level-2 heading of an annotation page must be a symbol in backticks"))
                    current = None
                    continue
                current = Annotation(path, number, sym.group(1))
                annotations.append(current)
                continue
            if current is not None and raw.startswith("### "):
                h3 = _H3_RX.match(raw)
                anchor = _ANCHOR_HEADING_RX.match(h3.group(1)) if h3 else None
                if anchor:
                    current.anchors.append(Anchor(number, anchor.group(1)))
            if current is not None and not body:
                rev = _REVIEWED_RX.match(raw.strip())
                if rev:  # the marks right under the heading, one comment per kernel or several in one
                    if current.reviewed_line is None:
                        current.reviewed_line = number
                    current.review_end = number
                    for item in rev.group(1).split():
                        kernel, _, digest = item.partition(":")
                        current.reviewed[kernel] = digest or None
                        current.reviewed_lines[kernel] = number
                    continue
        if current is not None:
            body.append(raw)
    close()
    return annotations, findings


def load(docs: Path) -> tuple[list[Annotation], list[Finding]]:
    annotations: list[Annotation] = []
    findings: list[Finding] = []
    for path, text in annotation_files(docs):
        found, problems = parse_file(path, docs.parent, text)
        annotations += found
        findings += problems
    return annotations, findings


def by_symbol(docs: Path, names: set[str] | None = None) -> dict[str, Annotation]:
    """Annotations by symbol; with `names`, only the files that annotate one of them are parsed."""
    out: dict[str, Annotation] = {}
    for path, text in annotation_files(docs):
        if names is not None and not any(f"## `{name}`" in text for name in names):
            continue
        found, _ = parse_file(path, docs.parent, text)
        for a in found:
            if names is None or a.symbol in names:
                out.setdefault(a.symbol, a)
    return out


# ---------------------------------------------------------------- drift


def _collapse(text: str) -> str:
    return " ".join(text.split())


def definition_lines(index: Index, tree: Path, sym: Symbol) -> list[str]:
    """The lines of a definition as the index delimits it (raises SourceChanged if the file changed)."""
    return index.definition_text(sym, tree, whole_lines=True).splitlines()


def body_hash(lines: list[str]) -> str:
    """A hash of a definition that ignores whitespace (re-indenting is not drift)."""
    import hashlib  # here, not at the top: lookups read annotations and need no hashing

    return hashlib.sha256("\n".join(_collapse(line) for line in lines).encode()).hexdigest()[:HASH_LENGTH]


def _definition(index: Index, name: str) -> Symbol | None:
    found = index.lookup(name)
    return found[0] if found else None


def check(annotations: list[Annotation], kernels: dict[str, tuple[Index, Path]], docs_root: Path) -> list[Finding]:
    """Every annotation against every indexed kernel: resolution, anchors, review hashes."""
    findings: list[Finding] = []
    for a in annotations:
        rel = _rel(a.path, docs_root)
        for kernel, (index, tree) in kernels.items():
            sym = _definition(index, a.symbol)
            if sym is None:
                findings.append(Finding(rel, a.line, a.symbol, kernel, "no such symbol in this kernel", "missing"))
                continue
            try:
                lines = definition_lines(index, tree, sym)
            except SourceChanged as exc:
                findings.append(Finding(rel, a.line, a.symbol, kernel, str(exc), "source-changed"))
                continue
            collapsed = [_collapse(line) for line in lines]
            for anchor in a.anchors:
                want = _collapse(anchor.text)
                if not any(want in line for line in collapsed):
                    findings.append(Finding(rel, anchor.line, a.symbol, kernel,
                                            f"anchored text `{anchor.text}` is no longer in {sym.path}:{sym.line}-{sym.end_line}",
                                            "anchor-gone"))
            digest = body_hash(lines)
            reviewed = a.reviewed.get(kernel)
            if reviewed is None:
                findings.append(Finding(rel, a.line, a.symbol, kernel,
                                        f"not reviewed against this kernel yet (review it, then `kexplore check --kernel {kernel} --accept`)",
                                        "unreviewed"))
            elif reviewed != digest:
                findings.append(Finding(rel, a.reviewed_lines.get(kernel, a.line), a.symbol, kernel,
                                        f"the definition at {sym.path}:{sym.line} changed since the annotation was reviewed "
                                        f"(hash {reviewed}, now {digest}): re-read it, then "
                                        f"`kexplore check --kernel {kernel} --accept`", "changed"))
    return findings


_WORD_RX = re.compile(r"[a-z][a-z0-9_]{2,}")
_COMMON_WORDS = frozenset(
    "the and for that this with its are was were from into not but when which what who will can may one all any "
    "has have had been being than then also only each other such more most some there their them they our out "
    "use used uses does done over under both how why where here just very".split()
)
REPEAT_SHARE = 0.8  # an annotation whose words are this much the kernel-doc's adds nothing to it
_REPEAT_MIN_WORDS = 4


def _words(text: str) -> set[str]:
    return {w for w in _WORD_RX.findall(text.lower()) if w not in _COMMON_WORDS}


def repeats_kernel_doc(annotations: list[Annotation], index: Index, kernel: str, docs_root: Path) -> list[Finding]:
    """Warnings for annotations that say only what the symbol's kernel-doc comment says already
    (at least REPEAT_SHARE of their words are the comment's): commentary should add to the code's
    own documentation, not copy it."""
    found: list[Finding] = []
    symbols = {a.symbol: _definition(index, a.symbol) for a in annotations}
    known = [s for s in symbols.values() if s is not None]
    docs = dict(zip([(s.name, s.path, s.line) for s in known], index.docs(known), strict=True))
    for a in annotations:
        sym = symbols.get(a.symbol)
        doc = docs.get((sym.name, sym.path, sym.line)) if sym is not None else None
        if doc is None:
            continue
        text = _LINK_RX.sub(lambda m: m.group(2) or m.group(1), a.text)
        mine = _words(text)
        if len(mine) < _REPEAT_MIN_WORDS:
            continue
        share = len(mine & _words(doc.text)) / len(mine)
        if share >= REPEAT_SHARE:
            found.append(Finding(_rel(a.path, docs_root), a.line, a.symbol, kernel,
                                 f"the annotation repeats the kernel-doc at {doc.path}:{doc.line} ({share:.0%} of its words "
                                 "are the comment's): say what the comment does not", "repeats-kernel-doc"))
    return found


def accept(annotations: list[Annotation], kernels: dict[str, tuple[Index, Path]]) -> int:
    """Write the current hashes into the `reviewed` comments; returns the number of files changed."""
    by_file: dict[Path, list[Annotation]] = {}
    for a in annotations:
        by_file.setdefault(a.path, []).append(a)
    changed = 0
    for path, items in by_file.items():
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        inserts: list[tuple[int, int, str]] = []  # (0-based first line, lines replaced, text)
        for a in items:
            hashes = dict(a.reviewed)
            for kernel, (index, tree) in kernels.items():
                sym = _definition(index, a.symbol)
                if sym is None:
                    continue
                try:
                    hashes[kernel] = body_hash(definition_lines(index, tree, sym))
                except SourceChanged:
                    continue  # `check` reports it; a hash of the wrong text would be worse than none
            # one comment per kernel, replacing the block of marks under the heading: the marks already
            # there keep their order, a kernel reviewed for the first time comes after them
            comment = "".join(f"<!-- reviewed: {k}:{v} -->\n" if v else f"<!-- reviewed: {k} -->\n"
                              for k, v in hashes.items())
            if a.reviewed_line is not None and a.review_end is not None:
                inserts.append((a.reviewed_line - 1, a.review_end - a.reviewed_line + 1, comment))
            else:
                inserts.append((a.line, 0, comment))
        before = "".join(lines)
        for at, replaced, text in sorted(inserts, reverse=True):
            lines[at : at + replaced] = [text]
        after = "".join(lines)
        if after != before:
            path.write_text(after, encoding="utf-8")
            changed += 1
    return changed


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
