"""Where things live: the kernels declared in kernels.toml, their trees, locks and indexes.

Kept free of heavy imports: the CLI's lookups import this module.
"""

from __future__ import annotations

import os
import re
from collections import namedtuple
from pathlib import Path

from .safepath import is_clean

TYPE_CHECKING = False  # True for mypy, which reads this name as typing.TYPE_CHECKING; no import of typing at run time
if TYPE_CHECKING:
    from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_KERNEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


class ConfigError(Exception):
    """kernels.toml is missing, malformed, or does not name the kernel asked for."""


class KernelSpec(namedtuple("KernelSpec", "name title debian_package tarball paths include_linux xref_paths",
                            defaults=("", None, None, (), "direct", ()))):
    """One kernel as declared in kernels.toml.

    A named tuple (collections'), not a dataclass: every command builds one, and `lookup` does not
    import dataclasses (tests/test_lookup_imports.py).  The defaults are the named tuple's; the
    annotations say the fields' types to mypy (tests/test_lookup_imports.py checks they name the fields)."""

    __slots__ = ()
    name: str
    title: str
    debian_package: str | None
    tarball: str | None
    paths: tuple[str, ...]
    include_linux: str
    # where references are recorded; elsewhere only definitions.  Empty: everywhere.
    xref_paths: tuple[str, ...]

    def records_refs(self, rel: str) -> bool:
        if not self.xref_paths:
            return True
        return any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in self.xref_paths)


class Project(namedtuple("Project", "snippets kernels default", defaults=(None,))):
    """The folder holding kernels.toml, lock files, extracted trees and indexes (a named tuple, as KernelSpec)."""

    __slots__ = ()
    snippets: Path
    kernels: dict[str, KernelSpec]
    default: str | None

    @classmethod
    def load(cls, snippets: Path | str | None = None) -> Project:
        root = Path(snippets or os.environ.get("KEXPLORE_SNIPPETS") or PACKAGE_ROOT / "kernel-snippets")
        toml_path = root / "kernels.toml"
        from .startcache import cached  # kernels.toml as parsed last time, while the file is unchanged

        try:
            data = cached("kernels", os.path.abspath(root), [os.path.abspath(toml_path)], lambda: _read_toml(toml_path),
                          lambda value: isinstance(value, dict))
        except FileNotFoundError:
            raise ConfigError(f"{toml_path} not found: point --snippets at the folder holding kernels.toml") from None
        kernels: dict[str, KernelSpec] = {}
        for name, table in (data.get("kernels") or {}).items():
            if not _KERNEL_NAME.fullmatch(name):
                raise ConfigError(f"{toml_path}: kernel name {name!r} must be letters, digits and . _ + - (it names folders)")
            known = {"title", "debian_package", "tarball", "paths", "include_linux", "xref_paths"}
            unknown = set(table) - known
            if unknown:
                raise ConfigError(f"{toml_path}: kernel {name!r} has unknown keys {sorted(unknown)}")
            for key in ("paths", "xref_paths"):
                paths = table.get(key, [])
                if not isinstance(paths, list) or not all(isinstance(p, str) and is_clean(p) for p in paths):
                    raise ConfigError(f"{toml_path}: kernel {name!r}: {key} must be plain relative paths inside the tree")
            kernels[name] = KernelSpec(
                name=name,
                title=table.get("title", name),
                debian_package=table.get("debian_package"),
                tarball=table.get("tarball"),
                paths=tuple(table.get("paths", ())),
                include_linux=table.get("include_linux", "direct"),
                xref_paths=tuple(table.get("xref_paths", ())),
            )
        default = data.get("default") or (next(iter(kernels)) if kernels else None)
        return cls(snippets=root, kernels=kernels, default=default)

    def kernel(self, name: str | None = None) -> KernelSpec:
        name = name or self.default
        if name is None or name not in self.kernels:
            known = ", ".join(sorted(self.kernels)) or "none"
            raise ConfigError(f"unknown kernel {name!r} (kernels.toml declares: {known})")
        return self.kernels[name]

    def tree(self, name: str) -> Path:
        return self.snippets / name

    def lock_path(self, name: str) -> Path:
        return self.snippets / f"{name}.lock.json"

    @property
    def docs(self) -> Path:
        """The site's Markdown pages, annotation pages among them."""
        return Path(os.environ.get("KEXPLORE_DOCS") or self.snippets.parent / "docs")

    def index_path(self, name: str) -> Path:
        return self.snippets / "index" / f"{name}.sqlite"


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # here: its import costs more than a lookup's query, and a lookup finds the data in explorer.startcache

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def cache_dir() -> Path:
    """Downloads live outside the checkout so a fresh clone does not download again."""
    env = os.environ.get("KEXPLORE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kernel-explorer"
