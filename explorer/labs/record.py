"""`kexplore lab record`: run the labs with the settings the site shows, one JSON file per lab.

The files (default build/labs/LAB.json, git-ignored) are what `explorer.labs.render` embeds
in the site's lab pages.  Each holds:

    {"lab": NAME, "recorded_at": ISO-8601 UTC, "kernel": running release, "root": bool,
     "skipped": null or why, "runs": [{"title", "command", "result": <the lab's --json>}]}
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import PACKAGE_ROOT, Project
from . import LABS, LabError
from .code import KernelCode
from .observe import kernel_release, read_sysctl

DEFAULT_OUT = PACKAGE_ROOT / "build" / "labs"


@dataclass(frozen=True)
class Recording:
    """One run the site shows: its title, the lab's keyword arguments, the CLI command that repeats it."""

    title: str
    kwargs: dict[str, object] = field(default_factory=dict)
    flags: str = ""


def recordings(lab: str, root: bool) -> list[Recording]:
    """The runs recorded for `lab`; with root the accept-queue lab uses a private namespace (clean counters)."""
    if lab == "accept-queue":
        if root:
            return [
                Recording("backlog 4, nine clients", {"backlog": 4, "clients": 9, "private_netns": True}, "--netns --backlog 4 --clients 9"),
                Recording(
                    "backlog 100 with net.core.somaxconn = 8: clamped",
                    {"backlog": 100, "clients": 12, "private_netns": True, "somaxconn": 8},
                    "--netns --somaxconn 8 --backlog 100 --clients 12",
                ),
            ]
        above = read_sysctl("net.core.somaxconn") + 100
        return [
            Recording("backlog 4, nine clients", {"backlog": 4, "clients": 9}, "--backlog 4 --clients 9"),
            Recording(f"backlog {above}: above net.core.somaxconn, clamped", {"backlog": above, "clients": 8}, f"--backlog {above} --clients 8"),
        ]
    if lab == "syn-queue":
        return [
            Recording("backlog 16, 64 SYNs", {"backlog": 16, "syns": 64}, "--backlog 16 --syns 64"),
            Recording(
                "backlog 256, 400 SYNs, tcp_max_syn_backlog 128: the last quarter rule",
                {"backlog": 256, "syns": 400, "max_syn_backlog": 128},
                "--backlog 256 --syns 400 --max-syn-backlog 128",
            ),
        ]
    raise KeyError(lab)


def _run(lab: str, code: KernelCode, kwargs: dict[str, object]) -> dict[str, object]:
    if lab == "accept-queue":
        from .accept_queue import accept_queue_lab

        return accept_queue_lab(code=code, **kwargs)  # type: ignore[arg-type]
    from .syn_queue import syn_queue_lab

    return syn_queue_lab(code=code, **kwargs)  # type: ignore[arg-type]


def record_lab(project: Project, lab: str, *, kernel: str | None = None) -> dict[str, object]:
    """Run `lab`'s recordings; a lab that needs root is recorded as skipped without it."""
    info = next(item for item in LABS if item.name == lab)
    root = os.geteuid() == 0
    data: dict[str, object] = {
        "lab": lab,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kernel": kernel_release(),
        "root": root,
        "skipped": None,
        "runs": [],
    }
    if info.needs_root and not root:
        data["skipped"] = "recorded without root: this lab needs root (a network namespace, sysctls, nftables, raw SYNs)"
        return data
    with KernelCode(project, kernel) as code:
        try:
            data["runs"] = _record_runs(lab, code, root, info.needs_root)
        except LabError:
            if not root or info.needs_root:
                raise
            # root, but no namespaces here (a container): record in this namespace instead
            data["runs"] = _record_runs(lab, code, False, info.needs_root)
    return data


def _record_runs(lab: str, code: KernelCode, root: bool, needs_root: bool) -> list[dict[str, object]]:
    runs = []
    for rec in recordings(lab, root):
        prefix = "sudo " if needs_root or rec.kwargs.get("private_netns") else ""
        runs.append(
            {
                "title": rec.title,
                "command": f"{prefix}kexplore lab {lab} {rec.flags}".strip(),
                "result": _run(lab, code, rec.kwargs),
            }
        )
    return runs


def record_labs(project: Project, out: Path | None = None, *, kernel: str | None = None) -> dict[str, Path]:
    """Record every lab into OUT/LAB.json (default build/labs/); return the files written."""
    out = out or DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for info in LABS:
        try:
            data = record_lab(project, info.name, kernel=kernel)
        except (LabError, OSError) as exc:  # a lab that cannot run here is recorded as skipped, with why
            data = {"lab": info.name, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "kernel": kernel_release(), "root": os.geteuid() == 0, "skipped": str(exc), "runs": []}
        path = out / f"{info.name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
        written[info.name] = path
    return written


def load_results(directory: Path | None, lab: str) -> dict[str, object] | None:
    """The recorded results of `lab` in DIRECTORY (default build/labs/), or None when none were recorded."""
    path = (directory or DEFAULT_OUT) / f"{lab}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
