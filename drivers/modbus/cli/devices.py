"""The Modbus devices a config names, their profiles, and a one-device driver for a bus with no config.

``read --port P --unit U --profile vendor/model`` works on a laptop with no config file: ``adhoc_driver``
builds the same ``ModbusDriver`` a config would (one bus, one device named ``unitU``), so point reads
decode exactly as the daemon's do.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from agent.cli.exit_codes import CliError, ExitCode
from agent.cli.local_driver import refuse_if_held
from agent.config import AgentConfigBase
from agent.errors import ProfileError
from drivers.modbus.config import Device, ModbusDriverConfig
from drivers.modbus.profile import Profile
from drivers.modbus.profiles import ProfileRegistry


def modbus_entries(config: AgentConfigBase | None) -> list[ModbusDriverConfig]:
    if config is None:
        return []
    return [entry for entry in config.drivers if isinstance(entry, ModbusDriverConfig)]


def configured_device(config: AgentConfigBase | None, name: str) -> Device | None:
    for entry in modbus_entries(config):
        for device in entry.devices:
            if device.name == name:
                return device
    return None


def device_names(config: AgentConfigBase | None) -> list[str]:
    names: list[str] = []
    for entry in config.drivers if config is not None else ():
        names += [str(getattr(d, "name", "")) for d in getattr(entry, "devices", ())]
        names += [str(getattr(c, "name", "")) for c in getattr(entry, "cameras", ())]
    return sorted(n for n in names if n)


def unknown_device(config: AgentConfigBase | None, name: str) -> CliError:
    known = ", ".join(device_names(config)) or "none"
    return CliError(f"no device named {name!r} in the config (devices: {known})", ExitCode.USAGE)


def device_on(config: AgentConfigBase | None, bus: str | None, unit: int) -> Device | None:
    """The configured device at ``unit`` on bus ``bus`` (its profile guards raw writes there)."""
    if bus is None:
        return None
    for entry in modbus_entries(config):
        for device in entry.devices:
            if device.bus == bus and device.unit_id == unit:
                return device
    return None


def registry_for(config: AgentConfigBase | None) -> ProfileRegistry:
    dirs = getattr(config, "profile_dirs", None)
    return ProfileRegistry.load_cached(site_dirs=tuple(dirs) if dirs is not None else None)


def load_profile(config: AgentConfigBase | None, ref: str, firmware: str | None = None) -> Profile:
    """A profile by reference; an unknown one is a usage error naming the close ones (one line)."""
    try:
        return registry_for(config).get(ref, firmware)
    except ProfileError as exc:
        raise CliError(" | ".join(exc.problems), ExitCode.USAGE) from None


def readable_points(device: Device, profile: Profile) -> list[str]:
    """The points the daemon polls for ``device``: its selection, else every readable point."""
    selection = device.selected_points()
    if selection is not None:
        return list(selection)
    return [name for name, point in profile.points.items() if point.access.readable]


def adhoc_device(bus_config: Any, unit: int, profile: str) -> tuple[ModbusDriverConfig, str]:
    name = f"unit{unit}"
    entry = ModbusDriverConfig.model_validate(
        {
            "driver": "modbus",
            "name": "cli",
            "buses": [bus_config.model_dump()],
            "devices": [{"name": name, "bus": bus_config.name, "unit_id": unit, "profile": profile}],
        }
    )
    return entry, name


@asynccontextmanager
async def adhoc_driver(entry: ModbusDriverConfig) -> AsyncIterator[Any]:
    """A ``ModbusDriver`` for ``entry``, opened but not polling; what it learns is thrown away."""
    from drivers.base import DriverContext
    from drivers.modbus.driver import ModbusDriver

    for bus in entry.buses:
        port = getattr(bus, "port", None)
        if isinstance(port, str):
            refuse_if_held(port)
    with tempfile.TemporaryDirectory(prefix="edgepost-cli-") as scratch:
        context = DriverContext(
            gateway_id="cli", state_dir=Path(scratch), config_dir=Path.cwd(),
            logger=logging.getLogger("edgepost.cli.modbus"),
        )
        async with ModbusDriver(entry, context) as driver:
            yield driver
