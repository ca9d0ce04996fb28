"""One JPEG from a camera when no daemon runs: the camera's driver opens the source in this process.

The driver masks the picture exactly as the daemon's snapshot does; this module only finds the
camera in the config and refuses a local device the running daemon holds.
"""

from __future__ import annotations

from typing import Any

from agent.cli.exit_codes import CliError, ExitCode, Unavailable
from agent.config import AgentConfigBase
from agent.errors import DriverNotFound
from drivers.capabilities import Snapshots
from drivers.registry import load_driver_class


def camera_entry(config: AgentConfigBase, camera: str) -> tuple[Any, str | int]:
    """The driver entry of the config that holds ``camera``, and the camera's source."""
    known: list[str] = []
    for entry in config.drivers:
        for cam in getattr(entry, "cameras", ()):
            name = getattr(cam, "name", None)
            if name == camera:
                source: str | int = cam.source
                return entry, source
            if isinstance(name, str):
                known.append(name)
    raise CliError(f"no camera named {camera!r} in the config (known: {', '.join(known) or 'none'})", ExitCode.USAGE)


def grab_jpeg(config: AgentConfigBase, camera: str, allow_device: bool = True) -> bytes:
    """``allow_device=False`` while a daemon runs: it holds the V4L2 device, a network stream can be shared."""
    entry, source = camera_entry(config, camera)
    if not allow_device and (isinstance(source, int) or source.startswith("/dev/")):
        raise Unavailable(
            f"{camera} is a local device the running daemon holds, and its driver cannot hand out a frame"
        )
    try:
        driver = load_driver_class(entry.driver)
    except DriverNotFound as exc:
        raise Unavailable(str(exc)) from None
    if not issubclass(driver, Snapshots):
        raise Unavailable(f"driver {entry.driver!r} cannot take a picture without the daemon")
    return driver.local_snapshot(entry, camera)
