"""How `symbol` stores a definition's kind and signature, and how a `ref` rowid holds its file, shared by the store
(its views and readers) and the indexing code (the indexer's inserts, the resolver's reads), which does not import
the store.

Kept free of imports: the CLI's lookups import it through the store.  A change here changes what the index holds
(the indexer's version follows the resolver's imports to this module).
"""

from __future__ import annotations

# The `ref` table's rowid: file_id << REF_FILE_SHIFT | n, the file's n-th use (a file's uses are one rowid range).
REF_FILE_SHIFT = 20
REF_PER_FILE = 1 << REF_FILE_SHIFT  # uses recorded per file at most (the largest file of 6.1 has about 19,000)

KINDS = (  # the order is `symbol.kind`: append, never reorder (or bump SCHEMA_VERSION)
    "function",
    "prototype",
    "struct",
    "union",
    "enum",
    "enumerator",
    "member",
    "macro",
    "typedef",
    "variable",
    "asm function",  # SYM_FUNC_START, SYM_TYPED_FUNC_START, ENTRY in a .S file (explorer/asmparse.py)
    "asm code",  # SYM_CODE_START: entry code outside the C calling convention (entry_SYSCALL_64)
    "asm label",  # SYM_INNER_LABEL, GLOBAL, a .globl label
    "asm data",  # SYM_DATA_START, SYM_DATA
    "asm macro",  # .macro
)
KIND_CODES = {kind: code for code, kind in enumerate(KINDS)}  # a kind's `symbol.kind`


def stored_signature_sql(signature: str, name: str) -> str:
    """SQL for `symbol.signature` of a definition's signature: NULL when it is the name, else the name written as char(1)
    (the signature shrinks by the name, its longest part) and a leading `#define ` as char(2) (a macro's, 541,000 of
    them in 6.1: 3.8 MB); a signature holding char(1) or char(2) itself is kept as a BLOB."""
    return (f"CASE WHEN {signature} = {name} THEN NULL"
            f" WHEN instr({signature}, char(1)) OR instr({signature}, char(2)) THEN CAST({signature} AS BLOB)"
            f" WHEN substr({signature}, 1, 8) = '#define ' THEN char(2) || replace(substr({signature}, 9), {name}, char(1))"
            f" ELSE replace({signature}, {name}, char(1)) END")


def signature_sql(stored: str, name: str) -> str:
    """The signature a `symbol.signature` stands for (the inverse of stored_signature_sql)."""
    return (f"CASE WHEN {stored} IS NULL THEN {name} WHEN typeof({stored}) = 'blob' THEN CAST({stored} AS TEXT)"
            f" WHEN substr({stored}, 1, 1) = char(2) THEN '#define ' || replace(substr({stored}, 2), char(1), {name})"
            f" ELSE replace({stored}, char(1), {name}) END")
