"""The vendored kernel's code that a lab exercises: where each symbol is, and what its source says.

Reads the index (explorer.store) and the vendored tree; when either is missing, symbols are
still named, just without a path and line, and predictions that need the source are left out.
"""

from __future__ import annotations

import re
import sqlite3

from ..config import Project
from ..lockfile import LockError, read_lock
from ..store import Index, IndexMissing, SourceChanged
from .results import CodeRef, VendoredKernel

__all__ = ["BACKLOG_CLAMP", "CLAMP_FUNCTIONS", "CodeRef", "KernelCode", "code_refs", "same_series", "vendored_kernel"]

# the clamp of listen()'s backlog to net.core.somaxconn, as both labs look for it
BACKLOG_CLAMP = r"\(unsigned int\)\s*backlog\s*>\s*somaxconn"
# where the clamp is: __sys_listen up to 6.10, __sys_listen_socket (called by __sys_listen and io_uring) since 6.11
CLAMP_FUNCTIONS = ("__sys_listen_socket", "__sys_listen")


class KernelCode:
    """The vendored kernel (default: kernels.toml's default) as the labs consult it."""

    def __init__(self, project: Project, kernel: str | None = None) -> None:
        spec = project.kernel(kernel)
        self.name = spec.name
        self.title = spec.title
        self.tree = project.tree(spec.name)
        self.version = _locked_version(project, spec.name)
        try:
            self.index: Index | None = Index(project.index_path(spec.name))
        except (IndexMissing, sqlite3.Error):
            self.index = None
        self._refs: dict[str, CodeRef] = {}

    def close(self) -> None:
        if self.index is not None:
            self.index.close()
            self.index = None

    def __enter__(self) -> KernelCode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def indexed(self) -> bool:
        return self.index is not None

    def describe(self) -> VendoredKernel:
        return VendoredKernel(name=self.name, title=self.title, version=self.version, indexed=self.indexed)

    def ref(self, symbol: str) -> CodeRef:
        """The definition of `symbol` (a function before its prototypes), or the bare name."""
        if symbol not in self._refs:
            found = self.index.lookup(symbol) if self.index is not None else []
            self._refs[symbol] = CodeRef(symbol, found[0].path, found[0].line, found[0].end_line) if found else CodeRef(symbol)
        return self._refs[symbol]

    def source(self, symbol: str) -> str | None:
        """The definition's text from the vendored tree, or None when it cannot be read."""
        found = self.index.lookup(symbol) if self.index is not None else []
        if self.index is None or not found:
            return None
        try:
            return self.index.definition_text(found[0], self.tree)
        except SourceChanged:
            return None

    # ------------------------------------------------------------ what the source decides

    def comparison(self, symbol: str, left: str) -> str | None:
        """The comparison operator after `left` in `symbol`'s body, e.g. ">" in sk_acceptq_is_full.

        None when the source is not available or does not compare `left`.
        """
        text = self.source(symbol)
        if text is None:
            return None
        match = re.search(re.escape(left) + r"\s*(>=|<=|>|<|==)", text)
        return match.group(1) if match else None

    def contains(self, symbol: str, pattern: str) -> bool | None:
        """Whether `symbol`'s source matches the regular expression; None when unreadable."""
        text = self.source(symbol)
        return None if text is None else re.search(pattern, text) is not None

    def clamp_function(self) -> str:
        """The function that clamps listen()'s backlog to somaxconn in this kernel (`__sys_listen` when none is found)."""
        for name in CLAMP_FUNCTIONS:
            if self.contains(name, BACKLOG_CLAMP):
                return name
        return CLAMP_FUNCTIONS[-1]

    def clamps_backlog(self) -> bool | None:
        """Whether listen() clamps a backlog above net.core.somaxconn (in __sys_listen_socket or __sys_listen); None when unreadable."""
        found = [self.contains(name, BACKLOG_CLAMP) for name in CLAMP_FUNCTIONS]
        return True if True in found else (False if False in found else None)


def code_refs(code: KernelCode | None, *names: str) -> tuple[CodeRef, ...]:
    """The definitions of `names` in the vendored tree, or the bare names without an index."""
    return tuple(code.ref(name) if code else CodeRef(name) for name in names)


def clamp_function(code: KernelCode | None) -> str:
    """The name of the function that clamps the backlog (`__sys_listen` without the vendored code)."""
    return code.clamp_function() if code else CLAMP_FUNCTIONS[-1]


def vendored_kernel(code: KernelCode | None) -> VendoredKernel | None:
    return code.describe() if code else None


def _locked_version(project: Project, name: str) -> str | None:
    """The version the lock pins; None when there is no lock or it is damaged (the labs only show it)."""
    try:
        lock = read_lock(project.lock_path(name))
    except LockError:
        return None
    return lock.version if lock else None


def kernel_version_tuple(release: str) -> tuple[int, ...]:
    """(6, 1) from "6.1.0-28-amd64" or "6.1.192-2"."""
    match = re.match(r"(\d+)\.(\d+)", release)
    return (int(match.group(1)), int(match.group(2))) if match else ()


def same_series(running_release: str, vendored_version: str | None) -> bool:
    """Whether the running kernel and the vendored sources are the same major.minor series."""
    return bool(vendored_version) and kernel_version_tuple(running_release) == kernel_version_tuple(vendored_version or "")
