"""The lock file of a kernel (``<name>.lock.json``): what was vendored, from where, and each file's sha256.

The one reader and writer of lock files: vendoring writes them, the indexer, ``kexplore
versions`` and the labs read them.  Kept free of heavy imports: the CLI's lookups import
this module.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from .safepath import is_clean

LOCK_FORMAT = 1
_DEFAULT_MODE = 0o644
_SHA256 = re.compile(r"[0-9a-f]{64}")


class LockError(Exception):
    """A lock file is damaged or is not a kernel-explorer lock file; the message names it and says what to do."""


@dataclass(frozen=True)
class Lock:
    """What one vendoring run pinned: the source it extracted and the sha256 of every file."""

    kernel: str
    source: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    format: int = LOCK_FORMAT

    @property
    def version(self) -> str | None:
        """The pinned version: the Debian package's version, else the tarball's or tree's name."""
        return self.source.get("version") or self.source.get("name") or None

    def to_json(self) -> str:
        data = {"format": self.format, "kernel": self.kernel, "source": self.source, "files": self.files}
        return json.dumps(data, indent=1, sort_keys=True) + "\n"


def _string_map(value: object) -> dict[str, str] | None:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return dict(value)


def read_lock(path: Path) -> Lock | None:
    """The lock at `path`, None if there is none; LockError (one line) if it is damaged."""
    fix = "restore it from git, or delete it to pin the tree afresh with the next `kexplore vendor`"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise LockError(f"{path} is not valid JSON (not UTF-8); {fix}") from None
    except OSError as exc:
        raise LockError(f"{path} cannot be read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LockError(f"{path} is not valid JSON ({exc}); {fix}") from None
    except RecursionError:
        raise LockError(f"{path} is not valid JSON (nested too deeply); {fix}") from None
    wrong = f"{path} is not a kernel-explorer lock file (format {LOCK_FORMAT}); {fix}"
    if not isinstance(data, dict) or data.get("format") != LOCK_FORMAT:
        raise LockError(wrong)
    files = _string_map(data.get("files"))
    source = _string_map(data.get("source", {}))
    kernel = data.get("kernel", "")
    if files is None or source is None or not isinstance(kernel, str):
        raise LockError(wrong)
    odd = next((p for p, digest in files.items() if not is_clean(p) or not _SHA256.fullmatch(digest)), None)
    if odd is not None:
        raise LockError(f"{path} pins {odd!r}, which is not a plain relative path with a sha256; {fix}")
    return Lock(kernel=kernel, source=source, files=files)


def write_lock(path: Path, lock: Lock) -> None:
    """Write the lock atomically: readers see the old lock or the new one."""
    with staged_lock(path, lock):
        pass


@contextmanager
def staged_lock(path: Path, lock: Lock) -> Iterator[None]:
    """Write the new lock beside the old one, run the block, then rename it into place.

    What can fail for want of space happens before the block (vendoring swaps the new
    tree in there); if the block fails the old lock stays and the new one is removed.
    The file keeps the previous lock's mode (0644 for a new one), not mkstemp's 0600.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = _DEFAULT_MODE
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(lock.to_json())
            fh.flush()
            os.fchmod(fh.fileno(), mode)
    except BaseException as exc:
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)
        with suppress(OSError):
            Path(tmp).unlink(missing_ok=True)
        raise
    try:
        yield
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):  # a failing cleanup must not hide the error that stopped the write
            Path(tmp).unlink(missing_ok=True)
        raise
