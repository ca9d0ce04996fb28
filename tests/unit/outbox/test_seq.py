"""seq is gateway-wide, strictly increasing and never reused: restarts, deletes, corrupt recovery."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Event, Priority, Reading


def _readings(n: int, device: str = "m1") -> list[Reading]:
    return [Reading(device, "p", float(i), time.time()) for i in range(n)]


async def test_seq_increases_across_concurrent_accepts_and_restarts(tmp_path: Path) -> None:
    seen: list[int] = []
    for _ in range(3):
        outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw1")
        batches = await asyncio.gather(*(outbox.accept(_readings(7)) for _ in range(20)))
        for seqs in batches:
            assert seqs == sorted(seqs) and len(seqs) == 7
            seen.extend(seqs)
        await outbox.close()
    assert len(set(seen)) == len(seen) == 420
    assert min(seen) == 1 and max(seen) == 420


async def test_seq_not_reused_after_everything_is_deleted(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw1")
    first = await outbox.accept(_readings(50))
    await outbox.delete(first)
    assert (await outbox.stats()).records == 0
    await outbox.close()
    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw1")
    again = await outbox.accept(_readings(1))
    await outbox.close()
    assert again[0] > max(first)


async def test_seq_survives_database_file_loss_through_sidecar(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw1")
    first = await outbox.accept(_readings(10))
    await outbox.close()
    for name in ("outbox.db", "outbox.db-wal", "outbox.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw1")
    again = await outbox.accept(_readings(1))
    await outbox.close()
    assert again[0] > max(first)


async def test_seq_continues_above_old_mark_after_corrupt_file(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw1")
    first = await outbox.accept(_readings(10))
    await outbox.close()
    (tmp_path / "outbox.db").write_bytes(b"garbage" * 1000)
    (tmp_path / "outbox.db-wal").unlink(missing_ok=True)
    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw1")
    again = await outbox.accept([Event("m1", "door", priority=Priority.EVENT)])
    alarms = await outbox.fetch(10, priority=Priority.ALARM)
    await outbox.close()
    assert again[0] > max(first)
    assert [a.body["kind"] for a in alarms] == ["outbox_corrupt"]
    assert alarms[0].seq > max(first)


async def test_seq_falls_back_to_wall_clock_without_sidecar(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw1")
    await outbox.accept(_readings(10))
    await outbox.close()
    (tmp_path / "outbox.db").write_bytes(b"\x00not sqlite" * 500)
    (tmp_path / "seq.hwm").unlink()
    before_us = time.time_ns() // 1000
    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw1")
    again = await outbox.accept(_readings(1))
    await outbox.close()
    assert again[0] >= before_us
