"""Which ops tables are used together: dispatch that knows the protocol.

A call through an ops member (`sock->ops->connect(...)`) may reach every function any table
stores in that member.  The kernel says which tables go together where it registers them: an
initializer whose fields take the addresses of ops tables of different ops types makes those
tables a group, whatever the initializer's own type.  An entry of `inetsw_array` (struct
inet_protosw) pairs `&tcp_prot` (a struct proto) with `&inet_stream_ops` (a struct proto_ops);
IPv6's `tcpv6_protosw` pairs `&tcpv6_prot` with `&inet6_stream_ops`.  An ops table that takes
the addresses of other ops tables in its own initializer is grouped with them
(`tcp_prot.rsk_prot = &tcp_request_sock_ops`).

An ops table is a top-level variable whose initializer stores a function in a member (the
fnassign rows with a `tbl`); its ops type is the struct owning those members.  Tables are
known by name (two static tables of one name in different files are one table here).

The indexer side (`group_ops_tables`) turns the per-file `tableaddr` rows into `opsgroup` rows
after every run.  The reader side (`OpsGroups`, `OpsContext`) decides whether the tables a call
chain goes through are consistent: a chain is read as the life of one socket, so each ops type
is served by one table, and two tables of different types must be grouped together wherever
groups pair either of them with a table of the other's type.  Standard library only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import NamedTuple

# An edge through an ops member whose function is stored by an assignment in code, not by a
# table's initializer: it may belong to any table, so it constrains nothing.
UNKNOWN_TABLE = ""


def group_ops_tables(db: sqlite3.Connection) -> int:
    """Rebuild `opsgroup` from `tableaddr` and the ops tables of `fnassign`; returns the groups."""
    db.execute("DELETE FROM opsgroup")
    db.execute("DROP TABLE IF EXISTS temp.opstype")
    db.execute(
        "CREATE TEMP TABLE opstype AS SELECT fa.tbl AS tbl, min(substr(a.target, 1, instr(a.target, '.') - 1)) AS type"
        " FROM fnassign fa JOIN access a ON a.id = fa.access_id"
        " WHERE fa.tbl IS NOT NULL AND a.target IS NOT NULL"
        " AND EXISTS (SELECT 1 FROM symbols s WHERE s.name = fa.function AND s.kind = 'function') GROUP BY fa.tbl"
    )
    db.execute("CREATE INDEX temp.opstype_tbl ON opstype(tbl)")
    rows = db.execute(
        "SELECT t.file_id, t.line, t.holder, t.name, o.type FROM tableaddr t JOIN opstype o ON o.tbl = t.name"
        " ORDER BY t.file_id, t.line, t.holder, t.rowid"
    ).fetchall()
    out: list[tuple[int, str, str, int, int, str]] = []
    grp = 0
    i = 0
    while i < len(rows):
        j = i
        while j < len(rows) and rows[j][:3] == rows[i][:3]:
            j += 1
        element = rows[i:j]
        if len({r[4] for r in element}) >= 2:
            grp += 1
            out.extend((grp, name, type_, file_id, line, holder) for file_id, line, holder, name, type_ in element)
        i = j
    db.executemany("INSERT INTO opsgroup (grp, tbl, type, file_id, line, holder) VALUES (?, ?, ?, ?, ?, ?)", out)
    db.execute("DROP TABLE temp.opstype")
    return grp


class OpsGroup(NamedTuple):
    """One initializer element pairing ops tables: where it is, and its tables with their types."""

    path: str
    line: int
    holder: str
    tables: tuple[tuple[str, str], ...]  # (table, ops type)


def ops_type(via: str) -> str:
    """The ops type of a call through member `via` (proto_ops.connect → proto_ops)."""
    return via.split(".", 1)[0]


class OpsGroups:
    """The groups of one index, and which tables each table is paired with, by ops type."""

    def __init__(self, groups: Iterable[OpsGroup]) -> None:
        self.groups = list(groups)
        self.types: dict[str, str] = {}
        self._partners: dict[str, dict[str, set[str]]] = {}  # table → ops type → the tables of that type grouped with it
        for g in self.groups:
            for table, type_ in g.tables:
                self.types.setdefault(table, type_)
                mine = self._partners.setdefault(table, {})
                for other, other_type in g.tables:
                    if other_type != type_:
                        mine.setdefault(other_type, set()).add(other)

    def partners(self, table: str, type_: str) -> set[str]:
        """The tables of ops type `type_` that some group pairs with `table` (empty: no group says)."""
        return self._partners.get(table, {}).get(type_, set())

    def compatible(self, a: str, a_type: str, b: str, b_type: str) -> bool:
        """Whether one socket may go through both tables: the same table, or tables of different
        types that no group keeps apart."""
        if a == b or UNKNOWN_TABLE in (a, b):
            return True
        if a_type == b_type:
            return False
        pa, pb = self.partners(a, b_type), self.partners(b, a_type)
        return (not pa or b in pa) and (not pb or a in pb)

    def of(self, table: str) -> list[OpsGroup]:
        return [g for g in self.groups if any(t == table for t, _ in g.tables)]


class OpsContext(NamedTuple):
    """What a chain of calls has learned about its socket: per ops type, the tables still possible
    (sorted by type).  Empty: nothing learned yet."""

    choices: tuple[tuple[str, frozenset[str]], ...] = ()

    def tables_of(self, type_: str) -> frozenset[str] | None:
        for t, tables in self.choices:
            if t == type_:
                return tables
        return None

    def through(self, groups: OpsGroups, type_: str, tables: Iterable[str]) -> OpsContext | None:
        """The context after a call through a member of ops type `type_` that the functions of
        `tables` serve; None when no such table fits the chain so far.  Tables of other types keep
        only those still compatible with one of the new choices (arc consistency, not a full search)."""
        offered = frozenset(tables)
        if not offered or UNKNOWN_TABLE in offered:
            return self
        known = self.tables_of(type_)
        choice = offered & known if known is not None else offered
        choice = frozenset(t for t in choice if all(
            any(groups.compatible(t, type_, u, other) for u in others) for other, others in self.choices if other != type_))
        if not choice:
            return None
        out: dict[str, frozenset[str]] = dict(self.choices)
        out[type_] = choice
        for other, others in self.choices:
            if other != type_:
                kept = frozenset(u for u in others if any(groups.compatible(t, type_, u, other) for t in choice))
                if not kept:
                    return None
                out[other] = kept
        return OpsContext(tuple(sorted(out.items())))

    def merge(self, groups: OpsGroups, other: OpsContext) -> OpsContext | None:
        """Both contexts at once (the two halves of a chain meeting), or None if they disagree."""
        merged: OpsContext | None = self
        for type_, tables in other.choices:
            if merged is None:
                return None
            merged = merged.through(groups, type_, tables)
        return merged

    def narrow(self, via: str | None, tables: tuple[str, ...]) -> tuple[str, ...]:
        """The tables of an edge that this context still allows (all of them when it says nothing)."""
        if via is None or not tables:
            return tables
        known = self.tables_of(ops_type(via))
        if known is None:
            return tables
        kept = tuple(t for t in tables if t in known or t == UNKNOWN_TABLE)
        return kept or tables
