"""A read-only or full filesystem: the agent stays up, raises an alarm, recovers; RAM records are flagged."""

from __future__ import annotations

import asyncio
import time
import zlib
from pathlib import Path
from unittest.mock import ANY

import orjson

from agent.outbox.config import FullPolicy, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Priority, Reading
from agent.uplink.config import UplinkConfig
from agent.uplink.uplink import Uplink
from tests.fixtures.mosquitto import Mosquitto
from tests.integration.outbox.conftest import TinyFs


def _readings(n: int) -> list[Reading]:
    return [Reading("m1", "v", float(i), time.time()) for i in range(n)]


async def test_read_only_filesystem_degrades_then_recovers(tiny_fs: TinyFs) -> None:
    """A start on a read-only state dir: the agent stays up and reports it, but it cannot reserve seqs
    on disk, so it refuses records (counted) rather than hand out seqs no file remembers (a crash
    now and another read-only start would hand them out again: test_degraded_crash.py)."""
    config = OutboxConfig(degraded_retry_s=0.05)
    outbox = await Outbox.open(tiny_fs.path, config, "gw-ro")
    before = await outbox.accept(_readings(20))
    await outbox.close()
    tiny_fs.remount("ro")  # (a remount cannot happen under files open for writing)

    outbox = await Outbox.open(tiny_fs.path, config, "gw-ro")
    try:
        during = await outbox.accept(_readings(30))
        assert during == [None] * 30  # refused, not given seqs nothing durable bounds
        stats = await outbox.stats()
        assert stats.degraded is not None and stats.rejected_total == 30
        telemetry = [r.seq for r in await outbox.fetch(100, priority=Priority.TELEMETRY)]
        assert telemetry == before  # the file is still read and sent
        await outbox.delete(before[:5])  # acked while read-only: remembered, applied later
        assert [r.seq for r in await outbox.fetch(100, priority=Priority.TELEMETRY)] == before[5:]

        tiny_fs.remount("rw")
        for _ in range(200):  # the writer retries the disk every degraded_retry_s
            if (await outbox.stats()).degraded is None:
                break
            await asyncio.sleep(0.05)
        assert (await outbox.stats()).degraded is None
        more = await outbox.accept(_readings(1))
        assert isinstance(more[0], int) and more[0] > before[-1]
    finally:
        await outbox.close()

    outbox = await Outbox.open(tiny_fs.path, config, "gw-ro")
    try:
        on_disk = [r async for r in outbox.export()]
        assert [r.seq for r in on_disk if r.priority is Priority.TELEMETRY] == before[5:] + more
        events = {str(r.body["kind"]): r for r in on_disk if r.priority is not Priority.TELEMETRY}
        assert events["outbox_degraded"].priority is Priority.ALARM  # stored once it had a seq
        assert events["gap"].body["data"] == {  # the refused records, announced once the disk was back
            "device": "m1", "first_ts": ANY, "last_ts": ANY, "count": 30, "reason": "rejected",
        }
        assert (await outbox.stats()).degraded is None
    finally:
        await outbox.close()


async def _degrade_with_a_full_disk(outbox: Outbox, tiny_fs: TinyFs) -> None:
    """Under reject-new nothing is evicted: SQLITE_FULL from the real disk degrades the outbox."""
    tiny_fs.fill()
    for _ in range(100):
        await outbox.accept([Reading("m1", "pad", "x" * 20_000, time.time()) for _ in range(5)])
        if (await outbox.stats()).degraded is not None:
            return
    raise AssertionError("a full disk did not degrade the outbox")


def _upstream_records(payloads: list[bytes]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for payload in payloads:
        out.extend(orjson.loads(payload if payload[:1] == b"{" else zlib.decompress(payload))["records"])
    return out


async def test_records_held_in_ram_are_flagged_upstream(tiny_fs: TinyFs, tmp_path: Path) -> None:
    """Accepted while the disk refuses writes means held in RAM, not committed: a real broker must see
    ``"ram": true`` on exactly those records (TOPICS.md), and no flag on records read from the file."""
    config = OutboxConfig(degraded_retry_s=3600, full_policy=FullPolicy.REJECT_NEW)

    with Mosquitto(tmp_path) as broker, broker.collector("edgepost/#") as sub:
        outbox = await Outbox.open(tiny_fs.path, config, "gw-ro")
        try:
            on_disk = await outbox.accept(_readings(5))
            await _degrade_with_a_full_disk(outbox, tiny_fs)
            in_ram = await outbox.accept(_readings(7))  # seqs from the reservation on disk
            assert None not in in_ram
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
