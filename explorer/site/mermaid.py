"""mermaid, bundled into the site so that diagrams work offline.

`npm pack mermaid@VERSION` fetches the package from the npm registry once; its
self-contained ``dist/mermaid.min.js`` is kept in the cache outside the checkout
(``~/.cache/kernel-explorer/npm/mermaid-VERSION/``) and copied into the site's assets.
mkdocs-material uses a ``mermaid`` already on the page instead of loading it from a CDN.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from ..config import cache_dir


class MermaidError(Exception):
    """mermaid is not cached and could not be fetched; the message says what to do."""


def mermaid_path(version: str) -> Path:
    return cache_dir() / "npm" / f"mermaid-{version}" / "mermaid.min.js"


def ensure_mermaid(version: str) -> Path:
    target = mermaid_path(version)
    if target.is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise MermaidError(
            "diagrams need mermaid from the npm registry, and npm is not installed: "
            "install Debian's `npm` (make setup does), or set `mermaid: false` for the plugin"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent.parent) as tmp:
        result = subprocess.run(
            [npm, "pack", f"mermaid@{version}", "--pack-destination", tmp, "--silent"],
            capture_output=True, text=True, cwd=tmp, timeout=300,
        )
        tarballs = list(Path(tmp).glob("mermaid-*.tgz"))
        if result.returncode != 0 or not tarballs:
            raise MermaidError(f"`npm pack mermaid@{version}` failed: {result.stderr.strip()[-400:]}")
        with tarfile.open(tarballs[0]) as tar:
            members = {m.name: m for m in tar.getmembers()}
            for name, dest in (("package/dist/mermaid.min.js", target), ("package/LICENSE", target.with_name("LICENSE"))):
                member = members.get(name)
                if member is None or not member.isfile():
                    if dest is target:
                        raise MermaidError(f"mermaid@{version} has no {name}")
                    continue
                src = tar.extractfile(member)
                assert src is not None
                partial = dest.with_suffix(".part")
                partial.write_bytes(src.read())
                partial.replace(dest)
    return target
