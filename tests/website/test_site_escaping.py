"""The escaping helpers, one context at a time, and the page parts that use them, with hostile names."""

from __future__ import annotations

import html
import html.parser
import json
import re
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit

import pytest

from explorer.config import Project
from explorer.escaping import html_attr, html_text, markdown_code, mermaid_label, script_json, url_path
from explorer.site.links import SiteIndex
from explorer.site.pages import (
    LinkContext,
    _embedding_mermaid,
    _mermaid,
    call_list,
    embed_html,
    folder_page,
    folders,
    member_table,
    refs_html,
    render_source_page,
    symbol_page,
)
from explorer.site.render import LinkSpan, render
from explorer.store import CallEdge
from explorer.urls import definition_url, relative_href, source_url, symbol_url

from .hostilekit import APOS_FILE, KERNEL, QUOTE_FILE, SCHEME_FILE, TAG_FOLDER, URL_FILE, line_in, make_hostile_kernel

HOSTILE = [
    'x"><img src=x onerror=alert(4)>.c',
    "a'b.c",
    "</script><script>window.kxPwned=1</script>",
    "javascript:alert(6)",
    "sp ace #1 ?q=%41&amp;",
    "naïve café ü.c",
    "tab\tand\nnewline",
    "",
]


class _Tree(html.parser.HTMLParser):
    """The elements and text a browser would make of an HTML fragment."""

    def __init__(self, fragment: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text = ""
        self.feed(fragment)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text += data

    def hrefs(self) -> list[str]:
        return [a["href"] for t, a in self.tags if t == "a" and "href" in a]


def _resolve(page_url: str, href: str) -> tuple[str, str]:
    """(plain site path, fragment) of an href on the page served at plain directory URL `page_url`."""
    parts = urlsplit(urljoin("http://h/" + quote(page_url), href))
    assert (parts.scheme, parts.netloc, parts.query) == ("http", "h", ""), href
    return unquote(parts.path).lstrip("/"), unquote(parts.fragment)


# ------------------------------------------------------------------ the helpers


@pytest.mark.parametrize("text", HOSTILE)
def test_html_text_is_read_back_as_the_same_text_and_no_element(text: str) -> None:
    tree = _Tree(f"<p>{html_text(text)}</p>")
    assert tree.tags == [("p", {})]
    assert tree.text == text


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("quote_char", ['"', "'"])
def test_html_attr_stays_one_attribute_in_either_quotes(text: str, quote_char: str) -> None:
    tree = _Tree(f"<a title={quote_char}{html_attr(text)}{quote_char} class=k>x</a>")
    assert tree.tags == [("a", {"title": text, "class": "k"})]
    assert not set(html_attr(text)) & set("<>\"'")


@pytest.mark.parametrize("text", HOSTILE)
def test_url_path_is_one_path_of_the_same_segments(text: str) -> None:
    path = f"kernel/source/{text}/{text}"
    encoded = url_path(path)
    parts = urlsplit(encoded)
    assert (parts.scheme, parts.netloc, parts.query, parts.fragment) == ("", "", "", "")
    assert unquote(parts.path) == path
    assert encoded.split("/") == [url_path(s) for s in path.split("/")]
    assert not set(encoded) & set(" \"'<>#?&:\t\n")
    assert encoded.isascii()


def test_url_path_keeps_plain_paths_as_they_are() -> None:
    assert url_path("linux-6.1/source/net/ipv4/af_inet.c/") == "linux-6.1/source/net/ipv4/af_inet.c/"


@pytest.mark.parametrize("text", [t for t in HOSTILE if t and "\t" not in t] + ["`tick`", "a``b", "``", "x ` y"])
def test_markdown_code_is_literal(text: str) -> None:
    import markdown

    rendered = markdown.markdown(f"see {markdown_code(text)} here")
    tree = _Tree(rendered)
    assert [t for t, _ in tree.tags] == ["p", "code"]
    assert tree.text == f"see {' '.join(text.splitlines())} here"


@pytest.mark.parametrize("text", HOSTILE)
def test_script_json_cannot_end_a_script_element(text: str) -> None:
    value = {"kernel": text, "list": [text, "<!--", "\u2028"]}
    js = script_json(value)
    assert "<" not in js and ">" not in js and "\u2028" not in js
    assert json.loads(js) == value


@pytest.mark.parametrize("text", HOSTILE + ['a"] --> b["c', "x|y", "#quot;"])
def test_mermaid_label_cannot_end_its_label(text: str) -> None:
    label = mermaid_label(text)
    assert not set(label) & set('"<>[]|`\n\t')
    # mermaid's entity codes give the characters back
    assert re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label) == text


# ------------------------------------------------------------------ URLs


@pytest.mark.parametrize("name", HOSTILE[:-1])
def test_relative_href_lands_on_the_named_page_and_line(name: str) -> None:
    page = f"k/source/net/{name}/inner.c/"
    target = f"k/source/net/{name}/other {name}.c/"
    href = relative_href(page, target, "L12")
    assert _resolve(page, href) == (target, "L12")
    assert _resolve(page, relative_href(page, target)) == (target, "")
    assert not set(href) & set("\"'<> ")


def test_relative_href_to_the_same_page_is_the_fragment() -> None:
    page = "k/source/a b.c/"
    assert relative_href(page, page, "L3") == "#L3"


def test_definition_url_is_encoded() -> None:
    url = definition_url("k", QUOTE_FILE, 7)
    assert unquote(urlsplit(url).path) == f"/k/source/{QUOTE_FILE}/"
    assert urlsplit(url).fragment == "L7"


# ------------------------------------------------------------------ the renderer


def test_a_link_href_is_attribute_escaped() -> None:
    html_out = render("f(x);\n", [LinkSpan(1, 0, 1, 'a"><img src=x onerror=alert(1)>', False)])
    tree = _Tree(html_out)
    assert [a for t, a in tree.tags if t == "a"] == [{"href": 'a"><img src=x onerror=alert(1)>'}]
    assert "img" not in [t for t, _ in tree.tags]


# ------------------------------------------------------------------ page parts over the hostile kernel


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SiteIndex:
    snippets = tmp_path_factory.mktemp("hostile-parts") / "kernel-snippets"
    make_hostile_kernel(snippets)
    project = Project.load(snippets)
    return SiteIndex.load(KERNEL, project.index_path(KERNEL), project.tree(KERNEL))


def _safe(fragment: str) -> _Tree:
    """The fragment parsed; no element or attribute came from the tree."""
    tree = _Tree(fragment)
    for tag, attrs in tree.tags:
        assert tag not in ("img", "svg", "script"), (tag, attrs)
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
    return tree


@pytest.mark.parametrize("path", [QUOTE_FILE, APOS_FILE, SCHEME_FILE, URL_FILE])
def test_source_page_header_and_links(site: SiteIndex, path: str) -> None:
    page_url = source_url(KERNEL, path)
    tree = _safe(render_source_page(site, LinkContext(KERNEL, frozenset({"evil_open"})), path).html)
    head = next(a for t, a in tree.tags if "data-kx-path" in a)
    assert head["data-kx-path"] == path
    targets = {_resolve(page_url, h)[0] for h in tree.hrefs()}
    assert source_url(KERNEL, path.rsplit("/", 1)[0]) in targets  # the crumb of its folder
    assert f"{KERNEL}/source/" in targets


def test_links_from_a_source_page_land_on_definitions_in_hostile_files(site: SiteIndex) -> None:
    page_url = source_url(KERNEL, APOS_FILE)
    tree = _safe(render_source_page(site, LinkContext(KERNEL), APOS_FILE).html)
    targets = {_resolve(page_url, h) for h in tree.hrefs()}
    assert (source_url(KERNEL, QUOTE_FILE), f"L{line_in(QUOTE_FILE, 'int evil_open(')}") in targets
    assert (source_url(KERNEL, QUOTE_FILE), f"L{line_in(QUOTE_FILE, 'struct evil_sock {')}") in targets


def test_folder_page_lists_names_as_text_and_links_them(site: SiteIndex) -> None:
    import markdown

    folder = QUOTE_FILE.rsplit("/", 1)[0]
    files, subs = folders(site.files)[folder]
    text = folder_page(site, folder, files, subs)
    front, body = text.split("---\n", 2)[1:]
    title = json.loads(front.split("title: ", 1)[1].split("\n", 1)[0])
    assert html.unescape(title) == f"{KERNEL}/{folder}"
    assert "<" not in title
    tree = _safe(markdown.markdown(body))
    page_url = source_url(KERNEL, folder)
    targets = {_resolve(page_url, h)[0] for h in tree.hrefs()}
    for path in (QUOTE_FILE, APOS_FILE, URL_FILE):
        assert source_url(KERNEL, path) in targets
        assert path.rsplit("/", 1)[1] in tree.text
    assert source_url(KERNEL, TAG_FOLDER) in targets
    assert source_url(KERNEL, folder.rsplit("/", 1)[0]) in targets  # the way up


def test_folder_page_keeps_a_name_with_a_line_break_inside_its_list(site: SiteIndex) -> None:
    import markdown

    site.files["net/odd/a\n\n<img src=x onerror=alert(1)>\n\n# b.c"] = 3
    try:
        files, subs = folders(site.files)["net/odd"]
        body = folder_page(site, "net/odd", files, subs).split("---\n", 2)[2]
    finally:
        del site.files["net/odd/a\n\n<img src=x onerror=alert(1)>\n\n# b.c"]
    tree = _safe(markdown.markdown(body))
    assert "<img src=x onerror=alert(1)>" in tree.text
    assert "h1" not in [t for t, _ in tree.tags[1:]]  # only the page's own heading


def test_symbol_page_puts_paths_and_conditions_in_html_blocks(site: SiteIndex) -> None:
    import markdown

    blocks: dict[str, str] = {}
    ctx = LinkContext(KERNEL, frozenset({"quote_caller", "evil_open"}))
    text = symbol_page(site, ctx, "quote_caller", [], blocks)
    assert "CONFIG_EVIL" not in text and "a'b.c" not in text  # only in the blocks
    page_url = symbol_url(KERNEL, "quote_caller")
    definition = _safe(blocks["definition-0"])
    line = line_in(APOS_FILE, "int quote_caller(")
    assert (source_url(KERNEL, APOS_FILE), f"L{line}") in {_resolve(page_url, h) for h in definition.hrefs()}
    assert "(under defined(CONFIG_EVIL) /* `<img src=x onerror=alert(8)>` */ || 1)" in definition.text
    embed = next(a for t, a in definition.tags if t == "figure")
    assert _resolve(page_url, embed["data-kx-src"])[0] == source_url(KERNEL, APOS_FILE)
    # the Markdown around the blocks renders to a heading naming the symbol
    heading = _safe(markdown.markdown(text.split("\n", 1)[0]))
    assert heading.text.startswith("quote_caller")


def test_call_list_and_references(site: SiteIndex) -> None:
    from explorer.site.links import callers

    page_url = symbol_url(KERNEL, "quote_helper")
    rows = callers(site, "quote_helper")
    tree = _safe(call_list(site, LinkContext(KERNEL, frozenset({"evil_open"})), rows, page_url))
    targets = {_resolve(page_url, h) for h in tree.hrefs()}
    for path in (QUOTE_FILE, SCHEME_FILE, URL_FILE):
        call = line_in(path, "quote_helper(")
        assert (source_url(KERNEL, path), f"L{call}") in targets
        assert f"{path}:{call}" in tree.text
    assert (symbol_url(KERNEL, "evil_open"), "") in targets
    refs = [(QUOTE_FILE, 3, 'call"><b'), (URL_FILE, 4, "")]
    tree = _safe(refs_html(site, refs, page_url))
    assert {_resolve(page_url, h) for h in tree.hrefs()} == {(source_url(KERNEL, QUOTE_FILE), "L3"), (source_url(KERNEL, URL_FILE), "L4")}
    assert QUOTE_FILE in tree.text and URL_FILE in tree.text
    titles = {_resolve(page_url, a["href"])[0]: a["title"] for t, a in tree.tags if t == "a"}
    assert titles[source_url(KERNEL, QUOTE_FILE)] == 'call"><b'


def test_member_table_and_embed(site: SiteIndex) -> None:
    struct = next(d for d in site.lookup("evil_sock") if d.kind == "struct")
    page_url = symbol_url(KERNEL, "evil_sock")
    tree = _safe(member_table(site, struct))
    assert {_resolve(page_url, h) for h in tree.hrefs()} == {
        (source_url(KERNEL, QUOTE_FILE), f"L{line_in(QUOTE_FILE, m)}") for m in ("es_state", "es_flags")
    }
    d = next(d for d in site.lookup("evil_open") if d.kind == "function")
    tree = _safe(embed_html(site, LinkContext(KERNEL), d, "notes/"))
    assert QUOTE_FILE in tree.text
    assert _resolve("notes/", tree.hrefs()[0]) == (source_url(KERNEL, QUOTE_FILE), f"L{d.line}")


def test_mermaid_labels_from_names() -> None:
    rows = [CallEdge('a"] --> evil["x', "p.c", 1, 'op"|<b>'), CallEdge("b<i>", "q.c", 2, None)]
    block = _mermaid('self"<s>', rows, rows)
    tree = _safe(block)
    assert [t for t, _ in tree.tags] == ["pre", "code"]
    labels = re.findall(r'\["([^"]*)"\]', tree.text)
    assert labels and all(not set(label) & set('<>"') for label in labels)
    assert len(re.findall(r'\|"([^"]*)"\|', tree.text)) == 2  # the two calls through a member
    chain = _safe(_embedding_mermaid(["a", 'b"]']))
    assert re.findall(r'\["([^"]*)"\]', chain.text) == ["struct a", "struct b#34;#93;"]


def test_tree_paths_in_the_fixture_are_hostile() -> None:
    """The page tests above mean something only if the fixture's names need escaping."""
    for path in (QUOTE_FILE, APOS_FILE, SCHEME_FILE, URL_FILE):
        assert html_attr(path) != path or url_path(path) != path
    assert Path(SCHEME_FILE).name.startswith("javascript:")
