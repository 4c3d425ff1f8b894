"""What the benchmarks share: where things are, timing, a scratch copy of the kernel tree, results.

Kept to the standard library.  The benchmarks run the project the way a user does (the
`kexplore` console script of the venv, in subprocesses) and never modify
kernel-snippets/: anything that writes an index works on a scratch copy.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SNIPPETS = ROOT / "kernel-snippets"
KERNEL = "linux-6.1"
TREE = SNIPPETS / KERNEL
INDEX = SNIPPETS / "index" / f"{KERNEL}.sqlite"
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
KEXPLORE = VENV_BIN / "kexplore"

if str(ROOT) not in sys.path:  # so that `import explorer` works when a benchmark runs alone
    sys.path.insert(0, str(ROOT))


class BenchmarkError(Exception):
    """A benchmark cannot run here; the message says what is missing and what to do."""


def require(*paths: Path) -> None:
    for path in paths:
        if not path.exists():
            hint = {
                TREE: "run `make vendor` (or `.venv/bin/kexplore vendor`)",
                INDEX: "run `make index` (or `.venv/bin/kexplore index`)",
                PYTHON: "run `make setup`",
                KEXPLORE: "run `make setup`",
            }.get(path, "")
            raise BenchmarkError(f"{path} is missing{': ' + hint if hint else ''}")


def tool(name: str) -> str | None:
    """The path of an external program, or None (the benchmark then says what it skipped)."""
    return shutil.which(name)


def log(message: str = "") -> None:
    print(message, flush=True)


# ---------------------------------------------------------------- targets and results


@dataclass
class Target:
    """One figure the issue sets a target for."""

    name: str
    value: float | None
    unit: str
    limit: float
    higher_is_better: bool = False
    note: str = ""

    @property
    def ok(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit

    def line(self) -> str:
        sign = "≥" if self.higher_is_better else "≤"
        value = "n/a" if self.value is None else f"{self.value:.{_digits(self.value)}f} {self.unit}".rstrip()
        verdict = {True: "ok", False: "MISSED", None: "not measured"}[self.ok]
        note = f"  ({self.note})" if self.note else ""
        return f"{self.name:<46} {value:>12}   target {sign} {self.limit:g} {self.unit}".rstrip() + f"   {verdict}{note}"

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def _digits(value: float) -> int:
    return 3 if abs(value) < 10 else 2 if abs(value) < 100 else 1


@dataclass
class Result:
    """What one benchmark measured: figures (JSON-able), the targets, and how it was measured."""

    benchmark: str
    figures: dict[str, object] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "benchmark": self.benchmark,
            "error": self.error,
            "seconds": round(self.seconds, 2),
            "targets": [t.as_dict() for t in self.targets],
            "commands": self.commands,
            "figures": self.figures,
        }


def environment() -> dict[str, object]:
    """What the figures depend on: machine, load (other work may share the CPUs), versions."""
    env: dict[str, object] = {
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "python": sys.version.split()[0],
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for name, argv in {"ctags": ["ctags", "--version"], "hyperfine": ["hyperfine", "--version"]}.items():
        if tool(argv[0]):
            out = subprocess.run(argv, capture_output=True, text=True).stdout
            env[name] = out.splitlines()[0] if out else "?"
    try:
        from importlib.metadata import version

        env["tree_sitter"] = version("tree-sitter")
        env["tree_sitter_c"] = version("tree-sitter-c")
    except Exception:
        pass
    try:
        env["git"] = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        pass
    return env


def write_result(result: Result) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{result.benchmark}.json"
    data = {"environment": environment(), **result.as_dict()}
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def run_alone(name: str, run) -> int:  # type: ignore[no-untyped-def]
    """`python benchmarks/NAME.py`: run one benchmark, print its targets, write its JSON."""
    started = time.perf_counter()
    try:
        result = run()
    except BenchmarkError as exc:
        log(f"{name}: cannot run: {exc}")
        return 1
    result.seconds = time.perf_counter() - started
    log()
    for target in result.targets:
        log(target.line())
    log(f"results: {write_result(result).relative_to(ROOT)}")
    return 0


# ---------------------------------------------------------------- timing


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    """The median wall time of `runs` calls of `fn` (in-process timings of the CLI benchmarks)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass
class Timing:
    command: str
    times: list[float]

    @property
    def median(self) -> float:
        return median(self.times)

    def as_dict(self) -> dict[str, object]:
        return {
            "command": self.command,
            "runs": len(self.times),
            "median_s": round(self.median, 4),
            "min_s": round(min(self.times), 4),
            "max_s": round(max(self.times), 4),
            "times_s": [round(t, 4) for t in self.times],
        }


def time_commands(commands: list[list[str]], runs: int, warmup: int = 0, cwd: Path | None = None) -> list[Timing]:
    """Wall-clock times of each command; hyperfine (no shell, -N) when installed, else perf_counter.

    Each command must succeed; its output is discarded.
    """
    if tool("hyperfine"):
        return _hyperfine(commands, runs, warmup, cwd)
    timings = []
    for argv in commands:
        for _ in range(warmup):
            _run_quiet(argv, cwd)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            _run_quiet(argv, cwd)
            times.append(time.perf_counter() - t0)
        timings.append(Timing(shlex.join(argv), times))
    return timings


def _hyperfine(commands: list[list[str]], runs: int, warmup: int, cwd: Path | None) -> list[Timing]:
    with tempfile.TemporaryDirectory(prefix="kexplore-bench-") as tmp:
        export = Path(tmp, "hyperfine.json")
        argv = [
            "hyperfine", "-N", "--style", "none", "--runs", str(runs), "--warmup", str(warmup),
            "--export-json", str(export),
        ] + [shlex.join(c) for c in commands]
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BenchmarkError(f"hyperfine failed: {proc.stderr.strip() or proc.stdout.strip()}")
        data = json.loads(export.read_text())
    return [Timing(r["command"], list(r["times"])) for r in data["results"]]


def _run_quiet(argv: list[str], cwd: Path | None) -> None:
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise BenchmarkError(f"`{shlex.join(argv)}` exited {proc.returncode}: {proc.stderr.strip()[-500:]}")


def shown(argv: list[str]) -> str:
    """A command as the README shows it: paths relative to the checkout."""
    out = []
    for arg in argv:
        try:
            p = Path(arg)
            out.append(str(p.relative_to(ROOT)) if p.is_absolute() and p.is_relative_to(ROOT) else arg)
        except ValueError:
            out.append(arg)
    return shlex.join(out)


# ---------------------------------------------------------------- a scratch kernel-snippets folder


class ScratchSnippets:
    """A temporary kernel-snippets folder: kernels.toml, the lock file and a copy of the tree.

    `kexplore --snippets DIR` works on it as on the real one; benchmarks that write an
    index or change a file use it, so kernel-snippets/ is never touched.  The copy keeps
    mtimes (shutil.copy2), so a copied index is warm for it.
    """

    def __init__(self, with_index: bool = False) -> None:
        require(TREE)
        self._tmp = tempfile.TemporaryDirectory(prefix="kexplore-bench-snippets-")
        self.path = Path(self._tmp.name)
        shutil.copy2(SNIPPETS / "kernels.toml", self.path / "kernels.toml")
        lock = SNIPPETS / f"{KERNEL}.lock.json"
        if lock.is_file():
            shutil.copy2(lock, self.path / lock.name)
        shutil.copytree(TREE, self.path / KERNEL, symlinks=True)
        if with_index and INDEX.is_file():
            (self.path / "index").mkdir()
            shutil.copy2(INDEX, self.path / "index" / INDEX.name)

    @property
    def tree(self) -> Path:
        return self.path / KERNEL

    def kexplore(self, *args: str) -> list[str]:
        return [str(KEXPLORE), *args, "--snippets", str(self.path)]

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> ScratchSnippets:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
