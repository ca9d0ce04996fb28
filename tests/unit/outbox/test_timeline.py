"""Accept-time bounds found by bisecting on the rowid (no accepted_at index)."""

from __future__ import annotations

import sqlite3

import pytest

from agent.outbox.timeline import first_seq_accepted_at_or_after


@pytest.fixture
def conn() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE records (seq INTEGER PRIMARY KEY, accepted_at REAL NOT NULL)")
    return db


def _linear(rows: list[tuple[int, float]], t: float, low: int = 0) -> int | None:
    return next((seq for seq, at in rows if seq >= low and at >= t), None)


def test_matches_a_linear_search_with_holes_and_repeated_stamps(conn: sqlite3.Connection) -> None:
    # commits share a stamp, deletes leave holes, stamps never decrease with seq
    rows = [(seq, float(seq // 7)) for seq in range(3, 400) if seq % 5 != 0 and not 100 <= seq < 160]
    conn.executemany("INSERT INTO records VALUES (?, ?)", rows)
    for t in [-1.0, 0.0, 0.5, 3.0, 14.0, 15.0, 22.9, 23.0, 56.0, 57.0, 57.1, 100.0]:
        for low in (0, 1, 50, 101, 161, 399):
            assert first_seq_accepted_at_or_after(conn, t, low) == _linear(rows, t, low), (t, low)


def test_empty_table_has_no_bound(conn: sqlite3.Connection) -> None:
    assert first_seq_accepted_at_or_after(conn, 0.0) is None
