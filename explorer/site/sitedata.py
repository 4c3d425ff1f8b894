"""The JSON the pages' scripts load on demand: file names, name shards (hover cards, search),
reference shards.  No MkDocs here.

`DataWriter` keeps what it wrote last: the references depend on the index only, the names
also on the annotations and the symbol pages; under `mkdocs serve` a rebuild rewrites only
the files whose content changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..annotations import Annotation
from .links import SiteDefinition, SiteIndex
from .pages import REF_SHARDS, names_data, refs_data, shard_of_name

RefsByName = dict[str, dict[str, Sequence[int]]]  # name → path → lines of its uses


@dataclass(frozen=True)
class SiteData:
    """What the data files are made from."""

    site: SiteIndex
    symbol_pages: frozenset[str]
    notes: Mapping[str, Annotation]
    elsewhere: frozenset[str] = frozenset()  # the names the "defined elsewhere" pages list
    shards: tuple[str, ...] | None = None  # the names shards written (None: all there are)


def name_shards(names: Iterable[str]) -> list[str]:
    """The keys of the names shards of `names` (the pages' script is told them in config.js)."""
    return sorted({shard_of_name(n) for n in names})


def data_paths(site: SiteIndex, defs: Mapping[str, list[SiteDefinition]]) -> list[str]:
    """files.json: the files with pages first (their ids are below the count config.js gives), then
    the other files that definitions of the data are in."""
    pages = sorted(site.page_paths())
    have = set(pages)
    others = sorted({d.path for found in defs.values() for d in found if d.path not in have})
    return pages + others


def refs_files(paths: list[str], refs: RefsByName) -> dict[str, bytes]:
    """files.json (`paths`) and the reference shards (file ids: positions in `paths`)."""
    file_ids = {p: i for i, p in enumerate(paths)}
    files = {"files.json": json.dumps(paths, separators=(",", ":")).encode()}
    ref_shards = refs_data(refs, file_ids)
    for shard in range(REF_SHARDS):
        files[f"refs/{shard}.json"] = ref_shards.get(shard, b"{}")
    return files


def remap_refs(files: Mapping[str, bytes], paths: list[str]) -> dict[str, bytes]:
    """`refs_files` output made for other paths, renumbered for `paths` (a file no longer listed drops out)."""
    old = json.loads(files["files.json"])
    new_ids = {p: i for i, p in enumerate(paths)}
    move = {str(i): new_ids.get(p) for i, p in enumerate(old)}
    out = {"files.json": json.dumps(paths, separators=(",", ":")).encode()}
    for rel, blob in files.items():
        if rel == "files.json":
            continue
        shard = json.loads(blob)
        out[rel] = json.dumps({name: {str(move[f]): lines for f, lines in by_file.items() if move.get(f) is not None}
                               for name, by_file in shard.items()}, separators=(",", ":")).encode()
    return out


def names_key(data: SiteData) -> tuple[object, ...]:
    """What the names shards are made from besides the index."""
    return (sorted(data.symbol_pages), sorted((n, a.summary(300)) for n, a in data.notes.items()),
            sorted(data.elsewhere), data.shards)


def names_files(data: SiteData, defs: Mapping[str, list[SiteDefinition]], file_ids: Mapping[str, int]) -> dict[str, bytes]:
    """The names shards of the definitions `defs` (`SiteIndex.data_definitions`)."""
    site = data.site
    index = site.index()
    ops_targets = index.ops_targets({n for n, found in defs.items() if any(d.kind == "member" for d in found)})
    kernel_docs = {(name, path, line): summary for name, path, line, summary in index.doc_summaries() if name in defs}
    shards = names_data(site, dict(defs), dict(file_ids), data.symbol_pages, dict(data.notes), ops_targets, kernel_docs)
    keys = data.shards if data.shards is not None else sorted(shards)
    return {f"names/{k}.json": shards.get(k, b"[]") for k in keys}


class DataWriter:
    """Writes the data files of a build into one folder, skipping those unchanged since the last build."""

    def __init__(self) -> None:
        self._written: dict[str, bytes] = {}  # relative path → content written by the last build
        self._refs: tuple[object, dict[str, bytes]] | None = None
        self._names: tuple[object, dict[str, bytes]] | None = None
        self._paths: list[str] | None = None

    def write(self, data: SiteData, refs: Callable[[], RefsByName], home: Path) -> None:
        """Write the files into `home`; `refs()` (which may wait for the source pages) is called only
        when the index changed since the last build."""
        site = data.site
        key = (site.stamp, names_key(data))
        defs = site.data_definitions(data.elsewhere) if self._names is None or self._names[0] != key else {}
        paths = data_paths(site, defs) if defs or self._paths is None else self._paths
        self._paths = paths
        if self._refs is None or self._refs[0] != (site.stamp, tuple(paths)):
            self._refs = ((site.stamp, tuple(paths)), refs_files(paths, refs()))
        if self._names is None or self._names[0] != key:
            self._names = (key, names_files(data, defs, {p: i for i, p in enumerate(paths)}))
        (home / "names").mkdir(parents=True, exist_ok=True)
        (home / "refs").mkdir(parents=True, exist_ok=True)
        for rel, blob in {**self._refs[1], **self._names[1]}.items():
            if self._written.get(rel) is blob and (home / rel).exists():
                continue  # unchanged since the last build
            (home / rel).write_bytes(blob)
            self._written[rel] = blob
