"""Where generated pages live in the site.

Every URL names the kernel, so a second kernel gets pages of its own:

- ``linux-6.1/source/net/ipv4/af_inet.c/#L193``: a source file, one anchor per line;
- ``linux-6.1/symbol/inet_listen/``: a symbol page (``STRUCT.FIELD`` names stay as they are);
- ``linux-6.1/_kx/...``: the JSON that the pages load on demand.

Helpers come in pairs: ``*_uri`` is the generated file's ``src_uri`` (what MkDocs and
Markdown links use), ``*_url`` the directory URL it is served at.  Both are plain paths, as
the files are named on disk (a kernel's file names are untrusted: quotes, ``#``, ``?``,
spaces); `relative_href` and `definition_url` give URLs, percent-encoded with
`explorer.escaping.url_path`, to be put in an attribute with `html_attr`.
"""

from __future__ import annotations

import posixpath
import re

from .escaping import url_path

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def source_uri(kernel: str, path: str) -> str:
    return f"{kernel}/source/{path}.md"


def source_url(kernel: str, path: str) -> str:
    return f"{kernel}/source/{path}/"


def definition_url(kernel: str, path: str, line: int) -> str:
    """The site URL of a definition's line, from the site root: /linux-6.1/source/net/ipv4/af_inet.c/#L193."""
    return f"/{url_path(source_url(kernel, path))}#L{line}"


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
    """The relative path from the page served at directory URL `from_url` to `to_url`.

    Both are plain site paths (no leading slash, not encoded); a ``#`` in them is part of a
    name, not a fragment.  The result is a path too: `relative_href` makes it a URL.
    """
    if not from_url or from_url.endswith("/"):
        base = from_url
    else:
        base = posixpath.dirname(from_url)
        base = base + "/" if base else ""
    rel = posixpath.relpath(to_url or base or ".", base or ".")
    if to_url.endswith("/") and not rel.endswith("/"):
        rel += "/"
    return rel


def relative_href(from_url: str, to_url: str, fragment: str = "") -> str:
    """The URL of `to_url`, relative to the page at `from_url`, with an optional ``#fragment``.

    The path is percent-encoded segment by segment, and so is the fragment, so neither can end
    an attribute, start a query or be read as a scheme; put the result in an attribute with
    `html_attr`.  A link to an anchor of the same page is just ``#fragment``."""
    rel = relative(from_url, to_url)
    if not fragment:
        return url_path(rel)
    return ("" if rel == "./" else url_path(rel)) + "#" + url_path(fragment)


def elsewhere_key(name: str) -> str:
    """Which "defined elsewhere" page lists `name`: the first letter or digit of its last part, lower case."""
    last = name.rsplit(".", 1)[-1].lstrip("_").lower()
    first = last[:1]
    return first if first.isascii() and first.isalnum() else "_"


ELSEWHERE_KEYS = tuple("_0123456789abcdefghijklmnopqrstuvwxyz")


def elsewhere_uri(kernel: str, key: str) -> str:
    """The page listing the definitions, outside the files with pages, of the names under `key`."""
    return f"{kernel}/elsewhere/{key}.md"


def elsewhere_url(kernel: str, name: str) -> str:
    """The page that tells where `name` is defined when its file has no page (its anchor: the name)."""
    return f"{kernel}/elsewhere/{elsewhere_key(name)}/"


def changes_uri(kernel: str) -> str:
    """The "What changed in KERNEL" page (against the site's default kernel)."""
    return f"{kernel}/changes.md"


def changes_url(kernel: str) -> str:
    return f"{kernel}/changes/"
