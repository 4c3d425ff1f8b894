"""The site over a demo kernel with assembly: .S source pages highlighted and linked like C pages, a symbol
page for an entry point, and the system call edges in its call graph.  The fixtures are the project's own
(tests/fixtures/asm/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from explorer.config import Project
from explorer.indexer import build_index

from .site_linkcheck import check_site
from .sitekit import DEMO_CORE, DEMO_HEADER, MKDOCS_YML, build_site, line_of

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "asm"
ENTRY = "arch/x86/entry/demo_entry.S"
HOSTILE = """\
/* <script>alert("asm")</script> & <b>bold</b> stay text */
SYM_FUNC_START(demo_hostile)
	movq	$'<', %rax	# </span><a href="x">comment</a>
	ALTERNATIVE "call demo_weak", "<img src=x onerror=alert(1)>", X86_FEATURE_DEMO
	RET
SYM_FUNC_END(demo_hostile)
"""
INDEX_MD = """\
# Demo

The entry is [[demo_entry_syscall]]; it reaches [[demo_do_syscall]].
The file is [[arch/x86/entry/demo_entry.S]], its line [[arch/x86/entry/demo_entry.S#L{line}]], the
table [[arch/x86/entry/syscalls/syscall_64.tbl]].

[[source:demo_restore_regs]]
"""


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("asm-site")
    snippets = root / "kernel-snippets"
    tree = snippets / "demo-1.0"
    files = {
        "include/net/demo_sock.h": DEMO_HEADER,
        "net/demo/demo_core.c": DEMO_CORE,
        ENTRY: fixture_text("demo_entry.S"),
        "arch/x86/entry/demo_hostile.S": HOSTILE,
        "arch/x86/entry/common.c": fixture_text("common.c"),
        "arch/x86/entry/syscall_64.c": fixture_text("syscall_64.c"),
        "arch/x86/entry/syscalls/syscall_64.tbl": fixture_text("syscall_64.tbl"),
        "net/demo/demo_socket.c": fixture_text("demo_socket.c"),
    }
    for rel, text in files.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text, encoding="utf-8")
    (snippets / "kernels.toml").write_text(
        'default = "demo-1.0"\n\n[kernels."demo-1.0"]\ntitle = "Demo"\npaths = ["net/demo", "include/net", "arch/x86"]\n'
        'xref_paths = ["net/demo", "include/net", "arch/x86"]\n',
        encoding="utf-8",
    )
    build_index(Project.load(snippets), "demo-1.0", jobs=1)
    (root / "docs").mkdir()
    line = line_of(fixture_text("demo_entry.S"), "SYM_CODE_START(demo_entry_syscall)")
    (root / "docs" / "index.md").write_text(INDEX_MD.format(line=line), encoding="utf-8")
    config = MKDOCS_YML.format(site_dir="site").replace("        - demo_sys_listen\n", "        - demo_entry_syscall\n"
                                                                                      "        - x64_sys_call\n")
    (root / "mkdocs.yml").write_text(config, encoding="utf-8")
    return build_site(root / "mkdocs.yml")


def _line(html: str, n: int) -> str:
    m = re.search(rf'<span id="L{n}">(.*?)\n</span>', html, re.S)
    assert m, f"no line {n}"
    return m.group(1)


def _page(site: Path, rel: str) -> str:
    return (site / "demo-1.0/source" / rel / "index.html").read_text(encoding="utf-8")


def test_an_assembly_source_page_is_highlighted(site: Path) -> None:
    text = fixture_text("demo_entry.S")
    page = _page(site, ENTRY)
    swapgs = _line(page, line_of(text, "\tswapgs"))
    assert '<span class="k">swapgs</span>' in swapgs  # the instruction
    movq = _line(page, line_of(text, "movq\t%rsp, PER_CPU_VAR"))
    assert '<span class="nv">%rsp</span>' in movq  # a register
    assert '<span class="cp">#define</span>' in _line(page, line_of(text, "#define DEMO_STACK_OFFSET"))
    assert '<span class="na">.section</span>' in page  # a directive
    assert '<span class="c1"># an assembler comment' in page  # `#` after code is a comment


def test_an_assembly_source_page_links_like_a_c_page(site: Path) -> None:
    text = fixture_text("demo_entry.S")
    page = _page(site, ENTRY)
    common = fixture_text("common.c")
    handler = line_of(common, "void demo_do_syscall(struct pt_regs *regs, int nr)")
    call = _line(page, line_of(text, "call\tdemo_do_syscall\t"))
    assert f'<a href="../common.c/#L{handler}">demo_do_syscall</a>' in call  # asm → C
    restore = line_of(text, "SYM_CODE_START_LOCAL(demo_restore_regs)")
    assert f'<a href="#L{restore}">demo_restore_regs</a>' in _line(page, line_of(text, "\tjne\tdemo_restore_regs"))
    # inside an ALTERNATIVE string too
    in_string = f'<a href="#L{restore}"><span class="s">demo_restore_regs</span></a>'
    assert in_string in _line(page, line_of(text, 'ALTERNATIVE "", "jmp'))
    assert 'class="d"' in _line(page, line_of(text, "SYM_CODE_START(demo_entry_syscall)"))  # at its definition


def test_c_links_to_assembly_and_the_table_page(site: Path) -> None:
    common = _page(site, "arch/x86/entry/common.c")
    assert "x64_sys_call" in common
    table = _page(site, "arch/x86/entry/syscalls/syscall_64.tbl")
    assert '<span class="c1"># SPDX-License-Identifier' in table


def test_untrusted_text_in_assembly_is_escaped(site: Path) -> None:
    page = _page(site, "arch/x86/entry/demo_hostile.S")
    page = page[page.index('<div class="kx-source">'):]  # the code, not the theme's own scripts
    assert '<script>alert' not in page and "<img" not in page and '<a href="x">' not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_symbol_page_of_an_entry_point_shows_its_calls(site: Path) -> None:
    page = (site / "demo-1.0/symbol/demo_entry_syscall/index.html").read_text(encoding="utf-8")
    assert "asm code" in page
    assert "demo_do_syscall" in page and '<span class="k">swapgs</span>' in page  # callees and the embed
    dispatch = (site / "demo-1.0/symbol/x64_sys_call/index.html").read_text(encoding="utf-8")
    assert "__x64_sys_demo_listen" in dispatch and "syscall_64.tbl #7" in dispatch


def test_commentary_links_assembly_files_lines_and_embeds(site: Path) -> None:
    page = (site / "index.html").read_text(encoding="utf-8")
    line = line_of(fixture_text("demo_entry.S"), "SYM_CODE_START(demo_entry_syscall)")
    assert f'href="demo-1.0/source/{ENTRY}/#L{line}"' in page
    assert 'href="demo-1.0/source/arch/x86/entry/syscalls/syscall_64.tbl/"' in page
    assert '<span class="k">popq</span>' in page  # the embedded definition, highlighted as assembly


def test_no_broken_links(site: Path) -> None:
    broken, external = check_site(site)
    assert broken == [] and external == []
