"""One vendor or index run per kernel at a time, and which temporaries belong to a run that is gone.

`kernel_run_lock` takes an exclusive lock on ``kernel-snippets/.NAME.run-lock``.
The kernel releases it when the holder exits, however it exits (even on SIGKILL), so a
crashed run never leaves a stale lock.  It is a POSIX record lock (``fcntl.lockf``)
rather than ``flock``: an flock is shared with forked children, so the indexer's
worker processes, orphaned by a killed run, would go on holding it; a record lock
belongs to the process that took it alone.  The holder writes its pid and command into the
file, so that a second run can say whom it waits for; it waits up to a timeout
(``$KEXPLORE_LOCK_TIMEOUT`` seconds, default 600), then fails naming the holder.

Temporaries carry their owner's pid in their names (``.tmp-NAME-pidPID-*``); `owner_gone`
tells whether that process still runs.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .progress import note

DEFAULT_TIMEOUT = 600.0
_POLL = 0.1


class RunLockBusy(Exception):
    """Another run holds the kernel's lock and did not finish in time; the message names it."""


def lock_file(snippets: Path, kernel: str) -> Path:
    return snippets / f".{kernel}.run-lock"


def _timeout() -> float:
    try:
        return max(0.0, float(os.environ.get("KEXPLORE_LOCK_TIMEOUT", DEFAULT_TIMEOUT)))
    except ValueError:
        return DEFAULT_TIMEOUT


def _holder(fd: int) -> str:
    """Who holds the lock, as its holder wrote it ("pid 123 (kexplore index)")."""
    raw = os.pread(fd, 200, 0).decode("ascii", "replace").split()
    if len(raw) >= 2 and raw[0].isdigit():
        return f"pid {raw[0]} (kexplore {raw[1]})"
    return "another process"


@contextmanager
def kernel_run_lock(snippets: Path, kernel: str, command: str, timeout: float | None = None) -> Iterator[None]:
    """Hold the kernel's run lock for the block; wait for another holder up to `timeout` seconds."""
    path = lock_file(snippets, kernel)
    snippets.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline: float | None = None
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except (BlockingIOError, PermissionError):  # EAGAIN or EACCES: another process holds it
                now = time.monotonic()
                if deadline is None:
                    wait = _timeout() if timeout is None else timeout
                    deadline = now + wait
                    note(f"{kernel}: waiting up to {wait:g} s for {_holder(fd)}, which is vendoring or indexing it")
                if now >= deadline:
                    raise RunLockBusy(
                        f"{kernel} is busy: {_holder(fd)} holds {path.name}; rerun when it has finished"
                    ) from None
                time.sleep(_POLL)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def pid_tag() -> str:
    """What a temporary's name carries to say which process owns it."""
    return f"pid{os.getpid()}"


_TAGGED = re.compile(r"pid(\d+)(?:-[^-]*)?")
_UNTAGGED = re.compile(r"[^-]+")


def owner_gone(name: str, prefix: str) -> bool:
    """Whether the temporary `name` (``PREFIX pidN`` or ``PREFIX pidN-random``) belongs to a process that is gone.

    Only names of this exact shape are considered: ``.tmp-linux-6.1-rc-...`` is not a
    temporary of ``linux-6.1``.  A name with no pid (``PREFIX random``) comes from an
    older kexplore, before temporaries carried one: it is called gone too, since the
    caller holds the kernel's run lock and so no run of this kernel owns it.
    """
    if not name.startswith(prefix):
        return False
    rest = name[len(prefix):]
    tagged = _TAGGED.fullmatch(rest)
    if tagged:
        pid = int(tagged.group(1))
        return pid != os.getpid() and not pid_alive(pid)
    return _UNTAGGED.fullmatch(rest) is not None


def disk_error(exc: OSError) -> str:
    """An OSError as one line: what the system said, and about which file ("No space left on device: /x")."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    where = exc.filename2 if exc.filename2 is not None else exc.filename
    return f"{reason}: {where}" if where is not None else reason
