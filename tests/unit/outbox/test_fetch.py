"""Lanes, fetch windows, body round trip, delete, export, wait_for_records."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Event, Priority, Quality, Reading


async def test_lanes_and_after_seq(tmp_path: Path) -> None:
    async with await Outbox.open(tmp_path, OutboxConfig(), "gw1") as outbox:
        t = time.time()
        mixed = [
            Reading("m1", "v", 1.0, t),
            Event("m1", "over_voltage", t, Priority.ALARM, {"v": 260}),
            Reading("m2", "v", 2.0, t),
            Event("m2", "online", t),
            Reading("m1", "v", 3.0, t),
        ]
        seqs = await outbox.accept(mixed)
        telemetry = await outbox.fetch(10, priority=Priority.TELEMETRY)
        assert [r.seq for r in telemetry] == [seqs[0], seqs[2], seqs[4]]
        alarms = await outbox.fetch(10, priority=Priority.ALARM)
        assert [(r.seq, r.body) for r in alarms] == [(seqs[1], {"kind": "over_voltage", "data": {"v": 260}})]
        after = await outbox.fetch(2, after_seq=seqs[1])
        assert [r.seq for r in after] == [seqs[2], seqs[3]]
        assert [r.seq for r in await outbox.fetch(10, priority=Priority.TELEMETRY, after_seq=seqs[2])] == [seqs[4]]


async def test_reading_body_round_trip(tmp_path: Path) -> None:
    async with await Outbox.open(tmp_path, OutboxConfig(), "gw1") as outbox:
        reading = Reading("meter-7", "energy", 12.5, 1_700_000_000.25, "kWh", Quality.STALE)
        [seq] = await outbox.accept([reading])
        [stored] = await outbox.fetch(1)
        assert stored.seq == seq and stored.kind == "reading" and stored.device == "meter-7"
        assert stored.ts == 1_700_000_000.25 and stored.priority is Priority.TELEMETRY
        assert stored.body == {"point": "energy", "value": 12.5, "unit": "kWh", "quality": "stale"}
        assert stored.accepted_at >= time.time() - 60


async def test_accept_time_windows_split_live_from_backlog(tmp_path: Path) -> None:
    async with await Outbox.open(tmp_path, OutboxConfig(), "gw1") as outbox:
        old = await outbox.accept([Reading("m1", "v", float(i), time.time()) for i in range(3)])
        [boundary] = await outbox.fetch(1, after_seq=old[-1] - 1)
        await asyncio.sleep(0.02)
        split = time.time()
        await asyncio.sleep(0.02)
        new = await outbox.accept([Reading("m1", "v", float(i), time.time()) for i in range(2)])
        live = await outbox.fetch(10, accepted_since=split)
        backlog = await outbox.fetch(10, accepted_before=split)
        assert [r.seq for r in live] == new
        assert [r.seq for r in backlog] == old
        assert boundary.accepted_at < split
        # accept times never go backwards with seq, so the two windows partition the outbox
        every = await outbox.fetch(10)
        assert [r.accepted_at for r in every] == sorted(r.accepted_at for r in every)


async def test_delete_ranges_and_unknown_seqs(tmp_path: Path) -> None:
    async with await Outbox.open(tmp_path, OutboxConfig(), "gw1") as outbox:
        seqs = await outbox.accept([Reading("m1", "v", float(i), time.time()) for i in range(1200)])
        acked = seqs[:500] + seqs[600:601] + [10**9, -5]
        await outbox.delete(acked)
        left = [r.seq for r in await outbox.fetch(2000)]
        assert left == seqs[500:600] + seqs[601:]
        stats = await outbox.stats()
        assert stats.records == 699 and stats.by_priority["telemetry"] == 699
        assert stats.last_seq == seqs[-1]


async def test_export_streams_in_seq_order_with_device_filter(tmp_path: Path) -> None:
    async with await Outbox.open(tmp_path, OutboxConfig(), "gw1") as outbox:
        records = [Reading(f"m{i % 3}", "v", float(i), time.time()) for i in range(250)]
        seqs = await outbox.accept(records)
        exported = [r async for r in outbox.export(device="m1", page=7)]
        assert [r.seq for r in exported] == [s for s, r in zip(seqs, records, strict=True) if r.device == "m1"]
        assert len([r async for r in outbox.export(page=100)]) == 250


async def test_wait_for_records_wakes_on_commit_and_times_out(tmp_path: Path) -> None:
    async with await Outbox.open(tmp_path, OutboxConfig(), "gw1") as outbox:
        assert await outbox.wait_for_records(0, timeout=0.05) is False
        waiter = asyncio.create_task(outbox.wait_for_records(0, timeout=30))
        await asyncio.sleep(0.01)
        assert not waiter.done()
        [seq] = await outbox.accept([Reading("m1", "v", 1.0, time.time())])
        assert await waiter is True
        assert await outbox.wait_for_records(seq - 1, timeout=0) is True
        assert await outbox.wait_for_records(seq, timeout=0.05) is False


async def test_closed_outbox_refuses(tmp_path: Path) -> None:
    from agent.outbox.errors import OutboxClosed

    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw1")
    await outbox.close()
    with pytest.raises(OutboxClosed):
        await outbox.accept([Reading("m1", "v", 1.0, time.time())])


async def test_unencodable_record_is_a_typed_error_and_stores_nothing(tmp_path: Path) -> None:
    from agent.errors import OutboxError

    async with await Outbox.open(tmp_path, OutboxConfig(), "gw1") as outbox:
        with pytest.raises(OutboxError, match="cannot be stored"):
            await outbox.accept([Event("m1", "weird", data={"x": object()})])  # type: ignore[dict-item]
        assert (await outbox.stats()).records == 0
        assert await outbox.accept([Reading("m1", "v", 1.0, time.time())]) == [1]


async def test_fetch_page_is_bounded_by_stored_bytes_and_never_skips_a_seq(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path, OutboxConfig(durability="process-safe"), "gw")
    try:
        picture = "A" * 100_000  # a snapshot's base64 body
        snapshots = [Event(device="cam", kind="snapshot", data={"jpeg_b64": picture}) for _ in range(30)]
        seqs = await outbox.accept(snapshots)
        first = await outbox.fetch(1000, max_body_bytes=1_000_000)
        assert 5 <= len(first) <= 10  # ~100 kB each: the page stops near 1 MB instead of holding all 30
        assert [r.seq for r in first] == seqs[: len(first)]
        rest = await outbox.fetch(1000, after_seq=first[-1].seq, max_body_bytes=10_000_000)
        assert [r.seq for r in rest] == seqs[len(first) :]
        one = await outbox.fetch(1000, max_body_bytes=10)  # a record bigger than the budget still comes alone
        assert [r.seq for r in one] == seqs[:1]
    finally:
        await outbox.close()
