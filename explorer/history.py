"""A symbol's definitions across kernels: their texts, counterparts and unified diffs.

Shared by `kexplore history/diff` and the site's symbol pages and "What changed" page.
Standard library only (the CLI imports it); definitions are read with `Index.definition_text`,
which refuses a file that changed since it was indexed (`SourceChanged`).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from .store import Index, Symbol, counterparts, find  # find: there, for `lookup`, which does not import this module


@dataclass(frozen=True)
class Definition:
    """One definition of a name in one kernel, with its text (exact range, and the whole lines it spans)."""

    kernel: str
    sym: Symbol
    text: str
    lines: str

    @property
    def where(self) -> tuple[str, str]:
        return self.sym.path, self.sym.kind


@dataclass(frozen=True)
class DiffPart:
    """One definition against its counterpart: where each is (None: absent), whether the text differs, the diff."""

    older: Definition | None
    newer: Definition | None
    changed: bool
    diff: str


@dataclass(frozen=True)
class HistoryRow:
    """One line of `kexplore history`: a definition in one kernel, compared with the previous indexed kernel."""

    kernel: str
    kind: str | None
    path: str | None
    line: int | None
    end_line: int | None
    signature: str | None
    changed: bool | None  # None: nothing to compare with (the first indexed kernel, or not indexed)
    status: str  # present, unchanged, changed, added, removed, absent, not indexed
    from_path: str | None = None  # the counterpart's path in the previous kernel (another one when moved)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def definitions(kernel: str, index: Index, tree: Path, name: str, kind: str | None = None,
                symbols: list[Symbol] | None = None) -> list[Definition]:
    """The definitions of `name` in one kernel (or `symbols`, already looked up), with their texts.

    Raises SourceChanged if the tree differs from its index."""
    return [
        Definition(kernel, s, index.definition_text(s, tree), index.definition_text(s, tree, whole_lines=True))
        for s in (symbols if symbols is not None else find(index, name, kind))
    ]


def _text(d: Definition) -> str:
    return d.text


def pair(older: list[Definition], newer: list[Definition]) -> tuple[list[tuple[Definition, Definition]],
                                                                    list[Definition], list[Definition]]:
    """Counterparts (same path first, then the same kind), the removed and the added definitions."""
    return counterparts(older, newer, lambda d: d.where, _text)


_HUNK_RX = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")


def unified(older: Definition | None, newer: Definition | None, k1: str, k2: str) -> str:
    """The unified diff of two definitions' whole lines, numbered as the lines of their files."""
    a = older.lines.splitlines() if older is not None else []
    b = newer.lines.splitlines() if newer is not None else []
    a_name = f"{k1}/{older.sym.path}" if older is not None else f"{k1} (absent)"
    b_name = f"{k2}/{newer.sym.path}" if newer is not None else f"{k2} (absent)"
    a_first = older.sym.start_line if older is not None else 1
    b_first = newer.sym.start_line if newer is not None else 1

    def renumber(m: re.Match[str]) -> str:
        a_at, b_at = int(m.group(1)), int(m.group(3))
        a_at += a_first - 1 if a_at else 0
        b_at += b_first - 1 if b_at else 0
        return f"@@ -{a_at}{m.group(2) or ''} +{b_at}{m.group(4) or ''} @@"

    out = []
    for line in difflib.unified_diff(a, b, a_name, b_name, lineterm=""):
        out.append(_HUNK_RX.sub(renumber, line) if line.startswith("@@") else line)
    return "".join(line + "\n" for line in out)


def diff_parts(older: list[Definition], newer: list[Definition], k1: str, k2: str) -> list[DiffPart]:
    """Each definition diffed with its counterpart; one without a counterpart against nothing."""
    pairs, gone, new = pair(older, newer)
    parts = [DiffPart(a, b, a.text != b.text, unified(a, b, k1, k2) if a.text != b.text else "") for a, b in pairs]
    parts += [DiffPart(a, None, True, unified(a, None, k1, k2)) for a in gone]
    parts += [DiffPart(None, b, True, unified(None, b, k1, k2)) for b in new]
    return parts
