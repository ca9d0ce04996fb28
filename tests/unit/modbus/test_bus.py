"""Bus queues: one request at a time with the inter-frame silence on serial; bounded concurrency on TCP."""

from __future__ import annotations

import asyncio

import pytest

from agent.errors import DeviceException, DeviceTimeout, RequestRefused, WriteOutcomeUnknown
from drivers.modbus.bus import SerialBusQueue, TcpBusQueue
from drivers.modbus.config import frame_gap_s
from drivers.modbus.profile import Table
from drivers.modbus.transport import ReadRequest, Response, WriteRegisters
from tests.unit.modbus.fakes import FakeTransport, FakeUnit


class TimedTransport(FakeTransport):
    """Holds each request for a while on a fake timeline; records start/end of each exchange."""

    def __init__(self, units: dict[int, FakeUnit], clock: list[float], hold_s: float) -> None:
        super().__init__(units)
        self.clock = clock
        self.hold_s = hold_s
        self.active = 0
        self.max_active = 0
        self.spans: list[tuple[float, float]] = []

    async def execute(self, request):  # type: ignore[no-untyped-def]
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        start = self.clock[0]
        try:
            await asyncio.sleep(0)  # let every other caller try to get in
            self.clock[0] += self.hold_s
            return await super().execute(request)
        finally:
            self.spans.append((start, self.clock[0]))
            self.active -= 1


def test_frame_gap_is_three_and_a_half_characters_with_a_floor() -> None:
    assert frame_gap_s(9600, "N", 1) == pytest.approx(3.5 * 10 / 9600)
    assert frame_gap_s(9600, "E", 1) == pytest.approx(3.5 * 11 / 9600)
    assert frame_gap_s(115200, "N", 1) == pytest.approx(0.00175)


async def test_serial_queue_one_request_at_a_time_with_silence_between() -> None:
    clock = [0.0]
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    units = {u: FakeUnit(registers={Table.HOLDING: {0: u}}) for u in (1, 2, 3)}
    transport = TimedTransport(units, clock, hold_s=0.05)
    gap = 0.004
    bus = SerialBusQueue("rs1", transport, gap, retries=0, clock=lambda: clock[0], sleep=fake_sleep)
    requests = [ReadRequest(u, Table.HOLDING, 0, 1) for u in (1, 2, 3) for _ in range(4)]
    responses = await asyncio.gather(*(bus.execute(r) for r in requests))
    assert [resp.values for resp in responses] == [[r.unit] for r in requests]
    assert transport.max_active == 1
    # FIFO, and every request starts at least one gap after the previous response ended
    assert [r.unit for r in transport.requests] == [r.unit for r in requests]
    for (_, end), (start, _) in zip(transport.spans, transport.spans[1:], strict=False):
        assert start - end >= gap - 1e-12
    assert bus.stats.requests == 12 and bus.status()["requests"] == 12


class Flaky(FakeTransport):
    """Times out ``failures`` times (the request went out, no reply came), then answers."""

    def __init__(self) -> None:
        super().__init__({1: FakeUnit(registers={Table.HOLDING: {0: 9}})})
        self.failures = 1

    async def execute(self, request):  # type: ignore[no-untyped-def]
        if self.failures:
            self.failures -= 1
            self.requests.append(request)
            raise DeviceTimeout("rs1/unit1", "no response")
        return await super().execute(request)


async def test_serial_queue_retries_timeouts_but_not_exceptions() -> None:
    flaky = Flaky()
    bus = SerialBusQueue("rs1", flaky, 0.0, retries=1)
    assert (await bus.execute(ReadRequest(1, Table.HOLDING, 0, 1))).values == [9]
    assert bus.stats.timeouts == 1 and len(flaky.requests) == 2

    flaky.failures = 1
    with pytest.raises(DeviceTimeout):
        await bus.execute(ReadRequest(1, Table.HOLDING, 0, 1), retries=0)

    refusing = FakeTransport({1: FakeUnit(illegal={Table.HOLDING: {5}})})
    bus = SerialBusQueue("rs1", refusing, 0.0, retries=3)
    with pytest.raises(DeviceException) as info:
        await bus.execute(ReadRequest(1, Table.HOLDING, 5, 1))
    assert info.value.exception_code == 2 and info.value.function_code == 3
    assert len(refusing.requests) == 1 and bus.stats.exceptions == 1
    assert bus.counters.of(1).exceptions == 1


async def test_a_write_is_never_sent_twice() -> None:
    flaky = Flaky()
    bus = SerialBusQueue("rs1", flaky, 0.0, retries=3)
    with pytest.raises(WriteOutcomeUnknown) as info:
        await bus.execute(WriteRegisters(1, 0, (5,)))
    assert flaky.requests == [WriteRegisters(1, 0, (5,))]
    assert "may have been applied" in str(info.value)
    line = bus.counters.of(1)
    assert (line.timeouts, line.retries) == (1, 0)
    # a read is retried, and the retry is counted
    flaky.failures = 1
    assert (await bus.execute(ReadRequest(1, Table.HOLDING, 0, 1))).values == [9]
    assert (line.timeouts, line.retries) == (2, 1)


async def test_reads_to_the_broadcast_unit_are_refused() -> None:
    transport = FakeTransport({})
    bus = SerialBusQueue("rs1", transport, 0.0)
    with pytest.raises(RequestRefused):
        await bus.execute(ReadRequest(0, Table.HOLDING, 0, 1))
    assert transport.requests == []


async def test_tcp_queue_bounds_requests_in_flight() -> None:
    clock = [0.0]
    units = {1: FakeUnit(registers={Table.HOLDING: {0: 1}})}
    transports = [TimedTransport(units, clock, 0.01) for _ in range(3)]
    bus = TcpBusQueue("tcp1", transports, retries=0)
    results = await asyncio.gather(*(bus.execute(ReadRequest(1, Table.HOLDING, 0, 1)) for _ in range(20)))
    assert all(r == Response(values=[1]) for r in results)
    assert bus.max_in_flight == 3
    assert all(t.max_active == 1 for t in transports)
    assert sum(len(t.requests) for t in transports) == 20
