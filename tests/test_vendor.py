"""Vendoring from synthetic kernel tarballs and trees built in tmp_path: no network.

The "kernel" here is a handful of invented files laid out like a Linux tree.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import leftovers, write_kernels_toml

from explorer.config import Project
from explorer.vendor import VendorError, hash_tree, vendor

NAME = "linux-x"
PATHS = ("net/ipv4", "net/socket.c", "include/net", "include/uapi/linux", "COPYING", "LICENSES")

KERNEL_FILES: dict[str, str] = {
    "COPYING": "Invented licence text for the tests.\n",
    "LICENSES/preferred/GPL-2.0": "Valid-License-Identifier: GPL-2.0\n",
    "LICENSES/exceptions/Linux-syscall-note": "SPDX-Exception-Identifier: Linux-syscall-note\n",
    "Makefile": "VERSION = 9\n",
    "Documentation/widgets.rst": "Widgets\n=======\n",
    "net/socket.c": "#include <linux/sprocket.h>\n\nint sprocket_socket_glue;\n",
    "net/ipv4/widget.c": "#include <linux/widget_types.h>\n#include <net/widget.h>\n\nint widget_attach(void)\n{\n\treturn 0;\n}\n",
    "net/ipv4/gadget.c": '#include  <linux/gadget_types.h>\n#include "local.h"\n\nstatic int gadget_level;\n',
    "net/ipv4/local.h": "#define GADGET_LOCAL 1\n",
    "net/ipv6/unwanted.c": "#include <linux/only_ipv6_uses_me.h>\nint unwanted;\n",
    "net/core/unwanted.c": "int also_unwanted;\n",
    "include/net/widget.h": "#ifndef _NET_WIDGET_H\n#define _NET_WIDGET_H\n#include <linux/list_like.h>\n#include <linux/nested/deep.h>\nstruct widget { int w; };\n#endif\n",
    "include/uapi/linux/widget.h": "#include <linux/uapi_only.h>\n#define WIDGET_UAPI 1\n",
    "include/linux/widget_types.h": "#include <linux/transitive.h>\ntypedef int widget_t;\n",
    "include/linux/gadget_types.h": "typedef int gadget_t;\n",
    "include/linux/sprocket.h": "struct sprocket { int teeth; };\n",
    "include/linux/list_like.h": "struct list_like { void *next; };\n",
    "include/linux/nested/deep.h": "#define DEEP 1\n",
    "include/linux/transitive.h": "#define TRANSITIVE 1\n",
    "include/linux/only_ipv6_uses_me.h": "#define V6 1\n",
    "include/linux/uapi_only.h": "#define UAPI_ONLY 1\n",
    "include/linux/unused.h": "#define UNUSED 1\n",
    "include/linux/unused/sub.h": "#define UNUSED_SUB 1\n",
}

# What the work set keeps: the declared paths, and the include/linux headers that
# they include directly (not the headers those headers include, not uapi's).
EXPECTED = {
    "COPYING",
    "LICENSES/preferred/GPL-2.0",
    "LICENSES/exceptions/Linux-syscall-note",
    "net/socket.c",
    "net/ipv4/widget.c",
    "net/ipv4/gadget.c",
    "net/ipv4/local.h",
    "include/net/widget.h",
    "include/uapi/linux/widget.h",
    "include/linux/widget_types.h",
    "include/linux/gadget_types.h",
    "include/linux/sprocket.h",
    "include/linux/list_like.h",
    "include/linux/nested/deep.h",
}


def make_tarball(path: Path, files: dict[str, str] | None = None, top: str = "linux-9.9", mode: str = "w:gz") -> Path:
    files = KERNEL_FILES if files is None else files
    with tarfile.open(path, mode) as tar:
        folder = tarfile.TarInfo(top)
        folder.type = tarfile.DIRTYPE
        folder.mode = 0o755
        tar.addfile(folder)
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo(f"{top}/include/linux/a_symlink.h")
        link.type = tarfile.SYMTYPE
        link.linkname = "sprocket.h"
        tar.addfile(link)
    return path


def make_tree(path: Path, files: dict[str, str] | None = None) -> Path:
    for rel, text in (KERNEL_FILES if files is None else files).items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    return path


@pytest.fixture
def snippets(tmp_path: Path) -> Path:
    folder = tmp_path / "kernel-snippets"
    write_kernels_toml(folder, NAME, PATHS)
    return folder


@pytest.fixture
def project(snippets: Path) -> Project:
    return Project.load(snippets)


@pytest.fixture
def tarball(tmp_path: Path) -> Path:
    return make_tarball(tmp_path / "linux-9.9.tar.gz")


def changed_files() -> dict[str, str]:
    files = dict(KERNEL_FILES)
    files["net/ipv4/widget.c"] += "\nint widget_added_upstream;\n"
    return files


def tree_state(tree: Path) -> dict[str, bytes]:
    return {p.relative_to(tree).as_posix(): p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file()}


def test_from_tarball_extracts_the_work_set_and_writes_the_lock(project: Project, tarball: Path) -> None:
    result = vendor(project, from_path=tarball)
    tree = project.tree(NAME)
    assert result.action == "extracted"
    assert result.files == len(EXPECTED)
    assert set(tree_state(tree)) == EXPECTED
    for rel in EXPECTED:
        assert (tree / rel).read_text() == KERNEL_FILES[rel]
    lock = json.loads(project.lock_path(NAME).read_text())
    assert lock["kernel"] == NAME
    assert set(lock["files"]) == EXPECTED
    for rel, digest in lock["files"].items():
        assert digest == hashlib.sha256((tree / rel).read_bytes()).hexdigest()
    assert lock["source"]["kind"] == "tarball"
    assert lock["source"]["name"] == tarball.name
    assert lock["source"]["sha256"] == hashlib.sha256(tarball.read_bytes()).hexdigest()
    assert leftovers(project.snippets) == []


def test_include_linux_is_pruned_to_directly_included_headers(project: Project, tarball: Path) -> None:
    vendor(project, from_path=tarball)
    linux = project.tree(NAME) / "include/linux"
    kept = sorted(p.relative_to(linux).as_posix() for p in linux.rglob("*") if p.is_file())
    assert kept == ["gadget_types.h", "list_like.h", "nested/deep.h", "sprocket.h", "widget_types.h"]
    assert not (linux / "unused").exists()  # emptied folders go too


def test_include_linux_all_keeps_every_header(snippets: Path, tarball: Path) -> None:
    write_kernels_toml(snippets, NAME, PATHS, include_linux="all")
    vendor(Project.load(snippets), from_path=tarball)
    linux = snippets / NAME / "include/linux"
    assert (linux / "unused.h").is_file() and (linux / "transitive.h").is_file()


@pytest.mark.parametrize("mode", ["w", "w:xz", "w:bz2"])
def test_other_tarball_compressions(project: Project, tmp_path: Path, mode: str) -> None:
    suffix = {"w": ".tar", "w:xz": ".tar.xz", "w:bz2": ".tar.bz2"}[mode]
    result = vendor(project, from_path=make_tarball(tmp_path / f"linux{suffix}", mode=mode))
    assert result.files == len(EXPECTED)


def test_tarball_without_a_top_folder(project: Project, tmp_path: Path) -> None:
    flat = tmp_path / "flat.tar.gz"
    with tarfile.open(flat, "w:gz") as tar:
        for rel, text in KERNEL_FILES.items():
            info = tarfile.TarInfo(rel)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    assert vendor(project, from_path=flat).files == len(EXPECTED)
    assert set(tree_state(project.tree(NAME))) == EXPECTED


def test_second_run_verifies_and_does_nothing(project: Project, tarball: Path) -> None:
    vendor(project, from_path=tarball)
    tree = project.tree(NAME)
    before = tree.stat()
    lock_before = project.lock_path(NAME).stat()
    result = vendor(project)
    assert result.action == "verified"
    assert result.files == len(EXPECTED)
    after = tree.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert project.lock_path(NAME).stat().st_mtime_ns == lock_before.st_mtime_ns


def test_from_a_tree(project: Project, tmp_path: Path) -> None:
    source = make_tree(tmp_path / "linux-src")
    result = vendor(project, from_path=source)
    assert result.action == "extracted"
    assert set(tree_state(project.tree(NAME))) == EXPECTED
    lock = json.loads(project.lock_path(NAME).read_text())
    assert lock["source"]["kind"] == "tree"
    assert lock["files"] == hash_tree(project.tree(NAME))
    assert vendor(project).action == "verified"


def test_tarball_and_tree_give_the_same_lock_files(snippets: Path, tmp_path: Path, tarball: Path) -> None:
    vendor(Project.load(snippets), from_path=tarball)
    from_tarball = json.loads((snippets / f"{NAME}.lock.json").read_text())["files"]
    other = tmp_path / "other"
    write_kernels_toml(other, NAME, PATHS)
    vendor(Project.load(other), from_path=make_tree(tmp_path / "linux-src"))
    assert json.loads((other / f"{NAME}.lock.json").read_text())["files"] == from_tarball


def test_checksum_mismatch_refuses_and_keeps_the_previous_tree(project: Project, tarball: Path, tmp_path: Path) -> None:
    vendor(project, from_path=tarball)
    tree = project.tree(NAME)
    before = tree_state(tree)
    lock_before = project.lock_path(NAME).read_bytes()
    changed = make_tarball(tmp_path / "linux-9.9-changed.tar.gz", changed_files())
    with pytest.raises(VendorError) as info:
        vendor(project, from_path=changed)
    message = str(info.value)
    assert "net/ipv4/widget.c" in message
    assert "--update" in message
    assert tree_state(tree) == before
    assert project.lock_path(NAME).read_bytes() == lock_before
    assert leftovers(project.snippets) == []


def test_checksum_mismatch_through_the_cli_exits_1(project: Project, tarball: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from explorer.cli import main

    vendor(project, from_path=tarball)
    changed = make_tarball(tmp_path / "changed.tar.gz", changed_files())
    assert main(["vendor", "--snippets", str(project.snippets), "--from", str(changed)]) == 1
    err = capsys.readouterr().err
    assert "does not match" in err and "--update" in err


def test_update_re_pins(project: Project, tarball: Path, tmp_path: Path) -> None:
    vendor(project, from_path=tarball)
    changed = make_tarball(tmp_path / "linux-9.9-changed.tar.gz", changed_files())
    result = vendor(project, from_path=changed, update=True)
    assert result.action == "updated"
    tree = project.tree(NAME)
    assert "widget_added_upstream" in (tree / "net/ipv4/widget.c").read_text()
    lock = json.loads(project.lock_path(NAME).read_text())
    assert lock["files"] == hash_tree(tree)
    assert lock["source"]["name"] == changed.name
    assert vendor(project).action == "verified"


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "not-a-tarball", "empty"])
def test_a_broken_tarball_is_a_clear_error_and_keeps_the_previous_tree(project: Project, tarball: Path, tmp_path: Path, damage: str) -> None:
    vendor(project, from_path=tarball)
    tree = project.tree(NAME)
    before = tree_state(tree)
    data = make_tarball(tmp_path / "fresh.tar.gz", changed_files()).read_bytes()
    broken = tmp_path / f"{damage}.tar.gz"
    if damage == "truncated":
        broken.write_bytes(data[: len(data) // 2])
    elif damage == "corrupt":
        middle = len(data) // 2
        broken.write_bytes(data[:middle] + bytes(b ^ 0x5A for b in data[middle : middle + 64]) + data[middle + 64 :])
    elif damage == "not-a-tarball":
        broken.write_bytes(b"<html>404 Not Found</html>\n" * 50)
    else:
        broken.write_bytes(b"")
    with pytest.raises(VendorError) as info:
        vendor(project, from_path=broken, update=True)
    assert broken.name in str(info.value)
    assert tree_state(tree) == before
    assert leftovers(project.snippets) == []


def test_a_plain_tar_cut_at_a_member_boundary_is_refused(project: Project, tmp_path: Path) -> None:
    whole = make_tarball(tmp_path / "whole.tar", mode="w")
    with tarfile.open(whole) as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
    middle = members[len(members) // 2]
    cut = middle.offset_data + -(-middle.size // 512) * 512
    short = tmp_path / "short.tar"
    short.write_bytes(whole.read_bytes()[:cut])
    with pytest.raises(VendorError, match=r"short\.tar could not be read"):
        vendor(project, from_path=short)
    assert not project.tree(NAME).exists()
    assert leftovers(project.snippets) == []


def test_an_interrupted_extraction_keeps_the_previous_tree(project: Project, tarball: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer import vendor as vendor_module

    vendor(project, from_path=tarball)
    before = tree_state(project.tree(NAME))
    lock_before = project.lock_path(NAME).read_bytes()

    def interrupted(root: Path) -> dict[str, str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(vendor_module, "hash_tree", interrupted)
    changed = make_tarball(tmp_path / "changed.tar.gz", changed_files())
    with pytest.raises(KeyboardInterrupt):
        vendor(project, from_path=changed, update=True)
    assert tree_state(project.tree(NAME)) == before
    assert project.lock_path(NAME).read_bytes() == lock_before
    assert leftovers(project.snippets) == []


def test_a_truncated_tarball_on_first_run_leaves_no_tree(project: Project, tarball: Path, tmp_path: Path) -> None:
    data = tarball.read_bytes()
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(VendorError):
        vendor(project, from_path=broken)
    assert not project.tree(NAME).exists()
    assert not project.lock_path(NAME).exists()
    assert leftovers(project.snippets) == []


def test_a_tarball_without_the_work_set(project: Project, tmp_path: Path) -> None:
    other = make_tarball(tmp_path / "not-linux.tar.gz", {"README": "hello\n", "src/main.c": "int main;\n"})
    with pytest.raises(VendorError, match="holds none of"):
        vendor(project, from_path=other)
    assert not project.tree(NAME).exists()


def test_missing_from_path(project: Project, tmp_path: Path) -> None:
    with pytest.raises(VendorError, match="no such file"):
        vendor(project, from_path=tmp_path / "nowhere.tar.xz")


def test_interrupted_swap_leftovers_are_restored(project: Project, tarball: Path) -> None:
    vendor(project, from_path=tarball)
    tree = project.tree(NAME)
    before = tree_state(tree)
    # killed between the two renames of the swap: the previous tree is .old-*, no tree
    os.replace(tree, project.snippets / f".old-{NAME}-4242")
    half = project.snippets / f".tmp-{NAME}-abcd"
    (half / "net").mkdir(parents=True)
    (half / "net/half.c").write_text("int half;\n")
    result = vendor(project)
    assert result.action == "verified"
    assert tree_state(tree) == before
    assert leftovers(project.snippets) == []


def test_old_leftovers_beside_a_tree_are_removed(project: Project, tarball: Path) -> None:
    vendor(project, from_path=tarball)
    stale = project.snippets / f".old-{NAME}-99"
    (stale / "net").mkdir(parents=True)
    assert vendor(project).action == "verified"
    assert leftovers(project.snippets) == []


def test_a_tampered_tree_is_extracted_again(project: Project, tarball: Path) -> None:
    vendor(project, from_path=tarball)
    tree = project.tree(NAME)
    before = tree_state(tree)
    (tree / "net/ipv4/widget.c").write_text("tampered\n")
    (tree / "include/linux/sprocket.h").unlink()
    (tree / "net/ipv4/stray.c").write_text("int stray;\n")
    result = vendor(project, from_path=tarball)
    assert result.action == "extracted"
    assert tree_state(tree) == before
    assert leftovers(project.snippets) == []


def test_a_tampered_tree_without_a_source_says_what_to_do(project: Project, tarball: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vendor(project, from_path=tarball)
    tree = project.tree(NAME)
    (tree / "net/ipv4/widget.c").write_text("tampered\n")
    with pytest.raises(VendorError, match="--from"):
        vendor(project)  # kernels.toml names no Debian package
    assert "net/ipv4/widget.c" in capsys.readouterr().err
    assert (tree / "net/ipv4/widget.c").read_text() == "tampered\n"


def test_force_extracts_even_when_the_tree_verifies(project: Project, tarball: Path) -> None:
    vendor(project, from_path=tarball)
    inode = project.tree(NAME).stat().st_ino
    result = vendor(project, from_path=tarball, force=True)
    assert result.files == len(EXPECTED)
    assert project.tree(NAME).stat().st_ino != inode
    assert vendor(project).action == "verified"


def test_a_broken_lock_file_is_a_clear_error(project: Project, tarball: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from explorer.cli import main

    vendor(project, from_path=tarball)
    before = tree_state(project.tree(NAME))
    project.lock_path(NAME).write_text("{ not json")
    with pytest.raises(VendorError, match="not valid JSON"):
        vendor(project)
    project.lock_path(NAME).write_text('{"format": 999}')
    with pytest.raises(VendorError, match="not a kernel-explorer lock file"):
        vendor(project)
    capsys.readouterr()
    changed = make_tarball(tmp_path / "changed.tar.gz", changed_files())
    assert main(["vendor", "--snippets", str(project.snippets), "--from", str(changed), "--update"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "not a kernel-explorer lock file" in lines[0]
    assert tree_state(project.tree(NAME)) == before  # the previous tree is never lost
    assert project.lock_path(NAME).read_text() == '{"format": 999}'


def test_cli_vendor_json(project: Project, tarball: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from explorer.cli import main

    assert main(["vendor", "--snippets", str(project.snippets), "--from", str(tarball), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["action"] == "extracted" and out["files"] == len(EXPECTED) and out["kernel"] == NAME
    assert main(["vendor", "--snippets", str(project.snippets), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["action"] == "verified"
    assert captured.err == ""  # quiet when not on a terminal


# ---------------------------------------------------------------- Debian packages


def build_deb(folder: Path, package: str, version: str, inner: Path, inner_path: str) -> Path:
    root = folder / f"{package}-build"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: all\nMaintainer: Tests <tests@example.invalid>\n"
        "Description: a synthetic kernel source package for the tests\n"
    )
    target = root / inner_path
    target.parent.mkdir(parents=True)
    shutil.copyfile(inner, target)
    deb = folder / f"{package}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)], check=True, capture_output=True)
    return deb


needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed (not a Debian machine)")


@needs_dpkg
def test_from_a_deb(snippets: Path, tmp_path: Path, tarball: Path) -> None:
    write_kernels_toml(snippets, NAME, PATHS, debian_package="linux-source-9.9", tarball="usr/src/linux-source-9.9.tar.gz")
    deb = build_deb(tmp_path, "linux-source-9.9", "9.9.1-1", tarball, "usr/src/linux-source-9.9.tar.gz")
    project = Project.load(snippets)
    result = vendor(project, from_path=deb)
    assert result.files == len(EXPECTED)
    source = json.loads(project.lock_path(NAME).read_text())["source"]
    assert source["kind"] == "debian" and source["version"] == "9.9.1-1" and source["package"] == "linux-source-9.9"


@needs_dpkg
def test_a_pinned_deb_in_the_cache_is_used_without_downloading(snippets: Path, tmp_path: Path, tarball: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh clone (lock committed, tree absent) extracts again from the cache outside the checkout."""
    from explorer import vendor as vendor_module

    write_kernels_toml(snippets, NAME, PATHS, debian_package="linux-source-9.9", tarball="usr/src/linux-source-9.9.tar.gz")
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("KEXPLORE_CACHE", str(cache))
    build_deb(cache, "linux-source-9.9", "9.9.1-1", tarball, "usr/src/linux-source-9.9.tar.gz")
    project = Project.load(snippets)

    def no_download(want: str, where: Path) -> None:
        raise AssertionError(f"tried to download {want}")

    monkeypatch.setattr(vendor_module, "_apt_download", no_download)
    deb = next(cache.glob("*.deb"))
    vendor(project, from_path=deb)
    shutil.rmtree(project.tree(NAME))
    assert vendor(project).files == len(EXPECTED)
    assert set(tree_state(project.tree(NAME))) == EXPECTED


@needs_dpkg
def test_a_deb_without_the_declared_tarball(snippets: Path, tmp_path: Path, tarball: Path) -> None:
    write_kernels_toml(snippets, NAME, PATHS, debian_package="linux-source-9.9", tarball="usr/src/linux-source-9.9.tar.xz")
    deb = build_deb(tmp_path, "linux-source-9.9", "9.9.1-1", tarball, "usr/src/elsewhere.tar.gz")
    with pytest.raises(VendorError, match=r"holds no usr/src/linux-source-9\.9\.tar\.xz"):
        vendor(Project.load(snippets), from_path=deb)


MISSING_PACKAGE = "kexplore-test-no-such-package"


@pytest.fixture
def offline_apt() -> None:
    """Skip unless `apt-get download` of an unknown package fails at once, from the local lists alone."""
    if shutil.which("apt-get") is None:
        return
    try:
        proc = subprocess.run(["apt-get", "download", "-q", MISSING_PACKAGE], capture_output=True, text=True, timeout=30, cwd="/tmp")
    except subprocess.TimeoutExpired:
        pytest.skip("apt-get download did not fail fast: it may be reaching the network")
    if proc.returncode == 0:
        pytest.skip(f"a package named {MISSING_PACKAGE} exists here")


def test_a_missing_debian_package_is_named_with_a_hint(snippets: Path, offline_apt: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from explorer import vendor as vendor_module
    from explorer.cli import main

    write_kernels_toml(snippets, NAME, PATHS, debian_package=MISSING_PACKAGE)
    real_run = subprocess.run

    def no_apt_update(cmd, *args, **kwargs):  # type: ignore[no-untyped-def]
        if cmd[:2] == ["apt-get", "update"]:  # as root the vendor refreshes the lists: not in tests (network)
            return subprocess.CompletedProcess(cmd, 1, "", "")
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(vendor_module.subprocess, "run", no_apt_update)
    assert main(["vendor", "--snippets", str(snippets)]) == 1
    err = capsys.readouterr().err
    assert MISSING_PACKAGE in err
    assert "--from" in err
    assert not (snippets / NAME).exists()
    assert leftovers(snippets) == []


# ---------------------------------------------------------------- the lock file, read in one place


@pytest.mark.parametrize(
    "data",
    [b"{ not json", b'{"format": 999}', b"[1, 2]", b'{"format": 1, "kernel": "k", "files": {"a": 3}}', b"\xff\xfe{}", b"[" * 100_000],
    ids=["not-json", "other-format", "not-an-object", "hash-not-a-string", "not-utf8", "nested-deep"],
)
def test_read_lock_gives_one_clear_error_for_a_damaged_file(tmp_path: Path, data: bytes) -> None:
    from explorer.lockfile import LockError, read_lock

    path = tmp_path / "k.lock.json"
    path.write_bytes(data)
    with pytest.raises(LockError) as info:
        read_lock(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message


def test_read_lock_round_trips_what_write_lock_wrote(tmp_path: Path) -> None:
    from explorer.lockfile import Lock, read_lock, write_lock

    lock = Lock(kernel="k", source={"kind": "tarball", "name": "k.tar.gz"}, files={"net/a.c": "0" * 64})
    path = tmp_path / "k.lock.json"
    write_lock(path, lock)
    again = read_lock(path)
    assert again == lock
    assert again is not None and again.version == "k.tar.gz"
    assert read_lock(tmp_path / "absent.lock.json") is None


def test_a_damaged_lock_in_versions_is_one_line_and_the_others_are_listed(snippets: Path, tarball: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from explorer.cli import main

    with (snippets / "kernels.toml").open("a") as fh:
        fh.write('\n[kernels."linux-y"]\ntitle = "another"\npaths = ["net"]\n')
    vendor(Project.load(snippets), NAME, from_path=tarball)
    (snippets / f"{NAME}.lock.json").write_text("{ not json")
    capsys.readouterr()
    assert main(["versions", "--snippets", str(snippets), "--json"]) == 1
    captured = capsys.readouterr()
    assert [row["kernel"] for row in json.loads(captured.out)] == [NAME, "linux-y"]
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and f"{NAME}.lock.json is not valid JSON" in lines[0]


def test_a_damaged_lock_stops_the_index_with_one_line(project: Project, tarball: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from explorer.cli import main

    vendor(project, from_path=tarball)
    project.lock_path(NAME).write_text('{"format": 1, "files": []}')
    capsys.readouterr()
    assert main(["index", "--snippets", str(project.snippets)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "not a kernel-explorer lock file" in lines[0]
    assert not project.index_path(NAME).exists()


def test_a_damaged_lock_stops_a_reindex_and_keeps_the_previous_index(project: Project, tarball: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The lock is read only when the index has something to write (an up-to-date index answers without it),
    and then a damaged one stops the run in one line before the index is touched."""
    from explorer.cli import main

    vendor(project, from_path=tarball)
    assert main(["index", "--snippets", str(project.snippets)]) == 0
    index = project.index_path(NAME)
    before = index.read_bytes()
    project.lock_path(NAME).write_text('{"format": 1, "files": []}')
    changed = next(p for p in sorted(project.tree(NAME).rglob("*.c")) if p.is_file())
    with changed.open("a", encoding="utf-8") as fh:
        fh.write("int kx_added_by_the_test;\n")
    capsys.readouterr()
    assert main(["index", "--snippets", str(project.snippets)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "not a kernel-explorer lock file" in lines[0]
    assert index.read_bytes() == before
    assert not [p.name for p in index.parent.iterdir() if p.name.startswith(".")]  # no temporary left


def test_the_labs_read_the_pinned_version_through_the_lock_reader(project: Project, tarball: Path) -> None:
    from explorer.labs.code import KernelCode

    vendor(project, from_path=tarball)
    with KernelCode(project) as code:
        assert code.version == tarball.name
    project.lock_path(NAME).write_text("{ not json")
    with KernelCode(project) as code:
        assert code.version is None


# ---------------------------------------------------------------- hostile tarballs and trees

XSS_NAME = 'net/ipv4/x"><img src=x onerror=alert(4)>.c'


def hostile_tarball(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> Path:
    """The normal kernel tarball, then `members` (regular ones get their bytes from `data`)."""
    data = data or {}
    with tarfile.open(path, "w:gz") as tar:
        for rel, text in KERNEL_FILES.items():
            info = tarfile.TarInfo(f"linux-9.9/{rel}")
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
        for member in members:
            body = data.get(member.name, b"")
            if member.isreg():
                member.size = len(body)
            tar.addfile(member, io.BytesIO(body) if member.isreg() else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o644
    return info


def test_a_member_climbing_out_of_the_tree_is_not_written(project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # from the temporary folder kernel-snippets/.tmp-*/ four levels up is tmp_path
    climb = "linux-9.9/net/ipv4/../../../../escaped.c"
    deep = "linux-9.9/net/ipv4/" + "../" * 40 + str(tmp_path).lstrip("/") + "/escaped-past-the-root.c"
    tarball = hostile_tarball(tmp_path / "climb.tar.gz", [member(climb), member(deep)], {climb: b"int escaped;\n", deep: b"int escaped;\n"})
    result = vendor(project, from_path=tarball)
    assert not (tmp_path / "escaped.c").exists()
    assert not (tmp_path / "escaped-past-the-root.c").exists()
    assert result.files == len(EXPECTED)
    assert set(tree_state(project.tree(NAME))) == EXPECTED
    err = capsys.readouterr().err
    assert "skipped 2 unsafe member(s)" in err and "escaped.c" in err


def test_absolute_members_are_skipped(project: Project, tmp_path: Path) -> None:
    absolute = "/linux-9.9/net/ipv4/absolute.c"
    outside = f"{tmp_path}/abs-outside.c"
    tarball = hostile_tarball(tmp_path / "abs.tar.gz", [member(absolute), member(outside)], {absolute: b"int a;\n", outside: b"int b;\n"})
    vendor(project, from_path=tarball)
    assert set(tree_state(project.tree(NAME))) == EXPECTED  # not net/ipv4/absolute.c, whatever a leading / meant
    assert not Path(outside).exists()


def test_links_devices_and_fifos_are_skipped(project: Project, tmp_path: Path) -> None:
    secret = tmp_path / "secret.c"
    secret.write_text("int secret;\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    members = [
        member("linux-9.9/net/ipv4/sym.c", tarfile.SYMTYPE, str(secret)),
        member("linux-9.9/net/ipv4/hard.c", tarfile.LNKTYPE, str(secret)),
        member("linux-9.9/net/ipv4/hard_inside.c", tarfile.LNKTYPE, "linux-9.9/net/ipv4/widget.c"),
        member("linux-9.9/net/ipv4/linkdir", tarfile.SYMTYPE, str(outside)),
        member("linux-9.9/net/ipv4/linkdir/through.c"),
        member("linux-9.9/net/ipv4/null.c", tarfile.CHRTYPE),
        member("linux-9.9/net/ipv4/disk.c", tarfile.BLKTYPE),
        member("linux-9.9/net/ipv4/pipe.c", tarfile.FIFOTYPE),
    ]
    tarball = hostile_tarball(tmp_path / "links.tar.gz", members, {"linux-9.9/net/ipv4/linkdir/through.c": b"int through;\n"})
    vendor(project, from_path=tarball)
    tree = project.tree(NAME)
    assert not [p for p in tree.rglob("*") if p.is_symlink() or not (p.is_file() or p.is_dir())]
    for name in ("sym.c", "hard.c", "hard_inside.c", "null.c", "disk.c", "pipe.c"):
        assert not (tree / "net/ipv4" / name).exists()
    assert list(outside.iterdir()) == []  # nothing written through the link
    assert (tree / "net/ipv4/linkdir/through.c").read_text() == "int through;\n"  # a real folder of the tree
    assert secret.read_text() == "int secret;\n"


def test_a_member_named_like_html_extracts_as_a_plain_file(project: Project, tmp_path: Path) -> None:
    name = f"linux-9.9/{XSS_NAME}"
    tarball = hostile_tarball(tmp_path / "xss.tar.gz", [member(name)], {name: b"int xss_named;\n"})
    result = vendor(project, from_path=tarball)
    tree = project.tree(NAME)
    assert (tree / XSS_NAME).read_text() == "int xss_named;\n"
    assert (tree / XSS_NAME).parent == tree / "net/ipv4"
    assert result.files == len(EXPECTED) + 1
    assert XSS_NAME in json.loads(project.lock_path(NAME).read_text())["files"]


def test_names_with_control_characters_or_not_utf8_are_skipped(project: Project, tmp_path: Path) -> None:
    newline = "linux-9.9/net/ipv4/two\nlines.c"
    latin1 = b"linux-9.9/net/ipv4/caf\xe9.c".decode("utf-8", "surrogateescape")
    tarball = hostile_tarball(tmp_path / "names.tar.gz", [member(newline), member(latin1)], {newline: b"int a;\n", latin1: b"int b;\n"})
    vendor(project, from_path=tarball)
    assert set(tree_state(project.tree(NAME))) == EXPECTED


def test_a_file_where_a_folder_must_go_is_skipped_not_fatal(project: Project, tmp_path: Path) -> None:
    name = "linux-9.9/net/ipv4/widget.c/inside.c"
    tarball = hostile_tarball(tmp_path / "clash.tar.gz", [member(name)], {name: b"int clash;\n"})
    vendor(project, from_path=tarball)
    assert set(tree_state(project.tree(NAME))) == EXPECTED


def test_a_tree_with_links_pointing_outside_copies_only_its_own_files(project: Project, tmp_path: Path) -> None:
    source = make_tree(tmp_path / "linux-src")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "leak.c").write_text("int leak;\n")
    (source / "net/ipv4/leak.c").symlink_to(elsewhere / "leak.c")
    (source / "net/ipv4/leakdir").symlink_to(elsewhere)
    (source / "include/linux/sprocket_alias.h").symlink_to("sprocket.h")
    os.mkfifo(source / "net/ipv4/pipe.c")
    vendor(project, from_path=source)
    assert set(tree_state(project.tree(NAME))) == EXPECTED
    assert not [p for p in project.tree(NAME).rglob("*") if p.is_symlink()]


# ---------------------------------------------------------------- one run per kernel at a time (real processes)

REPO_ROOT = Path(__file__).resolve().parent.parent

HOLDER = """
import sys, time
from pathlib import Path
from explorer.runlock import kernel_run_lock, pid_tag

snippets, name, command, hold = Path(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
with kernel_run_lock(snippets, name, command):
    live = snippets / f".tmp-{name}-{pid_tag()}-live"  # a run's temporary, still being written
    live.mkdir()
    (live / "half.c").write_text("int half;\\n")
    print("locked", flush=True)
    if hold < 0:  # until the test writes a line: no race with a slow second process
        sys.stdin.readline()
    else:
        time.sleep(hold)
print("released", flush=True)
sys.stdin.read()  # stays alive, temporary and all, until the test closes stdin
"""


def run_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    env.update(extra)
    return env


Holder = Callable[[str, float], "subprocess.Popen[str]"]


@pytest.fixture
def holder(project: Project) -> Iterator[Holder]:
    """start(command, hold_seconds) -> a real process holding the kernel's run lock (after it printed "locked")."""
    procs: list[subprocess.Popen[str]] = []

    def start(command: str, hold: float) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(project.snippets), NAME, command, str(hold)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=run_env(),
        )
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.communicate()  # waits, and closes its pipes


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_a_second_run_fails_after_the_timeout_naming_the_holder(project: Project, tarball: Path, holder: Holder, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = holder("index", 60)
    monkeypatch.setenv("KEXPLORE_LOCK_TIMEOUT", "0.5")
    with pytest.raises(VendorError) as info:
        vendor(project, from_path=tarball)
    assert f"pid {proc.pid} (kexplore index)" in str(info.value)
    assert not project.tree(NAME).exists() and not project.lock_path(NAME).exists()
    assert (project.snippets / f".tmp-{NAME}-pid{proc.pid}-live/half.c").is_file()  # the holder's work is untouched


def test_a_second_run_waits_and_keeps_the_live_temporary_of_the_first(project: Project, tarball: Path, holder: Holder) -> None:
    gone = project.snippets / f".tmp-{NAME}-pid{dead_pid()}-dead"
    (gone / "net").mkdir(parents=True)
    older = project.snippets / f".tmp-{NAME}-abcd1234"  # named before temporaries carried a pid
    older.mkdir()
    proc = holder("vendor", -1)
    second = subprocess.Popen(
        [sys.executable, "-m", "explorer", "vendor", "--snippets", str(project.snippets), "--from", str(tarball), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=run_env(KEXPLORE_LOCK_TIMEOUT="60"),
    )
    assert second.stderr is not None and proc.stdin is not None
    seen = []
    for line in second.stderr:  # the second run says it waits, and only then does the first let go
        seen.append(line)
        if "waiting up to" in line:
            break
    proc.stdin.write("release\n")
    proc.stdin.flush()
    out, err = second.communicate(timeout=120)
    stderr = "".join(seen) + err
    assert second.returncode == 0, stderr
    assert f"waiting up to 60 s for pid {proc.pid} (kexplore vendor)" in stderr
    assert proc.stdout is not None and proc.stdout.readline() == "released\n"
    assert json.loads(out)["files"] == len(EXPECTED)
    assert proc.poll() is None  # the first run still lives: its temporary stays
    live = project.snippets / f".tmp-{NAME}-pid{proc.pid}-live"
    assert (live / "half.c").read_text() == "int half;\n"
    assert not gone.exists() and not older.exists()
    assert json.loads(project.lock_path(NAME).read_text())["files"] == hash_tree(project.tree(NAME))


def test_two_vendor_runs_at_once_both_succeed_one_after_the_other(project: Project, tarball: Path, tmp_path: Path) -> None:
    changed = make_tarball(tmp_path / "changed.tar.gz", changed_files())
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "explorer", "vendor", "--snippets", str(project.snippets), "--from", str(src), "--update"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=run_env(KEXPLORE_LOCK_TIMEOUT="120"),
        )
        for src in (tarball, changed)
    ]
    for run in runs:
        _, err = run.communicate(timeout=180)
        assert run.returncode == 0, err
    lock = json.loads(project.lock_path(NAME).read_text())
    assert lock["files"] == hash_tree(project.tree(NAME))  # the lock pins the tree that is there, whole
    assert lock["source"]["name"] in {tarball.name, changed.name}
    assert leftovers(project.snippets) == []


# ---------------------------------------------------------------- a full or read-only disk, the lock file's mode

# A process whose files may not grow past LIMIT bytes: writes then fail with EFBIG, as they
# would with ENOSPC on a full disk (root ignores permission bits, not this limit).
LIMITED_KEXPLORE = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv.pop(1))
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from explorer.cli import main
sys.exit(main(sys.argv[1:]))
"""


def kexplore_limited(limit: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LIMITED_KEXPLORE, str(limit), *args],
        capture_output=True, text=True, env=run_env(PYTHONDONTWRITEBYTECODE="1"), timeout=120,
    )


def test_a_full_disk_during_extraction_is_reported_as_such_not_as_a_bad_tarball(project: Project, tarball: Path, tmp_path: Path) -> None:
    vendor(project, from_path=tarball)
    before = tree_state(project.tree(NAME))
    lock_before = project.lock_path(NAME).read_bytes()
    files = changed_files()
    files["net/ipv4/large.c"] = "int large_table[] = {\n" + "\t1, 2, 3, 4, 5, 6, 7, 8,\n" * 20_000 + "};\n"
    large = make_tarball(tmp_path / "large.tar.gz", files)
    proc = kexplore_limited(64 * 1024, "vendor", "--snippets", str(project.snippets), "--from", str(large), "--update")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "File too large" in lines[0] and "could not write" in lines[0]
    assert "could not be read" not in lines[0] and "broken download" not in lines[0]
    assert tree_state(project.tree(NAME)) == before
    assert project.lock_path(NAME).read_bytes() == lock_before
    assert leftovers(project.snippets) == []


def test_a_full_disk_when_writing_the_lock_keeps_the_previous_tree_and_lock(project: Project, tarball: Path, tmp_path: Path) -> None:
    vendor(project, from_path=tarball)
    before = tree_state(project.tree(NAME))
    lock_before = project.lock_path(NAME).read_bytes()
    limit = max(len(t.encode()) for t in changed_files().values()) + 1  # every file of the tree fits, the lock does not
    assert len(lock_before) > limit
    changed = make_tarball(tmp_path / "changed.tar.gz", changed_files())
    proc = kexplore_limited(limit, "vendor", "--snippets", str(project.snippets), "--from", str(changed), "--update")
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if not line.endswith("(a link or special file)")]  # the fixture's symlink
    assert len(lines) == 1 and "File too large" in lines[0] and f"{NAME}.lock.json" in lines[0], proc.stderr
    assert tree_state(project.tree(NAME)) == before  # not the new tree under the old lock
    assert project.lock_path(NAME).read_bytes() == lock_before
    assert leftovers(project.snippets) == [] and not list(project.snippets.glob(f".{NAME}.lock.json.*"))


def test_the_lock_file_keeps_its_mode(project: Project, tarball: Path, tmp_path: Path) -> None:
    vendor(project, from_path=tarball)
    lock = project.lock_path(NAME)
    assert lock.stat().st_mode & 0o777 == 0o644  # readable by all, like the tree (not mkstemp's 0600)
    lock.chmod(0o664)
    vendor(project, from_path=make_tarball(tmp_path / "changed.tar.gz", changed_files()), update=True)
    assert lock.stat().st_mode & 0o777 == 0o664


def test_deleting_a_damaged_lock_as_its_message_says_pins_afresh(project: Project, tarball: Path) -> None:
    from explorer.lockfile import LockError, read_lock

    vendor(project, from_path=tarball)
    project.lock_path(NAME).write_text("{ not json")
    with pytest.raises(LockError, match="delete it to pin the tree afresh"):
        read_lock(project.lock_path(NAME))
    project.lock_path(NAME).unlink()
    assert vendor(project, from_path=tarball).action == "extracted"
    assert vendor(project).action == "verified"


def test_an_index_run_waits_for_a_vendor_run_of_the_same_kernel(project: Project, tarball: Path, holder: Holder, monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.indexer import IndexBuildError, build_index

    vendor(project, from_path=tarball)
    proc = holder("vendor", 60)
    monkeypatch.setenv("KEXPLORE_LOCK_TIMEOUT", "0.3")
    with pytest.raises(IndexBuildError, match=f"pid {proc.pid} \\(kexplore vendor\\) holds"):
        build_index(project, jobs=1)
    assert not project.index_path(NAME).exists()


@pytest.mark.parametrize(
    "table",
    [
        '[kernels."../outside"]\npaths = ["net"]\n',
        '[kernels."linux/x"]\npaths = ["net"]\n',
        '[kernels."linux-x"]\npaths = ["../../etc"]\n',
        '[kernels."linux-x"]\npaths = ["/etc"]\n',
        '[kernels."linux-x"]\npaths = ["net"]\nxref_paths = ["net/../.."]\n',
    ],
    ids=["name-climbs", "name-has-a-slash", "path-climbs", "path-absolute", "xref-path-climbs"],
)
def test_kernels_toml_names_and_paths_must_stay_inside_the_snippets_folder(tmp_path: Path, table: str) -> None:
    from explorer.config import ConfigError

    (tmp_path / "kernels.toml").write_text(table)
    with pytest.raises(ConfigError) as info:
        Project.load(tmp_path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("bad_path", ["../../etc/passwd", "/etc/passwd", "net/\x1b[2Jx.c", ""])
def test_a_lock_pinning_a_path_outside_the_tree_is_refused(tmp_path: Path, bad_path: str) -> None:
    from explorer.lockfile import LockError, read_lock

    path = tmp_path / "k.lock.json"
    path.write_text(json.dumps({"format": 1, "kernel": "k", "source": {}, "files": {"net/a.c": "0" * 64, bad_path: "1" * 64}}))
    with pytest.raises(LockError, match="not a plain relative path"):
        read_lock(path)


# ---------------------------------------------------------------- a new selection of paths


def test_new_paths_re_extract_from_the_pinned_source_without_update(snippets: Path, tarball: Path) -> None:
    vendor(Project.load(snippets), from_path=tarball)
    pinned = json.loads(Project.load(snippets).lock_path(NAME).read_text())
    write_kernels_toml(snippets, NAME, (*PATHS, "include/linux"), include_linux="all")
    project = Project.load(snippets)
    result = vendor(project, from_path=tarball)
    assert result.action == "updated"
    tree = project.tree(NAME)
    assert (tree / "include/linux/unused.h").is_file()  # in the new selection only
    lock = json.loads(project.lock_path(NAME).read_text())
    assert set(pinned["files"]) < set(lock["files"])
    assert {k: v for k, v in lock["source"].items() if k != "selection"} == {k: v for k, v in pinned["source"].items() if k != "selection"}
    assert "include_linux=all" in lock["source"]["selection"]
    assert vendor(project).action == "verified"


def test_new_paths_with_a_changed_kept_file_are_refused(snippets: Path, tarball: Path, tmp_path: Path) -> None:
    vendor(Project.load(snippets), from_path=tarball)
    tree = Project.load(snippets).tree(NAME)
    before = tree_state(tree)
    write_kernels_toml(snippets, NAME, (*PATHS, "include/linux"), include_linux="all")
    project = Project.load(snippets)
    changed = make_tarball(tmp_path / "linux-9.9-changed.tar.gz", changed_files())
    with pytest.raises(VendorError) as info:
        vendor(project, from_path=changed)
    assert "net/ipv4/widget.c" in str(info.value)
    assert tree_state(tree) == before


def test_a_lock_from_before_selections_were_recorded_re_extracts_once(project: Project, tarball: Path) -> None:
    vendor(project, from_path=tarball)
    lock_path = project.lock_path(NAME)
    data = json.loads(lock_path.read_text())
    del data["source"]["selection"]
    lock_path.write_text(json.dumps(data))
    assert vendor(project, from_path=tarball).action == "updated"
    assert "selection" in json.loads(lock_path.read_text())["source"]
    assert vendor(project).action == "verified"


def test_vendor_all_takes_every_kernel_and_refuses_one_source_for_all(tmp_path: Path, tarball: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from explorer.cli import main

    folder = tmp_path / "two"
    folder.mkdir()
    (folder / "kernels.toml").write_text(
        'default = "linux-x"\n\n[kernels."linux-x"]\npaths = ["net/ipv4"]\n\n[kernels."linux-y"]\npaths = ["net/ipv4", "COPYING"]\n',
        encoding="utf-8")
    assert main(["vendor", "--all", "--from", str(tarball), "--snippets", str(folder)]) == 2
    assert "--from names one source" in capsys.readouterr().err
    for name in ("linux-x", "linux-y"):
        assert main(["vendor", "--kernel", name, "--from", str(tarball), "--snippets", str(folder)]) == 0
    capsys.readouterr()
    assert main(["vendor", "--all", "--json", "--snippets", str(folder)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["kernel"], r["action"]) for r in rows] == [("linux-x", "verified"), ("linux-y", "verified")]
