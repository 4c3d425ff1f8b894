"""A fast Pygments lexer for kernel C.

Pygments' own ``CLexer`` spends about 30 s on the half-million lines of the work set
(its function-detection rules backtrack over every line), which alone would eat the
site's whole build budget; it also emits a ``#define`` line as one token, hiding the
names inside.  This lexer is one compiled alternation, run once over the text: it
yields the usual Pygments token types (so any Pygments style or formatter applies),
splits preprocessor lines into their words, and costs a few seconds for the work set.
It only colours; it never decides what a name means (the index does that).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import ClassVar

from pygments.lexer import Lexer
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text, _TokenType

KEYWORDS = frozenset(
    """asm auto break case const continue default do else enum extern for goto if inline register
    restrict return sizeof static struct switch typedef typeof union volatile while _Alignas _Alignof
    _Atomic _Generic _Noreturn _Static_assert __asm__ __attribute__ __inline__ __typeof__ __volatile__
    __extension__ __builtin_expect static_assert""".split()
)
TYPES = frozenset(
    """void char short int long float double signed unsigned _Bool bool u8 u16 u32 u64 s8 s16 s32 s64
    __u8 __u16 __u32 __u64 __s8 __s16 __s32 __s64 __be16 __be32 __be64 __le16 __le32 __le64 __sum16
    __wsum size_t ssize_t loff_t uintptr_t ptrdiff_t atomic_t atomic64_t refcount_t gfp_t""".split()
)
CONSTANTS = frozenset("NULL true false".split())

_RX = re.compile(
    r"""
    (?P<cpf>(?<=include)[ \t]*<[^>\n]*>)
  | (?P<ws>[ \t\r\f\v]+|\n)
  | (?P<cm>/\*.*?(?:\*/|\Z))
  | (?P<c1>//(?:[^\n\\]|\\.|\\\n)*)
  | (?P<pp>\#[ \t]*[A-Za-z_]\w*)
  | (?P<s>L?"(?:[^"\\\n]|\\.|\\\n)*"?)
  | (?P<sc>L?'(?:[^'\\\n]|\\.)*'?)
  | (?P<num>0[xX][0-9a-fA-F]+[uUlL]*|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[uUlLfF]*)
  | (?P<id>[A-Za-z_]\w*)
  | (?P<cont>\\\n)
  | (?P<op>->|\+\+|--|<<=?|>>=?|[<>!=]=|&&|\|\||[-+*/%&|^]=|[-+*/%&|^~!<>=?:.])
  | (?P<p>[(){}\[\];,])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_GROUP_TYPES: dict[str, _TokenType] = {
    "ws": Text.Whitespace,
    "cm": Comment.Multiline,
    "c1": Comment.Single,
    "pp": Comment.Preproc,
    "cpf": Comment.PreprocFile,
    "s": String,
    "sc": String.Char,
    "num": Number,
    "cont": Text,
    "op": Operator,
    "p": Punctuation,
    "other": Text,
}


class _OnePassLexer(Lexer):
    """A Pygments lexer around one of this module's passes (`lex`, `lex_asm`): the text as written, in order."""

    filenames: ClassVar[list[str]] = []

    def __init__(self, **options: object) -> None:
        options.setdefault("stripnl", False)
        options.setdefault("ensurenl", True)
        super().__init__(**options)

    @staticmethod
    def one_pass(text: str) -> list[tuple[_TokenType, str]]:
        raise NotImplementedError

    def get_tokens_unprocessed(self, text: str) -> Iterator[tuple[int, _TokenType, str]]:
        pos = 0
        for ttype, value in self.one_pass(text):
            yield pos, ttype, value
            pos += len(value)


class KernelCLexer(_OnePassLexer):
    """C as the kernel writes it, in one regular-expression pass."""

    name = "Kernel C"
    aliases: ClassVar[list[str]] = ["kernel-c"]

    @staticmethod
    def one_pass(text: str) -> list[tuple[_TokenType, str]]:
        return lex(text)


_ID_TYPES: dict[str, _TokenType] = {
    **{w: Keyword for w in KEYWORDS},
    **{w: Keyword.Type for w in TYPES},
    **{w: Name.Constant for w in CONSTANTS},
}


def lex(text: str) -> list[tuple[_TokenType, str]]:
    """(token type, text) for the whole of `text`, in order; the pieces add up to `text`."""
    out: list[tuple[_TokenType, str]] = []
    append = out.append
    groups = _GROUP_TYPES
    id_types = _ID_TYPES
    name = Name
    ws = Text.Whitespace
    line_start = True  # only white space since the last newline: a `#` starts a directive
    for m in _RX.finditer(text):
        kind = m.lastgroup
        value = m.group()
        if kind == "id":
            append((id_types.get(value, name), value))
            line_start = False
        elif kind == "ws":
            if value == "\n":
                line_start = True
            append((ws, value))
        elif kind == "pp" and not line_start:
            # `#x` (stringify) or `##` inside a macro body, not a directive
            append((Operator, "#"))
            rest = value[1:]
            word = rest.lstrip()
            if len(word) < len(rest):
                append((ws, rest[: len(rest) - len(word)]))
            if word:
                append((id_types.get(word, name), word))
        else:
            append((groups[kind], value))  # type: ignore[index]
            line_start = False
    return out


# ---------------------------------------------------------------- assembly (.S) and system call tables (.tbl)

# The kernel's .S files are GNU assembler text run through the C preprocessor first: C comments and
# `#` directives as in C, then AT&T syntax (`%reg`, `$imm`, `label:`, `.directive`, `#` comments after
# code).  Pygments' GasLexer reads `#define` as a comment and CppLexer knows no registers, so this is
# the composition of the two, in the same single pass as the C lexer.
_ASM_RX = re.compile(
    r"""
    (?P<cpf>(?<=include)[ \t]*<[^>\n]*>)
  | (?P<ws>[ \t\r\f\v]+|\n)
  | (?P<cm>/\*.*?(?:\*/|\Z))
  | (?P<c1>//[^\n]*)
  | (?P<pp>\#[ \t]*[A-Za-z_]\w*)
  | (?P<hash>\#[^\n]*)
  | (?P<s>"(?:[^"\\\n]|\\.)*"?)
  | (?P<reg>%[A-Za-z_]\w*)
  | (?P<label>(?:[A-Za-z_.$][\w.$]*|\d+)(?=:(?!:)))
  | (?P<dir>\.[A-Za-z_][\w.]*)
  | (?P<num>\$?(?:0[xX][0-9a-fA-F]+|\d+[bf]?\b|\d+))
  | (?P<id>[A-Za-z_][\w$]*)
  | (?P<cont>\\\n)
  | (?P<op>[-+*/%&|^~!<>=?:$@\\])
  | (?P<p>[(){}\[\];,])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_ASM_TYPES: dict[str, _TokenType] = {
    **_GROUP_TYPES,
    "hash": Comment.Single,
    "reg": Name.Variable,
    "label": Name.Label,
    "dir": Name.Attribute,
}


def lex_asm(text: str) -> list[tuple[_TokenType, str]]:
    """(token type, text) of an assembly file, in order; the pieces add up to `text`.  The first word of
    a statement (an instruction or a macro) is a keyword; `#` starts a directive at the start of a line
    and a comment after code."""
    out: list[tuple[_TokenType, str]] = []
    append = out.append
    groups = _ASM_TYPES
    ws = Text.Whitespace
    line_start = True  # only white space since the last newline
    statement_start = True  # nothing but labels and white space since the last newline or `;`
    pos, n = 0, len(text)
    match = _ASM_RX.match
    while pos < n:
        m = match(text, pos)
        if m is None:  # every character matches `other`: never
            append((Text, text[pos:]))
            break
        kind = m.lastgroup or "other"
        value = m.group()
        if kind == "pp" and not line_start:
            nl = text.find("\n", pos)
            value = text[pos:] if nl < 0 else text[pos:nl]
            kind = "hash"
        pos += len(value)
        if kind == "ws":
            if value == "\n":
                line_start = statement_start = True
            append((ws, value))
            continue
        if kind in ("cm", "c1", "cont"):
            append((groups[kind], value))
            continue
        if kind == "id":
            append((Keyword if statement_start else Name, value))
            statement_start = False
        elif kind == "p" and value == ";":
            append((Punctuation, value))
            statement_start = True
        else:
            append((groups[kind], value))
            if kind != "label":
                statement_start = False
        line_start = False
    return out


def lex_table(text: str) -> list[tuple[_TokenType, str]]:
    """A system call table: `#` comments, numbers, words."""
    out: list[tuple[_TokenType, str]] = []
    for m in re.finditer(r"(?P<c>#[^\n]*)|(?P<ws>[ \t\r]+|\n)|(?P<num>\d+(?![\w]))|(?P<w>[^\s#]+)", text):
        kind = m.lastgroup
        ttype = {"c": Comment.Single, "ws": Text.Whitespace, "num": Number}.get(kind or "", Name)
        out.append((ttype, m.group()))
    return out


def lex_for(path: str | None) -> Callable[[str], list[tuple[_TokenType, str]]]:
    """The lexer for a file of the tree: assembly, a system call table, else kernel C."""
    if path is not None and path.endswith(".S"):
        return lex_asm
    if path is not None and path.endswith(".tbl"):
        return lex_table
    return lex


class KernelAsmLexer(_OnePassLexer):
    """The kernel's preprocessed assembly (see `lex_asm`), for Pygments' formatters."""

    name = "Kernel assembly"
    aliases: ClassVar[list[str]] = ["kernel-asm"]

    @staticmethod
    def one_pass(text: str) -> list[tuple[_TokenType, str]]:
        return lex_asm(text)
