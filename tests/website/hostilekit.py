"""A small kernel whose file and folder names, comments and conditions try to inject HTML and script.

Every payload either calls ``alert`` or sets ``window.kxPwned``: a test that opens these pages in a
browser fails on a dialog or on that variable.  The C is the project's own, written for these tests.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from explorer.config import Project
from explorer.indexer import build_index

KERNEL = "evil-1.0"

# a double quote closes an attribute; the tag runs script when it is parsed as HTML
QUOTE_FILE = 'net/evil/x"><img src=x onerror=alert(4)>.c'
# a single quote closes a single-quoted attribute (as explorer.js used to write hrefs)
APOS_FILE = "net/evil/a'b.c"
# a single-quoted attribute broken out of, with a handler: what explorer.js's hrefs allowed
HANDLER_FILE = "net/evil/'onmouseover='alert(13)'.c"
# a folder whose name is markup; holds a file whose name starts like a URL scheme
TAG_FOLDER = "net/evil/<svg onload=alert(5)>"
SCHEME_FILE = f"{TAG_FOLDER}/javascript:alert(6).c"
# the characters that mean something in a URL, and some that are not ASCII
URL_FILE = "net/evil/sp ace #1 ?q=%41&amp é.c"
HEADER = "include/net/evil.h"
# a path that closes a <script> element or a <title> (its slashes make two folders of markup)
SCRIPT_FILE = "net/evil/</script><script>window.kxPwned=1</script>.c"

EVIL_H = """\
/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _NET_EVIL_H
#define _NET_EVIL_H

struct evil_ops {
	int	(*open)(struct evil_sock *es);
};

int quote_helper(int flags);
int evil_open(struct evil_sock *es);

#endif /* _NET_EVIL_H */
"""

QUOTE_C = """\
// SPDX-License-Identifier: GPL-2.0
/* a comment: "><img src=x onerror=alert(10)> and '><img src=x onerror=alert(11)> */
#include <net/evil.h>

struct evil_sock {
	int	es_state;
	int	es_flags;
};

int evil_open(struct evil_sock *es /* "'><img src=x onerror=alert(12)> */)
{
	es->es_state = 1;
	return quote_helper(es->es_flags);
}

const struct evil_ops evil_stream_ops = {
	.open = evil_open,
};
"""

APOS_C = """\
// SPDX-License-Identifier: GPL-2.0
#include <net/evil.h>

int quote_helper(int flags)
{
	return flags + 1;
}

#if defined(CONFIG_EVIL) /* `<img src=x onerror=alert(8)>` */ || 1
int quote_caller(struct evil_sock *es)
{
	es->es_flags = 2;
	return evil_open(es) + es->es_state;
}
#endif

int quote_through_ops(struct evil_sock *es, const struct evil_ops *ops)
{
	return ops->open(es);
}
"""

SCHEME_C = """\
// SPDX-License-Identifier: GPL-2.0
#include <net/evil.h>

int scheme_entry(struct evil_sock *es)
{
	return quote_helper(1) + evil_open(es);
}
"""

URL_C = """\
// SPDX-License-Identifier: GPL-2.0
#include <net/evil.h>

int url_entry(int flags)
{
	return quote_helper(flags);
}
"""

SCRIPT_C = """\
// SPDX-License-Identifier: GPL-2.0
#include <net/evil.h>

int script_entry(int flags)
{
	return quote_helper(flags) + url_entry(flags);
}
"""

HANDLER_C = """\
// SPDX-License-Identifier: GPL-2.0
#include <net/evil.h>

int handler_open(struct evil_sock *es)
{
	return quote_helper(es->es_state);
}

const struct evil_ops handler_ops = {
	.open = handler_open,
};
"""

FILES = {
    HEADER: EVIL_H,
    QUOTE_FILE: QUOTE_C,
    APOS_FILE: APOS_C,
    SCHEME_FILE: SCHEME_C,
    URL_FILE: URL_C,
    SCRIPT_FILE: SCRIPT_C,
    HANDLER_FILE: HANDLER_C,
}

# symbols that get pages: each defined in (or calling into) a hostile file
SYMBOLS = ["evil_open", "evil_sock", "quote_helper", "quote_caller", "scheme_entry", "url_entry", "script_entry"]

INDEX_MD = """\
# Hostile names

The open handler is [[evil_open]], its helper [[quote_helper]]; the struct is [[evil_sock]].

[[source:evil_open]]
"""

MKDOCS_YML = """\
site_name: hostile explorer
site_url: https://example.org/hostile/
docs_dir: docs
site_dir: site
theme:
  name: material
  font: false
plugins:
  - search
  - kernel-explorer:
      snippets: kernel-snippets
      kernel: {kernel}
      mermaid: {mermaid}
      symbols: {symbols}
"""


@dataclass
class HostileProject:
    root: Path  # holds mkdocs.yml, docs/ and kernel-snippets/

    @property
    def config_file(self) -> Path:
        return self.root / "mkdocs.yml"


def line_in(path: str, needle: str) -> int:
    """The 1-based line of `path`'s first line containing `needle`."""
    for n, line in enumerate(FILES[path].splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in {path}")


def make_hostile_kernel(snippets: Path) -> None:
    tree = snippets / KERNEL
    for rel, text in FILES.items():
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (snippets / "kernels.toml").write_text(
        f'default = "{KERNEL}"\n\n[kernels."{KERNEL}"]\ntitle = "Hostile"\npaths = ["net/evil", "include/net"]\n',
        encoding="utf-8",
    )
    build_index(Project.load(snippets), KERNEL, jobs=1)


def make_hostile_project(root: Path, snippets: Path, *, mermaid: bool = False) -> HostileProject:
    (root / "docs").mkdir(parents=True)
    (root / "kernel-snippets").symlink_to(snippets)
    (root / "docs" / "index.md").write_text(INDEX_MD, encoding="utf-8")
    (root / "mkdocs.yml").write_text(
        textwrap.dedent(MKDOCS_YML).format(kernel=KERNEL, mermaid="true" if mermaid else "false", symbols=SYMBOLS),
        encoding="utf-8",
    )
    return HostileProject(root)
