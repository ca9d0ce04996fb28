"""Modbus bus access from the CLI itself, only when no daemon holds the bus (see ``agent.cli.local_driver``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

from agent.cli.exit_codes import CliError, ExitCode, Unavailable
from agent.cli.local_driver import refuse_if_held
from agent.config import AgentConfigBase
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
