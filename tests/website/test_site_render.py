"""The renderer: token cutting at link spans, escaping, columns, and a golden page."""

from __future__ import annotations

import os
from pathlib import Path

from explorer.config import Project
from explorer.site.links import SiteIndex
from explorer.site.pages import LinkContext, render_source_page
from explorer.site.render import LinkSpan, char_column, render, tokens

GOLDEN = Path(__file__).parent / "golden"


def test_links_cut_tokens_and_text_is_escaped() -> None:
    text = "int a; /* <script> & */\nx = f(a);\n"
    html = render(text, [LinkSpan(2, 4, 5, "#L9"), LinkSpan(1, 4, 5, "#L1", True)])
    assert '<span id="L2">x = <a href="#L9">f</a>(a);\n</span>' in html
    assert '<a class="d" href="#L1">a</a>' in html
    assert "/* &lt;script&gt; &amp; */" in html


def test_a_span_inside_one_token_and_across_lines() -> None:
    text = "/* call foo() here\n   and bar */\n"
    html = render(text, [LinkSpan(1, 8, 11, "#f"), LinkSpan(2, 7, 10, "#b")])
    assert '<span class="cm">/* call </span><a href="#f"><span class="cm">foo</span></a>' in html
    assert '<a href="#b"><span class="cm">bar</span></a>' in html
    assert html.count('<span id="L') == 2


def test_tokens_add_up_to_the_text_and_split_preprocessor_lines() -> None:
    text = '#define sk_state __sk_common.skc_state\n#include <linux/x.h>\nchar *s = "a\\"b"; // c\n'
    toks = tokens(text)
    assert "".join(v for _, v in toks) == text
    values = [v for _, v in toks]
    assert "sk_state" in values and "__sk_common" in values and "skc_state" in values


def test_char_column_counts_characters_not_bytes() -> None:
    line = "/* naïve */ x".encode()
    assert char_column(line, line.index(b"x")) == "/* naïve */ x".index("x")
    assert char_column(b"\xe9\xe2\x82 y", 4) == len(b"\xe9\xe2\x82 ".decode("utf-8", "replace"))


def test_golden_source_page(demo_snippets: Path) -> None:
    """The rendered source of a fixture file; KX_REGEN_GOLDEN=1 rewrites the golden file."""
    project = Project.load(demo_snippets)
    site = SiteIndex.load("demo-1.0", project.index_path("demo-1.0"), project.tree("demo-1.0"))
    html = render_source_page(site, LinkContext("demo-1.0", frozenset({"demo_sock"})), "net/demo/demo_core.c").html
    golden = GOLDEN / "demo_core.c.html"
    if os.environ.get("KX_REGEN_GOLDEN"):
        golden.write_text(html, encoding="utf-8")
    assert html == golden.read_text(encoding="utf-8")
