"""Identify a device on a bus the daemon holds, through that bus's own request queue."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from drivers.base import Driver, NotSupported


async def identify_on_driver(driver: Driver[Any], bus: str, unit: int) -> Any:
    """The driver's own ``identify`` if it has one, else the Modbus identify over its public bus queue."""
    own = getattr(driver, "identify", None)
    if callable(own):
        return await own(bus, unit)
    queues = getattr(driver, "buses", None)
    queue = queues.get(bus) if isinstance(queues, dict) else None
    if queue is None:
        raise NotSupported(f"{driver.name}: cannot identify devices on bus {bus!r}")
    try:
        identify_module = importlib.import_module("drivers.modbus.identify")
        profiles_module = importlib.import_module("drivers.modbus.profiles")
    except ImportError as exc:
        raise NotSupported(f"device identification is not installed ({exc})") from None
    registry = await asyncio.to_thread(profiles_module.ProfileRegistry.load)
    return await identify_module.identify(queue, unit, registry)
