"""What every `kexplore` start would otherwise derive again from a few small text files.

A lookup needs two things read from text files besides its index: kernels.toml (`tomllib`
alone costs more to import than the lookup's query takes: about 5 ms, a third of the
interpreter's own start-up) and which annotation page annotates which symbol (every page
of docs/ read and parsed).  Both change rarely.  `cached` keeps such a value between runs, as
JSON in `cache_dir()/startup/KIND-DIGEST.json` (DIGEST names the files' folder), and uses it only
while the `stat` of every file it was derived from (path, size, mtime_ns, ctime_ns, inode) is
what it was.

A cache cannot break a command:

- a cache file that cannot be read, is not JSON, has another version or shape, or does not
  match the files is a miss, never an error: the value is derived from the files again and
  the cache file rewritten (a temporary file renamed into place: a reader never sees half of one);
- a cache that cannot be written (a read-only home) is left alone, silently;
- files modified in the last two seconds are not cached: the next edit could still give them
  the same size and mtime (what git calls a racy entry), so they are read every time until
  they settle.  Tests, which write their files and run at once, do not use the cache (unless
  they set the files' mtimes back, as tests/test_lookup_imports.py does);
- what a value is checked for is the caller's: it passes `valid`, and a value that fails it is a miss.

Standard library only, and only what a lookup imports anyway (json, os).
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False  # True for mypy, which reads this name as typing.TYPE_CHECKING; no import of typing at run time
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path
    from typing import TypeVar

    T = TypeVar("T")

VERSION = 1
SETTLE_NS = 2_000_000_000  # files younger than this are not cached
DISABLE_ENV = "KEXPLORE_NO_STARTUP_CACHE"  # set (to anything): derive every time, write nothing
_MISS = object()

Signature = list[list[object]]


def signature(paths: Sequence[str]) -> Signature | None:
    """(path, size, mtime_ns, ctime_ns, inode) of each file; None when one cannot be stat'ed."""
    out: Signature = []
    for path in paths:
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            return None
        out.append([path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino])
    return out


def cached(kind: str, folder: str, paths: Sequence[str], build: Callable[[], T], valid: Callable[[object], bool]) -> T:
    """`build()`, or the value it gave last time if none of `paths` changed since.

    `kind` and `folder` name the cache file; `paths` are every file the value is derived from
    (absolute).  Exceptions from `build` propagate, and nothing is cached then."""
    if os.environ.get(DISABLE_ENV):
        return build()
    sig = signature(paths)
    where = _cache_file(kind, folder) if sig is not None else None
    if where is not None and sig is not None:
        hit = _read(where, kind, folder, sig, valid)
        if hit is not _MISS:
            return hit  # type: ignore[return-value]  # `valid` said so
    value = build()
    if where is not None and sig is not None and _settled(sig):
        _write(where, {"version": VERSION, "kind": kind, "folder": folder, "files": sig, "value": value})
    return value


def _digest(text: str) -> str:
    """FNV-1a, 64 bits, of a folder's path: a short file name (hashlib would be one more import)."""
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8", "surrogateescape"):
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def _cache_file(kind: str, folder: str) -> str | None:
    from .config import cache_dir

    try:
        return os.path.join(cache_dir(), "startup", f"{kind}-{_digest(folder)}.json")
    except (OSError, RuntimeError, KeyError):  # no home to find
        return None


def _read(where: str, kind: str, folder: str, sig: Signature, valid: Callable[[object], bool]) -> object:
    try:
        with open(where, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return _MISS
    if not isinstance(data, dict) or data.get("version") != VERSION or data.get("kind") != kind:
        return _MISS
    if data.get("folder") != folder or data.get("files") != sig or "value" not in data:
        return _MISS
    value = data["value"]
    try:
        return value if valid(value) else _MISS
    except Exception:  # a check that trips over an odd value: that value is no use either
        return _MISS


def _settled(sig: Signature) -> bool:
    """Whether every file's mtime is old enough that an edit now would change it.  (A file whose mtime
    was set back by hand has a new ctime, which the signature holds too.)"""
    import time

    now = time.time_ns()
    return all(isinstance(entry[2], int) and entry[2] < now - SETTLE_NS for entry in sig)


def _write(where: str, data: dict[str, object]) -> None:
    tmp = f"{where}.{os.getpid()}.tmp"
    try:
        text = json.dumps(data, ensure_ascii=False)
        if json.loads(text) != data:  # what JSON cannot hold as it is (a TOML date) is not cached
            return
        os.makedirs(os.path.dirname(where), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, where)
    except (OSError, ValueError, TypeError):
        try:
            os.unlink(tmp)
        except OSError:
            pass


def files_under(folder: str, suffix: str) -> list[str]:
    """Every file under `folder` whose name ends with `suffix`, recursively, not into symlinked folders
    (what `Path.rglob` visits), as absolute paths; empty when the folder is missing."""
    out: list[str] = []
    stack = [folder]
    while stack:  # a stack, not recursion: a deep tree of folders cannot exhaust Python's stack
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.name.endswith(suffix):
                        out.append(entry.path)
        except OSError:
            continue
    return sorted(out)


def annotated(docs: Path) -> dict[str, str]:
    """The annotation page (POSIX, relative to `docs`) that `annotations.by_symbol(docs)` takes each
    annotated symbol from, cached while no Markdown page under `docs` changes."""

    def build() -> dict[str, str]:
        from .annotations import by_symbol

        return {name: a.path.relative_to(docs).as_posix() for name, a in by_symbol(docs).items()}

    folder = os.path.abspath(docs)
    return cached("annotations", folder, files_under(folder, ".md"), build, _names_to_pages)


def _names_to_pages(value: object) -> bool:
    """Symbol names to pages inside the docs folder: a cache that says otherwise is not used."""
    from .safepath import is_clean

    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) and v.endswith(".md") and is_clean(v)
                                           for k, v in value.items())
