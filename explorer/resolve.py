"""Type-aware member resolution: turn member-access keys into STRUCT.FIELD names.

Runs after every file's definitions are in the index (standard library only). A key
``ROOT|HOP.HOP|FIELD`` (see explorer/xref.py) is resolved by finding the type of
ROOT (a known type, a global variable's type, or a function's or macro's return
type), following each hop through the member table, then looking up FIELD.

Typedefs are followed; members of anonymous structs and unions are already named
under their enclosing struct by the indexer; a field that is really a macro
(``#define sk_state __sk_common.skc_state``) is followed through the macro to the
real member, and the macro is remembered.  What cannot be resolved is left
unresolved with a reason, never guessed.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from .symbolcodes import KIND_CODES, KINDS, REF_FILE_SHIFT, signature_sql

# A field macro: `#define sk_state __sk_common.skc_state`, `#define udp_port_hash
# inet.sk.__sk_common.skc_u16hashes[0]` (subscripts are stepped over: an element has its
# array's type), `#define sin_zero __pad` (one member of the same struct).
_ALIAS_RX = re.compile(
    r"^#define\s+(\w+)\s+([A-Za-z_]\w*(?:\[[^\]\[]*\])?(?:\.[A-Za-z_]\w*(?:\[[^\]\[]*\])?)*)\s*(?:/\*.*\*/\s*|//.*)?$"
)
_SUBSCRIPT_RX = re.compile(r"\[[^\]\[]*\]")
_MAX_TYPEDEF_DEPTH = 8
_MAX_ALIAS_DEPTH = 8


@dataclass(frozen=True)
class Resolution:
    target: str | None
    macro: str | None
    reason: str | None  # why it is unresolved


class TypeTables:
    """What resolution needs to know from the whole index."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.members: dict[str, str | None] = {}
        self.typedefs: dict[str, str] = {}
        self.returns: dict[str, str] = {}
        self.globals: dict[str, str] = {}
        self.aliases: dict[str, list[list[str]]] = {}  # a field macro's name → each chain of members it may stand for
        self.records: set[str] = set()
        # In the order of the files and the definitions in them, not of the rows: when a name has several
        # definitions (a member of two same-named structs of two drivers), the first wins, and the index
        # is the same however its rows were inserted (parallel workers, rows copied from another kernel).
        # The table itself, not the view `symbols`: its kind is a code, and only the rows kept are joined to
        # `names` (the view joins and rebuilds every signature of the 1.4 million definitions first); a
        # signature is wanted of macros only (NULL: the macro's name alone, `#define NAME`).
        k = KIND_CODES
        signature = signature_sql("s.signature", "n.name")
        kept = ", ".join(str(k[kind]) for kind in ("member", "typedef", "function", "prototype", "variable", "struct", "union"))
        rows = db.execute(
            f"SELECT n.name, s.kind, t.name, CASE WHEN s.kind = {k['macro']} THEN {signature} END"
            " FROM symbol s JOIN files f ON f.id = s.file_id JOIN names n ON n.id = s.name LEFT JOIN names t ON t.id = s.type"
            f" WHERE s.kind IN ({kept})"
            f" OR (s.kind = {k['macro']} AND (s.type IS NOT NULL OR {signature} GLOB '#define [A-Za-z_]* [A-Za-z_]*'))"
            f" ORDER BY CASE s.kind WHEN {k['function']} THEN 0 WHEN {k['prototype']} THEN 1 ELSE 2 END, f.path, s.start_byte,"
            " s.line, s.col"
        )
        for name, code, type_, signature in rows:
            kind = KINDS[code]
            if kind == "member":
                self.members.setdefault(name, type_)
            elif kind in ("struct", "union"):
                self.records.add(name)
            elif kind == "typedef":
                if type_ and type_ != name:
                    self.typedefs.setdefault(name, type_)
                elif type_ == name:
                    self.records.add(name)
            elif kind in ("function", "prototype"):
                if type_:
                    self.returns.setdefault(name, type_)
            elif kind == "macro":
                if type_:
                    self.returns.setdefault(name, type_)
                m = _ALIAS_RX.match(signature)
                if m and m.group(2) != m.group(1):
                    chain = _SUBSCRIPT_RX.sub("", m.group(2)).split(".")
                    chains = self.aliases.setdefault(m.group(1), [])
                    if chain not in chains:
                        chains.append(chain)
            elif kind == "variable" and type_:
                self.globals.setdefault(name, type_)
        # names without a definition: globals declared only `extern` (ipv6_stub), and locals that
        # macro bodies declare (for_nexthops: nh), the latter only where every macro agrees on the type
        self.macro_locals: dict[str, dict[str, str]] = {}  # a macro-declared local → each declaring macro → its type
        for name, type_, origin in db.execute("SELECT name, type, origin FROM typehints ORDER BY name, origin, type"):
            if origin == "extern":
                self.globals.setdefault(name, type_)
            else:
                self.macro_locals.setdefault(name, {}).setdefault(origin, type_)

    def fingerprint(self) -> str:
        """Changes when anything resolution depends on changes."""
        digest = hashlib.sha256()
        for table in (self.members, self.typedefs, self.returns, self.globals, self.aliases, self.macro_locals):
            digest.update(json.dumps(sorted(table.items()), separators=(",", ":")).encode())
        return digest.hexdigest()


class AccessResolver:
    """Member-access keys to STRUCT.FIELD, through typedefs and field macros (one cache per run)."""

    def __init__(self, tables: TypeTables, macro_local: Callable[[str, dict[str, str]], str | None] | None = None) -> None:
        self.tables = tables
        self._cache: dict[str, Resolution] = {}
        # (key, the macros declaring its root with their types) → the type where the key is used, or None
        self.macro_local = macro_local

    def canon(self, type_: str | None) -> str | None:
        for _ in range(_MAX_TYPEDEF_DEPTH):
            if type_ is None:
                return None
            if type_.startswith("@"):
                type_ = self.tables.members.get(type_[1:])
                continue
            nxt = self.tables.typedefs.get(type_)
            if nxt is None or nxt == type_:
                return type_
            type_ = nxt
        return type_

    def member(self, type_: str | None, field: str, depth: int = 0) -> tuple[str, str | None, str | None] | None:
        """(STRUCT.FIELD, its type, the alias macro used) or None.

        A field macro may name other field macros (`#define a b.a` names itself): they are
        followed _MAX_ALIAS_DEPTH deep at most."""
        if depth > _MAX_ALIAS_DEPTH:
            return None
        owner = self.canon(type_)
        if owner is None:
            return None
        full = f"{owner}.{field}"
        if full in self.tables.members:
            return full, self.tables.members[full], None
        for chain in self.tables.aliases.get(field, ()):
            cur: str | None = owner
            found = None
            for hop in chain:
                step = self.member(cur, hop, depth + 1)
                if step is None:
                    found = None
                    break
                found, cur = step[0], step[1]
            if found is not None:
                return found, cur, field
        return None

    def resolve(self, key: str) -> Resolution:
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = self._resolve(key)
        self._cache[key] = result
        return result

    def _resolve(self, key: str) -> Resolution:
        root, hops_text, field = key.split("|")
        if root == "?":
            return Resolution(None, None, "base expression not understood")
        kind, name = root[0], root[2:]
        type_: str | None
        if kind == "t":
            type_ = name
            if not type_ or type_ == "None":
                return Resolution(None, None, "local of unknown type")
        elif kind == "g":
            type_ = self.tables.globals.get(name)
            declaring = self.tables.macro_locals.get(name)
            if type_ is None and declaring and self.macro_local is not None:
                type_ = self.macro_local(key, declaring)
                if type_ is None:
                    return Resolution(None, None, "not a local and no global of that name (macros declare one, none named here agrees)")
            if type_ is None:
                return Resolution(None, None, "not a local and no global of that name")
        elif kind == "c":
            type_ = self.tables.returns.get(name)
            if type_ is None:
                return Resolution(None, None, "return type of the call unknown")
        else:
            return Resolution(None, None, "malformed key")
        for hop in hops_text.split(".") if hops_text else ():
            step = self.member(type_, hop)
            if step is None:
                return Resolution(None, None, f"no member {hop} in {self.canon(type_)}")
            type_ = step[1]
        final = self.member(type_, field)
        if final is None:
            owner = self.canon(type_)
            why = f"no member {field} in {owner}" if owner in self.tables.records else f"type {owner} is not a known struct"
            return Resolution(None, None, why)
        return Resolution(final[0], final[2], None)


def _macro_local_type(db: sqlite3.Connection, access_id: int, declaring: dict[str, str]) -> str | None:
    """The type of a macro-declared local (`nh` inside for_nexthops(fi) { ... }) where this access
    is used: every use must sit in a function that names (as a call or as a type) a macro
    declaring it, and the macros so named must agree on the type; else None (never a guess)."""
    types: set[str] = set()
    for (named,) in db.execute(
        # `ref` itself (explorer/store.py): c is in r's file (the same rowid >> shift) and in r's function
        f"SELECT (SELECT group_concat(DISTINCT n.name) FROM ref c JOIN names n ON n.id = c.name"
        f" WHERE c.rowid >> {REF_FILE_SHIFT} = r.rowid >> {REF_FILE_SHIFT} AND c.func = r.func"
        f" AND c.access_id IS NULL AND n.name IN (SELECT value FROM json_each(?))) FROM ref r WHERE r.access_id = ?",
        (json.dumps(sorted(declaring)), access_id)):
        if not named:
            return None
        types.update(declaring[m] for m in named.split(","))
    return types.pop() if len(types) == 1 else None


def resolve_accesses(db: sqlite3.Connection) -> int:
    """Fill access.target/macro/reason.

    Only keys not resolved yet, unless the type tables changed since the last run (a
    struct, typedef, return type or global changed), in which case all of them.
    Returns the number of keys looked at.
    """
    pending = PendingResolution(db)
    pending.compute()
    return pending.finish(db)


class PendingResolution:
    """resolve_accesses in three steps: read (SQL), compute (pure Python, touches no connection: the
    indexer runs it in a thread while SQLite builds the indexes), finish (the keys that need a query of
    refs, then the writes)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.tables = TypeTables(db)
        self.fingerprint = ""
        row = db.execute("SELECT value FROM meta WHERE key = 'type_fingerprint'").fetchone()
        self._previous = row[0] if row is not None else None
        # (id, key, state) of every key, read now: compute() chooses among them and reads no table
        self._rows: list[tuple[int, str, int]] = db.execute("SELECT id, key, state FROM access").fetchall()
        self.updates: list[tuple[str | None, str | None, str | None, int]] = []
        self._deferred: list[tuple[int, str]] = []
        self._resolver = AccessResolver(self.tables)
        self.looked_at = 0

    def compute(self) -> None:
        """Every key that needs no query; the others are left to finish()."""
        tables = self.tables
        self.fingerprint = tables.fingerprint()
        rows = [(i, k) for i, k, _ in self._rows]
        if self._previous == self.fingerprint:  # only keys not resolved yet, and the macro-local ones again
            rows = [(i, k) for i, k, state in self._rows if state == 0]
            rows += [(i, k) for i, k, state in self._rows if state == 1 and k.startswith("g:")
                     and k[2:].split("|", 1)[0] in tables.macro_locals]
        self._rows = []
        self.looked_at = len(rows)
        resolve = self._resolver.resolve
        updates, deferred = self.updates, self._deferred
        for access_id, key in rows:
            if _needs_macro_local(tables, key):
                deferred.append((access_id, key))
                continue
            r = resolve(key)
            updates.append((r.target, r.macro, r.reason, access_id))

    def finish(self, db: sqlite3.Connection) -> int:
        """The keys whose root a macro declares (a query of refs each, best with its indexes), then the writes."""
        ids = {key: access_id for access_id, key in self._deferred}
        self._resolver.macro_local = lambda key, declaring: _macro_local_type(db, ids[key], declaring)
        for access_id, key in self._deferred:
            r = self._resolver.resolve(key)
            self.updates.append((r.target, r.macro, r.reason, access_id))
        self.updates.sort(key=lambda u: u[3])  # in the order of the rows, as one pass over access
        db.executemany("UPDATE access SET target = ?, macro = ?, reason = ?, state = 1 WHERE id = ?", self.updates)
        db.execute("INSERT OR REPLACE INTO meta VALUES ('type_fingerprint', ?)", (self.fingerprint,))
        self.updates = []
        return self.looked_at


def _needs_macro_local(tables: TypeTables, key: str) -> bool:
    """Whether resolving key asks AccessResolver.macro_local (a `g:` root with no global type that macros declare)."""
    if not key.startswith("g:"):
        return False
    name = key[2:].split("|", 1)[0]
    return tables.globals.get(name) is None and bool(tables.macro_locals.get(name))
