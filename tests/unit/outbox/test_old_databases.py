"""Outbox files written by earlier schema versions open, keep their records, counters and seq."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Priority, Reading

DATABASES = Path(__file__).parent / "databases"


def _build(version_sql: Path, state: Path) -> None:
    conn = sqlite3.connect(state / "outbox.db")
    conn.executescript(version_sql.read_text("utf-8"))
    conn.close()


async def test_v1_database_opens_with_records_counters_and_seq(tmp_path: Path) -> None:
    _build(DATABASES / "outbox_v1.sql", tmp_path)
    outbox = await Outbox.open(tmp_path, OutboxConfig(ttl_s=10 * 365 * 86400), "gw1")
    try:
        records = await outbox.fetch(100)
        assert [r.seq for r in records] == [1201, 1202, 1203, 1205]
        assert records[0].body == {"point": "energy", "value": 12.5, "unit": "kWh", "quality": "good"}
        assert records[1].priority is Priority.ALARM and records[1].body == {"kind": "over_voltage", "data": {"v": 261}}
        assert records[3].body["value"] is None
        stats = await outbox.stats()
        assert (stats.evicted_total, stats.expired_total, stats.last_seq) == (40, 3, 1207)
        [seq] = await outbox.accept([Reading("meter1", "energy", 13.0, 1700000100.0, "kWh")])
        assert seq == 1208  # continues above the stored high-water mark, not above max(seq)
        # the accept-time window still works without the v1 accepted_at index (rowid bisection)
        window = await outbox.fetch(100, accepted_since=1700000001.0, accepted_before=1700000003.0)
        assert [r.seq for r in window] == [1202, 1203]
    finally:
        await outbox.close()
    conn = sqlite3.connect(tmp_path / "outbox.db")
    try:  # migrated to v2: the lane index is partial, the accepted_at index is gone
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        indexes = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'").fetchall())
        assert set(indexes) == {"records_lane"} and "WHERE priority < 2" in indexes["records_lane"]
    finally:
        conn.close()
