"""The oracle for work on the extraction: every file's `_parse_one` rows, from two versions of the code.

`dump` runs the indexer's `_parse_one` (explorer/indexer.py) of the package under --code on every
file `kexplore index` covers (.c, .h, .S, .tbl) and writes one line per file: its path and a digest
of each field of the ParsedFile (definitions, digests, refs, assigns, includes, docs, exports,
tables, locals, type hints, system call rows, lines, error_nodes, partial), or the error it raised.
Every --every'th file is dumped a second time with refs=False (the definitions-only path).
`compare` reads two dumps and lists every file and field that differs; it exits 1 on any difference.

    python benchmarks/extract_equal.py dump --code /path/to/old/checkout TREE OUT.tsv
    python benchmarks/extract_equal.py dump --code . TREE NEW.tsv
    python benchmarks/extract_equal.py compare OUT.tsv NEW.tsv
    python benchmarks/extract_equal.py dump --sample 7 ... && ... compare --subset OUT.tsv SAMPLE.tsv   # quicker
    python benchmarks/extract_equal.py show --code DIR TREE REL FIELD   # one field of one file, as rows

The code to test is imported from --code (put first on sys.path), so an old version (a `git
archive` of main) and the worktree's can be dumped with the same script.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path


def _digest(value: object) -> str:
    return hashlib.blake2b(repr(value).encode(), digest_size=10).hexdigest()


def _fields(parsed: object) -> dict[str, object]:
    fields: dict[str, object] = parsed._asdict()  # type: ignore[attr-defined]
    return {name: list(value) if isinstance(value, tuple | list) else value for name, value in fields.items()}


def _load(code: str) -> object:
    sys.path.insert(0, str(Path(code).resolve()))
    from explorer import indexer

    if not str(Path(indexer.__file__).resolve()).startswith(str(Path(code).resolve())):
        raise SystemExit(f"explorer was imported from {indexer.__file__}, not from {code}")
    return indexer


def dump(code: str, tree: Path, out: Path, every: int, sample: int = 1) -> int:
    indexer = _load(code)
    files = indexer.source_files(tree)[::sample]  # type: ignore[attr-defined]
    started = time.process_time()
    with out.open("w") as f:
        for i, rel in enumerate(files):
            passes = [True, False] if (i * sample) % every == 0 else [True]
            for refs in passes:
                job = indexer.Job(rel, str(tree / rel), refs, 0, "", 0, 0)  # type: ignore[attr-defined]
                try:
                    fields = _fields(indexer._parse_one(job))  # type: ignore[attr-defined]
                    digests = " ".join(f"{name}={_digest(value)}" for name, value in fields.items())
                except Exception as exc:  # a failure is a result too: both versions must fail alike
                    digests = f"error={_digest(type(exc).__name__ + str(exc))}"
                f.write(f"{rel}\t{int(refs)}\t{digests}\n")
            if i % 2000 == 0:
                print(f"{i}/{len(files)} {time.process_time() - started:.1f}s", file=sys.stderr)
    print(f"{len(files)} files, {time.process_time() - started:.1f} CPU s", file=sys.stderr)
    return 0


def _read(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    rows = {}
    for line in path.read_text().splitlines():
        rel, refs, digests = line.split("\t")
        rows[(rel, refs)] = dict(part.split("=", 1) for part in digests.split())
    return rows


def compare(a: Path, b: Path, subset: bool = False) -> int:
    old, new = _read(a), _read(b)
    differences = 0
    keys = new.keys() if subset else old.keys() | new.keys()
    for key in sorted(keys):
        if key not in old or key not in new:
            print(f"{key[0]} refs={key[1]}: only in {'the first' if key in old else 'the second'} dump")
            differences += 1
            continue
        fields = sorted(name for name in old[key].keys() | new[key].keys() if old[key].get(name) != new[key].get(name))
        if fields:
            print(f"{key[0]} refs={key[1]}: {' '.join(fields)}")
            differences += 1
    print(f"{len(old)} and {len(new)} results, {differences} differ")
    return 1 if differences else 0


def show(code: str, tree: Path, rel: str, name: str, refs: bool) -> int:
    indexer = _load(code)
    job = indexer.Job(rel, str(tree / rel), refs, 0, "", 0, 0)  # type: ignore[attr-defined]
    value = _fields(indexer._parse_one(job))[name]  # type: ignore[attr-defined]
    for row in value if isinstance(value, list) else [value]:
        print(repr(row))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="digest every file's rows")
    d.add_argument("--code", default=".", help="the checkout whose explorer package is run")
    d.add_argument("--every", type=int, default=10, help="every N-th file is also dumped with refs=False")
    d.add_argument("--sample", type=int, default=1, help="only every N-th file (a quick check)")
    d.add_argument("tree", type=Path)
    d.add_argument("out", type=Path)
    c = sub.add_parser("compare", help="list the files whose rows differ")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    c.add_argument("--subset", action="store_true", help="the second dump is a --sample of the first: compare its files only")
    s = sub.add_parser("show", help="print one field of one file's rows")
    s.add_argument("--code", default=".")
    s.add_argument("--no-refs", action="store_true")
    s.add_argument("tree", type=Path)
    s.add_argument("rel")
    s.add_argument("field")
    args = parser.parse_args(argv)
    if args.command == "dump":
        return dump(args.code, args.tree, args.out, args.every, args.sample)
    if args.command == "compare":
        return compare(args.a, args.b, args.subset)
    return show(args.code, args.tree, args.rel, args.field, not args.no_refs)


if __name__ == "__main__":
    sys.exit(main())
