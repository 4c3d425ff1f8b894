"""kernel-doc comments: read from a file's text and attached to the definitions they document.

A kernel-doc comment opens with `/**` and names what it documents on its first line of text
(the line of `/**` itself or the next one): `name - summary`, `name() - summary`,
`name: summary`, `struct name - summary` (also union, enum, typedef).  Then come `@param:`
lines (the members of a struct, union or enum comment), free description and sections
(`Return:`, `Context:`, ...).  Inside a struct body, `/** @member: text */` documents the
member that follows.

Attachment follows what scripts/kernel-doc itself expects: the comment documents the
declaration that comes next.  The first definition after the comment must carry the name the
comment gives (a comment naming something else is attached to nothing; a few `#define`s of
other names in between are passed over); when the next
definitions are the same name again (`#ifdef CONFIG_X` a function, `#else` a macro), each gets
the comment.  Pure Python on bytes, no tree-sitter: the indexer's worker calls `attach` with the
definitions it found, and `store.KernelDoc` is what readers get back from the index.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

# The naming line: an optional keyword, the name, optional `()`, then `-`, `:` or nothing.
_HEADER_RX = re.compile(
    r"^(?:(?P<keyword>struct|union|enum|typedef)\s+)?(?P<name>[A-Za-z_]\w*)\s*(?:\(\s*\))?\s*"
    r"(?:(?:-+|:)\s*(?P<summary>.*))?$"
)
# `@name:`, `@a.b:`, `@...:`, and the sections scripts/kernel-doc knows (any case).
_PARAM_RX = re.compile(r"^@(?P<name>[A-Za-z_][\w.]*|\.\.\.)\s*:\s?(?P<text>.*)$")
_SECTION_RX = re.compile(r"^(?P<name>description|context|returns?|notes?|examples?)\s*:\s?(?P<text>.*)$", re.IGNORECASE)
MAX_COMMENT = 64 * 1024  # longer `/** ... */` texts are not kernel-doc (a commented-out block): left out
MAX_TEXT = 8000  # characters of a comment's text kept in the index (the rest is cut, with "…")

# Definitions a comment without a keyword may document; members and enumerators are
# documented through their container's `@name:` lines.
_TOP_KINDS = frozenset({"function", "prototype", "struct", "union", "enum", "typedef", "macro", "variable"})
_KEYWORD_KINDS = {
    "struct": frozenset({"struct", "union", "typedef"}),
    "union": frozenset({"union", "struct", "typedef"}),
    "enum": frozenset({"enum", "typedef"}),
    "typedef": frozenset({"typedef"}),
}
_CONTAINERS = frozenset({"struct", "union", "enum", "typedef"})
# Object-like or function-like #defines passed over between a comment and the definition it names
# (`#define TTM_BO_MAP_IOMEM_MASK 0x80` above the struct a comment documents); any other definition stops the search.
_MACROS_SKIPPED = 3


@dataclass
class ParsedComment:
    """One kernel-doc comment, cleaned of its ` * ` margins."""

    line: int  # the line that names the symbol (or the first `@member:` of an inline member comment)
    name: str | None  # None: an inline `/** @member: ... */` comment
    keyword: str | None  # struct, union, enum, typedef, or None
    summary: str
    params: dict[str, str] = field(default_factory=dict)
    param_lines: dict[str, int] = field(default_factory=dict)
    returns: str | None = None
    context: str | None = None
    text: str = ""


class DocRow(NamedTuple):
    """One row of the index's docs table, as the worker finds it (KernelDoc is what readers get)."""

    name: str  # the definition documented (STRUCT.FIELD for members)
    def_line: int  # its line: with the file and the name, the key to its symbols row
    line: int  # the line of the comment that names it
    summary: str
    params: str | None  # JSON object name → text, in the comment's order; None for members
    returns: str | None
    context: str | None
    text: str | None  # None for a member's own line: its text is the summary


class _Definition(Protocol):
    """What attaching needs of a definition (cparse.DefinitionRow has it)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def start_byte(self) -> int: ...
    @property
    def end_byte(self) -> int: ...


def _clean_lines(body: bytes, first_line: int) -> list[tuple[int, str]]:
    """(line number, text) of a comment body without the `/**` and ` * ` margins."""
    out: list[tuple[int, str]] = []
    for i, raw in enumerate(body.decode("utf-8", "replace").split("\n")):
        text = raw.rstrip()
        stripped = text.lstrip()
        if stripped.startswith("*"):
            text = stripped[1:]
            if text[:1] in (" ", "\t"):
                text = text[1:]
        elif i == 0:
            text = stripped
        out.append((first_line + i, text.rstrip()))
    return out


def _cut(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def parse_comment(body: bytes, first_line: int) -> ParsedComment | None:
    """A comment's text (what lies between `/**` and `*/`, starting on line `first_line`) as
    kernel-doc, or None when it names nothing (a `DOC:` section, free prose)."""
    lines = _clean_lines(body, first_line)
    i = 0
    while i < len(lines) and not lines[i][1].strip():
        i += 1
    if i == len(lines):
        return None
    line, head = lines[i][0], " ".join(lines[i][1].split())  # one space between words: no regex backtracking on runs
    text = _cut("\n".join(t for _, t in lines[i:]))
    if head.startswith("@"):
        doc = ParsedComment(line, None, None, "", text=text)
        _body(doc, lines[i:])
        return doc if doc.params else None
    m = _HEADER_RX.match(head)
    if m is None or head.upper().startswith("DOC:"):
        return None
    doc = ParsedComment(line, m.group("name"), m.group("keyword"), "", text=text)
    summary = [m.group("summary") or ""]
    i += 1
    while i < len(lines):  # the summary goes on to a blank line, a parameter or a section
        t = lines[i][1].strip()
        if not t or _PARAM_RX.match(t) or _SECTION_RX.match(t):
            break
        summary.append(t)
        i += 1
    doc.summary = _cut(" ".join(s for s in summary if s))
    _body(doc, lines[i:])
    return doc


def _body(doc: ParsedComment, lines: Sequence[tuple[int, str]]) -> None:
    """Parameters (each up to a blank line or the next one) and the Return and Context sections
    (each up to the next section or parameter), into `doc`."""
    current: list[str] | None = None
    target: tuple[str, str] | None = None  # ("param", name) or ("section", name)
    gathered: dict[tuple[str, str], list[str]] = {}

    def close() -> None:
        if target is not None and current is not None:
            gathered.setdefault(target, []).extend(current)

    for number, raw in lines:
        t = raw.strip()
        param = _PARAM_RX.match(t)
        section = None if param else _SECTION_RX.match(t)
        if param:
            close()
            target, current = ("param", param.group("name")), [param.group("text").strip()]
            doc.param_lines.setdefault(param.group("name"), number)
        elif section:
            close()
            target, current = ("section", section.group("name").lower().rstrip("s")), [section.group("text").strip()]
        elif target is not None and target[0] == "param" and not t:
            close()
            target, current = None, None
        elif current is not None:
            current.append(t)
    close()
    for (what, name), parts in gathered.items():
        joined = _cut(_join(parts))
        if what == "param":
            doc.params[name] = joined
        elif name == "return" and joined:
            doc.returns = joined
        elif name == "context" and joined:
            doc.context = joined


def _join(parts: list[str]) -> str:
    """Lines of a section: a blank line stays a paragraph break, other lines join with a space."""
    paragraphs: list[list[str]] = [[]]
    for p in parts:
        if p:
            paragraphs[-1].append(p)
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join(" ".join(p) for p in paragraphs if p)


def comments(src: bytes) -> list[tuple[int, int, ParsedComment]]:
    """(start byte, end byte, parsed) of each kernel-doc comment of a file, in order.

    One pass over the block comments: each `/*` is matched with its `*/` and scanning goes on
    after it (a `/**` inside another comment is no comment of its own); an unclosed comment
    ends the scan.  Linear in the file, whatever it holds."""
    if b"/**" not in src:
        return []
    out: list[tuple[int, int, ParsedComment]] = []
    line, counted = 1, 0
    pos = src.find(b"/*")
    while pos >= 0:
        close = src.find(b"*/", pos + 2)
        if close < 0:
            break
        end = close + 2
        if src.startswith(b"/**", pos) and src[pos + 3 : pos + 4] not in (b"*", b"/") and end - pos <= MAX_COMMENT:
            line_start = src.rfind(b"\n", 0, pos) + 1
            if b"//" not in src[line_start:pos]:  # `// /** ...` is a line comment
                line += src.count(b"\n", counted, pos)
                counted = pos
                parsed = parse_comment(src[pos + 3 : close], line)
                if parsed is not None:
                    out.append((pos, end, parsed))
        pos = src.find(b"/*", end)
    return out


def attach(src: bytes, definitions: Sequence[_Definition]) -> list[DocRow]:
    """The docs rows of one file: each kernel-doc comment on the definitions it documents, and the
    `@member:` lines of a struct's, union's or enum's comment on its members (enumerators)."""
    found = comments(src)
    if not found:
        return []
    order = sorted(range(len(definitions)), key=lambda i: (definitions[i].start_byte, -definitions[i].end_byte))
    defs = [definitions[i] for i in order]
    starts = [d.start_byte for d in defs]
    # top-level items: definitions not inside an earlier one (a struct's members, a typedef's struct are inside)
    tops: list[int] = []
    reach = -1
    for i, d in enumerate(defs):
        if d.start_byte >= reach:
            tops.append(i)
        reach = max(reach, d.end_byte)
    top_starts = [defs[i].start_byte for i in tops]
    rows: list[DocRow] = []
    done: set[tuple[str, int]] = set()

    def add(d: _Definition, row: DocRow) -> None:
        if (d.name, d.line) not in done:
            done.add((d.name, d.line))
            rows.append(row)

    for start, end, doc in found:
        if doc.name is None:
            t = bisect.bisect_right(top_starts, start) - 1
            member = _inline_member(defs, starts, tops[t] if t >= 0 else 0, start, end, doc)
            if member is not None:
                name = next(iter(doc.params))
                add(member, DocRow(member.name, member.line, doc.param_lines[name], _cut(doc.params[name]), None, None, None, None))
            continue
        kinds = _KEYWORD_KINDS.get(doc.keyword or "", _TOP_KINDS)
        t = bisect.bisect_left(top_starts, end)
        skipped = 0
        attached = False
        while t < len(tops):
            first = tops[t]
            following = tops[t + 1] if t + 1 < len(tops) else len(defs)
            matched = [d for d in defs[first:following] if d.name == doc.name and d.kind in kinds]
            if not matched and not attached and skipped < _MACROS_SKIPPED and all(
                    d.kind == "macro" for d in defs[first:following]):
                skipped += 1  # `#define FLAG 0x80` between the comment and what it documents
                t += 1
                continue
            if not matched:
                break  # the next definition is another name: the comment documents nothing here
            attached = True
            for d in matched:
                add(d, DocRow(d.name, d.line, doc.line, doc.summary, json.dumps(doc.params, ensure_ascii=False),
                              doc.returns, doc.context, doc.text))
                if d.kind in _CONTAINERS and doc.params:
                    _members(defs, starts, d, doc, add)
            t += 1
    return rows


def _members(defs: list[_Definition], starts: list[int], owner: _Definition, doc: ParsedComment, add: _Add) -> None:
    """`@name:` lines of a container's comment on the members (`OWNER.name`, `OWNER.a.b`) or enumerators inside it."""
    lo = bisect.bisect_left(starts, owner.start_byte)
    hi = bisect.bisect_left(starts, owner.end_byte)
    prefix = owner.name + "."
    for d in defs[lo:hi]:
        if d.kind == "member" and d.name.startswith(prefix):
            key = d.name[len(prefix):]
        elif d.kind == "enumerator":
            key = d.name
        else:
            continue
        text = doc.params.get(key)
        if text is not None:
            add(d, DocRow(d.name, d.line, doc.param_lines[key], text, None, None, None, None))


def _inline_member(defs: list[_Definition], starts: list[int], top: int, start: int, end: int,
                   doc: ParsedComment) -> _Definition | None:
    """The member an inline `/** @name: ... */` comment inside a struct body documents: the first
    member after it, inside the same container, named `name` (or `...name` under a nested prefix)."""
    name = next(iter(doc.params))
    container = None
    for d in defs[top : bisect.bisect_left(starts, start)]:  # the item holding the comment, up to it
        if d.kind in _CONTAINERS and d.start_byte <= start and end <= d.end_byte:
            container = d  # the innermost: later starts are nested deeper
    if container is None:
        return None
    for d in defs[bisect.bisect_left(starts, end) : bisect.bisect_left(starts, container.end_byte)]:
        if d.kind == "member" and (d.name == f"{container.name}.{name}" or d.name.endswith("." + name)):
            return d
        if d.kind == "enumerator" and d.name == name:
            return d
    return None


class _Add(Protocol):
    def __call__(self, d: _Definition, row: DocRow) -> None: ...
