"""A big eviction runs in bounded steps: accepts get in between, so a healthy outbox never looks hung.

The outbox health check withholds the watchdog when an accept waited ``accept_stall_s``; one
eviction pass over a big file used to hold every accept until it ended (bench/bench_eviction.py
measures it on 2 GiB). Here a real file of 600k rows meets a cap half its size (the operator lowered
``max_bytes``, or the disk filled up meanwhile): the eviction is hundreds of thousands of rows, and
accepts made while it runs must be committed between its steps. The proof is in the file itself, no
clock involved: eviction gap events are stored before and after the accepted records' seqs.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import orjson

from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.schema import open_database
from agent.outbox.store import Outbox
from agent.records import Reading

ROWS = 600_000
DEADLINE_S = 300.0


def _build_backlog(db: Path, rows: int) -> None:
    """``rows`` telemetry rows of ~150 bytes in the real schema (generated inside SQLite: fast)."""
    conn, _ = open_database(db, Durability.PROCESS_SAFE)
    try:
        body = orjson.dumps(("voltage_l1", "x" * 90, "V", "good")).decode()
        conn.execute("BEGIN")
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) "
            "INSERT INTO records (seq, priority, kind, device, ts, accepted_at, body) "
            "SELECT i, 2, 0, 'meter' || (i % 16), ?2, ?2, ?3 FROM n",
            (rows, time.time() - 3600, body),
        )
        conn.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (rows,))
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


async def test_accepts_are_committed_between_the_steps_of_a_large_eviction(tmp_path: Path) -> None:
    db = tmp_path / "outbox.db"
    await asyncio.to_thread(_build_backlog, db, ROWS)
    size = db.stat().st_size
    config = OutboxConfig(durability=Durability.PROCESS_SAFE, max_bytes=size // 2)
    outbox = await Outbox.open(tmp_path, config, "gw-evict")
    accepted: list[int] = []
    done = asyncio.Event()

    async def producer(name: str) -> None:  # accepts keep coming while the eviction runs
        i = 0
        while not done.is_set():
            i += 1
            seqs = await outbox.accept([Reading("live", name, float(i), time.time())])
            accepted.extend(s for s in seqs if s is not None)

    try:
        producers = [asyncio.create_task(producer(f"p{k}")) for k in range(4)]
        try:
            deadline = time.monotonic() + DEADLINE_S
            while len(accepted) < 3 or (await outbox.stats()).evicted_total < ROWS // 2:
                assert time.monotonic() < deadline, "the eviction did not finish"
                await asyncio.sleep(0.05)
        finally:
            done.set()
            await asyncio.gather(*producers)
    finally:
        await outbox.close()
    accepted.sort()

    conn = sqlite3.connect(db)
    try:
        gaps = [(seq, orjson.loads(body)[1]) for seq, body in conn.execute(
            "SELECT seq, body FROM records WHERE kind = 1 ORDER BY seq")]
        live = [s for (s,) in conn.execute("SELECT seq FROM records WHERE device = 'live' ORDER BY seq")]
        [(evicted_total,)] = conn.execute("SELECT value FROM meta WHERE key = 'evicted_total'")
    finally:
        conn.close()
    evicted = [(seq, data) for seq, data in gaps if data["reason"] == "evicted"]
    assert sum(data["count"] for _, data in evicted) == evicted_total  # every record accounted for
    assert live == accepted  # nothing accepted was evicted: the oldest telemetry went
    # the proof: accepts were committed while the eviction still had steps to go
    between = [s for s in accepted if evicted[0][0] < s < evicted[-1][0]]
    assert len(between) >= 2, (
        f"{len(between)} of {len(accepted)} accepts got in between the first and the last of "
        f"{len(evicted)} eviction gap events (seqs {evicted[0][0]}..{evicted[-1][0]}; first accept {accepted[0]})"
    )
