"""Shared bits of the Modbus integration tests: a collecting sink, a driver runner, free ports."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from agent.records import Event, Reading, Record
from drivers.base import DriverContext
from drivers.modbus.config import ModbusDriverConfig
from drivers.modbus.driver import ModbusDriver
from drivers.modbus.profile import Profile
from drivers.modbus.profiles import ProfileRegistry


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CollectingSink:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self.changed = asyncio.Event()

    async def put(self, record: Record) -> None:
        self.records.append(record)
        self.changed.set()

    def readings(self, device: str | None = None) -> list[Reading]:
        return [r for r in self.records if isinstance(r, Reading) and device in (None, r.device)]

    def events(self, device: str | None = None, kind: str = "device_state") -> list[Event]:
        return [r for r in self.records if isinstance(r, Event) and r.kind == kind and device in (None, r.device)]

    async def wait_for(self, condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
        """Wait until ``condition`` holds; the timeout only guards against a hang."""
        async with asyncio.timeout(timeout_s):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


async def until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Wait for state no record announces (a counter, a status field); the timeout only guards a hang."""
    async with asyncio.timeout(timeout_s):
        while True:
            if condition():
                return
            await asyncio.sleep(0.05)


def registry_of(*profiles: Profile) -> ProfileRegistry:
    return ProfileRegistry(Path("."), {p.id: p for p in profiles}, [])


@asynccontextmanager
async def running_driver(
    config: dict[str, Any], state_dir: Path, registry: ProfileRegistry | None = None
) -> AsyncIterator[tuple[ModbusDriver, CollectingSink]]:
    model = ModbusDriverConfig.model_validate({"driver": "modbus", "name": "mb", **config})
    context = DriverContext("gw-test", state_dir, state_dir, logging.getLogger("test"))
    driver = ModbusDriver(model, context, registry=registry)
    sink = CollectingSink()
    async with driver:
        task = asyncio.create_task(driver.run(sink))
        try:
            yield driver, sink
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
