"""kernel-explorer: an annotated, cross-referenced Linux kernel source explorer."""

from __future__ import annotations

__version__ = "0.1.0"
