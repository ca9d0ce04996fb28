"""A read-only filesystem: the agent stays up, accepts into the RAM spill, raises an alarm, recovers."""

from __future__ import annotations

import asyncio
import time
import zlib
from pathlib import Path

import orjson

from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Priority, Reading
from agent.uplink.config import UplinkConfig
from agent.uplink.uplink import Uplink
from tests.fixtures.mosquitto import Mosquitto
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


def _upstream_records(payloads: list[bytes]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for payload in payloads:
        out.extend(orjson.loads(payload if payload[:1] == b"{" else zlib.decompress(payload))["records"])
    return out


async def test_records_held_in_ram_are_flagged_upstream(tiny_fs: TinyFs, tmp_path: Path) -> None:
    """Accepted while the disk is read-only means held in RAM, not committed: a real broker must see
    ``"ram": true`` on exactly those records (TOPICS.md), and no flag on records read from the file."""
    config = OutboxConfig(degraded_retry_s=60)
    outbox = await Outbox.open(tiny_fs.path, config, "gw-ro")
    on_disk = await outbox.accept(_readings(5))
    await outbox.close()
    tiny_fs.remount("ro")

    with Mosquitto(tmp_path) as broker, broker.collector("edgepost/#") as sub:
        outbox = await Outbox.open(tiny_fs.path, config, "gw-ro")
        try:
            assert (await outbox.stats()).degraded is not None
            in_ram = await outbox.accept(_readings(7))
            uplink = Uplink(UplinkConfig(port=broker.port), config, "gw-ro", outbox)
            task = asyncio.create_task(uplink.run())
            try:
                wanted = set(on_disk + in_ram)

                def arrived() -> list[dict[str, object]]:
                    return _upstream_records([m.payload for m in sub.snapshot()
                                              if m.topic.endswith(("/telemetry", "/events"))])

                for _ in range(300):
                    if wanted <= {int(r["seq"]) for r in arrived()}:  # type: ignore[call-overload]
                        break
                    await asyncio.sleep(0.05)
            finally:
                await uplink.stop()
                await asyncio.wait_for(task, 20)
        finally:
            await outbox.close()
    records = {int(r["seq"]): r for r in arrived()}  # type: ignore[call-overload]
    assert wanted <= set(records)
    assert [s for s in on_disk if "ram" in records[s]] == []
    assert [s for s in in_ram if records[s].get("ram") is not True] == []
    [alarm] = [r for r in records.values() if r.get("ev") == "outbox_degraded"]
    assert alarm["ram"] is True  # raised while degraded: it lives in RAM too
