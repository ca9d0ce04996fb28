"""A read-only filesystem: the agent stays up, accepts into the RAM spill, raises an alarm, recovers."""

from __future__ import annotations

import asyncio
import time

from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Priority, Reading
from tests.integration.outbox.conftest import TinyFs


def _readings(n: int) -> list[Reading]:
    return [Reading("m1", "v", float(i), time.time()) for i in range(n)]


async def test_read_only_filesystem_degrades_then_recovers(tiny_fs: TinyFs) -> None:
    config = OutboxConfig(degraded_retry_s=0.05)
    outbox = await Outbox.open(tiny_fs.path, config, "gw-ro")
    before = await outbox.accept(_readings(20))
    await outbox.close()
    tiny_fs.remount("ro")  # (a remount cannot happen under files open for writing)

    outbox = await Outbox.open(tiny_fs.path, config, "gw-ro")
    try:
        during = await outbox.accept(_readings(30))  # accepted into the spill, not lost
        assert 0 < during[0] - before[-1] <= 2  # seq read from the read-only file (+1 for the alarm)
        stats = await outbox.stats()
        assert stats.degraded is not None
        [alarm] = await outbox.fetch(10, priority=Priority.ALARM)
        assert alarm.body["kind"] == "outbox_degraded"
        telemetry = [r.seq for r in await outbox.fetch(100, priority=Priority.TELEMETRY)]
        assert telemetry == before + during  # the file is still read, the spill merged after it
        await outbox.delete(during[:5])  # acked while read-only: remembered, applied later
        assert [r.seq for r in await outbox.fetch(100, priority=Priority.TELEMETRY)] == before + during[5:]

        tiny_fs.remount("rw")
        for _ in range(200):  # the writer retries the disk every degraded_retry_s
            if (await outbox.stats()).degraded is None:
                break
            await asyncio.sleep(0.05)
        assert (await outbox.stats()).degraded is None
        more = await outbox.accept(_readings(1))
    finally:
        await outbox.close()

    outbox = await Outbox.open(tiny_fs.path, config, "gw-ro")
    try:
        on_disk = [r.seq async for r in outbox.export()]
        assert [s for s in on_disk if s in set(before + during + more)] == before + during[5:] + more
        assert alarm.seq in on_disk
        assert (await outbox.stats()).degraded is None
    finally:
        await outbox.close()
