"""Definitions out of kernel C, with tree-sitter-c.

The only module (with the indexer) that imports tree-sitter. It takes a file's bytes and
returns plain tuples; it knows nothing of SQLite.

Kernel C is not quite C as tree-sitter-c knows it: annotation macros such as
``__read_mostly``, ``__init`` and ``__rcu`` sit where the grammar expects a declarator
and turn the surrounding declaration into an ERROR.  Before parsing, those words are
blanked out with spaces of the same length, so every byte offset, line and column
stays that of the real file (the same trick as ctags' ``-I`` list, done by offset).
Macro wrappers that define functions (``SYSCALL_DEFINE2(listen, ...)``,
``BPF_CALL_2(name, ...)``) are recognised by name; whatever tree-sitter still cannot
parse becomes an ERROR node, and the walk goes into it to take what is around.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar, cast

from tree_sitter import Node, Parser, Tree

from .exports import find_exports
from .kerneldoc import DocRow
from .kerneldoc import attach as attach_docs
from .xref import (
    C_LANGUAGE,
    F_ALTERNATIVE,
    F_ARGUMENT,
    F_BODY,
    F_CONDITION,
    F_DECLARATOR,
    F_DIRECTIVE,
    F_NAME,
    F_PARAMETERS,
    F_TYPE,
    F_VALUE,
    MAX_NESTING,
    WORD_BYTES,
    FnAssign,
    LocalUses,
    RefCollector,
    RefRow,
    TableAddress,
    TypeHint,
    anonymous_record_name,
    join_conditions,
    negate_condition,
    type_name,
)

# Annotation macros that expand to attributes or to nothing.  Blanked before parsing.
_DUNDER_ANNOTATIONS = ["init", "exit", "read_mostly", "ro_after_init", "initdata", "initconst", "net_init", "net_exit", "net_initdata", "rcu", "user", "force", "percpu", "iomem", "bitwise", "nocast", "safe", "cold", "always_inline", "must_check", "maybe_unused", "used", "packed", "sched", "weak", "visible", "latent_entropy", "randomize_layout", "cacheline_aligned", "cacheline_aligned_in_smp", "__cacheline_aligned", "__cacheline_aligned_in_smp", "refdata", "ref", "kprobes", "noreturn", "pure", "flatten", "noclone", "noinline_for_stack", "always_unused", "sched_notrace", "ro_after_init", "exit_refok", "meminit", "private", "nonstring",
                       # measured on the core tree's ERROR regions (issue 11):
                       "nocfi", "malloc", "attribute_const__", "init_memblock", "cpuidle", "noendbr", "no_sanitize_address",
                       "deprecated", "designated_init", "no_randomize_layout", "ksym", "nosavedata", "lockfunc",
                       "init_or_module", "assume_kmalloc_alignment", "assume_slab_alignment", "assume_page_alignment",
                       "no_kcsan", "noinstr_section", "irq_entry", "kprobes", "fastcall", "naked", "head", "bss_decrypted"]
_DUNDER_CALLS = ["aligned", "acquires", "releases", "must_hold", "printf", "section", "cond_acquires", "cond_releases",
                 "alloc_size", "realloc_size", "scanf", "assume_aligned", "compiletime_error", "compiletime_warning",
                 "diag_push", "diag_pop", "diag_ignore", "diag_ignore_all", "nonnull", "no_sanitize_or_inline"]
_PLAIN_ANNOTATIONS = ["noinline", "notrace", "asmlinkage", "INDIRECT_CALLABLE_SCOPE", "noinstr",
                      # measured on the core tree's ERROR regions (issue 11): words without the underscores
                      "noinline_for_stack", "nokprobe_inline"]

_DUNDER_RX = re.compile(
    rb"__(?:(?:"
    + rb"|".join(w.encode() for w in sorted(_DUNDER_CALLS, key=len, reverse=True))
    + rb")\s*\([^()\n]*(?:\([^()\n]*\)[^()\n]*)*\)|(?:"
    + rb"|".join(w.encode() for w in sorted(set(_DUNDER_ANNOTATIONS), key=len, reverse=True))
    + rb")\b)"
)
_PLAIN_RX = re.compile(rb"\b(?:" + rb"|".join(w.encode() for w in _PLAIN_ANNOTATIONS) + rb")\b")
_PLAIN_WORDS = [w.encode() for w in _PLAIN_ANNOTATIONS]
_STATIC_RX = re.compile(rb"STATIC\b")  # (a literal first, searched for fast; the byte before is checked by `keep`)
_CASE_BEFORE_RX = re.compile(rb"(?:^|[^\w$])case\b[^:;\n]*$")


def _case_ranges(src: bytes) -> bytes:
    """Each line's first `...` after a `case` on that line (no `:` or `;` between) becomes `|| `; a line is
    looked at once."""
    buf: bytearray | None = None
    pos = src.find(b"...")
    while pos >= 0:
        line_start = src.rfind(b"\n", 0, pos) + 1
        if _CASE_BEFORE_RX.search(src, line_start, pos):
            if buf is None:
                buf = bytearray(src)
            buf[pos : pos + 3] = b"|| "
        line_end = src.find(b"\n", pos)
        if line_end < 0:
            break
        pos = src.find(b"...", line_end)
    return bytes(buf) if buf is not None else src
ANNOTATION_WORDS = frozenset(
    ["__" + w for w in _DUNDER_ANNOTATIONS] + ["__" + w for w in _DUNDER_CALLS] + _PLAIN_ANNOTATIONS
)

# Macro wrappers that define a function, and the name they give it.
_DEFINER_RX = re.compile(
    rb"^[ \t]*(?P<macro>(?:COMPAT_)?SYSCALL_DEFINE\d|BPF_CALL_\d)\s*\(\s*(?P<name>[A-Za-z_]\w*)",
    re.MULTILINE,
)
_DEFINER_NAME_RX = re.compile(r"^(?:(?:COMPAT_)?SYSCALL_DEFINE\d|BPF_CALL_\d)$")

# A function-like macro whose value is a cast or a container_of has a known result type.
_MACRO_TYPE_RX = re.compile(
    rb"^\s*\(*\s*(?:\*\s*\(\s*)?(?:const\s+)?(?:struct|union)\s+(\w+)\s*\*\s*\)"
    rb"|^\s*\(?\s*(?:container_of(?:_const|_safe)?|list_entry|hlist_entry)\s*\([^,]+,\s*(?:const\s+)?(?:struct|union)\s+(\w+)"
)
_WORD = WORD_BYTES


def _blank(match: re.Match[bytes]) -> bytes:
    text = match.group()
    if b"\n" not in text:
        return b" " * len(text)
    return re.sub(rb"[^\n]", b" ", text)


def blank_annotations(src: bytes) -> bytes:
    """Replace kernel annotation macros by spaces, keeping every offset (the text tree-sitter parses)."""
    return prepare_source(src).text


def prepare_source(src: bytes) -> PreparedSource:
    """The text tree-sitter parses: annotations blanked, declaring macros rewritten, typeof named, offsets kept."""
    text, type_names = _blank_type_arguments(_blank_annotation_words(src))
    prepared = rewrite_declaring_macros(text)
    prepared.type_arguments = type_names
    if b"typeof" in prepared.text:
        prepared.text, prepared.typeof_operands = _name_typeof(prepared.text)
    if b"TP_PROTO" in prepared.text:
        prepared.text, prepared.tracepoints = _rewrite_tracepoints(prepared.text)
    if b"offsetof" in prepared.text:
        prepared.text = _blank_offsetof_designators(prepared.text)
    return prepared


# offsetof(TYPE, MEMBER) is in tree-sitter-c's grammar with a member name only: a designator that goes on
# (`offsetof(struct cpu_entry_area, tss.x86_tss.sp1)`, `offsetof(struct bts_buffer, buf[nbuf])`) was an ERROR.
# What follows the first member is blanked: the member is read (a member of TYPE, xref.visit_type_operator),
# the rest of the designator is not.
_OFFSETOF_RX = re.compile(rb"(?<![\w$])offsetof[ \t]*\(")
_DESIGNATOR_HEAD_RX = re.compile(rb"\s*[A-Za-z_]\w*[ \t]*(?=[.\[]|->)")


def _blank_offsetof_designators(src: bytes) -> bytes:
    buf: bytearray | None = None
    for m in _OFFSETOF_RX.finditer(src):
        found = _call_arguments(src, m.end() - 1, m.end() + 4096)
        if found is None or len(found[0]) != 1:
            continue
        (comma,), close = found
        head = _DESIGNATOR_HEAD_RX.match(src, comma + 1, close)
        if head is None:
            continue
        if buf is None:
            buf = bytearray(src)
        _put(buf, head.end(), close - head.end(), b"")
    return src if buf is None else bytes(buf)


# GNU C's typeof, which tree-sitter-c does not know: it reads `typeof(*p) v` as the type name `typeof` and the
# declarator `(*p)` (declaring p, losing v), `typeof(p->x) v = y` as an assignment to a call, `typeof(*p) *v` as a
# product, a cast `(typeof(x))y` as a call.  `typeof(OPERAND)` on one line becomes one name of the same length, the
# keyword and underscores (`typeof(*p)` → `typeof____`), which the grammar reads as a type name wherever a type may
# stand; the operand is walked on its own (xref.RefCollector.typeof_refs).  An operand over several lines (5 of
# the 987 in 6.1) is left as it is.
_TYPEOF_RX = re.compile(rb"(?<![\w$])(?P<kw>typeof_unqual|__typeof_unqual__|__typeof__|__typeof|typeof)[ \t]*\(")


class TypeofOperand(NamedTuple):
    """What `typeof(...)` at (line, col) was named: the name the parser sees, and the operand's bytes and place."""

    name: str
    operand: bytes
    line: int  # 1-based, the operand's first byte
    col: int


def _name_typeof(src: bytes) -> tuple[bytes, dict[tuple[int, int], TypeofOperand]]:
    """`src` with each one-line `typeof(...)` named (see _TYPEOF_RX), and the operands by (line, col)."""
    buf = bytearray(src)
    operands: dict[tuple[int, int], TypeofOperand] = {}
    done = 0  # the end of the last one named: a typeof inside an operand goes with its operand
    line, pos = 1, 0  # the line of byte `pos` (the matches come in order)
    for m in _TYPEOF_RX.finditer(src):
        start = m.start()
        if start < done or _NAMING_DIRECTIVE_RX.match(src, src.rfind(b"\n", 0, start) + 1, start):
            continue  # inside an operand named already, or `#define typeof(x) ...` (which defines the word)
        line_end = src.find(b"\n", m.end())
        found = _call_arguments(src, m.end() - 1, len(src) if line_end < 0 else line_end)
        if found is None:  # not closed on its line: left as it is, and so is the rest of the line (a typeof
            done = len(src) if line_end < 0 else line_end  # there is inside this operand): each byte is scanned once
            continue
        close = found[1]
        done = close + 1
        line += src.count(b"\n", pos, start)
        pos = start
        col = start - (src.rfind(b"\n", 0, start) + 1)
        kw_end = m.end("kw")
        buf[kw_end:done] = b"_" * (done - kw_end)
        name = buf[start:done].decode("ascii")
        operands[(line, col)] = TypeofOperand(name, src[m.end() : close], line, col + m.end() - start)
    return bytes(buf), operands


def _blank_annotation_words(src: bytes) -> bytes:

    def keep(match: re.Match[bytes]) -> bool:
        start = match.start()
        if start and src[start - 1] in _WORD:
            return True
        if _NAMING_DIRECTIVE_RX.match(src, src.rfind(b"\n", 0, start) + 1, start):
            return True  # `#define __read_mostly ...` defines the word: keep it
        # a directive's value is text to the grammar: blanking it gains nothing, and
        # `#define a __assume_aligned(8)` left with a blank value lost the next #define
        return _in_directive(src, start)

    def sub(match: re.Match[bytes]) -> bytes:
        return match.group() if keep(match) else _blank(match)

    out = _DUNDER_RX.sub(sub, src)
    if any(word in out for word in _PLAIN_WORDS):  # rare: five plain searches are cheaper than the regex
        out = _PLAIN_RX.sub(sub, out)
    if b"STATIC" in out:  # xfs's `#define STATIC static noinline` (and the decompressors'): the storage class it is
        out = _STATIC_RX.sub(lambda m: m.group() if keep(m) else b"static", out)
    if b"__attribute__" in out:
        out = _attributes_before_initializers(out)
    if b"..." in out and b"case" in out:  # GNU C's `case A ... B:`, which tree-sitter-c does not know: `case A || B:`
        out = _case_ranges(out)
    if _COMMENT_BEFORE_CONTINUATION_RX.search(out):
        out = _DIRECTIVE_RX.sub(_blank_directive_comments, out)
    if _LABEL_BEFORE_DIRECTIVE_RX.search(out):
        out = _LABEL_RX.sub(rb"\1;", out)
    return out


_ATTRIBUTE_RX = re.compile(rb"(?<![\w$])__attribute__[ \t]*\(\(")
_ATTRIBUTE_MAX = 512  # bytes an attribute's parentheses may take


def _attributes_before_initializers(src: bytes) -> bytes:
    """`static int a[] __attribute__((unused)) = {...}`: tree-sitter-c knows no attribute between a declarator and
    its initializer.  It ends the declaration there and reads the initializer as a block, which can take the rest
    of the file with it (every function of net/ipv6/mcast.c was lost).  Such an attribute, its parentheses closing
    on its line, is blanked; every other attribute stays."""
    buf: bytearray | None = None
    for match in _ATTRIBUTE_RX.finditer(src):
        i, depth = match.end(), 2
        line_end = src.find(b"\n", i)
        if line_end < 0:
            line_end = len(src)
        line_end = min(line_end, i + _ATTRIBUTE_MAX)  # never closing, on a long line: each looks this far
        while depth and i < line_end:
            c = src[i]
            depth += (c == 40) - (c == 41)  # ( and )
            i += 1
        if depth:
            continue
        j = i
        while j < line_end and src[j] in b" \t":
            j += 1
        if src[j:j + 1] == b"=" and src[j + 1:j + 2] != b"=":
            if buf is None:
                buf = bytearray(src)
            buf[match.start():i] = b" " * (i - match.start())
    return bytes(buf) if buf is not None else src


# A type as a macro argument, `container_of(ptr, struct sock, sk_node)`, is no expression:
# the call becomes an ERROR (the commonest one in the kernel).  `struct` is blanked, so the
# argument is the identifier `sock` at its own offset (xref reads container_of's second
# argument as a type either way).  Only where no C construct can have it: after a comma and
# before a comma or `)`, after `(` and before a comma, or as the one argument of a call
# (`alloc_percpu(struct foo)`: a struct cannot be cast to); never in sizeof/offsetof/typeof
# and never before `{` (a compound literal).
# (the keyword is searched for, then what stands before it: far cheaper than trying every
# comma and parenthesis of a file)
_TYPE_ARGUMENT_RX = re.compile(rb"(?P<kw>struct|union|enum)[ \t]+[A-Za-z_]\w*[ \t]*(?:,|\)(?![ \t]*\{))")
# the same, one keyword each: a literal start is searched for fast, the alternation is tried at every
# offset; their matches never overlap (a match holds no keyword followed by a blank and a name)
_TYPE_ARGUMENT_RXS = [re.compile(rb"(?P<kw>" + kw + rb")[ \t]+[A-Za-z_]\w*[ \t]*(?:,|\)(?![ \t]*\{))")
                      for kw in (b"struct", b"union", b"enum")]
_TYPE_OPERATORS_RX = re.compile(rb"\b(?:sizeof|offsetof|typeof|__typeof__|__typeof|_Alignof|__alignof__|va_arg|__builtin_offsetof|__builtin_types_compatible_p)\s*$")
_NAME_AFTER_KEYWORD_RX = re.compile(rb"[ \t]+")
_CALLED_RX = re.compile(rb"[A-Za-z_]\w*[ \t]*$")


def _blank_type_arguments(src: bytes) -> tuple[bytes, list[int]]:
    """`struct` blanked in type arguments (see _TYPE_ARGUMENT_RX); and the offsets of the type names."""
    if b"struct" not in src and b"union" not in src and b"enum" not in src:
        return src, []
    buf: bytearray | None = None
    names: list[int] = []
    matches = [m for rx in _TYPE_ARGUMENT_RXS for m in rx.finditer(src)]
    matches.sort(key=lambda m: m.start())
    for m in matches:  # as _TYPE_ARGUMENT_RX.finditer(src) would give them
        start = m.start()
        if start and src[start - 1] in _WORD:
            continue
        before = start
        while before > 0 and src[before - 1] in b" \t\r\n":
            before -= 1
        if before == 0 or src[before - 1] not in b",(":
            continue
        if src[before - 1] == 0x28:  # (
            at = before - 1
            if _TYPE_OPERATORS_RX.search(src, max(0, at - 40), at):
                continue
            if m.group().endswith(b")") and not _CALLED_RX.search(src, max(0, at - 40), at):
                continue  # `(struct foo)` that is no call's argument: a cast, or a parameter list of its own
        if buf is None:
            buf = bytearray(src)
        buf[m.start("kw") : m.end("kw")] = b" " * (m.end("kw") - m.start("kw"))
        gap = _NAME_AFTER_KEYWORD_RX.match(src, m.end("kw"))
        names.append(gap.end() if gap else m.end("kw"))
    return (bytes(buf), names) if buf is not None else (src, [])


# `out:` right before `#endif` is a label with no statement in one branch: tree-sitter-c
# turns the whole function into an ERROR.  `out;` (same length) parses as a statement.
_LABEL_BEFORE_DIRECTIVE_RX = re.compile(rb":[ \t]*\r?\n(?:[ \t]*\r?\n)*[ \t]*#[ \t]*(?:endif|else|elif)\b")
_LABEL_RX = re.compile(
    rb"^([ \t]*(?!default\b)[A-Za-z_]\w*[ \t]*):(?=[ \t]*\r?\n(?:[ \t]*\r?\n)*[ \t]*#[ \t]*(?:endif|else|elif)\b)",
    re.MULTILINE,
)


_RECOVER_FUNCTION_RX = re.compile(
    rb"^(?![ \t#/*])[A-Za-z_][\w \t*]*?\b(?P<name>[A-Za-z_]\w*)[ \t]*(?P<params>\([^;{}()]*(?:\([^;{}()]*\)[^;{}()]*)*\))[ \t]*\r?\n\{[ \t]*\r?\n",
    re.MULTILINE,
)
_NOT_FUNCTION_NAMES = frozenset({"if", "for", "while", "switch", "return", "sizeof"})
_NAMING_DIRECTIVE_RX = re.compile(rb"[ \t]*#[ \t]*(?:define|undef|ifdef|ifndef)[ \t]+$")

# tree-sitter-c ends a #define at a block comment followed by a line continuation
# (`pf(X)  /* note */  \`), and the rest of the macro then parses as code.  Comments
# inside directives are blanked (newlines and backslashes kept) when that shape occurs.
_COMMENT_BEFORE_CONTINUATION_RX = re.compile(rb"\*/[ \t]*\\\r?\n")
_DIRECTIVE_RX = re.compile(rb"^[ \t]*#[^\n]*\\\r?\n(?:[^\n]*\\\r?\n)*[^\n]*", re.MULTILINE)
_BLOCK_COMMENT_RX = re.compile(rb"/\*.*?\*/", re.DOTALL)


def _blank_directive_comments(match: re.Match[bytes]) -> bytes:
    return _BLOCK_COMMENT_RX.sub(lambda m: re.sub(rb"[^\n\\]", b" ", m.group()), match.group())


# ---------------------------------------------------------------- member-declaring macros
# Kernel macros that declare a member (or a variable, or a local) are rewritten, byte for
# byte in place, into the declaration they expand to, so the grammar sees a plain field
# and every offset stays the file's:
#   DECLARE_BITMAP(state, N)          -> unsigned long  state[ N]
#   DEFINE_SNMP_STAT(struct m, name)  ->                  struct m* name
#   DECLARE_FLEX_ARRAY(type, name)    ->                    type  name   (the [] does not fit)
#   __bpf_md_ptr(type, name)          ->              type  name
#   NET_DEV_STAT(name)                -> ulong        name
#   DECLARE_SOCKADDR(type, name, ptr) ->                  type  name= ptr   (a local)
# MemberMacro.head replaces `MACRO(` (padded with spaces), the top-level commas become
# the bytes of `commas` in turn and the closing parenthesis `close`.


@dataclass(frozen=True)
class MemberMacro:
    head: bytes  # what `MACRO(` becomes (padded to its length)
    commas: bytes = b" "  # what each top-level comma becomes: as many as the macro has
    close: bytes = b" "


_MEMBER_MACROS: dict[bytes, MemberMacro] = {
    b"DECLARE_BITMAP": MemberMacro(b"unsigned long", b"[", b"]"),
    b"DEFINE_SNMP_STAT": MemberMacro(b"", b"*"),
    b"DEFINE_SNMP_STAT_ATOMIC": MemberMacro(b"", b"*"),
    b"DECLARE_FLEX_ARRAY": MemberMacro(b""),
    b"__DECLARE_FLEX_ARRAY": MemberMacro(b""),
    b"__bpf_md_ptr": MemberMacro(b""),
    b"NET_DEV_STAT": MemberMacro(b"ulong", b""),  # `unsigned long` leaves no space before the name
    b"DECLARE_SOCKADDR": MemberMacro(b"", b" ="),
    # variables: DEFINE_PER_CPU(struct softnet_data, softnet_data) defines a global of that
    # type, DECLARE_PER_CPU(...) declares it (extern); the locks and keys name their type
    b"DEFINE_PER_CPU": MemberMacro(b""),
    b"DEFINE_PER_CPU_ALIGNED": MemberMacro(b""),
    b"DEFINE_PER_CPU_SHARED_ALIGNED": MemberMacro(b""),
    b"DEFINE_PER_CPU_READ_MOSTLY": MemberMacro(b""),
    b"DEFINE_PER_CPU_PAGE_ALIGNED": MemberMacro(b""),
    b"DECLARE_PER_CPU": MemberMacro(b"extern"),
    b"DECLARE_PER_CPU_ALIGNED": MemberMacro(b"extern"),
    b"DECLARE_PER_CPU_SHARED_ALIGNED": MemberMacro(b"extern"),
    b"DECLARE_PER_CPU_READ_MOSTLY": MemberMacro(b"extern"),
    b"DECLARE_PER_CPU_PAGE_ALIGNED": MemberMacro(b"extern"),
    b"DEFINE_MUTEX": MemberMacro(b"struct mutex", b""),
    b"DEFINE_SPINLOCK": MemberMacro(b"spinlock_t", b""),
    b"DEFINE_SEQLOCK": MemberMacro(b"seqlock_t", b""),
    b"DEFINE_IDA": MemberMacro(b"struct ida", b""),
    b"DEFINE_IDR": MemberMacro(b"struct idr", b""),
    b"DEFINE_XARRAY": MemberMacro(b"struct xarray", b""),
    b"DEFINE_STATIC_KEY_FALSE": MemberMacro(b"struct static_key_false", b""),
    b"DEFINE_STATIC_KEY_TRUE": MemberMacro(b"struct static_key_true", b""),
    b"DEFINE_RATELIMIT_STATE": MemberMacro(b"struct ratelimit_state", b"[*", b"]"),  # (name, interval, burst)
    # measured on the core tree (issue 11): the commonest declaring macros left.  A type that does not fit the
    # macro's name is its tag alone (`list_head`), which the resolver reads as the struct of that tag
    b"LIST_HEAD": MemberMacro(b"list_head", b""),  # LIST_HEAD(net_namespace_list): 990 in 6.1
    b"HLIST_HEAD": MemberMacro(b"hlist_head", b""),
    b"DECLARE_HASHTABLE": MemberMacro(b"struct hlist_head", b"[", b"]"),  # (name, bits): an array of buckets
    b"DEFINE_HASHTABLE": MemberMacro(b"hlist_head", b"[", b"]"),
    b"DEFINE_READ_MOSTLY_HASHTABLE": MemberMacro(b"struct hlist_head", b"[", b"]"),
    b"DEFINE_RWLOCK": MemberMacro(b"rwlock_t", b""),
    b"DEFINE_RAW_SPINLOCK": MemberMacro(b"raw_spinlock_t", b""),
    b"DECLARE_WAIT_QUEUE_HEAD": MemberMacro(b"wait_queue_head_t", b""),
    b"DECLARE_COMPLETION": MemberMacro(b"struct completion", b""),
    b"DECLARE_WORK": MemberMacro(b"work_struct", b"="),  # (name, function): the function is read
    b"DECLARE_DELAYED_WORK": MemberMacro(b"struct delayed_work", b"="),
    b"DEFINE_SEMAPHORE": MemberMacro(b"struct semaphore", b""),
    b"DEFINE_SRCU": MemberMacro(b"srcu_struct", b""),
    b"DEFINE_STATIC_SRCU": MemberMacro(b"struct srcu_struct", b""),
    b"DEFINE_PER_CPU_DECRYPTED": MemberMacro(b""),
    b"SIMPLE_DEV_PM_OPS": MemberMacro(b"dev_pm_ops", b"=+"),  # (name, suspend, resume): both read
    b"DEFINE_SIMPLE_DEV_PM_OPS": MemberMacro(b"struct dev_pm_ops", b"=+"),
    # INDIRECT_CALLABLE_DECLARE(int f(struct sk_buff *)): the prototype it wraps (include/linux/indirect_call_wrapper.h)
    b"INDIRECT_CALLABLE_DECLARE": MemberMacro(b"", b""),
}

# struct_group(NAME, MEMBERS...) and its kin (include/uapi/linux/stddef.h) expand to
#   union { struct { MEMBERS } ATTRS; struct TAG { MEMBERS } ATTRS NAME; }
# The members are both the owner's own and NAME's.  The head up to MEMBERS becomes
# `struct {` and the closing parenthesis `}`: an anonymous struct, whose members the
# walker flattens into the owner; the StructGroup remembers NAME (and TAG) for the walker.
# macro: (index of TAG or None, index of NAME, arguments before MEMBERS)
_STRUCT_GROUPS: dict[bytes, tuple[int | None, int, int]] = {
    b"struct_group": (None, 0, 1),
    b"struct_group_attr": (None, 0, 2),
    b"struct_group_tagged": (0, 1, 2),
    b"__struct_group": (0, 1, 3),
}

# Calls of those macros are found from literal prefixes (each a fast search) and widened
# back to the whole word, then looked up: one regex alternating 40 names is slow.
_DECLARING_CANDIDATE_RXS = [
    re.compile(prefix + rb"\w*[ \t]*\(") for prefix in (b"DECLARE_", b"DEFINE_", b"__bpf_md_ptr", b"NET_DEV_STAT", b"struct_group",
                                                       b"LIST_HEAD", b"SIMPLE_DEV_PM_OPS", b"INDIRECT_CALLABLE_DECLARE")
]


def _declaring_calls(src: bytes) -> list[tuple[int, bytes, int]]:
    """(start, macro name, offset of its `(`) of each call of a declaring macro, in order."""
    found: dict[int, tuple[int, bytes, int]] = {}
    for rx in _DECLARING_CANDIDATE_RXS:
        for m in rx.finditer(src):
            start = m.start()
            while start > 0 and src[start - 1] in _WORD:
                start -= 1
            open_paren = m.end() - 1
            name = src[start:open_paren].rstrip(b" \t")
            if name in _MEMBER_MACROS or name in _STRUCT_GROUPS:
                found[start] = (start, name, open_paren)
    return [found[k] for k in sorted(found)]
_MAX_MACRO_CALL = 1 << 16  # bytes scanned for a declaring macro's closing parenthesis
_IDENT_BYTES_RX = re.compile(rb"\s*([A-Za-z_]\w*)\s*$")


@dataclass(frozen=True)
class StructGroup:
    """A struct_group(...) in a struct body: the anonymous struct at `start` is also member `name`."""

    start: int  # offset of the macro (where the parsed text says `struct {`)
    name: str
    name_offset: int
    tag: str | None
    tag_offset: int | None
    call_end: int  # offset just past the closing parenthesis


@dataclass
class PreparedSource:
    """A file's bytes as tree-sitter gets them (same length, same offsets) and what the rewriting found."""

    text: bytes
    groups: dict[int, StructGroup] = field(default_factory=dict)
    # member macro calls rewritten: the offset of the first byte the parser sees as code → the call's start
    calls: dict[int, int] = field(default_factory=dict)
    type_arguments: list[int] = field(default_factory=list)  # offsets of type names whose `struct` was blanked
    typeof_operands: dict[tuple[int, int], TypeofOperand] = field(default_factory=dict)  # by (line, col) of the name
    tracepoints: dict[int, TracepointBody] = field(default_factory=dict)  # rewritten events with a body, by offset


def _call_arguments(src: bytes, open_paren: int, limit: int | None = None) -> tuple[list[int], int] | None:
    """Top-level comma offsets and the closing parenthesis of the call opened at `open_paren`.

    Comments, strings and character literals are stepped over; None when the call does not
    close within _MAX_MACRO_CALL bytes, before `limit`, or at all."""
    commas: list[int] = []
    depth = 0
    i = open_paren
    end = min(len(src), open_paren + _MAX_MACRO_CALL, len(src) if limit is None else limit)
    while i < end:
        c = src[i]
        if c == 0x28:  # (
            depth += 1
        elif c == 0x29:  # )
            depth -= 1
            if depth == 0:
                return commas, i
        elif c == 0x2C and depth == 1:  # ,
            commas.append(i)
        elif c == 0x2F and src[i + 1 : i + 2] == b"*":
            close = src.find(b"*/", i + 2, end)
            if close < 0:
                return None
            i = close + 1
        elif c == 0x2F and src[i + 1 : i + 2] == b"/":
            nl = src.find(b"\n", i, end)
            if nl < 0:
                return None
            i = nl
        elif c in (0x22, 0x27):  # a string or a character literal
            j = i + 1
            while j < end and src[j] != c and src[j] != 0x0A:
                j += 2 if src[j] == 0x5C else 1
            i = j
        i += 1
    return None


def _in_directive(src: bytes, pos: int) -> bool:
    """Whether `pos` lies in a preprocessor directive (its first line or a continuation line)."""
    start = src.rfind(b"\n", 0, pos) + 1
    while True:
        if src[start:pos].lstrip(b" \t").startswith(b"#"):
            return True
        if start == 0:
            return False
        prev_end = start - 1  # the newline ending the line before
        if prev_end > 0 and src[prev_end - 1] == 0x0D:
            prev_end -= 1
        if prev_end == 0 or src[prev_end - 1] != 0x5C:  # no backslash: not a continuation
            return False
        pos = start
        start = src.rfind(b"\n", 0, prev_end) + 1


def _put(buf: bytearray, at: int, length: int, text: bytes) -> None:
    """Write `text` over buf[at:at+length], padded with spaces; newlines stay where they are."""
    k = 0
    for pos in range(at, at + length):
        if buf[pos] in b"\r\n":
            continue
        buf[pos] = text[k] if k < len(text) else 0x20
        k += 1


def _argument_name(src: bytes, start: int, end: int) -> tuple[str, int] | None:
    m = _IDENT_BYTES_RX.match(src, start, end)
    return (m.group(1).decode("ascii"), m.start(1)) if m else None


def rewrite_declaring_macros(src: bytes) -> PreparedSource:
    """Member-declaring macros rewritten into plain declarations (see _MEMBER_MACROS), offsets kept;
    loop macros and typed function definers too (see rewrite_statement_macros)."""
    buf = bytearray(src)
    rewrite_statement_macros(buf, src)
    groups: dict[int, StructGroup] = {}
    calls: dict[int, int] = {}
    for start, macro, open_paren in _declaring_calls(src):
        if _in_directive(src, start):
            continue
        call = _call_arguments(src, open_paren)
        if call is None:
            continue
        commas, close = call
        member = _MEMBER_MACROS.get(macro)
        if member is not None:
            if len(commas) != len(member.commas) or len(member.head) >= open_paren + 1 - start:  # the head must leave a space
                continue
            _put(buf, start, open_paren + 1 - start, member.head)
            for comma, replacement in zip(commas, member.commas, strict=True):
                buf[comma] = replacement
            buf[close] = member.close[0]
            first = start if member.head else open_paren + 1 + len(src[open_paren + 1 : close]) - len(src[open_paren + 1 : close].lstrip())
            calls[first] = start
            continue
        tag_index, name_index, before = _STRUCT_GROUPS[macro]
        if len(commas) < before:
            continue
        bounds = [open_paren + 1, *(c + 1 for c in commas)]
        ends = [*commas, close]
        name = _argument_name(src, bounds[name_index], ends[name_index])
        if name is None:
            continue
        tag = _argument_name(src, bounds[tag_index], ends[tag_index]) if tag_index is not None else None
        head_end = commas[before - 1] + 1
        _put(buf, start, head_end - start, b"struct {")
        buf[close] = 0x7D  # }
        groups[start] = StructGroup(start, name[0], name[1], tag[0] if tag else None, tag[1] if tag else None, close + 1)
    return PreparedSource(bytes(buf), groups, calls)


# ---------------------------------------------------------------- statement and definer macros
# Loop macros (`list_for_each_entry(pos, head, member) {`, `for_each_cpu(i, mask)` and a
# statement on the next line) are a call with no `;`: an ERROR.  The first space or tab
# after the call becomes `;`, so the call is a statement and the body a block after it
# (the loop's control flow is lost; its names, offsets and references are not).  Only at
# the start of a line, after a statement, a block, a label or a comment: as the body of an
# `if` or `else` the `;` would end that body early and orphan an `else` (left as written).
# (`skb_queue_walk(&q, skb) {` and the other skb walks: `_walk` in the name, measured on the core tree's ERROR regions)
_LOOP_MACRO_RXS = (re.compile(rb"for_?each\w*[ \t]*\("),  # then widened to the whole name, which must start its line
                   re.compile(rb"_walk\w*[ \t]*\("))  # (each starts with a literal: searched for fast)
_STATEMENT_END = frozenset(b";{}:/")

# Function definers with typed argument pairs: `BPF_CALL_2(name, struct sk_buff *, skb, u32, x)`
# becomes `u64        name( struct sk_buff *  skb, u32  x)`, a plain function definition
# (MacroDefinedFunctions still names it from the macro).
_DEFINER_HEADS = {b"BPF_CALL_": b"u64", b"SYSCALL_DEFINE": b"long", b"COMPAT_SYSCALL_DEFINE": b"long"}
_PAIRED_DEFINER_RX = re.compile(rb"^[ \t]*(?P<macro>(?:COMPAT_)?SYSCALL_DEFINE|BPF_CALL_)(?P<n>[1-6])[ \t]*\(", re.MULTILINE)


# Generator macros at the top level, one a line and with no `;` (`PAGEFLAG(Young, young,
# PF_ANY)`, `DEFINE_FREE(fput, struct file *, ...)`, `BTF_ID_FLAGS(func, f)`): the grammar
# takes them for a function header and the next declaration is lost in an ERROR.  They
# define nothing the index records, so the call is blanked (newlines kept).  Only a call
# at column 0, after a statement, a block, a call or a directive line, ending its line,
# and not followed by `{` (then it is a function header: SYSCALL_DEFINE0(name)).
_TOP_LEVEL_CALL_RX = re.compile(rb"^(?P<name>[A-Za-z_]\w*)[ \t]*\(", re.MULTILINE)
# the same after a newline: a literal first character, which the regex engine searches for fast
# (a `^` is tried at every offset); _top_level_calls adds the file's first line
_NEXT_LINE_CALL_RX = re.compile(rb"\n(?P<name>[A-Za-z_]\w*)[ \t]*\(")


def _top_level_calls(src: bytes) -> Iterator[re.Match[bytes]]:
    """The matches of _TOP_LEVEL_CALL_RX in order (their call starts at .start("name"))."""
    first = _TOP_LEVEL_CALL_RX.match(src)
    if first is not None:
        yield first
    yield from _NEXT_LINE_CALL_RX.finditer(src)


_LINE_END_RX = re.compile(rb"[ \t]*(?:/\*[^\n]*?\*/[ \t]*|//[^\n]*)?\r?\n")
_NOT_GENERATORS = frozenset({b"if", b"for", b"while", b"switch", b"return", b"sizeof", b"typeof", b"__typeof__", b"__attribute__", b"asm", b"__asm__"})


def _after_top_level_item(src: bytes, pos: int) -> bool:
    """Whether `pos` follows a complete top-level item: a `;`, `}`, `)` or comment, a directive line, nothing."""
    i = pos
    while i > 0 and src[i - 1] in b" \t\r\n":
        i -= 1
    if i == 0 or src[i - 1] in b";})/":
        return True
    line_start = src.rfind(b"\n", 0, i) + 1
    return src[line_start:i].lstrip(b" \t").startswith(b"#") and src[i - 1] != 0x5C


def _blank_generator_calls(buf: bytearray, src: bytes) -> None:
    for m in _top_level_calls(src):
        name = m.group("name")
        start = m.start("name")
        if name in _NOT_GENERATORS or name.startswith(b"EXPORT_SYMBOL") or not _after_top_level_item(src, start):
            continue
        if _EVENT_NAME_RX.fullmatch(name):
            continue  # a tracepoint written without its `;` (xfs_trace.h): _rewrite_tracepoints makes it a function
        if _in_directive(src, start):
            continue
        call = _call_arguments(src, m.end() - 1)
        if call is None:
            continue
        end = _LINE_END_RX.match(src, call[1] + 1)
        if end is None:
            continue
        j = end.end()
        while j < len(src) and src[j] in b" \t\r\n":
            j += 1
        if j < len(src) and src[j] in b"{;,=[(":
            continue  # a function header, or a declaration going on
        _put(buf, start, call[1] + 1 - start, b"")


def _ends_statement(src: bytes, pos: int) -> bool:
    """Whether the code before `pos` (whitespace skipped) ends a statement."""
    i = pos
    while i > 0 and src[i - 1] in b" \t\r\n":
        i -= 1
    return i == 0 or src[i - 1] in _STATEMENT_END


def rewrite_statement_macros(buf: bytearray, src: bytes) -> None:
    """Loop macros, typed function definers and top-level generator calls rewritten in `buf` (a copy of `src`), offsets kept."""
    _blank_generator_calls(buf, src)
    if b"for_each" in src or b"foreach" in src or b"_walk" in src:
        found = {m.start(): m for rx in _LOOP_MACRO_RXS for m in rx.finditer(src)}  # (one start for both: one)
        for m in (found[k] for k in sorted(found)):
            name = m.start()
            while name > 0 and src[name - 1] in _WORD:
                name -= 1
            line_start = src.rfind(b"\n", 0, name) + 1
            if src[line_start:name].strip(b" \t") or src[name] in b"0123456789":
                continue  # not the first word of its line
            if _in_directive(src, name) or not _ends_statement(src, name):
                continue
            call = _call_arguments(src, m.end() - 1)
            if call is None:
                continue
            after = call[1] + 1
            j = after
            while j < len(src) and src[j] in b" \t\r\n":
                j += 1
            if j >= len(src) or src[j] in b";/\\,)=" or src[j : j + 2] in (b"&&", b"||"):
                continue  # a call that is a statement or an expression already, a comment, a macro body
            space = next((k for k in range(after, j) if src[k] in b" \t"), None)
            if space is not None:
                buf[space] = 0x3B  # ;
    if b"BPF_CALL_" in src or b"SYSCALL_DEFINE" in src:
        for m in _PAIRED_DEFINER_RX.finditer(src):
            if _in_directive(src, m.start("macro")):
                continue
            open_paren = m.end() - 1
            call = _call_arguments(src, open_paren)
            if call is None or len(call[0]) != 2 * int(m.group("n")):
                continue
            commas = call[0]
            head = _DEFINER_HEADS[m.group("macro")]
            _put(buf, m.start("macro"), open_paren + 1 - m.start("macro"), head)
            buf[commas[0]] = 0x28  # (
            for k in range(1, len(commas), 2):
                buf[commas[k]] = 0x20  # between a type and its name


class DefinitionRow(NamedTuple):
    """One row of the index's symbols table, as the parser finds it (store.Symbol is what readers get)."""

    name: str
    kind: str
    line: int  # 1-based line of the name
    col: int  # 0-based byte column of the name
    end_line: int
    scope: str
    signature: str
    cond: str | None
    type: str | None = None  # members, variables: their type; functions: the return type; typedefs: the aliased type
    # Where the whole definition is (see `definition_span`): a return type on its own line,
    # a macro's continuation lines, a member's whole field declaration.
    start_line: int = 0  # 1-based line of start_byte
    start_byte: int = 0
    end_byte: int = 0  # exclusive, trailing whitespace left out


@dataclass
class ParseResult:
    definitions: list[DefinitionRow]
    error_nodes: int
    lines: int
    refs: list[RefRow] = field(default_factory=list)
    assigns: list[FnAssign] = field(default_factory=list)
    partial: bool = False  # nested deeper than MAX_NESTING somewhere: what lies deeper is left out
    docs: list[DocRow] = field(default_factory=list)  # kernel-doc comments on what they document
    exports: list[ExportRow] = field(default_factory=list)  # EXPORT_SYMBOL lines
    tables: list[TableAddress] = field(default_factory=list)  # ops table addresses of initializer elements
    locals: list[LocalUses] = field(default_factory=list)  # locals and parameters of each function, with their uses
    type_hints: list[TypeHint] = field(default_factory=list)  # types of macro-declared locals and extern-only globals


class ExportRow(NamedTuple):
    """One row of the index's exports table."""

    line: int
    col: int
    end_col: int
    name: str
    macro: str
    namespace: str | None
    cond: str | None


def make_parser() -> Parser:
    return Parser(C_LANGUAGE)


_DECLARATOR_WRAPPERS = {
    "pointer_declarator",
    "array_declarator",
    "parenthesized_declarator",
    "attributed_declarator",
    "init_declarator",
    "function_declarator",
}
_NAME_TYPES = {"identifier", "field_identifier", "type_identifier"}
_SPEC_KIND = {"struct_specifier": "struct", "union_specifier": "union", "enum_specifier": "enum"}
_PREPROC_BLOCKS = {"preproc_if", "preproc_ifdef", "preproc_elif", "preproc_elifdef", "preproc_else"}
_MAX_SIGNATURE = 240


def _collapse(text: bytes) -> str:
    return " ".join(text.decode("utf-8", "replace").split())


def _end_line(node: Node) -> int:
    row, col = node.end_point
    if col == 0 and row > node.start_point[0]:
        return row
    return row + 1


def definition_span(src: bytes, start: int, end: int) -> tuple[int, int, int]:
    """(start_line, start_byte, end_byte) of the definition in src[start:end], trailing whitespace left out.

    The one idea of where a definition starts and ends: the readers (kexplore show, the
    site's embeds, the labs, annotation review hashes) take this range from the index."""
    return src.count(b"\n", 0, start) + 1, start, _trim_end(src, start, end)


def _trim_end(src: bytes, start: int, end: int) -> int:
    while end > start and src[end - 1] in b" \t\r\n\\":
        end -= 1
    return end


_Method = TypeVar("_Method", bound=Callable[..., None])


def _bounded(method: _Method) -> _Method:
    """A walker method that goes one level deeper: past MAX_NESTING it is skipped and the file is partial."""

    @functools.wraps(method)
    def deeper(self: DefinitionWalker, *args: Any, **kwargs: Any) -> None:
        if self.depth >= MAX_NESTING:
            self.partial = True
            return
        self.depth += 1
        try:
            method(self, *args, **kwargs)
        finally:
            self.depth -= 1

    return cast(_Method, deeper)


def _storage(node: Node) -> set[str]:
    return {_name(c) for c in node.children if c.type == "storage_class_specifier"}


def _name(node: Node) -> str:
    """A node's own text (an identifier, a keyword), decoded."""
    return (node.text or b"").decode("utf-8", "replace")


def _name_of(node: Node) -> str | None:
    """The text of a node's `name` field, if it has one."""
    name = node.child_by_field_id(F_NAME)
    return _name(name) if name is not None else None


def _nested_type(type_node: Node | None) -> tuple[Node, Node] | None:
    """(specifier, body) of a struct/union/enum defined in place: `struct { ... } member;`."""
    if type_node is None or type_node.type not in _SPEC_KIND:
        return None
    body = type_node.child_by_field_id(F_BODY)
    return None if body is None else (type_node, body)


def declarator_name(node: Node | None) -> tuple[Node | None, bool, bool]:
    """(name node, is a function declarator naming a function, went through a pointer-to-function)."""
    is_function = False
    through_parens = False
    while node is not None and node.type in _DECLARATOR_WRAPPERS:
        if node.type == "function_declarator":
            inner = node.child_by_field_id(F_DECLARATOR)
            if inner is not None and inner.type in _NAME_TYPES:
                is_function = not through_parens
        if node.type == "parenthesized_declarator":
            through_parens = True
            inner = next((c for c in node.named_children if c.type != "comment"), None)
            node = inner
            continue
        node = node.child_by_field_id(F_DECLARATOR)
    if node is not None and node.type in _NAME_TYPES:
        return node, is_function, through_parens
    return None, False, False


class Conditions:
    """The #if conditions of one file: of a block, around a node, along an #elif/#else chain."""

    def __init__(self, src: bytes) -> None:
        self.src = src

    def condition_of(self, block: Node) -> str | None:
        if block.type in ("preproc_ifdef", "preproc_elifdef"):
            name = block.child_by_field_id(F_NAME)
            if name is None:
                return None
            negated = block.children[0].type in ("#ifndef", "#elifndef")
            return ("!" if negated else "") + _name(name)
        cond = block.child_by_field_id(F_CONDITION)
        return _collapse(self.src[cond.start_byte : cond.end_byte]) if cond is not None else None

    def is_header_guard(self, block: Node) -> bool:
        """`#ifndef X` / `#define X` as the file's outermost block, nothing but comments before it."""
        if block.type != "preproc_ifdef" or block.children[0].type != "#ifndef":
            return False
        if block.parent is None or block.parent.type != "translation_unit":
            return False
        before = block.prev_named_sibling
        while before is not None:
            if before.type != "comment":
                return False
            before = before.prev_named_sibling
        name = block.child_by_field_id(F_NAME)
        first = next((c for c in block.named_children if c.type != "comment" and c != name), None)
        return (
            name is not None
            and first is not None
            and first.type == "preproc_def"
            and _name_of(first) == _name(name)
        )

    def condition_at(self, node: Node) -> str | None:
        """The #if condition around a node, found from its ancestors (as walk_block would)."""
        parts: list[str] = []
        child, parent = node, node.parent
        while parent is not None:
            if parent.type in ("preproc_if", "preproc_ifdef", "preproc_elif", "preproc_elifdef"):
                own = None if self.is_header_guard(parent) else self.condition_of(parent)
                if own:
                    alternative = parent.child_by_field_id(F_ALTERNATIVE)
                    inside_alt = alternative is not None and alternative.start_byte <= child.start_byte and child.end_byte <= alternative.end_byte and child.type in ("preproc_else", "preproc_elif", "preproc_elifdef")
                    parts.append((negate_condition(own) or own) if inside_alt else own)
            child, parent = parent, parent.parent
        cond: str | None = None
        for part in reversed(parts):
            cond = join_conditions(cond, part)
        return cond

    def branches(self, block: Node, cond: str | None) -> Iterator[tuple[Node, str | None]]:
        """Each child of an #if/#ifdef block and of its #elif/#else chain, with the condition it is under."""
        current: Node | None = block
        while current is not None:  # the chain, one branch after the other: no recursion
            own = None if self.is_header_guard(current) else self.condition_of(current)
            here = join_conditions(cond, own) if current.type != "preproc_else" else cond
            alternative = current.child_by_field_id(F_ALTERNATIVE)
            skip = {current.child_by_field_id(F_NAME), current.child_by_field_id(F_CONDITION), alternative}
            for child in current.children:
                if child.is_named and child not in skip:
                    yield child, here
            if own:
                cond = join_conditions(cond, negate_condition(own))
            current = alternative


class ErrorRecovery:
    """Function definitions inside top-level ERROR regions, found by the kernel's layout."""

    def __init__(self, src: bytes, out: list[DefinitionRow], xref: RefCollector) -> None:
        self.src = src
        self.out = out
        self.xref = xref

    def recover_functions(self, node: Node, cond: str | None) -> None:
        """Function definitions inside a top-level ERROR, in the kernel's layout.

        Braces unbalanced across #if branches defeat the grammar; kernel style still puts
        the function's header at column 0, its `{` alone on the next line and its `}`
        alone at column 0.  Only ERROR regions are searched this way.
        """
        seen = {(d.name, d.line) for d in self.out}
        region = self.src[node.start_byte : node.end_byte]
        for m in _RECOVER_FUNCTION_RX.finditer(region):
            name = m.group("name").decode("utf-8", "replace")
            if name in _NOT_FUNCTION_NAMES or _DEFINER_NAME_RX.match(name):
                continue
            offset = node.start_byte + m.start("name")
            line = self.src.count(b"\n", 0, offset) + 1
            if (name, line) in seen:
                continue
            close = self.src.find(b"\n}\n", node.start_byte + m.end())
            end_line = self.src.count(b"\n", 0, close + 2) if close >= 0 else line
            col = offset - (self.src.rfind(b"\n", 0, offset) + 1)
            header = _collapse(self.src[node.start_byte + m.start() : node.start_byte + m.end("params")])
            scope = "file" if header.startswith("static") else "global"
            span = definition_span(self.src, node.start_byte + m.start(), close + 2 if close >= 0 else node.end_byte)
            self.out.append(DefinitionRow(name, "function", line, col, end_line, scope, header[:_MAX_SIGNATURE], cond, None, *span))
            if self.xref.enabled:
                self.recovered_body_refs(node, name, node.start_byte + m.start(), close if close >= 0 else node.end_byte,
                                         self.src[node.start_byte + m.start() : node.start_byte + m.end("params")], cond)

    def recovered_body_refs(self, error: Node, name: str, start: int, end: int, header: bytes, cond: str | None) -> None:
        """References in a function recovered from an ERROR: its parameters come from its
        header parsed on its own, its statements from the ERROR's parts within its lines."""
        locals_: dict[str, str | None] = {}
        header_tree = make_parser().parse(blank_annotations(header) + b"\n{\n}\n")
        for fn in header_tree.root_node.named_children:
            decl = fn.child_by_field_id(F_DECLARATOR)
            while decl is not None and decl.type != "function_declarator":
                decl = decl.child_by_field_id(F_DECLARATOR)
            params = decl.child_by_field_id(F_PARAMETERS) if decl is not None else None
            for param in params.named_children if params is not None else ():
                pname, _, _ = declarator_name(param.child_by_field_id(F_DECLARATOR))
                if pname is not None:
                    locals_[_name(pname)] = type_name(param.child_by_field_id(F_TYPE))
            break
        stack = list(error.named_children)
        while stack:
            part = stack.pop()
            if part.end_byte <= start or part.start_byte >= end:
                continue
            if part.start_byte < start or part.end_byte > end:
                stack.extend(part.named_children)  # straddles the function's edge: look inside
                continue
            if part.type in ("function_declarator", "parameter_list") and part.start_byte < start + len(header):
                continue  # the header itself
            self.xref.walk(part, locals_, name, cond)

class MacroDefinedFunctions:
    """SYSCALL_DEFINEn(name, ...) defines sys_name; BPF_CALL_n(name, ...) defines name."""

    def __init__(self, src: bytes, out: list[DefinitionRow], xref: RefCollector, conditions: Conditions) -> None:
        self.src = src
        self.out = out
        self.xref = xref
        self.conditions = conditions

    def collect(self, root: Node) -> set[int]:
        """Definitions of the macro-defined functions; returns the start bytes of the nodes they cover."""
        covered: set[int] = set()
        for match in _DEFINER_RX.finditer(self.src):
            macro = match.group("macro").decode("utf-8", "replace")
            raw = match.group("name").decode("utf-8", "replace")
            name = raw if macro.startswith("BPF_CALL") else ("compat_sys_" if macro.startswith("COMPAT") else "sys_") + raw
            start = match.start("macro")
            top = _top_level_at(root, start)
            if top is None:
                continue
            end_node = top
            if top.type != "function_definition":
                sibling = top.next_named_sibling
                while sibling is not None and sibling.type == "comment":
                    sibling = sibling.next_named_sibling
                if sibling is not None and sibling.type == "compound_statement":
                    end_node = sibling
                elif top.type != "ERROR":
                    continue  # a macro call without a body, e.g. in a comment or a declaration
            covered.add(top.start_byte)
            body = end_node if end_node.type == "compound_statement" else end_node.child_by_field_id(F_BODY)
            if body is not None:
                close = self.src.find(b")", match.start("name"))
                line = self.src.count(b"\n", 0, match.start("name")) + 1
                self.xref.definer_body(body, name, self.conditions.condition_at(top), _blank_annotation_words(self.src[match.start("name") : close if close > 0 else match.end()]),  # `struct sock __user *`: the type is sock
                                       match.start("name"), line)
            line = self.src.count(b"\n", 0, match.start("name")) + 1
            line_start = self.src.rfind(b"\n", 0, match.start("name")) + 1
            col = match.start("name") - line_start
            sig_end = self.src.find(b")", match.start("name"))
            sig = _collapse(self.src[start : sig_end + 1 if sig_end > 0 else match.end()])
            cond = self.conditions.condition_at(top)
            span = definition_span(self.src, start, end_node.end_byte)
            self.out.append(DefinitionRow(name, "function", line, col, _end_line(end_node), "global", sig[:_MAX_SIGNATURE], cond, None, *span))
        return covered


# Tracepoints: TRACE_EVENT(name, TP_PROTO(...), ...) and DEFINE_EVENT(class, name, TP_PROTO(...), ...) define,
# through include/linux/tracepoint.h, the function trace_NAME(...) that the kernel calls where the event fires
# (trace_inet_sock_set_state in inet_sk_set_state); DECLARE_EVENT_CLASS names a class, no function.  The macros
# of tracepoint.h and trace_events.h, whose name is the first argument (TRACE_EVENT...) or the second (DEFINE_EVENT...).
_TRACEPOINT_RX = re.compile(
    rb"^[ \t]*(?:(?P<first>TRACE_EVENT(?:_CONDITION|_FN_COND|_FN|_NOP|_RCU)?|DECLARE_TRACE(?:_CONDITION)?)"
    rb"|(?P<second>DEFINE_EVENT(?:_CONDITION|_FN|_PRINT|_NOP)?))[ \t]*\(",
    re.MULTILINE,
)
_TP_PROTO_RX = re.compile(rb"\s*TP_PROTO\s*\(")
_ARGUMENT_NAME_RX = re.compile(rb"\s*([A-Za-z_]\w*)\s*$")


# The arguments of tracepoint macros are no C expressions (TP_PROTO(struct sock *sk), TP_STRUCT__entry(__field(int,
# x)), TP_fast_assign(statements)), and tree-sitter-c made each event an ERROR region: the largest class left on the
# whole tree (about 270 files of 6.1, most of include/trace/events).  Each event at file scope is rewritten, every
# offset kept, into what trace_events.h makes of it: an event with a body (TRACE_EVENT..., DECLARE_EVENT_CLASS)
# becomes the function `void TP_PROTO(params) { assign; TP_printk(...); }`, which the walker names
# trace_event_raw_event_CLASS (the probe the kernel generates, whose body the assignments are) and walks; one without
# (DEFINE_EVENT..., DECLARE_TRACE) the prototype `void TP_PROTO(params);`, which declares nothing.  TP_ARGS,
# TP_STRUCT__entry and TP_CONDITION are blanked.
_EVENT_NAME_RX = re.compile(rb"TRACE_EVENT(?:_CONDITION|_FN_COND|_FN|_RCU)?|DECLARE_EVENT_CLASS|DEFINE_EVENT(?:_CONDITION|_FN|_PRINT)?"
                            rb"|DECLARE_TRACE(?:_CONDITION)?")
_EVENT_RX = re.compile(rb"^[ \t]*(?P<macro>" + _EVENT_NAME_RX.pattern + rb")[ \t]*\(", re.MULTILINE)
# a subsystem's own wrapper of the assignments or the format counts as the part it wraps: btrfs's
# TP_fast_assign_btrfs(fs_info, statements) and TP_printk_btrfs(fmt, args) (the body reads `{fs_info, statements}`)
_EVENT_PART_RX = re.compile(rb"\s*(?P<part>TP_PROTO|TP_fast_assign|TP_printk)(?:(?<!TP_PROTO)_[A-Za-z]\w*)?\s*\(")
TRACEPOINT_BODY = "TP_PROTO"  # the name the rewritten event's function has until the walker renames it
RAW_EVENT_PREFIX = "trace_event_raw_event_"


class TracepointBody(NamedTuple):
    """A rewritten event with a body: the name of its probe and where the event's class name stands."""

    name: str
    name_offset: int
    signature_end: int  # the end of TP_PROTO(...) in the file: the signature is the macro up to there


def _rewrite_tracepoints(text: bytes) -> tuple[bytes, dict[int, TracepointBody]]:
    """`text` with its events at file scope rewritten (see _EVENT_RX), and the bodies by the offset they start at."""
    buf: bytearray | None = None
    bodies: dict[int, TracepointBody] = {}
    done = 0
    for m in _EVENT_RX.finditer(text):
        start = m.start("macro")
        if start < done or _in_directive(text, start):
            continue  # inside an event rewritten already, or a line of a #define's body
        found = _call_arguments(text, m.end() - 1)
        if found is None:
            continue
        commas, close = found
        bounds = [m.end()] + [c + 1 for c in commas]
        ends = commas + [close]
        parts: dict[bytes, tuple[int, int, int]] = {}  # part → (its argument's start, its `(`, its `)`)
        for arg_start, arg_end in zip(bounds, ends, strict=True):
            part = _EVENT_PART_RX.match(text, arg_start, arg_end)
            if part is None or part.group("part") in parts:
                continue
            inner = _call_arguments(text, part.end() - 1, arg_end)
            if inner is None:
                continue
            parts[part.group("part")] = (part.start("part"), part.end() - 1, inner[1])
        proto = parts.get(b"TP_PROTO")
        named = _ARGUMENT_NAME_RX.match(text, m.end(), commas[0]) if commas else None
        if proto is None or named is None or proto[0] - start < len(b"void "):
            continue
        if buf is None:
            buf = bytearray(text)
        after = close + 1
        semicolon = after
        while semicolon < len(text) and text[semicolon] in b" \t\r\n":
            semicolon += 1
        has_semicolon = semicolon < len(text) and text[semicolon] == 0x3B
        assign = parts.get(b"TP_fast_assign")
        _put(buf, start, proto[0] - start, b"void")
        if assign is None or m.group("macro").startswith((b"DEFINE_EVENT", b"DECLARE_TRACE")):
            _put(buf, proto[2] + 1, after - (proto[2] + 1), b"")
            buf[close] = 0x3B  # `;`
            if has_semicolon:
                buf[semicolon] = 0x20
            done = after
            continue
        _put(buf, proto[2] + 1, assign[1] - (proto[2] + 1), b"")
        buf[assign[1]] = 0x7B  # `{`
        printk = parts.get(b"TP_printk")
        if printk is not None and has_semicolon and printk[0] > assign[2]:
            _put(buf, assign[2], printk[0] - assign[2], b"")  # `TP_printk(...)` stays, a statement
            _put(buf, printk[2] + 1, close - (printk[2] + 1), b"")
            buf[close] = 0x3B
            buf[semicolon] = 0x7D  # `}`
            end = semicolon + 1
        else:
            _put(buf, assign[2], after - assign[2], b"")
            buf[close] = 0x7D
            if has_semicolon:
                buf[semicolon] = 0x20
            end = after
        done = end
        bodies[start] = TracepointBody(RAW_EVENT_PREFIX + named.group(1).decode("ascii"), named.start(1), proto[2] + 1)
    return (bytes(buf), bodies) if buf is not None else (text, bodies)


def tracepoint_definitions(src: bytes, root: Node, conditions: Conditions) -> list[DefinitionRow]:
    """The trace_NAME functions the file's tracepoint macros define (see _TRACEPOINT_RX), at the name's place; the
    signature is the macro's text up to its TP_PROTO(...), the range the whole macro call."""
    out: list[DefinitionRow] = []
    line, pos = 1, 0  # the line of byte `pos`: the matches come in order, so the newlines are counted once
    for match in _TRACEPOINT_RX.finditer(src):
        start = match.start("first") if match.group("first") else match.start("second")
        if _in_directive(src, start):
            continue  # a line of a #define's body
        top = _top_level_at(root, start)
        if top is not None and top.type == "comment":
            continue
        found = _call_arguments(src, match.end() - 1)
        if found is None:
            continue
        commas, close = found
        which = 0 if match.group("first") else 1
        if len(commas) <= which:
            continue
        arg_start = match.end() if which == 0 else commas[0] + 1
        named = _ARGUMENT_NAME_RX.match(src, arg_start, commas[which])
        if named is None:
            continue
        sig_end = commas[which]
        proto = _TP_PROTO_RX.match(src, commas[which] + 1)
        if proto is not None:
            inner = _call_arguments(src, proto.end() - 1, close)
            if inner is not None:
                sig_end = inner[1] + 1
        at = named.start(1)
        start_line = line + src.count(b"\n", pos, start)
        line = start_line + src.count(b"\n", start, at)
        pos = at
        col = at - (src.rfind(b"\n", 0, at) + 1)
        signature = _collapse(src[start:sig_end])[:_MAX_SIGNATURE]
        cond = conditions.condition_at(top) if top is not None else None
        out.append(DefinitionRow("trace_" + named.group(1).decode("ascii"), "function", line, col,
                                 line + src.count(b"\n", at, close), "global", signature, cond, "void",
                                 start_line, start, _trim_end(src, start, close + 1)))
    return out


class DefinitionWalker:
    """Definitions of one file: the top level, declarations, types and their members, macros."""

    def __init__(self, src: bytes, path: str, refs: bool = True) -> None:
        self.src = src
        self.is_header = path.endswith(".h")
        self.out: list[DefinitionRow] = []
        self.errors = 0
        self.depth = 0  # nesting followed so far (see MAX_NESTING)
        self.partial = False  # something nested deeper than MAX_NESTING was left out
        self.definer_nodes: set[int] = set()  # start bytes of nodes a macro-defined function covers
        self.groups: dict[int, StructGroup] = {}  # struct_group(...) calls, by the offset of their `struct {`
        self.macro_calls: dict[int, int] = {}  # member macro calls (see PreparedSource.calls)
        self.tracepoints: dict[int, TracepointBody] = {}  # rewritten events (see PreparedSource.tracepoints)
        self.echo = False  # walking a struct_group's members a second time: members only, no refs or macros
        self.conditions = Conditions(src)
        self.xref = RefCollector(src, self.conditions.condition_of, enabled=refs)
        self.recovery = ErrorRecovery(src, self.out, self.xref)

    # ---------------------------------------------------------------- helpers
    def text(self, node: Node) -> bytes:
        return self.src[node.start_byte : node.end_byte]

    def position(self, offset: int) -> tuple[int, int]:
        """(1-based line, 0-based byte column) of an offset."""
        return self.src.count(b"\n", 0, offset) + 1, offset - (self.src.rfind(b"\n", 0, offset) + 1)

    def emit(self, name: str, kind: str, name_node: Node | None, whole: Node, scope: str, sig: str, cond: str | None, line: int | None = None, col: int | None = None, type_: str | None = None, start: int | None = None) -> None:
        """One definition; `start` moves the start of its span before `whole` (a rewritten macro call)."""
        if not name:
            return
        if line is None:
            assert name_node is not None
            row, col = name_node.start_point
            line = row + 1
        if len(sig) > _MAX_SIGNATURE:
            sig = sig[: _MAX_SIGNATURE - 1] + "…"
        whole_start = whole.start_byte
        begin = whole_start if start is None else min(start, whole_start)
        end = _trim_end(self.src, begin, whole.end_byte)
        # _end_line(whole) and the start line, with each point read once (a point is a new tuple each time)
        first_row = whole.start_point[0]
        end_row, end_col = whole.end_point
        end_line = end_row if end_col == 0 and end_row > first_row else end_row + 1
        start_line = first_row + 1 if begin == whole_start else self.src.count(b"\n", 0, begin) + 1
        self.out.append(DefinitionRow(name, kind, line, col or 0, max(end_line, line), scope, sig, cond, type_,
                                      start_line, begin, end))

    def type_scope(self) -> str:
        return "global" if self.is_header else "file"

    @_bounded
    def walk_block(self, block: Node, cond: str | None, visit: Callable[[Node, str | None], None]) -> None:
        """Walk an #if/#ifdef/#elif/#else block, each branch under its own condition."""
        for child, here in self.conditions.branches(block, cond):
            visit(child, here)

    # ---------------------------------------------------------------- top level
    @_bounded
    def walk_nested(self, node: Node, cond: str | None) -> None:
        """The named children of an ERROR, `extern "C" { ... }` or a declaration list, one level down."""
        for child in node.named_children:
            self.walk_top(child, cond)

    def walk_top(self, node: Node, cond: str | None) -> None:
        t = node.type
        if t == "function_definition":
            self.function_definition(node, cond)
        elif t == "declaration":
            self.declaration(node, cond)
        elif t == "type_definition":
            self.type_definition(node, cond)
        elif t in _SPEC_KIND:
            self.specifier(node, cond)
        elif t in ("preproc_def", "preproc_function_def"):
            self.macro(node, cond)
        elif t == "preproc_call":
            self.define_call(node, cond)
        elif t in _PREPROC_BLOCKS:
            self.walk_block(node, cond, self.walk_top)
        elif t == "ERROR":
            self.errors += 1
            self.walk_nested(node, cond)
            self.recovery.recover_functions(node, cond)
        elif t in ("linkage_specification", "declaration_list"):
            self.walk_nested(node, cond)
        elif t == "compound_statement" and node.child_count and node.children[-1].is_missing:
            # a block at file scope that never closes: tree-sitter's recovery from a construct it does not
            # know (an initializer it read as a block, a #define inside one) that took the rest of the file
            # with it; what it holds is file scope, walked as such
            self.errors += 1
            self.walk_nested(node, cond)
        elif t in ("expression_statement", "compound_statement"):
            self.nested_macros(node, cond)
        else:
            self.count_errors(node)

    def count_errors(self, node: Node) -> None:
        if node.has_error:
            self.errors += 1

    def nested_macros(self, node: Node, cond: str | None) -> None:
        """#defines inside function bodies and other statements (rare, but real)."""
        if b"#" not in self.text(node):
            self.count_errors(node)
            return
        stack = [(node, cond)]
        while stack:
            cur, c = stack.pop()
            if cur.type in ("preproc_def", "preproc_function_def"):
                self.macro(cur, c)
                continue
            if cur.type == "ERROR":
                self.errors += 1
            if cur.type in _PREPROC_BLOCKS:
                self.walk_block(cur, c, lambda n, cc: stack.append((n, cc)))
                continue
            for child in cur.named_children:
                stack.append((child, c))

    def function_definition(self, node: Node, cond: str | None) -> None:
        name_node, _, _ = declarator_name(node.child_by_field_id(F_DECLARATOR))
        if node.has_error:
            self.errors += 1
        if name_node is None:
            return
        name = _name(name_node)
        if _DEFINER_NAME_RX.match(name) or node.start_byte in self.definer_nodes:
            return
        if name == TRACEPOINT_BODY:
            self.tracepoint_body(node, cond)
            return
        body = node.child_by_field_id(F_BODY)
        sig_end = body.start_byte if body is not None else node.end_byte
        sig = _collapse(self.src[node.start_byte : sig_end])
        scope = "file" if "static" in _storage(node) else "global"
        self.emit(name, "function", name_node, node, scope, sig, cond, type_=type_name(node.child_by_field_id(F_TYPE)))
        self.xref.function(node, name, cond, name_node.start_point[0] + 1)
        records, self.xref.local_records = self.xref.local_records, []
        for record, alias in records:  # struct bodies declared inside the function: their members
            self.specifier(record, cond, alias)
        if body is not None and b"#" in self.text(body):
            self.nested_macros(body, cond)

    def tracepoint_body(self, node: Node, cond: str | None) -> None:
        """A tracepoint event rewritten as a function (see _rewrite_tracepoints): its probe, with the event's
        assignments and print arguments as its body and the TP_PROTO parameters as its own."""
        event = self.tracepoints.get(node.start_byte)
        if event is None:
            return  # `TP_PROTO(...) {` written so in the file: no event of ours
        line, col = self.position(event.name_offset)
        sig = _collapse(self.src[node.start_byte : event.signature_end])
        self.emit(event.name, "function", None, node, "file", sig, cond, line=line, col=col, type_="void")
        self.xref.function(node, event.name, cond, line)

    def declaration(self, node: Node, cond: str | None) -> None:
        storage = _storage(node)
        type_node = node.child_by_field_id(F_TYPE)
        anonymous = anonymous_record_name(node)  # members of `struct { ... } name` go under name
        if type_node is not None and type_node.type in _SPEC_KIND:
            self.specifier(type_node, cond, anonymous)
        error_names = [c for c in node.children if c.type == "ERROR"]
        if error_names:
            self.errors += 1
        for decl in node.children_by_field_id(F_DECLARATOR):
            name_node, is_function, _ = declarator_name(decl)
            if name_node is None:
                continue
            name = _name(name_node)
            if name in ANNOTATION_WORDS and error_names:
                # `int x __read_mostly = 1;` that blanking did not catch: the real name
                # sits in the ERROR just before the annotation.
                ids = [n for n in _descendants(error_names[-1]) if n.type in _NAME_TYPES]
                if not ids:
                    continue
                name_node = ids[-1]
                name = _name(name_node)
            if is_function:
                if _DEFINER_NAME_RX.match(name) or name.startswith("EXPORT_SYMBOL") or name == TRACEPOINT_BODY:
                    continue  # (TP_PROTO: an event without a body, rewritten as a prototype that declares nothing)
                kind = "prototype"
            else:
                if "extern" in storage and type_node is not None:
                    extern_type = type_name(type_node)
                    if extern_type:
                        self.xref.type_hints.append(TypeHint(name, extern_type, "extern"))
                if "extern" in storage or "typedef" in storage:
                    continue
                kind = "variable"
            end = decl.child_by_field_id(F_VALUE) if decl.type == "init_declarator" else None
            inner = decl.child_by_field_id(F_DECLARATOR)
            sig_end = inner.end_byte if end is not None and inner is not None else decl.end_byte
            sig_start = node.start_byte
            call = self.macro_calls.get(type_node.start_byte) if type_node is not None else None
            if call is not None:  # static DEFINE_MUTEX(rtnl_mutex): the call as written, up to its `)`
                sig_start = min(sig_start, call)
                sig_end = (self.src.find(b")", decl.start_byte, node.end_byte) + 1) or node.end_byte
            sig = _collapse(self.src[sig_start:sig_end])
            scope = "file" if "static" in storage else "global"
            self.emit(name, kind, name_node, node, scope, sig, cond, type_=type_name(type_node) or anonymous, start=sig_start)
        self.xref.declaration(node, cond)

    def type_definition(self, node: Node, cond: str | None) -> None:
        type_node = node.child_by_field_id(F_TYPE)
        names = []
        for decl in node.children_by_field_id(F_DECLARATOR):
            name_node, _, _ = declarator_name(decl)
            if name_node is not None:
                names.append(name_node)
        if not names:
            # `typedef unsigned long size_t;`: tree-sitter-c knows size_t as a primitive type
            typeish = [c for c in node.named_children if c.type in ("primitive_type", "type_identifier", "sized_type_specifier")]
            if len(typeish) >= 2 and typeish[-1].type in ("primitive_type", "type_identifier"):
                names.append(typeish[-1])
        if type_node is not None and type_node.type in _SPEC_KIND:
            anonymous_alias = _name(names[0]) if names and type_node.child_by_field_id(F_NAME) is None else None
            self.specifier(type_node, cond, alias=anonymous_alias)
        if node.has_error:
            self.errors += 1
        for name_node in names:
            sig = _collapse(self.text(node)) if len(self.text(node)) < 400 else _collapse(
                self.src[node.start_byte : node.start_byte + 200]
            )
            if type_node is not None and type_node.child_by_field_id(F_BODY) is not None:
                kw = type_node.children[0].type
                tag = type_node.child_by_field_id(F_NAME)
                sig = f"typedef {kw} {_name(tag) + ' ' if tag is not None else ''}{{...}} {_name(name_node)}"
            aliased = type_name(type_node)
            if aliased is None and type_node is not None and type_node.child_by_field_id(F_BODY) is not None:
                aliased = _name(name_node)  # typedef struct { ... } foo_t: members are foo_t.*
            self.emit(_name(name_node), "typedef", name_node, node, self.type_scope(), sig, cond, type_=aliased)
        self.xref.type_refs(type_node, None, cond)

    @_bounded
    def specifier(self, node: Node, cond: str | None, alias: str | None = None) -> None:
        """struct/union/enum with a body: the type, then its members or enumerators."""
        body = node.child_by_field_id(F_BODY)
        if body is None:
            return
        kind = _SPEC_KIND[node.type]
        name_node = node.child_by_field_id(F_NAME)
        owner = _name(name_node) if name_node is not None else alias
        if name_node is not None and owner is not None:
            self.emit(owner, kind, name_node, node, self.type_scope(), f"{kind} {owner}", cond)
        if kind == "enum":
            self.enumerators(body, owner, cond)
        elif owner is not None:
            self.members(body, owner, "", cond)
        else:
            self.members(body, None, "", cond)

    @_bounded
    def enumerators(self, body: Node, owner: str | None, cond: str | None) -> None:
        scope = f"enum {owner}" if owner else self.type_scope()

        def visit(child: Node, c: str | None) -> None:
            if child.type == "enumerator":
                name_node = child.child_by_field_id(F_NAME)
                if name_node is not None:
                    self.emit(_name(name_node), "enumerator", name_node, child, scope, _collapse(self.text(child)), c)
            elif child.type in _PREPROC_BLOCKS:
                self.walk_block(child, c, visit)
            elif child.type in ("preproc_def", "preproc_function_def"):
                self.macro(child, c)
            elif child.type == "preproc_call":
                self.define_call(child, c)
            elif child.type == "ERROR":
                self.errors += 1
                for sub in child.named_children:
                    visit(sub, c)

        for child in body.named_children:
            visit(child, cond)

    @_bounded
    def members(self, body: Node, owner: str | None, prefix: str, cond: str | None) -> None:
        """Fields of `owner`; fields of anonymous structs and unions belong to it too."""

        def visit(child: Node, c: str | None) -> None:
            t = child.type
            if t == "field_declaration":
                self.field(child, owner, prefix, c)
            elif t in _PREPROC_BLOCKS:
                self.walk_block(child, c, visit)
            elif self.echo:
                return
            elif t in ("preproc_def", "preproc_function_def"):
                self.macro(child, c)
            elif t == "preproc_call":
                self.define_call(child, c)
            elif t == "ERROR":
                self.errors += 1
                for sub in child.named_children:
                    visit(sub, c)

        for child in body.named_children:
            visit(child, cond)

    def field(self, node: Node, owner: str | None, prefix: str, cond: str | None) -> None:
        type_node = node.child_by_field_id(F_TYPE)
        declarators = node.children_by_field_id(F_DECLARATOR)
        if node.has_error and not self.echo:
            self.errors += 1
        nested = _nested_type(type_node)
        if nested is None:
            if declarators and owner is not None:
                if not self.echo:
                    self.xref.type_refs(type_node, None, cond)
                self.plain_members(node, type_node, declarators, owner, prefix, cond)
            return
        spec, body = nested
        named = spec.child_by_field_id(F_NAME) is not None
        if named:
            self.specifier(spec, cond)  # `struct foo { ... } bar;` inside a struct defines struct foo
        if not declarators:
            if not named:
                if spec.type == "enum_specifier":
                    self.enumerators(body, None, cond)
                else:
                    self.members(body, owner, prefix, cond)  # anonymous struct/union: flatten
                    group = self.groups.get(spec.start_byte)
                    if group is not None and owner is not None:
                        self.struct_group(group, node, body, owner, prefix, cond)
            return
        if owner is None:
            return
        kw = spec.children[0].type
        tag = spec.child_by_field_id(F_NAME)
        for decl in declarators:
            name_node, _, _ = declarator_name(decl)
            if name_node is None:
                continue
            field_name = _name(name_node)
            full = f"{owner}.{prefix}{field_name}"
            sig = f"{kw} {_name(tag) + ' ' if tag is not None else ''}{{...}} {_collapse(self.text(decl))}"
            # an anonymous struct type: its members are named under this member
            member_type = type_name(spec) if named else full
            self.emit(full, "member", name_node, node, owner, sig, cond, type_=member_type)
            if not named and spec.type != "enum_specifier":
                self.members(body, owner, f"{prefix}{field_name}.", cond)
            elif not named:
                self.enumerators(body, None, cond)

    def struct_group(self, group: StructGroup, node: Node, body: Node, owner: str, prefix: str, cond: str | None) -> None:
        """`struct_group(NAME, MEMBERS...)`: the members are the owner's (walked already) and NAME's too.

        With a TAG (`struct_group_tagged(TAG, NAME, ...)`) NAME is a `struct TAG`, whose
        members are TAG.*; without one, they are named under NAME like an anonymous struct's."""
        full = f"{owner}.{prefix}{group.name}"
        line, col = self.position(group.name_offset)
        sig = _collapse(self.src[group.start : group.name_offset + len(group.name)]) + ", ...)"
        self.emit(full, "member", None, node, owner, sig, cond, line=line, col=col, type_=group.tag or full)
        self.echo = True
        try:
            if group.tag is not None and group.tag_offset is not None:
                tag_line, tag_col = self.position(group.tag_offset)
                self.emit(group.tag, "struct", None, node, self.type_scope(), f"struct {group.tag}", cond, line=tag_line, col=tag_col)
                self.members(body, group.tag, "", cond)
            else:
                self.members(body, owner, f"{prefix}{group.name}.", cond)
        finally:
            self.echo = False

    def plain_members(self, node: Node, type_node: Node | None, declarators: list[Node], owner: str, prefix: str, cond: str | None) -> None:
        """Members of a type without a body here: `struct sock *sk, *other;`."""
        type_text = _collapse(self.text(type_node)) if type_node is not None else None
        call = self.macro_calls.get(node.start_byte)
        for decl in declarators:
            name_node, _, _ = declarator_name(decl)
            if name_node is None:
                continue
            full = f"{owner}.{prefix}{_name(name_node)}"
            if call is not None:  # DECLARE_BITMAP(state, N): the signature is the macro call as written
                sig = _collapse(self.src[call : node.end_byte])
            else:
                sig = f"{type_text} {_collapse(self.text(decl))}" if type_text else _collapse(self.text(node))
            self.emit(full, "member", name_node, node, owner, sig, cond, type_=type_name(type_node), start=call)

    def define_call(self, node: Node, cond: str | None) -> None:
        """A `#define` that tree-sitter-c read as a generic directive (inside enum and struct bodies)."""
        directive = node.child_by_field_id(F_DIRECTIVE)
        arg = node.child_by_field_id(F_ARGUMENT)
        if directive is None or arg is None or (directive.text or b"").strip() != b"#define":
            return
        text = self.text(arg)
        m = re.match(rb"\s*([A-Za-z_]\w*)", text)
        if not m:
            return
        offset = arg.start_byte + m.start(1)
        line = self.src.count(b"\n", 0, offset) + 1
        col = offset - (self.src.rfind(b"\n", 0, offset) + 1)
        sig = _collapse(self.text(node).split(b"\n", 1)[0].rstrip(b"\\"))
        self.emit(m.group(1).decode("utf-8", "replace"), "macro", None, node, "file" if not self.is_header else "global", sig, cond, line=line, col=col)

    def macro(self, node: Node, cond: str | None) -> None:
        name_node = node.child_by_field_id(F_NAME)
        if name_node is None:
            return
        head_end = node.end_byte
        params = node.child_by_field_id(F_PARAMETERS)
        value = node.child_by_field_id(F_VALUE)
        first_line = self.text(node).split(b"\n", 1)[0]
        sig = _collapse(first_line.rstrip(b"\\"))
        if params is not None and value is None:
            sig = _collapse(self.src[node.start_byte : min(head_end, params.end_byte)])
        mtype = None
        if params is not None and value is not None:
            m = _MACRO_TYPE_RX.match(self.text(value))  # (each branch starts with ^: match is search, without trying every offset)
            if m:
                mtype = (m.group(1) or m.group(2)).decode("utf-8", "replace")
        self.emit(_name(name_node), "macro", name_node, node, "file" if not self.is_header else "global", sig, cond, type_=mtype)
        if params is not None and value is not None:
            self.xref.macro_body(value, params, _name(name_node), cond)

def _descendants(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        cur = stack.pop()
        yield cur
        stack.extend(reversed(cur.children))


def _top_level_at(root: Node, offset: int) -> Node | None:
    """The outermost statement-level node containing `offset`, looking inside #if blocks and ERRORs."""
    node = root.descendant_for_byte_range(offset, offset)
    best = None
    while node is not None and node.parent is not None:
        parent = node.parent
        if parent.type in ("translation_unit", "ERROR") or parent.type in _PREPROC_BLOCKS:
            best = node
            break
        node = parent
    return best


def parse_source(parser: Parser, src: bytes) -> tuple[PreparedSource, Tree, dict[int, str]]:
    """The text and tree that parse_definitions walks (what the benchmarks' diagnoses read too): the prepared
    source parsed, and where it has ERROR regions, the rewrites that need its tree (#if blocks in initializers
    and if/else chains, type and macro arguments) applied and the text parsed again; with the condition of each
    line inside a blanked #if block."""
    prepared = prepare_source(src)
    tree = parser.parse(prepared.text)
    line_conditions: dict[int, str] = {}
    if tree.root_node.has_error:
        directives = _initializer_directives(tree.root_node, prepared.text) if b"#" in src else []
        if b"#" in src:
            else_directives = _else_directives(tree.root_node, prepared.text)
            if else_directives:
                taken = {d[0] for d in directives}
                directives = sorted(directives + [d for d in else_directives if d[0] not in taken])
        spans, type_names = _type_argument_spans(tree.root_node, prepared.text)
        if b'"' in src:
            spans.extend(_string_macro_spans(tree.root_node, prepared.text))
            if b"asm" in src:
                spans.extend(_asm_operand_spans(tree.root_node, prepared.text))
        spans.extend(_digit_word_spans(tree.root_node, prepared.text))
        if directives or spans:
            spans.extend((s, e, b"") for s, e, _, _ in directives)
            spans = _apart(spans)
            prepared.text, tree = _reparse_blanked(parser, tree, prepared.text, spans)
        if directives:
            line_conditions = _directive_line_conditions(src, directives)
        if type_names:
            prepared.type_arguments = sorted(prepared.type_arguments + type_names)
    return prepared, tree, line_conditions


def parse_definitions(parser: Parser, src: bytes, path: str, refs: bool = True) -> ParseResult:
    """Every definition in one file (and its references, if `refs`); ERROR nodes are walked, never fatal."""
    prepared, tree, line_conditions = parse_source(parser, src)
    walker = DefinitionWalker(src, path, refs)
    walker.xref.typeof_operands = prepared.typeof_operands
    walker.xref.declaring_calls = dict(prepared.calls)
    walker.groups = prepared.groups
    walker.macro_calls = prepared.calls
    walker.tracepoints = prepared.tracepoints
    root = tree.root_node
    if (b"SYSCALL_DEFINE" in src or b"BPF_CALL_" in src) and _DEFINER_RX.search(src):
        walker.definer_nodes = MacroDefinedFunctions(src, walker.out, walker.xref, walker.conditions).collect(root)
    for child in root.children:
        if child.is_named:
            walker.walk_top(child, None)
    if b"TRACE_EVENT" in src or b"DEFINE_EVENT" in src or b"DECLARE_TRACE" in src:
        walker.out.extend(tracepoint_definitions(src, root, walker.conditions))
    if prepared.typeof_operands:
        walker.xref.typeof_refs(0, {})  # those outside functions and macros (a global's type, a member's)
    lines = src.count(b"\n") + (1 if src and not src.endswith(b"\n") else 0)
    partial = walker.partial or walker.xref.partial
    found = walker.xref.refs
    if prepared.type_arguments and found:
        found = _type_argument_roles(src, found, prepared.type_arguments)
    if line_conditions and found:
        found = [r._replace(cond=join_conditions(r.cond, line_conditions[r.line])) if r.line in line_conditions else r for r in found]
    exports = [ExportRow(e.line, e.col, e.end_col, e.name, e.macro, e.namespace, _condition_at(walker.conditions, root, e.offset))
               for e in find_exports(src)]
    return ParseResult(walker.out, walker.errors, lines, found, walker.xref.assigns, partial,
                       docs=attach_docs(src, walker.out), exports=exports, tables=walker.xref.tables,
                       locals=walker.xref.locals, type_hints=walker.xref.type_hints)


def _condition_at(conditions: Conditions, root: Node, offset: int) -> str | None:
    node = _top_level_at(root, offset)
    return conditions.condition_at(node) if node is not None else None


# #if blocks inside an initializer (`.compat_ioctl = inet_compat_ioctl,` under #ifdef
# CONFIG_COMPAT in an ops table) are not in tree-sitter-c's grammar: the entry became an
# ERROR and its member was read as CONFIG_COMPAT.compat_ioctl.  The directive lines of an
# initializer with errors are blanked and the file parsed again; the references on the
# lines inside get the block's condition back.
_CONDITIONAL_DIRECTIVE_RX = re.compile(
    # a directive continued with a backslash goes on over the next line: a backslash-newline is tried before any byte
    rb"^[ \t]*#[ \t]*(?P<kw>ifdef|ifndef|if|elif|else|endif)\b(?P<arg>(?:\\\r?\n|[^\n])*)", re.MULTILINE
)
_CONTINUATION_RX = re.compile(rb"\\\r?\n")


def _initializer_directives(root: Node, text: bytes) -> list[tuple[int, int, bytes, str]]:
    """(start, end, keyword, argument) of the conditional directives inside initializers with errors."""
    found: list[tuple[int, int, bytes, str]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "initializer_list":
            for m in _CONDITIONAL_DIRECTIVE_RX.finditer(text, node.start_byte, node.end_byte):
                found.append((m.start(), m.end(), m.group("kw"), _collapse(_CONTINUATION_RX.sub(b" ", m.group("arg")))))
            continue
        stack.extend(c for c in node.children if c.has_error)
    found.sort()
    # a block must open and close inside one initializer: drop any directive of an unbalanced run
    depth = 0
    for _, _, kw, _ in found:
        depth += 1 if kw.startswith(b"if") else -1 if kw == b"endif" else 0
        if depth < 0:
            return []
    return found if depth == 0 else []


_MAX_CUT_BLOCK = 16384  # bytes of an #if block that cuts an if/else chain whose braces are counted


def _error_tops(root: Node) -> list[Node]:
    """The top-level items the rewrites that need a tree look into: the root's children, or the root itself where
    tree-sitter made the whole file one ERROR (its children are then fragments, none with an error of its own:
    kernel/bpf/core.c)."""
    return [root] if root.type == "ERROR" else root.children


# An #if block that cuts an if/else chain (`if (a) x(); else` before `#endif`, or `#ifdef X` then `else if (b)`) is
# not in tree-sitter-c's grammar either: the dangling `else` became an ERROR.  In a top-level definition with errors,
# the directive lines of such a block (one without #else or #elif) are blanked, which reads the code as it is with
# the block's condition true, and the file is parsed again; the lines inside get the condition back.
def _else_directives(root: Node, text: bytes) -> list[tuple[int, int, bytes, str]]:
    """(start, end, keyword, argument) of the #if and #endif lines of the blocks that cut an if/else chain."""
    found: list[tuple[int, int, bytes, str]] = []
    for top in _error_tops(root):
        if not top.has_error or text.find(b"#", top.start_byte, top.end_byte) < 0:
            continue
        # (the #if line, whether an #else or #elif follows it, the one #else line when no #elif does)
        open_blocks: list[tuple[re.Match[bytes], bool, re.Match[bytes] | None]] = []
        for m in _CONDITIONAL_DIRECTIVE_RX.finditer(text, top.start_byte, top.end_byte):
            kw = m.group("kw")
            if kw.startswith(b"if"):
                open_blocks.append((m, False, None))
            elif kw == b"endif":
                if not open_blocks:
                    continue
                opened, branched, alone = open_blocks.pop()
                if alone is not None and _opens_a_block_both_ways(text, opened.end(), alone.start(), alone.end(), m.start()):
                    found.append(_if_line(opened))
                    found.append((alone.start(), m.end(), b"endif", ""))  # the #else branch blanked with its lines
                    continue
                # the shapes first (each looks at the block's ends), the braces of the block (at most
                # _MAX_CUT_BLOCK bytes of it) only then: nested blocks would scan the same bytes again and again
                if not branched and (_token_after_is_else(text, opened.end(), m.start())
                                     or _token_before_is_else(text, m.start(), opened.end())
                                     or _ends_in_a_bare_condition(text, m.start(), opened.end())
                                     or _follows_a_label(text, opened.start(), top.start_byte)
                                     or _continues_an_expression(text, opened.start(), opened.end(), m.start(), top.start_byte)) and (
                        m.start() - opened.end() <= _MAX_CUT_BLOCK and _braces_balance(text, opened.end(), m.start())):
                    found.append(_if_line(opened))
                    found.append((m.start(), m.end(), kw, ""))
            elif open_blocks:
                head, branched, alone = open_blocks[-1]
                open_blocks[-1] = (head, True, m if kw == b"else" and not branched else None)
    found.sort()
    return found


def _if_line(opened: re.Match[bytes]) -> tuple[int, int, bytes, str]:
    """A blanked #if line as _directive_line_conditions reads it: its span, keyword and condition on one line."""
    return opened.start(), opened.end(), opened.group("kw"), _collapse(_CONTINUATION_RX.sub(b" ", opened.group("arg")))


def _opens_a_block_both_ways(text: bytes, if_end: int, else_start: int, else_end: int, endif_start: int) -> bool:
    """Whether both branches of `#if A` ... `#else` ... `#endif` open the same blocks (`if (x) f(); else {` /
    `#else` / `{`, fs/smb/client/link.c): tree-sitter-c cannot close either, so the #if branch is read, with its
    condition, and the #else branch (a block's head only: no more than 256 bytes of it) is blanked.  The #if branch
    is read up to 4096 bytes, so that nested blocks cost no more than a bounded window each."""
    if endif_start - else_end > 256 or else_start - if_end > 4096:
        return False
    first = _brace_depth(text, if_end, else_start, -1)
    return first is not None and first > 0 and _brace_depth(text, else_end, endif_start, 0) == first


_CONTINUING_OPERATOR_RX = re.compile(rb"[ \t\r\n]*(?:\+(?![+=])|\|\||&&|\|(?!=)|\?|\^(?!=)|-[ \t])")
_OPEN_EXPRESSION_END = frozenset(b";{}:")
_LINE_COMMENT_RX = re.compile(rb"/\*.*?\*/|//.*")
_STATEMENT_OR_BLOCK_RX = re.compile(rb"[;{}]")


def _continues_an_expression(text: bytes, directive: int, pos: int, end: int, start: int) -> bool:
    """Whether the #if block text[pos:end] (its #if line at `directive`) adds terms to an expression that goes on
    around it (`size = a` / `#if X` / `+ b` / `#endif` / `+ c;`, nfnetlink_queue.c): its code starts with a binary
    operator, holds no `;` or brace, and the code before the #if line ends no statement."""
    if end - pos > 4096 or _CONTINUING_OPERATOR_RX.match(text, pos, end) is None:
        return False
    if _STATEMENT_OR_BLOCK_RX.search(text, pos, end) is not None:
        return False
    i = directive
    lo = max(start, directive - 4096)
    while i > lo:
        line_start = text.rfind(b"\n", lo, i - 1) + 1
        code = _LINE_COMMENT_RX.sub(b"", text[line_start:i]).strip()
        if code:
            return not code.startswith(b"#") and code[-1] not in _OPEN_EXPRESSION_END
        i = line_start
    return False


_BARE_CONDITION_WORDS = frozenset({b"if", b"for", b"while"})
_LABEL_LINE_RX = re.compile(rb"[ \t]*([A-Za-z_]\w*)[ \t]*:[ \t]*(?:/\*[^\n]*?\*/[ \t]*)?\r?\n")


def _follows_a_label(text: bytes, directive: int, start: int) -> bool:
    """Whether the last line with code before the directive at `directive` is a label alone (`out:`), whose
    statement the #if block holds: tree-sitter-c wants a statement after a label, not a directive."""
    end = directive
    while end > start:
        line_start = text.rfind(b"\n", start, end - 1) + 1
        if line_start <= start:
            return False
        line = text[line_start:end]
        if line.strip():
            m = _LABEL_LINE_RX.fullmatch(text, line_start, end)
            return m is not None and m.group(1) != b"default"
        end = line_start
    return False


def _ends_in_a_bare_condition(text: bytes, end: int, start: int) -> bool:
    """Whether text[start:end] ends in `if (...)` (or `for`, `while`) without its statement: the block's code is
    the condition of what follows #endif."""
    while end > start and text[end - 1] in b" \t\r\n\f\v":
        end -= 1
    if end <= start or text[end - 1] != 0x29:
        return False
    depth = 0
    i = end - 1
    lo = max(start, end - 4096)
    while i >= lo:
        c = text[i]
        if c == 0x29:
            depth += 1
        elif c == 0x28:
            depth -= 1
            if depth == 0:
                break
        elif c == 0x3B or c == 0x7B or c == 0x7D:
            return False
        i -= 1
    if i < lo:
        return False
    j = i
    while j > start and text[j - 1] in b" \t":
        j -= 1
    k = j
    while k > start and _is_word_byte(text[k - 1]):
        k -= 1
    return text[k:j] in _BARE_CONDITION_WORDS


def _braces_balance(text: bytes, start: int, end: int) -> bool:
    """Whether text[start:end] closes as many braces as it opens, going at most one below (`} else if (x) {`
    closes the brace before and opens the next); strings, characters and comments are stepped over.  `} else {...}`
    alone closes a brace opened before, maybe under another #if, and is left as it is."""
    return _brace_depth(text, start, end, -1) == 0


def _brace_depth(text: bytes, start: int, end: int, floor: int) -> int | None:
    """How many more braces text[start:end] opens than it closes, or None where it goes below `floor` on the way;
    strings, characters and comments are stepped over."""
    depth = 0
    i = start
    while i < end:
        c = text[i]
        if c == 0x7B:
            depth += 1
        elif c == 0x7D:
            depth -= 1
            if depth < floor:
                return None
        elif c == 0x22 or c == 0x27:
            i += 1
            while i < end and text[i] != c and text[i] != 0x0A:
                i += 2 if text[i] == 0x5C else 1
        elif c == 0x2F and text.startswith(b"/*", i):
            close = text.find(b"*/", i + 2, end)
            i = end if close < 0 else close + 1
        elif c == 0x2F and text.startswith(b"//", i):
            newline = text.find(b"\n", i, end)
            i = end if newline < 0 else newline
        i += 1
    return depth


def _is_word_byte(c: int) -> bool:
    return c == 0x5F or 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def _token_after_is_else(text: bytes, pos: int, end: int) -> bool:
    """Whether the first token in text[pos:end], past blanks and comments, is the keyword `else` (or `}` and then
    `else`: `#if IS_ENABLED(CONFIG_IPV6)` / `} else if (...) {` / ... / `#endif` / `}`)."""
    brace = False
    while pos < end:
        c = text[pos]
        if c in b" \t\r\n\f\v":
            pos += 1
        elif text.startswith(b"/*", pos):
            close = text.find(b"*/", pos + 2, end)
            if close < 0:
                return False
            pos = close + 2
        elif text.startswith(b"//", pos):
            newline = text.find(b"\n", pos, end)
            if newline < 0:
                return False
            pos = newline + 1
        elif c == 0x7D and not brace:
            brace = True
            pos += 1
        else:
            return text.startswith(b"else", pos) and (pos + 4 >= len(text) or not _is_word_byte(text[pos + 4]))
    return False


def _token_before_is_else(text: bytes, end: int, start: int) -> bool:
    """Whether the last token in text[start:end], before blanks and a closing comment, is the keyword `else`."""
    while end > start:
        c = text[end - 1]
        if c in b" \t\r\n\f\v":
            end -= 1
        elif end - 2 >= start and text[end - 2:end] == b"*/":
            opened = text.rfind(b"/*", start, end - 2)
            if opened < 0:
                return False
            end = opened
        else:
            line_start = text.rfind(b"\n", start, end) + 1
            comment = text.find(b"//", max(line_start, start), end)
            if comment >= 0:  # `else // why` (a `//` inside a string on that line is read as a comment: no harm)
                end = comment
                continue
            return (end - start >= 4 and text[end - 4:end] == b"else"
                    and (end - 5 < start or not _is_word_byte(text[end - 5])))
    return False


# A macro call between the strings of an asm template or a concatenated string (`"2:\n" _ASM_EXTABLE_UA(1b, 2b) :`)
# is not in the grammar, which allows a name there but no arguments (and `1b` is no number): the enclosing
# function became an ERROR.  Where such a call lies in a top-level definition with errors, its parenthesized
# arguments are blanked, which leaves the macro's name a use, and the file is parsed again.
_AFTER_STRING_CALL_RX = re.compile(rb'"[ \t\r\n]*([A-Za-z_]\w*)[ \t]*\(')


def _string_macro_spans(root: Node, text: bytes) -> list[tuple[int, int, bytes]]:
    """(start, end, b"") of the arguments, parentheses included, of macro calls that follow a string literal."""
    spans: list[tuple[int, int, bytes]] = []
    for top in _error_tops(root):
        if not top.has_error or b'"' not in text[top.start_byte:top.end_byte]:
            continue
        for m in _AFTER_STRING_CALL_RX.finditer(text, top.start_byte, top.end_byte):
            quote = top.descendant_for_byte_range(m.start(), m.start() + 1)
            if quote is None or quote.type != '"' or quote.parent is None or quote.parent.type != "string_literal" \
                    or quote.end_byte != quote.parent.end_byte:
                continue  # the `"` opens a string: the call is inside it
            opened = m.end() - 1
            call = _call_arguments(text, opened, min(top.end_byte, opened + 4096))
            if call is None:
                continue
            closed = call[1]
            after = closed + 1
            while after < top.end_byte and text[after] in b" \t\r\n":
                after += 1
            if after < top.end_byte and text[after] in b'":),':
                spans.append((opened, closed + 1, b""))
    return spans


# A macro in the operand lists of an asm statement (`: CC_OUT(c) (v)`, `: EAX_EDX_RET(val, low, high)`,
# `: __FORCE_ORDER)`, `: ASM_CALL_CONSTRAINT`) stands for a constraint or a whole operand, which the grammar wants
# as a string: the macro becomes a string of its length (`"xxxxxxxxx" (v)`), one that is a whole operand without an
# expression a string and `(0)` (`"xxxxxxxx"(0)`), so the asm statement parses; the macro's name is no use then.
# Only on one line, in the output, input and clobber lists (asm goto's labels are names).
_ASM_RX = re.compile(rb"(?<![\w$])(?:asm|__asm__|__asm)(?:[ \t\r\n]+(?:volatile|__volatile__|goto|inline|__inline__))*[ \t\r\n]*\(")
_WORD_RX = re.compile(rb"[A-Za-z_]\w*")


def _asm_operand_spans(root: Node, text: bytes) -> list[tuple[int, int, bytes]]:
    """(start, end, replacement) of the macros that stand for operands in asm statements in ERROR regions."""
    spans: list[tuple[int, int, bytes]] = []
    for top in _error_tops(root):
        if not top.has_error or text.find(b"asm", top.start_byte, top.end_byte) < 0:
            continue
        for m in _ASM_RX.finditer(text, top.start_byte, top.end_byte):
            opened = m.end() - 1
            call = _call_arguments(text, opened, min(top.end_byte, opened + 8192))
            if call is not None:
                spans.extend(_asm_operand_macros(text, opened, call[1]))
    return spans


def _asm_operand_macros(text: bytes, opened: int, closed: int) -> list[tuple[int, int, bytes]]:
    spans: list[tuple[int, int, bytes]] = []
    section = 0  # 0 the template, 1 outputs, 2 inputs, 3 clobbers, 4 goto labels
    i = opened + 1
    item_start = False
    after_string = False  # whether the last token was a string literal
    while i < closed:
        c = text[i]
        follows_string = after_string
        if c not in b" \t\r\n":
            after_string = False
        if c == 0x3A:  # :
            section += 1
            item_start = True
        elif c == 0x2C:  # ,
            item_start = section > 0
        elif c in b" \t\r\n":
            pass
        elif c == 0x22 or c == 0x27 or c == 0x28 or c == 0x5B:  # a string, a character, ( or [: to its end
            if c == 0x28 or c == 0x5B:
                group = _call_arguments(text, i, closed) if c == 0x28 else None
                end = group[1] if group is not None else -1 if c == 0x28 else text.find(b"]", i, closed)
            else:
                end = i + 1
                while end < closed and text[end] != c:
                    end += 2 if text[end] == 0x5C else 1
            if end < 0:
                return spans
            i = end
            item_start = False
            after_string = c == 0x22
        elif ((item_start and 1 <= section <= 3) or section == 0) and (w := _WORD_RX.match(text, i, closed)) is not None:
            name_end = w.end()
            if _in_directive(text, i):  # `#define BLOCK(i) ...` inside the asm: the directive's own text
                line_end = text.find(b"\n", i, closed)
                while line_end > 0 and text[line_end - 1 - (text[line_end - 1] == 0x0D)] == 0x5C:
                    line_end = text.find(b"\n", line_end + 1, closed)
                i = closed if line_end < 0 else line_end
                continue
            j = name_end
            while j < closed and text[j] in b" \t":
                j += 1
            if j < closed and text[j] == 0x28:  # NAME(args)
                args = _call_arguments(text, j, closed)
                if args is None or b"\n" in text[i:args[1]]:
                    return spans
                commas, args_end = args
                k = args_end + 1
                while k < closed and text[k] in b" \t\r\n":
                    k += 1
                if k < closed and text[k] == 0x28:  # `CC_OUT(c) (v)`: the macro is the constraint
                    spans.append((i, args_end + 1, b'"' + b"x" * (args_end - i - 1) + b'"'))
                elif section == 0:  # in the template: between strings, or a string and the operands, a name
                    if follows_string and (k >= closed or text[k] in b'":)'):  # `"2:\n" _ASM_EXTABLE(1b, 2b) :`
                        spans.append((j, args_end + 1, b""))
                    else:  # `__ASM_SIZE(bts) " %1,%0"`, `_ASM_EXTABLE_UA(1b, 9b) _ASM_EXTABLE_UA(2b, 9b)`: a string
                        spans.append((i, args_end + 1, b'"' + b"x" * (args_end - i - 1) + b'"'))
                        i = args_end + 1
                        after_string = True
                        continue
                elif name_end - i >= 2:  # `EAX_EDX_RET(val, low, high)`: the name is the constraint, `|` the commas
                    spans.append((i, name_end, b'"' + b"x" * (name_end - i - 2) + b'"'))
                    spans.extend((comma, comma + 1, b"|") for comma in commas)
                i = args_end
            elif section == 0:
                i = name_end - 1
            elif section == 3 and name_end - i >= 2:
                spans.append((i, name_end, b'"' + b"x" * (name_end - i - 2) + b'"'))
                i = name_end - 1
            elif name_end - i >= 5:
                spans.append((i, name_end, b'"' + b"x" * (name_end - i - 5) + b'"(0)'))
                i = name_end - 1
            else:
                i = name_end - 1
            item_start = False
        else:
            item_start = False
        i += 1
    return spans


# A word that starts with a digit and is no number (`SET_BIT(10000baseT_Full)`, `FW_CAPS_TO_LMM(802_3_ASM_DIR, ...)`,
# `_ASM_EXTABLE_UA(7b, 8b)`): a token a macro pastes or stringifies, which tree-sitter-c cannot read.  Where one
# lies in an ERROR region on an indented line, outside strings, comments and directives, it becomes the number `0`
# padded with blanks.
_DIGIT_WORD_RX = re.compile(rb"(?<![\w.$'\"])[0-9]\w*")
_NUMBER_RX = re.compile(
    rb"(?:0[xX][0-9a-fA-F']+|0[bB][01']+|[0-9][0-9']*)(?:[uU](?:ll|LL|l|L|wb|WB)?|(?:ll|LL|l|L|wb|WB)[uU]?)?"
    rb"|[0-9]+[eE][0-9]+[fFlL]?|[0-9]+[fF]"
)
_LITERAL_TYPES = frozenset({"string_literal", "char_literal", "comment", "system_lib_string", "string_content"})


# An operator as a macro's argument (`ASSERTCMP(r, ==, 0)`, `TEST(64, andnot, &= ~, v1)`) becomes `0` too.
_OPERATOR_ARGUMENT_RX = re.compile(rb"(?<=[(,])[ \t]*(?P<op>(?:[=!<>]=|<<=|>>=|[-+*/%&|^]=(?:[ \t]*~)?|[<>]))[ \t]*(?=[,)])")


def _digit_word_spans(root: Node, text: bytes) -> list[tuple[int, int, bytes]]:
    """(start, end, b"0") of the digit-led words in ERROR regions that are no number, and of operators given as
    macro arguments."""
    spans: list[tuple[int, int, bytes]] = []
    error_starts, error_ends = _error_ranges(root)
    if not error_starts:
        return spans
    for top in _error_tops(root):
        if not top.has_error:
            continue
        found = [m.span() for m in _DIGIT_WORD_RX.finditer(text, top.start_byte, top.end_byte)
                 if not _NUMBER_RX.fullmatch(m.group())]
        found.extend(m.span("op") for m in _OPERATOR_ARGUMENT_RX.finditer(text, top.start_byte, top.end_byte))
        for start, end in sorted(found):
            k = bisect.bisect_right(error_starts, end - 1) - 1  # the last ERROR that starts before the word's end
            if k < 0 or error_ends[k] <= start or _in_directive(text, start):
                continue  # no ERROR over the word (tree-sitter makes one of its first bytes: `1000b`)
            line_start = text.rfind(b"\n", 0, start) + 1
            if text[line_start] not in b" \t":
                continue  # a line at column 0 is file scope: `static DEFINE_GRP_OP(802_3) {` defines a function there
            node = top.descendant_for_byte_range(start, end)
            if node is not None and (node.type in _LITERAL_TYPES or (node.parent is not None and node.parent.type in _LITERAL_TYPES)):
                continue
            spans.append((start, end, b"0"))
    return spans


# A type as a macro's argument (`min_t(unsigned int, a, b)`, `va_arg(ap, struct p9_qid *)`, `alloc_percpu(struct
# sched_domain *)`) is no expression: tree-sitter-c reads `unsigned` as a name and makes the rest an ERROR.  Where
# such an argument lies in an ERROR region, one of primitive words (and qualifiers and stars) becomes the number
# `0` padded with blanks, and one that names a type (`struct foo *`, `u32 *`) keeps only the name, a type use; both
# keep every offset, and the file is parsed again (_reparse_blanked).  A valid prototype's unnamed parameters
# (`int f(unsigned int, void *);`) hold no ERROR and are left as they are.
_PRIMITIVE_WORDS = rb"(?:unsigned|signed|long|short|int|char|void|bool|_Bool|float|double)"
_QUALIFIER_WORDS = rb"(?:const|volatile)"
_TYPE_ARGUMENT_SHAPE_RX = re.compile(
    rb"(?<=[(,])[ \t]*(?P<type>"
    rb"(?P<primitive>(?:" + _QUALIFIER_WORDS + rb"[ \t]+)*" + _PRIMITIVE_WORDS
    + rb"(?:[ \t]+(?:" + _PRIMITIVE_WORDS + rb"|" + _QUALIFIER_WORDS + rb"))*[ \t]*(?:\*[ \t]*)*)"
    rb"|(?:" + _QUALIFIER_WORDS + rb"[ \t]+)*(?:(?:struct|union|enum)[ \t]+)?(?P<name>[A-Za-z_]\w*)[ \t]*"
    rb"(?:" + _QUALIFIER_WORDS + rb"[ \t]*)?(?:\*[ \t]*)+"
    rb")(?=[,)])"
)
def _error_ranges(root: Node) -> tuple[list[int], list[int]]:
    """The starts and ends of the outermost ERROR nodes, in order (one walk of the nodes that hold errors)."""
    starts: list[int] = []
    ends: list[int] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "ERROR":
            starts.append(node.start_byte)
            ends.append(node.end_byte)
            continue
        stack.extend(c for c in reversed(node.children) if c.has_error)
    return starts, ends


def _type_argument_spans(root: Node, text: bytes) -> tuple[list[tuple[int, int, bytes]], list[int]]:
    """(start, end, replacement) of the type arguments in ERROR regions (see _TYPE_ARGUMENT_SHAPE_RX), and the
    offsets of the type names kept."""
    spans: list[tuple[int, int, bytes]] = []
    names: list[int] = []
    error_starts, error_ends = _error_ranges(root)
    for top in _error_tops(root):
        if not top.has_error:
            continue
        for m in _TYPE_ARGUMENT_SHAPE_RX.finditer(text, top.start_byte, top.end_byte):
            start, end = m.start("type"), m.end("type")
            while end > start and text[end - 1] in b" \t":
                end -= 1
            if m.group("primitive") is None and m.group("name") in _PRIMITIVE_NAMES:
                continue  # `int *` is read as the primitive shape; a keyword is never a kept name
            opened = m.start() - 1  # the `(` or `,` before
            if text[opened] == 0x28 and text[m.end()] == 0x29 and (
                    not _CALLED_RX.search(text, max(0, opened - 40), opened)
                    or _TYPE_OPERATORS_RX.search(text, max(0, opened - 40), opened)):
                continue  # `(unsigned int)x`: a cast; `sizeof(unsigned int)`: an operator's type
            if not _is_call_argument(text, opened):
                continue  # `void f(void)`, `bool (*end)(void *, unsigned long)`: a declaration's parameters
            k = bisect.bisect_left(error_starts, m.end() + 1) - 1  # the last ERROR that starts before the `,` after
            if k < 0 or error_ends[k] <= start or _in_directive(text, start):
                continue  # no ERROR in or around the argument
            if m.group("primitive") is not None:
                spans.append((start, end, b"0"))
            else:
                name_start, name_end = m.start("name"), m.end("name")
                if name_start > start:
                    spans.append((start, name_start, b""))
                if end > name_end:
                    spans.append((name_end, end, b""))
                names.append(name_start)
    return spans, names


_CALL_CONTEXT_WORDS = frozenset({b"return", b"case", b"else", b"do"})
_NOT_CALLED_WORDS = frozenset({b"return", b"case", b"else", b"do", b"if", b"while", b"for", b"switch", b"sizeof"})


def _is_call_argument(text: bytes, opened: int) -> bool:
    """Whether the `(` or `,` at `opened` opens an argument of a call (`x = min_t(`, `return va_arg(`), not a
    parameter of a declarator (`void f(`, `struct s *f(`, `(*end)(`): the enclosing `(` follows a name, and the
    name follows no type (a word other than a statement keyword, or a `*`).  Looks back at most 512 bytes."""
    lo = max(0, opened - 512)
    i = opened
    if text[i] == 0x2C:  # a `,`: find the `(` that encloses it
        depth = 0
        i -= 1
        while i >= lo:
            c = text[i]
            if c == 0x29 or c == 0x5D:
                depth += 1
            elif c == 0x28 or c == 0x5B:
                if depth == 0:
                    break
                depth -= 1
            elif c == 0x3B or c == 0x7B or c == 0x7D:
                return False
            i -= 1
        if i < lo or text[i] != 0x28:
            return False
    j = i - 1
    while j >= lo and text[j] in b" \t":
        j -= 1
    end = j + 1
    while j >= lo and (text[j] == 0x5F or 0x30 <= text[j] <= 0x39 or 0x41 <= text[j] <= 0x5A or 0x61 <= text[j] <= 0x7A):
        j -= 1
    if end == j + 1 or not (text[j + 1] == 0x5F or text[j + 1] >= 0x41) or text[j + 1:end] in _NOT_CALLED_WORDS:
        return False  # no name before the `(`: `(*end)(`, `((`, `return (struct s *)x`
    while j >= lo and text[j] in b" \t\r\n":
        j -= 1
    if j < lo:
        return True
    c = text[j]
    if c == 0x2A:
        return False  # `struct s *f(`
    if c == 0x5F or 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A:
        k = j
        while k >= lo and (text[k] == 0x5F or 0x30 <= text[k] <= 0x39 or 0x41 <= text[k] <= 0x5A or 0x61 <= text[k] <= 0x7A):
            k -= 1
        return text[k + 1:j + 1] in _CALL_CONTEXT_WORDS
    return True


_PRIMITIVE_NAMES = frozenset({b"unsigned", b"signed", b"long", b"short", b"int", b"char", b"void", b"bool", b"_Bool",
                              b"float", b"double", b"const", b"volatile", b"struct", b"union", b"enum"})


_MAX_TREE_EDITS = 64


def _apart(spans: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    """The spans sorted, each that overlaps one before it left out (`1b` inside arguments blanked already)."""
    kept: list[tuple[int, int, bytes]] = []
    end = -1
    for span in sorted(spans):
        if span[0] >= end:
            kept.append(span)
            end = span[1]
    return kept


def _reparse_blanked(parser: Parser, tree: Tree, text: bytes, spans: list[tuple[int, int, bytes]]) -> tuple[bytes, Tree]:
    """`text` with each (start, end, replacement) span overwritten by `_put` (the replacement padded with blanks),
    and its tree: `tree` (the parse of `text`, which this edits) parsed again incrementally, so only the regions
    around the spans are parsed anew.

    Blanking keeps every byte offset and every newline, so a span's end is the same byte and the same
    (row, column) point before and after: each edit replaces a range by one of the same length."""
    buf = bytearray(text)
    if len(spans) > _MAX_TREE_EDITS:  # each edit costs up to the tree's depth: many of them, a fresh parse is cheaper
        for start, end, replacement in spans:
            _put(buf, start, end - start, replacement)
        new = bytes(buf)
        return new, parser.parse(new)
    row, pos = 0, 0  # the row of byte `pos`
    for start, end, replacement in spans:
        _put(buf, start, end - start, replacement)
        if start < pos:  # spans come sorted and apart; count from the top if not
            row, pos = 0, 0
        row += text.count(b"\n", pos, start)
        start_point = (row, start - (text.rfind(b"\n", 0, start) + 1))
        row += text.count(b"\n", start, end)
        end_point = (row, end - (text.rfind(b"\n", 0, end) + 1))
        pos = end
        tree.edit(start_byte=start, old_end_byte=end, new_end_byte=end,
                  start_point=start_point, old_end_point=end_point, new_end_point=end_point)
    new = bytes(buf)
    return new, parser.parse(new, tree)


def _directive_line_conditions(src: bytes, directives: list[tuple[int, int, bytes, str]]) -> dict[int, str]:
    """The #if condition of each line between the blanked directives (1-based line → condition)."""
    conditions: dict[int, str] = {}
    stack: list[tuple[str | None, str | None]] = []  # (this branch's condition, the negation of the branches before)
    previous_line = 0
    line, pos = 1, 0  # the line of byte `pos`: the directives come sorted and apart, so one pass over the newlines
    for start, end, kw, arg in directives:
        line += src.count(b"\n", pos, start)
        here: str | None = None
        for branch, _ in stack:
            here = join_conditions(here, branch)
        if here:
            for inner in range(previous_line + 1, line):
                conditions[inner] = here
        if kw in (b"ifdef", b"ifndef", b"if"):
            own = arg.split()[0] if kw != b"if" and arg.split() else arg
            stack.append(("!" + own if kw == b"ifndef" else own, None))
        elif stack and kw in (b"elif", b"else"):
            branch, before = stack[-1]
            before = join_conditions(before, negate_condition(branch))
            stack[-1] = (join_conditions(before, arg) if kw == b"elif" else before, before)
        elif stack and kw == b"endif":
            stack.pop()
        line += src.count(b"\n", start, end)
        pos = end
        previous_line = line
    return conditions


def _type_argument_roles(src: bytes, refs: list[RefRow], offsets: list[int]) -> list[RefRow]:
    """A type argument whose `struct` was blanked reads as an identifier: its use is a type use."""
    places: set[tuple[int, int]] = set()
    line, line_start, pos = 1, 0, 0
    for offset in offsets:  # ascending: one pass over the newlines
        line += src.count(b"\n", pos, offset)
        line_start = src.rfind(b"\n", 0, offset) + 1
        pos = offset
        places.add((line, offset - line_start))
    return [r._replace(role="type") if r.role == "read" and (r.line, r.col) in places else r for r in refs]
