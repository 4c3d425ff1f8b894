"""Progress on long work: a rich progress bar on a terminal, silence when piped."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # rich is imported only when a bar is drawn
    from rich.console import Console
    from rich.progress import Progress, TaskID


class Reporter(Protocol):
    def advance(self, amount: int = 1) -> None: ...
    def update(self, completed: int, description: str | None = None) -> None: ...


class _Silent:
    def advance(self, amount: int = 1) -> None:
        pass

    def update(self, completed: int, description: str | None = None) -> None:
        pass


class _Bar:
    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def advance(self, amount: int = 1) -> None:
        self._progress.advance(self._task, amount)

    def update(self, completed: int, description: str | None = None) -> None:
        if description is None:
            self._progress.update(self._task, completed=completed)
        else:
            self._progress.update(self._task, completed=completed, description=description)


def on_terminal() -> bool:
    return sys.stderr.isatty()


@contextmanager
def progress(description: str, total: int | None, enabled: bool | None = None) -> Iterator[Reporter]:
    """Yield a reporter; draws on stderr only when it is a terminal (or `enabled` is True)."""
    if enabled is None:
        enabled = on_terminal()
    if not enabled:
        yield _Silent()
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
        console=_stderr_console(),
    ) as bar:
        task = bar.add_task(description, total=total)
        yield _Bar(bar, task)


def _stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def note(message: str) -> None:
    """A line of status on stderr (kept off stdout so --json output stays clean)."""
    print(message, file=sys.stderr)
