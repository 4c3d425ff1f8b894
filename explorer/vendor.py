"""Vendoring: fetch a kernel's sources, extract the work set atomically, pin it in a lock file.

The flow for one kernel:

1. Find the source: ``--from PATH`` (a tarball or an unpacked tree), or the Debian
   package named in kernels.toml, downloaded with ``apt-get download`` into the
   cache outside the checkout (the version in the lock file first, if there is one).
2. Stream the tarball and extract only the declared paths into a temporary folder
   beside the tree; prune include/linux to the headers the work set includes.  Every
   member's path is normalised and must stay inside the folder; links, devices and
   odd names are skipped (and named in one note).
3. Hash every extracted file. If a lock file exists, the hashes must match it
   (``--update`` re-pins instead); otherwise the temporary folder is thrown away
   and the previous tree stays.
4. Write the new lock beside the old one, rename the temporary folder into place,
   then rename the lock.

The whole run holds the kernel's run lock (explorer.runlock), shared with the
indexer.  An interrupted run leaves only a ``.tmp-NAME-pidN-*`` folder, which the next
run removes once process N is gone; the tree a reader sees is always whole.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import hashlib
import io
import lzma
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

from .config import KernelSpec, Project, cache_dir
from .lockfile import Lock, LockError, read_lock, staged_lock
from .progress import note, progress
from .runlock import RunLockBusy, disk_error, kernel_run_lock, owner_gone, pid_tag
from .safepath import clean_parts

_INCLUDE_LINUX = re.compile(rb'^\s*#\s*include\s*<(linux/[^>]+)>', re.MULTILINE)


class VendorError(Exception):
    """Vendoring failed; the message says what happened and what to do."""


@dataclass
class Source:
    """Where a kernel's files come from, as recorded in the lock file."""

    kind: str  # "debian", "tarball" or "tree"
    path: Path
    package: str | None = None
    version: str | None = None

    def describe(self) -> dict[str, str]:
        out = {"kind": self.kind}
        if self.kind == "debian":
            out.update(package=self.package or "", version=self.version or "", file=self.path.name)
        else:
            out["name"] = self.path.name
        if self.kind != "tree":
            out["sha256"] = sha256_file(self.path)
        return out


@dataclass
class VendorResult:
    kernel: str
    action: str  # "verified", "extracted", "updated"
    files: int
    source: dict[str, str] = field(default_factory=dict)
    tree: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "kernel": self.kernel,
            "action": self.action,
            "files": self.files,
            "source": self.source,
            "tree": self.tree,
        }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_tree(root: Path) -> dict[str, str]:
    """sha256 of every regular file below root, keyed by its POSIX path relative to root."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath, name)
            if full.is_symlink() or not full.is_file():
                continue
            out[full.relative_to(root).as_posix()] = sha256_file(full)
    return out


def selection_of(spec: KernelSpec) -> str:
    """What kernels.toml selects from the source, as recorded in the lock (a change re-extracts)."""
    return f"include_linux={spec.include_linux}; paths={','.join(spec.paths)}"


def diff_hashes(expected: dict[str, str], actual: dict[str, str], common_only: bool = False) -> list[str]:
    """Human-readable differences between two path→sha256 maps (at most a handful).

    common_only: only files in both count (kernels.toml selected other paths since the lock)."""
    problems: list[str] = []
    if not common_only:
        for path in sorted(expected.keys() - actual.keys()):
            problems.append(f"missing: {path}")
        for path in sorted(actual.keys() - expected.keys()):
            problems.append(f"not in lock: {path}")
    for path in sorted(expected.keys() & actual.keys()):
        if expected[path] != actual[path]:
            problems.append(f"checksum differs: {path}")
    return problems


# --------------------------------------------------------------------------- sources


def locate_source(spec: KernelSpec, lock: Lock | None, from_path: Path | None, update: bool) -> Source:
    if from_path is not None:
        from_path = from_path.expanduser().resolve()
        if from_path.is_dir():
            return Source("tree", from_path)
        if from_path.is_file():
            if from_path.suffix == ".deb":
                return Source("debian", from_path, package=spec.debian_package, version=_deb_version(from_path))
            return Source("tarball", from_path)
        raise VendorError(f"--from {from_path}: no such file or folder")
    if not spec.debian_package:
        raise VendorError(
            f"kernel {spec.name} names no debian_package in kernels.toml; "
            "vendor it with --from PATH (a kernel tarball or an unpacked tree)"
        )
    pinned = None
    if lock and not update and lock.source.get("kind") == "debian":
        pinned = lock.source.get("version") or None
    deb = fetch_debian_package(spec.debian_package, pinned)
    return Source("debian", deb, package=spec.debian_package, version=_deb_version(deb))


def _deb_version(deb: Path) -> str:
    try:
        out = subprocess.run(
            ["dpkg-deb", "--field", str(deb), "Version"], check=True, capture_output=True, text=True
        )
    except FileNotFoundError:
        raise VendorError("dpkg-deb is not installed; on a non-Debian machine use --from with a kernel tarball") from None
    except subprocess.CalledProcessError as exc:
        raise VendorError(f"{deb} is not a readable Debian package ({exc.stderr.strip()}); delete it and retry") from None
    return out.stdout.strip()


def fetch_debian_package(package: str, version: str | None) -> Path:
    """The package's .deb from the cache, downloading it with apt-get if needed."""
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    if version:
        quoted = version.replace(":", "%3a")
        for cached in sorted(cache.glob(f"{package}_{quoted}_*.deb")):
            return cached
    want = f"{package}={version}" if version else package
    attempt = _apt_download(want, cache)
    if attempt is None and os.geteuid() == 0:
        note("apt-get download failed; refreshing the package lists (apt-get update) and retrying")
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        attempt = _apt_download(want, cache)
    if attempt is None:
        hint = (
            f"the lock pins {version}; `kexplore vendor --update` re-pins to the version apt offers now, or "
            if version
            else ""
        )
        raise VendorError(
            f"could not download the Debian package {want} with apt-get. {hint}"
            "vendor from a kernel tarball or tree instead: kexplore vendor --from PATH"
        )
    return attempt


def _apt_download(want: str, cache: Path) -> Path | None:
    if shutil.which("apt-get") is None:
        return None
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        proc = subprocess.run(["apt-get", "download", "-q", want], cwd=tmp, capture_output=True, text=True)
        debs = list(Path(tmp).glob("*.deb"))
        if proc.returncode != 0 or len(debs) != 1:
            return None
        final = cache / debs[0].name
        os.replace(debs[0], final)  # only a complete download is ever renamed into the cache
        return final


# --------------------------------------------------------------------------- extraction


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _RawReader(io.RawIOBase):
    """A read-only raw stream made of a `_read(size)` method; `buffered()` makes it a BinaryIO for the decompressors and tarfile."""

    def _read(self, size: int) -> bytes:
        raise NotImplementedError

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        data = self._read(len(view))
        view[: len(data)] = data
        return len(data)

    def buffered(self) -> BinaryIO:
        return io.BufferedReader(self, 1 << 16)


class _CountingReader(_RawReader):
    """A read-only stream wrapper that reports how many bytes went through it."""

    def __init__(self, raw: _Readable, on_read: Callable[[int], None]) -> None:
        super().__init__()
        self._raw = raw
        self._on_read = on_read

    def _read(self, size: int) -> bytes:
        data = self._raw.read(size)
        self._on_read(len(data))
        return data


def _wanted(rel: str, spec: KernelSpec) -> bool:
    if rel.startswith("include/linux/"):
        return True
    return any(rel == p or rel.startswith(p + "/") for p in spec.paths)


_TOP_LEVEL = {"net", "include", "COPYING", "LICENSES"}


class _Skipped:
    """Members left out because they are not regular files safely inside the tree; named once, at the end."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def add(self, name: str, why: str) -> None:
        self.names.append(f"{name!r} ({why})")

    def report(self, source: str) -> None:
        if self.names:
            more = f" and {len(self.names) - 3} more" if len(self.names) > 3 else ""
            note(f"{source}: skipped {len(self.names)} unsafe member(s): {', '.join(self.names[:3])}{more}")


def _inside(folder: Path, root: Path) -> bool:
    """Whether folder, symlinks resolved, is root or below it."""
    real_root, real = os.path.realpath(root), os.path.realpath(folder)
    return real == real_root or real.startswith(real_root + os.sep)


class _WriteFailed(Exception):
    """Writing the new tree failed (disk full, read-only, no permission): not the source's fault."""

    def __init__(self, error: OSError) -> None:
        super().__init__(disk_error(error))


def _write_file(source: IO[bytes], target: Path) -> None:
    """Copy source into a new file target; errors of the destination are raised as _WriteFailed.

    Errors reading source (a corrupt archive) pass as they are.  The file is written
    unbuffered, so that closing it never fails again over data a full disk refused.
    """
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise _WriteFailed(exc) from None
    try:
        while block := source.read(1 << 20):
            view = memoryview(block)
            while view:
                try:
                    written = os.write(fd, view)
                except OSError as exc:
                    exc.filename = str(target)
                    raise _WriteFailed(exc) from None
                view = view[written:]
    finally:
        with suppress(OSError):
            os.close(fd)


def _extract_stream(tar: tarfile.TarFile, dest: Path, spec: KernelSpec, skipped: _Skipped) -> int:
    """Write the wanted regular files of a streamed tarball below dest; everything else is skipped."""
    count = 0
    strip: bool | None = None
    for member in tar:
        parts = clean_parts(member.name)
        if parts is None:
            skipped.add(member.name, "absolute, outside the tree or not a plain name")
            continue
        if not parts:
            continue
        if strip is None:
            strip = parts[0] not in _TOP_LEVEL
        rel = "/".join(parts[1:] if strip else parts)
        if not rel or not _wanted(rel, spec) or member.isdir():
            continue
        if not member.isreg():
            skipped.add(member.name, "a link or special file")
            continue
        try:  # the standard library's own check, on top of ours
            tarfile.data_filter(member.replace(name=rel, deep=False), str(dest))
        except tarfile.FilterError as exc:
            skipped.add(member.name, str(exc))
            continue
        target = dest.joinpath(*rel.split("/"))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            skipped.add(member.name, "a file of the tarball stands where its folder must go")
            continue
        except OSError as exc:
            raise _WriteFailed(exc) from None
        if not _inside(target.parent, dest) or target.is_dir() or target.is_symlink():
            skipped.add(member.name, "its place in the tree is taken")
            continue
        source = tar.extractfile(member)
        if source is None:
            continue
        _write_file(source, target)
        count += 1
    return count


def _decompressed(head: bytes, raw: BinaryIO) -> _Readable:
    """raw, decompressed according to its first bytes (gzip, xz, bzip2), or as it is."""
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw)
    if head.startswith(b"BZh"):
        return bz2.BZ2File(raw)
    return raw


class _TarStream(_RawReader):
    """The uncompressed bytes of a tarball, remembering the last two blocks read.

    The decompressors of the standard library check their checksums and end-of-stream
    markers (tarfile's own stream mode does neither, and takes a tarball cut short at
    a member boundary for a complete one).
    """

    def __init__(self, raw: _Readable) -> None:
        super().__init__()
        head = raw.read(6)
        self._raw = _decompressed(head, _Replay(head, raw).buffered())
        self.tail = b""

    def _read(self, size: int) -> bytes:
        data = self._raw.read(size)
        self.tail = data[-1024:] if len(data) >= 1024 else (self.tail + data)[-1024:]
        return data

    def check_complete(self) -> None:
        """Read to the end (so the decompressor checks it); a tarball ends with two zero blocks."""
        while self._read(1 << 20):
            pass
        if self.tail != bytes(1024):
            raise tarfile.ReadError("the archive ends early: no end-of-archive marker")


class _Replay(_RawReader):
    """A stream with its first bytes, already read to sniff the compression, put back."""

    def __init__(self, head: bytes, raw: _Readable) -> None:
        super().__init__()
        self._head = head
        self._raw = raw

    def _read(self, size: int) -> bytes:
        if not self._head:
            return self._raw.read(size)
        data, self._head = self._head[:size], self._head[size:]
        return data if len(data) == size else data + self._raw.read(size - len(data))


@contextmanager
def _open_tar(raw: _Readable) -> Iterator[tarfile.TarFile]:
    stream = _TarStream(raw)
    with tarfile.open(fileobj=stream.buffered(), mode="r|") as tar:
        yield tar
    stream.check_complete()


def _iter_tarball(path: Path, total: int) -> Iterator[tarfile.TarFile]:
    with progress(f"extracting {path.name}", total) as bar, open(path, "rb") as raw:
        reader = _CountingReader(raw, bar.advance)
        with _open_tar(reader) as tar:
            yield tar


def _iter_deb(deb: Path, spec: KernelSpec) -> Iterator[tarfile.TarFile]:
    """Stream the kernel tarball out of the .deb without writing it to disk."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    found = False
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as outer:
            for member in outer:
                if clean_parts(member.name) != clean_parts(spec.tarball or "") or not member.isreg():
                    continue
                found = True
                inner_raw = outer.extractfile(member)
                assert inner_raw is not None
                with progress(f"extracting {Path(member.name).name}", member.size) as bar:
                    reader = _CountingReader(inner_raw, bar.advance)
                    with _open_tar(reader) as inner:
                        yield inner
                break
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()
    if not found:
        raise VendorError(f"{deb.name} holds no {spec.tarball}; check `tarball` for {spec.name} in kernels.toml")


def _tree_files(src: Path, spec: KernelSpec, skipped: _Skipped) -> list[str]:
    """The wanted regular files below src as relative POSIX paths; symlinks (to files or folders) are not followed."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(src):  # os.walk does not descend into symlinked folders
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(src).as_posix()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            st = os.lstat(full)
            if stat.S_ISDIR(st.st_mode) or not _wanted(rel, spec):
                continue
            if not stat.S_ISREG(st.st_mode):
                skipped.add(rel, "a link or special file")
            elif clean_parts(rel) is None:
                skipped.add(rel, "not a plain name")
            else:
                out.append(rel)
    return out


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)


def _copy_tree(src: Path, dest: Path, spec: KernelSpec, skipped: _Skipped) -> int:
    files = _tree_files(src, spec, skipped)
    with progress(f"copying {src.name}", len(files)) as bar:
        for rel in files:
            bar.advance()
            target = dest / rel
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _WriteFailed(exc) from None
            with open(src / rel, "rb", opener=_no_follow) as source:
                _write_file(source, target)
    return len(files)


def prune_include_linux(tree: Path, spec: KernelSpec) -> None:
    """Keep only the include/linux headers that the declared paths include directly."""
    linux = tree / "include" / "linux"
    if spec.include_linux == "all" or not linux.is_dir():
        return
    if spec.include_linux != "direct":
        raise VendorError(f"kernels.toml: include_linux must be 'direct' or 'all', not {spec.include_linux!r}")
    wanted: set[str] = set()
    for top in spec.paths:
        if top.startswith("include/uapi") or top in {"COPYING", "LICENSES"}:
            continue
        root = tree / top
        sources = [root] if root.is_file() else list(root.rglob("*.[ch]"))
        for path in sources:
            wanted.update(m.decode() for m in _INCLUDE_LINUX.findall(path.read_bytes()))
    for path in sorted(linux.rglob("*"), reverse=True):
        rel = path.relative_to(tree / "include").as_posix()
        if path.is_file() and rel not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def _extract(source: Source, spec: KernelSpec, dest: Path) -> None:
    try:
        _extract_into(source, spec, dest)
    except _WriteFailed as exc:
        raise VendorError(f"could not write the new tree ({exc}); the previous tree is kept") from None


def _extract_into(source: Source, spec: KernelSpec, dest: Path) -> None:
    skipped = _Skipped()
    if source.kind == "tree":
        count = _copy_tree(source.path, dest, spec, skipped)
    else:
        try:
            streams = (
                _iter_deb(source.path, spec)
                if source.kind == "debian"
                else _iter_tarball(source.path, source.path.stat().st_size)
            )
            count = 0
            for tar in streams:
                count = _extract_stream(tar, dest, spec, skipped)
        except _WriteFailed:
            raise
        except (tarfile.TarError, EOFError, OSError, lzma.LZMAError, zlib.error) as exc:
            raise VendorError(
                f"{source.path} could not be read as a kernel tarball ({exc}); "
                "delete it from the cache if it is a broken download, or pass another --from"
            ) from None
    skipped.report(source.path.name)
    if count == 0:
        raise VendorError(f"{source.path} holds none of {', '.join(spec.paths)}; is it a Linux source tarball?")
    prune_include_linux(dest, spec)


# --------------------------------------------------------------------------- the command


def vendor(
    project: Project,
    kernel: str | None = None,
    from_path: Path | None = None,
    update: bool = False,
    force: bool = False,
) -> VendorResult:
    spec = project.kernel(kernel)
    try:
        with kernel_run_lock(project.snippets, spec.name, "vendor"):
            return _vendor_locked(project, spec, from_path, update, force)
    except RunLockBusy as exc:
        raise VendorError(str(exc)) from None
    except OSError as exc:  # the snippets folder is read-only or full, or the source unreadable
        raise VendorError(f"vendoring {spec.name} failed: {disk_error(exc)}; the previous tree is kept") from None


def _vendor_locked(project: Project, spec: KernelSpec, from_path: Path | None, update: bool, force: bool) -> VendorResult:
    tree = project.tree(spec.name)
    lock_path = project.lock_path(spec.name)
    try:
        lock = read_lock(lock_path)
    except LockError as exc:
        raise VendorError(str(exc)) from None
    _remove_leftovers(project.snippets, spec.name)

    reselected = lock is not None and lock.source.get("selection", "") != selection_of(spec)
    if lock and tree.is_dir() and not (update or force or from_path or reselected):
        problems = diff_hashes(lock.files, hash_tree(tree))
        if not problems:
            return VendorResult(spec.name, "verified", len(lock.files), dict(lock.source), str(tree))
        note(f"{tree} differs from {lock_path.name} ({problems[0]}, ...); extracting it again")

    source = locate_source(spec, lock, from_path, update)
    project.snippets.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{spec.name}-{pid_tag()}-", dir=project.snippets))
    tmp.chmod(0o755)  # mkdtemp makes it private; the tree is for every user to read
    try:
        _extract(source, spec, tmp)
        hashes = hash_tree(tmp)
        if lock and not update:
            problems = diff_hashes(lock.files, hashes, common_only=reselected)
            if problems:
                shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
                raise VendorError(
                    f"{source.path.name} does not match {lock_path.name}: {shown}. "
                    f"The previous tree is kept. To re-pin to this source, rerun with --update"
                )
        described = source.describe()
        if source.kind == "tree":
            described["name"] = source.path.name
        described["selection"] = selection_of(spec)
        if reselected and lock:
            added, removed = len(hashes.keys() - lock.files.keys()), len(lock.files.keys() - hashes.keys())
            note(f"kernels.toml selects other paths for {spec.name}: {added} files added, {removed} removed; "
                 f"the files kept match {lock_path.name}")
        new_lock = Lock(kernel=spec.name, source=described, files=hashes)
        changed = lock is None or lock.files != hashes or lock.source != described
        # the new lock is written before the swap (a full disk stops the run there), renamed after it
        with staged_lock(lock_path, new_lock) if changed else nullcontext():
            _swap_into_place(tmp, tree, spec.name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    action = "updated" if changed and lock else "extracted"
    return VendorResult(spec.name, action, len(hashes), described, str(tree))


def _swap_into_place(tmp: Path, tree: Path, name: str) -> None:
    old = None
    if tree.exists():
        old = tree.with_name(f".old-{name}-{pid_tag()}")
        os.replace(tree, old)
    os.replace(tmp, tree)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove_leftovers(snippets: Path, name: str) -> None:
    """Clean up after interrupted runs (their process is gone): partial extractions are never used.

    A run interrupted between the two renames of the swap leaves the previous tree
    as ``.old-*`` and no tree: put the previous tree back rather than lose it.
    Called with the kernel's run lock held.
    """
    if not snippets.is_dir():
        return
    tmp_prefix, old_prefix = f".tmp-{name}-", f".old-{name}-"
    for leftover in snippets.glob(f"{glob.escape(tmp_prefix)}*"):
        if owner_gone(leftover.name, tmp_prefix):
            shutil.rmtree(leftover, ignore_errors=True)
    tree = snippets / name
    for old in sorted(snippets.glob(f"{glob.escape(old_prefix)}*")):
        if not owner_gone(old.name, old_prefix):
            continue
        if not tree.exists():
            os.replace(old, tree)
        else:
            shutil.rmtree(old, ignore_errors=True)
