"""Two small kernels written for the history, diff, changes and check tests, indexed for real.

Between linux-old and linux-new: `helper` (static, in two files) changes in one file only, `stays_same`
keeps its text but moves down the file, `grows` changes, `goes_away` is removed, `wanders` moves
unchanged to another file, `arrives` is added.  linux-gap is declared between them and never indexed.
"""

from __future__ import annotations

from pathlib import Path

from conftest import write_tree

OLD_ALPHA = """\
static int helper(int x)
{
\treturn x + 1;
}

int stays_same(int a)
{
\treturn a * 2;
}

int grows(int a)
{
\treturn a;
}

int goes_away(void)
{
\treturn 0;
}

int wanders(int v)
{
\treturn v - 1;
}
"""

NEW_ALPHA = """\
/*
 * A comment that pushes every definition below it down the file.
 */

static int helper(int x)
{
\treturn x + 2;
}

int stays_same(int a)
{
\treturn a * 2;
}

int grows(int a)
{
\tint b = a;

\treturn b + 3;
}

int arrives(void)
{
\treturn 1;
}
"""

BETA = """\
static int helper(int x)
{
\treturn x - 1;
}
"""

GAMMA = """\
int wanders(int v)
{
\treturn v - 1;
}
"""

TREES = {
    "linux-old": {"net/core/alpha.c": OLD_ALPHA, "net/core/beta.c": BETA},
    "linux-new": {"net/core/alpha.c": NEW_ALPHA, "net/core/beta.c": BETA, "net/ipv4/gamma.c": GAMMA},
}



def build_two_kernels(folder: Path) -> Path:
    """kernels.toml declaring linux-old, linux-gap and linux-new in `folder`, the trees, and their indexes."""
    from explorer.config import Project
    from explorer.indexer import build_index

    folder.mkdir(parents=True)
    toml = ['default = "linux-old"']
    for name in ("linux-old", "linux-gap", "linux-new"):
        toml += ["", f'[kernels."{name}"]', 'paths = ["net"]']
    (folder / "kernels.toml").write_text("\n".join(toml) + "\n", encoding="utf-8")
    for name, files in TREES.items():
        write_tree(folder / name, dict(files))
    project = Project.load(folder)
    for name in TREES:
        build_index(project, name, jobs=1)
    return folder
