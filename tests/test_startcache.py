"""explorer/startcache.py: a value kept while its files are unchanged, and no cache can break a command."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import write_kernels_toml

from explorer import startcache
from explorer.config import ConfigError, Project


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("KEXPLORE_CACHE", str(folder))
    monkeypatch.delenv(startcache.DISABLE_ENV, raising=False)
    return folder / "startup"


def settle(*paths: Path, ago: float = 60) -> None:
    old = time.time() - ago
    for path in paths:
        os.utime(path, (old, old))


class Counter:
    def __init__(self, value: object) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


def test_kept_while_the_files_are_unchanged(tmp_path: Path, cache: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("one")
    settle(src)
    build = Counter({"x": [1, 2]})
    for _ in range(3):
        assert startcache.cached("t", str(tmp_path), [str(src)], build, lambda v: isinstance(v, dict)) == {"x": [1, 2]}
    assert build.calls == 1 and len(list(cache.iterdir())) == 1
    src.write_text("two")  # same size; a new mtime (and ctime)
    settle(src, ago=30)
    assert startcache.cached("t", str(tmp_path), [str(src)], build, lambda v: True) == {"x": [1, 2]}
    assert build.calls == 2


def test_fresh_files_are_not_cached(tmp_path: Path, cache: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("one")  # modified just now: the next edit might not change its mtime
    build = Counter([1])
    for _ in range(2):
        startcache.cached("t", str(tmp_path), [str(src)], build, lambda v: True)
    assert build.calls == 2 and not cache.exists()


@pytest.mark.parametrize("damage", [b"", b"{", b"\xff\xfe", b"[]", b'{"version": 1}', b"null",
                                    b'{"version": 1, "kind": "t", "folder": "F", "files": "S", "value": "not a dict"}'])
def test_a_damaged_cache_is_a_miss(tmp_path: Path, cache: Path, damage: bytes) -> None:
    src = tmp_path / "a.txt"
    src.write_text("one")
    settle(src)
    build = Counter({"k": "v"})
    startcache.cached("t", str(tmp_path), [str(src)], build, lambda v: isinstance(v, dict))
    (entry,) = cache.iterdir()
    good = json.loads(entry.read_text())
    text = damage.replace(b'"F"', json.dumps(good["folder"]).encode()).replace(b'"S"', json.dumps(good["files"]).encode())
    entry.write_bytes(text)
    assert startcache.cached("t", str(tmp_path), [str(src)], build, lambda v: isinstance(v, dict)) == {"k": "v"}
    assert build.calls == 2
    assert json.loads(entry.read_text()) == good  # written again


def test_an_unwritable_cache_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("KEXPLORE_CACHE", str(blocker))  # cache_dir()/startup cannot be made
    src = tmp_path / "a.txt"
    src.write_text("one")
    settle(src)
    build = Counter(3)
    assert startcache.cached("t", str(tmp_path), [str(src)], build, lambda v: True) == 3
    assert startcache.cached("t", str(tmp_path), [str(src)], build, lambda v: True) == 3
    assert build.calls == 2 and blocker.read_text() == "not a folder"


def test_a_missing_file_is_never_cached(tmp_path: Path, cache: Path) -> None:
    build = Counter(1)
    for _ in range(2):
        startcache.cached("t", str(tmp_path), [str(tmp_path / "gone")], build, lambda v: True)
    assert build.calls == 2 and not cache.exists()


def test_kernels_toml_through_the_cache(tmp_path: Path, cache: Path) -> None:
    write_kernels_toml(tmp_path, "linux-a")
    settle(tmp_path / "kernels.toml")
    first = Project.load(tmp_path)
    assert list(cache.glob("kernels-*.json")) and Project.load(tmp_path) == first
    (tmp_path / "kernels.toml").write_text('default = "x"\n[kernels."bad name"]\n', encoding="utf-8")
    settle(tmp_path / "kernels.toml", ago=30)
    with pytest.raises(ConfigError, match="kernel name 'bad name'"):
        Project.load(tmp_path)  # the edit is seen, and checked as before
    (tmp_path / "kernels.toml").write_text("default = [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"kernels\.toml"):
        Project.load(tmp_path)


def test_annotated_pages_follow_the_docs(tmp_path: Path, cache: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "annotations").mkdir(parents=True)
    page = docs / "annotations" / "a.md"
    page.write_text("---\nannotations: true\n---\n\n## `inet_listen`\n\nText.\n", encoding="utf-8")
    other = docs / "plain.md"
    other.write_text("# Not annotations\n\n## `inet_bind`\n", encoding="utf-8")
    settle(page, other)
    assert startcache.annotated(docs) == {"inet_listen": "annotations/a.md"}
    assert startcache.annotated(docs) == {"inet_listen": "annotations/a.md"}  # from the cache
    other.write_text("---\nannotations: true\n---\n\n## `inet_bind`\n", encoding="utf-8")  # now an annotation page
    assert startcache.annotated(docs) == {"inet_listen": "annotations/a.md", "inet_bind": "plain.md"}
    (docs / "zh").mkdir()
    (docs / "zh" / "b.md").write_text("---\nannotations: true\n---\n\n## `inet_accept`\n", encoding="utf-8")
    assert startcache.annotated(docs)["inet_accept"] == "zh/b.md"  # a new page is seen
    assert startcache.annotated(tmp_path / "nowhere") == {}


def test_a_map_of_pages_outside_the_docs_is_not_used(tmp_path: Path, cache: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / "a.md"
    page.write_text("---\nannotations: true\n---\n\n## `inet_listen`\n", encoding="utf-8")
    settle(page)
    assert startcache.annotated(docs) == {"inet_listen": "a.md"}
    (entry,) = cache.glob("annotations-*.json")
    data = json.loads(entry.read_text())
    for bad in ("../../etc/passwd", "/etc/passwd", "a.txt"):
        entry.write_text(json.dumps({**data, "value": {"inet_listen": bad}}))
        assert startcache.annotated(docs) == {"inet_listen": "a.md"}  # derived again from the pages
