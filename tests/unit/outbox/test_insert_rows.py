"""insert_rows: multi-row INSERTs store exactly the rows executemany would, in order, for every count."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent.outbox.codec import COLUMNS, Row, insert_rows
from agent.outbox.config import Durability
from agent.outbox.schema import open_database


def _rows(first: int, count: int) -> list[Row]:
    return [
        (first + i, i % 3, i % 2, f"dev{i % 5}", 1.7e9 + i / 7, 1.7e9 + 0.1 * i, f'["p{i}",{i}.25,"kWh","good"]')
        for i in range(count)
    ]


@pytest.mark.parametrize("count", [0, 1, 3, 4, 5, 16, 17, 63, 64, 65, 84, 85, 128, 150, 2000, 2003])
def test_every_row_stored_as_given(tmp_path: Path, count: int) -> None:
    conn, _ = open_database(tmp_path / "outbox.db", Durability.POWER_SAFE)
    try:
        rows = _rows(10, count)
        conn.execute("BEGIN IMMEDIATE")
        insert_rows(conn, rows)
        conn.execute("COMMIT")
        stored = conn.execute(f"SELECT {COLUMNS} FROM records ORDER BY seq").fetchall()
        assert stored == rows
        assert all(type(s[4]) is float and type(s[5]) is float for s in stored)
    finally:
        conn.close()


def test_a_duplicate_seq_fails_the_statement(tmp_path: Path) -> None:
    conn, _ = open_database(tmp_path / "outbox.db", Durability.POWER_SAFE)
    try:
        conn.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.IntegrityError):
            insert_rows(conn, _rows(1, 40) + _rows(1, 30))
        conn.execute("ROLLBACK")
        assert conn.execute("SELECT COUNT(*) FROM records").fetchone() == (0,)
    finally:
        conn.close()
