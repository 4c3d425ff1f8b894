"""History and diffs: `kexplore changes`, `history` and `diff` between two indexed kernels.

With `--snippets DIR` naming a folder whose kernels.toml declares two indexed kernels, times the
commands there.  Without it, makes the second kernel: a scratch folder holding the vendored
linux-6.1 (its tree linked, its index copied) and `linux-6.1-edited`, a copy of the tree in which
every second .c file gets a comment line at its top (every definition below moves, none changes),
every fifth file's first `return ` becomes `return  ` (one definition changes), one file in fifty is
removed and one is added; the edited kernel is indexed for real (its time is printed).

With `--synthetic INDEX` (an index of any size, the whole core tree's for instance), times
`changes` alone against a copy of INDEX rewritten in SQL as if half its files had changed: every
second file gets another sha256 (its definitions are read and compared) and one definition in
twenty of those another digest; nothing is parsed, so the figure is the comparison's alone.

Each command is timed in-process (`kexplore ... --json`, output to memory, the median of --runs).
Target (issue 10): `changes` stays fast on big indexes because it compares stored digests, reading
only the files whose content differs.  Reported, never asserted.

    python benchmarks/history.py
    python benchmarks/history.py --snippets /work/twokernels --runs 5
    python benchmarks/history.py --synthetic /tmp/core/kernel-snippets/index/linux-6.1.sqlite
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import median_seconds  # benchmarks/ is on sys.path when a benchmark runs

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NAMES = ("inet_csk_accept", "tcp_v4_rcv", "sock")
EDITED = "linux-6.1-edited"




def _scratch(folder: Path) -> Path:
    """kernels.toml with linux-6.1 (linked tree, copied index) and an edited copy, indexed."""
    from explorer.config import Project
    from explorer.indexer import build_index

    source = ROOT / "kernel-snippets"
    tree, index = source / "linux-6.1", source / "index" / "linux-6.1.sqlite"
    if not tree.is_dir() or not index.is_file():
        raise SystemExit("benchmarks/history.py: vendor and index linux-6.1 first (`make index`)")
    snippets = folder / "kernel-snippets"
    (snippets / "index").mkdir(parents=True)
    (snippets / "linux-6.1").symlink_to(tree)
    shutil.copyfile(index, snippets / "index" / "linux-6.1.sqlite")
    shutil.copytree(tree, snippets / EDITED, symlinks=True)
    edited = sorted(p for p in (snippets / EDITED).rglob("*.c") if p.is_file())
    for n, path in enumerate(edited):
        if n % 50 == 49:
            path.unlink()
            continue
        text = path.read_bytes()
        if n % 5 == 0:
            text = text.replace(b"return ", b"return  ", 1)
        if n % 2 == 0:
            text = b"/* edited for the history benchmark */\n" + text
        path.write_bytes(text)
    (snippets / EDITED / "net" / "core" / "bench_added.c").write_bytes(b"int bench_added(void)\n{\n\treturn 1;\n}\n")
    toml = 'default = "linux-6.1"\n\n[kernels."linux-6.1"]\npaths = ["net", "include"]\n\n'
    toml += f'[kernels."{EDITED}"]\npaths = ["net", "include"]\n'
    (snippets / "kernels.toml").write_text(toml, encoding="utf-8")
    started = time.perf_counter()
    result = build_index(Project.load(snippets), EDITED)
    print(f"indexed {EDITED}: {result.files} files, {result.symbols} definitions in {time.perf_counter() - started:.1f} s")
    return snippets


def _synthetic(index: Path, folder: Path) -> Path:
    """kernels.toml declaring `base` (INDEX copied) and `edited` (a copy with half its files and 1/20 of their
    definitions marked changed)."""
    import sqlite3

    snippets = folder / "kernel-snippets"
    (snippets / "index").mkdir(parents=True)
    shutil.copyfile(index, snippets / "index" / "base.sqlite")
    shutil.copyfile(index, snippets / "index" / "edited.sqlite")
    db = sqlite3.connect(snippets / "index" / "edited.sqlite")
    db.execute("UPDATE files SET sha256 = 'edited-' || sha256 WHERE id % 2 = 0")
    db.execute("UPDATE symbols SET digest = digest + 1 WHERE file_id % 2 = 0 AND id % 20 = 0")
    db.commit()
    counts = db.execute("SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM symbols),"
                        " (SELECT count(*) FROM symbols WHERE file_id % 2 = 0)").fetchone()
    db.close()
    print(f"synthetic: {counts[0]:,} files, {counts[1]:,} definitions, {counts[2]:,} of them in files marked changed")
    (snippets / "kernels.toml").write_text('default = "base"\n\n[kernels."base"]\n\n[kernels."edited"]\n', encoding="utf-8")
    return snippets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snippets", type=Path, help="a folder with kernels.toml and two indexed kernels")
    parser.add_argument("--synthetic", type=Path, metavar="INDEX", help="time `changes` on a rewritten copy of INDEX")
    parser.add_argument("--runs", type=int, default=3, help="in-process runs per command (median)")
    args = parser.parse_args(argv)

    from explorer.cli import main as kexplore

    with tempfile.TemporaryDirectory(prefix="kexplore-history-") as scratch:
        if args.synthetic:
            snippets = _synthetic(args.synthetic, Path(scratch))
        else:
            snippets = args.snippets or _scratch(Path(scratch))
        commands = [["changes"], ["changes", "--path", "net/ipv4"], ["changes", "--kind", "function"]]
        if not args.synthetic:  # its trees are not there: history and diff read definitions' texts
            commands += [["history", name] for name in NAMES] + [["diff", name] for name in NAMES]
        print(f"{'command':<40} {'median':>9}  output")
        for words in commands:
            sink = io.StringIO()

            def once(words: list[str] = words, sink: io.StringIO = sink) -> None:
                sink.seek(0)
                sink.truncate()
                with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(io.StringIO()):
                    kexplore([*words, "--json", "--snippets", str(snippets)])

            seconds = median_seconds(once, args.runs)
            size = len(sink.getvalue())
            rows = sink.getvalue().count('"status"') if words[0] == "changes" else None
            detail = f"{size:,} bytes" + (f", {rows:,} rows" if rows is not None else "")
            print(f"kexplore {' '.join(words):<31} {seconds * 1000:>7.0f} ms  {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
