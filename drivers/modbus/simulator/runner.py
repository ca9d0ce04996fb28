"""Run simulator servers off the caller's event loop: in a background thread with its own loop.

Tests, benches and the demo drive the simulator from synchronous code or from a loop that must not
be disturbed by the simulator's timing spin; ``run_in_thread`` gives it a private loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from agent.errors import TransportError


class SimulatorServer(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ThreadedSimulator:
    """Servers started on a private event loop in a daemon thread; ``stop()`` stops and joins."""

    def __init__(self, *servers: SimulatorServer) -> None:
        self.servers = servers
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="simulator", daemon=True)

    def start(self, timeout_s: float = 10.0) -> None:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start_all(), self._loop)
        started = False
        try:
            future.result(timeout_s)
            started = True
        finally:
            if not started:  # also on KeyboardInterrupt: never leave the loop thread behind
                self.stop()

    async def _start_all(self) -> None:
        started: list[SimulatorServer] = []
        try:
            for server in self.servers:
                await server.start()
                started.append(server)
        except TransportError:
            for server in reversed(started):
                await server.stop()
            raise

    def stop(self, timeout_s: float = 10.0) -> None:
        if not self._thread.is_alive():
            return

        async def stop_all() -> None:
            for server in reversed(self.servers):
                await server.stop()

        try:
            asyncio.run_coroutine_threadsafe(stop_all(), self._loop).result(timeout_s)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout_s)
            self._loop.close()


@contextmanager
def run_in_thread(*servers: SimulatorServer) -> Iterator[ThreadedSimulator]:
    """``with run_in_thread(SimulatedBus(...)) as sim:`` serves until the block ends."""
    simulator = ThreadedSimulator(*servers)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()
