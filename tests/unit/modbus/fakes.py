"""In-process fakes for the Modbus driver's unit tests: a register map behind the Transport protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.errors import DeviceException, DeviceTimeout
from drivers.modbus.profile import Table
from drivers.modbus.transport import ModbusRequest, ReadDeviceId, ReadRequest, Response, WriteCoils, WriteRegisters


@dataclass
class FakeUnit:
    """One device: registers per table; reading an address in ``illegal`` answers exception 2."""

    registers: dict[Table, dict[int, int]] = field(default_factory=dict)
    illegal: dict[Table, set[int]] = field(default_factory=dict)
    max_count: int = 125
    silent: bool = False
    objects: dict[int, bytes] = field(default_factory=dict)


class FakeTransport:
    """Answers from ``units``; records every request it saw, in order."""

    def __init__(self, units: dict[int, FakeUnit], name: str = "fake") -> None:
        self.name = name
        self.units = units
        self.requests: list[ModbusRequest] = []
        self.connected = False
        self.lost = asyncio.Event()

    async def connect(self) -> None:
        self.connected = True

    async def wait_lost(self) -> None:
        while self.connected:
            self.lost.clear()
            await self.lost.wait()

    def pull_out(self) -> None:
        """The port goes away under an open connection."""
        self.connected = False
        self.lost.set()

    async def close(self) -> None:
        self.connected = False

    async def execute(self, request: ModbusRequest) -> Response:
        self.requests.append(request)
        unit = self.units.get(request.unit)
        if unit is None or unit.silent:
            raise DeviceTimeout(f"{self.name}/unit{request.unit}", "no response")
        fc = request.function_code
        if isinstance(request, ReadRequest):
            bad = unit.illegal.get(request.table, set())
            span = range(request.address, request.address + request.count)
            if request.count > unit.max_count or any(a in bad for a in span):
                raise DeviceException(f"{self.name}/unit{request.unit}", fc, 2)
            table = unit.registers.get(request.table, {})
            return Response(values=[table.get(a, 0) for a in span])
        if isinstance(request, WriteRegisters | WriteCoils):
            table_name = Table.COIL if isinstance(request, WriteCoils) else Table.HOLDING
            table = unit.registers.setdefault(table_name, {})
            for offset, value in enumerate(request.values):
                table[request.address + offset] = int(value)
            return Response()
        assert isinstance(request, ReadDeviceId)
        if not unit.objects:
            raise DeviceException(f"{self.name}/unit{request.unit}", fc, 1)
        return Response(objects=dict(unit.objects))

    def reads(self) -> list[ReadRequest]:
        return [r for r in self.requests if isinstance(r, ReadRequest)]


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait for a condition of a running poller or link (no event announces it); the timeout guards a hang."""
    async with asyncio.timeout(timeout_s):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)
