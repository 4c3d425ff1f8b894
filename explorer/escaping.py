"""Escaping by context: the one place that turns untrusted text into HTML, URLs, Markdown or script.

Everything the site writes from outside the project (file and folder names from a tarball,
kernel comments, strings and ``#if`` conditions, names from the index, the kernel's name) goes
through one of these, chosen by where the text lands:

- `html_text`: the content of an element (``<code>…</code>``);
- `html_attr`: the value of a double-quoted attribute (``title="…"``, ``href="…"``);
- `url_path`: a path as a URL (each segment percent-encoded), to be put in an attribute with
  `html_attr`;
- `markdown_code`: a code span in Markdown (its content stays literal);
- `script_json`: a value as JavaScript inside a ``<script>`` element or a script file;
- `mermaid_label`: the text of a mermaid node or edge label.

No import here beyond the standard library: the CLI uses `url_path` (through `explorer.urls`).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

# what html.escape(s, quote=False) replaces, as a table for str.translate (the code renderer's hot loop)
HTML_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_SCRIPT = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})
_BACKTICKS = re.compile(r"`+")


def html_text(text: str) -> str:
    """`text` as the content of an HTML element: ``& < >`` become entities (quotes need not)."""
    return text.translate(HTML_TEXT)


def html_attr(text: str) -> str:
    """`text` as the value of a quoted HTML attribute: ``& < > " '`` become entities."""
    import html  # here: its table of 2,000 entities costs a lookup, which prints a URL (`url_path`), more than its query

    return html.escape(text, quote=True)


def url_path(path: str) -> str:
    """A site path as a URL path: every segment percent-encoded as UTF-8, the slashes kept.

    ``#``, ``?``, ``%``, spaces, quotes and ``:`` are encoded, so a file named ``a#b?.c`` stays one
    path and ``javascript:x.c`` cannot be read as a URL scheme."""
    return quote(path, safe="/")


def markdown_code(text: str) -> str:
    """`text` as a Markdown code span, fenced with more backticks than it holds, so it stays literal.

    Markdown has no empty code span: empty text gives an empty string."""
    if not text:
        return ""
    runs = _BACKTICKS.findall(text)
    fence = "`" * (max((len(r) for r in runs), default=0) + 1)
    text = " ".join(text.splitlines())  # a code span is one line of Markdown
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def script_json(value: object) -> str:
    """`value` as JSON that is also safe inside a ``<script>`` element: no ``</script>``, no ``<!--``."""
    return json.dumps(value).translate(_SCRIPT)


def mermaid_label(text: str) -> str:
    """`text` for a double-quoted mermaid label: quotes, markup and ``#`` as mermaid's entity codes."""
    out = []
    for ch in text:
        if ch in '"#<>&`\\|[]{}();' or not ch.isprintable():
            out.append(f"#{ord(ch)};")
        else:
            out.append(ch)
    return "".join(out)


__all__ = ["html_attr", "html_text", "markdown_code", "mermaid_label", "script_json", "url_path"]
