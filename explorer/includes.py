"""The headers a file includes directly, as tree paths (for the call graph's visibility rule).

A static function's calls resolve to the definition visible from the calling file: its own,
then one in a header it includes, then a global one.  This module turns `#include` lines into
the tree paths they may name; the names come from the source and are only compared with indexed
paths, never opened.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

_INCLUDE_RX = re.compile(rb'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"\n]{1,300})[>"]', re.MULTILINE)
# the same from its `#`, a literal the regex engine searches for fast (a `^` is tried at every offset);
# include_paths keeps the matches whose `#` only blanks precede on its line
_FROM_HASH_RX = re.compile(rb'#[ \t]*include[ \t]*([<"])([^>"\n]{1,300})[>"]')


def _includes(src: bytes) -> Iterator[re.Match[bytes]]:
    """What _INCLUDE_RX.finditer(src) finds (groups 1 and 2), in order."""
    if b"include" not in src:
        return
    for m in _FROM_HASH_RX.finditer(src):
        start = m.start()
        line_start = src.rfind(b"\n", 0, start) + 1
        if not src[line_start:start].strip(b" \t"):
            yield m


def _inside(path: str) -> str | None:
    """`path` normalised, or None when it is absolute or climbs out of the tree."""
    norm = posixpath.normpath(path)
    if norm.startswith(("/", "../")) or norm in (".", ".."):
        return None
    return norm


def include_paths(src: bytes, rel: str) -> list[str]:
    """Tree paths that the `#include` lines of `src` (the file at tree path `rel`) may name, in order.

    `<net/sock.h>` may be include/net/sock.h or include/uapi/net/sock.h; `"foo.h"` is beside the
    file first.  Candidates that do not exist simply match no indexed file."""
    out: dict[str, None] = {}
    folder = posixpath.dirname(rel)
    for m in _includes(src):
        written = m.group(2).decode("utf-8", "replace").strip()
        candidates = [f"include/{written}", f"include/uapi/{written}"]
        if m.group(1) == b'"':
            candidates.insert(0, posixpath.join(folder, written))
        for candidate in candidates:
            path = _inside(candidate)
            if path is not None:
                out.setdefault(path, None)
    return list(out)
