"""Starts, stops and reloads driver instances under the supervisor.

Each configured driver runs as one supervised task ``driver.<name>``: open it, register its point
rules with the pipeline, run it until cancelled, close it. A driver whose port is missing fails,
gets restarted with back-off, and does not hold up the rest of the agent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from agent.logs import log_event
from agent.pipeline.pipeline import Pipeline
from agent.supervisor import Supervisor
from drivers.base import DeviceInfo, Driver, DriverConfigBase, DriverContext
from drivers.registry import load_driver_class

log = logging.getLogger(__name__)


class DriverHost:
    def __init__(
        self,
        supervisor: Supervisor,
        pipeline: Pipeline,
        context_for: Callable[[str], DriverContext],
    ) -> None:
        self._supervisor = supervisor
        self._pipeline = pipeline
        self._context_for = context_for
        self._drivers: dict[str, Driver[Any]] = {}
        self._first_attempt: dict[str, asyncio.Event] = {}

    @property
    def drivers(self) -> Mapping[str, Driver[Any]]:
        return self._drivers

    def build(self, configs: list[DriverConfigBase]) -> dict[str, Driver[Any]]:
        """Instantiate drivers without starting them (a reload builds first, so a bad driver is refused early)."""
        built: dict[str, Driver[Any]] = {}
        for cfg in configs:
            kind = str(getattr(cfg, "driver", ""))
            cls = load_driver_class(kind)
            built[cfg.name] = cls(cfg, self._context_for(cfg.name))
        return built

    def start(self, drivers: dict[str, Driver[Any]]) -> None:
        for name, driver in drivers.items():
            self._drivers[name] = driver
            attempted = asyncio.Event()
            self._first_attempt[name] = attempted
            self._supervisor.start(f"driver.{name}", self._runner(driver, attempted))

    def _runner(self, driver: Driver[Any], attempted: asyncio.Event) -> Callable[[], Any]:
        async def run() -> None:
            try:
                await driver.open()
            finally:
                attempted.set()
            try:
                devices = [info.name for info in driver.inventory()]
                await self._pipeline.apply_rules(driver.point_rules(), devices)
                log_event(log, "driver_started", driver=driver.name, devices=len(driver.inventory()))
                await driver.run(self._pipeline)
            finally:
                await driver.close()

        return run

    async def wait_started(self, timeout_s: float) -> None:
        """Wait until every driver tried to open once (ok or not), at most ``timeout_s``."""
        waits = [event.wait() for event in self._first_attempt.values()]
        if waits:
            try:
                await asyncio.wait_for(asyncio.gather(*waits), timeout_s)
            except TimeoutError:
                log_event(log, "drivers_slow_to_open", logging.WARNING, timeout_s=timeout_s)

    async def stop(self) -> None:
        """Stop every driver at once: a slow bus must not spend the others' share of TimeoutStopSec."""
        await asyncio.gather(*(self._supervisor.stop(f"driver.{name}") for name in self._drivers))
        self._drivers.clear()
        self._first_attempt.clear()

    def inventory(self) -> list[DeviceInfo]:
        return [info for driver in self._drivers.values() for info in driver.inventory()]

    def driver_for(self, device: str) -> Driver[Any] | None:
        for driver in self._drivers.values():
            if any(info.name == device for info in driver.inventory()):
                return driver
        return None
