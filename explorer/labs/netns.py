"""A private network namespace for one lab run: created, entered, and always removed.

`PrivateNetns` wraps `ip netns add/del` (iproute2) and setns(2): the calling thread enters
the namespace for the sockets it creates there, and leaves it before the namespace is
deleted.  Deletion happens in `__exit__`, so an exception, Ctrl-C (KeyboardInterrupt) or
SIGTERM (turned into an exception by `signals_raise`) all remove it.  Names carry the
owner's pid, so a namespace left by a killed run (SIGKILL) is removed by the next run.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import LabError

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")
PREFIX = "kexplore-lab-"
_COMMAND_TIMEOUT = 20.0


class Terminated(Exception):
    """SIGTERM arrived while a lab was running."""


@contextmanager
def signals_raise() -> Iterator[None]:
    """Turn SIGTERM (and SIGHUP) into an exception for the duration, so `finally` blocks run."""

    def _raise(signum: int, frame: object) -> None:
        raise Terminated(signal.Signals(signum).name)

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, _raise)
        except ValueError:  # not the main thread: leave signals alone
            pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _setns(fd: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise LabError(f"`{name}` is not installed: install Debian's {package} package (apt-get install {package})", exit_code=1)
    return path


def require_root(lab: str, why: str) -> None:
    """Refuse (exit 2) to run `lab` without root, saying what it needs root for."""
    if os.geteuid() != 0:
        raise LabError(
            f"the {lab} lab needs root: {why}. Run it as root (sudo kexplore lab {lab}); nothing outside "
            "the lab's own network namespace is touched.",
            exit_code=2,
        )


def run(argv: list[str], *, stdin: str | None = None) -> str:
    """Run a command with a time limit; raise LabError with its stderr when it fails."""
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=_COMMAND_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise LabError(f"`{' '.join(argv)}` did not finish in {_COMMAND_TIMEOUT:.0f} s", exit_code=1) from None
    if done.returncode != 0:
        raise LabError(f"`{' '.join(argv)}` failed: {done.stderr.strip() or done.returncode}", exit_code=1)
    return done.stdout


def remove_stale() -> list[str]:
    """Delete namespaces this program made in runs whose process no longer exists."""
    removed: list[str] = []
    if not NETNS_DIR.is_dir():
        return removed
    for entry in NETNS_DIR.iterdir():
        if not entry.name.startswith(PREFIX):
            continue
        pid_text = entry.name[len(PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit() or Path(f"/proc/{pid_text}").exists():
            continue
        subprocess.run(["ip", "netns", "del", entry.name], capture_output=True, timeout=_COMMAND_TIMEOUT, check=False)
        removed.append(entry.name)
    return removed


class PrivateNetns:
    """`with PrivateNetns() as ns:` a fresh namespace with lo up; `with ns.entered():` inside it."""

    def __init__(self) -> None:
        self.name = f"{PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
        self._created = False

    def __enter__(self) -> PrivateNetns:
        if os.geteuid() != 0:
            raise LabError("a private network namespace needs root", exit_code=2)
        require_tool("ip", "iproute2")
        remove_stale()
        self._created = True  # before `add`: an interrupt right after it must still delete it
        try:
            run(["ip", "netns", "add", self.name])
            run(["ip", "-n", self.name, "link", "set", "lo", "up"])
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._created:
            self._created = False
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=_COMMAND_TIMEOUT, check=False)

    @contextmanager
    def entered(self) -> Iterator[None]:
        """The calling thread's network namespace is this one inside the block.

        Sockets created inside keep belonging to this namespace after the block.
        """
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            target = os.open(NETNS_DIR / self.name, os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(target)
            finally:
                os.close(target)
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(home)

    def exec(self, argv: list[str], *, stdin: str | None = None) -> str:
        """Run a command inside the namespace (`ip netns exec`)."""
        return run(["ip", "netns", "exec", self.name, *argv], stdin=stdin)
