"""Drain scheduler: lanes, live/backlog share, historical flag, resume after reset."""

from __future__ import annotations

from agent.outbox.config import OutboxConfig
from agent.records import Event, Priority, Reading
from agent.uplink.drain import DrainScheduler
from tests.unit.uplink.fakes import FakeOutbox

NOW = 10_000.0


def scheduler(outbox: FakeOutbox, batch: int = 10, share: float = 0.5) -> DrainScheduler:
    return DrainScheduler(outbox, batch, share, live_window_s=10.0, prefetch_batches=2, clock=lambda: NOW)


async def drain_all(s: DrainScheduler, outbox: FakeOutbox) -> list[tuple[bool, Priority, list[int]]]:
    out = []
    while (chunk := await s.next_chunk()) is not None:
        seqs = [r.seq for r in chunk.records]
        out.append((chunk.historical, chunk.lane, seqs))
        await outbox.delete(seqs)
        s.acked(seqs)
    return out


async def test_alarms_then_events_then_telemetry_in_backlog() -> None:
    ob = FakeOutbox(clock=lambda: NOW)
    old = NOW - 100
    await ob.accept([Reading("m1", "v", i, old) for i in range(5)], accepted_at=old)
    await ob.accept([Event("m1", "info", old)], accepted_at=old)
    await ob.accept([Event("m1", "fire", old, priority=Priority.ALARM)], accepted_at=old)
    chunks = await drain_all(scheduler(ob), ob)
    assert [lane for _, lane, _ in chunks] == [Priority.ALARM, Priority.EVENT, Priority.TELEMETRY]
    assert chunks[2][2] == [1, 2, 3, 4, 5] and all(hist for hist, _, _ in chunks)
    assert ob.records == {}


async def test_live_keeps_flowing_while_backlog_drains() -> None:
    ob = FakeOutbox(clock=lambda: NOW)
    await ob.accept([Reading("m1", "v", i, NOW - 100) for i in range(100)], accepted_at=NOW - 100)
    await ob.accept([Reading("m2", "v", i, NOW) for i in range(30)], accepted_at=NOW)
    chunks = await drain_all(scheduler(ob, share=0.5), ob)
    kinds = [hist for hist, _, _ in chunks]
    # 10 backlog chunks and 3 live ones; live ones are interleaved early, not left for the end.
    assert kinds.count(True) == 10 and kinds.count(False) == 3
    assert kinds[:6].count(False) == 3
    live = [s for hist, _, seqs in chunks if not hist for s in seqs]
    backlog = [s for hist, _, seqs in chunks if hist for s in seqs]
    assert live == list(range(101, 131)) and backlog == list(range(1, 101))


async def test_backlog_share_is_respected() -> None:
    ob = FakeOutbox(clock=lambda: NOW)
    await ob.accept([Reading("m1", "v", i, NOW - 100) for i in range(200)], accepted_at=NOW - 100)
    await ob.accept([Reading("m2", "v", i, NOW) for i in range(200)], accepted_at=NOW)
    s = scheduler(ob, share=0.25)
    first = []
    for _ in range(8):
        chunk = await s.next_chunk()
        assert chunk is not None
        first.append(chunk.historical)
    assert first.count(True) == 2


async def test_alarm_goes_first_even_from_live() -> None:
    ob = FakeOutbox(clock=lambda: NOW)
    await ob.accept([Reading("m1", "v", i, NOW - 100) for i in range(50)], accepted_at=NOW - 100)
    await ob.accept([Event("m1", "fire", NOW, priority=Priority.ALARM)], accepted_at=NOW)
    s = scheduler(ob)
    chunk = await s.next_chunk()
    assert chunk is not None and chunk.lane == Priority.ALARM and not chunk.historical


async def test_reset_hands_out_unacked_records_again_in_order() -> None:
    ob = FakeOutbox(clock=lambda: NOW)
    await ob.accept([Reading("m1", "v", i, NOW - 100) for i in range(30)], accepted_at=NOW - 100)
    s = scheduler(ob)
    a = await s.next_chunk()
    b = await s.next_chunk()
    assert a is not None and b is not None
    await ob.delete([r.seq for r in a.records])  # only the first chunk was PUBACKed
    s.acked([r.seq for r in a.records])
    assert s.pending > 0
    s.reset()
    rest = await drain_all(s, ob)
    assert [x for _, _, seqs in rest for x in seqs] == list(range(11, 31))


async def test_pending_records_are_not_handed_out_twice() -> None:
    ob = FakeOutbox(clock=lambda: NOW)
    await ob.accept([Reading("m1", "v", i, NOW - 100) for i in range(25)], accepted_at=NOW - 100)
    s = scheduler(ob)
    seen: list[int] = []
    while (chunk := await s.next_chunk()) is not None:  # nothing acked
        seen.extend(r.seq for r in chunk.records)
    s.idle_sweep()
    assert await s.next_chunk() is None
    assert seen == list(range(1, 26))


async def test_live_record_that_aged_goes_out_historical() -> None:
    now = [NOW]
    ob = FakeOutbox(clock=lambda: now[0])
    s = DrainScheduler(ob, 10, 0.5, live_window_s=10.0, prefetch_batches=2, clock=lambda: now[0])
    await ob.accept([Reading("m1", "v", i, NOW) for i in range(25)], accepted_at=NOW)
    first = await s.next_chunk()
    assert first is not None and not first.historical
    now[0] = NOW + 60  # the uplink was slow: the prefetched rest is older than the window now
    second = await s.next_chunk()
    assert second is not None and second.historical


async def test_no_outbox_query_when_nothing_new() -> None:
    ob = FakeOutbox(clock=lambda: NOW)
    await ob.accept([Reading("m2", "v", 1, NOW)], accepted_at=NOW)
    s = scheduler(ob)
    assert await drain_all(s, ob)
    before = ob.fetches
    for _ in range(5):
        assert await s.next_chunk() is None
    # live is skipped (no new commit); dry backlog lanes are re-asked at most once per second
    assert ob.fetches - before <= 3
    config = OutboxConfig()
    assert 0 < config.backlog_share < 1


async def test_aged_live_records_never_overtake_older_backlog() -> None:
    now = [NOW]
    ob = FakeOutbox(clock=lambda: now[0])
    s = DrainScheduler(ob, 10, 0.5, live_window_s=10.0, prefetch_batches=1, clock=lambda: now[0])
    await ob.accept([Reading("m1", "v", i, NOW - 100) for i in range(30)], accepted_at=NOW - 100)
    await ob.accept([Reading("m1", "v", i, NOW) for i in range(20)], accepted_at=NOW)
    first = await s.next_chunk()
    second = await s.next_chunk()
    assert first is not None and first.historical and [r.seq for r in first.records] == list(range(1, 11))
    assert second is not None and not second.historical
    assert [r.seq for r in second.records] == list(range(31, 41))
    now[0] = NOW + 60  # 41..50 wait in the live buffer and are historical now
    rest = await drain_all(s, ob)
    hist = [x for h, _, seqs in rest if h for x in seqs]
    assert hist == [*range(11, 31), *range(41, 51)]
    assert all(h for h, _, _ in rest)
