"""The site's lab pages: rendered Markdown, markers, the docs/labs/ pages, and a real MkDocs build."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest

from explorer.labs import LABS
from explorer.labs.accept_queue import accept_queue_lab
from explorer.labs.record import load_results
from explorer.labs.render import MARKER, expand_lab_markers, render_lab_markdown
from explorer.labs.results import LabRecord, RecordedRun, ResultsDamaged, load_record

REPO = Path(__file__).resolve().parents[2]

DOCS_LABS = REPO / "docs" / "labs"


BACKLOG, CLIENTS = 2, 5


@pytest.fixture
def recorded(code) -> LabRecord:  # type: ignore[no-untyped-def]
    command = f"kexplore lab accept-queue --backlog {BACKLOG} --clients {CLIENTS}"
    run = RecordedRun(f"backlog {BACKLOG}", command, accept_queue_lab(BACKLOG, CLIENTS, code=code))
    return LabRecord(lab="accept-queue", recorded_at="2025-01-01T00:00:00Z", kernel="6.1.0-test", root=False, runs=(run,))


def _write(folder: Path, record: LabRecord) -> None:
    (folder / f"{record.lab}.json").write_text(json.dumps(dataclasses.asdict(record)))


def test_render_shows_results_command_and_live_code(project, recorded, vendored_index, capacity_extra) -> None:  # type: ignore[no-untyped-def]
    text = render_lab_markdown(project, "accept-queue", recorded)
    assert f"kexplore lab accept-queue --backlog {BACKLOG} --clients {CLIENTS}" in text
    assert recorded.runs[0].result.kernel in text
    held = min(CLIENTS, BACKLOG + capacity_extra)  # measured, and predicted from the vendored code
    assert f"| in the accept queue (`ss -lnt` Recv-Q) | {held} | {held} |" in text
    assert f"| clients stuck in SYN-SENT | {CLIENTS - held} | {CLIENTS - held} |" in text
    # the excerpt is the vendored definition, at the path the index gives
    sym = vendored_index.lookup("sk_acceptq_is_full")[0]
    assert f"`{sym.path}:{sym.line}`" in text
    assert "```c\nstatic inline bool sk_acceptq_is_full(const struct sock *sk)" in text


def test_render_says_when_the_kernels_differ(project, recorded, vendored_index) -> None:  # type: ignore[no-untyped-def]
    from explorer.labs.code import same_series

    result = recorded.runs[0].result
    assert result.vendored_kernel is not None
    for running in (result.kernel, "2.6.32-ancient"):
        text = render_lab_markdown(project, "accept-queue", dataclasses.replace(recorded, runs=(dataclasses.replace(recorded.runs[0], result=dataclasses.replace(result, kernel=running)),)))
        if same_series(running, result.vendored_kernel.version):
            assert "same series" in text and "differs from the vendored one" not in text
        else:
            assert "differs from the vendored one" in text and "same series" not in text


def test_render_without_results_or_skipped(project) -> None:  # type: ignore[no-untyped-def]
    assert "No results were recorded" in render_lab_markdown(project, "syn-queue", None)
    skipped = LabRecord(lab="syn-queue", recorded_at="2025-01-01T00:00:00Z", kernel="6.1.0-x", root=False, skipped="recorded without root")
    text = render_lab_markdown(project, "syn-queue", skipped)
    assert "recorded without root" in text and "sudo kexplore lab syn-queue" in text


def test_link_callback_makes_links(project, recorded) -> None:  # type: ignore[no-untyped-def]
    text = render_lab_markdown(project, "accept-queue", recorded, link=lambda ref: f"../code/{ref.symbol}.md")
    assert "[`sk_acceptq_is_full`](../code/sk_acceptq_is_full.md)" in text


def test_site_syntax_emits_the_sites_links_and_embeds(project, recorded, vendored_index) -> None:  # type: ignore[no-untyped-def]
    text = render_lab_markdown(project, "accept-queue", recorded, site_syntax=True)
    assert "[[sk_acceptq_is_full]]" in text and "[[source:sk_acceptq_is_full]]" in text
    assert "```c" not in text


def test_markers_expand_from_a_results_folder(project, recorded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _write(tmp_path, recorded)
    page = "# Title\n\n<!-- kexplore-lab: accept-queue -->\n\nafter\n<!-- kexplore-lab: no-such-lab -->\n"
    out = expand_lab_markers(page, project, tmp_path)
    assert "## Results recorded when this site was built" in out and "after" in out
    assert "no lab named `no-such-lab`" in out
    assert expand_lab_markers("plain", project, tmp_path) == "plain"


def test_a_recorded_file_reads_back_as_it_was_written(recorded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _write(tmp_path, recorded)
    assert load_results(tmp_path, "accept-queue") == recorded
    assert load_results(tmp_path, "syn-queue") is None  # nothing recorded: not an error


def test_an_older_file_without_predictions_still_reads(recorded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(json.dumps(dataclasses.asdict(recorded)))
    for key in ("predicted", "agrees", "vendored_kernel", "explanations", "netns"):
        del data["runs"][0]["result"][key]
    record = load_record(data)
    result = record.runs[0].result
    assert result.predicted == {} and result.vendored_kernel is None and result.queued == recorded.runs[0].result.queued


def _damage(recorded: LabRecord) -> dict[str, bytes]:
    whole = json.dumps(dataclasses.asdict(recorded)).encode()
    wrong_type = dataclasses.asdict(recorded)
    wrong_type["runs"][0]["result"]["queued"] = "3"
    missing = dataclasses.asdict(recorded)
    del missing["runs"][0]["result"]["effective_backlog"]
    return {
        "empty": b"",
        "truncated": whole[: len(whole) // 2],
        "garbage": bytes(range(256)) * 4,
        "deep": b"[" * 200_000,
        "a list": b"[1, 2, 3]",
        "wrong type": json.dumps(wrong_type).encode(),
        "missing key": json.dumps(missing).encode(),
        "another lab": whole.replace(b'"lab": "accept-queue"', b'"lab": "syn-queue"', 1),
        "runs not a list": json.dumps({**dataclasses.asdict(recorded), "runs": {"0": 1}}).encode(),
    }


@pytest.mark.parametrize(
    "kind", ["empty", "truncated", "garbage", "deep", "a list", "wrong type", "missing key", "another lab", "runs not a list"]
)
def test_a_damaged_file_is_one_line_not_a_traceback(project, recorded, tmp_path, caplog, kind) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "accept-queue.json"
    path.write_bytes(_damage(recorded)[kind])
    with pytest.raises(ResultsDamaged) as info:
        load_results(tmp_path, "accept-queue")
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "kexplore lab record" in message
    page = expand_lab_markers("<!-- kexplore-lab: accept-queue -->\n", project, tmp_path)
    assert "The recorded results could not be read" in page
    assert any(message in rec.getMessage() for rec in caplog.records), "the site build warns about it"
    assert path.read_bytes() == _damage(recorded)[kind], "the damaged file is left as it was"


def test_docs_pages_exist_and_link_only_to_pages_that_exist() -> None:
    pages = {p.name for p in DOCS_LABS.glob("*.md")}
    assert {"index.md", *(f"{lab.name}.md" for lab in LABS)} <= pages
    for lab in LABS:
        text = (DOCS_LABS / f"{lab.name}.md").read_text()
        assert MARKER.search(text) and MARKER.search(text).group(1) == lab.name
        for symbol in lab.symbols[:3]:
            assert symbol in text, (lab.name, symbol)
    for page in DOCS_LABS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            assert "://" not in target and (DOCS_LABS / target).is_file(), (page.name, target)


def test_mkdocs_builds_the_lab_pages(project, tmp_path, netns_missing) -> None:  # type: ignore[no-untyped-def]
    """A tiny site holding docs/labs/, with a hook that expands the markers as the site plugin will."""
    mkdocs_config = pytest.importorskip("mkdocs.config")
    from mkdocs.commands.build import build

    docs = tmp_path / "docs"
    shutil.copytree(DOCS_LABS, docs / "labs")
    (docs / "index.md").write_text("# Home\n\nSee [the labs](labs/index.md).\n")
    # the lab pages link into the walkthrough: a stub page stands in for each chapter they name
    (docs / "walkthrough").mkdir()
    for name in sorted({m for page in DOCS_LABS.glob("*.md") for m in re.findall(r"\.\./walkthrough/([\w-]+)\.md", page.read_text())}):
        (docs / "walkthrough" / f"{name}.md").write_text(f"# {name}\n")
    results = tmp_path / "results"
    from explorer.labs.record import record_labs

    record_labs(project, results)
    (tmp_path / "hooks.py").write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            from explorer.config import Project
            from explorer.labs.render import expand_lab_markers

            def on_page_markdown(markdown, page, config, files):
                return expand_lab_markers(markdown, Project.load({str(project.snippets)!r}), Path({str(results)!r}))
            """
        )
    )
    (tmp_path / "mkdocs.yml").write_text(
        textwrap.dedent(
            """
            site_name: labs test
            docs_dir: docs
            site_dir: site
            hooks: [hooks.py]
            markdown_extensions: [tables, fenced_code]
            nav:
              - index.md
              - Labs: [labs/index.md, labs/accept-queue.md, labs/syn-queue.md, labs/final-ack.md, labs/reuseport.md, labs/ports.md]
            """
        )
    )
    cfg = mkdocs_config.load_config(str(tmp_path / "mkdocs.yml"), strict=True)
    build(cfg)
    html = (tmp_path / "site" / "labs" / "accept-queue" / "index.html").read_text()
    assert "Results recorded when this site was built" in html
    assert "sk_acceptq_is_full" in html and "<table>" in html
    assert (tmp_path / "site" / "labs" / "syn-queue" / "index.html").is_file()
    final_ack = (tmp_path / "site" / "labs" / "final-ack" / "index.html").read_text()
    reuseport = (tmp_path / "site" / "labs" / "reuseport" / "index.html").read_text()
    if netns_missing is None:  # recorded: both runs of final-ack, and the per-listener table
        assert "late clients reset (ECONNRESET)" in final_ack and final_ack.count("<table>") == 4
        assert "TcpExt TCPSynRetrans once there was room" in final_ack and "--abort-on-overflow 0 --no-data" in final_ack
        assert "TcpExt TCPFastOpenListenOverflow" in final_ack and "sudo kexplore lab final-ack --fastopen 2 --clients 4" in final_ack
        assert "sudo kexplore lab final-ack --backlog 2 --clients 3 --abort-on-overflow 1" in final_ack
        assert "connections accepted" in reuseport and "tcp_check_req" in final_ack
        # the two closing runs: what became of listener 1's connections, with tcp_migrate_req 0 and 1
        assert "queued connections whose client was reset" in reuseport and "TCPMigrateReqSuccess" in reuseport
        assert "sudo kexplore lab reuseport --listeners 3 --clients 8 --close-first --migrate-req 1 --pending 2" in reuseport
        ports = (tmp_path / "site" / "labs" / "ports" / "index.html").read_text()
        assert "TcpExt TWRecycled" in ports and ports.count("<table>") == 4 and "ECONNREFUSED" in ports and "EADDRNOTAVAIL" in ports
    else:
        assert "Not recorded" in final_ack and "Not recorded" in reuseport


HOSTILE = 'x"><img src=x onerror=alert(4)> [click](javascript:alert(5)) `` ` [[source:x]] **bold**\n# heading'


def _hostile(recorded: LabRecord) -> LabRecord:
    """The recorded file with every text field a file could carry set to markup."""
    result = recorded.runs[0].result
    assert result.vendored_kernel is not None
    ref = dataclasses.replace(result.explanations[0].code[0], symbol=HOSTILE, path=HOSTILE)
    explanation = dataclasses.replace(result.explanations[0], text=HOSTILE, code=(ref,))
    result = dataclasses.replace(
        result, kernel=HOSTILE, explanations=(explanation,), vendored_kernel=dataclasses.replace(result.vendored_kernel, title=HOSTILE)
    )
    run = RecordedRun(title=HOSTILE, command=HOSTILE, result=result)
    return dataclasses.replace(recorded, recorded_at=HOSTILE, runs=(run,))


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("site_syntax", [False, True])
def test_text_from_a_results_file_is_text_on_the_page(project, recorded, vendored_index, site_syntax, language) -> None:  # type: ignore[no-untyped-def]
    """Rendered through real Python-Markdown with the site's own [[...]] extension: markup in the file stays text."""
    markdown = pytest.importorskip("markdown")
    from explorer.site.markdown import CommentaryLinkResolver, SymbolLinkExtension

    class Asked(CommentaryLinkResolver):
        def __init__(self) -> None:
            self.targets: list[str] = []

        def link(self, target: str) -> None:
            self.targets.append(target)

        def embed(self, target: str) -> None:
            self.targets.append(target)

        def missing(self, target: str) -> None:
            pass

    hostile = _hostile(recorded)
    skipped = dataclasses.replace(hostile, runs=(), skipped=HOSTILE, kernel=HOSTILE)
    for record in (hostile, skipped):
        asked = Asked()
        text = render_lab_markdown(project, "accept-queue", record, site_syntax=site_syntax, language=language)
        page = markdown.markdown(text, extensions=["tables", "fenced_code", "attr_list", SymbolLinkExtension(lambda asked=asked: asked)])
        assert "<img" not in page, page
        assert 'href="javascript' not in page, page
        assert "<strong>bold</strong>" not in page and "<h1>heading" not in page
        assert "&lt;img src=x onerror=alert(4)&gt;" in page  # shown as text, not dropped
        # the site's extension was asked only for C names, never for text from the file
        assert all(re.fullmatch(r"[A-Za-z_]\w*", target) for target in asked.targets), asked.targets


def test_a_damaged_file_with_markup_in_its_keys_is_text_on_the_page(project, recorded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    markdown = pytest.importorskip("markdown")
    data = json.loads(json.dumps(dataclasses.asdict(recorded)))
    data["runs"][0]["result"]["counters"] = {HOSTILE: "not a number"}
    (tmp_path / "accept-queue.json").write_text(json.dumps(data))
    page = markdown.markdown(expand_lab_markers("<!-- kexplore-lab: accept-queue -->\n", project, tmp_path), extensions=["tables"])
    assert "could not be read" in page and "<img" not in page and 'href="javascript' not in page


# ---------------------------------------------------------------- the Chinese edition's lab pages

_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def recorded_labs(project, tmp_path_factory, vendored_index, netns_capable) -> Path:  # type: ignore[no-untyped-def]
    """Every lab recorded for real, as `kexplore lab record` records them for the site."""
    from explorer.labs.record import record_labs

    out = tmp_path_factory.mktemp("recorded")
    record_labs(project, out)
    return out


@pytest.mark.parametrize("lab", [lab.name for lab in LABS])
def test_a_chinese_page_gets_every_part_of_the_results_in_chinese(project, recorded_labs, lab) -> None:  # type: ignore[no-untyped-def]
    from explorer.labs.i18n import EXPLANATIONS_ZH, Messages

    record = load_results(recorded_labs, lab)
    assert record is not None and not record.skipped and record.runs, record
    messages = Messages("zh")
    zh = render_lab_markdown(project, lab, record, site_syntax=True, messages=messages)
    en = render_lab_markdown(project, lab, record, site_syntax=True)
    assert messages.missing == set(), "every sentence and label the page uses has its Chinese"
    assert not _CJK.search(en) and _CJK.search(zh)
    for run in record.runs:
        for item in run.result.explanations:
            assert (lab, item.observation) in EXPLANATIONS_ZH, (lab, item.observation)
            assert item.text not in zh  # written again in Chinese, not the file's English
    # the tables hold the same numbers in the same rows; only the words change
    def rows(text: str) -> list[list[str]]:
        return [re.findall(r"\d+", line.split("|", 2)[2]) for line in text.splitlines() if line.startswith("| ") and "---" not in line]

    assert rows(en) == rows(zh) and rows(zh)
    # the same anchors for the generated headings as on the English page
    assert "## 构建本站时记录的结果 {#results-recorded-when-this-site-was-built}" in zh
    for run in record.runs:
        assert re.search(r"^### .*[\u4e00-\u9fff].* \{#[\w-]+\}$", zh, re.M), run.title


def test_every_recorded_run_title_and_the_skip_reason_have_their_chinese(project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from explorer.labs.i18n import run_title
    from explorer.labs.record import record_lab, recordings

    for lab in LABS:
        for root in (True, False):
            for rec in recordings(lab.name, root):
                title = run_title("zh", rec.title)
                assert title != rec.title and _CJK.search(title), rec.title
                assert re.findall(r"\d+", title) == re.findall(r"\d+", rec.title.replace("nine", "9").replace("four", "4").replace("two", "2"))
                assert run_title("en", rec.title) == rec.title
    monkeypatch.setattr("os.geteuid", lambda: 1000)  # what `kexplore lab record` writes without root
    skipped = record_lab(project, "final-ack")
    assert skipped.skipped
    zh = render_lab_markdown(project, "final-ack", skipped, language="zh")
    assert "未在 Linux" in zh and "需要 root" in zh and skipped.skipped not in zh


def test_without_results_or_with_a_damaged_file_a_chinese_page_says_so_in_chinese(project, recorded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert "这次构建没有记录结果" in expand_lab_markers("<!-- kexplore-lab: syn-queue -->\n", project, tmp_path, language="zh")
    (tmp_path / "accept-queue.json").write_text("{")
    page = expand_lab_markers("<!-- kexplore-lab: accept-queue -->\n", project, tmp_path, language="zh")
    assert "记录的结果无法读取" in page and str(tmp_path / "accept-queue.json") in page.replace("\\", "")
    assert "没有名为 `nope` 的实验" in expand_lab_markers("<!-- kexplore-lab: nope -->\n", project, tmp_path, language="zh")
