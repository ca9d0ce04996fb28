"""The simulators' own event loop in a thread, so their wire-timing spin never disturbs the rig's loop.

``async with SimHost() as host``: ``await host.start(server)``, ``await host.stop(server)`` and
``await host.call(fn)`` (run a function on the simulator thread, e.g. switch a device's faults).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Self, TypeVar

from drivers.modbus.simulator.runner import SimulatorServer

T = TypeVar("T")


class SimHost:
    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="rig-simulators", daemon=True)
        self._running: list[SimulatorServer] = []

    async def __aenter__(self) -> Self:
        self._thread.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            for server in reversed(list(self._running)):
                await self.stop(server)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, 10)
            self._loop.close()

    async def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    async def start(self, server: SimulatorServer) -> None:
        await self._run(server.start())
        self._running.append(server)

    async def stop(self, server: SimulatorServer) -> None:
        if server in self._running:
            self._running.remove(server)
            await self._run(server.stop())

    async def call(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return await self._run(run())
