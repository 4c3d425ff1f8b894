"""What every `kexplore` command shares: exit codes, how an error prints, how JSON is written.

One home for these, so that `kexplore` and `kexplore lab` cannot drift apart.  Kept free of
heavy imports: the CLI's lookups import this module.
"""

from __future__ import annotations

import json
import sys
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) quotes strings with

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def err(message: str, prog: str = "kexplore") -> None:
    """One line on stderr, prefixed by the program's name."""
    print(f"{prog}: {message}", file=sys.stderr)


def emit_json(data: object) -> None:
    """`data` as indented JSON on stdout (non-ASCII kept as it is)."""
    sys.stdout.write(dumps(data))
    sys.stdout.write("\n")


def dumps(data: object, indent: int = 1) -> str:
    """The text of `json.dumps(data, ensure_ascii=False, indent=indent)`, written with an explicit stack:
    the standard encoder recurses, and a call tree may nest thousands of levels."""
    parts: list[str] = []
    stack: list[tuple[object, int] | str] = [(data, 0)]  # a value to encode at a level, or text to write
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        value, level = item
        pairs: list[tuple[str | None, object]]
        if isinstance(value, dict):
            pairs = [(k if isinstance(k, str) else json.dumps(k), v) for k, v in value.items()]
            opening, closing = "{", "}"
        elif isinstance(value, (list, tuple)):
            pairs = [(None, v) for v in value]
            opening, closing = "[", "]"
        else:
            parts.append(_scalar(value))
            continue
        if not pairs:
            parts.append(opening + closing)
            continue
        parts.append(opening)
        pad = "\n" + " " * (indent * (level + 1))
        stack.append("\n" + " " * (indent * level) + closing)
        for n in range(len(pairs) - 1, -1, -1):
            key, child = pairs[n]
            stack.append((child, level + 1))
            lead = ("," if n else "") + pad
            stack.append(lead if key is None else f"{lead}{encode_basestring(key)}: ")
    return "".join(parts)


def _scalar(value: object) -> str:
    """`json.dumps(value, ensure_ascii=False)` for a value that is not a container, without building
    an encoder for each (a call tree of 2,000 rows holds some 20,000 of them)."""
    if isinstance(value, str):
        return encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)
    return json.dumps(value, ensure_ascii=False)
