"""`EXPORT_SYMBOL(name)` lines: which definitions a kernel exports to modules, and how.

Found by their text (tree-sitter reads them as declarations or errors): a line that starts
with an export macro and names one identifier.  The macros of 6.1 and 6.12: EXPORT_SYMBOL,
EXPORT_SYMBOL_GPL, the namespaced EXPORT_SYMBOL_NS and EXPORT_SYMBOL_NS_GPL, the per-CPU and
tracepoint forms (EXPORT_EARLY_PER_CPU_SYMBOL too), EXPORT_SYMBOL_IF_KUNIT, EXPORT_SYMBOL_FOR_MODULES
and EXPORT_INDIRECT_CALLABLE.  A line inside a
macro's body (after a line ending in a backslash) exports a macro parameter, not a symbol: left
out, and so is a pasted name (`EXPORT_SYMBOL(name##_ops)`).
"""

from __future__ import annotations

import re
from typing import NamedTuple

_EXPORT_RX = re.compile(
    rb"^[ \t]*(?P<macro>EXPORT_(?:EARLY_PER_CPU_|PER_CPU_|TRACEPOINT_)?SYMBOL(?:_GPL)?(?:_NS(?:_GPL)?)?(?:_FOR_MODULES|_IF_KUNIT)?"
    rb"|EXPORT_INDIRECT_CALLABLE)[ \t]*\([ \t]*(?P<name>[A-Za-z_]\w*)[ \t]*(?P<rest>[,)][^\n]*)",
    re.MULTILINE,
)
_NAMESPACE_RX = re.compile(rb'^,\s*"?(?P<ns>[A-Za-z_][\w.:-]*)"?\s*[,)]')


class ExportLine(NamedTuple):
    """One export, as the worker gives it to the exports table."""

    offset: int  # byte offset of the name (for the #if condition around it)
    line: int
    col: int  # 0-based byte columns of the name
    end_col: int
    name: str
    macro: str  # EXPORT_SYMBOL_GPL ...
    namespace: str | None  # EXPORT_SYMBOL_NS(name, NS): NS


def find_exports(src: bytes) -> list[ExportLine]:
    if b"EXPORT_" not in src:
        return []
    out: list[ExportLine] = []
    line, pos = 1, 0
    for m in _EXPORT_RX.finditer(src):
        line += src.count(b"\n", pos, m.start())
        pos = m.start()
        line_start = m.start()
        before = src[max(0, line_start - 3) : line_start].rstrip(b"\r\n")
        if before.endswith(b"\\"):
            continue  # in a macro body
        macro = m.group("macro").decode()
        namespace = None
        if "_NS" in macro:
            ns = _NAMESPACE_RX.match(m.group("rest"))
            namespace = ns.group("ns").decode("utf-8", "replace") if ns else None
        col = m.start("name") - line_start
        name = m.group("name").decode()
        out.append(ExportLine(m.start("name"), line, col, col + len(name), name, macro, namespace))
    return out
