import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.errors import RecordRejected
from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.pipeline.alarms import AlarmEvaluator
from agent.pipeline.deadband import DeadbandFilter
from agent.pipeline.pipeline import Pipeline
from agent.records import Event, Priority, Quality, Reading, Record
from agent.rules import AlarmRule, PointRule


def r(value: object, ts: float, quality: Quality = Quality.GOOD, point: str = "p") -> Reading:
    return Reading(device="d", point=point, value=value, ts=ts, quality=quality)  # type: ignore[arg-type]


def test_deadband_reports_only_moves_beyond_band_relative_to_last_reported() -> None:
    f = DeadbandFilter(default_heartbeat_s=1000)
    f.configure("d", "p", deadband=1.0, heartbeat_s=None)
    series = [(10.0, 0), (10.5, 1), (10.9, 2), (11.1, 3), (11.5, 4), (9.9, 5)]
    seen = [v for v, t in series if f.passes(r(v, t))]
    # 10.5 and 10.9 stay within 1.0 of 10.0; 11.1 leaves it; 11.5 is within 1.0 of 11.1; 9.9 is 1.2 away
    assert seen == [10.0, 11.1, 9.9]


def test_deadband_heartbeat_and_quality_change_force_a_report() -> None:
    f = DeadbandFilter(default_heartbeat_s=60)
    f.configure("d", "p", deadband=5.0, heartbeat_s=None)
    assert f.passes(r(1.0, 0))
    assert not f.passes(r(1.0, 59))
    assert f.passes(r(1.0, 60))  # heartbeat
    assert f.passes(r(1.0, 61, Quality.STALE))  # quality change
    assert not f.passes(r(1.0, 62, Quality.STALE))


def test_without_deadband_every_reading_passes_and_strings_compare_by_change() -> None:
    f = DeadbandFilter(default_heartbeat_s=60)
    assert f.passes(r(1, 0)) and f.passes(r(1, 1))
    f.configure("d", "s", deadband=0.0, heartbeat_s=None)
    assert f.passes(r("on", 0, point="s"))
    assert not f.passes(r("on", 1, point="s"))
    assert f.passes(r("off", 2, point="s"))


def test_tilt_alarm_with_hysteresis_raises_once_and_clears_below_band() -> None:
    a = AlarmEvaluator()
    a.configure("d", "p", (AlarmRule(name="tilt", above=10.0, hysteresis=1.0, absolute=True),))
    kinds = []
    for i, v in enumerate([2.0, 10.5, 12.0, 9.5, -10.2, 8.9, 8.0]):
        kinds += [(i, e.kind) for e in a.evaluate(r(v, i))]
    # 10.5 raises; 12, 9.5 (within band), -10.2 (|.|) keep it; 8.9 < 10-1 clears
    assert kinds == [(1, "alarm"), (5, "alarm_cleared")]


def test_below_alarm_and_priority_lane() -> None:
    a = AlarmEvaluator()
    a.configure("d", "p", (AlarmRule(name="low", below=6.5, hysteresis=0.2, priority="critical"),))
    events = a.evaluate(r(6.4, 0))
    assert [e.priority for e in events] == [Priority.ALARM]
    assert a.evaluate(r(6.6, 1)) == []  # inside the band, still active
    cleared = a.evaluate(r(6.8, 2))
    assert [e.kind for e in cleared] == ["alarm_cleared"]


class FakeOutbox:
    def __init__(self) -> None:
        self.accepted: list[Record] = []

    async def accept(self, records: Sequence[Record]) -> list[int]:
        start = len(self.accepted)
        self.accepted.extend(records)
        return list(range(start + 1, len(self.accepted) + 1))


@pytest.mark.asyncio
async def test_pipeline_applies_rules_and_drain_commits_everything_queued() -> None:
    outbox = FakeOutbox()
    pipe = Pipeline(outbox, heartbeat_s=300, queue_size=100)
    await pipe.apply_rules([PointRule("d", "p", deadband=0.5, alarms=(AlarmRule(name="hi", above=20.0),))])
    for i, v in enumerate([1.0, 1.2, 25.0, 25.1]):
        await pipe.put(r(v, i))
    runner = asyncio.create_task(pipe.run())
    assert await pipe.drain(timeout_s=5)
    runner.cancel()
    kinds = [x.kind if isinstance(x, Event) else x.value for x in outbox.accepted]
    assert kinds == [1.0, "alarm", 25.0]
    assert pipe.counters.suppressed == 2
    await pipe.put(r(99.0, 10))  # after drain, intake is stopped
    assert len(outbox.accepted) == 3


class PickyOutbox(FakeOutbox):
    """Refuses any batch holding a record whose value is bytes (no JSON form), like the real outbox."""

    async def accept(self, records: Sequence[Record]) -> list[int]:
        if any(isinstance(getattr(r, "value", None), bytes) for r in records):
            raise RecordRejected("record cannot be stored: bytes")
        return await super().accept(records)


@pytest.mark.asyncio
async def test_a_record_that_cannot_be_stored_is_dropped_alone_and_the_rest_flows() -> None:
    outbox = PickyOutbox()
    pipe = Pipeline(outbox, heartbeat_s=300, queue_size=100)
    for i, v in enumerate([1.0, b"\x00", 3.0]):
        await pipe.put(r(v, i, point=f"p{i}"))
    runner = asyncio.create_task(pipe.run())
    assert await pipe.drain(timeout_s=5)  # nothing stuck: drain completes
    runner.cancel()
    assert [x.value for x in outbox.accepted if isinstance(x, Reading)] == [1.0, 3.0]
    assert pipe.counters.rejected == 1 and pipe.counters.accepted == 2


class FlakyOutbox(FakeOutbox):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def accept(self, records: Sequence[Record]) -> list[int]:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("a bug in the outbox")  # not an OutboxError: the supervisor restarts run()
        return await super().accept(records)


@pytest.mark.asyncio
async def test_a_restarted_run_resumes_the_batch_it_had_in_hand() -> None:
    outbox = FlakyOutbox()
    pipe = Pipeline(outbox, heartbeat_s=300, queue_size=100)
    for i in range(3):
        await pipe.put(r(float(i), i, point=f"p{i}"))
    with pytest.raises(RuntimeError):
        await pipe.run()
    runner = asyncio.create_task(pipe.run())  # what the supervisor does
    assert await pipe.drain(timeout_s=5)
    runner.cancel()
    assert [x.value for x in outbox.accepted if isinstance(x, Reading)] == [0.0, 1.0, 2.0]


@pytest.mark.asyncio
async def test_removing_a_rule_or_device_clears_its_active_alarm_upstream() -> None:
    outbox = FakeOutbox()
    pipe = Pipeline(outbox, heartbeat_s=300, queue_size=100)
    tilt = AlarmRule(name="tilt", above=10.0)
    await pipe.apply_rules([PointRule("d", "p", alarms=(tilt,)), PointRule("d", "q", alarms=(tilt,))])
    await pipe.put(r(15.0, 0))
    await pipe.put(r(15.0, 0, point="q"))
    assert pipe.active_alarms == {("d", "p", "tilt"), ("d", "q", "tilt")}
    await pipe.apply_rules([PointRule("d", "p")])  # the tilt rule on p is gone
    await pipe.forget(["d"])  # then the device is removed
    runner = asyncio.create_task(pipe.run())
    assert await pipe.drain(timeout_s=5)
    runner.cancel()
    cleared = [(e.data["point"], e.data["reason"]) for e in outbox.accepted if isinstance(e, Event)
               and e.kind == "alarm_cleared"]
    assert cleared == [("p", "rule_removed"), ("q", "device_removed")]
    assert pipe.active_alarms == frozenset()


@pytest.mark.asyncio
async def test_the_real_outbox_rejects_an_unstorable_record_alone(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path, OutboxConfig(durability="process-safe"), "gw")
    try:
        pipe = Pipeline(outbox, heartbeat_s=300, queue_size=100)
        for i, v in enumerate([1.0, b"\x00", 3.0]):
            await pipe.put(r(v, i, point=f"p{i}"))
        runner = asyncio.create_task(pipe.run())
        assert await pipe.drain(timeout_s=10)
        runner.cancel()
        stored = await outbox.fetch(10)
        assert [rec.body["value"] for rec in stored] == [1.0, 3.0]
        assert pipe.counters.rejected == 1
    finally:
        await outbox.close()
