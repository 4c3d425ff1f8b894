"""Where generated pages live in the site.

Every URL names the kernel, so a second kernel gets pages of its own:

- ``linux-6.1/source/net/ipv4/af_inet.c/#L193``: a source file, one anchor per line;
- ``linux-6.1/symbol/inet_listen/``: a symbol page (``STRUCT.FIELD`` names stay as they are);
- ``linux-6.1/_kx/...``: the JSON that the pages load on demand.

Helpers come in pairs: ``*_uri`` is the generated file's ``src_uri`` (what MkDocs and
Markdown links use), ``*_url`` the directory URL it is served at.
"""

from __future__ import annotations

import posixpath
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def source_uri(kernel: str, path: str) -> str:
    return f"{kernel}/source/{path}.md"


def source_url(kernel: str, path: str) -> str:
    return f"{kernel}/source/{path}/"


def definition_url(kernel: str, path: str, line: int) -> str:
    """The site URL of a definition's line, from the site root: /linux-6.1/source/net/ipv4/af_inet.c/#L193."""
    return f"/{source_url(kernel, path)}#L{line}"


def symbol_slug(name: str) -> str:
    """A file-system-safe name for a symbol page; kernel identifiers are safe already."""
    return _UNSAFE.sub("_", name)


def symbol_uri(kernel: str, name: str) -> str:
    return f"{kernel}/symbol/{symbol_slug(name)}.md"


def symbol_url(kernel: str, name: str) -> str:
    return f"{kernel}/symbol/{symbol_slug(name)}/"


def data_url(kernel: str, name: str) -> str:
    return f"{kernel}/_kx/{name}"


def relative(from_url: str, to_url: str) -> str:
    """The relative href from the page served at directory URL `from_url` to `to_url`.

    Both are site-relative (no leading slash); `to_url` may carry a ``#fragment``.
    """
    target, _, fragment = to_url.partition("#")
    if not from_url or from_url.endswith("/"):
        base = from_url
    else:
        base = posixpath.dirname(from_url)
        base = base + "/" if base else ""
    rel = posixpath.relpath(target or base or ".", base or ".")
    if target.endswith("/") and not rel.endswith("/"):
        rel += "/"
    if rel == "./":
        rel = "./" if not fragment else ""
    return rel + ("#" + fragment if fragment else "")
