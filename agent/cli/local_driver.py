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
from agent.errors import ConfigError, DriverNotFound


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


def build_driver_for(config: AgentConfigBase, device: str, config_dir: Path) -> Any:
    """The configured driver whose inventory holds ``device``, built but not opened (no port touched)."""
    try:
        from drivers.base import DriverContext
        from drivers.registry import load_driver_class
    except ImportError as exc:
        raise Unavailable(f"driver support is not installed ({exc})") from None
    unloadable: list[str] = []
    known: list[str] = []
    for entry in config.drivers:
        kind = str(getattr(entry, "driver", ""))
        try:
            cls = load_driver_class(kind)
        except DriverNotFound as exc:
            unloadable.append(f"{entry.name}: {exc}")  # e.g. the camera extra is not installed
            continue
        context = DriverContext(
            gateway_id=config.gateway.id,
            state_dir=config.state_dir,
            config_dir=config_dir,
            logger=logging.getLogger(f"edgepost.cli.{entry.name}"),
            profile_dirs=tuple(config.profile_dirs) if config.profile_dirs is not None else None,
        )
        driver = cls(entry, context)
        names = [info.name for info in driver.inventory()]
        if device in names:
            return driver
        known += names
    if unloadable:
        raise Unavailable(f"no loadable driver serves {device!r} ({'; '.join(unloadable)})")
    raise ConfigError([f"no device named {device!r} in the config (devices: {', '.join(sorted(known)) or 'none'})"])


@asynccontextmanager
async def open_driver_for(config: AgentConfigBase, device: str, config_dir: Path) -> AsyncIterator[Any]:
    """The configured driver serving ``device``, opened (ports acquired) but not polling."""
    driver = build_driver_for(config, device, config_dir)
    for port in driver.serial_ports():
        refuse_if_held(port)
    async with driver:
        yield driver
