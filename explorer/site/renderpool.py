"""Source pages highlighted in worker processes while MkDocs reads the hand-written pages.

No MkDocs here.  The workers are forked after the index is loaded, so they share the
`SiteIndex` without pickling it; each returns a `RenderedSource`.  The results are kept
(keyed by the file's stat, the index stamp and the symbol pages), so that under
`mkdocs serve` a rebuild renders only what changed.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.pool import Pool

from .links import SiteIndex
from .pages import LinkContext, RenderedSource, render_source_page

# Below this many pages, forking workers costs more than it saves.
_MIN_PARALLEL = 40

# Worker state, inherited through fork() by the pool (set just before the fork).
_WORKER: tuple[SiteIndex, LinkContext] | None = None


def _render_worker(path: str) -> RenderedSource:
    assert _WORKER is not None
    site, ctx = _WORKER
    return render_source_page(site, ctx, path)


@dataclass(frozen=True)
class RenderJob:
    """The source pages of one build and how their links go."""

    site: SiteIndex
    link_context: LinkContext
    paths: tuple[str, ...]  # files of the source pages built in this build
    jobs: int = 0  # worker processes; 0 means one per core


RenderKey = tuple[int, int, tuple[int, int], frozenset[str]]


class RenderPool:
    """Renders the source pages of a build in the background; `result(path)` waits for one."""

    def __init__(self) -> None:
        self._rendered: dict[str, tuple[RenderKey, RenderedSource]] = {}
        self._job: RenderJob | None = None
        self._todo: set[str] = set()
        self._pending: Iterator[RenderedSource] | None = None
        self._pool: Pool | None = None
        self._refs: dict[str, dict[str, Sequence[int]]] | None = None
        self._folded: dict[str, dict[str, array[int]]] = {}  # the references of released pages
        self._released: set[str] = set()
        self.waited = 0.0  # seconds spent waiting for results in this build

    def forget(self) -> None:
        """Drop every kept result (the index changed)."""
        self._rendered.clear()

    def start(self, job: RenderJob) -> None:
        global _WORKER
        self.close()
        for path in self._released:  # a released page kept its references only: never reuse its empty HTML
            self._rendered.pop(path, None)
        self._job = job
        self._refs = None
        self._folded = {}
        self._released = set()
        self.waited = 0.0
        todo = []
        for path in job.paths:
            cached = self._rendered.get(path)
            if cached is None or cached[0] != self._key(path):
                todo.append(path)
        self._todo = set(todo)
        if not todo:
            self._pending = None
            return
        jobs = job.jobs or os.cpu_count() or 1
        if jobs <= 1 or len(todo) < _MIN_PARALLEL:
            self._pending = (render_source_page(job.site, job.link_context, p) for p in todo)
            return
        _WORKER = (job.site, job.link_context)
        self._pool = multiprocessing.get_context("fork").Pool(jobs)
        _WORKER = None
        self._pending = self._pool.imap(_render_worker, todo, chunksize=4)

    def result(self, path: str) -> RenderedSource:
        started = time.perf_counter()
        try:
            return self._wait_for(path)
        finally:
            self.waited += time.perf_counter() - started

    def refs(self) -> dict[str, dict[str, Sequence[int]]]:
        """name → path → lines of its uses, over every source page of the job (waits for the renders)."""
        if self._refs is None:
            refs: dict[str, dict[str, Sequence[int]]] = {name: dict(by_path) for name, by_path in self._folded.items()}
            for path in self._job.paths if self._job is not None else ():
                if path in self._released:
                    continue
                for target, line in self.result(path).refs:
                    lines = refs.setdefault(target, {}).setdefault(path, [])
                    assert isinstance(lines, list)
                    lines.append(line)
            self._refs = refs
            self._folded = {}
            self.close()
        return self._refs

    def release(self, path: str) -> None:
        """Forget a page that has been written, in a build that is not served: its HTML is dropped and
        its references are folded into compact arrays (a tuple per use would cost more than the HTML)."""
        cached = self._rendered.get(path)
        if cached is None or path in self._released:
            return
        for target, line in cached[1].refs:
            by_path = self._folded.get(target)
            if by_path is None:
                by_path = self._folded[target] = {}
            lines = by_path.get(path)
            if lines is None:
                lines = by_path[path] = array("I")
            lines.append(line)
        self._rendered[path] = (cached[0], RenderedSource(path, "", []))
        self._released.add(path)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def _key(self, path: str) -> RenderKey:
        assert self._job is not None
        st = (self._job.site.tree / path).stat()
        return (st.st_mtime_ns, st.st_size, self._job.site.stamp, self._job.link_context.symbol_pages)

    def _wait_for(self, path: str) -> RenderedSource:
        cached = self._rendered.get(path)
        if cached is not None and path not in self._todo:
            return cached[1]
        while self._pending is not None:
            try:
                done = next(self._pending)
            except StopIteration:
                self._pending = None
                break
            self._rendered[done.path] = (self._key(done.path), done)
            self._todo.discard(done.path)
            if done.path == path:
                return done
        cached = self._rendered.get(path)
        if cached is None:
            raise LookupError(f"{path} was not rendered")
        return cached[1]
