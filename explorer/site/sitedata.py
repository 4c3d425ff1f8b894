"""The JSON the pages' scripts load on demand: file names, name shards (hover cards, search),
reference shards.  No MkDocs here.

`DataWriter` keeps what it wrote last: the references depend on the index only, the names
also on the annotations and the symbol pages; under `mkdocs serve` a rebuild rewrites only
the files whose content changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..annotations import Annotation
from .links import SiteIndex
from .pages import REF_SHARDS, names_data, refs_data, shard_of_name

RefsByName = dict[str, dict[str, list[int]]]  # name → path → lines of its uses


@dataclass(frozen=True)
class SiteData:
    """What the data files are made from."""

    site: SiteIndex
    symbol_pages: frozenset[str]
    notes: Mapping[str, Annotation]


def refs_files(site: SiteIndex, refs: RefsByName) -> dict[str, bytes]:
    """files.json and the reference shards: they depend on the index only."""
    file_ids = {p: i for i, p in enumerate(site.files)}
    files = {"files.json": json.dumps(list(site.files), separators=(",", ":")).encode()}
    ref_shards = refs_data(refs, file_ids)
    for shard in range(REF_SHARDS):
        files[f"refs/{shard}.json"] = ref_shards.get(shard, b"{}")
    return files


def names_files(data: SiteData) -> dict[str, bytes]:
    """The names shards: they depend on the index, the symbol pages and the annotations."""
    site = data.site
    file_ids = {p: i for i, p in enumerate(site.files)}
    with site.open() as index:
        ops_targets = index.ops_targets()
    shards = names_data(site, file_ids, data.symbol_pages, dict(data.notes), ops_targets)
    return {f"names/{k}.json": shards.get(k, b"[]") for k in name_shards(site)}


def names_key(data: SiteData) -> tuple[object, ...]:
    """What `names_files` depends on besides the index."""
    return (sorted(data.symbol_pages), sorted((n, a.summary(300)) for n, a in data.notes.items()))


def name_shards(site: SiteIndex) -> list[str]:
    """The keys of the names shards (the pages' script is told them in config.js)."""
    return sorted({shard_of_name(n) for n in site.defs})


class DataWriter:
    """Writes the data files of a build into one folder, skipping those unchanged since the last build."""

    def __init__(self) -> None:
        self._written: dict[str, bytes] = {}  # relative path → content written by the last build
        self._refs: tuple[object, dict[str, bytes]] | None = None
        self._names: tuple[object, dict[str, bytes]] | None = None

    def write(self, data: SiteData, refs: Callable[[], RefsByName], home: Path) -> None:
        """Write the files into `home`; `refs()` (which may wait for the source pages) is called only
        when the index changed since the last build."""
        site = data.site
        if self._refs is None or self._refs[0] != site.stamp:
            self._refs = (site.stamp, refs_files(site, refs()))
        key = (site.stamp, names_key(data))
        if self._names is None or self._names[0] != key:
            self._names = (key, names_files(data))
        (home / "names").mkdir(parents=True, exist_ok=True)
        (home / "refs").mkdir(parents=True, exist_ok=True)
        for rel, blob in {**self._refs[1], **self._names[1]}.items():
            if self._written.get(rel) is blob and (home / rel).exists():
                continue  # unchanged since the last build
            (home / rel).write_bytes(blob)
            self._written[rel] = blob
