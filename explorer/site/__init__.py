"""The published site: a MkDocs plugin (`kernel-explorer`) over the index.

Public surface: `KernelExplorerPlugin` (registered as the `mkdocs.plugins` entry point
`kernel-explorer`).  The commentary syntax is documented in `explorer.site.markdown` and
in docs/commentary.md.
"""

from __future__ import annotations

from .plugin import KernelExplorerPlugin, PluginConfig

__all__ = ["KernelExplorerPlugin", "PluginConfig"]
