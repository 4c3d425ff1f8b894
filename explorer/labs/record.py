"""`kexplore lab record`: run the labs with the settings the site shows, one JSON file per lab.

The files (default build/labs/LAB.json, git-ignored) are what `explorer.labs.render` embeds
in the site's lab pages.  Each holds:

    {"lab": NAME, "recorded_at": ISO-8601 UTC, "kernel": running release, "root": bool,
     "skipped": null or why, "runs": [{"title", "command", "result": <the lab's --json>}]}

In Python that is `explorer.labs.results.LabRecord`; `load_results` reads a file back into
one, and says in one line (`ResultsDamaged`) what is wrong with a file it cannot read.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import PACKAGE_ROOT, Project
from . import LABS, LabError, lab_info
from .code import KernelCode
from .observe import kernel_release, read_sysctl
from .results import (
    AcceptQueueSettings,
    FinalAckSettings,
    LabRecord,
    LabSettings,
    PortsSettings,
    RecordedRun,
    ResultsDamaged,
    ReuseportSettings,
    SynQueueSettings,
    load_record,
)

DEFAULT_OUT = PACKAGE_ROOT / "build" / "labs"
MAX_RESULTS_BYTES = 16 * 1024 * 1024  # a recorded file is a few kB; anything this large is not one


@dataclass(frozen=True)
class Recording:
    """One run the site shows: its title and the lab's settings (which also give the CLI command)."""

    title: str
    settings: LabSettings

    def command(self, lab: str) -> str:
        prefix = "sudo " if self.settings.needs_root else ""
        return f"{prefix}kexplore lab {lab} {self.settings.flags()}".strip()


def recordings(lab: str, root: bool) -> list[Recording]:
    """The runs recorded for `lab`; with root the accept-queue lab uses a private namespace (clean counters)."""
    if lab == "accept-queue":
        if root:
            return [
                Recording("backlog 4, nine clients", AcceptQueueSettings(backlog=4, clients=9, private_netns=True)),
                Recording(
                    "backlog 100 with net.core.somaxconn = 8: clamped",
                    AcceptQueueSettings(backlog=100, clients=12, private_netns=True, somaxconn=8),
                ),
                Recording("IPv6: backlog 4, nine clients on ::1", AcceptQueueSettings(backlog=4, clients=9, private_netns=True, ipv6=True)),
                Recording(
                    "v4-mapped: an IPv6 listener, backlog 4, nine IPv4 clients",
                    AcceptQueueSettings(backlog=4, clients=9, private_netns=True, v4_mapped=True),
                ),
            ]
        above = read_sysctl("net.core.somaxconn") + 100
        return [
            Recording("backlog 4, nine clients", AcceptQueueSettings(backlog=4, clients=9)),
            Recording(f"backlog {above}: above net.core.somaxconn, clamped", AcceptQueueSettings(backlog=above, clients=8)),
            Recording("IPv6: backlog 4, nine clients on ::1", AcceptQueueSettings(backlog=4, clients=9, ipv6=True)),
            Recording("v4-mapped: an IPv6 listener, backlog 4, nine IPv4 clients", AcceptQueueSettings(backlog=4, clients=9, v4_mapped=True)),
        ]
    if lab == "syn-queue":
        return [
            Recording("backlog 16, 64 SYNs", SynQueueSettings(backlog=16, syns=64)),
            Recording(
                "backlog 256, 400 SYNs, tcp_max_syn_backlog 128: the last quarter rule",
                SynQueueSettings(backlog=256, syns=400, max_syn_backlog=128),
            ),
            Recording("IPv6: backlog 16, 64 SYNs to ::1", SynQueueSettings(backlog=16, syns=64, ipv6=True)),
        ]
    if lab == "final-ack":
        return [
            Recording("tcp_abort_on_overflow = 0: the final ACK is dropped, and retried", FinalAckSettings(backlog=2, clients=3, abort_on_overflow=0)),
            Recording("tcp_abort_on_overflow = 1: the client gets a reset", FinalAckSettings(backlog=2, clients=3, abort_on_overflow=1)),
            Recording(
                "tcp_abort_on_overflow = 0, clients with nothing to send: the ACK of a retransmitted SYN-ACK",
                FinalAckSettings(backlog=2, clients=3, abort_on_overflow=0, no_data=True),
            ),
            Recording(
                "Fast Open: TCP_FASTOPEN 2, four clients send data in their SYN",
                FinalAckSettings(clients=4, fastopen=2),
            ),
        ]
    if lab == "reuseport":
        return [
            Recording("four listeners, 64 connections", ReuseportSettings(listeners=4, clients=64)),
            Recording("two listeners, 200 connections", ReuseportSettings(listeners=2, clients=200)),
            Recording(
                "closing listener 1 with tcp_migrate_req = 0: its connections are reset",
                ReuseportSettings(listeners=3, clients=8, close_first=True, migrate_req=0, pending=2),
            ),
            Recording(
                "closing listener 1 with tcp_migrate_req = 1: its connections move to the others",
                ReuseportSettings(listeners=3, clients=8, close_first=True, migrate_req=1, pending=2),
            ),
        ]
    if lab == "ports":
        return [
            Recording("eight ports, two destinations, and ICMP errors in SYN-SENT", PortsSettings(ports=8, icmp=True)),
            Recording("TIME-WAIT with tcp_tw_reuse = 2 (loopback): taken over", PortsSettings(ports=4, tw_reuse=2)),
            Recording("TIME-WAIT with tcp_tw_reuse = 0: EADDRNOTAVAIL", PortsSettings(ports=4, tw_reuse=0)),
        ]
    raise KeyError(lab)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def record_lab(project: Project, lab: str, *, kernel: str | None = None) -> LabRecord:
    """Run `lab`'s recordings; a lab that needs root is recorded as skipped without it."""
    info = lab_info(lab)
    root = os.geteuid() == 0
    data = LabRecord(lab=lab, recorded_at=_now(), kernel=kernel_release(), root=root)
    if info.needs_root and not root:
        return dataclasses.replace(
            data, skipped="recorded without root: this lab needs root (a network namespace of its own, with sysctls or nftables rules inside it)"
        )
    with KernelCode(project, kernel) as code:
        try:
            runs = _record_runs(lab, code, root)
        except LabError:
            if not root or info.needs_root:
                raise
            # root, but no namespaces here (a container): record in this namespace instead
            runs = _record_runs(lab, code, False)
    return dataclasses.replace(data, runs=runs)


def _record_runs(lab: str, code: KernelCode, root: bool) -> tuple[RecordedRun, ...]:
    return tuple(RecordedRun(rec.title, rec.command(lab), rec.settings.run(code)) for rec in recordings(lab, root))


def record_labs(project: Project, out: Path | None = None, *, kernel: str | None = None) -> dict[str, Path]:
    """Record every lab into OUT/LAB.json (default build/labs/); return the files written."""
    out = out or DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for info in LABS:
        try:
            data = record_lab(project, info.name, kernel=kernel)
        except (LabError, OSError) as exc:  # a lab that cannot run here is recorded as skipped, with why
            data = LabRecord(lab=info.name, recorded_at=_now(), kernel=kernel_release(), root=os.geteuid() == 0, skipped=str(exc))
        path = out / f"{info.name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(data), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
        written[info.name] = path
    return written


def results_path(directory: Path | None, lab: str) -> Path:
    return (directory or DEFAULT_OUT) / f"{lab}.json"


def load_results(directory: Path | None, lab: str) -> LabRecord | None:
    """The recorded results of `lab` in DIRECTORY (default build/labs/), or None when none were recorded.

    Raises ResultsDamaged, one line naming the file and what is wrong, for a file that is
    there but is not what `kexplore lab record` writes (damaged, truncated, another lab's,
    or from a version whose results had another shape).
    """
    path = results_path(directory, lab)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_RESULTS_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ResultsDamaged(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        if len(raw) > MAX_RESULTS_BYTES:
            raise ResultsDamaged(f"larger than {MAX_RESULTS_BYTES // (1024 * 1024)} MB")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise ResultsDamaged(f"not JSON ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        record = load_record(data)
        if record.lab != lab:
            raise ResultsDamaged(f"holds the results of {record.lab!r}, not {lab!r}")
    except ResultsDamaged as exc:
        raise ResultsDamaged(f"{path}: {exc}; record the labs again with `kexplore lab record`") from None
    return record
