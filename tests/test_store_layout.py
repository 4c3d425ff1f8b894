"""The compact tables of the index (explorer/store.py) give back, through their views, exactly what was written."""

from __future__ import annotations

import sqlite3

import pytest

from explorer.store import KINDS, REF_ROLES, create_schema, ref_range

_COLUMNS = "name, kind, file_id, line, col, end_line, scope, signature, cond, type, start_line, start_byte, end_byte, digest"


@pytest.fixture
def db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    create_schema(db)
    db.execute("INSERT INTO files VALUES (3, 'net/x.c', 'sha', 1, 1, 10, 0, 0)")
    return db


@pytest.mark.parametrize("signature", ["int f(int ff)", "f", "#define f(x) ((x) + f)", "a\x01b f", "", "int g(void)",
                                       "#define f", "#define  f 1", "#define", "\x02f 1", "#define f \x02"])
def test_a_signature_comes_back_as_written(db: sqlite3.Connection, signature: str) -> None:
    row = ("f", "function", 3, 5, 4, 9, "global", signature, "CONFIG_X", "int", 4, 100, 180, -7)
    db.execute(f"INSERT INTO symbols ({_COLUMNS}) VALUES ({', '.join('?' * 14)})", row)
    assert db.execute(f"SELECT {_COLUMNS} FROM symbols").fetchone() == row
    stored = db.execute("SELECT signature FROM symbol").fetchone()[0]
    assert stored is None if signature == "f" else len(stored) <= len(signature)


@pytest.mark.parametrize("name", ["define", "de", "f", "e "])
def test_a_macro_named_like_part_of_define_comes_back_as_written(db: sqlite3.Connection, name: str) -> None:
    signature = f"#define {name}(x) {name}"
    row = (name, "macro", 3, 5, 4, 5, "file", signature, None, None, 5, 100, 130, 1)
    db.execute(f"INSERT INTO symbols ({_COLUMNS}) VALUES ({', '.join('?' * 14)})", row)
    assert db.execute(f"SELECT {_COLUMNS} FROM symbols").fetchone() == row
    stored = db.execute("SELECT signature FROM symbol").fetchone()[0]
    assert stored.startswith("\x02") and len(stored) < len(signature)


def test_every_kind_and_role_has_its_code(db: sqlite3.Connection) -> None:
    for i, kind in enumerate(KINDS):
        db.execute(f"INSERT INTO symbols ({_COLUMNS}) VALUES (?, ?, 3, ?, 0, ?, 'file', 's', NULL, NULL, ?, 0, 1, 0)",
                   (f"n{i}", kind, i + 1, i + 1, i + 1))
    assert [r[0] for r in db.execute("SELECT kind FROM symbols ORDER BY line")] == list(KINDS)
    use = db.execute("INSERT INTO names (name) VALUES ('use')").lastrowid
    first, last = ref_range(3)
    db.executemany("INSERT INTO ref (rowid, line, col, name, role) VALUES (?, 1, ?, ?, ?)",
                   [(first + i, i, use, i) for i in range(len(REF_ROLES))])
    rows = db.execute("SELECT file_id, role, end_col - col FROM refs ORDER BY id").fetchall()
    assert rows == [(3, role, 3) for role in REF_ROLES]
    assert db.execute("SELECT count(*) FROM refs WHERE id BETWEEN ? AND ?", (first, last)).fetchone()[0] == len(REF_ROLES)


def test_a_use_whose_span_is_not_its_name_keeps_its_end(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO names (name) VALUES ('__x86_indirect_thunk_rbx')")
    first, _ = ref_range(3)
    db.execute("INSERT INTO ref (rowid, line, col, name, role) VALUES (?, 7, 13, 1, 1)", (first,))
    db.execute("INSERT INTO ref_span VALUES (?, 16)", (first,))
    assert db.execute("SELECT line, col, end_col, name, role FROM refs").fetchall() == [(7, 13, 16, "__x86_indirect_thunk_rbx", "call")]


def test_the_views_are_made_again_by_create_schema(db: sqlite3.Connection) -> None:
    db.execute("DROP VIEW refs")
    db.execute("CREATE VIEW refs AS SELECT 1 AS stale")
    create_schema(db)
    assert "stale" not in db.execute("SELECT sql FROM sqlite_master WHERE name = 'refs'").fetchone()[0]
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0] == 2
