"""A configured driver opened by the CLI itself, only when no daemon runs: any driver, by its entry point.

Two masters on one RS-485 line corrupt each other's frames, so before opening a serial port we look in
/proc for another process holding it open and refuse if one does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from agent.cli.exit_codes import CliError, ExitCode, Unavailable
from agent.config import AgentConfigBase
from agent.errors import ConfigError


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
    known = [str(getattr(d, "name", "")) for e in config.drivers for d in getattr(e, "devices", ())]
    known += [str(getattr(c, "name", "")) for e in config.drivers for c in getattr(e, "cameras", ())]
    raise ConfigError([f"no device named {device!r} in the config (devices: {', '.join(sorted(known)) or 'none'})"])
