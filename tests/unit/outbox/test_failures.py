"""Disk full, i/o failure and runtime corruption through an injected sqlite3 error seam.

The integration tests do the same against a real 2 MiB tmpfs; here the failure is injected into
the write connection so each path (evict and retry, degrade to the spill, recover) is exact.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson

from agent.outbox.codec import encode
from agent.outbox.reader import OutboxReaderDb
from agent.records import Priority, Reading
from tests.unit.outbox.conftest import FakeClock, all_rows, commit


class FailingConnection:
    """Wraps the real connection; INSERTs raise ``error`` while ``times`` > 0 (-1: forever)."""

    def __init__(self, conn: sqlite3.Connection, error: sqlite3.Error, times: int) -> None:
        self._conn = conn
        self.error = error
        self.times = times

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        if sql.startswith("INSERT") and self.times != 0:
            self.times -= 1
            raise self.error
        return self._conn.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _readings(clock: FakeClock, n: int, device: str = "m1") -> list[Reading]:
    clock.now += 1
    return [Reading(device, "v", "y" * 100, clock.now) for _ in range(n)]


def _kinds(rows: list[tuple[Any, ...]]) -> list[str]:
    return [orjson.loads(r[-1])[0] for r in rows if r[2] == 1]


def test_disk_full_shrinks_limit_retries_then_evicts_with_gap(make_engine: Any, clock: FakeClock) -> None:
    engine = make_engine(max_bytes=4 << 20)
    old = [s for _ in range(6) for s in commit(engine, _readings(clock, 500))]
    limit_before = engine.max_bytes
    engine.conn = FailingConnection(engine.conn, sqlite3.OperationalError("database or disk is full"), 1)
    seqs = commit(engine, _readings(clock, 10, "m2"))  # retried after making room: accepted, on disk
    assert engine.degraded is None
    assert engine.max_bytes < limit_before  # the limit learned the disk's real size
    assert set(seqs) <= {r[0] for r in all_rows(engine)}
    for _ in range(10):  # keep writing at the learned limit: the oldest telemetry goes
        commit(engine, _readings(clock, 500, "m3"))
        engine.housekeeping()
    assert engine.evicted_total > 0
    present = {r[0] for r in all_rows(engine)}
    lost = sorted(set(old) - present)
    assert lost == old[: len(lost)] and lost  # oldest first
    gaps = [orjson.loads(r[0])[1] for r in engine.conn.execute("SELECT body FROM records WHERE kind = 1")]
    assert {g["reason"] for g in gaps} == {"evicted"}
    assert sum(g["count"] for g in gaps) == engine.evicted_total


def test_persistent_failure_degrades_to_spill_then_recovers(
    make_engine: Any, clock: FakeClock, tmp_path: Path
) -> None:
    engine = make_engine(degraded_retry_s=5)
    before = commit(engine, _readings(clock, 3))
    failing = FailingConnection(engine.conn, sqlite3.OperationalError("disk I/O error"), -1)
    engine.conn = failing
    spilled = commit(engine, _readings(clock, 4))  # accept keeps working
    assert spilled[0] > before[-1]
    assert engine.degraded is not None and "i/o error" in engine.degraded
    reader = OutboxReaderDb(engine)
    seen = reader.fetch(100, 0, None, None, None)
    assert [r.seq for r in seen if r.kind == "reading"] == before + spilled
    [alarm] = [r for r in seen if r.priority is Priority.ALARM]
    assert alarm.body["kind"] == "outbox_degraded"
    engine.commit([], [before[:1]])  # an ack while degraded becomes a tombstone
    assert [r.seq for r in reader.fetch(100, 0, Priority.TELEMETRY, None, None)] == before[1:] + spilled
    stats = reader.stats()
    # acks taken while degraded are applied to the file when it is writable again; until then counted
    assert stats.degraded == engine.degraded and stats.by_priority["telemetry"] == len(before) + len(spilled)

    failing.times = 0  # the disk is back
    clock.now += 6
    engine.housekeeping()
    assert engine.degraded is None and len(engine.spill) == 0
    rows = all_rows(engine)
    assert [r[0] for r in rows if r[1] == Priority.TELEMETRY] == before[1:] + spilled
    assert [r[0] for r in rows if r[1] == Priority.ALARM] == [alarm.seq]
    after = commit(engine, _readings(clock, 1))
    assert after[0] > max(r[0] for r in rows)
    reader.close()


def test_spill_is_bounded_and_dropped_records_become_gaps(make_engine: Any, clock: FakeClock) -> None:
    engine = make_engine(spill_max_records=100, degraded_retry_s=5)
    failing = FailingConnection(engine.conn, sqlite3.OperationalError("disk I/O error"), -1)
    engine.conn = failing
    for _ in range(3):
        commit(engine, _readings(clock, 50))
    assert len(engine.spill) == 100
    assert engine.evicted_total == 51  # 150 readings + 1 alarm, 100 kept; the alarm is kept
    failing.times = 0
    clock.now += 6
    engine.housekeeping()
    assert engine.degraded is None
    gaps = [orjson.loads(r[0])[1] for r in engine.conn.execute("SELECT body FROM records WHERE kind = 1")]
    kinds = [g.get("reason") for g in gaps]
    assert ("evicted" in kinds) and sum(g["count"] for g in gaps if "count" in g) == 51
    stored = engine.conn.execute("SELECT value FROM meta WHERE key = 'evicted_total'").fetchone()[0]
    assert stored == 51  # the counter survives a restart


def test_runtime_corruption_moves_file_aside_and_keeps_the_batch(
    make_engine: Any, clock: FakeClock, tmp_path: Path
) -> None:
    engine = make_engine()
    old = commit(engine, _readings(clock, 5))
    engine.conn = FailingConnection(engine.conn, sqlite3.DatabaseError("database disk image is malformed"), 1)
    new = commit(engine, _readings(clock, 2))
    assert new[0] > old[-1]
    moved = list(tmp_path.glob("outbox.db.corrupt-*"))
    assert [p.name for p in moved if not p.name.endswith(("-wal", "-shm"))]
    rows = all_rows(engine)
    assert [r[0] for r in rows if r[1] == Priority.TELEMETRY] == new
    [alarm] = [r for r in engine.conn.execute("SELECT priority, body FROM records WHERE priority = 0")]
    kind, data = orjson.loads(alarm[1])
    assert kind == "outbox_corrupt" and data["moved_to"].startswith(str(tmp_path / "outbox.db.corrupt-"))
    assert engine.degraded is None


def test_encode_keeps_lane_of_events() -> None:
    from agent.records import Event

    assert encode(Event("d", "k", 1.0, Priority.ALARM))[0] == Priority.ALARM
    assert encode(Reading("d", "p", None, 1.0))[0] == Priority.TELEMETRY
