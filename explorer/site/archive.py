"""The deployable archive of a built site (`make publish`): a .tar.gz that is the same bytes for the
same site.  Run as `python -m explorer.site.archive SITE_DIR ARCHIVE`; the plugin does not import it.
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
from pathlib import Path

from .publish import source_date_epoch


class ArchiveError(Exception):
    """The site folder cannot be archived as it is (missing, or holding links or special files)."""


def write_archive(site_dir: Path, archive: Path, mtime: int = 0, prefix: str = "") -> int:
    """A .tar.gz of `site_dir` that is the same bytes for the same site: members sorted by name, one
    `mtime`, owner root, modes 0644/0755, no gzip name or time.  Written to a temporary file and
    renamed into place; returns the number of files.  Symbolic links and special files are refused
    (a static host serves files)."""
    if not site_dir.is_dir():
        raise ArchiveError(f"{site_dir} is not a built site: run `make site` first")
    entries: list[tuple[str, Path, bool]] = []  # (name in the archive, path, is a folder)
    stack = [(site_dir, "")]
    while stack:  # an explicit stack: a deep tree never drives recursion
        folder, rel = stack.pop()
        with os.scandir(folder) as it:
            for entry in it:
                name = f"{rel}{entry.name}"
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISDIR(mode):
                    entries.append((name, Path(entry.path), True))
                    stack.append((Path(entry.path), name + "/"))
                elif stat.S_ISREG(mode):
                    entries.append((name, Path(entry.path), False))
                else:
                    raise ArchiveError(f"{entry.path}: not a regular file or folder (a link?): build the site with "
                                       "`mkdocs build` (not serve) before archiving")
    entries.sort(key=lambda e: e[0])
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(f".{archive.name}.{os.getpid()}.tmp")
    files = 0
    try:
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=mtime, compresslevel=6) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, path, is_dir in entries:
                info = tarfile.TarInfo(prefix + name)
                info.mtime = mtime
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                if is_dir:
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)
                else:
                    info.mode = 0o644
                    with open(path, "rb") as f:
                        info.size = os.fstat(f.fileno()).st_size
                        tar.addfile(info, f)
                    files += 1
        os.replace(tmp, archive)
    finally:
        tmp.unlink(missing_ok=True)
    return files


def main(argv: list[str] | None = None) -> int:
    """`python -m explorer.site.archive SITE_DIR ARCHIVE`: the reproducible archive (`make publish`)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m explorer.site.archive",
                                     description="Write a reproducible .tar.gz of a built site (members sorted, one "
                                                 "timestamp: $SOURCE_DATE_EPOCH, else 0).")
    parser.add_argument("site_dir", type=Path, help="the built site (mkdocs build)")
    parser.add_argument("archive", type=Path, help="the .tar.gz to write")
    parser.add_argument("--json", action="store_true", help="print the archive's path and file count as JSON")
    args = parser.parse_args(argv)
    try:
        files = write_archive(args.site_dir, args.archive, source_date_epoch())
    except (ArchiveError, OSError) as exc:
        print(f"publish: {exc}", file=sys.stderr)
        return 1
    if args.json:
        import json

        print(json.dumps({"archive": str(args.archive), "files": files}))
    else:
        print(f"{args.archive}: {files} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
