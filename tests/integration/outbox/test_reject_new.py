"""``full_policy: reject-new`` with a full outbox: telemetry is refused (counted, a gap event says so),
alarms still get in through the reserve, and the pipeline never stalls.

A real outbox file capped at 1 MiB, the real pipeline. Today the pipeline retries the refused batch
forever: the queue fills, drivers block, and the alarms behind the telemetry never get in.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from agent.outbox.config import FullPolicy, OutboxConfig
from agent.outbox.store import Outbox
from agent.pipeline.pipeline import Pipeline
from agent.records import Event, Priority, Reading

CONFIG = OutboxConfig(max_bytes=1 << 20, full_policy=FullPolicy.REJECT_NEW)


async def fill_with_telemetry(outbox: Outbox, devices: int = 3) -> int:
    """Accept big readings until the outbox refuses some (however this version says so); returns how many
    it refused."""
    for round_ in range(1000):
        batch = [Reading(f"m{i % devices}", "v", "x" * 400, time.time()) for i in range(200)]
        try:
            seqs = await outbox.accept(batch)
        except Exception as exc:  # noqa: BLE001 -- the version before the fix raised OutboxFull here
            assert type(exc).__name__ == "OutboxFull", exc
            return len(batch)
        if None in seqs:
            return seqs.count(None)
        assert round_ < 999, "the outbox never filled"
    return 0


async def test_full_outbox_refuses_telemetry_lets_alarms_in_and_never_stalls(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path, CONFIG, "gw-full")
    runner: asyncio.Task[None] | None = None
    try:
        refused_while_filling = await fill_with_telemetry(outbox)
        pipeline = Pipeline(outbox, heartbeat_s=300, queue_size=50, batch=20)
        runner = asyncio.create_task(pipeline.run())
        for i in range(200):  # 4x the queue: with a stalled pipeline the driver would block right here
            await asyncio.wait_for(pipeline.put(Reading("m1", "v", f"{i}" * 100, time.time())), 10)
            if i % 20 == 0:
                await pipeline.put(Event("m1", "door_open", priority=Priority.ALARM, data={"n": i}))
        assert await pipeline.drain(20), "the pipeline stalled on the full outbox"
        assert pipeline.counters.outbox_full == 200
        alarms = await outbox.fetch(100, priority=Priority.ALARM)
        assert [a.body["data"] for a in alarms] == [{"n": i} for i in range(0, 200, 20)]  # the reserve took them
        assert (await outbox.stats()).rejected_total == 200 + refused_while_filling

        # the uplink drains: room again, the refusals end and a gap event per device accounts for them
        await outbox.delete([r.seq for r in await outbox.fetch(100_000, priority=Priority.TELEMETRY)])
        for _ in range(100):  # the writer measures the freed space right after the delete's commit
            if await outbox.accept([Reading("m1", "v", 1.0, time.time())]) != [None]:
                break
            await asyncio.sleep(0.05)
        stats = await outbox.stats()
        events = await outbox.fetch(1000, priority=Priority.EVENT)
        gaps = [e.body["data"] for e in events if e.body["kind"] == "gap"]
        assert {g["reason"] for g in gaps} == {"rejected"}  # type: ignore[index]
        assert sum(g["count"] for g in gaps) == stats.rejected_total  # type: ignore[index,misc]
    finally:
        if runner is not None:
            runner.cancel()
        await outbox.close()
