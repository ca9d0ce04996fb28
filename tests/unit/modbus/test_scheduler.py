"""Scheduler timing with a fake clock: drift-free grid, skipped overruns, back-off, staggering."""

from __future__ import annotations

import asyncio

import pytest

from agent.records import Event, Reading, Record
from drivers.modbus.bus import SerialBusQueue
from drivers.modbus.device import DevicePoller
from drivers.modbus.device_types import DeviceSpec
from drivers.modbus.profile import Point, ReadLimits, Table
from drivers.modbus.scheduler import Backoff, DeviceHealth, DeviceState, PollGrid, stagger_offset
from tests.unit.modbus.fakes import FakeTransport, FakeUnit


def test_grid_serves_each_period_on_its_own_slots() -> None:
    grid = PollGrid({"fast": 1.0, "slow": 3.0}, origin=100.0)
    served: list[tuple[float, list[str]]] = []
    now = 100.0
    for _ in range(7):
        now = grid.next_deadline()
        due = sorted(grid.due(now))
        served.append((now, due))
        grid.complete(due, now + 0.1)
    assert served == [
        (100.0, ["fast", "slow"]),
        (101.0, ["fast"]),
        (102.0, ["fast"]),
        (103.0, ["fast", "slow"]),
        (104.0, ["fast"]),
        (105.0, ["fast"]),
        (106.0, ["fast", "slow"]),
    ]
    assert grid.missed_cycles == 0


def test_no_drift_when_cycles_take_time() -> None:
    grid = PollGrid({"p": 2.0}, origin=0.0)
    for k in range(50):
        deadline = grid.next_deadline()
        assert deadline == pytest.approx(2.0 * k)
        grid.complete(grid.due(deadline), deadline + 1.9)  # every cycle nearly a full period
    assert grid.missed_cycles == 0


def test_overrun_skips_the_next_slot_and_counts_it() -> None:
    grid = PollGrid({"p": 1.0}, origin=0.0)
    grid.complete(grid.due(0.0), 2.5)  # the cycle due at 0 ends at 2.5: slots 1 and 2 are gone
    assert grid.missed_cycles == 2
    assert grid.next_deadline() == pytest.approx(3.0)  # back on the grid, no burst of catch-up reads
    grid.complete(grid.due(3.0), 3.2)
    assert grid.missed_cycles == 2
    assert grid.next_deadline() == pytest.approx(4.0)


def test_set_period_realigns_one_point() -> None:
    grid = PollGrid({"a": 1.0, "b": 1.0}, origin=0.0)
    grid.complete(["a", "b"], 0.1)
    grid.set_period("b", 5.0, now=0.5)
    assert grid.deadlines["a"] == pytest.approx(1.0)
    assert grid.deadlines["b"] == pytest.approx(5.0)
    with pytest.raises(ValueError):
        grid.set_period("a", 0, now=1.0)


def test_postpone_moves_deadlines_onto_later_slots() -> None:
    grid = PollGrid({"p": 1.0}, origin=0.0)
    grid.complete(["p"], 0.2)
    grid.postpone(4.5)
    assert grid.next_deadline() == pytest.approx(5.0)


def test_backoff_doubles_caps_and_resets() -> None:
    backoff = Backoff(base_s=1.0, cap_s=10.0, rng=lambda: 0.5)  # jitter factor 1.0
    assert [backoff.failed() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    backoff.succeeded()
    assert backoff.failed() == 1.0
    low, high = Backoff(1.0, 100.0, rng=lambda: 0.0), Backoff(1.0, 100.0, rng=lambda: 0.999)
    assert low.failed() == pytest.approx(0.8) and high.failed() == pytest.approx(1.2, abs=1e-3)


def test_health_transitions() -> None:
    health = DeviceHealth(offline_after=3, clean_window=3)
    assert health.record(answered=2, failed=0) is DeviceState.ONLINE
    assert health.record(answered=1, failed=1) is DeviceState.DEGRADED
    assert health.record(answered=0, failed=1) is None  # still degraded, 1 silent cycle
    assert health.record(answered=0, failed=1) is None
    assert health.record(answered=0, failed=1) is DeviceState.OFFLINE
    assert health.record(answered=0, failed=0) is None  # nothing was due
    assert health.record(answered=1, failed=0) is DeviceState.ONLINE  # back from an outage


def test_intermittent_failures_do_not_flap() -> None:
    health = DeviceHealth(offline_after=3, clean_window=4)
    changes = [health.record(1, 0)]
    for cycle in range(31):  # a device that drops one request in three (the last one fails)
        changes.append(health.record(0, 1) if cycle % 3 == 0 else health.record(1, 0))
    assert [c for c in changes if c is not None] == [DeviceState.ONLINE, DeviceState.DEGRADED]
    for _ in range(3):
        assert health.record(1, 0) is None
    assert health.record(1, 0) is DeviceState.ONLINE  # a clean window restores it


def test_stagger_spreads_devices_over_a_period() -> None:
    assert [stagger_offset(i, 4, 2.0) for i in range(4)] == [0.0, 0.5, 1.0, 1.5]
    assert stagger_offset(0, 1, 5.0) == 0.0


class FakeClock:
    """Monotonic time that only moves when the poller sleeps or a request takes time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class SlowTransport(FakeTransport):
    def __init__(self, units: dict[int, FakeUnit], clock: FakeClock, cost_s: float) -> None:
        super().__init__(units)
        self.clock = clock
        self.cost_s = cost_s
        self.sent_at: list[float] = []

    async def execute(self, request):  # type: ignore[no-untyped-def]
        self.sent_at.append(self.clock.now)
        self.clock.now += self.cost_s
        return await super().execute(request)


class ListSink:
    def __init__(self, stop_after: int) -> None:
        self.records: list[Record] = []
        self.stop_after = stop_after

    async def put(self, record: Record) -> None:
        self.records.append(record)
        if sum(isinstance(r, Reading) for r in self.records) >= self.stop_after:
            raise asyncio.CancelledError


async def _run(poller: DevicePoller, clock: FakeClock, sink: ListSink) -> None:
    with pytest.raises(asyncio.CancelledError):
        await poller.run(sink, start_offset_s=0.0, clock=clock, sleep=clock.sleep)


def _poller(unit: FakeUnit, clock: FakeClock, cost_s: float, period: float) -> tuple[DevicePoller, SlowTransport]:
    transport = SlowTransport({1: unit}, clock, cost_s)
    bus = SerialBusQueue("rs1", transport, frame_gap_s=0.0, retries=0, clock=clock, sleep=clock.sleep)
    spec = DeviceSpec("dev", 1, {"p": Point(table=Table.HOLDING, address=0)}, {"p": period}, ReadLimits())
    return DevicePoller(spec, bus, offline_after=2, backoff_cap_s=16.0, wall=lambda: 5.0), transport


async def test_poll_loop_reads_on_the_grid() -> None:
    clock = FakeClock()
    poller, transport = _poller(FakeUnit(registers={Table.HOLDING: {0: 7}}), clock, cost_s=0.3, period=1.0)
    await _run(poller, clock, ListSink(stop_after=5))
    assert [t - 1000.0 for t in transport.sent_at] == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])
    assert poller.grid is not None and poller.grid.missed_cycles == 0


async def test_poll_loop_skips_after_an_overrun() -> None:
    clock = FakeClock()
    poller, transport = _poller(FakeUnit(registers={Table.HOLDING: {0: 7}}), clock, cost_s=1.5, period=1.0)
    await _run(poller, clock, ListSink(stop_after=3))
    assert [t - 1000.0 for t in transport.sent_at] == pytest.approx([0.0, 2.0, 4.0])
    assert poller.grid is not None and poller.grid.missed_cycles == 2


async def test_poll_loop_backs_off_a_silent_device_and_goes_offline_once() -> None:
    clock = FakeClock()
    unit = FakeUnit(silent=True)
    poller, transport = _poller(unit, clock, cost_s=0.1, period=1.0)
    poller.backoff.rng = lambda: 0.5  # no jitter

    sink = ListSink(stop_after=1_000_000)
    sleep = clock.sleep

    async def stop_after_seven_sends(seconds: float) -> None:
        if len(transport.sent_at) >= 7:
            raise asyncio.CancelledError
        await sleep(seconds)

    clock.sleep = stop_after_seven_sends  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await poller.run(sink, clock=clock, sleep=clock.sleep)
    gaps = [b - a for a, b in zip(transport.sent_at, transport.sent_at[1:], strict=False)]
    assert gaps == sorted(gaps) and gaps[-1] >= 8.0  # 1, 2, 4, 8, 16... capped at 16
    assert max(gaps) <= 16.0 + 1.0
    states = [r.data["state"] for r in sink.records if isinstance(r, Event)]
    assert states == ["offline"]


async def test_poll_loop_stops_even_when_a_cancellation_is_swallowed() -> None:
    """On Python 3.11 ``asyncio.wait_for`` (used inside pymodbus) can return a response that raced
    with the task's cancellation and drop the CancelledError; the poller must still stop."""

    class Swallowing(FakeTransport):
        swallow = True
        busy = asyncio.Event()

        async def execute(self, request):  # type: ignore[no-untyped-def]
            if len(self.requests) >= 3:
                self.busy.set()
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if not self.swallow:
                    raise
                # the race: the response won, the cancellation is lost
            return await super().execute(request)

    transport = Swallowing({1: FakeUnit(registers={Table.HOLDING: {0: 1}})})
    bus = SerialBusQueue("rs1", transport, frame_gap_s=0.0, retries=0)
    spec = DeviceSpec("dev", 1, {"p": Point(table=Table.HOLDING, address=0)}, {"p": 0.001}, ReadLimits())
    poller = DevicePoller(spec, bus)
    task = asyncio.create_task(poller.run(ListSink(stop_after=10**9)))
    await asyncio.wait_for(transport.busy.wait(), 10)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    transport.swallow = False  # so a failing run still ends
    if not done:
        task.cancel()
        await asyncio.wait({task})
    assert done == {task} and task.cancelled()


async def test_set_period_takes_effect_without_waiting_for_the_old_deadline() -> None:
    clock = FakeClock()
    poller, transport = _poller(FakeUnit(registers={Table.HOLDING: {0: 7}}), clock, cost_s=0.1, period=900.0)
    fake_sleep = clock.sleep
    sleeping = asyncio.Event()

    async def sleep(seconds: float) -> None:
        if seconds > 60:  # 15 minutes of real time: only a wake-up can end this wait
            sleeping.set()
            await asyncio.Event().wait()
        await fake_sleep(seconds)

    task = asyncio.create_task(poller.run(ListSink(stop_after=2), start_offset_s=0.0, clock=clock, sleep=sleep))
    await asyncio.wait_for(sleeping.wait(), 5)
    assert len(transport.sent_at) == 1
    poller.set_period("p", 1.0, clock.now)  # a downlink set_period: 900 s -> 1 s
    with pytest.raises(asyncio.CancelledError):  # ListSink stops the loop at the second reading
        await asyncio.wait_for(task, 5)
    assert [t - 1000.0 for t in transport.sent_at] == pytest.approx([0.0, 1.0])  # next slot of the new grid
