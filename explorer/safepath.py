"""Names from outside (tarball members, lock files, kernels.toml) as plain relative paths, or refused.

Kept free of heavy imports: the lock file reader, and so the CLI's lookups, import it.
"""

from __future__ import annotations

import re

# control characters, DEL, and the lone surrogates that stand for bytes that are not UTF-8
_REFUSED_CHARACTER = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def clean_parts(name: str) -> list[str] | None:
    """The components of a relative POSIX path, or None when it is not a plain relative name.

    Absolute names, ``..`` anywhere, control characters and names that are not UTF-8
    (decoded with surrogates, as tarfile and os do) are refused; ``.`` and empty
    components (``./linux/net//x.c``) are dropped.
    """
    if name.startswith("/") or _REFUSED_CHARACTER.search(name):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None
    return parts


def is_clean(name: str) -> bool:
    """Whether name is already a plain relative path: not empty, and normalising changes nothing."""
    parts = clean_parts(name)
    return bool(parts) and "/".join(parts or ()) == name
