"""Device poller over an in-process fake bus: decoding, learned illegal ranges, silence, state events."""

from __future__ import annotations

import pytest

from agent.errors import DeviceTimeout
from agent.records import Event, Quality, Reading
from drivers.modbus.bus import SerialBusQueue
from drivers.modbus.device import DevicePoller
from drivers.modbus.device_types import DeviceSpec
from drivers.modbus.planner import IllegalRanges
from drivers.modbus.profile import DataType, Point, ReadLimits, Table
from drivers.modbus.scheduler import DeviceState
from tests.unit.modbus.fakes import FakeTransport, FakeUnit

H = Table.HOLDING


def spec(points: dict[str, Point], limits: ReadLimits | None = None) -> DeviceSpec:
    return DeviceSpec(
        name="meter",
        unit=1,
        points=dict(points),
        periods={n: 1.0 for n in points},
        limits=limits or ReadLimits(max_hole=8),
        known_ranges=[(str(p.table), p.address, p.end) for p in points.values()],
    )


def make(units: dict[int, FakeUnit], points: dict[str, Point], **kwargs) -> tuple[DevicePoller, FakeTransport]:
    transport = FakeTransport(units)
    bus = SerialBusQueue("rs1", transport, frame_gap_s=0.0, retries=0)
    return DevicePoller(spec(points, kwargs.pop("limits", None)), bus, **kwargs), transport


POINTS = {
    "voltage": Point(table=H, address=0, type=DataType.UINT16, scale=0.1, unit="V"),
    "current": Point(table=H, address=1, type=DataType.UINT16, scale=0.01, unit="A"),
    "energy": Point(table=H, address=6, type=DataType.UINT32, unit="Wh"),
}


def unit_with(illegal: set[int] | None = None, **kwargs) -> FakeUnit:
    return FakeUnit(registers={H: {0: 2301, 1: 150, 6: 1, 7: 2}}, illegal={H: illegal or set()}, **kwargs)


async def test_one_merged_read_decoded_with_units_and_timestamps() -> None:
    poller, transport = make({1: unit_with()}, POINTS)
    result = await poller.poll(POINTS)
    assert [(r.address, r.count) for r in transport.reads()] == [(0, 8)]
    values = {r.point: (r.value, r.unit, r.quality) for r in result.readings}
    assert values == {
        "voltage": (230.1, "V", Quality.GOOD),
        "current": (1.5, "A", Quality.GOOD),
        "energy": (65538, "Wh", Quality.GOOD),
    }
    assert all(r.ts > 1e9 for r in result.readings)  # wall clock, not monotonic


async def test_illegal_hole_is_learned_by_bisecting_and_never_read_again() -> None:
    learned: list[int] = []
    poller, transport = make({1: unit_with(illegal={3})}, POINTS, on_learn=lambda: learned.append(1))
    first = await poller.poll(POINTS)
    assert {r.point for r in first.readings if r.quality is Quality.GOOD} == set(POINTS)
    spans = [(r.address, r.count) for r in transport.reads()]
    assert spans[0] == (0, 8)  # the merged read, refused
    assert (0, 2) in spans and (6, 2) in spans
    assert poller.illegal.overlaps(H, 3, 4)
    assert not poller.illegal.overlaps(H, 0, 2) and not poller.illegal.overlaps(H, 6, 8)
    assert learned
    transport.requests.clear()
    second = await poller.poll(POINTS)
    assert len(second.readings) == 3 and all(r.quality is Quality.GOOD for r in second.readings)
    assert not any(r.address <= 3 < r.address + r.count for r in transport.reads())
    assert len(transport.reads()) == 2


async def test_a_point_on_an_illegal_register_is_reported_bad_once_then_dropped() -> None:
    points = {**POINTS, "ghost": Point(table=H, address=4, type=DataType.UINT16)}
    poller, transport = make({1: unit_with(illegal={4})}, points)
    first = await poller.poll(points)
    ghost = [r for r in first.readings if r.point == "ghost"]
    assert [(r.value, r.quality) for r in ghost] == [(None, Quality.BAD)]
    assert "ghost" in poller.unreadable
    transport.requests.clear()
    second = await poller.poll(points)
    assert {r.point for r in second.readings} == set(POINTS)
    assert not any(r.address <= 4 < r.address + r.count for r in transport.reads())


async def test_device_that_reads_fewer_registers_lowers_the_limit() -> None:
    points = {f"r{a}": Point(table=H, address=a) for a in range(10)}
    poller, transport = make({1: FakeUnit(registers={H: {}}, max_count=4)}, points)
    result = await poller.poll(points)
    assert len([r for r in result.readings if r.quality is Quality.GOOD]) == 10
    assert poller.limits.max_registers < 10
    transport.requests.clear()
    await poller.poll(points)
    assert all(r.count <= 4 for r in transport.reads())


async def test_learned_ranges_are_used_from_the_start() -> None:
    illegal = IllegalRanges({H: [(2, 6)]})
    poller, transport = make({1: unit_with(illegal={2, 3, 4, 5})}, POINTS, illegal=illegal)
    await poller.poll(POINTS)
    assert [(r.address, r.count) for r in transport.reads()] == [(0, 2), (6, 2)]


async def test_silent_device_stops_its_cycle_at_the_first_timeout() -> None:
    points = {"a": Point(table=H, address=0), "b": Point(table=Table.INPUT, address=0)}
    poller, transport = make({1: FakeUnit(silent=True)}, points)
    result = await poller.poll(points)
    assert result.silent and result.answered == 0 and not result.readings
    assert len(transport.requests) == 1


async def test_state_events_only_on_change() -> None:
    unit = unit_with()
    poller, _ = make({1: unit}, POINTS, offline_after=2)

    async def cycle() -> list[Event]:
        return [r for r in poller._account(await poller.poll(POINTS)) if isinstance(r, Event)]

    assert [e.data["state"] for e in await cycle()] == ["online"]
    assert await cycle() == []
    unit.silent = True
    assert [e.data["state"] for e in await cycle()] == ["degraded"]
    offline = await cycle()
    assert [e.data["state"] for e in offline] == ["offline"] and offline[0].kind == "device_state"
    assert await cycle() == []
    assert poller.state is DeviceState.OFFLINE
    unit.silent = False
    assert [e.data["state"] for e in await cycle()] == ["online"]


async def test_read_point_on_demand() -> None:
    poller, _ = make({1: unit_with()}, POINTS)
    reading = await poller.read_point("voltage")
    assert isinstance(reading, Reading) and reading.value == 230.1
    silent, _ = make({1: FakeUnit(silent=True)}, POINTS)
    with pytest.raises(DeviceTimeout):
        await silent.read_point("voltage")
