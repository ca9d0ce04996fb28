"""A delete whose commit failed is not a success: the uplink must not believe acked records are gone.

The failure is real: a second connection holds SQLite's write lock on the outbox file, so the
writer's transaction ends in SQLITE_BUSY after its busy timeout (an error the engine cannot
degrade around, unlike a full or read-only disk).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest

from agent.errors import OutboxError
from agent.outbox.codec import encode
from agent.outbox.config import OutboxConfig
from agent.outbox.engine import OutboxEngine
from agent.outbox.store import Outbox
from agent.records import Reading
from agent.uplink.config import UplinkConfig
from agent.uplink.uplink import Uplink
from tests.fixtures.mosquitto import Mosquitto


def _readings(n: int) -> list[Reading]:
    return [Reading("m1", "v", float(i), time.time()) for i in range(n)]


@contextmanager
def write_locked(db: Path) -> Iterator[None]:
    """Hold the database's write lock from another connection (as a stray sqlite3 shell would)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_engine_reports_a_failed_delete_per_part(tmp_path: Path) -> None:
    engine = OutboxEngine(tmp_path, OutboxConfig(), "gw1")
    engine.open()
    try:
        first = engine.commit([[encode(r) for r in _readings(5)]], [])
        stored = first.accepts[0]
        assert isinstance(stored, list)
        assert first.deletes == []
        with write_locked(engine.path):
            result = engine.commit([[encode(r) for r in _readings(1)]], [stored[:2], stored[2:3]])
        assert [type(r) for r in result.deletes] == [OutboxError, OutboxError]
        assert isinstance(result.accepts[0], OutboxError)
        assert engine.conn is not None
        left = [r[0] for r in engine.conn.execute("SELECT seq FROM records ORDER BY seq")]
        assert left == stored  # nothing was deleted
        ok = engine.commit([], [stored])
        assert ok.deletes == [None]
        assert engine.conn.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 0
    finally:
        engine.close()


async def test_a_delete_that_did_not_commit_raises(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw1")
    try:
        seqs = await outbox.accept(_readings(10))
        with write_locked(tmp_path / "outbox.db"), pytest.raises(OutboxError):
            await outbox.delete(seqs)
        assert [r.seq for r in await outbox.fetch(100)] == seqs  # still there: the uplink must retry
        await outbox.delete(seqs)
        assert await outbox.fetch(100) == []
    finally:
        await outbox.close()


def _published_seqs(payloads: list[bytes]) -> list[int]:
    seqs: list[int] = []
    for payload in payloads:
        body = payload if payload[:1] == b"{" else zlib.decompress(payload)
        seqs.extend(int(r["seq"]) for r in orjson.loads(body)["records"])
    return seqs


async def test_uplink_retries_a_failed_delete_and_sends_nothing_twice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Today the failed delete "succeeds": the records stay in the outbox and go out again later."""
    caplog.set_level(logging.WARNING)
    with Mosquitto(tmp_path) as broker, broker.collector("edgepost/#") as sub:
        outbox = await Outbox.open(tmp_path / "state", OutboxConfig(), "gw-del")
        try:
            seqs = await outbox.accept(_readings(50))
            config = UplinkConfig(port=broker.port, batch_records=10, reconnect_min_s=0.1, reconnect_max_s=0.5)
            uplink = Uplink(config, OutboxConfig(), "gw-del", outbox)
            with write_locked(tmp_path / "state" / "outbox.db"):
                task = asyncio.create_task(uplink.run())
                await asyncio.to_thread(
                    sub.wait_for, lambda msgs: len(_published_seqs([m.payload for m in msgs
                                                                    if m.topic.endswith("/telemetry")])) >= 50, 30
                )
                # the PUBACKs are in; the delete waits for the lock (busy timeout), then must fail loudly
                for _ in range(300):
                    if "outbox_delete_failed" in caplog.text:
                        break
                    await asyncio.sleep(0.1)
                assert "outbox_delete_failed" in caplog.text, "the failed delete was not reported"
            for _ in range(300):  # the lock is gone: the retried delete empties the outbox
                if (await outbox.stats()).records == 0:
                    break
                await asyncio.sleep(0.1)
            assert (await outbox.stats()).records == 0
            # a new session (as after a reconnect or a restart) finds nothing left to send
            await uplink.stop()
            await asyncio.wait_for(task, 20)
            task = asyncio.create_task(uplink.run())
            await asyncio.sleep(2)
            await uplink.stop()
            await asyncio.wait_for(task, 20)
        finally:
            await outbox.close()
        published = _published_seqs([m.payload for m in sub.snapshot() if m.topic.endswith("/telemetry")])
        assert sorted(published) == seqs  # each once: not re-sent after the failed delete
