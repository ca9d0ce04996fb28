"""A small in-memory Runtime for control-socket and CLI tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agent.config import AgentConfigBase, parse_config
from agent.control.server import ControlServer
from agent.errors import DeviceTimeout, WriteRejected
from agent.outbox.api import OutboxStats
from agent.records import Event, JsonValue, PointValue, Reading, Record
from drivers.base import Driver, DriverConfigBase, DriverContext, RecordSink
from drivers.capabilities import RawAccess, RawArgs
from drivers.modbus.identify import ProfileMatch
from drivers.modbus.profile import Table
from drivers.modbus.raw_verbs import VERBS, run_verb


class FakeBus(BaseModel):
    name: str
    port: str = "/dev/ttyFAKE0"


class FakeDriverConfig(DriverConfigBase):
    buses: list[FakeBus] = []


class FakeDriver(Driver[FakeDriverConfig], RawAccess):
    """Raw access with the Modbus driver's verbs, on buses it does not open."""

    config_model = FakeDriverConfig

    def __init__(self, config: FakeDriverConfig, context: DriverContext) -> None:
        super().__init__(config, context)
        self.registers: dict[tuple[str, int, str, int], int] = {}
        self.points: dict[tuple[str, str], PointValue] = {("meter1", "voltage"): 230.5}

    async def open(self) -> None:
        return None

    async def run(self, sink: RecordSink) -> None:
        await asyncio.Event().wait()

    async def close(self) -> None:
        return None

    async def read_point(self, device: str, point: str) -> Reading:
        if device == "silent":
            raise DeviceTimeout(device, "no response")
        return Reading(device, point, self.points[(device, point)], 1_700_000_000.0, unit="V")

    async def write_point(self, device: str, point: str, value: PointValue, verify: bool = False) -> None:
        if point == "voltage":
            raise WriteRejected(device, point, "point is read-only")
        self.points[(device, point)] = value

    async def raw_read(self, bus: str, unit: int, table: Table, address: int, count: int) -> list[int]:
        if unit == 99:
            raise DeviceTimeout(f"{bus}/unit{unit}", "no response")
        return [self.registers.get((bus, unit, table.value, address + i), address + i) for i in range(count)]

    async def raw_write(self, bus: str, unit: int, table: Table, address: int, values: list[int]) -> None:
        for i, value in enumerate(values):
            self.registers[(bus, unit, table.value, address + i)] = value

    async def identify(self, bus: str, unit: int) -> list[ProfileMatch]:
        return [ProfileMatch("eastron/sdm120", 1.0, 3, 3, firmware="1.2")] if unit == 1 else []

    def bus_names(self) -> list[str]:
        return [bus.name for bus in self.config.buses]

    def raw_verbs(self) -> Mapping[str, type[RawArgs]]:
        return VERBS

    async def raw(self, bus: str, verb: str, args: RawArgs) -> JsonValue:
        return await run_verb(self, bus, args)


class FakeRuntime:
    def __init__(self, records: list[Record] | None = None) -> None:
        self._config = parse_config("gateway: {id: pole-test}\n")
        context = DriverContext("pole-test", Path("/tmp"), Path("/tmp"), __import__("logging").getLogger("fake"))
        self.driver = FakeDriver(FakeDriverConfig(name="rs485", buses=[FakeBus(name="bus1")]), context)
        self.records = records if records is not None else [
            Reading("meter1", "voltage", 230.5, 1_700_000_000.0, unit="V"),
            Event("meter1", "device_state", 1_700_000_001.0, data={"state": "online"}),
            Reading("other", "temp", 21.0, 1_700_000_002.0),
        ]
        self.synced = 0
        self.purged: list[tuple[str | None, float | None]] = []
        self.reload_problems: list[str] = []

    @property
    def config(self) -> AgentConfigBase:
        return self._config

    @property
    def config_path(self) -> Path:
        return Path("/etc/edgepost/config.yaml")

    @property
    def drivers(self) -> Mapping[str, Driver[Any]]:
        return {"rs485": self.driver}

    def driver_for(self, device: str) -> Driver[Any] | None:
        return self.driver if device in ("meter1", "silent") else None

    def status(self) -> dict[str, JsonValue]:
        return {
            "gateway": "pole-test",
            "buses": {"bus1": {"requests": 10, "timeouts": 1, "devices": {"meter1": {"state": "online"}}}},
            "uplink": {"state": "connected"},
        }

    async def outbox_stats(self) -> OutboxStats:
        return OutboxStats(12, {"telemetry": 12}, 1_700_000_000.0, 4096, 1 << 20, 0, 0, 12, None)

    async def subscribe(self) -> AsyncIterator[Record]:
        for record in self.records:
            yield record

    async def sync_now(self) -> None:
        self.synced += 1

    async def purge(self, device: str | None, before: float | None) -> int:
        self.purged.append((device, before))
        return 7

    async def reload(self) -> list[str]:
        return self.reload_problems


@contextmanager
def daemon_in_thread(runtime: FakeRuntime, path: Path) -> Iterator[ControlServer]:
    """A ControlServer on its own loop in a thread, so the synchronous CLI can talk to it."""
    loop = asyncio.new_event_loop()
    server = ControlServer(runtime, path, group=None)  # type: ignore[arg-type]
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
