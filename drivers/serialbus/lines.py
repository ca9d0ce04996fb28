"""Which ``SharedLine`` a bus runs on: one per physical port, whatever driver section names it.

Two buses naming the same port (by any path to it: ``/dev/serial/by-id/...`` and ``/dev/ttyUSB0``)
get the same line, so a Modbus driver and a DL/T 645 driver configured on one cabinet's RS-485 line
share its queue. Lines are per event loop (tests run several loops in one process). A line's port
has one framing: two buses on it asking for different speeds or parities is a config error.
"""

from __future__ import annotations

import asyncio
import os
import weakref

from agent.errors import ConfigError
from drivers.serialbus.line import LineSettings, SharedLine

_lines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, SharedLine]] = weakref.WeakKeyDictionary()


def port_key(port: str) -> str:
    """The same device under any of its names (a pyserial URL is taken as written)."""
    return port if "://" in port else os.path.realpath(port)


def acquire_line(bus: str, settings: LineSettings, reopen_min_s: float = 1.0, reopen_max_s: float = 30.0) -> SharedLine:
    """The line for ``settings.port``, held once more (give it back with ``SharedLine.release``)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no loop to share on: a line of its own
        line = SharedLine(bus, settings, reopen_min_s, reopen_max_s)
        line.holders = 1
        return line
    lines = _lines.setdefault(loop, {})
    key = port_key(settings.port)
    found = lines.get(key)
    if found is None:
        line = lines[key] = SharedLine(bus, settings, reopen_min_s, reopen_max_s)
        line.on_released = lambda: _forget(lines, key, line)
    else:
        line = found
    if (line.settings.baudrate, line.settings.bytesize, line.settings.parity, line.settings.stopbits) != (
        settings.baudrate, settings.bytesize, settings.parity, settings.stopbits
    ):
        raise ConfigError([
            f"bus {bus!r}: port {settings.port} is already used by bus {line.name!r} at {line.settings.framing}, "
            f"not {settings.framing}: every device on one RS-485 line must use the same speed and framing"
        ])
    line.holders += 1
    return line


def _forget(lines: dict[str, SharedLine], key: str, line: SharedLine) -> None:
    if lines.get(key) is line:
        del lines[key]


def lines_in_use() -> list[SharedLine]:
    """The lines held on the running loop (for tests and status)."""
    try:
        return list(_lines.get(asyncio.get_running_loop(), {}).values())
    except RuntimeError:
        return []
