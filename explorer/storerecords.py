"""The records of the index's readers other than `lookup`: uses, locals, changes, structs, call graphs.

They live apart from explorer/store.py, which returns them, so that a lookup, which builds none
of them, does not pay for defining them (a dataclass or a typing.NamedTuple costs more to define
than a lookup's query takes, and their modules cost more to import: tests/test_lookup_imports.py,
benchmarks/lookup_time.py).  `Index`'s methods import them where they build them;
`from explorer.store import CallEdge` still works (store's module `__getattr__`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, NamedTuple, NotRequired, TypedDict

if TYPE_CHECKING:
    from .opsgroups import OpsContext
    from .store import CallNodeKey


class StructField(TypedDict):
    """A member of `kexplore struct`, with the members of its anonymous struct or union type nested."""

    name: str  # the field's own name
    member: str  # STRUCT.FIELD, as looked up
    type: str  # as declared
    line: int
    cond: NotRequired[str]  # the #if it sits under
    fields: NotRequired[list[StructField]]
    annotation: NotRequired[str | None]  # the CLI adds the commentary
    doc: NotRequired[str | None]  # and the kernel-doc of its `@member:` line


class StructInfo(TypedDict):
    """`kexplore struct NAME`: members in order and the first-member embedding chain."""

    name: str
    kind: str
    path: str
    line: int
    end_line: int
    fields: list[StructField]
    embedding: list[str]
    annotation: NotRequired[str | None]


@dataclass(frozen=True)
class Change:
    """One row of `kexplore changes`: a definition added, removed or changed between two kernels."""

    name: str
    kind: str
    path: str  # where it is in the newer kernel (in the older one when removed)
    status: str  # added, removed, changed
    from_path: str | None = None  # changed: where it was in the older kernel (another file when it moved)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class _Def:
    name: str
    kind: str
    path: str
    digest: int


@dataclass(frozen=True)
class Ref:
    path: str
    line: int
    col: int
    function: str | None
    role: str
    name: str  # as written at the site
    cond: str | None = None
    via: str | None = None  # the field macro gone through (sk_state), if any

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class LocalRef:
    """A use of a local or parameter (`kexplore refs NAME --in FUNCTION`)."""

    path: str
    line: int
    col: int
    function: str
    role: str  # decl read write addr
    name: str
    kind: str  # parameter or local

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class CallEdge(NamedTuple):
    """One row of callers/callees: `name` is the other function (the caller, or the callee).  A
    named tuple: a call tree builds thousands, and a frozen dataclass costs several times as much."""

    name: str  # the other function
    path: str  # the call site
    line: int
    via: str | None  # the ops member of an indirect call, or the macro whose body makes the call
    caller: str | None = None
    name_path: str | None = None  # where `name` is defined (the definition the call resolves to)
    name_line: int | None = None
    def_path: str | None = None  # the definition the row is about: the function asked about
    def_line: int | None = None
    tables: tuple[str, ...] = ()  # through an ops member: the ops tables storing the function ("": stored in code)

    @property
    def node(self) -> CallNodeKey:
        """The definition `name` stands for."""
        return (self.name, self.name_path)

    @property
    def from_node(self) -> CallNodeKey:
        """The calling definition, for rows of callees and of call chains."""
        return (self.caller or "", self.def_path)

    def as_dict(self) -> dict[str, object]:
        named = [t for t in self.tables if t]
        return {"name": self.name, "path": self.path, "line": self.line, "via": self.via,
                "table": named[0] if len(named) == 1 else None, "tables": named,
                "def_path": self.def_path, "def_line": self.def_line,
                "name_path": self.name_path, "name_line": self.name_line}

    def via_text(self, most: int = 3) -> str:
        """`proto_ops.connect in inet_stream_ops`: the member, and the tables storing the function."""
        if self.via is None:
            return ""
        named = [t for t in self.tables if t]
        if not named:
            return self.via
        more = f" +{len(named) - most}" if len(named) > most else ""
        return f"{self.via} in {', '.join(named[:most])}{more}"


def _call_order(edge: CallEdge) -> tuple[bool, str, int]:
    """Direct calls (and calls through macros) before calls through ops members, then by site."""
    return (edge.via is not None and "." in edge.via, edge.path, edge.line)


class CallPath(NamedTuple):
    """`kexplore path`: the chain, whether its ops tables are consistent (False: only the wide
    reading, every function any table stores in a member, connects the two), and what the chain
    says of its socket's tables."""

    edges: list[CallEdge]
    consistent: bool
    ops: OpsContext


class _Call(NamedTuple):
    """A call site resolved to definitions."""

    caller: CallNodeKey
    callee: CallNodeKey
    path: str
    line: int
    col: int
    via: str | None
    tables: tuple[str, ...] = ()  # through an ops member: the tables storing the callee ("": an assignment in code)


@dataclass
class CallNode:
    """One call in a call tree: the edge, and below it the next level (None: not expanded)."""

    edge: CallEdge
    children: list[CallNode] | None = None
    seen: bool = False  # the function is expanded elsewhere in the tree (or is its root)
    cut: bool = False  # the node limit was reached before (all of) its children were listed


@dataclass
class CallTree:
    """`kexplore callers/callees NAME --depth N --limit M`: the levels below NAME, each function expanded once."""

    name: str
    direction: str  # callers or callees
    depth: int
    limit: int
    children: list[CallNode] = field(default_factory=list)
    definitions: list[tuple[str, int | None]] = field(default_factory=list)  # (path, line) of each root definition
    nodes: int = 0  # how many nodes are listed
    cut: bool = False  # the limit was reached: some nodes were left out
