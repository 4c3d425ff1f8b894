"""What every `kexplore` command shares: exit codes, how an error prints, how JSON is written.

One home for these, so that `kexplore` and `kexplore lab` cannot drift apart.  Kept free of
heavy imports: the CLI's lookups import this module.
"""

from __future__ import annotations

import json
import sys

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def err(message: str, prog: str = "kexplore") -> None:
    """One line on stderr, prefixed by the program's name."""
    print(f"{prog}: {message}", file=sys.stderr)


def emit_json(data: object) -> None:
    """`data` as indented JSON on stdout (non-ASCII kept as it is)."""
    json.dump(data, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
