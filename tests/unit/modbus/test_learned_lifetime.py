"""How long learned illegal ranges last: re-probe back-off, what a read forgets, older files, forget."""

from __future__ import annotations

import asyncio

import pytest

from agent.records import Quality, Reading, Record
from drivers.modbus.bus import SerialBusQueue
from drivers.modbus.device import DevicePoller
from drivers.modbus.device_types import DeviceSpec
from drivers.modbus.learned import IllegalRanges, ReprobePolicy
from drivers.modbus.planner import PlannedRead, PlanPoint
from drivers.modbus.profile import DataType, Point, ReadLimits, Table
from drivers.modbus.reprobe import MAX_PROBES_PER_ROUND, reprobe_due
from drivers.modbus.scheduler import DeviceState
from tests.unit.modbus.fakes import FakeTransport, FakeUnit, until

H = Table.HOLDING


class Wall:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_reprobe_wait_doubles_per_refusal_up_to_the_cap() -> None:
    wall = Wall()
    illegal = IllegalRanges(policy=ReprobePolicy(first_s=600, max_s=86_400), wall=wall)
    assert illegal.add(H, 10, 12)
    (entry,) = illegal
    assert entry.next_probe_at == wall.now + 600 and not illegal.due()
    waits = []
    for _ in range(10):
        wall.now = entry.next_probe_at
        assert illegal.due() == [entry]
        illegal.refused_again(entry)
        waits.append(entry.next_probe_at - wall.now)
    assert waits == [1200, 2400, 4800, 9600, 19200, 38400, 76800, 86400, 86400, 86400]
    illegal.postpone(entry)  # no verdict: the same wait again, not a longer one
    assert entry.next_probe_at - wall.now == 86400 and entry.refusals == 11


def test_a_read_forgets_only_the_registers_it_covered() -> None:
    illegal = IllegalRanges({H: [(0, 10)], Table.INPUT: [(0, 10)]})
    assert illegal.clear_span(H, 4, 6)
    assert [(e.table, e.start, e.end) for e in illegal] == [(H, 0, 4), (H, 6, 10), (Table.INPUT, 0, 10)]
    assert not illegal.clear_span(H, 20, 30)
    assert not illegal.overlaps(H, 4, 6) and illegal.covers(Table.INPUT, 0, 10)


def test_ranges_are_kept_as_learned_so_a_point_is_not_tied_to_the_hole_next_to_it() -> None:
    illegal = IllegalRanges()
    illegal.add(H, 0, 2)  # a point's own registers
    illegal.add(H, 2, 6)  # the hole after it
    assert illegal.covers(H, 0, 6)
    assert [(e.start, e.end) for e in illegal] == [(0, 2), (2, 6)]


def test_older_files_of_bare_ranges_load_as_learned_now() -> None:
    wall = Wall()
    old_and_new = {"holding": [[4, 10]], "input": [[0, 1, 5.0, 7.0, 3]]}
    loaded = IllegalRanges.from_dict(old_and_new, ReprobePolicy(60, 600), wall)
    rows = loaded.as_dict()
    assert rows["holding"] == [[4, 10, wall.now, wall.now + 60, 1]]
    assert rows["input"] == [[0, 1, 5.0, 7.0, 3]]
    assert IllegalRanges.from_dict(rows, ReprobePolicy(60, 600), wall).as_dict() == rows


POINTS = {
    "voltage": Point(table=H, address=0, type=DataType.UINT16, scale=0.1, unit="V"),
    "energy": Point(table=H, address=6, type=DataType.UINT32, unit="Wh"),
}


def spec() -> DeviceSpec:
    return DeviceSpec("meter", 1, dict(POINTS), {n: 0.05 for n in POINTS}, ReadLimits(max_hole=8),
                      [(str(p.table), p.address, p.end) for p in POINTS.values()])


def booting_unit() -> FakeUnit:
    return FakeUnit(registers={H: {0: 2301, 6: 0, 7: 5}}, illegal={H: set(range(10))})


async def test_reprobe_round_forgets_what_reads_and_doubles_what_is_still_refused() -> None:
    wall = Wall()
    unit = booting_unit()
    transport = FakeTransport({1: unit})
    bus = SerialBusQueue("rs1", transport, 0.0, retries=0)
    illegal = IllegalRanges({H: [(0, 1), (1, 6), (6, 8)]}, ReprobePolicy(10, 100), wall)
    wall.now += 10
    unit.illegal[H] = {1, 2, 3, 4, 5}  # booted; 1..6 is a real hole
    result = await reprobe_due(bus, 1, illegal, ReadLimits())
    assert [(e.start, e.end) for e in result.forgotten] == [(0, 1), (6, 8)]
    assert [(e.start, e.end, e.refusals) for e in result.refused] == [(1, 6, 2)]
    assert [(e.start, e.end, e.next_probe_at - wall.now) for e in illegal] == [(1, 6, 20)]
    assert [(r.address, r.count) for r in transport.reads()] == [(0, 1), (1, 5), (6, 2)]


async def test_a_silent_device_ends_the_round_at_its_first_timeout() -> None:
    wall = Wall()
    transport = FakeTransport({1: FakeUnit(silent=True)})
    illegal = IllegalRanges({H: [(a, a + 1) for a in range(0, 40, 2)]}, ReprobePolicy(10, 100), wall)
    wall.now += 10
    result = await reprobe_due(SerialBusQueue("rs1", transport, 0.0, retries=0), 1, illegal, ReadLimits())
    assert result.silent and len(transport.requests) == 1
    assert all(e.refusals == 1 for e in illegal)  # silence is no refusal...
    assert not illegal.due()  # ...but nothing is asked again before its wait is over
    assert MAX_PROBES_PER_ROUND < 20


class Sink:
    def __init__(self) -> None:
        self.records: list[Record] = []

    async def put(self, record: Record) -> None:
        self.records.append(record)

    def good(self, point: str) -> list[Reading]:
        return [r for r in self.records if isinstance(r, Reading) and r.point == point and r.quality is Quality.GOOD]


async def test_a_device_that_refused_every_point_is_polled_again_once_it_answers() -> None:
    """Every point unreadable leaves nothing on the poll grid: the re-probe alone must wake the poller."""
    unit = booting_unit()
    transport = FakeTransport({1: unit})
    saves: list[int] = []
    poller = DevicePoller(spec(), SerialBusQueue("rs1", transport, 0.0, retries=0),
                          illegal=IllegalRanges(policy=ReprobePolicy(0.1, 0.4)), on_learn=lambda: saves.append(1))
    sink = Sink()
    task = asyncio.create_task(poller.run(sink))
    try:
        await until(lambda: poller.unreadable == set(POINTS))
        assert poller.grid is not None and not poller.grid.deadlines
        await until(lambda: min(e.refusals for e in poller.illegal) >= 2)
        unit.illegal[H] = {1, 2, 3, 4, 5}
        await until(lambda: len(sink.good("voltage")) >= 2 and len(sink.good("energy")) >= 2)
        assert poller.unreadable == set()
        assert [(e.start, e.end) for e in poller.illegal] == [(1, 6)]
        assert saves, "each change asks for the file to be written"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_no_reprobe_while_the_device_is_offline() -> None:
    poller = DevicePoller(spec(), SerialBusQueue("rs1", FakeTransport({}), 0.0, retries=0),
                          illegal=IllegalRanges({H: [(2, 6)]}, ReprobePolicy(0.0001, 0.0001)))
    await asyncio.sleep(0.001)
    assert poller._until_relearn() <= 0
    poller.health.state = DeviceState.OFFLINE
    assert poller._until_relearn() == float("inf")  # the polls find it first; no spin on due re-probes


async def test_forget_clears_ranges_points_and_a_lowered_limit_and_polls_them_again() -> None:
    unit = FakeUnit(registers={H: {0: 2301, 6: 0, 7: 5}}, illegal={H: {0}}, max_count=3)
    transport = FakeTransport({1: unit})
    poller = DevicePoller(spec(), SerialBusQueue("rs1", transport, 0.0, retries=0))
    await poller.poll(POINTS)
    assert poller.unreadable == {"voltage"}
    assert [(e.start, e.end) for e in poller.illegal] == [(0, 1), (1, 6)]  # the point, and the gap up to energy
    poller.learning.lower_limit(PlannedRead(H, 0, 8, (PlanPoint.of("voltage", POINTS["voltage"]),)))
    assert poller.limits.max_registers == 7
    assert poller.status()["read_limit"] == {"max_registers": 7, "max_bits": 2000}
    forgotten = poller.forget_learned()
    assert forgotten == {"ranges": 2, "unreadable": ["voltage"], "limits_restored": True}
    assert not poller.illegal and not poller.unreadable and poller.limits == spec().limits
    assert "read_limit" not in poller.status()


def test_a_lowered_read_limit_is_tried_again_after_the_same_back_off() -> None:
    wall = Wall()
    poller = DevicePoller(spec(), SerialBusQueue("rs1", FakeTransport({}), 0.0, retries=0),
                          illegal=IllegalRanges(policy=ReprobePolicy(60, 600), wall=wall), wall=wall)
    learning = poller.learning
    read = PlannedRead(H, 0, 8, tuple(PlanPoint.of(n, p) for n, p in POINTS.items()))
    learning.lower_limit(read)
    assert learning.next_relearn_at() == wall.now + 60
    assert not learning.restore_limit_if_due()
    wall.now += 60
    assert learning.restore_limit_if_due() and learning.limits == spec().limits
    learning.lower_limit(read)  # still reads fewer: the next try waits twice as long
    assert learning.next_relearn_at() == wall.now + 120
