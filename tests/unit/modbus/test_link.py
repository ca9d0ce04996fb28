"""The link keeper: reopening a missing or lost port with back-off, one log line and event per change."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agent.errors import TransportError
from drivers.modbus.bus import SerialBusQueue
from drivers.modbus.link import LinkChange, LinkDown, LinkKeeper, LinkState
from drivers.modbus.profile import Table
from drivers.modbus.transport import PortMissing, ReadRequest
from tests.unit.modbus.fakes import FakeTransport, FakeUnit, until


class Adapter(FakeTransport):
    """A port that may be absent (missing) or present but refusing to open (busy)."""

    def __init__(self) -> None:
        super().__init__({1: FakeUnit(registers={Table.HOLDING: {0: 7}})}, name="rs1")
        self.present = False
        self.busy = False
        self.opens = 0

    async def connect(self) -> None:
        self.opens += 1
        if not self.present:
            raise PortMissing("rs1: /dev/ttyUSB0 does not exist")
        if self.busy:
            raise TransportError("rs1: cannot connect to /dev/ttyUSB0 (in use, or not a serial port)")
        await super().connect()


async def test_missing_then_plugged_then_pulled_then_busy_then_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="drivers.serialbus.link")
    adapter = Adapter()
    keeper = LinkKeeper("rs1", adapter, "/dev/ttyUSB0", reopen_min_s=0.01, reopen_max_s=0.05)
    bus = SerialBusQueue("rs1", adapter, 0.0, retries=0, link=keeper)
    changes: list[LinkChange] = []

    async def heard(change: LinkChange) -> None:
        changes.append(change)

    with pytest.raises(PortMissing):
        await bus.open()
    with pytest.raises(LinkDown, match="port missing"):
        await bus.execute(ReadRequest(1, Table.HOLDING, 0, 1))
    assert adapter.requests == []  # refused at once, nothing sent to a port that is not there
    task = asyncio.create_task(bus.keep_open(heard))
    try:
        await until(lambda: adapter.opens >= 5)
        assert [c.state for c in changes] == [LinkState.PORT_MISSING]  # reported once keep_open runs
        assert keeper.status()["failed_opens"] >= 5
        adapter.present = True
        await until(lambda: keeper.is_open)
        assert (await bus.execute(ReadRequest(1, Table.HOLDING, 0, 1))).values == [7]
        adapter.present, adapter.busy = True, True
        adapter.pull_out()
        await until(lambda: keeper.state is LinkState.OPEN_FAILED)
        adapter.busy = False
        await until(lambda: keeper.is_open)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    states = [str(c.state) for c in changes]
    assert states == ["port missing", "open", "lost", "open failed", "open"]
    assert [c.previous for c in changes][1:] == [LinkState.PORT_MISSING, LinkState.OPEN, LinkState.LOST,
                                                 LinkState.OPEN_FAILED]
    lines = [r.getMessage() for r in caplog.records if "event=bus_state" in r.getMessage()]
    assert len(lines) == 5 and "in use" in lines[3]


async def test_retry_now_cuts_a_long_wait_short() -> None:
    adapter = Adapter()
    keeper = LinkKeeper("rs1", adapter, "/dev/ttyUSB0", reopen_min_s=600, reopen_max_s=600)

    async def ignore(change: LinkChange) -> None:
        return None

    with pytest.raises(PortMissing):
        await keeper.open()
    task = asyncio.create_task(keeper.keep(ignore))
    try:
        await until(lambda: keeper.next_open_at is not None)
        adapter.present = True
        keeper.retry_now()  # config reload: "I plugged it in"
        await until(lambda: keeper.is_open)
        assert adapter.opens == 2
        keeper.retry_now()  # open: nothing to do
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_bus_never_opened_still_sends() -> None:
    """Before the first open attempt the state is unknown, not down: nothing is refused."""
    adapter = Adapter()
    bus = SerialBusQueue("rs1", adapter, 0.0, retries=0)
    assert bus.link.state is LinkState.CLOSED
    assert (await bus.execute(ReadRequest(1, Table.HOLDING, 0, 1))).values == [7]
