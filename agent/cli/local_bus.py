"""Bus access from the CLI itself, only when no daemon holds the bus.

Two masters on one RS-485 line corrupt each other's frames, so before opening a serial port we
look in /proc for another process holding it open and refuse if one does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agent.cli.exit_codes import CliError, ExitCode, Unavailable
from agent.config import AgentConfigBase
from agent.errors import ConfigError
from drivers.modbus.profile import Table


@dataclass(frozen=True)
class PortOptions:
    """Where to reach a bus when the config does not name it (``--port`` / ``--host``)."""

    port: str | None = None
    host: str | None = None
    tcp_port: int = 502
    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    timeout_s: float = 1.0
    rtu_over_tcp: bool = False


def config_buses(config: AgentConfigBase | None) -> list[Any]:
    if config is None:
        return []
    return [bus for entry in config.drivers for bus in getattr(entry, "buses", ())]


def bus_name_for_port(config: AgentConfigBase | None, port: str) -> str | None:
    """The configured bus on serial port ``port`` (so a running daemon is asked instead)."""
    real = os.path.realpath(port)
    for bus in config_buses(config):
        bus_port = getattr(bus, "port", None)
        if isinstance(bus_port, str) and os.path.realpath(bus_port) == real:
            name: str = bus.name
            return name
    return None


def build_bus_config(config: AgentConfigBase | None, bus_name: str | None, options: PortOptions) -> Any:
    """A ``SerialBus``/``TcpBus`` from the config (by name) or from the command-line options."""
    try:
        from drivers.modbus.config import SerialBus, TcpBus
    except ImportError as exc:
        raise Unavailable(f"the Modbus driver is not installed ({exc})") from None
    if bus_name is not None:
        for bus in config_buses(config):
            if bus.name == bus_name:
                return bus
        known = ", ".join(b.name for b in config_buses(config)) or "none"
        raise CliError(f"no bus named {bus_name!r} in the config (known: {known})", ExitCode.USAGE)
    if options.port is not None:
        return SerialBus(
            transport="serial", name="cli", port=options.port, baudrate=options.baudrate,
            parity=options.parity, stopbits=options.stopbits, timeout_s=options.timeout_s, retries=0,
        )
    if options.host is not None:
        transport: Literal["tcp", "rtu-over-tcp"] = "rtu-over-tcp" if options.rtu_over_tcp else "tcp"
        return TcpBus(
            transport=transport, name="cli", host=options.host, port=options.tcp_port,
            timeout_s=options.timeout_s, retries=0,
        )
    raise CliError("say which bus: --bus NAME (from the config), --port DEVICE or --host HOST", ExitCode.USAGE)


def port_holders(port: str) -> list[tuple[int, str]]:
    """Processes (pid, command) that hold ``port`` open, as far as /proc lets us see."""
    if port.startswith(("socket://", "rfc2217://")):
        return []
    target = os.path.realpath(port)
    holders: list[tuple[int, str]] = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) == target:
                    command = (entry / "comm").read_text().strip()
                    holders.append((int(entry.name), command))
                    break
        except OSError:
            continue  # gone, or not ours to look at
    return holders


def refuse_if_held(port: str) -> None:
    # socat creates the pty pairs tests and bench rigs use and keeps both ends; it is not a master
    holders = [(pid, cmd) for pid, cmd in port_holders(port) if cmd != "socat"]
    if holders:
        who = ", ".join(f"{cmd} (pid {pid})" for pid, cmd in holders)
        raise CliError(
            f"{port} is held by {who}; a second master would corrupt the bus "
            "(stop that process, or start the daemon and let the CLI use its bus)",
            ExitCode.FAILED,
        )


@asynccontextmanager
async def open_bus(bus: Any) -> AsyncIterator[Any]:
    """An opened ``BusQueue`` for ``bus`` (SerialBus/TcpBus), closed on exit."""
    from drivers.modbus.bus import build_bus_queue

    port = getattr(bus, "port", None)
    if isinstance(port, str):
        refuse_if_held(port)
    queue = build_bus_queue(bus)
    await queue.open()
    try:
        yield queue
    finally:
        await queue.close()


async def raw_read(queue: Any, unit: int, table: Table, address: int, count: int) -> list[int]:
    from drivers.modbus.transport import ReadRequest

    response = await queue.execute(ReadRequest(unit=unit, table=table, address=address, count=count))
    return list(response.values)


async def raw_write(queue: Any, unit: int, table: Table, address: int, values: list[int]) -> None:
    from drivers.modbus.transport import WriteCoils, WriteRegisters

    if table is Table.COIL:
        await queue.execute(WriteCoils(unit=unit, address=address, values=tuple(bool(v) for v in values)))
    elif table is Table.HOLDING:
        await queue.execute(WriteRegisters(unit=unit, address=address, values=tuple(values)))
    else:
        raise CliError(f"the {table.value} table is read-only", ExitCode.USAGE)


@asynccontextmanager
async def open_driver_for(config: AgentConfigBase, device: str, config_dir: Path) -> AsyncIterator[Any]:
    """The configured driver serving ``device``, opened (ports acquired) but not polling."""
    try:
        from drivers.base import DriverContext
        from drivers.registry import load_driver_class
    except ImportError as exc:
        raise Unavailable(f"driver support is not installed ({exc})") from None
    for entry in config.drivers:
        devices = [getattr(d, "name", None) for d in getattr(entry, "devices", ())]
        devices += [getattr(c, "name", None) for c in getattr(entry, "cameras", ())]
        if device in devices:
            try:
                cls = load_driver_class(str(getattr(entry, "driver", "")))
            except ImportError as exc:
                raise Unavailable(f"driver {getattr(entry, 'driver', '?')} cannot be imported ({exc})") from None
            context = DriverContext(
                gateway_id=config.gateway.id,
                state_dir=config.state_dir,
                config_dir=config_dir,
                logger=logging.getLogger(f"edgepost.cli.{entry.name}"),
                profile_dirs=tuple(config.profile_dirs) if config.profile_dirs is not None else None,
            )
            driver = cls(entry, context)
            for bus in getattr(entry, "buses", ()):
                if isinstance(getattr(bus, "port", None), str):
                    refuse_if_held(bus.port)
            async with driver:
                yield driver
            return
    raise ConfigError([f"no device named {device!r} in the config"])
