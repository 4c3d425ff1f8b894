"""References out of one file's syntax tree (the worker side of cross-referencing).

For every identifier use outside a function's own locals and parameters this records
the site, the enclosing function, the role (call, read, write, addr, type) and the
#if condition.  A member access ``a->b`` or ``a.b`` is recorded with a *key* that
describes how to find the type of ``a`` without knowing other files yet:

    t:TYPE|hop.hop|field    the base has a known type (a local, a parameter, a cast)
    g:NAME|hop.hop|field    the base is a global: its type comes from the index
    c:NAME|hop.hop|field    the base is a call: the function's (or macro's) return type

The resolver (explorer/resolve.py) turns keys into ``STRUCT.FIELD`` names once every
file's definitions are known.  Designated initializers (``.listen = inet_listen``)
and assignments of a function to a member are recorded as function-pointer
assignments, which give the call graph its indirect edges.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, NamedTuple

import tree_sitter_c
from tree_sitter import Language, Node, Parser

if TYPE_CHECKING:
    from .cparse import TypeofOperand

C_LANGUAGE = Language(tree_sitter_c.language())


# The walkers ask for a node's fields and kinds by number, looked up here once: a field by name is a
# linear search of the grammar's field names in each call, and `node.type` makes a new str each time
# (`node.kind_id` is the same node kind as a small int; its name is `node.type`, aliases included).
def _field_id(name: str) -> int:
    fid = C_LANGUAGE.field_id_for_name(name)
    if fid is None:
        raise LookupError(f"tree-sitter-c has no field {name!r}")
    return fid


F_ALTERNATIVE, F_ARGUMENT, F_ARGUMENTS, F_BODY, F_CONDITION, F_CONSEQUENCE, F_DECLARATOR, F_DESIGNATOR = map(
    _field_id, ("alternative", "argument", "arguments", "body", "condition", "consequence", "declarator", "designator"))
F_DIRECTIVE, F_FIELD, F_FUNCTION, F_LEFT, F_NAME, F_PARAMETERS, F_RIGHT, F_SIZE, F_TYPE, F_VALUE = map(
    _field_id, ("directive", "field", "function", "left", "name", "parameters", "right", "size", "type", "value"))
F_MEMBER = _field_id("member")

# every kind id of the grammar (and the ERROR node's), with its name
_KIND_NAMES = {i: name for i in (*range(C_LANGUAGE.node_kind_count), 0xFFFF) if (name := C_LANGUAGE.node_kind_for_id(i)) is not None}


def kinds(*names: str) -> frozenset[int]:
    """The kind ids whose `node.type` is one of `names` (a name may have several ids: aliases, tokens)."""
    found = frozenset(i for i, name in _KIND_NAMES.items() if name in names)
    if not found:
        raise LookupError(f"tree-sitter-c has no node kind among {names!r}")
    return found

# Accessors whose second argument names the type of the result.
CONTAINER_OF = frozenset(
    ["container_of", "container_of_const", "container_of_safe", "list_entry", "list_first_entry", "list_last_entry", "list_first_entry_or_null", "list_next_entry", "list_prev_entry", "hlist_entry", "hlist_entry_safe", "rb_entry", "rb_entry_safe", "llist_entry", "list_entry_rcu", "hlist_nulls_entry"]
)
# Accessors whose result has the type of their first argument.
PASS_THROUGH = frozenset(
    ["READ_ONCE", "per_cpu", "per_cpu_ptr", "this_cpu_ptr", "raw_cpu_ptr", "rcu_dereference", "rcu_dereference_protected", "rcu_dereference_bh", "rcu_dereference_check", "rcu_dereference_raw", "rcu_dereference_bh_check", "rcu_dereference_rtnl", "rtnl_dereference", "rcu_access_pointer", "smp_load_acquire", "unrcu_pointer", "rcu_dereference_sched", "xchg", "cmpxchg", "data_race"]
)
# How deep walkers follow structures nested in structures of the same kind (#if blocks,
# structs, ERROR regions, statement expressions): each level costs a few Python frames.
# Real kernel code nests a dozen levels at most; past this bound the rest of the file is
# still indexed and the file is recorded as partly indexed.
MAX_NESTING = 100

# INDIRECT_CALL_n(f, f1, ..., fn, args...): a call through f that may be one of f1..fn.
# The longest #if condition stored: a long #elif chain makes each branch's condition the
# negation of every branch before it (quadratic in the chain); longer ones end in "…".
MAX_CONDITION = 1000

# Function-like macro bodies longer than this are not parsed for references (the longest in
# the network slice is a few kilobytes).
MAX_MACRO_BODY = 20000
# A macro body is parsed as the statements of a function of this shape (no newline in the
# prefix, so the body's first line keeps its columns after a shift).
_MACRO_PREFIX = b"void __kx_macro(void){"
_MACRO_SUFFIX = b"\n;}"

# The nodes of one initializer element looked at for table addresses (an ops table has a few dozen).
_MAX_ELEMENT_NODES = 5000

_INDIRECT_CALL_RX = re.compile(r"^INDIRECT_CALL_(?:(\d)|INET(?:_1)?)$")
# Declarators in macro form: MACRO(type, name, ...) declares the local `name`.
DECLARES_LOCAL = frozenset({"DECLARE_SOCKADDR"})
# Accessors whose first argument is the written location.
WRITE_FIRST = frozenset(["WRITE_ONCE", "smp_store_release", "rcu_assign_pointer", "atomic_set", "xchg"])
# the calls whose arguments are not all simply read (visit_call_expression), with INDIRECT_CALL_*
_SPECIAL_CALLS = DECLARES_LOCAL | CONTAINER_OF | WRITE_FIRST
# GNU C's typeof and C's sizeof and alignof are operators, never a call or a type use, whatever tree-sitter reads
# them as (a one-line typeof is named before parsing, see cparse._name_typeof; these are the rest).
TYPE_OPERATORS = frozenset({"typeof", "__typeof__", "__typeof", "typeof_unqual", "__typeof_unqual__", "sizeof",
                            "_Alignof", "alignof", "__alignof__", "__alignof"})
# and the words of C that tree-sitter may read as the name of a call (`_Static_assert(x, "m")` in a macro body)
KEYWORD_CALLS = TYPE_OPERATORS | {"_Static_assert", "__attribute__", "__attribute", "_Generic"}
WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")  # the bytes of a C name
_OPERATOR_STEMS = frozenset(name.rstrip("_") for name in TYPE_OPERATORS)  # a typeof named: its keyword, underscores
# a typeof operand is parsed as sizeof's (which tree-sitter reads as a type or an expression) in a function
_OPERAND_PREFIX = b"void __kx_macro(void){sizeof("
_OPERAND_SUFFIX = b");}"

_QUALIFIERS = re.compile(r"\b(?:const|volatile|struct|union|enum|restrict|__restrict|signed|unsigned)\b|\*|\[[^\]]*\]")
_SKIP = frozenset(
    {"string_literal", "number_literal", "char_literal", "comment", "true", "false", "null",
     "system_lib_string", "escape_sequence", "preproc_def",
     "preproc_function_def", "preproc_include", "preproc_call", "statement_identifier"}
)
# expressions whose identifiers are simply read
_GENERIC = frozenset(
    {"binary_expression", "argument_list", "parenthesized_expression", "conditional_expression",
     "comma_expression", "unary_expression", "subscript_expression", "gnu_asm_expression"}
)
_PREPROC_BLOCKS = {"preproc_if", "preproc_ifdef", "preproc_elif", "preproc_elifdef", "preproc_else"}

# the same sets as kind ids, for the walks' loops
_K_IDENTIFIER, = kinds("identifier")  # one kind only (the aliases of identifiers have their own names)
_K_DECLARATION = kinds("declaration")
_K_PREPROC_BLOCKS = kinds(*_PREPROC_BLOCKS)
_K_PREPROC_ELSE = kinds("preproc_else")
_K_BLOCKS = kinds("compound_statement", "if_statement", "while_statement", "for_statement", "do_statement",
                  "switch_statement", "case_statement", "labeled_statement", "else_clause", "ERROR",
                  "translation_unit", "condition_clause", "attributed_statement")
_K_EXPRESSION_HOLDERS = kinds("expression_statement", "return_statement", "parenthesized_expression")
_K_NO_REFS = kinds(*_SKIP, "break_statement", "continue_statement")
_K_FIELD_EXPRESSION = kinds("field_expression")
_K_FIELD_IDENTIFIER = kinds("field_identifier")
_K_COMMENT = kinds("comment")
_K_PARENTHESIZED_EXPRESSION = kinds("parenthesized_expression")
_K_ERROR = kinds("ERROR")
_K_RECORD_SPECIFIERS = kinds("struct_specifier", "union_specifier", "enum_specifier")
_K_TYPE_NAMES = kinds("type_identifier", "primitive_type", "identifier")
_K_TYPE_IDENTIFIER = kinds("type_identifier")
_K_TYPE_DESCRIPTOR = kinds("type_descriptor")
_K_INIT_DECLARATOR = kinds("init_declarator")
_K_ARRAY_DECLARATOR = kinds("array_declarator")
_K_PARENTHESIZED_DECLARATOR = kinds("parenthesized_declarator")
_K_CALL_EXPRESSION = kinds("call_expression")


class RefRow(NamedTuple):
    """One identifier use, as the parser gives it to the refs table (store.Ref is what readers get)."""

    line: int
    col: int
    end_col: int
    name: str
    role: str
    func: str | None
    cond: str | None
    key: str | None  # member accesses only


class FnAssign(NamedTuple):
    line: int
    key: str  # the member written, as a key
    function: str
    table: str | None = None  # the variable whose initializer stores it (an ops table), None in code


class LocalUses(NamedTuple):
    """The locals and parameters of one function definition and every use of each, packed in one
    text (explorer/store.py, `locals` table): ``NAME:K:L.C.R,L.C.R;NAME:...`` where K is p
    (parameter) or l (local), L the line relative to the function's name line, C the byte
    column, R the role: d (the declaration), r (read), w (write), a (address taken)."""

    line: int  # the function's name line (its symbols row)
    data: str


# Type keywords tree-sitter-c reads as a name where an expression is due (`min_t(long, a, b)`, a macro's type
# argument): never a reference to anything.
_TYPE_KEYWORDS = frozenset({"unsigned", "signed", "long", "short", "int", "char", "void", "bool", "_Bool", "float",
                            "double", "const", "volatile", "struct", "union", "enum"})
_LOCAL_ROLES = {"read": "r", "write": "w", "addr": "a", "call": "r", "decl": "d"}


class TypeHint(NamedTuple):
    """The type of a name that has no definition of its own: a local that a macro's body declares
    (for_nexthops declares `nh`), or a global only declared `extern`."""

    name: str
    type: str
    origin: str  # the macro, or "extern"


class TableAddress(NamedTuple):
    """An ops table candidate named in one element of a top-level initializer (`.ops = &inet_stream_ops`
    in an entry of inetsw_array); elements naming two or more are kept (see explorer/opsgroups.py)."""

    line: int  # the element's first line
    holder: str  # the variable initialized
    name: str  # the address taken, or the holder itself when its own initializer stores functions


def type_name(node: Node | None) -> str | None:
    """The tag or name a type node stands for: `struct sock` → sock, `u32` → u32."""
    if node is None:
        return None
    k = node.kind_id
    if k in _K_RECORD_SPECIFIERS:
        name = node.child_by_field_id(F_NAME)
        return _text(name) if name is not None else None
    if k in _K_TYPE_NAMES:
        text = _text(node)
        return None if text.rstrip("_") in _OPERATOR_STEMS else text  # a typeof is no type name
    t = node.type
    if t == "type_descriptor":
        return type_name(node.child_by_field_id(F_TYPE))
    if t == "sized_type_specifier":
        return " ".join(_text(node).split())
    return None


def normalize_type_text(text: str) -> str | None:
    words = _QUALIFIERS.sub(" ", text).split()
    return words[-1] if words else None


class RefCollector:
    """Walks function bodies and top-level declarations of one file."""

    def __init__(self, src: bytes, cond_of: Callable[[Node], str | None], enabled: bool = True) -> None:
        self.src = src
        self.enabled = enabled
        self.refs: list[RefRow] = []
        self.assigns: list[FnAssign] = []
        self.tables: list[TableAddress] = []
        self.locals: list[LocalUses] = []
        # struct and union bodies declared inside the function being walked, with the name their members
        # go under (None: the struct's own tag; else FUNCTION.VARIABLE for an anonymous one); the
        # definition walker takes them after each function
        self.local_records: list[tuple[Node, str | None]] = []
        self.type_hints: list[TypeHint] = []
        # while a function body is walked: each local's kind (p or l) and its uses (line, col, role)
        self._uses: dict[str, tuple[str, list[tuple[int, int, str]]]] | None = None
        self.table: str | None = None  # the top-level variable whose initializer is being walked
        self.cond_of = cond_of  # (block) -> own condition, from the definition walker
        self.depth = 0  # statement expressions `({ ... })` walked inside one another
        self.partial = False  # some were nested deeper than MAX_NESTING and left out
        # the file's typeof(...) named before parsing (cparse._name_typeof), by the (line, col) of the name
        self.typeof_operands: Mapping[tuple[int, int], TypeofOperand] = {}
        # declaring macro calls rewritten before parsing (`static LIST_HEAD(x)`: cparse.PreparedSource.calls), by the
        # offset of the type the parser sees; each gives a call of the macro where its type is walked (then goes)
        self.declaring_calls: dict[int, int] = {}

    # ------------------------------------------------------------------ entry points
    def function(self, node: Node, name: str, cond: str | None, name_line: int) -> None:
        if not self.enabled:
            return
        locals_: dict[str, str | None] = {}
        declarator = node.child_by_field_id(F_DECLARATOR)
        self.type_refs(node.child_by_field_id(F_TYPE), name, cond)
        fdecl = declarator
        while fdecl is not None and fdecl.type != "function_declarator":
            fdecl = fdecl.child_by_field_id(F_DECLARATOR)
        self._uses = {}
        first = len(self.refs)
        try:
            if fdecl is not None:
                params = fdecl.child_by_field_id(F_PARAMETERS)
                if params is not None:
                    for param in params.named_children:
                        if param.type == "parameter_declaration":
                            self.declare(param, locals_, name, cond, "p")
            body = node.child_by_field_id(F_BODY)
            if body is not None:
                self.walk(body, locals_, name, cond)
            if self.typeof_operands:
                self.typeof_refs(first, locals_)
            self._pack_locals(name_line)
        finally:
            self._uses = None

    def _pack_locals(self, name_line: int) -> None:
        """The uses gathered for one function as a LocalUses row (none for a function without locals)."""
        if not self._uses:
            return
        parts = []
        for local, (kind, uses) in self._uses.items():
            uses.sort()
            seen = dict.fromkeys([f"{line - name_line}.{col}{role}" for line, col, role in uses])
            parts.append(f"{local}:{kind}:{','.join(seen)}")
        self.locals.append(LocalUses(name_line, ";".join(parts)))

    def local_use(self, node: Node, name: str, role: str) -> None:
        """A use of a local or parameter (recorded while a function body is walked)."""
        uses = self._uses
        if uses is None:
            return
        entry = uses.get(name)
        if entry is None:
            entry = uses[name] = ("l", [])
        row, col = node.start_point
        entry[1].append((row + 1, col, _LOCAL_ROLES.get(role, "r")))

    def local_declared(self, node: Node, name: str, kind: str) -> None:
        uses = self._uses
        if uses is None:
            return
        entry = uses.get(name)
        if entry is None or not entry[1]:
            entry = uses[name] = (kind, entry[1] if entry else [])
        row, col = node.start_point
        entry[1].append((row + 1, col, "d"))

    def definer_body(self, body: Node, name: str, cond: str | None, params_text: bytes, params_start: int = -1,
                     name_line: int = 0) -> None:
        """SYSCALL_DEFINEn(name, type, arg, ...) bodies: arguments come in pairs (`params_start`: the
        byte offset of params_text in the file, for the parameters' own positions)."""
        if not self.enabled:
            return
        locals_: dict[str, str | None] = {}
        self._uses = {}
        try:
            pieces = params_text.split(b",")
            offset = len(pieces[0]) + 1
            for i in range(1, len(pieces) - 1, 2):
                type_text, arg_raw = pieces[i], pieces[i + 1]
                arg_at = offset + len(type_text) + 1
                offset = arg_at + len(arg_raw) + 1
                arg = arg_raw.strip().decode("utf-8", "replace")
                if re.match(r"^[A-Za-z_]\w*$", arg):
                    locals_[arg] = normalize_type_text(type_text.decode("utf-8", "replace").strip())
                    if params_start >= 0:
                        at = params_start + arg_at + (len(arg_raw) - len(arg_raw.lstrip()))
                        line = self.src.count(b"\n", 0, at) + 1
                        col = at - (self.src.rfind(b"\n", 0, at) + 1)
                        self._uses[arg] = ("p", [(line, col, "d")])
            first = len(self.refs)
            self.walk(body, locals_, name, cond)
            if self.typeof_operands:
                self.typeof_refs(first, locals_)
            self._pack_locals(name_line)
        finally:
            self._uses = None

    def typeof_refs(self, first: int, locals_: dict[str, str | None], keyed: bool = True) -> None:
        """The references from self.refs[first] on that are a named typeof (cparse._name_typeof) replaced by
        those of its operand, walked with `locals_` (without member keys unless `keyed`)."""
        operands = self.typeof_operands
        tail = self.refs[first:]
        if not any((ref.line, ref.col) in operands for ref in tail):
            return
        del self.refs[first:]
        for ref in tail:
            hit = operands.get((ref.line, ref.col))
            if hit is None or hit.name != ref.name:
                self.refs.append(ref)
                continue
            start = len(self.refs)
            self.typeof_operand(hit, locals_, ref.func, ref.cond)
            if not keyed:
                self.refs[start:] = [r for r in self.refs[start:] if r.key is None]

    def typeof_operand(self, operand: TypeofOperand, locals_: dict[str, str | None], func: str | None,
                       cond: str | None) -> None:
        """The references in one typeof's operand, parsed on its own as sizeof's operand (which tree-sitter reads
        as a type or an expression) and moved to the operand's line and column (one line: cparse._name_typeof)."""
        body = _function_body(_OPERAND_PREFIX + operand.operand + _OPERAND_SUFFIX)
        if body is None:
            return
        first_ref, first_assign = len(self.refs), len(self.assigns)
        outer = self._uses
        if outer is not None:
            self._uses = {}  # the operand's local uses, at the wrong place until moved below
        try:
            self.walk(body, locals_, func, cond)
        finally:
            inner, self._uses = self._uses, outer
        del self.assigns[first_assign:]  # (an assignment in a typeof is evaluated by no one)
        line, shift = operand.line, operand.col - len(_OPERAND_PREFIX)
        self.refs[first_ref:] = [ref._replace(line=line, col=ref.col + shift, end_col=ref.end_col + shift)
                                 for ref in self.refs[first_ref:]]
        if outer is not None and inner:
            for local, (kind, uses) in inner.items():
                moved = [(line, col + shift, role) for _, col, role in uses]
                entry = outer.get(local)
                if entry is None:
                    outer[local] = (kind, moved)
                else:
                    entry[1].extend(moved)

    def macro_body(self, value: Node, params: Node, name: str, cond: str | None) -> None:
        """A function-like macro's body: its identifier uses, the macro as their function (so the
        functions it calls are the macro's calls), at their own lines and columns.

        The body is parsed on its own as the statements of a function; backslash-newlines become a
        blank and a newline, so every offset stays.  The macro's parameters are its locals.  Member
        accesses and assignments are left out (a macro's arguments have no type to resolve them by),
        and so is what a fragment (half a loop, an unbalanced brace, a pasted `a ## b` name) leaves
        outside the body or beside a `#`/`##`."""
        if not self.enabled:
            return
        raw = value.text or b""
        if not raw.strip() or len(raw) > MAX_MACRO_BODY:
            return
        body = raw.replace(b"\\\r\n", b"  \n").replace(b"\\\n", b" \n")
        wrapped = _MACRO_PREFIX + body + _MACRO_SUFFIX
        block = _function_body(wrapped)
        if block is None:
            return
        locals_: dict[str, str | None] = {}
        for param in params.named_children:
            if param.type == "identifier":
                locals_[_text(param)] = None
        own = set(locals_)
        first_ref, first_assign = len(self.refs), len(self.assigns)
        self.walk(block, locals_, name, cond)
        self.type_hints.extend(TypeHint(local, type_, name) for local, type_ in locals_.items() if type_ and local not in own)
        found = self.refs[first_ref:]
        del self.refs[first_ref:], self.assigns[first_assign:]
        starts = [0]
        starts += [i + 1 for i, byte in enumerate(wrapped) if byte == 10]
        body_end = len(_MACRO_PREFIX) + len(body)
        row0, col0 = value.start_point
        for ref in found:
            row, col = ref.line - 1, ref.col
            offset = starts[row] + col
            end = offset + ref.end_col - ref.col
            if ref.key is not None or offset < len(_MACRO_PREFIX) or end > body_end:
                continue
            if wrapped[max(0, offset - 8) : offset].rstrip().endswith(b"#") or wrapped[end : end + 8].lstrip().startswith(b"##"):
                continue
            shift = col0 - len(_MACRO_PREFIX) if row == 0 else 0
            self.refs.append(ref._replace(line=row0 + 1 + row, col=col + shift, end_col=ref.end_col + shift))
        if self.typeof_operands:
            self.typeof_refs(first_ref, locals_, keyed=False)

    def declaration(self, node: Node, cond: str | None) -> None:
        """A top-level declaration: type uses, and designated initializers of ops tables."""
        if not self.enabled:
            return
        type_node = node.child_by_field_id(F_TYPE)
        self.type_refs(type_node, None, cond)
        tname = type_name(type_node) or anonymous_record_name(node)
        for decl in node.children_by_field_id(F_DECLARATOR):
            if decl.type == "init_declarator":
                value = decl.child_by_field_id(F_VALUE)
                if value is not None:
                    holder, is_array = _variable_name(decl.child_by_field_id(F_DECLARATOR))
                    first = len(self.assigns)
                    self.table = holder
                    try:
                        self.expr(value, {}, None, cond, "read", init_type=tname)
                    finally:
                        self.table = None
                    if holder is not None and value.type == "initializer_list":
                        self.table_addresses(value, holder, is_array, len(self.assigns) > first)

    def table_addresses(self, value: Node, holder: str, is_array: bool, stores_functions: bool) -> None:
        """The addresses (`&name`) each element of an initializer takes: one element for a single
        variable, each entry for an array.  An element naming two or more (the holder counts when its
        own initializer stores functions: it is an ops table itself) is recorded."""
        elements = [value]
        if is_array:
            elements = []
            for child in value.named_children:
                if child.type == "initializer_pair":
                    child = child.child_by_field_id(F_VALUE) or child
                if child.type == "initializer_list":
                    elements.append(child)
        for element in elements:
            names: dict[str, None] = {holder: None} if stores_functions else {}
            stack = [element]
            seen = 0
            while stack and seen < _MAX_ELEMENT_NODES:
                cur = stack.pop()
                seen += 1
                if cur.type == "pointer_expression" and cur.children and cur.children[0].type == "&":
                    arg = cur.child_by_field_id(F_ARGUMENT)
                    if arg is not None and arg.type == "identifier":
                        names.setdefault(_text(arg), None)
                elif cur.type in ("initializer_list", "initializer_pair", "ERROR") or cur.type in _PREPROC_BLOCKS:
                    stack.extend(c for c in cur.named_children if c.type not in ("field_designator", "comment"))
            if len(names) >= 2:
                line = element.start_point[0] + 1
                self.tables.extend(TableAddress(line, holder, name) for name in names)

    # ------------------------------------------------------------------ helpers
    def add(self, node: Node, role: str, func: str | None, cond: str | None, key: str | None = None) -> None:
        row, col = node.start_point
        text = node.text
        name = text.decode("utf-8", "replace") if text is not None else ""
        # tuple.__new__ is RefRow(...) without the Python-level __new__ of a NamedTuple (a hot path)
        self.refs.append(tuple.__new__(RefRow, (row + 1, col, col + node.end_byte - node.start_byte, name, role, func, cond, key)))

    def type_refs(self, node: Node | None, func: str | None, cond: str | None) -> None:
        if not self.enabled:
            return
        if node is None:
            return
        if self.declaring_calls:
            call = self.declaring_calls.pop(node.start_byte, None)
            if call is not None:
                self.declaring_macro(node, call, func, cond)
                if call == node.start_byte:
                    return  # the type is the rewriting's (`list_head` over `LIST_HEAD(`), not the file's text
        k = node.kind_id
        if k in _K_RECORD_SPECIFIERS:
            name = node.child_by_field_id(F_NAME)
            if name is not None:
                self.add(name, "type", func, cond)
        elif k in _K_TYPE_IDENTIFIER:
            if _text(node) not in TYPE_OPERATORS:
                self.add(node, "type", func, cond)
        elif k in _K_TYPE_DESCRIPTOR:
            self.type_refs(node.child_by_field_id(F_TYPE), func, cond)

    def declaring_macro(self, type_node: Node, call: int, func: str | None, cond: str | None) -> None:
        """The call of a declaring macro rewritten into the declaration whose type is `type_node`: a use of the
        macro (`static LIST_HEAD(net_namespace_list)` is a call of LIST_HEAD), at the macro's name."""
        src = self.src
        end = call
        while end < len(src) and src[end] in WORD_BYTES:
            end += 1
        if end == call or b"\n" in src[call : type_node.start_byte]:
            return
        row, col = type_node.start_point
        col -= type_node.start_byte - call
        self.refs.append(RefRow(row + 1, col, col + end - call, src[call:end].decode("ascii"), "call", func, cond, None))

    def declare(self, node: Node, locals_: dict[str, str | None], func: str | None, cond: str | None, kind: str = "l") -> None:
        type_node = node.child_by_field_id(F_TYPE)
        self.type_refs(type_node, func, cond)
        tname = type_name(type_node)
        if (self._uses is not None and type_node is not None and type_node.type in ("struct_specifier", "union_specifier")
                and type_node.child_by_field_id(F_BODY) is not None):
            if tname is None:  # `struct { struct tcphdr th; ... } rep;`: members go under FUNCTION.rep
                first, _ = _variable_name(next(iter(node.children_by_field_id(F_DECLARATOR)), None))
                if first is not None:
                    tname = f"{func}.{first}" if func else first
                    self.local_records.append((type_node, tname))
            else:
                self.local_records.append((type_node, None))
        for decl in node.children_by_field_id(F_DECLARATOR):
            cur: Node | None = decl
            value = None
            if decl.kind_id in _K_INIT_DECLARATOR:
                cur = decl
                value = decl.child_by_field_id(F_VALUE)
                cur = decl.child_by_field_id(F_DECLARATOR)
            while cur is not None and cur.kind_id != _K_IDENTIFIER:
                k = cur.kind_id
                if k in _K_ARRAY_DECLARATOR:
                    size = cur.child_by_field_id(F_SIZE)
                    if size is not None:
                        self.expr(size, locals_, func, cond, "read")
                nxt = cur.child_by_field_id(F_DECLARATOR)
                if nxt is None and k in _K_PARENTHESIZED_DECLARATOR:
                    nxt = next(iter(cur.named_children), None)
                cur = nxt
            if cur is not None:
                local = _text(cur)
                locals_[local] = tname
                self.local_declared(cur, local, kind)
            if value is not None:
                self.expr(value, locals_, func, cond, "read", init_type=tname)

    # ------------------------------------------------------------------ statements
    def walk(self, node: Node, locals_: dict[str, str | None], func: str | None, cond: str | None) -> None:
        # walk and expr loop over their own stacks; they call each other only for a statement
        # inside an expression (a GNU statement expression), which is bounded here
        if self.depth >= MAX_NESTING:
            self.partial = True
            return
        self.depth += 1
        try:
            self._walk(node, locals_, func, cond)
        finally:
            self.depth -= 1

    def _walk(self, node: Node, locals_: dict[str, str | None], func: str | None, cond: str | None) -> None:
        stack: list[tuple[Node, str | None]] = [(node, cond)]
        push = stack.append
        while stack:
            cur, c = stack.pop()
            k = cur.kind_id  # node kinds compared as ints (see kinds())
            if k in _K_DECLARATION:
                if _statement_in_disguise(cur):
                    self.disguised_statement(cur, locals_, func, c)
                else:
                    self.declare(cur, locals_, func, c)
            elif k in _K_PREPROC_BLOCKS:
                own = self.cond_of(cur)
                here = c if k in _K_PREPROC_ELSE else join_conditions(c, own)
                alt = cur.child_by_field_id(F_ALTERNATIVE)
                skip = {cur.child_by_field_id(F_CONDITION), cur.child_by_field_id(F_NAME), alt}
                for child in reversed(cur.children):
                    if child.is_named and child not in skip:
                        push((child, here))
                if alt is not None:  # the #else or #elif: the negation of this branch's condition
                    push((alt, join_conditions(c, negate_condition(own)) if own and k not in _K_PREPROC_ELSE else c))
            elif k in _K_BLOCKS:
                for child in reversed(cur.children):
                    if child.is_named:
                        push((child, c))
            elif k in _K_EXPRESSION_HOLDERS:
                for child in cur.named_children:
                    self.expr(child, locals_, func, c, "read")
            elif k in _K_NO_REFS:
                continue
            else:
                self.expr(cur, locals_, func, c, "read")

    def disguised_statement(self, node: Node, locals_: dict[str, str | None], func: str | None, cond: str | None) -> None:
        """`for_each_net(net) h(nb, net);` read by tree-sitter as a declaration of `h`.

        The loop macro and the function are calls; every other name in it is read."""
        stack = [node]
        while stack:
            cur = stack.pop()
            t = cur.type
            if t == "macro_type_specifier":
                name = cur.child_by_field_id(F_NAME)
                if name is not None:
                    self.add(name, "call", func, cond)
                for child in cur.named_children:
                    if child is not name and child != name:
                        stack.append(child)
            elif t == "function_declarator":
                inner = cur.child_by_field_id(F_DECLARATOR)
                if inner is not None and inner.type == "identifier":
                    self.add(inner, "call", func, cond)
                params = cur.child_by_field_id(F_PARAMETERS)
                if params is not None:
                    stack.append(params)
            elif t in ("identifier", "type_identifier"):
                text = _text(cur)
                if text not in locals_:
                    self.add(cur, "read", func, cond)
                else:
                    self.local_use(cur, text, "read")
            elif t in ("field_identifier", "primitive_type") or t in _SKIP:
                continue
            else:
                stack.extend(reversed(cur.named_children))

    # ------------------------------------------------------------------ expressions
    def expr(self, node: Node, locals_: dict[str, str | None], func: str | None, cond: str | None, role: str,
             init_type: str | None = None) -> None:
        """References in an expression, walked with an explicit stack; one visit_* per node type."""
        # tuple.__new__: the NamedTuple without its Python-level __new__ (once per expression, a hot path)
        walk = tuple.__new__(_ExpressionWalk, (locals_, func, cond, [(node, role, init_type)]))
        stack = walk.stack
        pop = stack.pop
        visit_of = _VISIT_BY_KIND.get
        other = RefCollector.visit_other
        append_ref = self.refs.append
        new = tuple.__new__
        identifier = _K_IDENTIFIER
        nothing = _K_NOTHING
        keywords = _TYPE_KEYWORDS
        while stack:
            cur, r, itype = pop()
            k = cur.kind_id
            if k == identifier:  # the commonest node, visit_identifier and local_use inlined (a hot path)
                raw = cur.text
                if raw is None:
                    continue
                text = raw.decode("utf-8", "replace")
                if text not in locals_:
                    if text in keywords:
                        continue
                    row, col = cur.start_point
                    append_ref(new(RefRow, (row + 1, col, col + len(raw), text, r, func, cond, None)))
                else:
                    uses = self._uses
                    if uses is not None:
                        entry = uses.get(text)
                        if entry is None:
                            entry = uses[text] = ("l", [])
                        row, col = cur.start_point
                        entry[1].append((row + 1, col, _LOCAL_ROLES.get(r, "r")))
            elif k not in nothing:  # literals and the like (visit_nothing) are passed over here
                visit_of(k, other)(self, walk, cur, r, itype)

    def visit_identifier(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        raw = node.text
        if raw is None:
            return
        text = raw.decode("utf-8", "replace")
        if text not in w.locals_:
            if text not in _TYPE_KEYWORDS:
                self.add(node, role, w.func, w.cond)
        elif self._uses is not None:
            self.local_use(node, text, role)

    def visit_generic(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        """Expressions whose parts are simply read (a parenthesized one passes its role on)."""
        sub = role if node.kind_id in _K_PARENTHESIZED_EXPRESSION else "read"
        w.stack.extend([(child, sub, None) for child in reversed(node.named_children)])

    def visit_concatenated_string(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        """`KERN_INFO "msg"`, `LOCK_PREFIX "xaddl %0"`: the names between the strings are macros read."""
        w.stack.extend([(child, "read", None) for child in reversed(node.named_children) if child.kind_id == _K_IDENTIFIER])

    def visit_nothing(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        """Literals, comments, directives, field names, primitive types: no reference."""

    def visit_type_descriptor(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        self.type_refs(node, w.func, w.cond)

    def visit_type_identifier(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        self.type_refs(node, w.func, w.cond)

    def visit_field_expression(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        field = node.child_by_field_id(F_FIELD)
        arg = node.child_by_field_id(F_ARGUMENT)
        if field is not None:  # self.add inlined, the field's text decoded once
            raw = field.text
            name = raw.decode("utf-8", "replace") if raw is not None else ""
            row, col = field.start_point
            key = self.member_key(arg, w.locals_, name)
            self.refs.append(tuple.__new__(RefRow, (row + 1, col, col + field.end_byte - field.start_byte, name, role, w.func, w.cond, key)))
        if arg is not None:
            w.stack.append((arg, "read", None))

    def visit_call_expression(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        fn = node.child_by_field_id(F_FUNCTION)
        args = node.child_by_field_id(F_ARGUMENTS)
        stack = w.stack
        fname = None
        if fn is not None:
            k = fn.kind_id
            if k == _K_IDENTIFIER:
                fname = _text(fn)
                if fname in KEYWORD_CALLS:  # `typeof(x)` read as a call: an operator, its operand read
                    if args is not None:
                        stack.extend([(a, "read", None) for a in reversed(args.named_children) if a.kind_id not in _K_COMMENT])
                    return
            stack.append((fn, "call" if k == _K_IDENTIFIER or k in _K_FIELD_EXPRESSION else "read", None))
        if args is None:
            return
        arg_nodes = [a for a in args.named_children if a.kind_id not in _K_COMMENT]
        if fname is None or (fname not in _SPECIAL_CALLS and not fname.startswith("INDIRECT_CALL_")):
            # the common case: every argument read, first to last
            stack.extend([(a, "read", None) for a in arg_nodes])
            return
        if fname in DECLARES_LOCAL and len(arg_nodes) >= 2 and arg_nodes[1].kind_id == _K_IDENTIFIER:
            # DECLARE_SOCKADDR(struct sockaddr_in *, sin, msg->msg_name) declares `sin`
            w.locals_[_text(arg_nodes[1])] = normalize_type_text(_text(arg_nodes[0]))
            self.local_declared(arg_nodes[1], _text(arg_nodes[1]), "l")
            arg_nodes = arg_nodes[2:]
        indirect = _INDIRECT_CALL_RX.match(fname)
        if indirect:
            # INDIRECT_CALL_2(f, f2, f1, args): f is called; f1, f2 are the likely targets
            n = int(indirect.group(1)) if indirect.group(1) else (1 if fname.endswith("_1") else 2)
            for a in arg_nodes[: n + 1]:
                stack.append((a, "call", None))
            arg_nodes = arg_nodes[n + 1 :]
        for i, a in enumerate(arg_nodes):
            if fname in CONTAINER_OF and i == 1:
                self.type_refs_text(a, w.func, w.cond)
            elif fname in CONTAINER_OF and i == 2:
                continue  # a member path, not an expression
            else:
                stack.append((a, "write" if (fname in WRITE_FIRST and i == 0) else "read", None))

    def visit_assignment_expression(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        left = node.child_by_field_id(F_LEFT)
        right = node.child_by_field_id(F_RIGHT)
        if left is not None:
            w.stack.append((left, "write", None))
            if right is not None and left.type == "field_expression":
                fn_name = _function_value(right)
                field = left.child_by_field_id(F_FIELD)
                if fn_name and fn_name not in w.locals_ and field is not None:
                    key = self.member_key(left.child_by_field_id(F_ARGUMENT), w.locals_, _text(field))
                    if not key.startswith("?"):
                        self.assigns.append(FnAssign(node.start_point[0] + 1, key, fn_name))
        if right is not None:
            w.stack.append((right, "read", None))

    def visit_update_expression(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        arg = node.child_by_field_id(F_ARGUMENT)
        if arg is not None:
            w.stack.append((arg, "write", None))

    def visit_pointer_expression(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        arg = node.child_by_field_id(F_ARGUMENT)
        op = node.children[0].type if node.children else ""
        if arg is not None:
            w.stack.append((arg, "addr" if op == "&" else "read", None))

    def visit_type_operator(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        """Casts, sizeof, alignof, offsetof: a type use, and the operand read."""
        tnode = node.child_by_field_id(F_TYPE)
        if tnode is not None:
            self.type_refs(tnode, w.func, w.cond)
        member = node.child_by_field_id(F_MEMBER)
        if member is not None and member.kind_id in _K_FIELD_IDENTIFIER:  # offsetof(struct sock, sk_flags)
            tname = type_name(tnode.child_by_field_id(F_TYPE) if tnode is not None and tnode.type == "type_descriptor" else tnode)
            name = _text(member)
            row, col = member.start_point
            key = f"t:{tname}||{name}" if tname else f"?||{name}"
            self.refs.append(tuple.__new__(RefRow, (row + 1, col, col + member.end_byte - member.start_byte, name, "read", w.func, w.cond, key)))
        for child in node.named_children:
            if child is not tnode and child is not member and child != member and child.type != "type_descriptor":
                w.stack.append((child, "read", None))

    def visit_attribute_specifier(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        """`__attribute__((aligned(N), __error__(msg)))`: the attribute words are no reference and nothing in
        it is called; the names in their arguments are read."""
        for args in node.named_children:
            for item in args.named_children:
                k = item.kind_id
                if k in _K_CALL_EXPRESSION:
                    inner = item.child_by_field_id(F_ARGUMENTS)
                    if inner is not None:
                        w.stack.extend([(a, "read", None) for a in reversed(inner.named_children) if a.kind_id not in _K_COMMENT])
                elif k != _K_IDENTIFIER:
                    w.stack.append((item, "read", None))

    def visit_compound_literal_expression(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        tnode = node.child_by_field_id(F_TYPE)
        self.type_refs(tnode, w.func, w.cond)
        value = node.child_by_field_id(F_VALUE)
        if value is not None:
            w.stack.append((value, "read", type_name(tnode)))

    def visit_initializer_list(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        for child in node.named_children:
            w.stack.append((child, "read", itype))

    def visit_initializer_pair(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        """`.listen = inet_listen` in an initializer of a known type: a member write, maybe a function stored."""
        value = node.child_by_field_id(F_VALUE)
        designators = node.children_by_field_id(F_DESIGNATOR)
        sub_type = None
        if itype and len(designators) == 1 and designators[0].type == "field_designator":
            fid = designators[0].named_children[0] if designators[0].named_children else None
            if fid is not None:
                member = _text(fid)
                key = f"t:{itype}||{member}"
                self.add(fid, "write", w.func, w.cond, key)
                fn_name = _function_value(value) if value is not None else None
                if fn_name and fn_name not in w.locals_:
                    self.assigns.append(FnAssign(fid.start_point[0] + 1, key, fn_name, self.table))
                sub_type = f"@{itype}.{member}"  # nested initializer: the member's type
        for d in designators:
            if d.type == "subscript_designator":
                for child in d.named_children:
                    w.stack.append((child, "read", None))
        if value is not None:
            w.stack.append((value, "read", sub_type if value.type == "initializer_list" else None))

    def visit_declaration(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        self.declare(node, w.locals_, w.func, w.cond)

    def visit_statement(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        """A statement inside an expression (`({ ... })`), or an #if block in one."""
        self.walk(node, w.locals_, w.func, w.cond)

    def visit_other(self, w: _ExpressionWalk, node: Node, role: str, itype: str | None) -> None:
        """ERROR and the rest: their identifiers are read."""
        sub_type = itype if node.kind_id in _K_ERROR else None
        w.stack.extend([(child, "read", sub_type) for child in reversed(node.named_children)])

    def type_refs_text(self, node: Node, func: str | None, cond: str | None) -> None:
        """A type written as a macro argument (container_of's second): `struct foo` → a type use."""
        for child in node.children if node.type != "identifier" else [node]:
            if child.type in ("identifier", "type_identifier") and _text(child) not in TYPE_OPERATORS:
                self.add(child, "type", func, cond)
        if node.type in ("type_descriptor", "struct_specifier", "union_specifier"):
            self.type_refs(node, func, cond)

    # ------------------------------------------------------------------ member keys
    def member_key(self, arg: Node | None, locals_: dict[str, str | None], field: str) -> str:
        base = self.base_of(arg, locals_)
        if base is None:
            return f"?||{field}"  # recorded as unresolved: the base expression's type is unknown
        root, hops = base
        return f"{root}|{'.'.join(hops)}|{field}"

    def base_of(self, node: Node | None, locals_: dict[str, str | None]) -> tuple[str, list[str]] | None:
        hops: list[str] = []
        cur = node
        for _ in range(64):
            if cur is None:
                return None
            k = cur.kind_id
            if k == _K_IDENTIFIER:
                name = _text(cur)
                if name in locals_:
                    tname = locals_[name]
                    return (f"t:{tname}", hops[::-1]) if tname else None
                return (f"g:{name}", hops[::-1])
            if k in _K_FIELD_EXPRESSION:
                field = cur.child_by_field_id(F_FIELD)
                if field is None:
                    return None
                hops.append(_text(field))
                cur = cur.child_by_field_id(F_ARGUMENT)
                continue
            t = cur.type
            if t in ("parenthesized_expression",):
                cur = next((c for c in cur.named_children if c.type != "comment"), None)
            elif t in ("pointer_expression", "subscript_expression", "update_expression"):
                cur = cur.child_by_field_id(F_ARGUMENT)
            elif t == "cast_expression":
                tname = type_name(cur.child_by_field_id(F_TYPE))
                return (f"t:{tname}", hops[::-1]) if tname else None
            elif t == "call_expression":
                fn = cur.child_by_field_id(F_FUNCTION)
                if fn is None or fn.type != "identifier":
                    return None
                fname = _text(fn)
                if fname in PASS_THROUGH:
                    args = _call_arguments(cur)
                    if not args:
                        return None
                    cur = args[0]
                    continue
                if fname in CONTAINER_OF:
                    args = _call_arguments(cur)
                    if len(args) >= 2:
                        tname = normalize_type_text(_text(args[1]))
                        return (f"t:{tname}", hops[::-1]) if tname else None
                    return None
                return (f"c:{fname}", hops[::-1])
            elif t == "conditional_expression":
                cur = cur.child_by_field_id(F_CONSEQUENCE) or cur.child_by_field_id(F_ALTERNATIVE)
            elif t == "assignment_expression":
                cur = cur.child_by_field_id(F_LEFT)
            elif t == "comma_expression":
                cur = cur.child_by_field_id(F_RIGHT)
            else:
                return None
        return None


class _ExpressionWalk(NamedTuple):
    """What every visit of one expression shares: its locals, function, condition, and the work left."""

    locals_: dict[str, str | None]
    func: str | None
    cond: str | None
    stack: list[tuple[Node, str, str | None]]


_Visit = Callable[[RefCollector, _ExpressionWalk, Node, str, "str | None"], None]


def _expression_visits() -> dict[str, _Visit]:
    """Node type → RefCollector.visit_*, built once; the first entry for a type wins."""
    table: dict[str, _Visit] = {"identifier": RefCollector.visit_identifier}
    for t in _GENERIC:
        table.setdefault(t, RefCollector.visit_generic)
    for t in _SKIP | {"field_identifier", "primitive_type"}:
        table.setdefault(t, RefCollector.visit_nothing)
    for t in ("cast_expression", "sizeof_expression", "alignof_expression", "offsetof_expression"):
        table.setdefault(t, RefCollector.visit_type_operator)
    for t in ("compound_statement", *_PREPROC_BLOCKS):
        table.setdefault(t, RefCollector.visit_statement)
    for name in dir(RefCollector):
        if name.startswith("visit_"):
            table.setdefault(name[len("visit_"):], getattr(RefCollector, name))
    for generic in ("generic", "nothing", "type_operator", "statement", "other"):
        if table.get(generic) is getattr(RefCollector, f"visit_{generic}"):
            del table[generic]  # helpers, not node types
    return table


_CONDITION_NAME_RX = re.compile(r"^!?[A-Za-z_]\w*$")


def negate_condition(cond: str | None) -> str | None:
    """`!cond` (a name's `!` taken off again), None for none."""
    if not cond:
        return None
    if _CONDITION_NAME_RX.match(cond):
        return cond[1:] if cond.startswith("!") else "!" + cond
    return f"!({cond})"


def join_conditions(outer: str | None, inner: str | None) -> str | None:
    """`outer && inner`, either may be missing; never longer than MAX_CONDITION."""
    if not inner:
        return outer
    if not outer:
        joined = inner
    elif len(outer) >= MAX_CONDITION:
        return outer  # already cut: what would follow is cut too
    else:
        joined = f"{outer} && {inner}"
    return joined if len(joined) <= MAX_CONDITION else joined[: MAX_CONDITION - 1] + "…"


def _call_arguments(call: Node) -> list[Node]:
    arguments = call.child_by_field_id(F_ARGUMENTS)
    return [] if arguments is None else [a for a in arguments.named_children if a.type != "comment"]


_MACRO_PARSER: list[Parser] = []


def _macro_parser() -> Parser:
    """One parser per process for macro bodies (built on first use)."""
    if not _MACRO_PARSER:
        import tree_sitter_c
        from tree_sitter import Language

        _MACRO_PARSER.append(Parser(Language(tree_sitter_c.language())))
    return _MACRO_PARSER[0]


def _function_body(wrapped: bytes) -> Node | None:
    """The body of the one function `wrapped` holds (a macro body or a typeof operand made a function), parsed."""
    fn = _macro_parser().parse(wrapped).root_node.named_child(0)
    return fn.child_by_field_id(F_BODY) if fn is not None and fn.type == "function_definition" else None


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _statement_in_disguise(node: Node) -> bool:
    """A declaration whose type is a macro call and which declares a function (or holds an
    ERROR) is a statement behind a loop macro without braces."""
    type_node = node.child_by_field_id(F_TYPE)
    if type_node is None or type_node.type != "macro_type_specifier":
        return False
    name = type_node.child_by_field_id(F_NAME)
    if name is not None and _text(name) in TYPE_OPERATORS:  # `typeof(x) v`: a declaration
        return False
    return any(c.type in ("function_declarator", "ERROR") for c in node.children)


def anonymous_record_name(node: Node) -> str | None:
    """The name the members of a declaration's anonymous struct or union go under: its first
    variable's (`static const struct { ... } icmpmibmap[] = ...` → icmpmibmap.name), else None."""
    type_node = node.child_by_field_id(F_TYPE)
    if (type_node is None or type_node.type not in ("struct_specifier", "union_specifier")
            or type_node.child_by_field_id(F_NAME) is not None or type_node.child_by_field_id(F_BODY) is None):
        return None
    return _variable_name(next(iter(node.children_by_field_id(F_DECLARATOR)), None))[0]


def _variable_name(node: Node | None) -> tuple[str | None, bool]:
    """The name a top-level declarator declares, and whether it is an array (`x[]`, `*x[4]`)."""
    is_array = False
    for _ in range(16):
        if node is None:
            return None, is_array
        if node.type == "identifier":
            return _text(node), is_array
        if node.type == "array_declarator":
            is_array = True
        if node.type == "parenthesized_declarator":
            node = next((c for c in node.named_children if c.type != "comment"), None)
        else:
            node = node.child_by_field_id(F_DECLARATOR)
    return None, is_array


def _function_value(node: Node) -> str | None:
    """`inet_listen`, `&inet_listen` or a cast of them: the name of a possible function."""
    for _ in range(4):
        if node.type == "identifier":
            return _text(node)
        if node.type == "pointer_expression":
            arg = node.child_by_field_id(F_ARGUMENT)
            if arg is None:
                return None
            node = arg
        elif node.type in ("cast_expression",):
            value = node.child_by_field_id(F_VALUE)
            if value is None:
                return None
            node = value
        elif node.type == "parenthesized_expression":
            inner = next(iter(node.named_children), None)
            if inner is None:
                return None
            node = inner
        else:
            return None
    return None


_EXPRESSION_VISITS = _expression_visits()
_VISIT_BY_KIND = {k: visit for k, name in _KIND_NAMES.items() if (visit := _EXPRESSION_VISITS.get(name)) is not None}
_K_NOTHING = frozenset(k for k, visit in _VISIT_BY_KIND.items() if visit is RefCollector.visit_nothing)
