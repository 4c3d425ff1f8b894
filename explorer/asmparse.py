"""Assembly (`.S`) files: definitions and references, found by scanning statements.

There is no tree-sitter grammar for the kernel's preprocessed GNU assembler, and the
forms that matter are few and regular, so this module reads the text itself:

- definitions from the linkage macros of include/linux/linkage.h and the older ENTRY
  family: ``SYM_FUNC_START*``, ``SYM_TYPED_FUNC_START`` and ``ENTRY`` are
  ``asm function``; ``SYM_CODE_START*`` and ``SYM_START`` are ``asm code`` (entry
  points and trampolines that do not follow the C calling convention);
  ``SYM_INNER_LABEL*``, ``GLOBAL``, ``WEAK`` and a label named by ``.globl`` are
  ``asm label``; ``SYM_DATA*`` is ``asm data``; ``.macro`` is ``asm macro``;
  ``#define`` is ``macro``, as in C.  The end line comes from the matching
  ``SYM_*_END``, ``ENDPROC`` or ``END`` (an inner label ends with its enclosing
  definition); ``SYM_FUNC_ALIAS*(alias, name)`` defines ``alias`` on its line and
  jumps to ``name``;
- references: ``call NAME`` is a ``call``, ``jmp NAME`` and the conditional jumps a
  ``jump``, ``CALL_NOSPEC reg`` / ``JMP_NOSPEC reg`` a call or jump of the retpoline
  thunk ``__x86_indirect_thunk_reg`` they branch to, the instructions inside the
  string arguments of ``ALTERNATIVE``-style macros are read as statements, and the
  other identifiers of an operand are reads; a statement that starts with a
  ``.macro`` of the same file is a ``call`` of that macro, one that starts with
  another upper-case word a ``macro`` use.

A statement the scanner does not understand is skipped (counted in ``error_nodes``
when it is a linkage macro without a usable name, or an end without a start): odd
files are indexed around their problems, never refused.  Names are whatever the
file says; readers escape them.  No recursion: statements inside ALTERNATIVE strings
are read one level deep, and strings do not nest.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import NamedTuple

from .cparse import DefinitionRow, ParseResult
from .xref import RefRow, join_conditions, negate_condition

ASM_FUNCTION = "asm function"
ASM_CODE = "asm code"
ASM_LABEL = "asm label"
ASM_DATA = "asm data"
ASM_MACRO = "asm macro"
ASM_KINDS = (ASM_FUNCTION, ASM_CODE, ASM_LABEL, ASM_DATA, ASM_MACRO)

MAX_CONDITIONS = 100  # #if nesting followed; deeper, the file is marked partial
_MAX_SIGNATURE = 240

# start macro -> (kind, scope); the name is the first argument
_STARTS = {
    "SYM_FUNC_START": (ASM_FUNCTION, "global"),
    "SYM_FUNC_START_NOALIGN": (ASM_FUNCTION, "global"),
    "SYM_FUNC_START_LOCAL": (ASM_FUNCTION, "file"),
    "SYM_FUNC_START_LOCAL_NOALIGN": (ASM_FUNCTION, "file"),
    "SYM_FUNC_START_WEAK": (ASM_FUNCTION, "global"),
    "SYM_FUNC_START_WEAK_NOALIGN": (ASM_FUNCTION, "global"),
    "SYM_FUNC_START_ALIAS": (ASM_FUNCTION, "global"),
    "SYM_FUNC_START_LOCAL_ALIAS": (ASM_FUNCTION, "file"),
    "SYM_TYPED_FUNC_START": (ASM_FUNCTION, "global"),
    "ENTRY": (ASM_FUNCTION, "global"),
    "SYM_CODE_START": (ASM_CODE, "global"),
    "SYM_CODE_START_NOALIGN": (ASM_CODE, "global"),
    "SYM_CODE_START_LOCAL": (ASM_CODE, "file"),
    "SYM_CODE_START_LOCAL_NOALIGN": (ASM_CODE, "file"),
    "SYM_START": (ASM_CODE, "global"),
    "SYM_DATA_START": (ASM_DATA, "global"),
    "SYM_DATA_START_LOCAL": (ASM_DATA, "file"),
    "SYM_DATA_START_PAGE_ALIGNED": (ASM_DATA, "global"),
    "SYM_DATA_START_PTI_ALIGNED": (ASM_DATA, "global"),
}
# end macro -> the kinds it may close: the kernel mixes them (SYM_START ... SYM_FUNC_END, SYM_FUNC_START ...
# SYM_CODE_END), so a function end closes code too; an end naming an inner label ends the label there.
_CODE = (ASM_FUNCTION, ASM_CODE)
_ENDS = {
    "SYM_FUNC_END": _CODE,
    "SYM_FUNC_END_ALIAS": _CODE,
    "SYM_TYPED_FUNC_END": _CODE,
    "ENDPROC": _CODE,
    "SYM_CODE_END": _CODE,
    "END": (*_CODE, ASM_DATA),
    "SYM_END": (*_CODE, ASM_DATA),
    "SYM_DATA_END": (ASM_DATA,),
    "SYM_DATA_END_LABEL": (ASM_DATA,),
}
# one-line definitions: macro -> (kind, the argument holding the scope or a fixed scope)
_LABELS = {
    "SYM_INNER_LABEL": ASM_LABEL,
    "SYM_INNER_LABEL_ALIGN": ASM_LABEL,
    "GLOBAL": ASM_LABEL,
    "WEAK": ASM_LABEL,
    "SYM_DATA": ASM_DATA,
    "SYM_DATA_LOCAL": ASM_DATA,
    "SYM_ENTRY": ASM_LABEL,
}
_ALIASES = {"SYM_FUNC_ALIAS": "global", "SYM_FUNC_ALIAS_WEAK": "global", "SYM_FUNC_ALIAS_LOCAL": "file",
            "SYM_FUNC_ALIAS_MEMFUNC": "global"}
_LINKAGE_MACROS = frozenset(_STARTS) | frozenset(_ENDS) | frozenset(_LABELS) | frozenset(_ALIASES)

_CALLS = frozenset({"call", "callq", "calll", "callw"})
_JUMPS = frozenset(
    {"jmp", "jmpq", "jmpl", "jmpw", "ja", "jae", "jb", "jbe", "jc", "je", "jg", "jge", "jl", "jle", "jna", "jnae",
     "jnb", "jnbe", "jnc", "jne", "jng", "jnge", "jnl", "jnle", "jno", "jnp", "jns", "jnz", "jo", "jp", "jpe",
     "jpo", "js", "jz", "jcxz", "jecxz", "jrcxz", "loop", "loope", "loopne", "loopnz", "loopz"}
)
_NOSPEC = {"CALL_NOSPEC": "call", "JMP_NOSPEC": "jump"}
_DATA_DIRECTIVES = frozenset(
    {".quad", ".long", ".word", ".short", ".byte", ".int", ".8byte", ".4byte", ".2byte", ".octa", ".set", ".equ"}
)

_NAME = r"[A-Za-z_][\w.$]*"
_NAME_RX = re.compile(_NAME + r"\Z")
# comments become spaces (newlines kept, so offsets and lines stay those of the file); strings are kept
_COMMENT_OR_STRING_RX = re.compile(rb'/\*.*?(?:\*/|\Z)|//[^\n]*|"(?:\\.|[^"\\\n])*"?', re.DOTALL)
_STRING_RX = re.compile(r'"(?:\\.|[^"\\\n])*"?')
_DIRECTIVE_RX = re.compile(r"[ \t]*#[ \t]*(\w*)(.*)", re.DOTALL)
_DEFINE_RX = re.compile(r"[ \t]*#[ \t]*define[ \t]+(" + _NAME + r")")
_LABEL_RX = re.compile(r"[ \t]*(" + _NAME + r"|\d+)[ \t]*:(?!:)")
_WORD_RX = re.compile(r"[ \t]*(\.?[A-Za-z_][\w.$]*)")
_IDENT_RX = re.compile(r"(?<![\w.%\\@])[A-Za-z_][\w$]*(?![\w$\\])")
_GLOBL_RX = re.compile(rb"^[ \t]*\.glob(?:a)?l[ \t]+([A-Za-z_][\w.$]*)", re.MULTILINE)
_REGISTER_RX = re.compile(
    r"(?:[re]?[abcd]x|[abcd][lh]|[re]?(?:si|di|sp|bp|ip)|[sd]il|[sb]pl|r(?:[89]|1[0-5])[dwb]?"
    r"|[xyz]mm\d{1,2}|k[0-7]|[cdefgs]s|cr\d|dr\d|st|mm[0-7])\Z"
)


class _Open(NamedTuple):
    slot: int  # into the definitions found
    kind: str
    name: str


def _collapse(text: str) -> str:
    out = " ".join(text.split())
    return out if len(out) <= _MAX_SIGNATURE else out[: _MAX_SIGNATURE - 1] + "…"


def _arguments(text: str, open_paren: int, end: int) -> tuple[list[tuple[str, int]], int] | None:
    """The comma-separated arguments after text[open_paren] == '(' (each stripped, with its offset),
    and the offset after the closing parenthesis; None if it does not close before `end` (the end of
    the statement: never a scan of the rest of the file).  Nested parentheses are counted, not followed."""
    depth, start, args = 0, open_paren + 1, []
    for i in range(open_paren, end):
        c = text[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                args.append(start)
                break
        elif c == "," and depth == 1:
            args.append(start)
            args.append(i + 1)
            start = i + 1
    else:
        return None
    out: list[tuple[str, int]] = []
    bounds = [*args, i + 1]
    for k in range(0, len(bounds) - 1, 2):
        a, b = bounds[k], bounds[k + 1] - 1
        raw = text[a:b]
        lead = len(raw) - len(raw.lstrip())
        out.append((raw.strip(), a + lead))
    return out, i + 1


def _statements(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the `;`-separated statements of text[start:end], strings respected."""
    out: list[tuple[int, int]] = []
    pos = start
    i = start
    while i < end:
        c = text[i]
        if c == '"':
            m = _STRING_RX.match(text, i)
            i = m.end() if m else i + 1
            continue
        if c == ";":
            out.append((pos, i))
            pos = i + 1
        elif c == "#":  # the assembler's comment, to the end of the line
            nl = text.find("\n", i, end)
            out.append((pos, i))
            if nl < 0:
                return out
            pos = i = nl + 1
            continue
        i += 1
    out.append((pos, end))
    return out


class _Scanner:
    def __init__(self, src: bytes, path: str, refs: bool) -> None:
        self.path = path
        self.want_refs = refs
        # Work in latin-1: one character per byte, so offsets are byte offsets.
        blanked = _COMMENT_OR_STRING_RX.sub(self._blank_comment, src)
        self.text = blanked.decode("latin-1")
        self.src = src
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", self.text)]
        self.defs: list[DefinitionRow] = []
        self.refs: list[RefRow] = []
        self.errors = 0
        self.partial = False
        self.conditions: list[str] = []
        self.open: list[_Open] = []  # start macros not closed yet, innermost last
        self.macro: _Open | None = None  # the .macro whose body this is
        self.inner: list[int] = []  # inner labels waiting for their enclosing definition's end
        self.globl = {m.group(1).decode("latin-1") for m in _GLOBL_RX.finditer(blanked)}
        self.local_macros = {m.group(1) for m in re.finditer(r"^[ \t]*\.macro[ \t]+(" + _NAME + ")", self.text, re.MULTILINE)}
        self.seen_labels: set[str] = set()

    @staticmethod
    def _blank_comment(m: re.Match[bytes]) -> bytes:
        token = m.group(0)
        if token.startswith(b'"'):
            return token
        return re.sub(rb"[^\n]", b" ", token)

    # ------------------------------------------------------------ positions

    def line_of(self, offset: int) -> int:
        return bisect_right(self.line_starts, offset)

    def col_of(self, offset: int) -> int:
        return offset - self.line_starts[self.line_of(offset) - 1]

    def cond(self) -> str | None:
        joined: str | None = None
        for c in self.conditions:
            joined = join_conditions(joined, c)
        return joined

    def before(self, offset: int) -> int:
        """The end of the line before the one holding offset, trailing blanks left out."""
        start = self.line_starts[self.line_of(offset) - 1]
        end = max(start - 1, 0)
        while end > 0 and self.text[end - 1] in " \t\r\\\n":
            end -= 1
        return end

    def line_end(self, offset: int) -> int:
        """The end of the line holding offset, trailing blanks left out."""
        nl = self.text.find("\n", offset)
        end = len(self.text) if nl < 0 else nl
        while end > offset and self.text[end - 1] in " \t\r\\":
            end -= 1
        return end

    # ------------------------------------------------------------ the walk

    def run(self) -> None:
        text = self.text
        pos, n = 0, len(text)
        while pos < n:
            # a logical line: physical lines joined by a backslash before the newline
            end = pos
            while True:
                nl = text.find("\n", end)
                if nl < 0:
                    end = n
                    break
                if (nl > 0 and text[nl - 1] == "\\") or (nl > 1 and text[nl - 1] == "\r" and text[nl - 2] == "\\"):
                    end = nl + 1
                    continue
                end = nl
                break
            stripped = text[pos:end].lstrip()
            if stripped.startswith("#"):
                self.directive(pos, end)
            elif stripped:
                for a, b in _statements(text, pos, end):
                    self.statement(a, b, in_string=False)
            pos = end + 1
        last = self.line_end(max(n - 1, 0))
        for o in reversed(self.open):
            self.close(o, last)
        if self.macro is not None:
            self.close(self.macro, last)

    def directive(self, start: int, end: int) -> None:
        m = _DIRECTIVE_RX.match(self.text, start, end)
        if m is None:
            return
        word, rest = m.group(1), _collapse(m.group(2).replace("\\\n", " "))
        if word == "define":
            d = _DEFINE_RX.match(self.text, start, end)
            if d is None:
                self.errors += 1
                return
            name_at = d.start(1)
            self.add(d.group(1), "macro", name_at, start, self.line_end(end - 1) if end > start else end,
                     "global" if self.path.endswith(".h") else "file", _collapse(self.text[start:end].replace("\\\n", " ")))
        elif word in ("if", "ifdef", "ifndef"):
            if len(self.conditions) >= MAX_CONDITIONS:
                self.partial = True
                self.conditions.append("…")
                return
            self.conditions.append(f"!{rest}" if word == "ifndef" else rest)
        elif word in ("elif", "else"):
            if self.conditions:
                negated = negate_condition(self.conditions.pop()) or ""
                self.conditions.append(negated if word == "else" else join_conditions(negated, rest) or "")
        elif word == "endif" and self.conditions:
            self.conditions.pop()

    def statement(self, start: int, end: int, in_string: bool) -> None:
        text = self.text
        pos = start
        while True:  # labels before the instruction: `foo:`, `1:`
            m = _LABEL_RX.match(text, pos, end)
            if m is None:
                break
            name = m.group(1)
            if not in_string and name in self.globl and name not in self.seen_labels:
                self.seen_labels.add(name)
                self.add(name, ASM_LABEL, m.start(1), m.start(1), self.line_end(m.start(1)), "global",
                         f".globl {name}; {name}:")
            pos = m.end()
        m = _WORD_RX.match(text, pos, end)
        if m is None:
            return
        word, after = m.group(1), m.end()
        if word in _LINKAGE_MACROS and not in_string:
            self.linkage(word, m.start(1), after, end)
            return
        if word.startswith("."):
            self.assembler_directive(word, m.start(1), after, end)
            return
        lower = word.lower()
        if lower in _CALLS or lower in _JUMPS:
            self.branch("call" if lower in _CALLS else "jump", after, end)
            return
        if word in _NOSPEC:
            self.ref(word, m.start(1), "macro")
            arg = re.match(r"[ \t]*%?([a-z0-9]+)\b", text[after:end])
            if arg and _REGISTER_RX.match(arg.group(1)):
                self.ref(f"__x86_indirect_thunk_{arg.group(1)}", after + arg.start(1), _NOSPEC[word],
                         end_at=after + arg.end(1))
            return
        if word.startswith("ALTERNATIVE") and not in_string:
            self.ref(word, m.start(1), "macro")
            for s in _STRING_RX.finditer(text, after, end):
                inner_start, inner_end = s.start() + 1, s.end() - (1 if s.group(0).endswith('"') and s.end() - s.start() > 1 else 0)
                for a, b in _statements(text, inner_start, inner_end):
                    self.statement(a, b, in_string=True)
            self.operands(_STRING_RX.sub(lambda s: " " * len(s.group(0)), text[after:end]), after)
            return
        if word in self.local_macros:
            self.ref(word, m.start(1), "call")
        elif word != lower and "." not in word:
            self.ref(word, m.start(1), "macro")
        self.operands(text[after:end], after)

    def linkage(self, word: str, at: int, after: int, end: int) -> None:
        text = self.text
        paren = text.find("(", after, end)
        if paren < 0 or text[after:paren].strip():
            if self.macro is None:
                self.errors += 1
            return
        parsed = _arguments(text, paren, end)
        if parsed is None or not parsed[0] or not _NAME_RX.match(parsed[0][0][0]):
            if self.macro is None:  # in a .macro body the name is a parameter (SYM_FUNC_START(\name)): normal
                self.errors += 1
            return
        args, close = parsed
        name, name_at = args[0]
        signature = _collapse(text[at:close])
        stmt_end = self.line_end(close - 1)
        if word in _STARTS:
            kind, scope = _STARTS[word]
            if kind != ASM_DATA:  # a new function without an end closes the one before
                for o in [o for o in self.open if o.kind != ASM_DATA]:
                    self.close(o, self.before(at))
                    self.open.remove(o)
            index = self.add(name, kind, name_at, at, stmt_end, scope, signature)
            self.open.append(_Open(index, kind, name))
        elif word in _ENDS:
            for o in reversed(self.open):
                if o.name == name and o.kind in _ENDS[word]:
                    self.open.remove(o)
                    self.close(o, stmt_end)
                    break
            else:
                labels = [i for i in self.inner if self.defs[i].name == name]
                if labels:
                    self.inner.remove(labels[-1])
                    inner = self.defs[labels[-1]]
                    self.defs[labels[-1]] = inner._replace(end_line=self.line_of(max(stmt_end - 1, inner.start_byte)),
                                                           end_byte=max(stmt_end, inner.end_byte))
                elif self.macro is None:
                    self.errors += 1
            if word == "SYM_DATA_END_LABEL" and len(args) >= 3 and _NAME_RX.match(args[2][0]):
                label_name, label_at = args[2]
                self.add(label_name, ASM_LABEL, label_at, at, stmt_end, _scope(args[1][0]), signature)
        elif word in _LABELS:
            kind = _LABELS[word]
            scope = _scope(args[1][0]) if word.startswith("SYM_INNER") and len(args) > 1 else (
                "file" if word.endswith("_LOCAL") else "global")
            index = self.add(name, kind, name_at, at, stmt_end, scope, signature)
            if word.startswith("SYM_INNER") and any(o.kind != ASM_DATA for o in self.open):
                self.inner.append(index)
        elif word in _ALIASES:
            self.add(name, ASM_FUNCTION, name_at, at, stmt_end, _ALIASES[word], signature)
            if len(args) > 1 and _NAME_RX.match(args[1][0]):
                self.ref(args[1][0], args[1][1], "jump", func=name)

    def assembler_directive(self, word: str, at: int, after: int, end: int) -> None:
        text = self.text
        if word == ".macro":
            m = re.match(r"[ \t]+(" + _NAME + ")", text[after:end])
            if m is None:
                self.errors += 1
                return
            if self.macro is not None:  # a .macro inside a .macro: close the first one there
                self.close(self.macro, self.before(at))
            name_at = after + m.start(1)
            index = self.add(m.group(1), ASM_MACRO, name_at, at, self.line_end(at), "file",
                             _collapse(text[at:end]))
            self.macro = _Open(index, ASM_MACRO, m.group(1))
        elif word in (".endm", ".endmacro"):
            if self.macro is None:
                self.errors += 1
                return
            self.close(self.macro, self.line_end(at))
            self.macro = None
        elif word in _DATA_DIRECTIVES:
            self.operands(text[after:end], after)

    def branch(self, role: str, after: int, end: int) -> None:
        operand = self.text[after:end]
        lead = len(operand) - len(operand.lstrip())
        target = operand.strip()
        if target.startswith("*"):  # indirect: through a register or memory, whose names are read
            self.operands(operand, after)
            return
        m = re.match(_NAME, target)
        if m is None or target.startswith(".L") or "\\" in target[: m.end() + 1]:
            return  # a local label (1f, .Lfoo) or a macro parameter (\func)
        name = m.group(0)
        self.ref(name, after + lead, role)
        rest = target[m.end():]
        if rest:
            self.operands(rest, after + lead + m.end())

    def operands(self, text: str, base: int) -> None:
        """The identifiers of operands: reads (registers, numbers, local labels and keyword names left out)."""
        for m in _IDENT_RX.finditer(text):
            word = m.group(0)
            if _REGISTER_RX.match(word):
                continue
            tail = text[m.end(): m.end() + 2]
            if tail.startswith("=") and not tail.startswith("=="):
                continue  # a macro's keyword argument: rax=$-ENOSYS
            if m.start() > 0 and text[m.start() - 1].isdigit():
                continue  # 1b, 2f, 0x10
            self.ref(word, base + m.start(), "read")

    # ------------------------------------------------------------ rows

    def current_function(self) -> str | None:
        if self.macro is not None:
            return self.macro.name
        for o in reversed(self.open):
            if o.kind != ASM_DATA:
                return o.name
        return None

    def ref(self, name: str, at: int, role: str, func: str | None = None, end_at: int | None = None) -> None:
        if not self.want_refs:
            return
        line = self.line_of(at)
        col = at - self.line_starts[line - 1]
        end_col = col + ((end_at - at) if end_at is not None else len(name))
        self.refs.append(RefRow(line, col, end_col, name, role, func or self.current_function(), self.cond(), None))

    def add(self, name: str, kind: str, name_at: int, start: int, end: int, scope: str, signature: str) -> int:
        line = self.line_of(name_at)
        self.defs.append(DefinitionRow(
            name, kind, line, name_at - self.line_starts[line - 1], self.line_of(max(end - 1, start)), scope,
            signature, self.cond(), None, self.line_of(start), start, max(end, start + 1)))
        return len(self.defs) - 1

    def close(self, o: _Open, end: int) -> None:
        """Definition o (and the inner labels waiting on it) end at offset `end`."""
        d = self.defs[o.slot]
        if end < d.end_byte:
            end = d.end_byte
        self.defs[o.slot] = d._replace(end_line=self.line_of(max(end - 1, d.start_byte)), end_byte=end)
        if o.kind in (ASM_FUNCTION, ASM_CODE):
            for i in self.inner:
                inner = self.defs[i]
                if inner.start_byte >= d.start_byte:
                    self.defs[i] = inner._replace(end_line=self.line_of(max(end - 1, inner.start_byte)), end_byte=end)
            self.inner = [i for i in self.inner if self.defs[i].start_byte < d.start_byte]


def _scope(linkage: str) -> str:
    return "file" if linkage.strip() == "SYM_L_LOCAL" else "global"


def parse_asm(src: bytes, path: str, refs: bool = True) -> ParseResult:
    """Definitions and references of one assembly file (see the module's docstring)."""
    scanner = _Scanner(src, path, refs)
    scanner.run()
    lines = src.count(b"\n") + (1 if src and not src.endswith(b"\n") else 0)
    defs = sorted(scanner.defs, key=lambda d: (d.start_byte, d.line, d.col))
    return ParseResult(defs, scanner.errors, lines, scanner.refs, [], scanner.partial)
