"""Helpers for the site's tests: a small kernel written for these tests, its index, and site builds.

The C below is the project's own, in kernel style; no kernel code is copied.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import logging
import os
import textwrap
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from explorer.config import PACKAGE_ROOT, Project
from explorer.indexer import build_index

DEMO_HEADER = """\
/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _NET_DEMO_SOCK_H
#define _NET_DEMO_SOCK_H

#define DEMO_MAX_BACKLOG 128

struct demo_common {
	unsigned short		dc_family;
	unsigned char		dc_state;
};

struct demo_sock {
	struct demo_common	__dc_common;
#define ds_state		__dc_common.dc_state
	int			ds_backlog;
	const struct demo_ops	*ds_ops;
};

struct demo_ops {
	int	(*listen)(struct demo_sock *ds, int backlog);
};

static inline int demo_queue_full(const struct demo_sock *ds)
{
	return ds->ds_backlog > DEMO_MAX_BACKLOG;
}

int demo_listen_start(struct demo_sock *ds);

#endif /* _NET_DEMO_SOCK_H */
"""

DEMO_CORE = """\
// SPDX-License-Identifier: GPL-2.0
/*
 * Escaping: <script>alert("owned")</script> & <b>bold</b> stay text.
 */
#include <net/demo_sock.h>

static int demo_alloc_queue(struct demo_sock *ds)
{
	ds->ds_backlog = 0;
	return 0;
}

int demo_listen_start(struct demo_sock *ds)
{
	int err;

	/* naïve café */ err = demo_alloc_queue(ds);
	if (err)
		return err;
	ds->ds_state = 10;
	return 0;
}

int demo_listen(struct demo_sock *ds, int backlog)
{
	if (demo_queue_full(ds) && backlog < 2)
		return -1;
	return demo_listen_start(ds);
}

const struct demo_ops demo_stream_ops = {
	.listen = demo_listen,
};
"""

DEMO_SYSCALL = """\
// SPDX-License-Identifier: GPL-2.0
#include <net/demo_sock.h>

int demo_sys_listen(struct demo_sock *ds, int backlog)
{
	if (backlog > DEMO_MAX_BACKLOG)
		backlog = DEMO_MAX_BACKLOG;
	return ds->ds_ops->listen(ds, backlog);
}
"""

INDEX_MD = """\
# Demo commentary

The listen handler is [[demo_listen]]; it calls [[demo_listen_start|the second half]].
The state lives in [[demo_common.dc_state]], the file is [[net/demo/demo_core.c]],
one line is [[net/demo/demo_core.c#L13]] and another [[net/demo/demo_core.c:25]].

Code spans are left alone: `[[not_a_symbol]]`, and so is this text: a < b && c > d.

[[source:demo_listen_start]]

[[source:demo_sock]]
"""

MKDOCS_YML = """\
site_name: demo explorer
docs_dir: docs
site_dir: {site_dir}
theme:
  name: material
  font: false
plugins:
  - search
  - kernel-explorer:
      snippets: kernel-snippets
      kernel: demo-1.0
      mermaid: false
      symbols:
        - demo_sock
        - demo_sys_listen
"""


@dataclass
class DemoProject:
    root: Path  # holds mkdocs.yml, docs/ and kernel-snippets/

    @property
    def docs(self) -> Path:
        return self.root / "docs"

    def write_doc(self, name: str, text: str) -> None:
        (self.docs / name).write_text(textwrap.dedent(text), encoding="utf-8")


def make_demo_kernel(snippets: Path) -> None:
    """The demo kernel's tree and kernels.toml, and its index."""
    write_demo_kernel(snippets)
    build_index(Project.load(snippets), "demo-1.0", jobs=1)


def write_demo_kernel(snippets: Path) -> None:
    """The demo kernel's tree and kernels.toml, not indexed."""
    tree = snippets / "demo-1.0"
    files = {
        "include/net/demo_sock.h": DEMO_HEADER,
        "net/demo/demo_core.c": DEMO_CORE,
        "net/demo/demo_syscall.c": DEMO_SYSCALL,
    }
    for rel, text in files.items():
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (snippets / "kernels.toml").write_text(
        'default = "demo-1.0"\n\n[kernels."demo-1.0"]\ntitle = "Demo"\npaths = ["net/demo", "include/net"]\n',
        encoding="utf-8",
    )


def build_config(config_file: Path, *, strict: bool = True, site_dir: Path | None = None):  # type: ignore[no-untyped-def]
    """A real `mkdocs build` in-process, as the CLI runs it; returns its config (plugins and all).

    Raises mkdocs' Abort on strict failures."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    overrides: dict[str, object] = {"strict": strict}
    if site_dir is not None:
        overrides["site_dir"] = str(site_dir)
    config = load_config(str(config_file), **overrides)
    config.plugins.on_startup(command="build", dirty=False)
    try:
        build(config)
    finally:
        config.plugins.on_shutdown()
        logging.getLogger("mkdocs").handlers[:] = [
            h for h in logging.getLogger("mkdocs").handlers if type(h).__name__ != "CountHandler"
        ]
    return config


def build_site(config_file: Path, *, strict: bool = True, site_dir: Path | None = None) -> Path:
    """A real `mkdocs build` in-process; returns the site folder. Raises mkdocs' Abort on strict failures."""
    return Path(build_config(config_file, strict=strict, site_dir=site_dir).site_dir)


CHROMIUM = "/usr/bin/chromium"  # Debian's, driven by Playwright
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@contextmanager
def guarded_page(url: str) -> Iterator[object]:
    """A Chromium page for the site at `url` that fails the test on a request to another host, a
    console error or a script error (checked when the block ends)."""
    from urllib.parse import urlsplit

    from playwright.sync_api import sync_playwright

    allowed = urlsplit(url).netloc
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()

        def guard(route) -> None:  # type: ignore[no-untyped-def]
            if urlsplit(route.request.url).netloc != allowed:
                problems.append(f"request to another host: {route.request.url}")
                route.abort()
            else:
                route.continue_()

        context.route("**/*", guard)
        pg = context.new_page()
        pg.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
        pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        try:
            yield pg
        finally:
            browser.close()
    assert problems == []
REPO = Path(__file__).resolve().parent.parent.parent  # the checkout (put on PYTHONPATH for subprocesses)
REAL_INDEX = PACKAGE_ROOT / "kernel-snippets" / "index" / "linux-6.1.sqlite"
REAL_TREE = PACKAGE_ROOT / "kernel-snippets" / "linux-6.1"


def real_index_missing() -> str | None:
    if not REAL_INDEX.is_file() or not REAL_TREE.is_dir():
        return f"needs the vendored linux-6.1 tree and its index ({REAL_INDEX}): run `make index`"
    return None


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first line of `text` containing `needle`."""
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in the fixture")


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Environment variables set for a block (mkdocs.yml reads `!ENV` ones when it is loaded)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


class _Head(html.parser.HTMLParser):
    """The <meta> and <link rel=canonical> of a page's head, as a browser reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.canonical: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "meta" and ("property" in a or "name" in a):
            self.meta[a.get("property") or a["name"]] = a.get("content", "")
        elif tag == "link" and a.get("rel") == "canonical":
            self.canonical.append(a.get("href", ""))


def head_of(page: Path) -> _Head:
    """The head of a page (read up to </head>: a source page is large)."""
    parser = _Head()
    parser.feed(page.read_text(encoding="utf-8").split("</head>", 1)[0])
    return parser


def html_pages(site: Path) -> dict[str, Path]:
    """Every page of a built site by its directory URL relative to the site ('' for the home page)."""
    pages = {}
    for page in site.rglob("*.html"):
        rel = page.relative_to(site).as_posix()
        if rel == "404.html":  # served for any missing path, not a page of the site
            continue
        pages[rel[: -len("index.html")] if rel.endswith("index.html") else rel] = page
    return pages


def sitemap_urls(site: Path) -> list[str]:
    root = ET.parse(site / "sitemap.xml").getroot()  # well-formed XML, or this raises
    assert root.tag == f"{SITEMAP_NS}urlset"
    return [loc.text or "" for loc in root.iter(f"{SITEMAP_NS}loc")]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """A built site served on 127.0.0.1 (a free port) for the browser tests; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- a second demo kernel, for the site of two kernels
#
# demo-2.0 against demo-1.0: demo_listen_start changed (its changed line holds markup that must stay
# text), demo_queue_full removed (demo_listen changed with it), demo_queue_len and the file
# net/demo/demo_fast.c with demo_listen_fast added, demo_sys_listen unchanged.  Both call demo_hash,
# defined in lib/demo_lib.c, which gets no page (only net/demo and what it includes do).

DEMO_LIB = """\
// SPDX-License-Identifier: GPL-2.0
#include <net/demo_sock.h>

unsigned int demo_hash(unsigned int key)
{
	return key * 2654435761u;
}
"""

DEMO2_HEADER = (DEMO_HEADER
                .replace("static inline int demo_queue_full(const struct demo_sock *ds)\n{\n\treturn ds->ds_backlog > DEMO_MAX_BACKLOG;\n}\n",
                         "static inline int demo_queue_len(const struct demo_sock *ds)\n{\n\treturn ds->ds_backlog;\n}\n")
                .replace("int demo_listen_start(struct demo_sock *ds);\n",
                         "int demo_listen_start(struct demo_sock *ds);\nunsigned int demo_hash(unsigned int key);\n"))

DEMO1_CORE = DEMO_CORE.replace("\tds->ds_state = 10;\n", "\tds->ds_state = 10;\n\tds->ds_backlog = demo_hash(0);\n")
DEMO2_CORE = (DEMO1_CORE
              .replace("\tds->ds_state = 10;\n", "\tds->ds_state = 11; /* <b>2.0</b> & \"more\" */\n")
              .replace("demo_queue_full(ds) && backlog < 2", "demo_queue_len(ds) > DEMO_MAX_BACKLOG && backlog < 2"))

DEMO2_FAST = """\
// SPDX-License-Identifier: GPL-2.0
#include <net/demo_sock.h>

int demo_listen_fast(struct demo_sock *ds)
{
	return demo_listen_start(ds) + (int)demo_hash(1);
}
"""

DEMO_KERNELS = {
    "demo-1.0": {
        "include/net/demo_sock.h": DEMO_HEADER.replace(
            "int demo_listen_start(struct demo_sock *ds);\n",
            "int demo_listen_start(struct demo_sock *ds);\nunsigned int demo_hash(unsigned int key);\n"),
        "net/demo/demo_core.c": DEMO1_CORE,
        "net/demo/demo_syscall.c": DEMO_SYSCALL,
        "lib/demo_lib.c": DEMO_LIB,
    },
    "demo-2.0": {
        "include/net/demo_sock.h": DEMO2_HEADER,
        "net/demo/demo_core.c": DEMO2_CORE,
        "net/demo/demo_syscall.c": DEMO_SYSCALL,
        "net/demo/demo_fast.c": DEMO2_FAST,
        "lib/demo_lib.c": DEMO_LIB,
    },
}

TWO_KERNELS_YML = """\
site_name: demo explorer in two versions
docs_dir: docs
site_dir: {site_dir}
theme:
  name: material
  font: false
plugins:
  - search
  - kernel-explorer:
      snippets: kernel-snippets
      kernels: [demo-1.0, demo-2.0]
      source_paths: [net/demo]
      mermaid: false
      symbols:
        - demo_sys_listen
        - demo_listen_start
        - demo_queue_full
        - demo_listen
        - demo_sock
"""

TWO_KERNELS_INDEX_MD = """\
# Demo commentary, two kernels

The listen handler is [[demo_listen]]; the hash is [[src:demo_hash]].

[[source:demo_hash]]
"""


def make_two_demo_kernels(snippets: Path) -> None:
    """demo-1.0 and demo-2.0 (default demo-1.0), vendored and indexed."""
    for kernel, files in DEMO_KERNELS.items():
        for rel, text in files.items():
            path = snippets / kernel / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    (snippets / "kernels.toml").write_text(
        'default = "demo-1.0"\n\n'
        '[kernels."demo-1.0"]\ntitle = "Demo 1.0"\npaths = ["net/demo", "include/net", "lib"]\n\n'
        '[kernels."demo-2.0"]\ntitle = "Demo 2.0"\npaths = ["net/demo", "include/net", "lib"]\n',
        encoding="utf-8")
    project = Project.load(snippets)
    for kernel in DEMO_KERNELS:
        build_index(project, kernel, jobs=1)


def write_two_kernel_project(root: Path, snippets: Path) -> DemoProject:
    """mkdocs.yml, docs/ (with an annotation of demo_listen_start reviewed for demo-1.0 only) and a link
    to the two demo kernels' snippets, in `root`."""
    from explorer.annotations import body_hash, definition_lines
    from explorer.store import Index

    (root / "docs" / "annotations").mkdir(parents=True)
    (root / "kernel-snippets").symlink_to(snippets)
    (root / "docs" / "index.md").write_text(TWO_KERNELS_INDEX_MD, encoding="utf-8")
    project = Project.load(snippets)
    with Index(project.index_path("demo-1.0")) as index:
        sym = index.lookup("demo_listen_start", "function")[0]
        digest = body_hash(definition_lines(index, project.tree("demo-1.0"), sym))
    (root / "docs" / "annotations" / "core.md").write_text(
        "---\nannotations: true\n---\n\n# Notes\n\n## `demo_listen_start`\n"
        f"<!-- reviewed: demo-1.0:{digest} -->\nStarts listening; see [[demo_listen]].\n", encoding="utf-8")
    (root / "mkdocs.yml").write_text(TWO_KERNELS_YML.format(site_dir="site"), encoding="utf-8")
    return DemoProject(root)
