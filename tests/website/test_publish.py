"""Publishing: site_url from KEXPLORE_SITE_URL, a canonical link, a description and OpenGraph tags on
every page, the sitemap of every page, robots.txt, the reproducible archive of `make publish`, and
the GitHub Pages workflow (checked with zizmor)."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from mkdocs.config.base import ValidationError
from mkdocs.exceptions import Abort, PluginError

from explorer.site.archive import ArchiveError, main, write_archive
from explorer.site.publish import first_sentence, plain_text, sitemap_files
from explorer.store import Index

from .sitekit import REPO, SITEMAP_NS, DemoProject, build_site, environment, head_of, html_pages, sitemap_urls

WORKFLOW = REPO / ".github" / "workflows" / "pages.yml"
ZIZMOR = Path(sys.executable).with_name("zizmor")
# as the project's mkdocs.yml says it
ENV_SITE_URL = 'site_url: !ENV [KEXPLORE_SITE_URL, "http://127.0.0.1:8000/"]\n'

ANNOTATIONS_MD = """\
---
annotations: true
---
# Demo annotations

## `demo_listen`
<!-- reviewed: demo-1.0:000000000000 -->
Checks the [[demo_queue_full|queue]] before it starts listening. The second sentence is not in the description.
"""


@pytest.fixture
def env_project(demo_project: DemoProject) -> DemoProject:
    """The demo site with the project's `site_url` line and an annotation."""
    config = demo_project.root / "mkdocs.yml"
    config.write_text(ENV_SITE_URL + config.read_text(encoding="utf-8"), encoding="utf-8")
    demo_project.write_doc("notes.md", ANNOTATIONS_MD)
    return demo_project


def test_site_url_defaults_to_the_local_server(env_project: DemoProject, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEXPLORE_SITE_URL", raising=False)
    site = build_site(env_project.root / "mkdocs.yml")
    assert head_of(site / "index.html").canonical == ["http://127.0.0.1:8000/"]
    assert all(url.startswith("http://127.0.0.1:8000/") for url in sitemap_urls(site))


def test_every_page_has_a_canonical_link_under_site_url_and_is_in_the_sitemap(env_project: DemoProject) -> None:
    base = "https://example.org/kernel-explorer/"
    with environment(KEXPLORE_SITE_URL=base.rstrip("/")):  # a missing final slash is added
        site = build_site(env_project.root / "mkdocs.yml")
    pages = html_pages(site)
    # commentary, source, folder and symbol pages
    assert {"", "notes/", "demo-1.0/source/net/demo/demo_core.c/", "demo-1.0/source/net/demo/",
            "demo-1.0/symbol/demo_listen/"} <= set(pages)
    for rel, page in pages.items():
        head = head_of(page)
        assert head.canonical == [base + rel], rel
        assert head.meta["og:url"] == base + rel, rel
        assert head.meta["og:title"] and head.meta["og:description"], rel
        assert head.meta["description"] == head.meta["og:description"], rel
    urls = sitemap_urls(site)
    assert sorted(urls) == sorted(base + rel for rel in pages)
    assert len(urls) == len(set(urls))
    robots = (site / "robots.txt").read_text(encoding="utf-8")
    assert f"Sitemap: {base}sitemap.xml" in robots.splitlines()
    assert "Disallow: /" not in robots


def test_symbol_and_source_pages_describe_what_they_show(env_project: DemoProject) -> None:
    with environment(KEXPLORE_SITE_URL="https://example.org/"):
        site = build_site(env_project.root / "mkdocs.yml")
    with Index(env_project.root / "kernel-snippets" / "index" / "demo-1.0.sqlite") as index:
        listen = next(s for s in index.lookup("demo_listen") if s.kind == "function")
        sock = next(s for s in index.lookup("demo_sock") if s.kind == "struct")
    head = head_of(site / "demo-1.0/symbol/demo_listen/index.html").meta
    assert head["og:title"] == "demo_listen (function, Demo)"
    assert head["description"] == (f"demo_listen: a function in {listen.path}, line {listen.line}, Demo. "
                                   "Checks the queue before it starts listening.")
    head = head_of(site / "demo-1.0/symbol/demo_sock/index.html").meta  # no annotation
    assert head["description"] == f"demo_sock: a struct in {sock.path}, line {sock.line}, Demo."
    head = head_of(site / "demo-1.0/source/net/demo/demo_core.c/index.html").meta
    assert head["og:title"] == "net/demo/demo_core.c (Demo)"
    assert "net/demo/demo_core.c" in head["description"] and "Demo" in head["description"]
    head = head_of(site / "demo-1.0/source/net/demo/index.html").meta
    assert "net/demo/" in head["description"]
    # a commentary page: its first sentence, links as their words
    head = head_of(site / "index.html").meta
    assert head["og:title"] == "demo explorer"  # the home page is the site (as its <title> says)
    assert head_of(site / "notes/index.html").meta["og:title"] == "Demo annotations"
    assert head["description"] == "The listen handler is demo_listen; it calls the second half."
    assert head["og:type"] == "article"


def test_front_matter_description_wins_and_is_escaped(env_project: DemoProject) -> None:
    env_project.write_doc("quoted.md", """\
        ---
        description: 'A "quoted" <b>bold</b> & plain description'
        ---
        # Quoted

        Body text.
        """)
    with environment(KEXPLORE_SITE_URL="https://example.org/"):
        site = build_site(env_project.root / "mkdocs.yml")
    page = site / "quoted/index.html"
    head = head_of(page).meta
    assert head["description"] == 'A "quoted" <b>bold</b> & plain description'
    assert head["og:description"] == head["description"]
    assert "<b>bold" not in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("url", ["ftp://example.org/", "example.org/x/", 'https://example.org/a"b/',
                                 "https://example.org/a b/", "https://example.org/?q=1"])
def test_a_site_url_that_is_not_a_plain_http_url_is_one_line_error(env_project: DemoProject, url: str,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="mkdocs"), environment(KEXPLORE_SITE_URL=url), \
            pytest.raises((Abort, PluginError, ValidationError)) as err:
        build_site(env_project.root / "mkdocs.yml")
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] + [str(err.value)]
    said = [m for m in messages if "site_url" in m]  # MkDocs' own check (no scheme) or the plugin's
    assert said and all("\n" not in m.strip() for m in said), messages
    assert not (env_project.root / "site" / "index.html").exists()


def test_sitemap_past_the_protocol_limit_is_an_index_of_sitemaps() -> None:
    base = "https://example.org/k/"
    urls = [f"{base}p{n}/" for n in range(7)] + [f"{base}p0/"]
    files = dict(sitemap_files(base, urls, limit=3))
    assert sorted(files) == ["sitemap-1.xml", "sitemap-2.xml", "sitemap-3.xml", "sitemap.xml"]
    index = ET.fromstring(files["sitemap.xml"])
    assert index.tag == f"{SITEMAP_NS}sitemapindex"
    assert [e.text for e in index.iter(f"{SITEMAP_NS}loc")] == [f"{base}sitemap-{n}.xml" for n in (1, 2, 3)]
    listed = [e.text for name in ("sitemap-1.xml", "sitemap-2.xml", "sitemap-3.xml")
              for e in ET.fromstring(files[name]).iter(f"{SITEMAP_NS}loc")]
    assert listed == sorted(set(urls))
    # XML's special characters are escaped (a URL may hold &)
    one = ET.fromstring(dict(sitemap_files(base, [f"{base}a&b/"]))["sitemap.xml"])
    assert [e.text for e in one.iter(f"{SITEMAP_NS}loc")] == [f"{base}a&b/"]


def test_descriptions_are_first_sentences_of_plain_text() -> None:
    assert plain_text("See [[inet_listen|the handler]], `x`, [[sock_common.skc_state]] and [a](b.md).") == \
        "See the handler, x, sock_common.skc_state and a."
    assert first_sentence("One sentence here. Two sentences. ") == "One sentence here."
    assert first_sentence("Calls e.g. foo() first.") == "Calls e.g. foo() first."
    assert first_sentence("A socket has two queues:") == "A socket has two queues…"
    long = first_sentence("word " * 100, limit=50)
    assert len(long) <= 50 and long.endswith("…")


def test_archive_is_reproducible_and_holds_the_site(demo_project: DemoProject, tmp_path: Path) -> None:
    first = build_site(demo_project.root / "mkdocs.yml", site_dir=tmp_path / "one")
    second = build_site(demo_project.root / "mkdocs.yml", site_dir=tmp_path / "two")
    a, b = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    count = write_archive(first, a, mtime=1_700_000_000)
    write_archive(second, b, mtime=1_700_000_000)
    assert a.read_bytes() == b.read_bytes()  # two builds, the same bytes
    on_disk = sorted(p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file())
    with tarfile.open(a) as tar:
        members = tar.getmembers()
        names = [m.name for m in members if m.isfile()]
        assert names == sorted(names) and sorted(names) == on_disk and count == len(on_disk)
        assert {m.mtime for m in members} == {1_700_000_000} and {m.uid for m in members} == {0}
        member = tar.extractfile("index.html")
        assert member is not None and member.read() == (first / "index.html").read_bytes()


def test_archive_refuses_links_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>x</p>", encoding="utf-8")
    (site / "elsewhere").symlink_to(tmp_path)
    with pytest.raises(ArchiveError):
        write_archive(site, tmp_path / "out.tar.gz")
    assert not (tmp_path / "out.tar.gz").exists()
    assert main([str(site), str(tmp_path / "out.tar.gz")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("publish: ") and err.count("\n") == 1
    assert main([str(tmp_path / "missing"), str(tmp_path / "out.tar.gz")]) == 1
    assert "make site" in capsys.readouterr().err
    (site / "elsewhere").unlink()
    assert main([str(site), str(tmp_path / "out.tar.gz"), "--json"]) == 0
    assert '"files": 1' in capsys.readouterr().out


# ---------------------------------------------------------------------------- the GitHub Pages workflow


def test_pages_workflow_builds_with_make_publish_and_deploys_with_the_pages_actions() -> None:
    flow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    build, deploy = flow["jobs"]["build"], flow["jobs"]["deploy"]
    runs = [step.get("run", "") for step in build["steps"]]
    uses = [step.get("uses", "").split("@")[0] for step in build["steps"]]
    assert any(r.strip() == "make publish" for r in runs)
    assert "make publish" in (REPO / "README.md").read_text(encoding="utf-8")  # the README's command
    assert build["container"].startswith("debian:12")  # the quick start's system: Debian's linux-source package
    assert "actions/configure-pages" in uses and "actions/upload-pages-artifact" in uses
    publish_step = next(s for s in build["steps"] if s.get("run", "").strip() == "make publish")
    assert "KEXPLORE_SITE_URL" in publish_step["env"]
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    site_dir = re.search(r"^site_dir: (\S+)$", (REPO / "mkdocs.yml").read_text(encoding="utf-8"), re.M)
    assert site_dir and upload["with"]["path"] == site_dir.group(1)  # what make publish builds
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["needs"] == "build"


def _zizmor(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ZIZMOR), "--offline", "--no-progress", "--config", str(REPO / ".github" / "zizmor.yml"),
                           *map(str, paths)], capture_output=True, text=True, timeout=60, cwd=REPO)


def test_workflow_passes_the_linter() -> None:
    result = _zizmor(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linter_rejects_a_broken_workflow(tmp_path: Path) -> None:
    """The linter run above can fail: a misspelt key, an unpinned third-party action."""
    broken = tmp_path / ".github" / "workflows"
    broken.mkdir(parents=True)
    text = WORKFLOW.read_text(encoding="utf-8")
    (broken / "typo.yml").write_text(text.replace("runs-on:", "run-on:"), encoding="utf-8")
    assert _zizmor(broken / "typo.yml").returncode != 0
    (broken / "unpinned.yml").write_text(text.replace("actions/cache@v4", "someone/cache@main"), encoding="utf-8")
    result = _zizmor(broken / "unpinned.yml")
    assert result.returncode != 0 and "unpinned" in result.stdout + result.stderr


def test_sitemap_under_serve_keeps_the_pages_reused_from_the_last_build(env_project: DemoProject) -> None:
    """`mkdocs serve` rebuilds after an edit without building the generated pages again: the sitemap
    still lists them."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    config_file = str(env_project.root / "mkdocs.yml")
    with environment(KEXPLORE_SITE_URL="https://example.org/k/"):
        config = load_config(config_file)
        config.plugins.on_startup(command="serve", dirty=False)
        try:
            build(config)
            site = Path(config.site_dir)
            first = sitemap_urls(site)
            assert sorted(first) == sorted("https://example.org/k/" + rel for rel in html_pages(site))
            env_project.write_doc("index.md", (env_project.docs / "index.md").read_text(encoding="utf-8") + "\nAn edit.\n")
            config = load_config(config_file)
            build(config)
            assert "An edit." in (site / "index.html").read_text(encoding="utf-8")
            assert sorted(sitemap_urls(site)) == sorted(first)
            assert any("/source/" in url for url in first)
        finally:
            config.plugins.on_shutdown()
