"""A 2 MiB filesystem that fills up: accept keeps working, the oldest telemetry is evicted, gaps reported."""

from __future__ import annotations

import time

from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Event, Priority, Reading
from tests.integration.outbox.conftest import TinyFs


async def test_small_disk_fills_up_agent_stays_up_and_evicts(tiny_fs: TinyFs) -> None:
    config = OutboxConfig(max_fraction_of_free_disk=0.9)
    outbox = await Outbox.open(tiny_fs.path, config, "gw-full")
    limit_at_open = (await outbox.stats()).max_bytes
    # something else fills the disk after the limit was computed: SQLite hits ENOSPC for real
    (tiny_fs.path / "other.log").write_bytes(b"\0" * (900 * 1024))
    [alarm] = await outbox.accept([Event("m0", "tamper", time.time(), Priority.ALARM)])
    accepted: list[int] = []
    for i in range(60):
        batch = [Reading(f"m{i % 2}", "v", "z" * 150, time.time()) for _ in range(250)]
        accepted += await outbox.accept(batch)  # never raises
    assert (await outbox.stats()).max_bytes < limit_at_open  # the limit learned the disk's real size
    await outbox.close()  # eviction runs after commits on the writer thread: let it settle

    outbox = await Outbox.open(tiny_fs.path, config, "gw-full")
    try:
        stats = await outbox.stats()
        assert len(accepted) == 15_000
        assert stats.degraded is None
        assert stats.evicted_total > 0
        gaps = [r for r in await outbox.fetch(10_000, priority=Priority.EVENT) if r.body["kind"] == "gap"]
        data = [g.body["data"] for g in gaps]
        assert {d["reason"] for d in data} == {"evicted"}  # type: ignore[index]
        assert {d["device"] for d in data} == {"m0", "m1"}  # type: ignore[index]
        # every evicted record is counted in exactly one gap event
        assert sum(d["count"] for d in data) == stats.evicted_total  # type: ignore[index,misc]
        telemetry = [r.seq async for r in outbox.export() if r.priority is Priority.TELEMETRY]
        assert telemetry == accepted[len(accepted) - len(telemetry) :]  # the oldest went, the newest stayed
        assert [r.seq for r in await outbox.fetch(10, priority=Priority.ALARM)] == [alarm]  # alarms last
    finally:
        await outbox.close()
